"""The H200 device script of the large LLM benchmarks, exercised without a GPU (--dry-run)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_device_script_dry_run_describes_each_slice(tmp_path):
    env = {**os.environ, "PYTHON": sys.executable, "OUT": str(tmp_path), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        ["bash", "bench/device/llm_family_gpu.sh", "--dry-run"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = (tmp_path / "llm_family_gpu.txt").read_text()
    assert report == done.stdout
    assert "failed" not in report and report.rstrip().endswith("== done")
    lines = {ln.split(" slice:")[0]: ln for ln in report.splitlines() if " slice: " in ln}
    assert set(lines) == {"llama31_405b", "gpt_oss_20b", "deepseekv3_671b"}
    assert "2 layers of d 16384, 10.58B parameters" in lines["llama31_405b"]
    assert "4 layers of d 2880" in lines["gpt_oss_20b"] and "seq 8192" in lines["gpt_oss_20b"]
    assert "2 layers of d 7168" in lines["deepseekv3_671b"]
    assert report.count("dry run: nothing allocated") == 3
