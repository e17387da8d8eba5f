"""Will a closed campaign of this configuration pass? The answer from the rules alone.

``mlperf-submit preflight`` (``mlperf_submit/preflight/command.py``) builds the configuration,
writes its init section and reads its planned evaluations; this module judges those facts with
what the installed mlperf-logging says (no torch here):

* the init section against the closed rule files (findings about run-section keys, which an
  init section cannot hold, are not counted: ``init_section.py``);
* the RCP at the global batch size: found / interpolated between which two / only smaller /
  none -- then the nearest batch sizes that work (``rcp_outlook.py``);
* the evaluation schedule the rules require at this batch size, and whether the configured
  evaluations follow it (``eval_schedule.py``);
* the number of runs, and the samples (or epochs) to converge the RCP predicts with the band
  the RCP test allows.

``passed`` is False when the campaign cannot pass the official checks as configured.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from mlperf_submit.compliance import meta
from mlperf_submit.compliance.eval_schedule import (
    RULE_FILE_SCHEDULES,
    Schedule,
    schedule_deviations,
    schedule_for,
)
from mlperf_submit.compliance.rcp_outlook import RcpOutlook, rcp_outlook

SCHEMA = "mlperf-submit-preflight/1"
PLANNED_EVALS = 60  # evaluations of the plan compared with the rules' schedule
# RCP hyperparameters that do not change the optimisation (the same global batch, split into
# micro-batches): a difference there is not a reason to expect another convergence
SAME_MATH = frozenset({"gradient_accumulation_steps"})


@dataclass
class PreflightReport:
    benchmark: str
    preset: str
    ruleset: str
    nodes: int
    nproc_per_node: int
    global_batch_size: int
    required_runs: int | None
    rcp: RcpOutlook
    schedule: Schedule | None
    planned_unit: str | None = None
    planned_evals: list[float] = field(default_factory=list)
    closed_problems: list[str] = field(default_factory=list)
    init_errors: list = field(default_factory=list)  # Finding (configuration errors only)
    init_log: str | None = None
    problems: list[str] = field(default_factory=list)  # why it cannot pass
    warnings: list[str] = field(default_factory=list)  # the rules say so, the tools do not check

    @property
    def world_size(self) -> int:
        return self.nodes * self.nproc_per_node

    @property
    def passed(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        head = (
            f"preflight {self.benchmark} --preset {self.preset}: ruleset {self.ruleset}, closed, "
            f"{self.nodes} node(s) x {self.nproc_per_node} = {self.world_size} ranks, "
            f"global batch size {self.global_batch_size}"
        )
        out = [head]
        if self.closed_problems:
            out.append("closed-division configuration: NOT closed")
            out += [f"  {p}" for p in self.closed_problems]
        elif not self.init_errors:
            out.append("init section: passes the closed rules")
        if self.init_errors:
            out.append(f"init section: {len(self.init_errors)} error(s) under the closed rules")
            for f in self.init_errors[:10]:
                out.append(f"  {f.message.splitlines()[0]}")
        out.append("RCP: " + self.rcp.lines()[0])
        out += [f"  {line}" for line in self.rcp.lines()[1:]]
        if self.schedule is not None:
            out.append(f"evaluation schedule required: {self.schedule.describe()}")
        elif self.benchmark in RULE_FILE_SCHEDULES:
            out.append(f"evaluation schedule: {RULE_FILE_SCHEDULES[self.benchmark]}")
        else:
            out.append("evaluation schedule: no rule known here for this benchmark and round")
        if self.planned_evals:
            shown = ", ".join(_fmt(p) for p in self.planned_evals[:5])
            out.append(f"  configured evaluations ({self.planned_unit}): {shown}, ...")
        runs = self.required_runs if self.required_runs is not None else "unknown"
        out.append(f"runs required: {runs}")
        out += [f"warning: {w}" for w in self.warnings]
        out += [f"PROBLEM: {p}" for p in self.problems]
        out.append(
            "verdict: the campaign can pass as configured"
            if self.passed
            else "verdict: the campaign CANNOT pass as configured"
        )
        return out

    def to_dict(self) -> dict:
        s = self.schedule
        return {
            "schema": SCHEMA,
            "benchmark": self.benchmark,
            "preset": self.preset,
            "ruleset": self.ruleset,
            "division": "closed",
            "nodes": self.nodes,
            "nproc_per_node": self.nproc_per_node,
            "world_size": self.world_size,
            "global_batch_size": self.global_batch_size,
            "passed": self.passed,
            "exit_code": 0 if self.passed else 1,
            "closed_problems": list(self.closed_problems),
            "init_section": {
                "passed": not self.init_errors,
                "errors": [
                    {"message": f.message, "key": f.key, "rule": f.rule, "hint": f.hint}
                    for f in self.init_errors
                ],
            },
            "rcp": self.rcp.to_dict(),
            "eval_schedule": None
            if s is None
            else {
                "unit": s.unit,
                "interval": s.interval,
                "first": s.first,
                "first_choices": list(s.first_choices),
                "rule": s.rule,
                "source": s.source,
                "description": s.describe(),
            },
            "planned_evals": {"unit": self.planned_unit, "points": self.planned_evals[:10]},
            "required_runs": self.required_runs,
            "problems": list(self.problems),
            "warnings": list(self.warnings),
        }


def _fmt(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:.6g}"


def reference_differences(rcp: RcpOutlook, logged: dict) -> dict:
    """Hyperparameters the RCP record at this exact batch size lists under a logged key's name
    with another value: ``{key: (reference value, logged value)}``."""
    if rcp.kind != "found" or not rcp.record or not logged:
        return {}
    from mlperf_submit.compliance.rcp import rcp_table

    rec = rcp_table(rcp.ruleset, rcp.benchmark).rcp_data.get(rcp.record, {})
    out = {}
    for key, ref in (rec.get("Hyperparams") or {}).items():
        if key not in logged or key in SAME_MATH:
            continue
        mine = logged[key]
        same = (
            math.isclose(float(ref), float(mine), rel_tol=1e-6)
            if _number(ref) and _number(mine)
            else ref == mine
        )
        if not same:
            out[key] = (ref, mine)
    return out


def _number(x) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def assess(
    benchmark: str,
    preset: str,
    ruleset: str,
    *,
    nodes: int,
    nproc_per_node: int,
    global_batch_size: int,
    closed_problems: list[str],
    init_errors: list,
    planned_unit: str | None = None,
    planned_evals: list[float] | None = None,
    planned_note: str | None = None,
    logged: dict | None = None,
) -> PreflightReport:
    """Judge the facts of a configuration (see the module docstring)."""
    world = nodes * nproc_per_node
    rep = PreflightReport(
        benchmark,
        preset,
        ruleset,
        nodes,
        nproc_per_node,
        global_batch_size,
        meta.required_runs(benchmark),
        rcp_outlook(benchmark, ruleset, global_batch_size, step=world),
        schedule_for(benchmark, ruleset, global_batch_size),
        planned_unit=planned_unit,
        planned_evals=list(planned_evals or [])[:PLANNED_EVALS],
        closed_problems=list(closed_problems),
        init_errors=list(init_errors),
    )
    if closed_problems:
        rep.problems.append(
            f"preset {preset!r} is not a closed configuration ({len(closed_problems)} problem(s))"
        )
    if init_errors:
        rep.problems.append(
            f"the init section fails the closed rules ({len(init_errors)} error(s))"
        )
    r = rep.rcp
    if r.kind in ("missing", "none", "no_table"):
        hint = ""
        if r.nearest:
            hint = f"; nearest batch sizes that work: {', '.join(str(b) for b in r.nearest)}"
        rep.problems.append(f"the RCP test fails at global batch size {global_batch_size}{hint}")
    elif r.kind == "smaller":
        rep.warnings.append(
            f"global batch size {global_batch_size} is below every RCP: the run set passes only "
            f"if its olympic mean is at least {r.threshold:.6g} {r.unit} ({r.record}'s band)"
        )
    for key, (ref, mine) in reference_differences(r, logged or {}).items():
        rep.warnings.append(
            f"{key} = {mine!r}, the reference runs of {r.record} used {ref!r}: the RCP predicts "
            "the convergence of its hyperparameters"
        )
    if r.pruned_here:
        rep.warnings.append(f"the RCP at this batch size is not used: {r.pruned_here}")
    if rep.required_runs is None:
        rep.problems.append(f"mlperf-logging knows no run count for {benchmark}")
    if global_batch_size % world:
        rep.warnings.append(
            f"global batch size {global_batch_size} does not split evenly over {world} ranks"
        )
    if planned_note:
        rep.warnings.append(planned_note)
    s = rep.schedule
    if s is not None and rep.planned_evals:
        if planned_unit != s.unit:
            rep.warnings.append(
                f"the configured evaluations count {planned_unit}, the rule {s.unit}: not compared"
            )
        else:
            bad = schedule_deviations(s, rep.planned_evals)
            if bad:
                i, got, want = bad[0]
                rep.warnings.append(
                    f"configured evaluation {i + 1} at {_fmt(got)} {planned_unit}, the rules "
                    f"({s.rule}) put it at {_fmt(want)} ({len(bad)} of the first "
                    f"{len(rep.planned_evals)} off schedule; the official checker does not "
                    "check it, mlcommons/logging#79)"
                )
    return rep
