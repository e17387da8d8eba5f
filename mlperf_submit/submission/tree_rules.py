"""Checks of a submission tree that no official tool makes together with package_checker.

- repository rules (what ``repo_checker`` checks, docs/official-tools.md §2.5): no file or
  folder name that starts with ``.`` or contains a space, no file over 50 MB (symlinks
  excluded), no broken symlink. The official tool resolves a relative link target against the
  *current directory* instead of the link's folder; we resolve it properly and say when the two
  differ;
- an implementation folder ``benchmarks/<bm>/implementations/<impl>/`` with files in it for
  every benchmark that has results (policy, docs/official-tools.md §2.1; no official tool
  checks it);
- ``submission_platform`` of the logs against the system (``<N>x<system>`` is the published
  convention, e.g. ``1xXE9680x8H200-SXM-141GB``) and placeholder values such as
  ``SUBMISSION_ORG_PLACEHOLDER`` left in the logs (warnings: published trees have both).

``submission_org`` / ``submission_division`` against the system JSON are compared by
``compliance.orgfolder`` (trap warnings); we do not repeat them.
"""

from __future__ import annotations

import os
import re

from mlperf_submit.compliance.findings import Finding
from mlperf_submit.compliance.orgfolder import OrgReport

MAX_FILE_MB = 50
_MB = 1024 * 1024


def repo_findings(folder: str) -> list[Finding]:
    """repo_checker's three checks over ``folder`` (errors), plus the relative-link caveat."""
    folder = os.fspath(folder)  # kept as given: the paths reported start with it
    bad_names, big, broken, notes = [], [], [], []
    for dirpath, dirs, files in os.walk(folder):
        # repo_checker looks at every walked dir (the root included) and every file entry.
        name = os.path.basename(os.path.normpath(dirpath))
        if name.startswith(".") or " " in name:
            bad_names.append(dirpath)
        for name in files:
            path = os.path.join(dirpath, name)
            if name.startswith(".") or " " in name:
                bad_names.append(path)
            if os.path.islink(path):
                target = os.readlink(path)
                resolved = target if os.path.isabs(target) else os.path.join(dirpath, target)
                ok_ours = os.path.exists(resolved)
                ok_official = os.path.exists(target)  # relative to the cwd, as repo_checker does
                if not ok_ours:
                    broken.append(f"{path} -> {target}")
                elif not ok_official:
                    notes.append(path)
            elif os.path.getsize(path) > MAX_FILE_MB * _MB:
                big.append(f"{path} ({os.path.getsize(path) / _MB:.1f} MB)")
        for name in dirs:
            path = os.path.join(dirpath, name)
            if os.path.islink(path) and not os.path.exists(path):
                broken.append(f"{path} -> {os.readlink(path)}")
    out = []
    if bad_names:
        out.append(Finding("error", "repo", "Files with git-unfriendly name (starting with '.' or "
                           "containing a space): " + ", ".join(bad_names),
                           hint="rename them: no leading dot, no spaces (repo_checker)"))  # fmt: skip
    if big:
        out.append(Finding("error", "repo", f"Files > {MAX_FILE_MB}MB: " + ", ".join(big),
                           hint="remove or shrink them; git hosting refuses them (repo_checker)"))  # fmt: skip
    if broken:
        out.append(Finding("error", "repo", "broken symbolic links: " + ", ".join(broken),
                           hint="replace the links by the files, or fix their targets"))  # fmt: skip
    if notes:
        out.append(Finding("warning", "repo", "relative symbolic links that the official "
                           "repo_checker resolves against the current directory and so reports "
                           "as broken unless run from their folder: " + ", ".join(notes),
                           hint="copy the files instead of linking them"))  # fmt: skip
    return out


def implementation_findings(org: OrgReport) -> list[Finding]:
    """Every benchmark with results needs a non-empty implementation folder (policy)."""
    out = []
    for bm in sorted({d.benchmark for d in org.dirs if d.benchmark and not d.skipped}):
        impl_root = os.path.join(org.path, "benchmarks", bm, "implementations")
        impls = []
        if os.path.isdir(impl_root):
            impls = [
                d for d in sorted(os.listdir(impl_root))
                if os.path.isdir(os.path.join(impl_root, d))
                and any(files for _, _, files in os.walk(os.path.join(impl_root, d)))
            ]  # fmt: skip
        if not impls:
            out.append(Finding(
                "error", "policy",
                f"results for {bm} but no code in {impl_root}/<implementation>/ (the submission "
                "rules require the implementation; no official tool checks it)",
                hint=f"add benchmarks/{bm}/implementations/<impl>/ with the code, a README.md "
                "and run_and_time.sh (mlperf-submit package does), or pass --no-code to check "
                "results only",
            ))  # fmt: skip
            continue
        for impl in impls:
            path = os.path.join(impl_root, impl)
            for needed in ("README.md",):
                if not os.path.isfile(os.path.join(path, needed)):
                    out.append(Finding("warning", "policy", f"{path} has no {needed}",
                                       hint="describe the implementation following the MLCommons "
                                       "reference README template"))  # fmt: skip
    return out


_PLACEHOLDER = re.compile(r"PLACEHOLDER", re.IGNORECASE)


def platform_findings(org: OrgReport) -> list[Finding]:
    """submission_platform vs the system, and placeholders left in submission_* keys."""
    out = []
    systems = {s.name: s for s in org.systems}
    for d in org.dirs:
        desc = systems.get(d.system or "")
        if desc is None or not desc.contents:
            continue
        expected = {d.system, str(desc.get("system_name", ""))}
        nodes = str(desc.get("number_of_nodes", ""))
        seen_platforms, placeholders = set(), set()
        for fr in d.files:
            sub = fr.facts.submission
            for key, value in sub.items():
                if isinstance(value, str) and _PLACEHOLDER.search(value):
                    placeholders.add(f"{key}={value!r}")
            plat = sub.get("submission_platform")
            if plat is None:
                continue
            plat = str(plat)
            bare = re.sub(r"^\d+x", "", plat)
            if plat not in expected and bare not in expected:
                seen_platforms.add(plat)
        if placeholders:
            out.append(Finding("warning", "trap", f"{d.path}: placeholder values left in the "
                               "logs: " + ", ".join(sorted(placeholders)),
                               hint="set the submission_* values when the run starts "
                               "(mlperf-submit train --org/--platform)"))  # fmt: skip
        elif seen_platforms:
            out.append(Finding(
                "warning", "trap",
                f"{d.path}: logs say submission_platform "
                f"{', '.join(repr(p) for p in sorted(seen_platforms))}, which names neither the "
                f"system {d.system!r} nor its system_name {desc.get('system_name')!r} "
                "(no official tool compares them)",
                hint=f"log submission_platform = '{nodes}x{d.system}' (the published convention)",
            ))  # fmt: skip
    return out
