"""Seed checks: the official SeedChecker's errors (same messages) on edited real logs."""

from __future__ import annotations

import json
import shutil
import warnings

import pytest
from mlperf_logging.package_checker.seed_checker import SeedChecker

from mlperf_submit.compliance.filecheck import check_file
from mlperf_submit.compliance.seed_check import check_seeds

from .runset_fixtures import SMALL_ORG, SMALL_ORG_RULESET, edit_log, set_key


@pytest.fixture
def logs(corpus_dir, tmp_path):
    src = next(corpus_dir.joinpath(*SMALL_ORG, "results").glob("*/*"))
    dst = tmp_path / "dlrm_dcnv2"
    shutil.copytree(src, dst)
    return sorted(dst.glob("result_*.txt"))


def both(paths):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = SeedChecker(SMALL_ORG_RULESET)._assert_unique_seed_per_run([str(p) for p in paths])
    ours = check_seeds([check_file(str(p), SMALL_ORG_RULESET) for p in paths])
    return ours, theirs


def errors(findings):
    return [f.message for f in findings if f.severity == "error"]


def test_the_published_logs_pass(logs):
    ours, theirs = both(logs)
    assert theirs == [] and errors(ours) == []


def test_the_same_seed_on_the_same_line_in_two_runs(logs):
    edit_log(logs[3], set_key("seed", 6886))  # result_0's seed, same file and line
    ours, theirs = both(logs)
    assert errors(ours) == theirs and len(theirs) == 1
    assert "logs seed 6886 on /workspace/dlrm/mlperf_logger/param_info.py:27" in theirs[0]
    assert ours[0].file_lineno and ours[0].hint


def test_the_same_seed_from_another_source_line_is_allowed(logs):
    edit_log(logs[3], set_key("seed", 6886, metadata={"lineno": 99}))
    ours, theirs = both(logs)
    assert theirs == [] and errors(ours) == []


def test_the_same_seed_twice_in_one_file_is_an_error_too(logs):
    text = logs[0].read_text()
    seed_line = next(ln for ln in text.splitlines() if '"seed"' in ln)
    logs[0].write_text(text + seed_line + "\n")
    ours, theirs = both(logs)
    assert errors(ours) == theirs and len(theirs) == 1


@pytest.mark.parametrize(
    "edit",
    [
        set_key("seed", drop=True),
        set_key("seed", "abc"),
        set_key("seed", 12.9),
        set_key("seed", [1]),
        set_key("seed", "77"),
    ],
    ids=["missing", "not_an_int", "float", "list", "int_string"],
)
def test_bad_seed_values(logs, edit):
    edit_log(logs[1], edit)
    ours, theirs = both(logs)
    assert len(errors(ours)) == len(theirs)
    for mine, official in zip(errors(ours), theirs):
        assert mine.split(":")[0] == official.split(":")[0]  # same message, file named
        assert str(logs[1]) in mine


def test_a_parse_error_is_a_seed_error(logs):
    with open(logs[2], "a") as f:
        f.write(':::MLLOG {"key": "oops", broken\n')
    ours, theirs = both(logs)
    assert len(theirs) == 1 and theirs[0].startswith(
        f"Error found when querying seeds from {logs[2]}"
    )
    assert errors(ours)[0].startswith(f"Error found when querying seeds from {logs[2]}")


def test_metadata_without_file_is_an_error(logs):
    edit_log(logs[4], lambda o: {**o, "metadata": {}} if o["key"] == "seed" else o)
    ours, theirs = both(logs)
    assert len(theirs) == 1 and "metadata file/lineno" in errors(ours)[0]
    assert errors(ours)[0].startswith(f"Error found when querying seeds from {logs[4]}")


def test_more_than_one_seed_is_a_warning(logs):
    text = logs[5].read_text()
    line = next(ln for ln in text.splitlines() if '"seed"' in ln)
    obj = json.loads(line.split(":::MLLOG ", 1)[1])
    obj["metadata"]["lineno"] = 123
    logs[5].write_text(text + "0: :::MLLOG " + json.dumps(obj) + "\n")
    ours, theirs = both(logs)
    assert theirs == [] and errors(ours) == []
    assert any("logs more than one seeds" in f.message for f in ours if f.severity == "warning")


def test_open_division_findings_are_information(logs):
    edit_log(logs[0], set_key("seed", drop=True))
    reports = [check_file(str(p), SMALL_ORG_RULESET) for p in logs]
    found = check_seeds(reports, informational=True)
    assert found and all(f.severity == "warning" for f in found)
    assert "closed division only" in found[0].message
