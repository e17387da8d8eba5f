"""Shared fixtures. The corpus of real result logs is test data that must be present.

``no_leftover_processes`` (autouse in the directories whose tests start jobs: tests/launch,
tests/logging) fails a test that leaves any process running, and ends those processes. The test
session is a child subreaper (``proctree.become_subreaper``): the ranks of a launcher that was
killed are adopted by it instead of init, so they are found too.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from mlperf_submit.launch.campaign import proctree

REPO = Path(__file__).resolve().parents[1]
LEFTOVER_GRACE_S = 20.0  # processes a test ended may take a moment to exit


def corpus_path() -> Path:
    return Path(os.environ.get("MLPERF_SUBMIT_CORPUS", REPO.parent / "shared" / "corpus"))


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    path = corpus_path()
    if not (path / "MANIFEST.tsv").is_file():
        pytest.fail(f"corpus not found at {path}: set MLPERF_SUBMIT_CORPUS")
    return path


def pytest_configure(config):
    proctree.become_subreaper()


@pytest.fixture
def no_leftover_processes(request):
    """Nothing the test started is alive once it ended: no process below this one (orphans
    included, see the module doc) and, for a test of the local Slurm cluster, no job."""
    me = os.getpid()
    before = {p.pid for p in proctree.descendants(me)}
    yield
    deadline = time.monotonic() + LEFTOVER_GRACE_S
    while True:
        left = [p for p in proctree.descendants(me) if p.pid not in before]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    jobs = _slurm_jobs_left(request)
    if left:
        described = [f"{p.pid}: {p.command()}" for p in left]
        for p in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p.pid, signal.SIGKILL)
        pytest.fail(f"the test left {len(left)} process(es) running: {described}")
    if jobs:
        pytest.fail(f"the test left Slurm jobs in the queue: {jobs}")


def _slurm_jobs_left(request) -> list[str]:
    """Jobs still queued on the session's local cluster (cancelled, and returned)."""
    if "slurm_cluster" not in request.fixturenames:
        return []
    cluster = request.getfixturevalue("slurm_cluster")
    deadline = time.monotonic() + LEFTOVER_GRACE_S
    while True:
        out = subprocess.run(["squeue", "-h", "-o", "%i %T %j"], env=cluster.env,
                             capture_output=True, text=True, timeout=60).stdout  # fmt: skip
        jobs = [ln for ln in out.splitlines() if ln.strip()]
        if not jobs or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    if jobs:
        ids = [j.split()[0] for j in jobs]
        subprocess.run(["scancel", *ids], env=cluster.env, capture_output=True, timeout=60)
    return jobs
