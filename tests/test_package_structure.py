"""The shape of the ``mlperf_submit`` package: every module imports on its own, and no two
modules import each other at module level, however indirectly.

An import cycle works or breaks depending on which module a process happens to import first,
so it is caught here from the source: the graph of every module's *module-level* imports (the
AST's top-level ``import`` / ``from ... import`` statements, those inside ``try``/``if``
included, those inside functions and under ``if TYPE_CHECKING:`` not). ``from pkg import x``
is an edge to the submodule ``pkg.x`` when there is one, else to ``pkg`` (its ``__init__``
defines ``x``). Importing ``pkg.mod`` also runs ``pkg/__init__.py``, but that is no edge here:
every package whose ``__init__`` imports its own modules would otherwise be a "cycle".

The imports run in a separate interpreter that has imported nothing of ``mlperf_submit``: it
first imports the third-party and standard modules the package imports at module level, then
forks once per module, so that each module is imported first, as a user's process would.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import mlperf_submit

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "mlperf_submit"
# Runs the CLI when imported (``python -m mlperf_submit``): its imports are in the graph only.
ENTRY_SCRIPTS = {f"{PACKAGE}.__main__"}


def module_names() -> list[str]:
    broken: list[str] = []
    names = [
        m.name
        for m in pkgutil.walk_packages(mlperf_submit.__path__, f"{PACKAGE}.", onerror=broken.append)
    ]
    assert not broken, f"packages that fail to import while walking: {broken}"
    return [PACKAGE, *names]


def source_of(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.origin, name
    return Path(spec.origin)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def module_level_imports(name: str, known: set[str]) -> tuple[set[str], set[str]]:
    """(modules of ours, other top-level module names) that ``name`` imports at module level."""
    path = source_of(name)
    is_package = path.name == "__init__.py"
    ours: set[str] = set()
    others: set[str] = set()

    def add(module: str) -> None:
        if module == PACKAGE or module.startswith(f"{PACKAGE}."):
            ours.add(module)
        else:
            others.add(module)

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    add(alias.name)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name if is_package else name.rpartition(".")[0]
                    for _ in range(node.level - 1):
                        base = base.rpartition(".")[0]
                    module = f"{base}.{node.module}" if node.module else base
                else:
                    module = node.module or ""
                for alias in node.names:
                    sub = f"{module}.{alias.name}"
                    add(sub if sub in known else module)
            elif isinstance(node, ast.If):
                if not _is_type_checking(node.test):
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)
                visit(node.orelse)
                visit(node.finalbody)
            elif isinstance(node, ast.With):
                visit(node.body)

    visit(ast.parse(path.read_text(encoding="utf-8"), str(path)).body)
    ours.discard(name)
    return ours & known, others


def import_graph() -> tuple[dict[str, set[str]], set[str]]:
    names = module_names()
    known = set(names)
    graph: dict[str, set[str]] = {}
    third_party: set[str] = set()
    for name in names:
        graph[name], others = module_level_imports(name, known)
        third_party |= others
    return graph, third_party


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path ``[a, b, ..., a]``, or None (iterative depth-first search)."""
    done: set[str] = set()
    for root in sorted(graph):
        if root in done:
            continue
        path, todo = [root], [iter(sorted(graph[root]))]
        while todo:
            nxt = next(todo[-1], None)
            if nxt is None:  # every import of path[-1] explored: no cycle through it
                done.add(path.pop())
                todo.pop()
            elif nxt in path:
                return [*path[path.index(nxt) :], nxt]
            elif nxt not in done:
                path.append(nxt)
                todo.append(iter(sorted(graph[nxt])))
    return None


def test_no_import_cycle_among_module_level_imports():
    graph, _ = import_graph()
    # the graph is real: the check CLI imports its library module, which imports the engine
    assert f"{PACKAGE}.compliance.check_paths" in graph[f"{PACKAGE}.compliance.command"]
    assert f"{PACKAGE}.compliance.rule_engine" in graph[f"{PACKAGE}.compliance.filecheck"]
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_find_cycle_reports_the_path():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


_IMPORT_EACH = r"""
import importlib, json, os, sys, traceback
names, preload = json.loads(sys.stdin.read())
for module in preload:  # third-party and stdlib: once, before forking
    try:
        importlib.import_module(module)
    except Exception:
        pass  # optional ones: a module that needs it at import time fails below
assert not [m for m in sys.modules if m == "mlperf_submit" or m.startswith("mlperf_submit.")]
failures = {}
for name in names:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            importlib.import_module(name)
            code = 0
        except BaseException:
            os.write(w, traceback.format_exc().encode())
            code = 1
        os._exit(code)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        err = f.read().decode(errors="replace")
    _, status = os.waitpid(pid, 0)
    if status:
        failures[name] = err or f"exit status {status}"
print(json.dumps(failures))
"""


def test_every_module_imports_first_in_a_fresh_interpreter():
    graph, third_party = import_graph()
    names = sorted(set(graph) - ENTRY_SCRIPTS)
    proc = subprocess.run(
        [sys.executable, "-c", _IMPORT_EACH],
        input=json.dumps([names, sorted(third_party)]),
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    failures = json.loads(proc.stdout.splitlines()[-1])
    assert not failures, "\n\n".join(f"{name}:\n{err}" for name, err in failures.items())
    assert len(names) > 90  # every module was tried, not an empty walk


def test_the_check_command_module_imports_alone():
    proc = subprocess.run(
        [sys.executable, "-c", "import mlperf_submit.compliance.command"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
