"""Helpers for the run-set / org-folder tests: corpus rows, temp copies, log edits, and the
official tools run in-process on temp copies (they write ``scaling.json`` into their input).

The official code is run unchanged except for two pure speed-ups that cannot change a result:
PyYAML re-reading the same rule file for every log is served from a cache, and the official
prefix stripping ``re.sub(".*:::MLLOG ", ":::MLLOG ", line)`` (quadratic in line length, 2/3 of
the official run time) is computed as ``line[line.rfind(":::MLLOG "):]``, which is the same
string for every line read from a file (``.`` matches anything but the trailing newline).
"""

from __future__ import annotations

import csv
import importlib
import io
import json
import logging
import os
import pkgutil
import re
import shutil
import tempfile
import types
from contextlib import redirect_stdout
from pathlib import Path

import yaml

TOKEN = ":::MLLOG "
SMALL_ORG = ("v5.1", "closed", "Dell")  # 1 system, dlrm_dcnv2 x 10 small logs, RCP found
SMALL_ORG_RULESET = "5.1.0"


def manifest_rows(corpus: Path) -> list[dict]:
    with open(corpus / "MANIFEST.tsv", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def ruleset_of(row: dict) -> str:
    return row["round"][1:] + ".0"


def org_of(corpus: Path, row: dict) -> Path:
    return corpus / row["round"] / row["division"] / row["submitter"]


def dir_of(corpus: Path, row: dict) -> Path:
    return org_of(corpus, row) / "results" / row["system"] / row["benchmark"]


def copy_tree(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, symlinks=True)
    return dst


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file's bytes under ``root`` (to prove nothing was written)."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def edit_log(path: Path, edit) -> None:
    """Rewrite a log's MLLOG lines: ``edit(obj) -> obj | None`` (None drops the line).

    Lines keep their prefix (``0: ``) and every non-MLLOG line is kept as is.
    """
    out = []
    for line in path.read_text(encoding="latin-1").splitlines(keepends=True):
        pos = line.find(TOKEN)
        if pos < 0:
            out.append(line)
            continue
        obj = json.loads(line[pos + len(TOKEN) :])
        new = edit(obj)
        if new is not None:
            out.append(line[:pos] + TOKEN + json.dumps(new) + "\n")
    path.write_text("".join(out), encoding="latin-1")


def set_key(key: str, value=None, *, drop: bool = False, metadata: dict | None = None):
    """An ``edit`` for :func:`edit_log` that changes, or drops, every line of ``key``."""

    def edit(obj):
        if obj.get("key") != key:
            return obj
        if drop:
            return None
        if value is not None:
            obj["value"] = value
        if metadata is not None:
            obj["metadata"] = {**obj.get("metadata", {}), **metadata}
        return obj

    return edit


# ---------------------------------------------------------------- official tools, in-process

_yaml_cache: dict[str, object] = {}


def _cached_yaml_load(stream, Loader=None):  # noqa: N803 - yaml.load's signature
    name = getattr(stream, "name", None)
    if name is None:
        return yaml.load(stream, Loader=Loader)
    if name not in _yaml_cache:
        _yaml_cache[name] = yaml.load(stream, Loader=Loader)
    return _yaml_cache[name]


class _Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.records: list[tuple[str, str]] = []

    def emit(self, record):
        self.records.append((record.levelname, record.getMessage()))


_STRIP = ".*" + TOKEN


def _fast_sub(pattern, repl, string, count=0, flags=0):
    if pattern == _STRIP and repl == TOKEN and "\n" not in string[:-1]:
        pos = string.rfind(TOKEN)
        return string if pos < 0 else string[pos:]
    return re.sub(pattern, repl, string, count=count, flags=flags)


_fast_re = types.SimpleNamespace(**{k: getattr(re, k) for k in dir(re) if not k.startswith("__")})
_fast_re.sub = _fast_sub


def _speed_up_official() -> None:
    from mlperf_logging.compliance_checker import mlp_compliance, mlp_parser
    from mlperf_logging.rcp_checker import rcp_checker

    mlp_compliance.yaml = types.SimpleNamespace(load=_cached_yaml_load, BaseLoader=yaml.BaseLoader)
    rcp_checker.re = _fast_re
    for mod in pkgutil.iter_modules(mlp_parser.__path__):
        importlib.import_module(f"{mlp_parser.__name__}.{mod.name}").re = _fast_re


def _with_captured_logging(fn):
    from mlperf_logging.compliance_checker import mlp_compliance

    _speed_up_official()
    root = logging.getLogger()
    handler = _Capture()
    old_level, old_handlers = root.level, root.handlers[:]
    root.handlers = [handler]
    root.setLevel(logging.INFO)
    try:
        with redirect_stdout(io.StringIO()):
            result = fn()
        return result, handler.records
    finally:
        root.handlers = old_handlers
        root.setLevel(old_level)
        mlp_compliance.enqueued_configs.clear()


def official_package_check(org: str, ruleset: str, rcp_bypass=False, seed_bypass=False) -> dict:
    """``package_checker`` on a temp copy: verdict 'pass' | 'fail' | 'crash' and its messages."""
    from mlperf_logging.package_checker import package_checker

    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / Path(org).name
        copy_tree(Path(org), copy)

        def call():
            package_checker.check_training_package(
                str(copy),
                "training",
                ruleset,
                False,
                False,
                rcp_bypass,
                False,
                seed_bypass,
                "package_checker.log",
            )

        try:
            _, records = _with_captured_logging(call)
        except Exception as err:
            return {"verdict": "crash", "error": f"{type(err).__name__}: {err}", "messages": []}
    final = [m for _, m in records if "PACKAGE CHECKER FOUND" in m]
    verdict = "pass" if final and "NO ERRORS" in final[-1] else "fail"
    messages = [(lvl, m.replace(str(copy), org)) for lvl, m in records]
    return {"verdict": verdict, "messages": messages}


def official_rcp(directory: str, ruleset: str, set_scaling: bool = True) -> dict:
    """``rcp_checker.check_directory`` (as package_checker calls it) on a temp copy."""
    from mlperf_logging.rcp_checker import rcp_checker

    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "system" / Path(directory).name
        copy_tree(Path(directory), copy)

        def call():
            return rcp_checker.check_directory(
                str(copy),
                "training",
                ruleset,
                False,
                False,
                rcp_pass="pruned_rcps",
                set_scaling=set_scaling,
            )

        try:
            (passed, msg, norm), _ = _with_captured_logging(call)
        except Exception as err:
            return {"crash": f"{type(err).__name__}: {err}"}
        scaling = copy / "scaling.json"
        written = json.loads(scaling.read_text())["scaling_factor"] if scaling.exists() else None
    return {"passed": passed, "message": msg, "norm": norm, "scaling_json": written}


def parallel_map(fn, items: list, workers: int = 2) -> list:
    """``[fn(x) for x in items]`` in ``workers`` forked processes (the CI machine has 2 cores)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    if len(items) < 2 or os.cpu_count() == 1:
        return [fn(x) for x in items]
    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        return list(pool.map(fn, items))
