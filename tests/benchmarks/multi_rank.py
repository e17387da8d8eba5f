"""Real multi-process runs for the benchmarks' own tests, joined by gloo through the variables
torchrun sets (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT): ``launch_train(n,
*argv)`` starts n ``python -m mlperf_submit train ...``, ``launch_python(n, *argv)`` n ``python
*argv`` (a worker script), and each returns (exit code, output) per rank; every process is
killed on the way out."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A port for a job that has no other way to agree on one (the test makes the variables)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_python(n: int, *argv, timeout: float = 600) -> list[tuple[int, str]]:
    """``n`` real processes of ``python *argv`` as the ranks of one gloo job."""
    port = free_port()
    procs = []
    for rank in range(n):
        env = dict(os.environ, RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(n),
                   LOCAL_WORLD_SIZE=str(n), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
                   OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))  # fmt: skip
        cmd = [sys.executable, *map(str, argv)]
        procs.append(subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True))  # fmt: skip
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


def launch_train(n: int, *argv, timeout: float = 600) -> list[tuple[int, str]]:
    """``n`` real processes of ``python -m mlperf_submit train *argv`` as one gloo job."""
    return launch_python(n, "-m", "mlperf_submit", "train", *argv, timeout=timeout)
