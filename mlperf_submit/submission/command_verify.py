"""``mlperf-submit verify ORG_FOLDER [--ruleset X.Y.Z] [--official] [--json]``.

Checks a submission org folder (``systems/`` + ``results/`` [+ ``benchmarks/``]) the way
``package_checker`` does, with its verdict, plus the tree rules no official tool combines with it
(repo rules, an implementation per benchmark, log/system consistency), and writes the
``result_summarizer`` tables (``summary.csv``, ``summary.json`` and their ``_detailed``
versions) into ``--summary-dir`` (default ``./summary_<org>_<ruleset>``; never inside the org
folder unless you name such a dir). ``--official`` also runs ``package_checker``,
``result_summarizer`` and ``repo_checker`` on a temp copy and lists every disagreement.

    mlperf-submit verify out/submit/4.0.0/tree/DryRunOrg --official
    mlperf-submit verify training_results_v4.0/GigaComputing --ruleset 4.0.0 --no-code --json

Exit 0: everything passes; 1: something fails (or the official tools disagree with us);
2: unusable input.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

HELP = "verify a submission org folder (compliance, seeds, RCP, scores, system JSON, tree rules)"


def add_arguments(parser) -> None:
    parser.add_argument("folder", help="the org folder (contains systems/ and results/)")
    parser.add_argument("--ruleset", help="X.Y.Z (default: the newest ruleset that contains "
                        "every benchmark of the folder)")  # fmt: skip
    parser.add_argument("--official", action="store_true",
                        help="also run the official tools on a copy and compare")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="machine-readable report on stdout")
    parser.add_argument("--summary-dir", help="where to write summary.csv/json "
                        "(default ./summary_<org>_<ruleset>)")  # fmt: skip
    parser.add_argument("--no-summary", action="store_true", help="do not write summary files")
    parser.add_argument("--no-code", action="store_true",
                        help="skip the implementation-folder check (results-only trees)")  # fmt: skip
    parser.add_argument("--force", action="store_true", help="replace existing summary files")


def _finding(f) -> dict:
    return f.to_dict()


def report_dict(rep, summary_files: list[str]) -> dict:
    org = rep.org
    out = {
        "folder": rep.folder,
        "ruleset": rep.ruleset,
        "ruleset_inferred": rep.ruleset_inferred,
        "passed": rep.passed,
        "package_checker_equivalent": {
            "passed": org.passed,
            "official_crash": org.official_crash,
            "errors": [_finding(f) for f in org.errors],
            "warnings": [_finding(f) for f in org.warnings],
            "dirs": [
                {
                    "path": d.path,
                    "system": d.system,
                    "benchmark": d.benchmark,
                    "verdict": d.verdict,
                    "runs": d.n_runs,
                    "required_runs": d.required_runs,
                    "failing": d.failing,
                    "score_minutes": d.score.minutes if d.score else None,
                    "rcp": d.rcp.message if d.rcp else None,
                    "errors": [_finding(f) for f in d.errors],
                    "warnings": [_finding(f) for f in d.warnings],
                }
                for d in org.dirs
            ],
        },
        "notes": rep.notes,
        "tree": {
            "errors": [_finding(f) for f in rep.tree_errors],
            "warnings": [_finding(f) for f in rep.tree_warnings],
        },
        "summary": {
            "files": summary_files,
            "skipped_systems": rep.summary.skipped,
            "rows": rep.summary.strong,
        },  # fmt: skip
    }
    if rep.official is not None:
        out["official"] = rep.official.to_dict()
    return out


def _line(f, indent="    ") -> str:
    text = f"{indent}{f.severity.upper()}: {f.message.strip().splitlines()[0]}"
    if f.hint:
        text += f"\n{indent}  fix: {f.hint}"
    return text


def print_human(rep, summary_files: list[str], out=None) -> None:
    out = out or sys.stdout
    org = rep.org
    how = " (inferred: the newest ruleset with all its benchmarks)" if rep.ruleset_inferred else ""
    print(f"verify {rep.folder} — ruleset {rep.ruleset}{how}", file=out)
    print(f"package_checker checks (ours, same verdict): {org.verdict}", file=out)
    if org.official_crash:
        print(f"    the official package_checker would crash: {org.official_crash}", file=out)
    for f in org.errors:
        print(_line(f), file=out)
    for note in rep.notes:
        print(f"    NOTE: {note}", file=out)
    for d in org.dirs:
        score = d.score.text() if d.score else "no score"
        rcp = f", RCP: {d.rcp.message or d.rcp.crash}" if d.rcp_applies and d.rcp else ""
        print(f"  {d.path}: {d.verdict} — {d.n_runs} runs, "
              f"{score}{rcp}" + (f" ({d.skipped})" if d.skipped else ""), file=out)  # fmt: skip
        for f in d.errors[:5]:
            print(_line(f, "      "), file=out)
        if len(d.errors) > 5:
            print(f"      ... {len(d.errors) - 5} more errors (--json for all)", file=out)
    warnings = org.warnings + [w for d in org.dirs for w in d.warnings]
    if warnings:
        print(f"  {len(warnings)} warning(s):", file=out)
        for f in warnings[:10]:
            print(_line(f), file=out)
        if len(warnings) > 10:
            print(f"    ... {len(warnings) - 10} more (--json for all)", file=out)
    print(f"tree rules: {len(rep.tree_errors)} error(s), {len(rep.tree_warnings)} warning(s)",
          file=out)  # fmt: skip
    for f in rep.tree_errors + rep.tree_warnings[:10]:
        print(_line(f), file=out)
    if len(rep.tree_warnings) > 10:
        print(f"    ... {len(rep.tree_warnings) - 10} more warnings (--json for all)", file=out)
    if rep.official is not None:
        for line in rep.official.lines():
            print(line, file=out)
    for skipped in rep.summary.skipped:
        print(f"summary: no row for {skipped}", file=out)
    if summary_files:
        print(f"summary: {', '.join(summary_files)}", file=out)
    print(f"VERIFY {'PASSED' if rep.passed else 'FAILED'}: {rep.folder}", file=out)


def _summary_dir(args, rep) -> Path:
    if args.summary_dir:
        return Path(args.summary_dir)
    org = os.path.basename(os.path.abspath(rep.folder))
    default = Path.cwd() / f"summary_{org}_{rep.ruleset}"
    folder = Path(rep.folder).resolve()
    if folder == default.resolve() or folder in default.resolve().parents:
        from mlperf_submit.errors import UsageError

        raise UsageError(f"the default summary dir {default} is inside the org folder; run from "
                         "elsewhere or pass --summary-dir (or --no-summary)")  # fmt: skip
    return default


def run(args) -> int:
    from mlperf_submit.submission.summary import write_summary
    from mlperf_submit.submission.verify import verify_org

    rep = verify_org(args.folder, args.ruleset, check_code=not args.no_code,
                     official=args.official)  # fmt: skip
    files: list[str] = []
    if not args.no_summary:
        written = write_summary(rep.summary, rep.ruleset, _summary_dir(args, rep), force=args.force)
        files = [str(p) for p in written]
    if args.json:
        json.dump(report_dict(rep, files), sys.stdout, indent=2, default=str)
        print()
    else:
        print_human(rep, files)
    return 0 if rep.passed else 1
