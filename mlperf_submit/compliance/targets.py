"""The closed-division quality target of a benchmark, read from the official rule files.

The target is the ``ATLEAST_ONE_CHECK`` of ``eval_accuracy`` in ``closed_<bm>.yaml`` of the
installed ``mlperf-logging`` (docs/official-tools.md §5.2), e.g.
``"v['value'] >= 0.7590 and v['value'] < 1.0"`` -> ``Target(0.759, higher_is_better=True)``.
A target kept in the state by a BEGIN block (closed_dlrmv4.yaml's ``'target_accuracy': 0.75``)
is read from that block. Targets on structured values (maskrcnn's BBOX/SEGM, stable_diffusion's
FID/CLIP) have no single line to draw and give None.

    >>> closed_target("llama31_8b", "6.1.0")
    Target(value=3.3, higher_is_better=False, source='training_6.1.0/closed_llama31_8b.yaml')
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass

import yaml

_CMP = re.compile(r"v\['value'\]\s*(>=|>|<=|<)\s*([0-9.eE+-]+)")


@dataclass(frozen=True)
class Target:
    value: float
    higher_is_better: bool
    source: str  # the rule file, or "preset <name>" / "campaign manifest"

    def reached(self, metric: float) -> bool:
        return metric >= self.value if self.higher_is_better else metric <= self.value


def _checker_dir() -> str:
    from mlperf_logging import compliance_checker

    return os.path.dirname(compliance_checker.__file__)


def _closed_yaml(benchmark: str, ruleset: str) -> str | None:
    """The closed_<bm>.yaml the checker uses for this ruleset (it may live in an older folder)."""
    base = _checker_dir()
    path = os.path.join(base, f"training_{ruleset}", f"closed_{benchmark}.yaml")
    return path if os.path.isfile(path) else None


@functools.cache
def closed_target(benchmark: str, ruleset: str) -> Target | None:
    path = _closed_yaml(benchmark, ruleset)
    if path is None:
        return None
    try:
        with open(path, encoding="utf-8") as f:
            rules = yaml.safe_load(f) or []
    except (OSError, yaml.YAMLError):
        return None
    state = _begin_constants(rules)
    for item in rules:
        key = item.get("KEY") if isinstance(item, dict) else None
        if not isinstance(key, dict) or key.get("NAME") != "eval_accuracy":
            continue
        # A target kept in the state (closed_dlrmv4.yaml: s['target_accuracy']) is the BEGIN
        # block's constant.
        check = _STATE.sub(
            lambda m: repr(state.get(m.group(1), m.group(0))), str(key.get("ATLEAST_ONE_CHECK", ""))
        )
        for op, number in _CMP.findall(check):
            # The bound that is the target is the one on the "good" side: >= for accuracy,
            # <= for losses; the other comparison is a sanity bound (< 1.0, > 0.0).
            if op == ">=":
                return Target(float(number), True, os.path.relpath(path, _checker_dir()))
            if op == "<=":
                return Target(float(number), False, os.path.relpath(path, _checker_dir()))
    return None


_STATE = re.compile(r"s\['(\w+)'\]")
_CONST = re.compile(r"'(\w+)'\s*:\s*([0-9.eE+-]+)")


def _begin_constants(rules) -> dict:
    """Numeric constants a BEGIN block puts in the state (closed_dlrmv4.yaml's
    ``'target_accuracy': 0.75``)."""
    out = {}
    for item in rules:
        begin = item.get("BEGIN") if isinstance(item, dict) else None
        if isinstance(begin, dict):
            for name, number in _CONST.findall(str(begin.get("CODE", ""))):
                out[name] = float(number)
    return out
