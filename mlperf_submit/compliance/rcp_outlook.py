"""What the RCP check will say about a batch size, before any run exists.

The official check (``rcp_checker.check_directory``, docs/official-tools.md §6) depends on the
run set in two ways only: its global batch size picks the reference record (exact, interpolated,
the smallest one, or none), and the olympic mean of its convergence points is compared with that
record's acceptance threshold. :func:`rcp_outlook` answers the first part for a batch size alone
and states the second as a band, from the installed RCP table with the official statistics and
pruning (``compliance/rcp.py``)::

    out = rcp_outlook("llama31_8b", "6.1.0", 48)
    out.kind, out.message       # ('interpolated', 'RCP Interpolation')
    out.mean, out.threshold     # RCP mean and the smallest olympic mean that passes
    out.lines()                 # what preflight prints

``kind`` is one of ``found``, ``interpolated``, ``smaller`` (below every record: tested against
the smallest record, passes only when the runs converge no faster than it), ``missing`` (above
every record: always fails, ``Missing RCP``), ``none`` (a table without records),
``no_table`` (the ruleset checks RCPs but ships no table for the benchmark: the official
checker crashes), ``not_checked`` (the ruleset has no RCP check).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mlperf_submit.compliance import meta
from mlperf_submit.compliance.rcp import (
    MISSING_PREFIX,
    RCP_RULESETS,
    SAMPLES_COUNT_BENCHMARKS,
    RcpTable,
    acceptance_threshold,
    effective_record,
    match_record,
    rcp_table,
)

MESSAGES = {
    "found": "RCP found",
    "interpolated": "RCP Interpolation",
    "smaller": "RCP not found but slower convergence on smaller batch size",
    "none": "Cannot find any RCPs",
}


def progress_unit(benchmark: str) -> str:
    """What the RCP points of ``benchmark`` count: ``samples`` or ``epochs`` (bert's epoch_num
    holds samples as well; the official reader takes it as-is)."""
    return "samples" if benchmark in SAMPLES_COUNT_BENCHMARKS | {"bert", "gpt3"} else "epochs"


@dataclass
class RcpOutlook:
    benchmark: str
    ruleset: str
    bs: int
    kind: str
    message: str  # the official message a run set of this batch size gets (pass case)
    unit: str  # samples | epochs
    record: str | None = None  # name of the record compared against (None when interpolated)
    low: tuple[str, int] | None = None  # (name, BS) of the records interpolated between
    high: tuple[str, int] | None = None
    mean: float | None = None  # RCP mean (olympic) at this batch size
    stdev: float | None = None
    threshold: float | None = None  # smallest olympic mean of the run set that passes
    max_speedup: float | None = None
    pruned_here: str | None = None  # an exact record at this BS that pruning drops, and why
    pruned_away: dict[str, str] = field(default_factory=dict)  # every record pruning drops
    batch_sizes: list[int] = field(default_factory=list)  # the records the check uses (pruned)
    nearest: list[int] = field(default_factory=list)  # batch sizes that work, nearest first
    step: int = 1  # the granularity the nearest batch sizes respect (ranks)

    @property
    def can_pass(self) -> bool:
        """Whether some run set of this batch size can pass the official check."""
        return self.kind in ("found", "interpolated", "smaller", "not_checked")

    @property
    def normalised_below(self) -> float | None:
        """A run set whose olympic mean is below this (and passes) has its score multiplied by
        ``mean / its mean`` (scaling.json)."""
        return self.mean

    def lines(self) -> list[str]:
        u = self.unit
        if self.kind == "not_checked":
            return [f"ruleset {self.ruleset} has no RCP check (package_checker skips it)"]
        if self.kind == "no_table":
            return [
                f"ruleset {self.ruleset} checks RCPs but mlperf-logging ships no "
                f"{meta.rcp_file(self.benchmark, self.ruleset)}: the official checker crashes",
                "no batch size works in this ruleset",
            ]
        if self.kind in ("missing", "none"):
            out = [
                f"no RCP covers global batch size {self.bs}: the RCP test fails ({self.message})"
            ]
            if self.nearest:
                out.append(
                    "nearest batch sizes that work: "
                    + ", ".join(str(b) for b in self.nearest)
                    + (f" (multiples of {self.step} ranks)" if self.step > 1 else "")
                    + f"; RCP batch sizes: {', '.join(str(b) for b in self.batch_sizes)}"
                )
            return out
        where = {
            "found": f"RCP found: {self.record} (BS {self.bs})",
            "interpolated": (
                f"RCP interpolated between {self.low[0]} (BS {self.low[1]}) and "
                f"{self.high[0]} (BS {self.high[1]})"
                if self.low and self.high
                else "RCP interpolated"
            ),
            "smaller": (
                f"no RCP at BS {self.bs}, below every record: tested against the smallest, "
                f"{self.record}; passes only if the runs converge no faster than it"
            ),
        }[self.kind]
        out = [where]
        if self.pruned_here:
            out.append(f"the record at BS {self.bs} is pruned: {self.pruned_here}")
        out.append(
            f"predicted {u} to converge: mean {self.mean:.6g} (stdev {self.stdev:.4g}); "
            f"the RCP test passes when the olympic mean of the runs is >= {self.threshold:.6g} "
            f"(max speedup {self.max_speedup:.4f}); between {self.threshold:.6g} and "
            f"{self.mean:.6g} the score is normalised by mean / run-set mean"
        )
        return out

    def to_dict(self) -> dict:
        def num(x):
            return None if x is None else float(x)

        return {
            "benchmark": self.benchmark,
            "ruleset": self.ruleset,
            "global_batch_size": self.bs,
            "kind": self.kind,
            "can_pass": self.can_pass,
            "message": self.message,
            "unit": self.unit,
            "record": self.record,
            "interpolated_between": (
                [
                    {"name": self.low[0], "bs": self.low[1]},
                    {"name": self.high[0], "bs": self.high[1]},
                ]
                if self.low and self.high
                else None
            ),
            "mean": num(self.mean),
            "stdev": num(self.stdev),
            "threshold": num(self.threshold),
            "max_speedup": num(self.max_speedup),
            "pruned_here": self.pruned_here,
            "pruned_away": dict(self.pruned_away),
            "rcp_batch_sizes": list(self.batch_sizes),
            "nearest_working_batch_sizes": list(self.nearest),
            "step": self.step,
        }


def _nearest(batch_sizes: list[int], step: int) -> list[int]:
    """Batch sizes that work, best first: anything above the largest record is ``Missing RCP``,
    so the largest multiple of ``step`` (the ranks) at or below it, then that record's own batch
    size when the ranks do not divide it."""
    if not batch_sizes:
        return []
    top = max(batch_sizes)
    multiple = (top // step) * step
    return [top] if multiple in (top, 0) else [multiple, top]


def rcp_outlook(
    benchmark: str,
    ruleset: str,
    bs: int,
    *,
    step: int = 1,
    rcp_pass: str = "pruned_rcps",
    table: RcpTable | None = None,
) -> RcpOutlook:
    """The RCP situation of a closed run set of ``benchmark`` at global batch size ``bs``.

    ``step``: the batch sizes the hardware can run are multiples of it (the number of ranks), so
    the nearest working batch sizes named for a missing RCP respect it. ``table`` replaces the
    installed one (``rcp check --rcps``)."""
    unit = progress_unit(benchmark)
    if table is None and ruleset not in RCP_RULESETS:
        return RcpOutlook(benchmark, ruleset, bs, "not_checked", "", unit)
    if table is None:
        if not meta.has_rcps(benchmark, ruleset):
            return RcpOutlook(benchmark, ruleset, bs, "no_table", "", unit)
        table = rcp_table(ruleset, benchmark)
    records = table.records(rcp_pass)
    sizes = sorted(rec["BS"] for rec in records.values())
    names = {id(rec): name for name, rec in table.rcp_data.items()}
    out = RcpOutlook(
        benchmark,
        ruleset,
        bs,
        "none",
        MESSAGES["none"],
        unit,
        pruned_away=dict(table.pruned_away) if rcp_pass == "pruned_rcps" else {},
        batch_sizes=sizes,
        step=max(1, int(step)),
    )
    exact_pruned = [(n, why) for n, why in out.pruned_away.items() if table.rcp_data[n]["BS"] == bs]
    if exact_pruned:
        out.pruned_here = f"{exact_pruned[0][0]}: {exact_pruned[0][1]}"
    match = match_record(table, bs, rcp_pass)
    out.kind = match.kind
    if match.kind == "missing":
        out.message = f"{MISSING_PREFIX}{bs}"
    else:
        out.message = MESSAGES[match.kind]
    if match.kind in ("missing", "none"):
        out.nearest = _nearest(sizes, out.step)
        return out
    rec = effective_record(ruleset, benchmark, match.record)
    out.record = names.get(id(match.record))
    if match.low is not None and match.high is not None:
        out.low = (names.get(id(match.low), "?"), match.low["BS"])
        out.high = (names.get(id(match.high), "?"), match.high["BS"])
    out.mean = float(rec["RCP Mean"])
    out.stdev = float(rec["RCP Stdev"])
    out.threshold = float(acceptance_threshold(rec))
    out.max_speedup = float(rec["Max Speedup"])
    return out
