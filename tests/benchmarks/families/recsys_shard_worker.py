"""One rank of the sharded-equals-single test (``test_recsys_sharding.py``), under torchrun.

    torchrun --nproc-per-node 2 recsys_shard_worker.py BENCHMARK SHARDING[,SHARDING] REF.pt OUT

For each SHARDING: builds the benchmark's tiny model through the Trainer (``parallelize`` ->
TorchRec's DistributedModelParallel with every table constrained to SHARDING), loads the weights
the single process drew (REFERENCE.pt), trains the same global batches -- each rank its slice --
then gathers the tables and the dense weights and compares them, and the AUC of one evaluation
batch split over the ranks, with the single process's results. Rank 0 writes OUT/SHARDING.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from mlperf_submit.benchmarks.common.config import apply_overrides
from mlperf_submit.benchmarks.common.interface import RunContext
from mlperf_submit.benchmarks.common.trainer import Trainer
from mlperf_submit.benchmarks.families.recsys import tables
from mlperf_submit.benchmarks.families.recsys.auc import auc_from_scores
from mlperf_submit.launch.distributed import dist
from mlperf_submit.launch.distributed.parallel import all_reduce_sum, unwrap
from mlperf_submit.logging import MLPerfLogger

sys.path.insert(0, str(Path(__file__).resolve().parent))
from recsys_shard_common import (  # noqa: E402
    SEED,
    STEPS,
    benchmark_class,
    eval_batch,
    global_batches,
    overrides,
    rank_slice,
)


def _zero(t) -> bool:
    shards = getattr(t, "local_shards", None)
    parts = [s.tensor for s in shards()] if shards is not None else [t]
    return all(not p.any() for p in parts)


def main() -> None:
    name, shardings, reference, out = sys.argv[1:5]
    env = dist.init_distributed("gloo")
    torch.set_num_threads(1)
    ref = torch.load(reference, weights_only=True)
    for sharding in shardings.split(","):
        compare(name, sharding, ref, Path(out) / f"{sharding}.json", env)
    dist.shutdown()


def compare(name: str, sharding: str, ref: dict, out: Path, env) -> None:
    cls = benchmark_class(name)
    cfg = apply_overrides(
        cls.presets["tiny"](),
        [*overrides(name, env.world_size), f"schedule.sharding={sharding}", "loop.warmup_steps=2"],
    )
    rs = cls.default_ruleset()
    ctx = RunContext(
        seed=SEED, rank=env.rank, world_size=env.world_size, local_rank=env.local_rank,
        division="open", ruleset=rs, preset="tiny",
    )  # fmt: skip
    log = out.with_name(f"{sharding}-rank{env.rank}.log")
    trainer = Trainer(cls(cfg, ctx), MLPerfLogger(name, rs, "open", str(log), check="off"))
    trainer.build()
    model, bm = trainer.model, trainer.bm
    plan = {
        t: str(p.sharding_type)
        for module_plan in model.plan.plan.values()
        for t, p in module_plan.items()
    }
    raw = unwrap(model)
    # Warm-up (two steps and an eval forward) restores the sharded tables, the dense weights and
    # FBGEMM's momentum exactly.
    before = {k: v.clone() for k, v in tables.gather_table_rows(model, ref["tables0"]).items()}
    dense_before = {n: p.detach().clone() for n, p in raw.named_parameters()}
    trainer.warm_up()
    after = tables.gather_table_rows(model, ref["tables0"])
    momentum = trainer.optimizer.state_dict()["tables"]["state"]["state"]
    restored = (
        all(torch.equal(before[k], after[k]) for k in before)
        and all(torch.equal(dense_before[n], p) for n, p in raw.named_parameters())
        and all(_zero(v) for per_table in momentum.values() for v in per_table.values())
        and trainer.optimizer.state_dict()["state"] == {}
    )
    tables.copy_table_rows(model, ref["tables0"])
    with torch.no_grad():
        for n, p in raw.named_parameters():
            if n in ref["dense0"]:
                p.copy_(ref["dense0"][n])
    model.eval()  # dropout off on every rank, as in the single process
    losses = []
    for batch in global_batches(bm, STEPS):
        loss, _ = trainer.train_step(rank_slice(batch, env.rank, env.world_size))
        losses.append(float(all_reduce_sum(loss.detach().double().reshape(1))) / env.world_size)
    full = {
        k: all_reduce_sum(v) for k, v in tables.gather_table_rows(model, ref["tables1"]).items()
    }
    dense = {n: p.detach() for n, p in raw.named_parameters() if n in ref["dense1"]}
    part = rank_slice(eval_batch(bm), env.rank, env.world_size)
    with torch.no_grad():
        sums = bm.eval_sums(model, part)
        logits, labels, _ = bm.logits(model, part)
    auc = bm.metric(all_reduce_sum(sums))
    # The same AUC from every score gathered by another route (all_gather_object).
    gathered = [None] * env.world_size
    torch.distributed.all_gather_object(gathered, (logits.float(), labels))
    scores = torch.sigmoid(torch.cat([g[0] for g in gathered]))
    direct = auc_from_scores(scores, torch.cat([g[1] for g in gathered]) > 0.5)
    per_rank = [auc_from_scores(torch.sigmoid(g[0]), g[1] > 0.5) for g in gathered]
    if env.rank == 0:
        table_err = max((full[k] - ref["tables1"][k]).abs().max().item() for k in full)
        table_moved = max((ref["tables1"][k] - ref["tables0"][k]).abs().max().item() for k in full)
        dense_err = max((dense[n] - ref["dense1"][n]).abs().max().item() for n in dense)
        out.write_text(
            json.dumps(
                {
                    "plan": plan,
                    "losses": losses,
                    "table_err": table_err,
                    "table_moved": table_moved,
                    "dense_err": dense_err,
                    "dense_count": len(dense),
                    "auc": auc,
                    "auc_gathered": direct,
                    "auc_mean_of_ranks": sum(per_rank) / len(per_rank),
                    "world": env.world_size,
                    "warmup_restored": restored,
                }
            )
        )
    trainer.logger.close()


if __name__ == "__main__":
    main()
