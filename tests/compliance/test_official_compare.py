"""``check --official`` and ``verify --official`` share one comparison with the official tools:
given the same official answers on an org folder, both record the same disagreements (verify
adds repo_checker against its repo rules).

The tools' answers are given here as the ``OfficialVerdict`` objects ``official.py`` parses from
their output, because a real tool never disagrees with us on the corpus (test_official.py runs
the real tools and finds no disagreement); this test is about what a disagreement looks like.
"""

from __future__ import annotations

import os

import pytest

from mlperf_submit.compliance import official_compare
from mlperf_submit.compliance.check_paths import check_target, exit_code_for
from mlperf_submit.compliance.official import OfficialVerdict
from mlperf_submit.submission.verify import verify_org

from .runset_fixtures import SMALL_ORG, SMALL_ORG_RULESET


@pytest.fixture(scope="module")
def small_org(corpus_dir):
    return str(corpus_dir.joinpath(*SMALL_ORG))


def answer(tool: str, target: str, passed, **extra) -> OfficialVerdict:
    return OfficialVerdict(tool, target, passed, "canned", 0, 0.0, extra=extra)


@pytest.fixture
def disagreeing_tools(monkeypatch, small_org):
    """package_checker FAILs, the summarizer scores the first dir one minute slower and drops
    its first file, repo_checker FAILs; our checks pass all of it."""
    first = sorted(os.scandir(os.path.join(small_org, "results")), key=lambda e: e.name)[0]
    bm_dir = sorted(os.scandir(first.path), key=lambda e: e.name)[0]
    seen = {}

    def package_checker(folder, ruleset, *, rcp_bypass=False, seed_checker_bypass=False):
        seen["bypass"] = (rcp_bypass, seed_checker_bypass)
        return answer("package_checker", folder, False)

    def result_summarizer(folder, ruleset):
        from mlperf_submit.compliance.orgfolder import check_org

        (d,) = [d for d in check_org(folder, ruleset).dirs if d.path == bm_dir.path]
        scores = {(d.system, d.benchmark): d.score.minutes + 1.0}
        dropped = [os.path.join(bm_dir.path, "result_0.txt")]
        return answer("result_summarizer", folder, True, scores=scores, dropped_files=dropped)

    monkeypatch.setattr(official_compare, "package_checker", package_checker)
    monkeypatch.setattr(official_compare, "result_summarizer", result_summarizer)
    monkeypatch.setattr(official_compare, "repo_checker",
                        lambda folder, ruleset: answer("repo_checker", folder, False))  # fmt: skip
    return seen, bm_dir.path


def test_check_and_verify_record_the_same_disagreements(small_org, disagreeing_tools):
    seen, bm_dir = disagreeing_tools
    target = check_target(small_org, "org", SMALL_ORG_RULESET, "--ruleset", rcp_bypass=True)
    official_compare.compare_target(target, rcp_bypass=True)
    assert seen["bypass"] == (True, False)
    assert [v.tool for v in target.official] == [
        "package_checker",
        "result_summarizer",
        "repo_checker",
    ]
    assert [(d["what"], d["ours"], d["official"]) for d in target.disagreements] == [
        ("verdict", "PASS", "FAIL"),
        ("score", target.report.dirs[0].score.minutes, target.report.dirs[0].score.minutes + 1),
        ("file", "PASS", "FAIL"),
    ]
    assert target.disagreements[1]["path"] == bm_dir
    assert exit_code_for([target]) == 1  # an official FAIL we did not see

    rep = verify_org(small_org, SMALL_ORG_RULESET, check_code=False, official=True)
    assert not [f for f in rep.tree_errors if f.kind == "repo"]
    assert rep.official.disagreements == [
        *target.disagreements,
        {"what": "repo", "path": rep.folder, "ours": "PASS", "official": "FAIL"},
    ]
    assert not rep.passed
