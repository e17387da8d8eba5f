"""Choose the runs that go into a result directory.

A benchmark needs exactly ``required_runs(bm)`` result files (docs/official-tools.md §4.1). The
rules allow running more (M > N) and submitting the N *consecutive* runs closest to the median, the
full set being kept for review. We read that as: among the M − N + 1 windows of N consecutive runs
(in the order they were run), take the one whose median time-to-train is closest to the median of
all M runs; a run that did not converge counts as infinitely slow. Medians are taken over the runs'
ranks (fastest = 0), which handles the infinite times and gives the same choice as the times
themselves whenever those are finite. Ties go to the window with fewer runs that did not converge,
then to the earliest one.

Fewer runs than required is an error: the official ``package_checker`` rejects the directory.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from mlperf_submit.errors import CheckFailed


@dataclass(frozen=True)
class RunChoice:
    """One candidate run: where it came from and how long it took (None: did not converge)."""

    label: str  # e.g. "campaign_resnet/run_3"
    ttt_minutes: float | None


@dataclass(frozen=True)
class Selection:
    chosen: list[int]  # indices into the candidate list, in run order
    reason: str  # one sentence for the README and the console


def _ranks(values: list[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: (values[i], i))
    ranks = [0.0] * len(values)
    for rank, i in enumerate(order):
        ranks[i] = float(rank)
    return ranks


def choose_runs(runs: list[RunChoice], required: int, *, benchmark: str = "") -> Selection:
    n = len(runs)
    what = f"{benchmark}: " if benchmark else ""
    if n < required:
        raise CheckFailed(
            f"{what}wrong run count: {n} run(s) with a log, but the official package_checker "
            f"needs exactly {required} result files for this benchmark; run the missing "
            f"{required - n} (e.g. `mlperf-submit campaign ... --resume`)"
        )
    if n == required:
        return Selection(list(range(n)), f"all {n} runs (the required number)")
    times = [math.inf if r.ttt_minutes is None else r.ttt_minutes for r in runs]
    ranks = _ranks(times)
    overall = statistics.median(ranks)
    best_key, best_start = None, 0
    for start in range(n - required + 1):
        window = range(start, start + required)
        dist = abs(statistics.median(ranks[i] for i in window) - overall)
        failed = sum(1 for i in window if runs[i].ttt_minutes is None)
        key = (dist, failed, start)
        if best_key is None or key < best_key:
            best_key, best_start = key, start
    chosen = list(range(best_start, best_start + required))
    first, last = runs[chosen[0]].label, runs[chosen[-1]].label
    return Selection(
        chosen,
        f"{required} consecutive runs closest to the median of all {n} "
        f"({first} .. {last}; median rank {statistics.median(ranks[best_start : best_start + required]):g}"
        f" vs {overall:g} overall)",
    )
