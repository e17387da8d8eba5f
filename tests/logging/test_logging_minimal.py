"""Minimal well-formed logs written through the facade pass the official checker for every
acceptance pair (closed division), and the three verdicts agree.

    .venv/bin/python -m pytest -q tests/logging/test_logging_minimal.py
"""

from __future__ import annotations

import pytest
from mllog_helpers import (
    BAD_ACCURACY,
    PAIRS,
    minimal_events,
    replay,
    three_verdicts,
    write_minimal_with_helpers,
)

from mlperf_submit.logging import MLPerfLogger

pytestmark = pytest.mark.official


@pytest.mark.parametrize(("bm", "rs"), PAIRS, ids=[f"{b}@{r}" for b, r in PAIRS])
def test_minimal_log_through_helpers_passes_official(tmp_path, bm, rs):
    log = MLPerfLogger(bm, rs, "closed", tmp_path / "run.log", check="strict", echo=False)
    write_minimal_with_helpers(log)  # strict: any definite violation would raise here
    assert three_verdicts(log) == ("pass", "pass", "pass")


@pytest.mark.parametrize(("bm", "rs"), PAIRS, ids=[f"{b}@{r}" for b, r in PAIRS])
def test_minimal_raw_events_pass_and_target_miss_fails_only_at_the_end(tmp_path, bm, rs):
    log = MLPerfLogger(bm, rs, "closed", tmp_path / "raw.log", check="strict", echo=False)
    assert replay(log, minimal_events(bm, rs)) == {
        "raised": 0,
        "refused": 0,
        "written": len(minimal_events(bm, rs)),
    }
    assert three_verdicts(log) == ("pass", "pass", "pass")
    # The quality target is an end-of-log rule: a run that never reaches it is not stopped
    # while it runs (strict raises nothing), and fails at finish.
    miss = MLPerfLogger(bm, rs, "closed", tmp_path / "miss.log", check="strict", echo=False)
    write_minimal_with_helpers(miss, accuracy=BAD_ACCURACY[bm])
    assert three_verdicts(miss) == ("fail", "fail", "fail")
