"""One rank of the 2-rank Horovod job in tests/test_horovod.py (run under mpirun).

    mpirun -np 2 python tests/launch/horovod_worker.py OUT_DIR

Uses Horovod through mlperf_submit.launch.distributed.dist (backend "horovod") and directly for a gradient
allreduce, and writes OUT_DIR/rank_<r>.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from mlperf_submit.launch.distributed import dist


def main(out_dir: Path) -> None:
    env = dist.init_distributed("horovod")
    import horovod.torch as hvd

    rank = dist.get_rank()
    dist.barrier()
    # A real data-parallel step: averaged gradients must be identical on every rank.
    torch.manual_seed(rank)
    model = torch.nn.Linear(4, 1)
    hvd.broadcast_parameters(model.state_dict(), root_rank=0)
    opt = hvd.DistributedOptimizer(
        torch.optim.SGD(model.parameters(), lr=0.1), named_parameters=model.named_parameters()
    )
    loss = model(torch.full((2, 4), float(rank + 1))).sum()
    loss.backward()
    opt.step()
    record = {
        "env": {"rank": env.rank, "world_size": env.world_size, "launcher": env.launcher},
        "rank": rank,
        "world": dist.get_world_size(),
        "broadcast": dist.broadcast_object({"from": rank}, src=0),
        "max": dist.all_reduce_max(float(rank) + 0.5),
        "weights": model.weight.detach().flatten().tolist(),
        "sum": hvd.allreduce(torch.tensor([float(rank + 1)]), op=hvd.Sum).item(),
    }
    dist.shutdown()
    (out_dir / f"rank_{rank}.json").write_text(json.dumps(record))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
