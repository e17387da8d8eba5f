"""AdamW for the LLM pretraining benchmarks: matrices decay, norm gains and biases do not.

    opt = build_adamw(model, cfg.optim, device, fused=True)   # group 0 decays, group 1 not
    sched = WarmupCosineLR(opt, warmup_steps=512, max_steps=1_200_000, end_lr=1e-4)

``WarmupCosineLR`` and ``add_grad_clipping`` live in ``common/optim.py`` (any benchmark may use
them); their docstrings give the schedule's formula and why clipping is a step pre-hook.
"""

from __future__ import annotations

import torch
from torch import nn

from mlperf_submit.benchmarks.common import optim as common_optim


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Matrices decay; RMSNorm gains and biases (1-D) do not, as in Megatron/NeMo. Frozen
    parameters (a fine-tuned base model) are left out."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.dim() >= 2 else no_decay).append(p)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def build_adamw(model: nn.Module, o, device: torch.device, fused: bool) -> torch.optim.Optimizer:
    return common_optim.clipped_adamw(
        param_groups(model, o.weight_decay), o, device=device, fused=fused
    )
