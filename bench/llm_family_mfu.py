"""Model FLOP utilisation (active parameters) of a few-layer slice of each large LLM benchmark
on one GPU: llama31_405b, gpt_oss_20b, deepseekv3_671b at their real width, sequence length,
vocabulary, attention and experts -- only fewer layers, so that one H200 holds the slice.

    python3 bench/llm_family_mfu.py --benchmark gpt_oss_20b --device cuda       # on a GPU
    python3 bench/llm_family_mfu.py --benchmark deepseekv3_671b --dry-run       # anywhere

A step is forward, next-token loss (+ the balancing losses), backward -- no optimizer: the
slices' AdamW state would not fit next to them, and model FLOPs do not count it anyway.
Weights are bf16 (``torch.set_default_dtype`` while building), the loss fp32.
MFU = ``flops.training_flops_per_token`` (6 x the *active* matmul weights: a token's routed
experts only, + causal / windowed attention) x tokens / step time, over the peak of a bf16
8192^3 matmul measured in the same process.

``--dry-run`` builds the slice on the meta device and prints its shape, parameters, FLOPs per
step and the memory it needs, then exits: what the device script shows before it spends GPU
time, and what ``tests/benchmarks/test_llm_family_bench.py`` checks.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from bench.flop_rate import fused_attention, peak_flops, sync  # noqa: E402
from mlperf_submit.benchmarks.families.decoder.flops import (  # noqa: E402
    matmul_params,
    training_flops_per_token,
)
from mlperf_submit.benchmarks.families.decoder.model import Decoder, next_token_loss  # noqa: E402
from mlperf_submit.benchmarks.families.decoder.moe_config import MoEConfig  # noqa: E402


def slice_config(benchmark: str, layers: int):
    """(the closed model with ``layers`` layers, sequence length, default batch)."""
    if benchmark == "llama31_405b":
        from mlperf_submit.benchmarks.llama31_405b.config import LLAMA31_405B as full

        seq, batch = 8192, 1
    elif benchmark == "gpt_oss_20b":
        from mlperf_submit.benchmarks.gpt_oss_20b.config import GPT_OSS_20B as full

        seq, batch = 8192, 2
    elif benchmark == "deepseekv3_671b":
        from mlperf_submit.benchmarks.deepseekv3_671b.config import DEEPSEEK_V3 as full

        seq, batch = 4096, 1
    else:
        raise SystemExit(f"unknown benchmark {benchmark!r}")
    cfg = replace(full, n_layers=layers)
    if isinstance(cfg.ffn, MoEConfig) and cfg.ffn.dense_layers:
        # Keep both kinds of layer in the slice: one dense, the rest MoE (DeepSeek-V3: 3 + 58).
        cfg = replace(cfg, ffn=replace(cfg.ffn, dense_layers=min(1, layers - 1)))
    return cfg, seq, batch


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--benchmark", required=True, nargs="+",
                    choices=["llama31_405b", "gpt_oss_20b", "deepseekv3_671b"],
                    help="one, or several with --dry-run")  # fmt: skip
    ap.add_argument("--layers", type=int, default=0, help="layers in the slice (default: per bm)")
    ap.add_argument("--batch", type=int, default=0)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args(argv)
    if len(args.benchmark) > 1 and not args.dry_run:
        ap.error("time one benchmark per call (several only with --dry-run)")
    for bm in args.benchmark:
        measure(bm, args)
    return 0


DEFAULT_LAYERS = {"llama31_405b": 2, "gpt_oss_20b": 4, "deepseekv3_671b": 2}


def measure(benchmark: str, args: argparse.Namespace) -> None:
    layers = args.layers or DEFAULT_LAYERS[benchmark]
    cfg, seq, batch = slice_config(benchmark, layers)
    batch = args.batch or batch
    cfg = replace(cfg, max_seq_len=seq)
    tokens = batch * seq
    flops = training_flops_per_token(cfg, seq) * tokens
    with torch.device("meta"):
        n_params = Decoder(cfg).num_params()
    print(f"{benchmark} slice: {layers} layers of d {cfg.dim}, {n_params / 1e9:.2f}B "
          f"parameters, {matmul_params(cfg) / 1e9:.2f}B active matmul weights, batch {batch} x "
          f"seq {seq}, {flops / 1e12:.1f} TFLOP/step; bf16 weights + grads "
          f"{4 * n_params / 2**30:.0f} GiB")  # fmt: skip
    if args.dry_run:
        print("dry run: nothing allocated")
        return
    device = torch.device(args.device)
    torch.manual_seed(0)
    torch.set_default_dtype(torch.bfloat16)
    with device:
        model = Decoder(cfg)
    torch.set_default_dtype(torch.float32)
    step_model = torch.compile(model) if args.compile else model
    x = torch.randint(0, cfg.vocab_size, (batch, seq + 1), device=device)
    ctx = fused_attention(device)

    def step() -> float:
        sync(device)
        t = time.perf_counter()
        with ctx:
            loss = next_token_loss(step_model(x[:, :-1]), x[:, 1:])
        aux = model.aux_loss()
        (loss if aux is None else loss + aux).backward()
        model.zero_grad(set_to_none=True)
        sync(device)
        return time.perf_counter() - t

    for _ in range(args.warmup):
        step()
    peak = peak_flops(8192 if device.type == "cuda" else 1024, torch.bfloat16, device)
    best = min(step() for _ in range(args.steps))
    achieved = flops / best
    mem = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else 0.0
    print(f"step {best:.3f} s: {achieved / 1e12:.1f} TFLOP/s of a {peak / 1e12:.1f} TFLOP/s bf16 "
          f"peak: MFU {achieved / peak:.3f} (active parameters); max memory {mem:.0f} GiB")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
