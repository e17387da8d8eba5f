"""Optimizers, LR schedules and clipping that more than one benchmark uses.

Factories: apex's fused kernels when apex imports (NGC containers, GPU), torch otherwise. apex
cannot be installed on the CPU machines (nothing on PyPI works for Python 3.11 without CUDA),
so every factory falls back to the torch implementation with the same hyperparameters;
:func:`implementation` says which one is in effect.

``WarmupCosineLR`` ("cosine with linear warmup"), the LR at step s (0-based, one scheduler step
per optimizer step)::

    s <  warmup:               base_lr * (s + 1) / warmup
    warmup <= s <= max_steps:  end_lr + (base_lr - end_lr) * (1 + cos(pi * (s - warmup) / decay)) / 2
    s >  max_steps:            end_lr
    with decay = max_steps - warmup   (logged as opt_learning_rate_decay_steps)

``add_grad_clipping``: clipping runs as an optimizer step pre-hook, so it sees the gradients
after DDP's all-reduce (or FSDP2's reduce-scatter: ``clip_grad_norm_`` then reduces the norm of
the shards) and, under an fp16 grad scaler, after unscaling. The threshold lives in each param
group as ``max_grad_norm``, so the logged ``opt_gradient_clip_norm`` is the value the hook uses.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch.optim.lr_scheduler import LambdaLR


def _apex_optimizers():
    try:
        from apex import optimizers  # type: ignore[import-not-found]
    except Exception:  # ImportError, or a CUDA-less apex build failing at import
        return None
    return optimizers


def sgd(
    params: Iterable,
    *,
    lr: float,
    momentum: float,
    weight_decay: float,
    nesterov: bool = False,
    fused: bool = True,
    device: torch.device | None = None,
) -> torch.optim.Optimizer:
    apex = _apex_optimizers() if fused and device is not None and device.type == "cuda" else None
    if apex is not None and hasattr(apex, "FusedSGD"):
        return apex.FusedSGD(
            params, lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov
        )
    return torch.optim.SGD(
        params, lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov
    )


def adamw(
    params: Iterable,
    *,
    lr: float,
    betas: tuple[float, float],
    eps: float,
    weight_decay: float,
    fused: bool = True,
    device: torch.device | None = None,
) -> torch.optim.Optimizer:
    on_gpu = device is not None and device.type == "cuda"
    apex = _apex_optimizers() if fused and on_gpu else None
    if apex is not None and hasattr(apex, "FusedAdam"):
        return apex.FusedAdam(
            params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, adam_w_mode=True
        )
    return torch.optim.AdamW(
        params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, fused=fused and on_gpu
    )


def implementation(optimizer: torch.optim.Optimizer) -> str:
    """'apex.FusedSGD', 'torch.optim.SGD', ... (printed at start-up, not an MLPerf key)."""
    cls = type(optimizer)
    return f"{cls.__module__.split('.')[0]}.{cls.__name__}"


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
