"""``mlperf-submit check PATH... [--ruleset X.Y.Z] [--json] [--official] [--quiet]``.

A PATH is a log file, a system JSON (``*.json``), a result dir (``result_*.txt`` inside), a dir
of logs of one benchmark (e.g. a campaign's ``<out>/<benchmark>/run_<i>.log``), a system dir
(``results/<system>/``: each benchmark dir inside), or an org folder (``systems/`` and
``results/`` inside). Examples::

    mlperf-submit check run_0.log                       # one log; ruleset from its benchmark
    mlperf-submit check org/results/sys1/resnet         # runs, seeds, RCP, olympic score
    mlperf-submit check org --ruleset 4.0.0 --json      # what package_checker + summarizer say
    mlperf-submit check org --official                  # and run the official tools, diff them
    mlperf-submit check run_0.log --follow              # while the run writes it (follow.py)

Exit 0: everything compliant; 1: something is not; 2: unusable input or usage (no traceback).

``--ruleset`` defaults to the newest ruleset that contains the benchmark found in the logs (the
official compliance checker defaults to 6.1.0 whatever the log holds); the ruleset used and why
is printed. A result dir whose benchmark is not in the chosen ruleset is skipped, as
package_checker does, and the message names the rulesets that have it.
"""

from __future__ import annotations

import glob
import json
import os
import sys

from mlperf_submit.compliance import meta
from mlperf_submit.compliance.report_format import Target, render, to_json
from mlperf_submit.errors import (
    EXIT_FAIL,
    EXIT_OK,
    EXIT_USAGE,
    InputError,
    MLPerfSubmitError,
    UsageError,
)

HELP = "check MLPerf logs, result dirs or org folders against the official rules"
LOG_EXTENSIONS = (".txt", ".log")


def add_arguments(parser) -> None:
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="log file, system JSON, result dir, system dir or org folder",
    )
    parser.add_argument(
        "--ruleset",
        metavar="X.Y.Z",
        help="training ruleset (default: newest one containing the benchmark)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON document (schema: docs/check-json.md)"
    )
    parser.add_argument(
        "--official",
        action="store_true",
        help="also run the official mlperf_logging tools and list disagreements",
    )
    parser.add_argument("--quiet", action="store_true", help="print only what fails")
    parser.add_argument(
        "--rcp-bypass",
        action="store_true",
        help="as package_checker --rcp-bypass (org folders and result dirs)",
    )
    parser.add_argument(
        "--seed-checker-bypass",
        action="store_true",
        help="as package_checker --seed-checker-bypass",
    )
    parser.add_argument(
        "--follow",
        action="store_true",
        help="one log being written: report findings as lines land, end after run_stop",
    )
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=0.0,
        metavar="S",
        help="with --follow: stop after S seconds without a new byte (default: wait)",
    )


# ---------------------------------------------------------------- what a PATH is


def classify(path: str) -> str:
    from mlperf_submit.compliance.orgfolder import is_org_folder
    from mlperf_submit.compliance.runset import result_files

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
    if _loose_logs(path):
        return "files"
    if any(result_files(os.path.join(path, d)) for d in _subdirs(path)):
        return "system_dir"
    raise InputError(
        f"{path}: nothing to check here (no result_*.txt, no *.log/*.txt, no systems/ + results/)"
    )


def _subdirs(path: str) -> list[str]:
    return sorted(d for d in os.listdir(path) if os.path.isdir(os.path.join(path, d)))


def _loose_logs(path: str) -> list[str]:
    return sorted(
        p
        for p in glob.glob(os.path.join(glob.escape(path), "*"))
        if os.path.isfile(p) and p.endswith(LOG_EXTENSIONS)
    )


def log_benchmark(path: str) -> str | None:
    """The first ``submission_benchmark`` value of a log (a quick scan, no rules)."""
    from mlperf_submit.compliance.parser import TOKEN, LogLine, parse_mllog_text

    try:
        with open(path, encoding="latin-1") as f:
            for line in f:
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


def _ruleset_for(benchmarks: list[str], what: str) -> tuple[str, str]:
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
    if given:
        return meta.check_ruleset(given), "--ruleset"
    if kind == "file":
        bm = log_benchmark(path)
        return _ruleset_for([bm] if bm else [], f"{path} (submission_benchmark)")
    if kind == "system":
        newest = meta.rulesets()[-1]
        return newest, "a system JSON names no benchmark: newest ruleset (pass --ruleset)"
    if kind == "org":
        from mlperf_submit.compliance.orgfolder import org_benchmarks

        return _ruleset_for(org_benchmarks(path), path)
    if kind == "dir":
        name = os.path.basename(os.path.normpath(path))
        if name in meta.known_benchmarks():
            return _ruleset_for([name], path)
        from mlperf_submit.compliance.runset import result_files

        return _ruleset_for([log_benchmark(p) for p in result_files(path)[:1]], path)
    logs = _loose_logs(path)
    return _ruleset_for([log_benchmark(p) for p in logs[:1]], path)


# ---------------------------------------------------------------- checking


def check_target(path: str, kind: str, ruleset: str, source: str, args) -> Target:
    rcp_bypass = bool(getattr(args, "rcp_bypass", False))
    seed_bypass = bool(getattr(args, "seed_checker_bypass", False))
    if kind == "file":
        from mlperf_submit.compliance.filecheck import check_file

        report = check_file(path, ruleset)
    elif kind == "system":
        from mlperf_submit.compliance.system_desc import load_system_desc

        report = load_system_desc(path, ruleset)
    elif kind == "dir":
        from mlperf_submit.compliance.runset import check_result_dir

        report = check_result_dir(path, ruleset, rcp_bypass=rcp_bypass, seed_bypass=seed_bypass)
    elif kind == "files":
        from mlperf_submit.compliance.runset import check_result_files

        report = check_result_files(_loose_logs(path), ruleset)
    else:
        from mlperf_submit.compliance.orgfolder import check_org

        report = check_org(path, ruleset, rcp_bypass=rcp_bypass, seed_bypass=seed_bypass)
    return Target(path, kind, ruleset, source, report)


def expand(paths: list[str], given_ruleset: str | None) -> list[tuple[str, str, str, str]]:
    """``(path, kind, ruleset, source)`` per thing to check; UsageError/InputError up front."""
    out = []
    for path in paths:
        kind = classify(path)
        if kind == "system_dir":
            from mlperf_submit.compliance.runset import result_files

            for sub in _subdirs(path):
                full = os.path.join(path, sub)
                if result_files(full):
                    out.append((full, "dir", *choose_ruleset(full, "dir", given_ruleset)))
            continue
        out.append((path, kind, *choose_ruleset(path, kind, given_ruleset)))
    return out


def run(args) -> int:
    try:
        return _run(args)
    except (MLPerfSubmitError, KeyboardInterrupt, BrokenPipeError):
        raise
    except Exception as err:  # a bug of ours: still no traceback for the user, unless asked
        if os.environ.get("MLPERF_SUBMIT_DEBUG"):
            raise
        raise InternalError(
            f"internal error while checking ({type(err).__name__}: {err}); please report it "
            "with the command line (MLPERF_SUBMIT_DEBUG=1 shows the traceback)"
        ) from err


class InternalError(MLPerfSubmitError):
    exit_code = EXIT_USAGE


def _run(args) -> int:
    if getattr(args, "follow", False):
        return _follow(args)
    plan = expand(list(args.paths), args.ruleset)
    targets = [check_target(path, kind, rs, src, args) for path, kind, rs, src in plan]
    if args.official:
        from mlperf_submit.compliance.official import compare_with_official

        for t in targets:
            compare_with_official(t, args)
    exit_code = exit_code_for(targets)
    if args.json:
        json.dump(to_json(targets, exit_code), sys.stdout, indent=2, default=repr)
        sys.stdout.write("\n")
    else:
        for line in render(targets, quiet=args.quiet):
            print(line)
    return exit_code


def _follow(args) -> int:
    if len(args.paths) != 1 or args.json or args.official:
        raise UsageError("--follow takes one log file, without --json or --official")
    if args.idle_timeout < 0:
        raise UsageError(f"--idle-timeout {args.idle_timeout:g}: use 0 (wait) or more seconds")
    from mlperf_submit.compliance.follow import follow

    return follow(args.paths[0], args.ruleset, idle_timeout=args.idle_timeout)


def exit_code_for(targets: list[Target]) -> int:
    # a lone result dir skipped for its ruleset checked nothing: that is a usage problem
    if any(t.kind == "dir" and t.verdict == "SKIP" for t in targets):
        return EXIT_USAGE
    # an official FAIL we did not see is a disagreement on the verdict: never exit 0 on it
    if any(not t.passed or any(d["what"] == "verdict" for d in t.disagreements) for t in targets):
        return EXIT_FAIL
    return EXIT_OK
