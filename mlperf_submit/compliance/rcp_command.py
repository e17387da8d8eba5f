"""``mlperf-submit rcp build|check``: make reference convergence points, test a run set on them.

    mlperf-submit rcp build ref/bs32 ref/bs64 --out rcps.json [--ruleset 6.1.0] [--merge-installed]
    mlperf-submit rcp check results/sys/llama31_8b --rcps rcps.json [--rcp-pass full_rcps]
    python -m mlperf_logging.rcp_checker results/sys/llama31_8b --rcp_usage training \\
        --rcp_version 6.1.0 --custom_rcps rcps.json      # the official tool, same verdict

``build``: each RUN_DIR holds seeded reference runs (``result_*.txt``, a campaign dir, or
``*.log``); one record per global batch size, in the official format (``compliance/rcp_build``),
and the official statistics and pruning of what was written. An existing ``--out`` is refused
without ``--force``. Exit 0 written, 2 unusable input.

``check``: PATH is a result dir, a campaign dir or a dir of logs; the RCP check of
``rcp_checker --custom_rcps`` on it (no ``scaling.json`` is written). Exit 0 pass, 1 fail, 2
unusable input.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile

from mlperf_submit.errors import EXIT_FAIL, EXIT_OK, UsageError

HELP = "build reference convergence points (RCPs) from reference runs, or check runs on them"


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="rcp_command", metavar="build|check")
    b = sub.add_parser("build", help="RCP records from reference runs (official format)")
    b.add_argument("dirs", nargs="+", metavar="RUN_DIR", help="dirs of seeded reference runs")
    b.add_argument("--out", required=True, help="the RCP JSON to write")
    b.add_argument("--ruleset", help="default: the newest ruleset with the benchmark")
    b.add_argument("--creator", help="default: the logs' submission_org")
    b.add_argument("--platform", help="default: the logs' submission_platform")
    b.add_argument("--precision", help="default: lowest_numerical_precision_in_linear, if logged")
    b.add_argument("--when", help='default: "mlperf-submit rcp build, <date>"')
    b.add_argument("--merge-installed", action="store_true",
                   help="write the installed table of the ruleset plus the new records")  # fmt: skip
    b.add_argument("--force", action="store_true", help="overwrite an existing --out")
    b.add_argument("--json", action="store_true", help="print the report as JSON")
    c = sub.add_parser("check", help="the RCP check of a run set against an RCP file")
    c.add_argument("path", metavar="PATH", help="result dir, campaign dir or dir of logs")
    c.add_argument("--rcps", required=True, help="RCP JSON (as rcp_checker --custom_rcps)")
    c.add_argument("--ruleset", help="default: the campaign's, else the newest with the benchmark")
    c.add_argument("--rcp-pass", default="pruned_rcps", choices=("pruned_rcps", "full_rcps"))
    c.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args) -> int:
    if args.rcp_command == "build":
        return _build(args)
    if args.rcp_command == "check":
        return _check(args)
    raise UsageError("mlperf-submit rcp build|check ... (see --help)")


def _build(args) -> int:
    from mlperf_submit.compliance.rcp_build import build_rcps

    if os.path.exists(args.out) and not args.force:
        raise UsageError(f"--out {args.out} exists: pass --force to replace it")
    result = build_rcps(
        list(args.dirs),
        args.ruleset,
        creator=args.creator,
        when=args.when,
        platform=args.platform,
        precision=args.precision,
        merge_installed=args.merge_installed,
    )
    out_dir = os.path.dirname(os.path.abspath(args.out))
    fd, tmp = tempfile.mkstemp(prefix=".rcps.", suffix=".tmp", dir=out_dir)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(result.to_json_text())
    os.replace(tmp, args.out)
    if args.json:
        json.dump(
            {
                "out": args.out,
                "benchmark": result.benchmark,
                "ruleset": result.ruleset,
                "records": [
                    {
                        "name": r.name,
                        "bs": r.bs,
                        "runs": r.n_runs,
                        "mean": r.mean,
                        "stdev": r.stdev,
                        "threshold": r.threshold,
                        "max_speedup": r.max_speedup,
                        "pruned": r.pruned,
                        "excluded": [{"log": p, "why": w} for p, w in r.excluded],
                        "differing_hyperparameters": r.differing,
                    }
                    for r in result.reports
                ],
                "installed_pruned": result.installed_pruned,
                "warnings": result.warnings,
            },
            sys.stdout,
            indent=2,
        )
        sys.stdout.write("\n")
    else:
        print(f"wrote {args.out}")
        for line in result.lines():
            print(line)
    return EXIT_OK


def run_set_logs(path: str) -> tuple[list[str], str | None]:
    """The logs of a run set and the ruleset its campaign recorded (if it is one)."""
    from mlperf_submit.compliance.rcp_build import reference_logs

    logs = reference_logs(path)
    ruleset = None
    if os.path.isfile(os.path.join(path, "campaign.json")):
        from mlperf_submit.launch.campaign.manifest import read_manifest

        ruleset = read_manifest(path).ruleset or None
    return logs, ruleset


def _check(args) -> int:
    from mlperf_submit.compliance import meta
    from mlperf_submit.compliance.rcp import (
        RcpTable,
        collect_points,
        rcp_check,
        read_rcp_point,
    )
    from mlperf_submit.compliance.rcp_build import load_rcps

    raw = load_rcps(args.rcps)
    logs, campaign_ruleset = run_set_logs(args.path)
    ruleset = args.ruleset or campaign_ruleset
    first = read_rcp_point(logs[0], ruleset or "6.1.0")
    bm = first.benchmark
    if not isinstance(bm, str):
        raise UsageError(f"{logs[0]}: no submission_benchmark: which benchmark is this?")
    ruleset = ruleset or meta.newest_ruleset(bm)
    if ruleset is None:
        raise UsageError(f"{bm} is in no ruleset of mlperf-logging: pass --ruleset")
    meta.check_ruleset(ruleset)
    notes = []
    names = {rec.get("Benchmark") for rec in raw.values()}
    if names != {bm}:
        # the official checker only warns, and uses the records whatever they are
        notes.append(
            f"RCP file records are for {', '.join(sorted(map(str, names)))}, the runs are {bm}"
        )
    try:
        table = RcpTable(ruleset, bm, json.loads(json.dumps(raw)))
    except KeyError as err:
        raise UsageError(
            f"{bm}: the official RCP checker has no run count for it ({err})"
        ) from None
    runs = [read_rcp_point(p, ruleset) for p in logs]
    res = rcp_check(ruleset, collect_points(runs), rcp_pass=args.rcp_pass, table=table)
    passed = res.passed and not res.crash
    if args.json:

        def _num(x):
            return None if x is None else float(x)

        rec = res.record
        json.dump(
            {
                "path": args.path,
                "rcps": args.rcps,
                "benchmark": bm,
                "ruleset": ruleset,
                "passed": passed,
                "message": res.message,
                "crash": res.crash,
                "bs": res.bs,
                "points": [None if p is None else float(p) for p in res.points],
                "submission_mean": _num(res.subm_mean),
                "rcp_mean": None if rec is None else _num(rec["RCP Mean"]),
                "min_epochs": res.min_epochs,
                "scaling_factor": _num(res.scaling_factor),
                "notes": notes + list(res.warnings),
            },
            sys.stdout,
            indent=2,
        )
        sys.stdout.write("\n")
    else:
        print(f"{'PASS' if passed else 'FAIL'}  {args.path}  ({len(logs)} runs, {bm} {ruleset})")
        print(f"  {res.summary()}")
        for n in notes + list(res.warnings):
            print(f"  note: {n}")
    return EXIT_OK if passed else EXIT_FAIL
