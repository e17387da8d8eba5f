"""AdamW with global-norm gradient clipping and the "cosine with linear warmup" LR schedule.

    opt = build_adamw(model, cfg.optim, device)          # group 0 decays, group 1 (norms) not
    sched = WarmupCosineLR(opt, warmup_steps=512, max_steps=1_200_000, end_lr=1e-4)

The LR at step s (0-based, one scheduler step per optimizer step)::

    s <  warmup:               base_lr * (s + 1) / warmup
    warmup <= s <= max_steps:  end_lr + (base_lr - end_lr) * (1 + cos(pi * (s - warmup) / decay)) / 2
    s >  max_steps:            end_lr
    with decay = max_steps - warmup   (logged as opt_learning_rate_decay_steps)

Clipping runs as an optimizer step pre-hook, so it sees the gradients after DDP's all-reduce
(or FSDP2's reduce-scatter: ``clip_grad_norm_`` then reduces the norm of the shards) and, under
an fp16 grad scaler, after unscaling. The threshold lives in each param group as
``max_grad_norm``, so the logged ``opt_gradient_clip_norm`` is the value the hook uses.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR

from mlperf_submit.benchmarks.common import optim as common_optim


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Matrices decay; RMSNorm gains (1-D) do not, as in Megatron/NeMo."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.dim() >= 2 else no_decay).append(p)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def add_grad_clipping(optimizer: torch.optim.Optimizer, max_norm: float) -> None:
    """Clip the L2 norm of all gradients of ``optimizer`` to ``max_norm`` before each step."""
    for group in optimizer.param_groups:
        group["max_grad_norm"] = max_norm

    def clip(opt, args, kwargs):
        norm = opt.param_groups[0]["max_grad_norm"]
        if norm > 0:
            params = [p for g in opt.param_groups for p in g["params"] if p.grad is not None]
            torch.nn.utils.clip_grad_norm_(params, norm)
        return None

    optimizer.register_step_pre_hook(clip)


def build_adamw(model: nn.Module, o, device: torch.device, fused: bool) -> torch.optim.Optimizer:
    opt = common_optim.adamw(
        param_groups(model, o.weight_decay),
        lr=o.base_lr,
        betas=(o.beta1, o.beta2),
        eps=o.eps,
        weight_decay=o.weight_decay,
        fused=fused,
        device=device,
    )
    add_grad_clipping(opt, o.grad_clip)
    return opt


class WarmupCosineLR(LambdaLR):
    """Linear warm-up, then cosine to ``end_lr`` at ``max_steps``; attributes are what it uses."""

    def __init__(
        self, optimizer: torch.optim.Optimizer, *, warmup_steps: int, max_steps: int, end_lr: float
    ) -> None:
        self.warmup_steps = warmup_steps
        self.max_steps = max_steps
        self.decay_steps = max_steps - warmup_steps
        self.end_lr = end_lr
        base = optimizer.param_groups[0]["lr"]
        self.end_ratio = end_lr / base
        super().__init__(optimizer, self.factor)

    def factor(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        if step > self.max_steps:
            return self.end_ratio
        progress = (step - self.warmup_steps) / self.decay_steps
        return self.end_ratio + (1 - self.end_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
