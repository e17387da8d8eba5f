"""How well the projection of an incomplete run set predicts the official final result.

    .venv/bin/python bench/projection_accuracy.py              # every corpus result dir
    .venv/bin/python bench/projection_accuracy.py --level 0.8 --keep 0.5 --running

For every complete result dir of the corpus (MANIFEST.tsv: 75 dirs, the official score of each),
the last runs are hidden -- ``ceil(keep * N)`` are kept, in the order of their file names'
numbers (6 of 10, 3 of 5, 2 of 3, 24 of 40) -- the projection is made from the kept ones, and
compared with what the official tools say about the whole dir:

* the score: does the ``level`` interval contain ``official_score_minutes`` (the olympic mean x
  the committed scaling.json, what result_summarizer prints on the published tree)?
* the RCP verdict: is the projected verdict (pass when p >= 0.5) the verdict of the RCP check on
  all the runs (``rcp.check_rcp_files``, the official checker's twin; for every dir, open ones
  included, as MANIFEST's ``rcp_verdict`` column does)?

``--running`` also makes the first hidden run a running one, seen up to half of its evaluations.
Prints one line per dir and the totals, and exits 0 (a measurement, not a test).
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def corpus() -> Path:
    return Path(os.environ.get("MLPERF_SUBMIT_CORPUS", REPO.parent / "shared" / "corpus"))


def run_number(path: str) -> tuple[int, str]:
    """``result_10.txt`` sorts after ``result_9.txt`` (the order the runs were numbered)."""
    nums = re.findall(r"\d+", os.path.basename(path))
    return (int(nums[-1]) if nums else 0, path)


def half_running(path: str, tmp: Path):
    """The log cut after half of its evaluations (at least one): what a running run shows."""
    from mlperf_submit.compliance.projection import observe_running

    full = observe_running(path)
    if full is None or not full.evals:
        return None
    full.evals = full.evals[: max(1, len(full.evals) // 2)]
    return full


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--level", type=float, default=0.9)
    ap.add_argument("--keep", type=float, default=0.6, help="fraction of runs kept (ceil)")
    ap.add_argument("--running", action="store_true", help="one hidden run seen half-way")
    ap.add_argument("--quiet", action="store_true", help="totals only")
    args = ap.parse_args(argv)

    from mlperf_submit.compliance.projection import observe_file, project
    from mlperf_submit.compliance.rcp import check_rcp_files

    root = corpus()
    with open(root / "MANIFEST.tsv", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    t0 = time.perf_counter()
    inside = rcp_right = 0
    widths, misses = [], []
    for row in rows:
        ruleset = row["round"][1:] + ".0"
        d = (
            root / row["round"] / row["division"] / row["submitter"] / "results" / row["system"]
            / row["benchmark"]
        )  # fmt: skip
        files = sorted((str(p) for p in d.glob("result_*.txt")), key=run_number)
        n = len(files)
        keep = math.ceil(args.keep * n)
        runs = [observe_file(p, ruleset) for p in files[:keep]]
        running = half_running(files[keep], root) if args.running and keep < n else None
        proj = project(
            runs,
            benchmark=row["benchmark"],
            ruleset=ruleset,
            division=row["division"],
            required=n,
            running=running,
            level=args.level,
        )
        official = float(row["official_score_minutes"])
        final_rcp = check_rcp_files(files, ruleset)
        final_verdict = "pass" if final_rcp.passed and not final_rcp.crash else "fail"
        # the projected verdict of the RCP check as such (open dirs too, like MANIFEST's column)
        if proj.rcp_applies:
            projected = proj.rcp_verdict
        else:
            closed_view = project(
                runs,
                benchmark=row["benchmark"],
                ruleset=ruleset,
                division="closed",
                required=n,
                running=running,
                level=args.level,
            )
            projected = closed_view.rcp_verdict
        # MANIFEST rounds the official score to 10 decimals
        ok_score = (
            proj.score is not None and proj.score_low - 1e-9 <= official <= proj.score_high + 1e-9
        )
        ok_rcp = projected == final_verdict
        inside += ok_score
        rcp_right += ok_rcp
        if proj.score is not None:
            widths.append((proj.score_high - proj.score_low) / official)
        where = f"{row['round']}/{row['submitter']}/{row['system']}/{row['benchmark']}"
        if not ok_score or not ok_rcp:
            misses.append(where)
        if not args.quiet:
            lo = f"{proj.score_low:.4f}" if proj.score is not None else "-"
            hi = f"{proj.score_high:.4f}" if proj.score is not None else "-"
            print(
                f"{'ok ' if ok_score else 'OUT'} {'ok ' if ok_rcp else 'RCP'} {keep:>2}/{n:<2} "
                f"official {official:10.4f} in [{lo}, {hi}]  RCP {projected}/{final_verdict} "
                f"(p={proj.p_rcp_pass if proj.p_rcp_pass is not None else float('nan'):.2f})  "
                f"{where}"
            )
    total = len(rows)
    widths.sort()
    med = widths[len(widths) // 2] if widths else float("nan")
    print(
        f"\n{total} result dirs, keep {args.keep:g} (ceil), level {args.level:g}"
        f"{', one hidden run half-way' if args.running else ''}:"
    )
    print(f"  score inside the {args.level:.0%} interval: {inside}/{total} = {inside / total:.1%}")
    print(f"  projected RCP verdict = final: {rcp_right}/{total} = {rcp_right / total:.1%}")
    print(f"  median interval width: {med:.2%} of the score")
    if misses:
        print("  misses: " + "; ".join(misses))
    print(f"  ({time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
