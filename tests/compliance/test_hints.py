"""The official traps get a fix hint on the finding they cause (the verdict stays official)."""

from __future__ import annotations

from mlperf_submit.cli import main
from mlperf_submit.compliance.filecheck import check_file

from .test_rules_engine import line, llama_head


def _write(tmp_path, lines):
    path = tmp_path / "log.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def _tail():
    return [
        line("block_start", None, t=10, samples_count=0),
        line("block_stop", None, t=11, samples_count=32),
        line("eval_accuracy", 3.2, t=12, samples_count=32),
        line("run_stop", None, t=13, status="success"),
    ]


def test_a_well_ordered_log_passes(tmp_path):
    assert check_file(_write(tmp_path, llama_head() + _tail()), "6.0.0").passed


def test_submission_division_after_init_stop_fails_with_the_reason(tmp_path, capsys):
    head = llama_head()
    division = next(x for x in head if '"submission_division"' in x)
    head.remove(division)
    head.insert(head.index(next(x for x in head if '"init_stop"' in x)) + 1, division)
    path = _write(tmp_path, head + _tail())
    report = check_file(path, "6.0.0")
    assert not report.passed
    finding = next(f for f in report.errors if f.key == "init_stop")
    assert "compile_time_mins" in finding.rule
    assert "log the submission_* keys before init_stop" in finding.hint
    assert main(["check", str(path), "--ruleset", "6.0.0"]) == 1
    assert "before init_stop" in capsys.readouterr().out


def test_decay_steps_before_warmup_fails_with_the_reason(tmp_path):
    head = llama_head()
    warmup = next(x for x in head if '"opt_learning_rate_warmup_steps"' in x)
    head.remove(warmup)
    head.insert(
        head.index(next(x for x in head if '"opt_learning_rate_decay_steps"' in x)) + 1, warmup
    )
    report = check_file(_write(tmp_path, head + _tail()), "6.0.0")
    assert not report.passed
    finding = next(f for f in report.errors if f.key == "opt_learning_rate_decay_steps")
    assert finding.kind == "exec"
    assert "before opt_learning_rate_decay_steps" in finding.hint
    # the official file line of the offending key is named
    assert (
        finding.file_lineno
        == head.index(next(x for x in head if '"opt_learning_rate_decay_steps"' in x)) + 1
    )


def test_an_unknown_benchmark_says_which_rulesets_have_it(tmp_path):
    head = [x.replace('"llama31_8b"', '"resnet"') for x in llama_head("open")]
    report = check_file(_write(tmp_path, head + _tail()), "6.0.0")
    assert not report.passed and report.official_crash
    assert "4.0.0" in report.official_crash_finding.hint
