"""Who am I in this job? One place that maps launcher variables to rank / world / master.

The same training code runs unchanged under ``torchrun``, ``srun``, ``mpirun`` (Open MPI),
``mpiexec`` (MPICH / Intel MPI hydra) and as a plain single process; :func:`resolve_env` reads
whichever variables the launcher set and returns one :class:`DistEnv`::

    >>> resolve_env({"OMPI_COMM_WORLD_RANK": "1", "OMPI_COMM_WORLD_SIZE": "2",
    ...              "OMPI_COMM_WORLD_LOCAL_RANK": "1", "OMPI_COMM_WORLD_LOCAL_SIZE": "2"}).rank
    1

Launchers nest (``srun`` starts one ``torchrun`` per node, ``mpirun`` runs inside an ``sbatch``
allocation), so the innermost one wins: torchrun, then MPI, then a Slurm *step* (srun sets
``SLURM_STEP_ID``; the batch script itself has ``SLURM_PROCID=0`` too, and is one process).
Incomplete or contradictory variables are a :class:`UsageError` that lists every launcher
variable seen, because a stale ``export RANK=0`` in a batch script otherwise makes every task
rank 0 and hangs the job at its first collective.

``MASTER_ADDR`` / ``MASTER_PORT`` in the environment always win. Otherwise: torchrun requires
them (beyond one process); a job on one host uses 127.0.0.1; a multi-host job inside Slurm uses
the first host of the node list; a multi-host MPI job elsewhere leaves ``master_addr`` empty and :func:`mlperf_submit.launch.distributed.dist.init_distributed`
asks rank 0 for its host name over MPI. The port defaults to :data:`DEFAULT_MASTER_PORT`.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass

from mlperf_submit.errors import UsageError

DEFAULT_MASTER_PORT = 29500  # torch's default; run.sub and mlperf-common use it as well
LAUNCHERS = ("torchrun", "slurm", "openmpi", "mpich", "single")


@dataclass(frozen=True)
class DistEnv:
    rank: int
    world_size: int
    local_rank: int
    local_world_size: int
    master_addr: str  # "" = not known yet (multi-host MPI without MASTER_ADDR)
    master_port: int
    launcher: str  # one of LAUNCHERS
    hosts: tuple[str, ...]  # hosts of the job when the launcher says; () when it does not

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


# Variables of each launcher, in the order (rank, world, local rank, local world).
TORCHRUN = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE")
OPENMPI = (
    "OMPI_COMM_WORLD_RANK",
    "OMPI_COMM_WORLD_SIZE",
    "OMPI_COMM_WORLD_LOCAL_RANK",
    "OMPI_COMM_WORLD_LOCAL_SIZE",
)
MPICH = ("PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID", "MPI_LOCALNRANKS")
SLURM_STEP = ("SLURM_STEP_ID", "SLURM_STEPID")
SLURM = (
    "SLURM_PROCID",
    "SLURM_NTASKS",
    "SLURM_STEP_NUM_TASKS",
    "SLURM_NPROCS",
    "SLURM_LOCALID",
    "SLURM_NODEID",
    "SLURM_STEP_TASKS_PER_NODE",
    "SLURM_TASKS_PER_NODE",
    "SLURM_STEP_NODELIST",
    "SLURM_JOB_NODELIST",
    "SLURM_NODELIST",
)
RENDEZVOUS = ("MASTER_ADDR", "MASTER_PORT")
ALL_VARS = TORCHRUN + OPENMPI + MPICH + SLURM_STEP + SLURM + RENDEZVOUS


@dataclass(frozen=True)
class _Claim:
    """What one launcher's variables say, before the launchers are reconciled."""

    launcher: str
    rank: int
    world_size: int
    local_rank: int | None
    local_world_size: int | None
    hosts: tuple[str, ...] = ()


def resolve_env(environ: Mapping[str, str] | None = None) -> DistEnv:
    """Rank, world size, local rank, master and hosts of this process (see the module doc)."""
    env = os.environ if environ is None else environ
    reader = _Reader(env)
    torch_claim = _torchrun(reader)
    mpi_claim = _mpi(reader)
    slurm_claim, slurm_hosts = _slurm(reader)

    claims = [c for c in (torch_claim, mpi_claim, slurm_claim) if c is not None]
    for inner, outer in zip(claims, claims[1:]):
        _check_nesting(reader, inner, outer)
    if not claims:
        claim = _Claim("single", 0, 1, 0, 1, (socket.gethostname(),))
    else:
        claim = claims[0]

    # torchrun always sets LOCAL_WORLD_SIZE, but hand-made RANK/WORLD_SIZE and Slurm's PMI
    # plugins leave the local values out. An outer launcher that knows its tasks per node is the
    # best guess; otherwise assume one host.
    outer = claims[1] if len(claims) > 1 else None
    local_world = claim.local_world_size
    if local_world is None:
        local_world = outer.local_world_size if outer else None
        local_world = local_world or claim.world_size
    local_rank = claim.local_rank
    if local_rank is None:
        same_world = outer is not None and outer.world_size == claim.world_size
        local_rank = outer.local_rank if same_world else None
        if local_rank is None and local_world == claim.world_size:
            local_rank = claim.rank
    if local_rank is None:
        raise reader.error(
            f"the {claim.launcher} launcher gives no local rank and the job spans hosts "
            f"({local_world} of {claim.world_size} ranks per host)"
        )
    if not 0 <= local_rank < local_world:
        raise reader.error(
            f"local rank {local_rank} is not in [0, {local_world}) for the {claim.launcher} "
            "launcher"
        )

    hosts = claim.hosts or slurm_hosts
    if not hosts and local_world == claim.world_size:
        hosts = (socket.gethostname(),)
    master_addr = reader.text("MASTER_ADDR")
    if not master_addr:
        if claim.world_size == local_world:
            master_addr = "127.0.0.1"  # every rank on this host
        elif slurm_hosts:
            master_addr = slurm_hosts[0]  # Slurm places task 0 (and mpirun's rank 0) there
        else:
            master_addr = ""  # multi-host MPI: dist.init_distributed asks rank 0
    master_port = reader.integer("MASTER_PORT") if reader.has("MASTER_PORT") else None
    if master_port is None:
        master_port = DEFAULT_MASTER_PORT
    elif not 0 < master_port < 65536:
        raise reader.error(f"MASTER_PORT={master_port} is not a TCP port (1-65535)")
    return DistEnv(
        rank=claim.rank,
        world_size=claim.world_size,
        local_rank=local_rank,
        local_world_size=local_world,
        master_addr=master_addr,
        master_port=master_port,
        launcher=claim.launcher,
        hosts=tuple(hosts),
    )


# -- per launcher -----------------------------------------------------------------------------
def _torchrun(r: _Reader) -> _Claim | None:
    if not r.any(TORCHRUN[:3]):
        return None
    missing = [v for v in ("RANK", "WORLD_SIZE", "LOCAL_RANK") if not r.has(v)]
    world = r.integer("WORLD_SIZE") if r.has("WORLD_SIZE") else None
    if world is not None and world > 1:
        missing += [v for v in RENDEZVOUS if not r.has(v)]
    if missing:
        raise r.error(f"incomplete torchrun-style environment: {', '.join(missing)} not set")
    return _checked(
        r,
        "torchrun",
        r.integer("RANK"),
        world,
        r.integer("LOCAL_RANK"),
        r.integer("LOCAL_WORLD_SIZE") if r.has("LOCAL_WORLD_SIZE") else None,
    )


def _mpi(r: _Reader) -> _Claim | None:
    claims = []
    for launcher, names in (("openmpi", OPENMPI), ("mpich", MPICH)):
        if not r.any(names):
            continue
        # Both MPIs publish all four; local ones are missing only with very old launchers.
        missing = [v for v in names[:2] if not r.has(v)]
        if missing:
            raise r.error(f"incomplete {launcher} environment: {', '.join(missing)} not set")
        local = [r.integer(v) if r.has(v) else None for v in names[2:]]
        claims.append(_checked(r, launcher, r.integer(names[0]), r.integer(names[1]), *local))
    if len(claims) == 2:
        a, b = claims
        if (a.rank, a.world_size) != (b.rank, b.world_size):
            raise r.error(
                f"Open MPI says rank {a.rank} of {a.world_size} but MPICH/PMI says rank "
                f"{b.rank} of {b.world_size}: variables of two MPI launchers are mixed"
            )
    return claims[0] if claims else None


def _slurm(r: _Reader) -> tuple[_Claim | None, tuple[str, ...]]:
    nodelist = (
        r.text("SLURM_STEP_NODELIST") or r.text("SLURM_JOB_NODELIST") or r.text("SLURM_NODELIST")
    )
    try:
        hosts = tuple(expand_hostlist(nodelist)) if nodelist else ()
    except ValueError as err:
        raise r.error(str(err)) from None
    if not r.any(SLURM_STEP):
        # Inside sbatch/salloc but not in an srun step: the batch script is one process.
        return None, hosts
    world_var = next(
        (v for v in ("SLURM_STEP_NUM_TASKS", "SLURM_NTASKS", "SLURM_NPROCS") if r.has(v)), None
    )
    missing = [v for v in ("SLURM_PROCID", "SLURM_LOCALID") if not r.has(v)]
    if world_var is None:
        missing.append("SLURM_NTASKS")
    if missing:
        raise r.error(f"incomplete Slurm step environment: {', '.join(missing)} not set")
    per_node = r.text("SLURM_STEP_TASKS_PER_NODE") or r.text("SLURM_TASKS_PER_NODE")
    local_world = None
    if per_node:
        try:
            counts = expand_tasks_per_node(per_node)
        except ValueError as err:
            raise r.error(str(err)) from None
        node_id = r.integer("SLURM_NODEID") if r.has("SLURM_NODEID") else 0
        if not 0 <= node_id < len(counts):
            raise r.error(f"SLURM_NODEID={node_id} but the step has {len(counts)} node(s)")
        local_world = counts[node_id]
    claim = _checked(
        r,
        "slurm",
        r.integer("SLURM_PROCID"),
        r.integer(world_var),
        r.integer("SLURM_LOCALID"),
        local_world,
        hosts,
    )
    return claim, hosts


def _checked(
    r: _Reader,
    launcher: str,
    rank: int,
    world: int | None,
    local_rank: int | None,
    local_world: int | None,
    hosts: tuple[str, ...] = (),
) -> _Claim:
    assert world is not None
    if world < 1:
        raise r.error(f"{launcher}: world size {world} < 1")
    if not 0 <= rank < world:
        raise r.error(f"{launcher}: rank {rank} is not in [0, {world})")
    if local_world is not None and not 1 <= local_world <= world:
        raise r.error(f"{launcher}: local world size {local_world} is not in [1, {world}]")
    return _Claim(launcher, rank, world, local_rank, local_world, hosts)


def _check_nesting(r: _Reader, inner: _Claim, outer: _Claim) -> None:
    """An inner launcher started by an outer one has a world that is a multiple of the outer's.

    When the two worlds are the same size each outer task started exactly one inner process,
    so the ranks must agree too; this catches a RANK exported once for every task.
    """
    if inner.world_size < outer.world_size or inner.world_size % outer.world_size:
        raise r.error(
            f"{inner.launcher} says world size {inner.world_size} but {outer.launcher} says "
            f"{outer.world_size}: these variables cannot come from one job"
        )
    if inner.world_size == outer.world_size and inner.rank != outer.rank:
        raise r.error(
            f"{inner.launcher} says rank {inner.rank} but {outer.launcher} says rank "
            f"{outer.rank} (same world size {inner.world_size}): is a rank variable exported "
            "for every task?"
        )


# -- helpers ----------------------------------------------------------------------------------
class _Reader:
    def __init__(self, env: Mapping[str, str]):
        self.env = env

    def has(self, name: str) -> bool:
        return self.env.get(name, "") != ""

    def any(self, names: tuple[str, ...]) -> bool:
        return any(self.has(n) for n in names)

    def text(self, name: str) -> str:
        return self.env.get(name, "").strip()

    def integer(self, name: str) -> int:
        value = self.text(name)
        try:
            return int(value)
        except ValueError:
            raise self.error(f"{name}={value!r} is not an integer") from None

    def error(self, message: str) -> UsageError:
        seen = [f"{n}={self.env[n]}" for n in ALL_VARS if n in self.env]
        return UsageError(
            f"cannot tell this process's rank from the environment: {message} "
            f"(launcher variables seen: {', '.join(seen) or 'none'})"
        )


_RANGE = re.compile(r"^(\d+)(?:-(\d+))?$")


def expand_hostlist(spec: str) -> list[str]:
    """Slurm host list syntax: ``n[1-3,7],gpu-[01-02]-a,login`` -> every host name, in order."""
    hosts: list[str] = []
    for item in _split_top_level(spec.strip()):
        parts = [[""]]  # cartesian product of literal pieces and bracket ranges
        pos = 0
        for m in re.finditer(r"\[([^\]]*)\]", item):
            parts.append([item[pos : m.start()]])
            parts.append(_expand_range(m.group(1), spec))
            pos = m.end()
        rest = item[pos:]
        if "[" in rest or "]" in rest or not item:
            raise ValueError(f"malformed Slurm host list {spec!r}")
        parts.append([rest])
        names = [""]
        for choices in parts:
            names = [n + c for n in names for c in choices]
        hosts.extend(names)
    return hosts


def _split_top_level(spec: str) -> list[str]:
    items, depth, cur = [], 0, ""
    for ch in spec:
        if ch == "," and depth == 0:
            items.append(cur)
            cur = ""
            continue
        depth += ch == "["
        depth -= ch == "]"
        if depth not in (0, 1):
            raise ValueError(f"malformed Slurm host list {spec!r}")
        cur += ch
    items.append(cur)
    return items


def _expand_range(body: str, spec: str) -> list[str]:
    out = []
    for piece in body.split(","):
        m = _RANGE.match(piece.strip())
        if not m:
            raise ValueError(f"malformed range [{body}] in Slurm host list {spec!r}")
        lo, hi = m.group(1), m.group(2) or m.group(1)
        if int(hi) < int(lo):
            raise ValueError(f"descending range [{body}] in Slurm host list {spec!r}")
        width = len(lo)  # zero padding is kept: [01-03] -> 01 02 03
        out.extend(str(i).zfill(width) for i in range(int(lo), int(hi) + 1))
    return out


def expand_tasks_per_node(spec: str) -> list[int]:
    """Slurm's compressed counts: ``2(x3),1`` -> ``[2, 2, 2, 1]``."""
    counts: list[int] = []
    for piece in spec.split(","):
        m = re.fullmatch(r"\s*(\d+)(?:\(x(\d+)\))?\s*", piece)
        if not m:
            raise ValueError(f"malformed Slurm tasks-per-node value {spec!r}")
        counts.extend([int(m.group(1))] * int(m.group(2) or 1))
    return counts
