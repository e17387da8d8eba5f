"""Fix hints for findings, and the official tools' traps explained.

The official messages say what failed; these say what to change. Hints never alter a verdict.
"""

from __future__ import annotations

import re

from mlperf_submit.compliance.findings import CheckResult, Finding

_CONFIG_RE = re.compile(r"training_(\d+\.\d+\.\d+)/(closed|open)_([A-Za-z0-9_]+)\.yaml")


def _unknown_benchmark_hint(message: str) -> str | None:
    m = _CONFIG_RE.search(message)
    if not m:
        return None
    ruleset, division, bm = m.groups()
    from mlperf_submit.compliance.meta import rulesets_with

    where = rulesets_with(bm)
    if where:
        return (
            f"'{bm}' is not a {division} benchmark of ruleset {ruleset}; rulesets that have it: "
            f"{', '.join(where)} (pass --ruleset)"
        )
    return f"'{bm}' is not an MLPerf Training benchmark name: check submission_benchmark"


def hint_for(f: Finding) -> str | None:
    key = f.key or ""
    rule = (f.rule or "").strip()
    if f.kind == "config":
        return _unknown_benchmark_hint(f.message) or "check submission_division/benchmark values"
    if f.kind == "parse":
        return "every line after ':::MLLOG ' must be one JSON object with time_ms, key, value, metadata"
    if f.kind == "crash" and "missing field" in f.message:
        return "write the line with mllog (or mlperf_submit.logging), which always sets all four fields"
    if key == "init_stop" and "compile_time_mins" in rule:
        return (
            "the init limit is set when submission_division is seen (30 min closed, 4 h open): "
            "log the submission_* keys before init_stop, and keep init under the limit"
        )
    if key == "opt_learning_rate_decay_steps" and f.kind == "exec":
        return "log opt_learning_rate_warmup_steps before opt_learning_rate_decay_steps (the rule reads it)"
    if key == "evaluation_frequency" and f.kind == "exec":
        return "log global_batch_size before evaluation_frequency (the rule reads it)"
    if f.kind == "req" and "EXACTLY_ONE" in f.message:
        if "but found 0" in f.message:
            return f"log '{key}' once (before run_start for hyperparameters)"
        return f"log '{key}' exactly once, from one rank (unique=True / rank 0 only)"
    if f.kind == "req" and "AT_LEAST" in f.message:
        return f"log '{key}' at least as often as required"
    if f.kind == "target":
        return "no evaluation reached the quality target: the run did not converge (or logged the wrong metric)"
    if f.kind == "alternatives":
        return "log block_start/block_stop (or epoch_start/epoch_stop) around training"
    if f.kind == "check" and key == "run_start":
        return "log init_start, then init_stop, then run_start"
    if f.kind == "check" and key in ("init_start", "init_stop"):
        return "init_start must come before init_stop, and both before run_start"
    return None


def add_hints(result: CheckResult, facts=None) -> None:
    for f in (*result.errors, *result.warnings):
        if f.hint is None:
            f.hint = hint_for(f)
    if result.crash_finding is not None and result.crash_finding.hint is None:
        result.crash_finding.hint = hint_for(result.crash_finding)
