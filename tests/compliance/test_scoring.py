"""Olympic score and time to train: bit-identical to result_summarizer's own functions."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mlperf_logging.result_summarizer import result_summarizer as rs

from mlperf_submit.compliance.scoring import (
    olympic_minutes,
    read_scaling,
    score_runs,
    ttt_minutes,
)
from mlperf_submit.errors import InputError

minutes = st.floats(min_value=0.01, max_value=1e4, allow_nan=False, allow_infinity=False)


def official_olympic(ttts, benchmark):
    """What _compute_strong_score_standalone does with per-run results (None = dropped)."""
    scores = [t for t in ttts if t is not None]
    dropped = len(ttts) - len(scores)
    k = 4 if benchmark == "unet3d" else 1
    if dropped > k:
        return None
    return rs._compute_olympic_average(scores, dropped, k)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.one_of(minutes, st.none()), min_size=0, max_size=45),
    st.sampled_from(["resnet", "bert", "unet3d", "llama31_8b"]),
)
def test_olympic_mean_is_bit_identical_to_the_summarizer(ttts, benchmark):
    assert olympic_minutes(ttts, benchmark) == official_olympic(list(ttts), benchmark)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=1_500_000_000_000, max_value=1_900_000_000_000),
    st.integers(min_value=0, max_value=10**9),
)
def test_time_to_train_uses_the_summarizers_arithmetic(start, length):
    class Line:
        def __init__(self, key, ts):
            self.key, self.timestamp = key, float(ts)

    lines = [Line("run_start", start), Line("run_stop", start + length)]
    assert ttt_minutes(float(start), float(start + length)) == (
        rs._query_mlperf_strong_scaling_score(lines)
    )


def test_failed_runs_take_the_slowest_slots():
    assert olympic_minutes([5.0, 6.0, 7.0, 8.0, 9.0], "resnet") == 7.0
    assert olympic_minutes([5.0, None, 7.0, 8.0, 9.0], "resnet") == 8.0  # 7, 8, 9 averaged
    assert olympic_minutes([5.0, None, None, 8.0, 9.0], "resnet") is None  # too many failures
    ten = [float(i) for i in range(10)]
    assert olympic_minutes(ten, "bert") == sum(range(1, 9)) / 8
    forty = [float(i) for i in range(40)]
    assert olympic_minutes(forty, "unet3d") == sum(range(4, 36)) / 32
    assert olympic_minutes([None] * 4 + forty[4:], "unet3d") == sum(range(8, 40)) / 32
    assert olympic_minutes([None] * 5 + forty[5:], "unet3d") is None
    assert olympic_minutes([1.0], "resnet") is None  # nothing left after the cut


def test_score_runs_names_the_cut_runs_and_applies_the_scaling():
    ttts = {"result_0": 9.0, "result_1": 5.0, "result_2": None, "result_3": 7.0, "result_4": 6.0}
    s = score_runs(ttts, "resnet", (1.5, "/x/scaling.json"))
    assert s.raw_minutes == (6.0 + 7.0 + 9.0) / 3
    assert s.minutes == s.raw_minutes * 1.5
    assert (s.dropped, s.fastest, s.slowest) == (["result_2"], ["result_1"], [])
    assert "dropped non-compliant run(s) result_2" in s.note
    s = score_runs({**ttts, "result_0": None}, "resnet")
    assert s.minutes is None and s.too_many_failures and "CRITICAL ERROR" in s.note


def test_read_scaling(tmp_path):
    assert read_scaling(str(tmp_path)) == (1.0, None)
    (tmp_path / "scaling.json").write_text(json.dumps({"scaling_factor": 1.0085470085470085}))
    factor, path = read_scaling(str(tmp_path))
    assert factor == 1.0085470085470085 and path.endswith("scaling.json")
    (tmp_path / "scaling.json").write_text('{"scaling_factor": 1.0')
    with pytest.raises(InputError, match="scaling.json: not a readable JSON"):
        read_scaling(str(tmp_path))
    (tmp_path / "scaling.json").write_text('{"scaling_factor": "1.2"}')
    with pytest.raises(InputError, match="finite number"):
        read_scaling(str(tmp_path))
    (tmp_path / "scaling.json").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(InputError, match="scaling.json"):
        read_scaling(str(tmp_path))
    (tmp_path / "scaling.json").write_text("[1.0]")
    with pytest.raises(InputError, match="scaling_factor"):
        read_scaling(str(tmp_path))
