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

import json
import os
import sys

from mlperf_submit.compliance.check_paths import check_target, exit_code_for, expand
from mlperf_submit.compliance.follow import follow
from mlperf_submit.compliance.report_format import json_default, render, to_json
from mlperf_submit.errors import EXIT_USAGE, MLPerfSubmitError, UsageError

HELP = "check MLPerf logs, result dirs or org folders against the official rules"


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
    bypass = dict(rcp_bypass=args.rcp_bypass, seed_bypass=args.seed_checker_bypass)
    targets = [check_target(path, kind, rs, src, **bypass) for path, kind, rs, src in plan]
    if args.official:
        from mlperf_submit.compliance.official_compare import compare_target

        for t in targets:
            compare_target(t, **bypass)
    exit_code = exit_code_for(targets)
    if args.json:
        json.dump(to_json(targets, exit_code), sys.stdout, indent=2, default=json_default)
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
    return follow(args.paths[0], args.ruleset, idle_timeout=args.idle_timeout)
