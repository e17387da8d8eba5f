"""launch.distributed.dist: no-ops in one process, and real 2-rank jobs under torchrun, mpirun and srun.

Each multi-process test starts ``tests/launch/dist_worker.py`` under the real launcher (~10 s
on 2 cores, mostly ``import torch``) and checks that every rank agrees on rank, world,
broadcast, max and the master seed. A rank whose peer is gone gives up within the rendezvous
timeout, naming it; every job is ended whole (``proctree.run_job``) and none outlives its test.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from mlperf_submit.errors import UsageError
from mlperf_submit.launch.campaign.proctree import end_job, run_job
from mlperf_submit.launch.distributed import dist
from mlperf_submit.launch.distributed.env import DEFAULT_MASTER_PORT
from mlperf_submit.launch.distributed.rendezvous import ENV as RENDEZVOUS_ENV

WORKER = Path(__file__).with_name("dist_worker.py")


def free_port() -> int:
    """A port for a job without another way to agree on one (srun, hand-made variables)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
    proc = run_job(cmd, env=env, capture_output=True, text=True, timeout=240)
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
        "--standalone",
        "--nproc-per-node=2",
        str(WORKER),
        "auto",
        str(tmp_path),
    ]
    _assert_agree(_run_and_collect(cmd, launch_env, tmp_path), "torchrun")


@pytest.mark.mpi
@pytest.mark.parametrize("backend", ["auto", "mpi"])
def test_mpirun_two_ranks(tmp_path, launch_env, mpirun, backend):
    """No MASTER_PORT: rank 0 binds a port the kernel gives it and tells rank 1 over MPI, so
    no other process on the host can take the port between its choice and its use."""
    cmd = [mpirun, "-np", "2", "--oversubscribe", "-x", "PYTHONPATH"]
    cmd += [sys.executable, str(WORKER), backend, str(tmp_path)]
    records = _run_and_collect(cmd, launch_env, tmp_path)
    _assert_agree(records, "openmpi")
    assert all(rec["env"]["master_addr"] == "127.0.0.1" for rec in records)
    if backend == "auto":
        ports = {rec["env"]["master_port"] for rec in records}
        assert len(ports) == 1 and ports != {DEFAULT_MASTER_PORT}, ports


@pytest.mark.mpi
def test_mpirun_on_a_port_another_program_holds_ends_at_once(tmp_path, launch_env, mpirun):
    """The failure behind the 25-minute orphan: an explicit MASTER_PORT that a stranger listens
    on (and never answers). Rank 0 cannot listen there, rank 1 talks to the stranger. Rank 0
    says so and ends the MPI job; rank 1 never hangs; nothing is left (the autouse fixture)."""
    with socket.socket() as stranger:
        stranger.bind(("127.0.0.1", 0))
        stranger.listen(8)
        port = stranger.getsockname()[1]
        env = {**launch_env, "MASTER_PORT": str(port), RENDEZVOUS_ENV: "5"}
        cmd = [mpirun, "-np", "2", "--oversubscribe", "-x", "PYTHONPATH", "-x", "MASTER_PORT",
               "-x", RENDEZVOUS_ENV, sys.executable, str(WORKER), "auto", str(tmp_path)]  # fmt: skip
        proc = run_job(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode != 0
    assert f"rank 0 cannot open the rendezvous at 127.0.0.1:{port}" in proc.stderr, proc.stderr


def _lone_rank(rank: int, port: int, out: Path, env: dict) -> subprocess.Popen:
    """One rank of a 2-rank job started by hand (torchrun-style variables), on its own."""
    env = {**env, "RANK": str(rank), "WORLD_SIZE": "2", "LOCAL_RANK": str(rank),
           "LOCAL_WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port),
           RENDEZVOUS_ENV: "5"}  # fmt: skip
    (out / f"r{rank}").mkdir()
    return subprocess.Popen(
        [sys.executable, str(WORKER), "gloo", str(out / f"r{rank}")],
        env=env, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip


@pytest.mark.parametrize("killed", [0, 1])
def test_a_rank_whose_peer_is_killed_at_start_up_gives_up_naming_it(tmp_path, launch_env, killed):
    """Both ranks start; one is killed at once. The other ends within the rendezvous timeout
    (5 s here, not the 30-minute collective timeout) with an error naming the missing rank or
    the address nobody answered at."""
    port = free_port()
    procs = {r: _lone_rank(r, port, tmp_path, launch_env) for r in (0, 1)}
    procs[killed].kill()
    survivor = procs[1 - killed]
    try:
        _, err = survivor.communicate(timeout=240)  # import torch on a busy machine + 5 s
    finally:
        for p in procs.values():
            end_job(p.pid)
            p.wait()
    last = err.strip().splitlines()[-1]
    assert survivor.returncode == 1 and "RendezvousError" in last, err
    if killed == 1:
        assert (
            f"rank 0: rank 1 of 2 did not join the rendezvous at 127.0.0.1:{port} within 5 s"
            in last
        )
    else:
        assert f"rank 1: nobody answered at 127.0.0.1:{port} within" in last
        assert "rank 0, which opens the rendezvous there, did not start, died" in last


@pytest.mark.slurm
def test_srun_two_nodes(tmp_path, launch_env, slurm_cluster):
    # srun has no side channel to agree on a port: the job is given one (run.sub draws it)
    env = {**launch_env, "SLURM_CONF": str(slurm_cluster.conf), "MASTER_ADDR": "127.0.0.1",
           "MASTER_PORT": str(free_port())}  # fmt: skip
    cmd = ["srun", "-N2", "--ntasks-per-node=1", "-t", "5"]
    cmd += [sys.executable, str(WORKER), "auto", str(tmp_path)]
    records = _run_and_collect(cmd, env, tmp_path)
    _assert_agree(records, "slurm")
    assert [rec["env"]["hosts"] for rec in records] == [["n1", "n2"]] * 2
    assert [rec["env"]["local_world_size"] for rec in records] == [1, 1]


def test_torchrun_trampoline_passes_training_args_untouched(tmp_path, launch_env):
    """`--log` would be an ambiguous abbreviation for plain torchrun; behind `--` it is not."""
    # one write per rank: with PYTHONUNBUFFERED, print() writes its pieces apart and two
    # ranks sharing the pipe interleave them
    probe = "import os, sys; sys.stdout.write(f\"rank {os.environ['RANK']} {sys.argv[1:]}\\n\")"
    base = [sys.executable, "-m", "mlperf_submit.launch.campaign.torchrun", "--standalone",
            "--nproc-per-node=2"]  # fmt: skip
    ok = run_job(
        [*base, "--", sys.executable, "-c", probe, "--log", "x", "--nproc-per-node=9"],
        env=launch_env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    for rank in (0, 1):
        assert f"rank {rank} ['--log', 'x', '--nproc-per-node=9']" in ok.stdout
    failed = run_job(
        [*base, "--", sys.executable, "-c", "raise SystemExit(3)"],
        env=launch_env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert failed.returncode == 1 and "Traceback" not in failed.stderr.splitlines()[-1]
    usage = run_job(base, env=launch_env, capture_output=True, text=True, timeout=60)
    assert usage.returncode == 2 and "usage:" in usage.stderr
