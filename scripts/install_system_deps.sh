#!/usr/bin/env bash
# Installs the system packages the tests use: a local Slurm cluster (slurmctld, slurmd, client,
# munge). Idempotent: does nothing when they are present. Needs root (CI runs as root).
set -euo pipefail

need=()
for bin in slurmctld slurmd sbatch munged mungekey; do
  command -v "$bin" >/dev/null 2>&1 || need+=("$bin")
done
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "install_system_deps: missing ${need[*]}; run as root or: apt-get install -y slurmctld slurmd slurm-client munge" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends slurmctld slurmd slurm-client munge
