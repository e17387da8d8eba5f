"""The base model of a synthetic run: a small decoder *pretrained* on the synthetic language and
written as a Hugging Face checkpoint directory, so that ``--synthetic`` fine-tunes a real
checkpoint through the same loader as the 70B one.

Pretraining is part of data generation (``prepare_synthetic``, before init_start), never of the
run. The decoder has the run's shape; it learns both chains of ``synthetic.SyntheticTask`` and to
follow the latest tag, but never sees the SUMMARY marker -- that is what the fine-tuning
teaches. The directory has the layout of ``Llama2-70b-fused-qkv-mlperf``::

    config.json                       architecture, torch_dtype bfloat16
    model.safetensors.index.json      weight_map
    model-0000k-of-0000n.safetensors  bf16 tensors, q/k/v fused into self_attn.qkv_proj.weight

Deterministic for a spec: one thread, the spec's seed.
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass

from mlperf_submit.benchmarks.common.synthetic_data import SyntheticData
from mlperf_submit.benchmarks.families.decoder.config import DecoderConfig
from mlperf_submit.benchmarks.llama2_70b_lora.synthetic import SyntheticTask
from mlperf_submit.errors import UsageError

MAX_SYNTHETIC_PARAMS = 500_000_000
"""Pretraining runs on this machine during data generation: refuse shapes it cannot pretrain."""


@dataclass(frozen=True)
class BaseModelSpec:
    task: SyntheticTask
    model: DecoderConfig
    seq_len: int
    steps: int
    batch: int = 16
    lr: float = 1e-2
    warmup: int = 20
    seed: int = 7
    max_shard_bytes: int = 64 * 1024
    """Small shards, so even the tiny base is a multi-file checkpoint with an index."""


def pretrain(spec: BaseModelSpec):
    """The decoder after ``spec.steps`` AdamW steps of next-token loss on pretraining text;
    returns (model, last losses)."""
    import torch
    import torch.nn.functional as F

    from mlperf_submit.benchmarks.families.decoder.model import Decoder

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(spec.seed)
        model = Decoder(spec.model)
        seq = spec.seq_len
        stream = spec.task.pretraining_stream(spec.steps * spec.batch * (seq + 1) // 2 + 4 * seq,
                                              spec.seed)  # fmt: skip
        windows = torch.from_numpy(stream[: (len(stream) - 1) // seq * seq + 1])
        n_windows = (len(windows) - 1) // seq
        opt = torch.optim.AdamW(model.parameters(), lr=spec.lr, betas=(0.9, 0.95))
        gen = torch.Generator().manual_seed(spec.seed)
        losses = []
        for step in range(spec.steps):
            warm = min(1.0, (step + 1) / spec.warmup)
            cosine = 0.5 * (1 + math.cos(math.pi * step / spec.steps))
            for group in opt.param_groups:
                group["lr"] = spec.lr * warm * cosine
            starts = torch.randint(0, n_windows, (spec.batch,), generator=gen) * seq
            rows = torch.stack([windows[s : s + seq + 1] for s in starts.tolist()])
            logits = model(rows[:, :-1])
            loss = F.cross_entropy(logits.flatten(0, 1), rows[:, 1:].flatten())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            losses.append(loss.item())
        return model.eval(), losses
    finally:
        torch.set_num_threads(threads)


def write_base(out_dir: str | os.PathLike, spec: BaseModelSpec) -> dict:
    """Pretrain, then write the fused-QKV bf16 checkpoint into ``out_dir``."""
    import torch

    from mlperf_submit.benchmarks.families.decoder.hf_names import export_llama, hf_llama_config
    from mlperf_submit.benchmarks.families.hf_checkpoint import save_checkpoint

    model, losses = pretrain(spec)
    tensors = export_llama(model, spec.model, fused_qkv=True, dtype=torch.bfloat16)
    save_checkpoint(
        out_dir, tensors, hf_llama_config(spec.model, "bfloat16"),
        max_shard_bytes=spec.max_shard_bytes,
    )  # fmt: skip
    tail = losses[-10:]
    return {
        "pretrain_steps": spec.steps,
        "pretrain_final_loss": sum(tail) / len(tail),
        "parameters": sum(p.numel() for p in model.parameters()),
        "layout": "Hugging Face Llama, fused self_attn.qkv_proj (q, k, v rows), bfloat16",
    }


def base_checkpoint(root: str | os.PathLike, benchmark: str, spec: BaseModelSpec) -> SyntheticData:
    """The pretrained base of ``spec`` under a ``--synthetic`` root, in its own directory
    (``<benchmark>-base-synthetic-<digest>``): the model is not part of the dataset, and the
    run reads it during init, before the dataset may be touched."""
    from mlperf_submit.benchmarks.families.decoder.flops import matmul_params

    if matmul_params(spec.model) > MAX_SYNTHETIC_PARAMS:
        raise UsageError(
            "--synthetic pretrains the base model on this machine, which this model shape "
            f"(about {matmul_params(spec.model) / 1e9:.1f}B weights) is too large for: use "
            "--data with checkpoint=<the real base model>, or a small preset (tiny, small)"
        )
    return SyntheticData(
        root,
        f"{benchmark}-base",
        spec,
        writer=functools.partial(write_base, spec=spec),
        generator=__name__,
    )
