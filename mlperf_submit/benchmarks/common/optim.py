"""Optimizers: apex's fused kernels when apex imports (NGC containers, GPU), torch otherwise.

apex cannot be installed on the CPU machines (nothing on PyPI works for Python 3.11 without
CUDA), so every factory falls back to the torch implementation with the same hyperparameters;
:func:`implementation` says which one is in effect.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch


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
