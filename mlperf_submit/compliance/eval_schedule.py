"""Rules the training rules text fixes but the installed rule files do not check.

mlcommons/logging#79 (open since 2021; PR #107 abandoned): nothing official checks that a log
evaluates on the schedule the rules require ("The quality measure must be evaluated at the same
frequency ... as in the reference implementation. Where applicable, the required evaluation
point may be rounded up to the nearest batch size", training_rules.adoc, Quality measure), nor
several relations between logged hyperparameters that the rules' hyperparameter table fixes.
This module states them, per benchmark and round, and checks a log against them. Its findings
are **warnings** of kind ``schedule`` or ``relation``: the verdict stays the official one.

Sources (mlcommons/training_policies ``training_rules.adoc`` at d73e20f, with the commit that
introduced each rule, which dates the first round it applies to):

* llama2_70b_lora: every 384 sequences rounded up to the batch, skipping the first
  ``FLOOR(0.125*GBS + 2)`` evaluations (9f32f97, 2024-04: rounds 4.0.0+); clip norm 0.3,
  lora_alpha 32, weight decay 0.0001 "fixed to reference" (641792f, 2024-03: 4.0.0+).
* llama31_405b: every 46080 sequences rounded up (5.0.0, the v5.0 appendix); every 18432
  rounded up, skipping the first ``FLOOR(0.0026*GBS + 12)`` (051dd1e, 2025-08: 5.1.0+);
  warm-up ``ceil(8000*1152/GBS)`` steps, decay ``ceil(1.2e6*1152/GBS) - warmup``, end LR 8e-7,
  base LR ``8e-5*GBS/1152`` rounded to 8 decimals for 1152 <= GBS <= 9216 (c92aa38, a178297,
  2025-02: 5.0.0+).
* llama31_8b: every 12288 sequences rounded up (0562006, 2025-08: 5.1.0+); end LR = 0.1 x base
  LR (d4c2f58, 2025-09: 5.1.0+).
* gpt_oss_20b: every 12288 sequences rounded up; end LR = 0.1 x base LR, with 4e-5 also allowed
  in 6.0.0 only (the v6.0 appendix) (6aaf957, 2026-02: 6.0.0+).
* flux1: every 262144 samples rounded up (5ffef19, 2025-07: 5.1.0+).
* deepseekv3_671b: "Every step" (696d735, 2026-02: 6.0.0+); the 6.1.0 rule file checks the
  first evaluation, not the cadence.
* dlrm_dcnv2: every ``FLOOR(4195197692 / (GBS * 20))`` -- steps, the only reading under which
  the reference evaluates 20 times per epoch -- with epoch_num counted from 0 (the Benchmark
  Specific Rules), so two steps either way are accepted: the numbering dispute of logging#79,
  and an epoch of floor or ceil(total / GBS) steps.
* resnet: every 4 epochs with an offset of 0-3 (deprecated-benchmarks table; all rounds).

Not covered: the benchmarks retired before the current rounds other than resnet (bert, unet3d,
gpt3, ssd/retinanet, maskrcnn, rnnt, gnn/rgat, stable_diffusion); dlrmv4 and qwen35_397b_grpo,
whose rule files already check their whole schedule.

    findings = check_log("result_0.txt", "5.1.0")        # [] or warnings
    schedule_for("llama2_70b_lora", "6.1.0", 8).describe()
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from mlperf_submit.compliance.findings import Finding
from mlperf_submit.compliance.meta import version_key
from mlperf_submit.compliance.parser import TOKEN

RULES_SOURCE = "training_rules.adoc (mlcommons/training_policies d73e20f)"
QUALITY = f"{RULES_SOURCE}, Quality measure"
HYPERPARAMETERS = f"{RULES_SOURCE}, Hyperparameters"
DLRM_TOTAL = 4195197692  # TOTAL_TRAINING_SAMPLES of the dlrm_dcnv2 rule


def _round_up(n: float, gbs: int) -> int:
    return math.ceil(n / gbs) * gbs


@dataclass(frozen=True)
class Schedule:
    """The evaluation points a closed run of one batch size must log (in ``unit``)."""

    unit: str  # epoch_num | samples_count
    interval: float
    first: float | None  # None: the rules fix the cadence only
    first_choices: tuple[float, ...] = ()  # resnet: the first eval may be any of these
    tolerance: float = 0.0
    rule: str = ""  # the rules text
    source: str = QUALITY

    def first_points(self) -> tuple[float, ...]:
        if self.first_choices:
            return self.first_choices
        return () if self.first is None else (self.first,)

    def describe(self) -> str:
        what = "epochs" if self.unit == "epoch_num" else "samples"
        first = (
            " or ".join(_fmt(x) for x in self.first_choices)
            if self.first_choices
            else (_fmt(self.first) if self.first is not None else "not fixed")
        )
        return f"evaluate every {_fmt(self.interval)} {what}, first at {first} ({self.rule})"


def _fmt(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:.6g}"


@dataclass(frozen=True)
class ScheduleRule:
    benchmark: str
    first_round: str
    last_round: str | None  # None: still in force
    unit: str
    rule: str
    make: Callable[[int], Schedule]

    def applies(self, ruleset: str) -> bool:
        v = version_key(ruleset)
        after = v >= version_key(self.first_round)
        return after and (self.last_round is None or v <= version_key(self.last_round))


@dataclass(frozen=True)
class RelationRule:
    """A logged hyperparameter whose value the rules fix, or tie to other logged values."""

    benchmark: str
    first_round: str
    last_round: str | None
    key: str
    rule: str
    expected: Callable[[dict], tuple | None]  # logged values -> allowed values (None: n/a)
    rel_tol: float = 1e-6
    source: str = HYPERPARAMETERS

    def applies(self, ruleset: str) -> bool:
        v = version_key(ruleset)
        after = v >= version_key(self.first_round)
        return after and (self.last_round is None or v <= version_key(self.last_round))


# ---------------------------------------------------------------- the schedules


def _every_samples(n: int, skip: Callable[[int], int] | None, rule: str) -> Callable:
    def make(gbs: int) -> Schedule:
        interval = _round_up(n, gbs)
        skipped = skip(gbs) if skip else 0
        return Schedule("samples_count", interval, (skipped + 1) * interval, rule=rule)

    return make


def _cadence_only(rule: str) -> Callable:
    return lambda gbs: Schedule("samples_count", gbs, None, rule=rule)


def _dlrm(gbs: int) -> Schedule:
    steps = DLRM_TOTAL // (gbs * 20)
    interval = steps * gbs / DLRM_TOTAL
    return Schedule(
        "epoch_num",
        interval,
        interval,
        # one step for the 0-or-1 numbering, one for an epoch of floor or ceil(total / GBS)
        # steps in the denominator of the fraction (at most one step at epoch 1)
        tolerance=2 * gbs / DLRM_TOTAL,
        rule=(
            "every FLOOR(4195197692 / (GBS * 20)) steps, epoch_num the fraction of the epoch "
            "counted from 0 (two steps either way accepted)"
        ),
    )


def _resnet(gbs: int) -> Schedule:
    return Schedule(
        "epoch_num",
        4,
        None,
        first_choices=(1, 2, 3, 4),
        rule="every 4 epochs with offset 0 or 1 or 2 or 3",
    )


LORA = "every 384 sequences, rounded up to the batch, skipping the first FLOOR(0.125*GBS+2)"
SCHEDULES: tuple[ScheduleRule, ...] = (
    ScheduleRule(
        "llama2_70b_lora",
        "4.0.0",
        None,
        "samples_count",
        LORA,
        _every_samples(384, lambda g: math.floor(0.125 * g + 2), LORA),
    ),
    ScheduleRule(
        "llama31_405b",
        "5.0.0",
        "5.0.0",
        "samples_count",
        "every 46080 sequences, rounded up to the batch",
        lambda g: Schedule(
            "samples_count",
            _round_up(46080, g),
            None,
            rule="every 46080 sequences, rounded up to the batch",
        ),
    ),
    ScheduleRule(
        "llama31_405b",
        "5.1.0",
        None,
        "samples_count",
        "every 18432 sequences, rounded up, skipping the first FLOOR(0.0026*GBS+12)",
        _every_samples(
            18432,
            lambda g: math.floor(0.0026 * g + 12),
            "every 18432 sequences, rounded up, skipping the first FLOOR(0.0026*GBS+12)",
        ),
    ),
    ScheduleRule(
        "llama31_8b",
        "5.1.0",
        None,
        "samples_count",
        "every 12288 sequences, rounded up to the batch",
        _every_samples(12288, None, "every 12288 sequences, rounded up to the batch"),
    ),
    ScheduleRule(
        "gpt_oss_20b",
        "6.0.0",
        None,
        "samples_count",
        "every 12288 sequences, rounded up to the batch",
        _every_samples(12288, None, "every 12288 sequences, rounded up to the batch"),
    ),
    ScheduleRule(
        "flux1",
        "5.1.0",
        None,
        "samples_count",
        "every 262144 samples, rounded up to the batch",
        _every_samples(262144, None, "every 262144 samples, rounded up to the batch"),
    ),
    ScheduleRule(
        "deepseekv3_671b",
        "6.0.0",
        None,
        "samples_count",
        "every step",
        _cadence_only("every step (one global batch)"),
    ),
    ScheduleRule("dlrm_dcnv2", "3.0.0", None, "epoch_num", "20 times per epoch", _dlrm),
    ScheduleRule("resnet", "1.0.0", None, "epoch_num", "every 4 epochs, offset 0-3", _resnet),
)


def _ratio(key: str, factor: float, also: tuple = ()) -> Callable[[dict], tuple | None]:
    def expected(v: dict) -> tuple | None:
        base = v.get(key)
        if not _is_number(base):
            return None
        return (base * factor, *also)

    return expected


def _405b_warmup(v: dict) -> tuple | None:
    gbs = v.get("global_batch_size")
    return (math.ceil(8000 * 1152 / gbs),) if _is_number(gbs) and gbs > 0 else None


def _405b_decay(v: dict) -> tuple | None:
    gbs = v.get("global_batch_size")
    if not _is_number(gbs) or gbs <= 0:
        return None
    return (math.ceil(1_200_000 * 1152 / gbs) - math.ceil(8000 * 1152 / gbs),)


def _405b_lr(v: dict) -> tuple | None:
    gbs = v.get("global_batch_size")
    if not _is_number(gbs) or not 1152 <= gbs <= 9216:
        return None  # outside the table the rules say a new RCP is needed
    return (round(8e-5 * gbs / 1152, 8),)


RELATIONS: tuple[RelationRule, ...] = (
    RelationRule(
        "llama2_70b_lora", "4.0.0", None, "opt_gradient_clip_norm", "fixed to reference (0.3)",
        lambda v: (0.3,),
    ),
    RelationRule(
        "llama2_70b_lora", "4.0.0", None, "lora_alpha", "fixed to reference (32)",
        lambda v: (32,),
    ),
    RelationRule(
        "llama2_70b_lora", "4.0.0", None, "opt_adamw_weight_decay",
        "weight decay fixed to reference (0.0001)", lambda v: (0.0001,),
    ),
    RelationRule(
        "llama31_8b", "5.1.0", None, "opt_end_learning_rate", "opt_base_learning_rate * 0.1",
        _ratio("opt_base_learning_rate", 0.1),
    ),
    RelationRule(
        "gpt_oss_20b", "6.0.0", "6.0.0", "opt_end_learning_rate",
        "opt_base_learning_rate * 0.1, or 4e-5 (v6.0 only, the reference's default)",
        _ratio("opt_base_learning_rate", 0.1, (4e-5,)),
    ),
    RelationRule(
        "gpt_oss_20b", "6.1.0", None, "opt_end_learning_rate", "opt_base_learning_rate * 0.1",
        _ratio("opt_base_learning_rate", 0.1),
    ),
    RelationRule(
        "llama31_405b", "5.0.0", None, "opt_learning_rate_warmup_steps",
        "ceil(8000 * 1152 / global_batch_size)", _405b_warmup,
    ),
    RelationRule(
        "llama31_405b", "5.0.0", None, "opt_learning_rate_decay_steps",
        "ceil(1_200_000 * 1152 / global_batch_size) - ceil(8000 * 1152 / global_batch_size)",
        _405b_decay,
    ),
    RelationRule(
        "llama31_405b", "5.0.0", None, "opt_end_learning_rate", "8e-7", lambda v: (8e-7,),
    ),
    RelationRule(
        "llama31_405b", "5.0.0", None, "opt_base_learning_rate",
        "8e-5 * (GBS / 1152) rounded to the 8th decimal place, for 1152 <= GBS <= 9216",
        _405b_lr,
    ),
)  # fmt: skip


def _is_number(x) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


# Benchmarks whose closed rule file checks every evaluation point itself (its eval_accuracy
# CHECK/FIRST_CHECK against a schedule computed from global_batch_size): nothing to add.
RULE_FILE_SCHEDULES = {
    "dlrmv4": "closed_dlrmv4.yaml checks every evaluation point (eval_interval_samples)",
    "qwen35_397b_grpo": "closed_qwen35_397b_grpo.yaml checks every evaluation point",
}


def schedule_rule(benchmark: str, ruleset: str) -> ScheduleRule | None:
    return next((r for r in SCHEDULES if r.benchmark == benchmark and r.applies(ruleset)), None)


def schedule_for(benchmark: str, ruleset: str, gbs: int) -> Schedule | None:
    """The evaluation schedule the rules require of a closed run at global batch ``gbs``, or
    None where this module knows no rule for (benchmark, ruleset)."""
    rule = schedule_rule(benchmark, ruleset)
    if rule is None or not _is_number(gbs) or gbs <= 0:
        return None
    return rule.make(int(gbs))


def relation_rules(benchmark: str, ruleset: str) -> list[RelationRule]:
    return [r for r in RELATIONS if r.benchmark == benchmark and r.applies(ruleset)]


# ---------------------------------------------------------------- checking a log


def schedule_deviations(schedule: Schedule, points: list[float]) -> list[tuple[int, float, float]]:
    """``(index, logged, expected)`` for each distinct logged evaluation point that is not the
    one the schedule puts there (consecutive repeats -- two metrics of one evaluation -- count
    once). The first point picks among ``first_choices``; without a fixed first point the
    first logged one anchors the cadence."""
    distinct: list[float] = []
    for p in points:
        if not distinct or p != distinct[-1]:
            distinct.append(p)
    if not distinct:
        return []
    firsts = schedule.first_points()
    if firsts:
        anchor = min(firsts, key=lambda f: abs(f - distinct[0]))
    else:
        anchor = distinct[0]
    out = []
    for i, p in enumerate(distinct):
        want = anchor + i * schedule.interval
        if abs(p - want) > schedule.tolerance + 1e-9 * max(1.0, abs(want)):
            out.append((i, p, want))
    return out


@dataclass
class LoggedRun:
    """What the advisory checks read from a log (first values; eval points in order)."""

    benchmark: object = None
    division: object = None
    gbs: object = None
    values: dict = field(default_factory=dict)  # key -> (first value, file line)
    evals: list[tuple[float, int]] = field(default_factory=list)  # (progress, file line)
    unit_missing: int = 0  # eval lines without the schedule's unit (the rule files flag them)


def scan_log(path: str, keys: Iterable[str] = ()) -> LoggedRun:
    """One pass over a log, JSON-parsing only the lines that hold a key asked for (the prefix
    handling of the official parser: the text after the *last* ``:::MLLOG ``)."""
    wanted = {"submission_benchmark", "submission_division", "global_batch_size", *keys}
    run = LoggedRun()
    with open(path, encoding="latin-1", newline=None) as f:
        for lineno, line in enumerate(f, 1):
            pos = line.rfind(TOKEN)
            if pos < 0:
                continue
            text = line[pos + len(TOKEN) :].strip()
            is_eval = '"eval_accuracy"' in text
            if not is_eval and not any(f'"{k}"' in text for k in wanted):
                continue
            try:
                rec = json.loads(text)
                key, value = rec["key"], rec["value"]
                meta = rec.get("metadata") if isinstance(rec.get("metadata"), dict) else {}
            except (ValueError, KeyError, TypeError):
                continue  # the official parser reports it; nothing to advise on
            if key == "eval_accuracy":
                unit = "samples_count" if "samples_count" in meta else "epoch_num"
                progress = meta.get(unit)
                if _is_number(progress):
                    run.evals.append((progress, lineno))
                else:
                    run.unit_missing += 1
            elif key in wanted and key not in run.values:
                run.values[key] = (value, lineno)
    run.benchmark = run.values.get("submission_benchmark", (None,))[0]
    run.division = run.values.get("submission_division", (None,))[0]
    # the last global_batch_size wins for the RCP reader; the rules read one value
    run.gbs = run.values.get("global_batch_size", (None,))[0]
    return run


def check_run(run: LoggedRun, ruleset: str) -> list[Finding]:
    """Schedule and relation warnings for one closed-division log (open runs are free)."""
    if run.division != "closed" or not isinstance(run.benchmark, str):
        return []
    out: list[Finding] = []
    schedule = schedule_for(run.benchmark, ruleset, run.gbs)
    if schedule is not None and run.evals:
        points = [p for p, _ in run.evals]
        lines = {}
        for p, ln in run.evals:
            lines.setdefault(p, ln)
        bad = schedule_deviations(schedule, points)
        if bad:
            i, logged, want = bad[0]
            more = (
                f" ({len(bad)} of {len(set(points))} evaluations off schedule)"
                if len(bad) > 1
                else ""
            )
            what = "epoch_num" if schedule.unit == "epoch_num" else "samples_count"
            out.append(
                Finding(
                    "warning",
                    "schedule",
                    f"evaluation {i + 1} at {what} {_fmt(logged)}: the rules evaluate "
                    f"{run.benchmark} at global batch {run.gbs} {schedule.rule}, so it belongs at "
                    f"{_fmt(want)}{more}",
                    key="eval_accuracy",
                    file_lineno=lines.get(logged),
                    rule=f"{schedule.describe()} -- {schedule.source}",
                    hint="evaluate on the reference schedule (the official checker does not "
                    "check it: mlcommons/logging#79)",
                )
            )
    logged = {k: v for k, (v, _) in run.values.items()}
    for rel in relation_rules(run.benchmark, ruleset):
        if rel.key not in run.values:
            continue
        value, lineno = run.values[rel.key]
        allowed = rel.expected(logged)
        if allowed is None or not _is_number(value):
            continue
        if not any(math.isclose(value, a, rel_tol=rel.rel_tol, abs_tol=1e-12) for a in allowed):
            want = " or ".join(f"{a:.8g}" for a in allowed)
            out.append(
                Finding(
                    "warning",
                    "relation",
                    f"{rel.key} = {value!r}: the rules fix it to {rel.rule}, here {want}",
                    key=rel.key,
                    file_lineno=lineno,
                    rule=f"{rel.key} = {rel.rule} -- {rel.source}",
                    hint=f"log {rel.key} = {want} (the installed rule file does not check it)",
                )
            )
    return out


def relation_keys(benchmark: str | None = None) -> set[str]:
    return {r.key for r in RELATIONS if benchmark is None or r.benchmark == benchmark}


def check_log(path: str, ruleset: str) -> list[Finding]:
    """The advisory warnings of one log under ``ruleset`` (empty for open-division logs and
    benchmarks without a rule here)."""
    return check_run(scan_log(path, relation_keys()), ruleset)
