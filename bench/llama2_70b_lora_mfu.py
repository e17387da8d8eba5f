"""Throughput and model FLOP utilisation of a LoRA fine-tuning step (llama2_70b_lora).

    .venv/bin/python bench/llama2_70b_lora_mfu.py                 # small preset, CPU, fp32
    .venv/bin/python bench/llama2_70b_lora_mfu.py --threads 1
    python3 bench/llama2_70b_lora_mfu.py --device cuda --dtype bf16 --preset gpu_8layer --batch 1

The step is the benchmark's own: the Llama decoder with fused QKV, a frozen base (random here:
speed does not depend on the values) in the preset's base dtype, peft LoRA (r 16) on wqkv and
wo, the per-sequence loss, AdamW on the adapters with clipping and transformers' cosine
schedule, activation checkpointing as the preset says.

Reported: tokens/s of the training step and MFU = achieved model FLOP/s / peak FLOP/s, both
measured in this call and interleaved (rounds alternate them so another process's load hits
both; the best of each is kept):

* peak: a square matmul (``--peak-n``) in the step's dtype, best of a few;
* achieved: ``flops.lora_training_flops_per_token`` (4 x base weights + 6 x adapter weights +
  causal attention) x tokens per step / the best step time.

Measured results are in the README section of llama2_70b_lora.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from bench.flop_rate import DTYPES, TimedStep, interleaved_rounds  # noqa: E402
from mlperf_submit.benchmarks.llama2_70b_lora import model as lora_model  # noqa: E402
from mlperf_submit.benchmarks.llama2_70b_lora.benchmark import per_sequence_loss  # noqa: E402
from mlperf_submit.benchmarks.llama2_70b_lora.config import PRESETS  # noqa: E402
from mlperf_submit.benchmarks.llama2_70b_lora.flops import (  # noqa: E402
    adapter_matmul_params,
    lora_training_flops_per_token,
)
from mlperf_submit.benchmarks.llama2_70b_lora.optim import HFCosineLR, build_adamw  # noqa: E402


class Step(TimedStep):
    """One training step of the preset's LoRA model, as the benchmark builds it."""

    def __init__(self, preset: str, batch: int, device: torch.device, dtype: str, compile_: bool):
        cfg = PRESETS[preset]()
        self.cfg, self.seq = cfg, cfg.data.seq_len
        self.batch = batch or cfg.data.global_batch_size
        self.device, self.dtype = device, DTYPES[dtype]
        torch.manual_seed(0)
        model = lora_model.build(cfg, self.dtype, checkpoint_blocks=cfg.activation_checkpointing)
        lora_model.materialize(model, cfg, device, None)  # random base: speed only
        self.raw = model
        self.opt = build_adamw(model, cfg.optim, device, fused=True)
        self.sched = HFCosineLR(self.opt, max_steps=cfg.optim.max_steps)
        self.compiled = compile_
        self.model = torch.compile(model) if compile_ else model
        g = torch.Generator().manual_seed(1)
        ids = torch.randint(0, cfg.model.vocab_size, (self.batch, self.seq), generator=g)
        self.ids = ids.to(device)
        self.flops = lora_training_flops_per_token(model, self.seq) * self.batch * self.seq

    def loss(self) -> torch.Tensor:
        return per_sequence_loss(self.model, self.ids, self.ids)[0].mean()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", default="small", choices=sorted(PRESETS))
    ap.add_argument("--batch", type=int, default=0, help="sequences per step (default: preset)")
    ap.add_argument("--steps", type=int, default=3, help="timed steps per round")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--peak-n", type=int, default=4096)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="fp32", choices=sorted(DTYPES))
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    step = Step(args.preset, args.batch, device, args.dtype, args.compile)
    base = sum(p.numel() for p in step.raw.parameters() if not p.requires_grad)
    print(
        f"llama2_70b_lora {args.preset}: {base / 1e6:.1f}M frozen base parameters, "
        f"{adapter_matmul_params(step.raw) / 1e6:.2f}M adapter weights, batch {step.batch} x "
        f"seq {step.seq}, {step.flops / 1e9:.1f} GFLOP/step, {args.dtype} on {device} "
        f"({torch.get_num_threads()} threads)"
    )
    for _ in range(args.warmup):
        step()
    best_peak, best_step = interleaved_rounds(
        step, rounds=args.rounds, steps=args.steps, peak_n=args.peak_n
    )
    achieved = step.flops / best_step
    tokens = step.batch * step.seq / best_step
    print(
        f"tokens/s = {tokens:.1f}; MFU = {achieved / 1e9:.1f} / {best_peak / 1e9:.1f} GFLOP/s "
        f"= {achieved / best_peak:.3f}"
    )
    if device.type == "cuda":
        print(f"peak memory {torch.cuda.max_memory_allocated(device) / 2**30:.1f} GiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
