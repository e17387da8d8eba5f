"""One rank of a real 2-process torch.distributed (gloo) job that logs through the facade.

    torchrun --nproc-per-node=2 tests/logging/logging_dist_worker.py OUT_DIR

Every rank makes the same logging calls (as SPMD training code does). Rank 1 is slow before
a ``sync=True`` line and before a ``sync=False`` line; each rank records the wall-clock times
around them in ``OUT_DIR/rank_<r>.json`` for the test to compare with the logged ``time_ms``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from mllog_helpers import write_minimal_with_helpers

from mlperf_submit.launch.distributed import dist
from mlperf_submit.logging import MLPerfLogger

SLOW_S = 1.5


def main(out_dir: Path) -> None:
    dist.init_distributed("gloo")
    rank = dist.get_rank()
    log = MLPerfLogger("llama31_8b", "6.0.0", "closed", out_dir / "run.log", check="strict")
    log.event("per_rank", rank, unique=False)  # every rank's stdout; the file gets rank 0's

    dist.barrier()
    before_sync = time.time()
    if rank == 1:
        time.sleep(SLOW_S)
    log.event("synced", rank, sync=True)  # rank 0 waits for rank 1 at the barrier
    after_sync = time.time()

    dist.barrier()
    before_unsync = time.time()
    if rank == 1:
        time.sleep(SLOW_S)
    log.event("unsynced", rank)  # rank 0 writes at once
    dist.barrier()

    write_minimal_with_helpers(log)  # seed is logged by every rank, written once
    result = log.finish(print_verdict=False)
    record = {
        "rank": rank,
        "before_sync": before_sync,
        "after_sync": after_sync,
        "before_unsync": before_unsync,
        "passed": None if result is None else result.passed,
    }
    (out_dir / f"rank_{rank}.json").write_text(json.dumps(record))
    dist.barrier()
    dist.shutdown()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
