"""The RCP outlook of a batch size, held against the official rcp_checker.

For each batch size the outlook names a kind, a message and an acceptance threshold. The
official checker, run in-process on a run set of that batch size whose points sit just above
and just below the threshold, must give that message, pass above and fail below.
"""

from __future__ import annotations

import pytest

from mlperf_submit.compliance import meta
from mlperf_submit.compliance.rcp import SUBMISSION_RUNS, rcp_table
from mlperf_submit.compliance.rcp_outlook import rcp_outlook

from .rcp_logs import write_run_set
from .runset_fixtures import official_rcp

# (benchmark, ruleset): tables with pruned records, interpolation, 405b's slack, samples keys
TABLES = [
    ("resnet", "4.0.0"),
    ("llama31_8b", "6.1.0"),
    ("llama31_405b", "6.0.0"),
    ("llama31_405b", "5.0.0"),
    ("llama2_70b_lora", "6.1.0"),
    ("flux1", "6.1.0"),
]


def _batch_sizes(benchmark: str, ruleset: str) -> list[int]:
    """Every record's BS, the midpoints between them, one below and one above them all."""
    sizes = sorted({rec["BS"] for rec in rcp_table(ruleset, benchmark).rcp_data.values()})
    mids = [(a + b) // 2 for a, b in zip(sizes, sizes[1:])]
    return sorted({max(1, sizes[0] // 2), *sizes, *mids, sizes[-1] * 2})


CASES = [(bm, rs, bs) for bm, rs in TABLES for bs in _batch_sizes(bm, rs)]


def _eps(benchmark: str) -> float:
    # the official reader rounds epoch_num to 3 decimals; samples are taken as they are
    return 0.01 if rcp_outlook(benchmark, "6.1.0", 1).unit == "epochs" else 1.0


@pytest.mark.parametrize(("benchmark", "ruleset", "bs"), CASES)
def test_outlook_says_what_the_official_checker_says(tmp_path, benchmark, ruleset, bs):
    out = rcp_outlook(benchmark, ruleset, bs)
    n = SUBMISSION_RUNS[benchmark]
    if out.kind == "missing":
        # whatever the points, the official checker fails with the message named
        write_run_set(tmp_path / "slow", benchmark, bs, [10**8] * n)
        theirs = official_rcp(str(tmp_path / "slow"), ruleset, set_scaling=False)
        assert (theirs["passed"], theirs["message"]) == (False, out.message)
        assert not out.can_pass and out.nearest and max(out.nearest) == max(out.batch_sizes)
        return
    assert out.kind in ("found", "interpolated", "smaller") and out.can_pass
    eps = _eps(benchmark)
    above = round(out.threshold + eps, 3)
    below = round(out.threshold - eps, 3)
    write_run_set(tmp_path / "above", benchmark, bs, [above] * n)
    write_run_set(tmp_path / "below", benchmark, bs, [below] * n)
    ok = official_rcp(str(tmp_path / "above"), ruleset, set_scaling=False)
    bad = official_rcp(str(tmp_path / "below"), ruleset, set_scaling=False)
    assert (ok["passed"], ok["message"]) == (True, out.message), (out.lines(), ok)
    assert bad["passed"] is False, (out.lines(), bad)
    # the normalisation factor the official checker returns at the threshold is mean / points
    assert ok["norm"] == pytest.approx(max(1.0, out.mean / above))


def test_pruned_away_names_exactly_the_records_the_official_pruning_drops():
    from mlperf_logging.rcp_checker import rcp_checker as official

    for rs in meta.rulesets():
        for bm in SUBMISSION_RUNS:
            if rs not in official.submission_runs or not meta.has_rcps(bm, rs):
                continue
            checker = official.RCP_Checker("training", rs, bm, False)
            theirs = set(checker.rcp_data) - set(checker.pruned_rcp_data)
            assert set(rcp_table(rs, bm).pruned_away) == theirs, (bm, rs)


def test_known_answers():
    # llama31_8b 6.1.0 records: 16, 32, 64, 96, 128
    assert rcp_outlook("llama31_8b", "6.1.0", 32).record == "llama31_8b_ref_32"
    mid = rcp_outlook("llama31_8b", "6.1.0", 48)
    assert (mid.kind, mid.low, mid.high) == (
        "interpolated",
        ("llama31_8b_ref_32", 32),
        ("llama31_8b_ref_64", 64),
    )
    big = rcp_outlook("llama31_8b", "6.1.0", 260, step=8)
    assert (big.kind, big.nearest) == ("missing", [128])
    odd = rcp_outlook("llama31_8b", "6.1.0", 260, step=48)
    assert odd.nearest == [96, 128]  # 128 does not split over 48 ranks
    # resnet 4.0.0: BS 4096 exists but pruning drops it: the check interpolates 3264..32768
    pruned = rcp_outlook("resnet", "4.0.0", 4096)
    assert pruned.kind == "interpolated" and pruned.pruned_here.startswith("resnet_ref_4096")
    assert rcp_outlook("resnet", "4.1.0", 3200).kind == "no_table"
    assert rcp_outlook("llama31_8b", "7.0.0", 32).kind == "not_checked"
