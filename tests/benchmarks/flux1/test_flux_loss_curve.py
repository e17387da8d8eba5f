"""Loss-curve regression for the ``tiny`` preset: catches silent numerical changes.

32 training steps (2 blocks of 512 samples) of the tiny preset with a fixed seed on the fixed
synthetic shards, one thread, the target out of reach so every step runs; the per-step training
losses and both evaluations must match ``assets/tiny_loss_curve.json``. The tolerance allows the
last-bit differences of another CPU's kernels, not a changed model, data order, noise or schedule.

After an intended change, regenerate (and commit) the file:

    .venv/bin/python tests/benchmarks/flux1/test_flux_loss_curve.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # also when run as a script
from loss_curve import LossCurve  # noqa: E402

CURVE = LossCurve(
    "flux1",
    Path(__file__).resolve().parent / "assets" / "tiny_loss_curve.json",
    seed=1234,
    overrides=(
        "target=0.01",
        "data.max_samples=1024",
        "loop.threads=1",
    ),
    check="strict",
)


def test_tiny_loss_curve_matches_the_recorded_one(tmp_path, flux_tiny_data):
    want = CURVE.recorded()
    got = CURVE.run(flux_tiny_data.parent, tmp_path)
    assert got["overrides"] == want["overrides"] and got["seed"] == want["seed"]
    assert len(got["losses"]) == len(want["losses"]) == 32
    assert got["losses"] == pytest.approx(want["losses"], rel=2e-3, abs=1e-4)
    assert [e[0] for e in got["evals"]] == [e[0] for e in want["evals"]] == [512, 1024]
    assert [e[1] for e in got["evals"]] == pytest.approx([e[1] for e in want["evals"]], rel=2e-3)
    # The curve itself: the untrained model predicts 0, so the first loss is E|n - x0|^2 ~ 2.
    assert got["losses"][0] == pytest.approx(2.0, abs=0.2)
    assert got["evals"][-1][1] < 0.8


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
    CURVE.regenerate()
