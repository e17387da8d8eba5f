"""Loss-curve regression for the ``tiny`` preset: catches silent numerical changes.

32 training steps (2 blocks of 256 sequences) of the tiny preset with a fixed seed on the fixed
synthetic data, one thread, the target out of reach so every step runs; the per-step training
losses and both evaluations must match ``assets/tiny_loss_curve.json``. The tolerance allows the
last-bit differences of another CPU's kernels, not a changed model, data order or schedule.

After an intended change, regenerate (and commit) the file:

    .venv/bin/python tests/benchmarks/llama31_8b/test_llama_loss_curve.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # also when run as a script
from loss_curve import LossCurve  # noqa: E402

CURVE = LossCurve(
    "llama31_8b",
    Path(__file__).resolve().parent / "assets" / "tiny_loss_curve.json",
    seed=1234,
    overrides=(
        "target=0.01",
        "data.max_samples=512",
        "loop.threads=1",
    ),
)


def test_tiny_loss_curve_matches_the_recorded_one(tmp_path, tiny_c4_root):
    want = CURVE.recorded()
    got = CURVE.run(tiny_c4_root, tmp_path)
    assert got["overrides"] == want["overrides"] and got["seed"] == want["seed"]
    assert len(got["losses"]) == len(want["losses"]) == 32
    assert got["losses"] == pytest.approx(want["losses"], rel=2e-3, abs=1e-4)
    assert [e[0] for e in got["evals"]] == [e[0] for e in want["evals"]] == [256, 512]
    assert [e[1] for e in got["evals"]] == pytest.approx([e[1] for e in want["evals"]], rel=2e-3)
    # The curve itself: from ln(256) down past the tiny target.
    assert got["losses"][0] == pytest.approx(5.55, abs=0.1)
    assert got["evals"][-1][1] < 0.9


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
    CURVE.regenerate()
