"""Loss-curve regression for the resnet ``tiny`` preset (fixed seed, first block of 4 epochs).

A silent numerical change (model init, LARS, schedule, augmentation, data order) moves the
per-step training loss; BLAS differences between CPUs move it far less than the tolerance.
Regenerate after an intended change with:

    MLPERF_SUBMIT_REGEN_LOSS_CURVE=1 .venv/bin/python -m pytest tests/benchmarks/resnet/test_resnet_loss_curve.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from mlperf_submit.benchmarks.common.config import apply_overrides
from mlperf_submit.benchmarks.common.interface import RunContext
from mlperf_submit.benchmarks.common.trainer import Trainer
from mlperf_submit.benchmarks.resnet.benchmark import ResNetBenchmark
from mlperf_submit.benchmarks.resnet.config import tiny
from mlperf_submit.logging import MLPerfLogger

ASSET = Path(__file__).parent / "assets" / "tiny_loss_curve.json"
SEED = 1234
OVERRIDES = ["schedule.max_epochs=4"]
RTOL, ATOL = 0.02, 0.02


def losses(tmp_path, data_root, loader: str) -> list[float]:
    cfg = apply_overrides(tiny(), [*OVERRIDES, f"data.loader={loader}"])
    ctx = RunContext(
        seed=SEED, data_dir=data_root, synthetic=True, division="open", ruleset="4.0.0"
    )
    log = tmp_path / f"{loader}.log"
    logger = MLPerfLogger("resnet", "4.0.0", "open", str(log), check="off", echo=False)
    result = Trainer(ResNetBenchmark(cfg, ctx), logger).train()
    logger.close()
    return result.losses


@pytest.mark.parametrize(
    "loader",
    [
        "dali",
        "torch",
    ],
)
def test_tiny_loss_curve_matches_the_recorded_one(tmp_path, tiny_imagenet, loader):
    got = losses(tmp_path, tiny_imagenet, loader)
    assert len(got) == 4 * (400 // 32)
    stored = json.loads(ASSET.read_text()) if ASSET.exists() else {}
    if os.environ.get("MLPERF_SUBMIT_REGEN_LOSS_CURVE"):
        stored.update({"seed": SEED, "overrides": OVERRIDES, loader: [round(x, 6) for x in got]})
        ASSET.write_text(json.dumps(stored, indent=1) + "\n")
    assert loader in stored, f"no recorded curve for {loader}: regenerate (see the docstring)"
    want = torch.tensor(stored[loader])
    assert torch.allclose(torch.tensor(got), want, rtol=RTOL, atol=ATOL), (
        f"loss curve moved (max abs diff {float((torch.tensor(got) - want).abs().max()):.4f}); "
        "if intended, regenerate (see the docstring)"
    )
    assert got[-1] < got[0]  # it learns
