"""Run the official ``mlperf_logging`` tools as subprocesses and read their verdicts.

``official_compare`` runs them for ``check --official`` and ``verify --official`` and lists every
disagreement with our own checks. The tools are awkward to script (docs/official-tools.md §7):

- ``package_checker``, ``system_desc_checker`` and ``repo_checker`` exit 0 even when they find
  errors: the verdict is their last log line;
- ``package_checker``, ``rcp_checker`` (through the package checker) and ``result_summarizer``
  write or delete ``scaling.json`` in their input, the summarizer writes ``summary.json`` and
  ``privateid.json``, and every tool appends to a log file in the working directory.

So every tool runs on a temporary copy of its input, in a temporary working directory, and the
copy's path is mapped back to the real one in the output we keep. A Python traceback is a
*crash* (``passed is None``), reported with its last line.

    from mlperf_submit.compliance import official
    v = official.package_checker("org", "4.0.0")
    v.passed, v.message, v.errors[:3]
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

DEFAULT_TIMEOUT = 1800.0


@dataclass
class OfficialVerdict:
    tool: str  # module name, e.g. "package_checker"
    target: str  # the real path checked (not the temporary copy)
    passed: bool | None  # None: the tool crashed (traceback) or gave no verdict line
    message: str  # the decisive line (final verdict, RCP message or the exception)
    returncode: int
    seconds: float
    errors: list[str] = field(default_factory=list)  # "ERROR - ..." messages
    warnings: list[str] = field(default_factory=list)  # "WARNING - ..." messages
    output: str = ""  # stderr + stdout, temp paths mapped back
    extra: dict = field(default_factory=dict)  # tool-specific (e.g. summarizer scores)
    crashed: bool = False  # ended in a traceback (or timed out)

    @property
    def verdict(self) -> str:
        return "CRASH" if self.passed is None else ("PASS" if self.passed else "FAIL")

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d.pop("output")
        # (system, benchmark) tuple keys become "system/benchmark" strings
        d["extra"] = {
            k: {"/".join(kk) if isinstance(kk, tuple) else str(kk): vv for kk, vv in v.items()}
            if isinstance(v, dict)
            else v
            for k, v in self.extra.items()
        }
        d["verdict"] = self.verdict
        return d


def _copy(src: str, tmp: str) -> str:
    """Copy a file or a tree into ``tmp`` keeping its last two path parts (system/benchmark)."""
    src = os.path.abspath(src)
    parent = os.path.basename(os.path.dirname(src)) or "parent"
    dst = os.path.join(tmp, "copy", parent, os.path.basename(src))
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    if os.path.isdir(src):
        shutil.copytree(src, dst, symlinks=True)
    else:
        shutil.copy2(src, dst)
    return dst


def _run(
    tool: str,
    args: list[str],
    target: str,
    copy_path: str | None,
    tmp: str,
    timeout: float,
    cmd: list[str] | None = None,
) -> tuple[int, str, float]:
    log = os.path.join(tmp, f"{tool}.log")
    if cmd is None:
        cmd = [sys.executable, "-m", f"mlperf_logging.{tool}", *args]
        if tool != "result_summarizer":
            cmd += ["--log_output", log]
    env = dict(os.environ, PYTHONWARNINGS="ignore", PYTHONIOENCODING="utf-8")
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd,
            cwd=tmp,
            env=env,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            check=False,
        )
        rc, out = proc.returncode, proc.stderr + proc.stdout
    except subprocess.TimeoutExpired:
        rc, out = 124, f"Traceback: timed out after {timeout:.0f} s"
    seconds = time.perf_counter() - t0
    if copy_path:
        out = out.replace(copy_path, os.path.abspath(target))
    return rc, out, seconds


def _parse(tool: str, target: str, rc: int, out: str, seconds: float) -> OfficialVerdict:
    lines = [ln.rstrip() for ln in out.splitlines() if ln.strip()]
    errors = [ln[len("ERROR - ") :] for ln in lines if ln.startswith("ERROR - ")]
    warnings = [ln[len("WARNING - ") :] for ln in lines if ln.startswith("WARNING - ")]
    v = OfficialVerdict(tool, target, None, "", rc, seconds, errors, warnings, out)
    if "Traceback (most recent call last)" in out or out.startswith("Traceback: timed out"):
        tail = [ln for ln in lines if not ln.startswith("**")]
        v.message = tail[-1] if tail else "crashed"
        v.crashed = True
        return v
    return v


def _logged(lines: list[str]) -> list[str]:
    return [ln for ln in lines if ln.startswith(("INFO - ", "ERROR - ", "WARNING - "))]


def compliance_checker(
    path: str, ruleset: str, *, werror: bool = False, timeout: float = DEFAULT_TIMEOUT
) -> OfficialVerdict:
    """``compliance_checker --usage training --ruleset R FILE``: rc 0 pass, 1 fail."""
    with tempfile.TemporaryDirectory(prefix="mlperf-official-") as tmp:
        args = ["--usage", "training", "--ruleset", ruleset, os.path.abspath(path)]
        if werror:
            args.append("--werror")
        rc, out, sec = _run("compliance_checker", args, path, None, tmp, timeout)
    v = _parse("compliance_checker", path, rc, out, sec)
    if not v.crashed:
        logged = _logged(out.splitlines())
        v.message = logged[-1].split(" - ", 1)[-1] if logged else ""
        v.passed = rc == 0 and v.message.endswith("SUCCESS")
    return v


def package_checker(
    org: str,
    ruleset: str,
    *,
    rcp_bypass: bool = False,
    seed_checker_bypass: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
) -> OfficialVerdict:
    """``package_checker ORG training R`` on a copy; the verdict is its last line (rc is 0)."""
    with tempfile.TemporaryDirectory(prefix="mlperf-official-") as tmp:
        copy = _copy(org, tmp)
        args = [copy, "training", ruleset]
        if rcp_bypass:
            args.append("--rcp-bypass")
        if seed_checker_bypass:
            args.append("--seed-checker-bypass")
        rc, out, sec = _run("package_checker", args, org, copy, tmp, timeout)
    v = _parse("package_checker", org, rc, out, sec)
    if not v.crashed:
        final = [ln for ln in out.splitlines() if "PACKAGE CHECKER FOUND" in ln]
        if final:
            v.message = final[-1].split(" - ", 1)[-1]
            v.passed = "NO ERRORS" in final[-1]
        else:
            v.message = "no final PACKAGE CHECKER line"
    return v


def rcp_checker(
    result_dir: str,
    ruleset: str,
    *,
    rcp_pass: str = "pruned_rcps",
    timeout: float = DEFAULT_TIMEOUT,
) -> OfficialVerdict:
    """Standalone ``rcp_checker DIR --rcp_version R`` (never writes scaling.json; copy anyway)."""
    with tempfile.TemporaryDirectory(prefix="mlperf-official-") as tmp:
        copy = _copy(result_dir, tmp)
        args = [copy, "--rcp_usage", "training", "--rcp_version", ruleset, "--rcp_pass", rcp_pass]
        rc, out, sec = _run("rcp_checker", args, result_dir, copy, tmp, timeout)
    v = _parse("rcp_checker", result_dir, rc, out, sec)
    if not v.crashed:
        for ln in out.splitlines():
            for mark in (", RCP test PASSED", ", RCP test FAILED"):
                if mark in ln:
                    v.message = ln.split(" - ", 1)[-1].split(mark)[0]
                    v.passed = mark.endswith("PASSED")
    return v


def system_desc_checker(
    path: str, ruleset: str, timeout: float = DEFAULT_TIMEOUT
) -> OfficialVerdict:
    """``system_desc_checker FILE training R``: 'passed for' / 'failed for' (rc is 0)."""
    with tempfile.TemporaryDirectory(prefix="mlperf-official-") as tmp:
        args = [os.path.abspath(path), "training", ruleset]
        rc, out, sec = _run("system_desc_checker", args, path, None, tmp, timeout)
    v = _parse("system_desc_checker", path, rc, out, sec)
    if not v.crashed:
        for ln in out.splitlines():
            if (
                "System description checker passed" in ln
                or "System description checker failed" in ln
            ):
                v.message = ln.split(" - ", 1)[-1].strip()
                v.passed = "passed" in ln
    return v


def repo_checker(org: str, ruleset: str, timeout: float = DEFAULT_TIMEOUT) -> OfficialVerdict:
    """``repo_checker ORG training R``: 'ALL CHECKS PASSED.' / 'CHECKS FAILED.' (rc is 0)."""
    with tempfile.TemporaryDirectory(prefix="mlperf-official-") as tmp:
        copy = _copy(org, tmp)
        rc, out, sec = _run("repo_checker", [copy, "training", ruleset], org, copy, tmp, timeout)
    v = _parse("repo_checker", org, rc, out, sec)
    if not v.crashed:
        for ln in out.splitlines():
            if ln.endswith("CHECKS PASSED.") or ln.endswith("CHECKS FAILED."):
                v.message = ln.split(" - ", 1)[-1]
                v.passed = ln.endswith("ALL CHECKS PASSED.")
    return v


def result_summarizer(org: str, ruleset: str, timeout: float = DEFAULT_TIMEOUT) -> OfficialVerdict:
    """``result_summarizer ORG training R --csv`` on a copy.

    ``extra['scores']`` maps ``(system_file_name, benchmark)`` to the printed score in minutes
    (None: empty cell), ``extra['rcp']`` to the detailed RCP column. ``passed`` is True when it
    ran without a traceback and printed no ``CRITICAL ERROR``.
    """
    with tempfile.TemporaryDirectory(prefix="mlperf-official-") as tmp:
        copy = _copy(org, tmp)
        out_csv = os.path.join(tmp, "summary.csv")
        rc, out, sec = _run(
            "result_summarizer",
            [copy, "training", ruleset, "--csv", out_csv],
            org,
            copy,
            tmp,
            timeout,
        )
        v = _parse("result_summarizer", org, rc, out, sec)
        if not v.crashed:
            v.extra["scores"] = _read_scores(out_csv)
            v.extra["rcp"] = _read_detailed(out_csv.replace(".csv", "_detailed.csv"))
            # "<ValueError> in <file>": the runs it dropped (failed compliance or parse errors)
            v.extra["dropped_files"] = sorted(
                ln.rsplit(" in ", 1)[1]
                for ln in out.splitlines()
                if " in " in ln and ln.rstrip().endswith(".txt") and not ln.startswith(" ")
            )
            critical = [ln for ln in out.splitlines() if "CRITICAL ERROR" in ln]
            v.errors.extend(critical)
            v.passed = not critical
            v.message = critical[0] if critical else "summarized"
    return v


# result_summarizer scores a lone result directory with this function (its org-folder walk
# calls it per system/benchmark): the same glob, compliance check, drops and scaling.json.
_STANDALONE_SCORE = """
import json, sys
from mlperf_logging.result_summarizer import result_summarizer as rs
score, _, factor = rs._compute_strong_score_standalone(
    sys.argv[1], "system", False, sys.argv[2], "training", sys.argv[3])
print("MLPERF_SUBMIT_SCORE " + json.dumps({"score": score, "scaling_factor": factor}))
"""


def dir_score(result_dir: str, benchmark: str, ruleset: str, timeout: float = DEFAULT_TIMEOUT):
    """The official score of one ``result_*.txt`` directory, outside an org folder: the
    summarizer's own per-directory function (``_compute_strong_score_standalone``) on a copy.
    ``extra['score']`` is its minutes (None: no score), ``extra['scaling_factor']`` the factor."""
    with tempfile.TemporaryDirectory(prefix="mlperf-official-") as tmp:
        copy = _copy(result_dir, tmp)
        cmd = [sys.executable, "-c", _STANDALONE_SCORE, benchmark, copy, ruleset]
        rc, out, sec = _run("result_summarizer", [], result_dir, copy, tmp, timeout, cmd=cmd)
    v = _parse("result_summarizer", result_dir, rc, out, sec)
    if not v.crashed:
        found = [ln for ln in out.splitlines() if ln.startswith("MLPERF_SUBMIT_SCORE ")]
        if found:
            v.extra.update(json.loads(found[-1].split(" ", 1)[1]))
            v.passed = v.extra["score"] is not None
            v.message = f"score {v.extra['score']}"
        else:
            v.crashed, v.message = True, "no score line"
    return v


def _system_of(row: dict) -> str:
    # details_url ends in /systems/<system file name>.json
    url = row.get("details_url") or ""
    return os.path.splitext(url.rsplit("/", 1)[-1])[0] if url else row.get("system", "")


def _read_scores(path: str) -> dict:
    scores: dict = {}
    if not os.path.isfile(path):
        return scores
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            system = _system_of(row)
            for key, value in row.items():
                if key in _SPEC_COLUMNS or key is None:
                    continue
                scores[(system, key)] = float(value) if value not in ("", None) else None
    return scores


def _read_detailed(path: str) -> dict:
    out: dict = {}
    if not os.path.isfile(path):
        return out
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            system = _system_of(row)
            for key, value in row.items():
                if key and key.endswith(":RCP") and value:
                    out[(system, key[: -len(":RCP")])] = value
    return out


_SPEC_COLUMNS = frozenset(
    [
        "division",
        "availability",
        "submitter",
        "system",
        "number_of_nodes",
        "host_processor_model_name",
        "host_processors_count",
        "accelerator_model_name",
        "accelerators_count",
        "framework",
        "notes",
        "private_id",
        "details_url",
        "code_url",
    ]
)
