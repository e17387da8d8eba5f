"""Input pipeline speed against what the train step consumes (resnet ``tiny`` preset).

    .venv/bin/python bench/resnet_loader_throughput.py [--epochs 3] [--data DIR]

1. Loader only: images/s that each pipeline (DALI CPU, torch DataLoader + PIL) delivers over
   ``--epochs`` epochs of the tiny synthetic ImageNet (generated in a temp dir unless --data).
2. Train-step consumption: images/s of the tiny preset's train step on in-memory batches of
   the same shape (forward, backward, LARS step), same thread count.
Prints loader / consumption per pipeline; target >= 2x (the model never waits for data).
Both are measured in this process, one after the other, best of ``--repeat``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mlperf_submit.benchmarks.common.interface import RunContext  # noqa: E402
from mlperf_submit.benchmarks.resnet import data_dali  # noqa: E402
from mlperf_submit.benchmarks.resnet.benchmark import ResNetBenchmark  # noqa: E402
from mlperf_submit.benchmarks.resnet.config import tiny  # noqa: E402


def loader_rate(bm: ResNetBenchmark, epochs: int) -> float:
    data = bm.build_data()
    n = 0
    t = time.perf_counter()
    for e in range(epochs):
        for _x, y in data.train_epoch(e):
            n += len(y)
    rate = n / (time.perf_counter() - t)
    data.close()
    return rate


def step_rate(bm: ResNetBenchmark, steps: int) -> float:
    torch.manual_seed(0)
    model = bm.build_model()
    opt, sched = bm.build_optimizer(model)
    d = bm.cfg.data
    x = torch.randn(d.batch_size, 3, d.image_size, d.image_size)
    y = torch.randint(0, bm.cfg.model.num_classes, (d.batch_size,))
    t = time.perf_counter()
    for _ in range(steps):
        loss = F.cross_entropy(model(x), y, label_smoothing=0.1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    return steps * d.batch_size / (time.perf_counter() - t)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--data", type=Path, default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = tiny()
        root = args.data
        if root is None:
            root = ResNetBenchmark(cfg, None).prepare_synthetic(Path(tmp) / "imagenet")
        loaders = (["dali"] if data_dali.available() else []) + ["torch"]
        consume = max(
            step_rate(ResNetBenchmark(cfg, RunContext(seed=1)), 24) for _ in range(args.repeat)
        )
        print(f"train step consumes: {consume:9.1f} img/s (tiny preset, 1 thread)")
        worst = None
        for kind in loaders:
            from mlperf_submit.benchmarks.common.config import apply_overrides

            c = apply_overrides(cfg, [f"data.loader={kind}"])
            bm = ResNetBenchmark(c, RunContext(seed=1, data_dir=root))
            if kind == "dali":
                data_dali.import_dali()
            rate = max(loader_rate(bm, args.epochs) for _ in range(args.repeat))
            ratio = rate / consume
            worst = ratio if worst is None else min(worst, ratio)
            print(
                f"{kind:>5} loader only: {rate:9.1f} img/s  = {ratio:5.1f}x the step (target >= 2x)"
            )
        print(f"slowest loader / train step: {worst:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
