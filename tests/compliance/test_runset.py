"""Run sets: the olympic score of all 75 corpus dirs equals the official one (1e-9), the RCP
verdict equals the official CLI's, failing runs are the official ones; directory rules (count,
names, tolerance, power, status) follow package_checker. Nothing is written to the input."""

from __future__ import annotations

import json
import shutil
import warnings

import pytest
from mlperf_logging.package_checker.power_checker import PowerChecker

from mlperf_submit.compliance.runset import (
    check_power,
    check_result_dir,
    check_result_files,
    result_files,
)
from mlperf_submit.errors import InputError

from .runset_fixtures import (
    SMALL_ORG,
    SMALL_ORG_RULESET,
    dir_of,
    edit_log,
    manifest_rows,
    org_of,
    ruleset_of,
    set_key,
    snapshot,
)


@pytest.fixture(scope="session")
def corpus_dirs(corpus_dir):
    out = []
    for row in manifest_rows(corpus_dir):
        system = json.loads(
            (org_of(corpus_dir, row) / "systems" / f"{row['system']}.json").read_text()
        )
        rep = check_result_dir(str(dir_of(corpus_dir, row)), ruleset_of(row), system["division"])
        out.append((row, rep))
    assert len(out) == 75
    return out


def test_scores_equal_the_official_scores_of_all_75_dirs(corpus_dirs):
    for row, rep in corpus_dirs:
        assert abs(rep.score.minutes - float(row["official_score_minutes"])) <= 1e-9, rep.path
        assert abs(rep.score.raw_minutes - float(row["raw_olympic_minutes"])) <= 1e-9, rep.path
        committed = row["committed_scaling_factor"]
        assert rep.score.scaling_factor == (float(committed) if committed else 1.0), rep.path
        assert (rep.score.scaling_file is not None) == bool(committed)


def test_failing_runs_and_drops_equal_the_official_ones(corpus_dirs):
    for row, rep in corpus_dirs:
        assert len(rep.failing) == int(row["n_compliance_failures"]), rep.path
        assert rep.score.dropped == rep.failing
        assert rep.n_runs == int(row["n_files"]) == rep.required_runs
    dropped = {rep.score.dropped[0] for _, rep in corpus_dirs if rep.score.dropped}
    assert dropped == {"result_0", "result_2"}  # NVIDIA v3.1 maskrcnn, tinycorp v4.1 bert


def test_rcp_verdicts_equal_the_official_rcp_checker_for_closed_dirs(corpus_dirs):
    n_closed = 0
    for row, rep in corpus_dirs:
        if row["division"] == "open":
            assert not rep.rcp_applies and rep.rcp is None and not rep.closed
            assert rep.seeds_checked is False
            continue
        n_closed += 1
        verdict = ("PASS" if rep.rcp.passed else "FAIL") + f" ({rep.rcp.message})"
        assert verdict == row["rcp_verdict"], rep.path
    assert n_closed == 73


def test_published_dirs_the_official_tool_rejects_fail_for_its_reasons(corpus_dirs):
    failing = {
        (row["round"], row["submitter"], row["benchmark"]): rep
        for row, rep in corpus_dirs
        if not rep.passed
    }
    assert set(failing) == {
        ("v3.1", "Intel-HabanaLabs", "bert"),
        ("v3.1", "Intel-HabanaLabs", "resnet"),
        ("v3.1", "Dell", "unet3d"),
        ("v3.1", "NVIDIA", "dlrm_dcnv2"),
        ("v4.0", "GigaComputing", "dlrm_dcnv2"),
    }
    for key, rep in failing.items():
        messages = [f.message for f in rep.errors]
        if key[1] == "Dell":
            assert messages == ["RCP Test Failed: Missing RCP, please submit RCP with BS = 28"]
            assert "mlcommons/logging" in rep.errors[0].hint
        else:
            assert messages[-1] == "Seed checker failed"
            assert all(m.endswith("logs no seed.") for m in messages[:-1])


def test_checking_never_writes_to_the_input(corpus_dir):
    row = next(
        r
        for r in manifest_rows(corpus_dir)
        if r["committed_scaling_factor"] and r["n_files"] == "5"
    )
    directory = dir_of(corpus_dir, row)
    before = snapshot(directory)
    rep = check_result_dir(str(directory), ruleset_of(row), "closed")
    assert rep.rcp.scaling_action in ("write", "delete")  # the official tool would touch it
    assert snapshot(directory) == before


@pytest.fixture
def small(corpus_dir, tmp_path):
    src = next(corpus_dir.joinpath(*SMALL_ORG, "results").glob("*/*"))
    dst = tmp_path / src.parent.name / src.name
    shutil.copytree(src, dst)
    return dst


def test_small_dir_passes_with_division_from_the_logs(small):
    rep = check_result_dir(str(small), SMALL_ORG_RULESET)
    assert rep.passed and rep.closed and rep.seeds_checked and rep.rcp_applies
    assert rep.division == "closed" and rep.system == small.parent.name


def test_wrong_run_count_is_an_error_with_the_official_message(small):
    (small / "result_9.txt").rename(small / "run_9.txt")
    rep = check_result_dir(str(small), SMALL_ORG_RULESET)
    assert not rep.passed
    assert rep.errors[0].message == (
        f"Incorrect number of files in dir, or wrong file names in directory {small}, found 9, expected 10"
    )
    assert [f.message.split(" ")[0] for f in rep.warnings[:2]] == ["Detected", "Unknown"]


def test_one_failing_run_is_accepted_two_are_not(small):
    edit_log(small / "result_3.txt", set_key("run_stop", drop=True))
    rep = check_result_dir(str(small), SMALL_ORG_RULESET)
    assert rep.passed and rep.failing == ["result_3"]
    assert any(
        "1 file does not comply, accepting this under olympic scoring" in f.message
        for f in rep.warnings
    )
    assert rep.score.dropped == ["result_3"] and rep.score.minutes is not None
    edit_log(small / "result_5.txt", set_key("run_stop", drop=True))
    rep = check_result_dir(str(small), SMALL_ORG_RULESET)
    assert not rep.passed
    assert any(
        f.message.startswith("2 files do not comply, directory cannot be accepted")
        for f in rep.errors
    )
    assert rep.score.minutes is None and rep.score.too_many_failures


def test_unet3d_tolerates_four_failing_runs(corpus_dir, tmp_path):
    row = next(
        r for r in manifest_rows(corpus_dir) if r["benchmark"] == "unet3d" and r["round"] == "v4.0"
    )
    d = tmp_path / "sys" / "unet3d"
    shutil.copytree(dir_of(corpus_dir, row), d)
    for i in range(4):
        edit_log(d / f"result_{i}.txt", set_key("run_stop", drop=True))
    rep = check_result_dir(str(d), "4.0.0", "open")  # open: no RCP, only the tolerance
    assert rep.passed and len(rep.failing) == 4
    assert any("4 files do not comply, accepting this" in f.message for f in rep.warnings)
    edit_log(d / "result_4.txt", set_key("run_stop", drop=True))
    rep = check_result_dir(str(d), "4.0.0", "open")
    assert not rep.passed and rep.score.minutes is None


def test_a_run_stop_that_is_not_success_is_reported(small):
    edit_log(small / "result_1.txt", set_key("run_stop", metadata={"status": "aborted"}))
    rep = check_result_dir(str(small), SMALL_ORG_RULESET)
    assert rep.not_success == [("result_1", "aborted")]
    assert any(
        f.kind == "status" and "counts it as not converged" in f.message for f in rep.warnings
    )
    assert rep.rcp.points[1] == 1e9 and rep.passed  # one non-converged run is allowed


def test_open_division_reports_seeds_as_information_and_no_rcp(small):
    edit_log(small / "result_0.txt", set_key("seed", drop=True))
    rep = check_result_dir(str(small), SMALL_ORG_RULESET, "open")
    assert rep.passed and not rep.rcp_applies and not rep.seeds_checked
    assert rep.seeds and all(f.severity == "warning" for f in rep.seeds)
    rep = check_result_dir(str(small), SMALL_ORG_RULESET, "closed")
    assert not rep.passed and rep.errors[-1].message == "Seed checker failed"
    rep = check_result_dir(str(small), SMALL_ORG_RULESET, "closed", seed_bypass=True)
    assert rep.passed and rep.seed_bypass


def test_benchmark_not_in_the_ruleset_is_skipped_with_where_it_is(small):
    rep = check_result_dir(str(small), "6.1.0")
    assert rep.verdict == "SKIP" and rep.passed
    assert "Skipping benchmark: dlrm_dcnv2" in rep.skipped and "6.0.0" in rep.skipped


def test_a_garbled_scaling_json_is_an_error_not_an_exception(small):
    (small / "scaling.json").write_text("{oops")
    rep = check_result_dir(str(small), SMALL_ORG_RULESET)
    assert not rep.passed and any(
        f.kind == "scaling" and "scaling.json" in f.message for f in rep.errors
    )


def test_a_loose_set_of_logs(small):
    files = [str(p) for p in result_files(str(small))]
    rep = check_result_files(files, SMALL_ORG_RULESET)
    assert rep.passed and rep.benchmark == "dlrm_dcnv2" and rep.closed
    rep2 = check_result_dir(str(small), SMALL_ORG_RULESET)
    assert rep.score.raw_minutes == rep2.score.raw_minutes
    rep = check_result_files(files[:4], SMALL_ORG_RULESET)
    assert not rep.passed and "found 4 runs of dlrm_dcnv2, expected 10" in rep.errors[0].message


def test_not_a_directory(tmp_path):
    with pytest.raises(InputError, match="not a directory"):
        check_result_dir(str(tmp_path / "nope"), "4.0.0")


# ---------------------------------------------------------------- power


def _power(small, counts):
    files = result_files(str(small))
    for f, (nodes, sws) in zip(files, counts):
        run = small / "power" / f.rsplit("/", 1)[1][:-4]
        run.mkdir(parents=True)
        for j in nodes:  # a repeated index gets another extension (node_0.txt, node_0.log)
            name = f"node_{j}.txt" if not (run / f"node_{j}.txt").exists() else f"node_{j}.log"
            (run / name).write_text("")
        for k in sws:
            (run / f"sw_{k}.txt").write_text("")
    return files


def _official_power(small, files):
    return PowerChecker(SMALL_ORG_RULESET).check_power(str(small / "power"), files)[1]


@pytest.mark.parametrize(
    "counts",
    [
        [([0, 1], [0])] * 10,
        [([0, 1], [0])] * 9 + [([0, 2], [0])],  # bad index
        [([0, 1], [0])] * 9 + [([0], [0])],  # inconsistent node count
        [([0, 0], [0])] * 10,  # duplicate index: the official range test does not see it
        [([0, 1], [0])] * 8,  # two runs without a power folder
        [([0], [0])] + [([0, 1], [0])] * 2,  # missing runs shift the official blame
    ],
    ids=["ok", "bad_index", "inconsistent", "duplicate", "missing", "shifted_blame"],
)
def test_power_checks_equal_the_official_power_checker(small, counts):
    files = _power(small, counts)
    errors, findings = check_power(str(small / "power"), files)
    assert errors == _official_power(small, files)
    if counts[0] == ([0, 0], [0]):
        assert not errors and any("duplicate" in f.message for f in findings)


def test_an_empty_power_dir_is_the_official_crash(small):
    (small / "power").mkdir()
    rep = check_result_dir(str(small), SMALL_ORG_RULESET)
    assert not rep.passed and rep.official_crash and "power checker" in rep.official_crash
    with pytest.raises(ValueError):
        _official_power(small, result_files(str(small)))


def test_power_failures_count_toward_the_olympic_tolerance(small):
    _power(small, [([0, 1], [0])] * 8)
    rep = check_result_dir(str(small), SMALL_ORG_RULESET)
    assert rep.power_failing == ["result_8", "result_9"] and not rep.passed


def test_a_directory_or_dangling_link_named_like_a_result_is_a_failing_run(small):
    (small / "result_9.txt").unlink()
    (small / "result_9.txt").mkdir()
    (small / "result_8.txt").unlink()
    (small / "result_8.txt").symlink_to(small / "nowhere")
    rep = check_result_dir(str(small), SMALL_ORG_RULESET)
    assert not rep.passed and rep.failing == ["result_8", "result_9"]
    crashed = [fr for fr in rep.files if fr.official_crash]
    assert len(crashed) == 2 and all("official tools crash" in fr.official_crash for fr in crashed)
    assert "is a directory" in crashed[1].reasons(1)[0]


def _seed_edit(mode: str):
    def edit(obj):
        if obj.get("key") != "seed":
            return obj
        md = dict(obj.get("metadata") or {})
        if mode in ("null", "null-same"):
            md.update(file=None, lineno=None)
        if mode == "null-same":
            obj["value"] = 42
        if mode == "no-file":
            md.pop("file", None)
        obj["metadata"] = md
        return obj

    return edit


@pytest.mark.parametrize(
    ("mode", "official_errors"),
    [
        ("null", lambda n: 0),  # explicit nulls are a record (None, None, seed): distinct pass
        ("null-same", lambda n: n - 1),  # ... the same seed on that "line": n - 1 duplicates
        ("no-file", lambda n: n),  # an absent key is a KeyError, one error per file
    ],
)
def test_seed_metadata_null_and_missing_as_the_official_seed_checker(small, mode, official_errors):
    from mlperf_logging.package_checker.seed_checker import SeedChecker

    files = sorted(small.glob("result_*.txt"))
    official_errors = official_errors(len(files))
    for f in files:
        edit_log(f, _seed_edit(mode))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = SeedChecker(SMALL_ORG_RULESET)._assert_unique_seed_per_run([str(f) for f in files])
    assert len(theirs) == official_errors
    rep = check_result_dir(str(small), SMALL_ORG_RULESET, "closed")
    ours = [f for f in rep.seeds if f.severity == "error"]
    assert len(ours) == official_errors
    assert rep.passed == (official_errors == 0)
