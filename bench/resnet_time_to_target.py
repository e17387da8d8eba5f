"""Time for the resnet ``tiny`` preset to reach the closed target (top-1 >= 0.759), 5 seeds.

    .venv/bin/python bench/resnet_time_to_target.py [--seeds 1,2,3,4,5] [--loader auto]

Each seed is one real ``mlperf-submit train resnet --preset tiny`` process (as ``make submit``
and the campaigns run it) on one synthetic dataset generated once. Per seed it prints the
status, the epoch of the converging eval, the run time from the log (run_start -> run_stop, the
MLPerf time-to-train), the process's wall time and its CPU time (user + system, imports
included). The baseline is the budget: the ratio run time / 30 s must stay < 1 (aim ~10 s).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mlperf_submit.compliance.filecheck import check_file  # noqa: E402

BUDGET_S = 30.0


def cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="1,2,3,4,5")
    ap.add_argument("--loader", default="auto", choices=("auto", "dali", "torch"))
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        syn = Path(tmp) / "imagenet"
        for seed in seeds:
            log = Path(tmp) / f"run_{seed}.log"
            cmd = [
                sys.executable, "-m", "mlperf_submit", "train", "resnet", "--preset", "tiny",
                "--seed", str(seed), "--log", str(log), "--synthetic", str(syn),
                f"data.loader={args.loader}",
            ]  # fmt: skip
            c0, t0 = cpu_children(), time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True)
            wall, cpu = time.perf_counter() - t0, cpu_children() - c0
            if proc.returncode not in (0, 3):
                print(proc.stderr[-2000:], file=sys.stderr)
                return 1
            facts = check_file(log, "4.0.0").facts
            run_s = (facts.run_stop_ms - facts.run_start_ms) / 1000
            epoch, acc = facts.evals[-1][0], facts.evals[-1][1]
            runs.append((seed, facts.run_stop_status, epoch, acc, run_s, wall, cpu))
            print(
                f"seed {seed}: {facts.run_stop_status:8s} epoch {epoch:2d} top-1 {acc:.3f}  "
                f"run {run_s:5.1f} s ({run_s / BUDGET_S:4.2f} of the 30 s budget)  "
                f"process wall {wall:5.1f} s  CPU {cpu:5.1f} s",
                flush=True,
            )
    ok = sum(r[1] == "success" for r in runs)
    med = statistics.median(r[4] for r in runs)
    print(
        f"converged {ok}/{len(runs)}; median run time {med:.1f} s = {med / BUDGET_S:.2f} of the "
        f"budget; max {max(r[4] for r in runs):.1f} s; median process CPU "
        f"{statistics.median(r[6] for r in runs):.1f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
