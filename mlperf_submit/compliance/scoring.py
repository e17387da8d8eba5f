"""Time-to-train and the olympic score, computed exactly as ``result_summarizer`` does.

docs/official-tools.md §4.2-4.3: a run's result is ``(run_stop - run_start) / 60 / 1000`` minutes
(two divisions, as the official code writes it, so the floats are bit-identical). A run that fails
compliance is *dropped*; with ``k = max_dropped(bm)`` (4 for unet3d, else 1) and ``d`` drops:
``d > k`` gives no score; otherwise the passing times are sorted, the ``k`` fastest and the
``k - d`` slowest are removed (a failed run stands in for a slowest one) and the rest is
averaged with Python's ``sum`` (not numpy), then multiplied by the ``scaling_factor`` of a
committed ``scaling.json``.

The score a result dir *publishes* comes out of the official flow: the RCP step
(``set_scaling=True``, closed division) writes the normalisation factor into ``scaling.json``,
then result_summarizer multiplies by it. On a dir as a submitter has it before packaging (no
``scaling.json`` yet) the summarizer's first pass prints the unscaled mean: :func:`publish_factor`
gives the factor the published score uses, ``Score.minutes`` the score with it, and
``Score.summarizer_minutes`` what the summarizer prints on the dir as it stands.

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


# Where the factor of the published score comes from (Score.scaling_source).
FROM_FILE = "scaling.json"  # the committed file: it stands (reviewers may have set it)
FROM_RCP = "rcp"  # no file yet: the RCP normalisation package_checker will write into it


def publish_factor(
    committed: tuple[float, str | None], action: str | None, written: float | None
) -> tuple[float, str | None]:
    """``(factor, source)`` of the published score. A committed ``scaling.json`` stands (the
    published trees carry reviewer-set factors the RCP step would not write); without one,
    the factor the RCP step writes (``RcpResult.scaling_action == "write"``), else 1.0."""
    factor, path = committed
    if path:
        return factor, FROM_FILE
    if action == "write" and written is not None:
        return float(written), FROM_RCP
    return 1.0, None


@dataclass
class Score:
    """The score of one result directory: what the official flow publishes (``minutes``), and
    what ``result_summarizer`` prints on the dir as it stands (``summarizer_minutes``)."""

    benchmark: str
    minutes: float | None  # olympic mean x scaling_factor: the published score (None: no score)
    raw_minutes: float | None  # olympic mean without scaling
    scaling_factor: float  # of the published score (1.0: none)
    scaling_file: str | None  # the committed scaling.json, if any
    n_runs: int
    dropped: list[str] = field(default_factory=list)  # runs that failed compliance
    fastest: list[str] = field(default_factory=list)  # passing runs removed as fastest
    slowest: list[str] = field(default_factory=list)  # passing runs removed as slowest
    too_many_failures: bool = False
    ttt_minutes: dict[str, float | None] = field(default_factory=dict)  # per run (None: dropped)
    scaling_source: str | None = None  # FROM_FILE | FROM_RCP | None (no factor)
    committed_factor: float = 1.0  # of the committed scaling.json (1.0: none)

    @property
    def summarizer_minutes(self) -> float | None:
        """What result_summarizer prints on the dir as it stands (committed scaling.json)."""
        return None if self.raw_minutes is None else self.raw_minutes * self.committed_factor

    def factor_text(self) -> str:
        """Where ``scaling_factor`` comes from, for people."""
        if self.scaling_source == FROM_RCP:
            return "the RCP normalisation package_checker writes to scaling.json"
        if self.scaling_source == FROM_FILE:
            return f"from {self.scaling_file}"
        return "no scaling"

    def text(self) -> str:
        """``score 29.2502 min (olympic mean 28.2687 x 1.0347, the RCP normalisation ...)``."""
        if self.minutes is None:
            return "no score"
        if self.scaling_source is None:
            return f"score {self.minutes:.4f} min (olympic mean, no scaling)"
        return (
            f"score {self.minutes:.4f} min (olympic mean {self.raw_minutes:.4f} x "
            f"{self.scaling_factor:.6g}, {self.factor_text()})"
        )

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
    published: tuple[float, str | None] | None = None,
) -> Score:
    """Score named runs (``{run name: minutes or None if it failed compliance}``); ``scaling``
    is the committed ``(factor, path)``, ``published`` the :func:`publish_factor` (default:
    the committed factor)."""
    values = list(ttts.values())
    raw = olympic_minutes(values, benchmark)
    committed, path = scaling
    factor, source = published or publish_factor(scaling, None, None)
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
        scaling_source=source,
        committed_factor=committed,
    )
