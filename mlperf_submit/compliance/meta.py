"""What the installed ``mlperf-logging`` says about rulesets and benchmarks (training only).

Run counts and allowed benchmarks come from ``mlperf_logging.benchmark_meta``
(docs/official-tools.md §4.1, §5.4); available rulesets are the ``training_X.Y.Z`` folders
shipped with the compliance checker; RCP tables are the
``rcp_checker/training_X.Y.Z/rcps_<bm>.json`` files. Nothing here is copied: a newer pinned
package changes the answers.

    >>> from mlperf_submit.compliance import meta
    >>> meta.required_runs("resnet"), meta.newest_ruleset("resnet"), meta.max_dropped("unet3d")
    (5, '4.0.0', 4)
"""

from __future__ import annotations

import functools
import os
import re

from mlperf_logging import benchmark_meta

from mlperf_submit.errors import UsageError

USAGE = "training"
_RULESET_DIR = re.compile(r"^training_(\d+)\.(\d+)\.(\d+)$")

# The rulesets in which package_checker runs the system, seed and RCP checks (its literal set).
CHECKED_RULESETS = frozenset(
    [
        "1.0.0",
        "1.1.0",
        "2.0.0",
        "2.1.0",
        "3.0.0",
        "3.1.0",
        "4.0.0",
        "4.1.0",
        "5.0.0",
        "5.1.0",
        "6.0.0",
        "6.1.0",
    ]
)


def _package_dir(sub: str) -> str:
    return os.path.join(os.path.dirname(benchmark_meta.__file__), sub)


def version_key(ruleset: str) -> tuple[int, ...]:
    """``"4.0.0"`` -> ``(4, 0, 0)``, for sorting; UsageError for anything else."""
    try:
        return tuple(int(p) for p in ruleset.split("."))
    except (ValueError, AttributeError):
        raise UsageError(f"not a ruleset: {ruleset!r} (expected X.Y.Z, e.g. 4.0.0)") from None


@functools.cache
def rulesets() -> tuple[str, ...]:
    """Training rulesets of the installed checker, oldest first (``training_0.7.0_warn`` is not one)."""
    found = []
    for name in os.listdir(_package_dir("compliance_checker")):
        m = _RULESET_DIR.match(name)
        if m:
            found.append(".".join(m.groups()))
    return tuple(sorted(found, key=version_key))


def check_ruleset(ruleset: str) -> str:
    """Return ``ruleset`` if the installed checker has it, else raise UsageError listing them."""
    if ruleset not in rulesets():
        raise UsageError(
            f"unknown ruleset {ruleset!r}; mlperf-logging has: {', '.join(rulesets())}"
        )
    return ruleset


def allowed_benchmarks(ruleset: str) -> tuple[str, ...]:
    """``get_allowed_benchmarks('training', ruleset)``, looked up as-is then as ``major.minor``."""
    try:
        return tuple(dict.fromkeys(benchmark_meta.get_allowed_benchmarks(USAGE, ruleset)))
    except ValueError:
        return ()


def is_allowed(benchmark: str, ruleset: str) -> bool:
    return benchmark in allowed_benchmarks(ruleset)


def required_runs(benchmark: str) -> int | None:
    """Exact number of ``result_*.txt`` files package_checker wants; None if it does not know it."""
    return benchmark_meta.get_result_file_counts(USAGE).get(benchmark)


def known_benchmarks() -> tuple[str, ...]:
    return tuple(benchmark_meta.get_result_file_counts(USAGE))


def max_dropped(benchmark: str) -> int:
    """Olympic drops at each end (and failed runs tolerated): 4 for unet3d, 1 otherwise."""
    return 4 if benchmark == "unet3d" else 1


def rulesets_with(benchmark: str) -> tuple[str, ...]:
    """Installed rulesets whose allowed list contains ``benchmark``, oldest first."""
    return tuple(rs for rs in rulesets() if is_allowed(benchmark, rs))


def newest_ruleset(*benchmarks: str) -> str | None:
    """The newest installed ruleset whose allowed list holds every one of ``benchmarks`` (a
    submission targets one ruleset); None when no ruleset holds them all. The one place that
    picks a default ruleset: check, verify, campaign, report and ``make submit`` all ask here."""
    found = [rs for rs in rulesets() if all(is_allowed(bm, rs) for bm in benchmarks)]
    return found[-1] if found else None


def where_is(benchmark: str) -> str:
    """A sentence for messages: which rulesets contain ``benchmark``."""
    found = rulesets_with(benchmark)
    if found:
        return f"'{benchmark}' is in rulesets {', '.join(found)}"
    return (
        f"'{benchmark}' is in no ruleset of mlperf-logging (known: {', '.join(known_benchmarks())})"
    )


def rcp_file(benchmark: str, ruleset: str) -> str:
    """Path of the RCP table the official checker would open (it may not exist)."""
    return os.path.join(_package_dir("rcp_checker"), f"{USAGE}_{ruleset}", f"rcps_{benchmark}.json")


def has_rcps(benchmark: str, ruleset: str) -> bool:
    return os.path.isfile(rcp_file(benchmark, ruleset))
