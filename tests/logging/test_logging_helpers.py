"""Helpers: hyperparameters read back from a real torch optimizer / scheduler / config, the
progress metadata per benchmark unit, rule-derived key order, and the mllogger singleton.

    .venv/bin/python -m pytest -q tests/logging/test_logging_helpers.py
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from mlperf_submit.errors import UsageError
from mlperf_submit.logging import (
    MLPerfLogger,
    attr_values,
    configure,
    mllogger,
    optimizer_name,
    optimizer_values,
    singleton,
)
from mlperf_submit.logging.rules_info import order_keys, progress_unit


def _records(path) -> list[dict]:
    return [json.loads(ln[len(":::MLLOG ") :]) for ln in Path(path).read_text().splitlines()]


def _adamw_with_warmup():
    model = torch.nn.Linear(4, 2)
    opt = torch.optim.AdamW(
        [
            {"params": [model.weight], "weight_decay": 0.1},
            {"params": [model.bias], "weight_decay": 0.0},
        ],
        lr=8e-4,
        betas=(0.9, 0.95),
        eps=1e-5,
    )
    sched = torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.01, total_iters=64)
    return opt, sched


def test_optimizer_values_are_the_ones_in_effect():
    opt, sched = _adamw_with_warmup()
    assert opt.param_groups[0]["lr"] == pytest.approx(8e-6)  # warmup has lowered lr...
    fields = {
        "opt_base_learning_rate": "base_lr",  # ...base_lr reads the scheduler's initial_lr
        "opt_adamw_beta_1": ("betas", 0),
        "opt_adamw_beta_2": ("betas", 1),
        "opt_adamw_epsilon": "eps",
    }
    assert optimizer_values(opt, fields) == {
        "opt_base_learning_rate": 8e-4,
        "opt_adamw_beta_1": 0.9,
        "opt_adamw_beta_2": 0.95,
        "opt_adamw_epsilon": 1e-5,
    }
    assert optimizer_values(opt, {"opt_adamw_weight_decay": "weight_decay"}, group=0) == {
        "opt_adamw_weight_decay": 0.1
    }
    assert attr_values(sched, {"opt_learning_rate_warmup_steps": "total_iters"}) == {
        "opt_learning_rate_warmup_steps": 64
    }
    assert optimizer_name(opt) == "adamw"
    assert optimizer_name(torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.1)) == "sgd"


def test_optimizer_values_refuse_ambiguity_and_unknown_fields():
    opt, _ = _adamw_with_warmup()
    with pytest.raises(UsageError, match="disagree on 'weight_decay'.*group=<index>"):
        optimizer_values(opt, {"opt_adamw_weight_decay": "weight_decay"})
    with pytest.raises(UsageError, match="has no 'momentum'"):
        optimizer_values(opt, {"x": "momentum"}, group=0)
    with pytest.raises(UsageError, match="group 5 does not exist"):
        optimizer_values(opt, {"x": "lr"}, group=5)
    with pytest.raises(UsageError, match="has no param_groups"):
        optimizer_values(object(), {"x": "lr"})


@dataclass
class _Cfg:
    global_batch_size: int = 16
    nested: dict | None = None


def test_attr_values_reads_dotted_paths_and_tensors():
    cfg = _Cfg(nested={"clip": torch.tensor(1.0)})
    assert attr_values(
        cfg, {"global_batch_size": "global_batch_size", "opt_gradient_clip_norm": "nested.clip"}
    ) == {"global_batch_size": 16, "opt_gradient_clip_norm": 1.0}
    with pytest.raises(UsageError, match="stopped at 'missing'"):
        attr_values(cfg, {"k": "nested.missing"})


def test_hyperparameters_from_live_objects_pass_llama31_8b_rules(tmp_path):
    opt, sched = _adamw_with_warmup()
    log = MLPerfLogger("llama31_8b", "6.0.0", "closed", tmp_path / "a.log", echo=False)
    log.submission_info(org="O", platform="P")
    log.init_start()
    log.hyperparameters(
        opt_name=optimizer_name(opt),
        **optimizer_values(
            opt,
            {
                "opt_base_learning_rate": "base_lr",
                "opt_adamw_beta_1": ("betas", 0),
                "opt_adamw_beta_2": ("betas", 1),
                "opt_adamw_epsilon": "eps",
                "opt_adamw_weight_decay": "weight_decay",
            },
            group=0,
        ),
        opt_learning_rate_decay_steps=1200000 - sched.total_iters,
        **attr_values(sched, {"opt_learning_rate_warmup_steps": "total_iters"}),
    )  # strict: a wrong value would raise here
    recs = {r["key"]: r["value"] for r in _records(tmp_path / "a.log")}
    assert recs["opt_base_learning_rate"] == 8e-4 and recs["opt_adamw_weight_decay"] == 0.1
    keys = [r["key"] for r in _records(tmp_path / "a.log")]
    assert keys.index("opt_learning_rate_warmup_steps") < keys.index(
        "opt_learning_rate_decay_steps"
    )


def test_order_keys_follows_the_rule_files():
    assert order_keys(
        ["evaluation_frequency", "opt_name", "global_batch_size"], "flux1", "6.1.0", "closed"
    ) == ["global_batch_size", "evaluation_frequency", "opt_name"]
    assert order_keys(["b", "a"], "resnet", "4.0.0", "closed") == ["b", "a"]


@pytest.mark.parametrize(
    ("bm", "rs", "division", "unit"),
    [
        ("resnet", "4.0.0", "closed", "epoch_num"),
        ("bert", "5.0.0", "closed", "epoch_num"),
        ("unet3d", "4.0.0", "closed", "epoch_num"),
        ("dlrm_dcnv2", "6.0.0", "closed", "epoch_num"),
        ("llama31_8b", "6.1.0", "closed", "samples_count"),
        ("llama2_70b_lora", "6.1.0", "closed", "samples_count"),
        ("llama2_70b_lora", "4.0.0", "open", "epoch_num"),  # the open rule file wants epoch_num
        ("flux1", "6.0.0", "closed", "samples_count"),
        ("flux1", "6.1.0", "open", "samples_count"),  # from averaged_validation_loss's CHECK
    ],
)
def test_progress_unit_comes_from_the_rule_file(bm, rs, division, unit):
    assert progress_unit(bm, rs, division) == unit


def test_the_metric_is_also_logged_under_the_key_an_open_rule_file_wants(tmp_path):
    from mlperf_submit.logging.rules_info import metric_aliases

    assert metric_aliases("flux1", "6.0.0", "open") == ("averaged_validation_loss",)
    assert metric_aliases("flux1", "6.1.0", "closed") == ()
    assert metric_aliases("llama31_8b", "6.1.0", "open") == ()
    log = MLPerfLogger("flux1", "6.1.0", "open", tmp_path / "f.log", check="off", echo=False)
    with log.eval(512) as ev:
        ev.accuracy(0.5)
    log.eval_accuracy(0.4, 1024)
    log.close()
    got = [(r["key"], r["value"], r["metadata"]["samples_count"]) for r in _records(tmp_path / "f.log")
           if "accuracy" in r["key"] or "loss" in r["key"]]  # fmt: skip
    assert got == [("eval_accuracy", 0.5, 512), ("averaged_validation_loss", 0.5, 512),
                   ("eval_accuracy", 0.4, 1024), ("averaged_validation_loss", 0.4, 1024)]  # fmt: skip


def test_progress_context_metadata(tmp_path):
    epochs = MLPerfLogger("resnet", "4.0.0", "closed", tmp_path / "e.log", check="off", echo=False)
    with epochs.block(1, 4), epochs.epoch(1), epochs.eval(4, {"extra": 1}) as ev:
        ev.accuracy(0.5)
    epochs.close()
    samples = MLPerfLogger(
        "llama31_8b", "6.0.0", "closed", tmp_path / "s.log", check="off", echo=False
    )
    with samples.block(12288, 12288), samples.eval(24576) as ev:
        ev.accuracy(3.5)
    samples.eval_accuracy(3.4, 36864)
    samples.close()

    def strip(recs):
        drop = ("file", "lineno")
        return [(r["key"], {k: v for k, v in r["metadata"].items() if k not in drop}) for r in recs]

    assert strip(_records(tmp_path / "e.log")) == [
        ("block_start", {"first_epoch_num": 1, "epoch_count": 4}),
        ("epoch_start", {"epoch_num": 1}),
        ("eval_start", {"epoch_num": 4, "extra": 1}),
        ("eval_accuracy", {"epoch_num": 4, "extra": 1}),
        ("eval_stop", {"epoch_num": 4, "extra": 1}),
        ("epoch_stop", {"epoch_num": 1}),
        ("block_stop", {"first_epoch_num": 1}),
    ]
    assert strip(_records(tmp_path / "s.log")) == [
        ("block_start", {"samples_count": 12288}),
        ("eval_start", {"samples_count": 24576}),
        ("eval_accuracy", {"samples_count": 24576}),
        ("eval_stop", {"samples_count": 24576}),
        ("block_stop", {"samples_count": 24576}),
        ("eval_accuracy", {"samples_count": 36864}),
    ]


def test_no_stop_line_when_the_body_raises(tmp_path):
    log = MLPerfLogger("resnet", "4.0.0", "closed", tmp_path / "a.log", check="off", echo=False)
    with pytest.raises(RuntimeError), log.block(1, 1):
        raise RuntimeError("diverged")
    log.close()
    assert [r["key"] for r in _records(tmp_path / "a.log")] == ["block_start"]


def test_singleton_before_and_after_configure(tmp_path, monkeypatch):
    monkeypatch.setattr(singleton, "_current", None)
    with pytest.raises(UsageError, match="not configured yet: call .*configure"):
        mllogger.event("seed", 1)
    first = configure("resnet", "4.0.0", "closed", tmp_path / "a.log", check="off", echo=False)
    mllogger.event("seed", 1)
    second = configure("bert", "5.0.0", "closed", tmp_path / "b.log", check="off", echo=False)
    mllogger.event("seed", 2)
    assert mllogger.benchmark == "bert" and first is not second
    second.close()
    assert [r["value"] for r in _records(tmp_path / "a.log")] == [1]
    assert [r["value"] for r in _records(tmp_path / "b.log")] == [2]
    assert _records(tmp_path / "b.log")[0]["metadata"]["file"] == str(Path(__file__).resolve())
