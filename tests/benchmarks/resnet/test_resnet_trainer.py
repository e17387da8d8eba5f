"""The Trainer's stages on resnet beyond the contract test (tests/benchmarks/test_contract.py,
which runs the default DALI loader):

- the run boundary with the torch DataLoader too (watched with inotify: PIL's reads);
- a benchmark that rescales its LR after building the optimizer logs the LR in effect;
- the budget ends a run with run_stop aborted (exit 3), the target with success (exit 0).
"""

from __future__ import annotations

import json

from fs_watch import DirWatch

from mlperf_submit.benchmarks.common.config import apply_overrides
from mlperf_submit.benchmarks.common.interface import RunContext
from mlperf_submit.benchmarks.common.trainer import Trainer
from mlperf_submit.benchmarks.resnet.benchmark import ResNetBenchmark
from mlperf_submit.benchmarks.resnet.config import tiny
from mlperf_submit.compliance.filecheck import check_file
from mlperf_submit.logging import MLPerfLogger


def logged_keys(path) -> list[str]:
    if not path.exists():
        return []
    return [json.loads(ln.split(":::MLLOG ", 1)[1])["key"] for ln in path.read_text().splitlines()]


def make_trainer(tmp_path, data_root, overrides=(), bm_cls=ResNetBenchmark, seed=11):
    cfg = apply_overrides(tiny(), list(overrides))
    ctx = RunContext(
        seed=seed, data_dir=data_root, synthetic=True, division="open", ruleset="4.0.0",
        preset="tiny",
    )  # fmt: skip
    bm = bm_cls(cfg, ctx)
    log = tmp_path / "run.log"
    logger = MLPerfLogger("resnet", "4.0.0", "open", str(log), check="strict", echo=False)
    return Trainer(bm, logger), bm, log


def test_no_data_read_before_run_start_with_the_torch_loader(tmp_path, tiny_imagenet):
    loader = "torch"
    trainer, bm, log = make_trainer(
        tmp_path, tiny_imagenet, [f"data.loader={loader}", "loop.warmup_steps=1"]
    )
    seen: dict[str, list[str]] = {}

    def spy(name):
        real = getattr(bm, name)

        def call(*a, **kw):
            seen[name] = logged_keys(log)
            if name == "build_data":
                seen["reads_before_build_data"] = watch.drain()
            return real(*a, **kw)

        setattr(bm, name, call)

    for name in (
        "build_model",
        "build_optimizer",
        "prepare_pipeline",
        "warmup_batch",
        "build_data",
    ):
        spy(name)
    with DirWatch(tiny_imagenet) as watch:
        result = trainer.train()
        reads_after = watch.drain()

    assert result.converged
    for stage in ("build_model", "build_optimizer", "prepare_pipeline", "warmup_batch"):
        assert "init_start" in seen[stage] and "init_stop" not in seen[stage], stage
    assert seen["build_data"][-1] == "run_start"
    assert seen["reads_before_build_data"] == []
    # the watch works: the run did read the train and val images
    assert any(p.endswith(".JPEG") and "/train/" in p for p in reads_after)
    assert any(p.endswith(".JPEG") and "/val/" in p for p in reads_after)
    assert check_file(log, "4.0.0").passed


class ScaledLR(ResNetBenchmark):
    """A benchmark that rescales its LR after building the optimizer (as LR scaling rules do)."""

    def build_optimizer(self, model):
        opt, sched = super().build_optimizer(model)
        for g in opt.param_groups:
            g["initial_lr"] *= 2
        sched.base_lrs = [lr * 2 for lr in sched.base_lrs]
        return opt, sched


def test_hyperparameters_are_read_back_from_the_objects(tmp_path, tiny_imagenet):
    trainer, bm, log = make_trainer(tmp_path, tiny_imagenet, bm_cls=ScaledLR)
    trainer.init()
    trainer.logger.close()
    values = {}
    for ln in log.read_text().splitlines():
        rec = json.loads(ln.split(":::MLLOG ", 1)[1])
        values[rec["key"]] = rec["value"]
    assert values["lars_opt_base_learning_rate"] == 2 * bm.cfg.optim.base_lr
    assert values["lars_opt_weight_decay"] == trainer.optimizer.param_groups[0]["weight_decay"]
    assert values["lars_opt_learning_rate_warmup_epochs"] == trainer.scheduler.warmup_epochs
    assert values["global_batch_size"] == bm.cfg.data.batch_size
    assert values["seed"] == 11


def test_budget_ends_the_run_aborted(tmp_path, tiny_imagenet, train_cli):
    log = tmp_path / "short.log"
    rc, out, err = train_cli(
        "resnet", "--seed", 3, "--log", log, "--synthetic", tiny_imagenet,
        "schedule.max_epochs=1", "optim.base_lr=0.0001",
    )  # fmt: skip
    assert rc == 3, err
    report = check_file(log, "4.0.0")
    assert report.passed and report.facts.run_stop_status == "aborted"
    assert [e[0] for e in report.facts.evals] == [1]


def test_wall_clock_budget_stops_after_the_block(tmp_path, tiny_imagenet, train_cli):
    log = tmp_path / "timed.log"
    rc, out, err = train_cli(
        "resnet", "--seed", 3, "--log", log, "--synthetic", tiny_imagenet,
        "schedule.eval_offset=1", "loop.max_minutes=0.00001", "optim.base_lr=0.0001",
    )  # fmt: skip
    assert rc == 3, err
    report = check_file(log, "4.0.0")
    assert report.facts.run_stop_status == "aborted"
    assert [e[0] for e in report.facts.evals] == [1]
