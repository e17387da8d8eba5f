"""Time `make submit` (scripts/submit.sh) stage by stage, against its 10-minute budget.

    .venv/bin/python bench/submit_time.py [--keep] [VAR=value ...]   # e.g. BENCHMARKS=resnet

Runs scripts/submit.sh into a fresh temporary OUT (the synthetic data is generated there too,
as on a first `make submit`), then prints one line per stage (campaign per benchmark, package,
verify with the official tools, report per round), the total and two ratios measured in the same
call: total / 600 s (the target is <= 1.0) and total / the time the runs spent training
(sum of run_stop - run_start over every campaign log: the floor no pipeline can go below), which
shows what the harness (process start, imports, data generation, checking, plots) costs on top.
Exit 1 when the script fails or the total is over budget.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BUDGET_S = 600.0


def training_seconds(out: Path) -> tuple[float, int]:
    total, runs = 0.0, 0
    for log in sorted(out.glob("campaigns/*/*/run_*.log")):
        start = stop = None
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            i = line.find(":::MLLOG ")
            if i < 0:
                continue
            try:
                rec = json.loads(line[i + 9 :])
            except ValueError:
                continue
            if rec.get("key") == "run_start" and start is None:
                start = rec["time_ms"]
            elif rec.get("key") == "run_stop" and stop is None:
                stop = rec["time_ms"]
        if start is not None and stop is not None:
            total += (stop - start) / 1000.0
            runs += 1
    return total, runs


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("vars", nargs="*", metavar="VAR=value", help="make submit variables")
    p.add_argument("--keep", action="store_true", help="keep the output dir and print it")
    a = p.parse_args()
    env = dict(os.environ, PY=str(REPO / ".venv" / "bin" / "python"))
    for item in a.vars:
        key, _, value = item.partition("=")
        env[key] = value
    tmp = tempfile.mkdtemp(prefix="submit-time-")
    out = Path(tmp) / "out"
    env["OUT"] = str(out)
    t0 = time.perf_counter()
    proc = subprocess.run(["bash", str(REPO / "scripts" / "submit.sh")], cwd=REPO, env=env,
                          capture_output=True, text=True)  # fmt: skip
    total = time.perf_counter() - t0
    if proc.returncode != 0:
        print(proc.stdout[-4000:], proc.stderr[-4000:], sep="\n", file=sys.stderr)
        print(f"submit.sh failed (exit {proc.returncode}); output kept in {tmp}", file=sys.stderr)
        return 1
    with open(out / "timings.tsv", newline="") as f:
        stages = [
            (row["stage"], float(row["seconds"])) for row in csv.DictReader(f, delimiter="\t")
        ]
    train_s, runs = training_seconds(out)
    width = max(len(s) for s, _ in stages)
    print(f"make submit on {os.cpu_count()} CPUs ({', '.join(a.vars) or 'defaults'})")
    for stage, seconds in stages:
        print(f"  {stage:<{width}}  {seconds:7.1f} s  {100 * seconds / total:5.1f} %")
    other = total - sum(s for _, s in stages)
    print(f"  {'(plan, set-up, printing)':<{width}}  {other:7.1f} s  {100 * other / total:5.1f} %")
    print(f"  {'TOTAL':<{width}}  {total:7.1f} s")
    print(f"total / budget ({BUDGET_S:.0f} s)          = {total / BUDGET_S:.2f}  (target <= 1.00)")
    if train_s > 0:
        print(f"total / time spent training ({runs} runs, {train_s:.1f} s) = {total / train_s:.2f}")
    if a.keep:
        print(f"output: {out}")
    else:
        subprocess.run(["rm", "-rf", tmp], check=False)
    return 0 if total <= BUDGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
