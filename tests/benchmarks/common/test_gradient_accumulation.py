"""Gradient accumulation in the common loop (``loop.gradient_accumulation_steps``).

Splitting each step batch into k equal micro-batches and scaling each loss by 1/k must give
the gradients of the whole batch: on llama31_8b ``tiny`` (no batch-dependent layers) the losses
and weights after a few steps equal those of k = 1 to float32 rounding. The 2-process DDP case
(all-reduce after the last micro-batch only) is in ../llama31_8b/test_llama_run.py.
"""

from __future__ import annotations

import pytest
import torch

from mlperf_submit.benchmarks.common.config import apply_overrides
from mlperf_submit.benchmarks.common.interface import RunContext, split_on_first_dim
from mlperf_submit.benchmarks.common.trainer import Trainer
from mlperf_submit.benchmarks.llama31_8b.benchmark import Llama31_8BBenchmark
from mlperf_submit.benchmarks.llama31_8b.config import tiny as llama_tiny
from mlperf_submit.benchmarks.resnet.benchmark import ResNetBenchmark
from mlperf_submit.benchmarks.resnet.config import tiny as resnet_tiny
from mlperf_submit.errors import UsageError
from mlperf_submit.logging import MLPerfLogger


def llama_trainer(tmp_path, k: int) -> Trainer:
    cfg = apply_overrides(llama_tiny(), [f"loop.gradient_accumulation_steps={k}"])
    logger = MLPerfLogger(
        "llama31_8b", "6.1.0", "open", str(tmp_path / f"k{k}.log"), check="off", echo=False
    )
    return Trainer(Llama31_8BBenchmark(cfg, RunContext(seed=3)), logger)


def test_split_on_first_dim_keeps_the_batch_structure():
    x, y = torch.arange(12).reshape(6, 2), torch.arange(6)
    parts = split_on_first_dim((x, y), 3)
    assert len(parts) == 3 and all(type(p) is tuple for p in parts)
    assert torch.equal(torch.cat([p[0] for p in parts]), x)
    assert torch.equal(torch.cat([p[1] for p in parts]), y)
    parts = split_on_first_dim({"a": x, "b": [y]}, 2)
    assert parts[1]["a"].shape == (3, 2) and torch.equal(parts[1]["b"][0], y[3:])
    with pytest.raises(ValueError, match="6 does not split into 4"):
        split_on_first_dim(x, 4)
    with pytest.raises(TypeError, match="override split_batch"):
        split_on_first_dim("tokens", 2)


@pytest.mark.parametrize("k", [2, 4])
def test_accumulated_steps_equal_whole_batch_steps(tmp_path, k):
    batches = [
        torch.randint(0, 256, (16, 129), generator=torch.Generator().manual_seed(s))
        for s in range(3)
    ]
    runs = []
    for steps in (1, k):
        trainer = llama_trainer(tmp_path, steps)
        trainer.build()
        losses = [float(trainer.train_step(b)[0]) for b in batches]
        sizes = {trainer.train_step(batches[0])[1]}
        runs.append((losses, [p.detach().clone() for p in trainer.model.parameters()], sizes))
    (l1, p1, n1), (lk, pk, nk) = runs
    assert n1 == nk == {16}  # the step's sample count, not a micro-batch's
    assert lk == pytest.approx(l1, rel=1e-6)
    assert max((a - b).abs().max().item() for a, b in zip(p1, pk)) < 1e-5
    # and the weights did move: the comparison is not between two untouched models
    fresh = llama_trainer(tmp_path / "fresh", 1)
    fresh.build()
    assert max((a - b).abs().max().item() for a, b in zip(fresh.model.parameters(), p1)) > 1e-3


def test_a_batch_that_does_not_split_is_refused_before_the_run(tmp_path):
    cfg = apply_overrides(resnet_tiny(), ["loop.gradient_accumulation_steps=3"])
    bm = ResNetBenchmark(cfg, RunContext(seed=1, synthetic=True, division="open"))
    logger = MLPerfLogger("resnet", "4.0.0", "open", str(tmp_path / "r.log"), echo=False)
    with pytest.raises(
        UsageError, match="does not split into 3 equal micro-batches; use a divisor of 32"
    ):
        Trainer(bm, logger)
    assert not (tmp_path / "r.log").exists() or "init_start" not in (tmp_path / "r.log").read_text()


def test_bad_accumulation_value_is_a_usage_error(train_cli, tmp_path):
    rc, out, err = train_cli(
        "resnet", "--log-only", "--log", tmp_path / "x.log", "loop.gradient_accumulation_steps=0"
    )
    assert rc == 2 and "loop.gradient_accumulation_steps=0: use 1" in err and "Traceback" not in err


@pytest.mark.parametrize("loader", ["dali", "torch"])
def test_resnet_block_with_accumulation_on_each_loader(tmp_path, tiny_imagenet, loader):
    """The loaders' real batch types split (DALI's and the DataLoader's): one block of 4
    epochs trains with one loss per optimizer step (not per micro-batch) and logs K."""
    overrides = ["loop.gradient_accumulation_steps=2", "schedule.max_epochs=4"]
    cfg = apply_overrides(resnet_tiny(), [*overrides, f"data.loader={loader}"])
    ctx = RunContext(
        seed=5, data_dir=tiny_imagenet, synthetic=True, division="open", ruleset="4.0.0"
    )
    log = tmp_path / "run.log"
    logger = MLPerfLogger("resnet", "4.0.0", "open", str(log), check="strict", echo=False)
    result = Trainer(ResNetBenchmark(cfg, ctx), logger).train()
    logger.close()
    assert len(result.losses) == 4 * (400 // 32)
    assert len(result.evals) == 1 and result.evals[0][0] == 4
    assert '"key": "gradient_accumulation_steps", "value": 2' in log.read_text()
