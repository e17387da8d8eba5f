"""Cost of the common Trainer around the ResNet train step, against a bare PyTorch loop.

    .venv/bin/python bench/resnet_step_overhead.py [--repeat 16] [--steps 24]

Both sides train the same model (the ``tiny`` preset's ResNet v1.5, and a wider one) from the
same initial weights on the same in-memory batches with the same LARS optimizer and schedule.
Bare: forward, label-smoothed cross-entropy, zero_grad, backward, step, scheduler step.
Harness: ``Trainer.train_block`` over one epoch of those batches -- the real thing, with the
block/epoch MLLOG lines, the per-step loss bookkeeping and the throughput line. Rounds
alternate A-B / B-A; the per-round ratio's median (and quartiles) over ``--repeat`` rounds is
the verdict, so the machine's load hits both alike;
CPU time of this thread is reported next to wall time because other engineers share the cores.
Target: harness overhead < 2 %.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mlperf_submit.benchmarks.common.config import apply_overrides  # noqa: E402
from mlperf_submit.benchmarks.common.interface import Block, DataSplits, RunContext  # noqa: E402
from mlperf_submit.benchmarks.common.trainer import Trainer  # noqa: E402
from mlperf_submit.benchmarks.resnet.benchmark import ResNetBenchmark  # noqa: E402
from mlperf_submit.benchmarks.resnet.config import tiny  # noqa: E402
from mlperf_submit.logging import MLPerfLogger  # noqa: E402


class InMemory(DataSplits):
    def __init__(self, batches):
        self.batches = batches
        self.train_samples = sum(len(y) for _, y in batches)
        self.eval_samples = 0

    def train_epoch(self, epoch):
        return self.batches

    def eval_batches(self):
        return []


def make(cfg, seed=0):
    bm = ResNetBenchmark(cfg, RunContext(seed=seed, division="open", ruleset="4.0.0"))
    torch.manual_seed(seed)
    model = bm.build_model()
    opt, sched = bm.build_optimizer(model)
    return bm, model, opt, sched


def bare(cfg, batches, state):
    bm, model, opt, sched = make(cfg)
    model.load_state_dict(state)
    model.train()
    t, c = time.perf_counter(), time.thread_time()
    for x, y in batches:
        loss = F.cross_entropy(model(x), y, label_smoothing=cfg.optim.label_smoothing)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    return time.perf_counter() - t, time.thread_time() - c


def harness(cfg, batches, state, log_dir):
    bm, model, opt, sched = make(cfg)
    model.load_state_dict(state)
    log = Path(log_dir) / f"h{time.perf_counter_ns()}.log"
    logger = MLPerfLogger("resnet", "4.0.0", "open", str(log), check="off", echo=False)
    tr = Trainer(bm, logger)
    tr.model, tr.optimizer, tr.scheduler, tr.data = model, opt, sched, InMemory(batches)
    t, c = time.perf_counter(), time.thread_time()
    tr.train_block(Block(0, 1))
    wall, cpu = time.perf_counter() - t, time.thread_time() - c
    logger.close()
    return wall, cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=16)
    ap.add_argument("--steps", type=int, default=24)
    args = ap.parse_args()
    torch.set_num_threads(1)
    cases = {
        "tiny (16 px, width 8, bs 32)": [],
        "wider (32 px, width 16, 2-2-2-2, bs 32)": [
            "model.layers=2,2,2,2", "model.width=16", "data.image_size=32",
        ],
    }  # fmt: skip
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for name, ov in cases.items():
            cfg = apply_overrides(tiny(), ov)
            s = cfg.data.image_size
            g = torch.Generator().manual_seed(0)
            batches = [
                (torch.randn(32, 3, s, s, generator=g), torch.randint(0, 10, (32,), generator=g))
                for _ in range(args.steps)
            ]
            _, model, _, _ = make(cfg)
            state = {k: v.clone() for k, v in model.state_dict().items()}
            bare(cfg, batches[:2], state)  # warm both paths (allocator, first-call costs)
            harness(cfg, batches[:2], state, tmp)
            pairs = []  # (bare wall, bare cpu, harness wall, harness cpu) of one A/B round
            for i in range(args.repeat):
                if i % 2 == 0:  # A-B then B-A: neither side always runs first
                    a, h = bare(cfg, batches, state), harness(cfg, batches, state, tmp)
                else:
                    h, a = harness(cfg, batches, state, tmp), bare(cfg, batches, state)
                pairs.append((*a, *h))
            n = 32 * args.steps
            aw, ac = min(p[0] for p in pairs), min(p[1] for p in pairs)
            bw, bc = min(p[2] for p in pairs), min(p[3] for p in pairs)
            # The ratio within each round cancels slow drifts of the machine's load; its median
            # and quartiles say how much of the difference is noise.
            ratios = sorted(p[3] / p[1] - 1 for p in pairs)
            q1, med, q3 = statistics.quantiles(ratios, n=4)
            worst = max(worst, med)
            print(f"{name}:")
            print(f"  bare loop : {n / aw:8.1f} img/s wall  {n / ac:8.1f} img/s per CPU-s (best)")
            print(f"  Trainer   : {n / bw:8.1f} img/s wall  {n / bc:8.1f} img/s per CPU-s (best)")
            print(
                f"  overhead  : {100 * med:+6.2f} % CPU, median of {len(pairs)} paired rounds "
                f"(quartiles {100 * q1:+.2f} .. {100 * q3:+.2f} %); best-vs-best "
                f"{100 * (bc / ac - 1):+.2f} %"
            )
    print(
        f"harness overhead (median paired CPU time, worst case): {100 * worst:+.2f} % (target < 2 %)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
