"""Crash safety: a run killed with SIGKILL mid-log leaves a prefix that parses with no error.

A child process logs as fast as it can (file + stdout, strict checking on); the test kills it
with SIGKILL once the file has grown, then parses the file with the compliance parser.

    .venv/bin/python -m pytest -q tests/logging/test_logging_crash.py
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from mlperf_submit.compliance.filecheck import check_file
from mlperf_submit.compliance.parser import LogLine, iter_file

REPO = Path(__file__).resolve().parents[2]

CHILD = """
import sys
from mlperf_submit.logging import MLPerfLogger
log = MLPerfLogger("llama31_8b", "6.0.0", "closed", sys.argv[1], check="strict")
log.submission_info(org="O", platform="P")
log.cache_clear(True)
log.init_start()
log.init_stop_run_start()
i = 0
while True:  # killed from outside
    i += 1
    log.event("train_loss", {"step": i, "loss": 1.0 / i, "pad": "x" * (i % 500)},
              {"samples_count": i * 16})
"""


@pytest.mark.parametrize("kill_at_bytes", [20_000, 200_000, 500_000])
def test_sigkill_leaves_a_parseable_prefix(tmp_path, kill_at_bytes):
    log_path = tmp_path / "killed.log"
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(CHILD))
    out = open(tmp_path / "stdout.txt", "wb")  # noqa: SIM115 - the child writes it
    child = subprocess.Popen(
        [sys.executable, str(script), str(log_path)],
        cwd=REPO,
        stdout=out,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if log_path.exists() and log_path.stat().st_size > kill_at_bytes:
                break
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
        out.close()
    assert child.returncode == -signal.SIGKILL
    items = list(iter_file(log_path))
    assert len(items) > kill_at_bytes // 1000
    assert all(type(item) is LogLine for item in items)
    assert log_path.read_bytes().endswith(b"}\n")  # the last line is whole
    # The prefix is a well-formed (if incomplete) log: only end-of-log requirements fail.
    report = check_file(log_path, "6.0.0")
    assert report.official_crash is None
    assert {f.kind for f in report.errors} <= {"req", "target", "alternatives"}
    # stdout (what Slurm captures) is line-complete up to the last flush as well.
    stdout_items = list(iter_file(tmp_path / "stdout.txt"))
    assert stdout_items and all(type(item) is LogLine for item in stdout_items)
