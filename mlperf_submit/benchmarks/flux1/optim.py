"""AdamW and the reference's schedule: a linear warm-up, then a constant learning rate.

torchtitan's ``linear_warmup_stable_decay`` with ``decay_ratio = 0`` (the flux1 reference's
``[lr_scheduler]``): the LR of step s (0-based, one scheduler step per optimizer step) is
``base_lr * (s + 1) / warmup_steps`` while s < warmup_steps, then ``base_lr``. One parameter
group: torchtitan's AdamW decays every parameter (weight decay 0.1), norms and biases included.
Gradient clipping is ``common/optim.add_grad_clipping`` (a step pre-hook; the logged clip
norm is the one the hook reads).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR

from mlperf_submit.benchmarks.common import optim as common_optim

SCHEDULE = "linear warmup then constant"


class WarmupConstantLR(LambdaLR):
    """Linear warm-up over ``warmup_steps`` steps, then the base LR; ``warmup_steps`` is what
    the schedule uses (the logged ``opt_learning_rate_warmup_steps``)."""

    def __init__(self, optimizer: torch.optim.Optimizer, *, warmup_steps: int) -> None:
        self.warmup_steps = warmup_steps
        super().__init__(optimizer, self.factor)

    def factor(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        return 1.0


def build_adamw(model: nn.Module, o, device: torch.device, fused: bool) -> torch.optim.Optimizer:
    """AdamW over the trained parameters (frozen ones, if any, are left out), clipping added."""
    params = [p for p in model.parameters() if p.requires_grad]
    return common_optim.clipped_adamw(params, o, device=device, fused=fused)
