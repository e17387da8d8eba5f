"""Recommendation throughput: training samples/s of the ``small`` presets, and embedding lookups/s
of TorchRec's fused FBGEMM tables against plain ``nn.EmbeddingBag`` measured in the same run.

    .venv/bin/python bench/recsys_throughput.py [--part samples|lookups|train|all]
        [--device cpu|cuda] [--steps 6] [--repeat 5]

samples: the real Trainer path of each benchmark's ``small`` preset (``Trainer.build``: the
tables placed as one process places them -- FBGEMM-fused for dlrm_dcnv2, and for dlrmv4 on CUDA;
dlrmv4 steps TorchRec's RowWiseAdagrad on CPU), ``train_step`` on random batches of the real
layout; samples/s = steps x global batch / seconds (after 2 warm-up steps).

lookups: the 26 dlrm_dcnv2 tables (``small`` sizes, dim 128, the multi-hot bag sizes), one
training step = forward (sum-pooled bags), backward, Adagrad update: TorchRec's
``FusedEmbeddingBagCollection`` (FBGEMM EXACT_ADAGRAD applied in backward) against 26
``nn.EmbeddingBag(sparse=True)`` + ``torch.optim.Adagrad`` (sparse gradients) on the same ids.
Rounds alternate A-B / B-A; the verdict is the median ratio over ``--repeat`` rounds, so the
machine's load hits both alike. Lookups/s counts every id of every bag.

train: each benchmark's ``tiny`` preset end to end on its synthetic data through the Trainer
on ``--device`` (status, evaluations, run time from the Trainer's clock); not part of ``all``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mlperf_submit.benchmarks.common.config import LoopConfig, apply_overrides  # noqa: E402
from mlperf_submit.benchmarks.common.interface import RunContext  # noqa: E402
from mlperf_submit.benchmarks.common.trainer import Trainer  # noqa: E402
from mlperf_submit.logging import MLPerfLogger  # noqa: E402


def _class(name: str):
    if name == "dlrm_dcnv2":
        from mlperf_submit.benchmarks.dlrm_dcnv2.benchmark import DLRMDCNv2Benchmark

        return DLRMDCNv2Benchmark
    from mlperf_submit.benchmarks.dlrmv4.benchmark import DLRMv4Benchmark

    return DLRMv4Benchmark


def samples_per_second(name: str, device: str, steps: int, tmp: Path) -> dict:
    cls = _class(name)
    cfg = cls.presets["small"]()
    cfg.loop = LoopConfig(device=device, precision="bf16" if device == "cuda" else "fp32")
    cfg = apply_overrides(cfg, [])
    rs = cls.default_ruleset()
    ctx = RunContext(seed=1, device=torch.device(device), division="open", ruleset=rs)
    log = MLPerfLogger(name, rs, "open", str(tmp / f"{name}.log"), check="off", echo=False)
    trainer = Trainer(cls(cfg, ctx), log)
    trainer.build()
    bm = trainer.bm
    batches = [bm.random_batch(bm.local_batch(), seed=i) for i in range(steps + 2)]
    for b in batches[:2]:
        trainer.train_step(b)
    _sync(device)
    t0 = time.perf_counter()
    for b in batches[2:]:
        trainer.train_step(b)
    _sync(device)
    seconds = time.perf_counter() - t0
    log.close()
    return {
        "benchmark": name,
        "placement": bm.placement(),
        "global_batch": bm.global_batch_size(),
        "samples_per_s": steps * bm.global_batch_size() / seconds,
    }


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def lookup_sides(device: str, batch: int):
    """(fused step, baseline step, ids per step) on the same ids."""
    from torchrec.modules.embedding_configs import EmbeddingBagConfig
    from torchrec.modules.fused_embedding_modules import FusedEmbeddingBagCollection
    from torchrec.sparse.jagged_tensor import KeyedJaggedTensor

    from mlperf_submit.benchmarks.dlrm_dcnv2.config import small

    cfg = small()
    rows, sizes, dim = cfg.model.num_embeddings_per_feature, cfg.data.multi_hot_sizes, 128
    dev = torch.device(device)
    names = [f"cat_{k}" for k in range(len(rows))]
    fused = FusedEmbeddingBagCollection(
        tables=[
            EmbeddingBagConfig(
                name=f"t_{n}", embedding_dim=dim, num_embeddings=r, feature_names=[n]
            )
            for n, r in zip(names, rows, strict=True)
        ],
        optimizer_type=torch.optim.Adagrad,
        optimizer_kwargs={"lr": 0.004, "eps": 1e-8},
        device=dev,
    )
    bags = torch.nn.ModuleList(
        torch.nn.EmbeddingBag(r, dim, mode="sum", sparse=True, device=dev) for r in rows
    )
    plain_opt = torch.optim.Adagrad(bags.parameters(), lr=0.004, eps=1e-8)
    g = torch.Generator().manual_seed(0)
    ids = [
        torch.randint(0, r, (batch, m), generator=g).to(dev)
        for r, m in zip(rows, sizes, strict=True)
    ]
    kjt = KeyedJaggedTensor.from_lengths_sync(
        keys=names,
        values=torch.cat([i.reshape(-1) for i in ids]),
        lengths=torch.cat([torch.full((batch,), m, dtype=torch.int32, device=dev) for m in sizes]),
    )

    def fused_step():
        fused(kjt).values().sum().backward()

    def plain_step():
        plain_opt.zero_grad(set_to_none=True)
        sum(bag(i).sum() for bag, i in zip(bags, ids, strict=True)).backward()
        plain_opt.step()

    return fused_step, plain_step, batch * sum(sizes)


def lookups(device: str, steps: int, repeat: int, batch: int) -> dict:
    fused_step, plain_step, per_step = lookup_sides(device, batch)

    def timed(step) -> float:
        step()
        _sync(device)
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        _sync(device)
        return steps * per_step / (time.perf_counter() - t0)

    ratios, fused_rates, plain_rates = [], [], []
    for r in range(repeat):
        first, second = (fused_step, plain_step) if r % 2 == 0 else (plain_step, fused_step)
        a, b = timed(first), timed(second)
        f, p = (a, b) if r % 2 == 0 else (b, a)
        fused_rates.append(f)
        plain_rates.append(p)
        ratios.append(f / p)
    return {
        "ids_per_step": per_step,
        "fused_lookups_per_s": statistics.median(fused_rates),
        "embeddingbag_lookups_per_s": statistics.median(plain_rates),
        "ratio_median": statistics.median(ratios),
        "ratio_range": (min(ratios), max(ratios)),
    }


def tiny_run(name: str, device: str, root: Path) -> str:
    cls = _class(name)
    cfg = apply_overrides(cls.presets["tiny"](), [f"loop.device={device}"])
    rs = cls.default_ruleset()
    ctx = RunContext(
        seed=1, device=torch.device(device), data_dir=root, synthetic=True, division="open",
        ruleset=rs, preset="tiny",
    )  # fmt: skip
    bm = cls(cfg, ctx)
    bm.prepare_synthetic(root)
    log = MLPerfLogger(name, rs, "open", str(root / f"{name}.log"), check="off", echo=False)
    result = Trainer(bm, log).train()
    evals = ", ".join(f"{v:.4f}@{p:g}" for p, v in result.evals)
    return f"{name:<11} tiny on {device}: {result.status} in {result.run_seconds:.2f} s ({evals})"


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", choices=("samples", "lookups", "train", "all"), default="all")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--lookup-batch", type=int, default=2048)
    ap.add_argument("--benchmarks", default="dlrm_dcnv2,dlrmv4")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    torch.manual_seed(0)
    if args.part in ("samples", "all"):
        with tempfile.TemporaryDirectory() as tmp:
            for name in args.benchmarks.split(","):
                r = samples_per_second(name, args.device, args.steps, Path(tmp))
                print(
                    f"{r['benchmark']:<11} small, {r['placement']:<8} global batch "
                    f"{r['global_batch']:>5}: {r['samples_per_s']:10.1f} samples/s ({args.device})"
                )
    if args.part == "train":
        with tempfile.TemporaryDirectory() as tmp:
            for name in args.benchmarks.split(","):
                print(tiny_run(name, args.device, Path(tmp)))
    if args.part in ("lookups", "all"):
        r = lookups(args.device, args.steps, args.repeat, args.lookup_batch)
        lo, hi = r["ratio_range"]
        print(
            f"lookups ({r['ids_per_step']} ids/step, {args.device}): FBGEMM fused "
            f"{r['fused_lookups_per_s']:.3g}/s, nn.EmbeddingBag+Adagrad "
            f"{r['embeddingbag_lookups_per_s']:.3g}/s, ratio {r['ratio_median']:.2f} "
            f"(rounds {lo:.2f}-{hi:.2f})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
