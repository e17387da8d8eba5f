"""A real 2-process torch.distributed (gloo) job under torchrun, logging through the facade.

Only rank 0 writes the file; ``unique=False`` lines reach every rank's stdout; ``sync=True``
really waits for the slowest rank (its line is stamped after rank 1's 1.5 s delay, the
``sync=False`` line is not); ``seed``, logged by both ranks, is in the file once; rank 0's
online verdict passes and rank 1 checks nothing. About 10 s on 2 cores (mostly ``import torch``).

    .venv/bin/python -m pytest -q tests/logging/test_logging_distributed.py
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from mlperf_submit.compliance.parser import iter_file
from mlperf_submit.launch.campaign.proctree import run_job

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
WORKER = HERE / "logging_dist_worker.py"
SLOW_MS = 1500


def test_two_ranks_gloo(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLURM_", "OMPI_", "PMI_", "PMIX_"))
        and k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR")
    }
    env.update(PYTHONPATH=f"{REPO}{os.pathsep}{HERE}", OMP_NUM_THREADS="1")
    cmd = [
        str(Path(sys.executable).parent / "torchrun"),
        "--standalone",  # torchrun binds its store on a port the kernel gives it
        "--nproc-per-node=2",
        str(WORKER),
        str(tmp_path),
    ]
    proc = run_job(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    ranks = {r: json.loads((tmp_path / f"rank_{r}.json").read_text()) for r in (0, 1)}
    assert ranks[0]["passed"] is True and ranks[1]["passed"] is None

    records = [item for item in iter_file(tmp_path / "run.log")]
    keys = [item.key for item in records]
    by_key = {item.key: item for item in records}
    # Only rank 0 wrote: one line per call, rank 0's values.
    for key in ("per_rank", "synced", "unsynced", "seed", "run_start", "submission_org"):
        assert keys.count(key) == 1, (key, keys)
    assert by_key["per_rank"].val == 0 and by_key["synced"].val == 0
    # unique=False: both ranks printed the line to stdout (what Slurm / torchrun capture).
    per_rank_out = [ln for ln in proc.stdout.splitlines() if '"per_rank"' in ln]
    assert sorted(ln.split('"value": ')[1][0] for ln in per_rank_out) == ["0", "1"]

    # sync=True: the line is stamped after the slow rank arrived at the barrier.
    waited = by_key["synced"].timestamp - ranks[0]["before_sync"] * 1000
    assert waited >= SLOW_MS - 50, waited
    assert ranks[0]["after_sync"] * 1000 - ranks[0]["before_sync"] * 1000 >= SLOW_MS - 50
    # sync=False: rank 0 did not wait for rank 1.
    not_waited = by_key["unsynced"].timestamp - ranks[0]["before_unsync"] * 1000
    assert not_waited < SLOW_MS / 2, not_waited
