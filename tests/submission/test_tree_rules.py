"""Repo rules against the official repo_checker, and the implementation-folder policy."""

import os
import subprocess
import sys

import pytest

from mlperf_submit.compliance.orgfolder import check_org
from mlperf_submit.submission.tree_rules import (
    implementation_findings,
    platform_findings,
    repo_findings,
)


def official_repo_verdict(folder, cwd) -> bool:
    """True when `python -m mlperf_logging.repo_checker` prints ALL CHECKS PASSED."""
    proc = subprocess.run(
        [sys.executable, "-m", "mlperf_logging.repo_checker", str(folder), "training", "4.0.0",
         "--log_output", os.devnull],
        capture_output=True, text=True, cwd=cwd, check=True,
    )  # fmt: skip
    assert proc.returncode == 0  # always 0, whatever it found (docs/official-tools.md §2.5)
    return "ALL CHECKS PASSED" in proc.stderr


def make_tree(root, problem):
    org = root / "Org"
    (org / "results" / "sys" / "resnet").mkdir(parents=True)
    (org / "results" / "sys" / "resnet" / "result_0.txt").write_text(":::MLLOG {}\n")
    if problem == "dotfile":
        (org / "results" / ".DS_Store").write_text("x")
    elif problem == "dotdir":
        (org / ".git").mkdir()
    elif problem == "space":
        (org / "results" / "sys" / "my notes.txt").write_text("x")
    elif problem == "big":
        with open(org / "big.bin", "wb") as f:  # sparse: 51 MB on paper, nothing on disk
            f.truncate(51 * 1024 * 1024)
    elif problem == "broken_link":
        os.symlink("/nonexistent/target", org / "link.txt")
    elif problem == "abs_link":
        os.symlink(org / "results" / "sys" / "resnet" / "result_0.txt", org / "ok_link.txt")
    return org


@pytest.mark.official
@pytest.mark.parametrize("problem", ["none", "dotfile", "dotdir", "space", "big", "broken_link",
                                     "abs_link"])  # fmt: skip
def test_repo_rules_agree_with_repo_checker(problem, tmp_path):
    org = make_tree(tmp_path, problem)
    ours = repo_findings(str(org))
    errors = [f for f in ours if f.severity == "error"]
    assert (not errors) == official_repo_verdict(org, tmp_path), [f.message for f in ours]
    assert (problem in ("none", "abs_link")) == (not errors)
    for f in errors:
        assert f.hint and str(org) in f.message


@pytest.mark.official
def test_relative_link_ok_for_us_reported_broken_by_the_official_tool(tmp_path):
    org = make_tree(tmp_path, "none")
    os.symlink("results/sys/resnet/result_0.txt", org / "rel_link.txt")
    findings = repo_findings(str(org))
    assert [f.severity for f in findings] == ["warning"]
    assert "current directory" in findings[0].message
    assert official_repo_verdict(org, tmp_path) is False  # run from elsewhere: "broken"
    assert official_repo_verdict(org, org) is True  # run from the link's folder: fine


def test_results_without_code_are_a_policy_error(corpus_dir):
    org = check_org(str(corpus_dir / "v4.1/closed/tinycorp"), "4.1.0")
    (finding,) = implementation_findings(org)
    assert finding.severity == "error" and "bert" in finding.message
    assert "no official tool checks it" in finding.message


def test_placeholders_and_platforms_are_warnings(corpus_dir):
    krai = check_org(str(corpus_dir / "v4.1/closed/Krai"), "4.1.0")
    found = platform_findings(krai)
    assert found and all(f.severity == "warning" for f in found)
    assert any("SUBMISSION_PLATFORM_PLACEHOLDER" in f.message for f in found)
    # tinycorp logs the system name itself as submission_platform: nothing to say.
    tiny = check_org(str(corpus_dir / "v4.1/closed/tinycorp"), "4.1.0")
    assert platform_findings(tiny) == []
