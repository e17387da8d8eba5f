"""RCP check: verdict, message and scaling factor bit-identical to mlperf_logging.rcp_checker.

The official values are computed here, in-process, by the official code on temporary copies
(it writes scaling.json), never taken from stored numbers.
"""

from __future__ import annotations

import glob
import json
import math
import os
import shutil
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mlperf_logging.rcp_checker import rcp_checker as official

from mlperf_submit.compliance.rcp import (
    SUBMISSION_RUNS,
    RcpTable,
    apply_scaling,
    check_rcp_files,
    read_rcp_point,
)
from mlperf_submit.compliance.scoring import read_scaling

from .runset_fixtures import (
    SMALL_ORG,
    dir_of,
    edit_log,
    manifest_rows,
    official_rcp,
    parallel_map,
    ruleset_of,
    set_key,
    snapshot,
)


def ours_as_official(directory, ruleset, **kw) -> dict:
    res = check_rcp_files(sorted(glob.glob(os.path.join(directory, "result_*.txt"))), ruleset, **kw)
    if res.crash:
        return {"crash": res.crash}
    # what <dir>/scaling.json holds after the official set_scaling=True call
    committed = read_scaling(directory)[0] if os.path.exists(f"{directory}/scaling.json") else None
    after = {"write": res.scaling_written, "delete": None, "keep": committed}[res.scaling_action]
    return {
        "passed": res.passed,
        "message": res.message,
        "norm": res.scaling_factor,
        "scaling_json": after,
        "action": res.scaling_action,
    }


def assert_same(ours: dict, theirs: dict, where: str) -> None:
    if "crash" in theirs or "crash" in ours:
        assert ("crash" in theirs) == ("crash" in ours), (where, ours, theirs)
        return
    assert (ours["passed"], ours["message"]) == (theirs["passed"], theirs["message"]), where
    # bit-identical factor, same numeric type (numpy float64 or the 1.0 default)
    assert ours["norm"] == theirs["norm"] and type(ours["norm"]) is type(theirs["norm"]), where
    assert ours["scaling_json"] == theirs["scaling_json"], where


def _official_for(args):
    directory, ruleset = args
    return official_rcp(directory, ruleset)


@pytest.fixture(scope="session")
def corpus_rcp(corpus_dir):
    rows = manifest_rows(corpus_dir)
    jobs = [(str(dir_of(corpus_dir, r)), ruleset_of(r)) for r in rows]
    theirs = parallel_map(_official_for, jobs)
    return rows, jobs, theirs


def test_every_corpus_dir_gets_the_official_rcp_verdict_and_factor(corpus_rcp):
    rows, jobs, theirs = corpus_rcp
    assert len(rows) == 75
    for (directory, ruleset), off, row in zip(jobs, theirs, rows):
        ours = ours_as_official(directory, ruleset)
        assert_same(ours, off, directory)
        # and the recorded official CLI verdict (MANIFEST) says the same
        verdict = ("PASS" if ours["passed"] else "FAIL") + f" ({ours['message']})"
        assert verdict == row["rcp_verdict"], directory


def test_corpus_covers_every_rcp_path(corpus_rcp):
    messages = {off["message"] for off in corpus_rcp[2]}
    assert {"RCP found", "RCP Interpolation"} <= messages
    assert "RCP not found but slower convergence on smaller batch size" in messages
    assert any(m.startswith("Missing RCP") for m in messages)
    assert any(off["scaling_json"] for off in corpus_rcp[2])


def test_statistics_and_pruning_of_every_shipped_table_match_the_official_checker():
    base = os.path.dirname(official.__file__)
    n = 0
    for path in sorted(glob.glob(os.path.join(base, "training_*", "rcps_*.json"))):
        ruleset = os.path.basename(os.path.dirname(path)).split("_")[1]
        bm = os.path.basename(path)[len("rcps_") : -len(".json")]
        if bm not in SUBMISSION_RUNS:  # 'dlrm' tables: the official checker has no run count
            with pytest.raises(KeyError):
                official.RCP_Checker("training", ruleset, bm, False)
            continue
        theirs = official.RCP_Checker("training", ruleset, bm, False)
        ours = RcpTable(ruleset, bm)
        assert list(ours.pruned_rcp_data) == list(theirs.pruned_rcp_data), (ruleset, bm)
        for name, rec in theirs.rcp_data.items():
            for field in ("RCP Mean", "RCP Stdev", "Min Epochs", "Max Speedup"):
                assert ours.rcp_data[name][field] == rec[field], (ruleset, bm, name, field)
        n += 1
    assert n > 80


def test_the_pruning_off_by_one_is_reproduced():
    """logging#368: after a deletion the left neighbour is not re-tested."""
    raw = {
        name: {"Benchmark": "resnet", "BS": bs, "Hyperparams": {}, "Epochs to converge": [m] * 6}
        for name, bs, m in [("a", 100, 10.0), ("b", 200, 14.0), ("c", 300, 30.0), ("d", 400, 16.0)]
    }
    ours = RcpTable("4.0.0", "resnet", raw=json.loads(json.dumps(raw)))
    theirs = official.RCP_Checker.__new__(official.RCP_Checker)
    theirs.__dict__.update(
        benchmark="resnet",
        ruleset="4.0.0",
        usage="training",
        alpha=0.05,
        tolerance=0.0001,
        verbose=False,
        submission_runs=5,
    )
    theirs.rcp_data = dict(
        sorted(
            theirs._process_raw_rcp_data(json.loads(json.dumps(raw))).items(),
            key=lambda i: i[1]["BS"],
        )
    )
    theirs.compute_rcp_stats()
    assert list(ours.pruned_rcp_data) == list(theirs.pruned_rcp_data)
    # c (30 at BS 300) is above the b-d line and goes; b (14 at BS 200) is then above the a-d
    # line (12) too, but it is not re-tested, so it stays: not a lower convex envelope
    assert list(ours.pruned_rcp_data) == ["a", "b", "d"]


@pytest.fixture
def small_dir(corpus_dir, tmp_path):
    rows = [
        r
        for r in manifest_rows(corpus_dir)
        if (r["round"], r["division"], r["submitter"]) == SMALL_ORG
    ]
    src = dir_of(corpus_dir, rows[0])
    dst = tmp_path / "sys" / rows[0]["benchmark"]
    shutil.copytree(src, dst)
    return dst, ruleset_of(rows[0])


def _files(d):
    return sorted(d.glob("result_*.txt"))


CASES = {
    # name: edit applied to the first n files
    "one_aborted": (1, [set_key("run_stop", metadata={"status": "aborted"})]),
    "two_aborted": (2, [set_key("run_stop", metadata={"status": "aborted"})]),
    "no_gbs": (10, [set_key("global_batch_size", drop=True)]),
    "gbs_mismatch": (3, [set_key("global_batch_size", 65536)]),
    "gbs_interpolated": (10, [set_key("global_batch_size", 60000)]),
    "gbs_above_all": (10, [set_key("global_batch_size", 10**7)]),
    "gbs_below_all": (10, [set_key("global_batch_size", 1024)]),
    "too_fast": (10, [set_key("eval_accuracy", metadata={"epoch_num": 0.05})]),
    "no_eval": (1, [set_key("eval_accuracy", drop=True)]),
    "no_benchmark": (10, [set_key("submission_benchmark", drop=True)]),
    "status_missing": (
        1,
        [
            lambda o: (
                {**o, "metadata": {"file": "x.py", "lineno": 1}} if o["key"] == "run_stop" else o
            )
        ],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_edited_dirs_get_the_official_result(small_dir, case):
    directory, ruleset = small_dir
    n, edits = CASES[case]
    for path in _files(directory)[:n]:
        for edit in edits:
            edit_log(path, edit)
    before = snapshot(directory)
    ours = ours_as_official(str(directory), ruleset)
    assert snapshot(directory) == before  # we never write scaling.json
    theirs = official_rcp(str(directory), ruleset)
    assert_same(ours, theirs, case)


def test_bypass_turns_only_the_bypassable_failures_into_a_pass(small_dir):
    directory, ruleset = small_dir
    for path in _files(directory):
        edit_log(path, set_key("eval_accuracy", metadata={"epoch_num": 0.05}))
    files = [str(p) for p in _files(directory)]
    res = check_rcp_files(files, ruleset, bypass=True)
    theirs = official.check_directory(
        str(directory), "training", ruleset, False, False, rcp_pass="pruned_rcps", rcp_bypass=True
    )
    assert (
        (res.passed, res.message)
        == (theirs[0], theirs[1])
        == (True, "RCP found passed using rcp_bypass")
    )
    assert res.bypassed and res.warnings
    for path in _files(directory)[:2]:
        edit_log(path, set_key("run_stop", metadata={"status": "aborted"}))
    res = check_rcp_files(files, ruleset, bypass=True)
    assert (res.passed, res.message) == (False, "Insufficient convergence")  # not bypassable


def test_bert_train_samples_option(corpus_dir):
    row = next(
        r
        for r in manifest_rows(corpus_dir)
        if r["submitter"] == "Krai" and r["benchmark"] == "bert"
    )
    directory = str(dir_of(corpus_dir, row))
    files = sorted(glob.glob(os.path.join(directory, "result_*.txt")))
    res = check_rcp_files(files, ruleset_of(row), bert_train_samples=True)
    run = read_rcp_point(files[0], ruleset_of(row), bert_train_samples=True)
    theirs = official.read_submission_file(files[0], ruleset_of(row), True)
    assert (run.not_converged, run.point, run.bs, run.benchmark) == theirs
    off = official.check_directory(
        directory, "training", ruleset_of(row), False, True, rcp_pass="pruned_rcps"
    )
    assert (res.passed, res.message, res.scaling_factor) == off


def test_points_are_read_like_read_submission_file_on_every_corpus_log(corpus_dir):
    for row in manifest_rows(corpus_dir)[::5]:
        for path in sorted(glob.glob(str(dir_of(corpus_dir, row) / "result_*.txt")))[:3]:
            run = read_rcp_point(path, ruleset_of(row))
            theirs = official.read_submission_file(path, ruleset_of(row), False)
            assert (run.not_converged, run.point, run.bs, run.benchmark) == theirs, path


def test_unreadable_and_garbled_logs_are_crashes_not_exceptions(tmp_path):
    bad = tmp_path / "result_0.txt"
    bad.write_text(':::MLLOG {"key": "global_batch_size", "value": 1, broken\n')
    run = read_rcp_point(str(bad), "5.1.0")
    assert run.crash and "result_0.txt:1" in run.crash
    res = check_rcp_files([str(bad)], "5.1.0")
    assert not res.passed and res.crash and "official rcp_checker crashes" in res.summary()
    bad.write_bytes(b"\x00\xff" * 100)
    res = check_rcp_files([str(bad)], "5.1.0")  # no MLLOG line: no benchmark, a crash officially
    assert not res.passed and res.crash
    res = check_rcp_files([str(tmp_path / "missing.txt")], "5.1.0")
    assert res.crash and "cannot read" in res.crash


def test_ruleset_without_rcp_check_is_a_crash_like_the_official(small_dir):
    directory, _ = small_dir
    files = [str(p) for p in _files(directory)]
    res = check_rcp_files(files, "0.7.0")
    assert res.crash and "only supported" in res.crash
    res = check_rcp_files(files, "4.1.0")  # no dlrm_dcnv2? it has one: then a real result
    assert res.crash is None or "rcps_" in res.crash


def test_apply_scaling_does_exactly_what_the_official_side_effect_does(small_dir, tmp_path):
    directory, ruleset = small_dir
    files = [str(p) for p in _files(directory)]
    twin = tmp_path / "twin" / directory.name
    shutil.copytree(directory, twin)
    official.check_directory(
        str(twin), "training", ruleset, False, False, rcp_pass="pruned_rcps", set_scaling=True
    )
    res = check_rcp_files(files, ruleset)
    assert res.scaling_action == "write"
    (directory / "scaling.json").write_text('{"scaling_factor": 9}')
    assert apply_scaling(str(directory), res) == str(directory / "scaling.json")
    assert (directory / "scaling.json").read_bytes() == (twin / "scaling.json").read_bytes()


@settings(max_examples=300, deadline=None)
@given(
    mean=st.floats(1.0, 1e6),
    spread=st.floats(1e-4, 0.5),
    n_ref=st.integers(1, 60),
    n_subm=st.integers(1, 60),
    where=st.one_of(st.floats(0.0, 1.0), st.floats(-1e-7, 1e-7)),
)
def test_the_t_test_decision_without_scipy_is_the_official_one(mean, spread, n_ref, n_subm, where):
    """_p_above_alpha (no scipy) against the official one-sided p-value > 0.05, on random
    means and on means placed within 1e-7 of the critical t (where it defers to scipy)."""
    from mlperf_submit.compliance import rcp

    stdev = mean * spread
    df = n_ref + n_subm - 2.0
    if abs(where) < 1e-6 and df > 0:  # just around the critical value
        denom = math.sqrt(stdev**2 * (1 / n_ref + 1 / n_subm)) if n_ref > 1 or n_subm > 1 else 1
        mid = mean + rcp._t_critical(df) * (1 + where) * denom
    else:
        mid = mean * where
    ours = rcp._p_above_alpha(mid, stdev, n_ref, mean, stdev, n_subm)
    assert ours == (rcp._p_value(mid, stdev, n_ref, mean, stdev, n_subm) > rcp.ALPHA)


def test_verify_of_a_real_org_never_imports_scipy(corpus_dir):
    """scipy.stats costs 1.6 s to import; the RCP statistics get the official numbers
    without it (the comparisons above prove them equal)."""
    probe = (
        "import sys; from mlperf_submit.cli import main; "
        "code = main(['verify', sys.argv[1], '--no-summary']); "
        "print(sorted(m for m in sys.modules if m.startswith('scipy')))"
    )
    org = corpus_dir.joinpath(*SMALL_ORG)
    proc = subprocess.run([sys.executable, "-c", probe, str(org)], capture_output=True,
                          text=True, timeout=600, check=False)  # fmt: skip
    assert proc.stdout.splitlines()[-1] == "[]", proc.stdout + proc.stderr
