"""The benchmark contract: what every registered benchmark must satisfy, checked for each one.

A new benchmark gets every test here by adding its name to ``benchmarks/registry.py``:

- it describes itself (rounds the official package has, the progress unit of its rule files,
  a closed target in every round, docs, a metric label that agrees with the rules' meaning,
  presets that validate, a closed preset and a non-closed ``tiny``);
- its ``tiny`` preset converges on synthetic data, reading no dataset file before run_start,
  with the model, optimizer, pipeline and warm-up inside init, and its log passes the official
  compliance checker (open division) for every round it claims;
- every closed preset's ``--log-only`` init section passes the official closed rules of every
  round;
- every logged hyperparameter is read back from the objects in effect, not from the config;
- warm-up leaves the model and the optimizer exactly as they were built;
- gradient accumulation over K micro-batches gives the update of the whole batch;
- a run killed with SIGKILL leaves a log prefix the checkers read.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from tiny_runs import CONTRACT_SEED, records

from mlperf_submit.benchmarks import registry
from mlperf_submit.benchmarks.common.config import LoopConfig, apply_overrides, validate
from mlperf_submit.benchmarks.common.interface import RunContext
from mlperf_submit.benchmarks.common.trainer import Trainer
from mlperf_submit.compliance import meta
from mlperf_submit.compliance.filecheck import check_file
from mlperf_submit.compliance.init_section import init_section_errors, is_run_section_finding
from mlperf_submit.compliance.parser import LogLine, iter_file
from mlperf_submit.compliance.quality_metrics import quality_metric
from mlperf_submit.launch.distributed.seeding import derive_seed
from mlperf_submit.logging import MLPerfLogger
from mlperf_submit.logging.rules_info import progress_unit
from tests.compliance.official_inprocess import official_messages

REPO = Path(__file__).resolve().parents[2]
READY = registry.ready()


def _normalised(message: str) -> str:
    """The official checker lists AT_LEAST_ONE_OR alternatives in set order (it varies with
    PYTHONHASHSEED): compare them as a set."""
    if message.startswith("Required AT_LEAST_ONE occurrence of ") and " or " in message:
        names = sorted(message.split("occurrence of ", 1)[1].split(" or "))
        return "Required AT_LEAST_ONE occurrence of " + " or ".join(names)
    return message


def expected_open_failures(name, ruleset) -> set[str]:
    """The official open rules a correct tiny log of ``name`` fails in ``ruleset``: the
    full-scale values it declares (tiny_scale_rules) and the round's quirk, by rule text."""
    cls = bench(name)
    want = {rule.strip() for rule in cls.tiny_scale_rules.values()}
    if ruleset in cls.open_rules_quirks:
        want.add(cls.open_rules_quirks[ruleset].strip())
    return want


def official_rules(messages) -> set[str]:
    """The failing rule of each official message (its ``failed test:`` line, else the text)."""
    return {
        m.split("failed test:", 1)[1].split("\n", 1)[0].strip() if "failed test:" in m else m
        for m in messages
    }


def bench(name):
    return registry.get_benchmark(name)


def rounds_of(name):
    return [(name, rs) for rs in bench(name).rounds]


def closed_presets(name):
    cls = bench(name)
    return [p for p, make in cls.presets.items() if not cls.closed_problems(make())]


def all_rounds():
    return [pair for name in READY for pair in rounds_of(name)]


def all_closed():
    return [(n, p, rs) for n in READY for p in closed_presets(n) for rs in bench(n).rounds]


# -- the class describes itself ---------------------------------------------------------------
@pytest.mark.parametrize("name", READY)
def test_the_benchmark_describes_itself(name):
    cls = bench(name)
    assert cls.name == name
    official = meta.rulesets_with(name)
    assert cls.rounds and list(cls.rounds) == sorted(cls.rounds, key=meta.version_key)
    assert set(cls.rounds) <= set(official), f"{name}: rounds outside {official}"
    assert cls.default_ruleset() == cls.rounds[-1]
    for rs in cls.rounds:
        assert progress_unit(name, rs, "closed") == cls.progress_unit, rs
        assert cls.closed_target(rs) > 0, rs
    assert cls.metric_label.strip()
    if quality_metric(name) is not None:
        assert cls.metric_label == quality_metric(name)
    assert cls.docs.validate(name) == []
    assert "tiny" in cls.presets
    fields = {f.name for f in dataclasses.fields(cls.config_class)}
    assert {"loop", "target"} <= fields, "a config needs loop: LoopConfig and target"
    for preset, make in cls.presets.items():
        cfg = make()
        assert isinstance(cfg, cls.config_class) and isinstance(cfg.loop, LoopConfig), preset
        validate(cfg)
    assert cls.closed_problems(cls.presets["tiny"]()), "tiny must not pass as closed"
    assert closed_presets(name), f"{name}: no preset is a closed-division configuration"
    for problem in cls.closed_problems(cls.presets["tiny"]()):
        assert ":" in problem and problem.split(":")[0].strip(), problem  # names the key


# -- the tiny run -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", READY)
def test_tiny_converges_with_the_run_boundary_kept(name, tiny_runs):
    run = tiny_runs.get(name)
    assert run.result.converged, run.result.evals
    for stage in ("build_model", "build_optimizer", "prepare_pipeline", "warmup_batch"):
        keys = run.keys_at[stage]
        assert "init_start" in keys and "init_stop" not in keys, stage
    assert run.keys_at["build_data"][-1] == "run_start"
    assert run.reads_before_build_data == [], "a dataset file was read before run_start"
    # the watch works: the run did read its data
    assert any(not p.endswith("/") for p in run.reads_during_run)
    cls = bench(name)
    values = [v for _, v in run.result.evals]
    better = (lambda a, b: a >= b) if cls.higher_is_better else (lambda a, b: a <= b)
    assert better(values[-1], cls.run_target(cls.presets["tiny"]()))
    report = check_file(run.log, run.ruleset)
    assert {f.rule.strip() for f in report.errors} == expected_open_failures(name, run.ruleset)
    assert report.facts.run_stop_status == "success"
    assert run.values["seed"] == CONTRACT_SEED


@pytest.mark.parametrize("name, ruleset", all_rounds())
def test_tiny_log_passes_the_official_checker_in_every_round(name, ruleset, tiny_runs):
    run = tiny_runs.get(name)
    verdict, messages = official_messages(str(run.log), ruleset)
    expected = expected_open_failures(name, ruleset)
    ours = {f.rule.strip() for f in check_file(run.log, ruleset).errors}
    assert verdict == ("fail" if expected else "pass"), messages
    # A round's broken open file (quirk) or a declared full-scale rule: exactly those fail.
    assert official_rules(messages) == ours == expected, messages


# -- closed presets ---------------------------------------------------------------------------
@pytest.mark.parametrize("name, preset, ruleset", all_closed())
def test_closed_preset_init_section_passes_the_closed_rules(
    name, preset, ruleset, train_cli, tmp_path
):
    log = tmp_path / "init.log"
    rc, out, err = train_cli(
        name, "--preset", preset, "--log-only", "--log", log, "--seed", 4, "--ruleset", ruleset
    )
    assert rc == 0, err
    assert init_section_errors(check_file(log, ruleset)) == []
    verdict, messages = official_messages(str(log), ruleset)
    assert verdict != "crash", messages
    report = check_file(log, ruleset)
    run_section = {_normalised(f.message) for f in report.errors if is_run_section_finding(f)}
    official = {_normalised(m) for m in messages}
    assert official <= run_section, official - run_section
    assert records(log)[-1]["key"] == "init_stop"


# -- hyperparameters are read back ------------------------------------------------------------
def _trainer(name, tmp_path, overrides=(), seed=11):
    cls = bench(name)
    cfg = apply_overrides(cls.presets["tiny"](), list(overrides))
    rs = cls.default_ruleset()
    ctx = RunContext(seed=seed, division="open", ruleset=rs, preset="tiny")
    logger = MLPerfLogger(
        name, rs, "open", str(tmp_path / f"{name}-{seed}.log"), check="off", echo=False
    )
    return Trainer(cls(cfg, ctx), logger)


def _perturbed(cfg):
    """A copy of ``cfg`` with every int and float leaf changed (frozen dataclasses included)."""
    out = copy.deepcopy(cfg)

    def walk(obj):
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if dataclasses.is_dataclass(value):
                walk(value)
            elif isinstance(value, bool) or not isinstance(value, int | float):
                continue
            else:
                new = value * 3 + 7 if isinstance(value, int) else value * 1.37 + 0.013
                object.__setattr__(obj, f.name, new)

    walk(out)
    return out


@pytest.mark.parametrize("name", READY)
def test_hyperparameters_are_read_back_from_the_objects_in_effect(name, tmp_path):
    trainer = _trainer(name, tmp_path)
    trainer.build()
    bm, opt, sched = trainer.bm, trainer.optimizer, trainer.scheduler
    logged = bm.hyperparameters(opt, sched)
    bm.cfg = _perturbed(bm.cfg)  # the objects stay; only the config they came from changes
    again = bm.hyperparameters(opt, sched)
    for key in set(logged) - bm.config_hyperparameters:
        assert again[key] == logged[key], f"{key} follows the config, not the objects in effect"
    trainer.logger.close()


# -- warm-up ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", READY)
def test_warm_up_leaves_model_and_optimizer_as_built(name, tmp_path):
    trainer = _trainer(name, tmp_path, ["loop.warmup_steps=2"])
    trainer.init()
    torch.manual_seed(derive_seed(11, 0, "model"))
    fresh = trainer.bm.build_model().state_dict()
    warmed = trainer.model.state_dict()
    assert fresh.keys() == warmed.keys()
    for k in fresh:
        assert torch.equal(fresh[k], warmed[k]), k
    assert trainer.optimizer.state_dict()["state"] == {}
    if trainer.scheduler is not None:
        assert trainer.scheduler.last_epoch == 0
    trainer.logger.close()


# -- gradient accumulation --------------------------------------------------------------------
@pytest.mark.parametrize("name", READY)
def test_gradient_accumulation_gives_the_whole_batch_update(name, tmp_path):
    """Two steps on the same batches with K = 1 and K = a divisor of the local batch; the model
    in eval mode, so that batch statistics (batch norm) and dropout do not depend on the split:
    what is compared is the loop's splitting and 1/K loss scaling."""
    probe = _trainer(name, tmp_path / "probe")
    local = probe.bm.global_batch_size() // probe.ctx.world_size
    k = next((d for d in (2, 3, 4, 5) if local % d == 0), None)
    assert k is not None, f"{name}: make tiny's per-rank batch ({local}) divisible by 2"
    probe.logger.close()
    runs = []
    for steps in (1, k):
        trainer = _trainer(
            name, tmp_path / f"k{steps}", [f"loop.gradient_accumulation_steps={steps}"]
        )
        trainer.build()
        trainer.model.eval()
        batch = trainer.bm.warmup_batch()
        losses = [float(trainer.train_step(batch)[0]) for _ in range(2)]
        runs.append((losses, [p.detach().clone() for p in trainer.model.parameters()]))
        trainer.logger.close()
    (l1, p1), (lk, pk) = runs
    assert lk == pytest.approx(l1, rel=1e-4, abs=1e-6)
    moved = _trainer(name, tmp_path / "fresh")
    moved.build()
    assert max((a - b).abs().max().item() for a, b in zip(moved.model.parameters(), p1)) > 0
    moved.logger.close()
    for a, b in zip(p1, pk):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-5)


# -- crash safety -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", READY)
def test_a_run_killed_with_sigkill_leaves_a_log_prefix_the_checkers_read(name, tiny_runs, tmp_path):
    run = tiny_runs.get(name)  # its synthetic data is prepared: the child does not write it
    log = tmp_path / "killed.log"
    warn = ["--check", "warn"] if bench(name).tiny_scale_rules else []
    child = subprocess.Popen(
        [sys.executable, "-m", "mlperf_submit", "train", name, "--preset", "tiny", "--seed", "2",
         "--log", str(log), "--synthetic", str(tiny_runs.synthetic_root), *warn],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"},
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and child.poll() is None:
            if log.exists() and '"run_start"' in log.read_text(errors="replace"):
                break
            time.sleep(0.05)
        os.killpg(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
    assert child.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    items = list(iter_file(log))
    assert items and all(type(item) is LogLine for item in items)
    report = check_file(log, run.ruleset)
    assert report.official_crash is None
    # Only what an unfinished log lacks (and the declared full-scale rules) fails.
    declared = expected_open_failures(name, run.ruleset)
    unfinished = [f for f in report.errors if (f.rule or "").strip() not in declared]
    assert {f.kind for f in unfinished} <= {"req", "target", "alternatives"}
    verdict, messages = official_messages(str(log), run.ruleset)
    assert verdict == "fail" and not any("Traceback" in m for m in messages)
