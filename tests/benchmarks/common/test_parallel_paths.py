"""The Trainer's GPU-path wiring, built for real on 2 gloo processes (issue 17, items 1, 3-5).

One job (``parallel_worker.py``, ~30-50 s on 2 shared cores) builds llama31_8b ``tiny`` with
FSDP2, ``loop.compile`` and a bf16 precision, and resnet ``tiny`` with DDP and compile; the
tests read what each rank saw:

1. the optimizer is chosen from the parameter type: FSDP2's DTensor shards get torch's fused
   AdamW on a GPU even where apex imports (apex's kernel cannot read a DTensor);
3. FSDP2 runs with a mixed-precision policy (gather bf16, reduce-scatter fp32), and the
   logged ``lowest_numerical_precision_*`` are read from it;
4. compile per block before sharding: one training graph serves every block, the loss is its
   own graph, nothing else is captured (FSDP2's hooks sit between compiled regions), and no
   graph is compiled after warm-up;
5. DDP first, then compile: the model trained is compile(DDP(model)), and accumulation's
   no_sync still finds DDP through the compiled wrapper (the ranks end with equal weights).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from multi_rank import free_port

WORKER = Path(__file__).with_name("parallel_worker.py")
REPO = Path(__file__).resolve().parents[3]


def _no_launcher(environ) -> dict[str, str]:
    """The environment without the variables of a launcher pytest itself may run under."""
    return {k: v for k, v in environ.items() if not k.startswith(("SLURM_", "OMPI_", "PMI_"))}


@pytest.fixture(scope="module")
def ranks(tmp_path_factory) -> list[dict]:
    out = tmp_path_factory.mktemp("parallel")
    port = str(free_port())
    procs = []
    for rank in (0, 1):
        (out / f"r{rank}").mkdir()
        env = dict(_no_launcher(os.environ), RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2",
                   MASTER_ADDR="127.0.0.1", MASTER_PORT=port, OMP_NUM_THREADS="1",
                   PYTHONPATH=str(REPO))  # fmt: skip
        procs.append(
            subprocess.Popen(
                [sys.executable, str(WORKER), str(out)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    try:
        outputs = [p.communicate(timeout=600)[0] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, text in zip(procs, outputs):
        assert p.returncode == 0, text[-4000:]
    return [json.loads((out / f"rank_{r}.json").read_text()) for r in (0, 1)]


def test_fsdp2_parameters_get_torch_fused_adamw_not_apex(ranks):
    for rec in ranks:
        llama = rec["llama_fsdp2"]
        assert llama["param_types"] == ["DTensor"] and llama["param_dtypes"] == ["torch.float32"]
        assert llama["choice_on_gpu_with_apex"] == "torch-fused"
        assert llama["choice_plain_on_gpu_with_apex"] == "apex"
        # on the CPU: torch's AdamW, unfused (fused is a GPU choice), and it steps DTensors
        assert llama["optimizer"] == "torch.AdamW"
        assert all(math.isfinite(x) for x in llama["losses"])
        assert "optimizer torch.AdamW, parameters DTensor float32" in llama["in_effect"]


def test_fsdp2_mixed_precision_policy_and_the_logged_precisions(ranks):
    for rec in ranks:
        llama = rec["llama_fsdp2"]
        assert llama["policy"] == ["torch.bfloat16", "torch.float32"]
        assert llama["communication_dtype"] == "torch.bfloat16"
        assert "FSDP2 gather bfloat16 reduce float32" in llama["in_effect"]
    assert ranks[0]["llama_fsdp2"]["logged"] == {
        "lowest_numerical_precision_in_linear": "bfloat16",
        "lowest_numerical_precision_in_attn": "bfloat16",
        "lowest_numerical_precision_in_comm": "bfloat16",
    }


def test_compile_per_block_and_the_loss_before_sharding(ranks):
    for rec in ranks:
        llama = rec["llama_fsdp2"]
        assert llama["compiled"] == f"{llama['n_layers']} blocks"
        # one training graph for all blocks, the loss, the no-grad eval block: nothing else
        assert llama["graphs"] == [
            {"kind": "block", "grad": True},
            {"kind": "loss", "grad": True},
            {"kind": "block", "grad": False},
        ]
        assert llama["compiled_in_warm_up"] == len(llama["graphs"])
        # two steps: every block ran compiled (n_layers calls a step), the loss once a step
        assert llama["calls_in_two_steps"] == [2 * llama["n_layers"], 2, 0]


def test_ddp_wraps_first_then_compile(ranks):
    for rec in ranks:
        assert rec["resnet_ddp"]["wrappers"] == ["OptimizedModule", "DistributedDataParallel"]
        assert rec["resnet_ddp"]["compiled"] == "whole"
        assert rec["resnet_ddp"]["no_sync_finds_ddp"]
    # different data per rank, 2 micro-batches each: equal weights = gradients averaged once
    assert ranks[0]["resnet_ddp"]["checksum"] == ranks[1]["resnet_ddp"]["checksum"]
