"""Check one log file in one pass: parse, the official rules, and the facts run sets need.

    >>> report = check_file("result_0.txt", "6.0.0")
    >>> report.passed, report.facts.ttt_minutes()

``passed`` is the official compliance checker's verdict. Where the official checker would crash
(a traceback instead of a verdict), ``passed`` is False and ``official_crash`` says why.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from mlperf_submit.compliance.findings import CheckResult, Finding
from mlperf_submit.compliance.hints import add_hints
from mlperf_submit.compliance.parser import LogLine, log_lines, open_log
from mlperf_submit.compliance.rule_engine import RuleEngine
from mlperf_submit.compliance.scan import scan_lines
from mlperf_submit.errors import InputError

# Keys whose values the run-set checks and reports need (everything else is only rules).
_FACT_KEYS = frozenset(
    (
        "run_start",
        "run_stop",
        "seed",
        "global_batch_size",
        "eval_accuracy",
        "init_start",
        "init_stop",
    )
)


class _Missing:
    """A metadata field that is absent (the official seed checker raises KeyError on it), as
    opposed to one logged as ``null`` (which it accepts as the value None)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing()


@dataclass
class RunFacts:
    """What the summarizer, the seed checker and reports read from a log."""

    run_start_ms: float | None = None  # first run_start in file order
    run_stop_ms: float | None = None  # first run_stop in file order
    run_stop_status: object | None = None
    # run_start/run_stop as result_summarizer pairs them: it keeps overwriting both until both
    # are set, so a repeated run_start before the first run_stop moves the start (runset score)
    ttt_start_ms: float | None = None
    ttt_stop_ms: float | None = None
    run_start_file_lineno: int | None = None
    run_stop_file_lineno: int | None = None
    init_start_ms: float | None = None
    init_stop_ms: float | None = None
    seeds: list[tuple] = field(
        default_factory=list
    )  # (metadata.file, metadata.lineno, value, file_lineno); MISSING where metadata lacks it
    submission: dict = field(default_factory=dict)  # first value of each submission_* key
    global_batch_size: object | None = None  # last logged value
    evals: list[tuple] = field(
        default_factory=list
    )  # (epoch_num|samples_count, value, file_lineno)

    def ttt_minutes(self) -> float | None:
        """(run_stop - run_start) / 60000, the result_summarizer's time to train."""
        if self.run_start_ms is None or self.run_stop_ms is None:
            return None
        return (self.run_stop_ms - self.run_start_ms) / 60000.0

    @property
    def benchmark(self):
        return self.submission.get("submission_benchmark")

    @property
    def division(self):
        return self.submission.get("submission_division")


class FactCollector:
    """Collects :class:`RunFacts` from parsed lines (fed by check_file or the logger)."""

    __slots__ = ("facts",)

    def __init__(self):
        self.facts = RunFacts()

    def feed(self, ll: LogLine) -> None:
        key = ll.key
        if type(key) is not str:
            return
        if key.startswith("submission_"):
            self.facts.submission.setdefault(key, ll.value["value"])
            return
        if key not in _FACT_KEYS:
            return
        facts = self.facts
        value = ll.value["value"]
        md = ll.value["metadata"]
        if key in ("run_start", "run_stop") and (
            facts.ttt_start_ms is None or facts.ttt_stop_ms is None
        ):
            if key == "run_start":
                facts.ttt_start_ms = ll.timestamp
            else:
                facts.ttt_stop_ms = ll.timestamp
        if key == "run_start":
            if facts.run_start_ms is None:
                facts.run_start_ms = ll.timestamp
                facts.run_start_file_lineno = ll.file_lineno
        elif key == "run_stop":
            if facts.run_stop_ms is None:
                facts.run_stop_ms = ll.timestamp
                facts.run_stop_file_lineno = ll.file_lineno
                facts.run_stop_status = md.get("status") if type(md) is dict else None
        elif key == "seed":
            if type(md) is dict:
                seed = (md.get("file", MISSING), md.get("lineno", MISSING), value, ll.file_lineno)
                facts.seeds.append(seed)
            else:
                facts.seeds.append((MISSING, MISSING, value, ll.file_lineno))
        elif key == "global_batch_size":
            facts.global_batch_size = value
        elif key == "eval_accuracy":
            progress = None
            if type(md) is dict:
                progress = md.get("samples_count", md.get("epoch_num"))
            facts.evals.append((progress, value, ll.file_lineno))
        elif key == "init_start":
            if facts.init_start_ms is None:
                facts.init_start_ms = ll.timestamp
        elif key == "init_stop" and facts.init_stop_ms is None:
            facts.init_stop_ms = ll.timestamp


@dataclass
class FileReport:
    path: str
    ruleset: str
    passed: bool
    errors: list[Finding]
    warnings: list[Finding]
    official_crash: str | None
    n_mllog: int
    n_parse_errors: int
    configs: list[str]
    facts: RunFacts
    parse_errors: list[Finding] = field(default_factory=list)  # the first 100, with file lines

    @property
    def verdict(self) -> str:
        return "PASS" if self.passed else "FAIL"

    def reasons(self, limit: int = 3) -> list[str]:
        """The first reasons, each with file:line where there is one."""
        out = []
        items = ([self.official_crash_finding] if self.official_crash else []) + self.errors
        for f in items:
            if f is None:
                continue
            where = f"{self.path}:{f.file_lineno}: " if f.file_lineno else f"{self.path}: "
            out.append(where + f.short())
            if len(out) >= limit:
                break
        return out

    official_crash_finding: Finding | None = None


def check_file(
    path: str | os.PathLike,
    ruleset: str,
    *,
    usage: str = "training",
    werror: bool = False,
    quiet: bool = False,
    config: str | None = None,
) -> FileReport:
    """Parse and check one log file in a single streaming pass."""
    engine = RuleEngine(ruleset, usage, config=config, werror=werror, quiet=quiet)
    facts = FactCollector()
    parse_findings: list[Finding] = []
    with open_log(path) as f:
        try:
            scan_lines(log_lines(f, path), engine, facts.feed, _FACT_KEYS)
        except OSError as err:
            raise InputError(f"{path}: read error: {err.strerror or err}") from None
    for bad in engine.parse_errors:
        parse_findings.append(engine._parse_finding(bad))
    result = engine.finish()
    return report_from_result(str(path), ruleset, engine, result, facts.facts, parse_findings)


def report_from_result(
    path,
    ruleset,
    engine: RuleEngine,
    result: CheckResult,
    facts: RunFacts,
    parse_findings: list[Finding],
) -> FileReport:
    add_hints(result, facts)
    errors = list(result.errors)
    if parse_findings:
        # the official tool prints every bad line before its summary sentence; so do we
        errors = parse_findings + errors
    return FileReport(
        path=path,
        ruleset=ruleset,
        passed=result.passed,
        errors=errors,
        warnings=result.warnings,
        official_crash=result.official_crash,
        n_mllog=engine.n_lines,
        n_parse_errors=engine.n_parse_errors,
        configs=result.configs,
        facts=facts,
        parse_errors=parse_findings,
        official_crash_finding=result.crash_finding,
    )
