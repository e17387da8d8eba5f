"""campaign.json: the record of a campaign's runs (schema in docs/DESIGN.md).

Written atomically (temporary file in the same directory, fsync, ``os.replace``) under an
advisory lock, so a campaign killed at any moment, a Slurm job and the login-node process that
follows it never leave a half-written or lost update::

    with locked_manifest(out_dir) as m:      # read (or None), modify, written back on exit
        m.runs[0].status = "converged"

    m = read_manifest(out_dir)               # read-only; InputError names the file if garbled
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path

from mlperf_submit.errors import InputError

FORMAT = "mlperf-submit campaign 1"
MANIFEST = "campaign.json"

CONVERGED = "converged"
NOT_CONVERGED = "not converged"
CRASHED = "crashed"
TIMED_OUT = "timed out"
INTERRUPTED = "interrupted"
PENDING = "pending"
RUNNING = "running"
STATUSES = (PENDING, RUNNING, CONVERGED, NOT_CONVERGED, CRASHED, TIMED_OUT, INTERRUPTED)
FINISHED = (CONVERGED, NOT_CONVERGED)  # a result: kept by --resume
FAILED = (CRASHED, TIMED_OUT)  # kept by --resume, re-run with --retry-failed
UNFINISHED = (PENDING, RUNNING, INTERRUPTED)  # always re-run by --resume


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@dataclass
class RunRecord:
    index: int
    seed: int | None = None
    status: str = PENDING
    exit_code: int | None = None
    start: str | None = None
    end: str | None = None
    duration_s: float | None = None
    hosts: list[str] = field(default_factory=list)
    command: str = ""
    log: str = ""
    output: str = ""
    cache_cleared: bool = False
    ruleset: str = ""
    division: str = ""
    data: str = ""
    last_eval: list | None = None  # [progress (epoch or samples), value]
    started: bool | None = None  # run_start was logged (False: it never got that far)
    note: str | None = None
    attempts: list[dict] = field(default_factory=list)

    def all_seeds(self) -> list[int]:
        seeds = [a.get("seed") for a in self.attempts] + [self.seed]
        return [s for s in seeds if isinstance(s, int)]


@dataclass
class Manifest:
    benchmark: str
    ruleset: str
    division: str
    data: str
    launcher: str
    runs_requested: int
    data_dir: str | None = None
    preset: str | None = None
    nodes: int = 1
    nproc_per_node: int = 1
    gpus_per_node: int = 0  # srun/slurm: --gpus-per-node (0: none requested)
    cpus_per_task: int | None = None  # srun/slurm: --cpus-per-task (None: run.sub derives it)
    exclusive: bool = False  # srun/slurm: --exclusive
    rendezvous_timeout_s: float | None = None  # MLPERF_SUBMIT_RENDEZVOUS_TIMEOUT of the runs
    container: str | None = None
    cache_clear: str = "auto"  # auto | off | the site's command; --resume keeps it
    command: str = ""
    train_args: list[str] = field(default_factory=list)
    state: str = RUNNING
    slurm_jobs: list[str] = field(default_factory=list)
    sbatch_args: list[str] = field(default_factory=list)  # slurm: kept for --resume
    time_limit: str | None = None
    created: str = field(default_factory=now_iso)
    updated: str = field(default_factory=now_iso)
    runs: list[RunRecord] = field(default_factory=list)
    # the live projection of the full run set (launch/campaign/outlook.py): the latest, and one
    # compact record per finished run
    projection: dict | None = None
    projection_history: list[dict] = field(default_factory=list)
    format: str = FORMAT

    def finished_runs(self) -> list[RunRecord]:
        return [r for r in self.runs if r.status in FINISHED]

    def used_seeds(self) -> set[int]:
        return {s for r in self.runs for s in r.all_seeds()}

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1) + "\n"


def _from_dict(data: object, path: Path) -> Manifest:
    if not isinstance(data, dict):
        raise InputError(f"{path}: not a campaign manifest (a JSON object is expected)")
    if data.get("format") != FORMAT:
        raise InputError(
            f"{path}: unknown manifest format {data.get('format')!r} (expected {FORMAT!r})"
        )
    known = {f.name for f in fields(Manifest)}
    try:
        runs = [_run_from_dict(r, path, i) for i, r in enumerate(data.get("runs", []))]
        kwargs = {k: v for k, v in data.items() if k in known and k != "runs"}
        manifest = Manifest(**kwargs, runs=runs)
    except TypeError as err:
        raise InputError(f"{path}: missing or unexpected manifest fields: {err}") from None
    for key, typ in (("benchmark", str), ("runs_requested", int), ("launcher", str)):
        if not isinstance(getattr(manifest, key), typ):
            raise InputError(f"{path}: {key!r} must be a {typ.__name__}")
    return manifest


def _run_from_dict(data: object, path: Path, i: int) -> RunRecord:
    if not isinstance(data, dict):
        raise InputError(f"{path}: runs[{i}] is not an object")
    known = {f.name for f in fields(RunRecord)}
    try:
        run = RunRecord(**{k: v for k, v in data.items() if k in known})
    except TypeError as err:
        raise InputError(f"{path}: runs[{i}]: {err}") from None
    if run.status not in STATUSES:
        raise InputError(f"{path}: runs[{i}] has unknown status {run.status!r}")
    if not isinstance(run.index, int) or (run.seed is not None and not isinstance(run.seed, int)):
        raise InputError(f"{path}: runs[{i}]: index and seed must be integers")
    return run


MAX_BYTES = 64 << 20  # a manifest of 10,000 runs is a few MB


def read_manifest(out_dir: str | os.PathLike) -> Manifest:
    path = Path(out_dir) / MANIFEST
    if os.path.lexists(path) and not path.is_file():
        kind = "a directory" if path.is_dir() else (
            "a symbolic link loop or a broken link" if path.is_symlink() and not path.exists()
            else "not a regular file"
        )  # fmt: skip
        raise InputError(f"{path}: {kind}, not a campaign manifest")
    if path.is_file() and path.stat().st_size > MAX_BYTES:
        raise InputError(f"{path}: {path.stat().st_size >> 20} MiB, not a campaign manifest")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no campaign manifest here") from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: cannot read the campaign manifest: {err}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(f"{path}:{err.lineno}: not valid JSON ({err.msg})") from None
    return _from_dict(data, path)


def unusable_run_logs(out_dir: str | os.PathLike, manifest: Manifest) -> list[str]:
    """The recorded run logs that exist but are not regular files: ``path: reason`` (a
    report or a package cannot use them; a missing log is a run without a result)."""
    out = []
    for r in manifest.runs:
        if not r.log:
            continue
        path = Path(out_dir) / r.log
        if os.path.lexists(path) and not path.is_file():
            kind = "a directory" if path.is_dir() else (
                "a symbolic link loop or a broken link" if path.is_symlink()
                and not path.exists() else "not a regular file (a named pipe?)"
            )  # fmt: skip
            out.append(f"{path}: {kind}, not a run log")
    return out


def write_manifest(out_dir: str | os.PathLike, manifest: Manifest) -> None:
    """Atomic replace: readers see the old or the new file, never a mixture."""
    out = Path(out_dir)
    manifest.updated = now_iso()
    fd, tmp = tempfile.mkstemp(prefix=".campaign.", suffix=".tmp", dir=out)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(manifest.to_json())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, out / MANIFEST)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def manifest_lock(out_dir: str | os.PathLike) -> Iterator[None]:
    """An exclusive flock on ``campaign.json.lock`` (writers on any host of a shared FS)."""
    lock_path = Path(out_dir) / (MANIFEST + ".lock")
    with open(lock_path, "a") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def locked_manifest(out_dir: str | os.PathLike) -> Iterator[Manifest]:
    """Read, let the caller modify, write back: one atomic read-modify-write."""
    with manifest_lock(out_dir):
        manifest = read_manifest(out_dir)
        yield manifest
        write_manifest(out_dir, manifest)
