"""Optimizers, LR schedules and clipping that more than one benchmark uses.

Factories choose the implementation from the device and the parameters' type
(:func:`choose`): apex's fused kernels when apex imports (NGC containers, GPU) and the
parameters are plain tensors; torch's own otherwise -- ``AdamW(fused=True)`` on a GPU, which
also steps FSDP2's DTensor shards (apex hands ``p.data`` to its CUDA kernel, which cannot read
a DTensor: the 8B FSDP2 preset would fail at its first step). apex cannot be installed on the
CPU machines (nothing on PyPI works for Python 3.11 without CUDA); every factory takes the same
hyperparameters either way, and :func:`implementation` reads back the one in effect.

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
import sys
from collections.abc import Iterable

import torch
from torch.optim.lr_scheduler import LambdaLR


def _apex_optimizers():
    try:
        from apex import optimizers  # type: ignore[import-not-found]
    except Exception:  # ImportError, or a CUDA-less apex build failing at import
        return None
    return optimizers


def _tensors(params: Iterable) -> list[torch.Tensor]:
    """The tensors of a parameter list or of param groups (dicts with "params")."""
    out: list[torch.Tensor] = []
    for item in params:
        if isinstance(item, dict):
            out.extend(item["params"])
        else:
            out.append(item)
    return out


def _is_dtensor(t: torch.Tensor) -> bool:
    # DTensor's module is only loaded once something made one: look, don't import.
    api = sys.modules.get("torch.distributed.tensor")
    return api is not None and isinstance(t, api.DTensor)


def choose(params: Iterable, *, fused: bool, device: torch.device | None, apex: bool) -> str:
    """Which implementation a factory builds: "apex" (fused, GPU, plain tensors), "torch-fused"
    (torch's fused kernels: a GPU, and apex absent or the parameters DTensors) or "torch".
    ``apex`` says whether apex's optimizers import here."""
    on_gpu = device is not None and device.type == "cuda"
    if not (fused and on_gpu):
        return "torch"
    if apex and not any(_is_dtensor(t) for t in _tensors(params)):
        return "apex"
    return "torch-fused"


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
    params = list(params)
    apex = _apex_optimizers() if fused and device is not None and device.type == "cuda" else None
    has_apex = apex is not None and hasattr(apex, "FusedSGD")
    if choose(params, fused=fused, device=device, apex=has_apex) == "apex":
        return apex.FusedSGD(
            params, lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov
        )
    # torch's default (foreach) SGD: one multi-tensor kernel per step already.
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
    params = list(params)
    apex = _apex_optimizers() if fused and device is not None and device.type == "cuda" else None
    has_apex = apex is not None and hasattr(apex, "FusedAdam")
    kind = choose(params, fused=fused, device=device, apex=has_apex)
    if kind == "apex":
        return apex.FusedAdam(
            params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, adam_w_mode=True
        )
    return torch.optim.AdamW(
        params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, fused=kind == "torch-fused"
    )


def implementation(optimizer: torch.optim.Optimizer) -> str:
    """'apex.FusedAdam', 'torch.AdamW(fused)', 'torch.SGD', ... read back from the optimizer in
    effect (printed at start-up, not an MLPerf key)."""
    cls = type(optimizer)
    name = f"{cls.__module__.split('.')[0]}.{cls.__name__}"
    return f"{name}(fused)" if optimizer.defaults.get("fused") else name


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


def clipped_adamw(
    params: Iterable, o, *, device: torch.device, fused: bool
) -> torch.optim.Optimizer:
    """AdamW from an optimizer config ``o`` (base_lr, beta1, beta2, eps, weight_decay,
    grad_clip), with gradient clipping at ``o.grad_clip``: what every AdamW benchmark builds."""
    opt = adamw(
        params,
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
