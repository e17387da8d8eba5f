"""resolve_env tables: every launcher's variables, nesting, and the errors for bad ones.

The tables use the variables the real launchers set (captured from torchrun 2.13, Open MPI 5,
MPICH hydra and Slurm 22.05 steps on this machine); tests/launch/test_launch_dist.py checks
the same code under the real launchers.
"""

from __future__ import annotations

import socket

import pytest

from mlperf_submit.errors import UsageError
from mlperf_submit.launch.distributed.env import (
    DEFAULT_MASTER_PORT,
    DistEnv,
    expand_hostlist,
    expand_tasks_per_node,
    resolve_env,
)

HOST = socket.gethostname()

TORCHRUN_R1 = {
    "RANK": "1",
    "WORLD_SIZE": "4",
    "LOCAL_RANK": "1",
    "LOCAL_WORLD_SIZE": "2",
    "MASTER_ADDR": "node7",
    "MASTER_PORT": "29400",
    "GROUP_RANK": "0",
    "TORCHELASTIC_RUN_ID": "none",
}
OMPI_R3 = {
    "OMPI_COMM_WORLD_RANK": "3",
    "OMPI_COMM_WORLD_SIZE": "4",
    "OMPI_COMM_WORLD_LOCAL_RANK": "1",
    "OMPI_COMM_WORLD_LOCAL_SIZE": "2",
    "PMIX_RANK": "3",
}
MPICH_R1 = {"PMI_RANK": "1", "PMI_SIZE": "2", "MPI_LOCALRANKID": "1", "MPI_LOCALNRANKS": "2"}
# What srun puts in task 1 of `sbatch -N2 --ntasks-per-node=1` (the batch script's own
# variables plus the step's).
SLURM_BATCH = {
    "SLURM_JOB_ID": "1",
    "SLURM_JOB_NODELIST": "n[1-2]",
    "SLURM_NODELIST": "n[1-2]",
    "SLURM_NTASKS": "2",
    "SLURM_NPROCS": "2",
    "SLURM_PROCID": "0",
    "SLURM_LOCALID": "0",
    "SLURM_NODEID": "0",
    "SLURM_TASKS_PER_NODE": "1(x2)",
}
SLURM_STEP_T1 = {
    **SLURM_BATCH,
    "SLURM_STEP_ID": "0",
    "SLURM_STEPID": "0",
    "SLURM_PROCID": "1",
    "SLURM_NODEID": "1",
    "SLURM_STEP_NODELIST": "n[1-2]",
    "SLURM_STEP_NUM_TASKS": "2",
    "SLURM_STEP_TASKS_PER_NODE": "1(x2)",
}


def env(rank, world, local_rank, local_world, addr, launcher, hosts, port=DEFAULT_MASTER_PORT):
    return DistEnv(rank, world, local_rank, local_world, addr, port, launcher, tuple(hosts))


RESOLVE_TABLE = [
    ("empty", {}, env(0, 1, 0, 1, "127.0.0.1", "single", [HOST])),
    ("torchrun", TORCHRUN_R1, env(1, 4, 1, 2, "node7", "torchrun", [], 29400)),
    (
        "torchrun 1 proc without rendezvous",
        {"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0"},
        env(0, 1, 0, 1, "127.0.0.1", "torchrun", [HOST]),
    ),
    ("openmpi", OMPI_R3, env(3, 4, 1, 2, "", "openmpi", [])),
    (
        "openmpi one host",
        {**OMPI_R3, "OMPI_COMM_WORLD_SIZE": "2", "OMPI_COMM_WORLD_RANK": "1"},
        env(1, 2, 1, 2, "127.0.0.1", "openmpi", [HOST]),
    ),
    (
        "openmpi with MASTER_ADDR",
        {**OMPI_R3, "MASTER_ADDR": "10.0.0.1", "MASTER_PORT": "1234"},
        env(3, 4, 1, 2, "10.0.0.1", "openmpi", [], 1234),
    ),
    ("mpich", MPICH_R1, env(1, 2, 1, 2, "127.0.0.1", "mpich", [HOST])),
    (
        "pmi without local variables (Slurm pmi2) is local",
        {"PMI_RANK": "1", "PMI_SIZE": "2"},
        env(1, 2, 1, 2, "127.0.0.1", "mpich", [HOST]),
    ),
    (
        "pmi without local variables inside a Slurm step",
        {**SLURM_STEP_T1, "PMI_RANK": "1", "PMI_SIZE": "2"},
        env(1, 2, 0, 1, "n1", "mpich", ["n1", "n2"]),
    ),
    (
        "openmpi and pmi agree",
        {**OMPI_R3, "PMI_RANK": "3", "PMI_SIZE": "4"},
        env(3, 4, 1, 2, "", "openmpi", []),
    ),
    ("slurm step", SLURM_STEP_T1, env(1, 2, 0, 1, "n1", "slurm", ["n1", "n2"])),
    (
        "slurm step, 2 tasks on 1 node",
        {
            **SLURM_STEP_T1,
            "SLURM_NODEID": "0",
            "SLURM_LOCALID": "1",
            "SLURM_STEP_NODELIST": "gpu07",
            "SLURM_STEP_TASKS_PER_NODE": "2",
        },
        env(1, 2, 1, 2, "127.0.0.1", "slurm", ["gpu07"]),
    ),
    (
        "slurm step, uneven tasks",
        {
            **SLURM_STEP_T1,
            "SLURM_PROCID": "4",
            "SLURM_STEP_NUM_TASKS": "5",
            "SLURM_NODEID": "2",
            "SLURM_LOCALID": "0",
            "SLURM_STEP_NODELIST": "a[01-03]",
            "SLURM_STEP_TASKS_PER_NODE": "2(x2),1",
        },
        env(4, 5, 0, 1, "a01", "slurm", ["a01", "a02", "a03"]),
    ),
    (
        "slurm batch script is one process",
        SLURM_BATCH,
        env(0, 1, 0, 1, "127.0.0.1", "single", [HOST]),
    ),
    (
        "mpirun inside an allocation",
        {**SLURM_BATCH, **OMPI_R3},
        env(3, 4, 1, 2, "n1", "openmpi", ["n1", "n2"]),
    ),
    (
        "one torchrun per node under srun",
        {**SLURM_STEP_T1, **TORCHRUN_R1, "RANK": "3"},
        env(3, 4, 1, 2, "node7", "torchrun", ["n1", "n2"], 29400),
    ),
    (
        "torchrun under mpirun, one per node",
        {**OMPI_R3, "OMPI_COMM_WORLD_SIZE": "2", "OMPI_COMM_WORLD_RANK": "1", **TORCHRUN_R1},
        env(1, 4, 1, 2, "node7", "torchrun", [], 29400),
    ),
    (
        "torchrun without LOCAL_WORLD_SIZE takes the outer tasks per node",
        {
            **SLURM_STEP_T1,
            "RANK": "1",
            "WORLD_SIZE": "2",
            "LOCAL_RANK": "0",
            "MASTER_ADDR": "n1",
            "MASTER_PORT": "29500",
        },
        env(1, 2, 0, 1, "n1", "torchrun", ["n1", "n2"]),
    ),
]


@pytest.mark.parametrize(
    "environ,expected", [t[1:] for t in RESOLVE_TABLE], ids=[t[0] for t in RESOLVE_TABLE]
)
def test_resolve_env_table(environ, expected):
    assert resolve_env(environ) == expected


ERROR_TABLE = [
    # (name, environ, words the message must contain)
    ("rank without world", {"RANK": "0"}, ["WORLD_SIZE", "LOCAL_RANK", "RANK=0"]),
    (
        "torchrun without rendezvous",
        {"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"},
        ["MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE=2"],
    ),
    (
        "rank out of range",
        {**TORCHRUN_R1, "RANK": "4"},
        ["rank 4 is not in [0, 4)", "RANK=4", "MASTER_ADDR=node7"],
    ),
    ("not an integer", {**TORCHRUN_R1, "RANK": "one"}, ["RANK='one' is not an integer"]),
    ("zero world", {"PMI_RANK": "0", "PMI_SIZE": "0"}, ["world size 0", "PMI_SIZE=0"]),
    ("ompi partial", {"OMPI_COMM_WORLD_RANK": "0"}, ["OMPI_COMM_WORLD_SIZE not set"]),
    (
        "no local rank across hosts",
        {**OMPI_R3, "OMPI_COMM_WORLD_LOCAL_RANK": ""},
        ["gives no local rank", "spans hosts"],
    ),
    ("pmi partial", {"PMI_SIZE": "2"}, ["PMI_RANK not set", "PMI_SIZE=2"]),
    (
        "two MPIs disagree",
        {**OMPI_R3, "PMI_RANK": "0", "PMI_SIZE": "4"},
        ["two MPI launchers", "OMPI_COMM_WORLD_RANK=3", "PMI_RANK=0"],
    ),
    (
        "slurm step partial",
        {"SLURM_STEP_ID": "0", "SLURM_NTASKS": "2"},
        ["SLURM_PROCID", "SLURM_LOCALID", "SLURM_STEP_ID=0"],
    ),
    (
        "RANK exported for every srun task",
        {**SLURM_STEP_T1, **TORCHRUN_R1, "RANK": "0", "WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "1"},
        ["torchrun says rank 0 but slurm says rank 1", "exported"],
    ),
    (
        "worlds that cannot nest",
        {**OMPI_R3, "RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "0", "MASTER_ADDR": "h"}
        | {"MASTER_PORT": "1"},
        ["world size 2 but openmpi says 4"],
    ),
    (
        "local rank beyond local world",
        {**OMPI_R3, "OMPI_COMM_WORLD_LOCAL_RANK": "2"},
        ["local rank 2 is not in [0, 2)"],
    ),
    ("bad nodelist", {**SLURM_STEP_T1, "SLURM_STEP_NODELIST": "n[1-"}, ["host list"]),
    (
        "node id beyond tasks per node",
        {**SLURM_STEP_T1, "SLURM_NODEID": "5"},
        ["SLURM_NODEID=5", "2 node(s)"],
    ),
    ("bad port", {"MASTER_PORT": "70000"}, ["MASTER_PORT=70000"]),
]


@pytest.mark.parametrize(
    "environ,words", [t[1:] for t in ERROR_TABLE], ids=[t[0] for t in ERROR_TABLE]
)
def test_resolve_env_errors_name_the_variables(environ, words):
    with pytest.raises(UsageError) as info:
        resolve_env(environ)
    message = str(info.value)
    for word in words:
        assert word in message, message
    assert "launcher variables seen:" in message


def test_resolve_env_reads_os_environ(monkeypatch):
    for name in list(__import__("os").environ):
        if name.startswith(("SLURM_", "OMPI_", "PMI_", "MASTER_")) or name in (
            "RANK",
            "WORLD_SIZE",
            "LOCAL_RANK",
        ):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PMI_RANK", "0")
    monkeypatch.setenv("PMI_SIZE", "1")
    assert resolve_env().launcher == "mpich"


@pytest.mark.parametrize(
    "spec,hosts",
    [
        ("n1", ["n1"]),
        ("n[1-2]", ["n1", "n2"]),
        ("gpu[01-03,7],login", ["gpu01", "gpu02", "gpu03", "gpu7", "login"]),
        ("rack[1-2]-n[1-2]", ["rack1-n1", "rack1-n2", "rack2-n1", "rack2-n2"]),
        ("a-[008-010].x", ["a-008.x", "a-009.x", "a-010.x"]),
    ],
)
def test_expand_hostlist(spec, hosts):
    assert expand_hostlist(spec) == hosts


@pytest.mark.parametrize("spec", ["n[1-", "n]1[", "n[3-1]", "n[a-b]", "n1,,n2", "n[[1]]"])
def test_expand_hostlist_rejects(spec):
    with pytest.raises(ValueError, match="Slurm host list"):
        expand_hostlist(spec)


def test_expand_tasks_per_node():
    assert expand_tasks_per_node("2(x3),1") == [2, 2, 2, 1]
    assert expand_tasks_per_node("8") == [8]
    with pytest.raises(ValueError, match="tasks-per-node"):
        expand_tasks_per_node("2(x)")
