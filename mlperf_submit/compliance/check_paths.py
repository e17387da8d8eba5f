"""What ``check`` does with a PATH, as library code: what kind of thing it is, which ruleset
checks it (and why), its report, and the exit code of a set of reports.

Kinds: ``file`` (a log), ``system`` (a system JSON), ``dir`` (``result_*.txt`` inside),
``files`` (loose ``*.log``/``*.txt`` of one benchmark, e.g. a campaign's ``<benchmark>/``),
``system_dir`` (``results/<system>/``: expanded into its ``dir``s) and ``org`` (``systems/`` and
``results/`` inside). Used by the ``check`` command (``command.py``) and by ``check --follow``
(``follow.py``).

    for path, kind, ruleset, why in expand(["org"], None):
        target = check_target(path, kind, ruleset, why)
    exit_code_for([target])
"""

from __future__ import annotations

import glob
import os

from mlperf_submit.compliance import meta
from mlperf_submit.compliance.advice import add_advice
from mlperf_submit.compliance.filecheck import check_file
from mlperf_submit.compliance.orgfolder import check_org, is_org_folder, org_benchmarks
from mlperf_submit.compliance.parser import TOKEN, LogLine, log_lines, open_log, parse_mllog_text
from mlperf_submit.compliance.report_format import Target
from mlperf_submit.compliance.runset import check_result_dir, check_result_files, result_files
from mlperf_submit.compliance.system_desc import load_system_desc
from mlperf_submit.errors import EXIT_FAIL, EXIT_OK, EXIT_USAGE, InputError, UsageError

LOG_EXTENSIONS = (".txt", ".log")


# ---------------------------------------------------------------- what a PATH is


def classify(path: str) -> str:
    """The kind of ``path`` (see the module docstring); InputError when it is none of them."""
    if not os.path.exists(path):
        raise InputError(f"{path}: no such file or directory")
    if os.path.isfile(path):
        return "system" if path.lower().endswith(".json") else "file"
    if not os.path.isdir(path):
        raise InputError(f"{path}: not a regular file or directory")
    if is_org_folder(path):
        return "org"
    if result_files(path):
        return "dir"
    if loose_logs(path):
        return "files"
    if any(result_files(os.path.join(path, d)) for d in _subdirs(path)):
        return "system_dir"
    raise InputError(
        f"{path}: nothing to check here (no result_*.txt, no *.log/*.txt, no systems/ + results/)"
    )


def _subdirs(path: str) -> list[str]:
    return sorted(d for d in os.listdir(path) if os.path.isdir(os.path.join(path, d)))


def loose_logs(path: str) -> list[str]:
    """The ``*.txt``/``*.log`` files directly in ``path``, sorted."""
    return sorted(
        p
        for p in glob.glob(os.path.join(glob.escape(path), "*"))
        if os.path.isfile(p) and p.endswith(LOG_EXTENSIONS)
    )


def log_benchmark(path: str) -> str | None:
    """The first ``submission_benchmark`` value of a log (a quick scan, no rules)."""
    try:
        with open_log(path) as f:
            for line in log_lines(f, path):
                if "submission_benchmark" not in line:
                    continue
                pos = line.rfind(TOKEN)
                if pos < 0:
                    continue
                item = parse_mllog_text(line[pos:].strip(), 0, 0)
                if type(item) is LogLine and item.key == "submission_benchmark":
                    return item.val if isinstance(item.val, str) else None
    except OSError as err:
        raise InputError(f"{path}: cannot read ({err.strerror})") from None
    return None


# ---------------------------------------------------------------- which ruleset


def ruleset_for(benchmarks: list[str], what: str) -> tuple[str, str]:
    """``(ruleset, why)`` for logs of ``benchmarks`` (None/unknown names are ignored): the newest
    ruleset holding them all; UsageError when no ruleset does. ``what`` names them in messages."""
    known = [b for b in benchmarks if b and meta.rulesets_with(b)]
    unknown = sorted({b for b in benchmarks if b and not meta.rulesets_with(b)})
    newest_any = meta.rulesets()[-1]
    if not known:
        why = f"no known benchmark in {what}" + (f" ({', '.join(unknown)})" if unknown else "")
        return newest_any, f"{why}: newest ruleset"
    newest = meta.newest_ruleset(*set(known))
    if newest is None:
        where = "; ".join(meta.where_is(b) for b in sorted(set(known)))
        raise UsageError(
            f"no single ruleset contains every benchmark of {what}: {where}. Pass --ruleset "
            "(a submission targets one ruleset)"
        )
    names = ", ".join(sorted(set(known)))
    return newest, f"default: newest ruleset with {names} (pass --ruleset to choose)"


def choose_ruleset(path: str, kind: str, given: str | None) -> tuple[str, str]:
    """``(ruleset, why)`` for one PATH of ``kind``: ``given`` (``--ruleset``) when set, else the
    newest ruleset holding the benchmark(s) found there."""
    if given:
        return meta.check_ruleset(given), "--ruleset"
    if kind == "file":
        bm = log_benchmark(path)
        return ruleset_for([bm] if bm else [], f"{path} (submission_benchmark)")
    if kind == "system":
        newest = meta.rulesets()[-1]
        return newest, "a system JSON names no benchmark: newest ruleset (pass --ruleset)"
    if kind == "org":
        return ruleset_for(org_benchmarks(path), path)
    if kind == "dir":
        name = os.path.basename(os.path.normpath(path))
        if name in meta.known_benchmarks():
            return ruleset_for([name], path)
        return ruleset_for([log_benchmark(p) for p in result_files(path)[:1]], path)
    logs = loose_logs(path)
    return ruleset_for([log_benchmark(p) for p in logs[:1]], path)


# ---------------------------------------------------------------- checking


def check_target(
    path: str,
    kind: str,
    ruleset: str,
    source: str,
    *,
    rcp_bypass: bool = False,
    seed_bypass: bool = False,
) -> Target:
    """Check one PATH of ``kind`` under ``ruleset`` (``source``: why that ruleset). The bypasses
    are package_checker's ``--rcp-bypass`` / ``--seed-checker-bypass`` (dirs and org folders)."""
    if kind == "file":
        report = check_file(path, ruleset)
    elif kind == "system":
        report = load_system_desc(path, ruleset)
    elif kind == "dir":
        report = check_result_dir(path, ruleset, rcp_bypass=rcp_bypass, seed_bypass=seed_bypass)
    elif kind == "files":
        report = check_result_files(loose_logs(path), ruleset, where=path)
    else:
        report = check_org(path, ruleset, rcp_bypass=rcp_bypass, seed_bypass=seed_bypass)
    target = Target(path, kind, ruleset, source, report)
    add_advice(target)  # rule-text warnings and projections; never a verdict
    return target


def expand(paths: list[str], given_ruleset: str | None) -> list[tuple[str, str, str, str]]:
    """``(path, kind, ruleset, source)`` per thing to check; UsageError/InputError up front."""
    out = []
    for path in paths:
        kind = classify(path)
        if kind == "system_dir":
            for sub in _subdirs(path):
                full = os.path.join(path, sub)
                if result_files(full):
                    out.append((full, "dir", *choose_ruleset(full, "dir", given_ruleset)))
            continue
        out.append((path, kind, *choose_ruleset(path, kind, given_ruleset)))
    return out


def exit_code_for(targets: list[Target]) -> int:
    """``check``'s exit code: 0 all compliant, 1 something is not, 2 nothing was checked."""
    # a lone result dir skipped for its ruleset checked nothing: that is a usage problem
    if any(t.kind == "dir" and t.verdict == "SKIP" for t in targets):
        return EXIT_USAGE
    # an official FAIL we did not see is a disagreement on the verdict: never exit 0 on it
    if any(not t.passed or any(d["what"] == "verdict" for d in t.disagreements) for t in targets):
        return EXIT_FAIL
    return EXIT_OK
