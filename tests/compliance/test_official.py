"""The official tools as subprocesses: verdicts parsed from their last lines (several always
exit 0), crashes recognised, inputs never modified (they run on temporary copies)."""

from __future__ import annotations

import json

import pytest

from mlperf_submit.compliance import official, official_compare
from mlperf_submit.compliance.orgfolder import check_org
from mlperf_submit.compliance.report_format import Target, to_json
from mlperf_submit.compliance.runset import check_result_dir

from .runset_fixtures import (
    SMALL_ORG,
    SMALL_ORG_RULESET,
    copy_tree,
    edit_log,
    set_key,
    snapshot,
)

pytestmark = pytest.mark.official


@pytest.fixture(scope="module")
def small_org(corpus_dir):
    return corpus_dir.joinpath(*SMALL_ORG)


def test_compliance_checker_pass_fail_and_crash(corpus_dir, small_org):
    log = next(small_org.glob("results/*/*/result_0.txt"))
    v = official.compliance_checker(str(log), SMALL_ORG_RULESET)
    assert (v.verdict, v.message, v.returncode) == ("PASS", "SUCCESS", 0)
    failing = (
        corpus_dir / "v3.1/closed/NVIDIA/results/eos_n8_ngc23.04_pytorch/maskrcnn/result_0.txt"
    )
    v = official.compliance_checker(str(failing), "3.1.0")
    assert (v.verdict, v.message, v.returncode) == ("FAIL", "FAILED", 1)
    assert any("Failed checks for eval_accuracy" in w for w in v.warnings)
    v = official.compliance_checker(str(log), "6.1.0")  # dlrm_dcnv2 is not in 6.1.0
    assert v.crashed and v.verdict == "CRASH" and "FileNotFoundError" in v.message


def test_system_desc_checker_exits_0_but_we_read_its_verdict(tmp_path, small_org):
    path = next(small_org.glob("systems/*.json"))
    v = official.system_desc_checker(str(path), SMALL_ORG_RULESET)
    assert v.verdict == "PASS" and v.returncode == 0
    bad = tmp_path / "sys.json"
    bad.write_text(json.dumps({**json.loads(path.read_text()), "status": "onprem"}))
    v = official.system_desc_checker(str(bad), SMALL_ORG_RULESET)
    assert v.verdict == "FAIL" and v.returncode == 0 and "non valid value: onprem" in v.errors[0]
    bad.write_text(json.dumps({**json.loads(path.read_text()), "framework": 2}))
    v = official.system_desc_checker(str(bad), SMALL_ORG_RULESET)
    assert v.crashed and "TypeError" in v.message


def test_rcp_checker_agrees_with_ours(small_org):
    directory = next(small_org.glob("results/*/*"))
    before = snapshot(directory)
    v = official.rcp_checker(str(directory), SMALL_ORG_RULESET)
    ours = check_result_dir(str(directory), SMALL_ORG_RULESET).rcp
    assert (v.passed, v.message) == (ours.passed, ours.message) == (True, "RCP found")
    assert snapshot(directory) == before


def test_package_checker_crash_and_repo_checker_fail_on_copies(small_org, tmp_path):
    org = copy_tree(small_org, tmp_path / SMALL_ORG[2])
    next(org.glob("systems/*.json")).unlink()
    (org / ".hidden file").write_text("x")
    before = snapshot(org)
    v = official.package_checker(str(org), SMALL_ORG_RULESET)
    assert v.crashed and "FileNotFoundError" in v.message and str(org) in v.output
    v = official.repo_checker(str(org), SMALL_ORG_RULESET)
    assert v.verdict == "FAIL" and v.message == "CHECKS FAILED." and v.returncode == 0
    assert snapshot(org) == before


def test_compare_with_official_on_an_org_finds_no_disagreement(small_org, tmp_path):
    org = copy_tree(small_org, tmp_path / SMALL_ORG[2])
    broken = next(org.glob("results/*/*/result_3.txt"))
    edit_log(broken, set_key("run_stop", drop=True))  # one non-compliant run: dropped, accepted
    before = snapshot(org)
    report = check_org(str(org), SMALL_ORG_RULESET)
    target = Target(str(org), "org", SMALL_ORG_RULESET, "--ruleset", report)
    official_compare.compare_target(target)
    tools = {v.tool: v for v in target.official}
    assert set(tools) == {"package_checker", "result_summarizer", "repo_checker"}
    assert tools["package_checker"].verdict == "PASS" == report.verdict
    assert tools["package_checker"].message == "PACKAGE CHECKER FOUND NO ERRORS, SUCCESS !"
    summary = tools["result_summarizer"].extra
    assert summary["dropped_files"] == [str(broken)]
    d = report.dirs[0]
    assert summary["scores"][(d.system, d.benchmark)] == d.score.minutes
    assert summary["rcp"][(d.system, d.benchmark)] == "Pass"
    assert target.disagreements == []
    assert snapshot(org) == before
    doc = json.loads(json.dumps(to_json([target], 0)))  # what check --official --json prints
    extra = doc["targets"][0]["official"][1]["extra"]
    assert extra["scores"][f"{d.system}/{d.benchmark}"] == d.score.minutes
    assert extra["dropped_files"] == [str(broken)]


@pytest.mark.parametrize(
    ("rel", "ruleset", "want_minutes", "want_factor"),
    [
        # a committed scaling.json (1.0042...) multiplies the olympic mean
        ("v4.0/closed/GigaComputing/results/G593-SD1_mxnet/resnet", "4.0.0", 13.2260997050, None),
        # one run fails compliance: dropped, it takes a slowest slot
        ("v3.1/closed/NVIDIA/results/eos_n8_ngc23.04_pytorch/maskrcnn", "3.1.0", 4.2643555556, 1.0),
    ],
)
def test_lone_result_dir_score_is_compared_with_the_summarizers(
    corpus_dir, rel, ruleset, want_minutes, want_factor
):
    directory = corpus_dir / rel
    before = snapshot(directory)
    report = check_result_dir(str(directory), ruleset)
    target = Target(str(directory), "dir", ruleset, "--ruleset", report)
    official_compare.compare_target(target)
    (score,) = [v for v in target.official if v.tool == "result_summarizer"]
    assert score.extra["score"] == pytest.approx(want_minutes, abs=1e-9)
    assert abs(report.score.minutes - score.extra["score"]) <= 1e-9
    if want_factor is not None:
        assert score.extra["scaling_factor"] == want_factor
    assert target.disagreements == []
    assert snapshot(directory) == before


def test_lone_result_dir_without_a_score_agrees_too(tmp_path, small_org):
    src = next(small_org.glob("results/*/*"))
    directory = copy_tree(src, tmp_path / src.parent.name / src.name)
    for name in ("result_1.txt", "result_3.txt"):  # two failures: more than olympic can drop
        edit_log(directory / name, set_key("run_stop", drop=True))
    report = check_result_dir(str(directory), SMALL_ORG_RULESET)
    assert report.benchmark == src.name and report.score.minutes is None
    target = Target(str(directory), "dir", SMALL_ORG_RULESET, "--ruleset", report)
    official_compare.compare_target(target)
    (score,) = [v for v in target.official if v.tool == "result_summarizer"]
    assert score.extra["score"] is None and not score.passed
    assert target.disagreements == []
