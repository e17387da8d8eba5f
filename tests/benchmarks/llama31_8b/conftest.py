"""Fixtures: the llama ``tiny`` synthetic C4 (made once per session) and a launcher for real
multi-process gloo runs (``train_cli`` comes from tests/benchmarks/conftest.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def tiny_c4_root(tiny_runs) -> Path:
    """A ``--synthetic`` root holding the dataset the ``tiny`` preset trains on."""
    from mlperf_submit.benchmarks.common.interface import RunContext
    from mlperf_submit.benchmarks.llama31_8b.benchmark import Llama31_8BBenchmark
    from mlperf_submit.benchmarks.llama31_8b.config import tiny

    Llama31_8BBenchmark(tiny(), RunContext(seed=0)).prepare_synthetic(tiny_runs.synthetic_root)
    return tiny_runs.synthetic_root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def launch_ranks():
    """``launch_ranks(n, *train_argv) -> [(rc, output)]``: n real processes of ``python -m
    mlperf_submit train ...`` joined by torch.distributed (gloo) through the variables torchrun
    sets (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT)."""

    def run(n: int, *argv, timeout: float = 600):
        port = free_port()
        procs = []
        for rank in range(n):
            env = dict(
                os.environ,
                RANK=str(rank),
                LOCAL_RANK=str(rank),
                WORLD_SIZE=str(n),
                LOCAL_WORLD_SIZE=str(n),
                MASTER_ADDR="127.0.0.1",
                MASTER_PORT=str(port),
                OMP_NUM_THREADS="1",
            )
            cmd = [sys.executable, "-m", "mlperf_submit", "train", *map(str, argv)]
            procs.append(
                subprocess.Popen(
                    cmd,
                    env=env,
                    cwd=REPO,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
            )
        results = []
        try:
            for p in procs:
                out, _ = p.communicate(timeout=timeout)
                results.append((p.returncode, out))
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        return results

    return run
