"""Online compliance: every written line goes through the same rules engine as ``mlperf-submit check``.

Modes:

- ``strict``: a finding that became definite with a line raises :class:`ComplianceError` from
  the call that wrote it (the line is already in the file: the log stays the truth, and the
  verdict at the end matches ``mlperf-submit check`` on that file). The logger stays usable if
  the caller catches the error.
- ``warn``: the finding is printed to stderr, once per rule, and the run goes on.
- ``off``: nothing is checked; :meth:`OnlineChecker.finish` is never called.

Only findings the engine calls definite are reported while the run goes on: a CHECK that failed
and that no later rule file can override, an EXACTLY_ONE key seen a second time. Requirements
that can only be judged on the whole log (REQ counts, the quality target) wait for ``finish()``.

On top of the official rules the logger adds policies of its own (reported as ``kind="policy"``,
never counted in the official verdict):

- ``cache_clear`` must be logged before ``init_stop`` (the official rule only asks for one
  anywhere in the log; a cache cleared after initialisation does not do its job). Checked at
  ``init_stop`` and, if that was never logged, at ``run_start``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from mlperf_submit.compliance.hints import hint_for as engine_hint
from mlperf_submit.compliance.parser import parse_mllog_text
from mlperf_submit.compliance.rule_engine import RuleEngine
from mlperf_submit.errors import CheckFailed

MODES = ("strict", "warn", "off")

# Hints the engine's (compliance/hints.py) does not give, or that name a facade helper.
_HINTS: tuple[tuple[str, str, str], ...] = (
    (
        "opt_learning_rate_decay_steps",
        "opt_learning_rate_warmup_steps",
        "log opt_learning_rate_warmup_steps before opt_learning_rate_decay_steps "
        "(logger.hyperparameters(...) orders them for you)",
    ),
    (
        "evaluation_frequency",
        "eval_interval_samples",
        "log global_batch_size before evaluation_frequency "
        "(logger.hyperparameters(...) orders them for you)",
    ),
    (
        "opt_name",
        "",
        "log the name of the optimizer in effect (optimizer_name(opt)); the closed "
        "rules of this benchmark allow only the value in the rule",
    ),
    (
        "run_stop",
        "status",
        "log run_stop through logger.run_stop(status), which sets metadata.status",
    ),
    ("run_stop", "run_started", "run_stop must come after run_start"),
    ("block_start", "run_started", "blocks start after run_start (logger.init_stop_run_start())"),
    (
        "run_start",
        "",
        "log init_start, then init_stop, then run_start "
        "(logger.init_start(); ...; logger.init_stop_run_start())",
    ),
)


def hint_for(finding) -> str | None:
    text = (finding.rule or "") + "\n" + finding.message
    for hkey, needle, hint in _HINTS:
        if finding.key == hkey and needle in text:
            return hint
    return finding.hint or engine_hint(finding)


@dataclass
class Violation:
    """What :class:`ComplianceError` carries; also what ``warn`` prints."""

    key: object
    severity: str  # error | warning
    kind: str  # the engine's Finding.kind, or "policy"
    message: str
    rule: str | None
    hint: str | None
    config: str | None
    site: str  # file:line of the call that made it definite
    file_lineno: int | None  # line in the log file that the finding is about
    current_lineno: int | None = None  # line in the log file that this call wrote

    def rule_id(self) -> tuple:
        return (self.kind, self.key, self.config, self.rule or self.message.split("\n", 1)[0])

    def describe(self) -> str:
        head = self.message.split("\n", 1)[0]
        parts = [f"{self.site}: '{self.key}': {head}"]
        if self.file_lineno and self.current_lineno and self.file_lineno != self.current_lineno:
            parts.append(f"(about log line {self.file_lineno}; definite since this call)")
        if self.rule and self.rule not in head:
            parts.append(f"rule: {self.rule.strip()}")
        if self.config:
            parts.append(f"({self.config})")
        if self.kind == "policy":
            parts.append("[mlperf-submit policy, not an official rule]")
        elif self.severity == "warning":
            parts.append("[official warning]")
        if self.hint:
            parts.append(f"fix: {self.hint}")
        return " ".join(parts)


class ComplianceError(CheckFailed):
    """Raised in strict mode by the logging call that made the log non-compliant."""

    def __init__(self, violations: list[Violation]):
        self.violations = violations
        self.violation = violation = violations[0]
        self.key = violation.key
        self.rule = violation.rule
        self.hint = violation.hint
        more = "".join(f"\n  also: {v.describe()}" for v in violations[1:])
        super().__init__("MLPerf compliance: " + violation.describe() + more)


class OnlineChecker:
    """Feeds written lines to a :class:`RuleEngine` and applies the mode and the policies."""

    def __init__(self, ruleset: str, mode: str, *, label: str = ""):
        self.mode = mode
        self.label = label
        self.engine = RuleEngine(ruleset, "training", online=True)
        self.lines_fed = 0
        self._reported: set[tuple] = set()
        self._policy_done: set[str] = set()
        self.policy_findings: list[Violation] = []
        self.finished = None  # the CheckResult once finish() ran

    def feed(self, text: str, key, site: str) -> None:
        """Check one line just written (``text`` starts at the token); raise/print per mode."""
        item = parse_mllog_text(text, self.lines_fed, self.lines_fed + 1)
        self.lines_fed += 1
        violations = []
        if key in ("init_stop", "run_start"):
            violations.extend(self._cache_clear_policy(key, site, item.file_lineno))
        for finding in self.engine.feed(item):
            violations.append(
                Violation(
                    key=finding.key if finding.key is not None else key,
                    severity=finding.severity,
                    kind=finding.kind,
                    message=finding.message,
                    rule=finding.rule,
                    hint=hint_for(finding),
                    config=finding.config,
                    site=site,
                    file_lineno=finding.file_lineno,
                    current_lineno=item.file_lineno,
                )
            )
        if violations:
            self._report(violations)

    def _cache_clear_policy(self, key, site: str, file_lineno: int) -> list[Violation]:
        if "cache_clear" in self._policy_done or self.engine.count("cache_clear") > 0:
            return []
        self._policy_done.add("cache_clear")
        v = Violation(
            key=key,
            severity="error",
            kind="policy",
            message=f"'{key}' logged before any 'cache_clear'",
            rule="cache_clear before init_stop",
            hint="clear the caches before initialisation and log it "
            "(logger.event('cache_clear', True)); the official rule only requires one "
            "cache_clear somewhere in the log",
            config=None,
            site=site,
            file_lineno=file_lineno,
        )
        self.policy_findings.append(v)
        return [v]

    def _report(self, violations: list[Violation]) -> None:
        if self.mode == "strict":
            raise ComplianceError(violations)
        for v in violations:
            rid = v.rule_id()
            if rid in self._reported:
                continue
            self._reported.add(rid)
            print(f"mlperf-submit: warning: {v.describe()}", file=sys.stderr, flush=True)

    def finish(self):
        """End-of-log rules; the engine's CheckResult (same verdict as the official checker)."""
        if self.finished is None:
            self.finished = self.engine.finish()
        return self.finished


def verdict_line(result, label: str, policy: list[Violation] = ()) -> str:
    """The one-line verdict printed at finish (to stderr, never as an MLLOG line)."""
    if result.official_crash:
        state = f"NOT COMPLIANT (the official checker would crash: {result.official_crash})"
    elif result.passed:
        state = "COMPLIANT"
    else:
        state = "NOT COMPLIANT"
    counts = f"{len(result.errors)} error(s), {len(result.warnings)} warning(s)"
    first = ""
    if result.errors:
        first = "; first: " + result.errors[0].message.split("\n", 1)[0]
    extra = f"; {len(policy)} mlperf-submit policy finding(s)" if policy else ""
    return f"mlperf-submit: {label}: {state}: {counts}{first}{extra}"
