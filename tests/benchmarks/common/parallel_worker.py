"""One rank of a 2-process gloo job, run by test_parallel_paths.py: the Trainer's GPU-path
wiring (issue 17, items 1, 3, 4, 5) built for real on CPU, and what it put in effect.

    RANK=r WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=p python parallel_worker.py OUT_DIR

llama31_8b ``tiny`` with FSDP2, ``loop.compile`` (a recording dynamo backend: every graph
captured is counted and each call of it) and a bf16 ``Precision`` (the CPU would run fp32 by
default: bf16 is set on the Trainer here so FSDP2's mixed-precision policy is built and used);
then resnet ``tiny`` with DDP, compile (eager backend) and 2 accumulated micro-batches.
Writes ``OUT_DIR/rank_<r>.json``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from torch._dynamo import register_backend

from mlperf_submit.benchmarks.common import optim
from mlperf_submit.benchmarks.common.config import apply_overrides
from mlperf_submit.benchmarks.common.interface import RunContext
from mlperf_submit.benchmarks.common.precision import Precision
from mlperf_submit.benchmarks.common.trainer import Trainer
from mlperf_submit.benchmarks.llama31_8b.benchmark import Llama31_8BBenchmark
from mlperf_submit.benchmarks.llama31_8b.config import tiny as llama_tiny
from mlperf_submit.benchmarks.resnet.benchmark import ResNetBenchmark
from mlperf_submit.benchmarks.resnet.config import tiny as resnet_tiny
from mlperf_submit.launch.distributed import dist, parallel
from mlperf_submit.logging import MLPerfLogger

GRAPHS: list[dict] = []


@register_backend
def recording(gm: torch.fx.GraphModule, example_inputs):
    """Runs the captured graph as it is, counting the graph and its calls."""
    ops = {getattr(n.target, "__name__", str(n.target)) for n in gm.graph.nodes}
    kind = (
        "block" if "scaled_dot_product_attention" in ops
        else "loss" if "cross_entropy" in ops
        else "other"
    )  # fmt: skip
    entry = {"kind": kind, "grad": torch.is_grad_enabled(), "calls": 0, "ops": sorted(ops)}
    GRAPHS.append(entry)

    def run(*args):
        entry["calls"] += 1
        return gm.forward(*args)

    return run


def logged(path: Path) -> dict:
    out = {}
    for line in path.read_text().splitlines():
        if ":::MLLOG " in line:
            rec = json.loads(line.split(":::MLLOG ", 1)[1])
            out[rec["key"]] = rec["value"]
    return out


def llama_fsdp2(out_dir: Path, env) -> dict:
    cfg = apply_overrides(
        llama_tiny(),
        ["loop.data_parallel=fsdp2", "loop.compile=true", "loop.compile_backend=recording",
         "loop.warmup_steps=1"],
    )  # fmt: skip
    ctx = RunContext(seed=3, rank=env.rank, world_size=2, division="open", ruleset="6.1.0")
    log = out_dir / "llama.log"
    logger = MLPerfLogger("llama31_8b", "6.1.0", "open", str(log), check="off", echo=False)
    trainer = Trainer(Llama31_8BBenchmark(cfg, ctx), logger, out=sys.stderr)
    trainer.precision = Precision("bf16", "cpu")  # what make_precision gives on a GPU
    logger.init_start()
    trainer.build()
    params = list(trainer.model.parameters())
    plain = [torch.nn.Parameter(torch.ones(2))]
    policy = parallel.fsdp_policy(trainer.model)
    trainer.warm_up()  # a train step and an eval forward, then every state restored
    compiled_in_warm_up = len(GRAPHS)
    before = [g["calls"] for g in GRAPHS]
    losses = [float(trainer.train_step(trainer.bm.warmup_batch())[0]) for _ in range(2)]
    calls = [g["calls"] - b for g, b in zip(GRAPHS, before)]
    logger.close()
    return {
        "param_types": sorted({type(p).__name__ for p in params}),
        "param_dtypes": sorted({str(p.dtype) for p in params}),
        "optimizer": optim.implementation(trainer.optimizer),
        "choice_on_gpu_with_apex": optim.choose(
            params, fused=True, device=torch.device("cuda"), apex=True
        ),
        "choice_plain_on_gpu_with_apex": optim.choose(
            plain, fused=True, device=torch.device("cuda"), apex=True
        ),
        "policy": [str(policy.param_dtype), str(policy.reduce_dtype)],
        "communication_dtype": str(parallel.communication_dtype(trainer.model)),
        "logged": {k: v for k, v in logged(log).items() if k.startswith("lowest")}
        if env.rank == 0
        else {},
        "in_effect": trainer.in_effect(),
        "compiled": trainer.compiled,
        "n_layers": cfg.model.n_layers,
        "graphs": [{k: g[k] for k in ("kind", "grad")} for g in GRAPHS],
        "compiled_in_warm_up": compiled_in_warm_up,
        "calls_in_two_steps": calls,
        "losses": losses,
    }


def resnet_ddp(out_dir: Path, env) -> dict:
    cfg = apply_overrides(
        resnet_tiny(),
        ["loop.compile=true", "loop.compile_backend=eager", "loop.gradient_accumulation_steps=2"],
    )
    ctx = RunContext(seed=5, rank=env.rank, world_size=2, division="open", ruleset="4.0.0")
    logger = MLPerfLogger(
        "resnet", "4.0.0", "open", str(out_dir / "resnet.log"), check="off", echo=False
    )
    trainer = Trainer(ResNetBenchmark(cfg, ctx), logger, out=sys.stderr)
    logger.init_start()
    trainer.build()
    model = trainer.model
    # Different data on each rank: equal weights afterwards mean the gradients were averaged.
    g = torch.Generator().manual_seed(100 + env.rank)
    for _ in range(2):
        x = torch.randn(32, 3, 16, 16, generator=g)
        y = torch.randint(0, 10, (32,), generator=g)
        trainer.train_step((x, y))
    checksum = float(sum(p.detach().double().sum() for p in model.parameters()))
    logger.close()
    return {
        "wrappers": [type(model).__name__, type(model._orig_mod).__name__],
        "no_sync_finds_ddp": parallel._ddp(model) is model._orig_mod,
        "compiled": trainer.compiled,
        "checksum": checksum,
    }


def main(out_dir: Path) -> None:
    env = dist.init_distributed("gloo")
    torch.set_num_threads(1)
    record = {"llama_fsdp2": llama_fsdp2(out_dir / f"r{env.rank}", env)}
    record["resnet_ddp"] = resnet_ddp(out_dir / f"r{env.rank}", env)
    dist.shutdown()
    (out_dir / f"rank_{env.rank}.json").write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    out = Path(sys.argv[1])
    main(out)
