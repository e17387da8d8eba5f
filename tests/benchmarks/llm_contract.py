"""The benchmark contract for an LLM benchmark whose tiny run cannot meet the official *open*
rules (they fix the full-scale sequence length, evaluation set or global batch).

``closed_llama31_405b.yaml``'s open twin demands ``max_sequence_length == 8192`` and
``eval_samples == 5760`` (47M evaluated tokens), ``open_deepseekv3_671b.yaml`` a global batch
>= 15,360 sequences of 4,096 tokens: no CPU run in seconds meets them, and logging other values
than the run used would be a lie. Such a benchmark declares those rules on its class
(``tiny_scale_rules``: MLPerf key -> the rule text) and stays out of ``registry.BENCHMARKS``
until the contract test accepts that declaration; meanwhile its own tests run every contract
check through the same code:

* :func:`contract_checks` calls the contract test's own functions (self-description, each
  closed preset's ``--log-only`` init section in every round, hyperparameters read back,
  warm-up restore, gradient accumulation) with the benchmark registered for the call;
* :func:`tiny_run` makes the tiny run the contract makes (same seed, same watch on the dataset
  directory, one warm-up step), with the online checker warning instead of stopping, and
  :func:`open_failures` says which official rules its log fails in a round.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from fs_watch import DirWatch
from tiny_runs import CONTRACT_ORG, CONTRACT_SEED, records

STAGES = ("build_model", "build_optimizer", "prepare_pipeline", "warmup_batch", "build_data")


@contextlib.contextmanager
def registered(name: str):
    """``name`` in ``registry.BENCHMARKS`` for the duration (the CLI and the contract find it)."""
    from mlperf_submit.benchmarks import registry

    saved = registry.BENCHMARKS
    registry.BENCHMARKS = (*saved, name) if name not in saved else saved
    try:
        yield
    finally:
        registry.BENCHMARKS = saved


def contract_checks(name: str, tmp_path: Path, train_cli) -> None:
    """Every contract check that does not need the tiny log to pass the open rules."""
    import test_contract as contract

    with registered(name):
        contract.test_the_benchmark_describes_itself(name)
        for preset in contract.closed_presets(name):
            for ruleset in contract.bench(name).rounds:
                out = tmp_path / f"closed-{preset}-{ruleset}"
                out.mkdir()
                contract.test_closed_preset_init_section_passes_the_closed_rules(
                    name, preset, ruleset, train_cli, out
                )
        for check in (
            contract.test_hyperparameters_are_read_back_from_the_objects_in_effect,
            contract.test_warm_up_leaves_model_and_optimizer_as_built,
            contract.test_gradient_accumulation_gives_the_whole_batch_update,
        ):
            out = tmp_path / check.__name__
            out.mkdir()
            check(name, out)


@dataclass
class TinyRun:
    log: Path
    data_dir: Path
    result: object = None
    reads_before_build_data: list[str] = field(default_factory=list)
    reads_during_run: list[str] = field(default_factory=list)
    keys_at: dict[str, list[str]] = field(default_factory=dict)


def tiny_run(cls, root: Path, out: Path, overrides=()) -> TinyRun:
    """The contract's tiny run of ``cls`` (seed, warm-up step, watched data directory), its
    online checker in ``warn`` mode."""
    from mlperf_submit.benchmarks.common.config import apply_overrides
    from mlperf_submit.benchmarks.common.interface import RunContext
    from mlperf_submit.benchmarks.common.trainer import SubmissionInfo, Trainer
    from mlperf_submit.logging import MLPerfLogger

    rs = cls.default_ruleset()
    cfg = apply_overrides(cls.presets["tiny"](), ["loop.warmup_steps=1", *overrides])
    ctx = RunContext(seed=CONTRACT_SEED, data_dir=root, synthetic=True, division="open",
                     ruleset=rs, preset="tiny")  # fmt: skip
    bm = cls(cfg, ctx)
    data_dir = bm.prepare_synthetic(root)
    log = out / f"{cls.name}.log"
    logger = MLPerfLogger(cls.name, rs, "open", str(log), check="warn", echo=False)
    run = TinyRun(log, data_dir)
    trainer = Trainer(bm, logger, submission=SubmissionInfo(org=CONTRACT_ORG, platform="1xCPU"))
    with DirWatch(data_dir) as watch:
        for stage in STAGES:
            real = getattr(bm, stage)

            def spy(*a, _real=real, _stage=stage, **kw):
                run.keys_at[_stage] = [r["key"] for r in records(log)] if log.exists() else []
                if _stage == "build_data":
                    run.reads_before_build_data = watch.drain()
                return _real(*a, **kw)

            setattr(bm, stage, spy)
        run.result = trainer.train()
        run.reads_during_run = watch.drain()
    return run


def assert_tiny_contract(cls, run: TinyRun) -> None:
    """The contract's tiny-run assertions, less "the log passes the open rules"."""
    assert run.result.converged, run.result.evals
    for stage in STAGES[:-1]:
        keys = run.keys_at[stage]
        assert "init_start" in keys and "init_stop" not in keys, stage
    assert run.keys_at["build_data"][-1] == "run_start"
    assert run.reads_before_build_data == [], "a dataset file was read before run_start"
    assert any(not p.endswith("/") for p in run.reads_during_run)
    assert run.result.evals[-1][1] <= cls.run_target(cls.presets["tiny"]())
    assert {r["key"]: r["value"] for r in records(run.log)}["seed"] == CONTRACT_SEED


def open_failures(log: Path, ruleset: str) -> tuple[str, set[tuple[str, str]], set[tuple]]:
    """(official verdict, {(key, rule)} our checker reports, {(key, rule)} in the official
    messages) of ``log`` under the open rules of ``ruleset``."""
    from mlperf_submit.compliance.filecheck import check_file
    from tests.compliance.official_inprocess import official_messages

    verdict, messages = official_messages(str(log), ruleset)
    ours = {(f.key, f.rule.strip()) for f in check_file(log, ruleset).errors}
    official = set()
    for m in messages:
        key = m.split("'")[1] if m.startswith("CHECK for '") else None
        rule = m.split("failed test:", 1)[1].split("\n", 1)[0].strip() if "failed test:" in m else m
        official.add((key, rule))
    return verdict, ours, official


def expected_open_failures(cls, ruleset: str) -> set[tuple[str, str]]:
    """The scale rules of ``cls`` plus the round's official quirk (a rule the open file gets
    wrong for every benchmark of the family, e.g. 'epoch_num' on eval_accuracy)."""
    want = {(k, r.strip()) for k, r in cls.tiny_scale_rules.items()}
    quirk = cls.open_rules_quirks.get(ruleset)
    if quirk is not None:
        want.add(("eval_accuracy", quirk))
    return want


REPO = Path(__file__).resolve().parents[2]


def launch_train(n: int, *argv, timeout: float = 600) -> list[tuple[int, str]]:
    """``n`` real processes of ``python -m mlperf_submit train ...`` joined by gloo through the
    variables torchrun sets; [(exit code, output)] per rank."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    procs = []
    for rank in range(n):
        env = dict(os.environ, RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(n),
                   LOCAL_WORLD_SIZE=str(n), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
                   OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))  # fmt: skip
        cmd = [sys.executable, "-m", "mlperf_submit", "train", *map(str, argv)]
        procs.append(subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True))  # fmt: skip
    results = []
    try:
        for p in procs:
            out, _ = p.communicate(timeout=timeout)
            results.append((p.returncode, out))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    return results
