"""The process group: initialise it once, then rank / barrier / broadcast / max from anywhere.

Every function is a no-op (or the identity) in a single process, so benchmark and logging code
never asks "am I distributed?" by hand::

    from mlperf_submit.launch.distributed import dist
    env = dist.init_distributed()          # gloo on CPU, nccl on GPU; idempotent
    if dist.is_main_process(): ...
    seconds = dist.all_reduce_max(local_seconds)   # fair wall clock: the slowest rank counts
    dist.shutdown()

Backends (``init_distributed(backend=...)``):

* ``"auto"``: torch.distributed, ``nccl`` when CUDA is available, else ``gloo``;
* ``"gloo"`` / ``"nccl"``: torch.distributed with that backend;
* ``"mpi"``: no torch process group, only the mpi4py ``COMM_WORLD`` (needs an MPI launcher);
* ``"horovod"``: ``horovod.torch`` (optional; ``scripts/install_horovod.sh`` builds it).

Under an MPI launcher (mpirun / mpiexec) the mpi4py communicator is opened as well when mpi4py
is installed: it tells a multi-host job where rank 0 is when ``MASTER_ADDR`` is not set, and
the port rank 0 listens on when ``MASTER_PORT`` is not set. The process group starts with a
bounded rendezvous (:mod:`.rendezvous`: ``MLPERF_SUBMIT_RENDEZVOUS_TIMEOUT``, 300 s by
default), separate from the long collective timeout. A rank that fails under an MPI launcher
ends the whole job (:func:`abort_job`) instead of waiting in ``MPI_Finalize`` for ranks that
may be waiting for it. The rank's GPU is made the current device before MPI starts (a CUDA-aware
MPI opens its context there).
Collectives use, in order: torch.distributed if initialised, Horovod, mpi4py, else nothing.
torch and mpi4py are imported only when a process group is really created.
"""

from __future__ import annotations

import socket
import sys
from dataclasses import dataclass, replace
from datetime import timedelta

from mlperf_submit.errors import UsageError
from mlperf_submit.launch.distributed import rendezvous
from mlperf_submit.launch.distributed.env import DistEnv, resolve_env

BACKENDS = ("auto", "gloo", "nccl", "mpi", "horovod")
MPI_LAUNCHERS = ("openmpi", "mpich")
HOROVOD_HINT = (
    "Horovod is not installed. It needs a patched build (the 0.28.1 sdist forces C++14, torch "
    "needs C++17): run `scripts/install_horovod.sh .venv/bin/python` or `make test-horovod`, "
    "or use the default backend (torch.distributed)"
)


@dataclass
class _State:
    env: DistEnv | None = None  # set by init_distributed (or lazily from the environment)
    backend: str | None = None  # what init_distributed set up: gloo|nccl|mpi|horovod|None
    mpi_comm: object | None = None
    hvd: object | None = None
    initialised: bool = False
    device: str | None = None  # what _bind_device made current ("cuda:1", "cpu"), before MPI


_state = _State()
_mpi_world = None  # MPI.COMM_WORLD once opened; outlives shutdown() (MPI is not finalised)


def init_distributed(
    backend: str = "auto",
    *,
    timeout_s: float = 1800.0,
    rendezvous_timeout_s: float | None = None,
) -> DistEnv:
    """Join the job's process group (a no-op for one process) and return who we are.

    Idempotent: a second call returns the first call's environment. ``timeout_s`` bounds every
    collective, so a rank that died makes the others fail instead of hanging forever;
    ``rendezvous_timeout_s`` (default: ``$MLPERF_SUBMIT_RENDEZVOUS_TIMEOUT`` or 300 s) bounds
    the wait for the other ranks at the start (``rendezvous.RendezvousError``).
    """
    if backend not in BACKENDS:
        raise UsageError(f"unknown distributed backend {backend!r}: use one of {BACKENDS}")
    if _state.initialised:
        return _state.env  # type: ignore[return-value]
    env = resolve_env()
    if backend == "horovod":
        return _init_horovod(env)
    if env.launcher in MPI_LAUNCHERS or backend == "mpi":
        _bind_device(env)  # before mpi4py initialises MPI
        env = _init_mpi(env, required=backend == "mpi")
    if env.world_size > 1 and backend != "mpi":
        if rendezvous_timeout_s is None:
            rendezvous_timeout_s = rendezvous.rendezvous_timeout()
        env = _init_torch(env, backend, timeout_s, rendezvous_timeout_s)
    _state.env, _state.initialised = env, True
    return env


def _bind_device(env: DistEnv) -> None:
    """Make this rank's GPU (local rank modulo the visible GPUs) the current CUDA device before
    mpi4py initialises MPI: a CUDA-aware MPI (UCX) opens its context on the current device, so
    without this every rank of the node would open one on GPU 0 (memory lost there, and a
    context that NCCL and the training later contend with). Records ``_state.device``."""
    try:
        import torch
    except ImportError:  # an MPI-only job (backend "mpi" without torch): nothing to bind
        _state.device = "cpu"
        return
    if torch.cuda.is_available():
        index = env.local_rank % torch.cuda.device_count()
        torch.cuda.set_device(index)
        _state.device = f"cuda:{index}"
    else:
        _state.device = "cpu"


def _init_mpi(env: DistEnv, *, required: bool) -> DistEnv:
    global _mpi_world
    try:
        from mpi4py import MPI
    except ImportError:
        if required:
            raise UsageError(
                "backend 'mpi' needs mpi4py: pip install mpi4py (built for the MPI you launch with)"
            ) from None
        if not env.master_addr:
            raise UsageError(
                "this is a multi-host MPI job without MASTER_ADDR and mpi4py is not installed: "
                "pass `-x MASTER_ADDR=<host of rank 0>` to mpirun, or `pip install mpi4py`"
            ) from None
        return env
    comm = MPI.COMM_WORLD
    if (comm.Get_rank(), comm.Get_size()) != (env.rank, env.world_size):
        raise UsageError(
            f"mpi4py says rank {comm.Get_rank()} of {comm.Get_size()} but the launcher "
            f"variables say {env.rank} of {env.world_size}: is mpi4py built against a different "
            "MPI than the mpirun that started this job?"
        )
    _state.mpi_comm = comm
    _mpi_world = comm
    if not env.master_addr:
        env = replace(env, master_addr=comm.bcast(socket.gethostname(), root=0))
    if required:
        _state.backend = "mpi"
    return env


def _init_torch(env: DistEnv, backend: str, timeout_s: float, rendezvous_s: float) -> DistEnv:
    import torch
    import torch.distributed as tdist

    if backend == "auto":
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        if not torch.cuda.is_available():
            raise UsageError("backend 'nccl' needs CUDA GPUs; none is visible (use 'gloo')")
        torch.cuda.set_device(env.local_rank % torch.cuda.device_count())
    if not tdist.is_initialized():
        store, port = rendezvous.join(env, timeout_s=rendezvous_s, mpi_comm=_state.mpi_comm)
        store.set_timeout(timedelta(seconds=timeout_s))  # from here on, the collective bound
        env = replace(env, master_port=port)
        tdist.init_process_group(
            backend,
            store=store,
            rank=env.rank,
            world_size=env.world_size,
            timeout=timedelta(seconds=timeout_s),
        )
    _state.backend = backend
    return env


def _init_horovod(env: DistEnv) -> DistEnv:
    try:
        import horovod.torch as hvd
    except ImportError:
        raise UsageError(HOROVOD_HINT) from None
    hvd.init()
    if (hvd.rank(), hvd.size()) != (env.rank, env.world_size):
        raise UsageError(
            f"Horovod says rank {hvd.rank()} of {hvd.size()} but the launcher variables say "
            f"{env.rank} of {env.world_size}"
        )
    _state.env, _state.backend, _state.hvd, _state.initialised = env, "horovod", hvd, True
    return env


# -- queries and collectives --------------------------------------------------------------------
def torch_dist():
    """torch.distributed when a process group exists; never imports torch by itself."""
    tdist = sys.modules.get("torch.distributed")
    if tdist is not None and tdist.is_available() and tdist.is_initialized():
        return tdist
    return None


def current_env() -> DistEnv:
    """The environment init_distributed resolved, or the launcher's view before it ran."""
    if _state.env is None:
        _state.env = resolve_env()
    return _state.env


def get_rank() -> int:
    tdist = torch_dist()
    if tdist is not None:
        return tdist.get_rank()
    if _state.hvd is not None:
        return _state.hvd.rank()
    if _state.mpi_comm is not None:
        return _state.mpi_comm.Get_rank()
    return current_env().rank


def get_world_size() -> int:
    tdist = torch_dist()
    if tdist is not None:
        return tdist.get_world_size()
    if _state.hvd is not None:
        return _state.hvd.size()
    if _state.mpi_comm is not None:
        return _state.mpi_comm.Get_size()
    return current_env().world_size


def is_main_process() -> bool:
    return get_rank() == 0


def barrier() -> None:
    tdist = torch_dist()
    if tdist is not None:
        if tdist.get_backend() == "nccl":
            import torch

            tdist.barrier(device_ids=[torch.cuda.current_device()])
        else:
            tdist.barrier()
    elif _state.hvd is not None:
        _state.hvd.barrier()
    elif _state.mpi_comm is not None:
        _state.mpi_comm.Barrier()


def broadcast_object(obj, src: int = 0):
    """``obj`` of rank ``src`` on every rank (picklable objects)."""
    tdist = torch_dist()
    if tdist is not None:
        box = [obj]
        tdist.broadcast_object_list(box, src=src)
        return box[0]
    if _state.hvd is not None:
        return _state.hvd.broadcast_object(obj, root_rank=src)
    if _state.mpi_comm is not None:
        return _state.mpi_comm.bcast(obj, root=src)
    return obj


def all_reduce_max(x: float) -> float:
    """The largest ``x`` over all ranks (e.g. the slowest rank's elapsed time)."""
    tdist = torch_dist()
    if tdist is not None:
        import torch

        device = "cuda" if tdist.get_backend() == "nccl" else "cpu"
        t = torch.tensor([float(x)], dtype=torch.float64, device=device)
        tdist.all_reduce(t, op=tdist.ReduceOp.MAX)
        return float(t.item())
    if _state.hvd is not None:
        return float(max(_state.hvd.allgather_object(float(x))))
    if _state.mpi_comm is not None:
        from mpi4py import MPI

        return float(_state.mpi_comm.allreduce(float(x), op=MPI.MAX))
    return float(x)


def in_mpi_job() -> bool:
    """An MPI communicator of several ranks is open in this process."""
    return _mpi_world is not None and _mpi_world.Get_size() > 1


def abort_job(exit_code: int) -> None:
    """End every rank of an MPI job now (``MPI_Abort``) because this one failed.

    The CLI calls it when a command ends in an error. Without it a failed rank would wait in
    ``MPI_Finalize`` (mpi4py calls it at exit) for ranks that may be waiting for it, e.g. in the
    rendezvous, and ``mpirun`` would never return. Does nothing outside an MPI job of several
    ranks."""
    if not in_mpi_job():
        return
    comm = _mpi_world
    sys.stdout.flush()
    sys.stderr.flush()
    comm.Abort(exit_code or 1)


def shutdown() -> None:
    """Leave the process group; the next init_distributed starts afresh."""
    global _state
    tdist = torch_dist()
    if tdist is not None and _state.backend in ("gloo", "nccl"):
        tdist.destroy_process_group()
    if _state.hvd is not None:
        _state.hvd.shutdown()
    # mpi4py finalises MPI at interpreter exit; finalising here would forbid a second init.
    _state = _State()
