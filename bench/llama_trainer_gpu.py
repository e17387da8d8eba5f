"""The real Trainer path of the Llama 3.1 8B preset on one GPU at a few layers, and what it
implies for the whole 8B on 8 x H200.

    python3 bench/llama_trainer_gpu.py --layers 2,4 --steps 3
    python3 bench/llama_trainer_gpu.py --layers 2,4 --dry-run     # arguments only, no GPU
    python bench/llama_trainer_gpu.py --device cpu --preset tiny    # this code on a CPU (gloo)

For each depth in ``--layers``: the ``8b`` preset (FSDP2, activation checkpointing,
torch.compile, bf16, warm-up steps with every state restored) with ``model.n_layers`` cut to
that depth and the global batch 4 that one of 8 GPUs trains, built by the real Trainer over a
one-rank NCCL process group (so FSDP2 really shards, gathers in bf16 and reduce-scatters in
fp32, as on 8 ranks). It prints what is in effect (optimizer implementation, parameter type,
FSDP2's dtypes, compiled regions, the logged ``lowest_numerical_precision_in_comm``), the
init time, the step time and the peak memory of the steps and of init (warm-up holds a copy
of the weights to restore them).

The 8-GPU estimate: the training state (fp32 weights, gradients, AdamW moments: measured
bytes) is split over 8 ranks by FSDP2; everything else (activations kept by checkpointing,
gathered bf16 blocks, the logits and the loss) is per rank. Both are fitted linearly in the
depth from the two measured depths and evaluated at 32 layers: state(32) / 8 + rest(32).
The step time is extrapolated the same way, into tokens/s per GPU (one rank: no
communication) beside the figure a published 64 x H200 result implies. Prints ``RESULT`` lines.
``--device cpu`` runs the same code on a CPU (gloo, fp32, the eager compile backend, no memory
figures) with a small preset, so that a test checks it without a GPU.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import socket
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from mlperf_submit.benchmarks.common.config import apply_overrides  # noqa: E402
from mlperf_submit.benchmarks.common.interface import RunContext  # noqa: E402
from mlperf_submit.benchmarks.common.throughput import (  # noqa: E402
    LLAMA31_8B_PUBLISHED,
    datasheet_bf16_peak,
)
from mlperf_submit.benchmarks.families.decoder.flops import training_flops_per_token  # noqa: E402
from mlperf_submit.benchmarks.llama31_8b.config import CLOSED, PRESETS  # noqa: E402

GIB = 2**30
RANKS_8B = 8  # config_DGXH200_1x8x4: one node of 8 GPUs
LOCAL_BATCH = 4  # its 32 sequences over 8 ranks


@dataclass
class Depth:
    layers: int
    seq_len: int
    init_s: float
    step_s: float
    state_bytes: int
    peak_steps: int
    peak_init: int
    reserved: int
    in_effect: str
    comm: str
    graphs: int


def config(preset: str, layers: int, device: str):
    overrides = [f"model.n_layers={layers}", f"data.global_batch_size={LOCAL_BATCH}"]
    if device == "cpu":  # this script's code on a CPU: fp32, no generated kernels
        overrides += ["loop.device=cpu", "loop.precision=fp32", "loop.compile_backend=eager",
                      "loop.data_parallel=fsdp2", "loop.compile=true", "loop.warmup_steps=1",
                      "activation_checkpointing=true"]  # fmt: skip
    return apply_overrides(PRESETS[preset](), overrides)


class Memory:
    """Peak and reserved bytes of the CUDA caching allocator; zeros on a CPU."""

    def __init__(self, device: torch.device) -> None:
        self.device, self.cuda = device, device.type == "cuda"

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize(self.device)

    def reset(self) -> None:
        if self.cuda:
            torch.cuda.reset_peak_memory_stats(self.device)

    def peak(self) -> int:
        return torch.cuda.max_memory_allocated(self.device) if self.cuda else 0

    def reserved(self) -> int:
        return torch.cuda.max_memory_reserved(self.device) if self.cuda else 0

    def total(self) -> int:
        return torch.cuda.get_device_properties(self.device).total_memory if self.cuda else 0

    def free(self) -> None:
        gc.collect()
        if self.cuda:
            torch.cuda.empty_cache()


def _local_bytes(t: torch.Tensor) -> int:
    local = t.to_local() if hasattr(t, "to_local") else t
    return local.numel() * local.element_size()


def state_bytes(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> int:
    """Bytes of this rank's weights, gradients and optimizer state, as allocated."""
    total = 0
    for p in model.parameters():
        total += _local_bytes(p)
        if p.grad is not None:
            total += _local_bytes(p.grad)
    for state in optimizer.state.values():
        total += sum(_local_bytes(v) for v in state.values() if isinstance(v, torch.Tensor))
    return total


def logged(path: Path) -> dict:
    out = {}
    for line in path.read_text().splitlines():
        if ":::MLLOG " in line:
            rec = json.loads(line.split(":::MLLOG ", 1)[1])
            out[rec["key"]] = rec["value"]
    return out


def measure(cfg, steps: int, device: torch.device, tmp: Path) -> Depth:
    from torch._dynamo.utils import counters

    from mlperf_submit.benchmarks.common.trainer import Trainer
    from mlperf_submit.benchmarks.llama31_8b.benchmark import Llama31_8BBenchmark
    from mlperf_submit.launch.distributed.parallel import unwrap
    from mlperf_submit.logging import MLPerfLogger

    layers, mem = cfg.model.n_layers, Memory(device)
    ctx = RunContext(seed=1, device=device, division="open", ruleset="6.1.0", preset="8b")
    log = tmp / f"layers{layers}.log"
    logger = MLPerfLogger("llama31_8b", "6.1.0", "open", str(log), check="off", echo=False)
    trainer = Trainer(Llama31_8BBenchmark(cfg, ctx), logger, out=io.StringIO())
    graphs_before = counters["stats"]["unique_graphs"]
    mem.reset()
    t = time.perf_counter()
    trainer.init()  # init_start, build (compile, FSDP2, optimizer), warm-up + restore
    mem.sync()
    init_s = time.perf_counter() - t
    peak_init = mem.peak()
    batch = trainer.bm.warmup_batch()  # random tokens of the real shape
    trainer.train_step(batch)  # the first step creates AdamW's moments (warm-up restored none)
    mem.sync()
    mem.reset()
    t = time.perf_counter()
    for _ in range(steps):
        trainer.train_step(batch)
    mem.sync()
    step_s = (time.perf_counter() - t) / steps
    depth = Depth(
        layers=layers,
        seq_len=cfg.data.seq_len,
        init_s=init_s,
        step_s=step_s,
        state_bytes=state_bytes(unwrap(trainer.model), trainer.optimizer),
        peak_steps=mem.peak(),
        peak_init=peak_init,
        reserved=mem.reserved(),
        in_effect=trainer.in_effect(),
        comm=logged(log).get("lowest_numerical_precision_in_comm", "not logged"),
        graphs=counters["stats"]["unique_graphs"] - graphs_before,
    )
    logger.close()
    del trainer, batch
    mem.free()
    return depth


def linear(a: Depth, b: Depth, value, layers: int) -> float:
    """``value`` fitted linearly in the depth through a and b, at ``layers``."""
    slope = (value(b) - value(a)) / (b.layers - a.layers)
    return value(a) + slope * (layers - a.layers)


def estimate_line(a: Depth, b: Depth, device: torch.device) -> str:
    full = CLOSED.model.n_layers
    state = linear(a, b, lambda d: d.state_bytes, full)
    rest_steps = linear(a, b, lambda d: d.peak_steps - d.state_bytes, full)
    rest_init = linear(a, b, lambda d: d.peak_init - d.state_bytes, full)
    steps_gb = (state / RANKS_8B + rest_steps) / GIB
    init_gb = (state / RANKS_8B + rest_init) / GIB
    total = Memory(device).total() / GIB
    step_s = linear(a, b, lambda d: d.step_s, full)
    tokens = LOCAL_BATCH * a.seq_len / step_s
    flops = tokens * training_flops_per_token(CLOSED.model, CLOSED.seq_len)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    peak = datasheet_bf16_peak(name)
    mfu = f", MFU {flops / peak:.2f} of the datasheet" if peak else ""
    return (
        f"RESULT memory-8b-{RANKS_8B}x: per GPU ~{steps_gb:.0f} GiB in training steps, "
        f"~{init_gb:.0f} GiB in warm-up (training state {state / GIB:.0f} GiB / {RANKS_8B} + "
        f"per-rank {rest_steps / GIB:.0f} GiB; fitted from {a.layers} and {b.layers} layers) "
        f"of {total:.0f} GiB; 8B step ~{step_s:.2f} s on one GPU = {tokens / 1e3:.1f}k "
        f"tokens/s{mfu} vs {LLAMA31_8B_PUBLISHED.describe()}"
    )


def depth_line(d: Depth) -> str:
    return (
        f"RESULT trainer-8b-width {d.layers} layers: init {d.init_s:.0f} s "
        f"({d.graphs} graphs compiled), step {d.step_s:.3f} s, peak {d.peak_steps / GIB:.1f} GiB "
        f"in steps / {d.peak_init / GIB:.1f} GiB in init (reserved {d.reserved / GIB:.1f}), "
        f"state {d.state_bytes / GIB:.1f} GiB; {d.in_effect}; logged comm {d.comm}"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--layers", default="2,4", help="two depths, comma separated")
    ap.add_argument("--steps", type=int, default=3, help="timed steps per depth")
    ap.add_argument("--preset", default="8b", choices=sorted(PRESETS), help="the model width")
    ap.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    ap.add_argument("--dry-run", action="store_true", help="check the arguments, run nothing")
    args = ap.parse_args(argv)
    try:
        layers = [int(x) for x in args.layers.split(",")]
    except ValueError:
        ap.error(f"--layers {args.layers!r}: give two depths, e.g. 2,4")
    if len(layers) != 2 or layers[0] < 1 or layers[1] <= layers[0]:
        ap.error(f"--layers {args.layers!r}: two increasing depths >= 1, e.g. 2,4")
    if args.steps < 1:
        ap.error("--steps must be >= 1")
    cfgs = [config(args.preset, n, args.device) for n in layers]  # validates the overrides
    if args.dry_run:
        loop = cfgs[0].loop
        print(
            f"ok: {args.preset} preset at {layers} layers, batch {LOCAL_BATCH} x "
            f"{cfgs[0].data.seq_len}, {loop.data_parallel}, {loop.precision}, "
            f"compile={loop.compile}, checkpointing={cfgs[0].activation_checkpointing}"
        )
        return 0
    if args.device == "cuda" and not torch.cuda.is_available():
        print("RESULT trainer-8b-width: skipped, no CUDA device")
        return 1
    try:
        import mlperf_logging  # noqa: F401
    except ImportError:
        print("RESULT trainer-8b-width: skipped, mlperf-logging is not installed (carry its wheel)")
        return 1
    import torch.distributed as tdist

    device = torch.device("cuda", 0) if args.device == "cuda" else torch.device("cpu")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    # A one-rank group: FSDP2 shards (trivially), gathers and reduce-scatters as on 8 ranks.
    tdist.init_process_group(
        "nccl" if device.type == "cuda" else "gloo",
        init_method=f"tcp://127.0.0.1:{_free_port()}",
        rank=0,
        world_size=1,
    )
    try:
        with tempfile.TemporaryDirectory() as tmp:
            measured = []
            for cfg in cfgs:
                measured.append(measure(cfg, args.steps, device, Path(tmp)))
                print(depth_line(measured[-1]), flush=True)
        print(estimate_line(*measured, device))
    finally:
        tdist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
