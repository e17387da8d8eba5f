"""One rule file running over the lines of a log: its state ``s``, its messages, its crashes.

A :class:`RuleFileRun` is what the official ``mlp_compliance`` does for one config (PRE, CHECK,
POST, FIRST_CHECK and ATLEAST_ONE_CHECK per line; REQ, AT_LEAST_ONE_OR and END at the end of the
log), fed line by line by the engine (``rule_engine.RuleEngine``), which owns the enqueue
queue, decides which lines each run sees and combines the runs' messages.
"""

from __future__ import annotations

import json
import math
import operator
from typing import TYPE_CHECKING

from mlperf_submit.compliance.findings import Finding
from mlperf_submit.compliance.parser import LogLine, call_deep
from mlperf_submit.compliance.rulefiles import KeyRule, RuleCode, config_exists, load_config

if TYPE_CHECKING:
    from mlperf_submit.compliance.rule_engine import RuleEngine

_BUILTIN_GLOBALS = {"math": math}


def is_integer(value):
    # Same as the official helper (the rule files call it).
    return abs(round(value) - value) < 0.00001


def _pretty(d) -> str:
    return json.dumps(d, sort_keys=True, indent=2)


class RuleFileRun:
    """One config (rule file) enqueued into one check: its compiled rules, state and messages."""

    def __init__(
        self, engine: RuleEngine, name: str, parent: RuleFileRun | None, at: float, seq: int
    ):
        self.engine = engine
        self.name = name
        self.parent = parent
        self.at = at  # official line index of the enqueue (-1: BEGIN, inf: END / finish)
        self.seq = seq
        self.children: list[RuleFileRun] = []
        self.missing = not config_exists(name)
        self.unreadable: str | None = None
        self.cfg = None
        if not self.missing:
            try:
                self.cfg = load_config(name)
            except Exception as err:  # a rule file PyYAML cannot read: the official tool raises
                self.unreadable = f"rule file {name} cannot be read: {err}"
        self.s: dict = {}
        self.state = {
            "enqueue_config": self._enqueue,
            "s": self.s,
            "is_integer": is_integer,
            **_BUILTIN_GLOBALS,
        }
        self.counts: dict[str, int] = {}
        self.same: dict[str, list] = {}  # EXACTLY_ONE key -> [first, all_same, {str(v)} | None]
        self.done_submission: set[str] = set()
        self.first_seen: set[str] = set()
        self.atleast: dict[str, list] = {}
        self.keyed: dict[str, Finding] = {}
        self.warned: dict[str, Finding] = {}
        self.plain: list[Finding] = []
        self.crashes: list[tuple[float, Finding]] = []
        self._line_index: float = -1
        self._seq = 0
        self.deferred = bool(self.cfg and self.cfg.begin_reads_log)
        self.finished = False

    # -- enqueue -------------------------------------------------------------------------------
    def _enqueue(self, config):
        self._seq += 1
        self.engine._request_enqueue(self, str(config), self._line_index, self._seq)

    # -- messages ------------------------------------------------------------------------------
    def _put(self, f: Finding):
        if f.key is not None:
            self.keyed[f.key] = f
        else:
            self.plain.append(f)
        self.engine._on_finding(self, f)

    def _warn(self, f: Finding):
        eng = self.engine
        if eng.werror:
            f.severity = "error"
            self._put(f)
        elif not eng.quiet:
            self.warned[f.key] = f
            eng._on_finding(self, f)

    def _crash(self, message: str, line: LogLine | None, kind: str = "crash"):
        f = Finding(
            "error",
            kind,
            message,
            key=line.key if line is not None and type(line.key) is str else None,
            config=self.name,
            lineno=line.lineno if line is not None else None,
            file_lineno=line.file_lineno if line is not None else None,
        )
        self.crashes.append((self._line_index, f))
        self.engine._on_crash(self, f)

    # -- start -------------------------------------------------------------------------------
    def begin(self, loglines: list | None = None):
        cfg = self.cfg
        if cfg is None or cfg.begin is None:
            return
        code = cfg.begin
        if code.error is not None:
            self._crash(f"BEGIN block of {self.name} does not compile: {code.error}", None)
            return
        local = {
            "loglines": loglines if loglines is not None else [],
            "s": self.s,
            "state": self.state,
            "config_file": cfg.path,
        }
        self._line_index = -1
        try:
            exec(code.code, self.state, local)
        except Exception as err:
            self._crash(f"BEGIN block of {self.name} raises {type(err).__name__}: {err}", None)

    # -- one line ---------------------------------------------------------------------------------
    def process(self, ll: LogLine):
        key = ll.key
        rule = self.cfg.keys.get(key) if type(key) is str else None
        if rule is not None:
            self.process_rule(ll, key, rule)

    def process_rule(self, ll: LogLine, key: str, rule: KeyRule):
        self._line_index = ll[4]
        counts = self.counts
        n = counts.get(key, 0) + 1
        counts[key] = n
        if rule.exactly_one:
            self._track_same(rule, ll, ll[3]["value"], n)
        if rule.plain:  # the common case, kept short
            probe = rule.all_checks
            if probe is not None:
                try:
                    ok = eval(probe, self.state, {"ll": ll, "v": ll[3]})
                except Exception:
                    ok = False
                if not ok:
                    self._eval_checks(ll, rule.checks)
            elif rule.checks:
                self._eval_checks(ll, rule.checks)
            return
        if key not in self.done_submission:
            if rule.pre is not None:
                self._exec(ll, rule.pre, "PRE")
            if rule.all_checks is not None:
                try:
                    ok = eval(rule.all_checks, self.state, {"ll": ll, "v": ll.value})
                except Exception:
                    ok = False
                if not ok:
                    self._eval_checks(ll, rule.checks)
            elif rule.checks:
                self._eval_checks(ll, rule.checks)
            if rule.post is not None:
                self._exec(ll, rule.post, "POST")
        if rule.first_checks is not None and key not in self.first_seen:
            self.first_seen.add(key)
            self._eval_checks(ll, rule.first_checks)
        if rule.atleast is not None:
            entry = self.atleast.get(key)
            if entry is None:
                entry = self.atleast[key] = [0, rule.atleast_src]
            code = rule.atleast
            try:
                if code.error is not None:
                    raise code.error
                if eval(code.code, self.state, {"ll": ll, "v": ll.value}):
                    entry[0] += 1
            except Exception as err:
                self._crash(
                    f"ATLEAST_ONE_CHECK for '{key}' raises {type(err).__name__}: {err} on line "
                    f"{ll.lineno}; the official checker does not catch this and crashes:\n"
                    f"{ll.full_string}",
                    ll,
                )
        if rule.is_submission and key not in self.done_submission:
            self.done_submission.add(key)
            if rule.enqueues is None or rule.enqueues:
                # it can no longer enqueue: fewer configs may still start
                self.engine._chain_changed = True

    def _track_same(self, rule: KeyRule, ll: LogLine, value, n: int):
        # Enough to reproduce the official EXACTLY_ONE outcome without keeping every value:
        # all_same() compares each value with the first (identity or ==), and the message lists
        # the distinct str() of all values.
        # str() waits for a second value, as the official message does (a value may nest
        # hundreds of levels deep: call_deep).
        key = rule.name
        entry = self.same.get(key)
        if entry is None:
            self.same[key] = [value, True, None]
            return
        if entry[2] is None:
            entry[2] = {call_deep(str, entry[0])}
        was_same = entry[1]
        if was_same and not (value is entry[0] or call_deep(operator.eq, value, entry[0])):
            entry[1] = False
        entry[2].add(call_deep(str, value))
        # Online: an EXACTLY_ONE key seen a second time can never come back to one.
        if self.engine.online and (n == 2 or (was_same and not entry[1])):
            same = entry[1]
            msg = f"Required EXACTLY_ONE occurrence of '{key}' but found {n}" + (
                "" if same else " with different values"
            )
            self.engine._on_finding(
                self,
                Finding(
                    "warning" if same else "error",
                    "req",
                    msg,
                    key=key,
                    config=self.name,
                    lineno=ll.lineno,
                    file_lineno=ll.file_lineno,
                    rule="EXACTLY_ONE",
                ),
            )

    def _eval_checks(self, ll: LogLine, tests: list[RuleCode]):
        state = self.state
        for test in tests:
            try:
                if test.error is not None:
                    raise test.error
                ok = eval(test.code, state, {"ll": ll, "v": ll.value})
                if not ok:
                    msg = (
                        f"CHECK for '{ll.key}' failed in line {ll.lineno}:"
                        f"\n{ll.full_string}"
                        f"\nfailed test: {test.src}"
                        f"\ncurrent context[s]={_pretty(self.s)}"
                        f"\ncurrent line[v]={_pretty(ll.value)}"
                    )
                    self._put(self._line_finding("check", msg, ll, test.src))
            except Exception:
                try:
                    ctx = _pretty(self.s)
                except Exception as err:  # official: the except handler itself raises
                    self._crash(f"state cannot be printed as JSON ({err})", ll)
                    ctx = repr(self.s)
                msg = (
                    f"Failed executing CHECK code:\n{test.src}\ntriggered by line:"
                    f"\n{ll.full_string}\ncurrent context[s]={ctx}"
                )
                self._put(self._line_finding("exec", msg, ll, test.src))

    def _line_finding(self, kind: str, message: str, ll: LogLine, rule) -> Finding:
        """An error about one log line, keyed (a later config may discard it)."""
        return Finding(
            "error",
            kind,
            message,
            key=ll.key,
            config=self.name,
            lineno=ll.lineno,
            file_lineno=ll.file_lineno,
            rule=str(rule),
        )

    def _exec(self, ll: LogLine, code: RuleCode, action: str):
        try:
            if code.error is not None:
                raise code.error
            exec(code.code, self.state, {"ll": ll, "v": ll.value})
        except Exception:
            msg = f"Failed executing code {action} code triggered by line :\n{ll.full_string}"
            self._put(self._line_finding("exec", msg, ll, code.src))

    # -- end of log ------------------------------------------------------------------------------
    def finish(self):
        self.finished = True
        cfg = self.cfg
        self._line_index = math.inf
        for name, (count, expr) in self.atleast.items():
            if count == 0:
                self._put(
                    Finding(
                        "error",
                        "target",
                        f"Failed checks for {name} : {expr}",
                        key=None,
                        config=self.name,
                        rule=expr,
                        hint=None,
                    )
                )
        counts = self.counts
        for k, rule in cfg.keys.items():
            req = rule.req
            if req is None:
                continue
            n = counts.get(k, 0)
            if req == "OPTIONAL" and n == 0:
                continue
            if req == "EXACTLY_ONE" and n != 1:
                entry = self.same.get(k)
                if n and entry[1]:
                    self._warn(
                        Finding(
                            "warning",
                            "req",
                            f"Required EXACTLY_ONE occurrence of '{k}' but found {n}",
                            key=k,
                            config=self.name,
                            rule=req,
                        )
                    )
                else:
                    extra = ""
                    if n:
                        extra = f" with different values: [{', '.join(x for x in entry[2])}]"
                    self._put(
                        Finding(
                            "error",
                            "req",
                            f"Required EXACTLY_ONE occurrence of '{k}' but found {n}" + extra,
                            key=k,
                            config=self.name,
                            rule=req,
                        )
                    )
            if req == "AT_LEAST_ONE" and n < 1:
                self._put(
                    Finding(
                        "error",
                        "req",
                        f"Required AT_LEAST_ONE occurrence of '{k}' but found {n}",
                        key=k,
                        config=self.name,
                        rule=req,
                    )
                )
            if req.startswith("AT_LEAST("):
                need = cfg.at_least_n[k]
                if need < 0:
                    self._crash(f"unreadable requirement {req!r} for '{k}' in {self.name}", None)
                elif n < need:
                    self._put(
                        Finding(
                            "error",
                            "req",
                            f"Required AT_LEAST({need}) occurrence of '{k}' but found {n}",
                            key=k,
                            config=self.name,
                            rule=req,
                        )
                    )
        seen_groups = set()
        for group in cfg.alternatives:
            group_set = frozenset(group)
            if group_set in seen_groups:
                continue
            seen_groups.add(group_set)
            unknown = [k for k in group if k not in cfg.keys]
            if unknown:
                self._crash(
                    f"AT_LEAST_ONE_OR in {self.name} names '{unknown[0]}', which has no rule "
                    "there (the official checker crashes with a KeyError)",
                    None,
                )
                continue
            if not any(counts.get(k, 0) for k in group_set):
                names = " or ".join(f"'{k}'" for k in sorted(group_set))
                self._put(
                    Finding(
                        "error",
                        "alternatives",
                        f"Required AT_LEAST_ONE occurrence of {names}",
                        config=self.name,
                        rule=" | ".join(sorted(group_set)),
                    )
                )
        if cfg.end_pre is not None or cfg.end_checks is not None:
            self._finish_end_block()

    def _finish_end_block(self):
        cfg = self.cfg
        if cfg.end_pre is not None:
            try:
                if cfg.end_pre.error is not None:
                    raise cfg.end_pre.error
                exec(cfg.end_pre.code, self.state)
            except Exception as err:
                self._crash(f"END block of {self.name} raises {type(err).__name__}: {err}", None)
                return
        for test in cfg.end_checks or []:
            try:
                if test.error is not None:
                    raise test.error
                if not eval(test.code, self.state):
                    self._put(
                        Finding(
                            "error",
                            "end",
                            f"failed test: {test.src}\ncurrent context[s]={_pretty(self.s)}",
                            config=self.name,
                            rule=str(test.src),
                        )
                    )
            except Exception:
                self._put(
                    Finding(
                        "error",
                        "end",
                        f"Failed executing CHECK code:\n{test.src}\ncurrent context[s]={_pretty(self.s)}",
                        config=self.name,
                        rule=str(test.src),
                    )
                )

    # -- what this run may still do ------------------------------------------------------------
    def open_enqueues(self) -> set[str] | None:
        """Configs this run may still enqueue (None: cannot tell)."""
        if self.cfg is None or self.finished:
            return set()
        out: set[str] = set()
        for k, rule in self.cfg.enqueuers:
            if k in self.done_submission:
                continue
            if rule.enqueues is None:
                return None
            out |= rule.enqueues
        if self.cfg.end_enqueues is None:
            return None
        return out | self.cfg.end_enqueues
