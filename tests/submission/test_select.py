"""Choosing exactly the required runs: all of them, or N consecutive runs around the median."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlperf_submit.errors import CheckFailed
from mlperf_submit.submission.select import RunChoice, choose_runs


def runs(*ttts):
    return [RunChoice(f"run_{i}", t) for i, t in enumerate(ttts)]


def test_exact_count_takes_every_run_in_order():
    sel = choose_runs(runs(3.0, 1.0, None, 2.0, 5.0), 5)
    assert sel.chosen == [0, 1, 2, 3, 4]
    assert "all 5 runs" in sel.reason


def test_too_few_runs_is_a_check_failure_naming_the_counts():
    with pytest.raises(CheckFailed, match=r"resnet: wrong run count: 4 run\(s\).*exactly 5"):
        choose_runs(runs(1.0, 2.0, 3.0, 4.0), 5, benchmark="resnet")


def test_more_runs_picks_the_consecutive_window_around_the_median():
    # Median of all 7 is 5.0 (run_3); only the window run_2..run_6 has that median.
    sel = choose_runs(runs(10.0, 3.0, 4.0, 5.0, 1.0, 20.0, 30.0), 5)
    assert sel.chosen == [2, 3, 4, 5, 6]
    assert "consecutive runs closest to the median of all 7" in sel.reason
    assert "run_2 .. run_6" in sel.reason


def test_failed_runs_count_as_slowest():
    # Every window is equally close to the median rank; the tie goes to the one without the
    # two failed runs (which the official checker would reject) rather than the earliest.
    sel = choose_runs(runs(None, None, 1.0, 2.0, 3.0, 4.0, 5.0), 5)
    assert sel.chosen == [2, 3, 4, 5, 6]


@given(
    st.lists(st.one_of(st.none(), st.floats(0.1, 100)), min_size=3, max_size=25), st.integers(1, 10)
)
def test_selection_is_always_a_consecutive_window_of_the_right_size(ttts, required):
    rs = runs(*ttts)
    if len(rs) < required:
        with pytest.raises(CheckFailed):
            choose_runs(rs, required)
        return
    sel = choose_runs(rs, required)
    assert len(sel.chosen) == required
    assert sel.chosen == list(range(sel.chosen[0], sel.chosen[0] + required))


def test_window_is_optimal_by_median_rank():
    ttts = [5.0, 9.0, 1.0, 7.0, 3.0, 8.0, 2.0, 6.0, 4.0, math.inf]
    rs = runs(*[None if math.isinf(t) else t for t in ttts])
    sel = choose_runs(rs, 3)
    import statistics

    order = sorted(range(len(ttts)), key=lambda i: (ttts[i], i))
    rank = {i: r for r, i in enumerate(order)}
    overall = statistics.median(rank.values())
    dists = [abs(statistics.median(rank[i] for i in range(s, s + 3)) - overall) for s in range(8)]
    assert abs(statistics.median(rank[i] for i in sel.chosen) - overall) == min(dists)
    assert sel.chosen[0] == dists.index(min(dists))  # no failure in a tied window: earliest
