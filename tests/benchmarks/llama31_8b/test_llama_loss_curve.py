"""Loss-curve regression for the ``tiny`` preset: catches silent numerical changes.

32 training steps (2 blocks of 256 sequences) of the tiny preset with a fixed seed on the fixed
synthetic data, one thread, the target out of reach so every step runs; the per-step training
losses and both evaluations must match ``assets/tiny_loss_curve.json``. The tolerance allows the
last-bit differences of another CPU's kernels, not a changed model, data order or schedule.

After an intended change, regenerate (and commit) the file:

    .venv/bin/python tests/benchmarks/llama31_8b/test_llama_loss_curve.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import pytest
import torch

ASSET = Path(__file__).resolve().parent / "assets" / "tiny_loss_curve.json"
SEED = 1234
OVERRIDES = ["target=0.01", "data.max_samples=512", "loop.threads=1"]


def run_curve(data_root: Path, log_dir: Path) -> dict:
    from mlperf_submit.benchmarks.common.config import apply_overrides
    from mlperf_submit.benchmarks.common.interface import RunContext
    from mlperf_submit.benchmarks.common.trainer import Trainer
    from mlperf_submit.benchmarks.llama31_8b.benchmark import Llama31_8BBenchmark
    from mlperf_submit.benchmarks.llama31_8b.config import tiny
    from mlperf_submit.logging import MLPerfLogger

    cfg = apply_overrides(tiny(), OVERRIDES)
    ctx = RunContext(seed=SEED, data_dir=data_root, synthetic=True, division="open",
                     ruleset="6.1.0")  # fmt: skip
    logger = MLPerfLogger(
        "llama31_8b", "6.1.0", "open", str(log_dir / "curve.log"), check="strict", echo=False
    )
    threads = torch.get_num_threads()
    try:
        result = Trainer(Llama31_8BBenchmark(cfg, ctx), logger).train()
    finally:
        torch.set_num_threads(threads)
    return {
        "seed": SEED,
        "overrides": OVERRIDES,
        "losses": result.losses,
        "evals": [list(e) for e in result.evals],
    }


def test_tiny_loss_curve_matches_the_recorded_one(tmp_path, tiny_c4_root):
    want = json.loads(ASSET.read_text())
    got = run_curve(tiny_c4_root, tmp_path)
    assert got["overrides"] == want["overrides"] and got["seed"] == want["seed"]
    assert len(got["losses"]) == len(want["losses"]) == 32
    assert got["losses"] == pytest.approx(want["losses"], rel=2e-3, abs=1e-4)
    assert [e[0] for e in got["evals"]] == [e[0] for e in want["evals"]] == [256, 512]
    assert [e[1] for e in got["evals"]] == pytest.approx([e[1] for e in want["evals"]], rel=2e-3)
    # The curve itself: from ln(256) down past the tiny target.
    assert got["losses"][0] == pytest.approx(5.55, abs=0.1)
    assert got["evals"][-1][1] < 0.9


def _regenerate() -> None:
    from mlperf_submit.benchmarks.common.interface import RunContext
    from mlperf_submit.benchmarks.llama31_8b.benchmark import Llama31_8BBenchmark
    from mlperf_submit.benchmarks.llama31_8b.config import tiny

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "data"
        Llama31_8BBenchmark(tiny(), RunContext(seed=0)).prepare_synthetic(root)
        curve = run_curve(root, Path(tmp))
    ASSET.parent.mkdir(exist_ok=True)
    ASSET.write_text(json.dumps(curve, indent=1) + "\n")
    print(f"wrote {ASSET}: final eval {curve['evals'][-1][1]:.4f}")


if __name__ == "__main__":
    _regenerate()
    sys.exit(0)
