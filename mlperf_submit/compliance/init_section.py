"""Judging an init section alone: a log that stops at ``init_stop`` (``train --log-only``).

A closed configuration is checked before any GPU hour by writing its init section (submission
keys, hyperparameters read back from the built objects, ``init_start``/``init_stop``) and
running the official rules over it. Keys that only a training run can log are then missing by
construction; those findings say nothing about the configuration and are not counted.
"""

from __future__ import annotations

# Keys an init section cannot contain: their absence is not a finding there.
RUN_SECTION_KEYS = frozenset(
    {
        "run_start",
        "run_stop",
        "block_start",
        "block_stop",
        "epoch_start",
        "epoch_stop",
        "eval_start",
        "eval_stop",
        "eval_accuracy",
        "train_samples",
        "eval_samples",
    }
)


def is_run_section_finding(finding) -> bool:
    """True for a finding about keys only a training run logs. ``AT_LEAST_ONE_OR`` findings
    carry no key; their rule names the alternatives (``"block_start | epoch_start"``)."""
    if finding.kind == "alternatives" and finding.rule:
        names = {n.strip() for n in finding.rule.split("|")}
        return bool(names) and names <= RUN_SECTION_KEYS
    return finding.key in RUN_SECTION_KEYS


def init_section_errors(check) -> list:
    """The errors of a ``CheckResult`` over an init section that are about the configuration."""
    return [f for f in check.errors if not is_run_section_finding(f)]
