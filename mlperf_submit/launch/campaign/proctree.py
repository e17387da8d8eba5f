"""Every process a job started, and how to end them all.

A launcher's children do not stay in its process group: Open MPI's ``prterun`` puts each rank in
a process group of its own, so ``killpg`` of the launcher leaves the ranks running (parented to
init once the launcher is gone). They do keep its *session*. So a job is started as the leader
of a new session (``start_new_session=True``: its pid is the session id) and ended by signalling
every process of that session and every descendant of the leader (a process that left the
session still has its parent chain)::

    proc = subprocess.Popen(argv, start_new_session=True)
    ...
    end_job(proc.pid)                # SIGTERM to all, then SIGKILL to what is left after grace_s

    run_job(argv, timeout=240)       # subprocess.run, but a timeout or an exception ends the
                                     # whole job, not only the launcher

A process that is a *child subreaper* (:func:`become_subreaper`, Linux) adopts the orphans of
its descendants instead of init: the tests use it to assert that nothing they started outlives
them (:func:`descendants` of the test process). Only ``/proc/<pid>/stat`` is read (no other
process's environment or files), and only processes of the given session or descendants of the
given pid are ever signalled.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import time
from dataclasses import dataclass

PR_SET_CHILD_SUBREAPER = 36


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    pgid: int
    sid: int
    state: str  # R, S, D, Z (zombie), ...

    @property
    def alive(self) -> bool:
        return self.state not in ("Z", "X")

    def command(self) -> str:
        try:
            with open(f"/proc/{self.pid}/cmdline", "rb") as f:
                return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            return "?"


def processes() -> dict[int, Proc]:
    """Every process visible in /proc (pid -> Proc); processes that end meanwhile are skipped."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read().decode(errors="replace")
        except OSError:
            continue
        # "pid (comm) state ppid pgrp session ...": comm may hold spaces and parentheses
        fields = stat.rsplit(")", 1)[1].split()
        table[int(name)] = Proc(
            int(name), int(fields[1]), int(fields[2]), int(fields[3]), fields[0]
        )
    return table


def descendants(pid: int, table: dict[int, Proc] | None = None) -> list[Proc]:
    """The live processes below ``pid`` (children, grandchildren, ...), in no special order."""
    table = processes() if table is None else table
    children: dict[int, list[Proc]] = {}
    for p in table.values():
        children.setdefault(p.ppid, []).append(p)
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            todo.append(child.pid)
            if child.alive:
                out.append(child)
    return out


def job_processes(leader: int, table: dict[int, Proc] | None = None) -> list[Proc]:
    """The live processes of the job whose leader is ``leader``: its session and its
    descendants (the leader itself included while it lives)."""
    table = processes() if table is None else table
    found = {p.pid: p for p in table.values() if p.sid == leader and p.alive}
    found.update((p.pid, p) for p in descendants(leader, table))
    me = os.getpid()
    return [p for p in found.values() if p.pid != me]


def signal_job(leader: int, sig: int) -> int:
    """Send ``sig`` to every process of the job; returns how many were signalled."""
    procs = job_processes(leader)
    for p in procs:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(p.pid, sig)
    return len(procs)


def end_job(leader: int, *, grace_s: float = 5.0, poll_s: float = 0.05) -> None:
    """SIGTERM every process of the job, wait up to ``grace_s`` for them, SIGKILL the rest."""
    if not signal_job(leader, signal.SIGTERM):
        return
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        _reap(leader)
        if not job_processes(leader):
            return
        time.sleep(poll_s)
    signal_job(leader, signal.SIGKILL)
    _reap(leader)


def _reap(pid: int) -> None:
    # our own child (the leader) must not stay a zombie that looks like a process of the job
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def run_job(
    argv: list[str], *, timeout: float, grace_s: float = 5.0, **popen_kwargs
) -> subprocess.CompletedProcess:
    """``subprocess.run(argv, timeout=...)`` for a job of several processes: it runs in a new
    session, and a timeout (``subprocess.TimeoutExpired`` is raised as usual), Ctrl-C or any
    other exception ends every process of the job, not only the one started."""
    capture = popen_kwargs.pop("capture_output", False)
    if capture:
        popen_kwargs.setdefault("stdout", subprocess.PIPE)
        popen_kwargs.setdefault("stderr", subprocess.PIPE)
    with subprocess.Popen(argv, start_new_session=True, **popen_kwargs) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except BaseException:
            end_job(proc.pid, grace_s=grace_s)
            proc.kill()
            proc.communicate()
            raise
        finally:
            # ranks a launcher left behind (it exited, they did not) end with it
            if job_processes(proc.pid):
                end_job(proc.pid, grace_s=grace_s)
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def become_subreaper() -> bool:
    """Adopt the orphans of our descendants (Linux ``PR_SET_CHILD_SUBREAPER``), so that they
    are still found by :func:`descendants`; False where the call is not available."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False
