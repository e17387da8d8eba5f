"""preflight: the right answer for every closed preset of every registered benchmark, and known
answers for an RCP batch size, an interpolated one and one without RCP.

"Right" is what the official rcp_checker says about a run set of the preset's global batch size
(run in-process on a minimal run set whose points sit at the band's edge), and what the rules
text says about the evaluation schedule (compliance/eval_schedule.py). The init section of
every closed preset is the contract test's (tests/benchmarks/test_contract.py); here it is
exercised through preflight once per benchmark family.
"""

from __future__ import annotations

import json

import pytest

from mlperf_submit.benchmarks import registry
from mlperf_submit.compliance.rcp import SUBMISSION_RUNS
from mlperf_submit.preflight.config_check import assess_facts, config_facts, preset_shape
from tests.compliance.rcp_logs import write_run_set
from tests.compliance.runset_fixtures import official_rcp


def closed_presets() -> list[tuple[str, str]]:
    out = []
    for name in registry.ready():
        cls = registry.get_benchmark(name)
        out += [(name, p) for p, make in cls.presets.items() if not cls.closed_problems(make())]
    return out


def _report(benchmark, preset, *overrides, init_section=False, **kw):
    facts = config_facts(
        benchmark, preset, overrides=list(overrides), init_section=init_section, **kw
    )
    rep = assess_facts(facts)
    return facts, rep


def _official_says(tmp_path, rep):
    """The official checker on a run set of the preset's batch size, points at the band's
    lower edge (or far slower where no band exists)."""
    bm, bs, n = rep.benchmark, rep.global_batch_size, SUBMISSION_RUNS[rep.benchmark]
    r = rep.rcp
    point = 10**8 if r.threshold is None else round(r.threshold + 1, 3)
    write_run_set(tmp_path / "runs", bm, bs, [point] * n)
    return official_rcp(str(tmp_path / "runs"), rep.ruleset, set_scaling=False)


@pytest.mark.parametrize(("benchmark", "preset"), closed_presets())
def test_every_closed_preset_gets_the_official_rcp_answer(tmp_path, benchmark, preset):
    facts, rep = _report(benchmark, preset)
    assert not facts.closed_problems
    shape = preset_shape(preset)
    if shape:  # the MLPerf name gives the hardware
        assert (facts.nodes, facts.nproc_per_node) == shape
    theirs = _official_says(tmp_path, rep)
    if rep.rcp.kind == "no_table":
        assert "crash" in theirs
    elif rep.rcp.kind == "not_checked":
        pass
    else:
        assert theirs["message"] == rep.rcp.message, (rep.lines(), theirs)
        assert theirs["passed"] is rep.rcp.can_pass
    # the exit code follows the RCP and the closed problems, nothing else unknown
    assert rep.passed == (rep.rcp.can_pass and not facts.closed_problems)
    if rep.schedule is not None and rep.planned_evals:
        assert rep.schedule.unit == facts.progress_unit or any(
            "not compared" in w for w in rep.warnings
        )


def test_resnet_known_answers(tmp_path):
    # 1 node x 8 GPUs x 400 = 3200: between the 1632 and 3264 records (4.0.0 table)
    facts, rep = _report("resnet", "config_DGXH100_1x8x400", init_section=True)
    assert facts.global_batch_size == 3200 and not facts.init_errors and facts.logged
    assert rep.rcp.kind == "interpolated"
    assert (rep.rcp.low[1], rep.rcp.high[1]) == (1632, 3264)
    assert rep.required_runs == 5 and rep.passed
    assert rep.schedule.interval == 4 and rep.planned_evals[:3] == [3.0, 7.0, 11.0]
    # 408 per GPU = 3264: the record itself
    _, exact = _report("resnet", "config_DGXH100_1x8x400", "data.batch_size=408")
    assert (exact.rcp.kind, exact.rcp.record) == ("found", "resnet_ref_3264")
    # 100 nodes x 8 x 204 = 163200: above every record, nearest that splits over 800 ranks
    _, big = _report("resnet", "config_DGXH100_8x8x204", nodes=100)
    assert big.global_batch_size == 163200 and big.rcp.kind == "missing"
    assert big.rcp.nearest == [67200, 67840] and not big.passed
    assert any("nearest batch sizes that work: 67200, 67840" in p for p in big.problems)
    theirs = _official_says(tmp_path, big)
    assert (theirs["passed"], theirs["message"]) == (False, big.rcp.message)


def test_llama31_8b_known_answers():
    facts, rep = _report("llama31_8b", "8b", init_section=True)
    assert facts.global_batch_size == 32 and not facts.init_errors
    assert (rep.rcp.kind, rep.rcp.record, rep.passed) == ("found", "llama31_8b_ref_32", True)
    assert rep.schedule.first == 12288 and rep.planned_evals[:2] == [12288.0, 24576.0]
    assert not rep.warnings, rep.warnings
    _, mid = _report("llama31_8b", "8b", "data.global_batch_size=48")
    assert mid.rcp.kind == "interpolated" and (mid.rcp.low[1], mid.rcp.high[1]) == (32, 64)
    assert mid.planned_evals[0] == 12288  # 12288 is a multiple of 48
    _, none = _report("llama31_8b", "8b", "data.global_batch_size=256", nproc_per_node=8)
    assert none.rcp.kind == "missing" and none.rcp.nearest == [128] and not none.passed
    _, small = _report("llama31_8b", "8b", "data.global_batch_size=8")
    assert small.rcp.kind == "smaller" and small.passed
    assert any("below every RCP" in w for w in small.warnings)
    # another learning rate than the reference runs of the record: a warning
    _, lr = _report("llama31_8b", "8b", "optim.base_lr=0.001", init_section=True)
    assert any(w.startswith("opt_base_learning_rate = 0.001") for w in lr.warnings)


def test_a_non_closed_preset_cannot_pass():
    facts, rep = _report("llama31_8b", "tiny")
    assert facts.closed_problems and not rep.passed
    assert any("not a closed configuration" in p for p in rep.problems)


def test_cli_exit_codes_and_json(capsys):
    from mlperf_submit.cli import main

    assert main(["preflight", "llama31_8b", "--preset", "8b", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["schema"] == "mlperf-submit-preflight/1" and data["passed"] is True
    assert data["rcp"]["record"] == "llama31_8b_ref_32" and data["required_runs"] == 10
    assert data["eval_schedule"]["interval"] == 12288
    code = main(["preflight", "llama31_8b", "--preset", "8b", "data.global_batch_size=256"])
    out = capsys.readouterr().out
    assert code == 1 and "CANNOT pass" in out and "128" in out
    assert main(["preflight", "llama31_8b", "--preset", "nope"]) == 2
    assert "has no preset" in capsys.readouterr().err
    assert main(["preflight", "llama31_8b", "--preset", "8b", "--nodes", "0"]) == 2
    assert "at least 1" in capsys.readouterr().err
