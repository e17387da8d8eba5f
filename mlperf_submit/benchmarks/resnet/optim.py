"""LARS and SGD for ResNet-50, with the MLPerf learning-rate schedule (linear warm-up, then
polynomial decay to an end LR), as the closed rules of resnet fix them.

LARS (You et al. 2017, as in the MLPerf reference): for each weight tensor (conv and fc
weights) the step is scaled by a trust ratio ``eta * ||w|| / (||g|| + wd * ||w|| + eps)``;
batch-norm parameters and biases get plain momentum SGD without weight decay (the reference's
"skip list"). Closed division: ``epsilon = 0``, poly power 2, end LR 1e-4.

    opt = LARS(param_groups(model, weight_decay=5e-5), lr=11.0, momentum=0.9, eta=0.001)
    sched = PolyWarmupLR(opt, steps_per_epoch=390, warmup_epochs=2, decay_epochs=37,
                         end_lr=1e-4, power=2)
"""

from __future__ import annotations

import torch
from torch import nn
from torch.optim.lr_scheduler import LRScheduler


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Two groups: weights (LARS-scaled, decayed) and BN/bias parameters (neither)."""
    decay, skip = [], []
    for _, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (skip if p.ndim <= 1 else decay).append(p)
    return [
        {"params": decay, "weight_decay": weight_decay, "lars": True},
        {"params": skip, "weight_decay": 0.0, "lars": False},
    ]


class LARS(torch.optim.Optimizer):
    """Layer-wise adaptive rate scaling on top of heavy-ball momentum (MLPerf reference form)."""

    def __init__(
        self,
        params,
        lr: float,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        eta: float = 0.001,
        epsilon: float = 0.0,
    ) -> None:
        if lr < 0 or momentum < 0 or weight_decay < 0 or eta <= 0 or epsilon < 0:
            raise ValueError("LARS: lr, momentum, weight_decay, epsilon >= 0 and eta > 0")
        defaults = dict(
            lr=lr, momentum=momentum, weight_decay=weight_decay, eta=eta, epsilon=epsilon, lars=True
        )
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        """One step for all tensors of a group at once (``torch._foreach_*``): ResNet-50 has
        161 parameter tensors, and a per-tensor Python loop would launch ~1,000 small kernels
        per step. Element for element the same arithmetic as the per-tensor form (the test
        compares them bit for bit)."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            grads = [p.grad for p in params]
            wd, lr, mom = group["weight_decay"], group["lr"], group["momentum"]
            bufs = []
            for p in params:
                state = self.state[p]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = torch.zeros_like(p)
                bufs.append(state["momentum_buffer"])
            if group["lars"]:  # norms of the raw gradients, before weight decay is added
                w_n = torch.stack(torch._foreach_norm(params))
                g_n = torch.stack(torch._foreach_norm(grads))
                denom = g_n + wd * w_n + group["epsilon"]
                # A zero norm (e.g. a zero-initialised layer) falls back to the plain LR.
                trust = torch.where(
                    (w_n > 0) & (denom > 0), group["eta"] * w_n / denom, torch.ones_like(w_n)
                )
            if wd:
                grads = torch._foreach_add(grads, params, alpha=wd)
            torch._foreach_mul_(bufs, mom)
            if group["lars"]:
                # per-tensor 0-dim factors: no host sync, one kernel per list op
                torch._foreach_add_(bufs, torch._foreach_mul(grads, list((trust * lr).unbind(0))))
            else:
                torch._foreach_add_(bufs, grads, alpha=lr)
            torch._foreach_sub_(params, bufs)
        return loss


class PolyWarmupLR(LRScheduler):
    """Linear warm-up from 0 over ``warmup_epochs``, then ``(base - end) * (1 - t)^power + end``
    where ``t`` runs from 0 to 1 over the decay (``decay_epochs`` from the start of training,
    warm-up included, as the MLPerf references count it); stepped once per optimizer step."""

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        *,
        steps_per_epoch: int,
        warmup_epochs: float,
        decay_epochs: float,
        end_lr: float,
        power: float,
        last_epoch: int = -1,
    ) -> None:
        if steps_per_epoch < 1:
            raise ValueError("steps_per_epoch must be >= 1")
        self.steps_per_epoch = steps_per_epoch
        self.warmup_epochs = warmup_epochs
        self.decay_epochs = decay_epochs
        self.end_lr = end_lr
        self.power = power
        self.warmup_steps = round(warmup_epochs * steps_per_epoch)
        self.decay_steps = max(round(decay_epochs * steps_per_epoch), self.warmup_steps + 1)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, step: int, base: float) -> float:
        if step < self.warmup_steps:
            return base * (step + 1) / self.warmup_steps
        t = min(1.0, (step - self.warmup_steps) / (self.decay_steps - self.warmup_steps))
        return (base - self.end_lr) * (1.0 - t) ** self.power + self.end_lr

    def get_lr(self) -> list[float]:
        return [self.lr_at(self.last_epoch, base) for base in self.base_lrs]
