"""The plan of ``make submit``: which benchmarks, which round each goes to, how many runs.

A submission tree targets one round; the official package_checker skips benchmarks that are not
in it. So each benchmark goes to the newest ruleset that contains it (resnet -> 4.0.0,
llama31_8b -> 6.1.0), or to ``ROUND`` when given (a benchmark not in that round is an error),
with the official run count unless ``RUNS`` says otherwise.

    python -m mlperf_submit.submission.plan [--benchmarks "resnet llama31_8b"] [--round R] [--runs N]

prints one ``<benchmark> <ruleset> <runs>`` line per benchmark (scripts/submit.sh reads them);
exit 2 with a message on a bad variable.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

from mlperf_submit.compliance import meta
from mlperf_submit.errors import MLPerfSubmitError, UsageError


@dataclass(frozen=True)
class PlanItem:
    benchmark: str
    ruleset: str
    runs: int


def ready_benchmarks() -> list[str]:
    from mlperf_submit.benchmarks.registry import ready

    return list(ready())


def full_scale_only(benchmark: str) -> dict[str, str]:
    """The open rules that fix full-scale values of ``benchmark`` (its class's
    ``tiny_scale_rules``): a dry run on a CPU cannot pass them, so its tree would fail."""
    from mlperf_submit.benchmarks.registry import describe

    cls = describe(benchmark)
    return dict(cls.tiny_scale_rules) if cls is not None else {}


def left_out(ready: list[str]) -> dict[str, dict[str, str]]:
    return {bm: rules for bm in ready if (rules := full_scale_only(bm))}


def make_plan(benchmarks: list[str] | None, round_: str | None, runs: int | None) -> list[PlanItem]:
    from mlperf_submit.benchmarks.registry import BENCHMARKS

    ready = ready_benchmarks()
    skipped = left_out(ready)
    chosen = benchmarks or [bm for bm in ready if bm not in skipped]
    if not chosen:
        raise UsageError("no benchmark is ready in this checkout (benchmarks/registry.py)")
    if runs is not None and runs < 1:
        raise UsageError(f"RUNS={runs}: give a positive number of runs")
    if round_:
        meta.check_ruleset(round_)
    plan = []
    for bm in chosen:
        if bm not in BENCHMARKS:
            raise UsageError(
                f"BENCHMARKS: unknown benchmark {bm!r} (known: {', '.join(BENCHMARKS)})"
            )
        if bm not in ready:
            raise UsageError(f"BENCHMARKS: {bm!r} is not built in this checkout yet")
        if bm in skipped:
            rules = "; ".join(f"{k}: {r}" for k, r in skipped[bm].items())
            raise UsageError(
                f"BENCHMARKS: {bm!r} cannot make a dry-run tree: its official open rules fix "
                f"full-scale values no CPU run meets ({rules}); run it on a GPU cluster"
            )
        ruleset = round_ or meta.newest_ruleset(bm)
        if ruleset is None or not meta.is_allowed(bm, ruleset):
            raise UsageError(f"ROUND={round_}: {meta.where_is(bm)}")
        required = meta.required_runs(bm)
        if runs is not None and runs < required:
            raise UsageError(
                f"RUNS={runs} is below the {required} runs package_checker requires for {bm}; "
                "use at least that many (more: the consecutive runs closest to the median are "
                "submitted)"
            )
        plan.append(PlanItem(bm, ruleset, runs or required))
    return plan


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m mlperf_submit.submission.plan")
    p.add_argument("--benchmarks", default="", help="space or comma separated (default: all ready)")
    p.add_argument("--round", default="", help="one ruleset for every benchmark")
    p.add_argument("--runs", default="", help="runs per benchmark (default: the official count)")
    a = p.parse_args(argv)
    try:
        names = [b for b in a.benchmarks.replace(",", " ").split() if b]
        if a.runs.strip() and not a.runs.strip().isdigit():
            raise UsageError(f"RUNS={a.runs!r}: give a whole number")
        runs = int(a.runs) if a.runs.strip() else None
        plan = make_plan(names or None, a.round.strip() or None, runs)
    except MLPerfSubmitError as err:
        print(f"make submit: error: {err}", file=sys.stderr)
        return err.exit_code
    if not names:
        for bm, rules in left_out(ready_benchmarks()).items():
            print(
                f"make submit: {bm} is left out: its official open rules fix full-scale values "
                f"no CPU dry run meets ({', '.join(rules)}); its own tests run it",
                file=sys.stderr,
            )
    for item in plan:
        print(item.benchmark, item.ruleset, item.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
