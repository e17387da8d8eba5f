"""A whole submitter folder (``<org>/systems/*.json`` + ``<org>/results/<system>/<benchmark>/``).

The verdict (``OrgReport.passed``) equals ``package_checker``'s (docs/official-tools.md §2.2),
including where the official tool rejects published folders: a v4.0 system JSON with ``status:
"available"`` (its version test applies the 4.1 list to 4.0.0), closed logs without ``seed`` lines,
an unusable ``status`` such as ``"cloud"``. Each such error says which official behaviour is behind
it. Where the official tool crashes (a results/<system>/ without ``systems/<system>.json``, a
number in a joined system field, a log line without ``time_ms``...) we report an error that names
the file instead of a traceback; the verdict is FAIL.

Beyond the official checks, trap warnings: a log's ``submission_org`` / ``submission_division``
that differ from the system JSON (logging#241), a root-level ``package_checker_params``.

    from mlperf_submit.compliance.orgfolder import check_org
    rep = check_org("training_results_v4.0/GigaComputing", "4.0.0")
    rep.passed, [d.score.minutes for d in rep.dirs if d.score]
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from mlperf_submit.compliance import meta
from mlperf_submit.compliance.findings import Finding
from mlperf_submit.compliance.params import PARAMS_FILE, read_params, system_params
from mlperf_submit.compliance.runset import DirReport, _default_check, check_result_dir
from mlperf_submit.compliance.system_desc import SystemDesc, load_system_desc
from mlperf_submit.errors import InputError


def _in(path: str, message: str) -> str:
    """Prefix a message with the file it is about, unless it already starts with it."""
    return message if message.startswith(path) else f"{path}: {message}"


def is_org_folder(path: str) -> bool:
    return os.path.isdir(os.path.join(path, "systems")) and os.path.isdir(
        os.path.join(path, "results")
    )


def _sub_dirs(path: str) -> list[str]:
    return sorted(
        os.path.join(path, d) for d in os.listdir(path) if os.path.isdir(os.path.join(path, d))
    )


@dataclass
class OrgReport:
    path: str
    ruleset: str
    systems: list[SystemDesc] = field(default_factory=list)
    dirs: list[DirReport] = field(default_factory=list)
    errors: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    official_crash: str | None = None

    @property
    def passed(self) -> bool:
        return not self.errors and self.official_crash is None and all(d.passed for d in self.dirs)

    @property
    def verdict(self) -> str:
        return "PASS" if self.passed else "FAIL"

    @property
    def benchmarks(self) -> list[str]:
        return sorted({d.benchmark for d in self.dirs if d.benchmark})


def org_benchmarks(folder: str) -> list[str]:
    """Benchmark folder names under results/*/ (to choose a default ruleset)."""
    out = set()
    results = os.path.join(folder, "results")
    for system_dir in _sub_dirs(results):
        out.update(os.path.basename(d) for d in _sub_dirs(system_dir))
    return sorted(out)


def check_org(
    folder: str,
    ruleset: str,
    *,
    rcp_bypass: bool = False,
    seed_bypass: bool = False,
    check: Callable = _default_check,
) -> OrgReport:
    """Check a submitter folder like ``package_checker FOLDER training RULESET``; never writes."""
    folder = os.fspath(folder)  # kept as given: every path printed starts with it
    if not is_org_folder(folder):
        raise InputError(f"{folder}: not an org folder (needs systems/ and results/ inside)")
    meta.check_ruleset(ruleset)
    rep = OrgReport(folder, ruleset)
    root_params = read_params(os.path.join(folder, PARAMS_FILE), level="root")
    rep.warnings.extend(root_params.findings)

    by_name: dict[str, SystemDesc] = {}
    for path in sorted(glob.glob(os.path.join(glob.escape(folder), "systems", "*.json"))):
        desc = load_system_desc(path, ruleset)
        rep.systems.append(desc)
        by_name[desc.name] = desc
        if desc.official_crash:
            rep.official_crash = rep.official_crash or f"{path}: {desc.official_crash}"
    if ruleset in meta.CHECKED_RULESETS:
        failed = [d for d in rep.systems if not d.official_passed]
        for desc in failed:
            rep.errors.extend(
                Finding(
                    f.severity,
                    f.kind,
                    _in(desc.path, f.message),
                    key=f.key,
                    file_lineno=f.file_lineno,
                    hint=f.hint,
                )
                for f in desc.errors
            )
        if failed:
            rep.errors.append(Finding("error", "system", "System description file checker failed"))
    for desc in rep.systems:
        rep.warnings.extend(
            Finding(f.severity, f.kind, _in(desc.path, f.message), key=f.key, hint=f.hint)
            for f in desc.warnings
        )

    for system_dir in _sub_dirs(os.path.join(folder, "results")):
        system = os.path.basename(system_dir)
        sys_bypass = system_params(system_dir)
        rep.warnings.extend(sys_bypass.findings)
        desc = by_name.get(system)
        bench_dirs = _sub_dirs(system_dir)
        if desc is None and bench_dirs:
            json_path = os.path.join(folder, "systems", f"{system}.json")
            rep.official_crash = rep.official_crash or f"FileNotFoundError: {json_path}"
            rep.errors.append(
                Finding(
                    "error",
                    "system",
                    f"{json_path} is missing for results/{system}/ (the official package_checker "
                    "crashes here with FileNotFoundError)",
                    hint=f"add systems/{system}.json, or rename results/{system}/ to match a "
                    "system file",
                )
            )
        division = None  # no usable system JSON: the logs say (the official tool crashed)
        if desc is not None and desc.contents is not None:
            division = desc.contents.get("division", "")
            if "division" not in desc.contents and bench_dirs:
                rep.official_crash = rep.official_crash or f"KeyError: 'division' in {desc.path}"
        for bench_dir in bench_dirs:
            d = check_result_dir(
                bench_dir,
                ruleset,
                division,
                system=system,
                system_bypass=sys_bypass,
                rcp_bypass=rcp_bypass,
                seed_bypass=seed_bypass,
                check=check,
            )
            rep.dirs.append(d)
            if desc is not None and desc.contents is not None:
                _compare_logs_with_system(d, desc)
            if d.official_crash and rep.official_crash is None:
                rep.official_crash = d.official_crash
    return rep


def _compare_logs_with_system(d: DirReport, desc: SystemDesc) -> None:
    """Trap warnings: logged submission_org/division differ from the system JSON (logging#241)."""
    pairs = (("submission_org", "submitter"), ("submission_division", "division"))
    for log_key, sys_key in pairs:
        declared = desc.get(sys_key)
        seen = sorted(
            {
                str(fr.facts.submission.get(log_key))
                for fr in d.files
                if fr.facts.submission.get(log_key) != declared
            }
        )
        if seen:
            d.warnings.append(
                Finding(
                    "warning",
                    "trap",
                    f"{d.path}: logs say {log_key} {', '.join(repr(s) for s in seen)} but "
                    f"{desc.path} says {sys_key} {declared!r} (no official tool compares them)",
                    key=log_key,
                    hint=f"log {log_key} = {declared!r} (the system JSON decides how the "
                    "package checker treats the results)",
                )
            )
