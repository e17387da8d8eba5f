"""The streaming rules engine: the official YAML rule files, evaluated in one pass.

Semantics are those of ``mlperf_logging.compliance_checker.mlp_compliance`` (4.1.68), see
../shared/rules.md §5.2. The official tool runs its configs one after another, each over the
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

import ast
import glob
import json
import math
import os
import re
from collections import deque
from dataclasses import dataclass, field
from functools import cache, lru_cache

import yaml

from mlperf_submit.compliance.parser import BadLine, LogLine, MutableLogLine
from mlperf_submit.errors import UsageError

try:  # the C loader is ~10x faster; the official tool uses it when present too
    _YamlLoader = yaml.CBaseLoader
except AttributeError:  # pragma: no cover - PyYAML without libyaml
    _YamlLoader = yaml.BaseLoader

_ENQUEUE_RE = re.compile(r"enqueue_config\s*\(\s*(['\"])(?P<tpl>[^'\"]*)\1\s*(?P<fmt>\.format\()?")
_BUILTIN_GLOBALS = {"math": math}
MAX_KEPT_PARSE_ERRORS = 100


@lru_cache(maxsize=1)
def checker_dir() -> str:
    """The installed official compliance_checker folder (rule files live there)."""
    import mlperf_logging.compliance_checker as cc  # light: an empty __init__

    return os.path.dirname(os.path.abspath(cc.__file__))


def is_integer(value):
    # Same as the official helper (the rule files call it).
    return abs(round(value) - value) < 0.00001


def _pretty(d) -> str:
    return json.dumps(d, sort_keys=True, indent=2)


# --------------------------------------------------------------------------------------------
# Findings and results
# --------------------------------------------------------------------------------------------


@dataclass
class Finding:
    """One message about a log. ``message`` uses the official wording where there is one."""

    severity: str  # "error" | "warning"
    kind: str  # check | exec | req | target | alternatives | end | parse | crash | config | trap
    message: str
    key: str | None = None
    config: str | None = None
    lineno: int | None = None  # official 0-based MLLOG index
    file_lineno: int | None = None  # real 1-based line in the file
    rule: str | None = None
    hint: str | None = None

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    def short(self) -> str:
        """First line of the message, for one-line summaries."""
        first = self.message.strip().splitlines()[0] if self.message.strip() else self.kind
        if self.kind == "check" and self.rule:
            first = f"CHECK for '{self.key}' failed: {self.rule.strip()}"
        elif self.kind == "exec" and self.rule:
            first = f"rule code for '{self.key}' raised: {self.rule.strip()}"
        return first


@dataclass
class CheckResult:
    passed: bool
    errors: list[Finding]
    warnings: list[Finding]
    official_crash: str | None
    configs: list[str]
    crash_finding: Finding | None = None

    def official_messages(self) -> list[str]:
        """The messages the official checker would print, in its order."""
        return [f.message for f in (*self.warnings, *self.errors)]


# --------------------------------------------------------------------------------------------
# Compiled rule files
# --------------------------------------------------------------------------------------------


class _Code:
    """An expression or statement block compiled once. A syntax error is kept and re-raised
    where the official tool would raise it (at evaluation time)."""

    __slots__ = ("src", "code", "error")

    def __init__(self, src: object, mode: str):
        self.src = src
        self.code, self.error = _compile(src, mode) if type(src) is str else (None, None)
        if type(src) is not str:  # a YAML mapping or list where code was expected
            self.error = TypeError(f"rule code is a {type(src).__name__}, not a string")


@cache
def _compile(src: str, mode: str):
    """(code, error): the same expression text recurs across rule files and rulesets."""
    try:
        return compile(src.strip(), "<rule>", mode), None
    except Exception as err:  # SyntaxError
        return None, err


def _as_list(x) -> list:
    return x if type(x) is list else [x]


@dataclass
class _KeyRule:
    name: str
    req: str | None
    pre: _Code | None
    checks: list[_Code]
    post: _Code | None
    first_checks: list[_Code] | None
    atleast: _Code | None
    atleast_src: str | None
    is_submission: bool
    enqueues: frozenset[str] | None  # configs its code may enqueue; None = cannot tell
    all_checks: object = None  # one code object for "every CHECK passes", when that is safe
    exactly_one: bool = False
    plain: bool = False  # only CHECKs (no PRE/POST/FIRST/ATLEAST, not a submission_ key)


_PURE_NODES = (
    ast.Expression,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.Compare,
    ast.Subscript,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.Attribute,
    ast.BinOp,
    ast.UnaryOp,
    ast.IfExp,
    ast.Slice,
    ast.Tuple,
    ast.List,
    ast.Not,
    ast.USub,
    ast.UAdd,
    ast.Invert,
    ast.operator,
    ast.cmpop,
)
_PURE_CALLS = frozenset({"is_integer", "abs", "round", "len", "min", "max", "int", "float"})


@cache
def _is_pure(src: str) -> bool:
    """True when evaluating the expression has no side effects (so it may be evaluated twice)."""
    try:
        tree = ast.parse(src.strip(), mode="eval")
    except SyntaxError:
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name) and f.id in _PURE_CALLS:
                continue
            if (
                isinstance(f, ast.Attribute)
                and isinstance(f.value, ast.Name)
                and f.value.id == "math"
            ):
                continue
            return False
        if isinstance(node, (ast.keyword,)):
            continue
        if not isinstance(node, _PURE_NODES):
            return False
    return True


def _combine_checks(checks: list[_Code]):
    """One expression that is true iff every CHECK is true; evaluated first, and the checks one
    by one (for their exact messages) only when it is false or raises. Only for pure checks."""
    if not checks or any(c.error is not None for c in checks):
        return None
    srcs = [str(c.src) for c in checks]
    if not all(_is_pure(x) for x in srcs):
        return None
    if len(checks) == 1:
        return checks[0].code
    try:
        return compile(" and ".join(f"({x.strip()})" for x in srcs), "<rule>", "eval")
    except SyntaxError:
        return None


@dataclass
class _Config:
    name: str  # relative to the checker dir, as enqueued ("training_6.1.0/common.yaml")
    path: str
    empty: bool
    begin: _Code | None
    begin_reads_log: bool
    end_pre: _Code | None
    end_checks: list[_Code] | None
    keys: dict[str, _KeyRule]
    end_enqueues: frozenset[str] | None
    alternatives: list[tuple[str, ...]] = field(default_factory=list)
    at_least_n: dict[str, int] = field(default_factory=dict)
    enqueuers: list = field(default_factory=list)  # (key, rule) whose code may enqueue


def _enqueue_targets(code_text: str, base: str) -> frozenset[str] | None:
    """Configs a piece of rule code may enqueue, from its string templates (None: unknown)."""
    if "enqueue_config" not in code_text:
        return frozenset()
    found: set[str] = set()
    calls = code_text.count("enqueue_config")
    matches = list(_ENQUEUE_RE.finditer(code_text))
    if len(matches) != calls:
        return None
    for m in matches:
        tpl = m.group("tpl")
        if m.group("fmt"):
            pattern = re.sub(r"\{[^}]*\}", "*", tpl)
            for p in glob.glob(os.path.join(base, pattern)):
                found.add(os.path.relpath(p, base).replace(os.sep, "/"))
        else:
            found.add(tpl)
    return frozenset(found)


def _code_text(*parts) -> str:
    out = []
    for p in parts:
        if p is None:
            continue
        out.extend(str(x) for x in _as_list(p))
    return "\n".join(out)


@cache
def _read_records(name: str):
    with open(os.path.join(checker_dir(), name)) as f:
        return yaml.load(f, Loader=_YamlLoader)


@dataclass(frozen=True)
class _ConfigInfo:
    """What the engine needs to know about a config that may run later: no code compiled."""

    keys: frozenset[str]
    enqueues: frozenset[str] | None  # configs its code may enqueue (None: cannot tell)
    begin_reads_log: bool


_NAME_RE = re.compile(r"^\s*NAME:\s*(\S+)\s*$", re.MULTILINE)


@cache
def config_info(name: str) -> _ConfigInfo:
    """Keys, enqueue targets and whole-log BEGIN of a rule file, read from its text.

    The engine asks this of every config that *might* be enqueued (every closed_<bm>.yaml of a
    ruleset, say), so it must be cheap: PyYAML would take ~1 ms a file. The rule files are flat
    YAML lists; tests/compliance/test_rules_engine.py proves that this text scan equals
    ``config_info_from_yaml`` for every rule file of the installed mlperf-logging.
    """
    with open(os.path.join(checker_dir(), name)) as f:
        text = "".join(line for line in f if not line.lstrip().startswith("#"))
    return _ConfigInfo(
        frozenset(_NAME_RE.findall(text)),
        _enqueue_targets(text, checker_dir()),
        "loglines" in text,
    )


def config_info_from_yaml(name: str) -> _ConfigInfo:
    """The same information through the YAML parser (the reference for the test)."""
    records = _read_records(name) or []
    base = checker_dir()
    keys: list[str] = []
    targets: set[str] | None = set()
    reads_log = False
    for r in records:
        kind = list(r)[0]
        body = r[kind]
        if kind == "KEY":
            keys.append(body["NAME"])
            t = _enqueue_targets(_code_text(*(body.get(x) for x in _CODE_FIELDS)), base)
        elif kind == "END":
            t = _enqueue_targets(_code_text(body.get("PRE"), body.get("CHECK")), base)
        else:
            reads_log = reads_log or "loglines" in str(body.get("CODE", ""))
            t = _enqueue_targets(str(body.get("CODE", "")), base)
        targets = None if t is None or targets is None else targets | t
    return _ConfigInfo(frozenset(keys), None if targets is None else frozenset(targets), reads_log)


_CODE_FIELDS = ("PRE", "CHECK", "POST", "FIRST_CHECK", "ATLEAST_ONE_CHECK")


@cache
def load_config(name: str) -> _Config:
    """Load and compile one rule file (cached for the life of the process)."""
    base = checker_dir()
    path = os.path.join(base, name)
    records = _read_records(name)
    if records is None:
        return _Config(name, path, True, None, False, None, None, {}, frozenset())
    begin = end_pre = None
    end_checks = None
    begin_reads_log = False
    end_enqueues: frozenset[str] | None = frozenset()
    keys: dict[str, _KeyRule] = {}
    begins = [r for r in records if list(r)[0] == "BEGIN"]
    ends = [r for r in records if list(r)[0] == "END"]
    if begins:
        src = begins[0]["BEGIN"]["CODE"]
        begin = _Code(src, "exec")
        begin_reads_log = "loglines" in src
    if ends:
        rec = ends[0]["END"]
        end_pre = _Code(rec["PRE"], "exec") if "PRE" in rec else None
        end_checks = [_Code(t, "eval") for t in _as_list(rec["CHECK"])] if "CHECK" in rec else None
        end_enqueues = _enqueue_targets(_code_text(rec.get("PRE"), rec.get("CHECK")), base)
    for r in records:
        if list(r)[0] != "KEY":
            continue
        k = r["KEY"]
        name_k = k["NAME"]
        atleast_src = k.get("ATLEAST_ONE_CHECK")
        keys[name_k] = _KeyRule(
            name=name_k,
            req=k.get("REQ"),
            pre=_Code(k["PRE"], "exec") if "PRE" in k else None,
            checks=[_Code(t, "eval") for t in _as_list(k["CHECK"])] if "CHECK" in k else [],
            post=_Code(k["POST"], "exec") if "POST" in k else None,
            first_checks=[_Code(t, "eval") for t in _as_list(k["FIRST_CHECK"])]
            if "FIRST_CHECK" in k
            else None,
            atleast=_Code(atleast_src, "eval") if atleast_src is not None else None,
            atleast_src=atleast_src,
            is_submission="submission_" in name_k,
            enqueues=_enqueue_targets(
                _code_text(
                    k.get("PRE"), k.get("CHECK"), k.get("POST"), k.get("FIRST_CHECK"), atleast_src
                ),
                base,
            ),
        )
    cfg = _Config(
        name, path, False, begin, begin_reads_log, end_pre, end_checks, keys, end_enqueues
    )
    cfg.enqueuers = [(k, r) for k, r in keys.items() if r.enqueues is None or r.enqueues]
    for kname, rule in keys.items():
        rule.all_checks = _combine_checks(rule.checks)
        rule.exactly_one = rule.req == "EXACTLY_ONE"
        rule.plain = (
            rule.pre is None
            and rule.post is None
            and rule.first_checks is None
            and rule.atleast is None
            and not rule.is_submission
        )
        req = rule.req
        if req is None:
            continue
        if req.startswith("AT_LEAST_ONE_OR"):
            inner = req[len("AT_LEAST_ONE_OR(") : -1]
            cfg.alternatives.append((kname, *[a.strip() for a in inner.split(",")]))
        elif req.startswith("AT_LEAST("):
            try:
                cfg.at_least_n[kname] = int(req[len("AT_LEAST(") : -1])
            except ValueError:
                cfg.at_least_n[kname] = -1  # the official tool raises here
    return cfg


@cache
def config_exists(name: str) -> bool:
    return os.path.isfile(os.path.join(checker_dir(), name))


def available_rulesets(usage: str = "training") -> list[str]:
    base = checker_dir()
    out = []
    for d in os.listdir(base):
        m = re.fullmatch(rf"{re.escape(usage)}_(\d+\.\d+\.\d+)", d)
        if m and os.path.isfile(os.path.join(base, d, "common.yaml")):
            out.append(m.group(1))
    return sorted(out, key=lambda v: tuple(int(x) for x in v.split(".")))


@lru_cache(maxsize=4096)
def _closure(start: frozenset[str] | None) -> tuple[frozenset[str], bool]:
    """All configs reachable from `start` through enqueue templates; bool = unknown somewhere."""
    if start is None:
        return frozenset(), True
    seen: set[str] = set()
    todo = list(start)
    unknown = False
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if not config_exists(name):
            continue
        targets = config_info(name).enqueues
        if targets is None:
            unknown = True
        else:
            todo.extend(t for t in targets if t not in seen)
    return frozenset(seen), unknown


@lru_cache(maxsize=4096)
def _retention_of(future: frozenset[str]) -> tuple[bool, frozenset[str]]:
    """(whether one of these configs reads the whole log, the keys they have rules for)."""
    keys: set[str] = set()
    reads_log = False
    for c in future:
        if config_exists(c):
            info = config_info(c)
            keys |= info.keys
            reads_log = reads_log or info.begin_reads_log
    return reads_log, frozenset(keys)


# --------------------------------------------------------------------------------------------
# One config instance running over the log
# --------------------------------------------------------------------------------------------


class _Crash(Exception):
    """Where the official tool would end in a traceback."""


class _Run:
    def __init__(self, engine: RuleEngine, name: str, parent: _Run | None, at: float, seq: int):
        self.engine = engine
        self.name = name
        self.parent = parent
        self.at = at  # official line index of the enqueue (-1: BEGIN, inf: END / finish)
        self.seq = seq
        self.children: list[_Run] = []
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
        self.same: dict[str, list] = {}  # EXACTLY_ONE key -> [first, all_same, {str(v)}]
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

    def process_rule(self, ll: LogLine, key: str, rule: _KeyRule):
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

    def _track_same(self, rule: _KeyRule, ll: LogLine, value, n: int):
        # Enough to reproduce the official EXACTLY_ONE outcome without keeping every value:
        # all_same() compares each value with the first (identity or ==), and the message lists
        # the distinct str() of all values.
        key = rule.name
        entry = self.same.get(key)
        if entry is None:
            self.same[key] = [value, True, {str(value)}]
            return
        was_same = entry[1]
        if was_same and not (value is entry[0] or value == entry[0]):
            entry[1] = False
        entry[2].add(str(value))
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

    def _eval_checks(self, ll: LogLine, tests: list[_Code]):
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

    def _exec(self, ll: LogLine, code: _Code, action: str):
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


# --------------------------------------------------------------------------------------------
# The engine
# --------------------------------------------------------------------------------------------


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
        self.root = _Run(self, root_name, None, -1, 0)
        self.runs: list[_Run] = [self.root]
        self.live: list[_Run] = []
        self.buffer: list[LogLine] = []
        self.n_lines = 0
        self.n_parsed = 0
        self.parse_errors: list[BadLine] = []  # the first MAX_KEPT_PARSE_ERRORS of them
        self.n_parse_errors = 0
        self.fatal_parse: BadLine | None = None
        self._pending_enqueue: list[tuple[_Run, str, float, int]] = []
        self._pending_findings: list[tuple[_Run, Finding]] = []
        self._out: list[Finding] | None = None
        self._chain_changed = True
        self._retain_all = False
        self._retain_keys: frozenset[str] = frozenset()
        self._crash_events: list[tuple[_Run, Finding]] = []
        self._finished: CheckResult | None = None
        self._late: list[Finding] = []  # online findings that became definite outside feed()
        self._dispatch: dict[str, list[tuple[_Run, _KeyRule]]] = {}  # key -> live runs with a rule
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

    def _start(self, run: _Run):
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

    def _go_live(self, run: _Run):
        self.live.append(run)
        for k, rule in run.cfg.keys.items():
            self._dispatch.setdefault(k, []).append((run, rule))

    def _run_deferred(self, run: _Run):
        # the official BEGIN code may copy (dataclasses.replace) and edit these lines
        loglines = [MutableLogLine(*ll) for ll in self.buffer]
        n_real = len(loglines)
        run.begin(loglines)  # may append virtual lines (stable_diffusion's aggregated evals)
        self._go_live(run)
        for ll in loglines:
            run.process(ll)
        del n_real
        run.deferred = False

    def _request_enqueue(self, parent: _Run, config: str, at: float, seq: int):
        self._pending_enqueue.append((parent, config, at, seq))

    def _drain_enqueues(self):
        while self._pending_enqueue:
            parent, config, at, seq = self._pending_enqueue.pop(0)
            child = _Run(self, config, parent, at, seq)
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
        closure, unk = _closure(frozenset(start))
        return closure, unknown or unk

    def _update_retention(self):
        self._chain_changed = False
        future, unknown = self._future_configs()
        reads_log, keys = _retention_of(future)
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

    def _official_order(self) -> list[_Run]:
        order: list[_Run] = []
        queue = deque([self.root])
        while queue:
            run = queue.popleft()
            order.append(run)
            queue.extend(sorted(run.children, key=lambda c: (c.at, c.seq)))
        return order

    def _is_definite(self, run: _Run, f: Finding) -> bool:
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

    def _on_finding(self, run: _Run, f: Finding, early: bool = False):
        if not self.online or run.finished:
            return
        if self._is_definite(run, f):
            self._emit(f)
        else:
            self._pending_findings.append((run, f))

    def _on_crash(self, run: _Run, f: Finding):
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

    def _first_crash(self, order: list[_Run]) -> Finding | None:
        if self.fatal_parse is not None:
            return self._parse_finding(self.fatal_parse)
        for run in order:
            if run.crashes:
                # the official tool processes configs in this order and stops at the first raise
                return min(run.crashes, key=lambda c: c[0])[1]
        return None
