"""The fine-tuned model: the family's Llama decoder (fused QKV), a frozen base loaded from a
Hugging Face checkpoint, and LoRA adapters injected by ``peft``.

peft wraps ``nn.Linear`` modules by name (``LoraConfig(target_modules=["wqkv", "wo"])`` +
``inject_adapter_in_model``): each target becomes a ``peft.tuners.lora.Linear`` whose
``base_layer`` is our Linear and whose ``lora_A`` / ``lora_B`` hold the adapter, with the
reference's init (A Kaiming-uniform, B zero: the adapted model starts as the base model) and
peft's own forward (``base(x) + B(A(dropout(x))) * alpha / r``). peft also freezes everything
but the adapters. Nothing here re-implements LoRA.

The model is built on the meta device and materialised once, straight into its final storage::

    model = build(cfg, base_dtype)                  # meta: decoder + adapters, no memory
    # (FSDP2: the Trainer shards it here, so each rank allocates only its own rows)
    report = materialize(model, cfg, device, ckpt)  # allocate, read the checkpoint shard by
                                                    # shard into the (local) rows, init adapters

so a 70B base is never whole on one rank, and no time is spent on a random init that the
checkpoint would overwrite. The base weights are stored in ``base_dtype`` (bf16 on a GPU, as
the reference loads them), the adapters in fp32 (the optimizer's master weights; DeepSpeed
keeps fp32 masters in the reference).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn

from mlperf_submit.benchmarks.families.decoder.hf_names import FUSED_QKV, llama_sources
from mlperf_submit.benchmarks.families.decoder.model import Decoder
from mlperf_submit.benchmarks.families.decoder.rope import rope_cos_sin
from mlperf_submit.benchmarks.families.hf_checkpoint import (
    LoadReport,
    load_checkpoint,
    local_region,
    read_index,
)
from mlperf_submit.errors import UsageError

ADAPTER = "default"
"""peft's adapter name (one adapter per run)."""


def lora_config(settings):
    """The peft ``LoraConfig`` of the reference (bias none, the given r / alpha / dropout)."""
    from peft import LoraConfig

    return LoraConfig(
        r=settings.rank,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=list(settings.target_modules),
        bias="none",
    )


def build(cfg, base_dtype: torch.dtype, *, checkpoint_blocks: bool = False) -> nn.Module:
    """Decoder + adapters on the meta device: base parameters frozen in ``base_dtype``,
    adapters trainable in fp32."""
    from peft import inject_adapter_in_model

    with torch.device("meta"):
        model = Decoder(cfg.model, checkpoint_blocks=checkpoint_blocks)
        linears = sorted({n.rsplit(".", 1)[-1] for n, m in model.named_modules()
                          if isinstance(m, nn.Linear)})  # fmt: skip
        unknown = [t for t in cfg.lora.target_modules if t not in linears]
        if unknown:
            raise UsageError(
                f"lora.target_modules={','.join(cfg.lora.target_modules)}: no Linear module named "
                f"{', '.join(unknown)} in the model (it has: {', '.join(linears)}; the reference's "
                "qkv_proj,o_proj are wqkv,wo here)"
            )
        # low_cpu_mem_usage: peft creates the adapters on meta too (else it allocates and
        # initialises 178 MB of 70B adapters on the CPU only to move them to meta)
        model = inject_adapter_in_model(
            lora_config(cfg.lora), model, adapter_name=ADAPTER, low_cpu_mem_usage=True
        )
    for p in model.parameters():
        p.data = torch.empty_like(p, dtype=torch.float32 if p.requires_grad else base_dtype)
    return model


def adapter_layers(model: nn.Module) -> list[nn.Module]:
    """The peft LoRA layers of ``model``, in module order."""
    from peft.tuners.lora import LoraLayer

    return [m for m in model.modules() if isinstance(m, LoraLayer)]


def lora_values(layers: list[nn.Module]) -> dict[str, float]:
    """r, alpha and dropout as the adapter layers hold them (the same in every layer)."""
    seen = {
        (m.r[ADAPTER], m.lora_alpha[ADAPTER], float(getattr(m.lora_dropout[ADAPTER], "p", 0.0)))
        for m in layers
    }
    if len(seen) != 1:
        raise UsageError(f"the adapters disagree on (r, alpha, dropout): {sorted(seen)}")
    r, alpha, dropout = seen.pop()
    return {"rank": r, "alpha": alpha, "dropout": dropout}


def checkpoint_is_fused(directory: str | Path) -> bool:
    """Whether the checkpoint holds fused ``qkv_proj`` tensors (the MLPerf 70B one does)."""
    return f"model.layers.0.{FUSED_QKV}" in read_index(directory).weight_map


def base_sources(model: nn.Module, cfg, fused_checkpoint: bool) -> dict:
    """The checkpoint name map under the names the adapted model has: peft moves a wrapped
    Linear's weight to ``<module>.base_layer.weight``."""
    params = dict(model.named_parameters())
    out = {}
    for name, src in llama_sources(cfg.model, fused_qkv=fused_checkpoint).items():
        if name not in params:
            module, _, leaf = name.rpartition(".")
            name = f"{module}.base_layer.{leaf}"
        out[name] = src
    return out


@torch.no_grad()
def materialize(
    model: nn.Module, cfg, device: torch.device, checkpoint: str | Path | None
) -> LoadReport | None:
    """Allocate ``model`` on ``device`` (each rank its own rows under FSDP2), fill the base from
    the checkpoint, initialise the adapters (:func:`init_adapters`).

    ``checkpoint=None`` (a benchmark built without data, in tests of the loop): the base is drawn
    from the torch RNG instead, as the decoder initialises itself."""
    model.to_empty(device=device)
    # Non-persistent buffers are not in any checkpoint: recompute the RoPE tables.
    m = cfg.model
    cos, sin = rope_cos_sin(m.rotary_dim, m.max_seq_len, m.rope_theta, m.rope_scaling)
    model.rope_cos.copy_(cos)
    model.rope_sin.copy_(sin)
    report = None
    if checkpoint is None:
        for p in model.parameters():
            if p.requires_grad:
                continue
            if p.dim() == 1:
                p.fill_(1.0)  # norm gains
            else:
                p.normal_(0.0, m.init_std)
    else:
        report = load_checkpoint(
            model, checkpoint, base_sources(model, cfg, checkpoint_is_fused(checkpoint))
        )
        base = {n for n, p in model.named_parameters() if not p.requires_grad}
        missing = sorted(base - set(report.loaded))
        if missing:  # a parameter left as uninitialised memory would train on garbage
            raise UsageError(
                f"the checkpoint name map leaves base parameters unfilled: {missing[:5]}"
            )
    init_adapters(adapter_layers(model))
    return report


@torch.no_grad()
def init_adapters(layers: list[nn.Module]) -> None:
    """peft's LoRA init (``reset_lora_parameters(init_lora_weights=True)``: A as nn.Linear's
    default, Kaiming-uniform with a = sqrt(5); B zero), drawn for the *whole* A on the CPU from
    the torch RNG, then each rank keeps its rows: the same adapters whether or not FSDP2 shards
    them (peft's own init on a DTensor draws a different stream per shard)."""
    for layer in layers:
        a = layer.lora_A[ADAPTER].weight
        full = torch.empty(a.shape, dtype=torch.float32)
        nn.init.kaiming_uniform_(full, a=math.sqrt(5))
        offset, shape, local = local_region(a)
        rows = tuple(slice(o, o + n) for o, n in zip(offset, shape))
        local.copy_(full[rows])
        local_region(layer.lora_B[ADAPTER].weight)[2].zero_()
