"""ResNet-50 v1.5 images/s on one GPU: the bf16 train step, DALI mixed decoding, both together.

    python3 bench/resnet_gpu_throughput.py --part step  [--batch 256]
    python3 bench/resnet_gpu_throughput.py --part dali  [--images 4096]
    python3 bench/resnet_gpu_throughput.py --part train [--images 4096] [--loader auto]
    python3 bench/resnet_gpu_throughput.py --part train --dry-run    # arguments only

``step``: forward + backward + LARS step of ResNet-50 at 224 px on random GPU tensors, fp32 vs
bf16 autocast (channels_last), best of ``--rounds``: the compute ceiling, and bf16 / fp32.
``dali``: the DALI training pipeline alone, ``fn.decoders.image(device="mixed")`` (nvJPEG) +
random-resized-crop + flip + normalise, on synthetic 256 px JPEGs written to a temp dir.
``train``: the real Trainer (``train_block`` of the resnet benchmark, bf16) over the same JPEGs
with ``--loader``: dali (NHWC fp16 images and labels on the GPU), torch (the DataLoader with
PIL, pinned batches) or auto (DALI when it is installed): images/s end to end, and its ratio to
the bf16 ``step`` ceiling measured in the same process. Each part prints one ``RESULT`` line.
Needs CUDA; ``dali`` needs nvidia-dali, and ``train`` needs mlperf-logging (its rules validate
the logger): absent ones are reported, not faked. Expect on an H200: ~3000 img/s bf16 step,
DALI mixed decode > step rate.
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

from mlperf_submit.benchmarks.common.config import apply_overrides  # noqa: E402
from mlperf_submit.benchmarks.common.interface import Block, RunContext  # noqa: E402
from mlperf_submit.benchmarks.resnet.config import config_DGXH100_1x8x400  # noqa: E402
from mlperf_submit.benchmarks.resnet.model import ResNetSpec, build_resnet  # noqa: E402
from mlperf_submit.benchmarks.resnet.optim import LARS, param_groups  # noqa: E402


def step_rate(dev: torch.device, batch: int, precision: str, steps: int, rounds: int) -> float:
    torch.manual_seed(0)
    model = build_resnet(ResNetSpec()).to(dev, memory_format=torch.channels_last)
    opt = LARS(param_groups(model, 5e-5), lr=1.0, momentum=0.9, weight_decay=5e-5)
    x = torch.randn(batch, 3, 224, 224, device=dev).to(memory_format=torch.channels_last)
    y = torch.randint(0, 1000, (batch,), device=dev)
    ctx = torch.autocast(dev.type, dtype=torch.bfloat16, enabled=precision == "bf16")

    def one():
        with ctx:
            loss = F.cross_entropy(model(x), y, label_smoothing=0.1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(3):
        one()
    best = 0.0
    for _ in range(rounds):
        sync(dev)
        t = time.perf_counter()
        for _ in range(steps):
            one()
        sync(dev)
        best = max(best, steps * batch / (time.perf_counter() - t))
    return best


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize()


def make_jpegs(root: Path, images: int) -> Path:
    from mlperf_submit.benchmarks.resnet import synthetic

    classes = 100
    spec = synthetic.SyntheticSpec(
        classes=classes,
        train_per_class=max(1, images // classes),
        val_per_class=1,
        image_size=256,
    )
    return synthetic.synthetic_data(root, "resnet", spec).ensure()


def dali_rate(dev: torch.device, root: Path, batch: int, epochs: int) -> tuple[float, int]:
    from mlperf_submit.benchmarks.resnet.data_dali import DaliImageNet

    data = DaliImageNet(
        root, image_size=224, batch_size=batch, eval_batch_size=batch, min_area=0.08,
        threads=8, rank=0, world=1, seed=1, order_seed=2, device=dev,
    )  # fmt: skip
    for _ in data.train_epoch(0):  # first epoch: nvJPEG and allocator warm-up
        pass
    n = 0
    sync(dev)
    t = time.perf_counter()
    for e in range(1, epochs + 1):
        for x, _y in data.train_epoch(e):
            n += x.shape[0]
    sync(dev)
    return n / (time.perf_counter() - t), data.train_samples


def train_rate(
    dev: torch.device,
    root: Path,
    batch: int,
    train_samples: int,
    epochs: int,
    loader: str = "dali",
    workers: int = 8,
) -> float:
    from mlperf_submit.benchmarks.common.trainer import Trainer
    from mlperf_submit.benchmarks.resnet.benchmark import ResNetBenchmark
    from mlperf_submit.logging import MLPerfLogger

    cfg = apply_overrides(
        config_DGXH100_1x8x400(),
        [f"data.batch_size={batch}", f"data.train_samples={train_samples}", "model.num_classes=100",
         "data.synthetic_classes=100", f"data.loader={loader}", f"data.workers={workers}"],
    )  # fmt: skip
    if dev.type != "cuda":  # the CPU smoke run of this script: fp32, no warm-up steps
        cfg = apply_overrides(
            cfg, ["loop.device=cpu", "loop.precision=fp32", "loop.warmup_steps=0"]
        )
    ctx = RunContext(seed=1, device=dev, data_dir=root, division="open",
                     ruleset="4.0.0")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        logger = MLPerfLogger("resnet", "4.0.0", "open", f"{tmp}/r.log", check="off", echo=False)
        tr = Trainer(ResNetBenchmark(cfg, ctx), logger)
        tr.init()  # build + bf16 warm-up steps (cfg.loop.warmup_steps)
        tr.data = tr.bm.build_data()
        tr.train_block(Block(0, 1))  # warm-up epoch
        tr.train_block(Block(1, epochs))
        logger.close()
    return tr.result.throughput[-1]


def dali_installed() -> bool:
    try:
        import nvidia.dali  # noqa: F401
    except ImportError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--part", choices=("step", "dali", "train"), default="step")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--images", type=int, default=4096)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--loader", choices=("auto", "dali", "torch"), default="auto")
    ap.add_argument("--workers", type=int, default=8, help="DALI threads / DataLoader workers")
    ap.add_argument("--device", default="cuda", help="cpu: a smoke run of this script's code")
    ap.add_argument("--dry-run", action="store_true", help="check the arguments, run nothing")
    a = ap.parse_args(argv)
    for name in ("batch", "steps", "rounds", "images", "epochs", "workers"):
        if getattr(a, name) < 1:
            ap.error(f"--{name} must be >= 1")
    if a.images < 100 * 2 or a.images // 100 * 100 < a.batch:
        ap.error(f"--images {a.images}: need at least one batch of {a.batch} over 100 classes")
    dev = torch.device(a.device)
    loader = a.loader if a.loader != "auto" else "dali" if dali_installed() else "torch"
    if a.dry_run:
        print(f"ok: part {a.part}, batch {a.batch}, loader {loader} on {dev}")
        return 0
    if dev.type == "cuda" and not torch.cuda.is_available():
        print(f"RESULT {a.part}: skipped, no CUDA device")
        return 1
    name = torch.cuda.get_device_name() if dev.type == "cuda" else "cpu"
    print("device:", name, "torch", torch.__version__, flush=True)
    if a.part == "step":
        fp32 = step_rate(dev, a.batch, "fp32", a.steps, a.rounds)
        bf16 = step_rate(dev, a.batch, "bf16", a.steps, a.rounds)
        print(
            f"RESULT step: fp32 {fp32:.0f} img/s, bf16 {bf16:.0f} img/s, bf16/fp32 {bf16 / fp32:.2f}x"
        )
        return 0
    if (a.part == "dali" or loader == "dali") and not dali_installed():
        print(f"RESULT {a.part}: skipped, nvidia-dali is not installed on this machine")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        root = make_jpegs(Path(tmp), a.images)
        n = a.images // 100 * 100
        print(f"wrote {n} JPEGs in {time.perf_counter() - t:.0f} s", flush=True)
        if a.part == "dali":
            rate, n = dali_rate(dev, root, a.batch, a.epochs)
            print(f"RESULT dali mixed decode: {rate:.0f} img/s over {n} images x {a.epochs} epochs")
            return 0
        try:
            import mlperf_logging  # noqa: F401
        except ImportError:
            print("RESULT train: skipped, mlperf-logging is not installed (carry its wheel)")
            return 0
        ceiling = step_rate(dev, a.batch, "bf16", a.steps, a.rounds)
        rate = train_rate(dev, root, a.batch, n, a.epochs, loader, a.workers)
        print(f"RESULT train (Trainer, {loader} loader, bf16): {rate:.0f} img/s = "
              f"{rate / ceiling:.2f} of the bare bf16 step ({ceiling:.0f} img/s)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
