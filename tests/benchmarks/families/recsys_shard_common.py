"""What the sharded-equals-single test's two sides share: the batches, the shapes, the single
process's reference run (``test_recsys_sharding.py`` and ``recsys_shard_worker.py``)."""

from __future__ import annotations

from pathlib import Path

import torch

from mlperf_submit.benchmarks.common.interface import split_on_first_dim

SEED = 5
STEPS = 3
GLOBAL_BATCH = {"dlrm_dcnv2": 128, "dlrmv4": 32}


def benchmark_class(name: str):
    from mlperf_submit.benchmarks.registry import get_benchmark

    return get_benchmark(name)


def overrides(name: str, world: int) -> list[str]:
    """The tiny preset with the same global batch on ``world`` ranks."""
    if name == "dlrmv4":  # configured by its global batch
        return [f"data.global_batch_size={GLOBAL_BATCH[name]}"]
    return [f"data.batch_size={GLOBAL_BATCH[name] // world}"]


def global_batches(bm, steps: int) -> list:
    return [bm.random_batch(GLOBAL_BATCH[bm.name], seed=100 + i) for i in range(steps)]


def eval_batch(bm):
    """The whole (tiny) evaluation set as one batch: every position once (exact AUC)."""
    return bm.random_batch(bm.eval_samples(), seed=7)


def rank_slice(batch, rank: int, world: int):
    return split_on_first_dim(batch, world)[rank]


def single_reference(name: str, path: Path) -> dict:
    """The single process's run on the global batches; saved for the ranks to compare with."""
    from mlperf_submit.benchmarks.common.config import apply_overrides
    from mlperf_submit.benchmarks.common.interface import RunContext
    from mlperf_submit.benchmarks.common.trainer import Trainer
    from mlperf_submit.benchmarks.families.recsys import tables
    from mlperf_submit.logging import MLPerfLogger

    cls = benchmark_class(name)
    cfg = apply_overrides(cls.presets["tiny"](), overrides(name, 1))
    rs = cls.default_ruleset()
    ctx = RunContext(seed=SEED, division="open", ruleset=rs, preset="tiny")
    log = path.with_suffix(".log")
    trainer = Trainer(cls(cfg, ctx), MLPerfLogger(name, rs, "open", str(log), check="off"))
    trainer.build()
    model, bm = trainer.model, trainer.bm
    # dlrm_dcnv2's tables are FBGEMM-fused in one CPU process; dlrmv4's EmbeddingCollection
    # steps TorchRec's RowWiseAdagrad there (FusedEmbeddingCollection is CUDA-only): the
    # sharded run (FBGEMM on every rank) is then also checked against TorchRec's own rule.
    assert trainer.optimizer.fused == (name == "dlrm_dcnv2")
    table_keys = set(tables.table_weights(model))

    def dense():
        return {
            n: p.detach().clone()
            for n, p in model.named_parameters()
            if not any(n == k or k.startswith(n) for k in table_keys)
        }

    tables0 = {k: v.detach().clone() for k, v in tables.table_weights(model).items()}
    dense0 = dense()
    model.eval()
    losses = [float(trainer.train_step(b)[0]) for b in global_batches(bm, STEPS)]
    with torch.no_grad():
        auc = bm.metric(bm.eval_sums(model, eval_batch(bm)))
    ref = {
        "tables0": tables0,
        "dense0": dense0,
        "tables1": {k: v.detach().clone() for k, v in tables.table_weights(model).items()},
        "dense1": dense(),
    }
    torch.save(ref, path)
    trainer.logger.close()
    return {"losses": losses, "auc": auc, "dense_count": len(dense0)}
