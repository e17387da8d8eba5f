"""What the logger needs to know from the official rule files of (ruleset, division, benchmark).

Everything is read from the YAML shipped in the pinned ``mlperf-logging`` (never copied), so a
new ruleset needs no code change:

- :func:`validate` -- the ruleset exists and has the benchmark in that division, else a
  UsageError listing what does exist;
- :func:`progress_unit` -- ``"epoch_num"`` or ``"samples_count"``: the metadata key that the
  benchmark's ``eval_accuracy`` CHECK requires (it differs by division: open llama2_70b_lora
  wants ``epoch_num``, closed wants ``samples_count``);
- :func:`order_keys` -- hyperparameters in an order the CHECKs accept: a key whose CHECK reads
  ``s['x']`` goes after the key whose POST sets ``s['x']`` (llama31_8b's
  ``opt_learning_rate_decay_steps`` after ``opt_learning_rate_warmup_steps``, flux1@6.1.0's
  ``evaluation_frequency`` after ``global_batch_size``);
- :func:`common_keys` -- the keys ``common.yaml`` defines (``submission_status`` only up to 4.0.0).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re

import yaml

from mlperf_submit.compliance import meta
from mlperf_submit.errors import UsageError

DIVISIONS = ("closed", "open")
_STATE_SET = re.compile(r"s\[\s*'([^']+)'\s*\]\s*=(?!=)")
_STATE_READ = re.compile(r"s\[\s*'([^']+)'\s*\]")
_Loader = getattr(yaml, "CBaseLoader", yaml.BaseLoader)


@functools.cache
def _checker_dir() -> str:
    spec = importlib.util.find_spec("mlperf_logging.compliance_checker")
    assert spec is not None and spec.submodule_search_locations
    return list(spec.submodule_search_locations)[0]


@functools.cache
def _records(relpath: str) -> tuple[dict, ...]:
    """The KEY records of one rule file, in file order (BaseLoader: every scalar a string)."""
    path = os.path.join(_checker_dir(), relpath)
    with open(path, encoding="utf-8") as f:
        items = yaml.load(f, Loader=_Loader) or []
    return tuple(item["KEY"] for item in items if "KEY" in item)


def _bm_file(ruleset: str, division: str, benchmark: str) -> str:
    return f"training_{ruleset}/{division}_{benchmark}.yaml"


def validate(benchmark: str, ruleset: str, division: str) -> None:
    """UsageError unless the installed rules cover (ruleset, division, benchmark)."""
    meta.check_ruleset(ruleset)
    if division not in DIVISIONS:
        raise UsageError(f"unknown division {division!r}: use 'closed' or 'open'")
    allowed = meta.allowed_benchmarks(ruleset)
    has_file = os.path.isfile(os.path.join(_checker_dir(), _bm_file(ruleset, division, benchmark)))
    if benchmark not in allowed or not has_file:
        listed = [
            bm
            for bm in allowed
            if os.path.isfile(os.path.join(_checker_dir(), _bm_file(ruleset, division, bm)))
        ]
        rounds = meta.rulesets_with(benchmark)
        where = f" (it is in: {', '.join(rounds)})" if rounds else ""
        raise UsageError(
            f"benchmark {benchmark!r} is not part of training ruleset {ruleset} ({division})"
            f"{where}; {ruleset} has: {', '.join(listed) or 'none'}"
        )


def chain_files(benchmark: str, ruleset: str, division: str) -> tuple[str, ...]:
    """The rule files whose keys are known before any value is logged."""
    return (
        f"training_{ruleset}/common.yaml",
        f"training_{ruleset}/{division}_common.yaml",
        _bm_file(ruleset, division, benchmark),
    )


@functools.cache
def progress_unit(benchmark: str, ruleset: str, division: str) -> str:
    """``"samples_count"`` if the CHECK of the benchmark's quality metric asks for it, else
    ``"epoch_num"``. The metric is ``eval_accuracy``, or, in a rule file without it, the key
    that carries the target (open flux1: ``averaged_validation_loss``)."""
    validate(benchmark, ruleset, division)
    records = _records(_bm_file(ruleset, division, benchmark))
    metric = [r for r in records if r.get("NAME") == "eval_accuracy"]
    for rec in metric or [r for r in records if r.get("ATLEAST_ONE_CHECK")]:
        check = rec.get("CHECK", "")
        text = " ".join(check) if isinstance(check, list) else str(check)
        if "samples_count" in text and "epoch_num" not in text:
            return "samples_count"
        return "epoch_num"
    return "epoch_num"


@functools.cache
def metric_aliases(benchmark: str, ruleset: str, division: str) -> tuple[str, ...]:
    """The key(s) that carry the quality metric in a rule file without ``eval_accuracy`` (a
    REQ'd key with an ATLEAST_ONE_CHECK): open flux1's ``averaged_validation_loss`` (5.1.0-6.1.0,
    a placeholder name the file marks TODO). The logger writes the metric under them as well as
    under ``eval_accuracy`` (which the RCP checker and the closed rules read)."""
    validate(benchmark, ruleset, division)
    records = _records(_bm_file(ruleset, division, benchmark))
    if any(r.get("NAME") == "eval_accuracy" for r in records):
        return ()
    return tuple(r["NAME"] for r in records if r.get("ATLEAST_ONE_CHECK") and r.get("REQ"))


@functools.cache
def common_keys(ruleset: str) -> frozenset[str]:
    return frozenset(rec["NAME"] for rec in _records(f"training_{ruleset}/common.yaml"))


def _text(rec: dict, *fields: str) -> str:
    parts = []
    for field in fields:
        val = rec.get(field)
        if isinstance(val, list):
            parts.extend(val)
        elif val is not None:
            parts.append(val)
    return "\n".join(parts)


@functools.cache
def _state_edges(benchmark: str, ruleset: str, division: str) -> dict[str, frozenset[str]]:
    """key -> keys that must be logged before it (same rule file: ``s`` is per file)."""
    edges: dict[str, set[str]] = {}
    for relpath in chain_files(benchmark, ruleset, division):
        setters: dict[str, str] = {}
        records = _records(relpath)
        for rec in records:
            for name in _STATE_SET.findall(_text(rec, "POST")):
                setters.setdefault(name, rec["NAME"])
        for rec in records:
            for name in _STATE_READ.findall(_text(rec, "PRE", "CHECK")):
                setter = setters.get(name)
                if setter and setter != rec["NAME"]:
                    edges.setdefault(rec["NAME"], set()).add(setter)
    return {k: frozenset(v) for k, v in edges.items()}


def order_keys(keys: list[str], benchmark: str, ruleset: str, division: str) -> list[str]:
    """``keys`` in their given order, except that each goes after the keys its CHECK depends on."""
    edges = _state_edges(benchmark, ruleset, division)
    present = set(keys)
    done: set[str] = set()
    out: list[str] = []

    def visit(key: str, path: tuple[str, ...]) -> None:
        if key in done or key in path:
            return
        for dep in sorted((d for d in edges.get(key, ()) if d in present), key=keys.index):
            visit(dep, (*path, key))
        done.add(key)
        out.append(key)

    for key in keys:
        visit(key, ())
    return out
