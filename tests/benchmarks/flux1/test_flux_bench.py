"""The GPU script's dry run: the same parts as on the H200, on the CPU with the tiny preset."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def test_flux1_gpu_script_dry_run(tmp_path):
    env = {**os.environ, "OUT": str(tmp_path), "PYTHON": sys.executable, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        ["bash", "bench/device/flux1_gpu.sh", "--dry-run"], cwd=REPO, env=env,
        capture_output=True, text=True, timeout=600, start_new_session=True,
    )  # fmt: skip
    report = (tmp_path / "flux1_gpu.txt").read_text()
    assert proc.returncode == 0, proc.stderr
    assert "!!" not in report, report
    for line in ("dry run: CPU, tiny preset", "== eager step + loader", "MFU = ",
                 "loader / step = ", "== torch.compile step", "== done"):  # fmt: skip
        assert line in report, (line, report)
    bad = subprocess.run(["bash", "bench/device/flux1_gpu.sh", "--fast"], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert bad.returncode == 2 and "usage" in bad.stderr
