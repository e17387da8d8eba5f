"""The rendezvous: every rank meets at rank 0's TCP store within a bounded time, or gives up
naming who is missing and where it waited.

The long collective timeout (``init_distributed(timeout_s=1800)``: a real 8B step may need it)
must not also bound the start: a rank whose peer never started, or died before it arrived,
would sleep for half an hour. So the store is joined with its own, short timeout
(:data:`ENV`, default :data:`DEFAULT_TIMEOUT_S` s), and every rank then announces itself and
waits for the others::

    store, port = join(env, timeout_s=rendezvous_timeout(), mpi_comm=comm)  # RendezvousError
    torch.distributed.init_process_group(backend, store=store, rank=..., world_size=...)

Where the store lives:

* under torchrun, in torchrun's agent (``TORCHELASTIC_USE_AGENT_STORE``): every rank connects;
* under an MPI launcher without ``MASTER_PORT``, rank 0 opens it on a port the kernel picks *at
  bind time* and tells the others over MPI. A port chosen earlier by someone else (a free port
  probed, closed and handed down) can be taken by any other process before rank 0 binds it:
  rank 0 then fails to listen and the other ranks talk to a stranger's socket;
* otherwise (srun, hand-made variables, an explicit ``MASTER_PORT``) rank 0 opens it at
  ``MASTER_ADDR:MASTER_PORT`` and the others connect there.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
import time
from datetime import timedelta

from mlperf_submit.errors import EXIT_FAIL, MLPerfSubmitError, UsageError
from mlperf_submit.launch.distributed.env import DistEnv

ENV = "MLPERF_SUBMIT_RENDEZVOUS_TIMEOUT"
# Long enough for ranks that start apart (a container pull on one node, `import torch` on a
# loaded machine), short against a training run: a missing rank costs minutes, not half an hour.
DEFAULT_TIMEOUT_S = 300.0
PREFIX = "mlperf_submit/rendezvous"
AGENT_STORE_ENV = "TORCHELASTIC_USE_AGENT_STORE"


class RendezvousError(MLPerfSubmitError):
    """A rank gave up waiting for its peers: the run failed (exit 1), it is no usage error."""

    exit_code = EXIT_FAIL


def rendezvous_timeout(environ=None) -> float:
    """Seconds from :data:`ENV` (default :data:`DEFAULT_TIMEOUT_S`)."""
    text = (os.environ if environ is None else environ).get(ENV, "").strip()
    if not text:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise UsageError(f"{ENV}={text!r}: give the rendezvous timeout in seconds (> 0)")
    return value


def _address(addr: str, port: int) -> str:
    return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"


def join(env: DistEnv, *, timeout_s: float, mpi_comm=None):
    """``(store, port)``: the torch ``Store`` every rank of ``env`` shares, once all of them
    arrived, and the port it listens on.

    Raises :class:`RendezvousError` when a rank does not arrive within ``timeout_s``, naming
    the missing ranks (rank 0) or the address nobody answered at (the others).
    """
    # torch's TCPStore client waits forever for an answer from a socket that accepted the
    # connection and stays silent (another program on a port someone else chose): the bound
    # then has to come from outside the call.
    stuck = (
        f"rank {env.rank}: no answer from the rendezvous at "
        f"{_address(env.master_addr, env.master_port)} within {timeout_s:g} s (a program that "
        "is not this job's rank 0 may listen there: a port another job also uses)"
    )
    with _watchdog(timeout_s + WATCHDOG_GRACE_S, stuck):
        return _join(env, timeout_s, mpi_comm)


def _join(env: DistEnv, timeout_s: float, mpi_comm):
    from torch.distributed import PrefixStore

    deadline = time.monotonic() + timeout_s
    addr, port = env.master_addr, env.master_port
    rank, world = env.rank, env.world_size
    agent = os.environ.get(AGENT_STORE_ENV) == "True"
    timeout = timedelta(seconds=timeout_s)
    store = None
    if mpi_comm is not None and not agent and "MASTER_PORT" not in os.environ:
        port, store = _port_over_mpi(mpi_comm, env, addr, timeout, deadline)
    where = _address(addr, port)
    if rank == 0 and not agent:
        store = store or _open(addr, port, world, timeout, where)
    else:
        store = _connect(addr, port, world, deadline, where, rank, agent)
    if agent:
        # as torch does for an agent's store: one key space per restart of the job
        attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
        store = PrefixStore(f"/worker/attempt_{attempt}", store)
    _meet(PrefixStore(PREFIX, store), env, deadline, timeout_s, where)
    return store, port


WATCHDOG_GRACE_S = 10.0


@contextlib.contextmanager
def _watchdog(seconds: float, message: str):
    """Exit the process (status 1, the message on stderr) if the block runs past ``seconds``:
    the launcher then ends the other ranks (mpirun, torchrun, srun --kill-on-bad-exit)."""
    done = threading.Event()

    def watch():
        if not done.wait(seconds):
            print(f"mlperf-submit: error: {message}; {ENV} sets this timeout", file=sys.stderr,
                  flush=True)  # fmt: skip
            os._exit(EXIT_FAIL)

    threading.Thread(target=watch, name="rendezvous-watchdog", daemon=True).start()
    try:
        yield
    finally:
        done.set()


def _open(addr: str, port: int, world: int, timeout: timedelta, where: str):
    from torch.distributed import TCPStore

    try:
        # wait_for_workers=False: _meet waits, and can say which rank did not come
        return TCPStore(addr, port, world, True, timeout, wait_for_workers=False,
                        multi_tenant=True)  # fmt: skip
    except Exception as err:
        raise RendezvousError(
            f"rank 0 cannot open the rendezvous at {where}: {_why(err)}. Another process "
            "listens there: choose a free MASTER_PORT, or leave MASTER_PORT unset under mpirun "
            "(rank 0 then picks a free port)"
        ) from None


def _connect(addr, port, world, deadline, where, rank, agent):
    from torch.distributed import TCPStore

    left = max(deadline - time.monotonic(), 0.001)
    try:
        return TCPStore(addr, port, world, False, timedelta(seconds=left))
    except Exception as err:
        owner = "torchrun's agent" if agent else "rank 0"
        raise RendezvousError(
            f"rank {rank}: nobody answered at {where} within {left:.0f} s: {owner}, which opens "
            f"the rendezvous there, did not start, died, or listens elsewhere ({_why(err)})"
        ) from None


MPI_TAG = 29_511  # the "I am here" messages of _port_over_mpi


def _port_over_mpi(comm, env: DistEnv, addr: str, timeout: timedelta, deadline: float):
    """Rank 0 opens the store on a port the kernel picks and broadcasts the port (or why it
    could not) once every rank said it is here; returns ``(port, the store on rank 0 | None)``.

    Every wait is a non-blocking request polled with short sleeps: MPI busy-polls inside a
    blocking call, and a rank spinning on a core slows a peer still importing torch beside it.
    """
    seconds = timeout.total_seconds()
    error, port, store, sent = "", 0, None, None
    if env.rank == 0:
        try:
            store = _open(addr, 0, env.world_size, timeout, _address(addr, 0))
            port = store.port
        except RendezvousError as err:
            error = str(err)
        pending = {r: comm.irecv(source=r, tag=MPI_TAG) for r in range(1, env.world_size)}
        while pending and not error:
            pending = {r: req for r, req in pending.items() if not req.test()[0]}
            if pending and time.monotonic() > deadline:
                names = ", ".join(map(str, sorted(pending)))
                error = (
                    f"rank{'s' if len(pending) > 1 else ''} {names} of {env.world_size} did not "
                    f"reach the rendezvous within {seconds:g} s (over MPI, before the store at "
                    f"{_address(addr, port)}); {ENV} sets this timeout"
                )
                for req in pending.values():
                    req.Cancel()
            time.sleep(0.01)
        if error:
            raise RendezvousError(f"rank 0: {error}")  # the CLI then aborts the MPI job
    else:
        sent = comm.isend(env.rank, dest=0, tag=MPI_TAG)
    request = comm.Ibarrier()
    while not request.Test():
        if time.monotonic() > deadline:
            raise RendezvousError(
                f"rank {env.rank}: rank 0 did not open the rendezvous within {seconds:g} s "
                f"(over MPI); {ENV} sets this timeout"
            )
        time.sleep(0.01)
    port = comm.bcast(port, root=0)
    if sent is not None:
        sent.wait()  # delivered: rank 0 passed the barrier only after receiving it
    return port, store


def _meet(store, env: DistEnv, deadline: float, timeout_s: float, where: str) -> None:
    """Each rank sets ``rank/<r>`` and waits for every other rank's key."""
    store.set(f"rank/{env.rank}", socket.gethostname())
    keys = [f"rank/{r}" for r in range(env.world_size)]
    left = max(deadline - time.monotonic(), 0.001)
    try:
        store.wait(keys, timedelta(seconds=left))
        return
    except Exception as err:
        reason = _why(err)
    try:
        missing = [r for r in range(env.world_size) if not store.check([f"rank/{r}"])]
    except Exception:  # the store itself is gone (rank 0 died): say so
        missing = []
    if missing:
        names = ", ".join(map(str, missing))
        raise RendezvousError(
            f"rank {env.rank}: rank{'s' if len(missing) > 1 else ''} {names} of "
            f"{env.world_size} did not join the rendezvous at {where} within {timeout_s:g} s "
            f"(not started, or died before it got there); {ENV} sets this timeout"
        ) from None
    raise RendezvousError(
        f"rank {env.rank}: the rendezvous at {where} failed before every rank arrived: {reason}"
    ) from None


def _why(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return text[-1] if text else type(err).__name__
