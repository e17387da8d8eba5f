"""Loss-curve regression for the ``tiny`` preset: catches silent numerical changes.

32 training steps (2 blocks of 512 samples) of the tiny preset with a fixed seed on the fixed
synthetic shards, one thread, the target out of reach so every step runs; the per-step training
losses and both evaluations must match ``assets/tiny_loss_curve.json``. The tolerance allows the
last-bit differences of another CPU's kernels, not a changed model, data order, noise or schedule.

After an intended change, regenerate (and commit) the file:

    .venv/bin/python tests/benchmarks/flux1/test_flux_loss_curve.py
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
OVERRIDES = ["target=0.01", "data.max_samples=1024", "loop.threads=1"]


def run_curve(data_root: Path, log_dir: Path) -> dict:
    from mlperf_submit.benchmarks.common.config import apply_overrides
    from mlperf_submit.benchmarks.common.interface import RunContext
    from mlperf_submit.benchmarks.common.trainer import Trainer
    from mlperf_submit.benchmarks.flux1.benchmark import Flux1Benchmark
    from mlperf_submit.benchmarks.flux1.config import tiny
    from mlperf_submit.logging import MLPerfLogger

    cfg = apply_overrides(tiny(), OVERRIDES)
    ctx = RunContext(seed=SEED, data_dir=data_root, synthetic=True, division="open",
                     ruleset="6.1.0")  # fmt: skip
    logger = MLPerfLogger("flux1", "6.1.0", "open", str(log_dir / "curve.log"), check="off",
                          echo=False)  # fmt: skip
    threads = torch.get_num_threads()
    try:
        result = Trainer(Flux1Benchmark(cfg, ctx), logger).train()
    finally:
        torch.set_num_threads(threads)
        logger.close()
    return {
        "seed": SEED,
        "overrides": OVERRIDES,
        "losses": result.losses,
        "evals": [list(e) for e in result.evals],
    }


def test_tiny_loss_curve_matches_the_recorded_one(tmp_path, flux_tiny_data):
    want = json.loads(ASSET.read_text())
    got = run_curve(flux_tiny_data.parent, tmp_path)
    assert got["overrides"] == want["overrides"] and got["seed"] == want["seed"]
    assert len(got["losses"]) == len(want["losses"]) == 32
    assert got["losses"] == pytest.approx(want["losses"], rel=2e-3, abs=1e-4)
    assert [e[0] for e in got["evals"]] == [e[0] for e in want["evals"]] == [512, 1024]
    assert [e[1] for e in got["evals"]] == pytest.approx([e[1] for e in want["evals"]], rel=2e-3)
    # The curve itself: the untrained model predicts 0, so the first loss is E|n - x0|^2 ~ 2.
    assert got["losses"][0] == pytest.approx(2.0, abs=0.2)
    assert got["evals"][-1][1] < 0.8


def _regenerate() -> None:
    from mlperf_submit.benchmarks.common.interface import RunContext
    from mlperf_submit.benchmarks.flux1.benchmark import Flux1Benchmark
    from mlperf_submit.benchmarks.flux1.config import tiny

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "data"
        Flux1Benchmark(tiny(), RunContext(seed=0)).prepare_synthetic(root)
        curve = run_curve(root, Path(tmp))
    ASSET.parent.mkdir(exist_ok=True)
    ASSET.write_text(json.dumps(curve, indent=1) + "\n")
    print(f"wrote {ASSET}: final eval {curve['evals'][-1][1]:.4f}")


if __name__ == "__main__":
    _regenerate()
    sys.exit(0)
