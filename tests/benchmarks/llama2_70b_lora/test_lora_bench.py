"""The speed tools of llama2_70b_lora run: the CPU MFU bench on the tiny preset (no timing is
asserted: the figures go to the README), and the H200 device script's --dry-run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "bench" / "device" / "llama2_70b_lora_gpu.sh"


def test_cpu_bench_reports_tokens_per_second_and_mfu():
    proc = subprocess.run(
        [sys.executable, "bench/llama2_70b_lora_mfu.py", "--preset", "tiny", "--steps", "1",
         "--rounds", "1", "--warmup", "0", "--peak-n", "128", "--threads", "1"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "llama2_70b_lora tiny: 0.1M frozen base parameters" in proc.stdout
    m = re.search(r"tokens/s = ([\d.]+); MFU = [\d.]+ / [\d.]+ GFLOP/s = ([\d.]+)", proc.stdout)
    assert m and float(m.group(1)) > 0 and float(m.group(2)) > 0, proc.stdout


def test_device_script_dry_run_prints_the_commands(tmp_path):
    proc = subprocess.run(
        ["bash", str(SCRIPT), "--dry-run"], cwd=tmp_path, capture_output=True, text=True,
        env={"PATH": "/usr/bin:/bin", "OUT": str(tmp_path / "out")}, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    runs = [ln for ln in lines if ln.startswith("would run")]
    assert len(runs) == 2 and "--compile" in runs[1] and "--compile" not in runs[0]
    for ln in runs:
        assert "bench/llama2_70b_lora_mfu.py --device cuda --dtype bf16 --preset gpu_8layer" in ln
    assert lines[-1] == f"report: {tmp_path / 'out' / 'llama2_70b_lora_gpu.txt'}"
    assert not (tmp_path / "out").exists()  # a dry run writes nothing
    bad = subprocess.run(["bash", str(SCRIPT), "--now"], capture_output=True, text=True)
    assert bad.returncode == 2 and "usage" in bad.stderr


def test_gpu_preset_is_the_70b_layer_shape():
    from mlperf_submit.benchmarks.llama2_70b_lora.config import LLAMA2_70B, PRESETS

    cfg = PRESETS["gpu_8layer"]()
    assert cfg.model.n_layers == 8 and cfg.model.dim == LLAMA2_70B.dim
    assert cfg.model.ffn == LLAMA2_70B.ffn and cfg.model.attention == LLAMA2_70B.attention
    assert cfg.loop.precision == "bf16" and cfg.data.seq_len == 8192
