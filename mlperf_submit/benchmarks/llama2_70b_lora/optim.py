"""AdamW on the adapters and the LR schedule of the reference (transformers' "cosine").

The reference's ``transformers.Trainer`` builds ``get_cosine_schedule_with_warmup(opt,
num_warmup_steps=ceil(warmup_ratio * max_steps), num_training_steps=max_steps)``; the factor on
the base LR at step s (0-based, one scheduler step per optimizer step) is::

    s <  W:   s / max(1, W)                                   (starts at 0, not at 1/W)
    s >= W:   max(0, (1 + cos(pi * 2 * num_cycles * p)) / 2),  p = (s - W) / max(1, T - W)
    with W = ceil(warmup_ratio * T), T = max_steps, num_cycles = 0.5

It differs from ``common.optim.WarmupCosineLR`` during warm-up ((s + 1) / W there) and has no
end LR (it reaches 0 at T), so it is written out here; ``tests/benchmarks/llama2_70b_lora``
checks it against transformers' own function. The reference logs ``warmup_ratio`` as
``opt_learning_rate_warmup_factor`` and ``max_steps`` as ``opt_learning_rate_training_steps``;
both are read back from this object.

The optimizer holds only what requires a gradient (the adapters): one group, weight decay on
every adapter matrix, as transformers' Trainer (it exempts biases and norms, and LoRA has
neither).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR

from mlperf_submit.benchmarks.common import optim as common_optim
from mlperf_submit.errors import UsageError


class HFCosineLR(LambdaLR):
    """transformers' cosine schedule with linear warm-up; attributes are what it uses."""

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        *,
        max_steps: int,
        warmup_ratio: float = 0.0,
        num_cycles: float = 0.5,
    ) -> None:
        self.max_steps = max_steps
        self.warmup_ratio = warmup_ratio
        self.warmup_steps = math.ceil(warmup_ratio * max_steps)
        self.num_cycles = num_cycles
        super().__init__(optimizer, self.factor)

    def factor(self, step: int) -> float:
        if step < self.warmup_steps:
            return step / max(1, self.warmup_steps)
        progress = (step - self.warmup_steps) / max(1, self.max_steps - self.warmup_steps)
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * self.num_cycles * 2.0 * progress)))


def build_adamw(model: nn.Module, o, device: torch.device, fused: bool) -> torch.optim.Optimizer:
    """AdamW over the trainable parameters of ``model`` (the adapters), clipped at o.grad_clip."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise UsageError("the model has no trainable parameter: no adapter was injected")
    return common_optim.clipped_adamw(
        [{"params": params, "weight_decay": o.weight_decay}], o, device=device, fused=fused
    )
