"""The official YAML rule files: found in the installed package, read, and compiled once.

``load_config(name)`` gives a compiled :class:`RuleFile` (every expression compiled once per
process, a syntax error kept to be raised where the official tool raises it);
``config_info(name)`` is the cheap text scan (keys, what it may enqueue, whether its BEGIN reads
the whole log) the engine asks of every config that *might* still be enqueued;
``reachable_configs`` and ``retention_of`` answer, for a set of such configs, which configs may
follow them and which lines the engine must keep for them. Rule-file semantics:
docs/official-tools.md §5.
"""

from __future__ import annotations

import ast
import glob
import os
import re
from dataclasses import dataclass, field
from functools import cache, lru_cache

import yaml

try:  # the C loader is ~10x faster; the official tool uses it when present too
    _YamlLoader = yaml.CBaseLoader
except AttributeError:  # pragma: no cover - PyYAML without libyaml
    _YamlLoader = yaml.BaseLoader

_ENQUEUE_RE = re.compile(r"enqueue_config\s*\(\s*(['\"])(?P<tpl>[^'\"]*)\1\s*(?P<fmt>\.format\()?")


@lru_cache(maxsize=1)
def checker_dir() -> str:
    """The installed official compliance_checker folder (rule files live there)."""
    import mlperf_logging.compliance_checker as cc  # light: an empty __init__

    return os.path.dirname(os.path.abspath(cc.__file__))


class RuleCode:
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
class KeyRule:
    name: str
    req: str | None
    pre: RuleCode | None
    checks: list[RuleCode]
    post: RuleCode | None
    first_checks: list[RuleCode] | None
    atleast: RuleCode | None
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


def _combine_checks(checks: list[RuleCode]):
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
class RuleFile:
    name: str  # relative to the checker dir, as enqueued ("training_6.1.0/common.yaml")
    path: str
    empty: bool
    begin: RuleCode | None
    begin_reads_log: bool
    end_pre: RuleCode | None
    end_checks: list[RuleCode] | None
    keys: dict[str, KeyRule]
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
class RuleFileInfo:
    """What the engine needs to know about a config that may run later: no code compiled."""

    keys: frozenset[str]
    enqueues: frozenset[str] | None  # configs its code may enqueue (None: cannot tell)
    begin_reads_log: bool


_NAME_RE = re.compile(r"^\s*NAME:\s*(\S+)\s*$", re.MULTILINE)


@cache
def config_info(name: str) -> RuleFileInfo:
    """Keys, enqueue targets and whole-log BEGIN of a rule file, read from its text.

    The engine asks this of every config that *might* be enqueued (every closed_<bm>.yaml of a
    ruleset, say), so it must be cheap: PyYAML would take ~1 ms a file. The rule files are flat
    YAML lists; tests/compliance/test_rules_engine.py proves that this text scan equals
    ``config_info_from_yaml`` for every rule file of the installed mlperf-logging.
    """
    with open(os.path.join(checker_dir(), name)) as f:
        text = "".join(line for line in f if not line.lstrip().startswith("#"))
    return RuleFileInfo(
        frozenset(_NAME_RE.findall(text)),
        _enqueue_targets(text, checker_dir()),
        "loglines" in text,
    )


def config_info_from_yaml(name: str) -> RuleFileInfo:
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
    return RuleFileInfo(frozenset(keys), None if targets is None else frozenset(targets), reads_log)


_CODE_FIELDS = ("PRE", "CHECK", "POST", "FIRST_CHECK", "ATLEAST_ONE_CHECK")


@cache
def load_config(name: str) -> RuleFile:
    """Load and compile one rule file (cached for the life of the process)."""
    base = checker_dir()
    path = os.path.join(base, name)
    records = _read_records(name)
    if records is None:
        return RuleFile(name, path, True, None, False, None, None, {}, frozenset())
    begin = end_pre = None
    end_checks = None
    begin_reads_log = False
    end_enqueues: frozenset[str] | None = frozenset()
    keys: dict[str, KeyRule] = {}
    begins = [r for r in records if list(r)[0] == "BEGIN"]
    ends = [r for r in records if list(r)[0] == "END"]
    if begins:
        src = begins[0]["BEGIN"]["CODE"]
        begin = RuleCode(src, "exec")
        begin_reads_log = "loglines" in src
    if ends:
        rec = ends[0]["END"]
        end_pre = RuleCode(rec["PRE"], "exec") if "PRE" in rec else None
        end_checks = (
            [RuleCode(t, "eval") for t in _as_list(rec["CHECK"])] if "CHECK" in rec else None
        )
        end_enqueues = _enqueue_targets(_code_text(rec.get("PRE"), rec.get("CHECK")), base)
    for r in records:
        if list(r)[0] != "KEY":
            continue
        k = r["KEY"]
        name_k = k["NAME"]
        atleast_src = k.get("ATLEAST_ONE_CHECK")
        keys[name_k] = KeyRule(
            name=name_k,
            req=k.get("REQ"),
            pre=RuleCode(k["PRE"], "exec") if "PRE" in k else None,
            checks=[RuleCode(t, "eval") for t in _as_list(k["CHECK"])] if "CHECK" in k else [],
            post=RuleCode(k["POST"], "exec") if "POST" in k else None,
            first_checks=[RuleCode(t, "eval") for t in _as_list(k["FIRST_CHECK"])]
            if "FIRST_CHECK" in k
            else None,
            atleast=RuleCode(atleast_src, "eval") if atleast_src is not None else None,
            atleast_src=atleast_src,
            is_submission="submission_" in name_k,
            enqueues=_enqueue_targets(
                _code_text(
                    k.get("PRE"), k.get("CHECK"), k.get("POST"), k.get("FIRST_CHECK"), atleast_src
                ),
                base,
            ),
        )
    cfg = RuleFile(
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
def reachable_configs(start: frozenset[str] | None) -> tuple[frozenset[str], bool]:
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
def retention_of(future: frozenset[str]) -> tuple[bool, frozenset[str]]:
    """(whether one of these configs reads the whole log, the keys they have rules for)."""
    keys: set[str] = set()
    reads_log = False
    for c in future:
        if config_exists(c):
            info = config_info(c)
            keys |= info.keys
            reads_log = reads_log or info.begin_reads_log
    return reads_log, frozenset(keys)
