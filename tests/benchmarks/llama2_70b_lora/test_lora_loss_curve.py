"""Loss-curve regression for the ``tiny`` preset: catches silent numerical changes.

20 fine-tuning steps of the tiny preset (seed fixed, one thread, the target out of reach so
every step runs: two evaluations, at 128 and 160 sequences) from the synthetic pretrained
base; the per-step training losses and both evaluations must match
``assets/tiny_loss_curve.json``. The base model itself comes out of 120 pretraining steps in
the data generation, so the tolerance (1 %) is wider than a from-scratch curve's: it allows
another CPU's last-bit differences carried through the pretraining, not a changed model, data
order, adapter init or schedule.

After an intended change, regenerate (and commit) the file:

    .venv/bin/python tests/benchmarks/llama2_70b_lora/test_lora_loss_curve.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # also when run as a script
from loss_curve import LossCurve  # noqa: E402

CURVE = LossCurve(
    "llama2_70b_lora",
    Path(__file__).resolve().parent / "assets" / "tiny_loss_curve.json",
    seed=1234,
    overrides=(
        "target=0.01",
        "optim.max_steps=20",
        "loop.threads=1",
    ),
)


def test_tiny_loss_curve_matches_the_recorded_one(tmp_path, lora_root):
    want = CURVE.recorded()
    got = CURVE.run(lora_root, tmp_path)
    assert got["overrides"] == want["overrides"] and got["seed"] == want["seed"]
    assert len(got["losses"]) == len(want["losses"]) == 20
    assert got["losses"] == pytest.approx(want["losses"], rel=1e-2, abs=1e-3)
    assert [e[0] for e in got["evals"]] == [e[0] for e in want["evals"]] == [128, 160]
    assert [e[1] for e in got["evals"]] == pytest.approx([e[1] for e in want["evals"]], rel=1e-2)
    # The curve itself: the base's loss on the packed rows, then below the tiny target.
    assert got["losses"][0] > 1.0 and got["evals"][-1][1] < 0.6


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
    CURVE.regenerate()
