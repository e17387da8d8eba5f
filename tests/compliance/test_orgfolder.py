"""Org folders: our verdict equals package_checker's (run here, in-process, on temp copies) on
every whole submitter folder of the corpus, including the published folders it rejects, and on
edited copies, where it crashes we fail with a message instead."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlperf_submit.compliance.orgfolder import check_org, is_org_folder, org_benchmarks
from mlperf_submit.errors import InputError

from .runset_fixtures import (
    SMALL_ORG,
    SMALL_ORG_RULESET,
    TOKEN,
    _fast_sub,
    copy_tree,
    edit_log,
    manifest_rows,
    official_package_check,
    parallel_map,
    set_key,
    snapshot,
)

REJECTED = {("v3.1", "Intel-HabanaLabs"), ("v4.0", "GigaComputing"), ("v4.0", "smc-dc-power")}


def _official(job):
    org, ruleset = job
    return official_package_check(org, ruleset)


@pytest.fixture(scope="session")
def corpus_orgs(corpus_dir):
    rows = manifest_rows(corpus_dir)
    orgs = sorted(
        {
            (r["round"], r["division"], r["submitter"])
            for r in rows
            if r["whole_submitter_folder"] == "yes" or (r["round"], r["submitter"]) in REJECTED
        }
    )
    jobs = [(str(corpus_dir.joinpath(*o)), o[0][1:] + ".0") for o in orgs]
    theirs = parallel_map(_official, jobs)
    ours = [check_org(org, rs) for org, rs in jobs]
    return list(zip(orgs, jobs, ours, theirs))


def test_verdicts_equal_package_checker_on_whole_submitter_folders(corpus_orgs):
    assert len(corpus_orgs) == 8
    for org, _, ours, theirs in corpus_orgs:
        assert theirs["verdict"] in ("pass", "fail"), (org, theirs)
        assert ours.verdict.lower() == theirs["verdict"], org
        assert ours.official_crash is None
    rejected = {(o[0], o[2]) for o, _, ours, _ in corpus_orgs if not ours.passed}
    assert rejected == REJECTED


def test_rejected_published_folders_name_the_official_behaviour(corpus_orgs):
    by_org = {(o[0], o[2]): ours for o, _, ours, _ in corpus_orgs}
    habana = by_org[("v3.1", "Intel-HabanaLabs")]
    no_seed = [f for d in habana.dirs for f in d.errors if f.message.endswith("logs no seed.")]
    assert len(no_seed) == 30
    giga = by_org[("v4.0", "GigaComputing")]
    status = [
        f for f in giga.errors if "Field status contains a non valid value: available" in f.message
    ]
    assert status and all("4.0.0 included" in f.message for f in status)
    assert giga.errors[-1].message == "System description file checker failed"
    assert any(f.message.endswith("logs no seed.") for d in giga.dirs for f in d.errors)
    smc = by_org[("v4.0", "smc-dc-power")]
    assert any("non valid value: cloud" in f.message for f in smc.errors)


def test_our_error_messages_are_the_official_ones(corpus_orgs):
    for _, _, ours, theirs in corpus_orgs:
        official_errors = {m.strip() for lvl, m in theirs["messages"] if lvl == "ERROR"}
        for d in ours.dirs:
            for f in d.errors:
                if f.kind in ("count", "rcp") or f.message == "Seed checker failed":
                    assert f.message in official_errors, f.message


def test_org_benchmarks_and_detection(corpus_dir):
    org = corpus_dir / "v4.1" / "closed" / "ASUSTeK"
    assert is_org_folder(str(org)) and not is_org_folder(str(org / "results"))
    assert "llama2_70b_lora" in org_benchmarks(str(org))
    with pytest.raises(InputError, match="not an org folder"):
        check_org(str(org / "results"), "4.1.0")


@pytest.fixture
def org(corpus_dir, tmp_path):
    return copy_tree(corpus_dir.joinpath(*SMALL_ORG), tmp_path / SMALL_ORG[2])


def _system_json(org):
    return next((org / "systems").glob("*.json"))


def _both(org):
    return check_org(str(org), SMALL_ORG_RULESET), official_package_check(
        str(org), SMALL_ORG_RULESET
    )


def test_the_small_org_passes_and_is_left_untouched(org):
    before = snapshot(org)
    ours, theirs = _both(org)
    assert ours.passed and theirs["verdict"] == "pass"
    assert snapshot(org) == before


def test_a_missing_system_json_is_an_error_where_the_official_tool_crashes(org):
    path = _system_json(org)
    path.rename(path.with_name("other.json"))
    ours, theirs = _both(org)
    assert theirs["verdict"] == "crash" and "FileNotFoundError" in theirs["error"]
    assert not ours.passed and "FileNotFoundError" in ours.official_crash
    message = next(f for f in ours.errors if "is missing" in f.message)
    assert str(path) in message.message and "crashes here" in message.message


def test_an_unknown_benchmark_is_skipped_with_the_official_warning(org):
    bm_dir = next((org / "results").glob("*/*"))
    copy_tree(bm_dir, bm_dir.with_name("resnet"))
    ours, theirs = _both(org)
    assert ours.passed and theirs["verdict"] == "pass"
    assert ("WARNING", " Skipping benchmark: resnet") in theirs["messages"]
    skipped = next(d for d in ours.dirs if d.benchmark == "resnet")
    assert skipped.verdict == "SKIP" and "4.0.0" in skipped.skipped


def test_a_capitalised_division_switches_the_closed_checks_off_like_the_official(org):
    path = _system_json(org)
    desc = json.loads(path.read_text())
    path.write_text(json.dumps({**desc, "division": "Closed"}))
    for log in (org / "results").glob("*/*/result_*.txt"):
        edit_log(log, set_key("seed", drop=True))
    ours, theirs = _both(org)
    assert ours.passed and theirs["verdict"] == "pass"  # no seeds, and nobody notices
    assert not ours.dirs[0].seeds_checked and not ours.dirs[0].rcp_applies
    assert any(f.key == "division" and "looks like closed" in f.message for f in ours.warnings)
    assert any(f.key == "submission_division" for f in ours.dirs[0].warnings)  # logs say closed


def test_logs_from_another_org_are_a_trap_warning(org):
    for log in (org / "results").glob("*/*/result_*.txt"):
        edit_log(log, set_key("submission_org", "SomeoneElse"))
    ours, theirs = _both(org)
    assert ours.passed and theirs["verdict"] == "pass"
    trap = next(f for f in ours.dirs[0].warnings if f.key == "submission_org")
    assert "'SomeoneElse'" in trap.message and "'Dell'" in trap.message


def test_a_number_in_the_system_json_is_a_failure_where_the_official_tool_crashes(org):
    path = _system_json(org)
    path.write_text(json.dumps({**json.loads(path.read_text()), "host_processor_core_count": 192}))
    ours, theirs = _both(org)
    assert theirs["verdict"] == "crash" and "TypeError" in theirs["error"]
    assert not ours.passed and ours.official_crash and "TypeError" in ours.official_crash


def test_a_wrong_run_count_and_a_bad_status_fail_like_the_official(org):
    path = _system_json(org)
    path.write_text(json.dumps({**json.loads(path.read_text()), "status": "onprem"}))
    next((org / "results").glob("*/*/result_9.txt")).unlink()
    ours, theirs = _both(org)
    assert not ours.passed and theirs["verdict"] == "fail"
    official_errors = {m for lvl, m in theirs["messages"] if lvl == "ERROR"}
    assert any(m.startswith("Incorrect number of files") for m in official_errors)
    assert any(f.message.startswith("Incorrect number of files") for f in ours.dirs[0].errors)


def test_root_params_are_ignored_with_a_warning(org):
    (org / "package_checker_params").write_text("rcp-bypass")
    ours = check_org(str(org), SMALL_ORG_RULESET)
    assert ours.passed and any("never reads" in f.message for f in ours.warnings)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from([TOKEN, ":", "M", " ", "x", "{", "\x0b", "\x85", "é"]), max_size=30),
    st.booleans(),
)
def test_the_official_speed_up_in_the_fixtures_gives_the_same_string(parts, newline):
    """runset_fixtures computes the official prefix strip without the quadratic regex."""
    line = "".join(parts) + ("\n" if newline else "")
    assert _fast_sub(".*" + TOKEN, TOKEN, line) == re.sub(".*" + TOKEN, TOKEN, line)
