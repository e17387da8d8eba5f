"""Time-to-train and the olympic score, computed exactly as ``result_summarizer`` does.

docs/official-tools.md §4.2-4.3: a run's result is ``(run_stop - run_start) / 60 / 1000`` minutes
(two divisions, as the official code writes it, so the floats are bit-identical). A run that fails
compliance is *dropped*; with ``k = max_dropped(bm)`` (4 for unet3d, else 1) and ``d`` drops:
``d > k`` gives no score; otherwise the passing times are sorted, the ``k`` fastest and the
``k - d`` slowest are removed (a failed run stands in for a slowest one) and the rest is
averaged with Python's ``sum`` (not numpy), then multiplied by the ``scaling_factor`` of a
committed ``scaling.json``.

    >>> olympic_minutes([5.0, 6.0, 7.0, 8.0, 9.0], "resnet")
    7.0
    >>> olympic_minutes([5.0, None, 7.0, 8.0, 9.0], "resnet")   # the failed run is a slowest one
    8.0

Nothing here writes; :func:`read_scaling` only reads ``scaling.json``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from mlperf_submit.compliance.meta import max_dropped
from mlperf_submit.errors import InputError

SCALING_FILE = "scaling.json"


def ttt_minutes(run_start_ms: float, run_stop_ms: float) -> float:
    """Time to train in minutes, with the summarizer's arithmetic (``ms / 60 / 1000``)."""
    return (float(run_stop_ms) - float(run_start_ms)) / 60 / 1000


def olympic_minutes(ttts: Sequence[float | None], benchmark: str) -> float | None:
    """Olympic mean of the passing runs (None entries are failed runs); None when no score."""
    k = max_dropped(benchmark)
    scores = sorted(t for t in ttts if t is not None)
    dropped = len(ttts) - len(scores)
    if dropped > k:
        return None
    countable = scores[k : len(scores) - (k - dropped)]
    if not countable:
        return None
    return sum(countable) * 1.0 / len(countable)


def read_scaling(result_dir: str) -> tuple[float, str | None]:
    """``(factor, path)`` from ``<dir>/scaling.json``; ``(1.0, None)`` when there is none.

    The official summarizer crashes on a garbled file; we raise InputError naming it.
    """
    path = os.path.join(result_dir, SCALING_FILE)
    if not os.path.isfile(path):
        return 1.0, None
    try:
        with open(path, encoding="utf-8") as f:
            contents = json.load(f)
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise InputError(f"{path}: not a readable JSON file ({err})") from None
    if not isinstance(contents, dict) or "scaling_factor" not in contents:
        raise InputError(f'{path}: expected {{"scaling_factor": <number>}}')
    factor = contents["scaling_factor"]
    if isinstance(factor, bool) or not isinstance(factor, int | float) or not math.isfinite(factor):
        raise InputError(f"{path}: scaling_factor must be a finite number, got {factor!r}")
    return factor, path


@dataclass
class Score:
    """The score of one result directory, as ``result_summarizer`` prints it."""

    benchmark: str
    minutes: float | None  # olympic mean x committed scaling factor (None: no score)
    raw_minutes: float | None  # olympic mean without scaling
    scaling_factor: float  # from the committed scaling.json, 1.0 when absent
    scaling_file: str | None
    n_runs: int
    dropped: list[str] = field(default_factory=list)  # runs that failed compliance
    fastest: list[str] = field(default_factory=list)  # passing runs removed as fastest
    slowest: list[str] = field(default_factory=list)  # passing runs removed as slowest
    too_many_failures: bool = False
    ttt_minutes: dict[str, float | None] = field(default_factory=dict)  # per run (None: dropped)

    @property
    def note(self) -> str | None:
        if self.too_many_failures:
            return (
                f"{len(self.dropped)} non-compliant runs > {max_dropped(self.benchmark)} allowed: "
                "no score (result_summarizer: 'CRITICAL ERROR: Too many non-converging runs')"
            )
        if self.dropped:
            return f"dropped non-compliant run(s) {', '.join(self.dropped)} under olympic scoring"
        return None


def score_runs(
    ttts: Mapping[str, float | None],
    benchmark: str,
    scaling: tuple[float, str | None] = (1.0, None),
) -> Score:
    """Score named runs (``{run name: minutes or None if it failed compliance}``)."""
    values = list(ttts.values())
    raw = olympic_minutes(values, benchmark)
    factor, path = scaling
    k = max_dropped(benchmark)
    dropped = sorted(name for name, t in ttts.items() if t is None)
    # Which runs the olympic cut removes (for reports); ties broken by name, the mean is not.
    ranked = sorted((t, name) for name, t in ttts.items() if t is not None)
    too_many = len(dropped) > k
    fastest = [] if too_many else [name for _, name in ranked[:k]]
    n_slow = 0 if too_many else max(0, k - len(dropped))
    slowest = [name for _, name in ranked[len(ranked) - n_slow :]] if n_slow else []
    minutes = None if raw is None else raw * factor
    return Score(
        benchmark=benchmark,
        minutes=minutes,
        raw_minutes=raw,
        scaling_factor=factor,
        scaling_file=path,
        n_runs=len(values),
        dropped=dropped,
        fastest=fastest,
        slowest=slowest,
        too_many_failures=too_many,
        ttt_minutes=dict(ttts),
    )
