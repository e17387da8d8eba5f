"""bench/device/gpu_smoke.sh (issue 17): the one-GPU smoke test, checked on the CPU.

``--dry-run`` prints every check's command line and calls each Python entry point's
``main(argv + ["--dry-run"])`` (argument and preset validation, no GPU touched; one process for
all, ``bench/device/validate_commands.py``): a typo in the script or a renamed option fails
here, not on a lent GPU. The Trainer-path measurement
(bench/llama_trainer_gpu.py) also runs for real on the CPU with the tiny preset: the same code
that measures the 8B width on a GPU, down to its RESULT lines.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SMOKE = REPO / "bench" / "device" / "gpu_smoke.sh"
CHECKS = ("env", "resnet", "llama-eager", "trainer-8b", "llama-compile")


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHON=sys.executable, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")


def test_dry_run_prints_and_validates_every_check():
    proc = subprocess.run(
        ["bash", str(SMOKE), "--dry-run"], cwd=REPO, env=_env(), capture_output=True,
        text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert [ln.split(":", 1)[0] for ln in lines[:-1]] == list(CHECKS)
    assert lines[-1] == "dry run: every command parses"
    for line in lines[:-1]:
        name, cmd = line.split(": ", 1)
        assert cmd.startswith("timeout ") and sys.executable in cmd, line
    assert "--device cuda --dtype bf16 --preset 1b" in proc.stdout
    assert "--compile" in lines[CHECKS.index("llama-compile")]


def test_dry_run_refuses_a_bad_argument():
    """What the dry run is for: a command an entry point rejects fails the validation."""
    lines = (
        "bench/llama_mfu.py --preset 1b --device cuda\nbench/llama_trainer_gpu.py --layers 4,2\n"
    )
    proc = subprocess.run(
        [sys.executable, "bench/device/validate_commands.py"], input=lines, cwd=REPO,
        env=_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.count("INVALID") == 1
    assert "INVALID bench/llama_trainer_gpu.py --layers 4,2: exit 2" in proc.stderr
    assert "two increasing depths" in proc.stderr
    usage = subprocess.run(
        ["bash", str(SMOKE), "--bogus"], cwd=REPO, env=_env(), capture_output=True, text=True
    )
    assert usage.returncode == 2 and "usage:" in usage.stderr


@pytest.mark.slow
def test_trainer_path_measurement_runs_on_the_cpu():
    proc = subprocess.run(
        [sys.executable, "bench/llama_trainer_gpu.py", "--device", "cpu", "--preset", "tiny",
         "--layers", "1,2", "--steps", "1"],
        cwd=REPO, env=_env(), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")]
    assert [r.split(":", 1)[0] for r in results] == [
        "RESULT trainer-8b-width 1 layers",
        "RESULT trainer-8b-width 2 layers",
        "RESULT memory-8b-8x",
    ]
    for depth in results[:2]:
        # what is in effect, read back: FSDP2's DTensors, AdamW, per-block compile, the log
        assert "optimizer torch.AdamW, parameters DTensor float32" in depth
        assert "FSDP2 gather float32 reduce float32" in depth
        assert "logged comm fp32" in depth
    assert "compiled 1 block," in results[0] and "compiled 2 blocks," in results[1]
    assert "11.2k tokens/s per GPU published" in results[2]
