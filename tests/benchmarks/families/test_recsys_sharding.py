"""The sharded model equals the single-process one: TorchRec's DistributedModelParallel on 2 gloo
ranks (the tables in FBGEMM's fused kernels, sharded as the planner is told) against one
process's fused tables, on the same global batches from the same initial weights.

Compared after 3 steps: every table row, every dense weight, the loss, and the AUC of one
evaluation batch split over the ranks (the exact AUC of the gathered scores). Before that, the
Trainer's warm-up (2 steps) must leave the sharded tables, the dense weights and FBGEMM's
momentum exactly as built. The sparse
gradients of a sharded table are the sum of the ranks' mean-loss gradients (TorchRec's
all-to-all), twice the single process's; Adagrad's update does not change with that scale except
through eps (1e-8), so the two agree to float rounding (1e-4 after 3 steps of LR 0.05: Adagrad divides by
the root of the accumulated squares, which magnifies the rounding of near-zero gradients). EmbeddingBagCollection is row-wise
sharded only on CUDA in TorchRec 1.8 (``EmbeddingBagCollectionSharder.sharding_types``): on CPU
dlrm_dcnv2 is checked table-wise and column-wise; dlrmv4's EmbeddingCollection also row-wise.
One 2-rank job per benchmark, both shardings in it: about 40 s each on 2 cores (mostly
``import torchrec`` in three processes).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from multi_rank import free_port

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
sys.path.insert(0, str(HERE))
from recsys_shard_common import single_reference  # noqa: E402

CASES = {
    "dlrm_dcnv2": ("table_wise", "column_wise"),
    "dlrmv4": ("table_wise", "row_wise"),
}


@pytest.mark.parametrize("name", CASES)
def test_sharded_tables_equal_the_single_process(name, tmp_path):
    ref_path = tmp_path / "single.pt"
    single = single_reference(name, ref_path)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLURM_", "OMPI_", "PMI_", "PMIX_"))
        and k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR")
    }
    env.update(PYTHONPATH=f"{REPO}{os.pathsep}{HERE}", OMP_NUM_THREADS="1")
    out = tmp_path / "sharded"
    out.mkdir()
    cmd = [
        str(Path(sys.executable).parent / "torchrun"),
        "--nproc-per-node=2",
        f"--master-port={free_port()}",
        str(HERE / "recsys_shard_worker.py"),
        name,
        ",".join(CASES[name]),
        str(ref_path),
        str(out),
    ]
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        start_new_session=True,
    )  # fmt: skip
    try:
        stdout, stderr = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:  # never leave torchrun's ranks behind
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, stdout[-3000:] + stderr[-4000:]
    for sharding in CASES[name]:
        _check(json.loads((out / f"{sharding}.json").read_text()), single, sharding)


def _check(sharded: dict, single: dict, sharding: str) -> None:
    assert sharded["world"] == 2
    assert sharded["warmup_restored"], "warm-up left the sharded model or FBGEMM's state changed"
    assert set(sharded["plan"].values()) == {sharding}, sharded["plan"]
    assert sharded["table_moved"] > 1e-4  # the steps did train the tables
    assert sharded["table_err"] < 1e-4, sharded
    assert sharded["dense_count"] == single["dense_count"]
    assert sharded["dense_err"] < 1e-4, sharded
    assert sharded["losses"] == pytest.approx(single["losses"], rel=1e-5)
    # The AUC of the sums the Trainer all-reduces is the AUC of every gathered score, not a mean
    # of the ranks' AUCs; and (its model agreeing to 1e-4) the single process's to 1e-4.
    assert sharded["auc"] == pytest.approx(sharded["auc_gathered"], abs=1e-12)
    assert sharded["auc"] == pytest.approx(single["auc"], abs=1e-4)
