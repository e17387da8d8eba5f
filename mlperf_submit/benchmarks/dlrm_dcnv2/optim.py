"""The reference's learning-rate policy for DLRM (``lr_scheduler.LRPolicyScheduler``).

With ``c = s + 1`` (the reference reads torch's ``_step_count``, one ahead of the 0-based step
``s``), the LR of step ``s`` is::

    c <  warmup:                         base * c / warmup
    decay_start <= c < decay_start+decay: max(1e-7, base * ((decay - (c - decay_start)) / decay)^2)
    otherwise:                           the last value above if decay > 0, else base

The closed rules fix warmup, decay start and decay steps at 0: a constant LR.
"""

from __future__ import annotations

from torch.optim.lr_scheduler import LambdaLR

MIN_LR = 1e-7


class LRPolicy(LambdaLR):
    """Attributes are the values in effect (read back for the log)."""

    def __init__(self, optimizer, *, warmup_steps: int, decay_start_step: int, decay_steps: int):
        self.warmup_steps = warmup_steps
        self.decay_start_step = decay_start_step
        self.decay_steps = decay_steps
        self._last = 1.0
        super().__init__(optimizer, self.factor)

    def factor(self, step: int) -> float:
        c = step + 1
        if c < self.warmup_steps:
            self._last = 1.0 - (self.warmup_steps - c) / self.warmup_steps
            return self._last
        end = self.decay_start_step + self.decay_steps
        if self.decay_start_step <= c < end:
            left = (self.decay_steps - (c - self.decay_start_step)) / self.decay_steps
            base = self.base_lrs[0] if getattr(self, "base_lrs", None) else 1.0
            self._last = max(MIN_LR / base, left**2)
            return self._last
        return self._last if self.decay_steps > 0 else 1.0
