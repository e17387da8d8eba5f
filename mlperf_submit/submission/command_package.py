"""``mlperf-submit package``: campaign directories -> the official submission tree, verified.

    mlperf-submit package --org MyOrg --detect --system-name cpu_node --division open \\
        out/campaigns/resnet --out out/tree
    mlperf-submit package --org MyOrg --system systems/dgx_h100.json --division closed \\
        runs/resnet_a runs/resnet_b --out submission [--force]

Writes ``OUT/<org>/{systems,results,benchmarks}`` + ``README.md`` atomically (an existing tree
is only replaced with ``--force``), then verifies it (the package_checker checks, the tree
rules) and writes the summary tables to ``OUT/summary_<org>/``. ``--detect`` reads this machine
for the system description; ``--system FILE`` gives it (with ``--detect`` too, the file's keys
override the detected ones). Exit 0: tree written and verified; 1: refused or written but
failing verification (the report says why); 2: bad usage or unusable input, nothing written.
"""

from __future__ import annotations

from pathlib import Path

HELP = "build the official submission tree from campaign directories"


def add_arguments(parser) -> None:
    parser.add_argument("campaigns", nargs="+", type=Path, metavar="CAMPAIGN_DIR",
                        help="campaign directories (campaign.json + <benchmark>/run_<i>.log)")  # fmt: skip
    parser.add_argument("--org", required=True, help="submitting organization (folder name)")
    parser.add_argument("--division", required=True, choices=("open", "closed"))
    parser.add_argument(
        "--out", required=True, type=Path, help="output dir (the tree is OUT/<org>)"
    )
    parser.add_argument("--system", type=Path, metavar="FILE", dest="system_file",
                        help="system description JSON (overrides --detect's values)")  # fmt: skip
    parser.add_argument("--detect", action="store_true",
                        help="fill the system description from this machine")  # fmt: skip
    parser.add_argument("--system-name", help="system id (file and results folder name); "
                        "default: the --system file name, else this host's name")  # fmt: skip
    parser.add_argument("--impl", default=None, help="implementation folder name "
                        "(default: mlperf_submit_pytorch)")  # fmt: skip
    parser.add_argument("--ruleset", help="X.Y.Z (default: the campaigns' ruleset)")
    parser.add_argument("--force", action="store_true",
                        help="replace an existing OUT/<org> tree and summary")  # fmt: skip
    parser.add_argument("--no-verify", action="store_true", help="skip the verification")


def run(args) -> int:
    from mlperf_submit.submission.command_verify import print_human
    from mlperf_submit.submission.summary import write_summary
    from mlperf_submit.submission.tree import DEFAULT_IMPL, PackageOptions, package
    from mlperf_submit.submission.verify import verify_org

    opts = PackageOptions(
        org=args.org,
        division=args.division,
        campaigns=list(args.campaigns),
        out=args.out,
        system_file=args.system_file,
        detect=args.detect,
        system_name=args.system_name,
        impl=args.impl or DEFAULT_IMPL,
        ruleset=args.ruleset,
        force=args.force,
    )
    summary_dir = Path(args.out) / f"summary_{args.org}"
    if not args.no_verify and not args.force and summary_dir.exists():
        from mlperf_submit.errors import UsageError

        raise UsageError(f"{summary_dir} already exists; refusing to overwrite it (pass --force)")
    res = package(opts)
    print(f"package: wrote {res.org_dir} (ruleset {res.ruleset}, {res.division} division, "
          f"system {res.system}{', DRY RUN on synthetic data' if res.synthetic else ''})")  # fmt: skip
    for note in res.system_notes:
        print(f"  system description: {note}")
    for b in res.benchmarks:
        failed = sum(1 for i in b.chosen if not b.candidates[i].passed)
        print(
            f"  {b.benchmark}: {b.selection}" + (f"; {failed} failing compliance" if failed else "")
        )
    if args.no_verify:
        return 0
    rep = verify_org(str(res.org_dir), res.ruleset)
    files = write_summary(rep.summary, rep.ruleset, summary_dir, force=True)
    print_human(rep, [str(f) for f in files])
    return 0 if rep.passed else 1
