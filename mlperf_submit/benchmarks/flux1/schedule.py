"""When flux1 evaluates, as the run's round defines ``evaluation_frequency`` (read from the
installed ``closed_flux1.yaml`` of the round, never copied):

* 6.0.0 checks ``evaluation_frequency == 262144``: an evaluation every 262,144 training samples,
  i.e. at the first step boundary at or after each multiple of 262,144
  (``ceil(k * 262144 / GBS) * GBS``); the logged value is 262,144.
* 6.1.0 computes ``eval_interval_samples = ceil(262144 / GBS) * GBS`` from the logged global
  batch size and checks ``evaluation_frequency`` against it: an evaluation every
  ``ceil(262144 / GBS)`` steps (the reference's ``eval_freq_steps``), logged as that interval.

With a global batch that divides 262,144 (every RCP's: 512 ... 4096) the two are the same
steps; they part only for other batch sizes (GBS 2304: 6.0.0 evaluates after 114, 228, 342,
456, 569 ... steps, 6.1.0 after every 114). ``data.eval_every`` is the 262,144 (an open or tiny
configuration may change it).
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass

import yaml

from mlperf_submit.compliance.rulefiles import checker_dir

FIXED, ROUNDED = "fixed", "rounded"


@functools.cache
def interval_rule(ruleset: str) -> str:
    """ROUNDED when the round's closed rules derive the interval from the global batch size,
    FIXED when they check a constant number of samples (or say nothing about it)."""
    path = os.path.join(checker_dir(), f"training_{ruleset}", "closed_flux1.yaml")
    try:
        with open(path, encoding="utf-8") as f:
            records = yaml.load(f, Loader=getattr(yaml, "CBaseLoader", yaml.BaseLoader)) or []
    except OSError:
        return FIXED
    for item in records:
        key = item.get("KEY", {}) if isinstance(item, dict) else {}
        if key.get("NAME") == "evaluation_frequency":
            return ROUNDED if "eval_interval_samples" in str(key.get("CHECK", "")) else FIXED
    return FIXED


@dataclass(frozen=True)
class EvalSchedule:
    """The evaluation points of a run (in training samples) and the value logged for them."""

    every: int
    """data.eval_every: the nominal samples between evaluations (262,144)."""
    global_batch: int
    budget: int
    """data.max_samples: no training past the first evaluation point at or after it."""
    rule: str

    @property
    def evaluation_frequency(self) -> int:
        """The MLPerf ``evaluation_frequency`` of the round's rule."""
        if self.rule == ROUNDED:
            return math.ceil(self.every / self.global_batch) * self.global_batch
        return self.every

    def points(self) -> Iterator[int]:
        """Training samples at each evaluation, increasing, until the budget is reached."""
        g, k, last = self.global_batch, 0, 0
        while last < self.budget:
            k += 1
            if self.rule == ROUNDED:
                point = k * self.evaluation_frequency
            else:
                point = math.ceil(k * self.every / g) * g
            yield point
            last = point
