"""The campaign loop: N seeded runs of one benchmark, each recorded in campaign.json.

    from mlperf_submit.launch.campaign.runner import CampaignConfig, run_campaign
    rc = run_campaign(CampaignConfig(benchmark="resnet", out=Path("out/resnet"), runs=5, ...))

Per run: draw a seed from OS entropy (never one this campaign used before), clear the caches
(:mod:`.cache`; ``--cache-cleared`` goes to ``train`` only if that really happened), start
``train`` under the launcher (:mod:`.commandline`) with its console in ``run_<i>.out`` and its
MLPerf log in ``run_<i>.log``, follow the log for the progress line, enforce ``--timeout``,
then classify the run (:func:`classify`) and write the manifest (atomically, under a lock).

SIGINT / SIGTERM: the running ``train`` gets SIGTERM (its whole process group, then SIGKILL
after a grace period), the run is recorded as ``interrupted``, the campaign as interrupted, and
we exit 130 / 143. ``--resume`` later re-runs exactly the runs without a result (pending,
running, interrupted; and crashed / timed out with ``--retry-failed``); their earlier files
move to ``<benchmark>/attempts/`` so nothing is overwritten.

Exit code: 0 when every requested run has a result (converged or not converged), 1 when some
crashed or timed out, 130/143 when interrupted.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import socket
import subprocess
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mlperf_submit.errors import UsageError
from mlperf_submit.launch.campaign import manifest as mf
from mlperf_submit.launch.campaign import proctree
from mlperf_submit.launch.campaign.cache import CacheResult, clear_caches
from mlperf_submit.launch.campaign.commandline import LaunchSpec, cache_clear_argv, wrap
from mlperf_submit.launch.campaign.logtail import LogTail
from mlperf_submit.launch.campaign.outlook import CampaignOutlook
from mlperf_submit.launch.campaign.progress_line import Progress
from mlperf_submit.launch.distributed.env import DEFAULT_MASTER_PORT, expand_hostlist
from mlperf_submit.launch.distributed.seeding import new_master_seed

# Options the campaign owns: they must not come through the pass-through `train` arguments.
OWNED_TRAIN_FLAGS = (
    "--seed",
    "--log",
    "--cache-cleared",
    "--ruleset",
    "--division",
    "--data",
    "--synthetic",
    "--preset",
)


@dataclass
class CampaignConfig:
    benchmark: str
    out: Path
    runs: int
    spec: LaunchSpec = field(default_factory=LaunchSpec)
    ruleset: str = ""
    division: str = "closed"
    data: str = "synthetic"  # synthetic | real
    data_dir: str | None = None
    preset: str | None = None
    train_args: list[str] = field(default_factory=list)  # after `--`
    timeout_s: float | None = None
    cache_clear: str = "auto"  # auto | off | a shell command
    resume: bool = False
    retry_failed: bool = False
    run_index: int | None = None  # only this run (the Slurm batch script's loop)
    command: str = ""  # how the campaign was started, for the manifest
    grace_s: float = 10.0  # SIGTERM -> SIGKILL
    launcher_name: str | None = None  # recorded launcher (slurm for the loop inside sbatch)
    sbatch_args: list[str] = field(default_factory=list)  # slurm only
    time_limit: str | None = None  # slurm only: #SBATCH --time

    def base_train_args(self) -> list[str]:
        args = ["--ruleset", self.ruleset, "--division", self.division]
        if self.preset:
            args = ["--preset", self.preset, *args]
        if self.data_dir:
            args += ["--synthetic" if self.data == "synthetic" else "--data", self.data_dir]
        return [*args, *self.train_args]


def check_train_args(args: list[str]) -> None:
    for arg in args:
        flag = arg.split("=", 1)[0]
        if flag in OWNED_TRAIN_FLAGS:
            raise UsageError(
                f"{flag} after `--` is set by the campaign: give it as a campaign option "
                "(--preset/--ruleset/--division/--data/--synthetic) or leave it out (--seed, "
                "--log and --cache-cleared are per run)"
            )


def error_line(path: Path, max_bytes: int = 65536) -> str | None:
    """The last ``mlperf-submit: error: ...`` line of a run's console (any rank): why it
    crashed, e.g. the rank that never joined the rendezvous."""
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.path.getsize(path) - max_bytes))
            text = f.read().decode(errors="replace")
    except OSError:
        return None
    marker = "mlperf-submit: error: "
    lines = [ln.split(marker, 1)[1].strip() for ln in text.splitlines() if marker in ln]
    return lines[-1] if lines else None


def classify(rc: int | None, run_stop: str | None, reason: str | None) -> tuple[str, str | None]:
    """(status, note) of a finished run from its exit code, the log's run_stop and why we
    stopped it. torchrun turns every worker failure into exit 1, so the log's run_stop status
    decides between converged and not converged whenever it is there."""
    if reason == mf.INTERRUPTED:
        return mf.INTERRUPTED, "stopped by a signal to the campaign"
    if reason == mf.TIMED_OUT:
        return mf.TIMED_OUT, "killed after --timeout"
    if run_stop == "success":
        return mf.CONVERGED, None if rc == 0 else f"exit code {rc} after run_stop success"
    if run_stop == "aborted":
        return mf.NOT_CONVERGED, None if rc == 3 else f"exit code {rc} with run_stop aborted"
    if rc == 0:
        return mf.CRASHED, "exit code 0 but the log has no run_stop"
    if rc is not None and rc < 0:
        try:
            name = signal.Signals(-rc).name
        except ValueError:
            name = f"signal {-rc}"
        return mf.CRASHED, f"killed by {name}"
    if rc == 2:
        return mf.CRASHED, "train refused its arguments or input (exit 2)"
    return mf.CRASHED, f"exit code {rc}"


# -- preparing the manifest -------------------------------------------------------------------
def _compatible(cfg: CampaignConfig, m: mf.Manifest, path: Path) -> None:
    diffs = [
        f"{name}: campaign has {old!r}, now {new!r}"
        for name, old, new in (
            ("benchmark", m.benchmark, cfg.benchmark),
            ("ruleset", m.ruleset, cfg.ruleset),
            ("division", m.division, cfg.division),
            ("data", m.data, cfg.data),
            ("data dir", m.data_dir, cfg.data_dir),
            ("preset", m.preset, cfg.preset),
            ("train args", m.train_args, cfg.train_args),
        )
        if old != new
    ]
    if diffs:
        raise UsageError(
            f"{path}: --resume with different settings ({'; '.join(diffs)}); resume with the "
            "same options or start a new campaign in another --out directory"
        )


def prepare(cfg: CampaignConfig) -> mf.Manifest:
    """Create the campaign (or check the one to resume) and return its manifest."""
    out = cfg.out
    path = out / mf.MANIFEST
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file")
    out.mkdir(parents=True, exist_ok=True)
    (out / cfg.benchmark).mkdir(exist_ok=True)
    with mf.manifest_lock(out):
        if os.path.lexists(path):  # a broken or looping link is read (and refused) too
            if not cfg.resume:
                raise UsageError(
                    f"{path} exists: pass --resume to finish that campaign, or choose a new --out"
                )
            m = mf.read_manifest(out)
            _compatible(cfg, m, path)
            if cfg.runs < len(m.runs):
                raise UsageError(
                    f"{path}: the campaign has {len(m.runs)} runs; --runs {cfg.runs} cannot "
                    "shrink it"
                )
            for i in range(len(m.runs), cfg.runs):
                m.runs.append(mf.RunRecord(index=i))
            m.runs_requested = len(m.runs)
            m.state = mf.RUNNING
        else:
            if cfg.resume and cfg.run_index is None:
                raise UsageError(f"--resume: no campaign to resume ({path} does not exist)")
            stray = sorted((out / cfg.benchmark).glob("run_*.log"))
            if stray:
                raise UsageError(
                    f"{out / cfg.benchmark} already holds run logs ({stray[0].name} ...) but no "
                    f"{mf.MANIFEST}: choose a new --out so they are not overwritten"
                )
            m = mf.Manifest(
                benchmark=cfg.benchmark,
                ruleset=cfg.ruleset,
                division=cfg.division,
                data=cfg.data,
                data_dir=cfg.data_dir,
                preset=cfg.preset,
                launcher=cfg.launcher_name or cfg.spec.launcher,
                nodes=cfg.spec.nodes,
                nproc_per_node=cfg.spec.nproc_per_node,
                gpus_per_node=cfg.spec.gpus_per_node,
                cpus_per_task=cfg.spec.cpus_per_task,
                exclusive=cfg.spec.exclusive,
                rendezvous_timeout_s=cfg.spec.rendezvous_timeout_s,
                container=cfg.spec.container,
                cache_clear=cfg.cache_clear,
                sbatch_args=list(cfg.sbatch_args),
                time_limit=cfg.time_limit,
                runs_requested=cfg.runs,
                command=cfg.command,
                train_args=list(cfg.train_args),
                runs=[mf.RunRecord(index=i) for i in range(cfg.runs)],
            )
        mf.write_manifest(out, m)
    return m


def runs_to_do(m: mf.Manifest, *, retry_failed: bool, only: int | None = None) -> list[int]:
    """Runs without a result; a crashed or timed-out run is redone with ``retry_failed``, or
    when it never reached run_start (a rank missing at the rendezvous: there is no result to
    keep, so running it again picks nothing)."""
    redo = mf.UNFINISHED + (mf.FAILED if retry_failed else ())
    todo = [
        r.index
        for r in m.runs
        if r.status in redo or (r.status in mf.FAILED and r.started is False)
    ]
    if only is not None:
        if not 0 <= only < len(m.runs):
            raise UsageError(f"--run-index {only}: the campaign has runs 0..{len(m.runs) - 1}")
        todo = [i for i in todo if i == only]
    return todo


def exit_code_of(m: mf.Manifest) -> int:
    return 0 if all(r.status in mf.FINISHED for r in m.runs) else 1


# -- running ----------------------------------------------------------------------------------
class _Stop:
    """Signal bookkeeping: the handler only records; the loop acts (no work in handlers)."""

    def __init__(self):
        self.signum: int | None = None
        self.count = 0

    def __call__(self, signum, _frame):
        self.signum = self.signum or signum
        self.count += 1


class Campaign:
    def __init__(self, cfg: CampaignConfig, progress: Progress | None = None):
        self.cfg = cfg
        self.stop = _Stop()
        self.m = prepare(cfg)
        self.progress = progress or Progress(cfg.benchmark, len(self.m.runs))
        self.progress.durations = [
            r.duration_s for r in self.m.runs if r.status in mf.FINISHED and r.duration_s
        ]
        self.outlook = CampaignOutlook(cfg.out, cfg.benchmark, cfg.ruleset, cfg.division)

    # ---- the loop
    def run(self) -> int:
        todo = runs_to_do(self.m, retry_failed=self.cfg.retry_failed, only=self.cfg.run_index)
        old = self._install_handlers()
        try:
            for n, index in enumerate(todo):
                if self.stop.signum:
                    break
                self.run_one(index, remaining=len(todo) - n - 1)
        finally:
            self._restore_handlers(old)
            self._finish_state()
        if self.stop.signum:
            return 128 + self.stop.signum
        if self.cfg.run_index is not None:
            return 0  # one run of the Slurm loop: its status is in the manifest
        return exit_code_of(self.m)

    def _install_handlers(self):
        if threading.current_thread() is not threading.main_thread():
            return None
        return {s: signal.signal(s, self.stop) for s in (signal.SIGINT, signal.SIGTERM)}

    def _restore_handlers(self, old):
        for sig, handler in (old or {}).items():
            signal.signal(sig, handler)

    def _finish_state(self):
        with mf.locked_manifest(self.cfg.out) as m:
            for r in m.runs:  # a run this process left running was interrupted
                if r.status == mf.RUNNING and self.stop.signum:
                    r.status, r.note = mf.INTERRUPTED, "campaign stopped by a signal"
            if all(r.status not in mf.UNFINISHED for r in m.runs) and not self.stop.signum:
                m.state = "finished"
            elif self.stop.signum or self.cfg.run_index is None:
                m.state = mf.INTERRUPTED  # stopped before the end (signal, bad arguments)
            self.m = m

    # ---- one run
    def run_one(self, index: int, remaining: int) -> mf.RunRecord:
        cfg = self.cfg
        bm_dir = cfg.out / cfg.benchmark
        log_rel, out_rel = f"{cfg.benchmark}/run_{index}.log", f"{cfg.benchmark}/run_{index}.out"
        with mf.locked_manifest(cfg.out) as m:
            rec = m.runs[index]
            if rec.status != mf.PENDING or (bm_dir / f"run_{index}.log").exists():
                self._archive(rec, bm_dir)
            seed = self._fresh_seed(m)
            rec.seed, rec.status, rec.note = seed, mf.RUNNING, "clearing caches"
            rec.start = mf.now_iso()
            self.m = m
        cache = self._clear_caches()
        if self.stop.signum:  # Ctrl-C while the caches were being cleared: do not start it
            with mf.locked_manifest(cfg.out) as m:
                rec = m.runs[index]
                rec.status, rec.note, rec.end = (
                    mf.INTERRUPTED,
                    "stopped before it started",
                    mf.now_iso(),
                )
                self.m = m
            return rec
        args = ["--seed", str(seed), "--log", str(cfg.out / log_rel)]
        if cache.cleared:
            args.append("--cache-cleared")
        port = self._master_port()
        argv, extra_env = wrap(
            cfg.spec, cfg.benchmark, args + cfg.base_train_args(), master_port=port
        )
        with mf.locked_manifest(cfg.out) as m:
            rec = m.runs[index]
            rec.command = shlex.join(argv)
            rec.hosts = self._hosts()
            rec.log, rec.output = log_rel, out_rel
            rec.cache_cleared = cache.cleared
            rec.ruleset, rec.division, rec.data = cfg.ruleset, cfg.division, cfg.data
            # why the caches were not cleared, unless the user asked for that (--no-cache-clear)
            cache_note = None if cache.cleared or cfg.cache_clear == "off" else cache.how
            rec.note = cache_note
            rec.exit_code = rec.end = rec.duration_s = rec.last_eval = None
            self.m = m
        number = index + 1
        self.progress.message(f"run {number}/{len(self.m.runs)} seed {seed}: {cache.how}")
        rc, reason, tail, elapsed = self._execute(argv, extra_env, index, seed, remaining)
        status, note = classify(rc, tail.run_stop_status, reason)
        if status == mf.CRASHED and (why := error_line(cfg.out / out_rel)):
            note = f"{note}: {why}"
        with mf.locked_manifest(cfg.out) as m:
            rec = m.runs[index]
            rec.status, rec.exit_code = status, rc
            rec.started = tail.run_started
            rec.end, rec.duration_s = mf.now_iso(), round(elapsed, 3)
            rec.last_eval = list(tail.last_eval) if tail.last_eval else None
            notes = [n for n in (note, cache_note) if n]
            rec.note = "; ".join(notes) or None
            self.m = m
        if status in mf.FINISHED:
            self.progress.durations.append(elapsed)
        self.progress.message(
            f"run {number}/{len(self.m.runs)} {status} in {elapsed:.1f} s (exit {rc})"
            + (f": {rec.note}" if rec.note else "")
            + f"  [{log_rel}]"
        )
        self.progress.note = ""
        for line in self.outlook.after_run(index):
            self.progress.message(line)
        if status == mf.CRASHED and rc == 2 and tail.n_mllog == 0:
            raise UsageError(
                f"run {index} stopped at once with exit 2 (bad arguments or input), so the "
                f"campaign stops here; see {cfg.out / out_rel}:\n{_tail_text(cfg.out / out_rel)}"
            )
        return rec

    def _archive(self, rec: mf.RunRecord, bm_dir: Path) -> None:
        """Move an earlier attempt's files to attempts/ and keep its record."""
        k = len(rec.attempts)
        moved = {}
        for suffix in ("log", "out"):
            src = bm_dir / f"run_{rec.index}.{suffix}"
            if src.exists():
                (bm_dir / "attempts").mkdir(exist_ok=True)
                dst = bm_dir / "attempts" / f"run_{rec.index}.{k}.{suffix}"
                os.replace(src, dst)
                moved[suffix] = str(dst.relative_to(self.cfg.out))
        old = asdict(rec)
        old.pop("attempts")
        old["log"], old["output"] = moved.get("log"), moved.get("out")
        if rec.status == mf.RUNNING:
            old["status"] = mf.INTERRUPTED
            old["note"] = "the campaign stopped while it ran (found running on resume)"
        attempts = [*rec.attempts, old]
        fresh = mf.RunRecord(index=rec.index, attempts=attempts)
        for name in fresh.__dataclass_fields__:
            setattr(rec, name, getattr(fresh, name))

    def _fresh_seed(self, m: mf.Manifest) -> int:
        used = m.used_seeds()
        while True:
            seed = new_master_seed()
            if seed not in used:
                return seed

    def _clear_caches(self) -> CacheResult:
        mode = self.cfg.cache_clear
        if mode == "auto":
            every_node = cache_clear_argv(self.cfg.spec)
            if every_node is not None:  # the run spans nodes: clear them all, or say it failed
                mode = shlex.join(every_node)
        return clear_caches(mode)

    def _master_port(self) -> int | None:
        if self.cfg.spec.launcher == "srun":
            return int(os.environ.get("MASTER_PORT") or DEFAULT_MASTER_PORT)
        return None  # torchrun and mpirun bind a port themselves (commandline.py says why)

    def _hosts(self) -> list[str]:
        spec = self.cfg.spec
        if spec.launcher == "srun":
            nodelist = os.environ.get("SLURM_JOB_NODELIST", "")
            try:
                return expand_hostlist(nodelist)[: spec.nodes] if nodelist else []
            except ValueError:
                return [nodelist]
        if spec.launcher == "mpirun" and spec.hosts:
            return list(spec.hosts)
        return [socket.gethostname()]

    def _execute(self, argv, extra_env, index, seed, remaining):
        cfg = self.cfg
        log_path = cfg.out / cfg.benchmark / f"run_{index}.log"
        out_path = cfg.out / cfg.benchmark / f"run_{index}.out"
        env = {**os.environ, **extra_env, "PYTHONUNBUFFERED": "1"}
        tail = LogTail(log_path)
        t0 = time.monotonic()
        reason = None
        term_at = None
        killed = False
        with open(out_path, "ab") as out:
            out.write(f"+ {shlex.join(argv)}\n".encode())
            out.flush()
            try:
                proc = subprocess.Popen(
                    argv, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
                )
            except OSError as err:
                raise UsageError(f"cannot start {argv[0]}: {err}") from None
            while True:
                try:
                    rc = proc.wait(timeout=0.5)
                except subprocess.TimeoutExpired:
                    rc = None
                elapsed = time.monotonic() - t0
                changed = tail.poll()
                if changed and tail.last_eval is not None and tail.run_stop_status is None:
                    self.progress.note = self.outlook.during_run(index, log_path) or ""
                self.progress.update(
                    index + 1, seed, elapsed, remaining, tail.last_eval, changed=changed
                )
                if rc is not None:
                    break
                if reason is None and self.stop.signum:
                    reason = mf.INTERRUPTED
                elif reason is None and cfg.timeout_s and elapsed > cfg.timeout_s:
                    reason = mf.TIMED_OUT
                if reason is not None and term_at is None:
                    term_at = time.monotonic()
                    _signal_group(proc.pid, signal.SIGTERM)
                overdue = term_at is not None and time.monotonic() - term_at > cfg.grace_s
                if term_at is not None and not killed and (overdue or self.stop.count > 1):
                    _signal_group(proc.pid, signal.SIGKILL)  # a second Ctrl-C: do not wait
                    killed = True
        if reason is None and self.stop.signum:
            # The signal reached the run's processes too (scancel signals every process of
            # the job) and they exited before this loop noticed it.
            reason = mf.INTERRUPTED
        # Stragglers of the run (a rank whose launcher died) must not outlive it.
        _signal_group(proc.pid, signal.SIGKILL)
        if cfg.spec.launcher == "srun" and (reason is not None or rc != 0):
            cancel_steps()  # tasks on other nodes are slurmd's children, not ours
        tail.poll()
        return rc, reason, tail, time.monotonic() - t0


def _signal_group(leader: int, sig: int) -> None:
    """Every process of the run: its session (Open MPI puts each rank in a process group of
    its own, so killpg of the launcher would miss them) and the launcher's descendants."""
    proctree.signal_job(leader, sig)


def cancel_steps(job_id: str | None = None) -> None:
    """scancel the steps a run left in this allocation (not the batch script's own step)."""
    job_id = job_id or os.environ.get("SLURM_JOB_ID")
    if not job_id:
        return
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        steps = subprocess.run(["squeue", "-h", "-s", "-j", job_id, "-o", "%i"],
                               capture_output=True, text=True, timeout=30).stdout.split()  # fmt: skip
        ours = [s for s in steps if not s.endswith((".batch", ".extern"))]
        if ours:
            subprocess.run(["scancel", "--signal=KILL", *ours], capture_output=True, timeout=30)


def _tail_text(path: Path, n: int = 15) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join("    " + ln for ln in lines[-n:])


def run_campaign(cfg: CampaignConfig, progress: Progress | None = None) -> int:
    return Campaign(cfg, progress).run()
