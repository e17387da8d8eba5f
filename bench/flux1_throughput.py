"""flux1 training throughput, model FLOP utilisation, and the loader against the step.

    .venv/bin/python bench/flux1_throughput.py                      # small preset, CPU
    .venv/bin/python bench/flux1_throughput.py --preset tiny --part loader
    python3 bench/flux1_throughput.py --device cuda --dtype bf16 --preset h200   # one GPU

Parts (``--part step|loader|all``), all measured in this process:

* step: images/s of the preset's real training step -- the benchmark's own model, loss
  (posterior draw, caption dropout, rectified-flow MSE), AdamW with clipping and the warm-up
  schedule -- on batches of the real shapes already in memory (``warmup_batch``), best of
  ``--steps`` after warm-up; MFU = that rate x ``training_flops_per_sample`` (3 x the forward
  matmuls and attention, never recomputation) / the peak of a large matmul in the same dtype,
  measured interleaved with the steps (``--peak-n``; 0 skips it).
* loader: images/s that the preset's input pipeline delivers on its synthetic shards (written
  to a temp dir unless ``--data``): webdataset shards -> decode -> per-sample draws -> batches
  in ``data.workers`` DataLoader processes, ``--batches`` batches after the first (start-up
  printed apart). Printed against the step rate: loader / step must be >= 1 (the step never
  waits for data); the target here is >= 2 to leave room for a faster device.

Measured on the 2-core shared VM (fp32, load average in the output): see the report of the
commit that last changed the figures; the GPU figures come from ``bench/device/flux1_gpu.sh``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from bench.flop_rate import DTYPES, TimedStep, peak_flops  # noqa: E402
from mlperf_submit.benchmarks.common.config import apply_overrides  # noqa: E402
from mlperf_submit.benchmarks.common.interface import RunContext  # noqa: E402
from mlperf_submit.benchmarks.flux1.benchmark import Flux1Benchmark  # noqa: E402
from mlperf_submit.benchmarks.flux1.config import PRESETS  # noqa: E402
from mlperf_submit.benchmarks.flux1.model import (  # noqa: E402
    packed_tokens,
    parameter_count,
    training_flops_per_sample,
)


def benchmark(args, device: torch.device, root: Path | None, synthetic: bool = True):
    overrides = [f"loop.device={device.type}", *args.set]
    if args.batch:
        overrides.append(f"data.global_batch_size={args.batch}")
    cfg = apply_overrides(PRESETS[args.preset](), overrides)
    ctx = RunContext(seed=1, device=device, data_dir=root, synthetic=synthetic,
                     division="open", ruleset="6.1.0", preset=args.preset)  # fmt: skip
    return Flux1Benchmark(cfg, ctx)


class Step(TimedStep):
    guard_attention = False  # as before: the MMDiT step runs whichever kernel SDPA picks

    """One real training step of the preset (model, loss, AdamW + clipping + schedule)."""

    def __init__(self, bm: Flux1Benchmark, dtype: torch.dtype, compile_: bool) -> None:
        self.bm, self.device, self.dtype = bm, bm.ctx.device, dtype
        torch.manual_seed(0)
        model = bm.build_model().to(self.device)
        self.opt, self.sched = bm.build_optimizer(model)
        self.model = torch.compile(model) if compile_ else model
        batch = bm.warmup_batch()
        self.batch = {k: v.to(self.device) if torch.is_tensor(v) else v for k, v in batch.items()}
        self.n = bm.local_batch
        d = bm.cfg.data
        self.flops = self.n * training_flops_per_sample(
            bm.cfg.model, packed_tokens(d.image_size), bm.cfg.encoders.t5_max_length
        )

    def loss(self) -> torch.Tensor:
        return self.bm.loss(self.model, self.batch)[0]


def step_part(args, device) -> float:
    bm = benchmark(args, device, None)
    step = Step(bm, DTYPES[args.dtype], args.compile)
    n_params = parameter_count(bm.cfg.model)
    print(f"flux1 {args.preset}: {n_params / 1e6:.1f}M parameters, batch {step.n}, "
          f"{step.flops / 1e9:.1f} GFLOP/step, {args.dtype} on {device} "
          f"({torch.get_num_threads()} threads), compile={args.compile}")  # fmt: skip
    t = time.perf_counter()
    for _ in range(args.warmup):
        step()
    print(f"warm-up ({args.warmup} steps, compile included): {time.perf_counter() - t:.1f} s")
    best_peak, best = 0.0, float("inf")
    for r in range(args.rounds):
        peak = peak_flops(args.peak_n, DTYPES[args.dtype], device) if args.peak_n else 0.0
        times = [step() for _ in range(args.steps)]
        best_peak, best = max(best_peak, peak), min(best, min(times))
        print(f"round {r}: peak {peak / 1e12:8.3f} TFLOP/s   step {min(times):8.4f} s -> "
              f"{step.n / min(times):9.1f} img/s, {step.flops / min(times) / 1e12:8.3f} TFLOP/s")  # fmt: skip
    rate = step.n / best
    if best_peak:
        achieved = step.flops / best
        print(f"MFU = {achieved / 1e12:.3f} / {best_peak / 1e12:.3f} TFLOP/s = "
              f"{achieved / best_peak:.3f}")  # fmt: skip
    if device.type == "cuda":
        print(f"peak memory {torch.cuda.max_memory_allocated(device) / 2**30:.1f} GiB")
    print(f"step: {rate:.1f} img/s")
    return rate


def loader_part(args, device, consume: float | None) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        root = args.data or Path(tmp) / "data"
        bm = benchmark(args, device, root, synthetic=args.data is None)
        if args.data is None:
            t = time.perf_counter()
            bm.prepare_synthetic(root)
            print(f"synthetic shards written in {time.perf_counter() - t:.1f} s")
        bm.build_model()  # raw format: the tokenizers (and encoders) the loader needs
        bm.prepare_pipeline()
        data = bm.build_data()
        t = time.perf_counter()
        it = iter(data.train_epoch(0))
        first = next(it)
        n0 = len(first["t"])
        print(f"first batch after {time.perf_counter() - t:.2f} s "
              f"({bm.cfg.data.workers} workers)")  # fmt: skip
        n, t = 0, time.perf_counter()
        for _ in range(args.batches):
            n += len(next(it)["t"])
        rate = n / (time.perf_counter() - t)
        data.close()
    print(f"loader: {rate:.1f} img/s ({n} images in {args.batches} batches of {n0})")
    if consume:
        print(f"loader / step = {rate:.1f} / {consume:.1f} = {rate / consume:.2f} "
              "(>= 1: the step never waits; target >= 2)")  # fmt: skip
    return rate


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", default="small", choices=sorted(PRESETS))
    ap.add_argument("--part", default="all", choices=("step", "loader", "all"))
    ap.add_argument("--batch", type=int, default=0, help="global batch (default: the preset's)")
    ap.add_argument("--steps", type=int, default=3, help="timed steps per round")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--batches", type=int, default=20, help="loader batches timed")
    ap.add_argument("--peak-n", type=int, default=2048)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="fp32", choices=sorted(DTYPES))
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    ap.add_argument("--data", type=Path, default=None, help="real shards instead of synthetic")
    ap.add_argument("--set", action="append", default=[], help="a config override key=value")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}, {os.cpu_count()} cpus")
    consume = step_part(args, device) if args.part in ("step", "all") else None
    if args.part in ("loader", "all"):
        loader_part(args, device, consume)
    return 0


if __name__ == "__main__":
    sys.exit(main())
