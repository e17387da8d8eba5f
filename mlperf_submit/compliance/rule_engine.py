"""The streaming rules engine: the official YAML rule files, evaluated in one pass.

Semantics are those of ``mlperf_logging.compliance_checker.mlp_compliance`` (4.1.68), see
docs/official-tools.md §5.2. The official tool runs its configs one after another, each over the
whole list of lines: ``common.yaml`` enqueues ``<division>_common.yaml`` from a POST, which
enqueues ``<division>_<benchmark>.yaml``, and so on. Each config has its own state ``s``, so the
configs are independent of each other except for

* *which* configs run (a POST calls ``enqueue_config``), and
* how their messages combine: a later config discards the earlier keyed messages of every key it
  defines, warnings are never discarded, un-keyed messages are appended.

We therefore run every config at the same time over a single stream of lines. A config that is
enqueued at line *i* must still see lines 0..i-1, so the engine keeps a buffer of the lines that
a config which *may still be enqueued* would react to. Which configs may still be enqueued is
known from the ``enqueue_config('training_X/closed_{}.yaml'.format(...))`` templates in the rule
files (globbed against the package), minus the ``submission_*`` keys that already ran (they run
once). For a real log the chain is settled within the first dozen lines, after which nothing is
buffered: memory does not grow with the length of the log. (Exception: the stable_diffusion
configs of rulesets ≤ 5.0.0 run a BEGIN block over the whole list of lines; while such a config
may run, every line is kept.)

At ``finish()`` the messages are combined in the official processing order (breadth-first over
the enqueue tree), which gives the official verdict and, message for message, its output.

Every expression is compiled once per process. Online use (the logger) calls ``feed()`` per line
and gets back the findings that became *definite* with it: ones no later config can discard.
"""

from __future__ import annotations

import os
from collections import deque

from mlperf_submit.compliance.findings import CheckResult, Finding
from mlperf_submit.compliance.parser import BadLine, LogLine, MutableLogLine
from mlperf_submit.compliance.rule_run import RuleFileRun
from mlperf_submit.compliance.rulefiles import (
    KeyRule,
    available_rulesets,
    checker_dir,
    config_exists,
    config_info,
    reachable_configs,
    retention_of,
)
from mlperf_submit.errors import UsageError

MAX_KEPT_PARSE_ERRORS = 100


class RuleEngine:
    """Evaluate one ruleset's rule chain over a stream of parsed lines.

    ``feed(item)`` for each :class:`LogLine` / :class:`BadLine` in file order, then ``finish()``.
    """

    def __init__(
        self,
        ruleset: str,
        usage: str = "training",
        *,
        config: str | None = None,
        werror: bool = False,
        quiet: bool = False,
        online: bool = False,
    ):
        self.ruleset = ruleset
        self.usage = usage
        self.werror = werror
        self.quiet = quiet
        self.online = online
        root_name = config or f"{usage}_{ruleset}/common.yaml"
        if config is None and not config_exists(root_name):
            known = ", ".join(available_rulesets(usage)) or "none"
            raise UsageError(
                f"unknown ruleset '{ruleset}' for usage '{usage}' in mlperf-logging; known: {known}"
            )
        if config is not None and not config_exists(root_name):
            if os.path.isfile(config):
                root_name = os.path.abspath(config)
            else:
                raise UsageError(f"rule file not found: {config}")
        self.root = RuleFileRun(self, root_name, None, -1, 0)
        self.runs: list[RuleFileRun] = [self.root]
        self.live: list[RuleFileRun] = []
        self.buffer: list[LogLine] = []
        self.n_lines = 0
        self.n_parsed = 0
        self.parse_errors: list[BadLine] = []  # the first MAX_KEPT_PARSE_ERRORS of them
        self.n_parse_errors = 0
        self.fatal_parse: BadLine | None = None
        self._pending_enqueue: list[tuple[RuleFileRun, str, float, int]] = []
        self._pending_findings: list[tuple[RuleFileRun, Finding]] = []
        self._out: list[Finding] | None = None
        self._chain_changed = True
        self._retain_all = False
        self._retain_keys: frozenset[str] = frozenset()
        self._crash_events: list[tuple[RuleFileRun, Finding]] = []
        self._finished: CheckResult | None = None
        self._late: list[Finding] = []  # online findings that became definite outside feed()
        self._dispatch: dict[
            str, list[tuple[RuleFileRun, KeyRule]]
        ] = {}  # key -> live runs with a rule
        self._start(self.root)
        self._drain_enqueues()
        self._update_retention()

    # -- public ----------------------------------------------------------------------------------
    @property
    def configs(self) -> list[str]:
        return [r.name for r in self._official_order()]

    def count(self, key: str) -> int:
        """Occurrences so far of a key, as counted by the last started config that has it."""
        n = 0
        for run in self.runs:
            if run.cfg is not None and key in run.cfg.keys:
                n = run.counts.get(key, 0)
        return n

    def defined_keys(self) -> dict[str, str]:
        """key -> REQ text, for every key of the configs started so far (later configs win)."""
        out: dict[str, str] = {}
        for run in self._official_order():
            if run.cfg is not None:
                for k, rule in run.cfg.keys.items():
                    out[k] = rule.req or ""
        return out

    def chain_settled(self) -> bool:
        """True when no further config can be enqueued by any key still to come."""
        future, unknown = self._future
        return not future and not unknown

    def feed(self, item: LogLine | BadLine) -> list[Finding]:
        out: list[Finding] = []
        self._out = out
        self.n_lines += 1
        if type(item) is BadLine:
            self.n_parse_errors += 1
            if len(self.parse_errors) < MAX_KEPT_PARSE_ERRORS:
                self.parse_errors.append(item)
            if item.fatal and self.fatal_parse is None:
                self.fatal_parse = item
            out.append(self._parse_finding(item))
            self._out = None
            return out
        self.n_parsed += 1
        if self._retain_all or (type(item.key) is str and item.key in self._retain_keys):
            self.buffer.append(item)
        key = item.key
        if type(key) is str:
            targets = self._dispatch.get(key)
            if targets is not None:
                for run, rule in targets:
                    run.process_rule(item, key, rule)
        if self._pending_enqueue:
            self._drain_enqueues()
        if self._chain_changed:
            self._update_retention()
        self._out = None
        return out

    def feed_all(self, items, observe=None, observe_keys: frozenset = frozenset()) -> None:
        """Offline fast path: ``feed`` every item, without collecting online findings.

        ``observe(line)`` is called for each parsed line whose key is in ``observe_keys`` or
        starts with ``submission_`` (the run facts), so one loop serves both.
        """
        dispatch = self._dispatch
        buffer_append = self.buffer.append
        retain_all = self._retain_all
        retain_keys = self._retain_keys
        n = 0
        for item in items:
            if type(item) is BadLine:
                self.n_lines += n
                self.n_parsed += n
                n = 0
                self.feed(item)
                continue
            n += 1
            key = item.key
            if type(key) is not str:
                if retain_all:
                    buffer_append(item)
                continue
            if retain_all or key in retain_keys:
                buffer_append(item)
            targets = dispatch.get(key)
            if targets is not None:
                for run, rule in targets:
                    run.process_rule(item, key, rule)
                if self._pending_enqueue or self._chain_changed:
                    self.n_lines += n
                    self.n_parsed += n
                    n = 0
                    if self._pending_enqueue:
                        self._drain_enqueues()
                    if self._chain_changed:
                        self._update_retention()
                    buffer_append = self.buffer.append
                    retain_all = self._retain_all
                    retain_keys = self._retain_keys
            if observe is not None and (key in observe_keys or key[:11] == "submission_"):
                observe(item)
        self.n_lines += n
        self.n_parsed += n

    def finish(self) -> CheckResult:
        if self._finished is not None:
            return self._finished
        # Configs whose BEGIN reads the whole log run now, over the kept lines.
        for run in list(self.runs):
            if run.deferred and not run.finished:
                self._run_deferred(run)
        pending = deque(r for r in self.runs if not r.finished)
        while pending:
            run = pending.popleft()
            if run.finished:
                continue
            if run.cfg is not None and not run.cfg.empty:
                run.finish()
            run.finished = True
            before = len(self.runs)
            self._drain_enqueues()
            pending.extend(r for r in self.runs[before:])
        self._finished = self._compose()
        return self._finished

    # -- internals ---------------------------------------------------------------------------------
    def _parse_finding(self, bad: BadLine) -> Finding:
        return Finding(
            "error",
            "crash" if bad.fatal else "parse",
            bad.message,
            lineno=bad.lineno,
            file_lineno=bad.file_lineno,
            rule=bad.text[:200],
        )

    def _start(self, run: RuleFileRun):
        if run.unreadable is not None:
            run._crash(run.unreadable, None, kind="config")
            run.finished = True
            return
        if run.missing or run.cfg is None or run.cfg.empty:
            if run.missing:
                run._crash(
                    f"Could not find config file: {os.path.join(checker_dir(), run.name)}",
                    None,
                    kind="config",
                )
            run.finished = run.missing or (run.cfg is not None and run.cfg.empty)
            return
        if run.deferred:
            return  # runs at finish(), over the kept lines
        run.begin()
        self._go_live(run)
        for ll in self.buffer:
            run.process(ll)

    def _go_live(self, run: RuleFileRun):
        self.live.append(run)
        for k, rule in run.cfg.keys.items():
            self._dispatch.setdefault(k, []).append((run, rule))

    def _run_deferred(self, run: RuleFileRun):
        # the official BEGIN code may copy (dataclasses.replace) and edit these lines
        loglines = [MutableLogLine(*ll) for ll in self.buffer]
        n_real = len(loglines)
        run.begin(loglines)  # may append virtual lines (stable_diffusion's aggregated evals)
        self._go_live(run)
        for ll in loglines:
            run.process(ll)
        del n_real
        run.deferred = False

    def _request_enqueue(self, parent: RuleFileRun, config: str, at: float, seq: int):
        self._pending_enqueue.append((parent, config, at, seq))

    def _drain_enqueues(self):
        while self._pending_enqueue:
            parent, config, at, seq = self._pending_enqueue.pop(0)
            child = RuleFileRun(self, config, parent, at, seq)
            parent.children.append(child)
            self.runs.append(child)
            self._chain_changed = True
            self._start(child)

    def _future_configs(self) -> tuple[frozenset[str], bool]:
        start: set[str] = set()
        unknown = False
        for run in self.runs:
            targets = run.open_enqueues()
            if targets is None:
                unknown = True
            else:
                start |= targets
        closure, unk = reachable_configs(frozenset(start))
        return closure, unknown or unk

    def _update_retention(self):
        self._chain_changed = False
        future, unknown = self._future_configs()
        reads_log, keys = retention_of(future)
        retain_all = unknown or reads_log or any(r.deferred for r in self.runs)
        self._retain_all = retain_all
        self._retain_keys = keys
        self._future = (future, unknown)
        if not retain_all:
            if keys:
                self.buffer = [ll for ll in self.buffer if ll.key in keys]
            else:
                self.buffer = []
        if self.online and self._pending_findings:
            still = []
            for run, f in self._pending_findings:
                if self._is_definite(run, f):
                    self._emit(f)
                else:
                    still.append((run, f))
            self._pending_findings = still

    def _official_order(self) -> list[RuleFileRun]:
        order: list[RuleFileRun] = []
        queue = deque([self.root])
        while queue:
            run = queue.popleft()
            order.append(run)
            queue.extend(sorted(run.children, key=lambda c: (c.at, c.seq)))
        return order

    def _is_definite(self, run: RuleFileRun, f: Finding) -> bool:
        if f.key is None:
            return True
        future, unknown = self._future
        if unknown:
            return False
        for c in future:
            if config_exists(c) and f.key in config_info(c).keys:
                return False
        order = self._official_order()
        pos = order.index(run)
        return not any(r.cfg is not None and f.key in r.cfg.keys for r in order[pos + 1 :])

    def _emit(self, f: Finding):
        if self._out is not None:
            self._out.append(f)
        else:
            self._late.append(f)

    def _on_finding(self, run: RuleFileRun, f: Finding, early: bool = False):
        if not self.online or run.finished:
            return
        if self._is_definite(run, f):
            self._emit(f)
        else:
            self._pending_findings.append((run, f))

    def _on_crash(self, run: RuleFileRun, f: Finding):
        self._crash_events.append((run, f))
        if self.online:
            self._emit(f)

    def _compose(self) -> CheckResult:
        """Combine the configs' messages exactly as the official checker does."""
        order = self._official_order()
        warnings: dict[str, Finding] = {}
        overwritable: dict[str, Finding] = {}
        plain: list[Finding] = []
        if self.parse_errors:
            first = self.parse_errors[0]
            plain.append(
                Finding(
                    "error",
                    "parse",
                    "Log lines had parsing errors.",
                    lineno=first.lineno,
                    file_lineno=first.file_lineno,
                    rule=first.message,
                )
            )
        if self.n_parsed == 0:
            plain.append(Finding("error", "parse", "No log lines detected"))
        for run in order:
            if run.missing:
                plain.append(
                    run.crashes[0][1]
                    if run.crashes
                    else Finding("error", "config", f"Could not find config file: {run.name}")
                )
                continue
            if run.cfg is None or run.cfg.empty:
                continue
            for k in run.cfg.keys:
                overwritable.pop(k, None)
            for k, f in run.keyed.items():
                overwritable[k] = f
            for k, f in run.warned.items():
                warnings[k] = f
            plain.extend(run.plain)
        errors = [*overwritable.values(), *plain]
        crash = self._first_crash(order)
        official_crash = crash.message if crash is not None else None
        return CheckResult(
            passed=not errors and crash is None,
            errors=errors,
            warnings=list(warnings.values()),
            official_crash=official_crash,
            configs=[r.name for r in order],
            crash_finding=crash,
        )

    def _first_crash(self, order: list[RuleFileRun]) -> Finding | None:
        if self.fatal_parse is not None:
            return self._parse_finding(self.fatal_parse)
        for run in order:
            if run.crashes:
                # the official tool processes configs in this order and stops at the first raise
                return min(run.crashes, key=lambda c: c[0])[1]
        return None
