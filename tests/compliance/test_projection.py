"""The projection of an incomplete run set.

Its arithmetic is the official tools': on a complete run set it must give exactly the score
result_summarizer prints (olympic mean x the factor the RCP check writes) and the RCP check's
verdict; its bounds on the remaining runs must be where the official checker flips. How well
it predicts from part of a run set is measured by bench/projection_accuracy.py, not here.
"""

from __future__ import annotations

import json
import re

import pytest

from mlperf_submit.compliance.projection import (
    RunningObs,
    RunObs,
    observe_file,
    observe_running,
    project,
)
from mlperf_submit.compliance.rcp import check_rcp_files, rcp_table

from .rcp_logs import write_run_set
from .runset_fixtures import dir_of, manifest_rows, official_rcp, ruleset_of


def _number(path):
    nums = re.findall(r"\d+", path.name)
    return int(nums[-1]) if nums else 0


@pytest.fixture(scope="module")
def corpus_runs(corpus_dir):
    out = []
    for row in manifest_rows(corpus_dir):
        d = dir_of(corpus_dir, row)
        files = sorted(d.glob("result_*.txt"), key=_number)
        rs = ruleset_of(row)
        out.append((row, files, [observe_file(str(p), rs) for p in files]))
    return out


def test_a_complete_run_set_projects_to_the_official_score(corpus_runs):
    for row, files, runs in corpus_runs:
        rs = ruleset_of(row)
        proj = project(runs, benchmark=row["benchmark"], ruleset=rs, division=row["division"])
        assert proj.more_needed == 0 and proj.score_low == proj.score_high == proj.score
        rcp = check_rcp_files([str(p) for p in files], rs)
        factor = rcp.scaling_written if (row["division"] == "closed" and rcp.passed) else 1.0
        expected = float(row["raw_olympic_minutes"]) * (factor or 1.0)
        where = f"{row['round']}/{row['submitter']}/{row['system']}/{row['benchmark']}"
        assert proj.score == pytest.approx(expected, rel=1e-9), where
        # the published score, where its scaling.json is the RCP checker's (not Dell's v3.1
        # unet3d, whose factor a reviewer set on a failing RCP)
        if "rcp_checker gives no scaling" not in row["notes"]:
            assert proj.score == pytest.approx(float(row["official_score_minutes"]), rel=1e-9)
        if proj.rcp_applies and proj.rcp.can_pass:
            assert (proj.rcp_verdict == "pass") == (rcp.passed and not rcp.crash), where


def test_fewer_runs_project_an_interval_around_what_is_known(corpus_runs):
    row, files, runs = next(r for r in corpus_runs if r[0]["benchmark"] == "llama31_8b")
    proj = project(
        runs[:6], benchmark="llama31_8b", ruleset=ruleset_of(row), division=row["division"]
    )
    assert proj.finished == 6 and proj.more_needed == 4 and proj.required == 10
    assert proj.score_low < proj.score < proj.score_high
    assert 0 <= proj.p_rcp_pass <= 1 and proj.rcp_verdict in ("pass", "fail")
    assert proj.rcp.record == "llama31_8b_ref_32"
    data = json.loads(json.dumps(proj.to_dict()))
    assert data["score"]["low"] == proj.score_low and data["more_needed"] == 4
    text = "\n".join(proj.lines())
    assert "6/10 runs finished; 4 more needed" in text and "90% interval" in text


def test_remaining_bound_is_where_the_official_check_flips(tmp_path):
    """Six runs at the RCP mean of llama31_8b BS 32: how fast may the other four be?"""
    table = rcp_table("6.1.0", "llama31_8b")
    mean = float(table.rcp_data["llama31_8b_ref_32"]["RCP Mean"])
    seen = [round(mean)] * 6
    runs = [RunObs(f"r{i}", True, 100.0, p, bs=32, division="closed") for i, p in enumerate(seen)]
    proj = project(runs, benchmark="llama31_8b", ruleset="6.1.0", division="closed")
    x = proj.remaining_min_point
    assert x is not None and x < mean and proj.more_failures_allowed == 1
    ok, bad = tmp_path / "ok", tmp_path / "bad"
    write_run_set(ok, "llama31_8b", 32, seen + [x + 1] * 4)
    write_run_set(bad, "llama31_8b", 32, seen + [x - 1] * 4)
    assert official_rcp(str(ok), "6.1.0", set_scaling=False)["passed"] is True
    assert official_rcp(str(bad), "6.1.0", set_scaling=False)["passed"] is False


def test_a_running_run_converges_after_its_last_evaluation():
    runs = [
        RunObs(
            f"r{i}",
            True,
            10.0 + i * 0.01,
            3072.0,
            evals=[1536, 1920, 2304, 2688, 3072],
            bs=8,
            division="closed",
        )  # fmt: skip
        for i in range(3)
    ]
    running = RunningObs("r3", [(1536.0, 5.0), (1920.0, 6.25), (2304.0, 7.5), (2688.0, 8.75)])
    proj = project(runs, benchmark="llama2_70b_lora", ruleset="6.1.0", running=running)
    assert proj.running is running and proj.finished == 3 and proj.more_needed == 7
    assert proj.score_low > 8.75  # nothing finishes before the time already spent
    # only a running run and the RCP: still a projection (the campaign's first minutes)
    alone = project([], benchmark="llama2_70b_lora", ruleset="6.1.0", division="closed",
                    bs=8, running=running)  # fmt: skip
    assert alone.score is not None and alone.rcp_applies
    # open division: the reference says nothing about the run
    open_ = project([], benchmark="llama2_70b_lora", ruleset="6.1.0", division="open",
                    bs=8, running=running)  # fmt: skip
    assert open_.score is None and "RCP that applies" in open_.notes[0]


def test_observe_running_reads_a_log_being_written(tmp_path):
    log = tmp_path / "run.log"
    lines = [
        {"key": "submission_benchmark", "value": "llama31_8b", "time_ms": 0, "metadata": {}},
        {"key": "run_start", "value": None, "time_ms": 60000, "metadata": {}},
        {
            "key": "eval_accuracy",
            "value": 3.9,
            "time_ms": 120000,
            "metadata": {"samples_count": 12288, "epoch_num": 1},
        },  # fmt: skip
    ]
    log.write_text("".join(":::MLLOG " + json.dumps(x) + "\n" for x in lines) + ':::MLLOG {"ke')
    run = observe_running(str(log))
    assert run.evals == [(12288.0, 1.0)]  # samples_count for llama31_8b, minutes after run_start


def test_check_reports_the_projection_of_an_incomplete_dir(tmp_path, corpus_dir, capsys):
    from mlperf_submit.cli import main

    src = next((corpus_dir / "v5.1/closed/NVIDIA/results").glob("*/llama31_8b"))
    dst = tmp_path / "sys" / "llama31_8b"
    dst.mkdir(parents=True)
    for p in sorted(src.glob("result_*.txt"), key=_number)[:4]:
        (dst / p.name).write_bytes(p.read_bytes())
    assert main(["check", str(dst), "--ruleset", "5.1.0", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    (target,) = data["targets"]
    (proj,) = target["projections"]
    assert proj["finished_runs"] == 4 and proj["more_needed"] == 6
    assert proj["score"]["low"] < proj["score"]["high"] and proj["rcp"]["applies"]
    assert target["report"]["errors"][0]["kind"] == "count"  # the official verdict stands
    assert main(["check", str(dst), "--ruleset", "5.1.0"]) == 1
    out = capsys.readouterr().out
    assert "projection" in out and "4/10 runs finished; 6 more needed" in out
