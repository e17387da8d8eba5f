"""One rank of a real multi-process job, run by test_launch_dist.py under a real launcher.

    python tests/launch/dist_worker.py BACKEND OUT_DIR

Initialises the process group, exercises every launch.distributed.dist collective and writes
``OUT_DIR/rank_<r>.json`` with what it saw, which the test compares across ranks.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

from mlperf_submit.launch.distributed import dist
from mlperf_submit.launch.distributed.seeding import derive_seed, shared_master_seed


def main(backend: str, out_dir: Path) -> None:
    env = dist.init_distributed(backend)
    again = dist.init_distributed(backend)  # idempotent
    rank = dist.get_rank()
    dist.barrier()
    payload = dist.broadcast_object({"from": rank, "items": [1, 2, 3]}, src=0)
    biggest = dist.all_reduce_max(float(rank) * 1.5)
    master = shared_master_seed(None)
    record = {
        "env": asdict(env),
        "same_env_twice": again == env,
        "rank": rank,
        "world": dist.get_world_size(),
        "main": dist.is_main_process(),
        "broadcast": payload,
        "max": biggest,
        "master_seed": master,
        "rank_seed": derive_seed(master, rank, "model"),
    }
    dist.barrier()
    dist.shutdown()
    (out_dir / f"rank_{rank}.json").write_text(json.dumps(record))


if __name__ == "__main__":
    try:
        main(sys.argv[1], Path(sys.argv[2]))
    except BaseException:
        # as the CLI does (cli.py): a failed rank of an MPI job ends the job, instead of
        # waiting in MPI_Finalize for ranks that may be waiting for it
        if dist.in_mpi_job():
            import traceback

            traceback.print_exc()
            dist.abort_job(1)
        raise
