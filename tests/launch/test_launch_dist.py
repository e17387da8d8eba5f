"""launch.distributed.dist: no-ops in one process, and real 2-rank jobs under torchrun, mpirun and srun.

Each multi-process test starts ``tests/launch/dist_worker.py`` under the real launcher (~10 s
on 2 cores, mostly ``import torch``) and checks that every rank agrees on rank, world,
broadcast, max and the master seed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlperf_submit.errors import UsageError
from mlperf_submit.launch.distributed import dist

WORKER = Path(__file__).with_name("dist_worker.py")
LAUNCH_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


@pytest.fixture
def single_process(monkeypatch):
    import os

    for name in list(os.environ):
        if name.startswith(("SLURM_", "OMPI_", "PMI_")) or name in LAUNCH_VARS:
            monkeypatch.delenv(name)
    dist.shutdown()
    yield
    dist.shutdown()


def test_single_process_is_a_no_op(single_process):
    env = dist.init_distributed()
    assert (env.rank, env.world_size, env.launcher) == (0, 1, "single")
    assert dist.init_distributed() is env
    assert (dist.get_rank(), dist.get_world_size(), dist.is_main_process()) == (0, 1, True)
    dist.barrier()
    obj = {"a": [1]}
    assert dist.broadcast_object(obj) is obj
    assert dist.all_reduce_max(2.5) == 2.5
    tdist = sys.modules.get("torch.distributed")
    assert tdist is None or not tdist.is_initialized(), "one process must not create a group"
    dist.shutdown()


def test_unknown_backend(single_process):
    with pytest.raises(UsageError, match="unknown distributed backend 'ucc'"):
        dist.init_distributed("ucc")


def test_missing_horovod_says_how_to_get_it(single_process, monkeypatch):
    monkeypatch.setitem(sys.modules, "horovod.torch", None)  # import raises ImportError
    with pytest.raises(UsageError, match="install_horovod.sh"):
        dist.init_distributed("horovod")


def test_bad_environment_is_a_usage_error(single_process, monkeypatch):
    monkeypatch.setenv("RANK", "0")
    with pytest.raises(UsageError, match="WORLD_SIZE"):
        dist.init_distributed()


def _run_and_collect(cmd, env, out: Path, ranks: int = 2) -> list[dict]:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout}\n{proc.stderr}"
    records = [json.loads((out / f"rank_{r}.json").read_text()) for r in range(ranks)]
    return records


def _assert_agree(records, launcher):
    world = len(records)
    for r, rec in enumerate(records):
        assert rec["rank"] == r and rec["env"]["rank"] == r
        assert rec["world"] == world and rec["env"]["world_size"] == world
        assert rec["env"]["launcher"] == launcher
        assert rec["main"] == (r == 0)
        assert rec["same_env_twice"]
        assert rec["broadcast"] == {"from": 0, "items": [1, 2, 3]}
        assert rec["max"] == 1.5 * (world - 1)
    assert len({rec["master_seed"] for rec in records}) == 1
    assert len({rec["rank_seed"] for rec in records}) == world


def test_torchrun_two_procs(tmp_path, launch_env):
    cmd = [
        str(Path(sys.executable).parent / "torchrun"),
        "--nproc-per-node=2",
        f"--master-port={launch_env['MASTER_PORT']}",
        str(WORKER),
        "auto",
        str(tmp_path),
    ]
    _assert_agree(_run_and_collect(cmd, launch_env, tmp_path), "torchrun")


@pytest.mark.mpi
@pytest.mark.parametrize("backend", ["auto", "mpi"])
def test_mpirun_two_ranks(tmp_path, launch_env, mpirun, backend):
    cmd = [mpirun, "-np", "2", "--oversubscribe", "-x", "MASTER_PORT", "-x", "PYTHONPATH"]
    cmd += [sys.executable, str(WORKER), backend, str(tmp_path)]
    records = _run_and_collect(cmd, launch_env, tmp_path)
    _assert_agree(records, "openmpi")
    assert all(rec["env"]["master_addr"] == "127.0.0.1" for rec in records)


@pytest.mark.slurm
def test_srun_two_nodes(tmp_path, launch_env, slurm_cluster):
    env = {**launch_env, "SLURM_CONF": str(slurm_cluster.conf), "MASTER_ADDR": "127.0.0.1"}
    cmd = ["srun", "-N2", "--ntasks-per-node=1", "-t", "5"]
    cmd += [sys.executable, str(WORKER), "auto", str(tmp_path)]
    records = _run_and_collect(cmd, env, tmp_path)
    _assert_agree(records, "slurm")
    assert [rec["env"]["hosts"] for rec in records] == [["n1", "n2"]] * 2
    assert [rec["env"]["local_world_size"] for rec in records] == [1, 1]


def test_torchrun_trampoline_passes_training_args_untouched(tmp_path, launch_env):
    """`--log` would be an ambiguous abbreviation for plain torchrun; behind `--` it is not."""
    probe = "import os, sys; print('rank', os.environ['RANK'], sys.argv[1:])"
    base = [sys.executable, "-m", "mlperf_submit.launch.campaign.torchrun", "--nproc-per-node=2"]
    base.append(f"--master-port={launch_env['MASTER_PORT']}")
    ok = subprocess.run(
        [*base, "--", sys.executable, "-c", probe, "--log", "x", "--nproc-per-node=9"],
        env=launch_env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    for rank in (0, 1):
        assert f"rank {rank} ['--log', 'x', '--nproc-per-node=9']" in ok.stdout
    failed = subprocess.run(
        [*base, "--", sys.executable, "-c", "raise SystemExit(3)"],
        env=launch_env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert failed.returncode == 1 and "Traceback" not in failed.stderr.splitlines()[-1]
    usage = subprocess.run(base, env=launch_env, capture_output=True, text=True, timeout=60)
    assert usage.returncode == 2 and "usage:" in usage.stderr
