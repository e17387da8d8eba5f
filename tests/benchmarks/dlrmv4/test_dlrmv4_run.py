"""dlrmv4 against the benchmark contract it can meet, and the tiny run against the one it cannot.

dlrmv4 is built but not in ``registry.BENCHMARKS`` (README, dlrmv4 section): 6.1.0's
``open_dlrmv4.yaml`` pins ``train_samples`` and ``eval_samples`` to Yambda-5b's and the LR to a
band around ``1e-6 x GBS / 8192``, so no run on synthetic data -- the contract's tiny run, make
submit's campaign -- can pass the official open checker of its only round. Here the contract's
own checks run for it with the registry extended for the test (self-description, the closed
presets' --log-only init sections, hyperparameters read back, warm-up, gradient accumulation),
and the tiny run is checked for convergence, its run boundary, and for failing exactly those
open rules and nothing else.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlperf_submit.benchmarks import registry
from mlperf_submit.benchmarks.common.config import apply_overrides
from mlperf_submit.benchmarks.common.interface import RunContext
from mlperf_submit.benchmarks.common.trainer import SubmissionInfo, Trainer
from mlperf_submit.benchmarks.dlrmv4.benchmark import DLRMv4Benchmark
from mlperf_submit.compliance.filecheck import check_file
from mlperf_submit.logging import MLPerfLogger
from tests.benchmarks import test_contract as contract
from tests.compliance.official_inprocess import official_messages

OPEN_RULES_SYNTHETIC_DATA_FAILS = DLRMv4Benchmark.tiny_scale_rules


@pytest.fixture
def registered(monkeypatch):
    monkeypatch.setattr(registry, "BENCHMARKS", (*registry.BENCHMARKS, "dlrmv4"))


def test_the_contract_checks_dlrmv4_can_meet(registered, train_cli, tmp_path):
    contract.test_the_benchmark_describes_itself("dlrmv4")
    for preset in contract.closed_presets("dlrmv4"):
        contract.test_closed_preset_init_section_passes_the_closed_rules(
            "dlrmv4", preset, "6.1.0", train_cli, tmp_path / preset
        )
    for check in (
        contract.test_hyperparameters_are_read_back_from_the_objects_in_effect,
        contract.test_warm_up_leaves_model_and_optimizer_as_built,
        contract.test_gradient_accumulation_gives_the_whole_batch_update,
    ):
        where = tmp_path / check.__name__
        where.mkdir()
        check("dlrmv4", where)


def _records(log: Path) -> list[dict]:
    return [json.loads(ln.split(":::MLLOG ", 1)[1]) for ln in log.read_text().splitlines()]


def test_tiny_converges_and_fails_only_the_open_rules_that_pin_yambda(tmp_path):
    from fs_watch import DirWatch

    cfg = apply_overrides(DLRMv4Benchmark.presets["tiny"](), ["loop.warmup_steps=1"])
    ctx = RunContext(
        seed=1, data_dir=tmp_path / "syn", synthetic=True, division="open", ruleset="6.1.0",
        preset="tiny",
    )  # fmt: skip
    bm = DLRMv4Benchmark(cfg, ctx)
    data_dir = bm.prepare_synthetic(tmp_path / "syn")
    log = tmp_path / "tiny.log"
    logger = MLPerfLogger("dlrmv4", "6.1.0", "open", str(log), check="off", echo=False)
    read_before: list[str] = []
    real_build_data = bm.build_data

    def build_data():
        read_before.extend(watch.drain())
        return real_build_data()

    bm.build_data = build_data
    with DirWatch(data_dir) as watch:
        result = Trainer(bm, logger, submission=SubmissionInfo(org="X", platform="1xCPU")).train()
        read_during = watch.drain()
    assert result.converged, result.evals
    assert read_before == [] and any(not p.endswith("/") for p in read_during)
    assert result.evals[-1][1] >= 0.75
    keys = [r["key"] for r in _records(log)]
    assert keys.index("init_stop") < keys.index("run_start") < keys.index("train_samples")
    # Our checker and the official one reject exactly the rules that pin Yambda-5b.
    errors = check_file(log, "6.1.0").errors
    assert {f.key for f in errors} == set(OPEN_RULES_SYNTHETIC_DATA_FAILS), [
        f.message for f in errors
    ]
    for f in errors:
        assert OPEN_RULES_SYNTHETIC_DATA_FAILS[f.key] in (f.rule or ""), f.message
    verdict, messages = official_messages(str(log), "6.1.0")
    assert verdict == "fail"
    assert all(any(k in m for k in OPEN_RULES_SYNTHETIC_DATA_FAILS) for m in messages), messages
