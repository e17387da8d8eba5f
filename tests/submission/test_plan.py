"""The make submit plan (round per benchmark, run counts) and submit.sh's refusals."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlperf_submit.errors import UsageError
from mlperf_submit.submission.plan import PlanItem, main, make_plan

REPO = Path(__file__).resolve().parents[2]


def test_default_plan_puts_each_benchmark_in_its_newest_round():
    plan = {p.benchmark: p for p in make_plan(None, None, None)}
    assert plan["resnet"] == PlanItem("resnet", "4.0.0", 5)
    assert plan["llama31_8b"] == PlanItem("llama31_8b", "6.1.0", 10)


def test_round_and_runs_variables():
    assert make_plan(["resnet"], "3.1.0", 7) == [PlanItem("resnet", "3.1.0", 7)]


@pytest.mark.parametrize(
    ("benchmarks", "round_", "runs", "message"),
    [
        (["resnet"], "6.1.0", None, "'resnet' is in rulesets"),
        (["no_such_bm"], None, None, "unknown benchmark 'no_such_bm'"),
        (["resnet"], "9.9.9", None, "unknown ruleset"),
        (["resnet"], None, 3, "below the 5 runs package_checker requires"),
        (["resnet"], None, 0, "positive number"),
    ],
)
def test_bad_variables(benchmarks, round_, runs, message):
    with pytest.raises(UsageError, match=message):
        make_plan(benchmarks, round_, runs)


def test_cli_prints_lines_and_exit_2_on_bad_input(capsys):
    assert main(["--benchmarks", "resnet"]) == 0
    assert capsys.readouterr().out == "resnet 4.0.0 5\n"
    assert main(["--runs", "many"]) == 2
    assert "RUNS='many'" in capsys.readouterr().err


def _submit(tmp_path, **env):
    full = dict(os.environ, PY=sys.executable, **env)
    return subprocess.run(["bash", str(REPO / "scripts" / "submit.sh")], cwd=tmp_path, env=full,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_submit_sh_stops_on_a_bad_variable(tmp_path):
    proc = _submit(tmp_path, BENCHMARKS="nope", OUT=str(tmp_path / "out"))
    assert proc.returncode == 2
    assert "unknown benchmark 'nope'" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_submit_sh_refuses_an_out_it_did_not_write(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    proc = _submit(tmp_path, BENCHMARKS="resnet", OUT=str(out))
    assert proc.returncode == 2
    assert "was not written by make submit" in proc.stderr
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
