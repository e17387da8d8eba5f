"""Worker for the differential test: check mutations [lo, hi) with the official tool and ours."""

from __future__ import annotations

import csv
import tempfile
from collections import Counter
from pathlib import Path

from mlperf_submit.compliance.filecheck import check_file

from .mutations import Base, load_base, mutate
from .official_inprocess import official_verdict


def choose_bases(corpus_dir: Path) -> list[Base]:
    """The shortest passing log of every (round, benchmark) in the corpus."""
    with open(corpus_dir / "VERDICTS.tsv", newline="") as f:
        rows = [r for r in csv.DictReader(f, delimiter="\t") if r["official_verdict"] == "pass"]
    best: dict[tuple, dict] = {}
    for r in rows:
        parts = Path(r["path"]).parts  # round/division/org/results/system/benchmark/file
        group = (parts[0], parts[5])
        if group not in best or int(r["mllog_lines"]) < int(best[group]["mllog_lines"]):
            best[group] = r
    return [load_base(corpus_dir / r["path"], r["ruleset"]) for _, r in sorted(best.items())]


def run_range(corpus_dir: str, lo: int, hi: int) -> tuple[list, Counter]:
    bases = choose_bases(Path(corpus_dir))
    outcomes: Counter = Counter()
    mismatches = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mutated.txt"
        for i in range(lo, hi):
            base = bases[i % len(bases)]
            op, data, ruleset = mutate(base, i)
            path.write_bytes(data)
            official = official_verdict(str(path), ruleset)
            report = check_file(path, ruleset)  # must never raise
            ours = "pass" if report.passed else "fail"
            outcomes[(op, official)] += 1
            if official == "crash":
                ok = not report.passed and report.official_crash is not None
            else:
                ok = ours == official and report.official_crash is None
            if not ok:
                mismatches.append(
                    (i, op, base.path.name, ruleset, official, ours, report.reasons(2))
                )
    return mismatches, outcomes
