"""``mlperf-submit check``: exit codes 0/1/2, the default ruleset, human and JSON output, bad
input without tracebacks, --official, and a light start-up (no torch, no scipy)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from mlperf_submit.cli import main
from mlperf_submit.compliance.report_format import SCHEMA

from .runset_fixtures import SMALL_ORG, SMALL_ORG_RULESET, copy_tree, manifest_rows, snapshot

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def small_org(corpus_dir):
    return corpus_dir.joinpath(*SMALL_ORG)


@pytest.fixture(scope="module")
def small_dir(small_org):
    return next(small_org.glob("results/*/*"))


def check(capsys, *args):
    code = main(["check", *map(str, args)])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_a_passing_log_with_the_default_ruleset_printed(capsys, small_dir):
    code, out, _ = check(capsys, small_dir / "result_0.txt")
    assert code == 0
    assert "ruleset 6.0.0: default: newest ruleset with dlrm_dcnv2" in out
    assert out.splitlines()[1].startswith("PASS") and "min)" in out.splitlines()[1]
    assert out.splitlines()[-1] == "1 checked, 1 compliant, 0 not compliant"


def test_a_failing_log_names_file_and_line(capsys, corpus_dir):
    log = corpus_dir / "v3.1/closed/NVIDIA/results/eos_n8_ngc23.04_pytorch/maskrcnn/result_0.txt"
    code, out, _ = check(capsys, log, "--ruleset", "3.1.0")
    assert code == 1
    lines = out.splitlines()
    assert lines[1].startswith("FAIL") and "Failed checks for eval_accuracy" in lines[2]
    assert "fix:" in out


def test_json_for_a_failing_log_has_line_numbers(capsys, corpus_dir):
    log = corpus_dir / "v3.1/closed/NVIDIA/results/eos_n8_ngc23.04_pytorch/maskrcnn/result_0.txt"
    code, out, _ = check(capsys, log, "--ruleset", "3.1.0", "--json")
    doc = json.loads(out)
    assert code == 1 == doc["exit_code"] and doc["schema"] == SCHEMA and not doc["passed"]
    report = doc["targets"][0]["report"]
    assert report["verdict"] == "FAIL" and report["benchmark"] == "maskrcnn"
    assert all(e["file_lineno"] is None or e["file_lineno"] >= 1 for e in report["errors"])
    assert {"severity", "kind", "message", "key", "lineno", "file_lineno", "rule", "hint"} <= set(
        report["errors"][0]
    )


def test_a_result_dir_prints_runs_score_and_rcp(capsys, small_dir):
    code, out, _ = check(capsys, small_dir, "--ruleset", SMALL_ORG_RULESET)
    assert code == 0
    line = next(ln for ln in out.splitlines() if ln.startswith("PASS") and "10/10 runs" in ln)
    assert "score 2.3399 min" in line and "RCP passed: RCP found" in line


def test_an_org_in_json_matches_the_official_score(capsys, corpus_dir, small_org):
    code, out, _ = check(capsys, small_org, "--json")
    assert code == 0
    doc = json.loads(out)
    t = doc["targets"][0]
    assert t["kind"] == "org" and t["ruleset"] == "6.0.0" and t["verdict"] == "PASS"
    d = t["report"]["dirs"][0]
    row = next(
        r for r in manifest_rows(corpus_dir) if (r["round"], r["submitter"]) == ("v5.1", "Dell")
    )
    code, out, _ = check(capsys, small_org, "--json", "--ruleset", "5.1.0")
    d = json.loads(out)["targets"][0]["report"]["dirs"][0]
    assert abs(d["score"]["minutes"] - float(row["official_score_minutes"])) <= 1e-9
    assert d["rcp"]["applies"] and d["rcp"]["message"] == "RCP found"
    assert d["rcp"]["scaling_action"] == "write" and d["seeds"]["checked"]
    assert len(d["runs"]) == 10 and d["runs"][0]["seeds"][0]["value"] == 6886


def test_a_system_dir_expands_to_its_result_dirs_and_a_system_json_is_checked(capsys, small_org):
    system_dir = next(small_org.glob("results/*"))
    code, out, _ = check(capsys, system_dir, next(small_org.glob("systems/*.json")), "--quiet")
    assert code == 0 and out.strip() == "2 checked, 2 compliant, 0 not compliant"


def test_a_dir_of_campaign_logs(capsys, small_dir, tmp_path):
    for i, src in enumerate(sorted(small_dir.glob("result_*.txt"))):
        (tmp_path / f"run_{i}.log").write_bytes(src.read_bytes())
    code, out, _ = check(capsys, tmp_path, "--ruleset", SMALL_ORG_RULESET)
    assert code == 0 and "dlrm_dcnv2, 10/10 runs" in out


def test_quiet_prints_only_failures(capsys, small_org, tmp_path):
    org = copy_tree(small_org, tmp_path / "Dell")
    next(org.glob("results/*/*/result_3.txt")).write_text("garbage\n")
    next(org.glob("results/*/*/result_4.txt")).write_bytes(b"\x00\xff" * 64)
    code, out, _ = check(capsys, org, "--quiet", "--ruleset", SMALL_ORG_RULESET)
    assert code == 1
    assert "PASS" not in out
    assert "no ':::MLLOG ' line at all" in out and "2 files do not comply" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/nonexistent/log.txt"], "no such file or directory"),
        (["--ruleset", "9.9.9", "{file}"], "unknown ruleset '9.9.9'"),
        (["{empty_dir}"], "nothing to check here"),
    ],
)
def test_unusable_input_exits_2_with_a_message(capsys, small_dir, tmp_path, args, message):
    (tmp_path / "empty").mkdir()
    fill = {"file": small_dir / "result_0.txt", "empty_dir": tmp_path / "empty"}
    code, out, err = check(capsys, *[a.format(**fill) for a in args])
    assert code == 2 and message in err and out == ""


def test_a_dir_whose_benchmark_is_not_in_the_ruleset_exits_2_and_says_where_it_is(
    capsys, small_dir
):
    code, out, _ = check(capsys, small_dir, "--ruleset", "6.1.0")
    assert code == 2
    assert "Skipping benchmark: dlrm_dcnv2" in out and "6.0.0" in out


def test_an_org_mixing_rounds_needs_an_explicit_ruleset(capsys, small_org, corpus_dir, tmp_path):
    org = copy_tree(small_org, tmp_path / "Dell")
    system_dir = next(org.glob("results/*"))
    copy_tree(next(corpus_dir.glob("v4.0/closed/tinycorp/results/*/resnet")), system_dir / "resnet")
    copy_tree(next(system_dir.glob("dlrm_dcnv2")), system_dir / "llama31_8b")  # >= 5.1 only
    code, _, err = check(capsys, org)
    assert code == 2 and "no single ruleset contains every benchmark" in err and "--ruleset" in err


def test_binary_and_empty_logs_fail_cleanly(capsys, tmp_path):
    (tmp_path / "bin.txt").write_bytes(bytes(range(256)) * 20)
    (tmp_path / "empty.log").write_text("")
    code, out, _ = check(capsys, tmp_path / "bin.txt", tmp_path / "empty.log")
    assert code == 1 and out.count("FAIL") == 2 and "no ':::MLLOG ' line at all" in out


@pytest.mark.official
def test_official_on_a_log_lists_no_disagreement(capsys, small_dir):
    code, out, _ = check(capsys, small_dir / "result_1.txt", "--official", "--ruleset", "5.1.0")
    assert code == 0
    assert "official compliance_checker: PASS  SUCCESS" in out
    assert out.splitlines()[-1].endswith("0 disagreement(s) with the official tools")


def test_the_console_script_is_light_and_never_prints_a_traceback(small_dir, tmp_path):
    probe = (
        "import sys; from mlperf_submit.cli import main; code = main(sys.argv[1:]); "
        "print(sorted(m for m in ('torch', 'scipy', 'pandas') if m in sys.modules)); sys.exit(code)"
    )
    env = dict(os.environ, PYTHONPATH=REPO)
    run = subprocess.run(
        [sys.executable, "-c", probe, "check", "--quiet", str(small_dir / "result_0.txt")],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert run.returncode == 0 and run.stdout.splitlines()[-1] == "[]"
    bad = tmp_path / "x.txt"
    bad.write_text(':::MLLOG {"key": "run_start", "value": null}\n')  # no time_ms: official crash
    run = subprocess.run(
        [sys.executable, "-m", "mlperf_submit", "check", str(bad)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert run.returncode == 1 and "Traceback" not in run.stdout + run.stderr
    assert "FAIL" in run.stdout


def test_an_internal_error_is_a_message_not_a_traceback(capsys, small_dir, monkeypatch):
    from mlperf_submit.compliance import command

    def broken(*args, **kw):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(command, "check_target", broken)
    code, out, err = check(capsys, small_dir / "result_0.txt")
    assert code == 2 and "internal error while checking (ZeroDivisionError: boom)" in err
    monkeypatch.setenv("MLPERF_SUBMIT_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        main(["check", str(small_dir / "result_0.txt")])


def _cli(*args, cwd):
    env = dict(os.environ, PYTHONPATH=REPO)
    return subprocess.run(
        [sys.executable, "-m", "mlperf_submit", "check", *map(str, args)],
        capture_output=True, text=True, env=env, cwd=cwd, check=False, timeout=300,
    )  # fmt: skip


def test_paths_are_printed_as_given_from_any_directory(corpus_dir, tmp_path):
    """As compilers do: the path as typed, or the typed directory joined with what was found
    in it; never relative to the cwd, never shortened (a clone may live anywhere)."""
    log = corpus_dir / "v3.1/closed/NVIDIA/results/eos_n8_ngc23.04_pytorch/maskrcnn/result_0.txt"
    where = tmp_path / "with space" / "logs"
    where.mkdir(parents=True)
    (where / "bad.txt").write_bytes(log.read_bytes())
    typed = [
        (str(where / "bad.txt"), "/", str(where / "bad.txt")),  # absolute, from /
        ("with space/logs/bad.txt", tmp_path, "with space/logs/bad.txt"),  # relative
        ("./with space//logs/", tmp_path, "./with space//logs/bad.txt"),  # a dir, odd spelling
    ]
    for arg, cwd, shown in typed:
        proc = _cli(arg, "--ruleset", "3.1.0", cwd=cwd)
        assert proc.returncode == 1, proc.stderr
        lines = proc.stdout.splitlines()
        assert any(ln.strip() == f"FAIL  {shown}" for ln in lines), proc.stdout
        reasons = [ln.strip() for ln in lines if "Failed checks for eval_accuracy" in ln]
        assert reasons and all(r.startswith(f"{shown}:") for r in reasons), reasons
        paths = [ln for ln in lines if "with space" in ln]
        assert paths and not any("..." in ln or "\u2026" in ln for ln in paths), paths


def test_a_dir_without_scaling_json_shows_the_score_the_official_flow_publishes(
    corpus_dir, tmp_path
):
    """Before packaging there is no scaling.json: the score is the olympic mean x the factor
    package_checker will write (HPE v4.0 llama2_70b_lora: 19.0918 x 1.034722 = 19.7548, the
    published number), with the raw mean and the factor beside it; nothing is written."""
    row = next(r for r in manifest_rows(corpus_dir) if (r["round"], r["submitter"], r["benchmark"])
               == ("v4.0", "HPE", "llama2_70b_lora"))  # fmt: skip
    src = corpus_dir / "v4.0/closed/HPE/results" / row["system"] / "llama2_70b_lora"
    bm_dir = copy_tree(src, tmp_path / "llama2_70b_lora")
    (bm_dir / "scaling.json").unlink()
    before = snapshot(bm_dir)
    text = _cli(bm_dir, "--ruleset", "4.0.0", cwd=tmp_path)
    doc = _cli(bm_dir, "--ruleset", "4.0.0", "--json", cwd=tmp_path)
    assert text.returncode == doc.returncode == 0, text.stdout + text.stderr
    assert snapshot(bm_dir) == before, "check must not write into the result dir"
    score = json.loads(doc.stdout)["targets"][0]["report"]["score"]
    assert abs(score["minutes"] - float(row["official_score_minutes"])) <= 1e-9
    assert abs(score["raw_minutes"] - float(row["raw_olympic_minutes"])) <= 1e-9
    assert score["scaling_factor"] == float(row["committed_scaling_factor"])
    assert score["scaling_source"] == "rcp" and score["scaling_file"] is None
    assert score["summarizer_minutes"] == score["raw_minutes"]
    line = next(ln for ln in text.stdout.splitlines() if ln.startswith("PASS"))
    assert "score 19.7548 min (olympic mean 19.0918 x 1.03472, the RCP normalisation" in line
    for out in (text.stdout, doc.stdout):
        assert "np." not in out and "float64" not in out and "'" not in out.replace("'s", "")
