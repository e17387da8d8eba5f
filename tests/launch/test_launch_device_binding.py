"""Under mpirun, each rank makes its GPU the current device *before* mpi4py initialises MPI
(issue 17, item 8): a CUDA-aware MPI opens its context on the current device, so binding after
the import leaves every rank with a context on GPU 0. On this CPU machine the bound device is
"cpu"; the order is what the test checks (on a GPU node it reads "cuda:<local rank>")."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

WORKER = Path(__file__).with_name("device_order_worker.py")


@pytest.mark.mpi
def test_mpirun_binds_the_device_before_mpi4py_is_imported(tmp_path, launch_env, mpirun):
    cmd = [mpirun, "-np", "2", "--oversubscribe", "-x", "MASTER_PORT", "-x", "PYTHONPATH"]
    cmd += [sys.executable, str(WORKER), str(tmp_path)]
    proc = subprocess.run(cmd, env=launch_env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    records = [json.loads((tmp_path / f"rank_{r}.json").read_text()) for r in range(2)]
    for rank, rec in enumerate(records):
        assert rec["rank"] == rank and rec["launcher"] == "openmpi"
        assert rec["mpi4py_imported"]
        # bound already when mpi4py was imported, and that is the device the rank kept
        assert rec["device_at_mpi4py_import"] == rec["device"] == "cpu"
