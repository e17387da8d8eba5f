"""Human and JSON output of ``mlperf-submit check`` (schema: docs/check-json.md).

Every path is printed as the user gave it, or as the directory the user gave joined with
what was found inside it (as compilers and linters do): editors and CI annotations open it
from where the command ran, and it is never shortened.

A :class:`Target` is one PATH of the command line with its report: a log file
(``filecheck.FileReport``), a run set (``runset.DirReport``), an org folder
(``orgfolder.OrgReport``) or a system JSON (``system_desc.SystemDesc``), plus the official
tools' verdicts and the disagreements when ``--official`` was given.

Human output: one line per file/dir with PASS/FAIL and the first reasons as ``file:line``, then
a summary line. ``to_json`` builds the documented dict (``schema: mlperf-submit-check/1``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from mlperf_submit import MLPERF_LOGGING_VERSION, __version__
from mlperf_submit.compliance.filecheck import MISSING

SCHEMA = "mlperf-submit-check/1"
MAX_REASONS = 3


@dataclass
class Target:
    path: str
    kind: str  # file | files | dir | org | system
    ruleset: str
    ruleset_source: str  # "--ruleset" or why the default was chosen
    report: object
    official: list = field(default_factory=list)  # OfficialVerdict
    disagreements: list[dict] = field(default_factory=list)
    # not official, never a verdict (compliance/advice.py): rule-text warnings per log, and
    # the projection of run sets with fewer runs than required
    advisories: list = field(default_factory=list)  # (log path, Finding)
    projections: list = field(default_factory=list)  # projection.Projection

    @property
    def verdict(self) -> str:
        rep = self.report
        if self.kind == "system":
            return "PASS" if rep.official_passed and not rep.official_crash else "FAIL"
        return rep.verdict

    @property
    def passed(self) -> bool:
        return self.verdict in ("PASS", "SKIP")


# ---------------------------------------------------------------- JSON


def finding_dict(f, path: str | None = None) -> dict:
    d = {
        "severity": f.severity,
        "kind": f.kind,
        "message": f.message,
        "key": f.key,
        "lineno": f.lineno,
        "file_lineno": f.file_lineno,
        "rule": f.rule,
        "hint": f.hint,
    }
    if path is not None:
        d["path"] = path
    return d


def _num(x):
    return None if x is None else float(x)


def file_dict(fr) -> dict:
    facts = fr.facts
    errors = list(fr.errors)
    if fr.official_crash and getattr(fr, "official_crash_finding", None) is not None:
        errors = [fr.official_crash_finding, *errors]
    from mlperf_submit.compliance.scoring import ttt_minutes

    start, stop = facts.ttt_start_ms, facts.ttt_stop_ms
    return {
        "path": fr.path,
        "verdict": fr.verdict,
        "passed": fr.passed,
        "ruleset": fr.ruleset,
        "benchmark": facts.submission.get("submission_benchmark"),
        "division": facts.submission.get("submission_division"),
        "n_mllog": fr.n_mllog,
        "n_parse_errors": fr.n_parse_errors,
        "configs": list(fr.configs),
        "official_crash": fr.official_crash,
        "ttt_minutes": ttt_minutes(start, stop) if start is not None and stop is not None else None,
        "run_stop_status": _jsonable(facts.run_stop_status),
        "seeds": [
            {
                "file": None if s[0] is MISSING else _jsonable(s[0]),
                "lineno": None if s[1] is MISSING else _jsonable(s[1]),
                "value": _jsonable(s[2]),
                "file_lineno": s[3] if len(s) > 3 else None,
            }
            for s in facts.seeds
        ],
        "global_batch_size": _jsonable(facts.global_batch_size),
        "errors": [finding_dict(f) for f in errors],
        "warnings": [finding_dict(f) for f in fr.warnings],
    }


def show(value) -> str:
    """A value from a log or a report, for people: as JSON (``"open"``, ``1.0347``, ``null``),
    never a Python repr such as ``np.float64(1.0347)`` or ``'open'``."""
    return json.dumps(_jsonable(value), allow_nan=True)


def json_default(value):
    """``json.dump(default=...)``: numpy scalars as numbers, anything else as text."""
    item = getattr(value, "item", None)
    if callable(item):
        try:
            got = item()
        except (TypeError, ValueError):
            got = None
        if isinstance(got, bool | int | float | str):
            return got
    return str(value)


MAX_DEPTH = 64  # deeper parts of a logged value are summarised (a log may nest 900 deep)


def _jsonable(v):
    """``v`` with only JSON types, without recursion: a log value may be nested deeper than
    Python's recursion limit, and a report must still print."""
    if v is None or type(v) in (bool, int, float, str):
        return v
    root: list = [None]
    stack = [(v, root, 0, 0)]
    while stack:
        obj, parent, key, depth = stack.pop()
        if obj is None or type(obj) in (bool, int, float, str):
            parent[key] = obj
        elif isinstance(obj, int | float | str):  # np.float64, an IntEnum, a str subclass
            parent[key] = next(t for t in (int, float, str) if isinstance(obj, t))(obj)
        elif depth >= MAX_DEPTH and isinstance(obj, list | tuple | dict):
            parent[key] = f"(a JSON value nested deeper than {MAX_DEPTH} levels)"
        elif isinstance(obj, list | tuple):
            parent[key] = new = [None] * len(obj)
            stack.extend((x, new, i, depth + 1) for i, x in enumerate(obj))
        elif isinstance(obj, dict):
            parent[key] = new = dict.fromkeys(str(k) for k in obj)
            stack.extend((x, new, str(k), depth + 1) for k, x in obj.items())
        else:
            parent[key] = json_default(obj)
    return root[0]


def rcp_dict(d) -> dict | None:
    if not d.rcp_applies:
        return {"applies": False, "reason": _rcp_not_applicable(d)}
    r = d.rcp
    rec = r.record
    return {
        "applies": True,
        "passed": r.passed,
        "message": r.message,
        "bypassed": r.bypassed,
        "crash": r.crash,
        "bs": _jsonable(r.bs),
        "points": [_jsonable(p) for p in r.points],
        "submission_mean": _num(r.subm_mean),
        "rcp_mean": None if rec is None else _num(rec["RCP Mean"]),
        "rcp_stdev": None if rec is None else _num(rec["RCP Stdev"]),
        "min_epochs": r.min_epochs,
        "max_speedup": None if rec is None else _num(rec["Max Speedup"]),
        "interpolated": r.interpolated,
        "scaling_factor": _num(r.scaling_factor),
        "scaling_action": r.scaling_action,
        "scaling_written": _num(r.scaling_written),
        "warnings": list(r.warnings),
    }


def _rcp_not_applicable(d) -> str:
    if d.skipped:
        return "benchmark skipped"
    if not d.closed:
        return (
            f'division {show(d.division)} is not "closed" (package_checker runs RCP for closed '
            "only)"
        )
    if d.benchmark == "minigo":
        return "minigo has no RCP"
    return f"ruleset {d.ruleset} has no RCP check"


def score_dict(s) -> dict | None:
    if s is None:
        return None
    return {
        "minutes": _num(s.minutes),
        "raw_minutes": _num(s.raw_minutes),
        "scaling_factor": _num(s.scaling_factor),
        "scaling_source": s.scaling_source,
        "scaling_file": s.scaling_file,
        "summarizer_minutes": _num(s.summarizer_minutes),
        "n_runs": s.n_runs,
        "dropped": s.dropped,
        "fastest": s.fastest,
        "slowest": s.slowest,
        "too_many_failures": s.too_many_failures,
        "ttt_minutes": {k: _num(v) for k, v in s.ttt_minutes.items()},
        "note": s.note,
    }


def dir_dict(d) -> dict:
    return {
        "path": d.path,
        "verdict": d.verdict,
        "passed": d.passed,
        "system": d.system,
        "benchmark": d.benchmark,
        "ruleset": d.ruleset,
        "division": _jsonable(d.division),
        "closed": d.closed,
        "skipped": d.skipped,
        "required_runs": d.required_runs,
        "n_runs": d.n_runs,
        "failing": d.failing,
        "power_failing": d.power_failing,
        "not_success": [{"run": n, "status": _jsonable(s)} for n, s in d.not_success],
        "official_crash": d.official_crash,
        "seeds": {
            "checked": d.seeds_checked,
            "bypassed": d.seed_bypass,
            "findings": [finding_dict(f) for f in d.seeds],
        },
        "rcp": rcp_dict(d),
        "score": score_dict(d.score),
        "errors": [finding_dict(f) for f in d.errors],
        "warnings": [finding_dict(f) for f in d.warnings],
        "runs": [file_dict(fr) for fr in d.files],
    }


def system_dict(s) -> dict:
    return {
        "path": s.path,
        "name": s.name,
        "verdict": "PASS" if s.official_passed and not s.official_crash else "FAIL",
        "passed": s.official_passed and not s.official_crash,
        "official_crash": s.official_crash,
        "division": _jsonable(s.get("division")),
        "status": _jsonable(s.get("status")),
        "errors": [finding_dict(f) for f in s.errors],
        "warnings": [finding_dict(f) for f in s.warnings],
    }


def org_dict(o) -> dict:
    return {
        "path": o.path,
        "verdict": o.verdict,
        "passed": o.passed,
        "ruleset": o.ruleset,
        "official_crash": o.official_crash,
        "errors": [finding_dict(f) for f in o.errors],
        "warnings": [finding_dict(f) for f in o.warnings],
        "systems": [system_dict(s) for s in o.systems],
        "dirs": [dir_dict(d) for d in o.dirs],
    }


def target_dict(t: Target) -> dict:
    body = {
        "file": file_dict,
        "files": dir_dict,
        "dir": dir_dict,
        "org": org_dict,
        "system": system_dict,
    }[t.kind](t.report)
    out = {
        "path": t.path,
        "kind": t.kind,
        "ruleset": t.ruleset,
        "ruleset_source": t.ruleset_source,
        "verdict": t.verdict,
        "passed": t.passed,
        "report": body,
    }
    if t.official:
        out["official"] = [v.to_dict() for v in t.official]
        out["disagreements"] = t.disagreements
    out["advisories"] = [finding_dict(f, path) for path, f in t.advisories]
    out["projections"] = [p.to_dict() for p in t.projections]
    return out


def to_json(targets: list[Target], exit_code: int) -> dict:
    counts = {"checked": len(targets), "passed": 0, "failed": 0, "skipped": 0}
    for t in targets:
        key = {"PASS": "passed", "SKIP": "skipped"}.get(t.verdict, "failed")
        counts[key] += 1
    return {
        "schema": SCHEMA,
        "mlperf_submit": __version__,
        "mlperf_logging": MLPERF_LOGGING_VERSION,
        "passed": exit_code == 0,
        "exit_code": exit_code,
        "summary": counts,
        "targets": [target_dict(t) for t in targets],
    }


# ---------------------------------------------------------------- human


def _reason_lines(findings: Iterable, limit: int, indent: str = "      ") -> list[str]:
    out = []
    for f in findings:
        if len(out) >= limit:
            break
        out.append(f"{indent}{f.short() if hasattr(f, 'short') else f.message}")
        if f.hint:
            out.append(f"{indent}  fix: {f.hint}")
    return out


def _file_lines(fr, quiet: bool, indent: str = "") -> list[str]:
    if quiet and fr.passed:
        return []
    head = f"{indent}{fr.verdict}  {fr.path}"
    if fr.passed:
        ttt = file_dict(fr)["ttt_minutes"]
        extra = f"{ttt:.3f} min" if ttt is not None else "no run_start/run_stop"
        return [f"{head}  ({extra})"]
    lines = [head]
    if fr.n_mllog == 0 and not fr.official_crash:
        lines.append(f"{indent}      {fr.path}: no ':::MLLOG ' line at all (is it an MLPerf log?)")
    for reason in fr.reasons(MAX_REASONS):
        lines.append(f"{indent}      {reason}")
    first = fr.errors[0] if fr.errors else None
    if first is not None and first.hint:
        lines.append(f"{indent}      fix: {first.hint}")
    return lines


def _dir_summary(d) -> str:
    if d.skipped:
        return d.skipped
    parts = [f"{d.benchmark}", f"{d.n_runs}/{d.required_runs} runs"]
    if d.failing:
        parts.append(f"non-compliant: {', '.join(d.failing)}")
    if d.score is not None:
        parts.append(d.score.text())
    if d.rcp_applies and d.rcp is not None:
        parts.append(d.rcp.summary())
    elif d.closed is False:
        parts.append(f"division {show(d.division)}: no seed/RCP checks")
    return ", ".join(parts)


def _dir_lines(d, quiet: bool, indent: str = "") -> list[str]:
    lines = []
    if not (quiet and d.passed):
        lines.append(f"{indent}{d.verdict}  {d.path}  ({_dir_summary(d)})")
        lines += _reason_lines(d.errors, MAX_REASONS, indent + "      ")
    for fr in d.files:
        lines += _file_lines(fr, quiet or d.passed, indent + "  ")
    return lines


def _system_lines(s, quiet: bool, indent: str = "") -> list[str]:
    ok = s.official_passed and not s.official_crash
    if quiet and ok and not s.warnings:
        return []
    lines = [f"{indent}{'PASS' if ok else 'FAIL'}  {s.path}  (system description)"]
    lines += _reason_lines(s.errors, MAX_REASONS, indent + "      ")
    if not quiet:
        lines += _reason_lines(s.warnings, MAX_REASONS, indent + "      warning: ")
    return lines


def _advice_lines(t: Target, quiet: bool) -> list[str]:
    """Projections and rule-text warnings (compliance/advice.py): never a verdict."""
    lines = []
    for p in t.projections:
        lines.append(f"   projection {p.path or t.path}:")
        lines += [f"      {line}" for line in p.lines()]
    if t.advisories and not quiet:
        logs = sorted({path for path, _ in t.advisories})
        lines.append(
            f"   rules not checked by the official tools: {len(t.advisories)} warning(s) in "
            f"{len(logs)} log(s) (mlcommons/logging#79; the verdict stays the official one)"
        )
        for path, f in t.advisories[:MAX_REASONS]:
            where = f"{path}:{f.file_lineno}" if f.file_lineno else str(path)
            lines.append(f"      {where}: {f.message}")
        if len(t.advisories) > MAX_REASONS:
            lines.append(f"      ... ({len(t.advisories) - MAX_REASONS} more; --json lists all)")
    return lines


def render(targets: list[Target], *, quiet: bool = False) -> list[str]:
    lines: list[str] = []
    for t in targets:
        rep = t.report
        if not quiet:
            lines.append(f"== {t.path}  [{t.kind}, ruleset {t.ruleset}: {t.ruleset_source}]")
        if t.kind == "file":
            lines += _file_lines(rep, quiet)
        elif t.kind in ("dir", "files"):
            lines += _dir_lines(rep, quiet)
        elif t.kind == "system":
            lines += _system_lines(rep, quiet)
        else:
            for s in rep.systems:
                lines += _system_lines(s, quiet, "  ")
            lines += _reason_lines(
                [f for f in rep.errors if f.kind != "system"], MAX_REASONS, "      "
            )
            for d in rep.dirs:
                lines += _dir_lines(d, quiet, "  ")
            lines.append(
                f"{rep.verdict}  {rep.path}  (org folder: {len(rep.systems)} "
                f"systems, {len(rep.dirs)} result dirs)"
            )
            if rep.official_crash:
                lines.append(
                    f"      the official package_checker would crash: {rep.official_crash}"
                )
        lines += _advice_lines(t, quiet)
        for v in t.official:
            lines.append(f"   official {v.tool}: {v.verdict}  {v.message}")
        for dis in t.disagreements:
            lines.append(
                f"   DISAGREE {dis['what']}: {dis['path']}: ours {show(dis['ours'])}, "
                f"official {show(dis['official'])}"
            )
    n_fail = sum(1 for t in targets if not t.passed)
    n_dis = sum(len(t.disagreements) for t in targets)
    tail = f"{len(targets)} checked, {len(targets) - n_fail} compliant, {n_fail} not compliant"
    if any(t.official for t in targets):
        tail += f", {n_dis} disagreement(s) with the official tools"
    lines.append(tail)
    return lines
