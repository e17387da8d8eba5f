"""Differential test: our verdict vs the official compliance checker on 5,000 deterministic
mutations of real corpus logs (drop / duplicate / change / swap / move lines, corrupt JSON,
truncate, garbage and binary lines, wrong ruleset, missing fields, prefixes, CR line ends).

Where the official tool gives a verdict, ours must be the same. Where it crashes (a traceback:
missing time_ms, an unknown benchmark, a non-object JSON line...), ours must be FAIL with a
message that says the official tool crashes, and never an exception.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter
from concurrent.futures import ProcessPoolExecutor

from .differential import choose_bases, run_range

N_MUTATIONS = 5000
WORKERS = 2


def test_mutations_match_the_official_checker(corpus_dir):
    assert len(choose_bases(corpus_dir)) >= 15
    bounds = [
        (k * N_MUTATIONS // WORKERS, (k + 1) * N_MUTATIONS // WORKERS) for k in range(WORKERS)
    ]
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(WORKERS, mp_context=ctx) as pool:
        results = list(pool.map(run_range, [str(corpus_dir)] * WORKERS, *zip(*bounds)))
    mismatches = [m for ms, _ in results for m in ms]
    outcomes: Counter = Counter()
    for _, o in results:
        outcomes.update(o)
    assert sum(outcomes.values()) == N_MUTATIONS
    assert not mismatches, f"{len(mismatches)} mismatches, first: {mismatches[:3]}"
    # the mutations really exercise all three official outcomes
    verdicts: Counter = Counter()
    for (_, official), n in outcomes.items():
        verdicts[official] += n
    assert verdicts["pass"] > 300 and verdicts["fail"] > 1000 and verdicts["crash"] > 50, verdicts
