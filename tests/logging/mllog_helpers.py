"""Shared helpers for the logging tests: the official checker in-process, minimal logs, replay.

``official_verdict`` runs ``mlperf_logging.compliance_checker.mlp_compliance`` in this process
(the CLI costs ~0.2 s of start-up per file). Its module-level ``enqueued_configs`` queue survives
a crash, so it is emptied before and after every run.
"""

from __future__ import annotations

import logging

from mlperf_logging.compliance_checker import mlp_compliance

from mlperf_submit.compliance.filecheck import check_file
from mlperf_submit.compliance.parser import LogLine, iter_file
from mlperf_submit.errors import UsageError
from mlperf_submit.logging import ComplianceError, MLPerfLogger

T0 = 1_700_000_000_000

# The seven (benchmark, ruleset) pairs of the acceptance list, closed division.
PAIRS = [
    ("resnet", "4.0.0"),
    ("bert", "5.0.0"),
    ("llama31_8b", "6.0.0"),
    ("llama31_8b", "6.1.0"),
    ("dlrm_dcnv2", "6.0.0"),
    ("unet3d", "4.0.0"),
    ("llama2_70b_lora", "6.1.0"),
]

_EXTRA_610 = {
    "lowest_numerical_precision_in_linear": "fp32",
    "lowest_numerical_precision_in_attn": "fp32",
    "lowest_numerical_precision_in_comm": "fp32",
    "tensor_parallelism": 1,
    "pipeline_parallelism": 1,
    "context_parallelism": 1,
    "expert_parallelism": 1,
    "micro_batch_size": 2,
    "config_filename": "config_1xCPU.sh",
}

# Hyperparameters (in a deliberately unhelpful order where the rules care) and a value that
# meets the quality target, per pair.
HPARAMS: dict[tuple[str, str], dict] = {
    ("resnet", "4.0.0"): {
        "global_batch_size": 256,
        "opt_name": "sgd",
        "sgd_opt_base_learning_rate": 0.1,
        "sgd_opt_end_learning_rate": 0.0001,
        "sgd_opt_learning_rate_decay_poly_power": 2,
        "sgd_opt_learning_rate_decay_steps": 1000,
        "sgd_opt_weight_decay": 0.0002,
        "sgd_opt_momentum": 0.9,
        "model_bn_span": 32,
        "opt_learning_rate_warmup_epochs": 2,
        "gradient_accumulation_steps": 1,
        "train_samples": 1281167,
        "eval_samples": 50000,
    },
    ("bert", "5.0.0"): {
        "global_batch_size": 48,
        "opt_base_learning_rate": 0.0004,
        "opt_lamb_epsilon": 1e-6,
        "opt_learning_rate_training_steps": 7100,
        "opt_learning_rate_warmup_steps": 0,
        "num_warmup_steps": 0,
        "start_warmup_step": 0,
        "opt_lamb_beta_1": 0.9,
        "opt_lamb_beta_2": 0.999,
        "opt_lamb_weight_decay_rate": 0.01,
        "gradient_accumulation_steps": 1,
        "train_samples": 340800,
        "eval_samples": 10000,
    },
    ("llama31_8b", "6.0.0"): {
        "global_batch_size": 16,
        "max_sequence_length": 8192,
        "opt_name": "adamw",
        "opt_base_learning_rate": 0.0008,
        "opt_end_learning_rate": 8e-05,
        "opt_learning_rate_decay_steps": 1200000 - 64,  # before warmup: hyperparameters() reorders
        "opt_learning_rate_warmup_steps": 64,
        "opt_learning_rate_decay_schedule": "cosine with linear warmup",
        "opt_adamw_beta_1": 0.9,
        "opt_adamw_beta_2": 0.95,
        "opt_adamw_epsilon": 1e-05,
        "opt_adamw_weight_decay": 0.1,
        "opt_gradient_clip_norm": 1.0,
        "gradient_accumulation_steps": 1,
        "eval_samples": 1024,
        "max_steps": 1200000,
        "train_samples": 1574207408,
    },
    ("dlrm_dcnv2", "6.0.0"): {
        "global_batch_size": 65536,
        "opt_name": "adagrad",
        "opt_base_learning_rate": 0.004,
        "opt_adagrad_learning_rate_decay": 0,
        "opt_weight_decay": 0,
        "opt_adagrad_initial_accumulator_value": 0,
        "opt_adagrad_epsilon": 1e-8,
        "opt_learning_rate_warmup_steps": 0,
        "opt_learning_rate_decay_start_step": 0,
        "opt_learning_rate_decay_steps": 0,
        "gradient_accumulation_steps": 1,
        "train_samples": 4195197692,
        "eval_samples": 89137319,
    },
    ("unet3d", "4.0.0"): {
        "global_batch_size": 2,
        "opt_name": "sgd",
        "opt_base_learning_rate": 2.0,
        "opt_learning_rate_warmup_epochs": 200,
        "opt_learning_rate_decay_boundary_epochs": [],
        "opt_learning_rate_decay_factor": 1.0,
        "opt_weight_decay": 0.0,
        "opt_momentum": 0.9,
        "oversampling": 0.4,
        "training_input_shape": [128, 128, 128],
        "validation_input_shape": [128, 128, 128],
        "validation_overlap": 0.5,
        "gradient_accumulation_steps": 1,
        "train_samples": 168,
        "eval_samples": 42,
    },
    ("llama2_70b_lora", "6.1.0"): {
        "global_batch_size": 8,
        "opt_base_learning_rate": 0.0004,
        "opt_learning_rate_training_steps": 1024,
        "opt_gradient_clip_norm": 0.3,
        "opt_adamw_weight_decay": 0.0001,
        "gradient_accumulation_steps": 1,
        "lora_alpha": 32,
        "lora_rank": 16,
        "train_samples": 3901,
        "eval_samples": 173,
        **_EXTRA_610,
    },
}
HPARAMS[("llama31_8b", "6.1.0")] = {**HPARAMS[("llama31_8b", "6.0.0")], **_EXTRA_610}

GOOD_ACCURACY = {
    "resnet": 0.76,
    "bert": 0.721,
    "llama31_8b": 3.25,
    "dlrm_dcnv2": 0.8030,
    "unet3d": 0.91,
    "llama2_70b_lora": 0.92,
}
BAD_ACCURACY = {
    "resnet": 0.5,
    "bert": 0.5,
    "llama31_8b": 4.0,
    "dlrm_dcnv2": 0.7,
    "unet3d": 0.5,
    "llama2_70b_lora": 1.5,
}
STATUS_RULESETS = ("4.0.0",)  # common.yaml asks for submission_status up to 4.0.0


def write_minimal_with_helpers(log: MLPerfLogger, accuracy=None) -> None:
    """A minimal run written the way a benchmark writes it: only the facade's helpers."""
    bm, rs = log.benchmark, log.ruleset
    status = "onprem" if rs in STATUS_RULESETS else None
    log.submission_info(org="TestOrg", platform="1xCPU", status=status)
    log.cache_clear(True)
    log.init_start()
    log.seed(1234)
    log.hyperparameters(HPARAMS[(bm, rs)])
    log.init_stop_run_start()
    acc = GOOD_ACCURACY[bm] if accuracy is None else accuracy
    if log.progress_unit == "samples_count":
        with log.block(0, 1024):
            pass
        with log.eval(1024) as ev:
            ev.accuracy(acc)
    else:
        with log.block(1, 2):
            for epoch in (1, 2):
                with log.epoch(epoch):
                    pass
            with log.eval(2) as ev:
                ev.accuracy(acc)
    log.run_stop("success")


def minimal_events(bm: str, rs: str) -> list[tuple]:
    """The same minimal run as raw ``(kind, key, value, metadata)`` events, for mutation."""
    unit = "samples_count" if bm.startswith("llama") else "epoch_num"
    ev: list[tuple] = [
        ("event", "submission_benchmark", bm, None),
        ("event", "submission_org", "TestOrg", None),
        ("event", "submission_division", "closed", None),
    ]
    if rs in STATUS_RULESETS:
        ev.append(("event", "submission_status", "onprem", None))
    ev += [
        ("event", "submission_platform", "1xCPU", None),
        ("event", "cache_clear", True, None),
        ("start", "init_start", None, None),
        ("event", "seed", 1234, None),
    ]
    hp = HPARAMS[(bm, rs)]
    order = list(hp)
    if "opt_learning_rate_warmup_steps" in hp and "opt_learning_rate_decay_steps" in hp:
        order.remove("opt_learning_rate_warmup_steps")
        order.insert(order.index("opt_learning_rate_decay_steps"), "opt_learning_rate_warmup_steps")
    ev += [("event", k, hp[k], None) for k in order]
    ev += [("end", "init_stop", None, None), ("start", "run_start", None, None)]
    if unit == "samples_count":
        ev += [
            ("start", "block_start", None, {"samples_count": 0}),
            ("end", "block_stop", None, {"samples_count": 1024}),
            ("start", "eval_start", None, {"samples_count": 1024}),
            ("event", "eval_accuracy", GOOD_ACCURACY[bm], {"samples_count": 1024}),
            ("end", "eval_stop", None, {"samples_count": 1024}),
        ]
    else:
        ev += [
            ("start", "block_start", None, {"first_epoch_num": 1, "epoch_count": 2}),
            ("start", "epoch_start", None, {"epoch_num": 1}),
            ("end", "epoch_stop", None, {"epoch_num": 1}),
            ("start", "eval_start", None, {"epoch_num": 2}),
            ("event", "eval_accuracy", GOOD_ACCURACY[bm], {"epoch_num": 2}),
            ("end", "eval_stop", None, {"epoch_num": 2}),
            ("end", "block_stop", None, {"first_epoch_num": 1}),
        ]
    ev.append(("end", "run_stop", None, {"status": "success"}))
    return ev


def replay(log: MLPerfLogger, events, times=None) -> dict:
    """Send events through the facade as a program would; count what strict mode raised.

    ``events``: ``(kind, key, value, metadata)``. A ComplianceError is caught (the line is
    written; the logger must stay usable), a UsageError means the facade refused the line.
    """
    stats = {"raised": 0, "refused": 0, "written": 0}
    for i, (kind, key, value, meta) in enumerate(events):
        time_ms = times[i] if times is not None else None
        try:
            getattr(log, kind)(key, value, meta, time_ms=time_ms)
            stats["written"] += 1
        except ComplianceError:
            stats["raised"] += 1
            stats["written"] += 1
        except UsageError:
            stats["refused"] += 1
    return stats


def corpus_events(path) -> tuple[list[tuple], list]:
    """The MLLOG lines of a real log as facade events (original metadata and time_ms)."""
    kinds = {"INTERVAL_START": "start", "INTERVAL_END": "end"}
    events, times = [], []
    for item in iter_file(path):
        if type(item) is not LogLine:
            continue
        rec = item.value
        import json

        raw = json.loads(item.full_string[len(":::MLLOG ") :])
        meta = rec["metadata"] if isinstance(rec["metadata"], dict) else None
        events.append((kinds.get(raw.get("event_type"), "event"), item.key, rec["value"], meta))
        times.append(raw["time_ms"])
    return events, times


def official_verdict(path, ruleset: str) -> str:
    """'pass' | 'fail' | 'crash' from the official checker, run in this process."""
    mlp_compliance.enqueued_configs.clear()
    checker = mlp_compliance.make_checker("training", ruleset, False, False)
    previous = logging.getLogger().level
    logging.getLogger().setLevel(logging.CRITICAL)  # its INFO/WARNING chatter is not the test
    try:
        ok = checker.check_file(str(path), f"training_{ruleset}/common.yaml")
    except Exception:
        return "crash"
    finally:
        mlp_compliance.enqueued_configs.clear()
        logging.getLogger().setLevel(previous)
    return "pass" if ok else "fail"


def verdict_of(result) -> str:
    """'pass' | 'fail' | 'crash' from a CheckResult / FileReport."""
    if result.official_crash:
        return "crash"
    return "pass" if result.passed else "fail"


def three_verdicts(log: MLPerfLogger) -> tuple[str, str, str]:
    """(online, check_file, official) for a logger's finished file."""
    online = log.finish(print_verdict=False)
    log.close()
    offline = check_file(log.log_file, log.ruleset)
    return verdict_of(online), verdict_of(offline), official_verdict(log.log_file, log.ruleset)
