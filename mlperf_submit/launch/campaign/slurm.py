"""Slurm campaigns: write a run.sub-style batch script, sbatch it, follow the job.

``mlperf-submit campaign resnet --launcher slurm --nodes 2 --nproc-per-node 8 --out DIR ...``
on a login node:

1. creates ``DIR/campaign.json`` (or checks it for ``--resume``) and writes ``DIR/run.sub``;
2. ``sbatch --parsable DIR/run.sub`` (plus any ``--sbatch-arg``), records the job id;
3. follows the job (``squeue``), printing the progress line from the manifest and the running
   run's log, until it ends (``--no-wait`` returns after submitting); Ctrl-C / SIGTERM cancels
   the job (``scancel``), waits for it to end, and leaves the manifest consistent;
4. reads the job's final state (``scontrol show job``) and marks a run the job left running as
   ``interrupted`` (``timed out`` when the job hit its time limit).

Inside the allocation, run.sub runs the per-run loop: for each index,
``mlperf-submit campaign ... --launcher srun --run-index i`` clears the caches on every node
(``srun --ntasks-per-node=1``), runs ``srun --ntasks-per-node=P ... train`` and records the run
in the same manifest (shared filesystem), so logs and statuses land in the campaign layout
without a copy step. Resubmitting run.sub (or ``--resume``) finishes what is missing.

With ``--container IMAGE`` (pyxis/enroot), run.sub creates one container per node once
(``--container-image --container-name``) and every run reuses it by name; the campaign loop
itself runs on the host, so ``mlperf-submit`` must be installed there too (a venv on the shared
filesystem), and inside the image (docker/Dockerfile).
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from mlperf_submit.errors import InputError, UsageError
from mlperf_submit.launch.campaign import manifest as mf
from mlperf_submit.launch.campaign.commandline import CONTAINER_NAME, resource_flags
from mlperf_submit.launch.campaign.logtail import LogTail
from mlperf_submit.launch.campaign.progress_line import Progress
from mlperf_submit.launch.campaign.runner import CampaignConfig, _tail_text, exit_code_of, prepare

SCRIPT = "run.sub"
POLL_S = 1.0


def inner_campaign_argv(cfg: CampaignConfig) -> tuple[list[str], list[str]]:
    """(campaign options, train args) of the loop run.sub runs inside the allocation; the
    script adds ``--out "$OUT" --runs "$NEXP"`` so that those two can be overridden."""
    spec = cfg.spec
    opts = [
        sys.executable,
        "-m",
        "mlperf_submit",
        "campaign",
        cfg.benchmark,
        "--launcher",
        "srun",
        "--nodes",
        str(spec.nodes),
        "--nproc-per-node",
        str(spec.nproc_per_node),
        "--ruleset",
        cfg.ruleset,
        "--division",
        cfg.division,
    ]
    if cfg.preset:
        opts += ["--preset", cfg.preset]
    if cfg.data_dir:
        opts += ["--synthetic" if cfg.data == "synthetic" else "--data", cfg.data_dir]
    opts += ["--gpus-per-node", str(spec.gpus_per_node)]
    opts.append("--exclusive" if spec.exclusive else "--no-exclusive")
    if spec.rendezvous_timeout_s:
        opts += ["--rendezvous-timeout", f"{spec.rendezvous_timeout_s:g}"]
    if spec.container:
        opts += ["--container", spec.container]
    if cfg.timeout_s:
        opts += ["--timeout", str(cfg.timeout_s)]
    if cfg.retry_failed:
        opts.append("--retry-failed")
    if spec.extra:
        opts += ["--launcher-args", shlex.join(spec.extra)]
    return opts, list(cfg.train_args)


def render_script(cfg: CampaignConfig, *, time_limit: str | None = None) -> str:
    """The batch script. Deterministic (no dates), so a resubmission can compare it."""
    spec = cfg.spec
    opts, train = inner_campaign_argv(cfg)
    q = shlex.quote
    cache = "off" if cfg.cache_clear == "off" else cfg.cache_clear
    sbatch = [
        f"#SBATCH --job-name=mlperf-{cfg.benchmark}",
        f"#SBATCH --nodes={spec.nodes}",
        f"#SBATCH --ntasks-per-node={spec.nproc_per_node}",
        *(f"#SBATCH {flag}" for flag in resource_flags(spec)),
        f"#SBATCH --output={cfg.out / 'slurm-%j.out'}",
    ]
    if time_limit:
        sbatch.append(f"#SBATCH --time={time_limit}")
    lines = [
        "#!/bin/bash",
        *sbatch,
        f"# {cfg.benchmark}: {cfg.runs} seeded runs, {spec.nodes} node(s) x "
        f"{spec.nproc_per_node} task(s). Written by `mlperf-submit campaign --launcher slurm`;",
        "# `sbatch run.sub` again (or `mlperf-submit campaign ... --resume`) finishes what is",
        "# missing. Every variable below can be overridden from the submitting shell.",
        "set -euo pipefail",
        "",
        "# Required: this runs as a Slurm batch job.",
        ': "${SLURM_JOB_ID:?run.sub must be submitted with sbatch}"',
        ': "${SLURM_JOB_NODELIST:?no node list: not inside a Slurm allocation}"',
        "",
        "# Optional, with the campaign's values as defaults.",
        f': "${{OUT:={dq(str(cfg.out))}}}"',
        f': "${{NEXP:={cfg.runs}}}"',
        # one port per job, drawn below the kernel's ephemeral range (32768-) so that no
        # connection made meanwhile on the node can be given it; every run of the job uses it
        ': "${MASTER_PORT:=$(( 20000 + RANDOM % 10000 ))}"',
        f': "${{CONTAINER_IMAGE:={dq(spec.container or "")}}}"',
        f': "${{CACHE_CLEAR:={dq(cache)}}}"  # auto | off | a command that clears every node',
        f': "${{CPUS_PER_TASK:={spec.cpus_per_task or ""}}}"  # empty: the node\'s CPUs / tasks',
        "",
        "# Each task gets its share of the CPUs Slurm gave this node (DALI and the data loader",
        "# threads need cores); srun no longer inherits --cpus-per-task from sbatch (22.05).",
        'if [ -z "$CPUS_PER_TASK" ]; then',
        f"  CPUS_PER_TASK=$(( ${{SLURM_CPUS_ON_NODE:-1}} / {spec.nproc_per_node} ))",
        "  if (( CPUS_PER_TASK < 1 )); then CPUS_PER_TASK=1; fi",
        "fi",
        "",
        "# Rank 0 runs on the first node; use its address as Slurm knows it (NodeAddr), which",
        "# resolves even where node names do not.",
        'mapfile -t NODES < <(scontrol show hostnames "$SLURM_JOB_NODELIST")',
        'NODE_ADDR=$(scontrol show node "${NODES[0]}" | sed -n "s/.*NodeAddr=\\([^ ]*\\).*/\\1/p")',
        ': "${MASTER_ADDR:=${NODE_ADDR:-${NODES[0]}}}"',
        "export MASTER_ADDR MASTER_PORT",
        'echo "run.sub: job $SLURM_JOB_ID on ${NODES[*]}, MASTER_ADDR=$MASTER_ADDR:$MASTER_PORT"',
        "",
        'if [ -n "$CONTAINER_IMAGE" ]; then',
        "  # One container per node, created once; every run reuses it by name (pyxis).",
        f'  srun --ntasks-per-node=1 --container-image="$CONTAINER_IMAGE" '
        f"--container-name={CONTAINER_NAME} true",
        "fi",
        "",
        "CAMPAIGN=(",
        "  " + " ".join(q(a) for a in opts[:5]),
        *(f"  {' '.join(q(a) for a in pair)}" for pair in _option_lines(opts[5:])),
        '  --out "$OUT" --runs "$NEXP"',
        '  --cache-clear "$CACHE_CLEAR"',
        '  --cpus-per-task "$CPUS_PER_TASK"',
        ")",
        "TRAIN_ARGS=(" + " ".join(q(a) for a in train) + ")",
        "",
        "# The per-run loop. Each step: a fresh seed from OS entropy; caches dropped on every",
        "# node (srun --ntasks-per-node=1; cache_clear is logged True only if that worked);",
        "# srun "
        + " ".join(
            [
                f"--ntasks-per-node={spec.nproc_per_node}",
                *resource_flags(replace(spec, cpus_per_task=None)),
                "--cpus-per-task=$CPUS_PER_TASK",
            ]
        )
        + " train;",
        "# the status recorded in $OUT/campaign.json. Finished runs are skipped, so a",
        "# resubmission resumes.",
        "for (( i = 0; i < NEXP; i++ )); do",
        '  "${CAMPAIGN[@]}" --run-index "$i" -- "${TRAIN_ARGS[@]}"',
        "done",
        "",
    ]
    return "\n".join(lines)


def _option_lines(opts: list[str]) -> list[list[str]]:
    """``--flag value`` pairs on one line each, for a readable array."""
    lines: list[list[str]] = []
    for a in opts:
        if a.startswith("--") or not lines:
            lines.append([a])
        else:
            lines[-1].append(a)
    return lines


def dq(text: str) -> str:
    """``text`` escaped for a double-quoted shell word (``"${VAR:=text}"``), where single
    quotes would be taken literally."""
    for ch in ("\\", "$", "`", '"'):
        text = text.replace(ch, "\\" + ch)
    return text


def write_script(cfg: CampaignConfig, text: str) -> Path:
    path = cfg.out / SCRIPT
    if path.exists():
        if path.read_text(errors="replace") == text:
            return path
        raise UsageError(
            f"{path} exists and differs from the script this campaign would write (edited by "
            f"hand, or other options): submit it yourself with `sbatch {path}`, or move it away"
        )
    tmp = path.with_suffix(".sub.tmp")
    tmp.write_text(text)
    tmp.chmod(0o755)
    os.replace(tmp, path)
    return path


LOCAL_CLUSTER_HINT = (
    "To try it on this machine: `make slurm-up` (a two-node Slurm cluster here, as root), then "
    "`export SLURM_CONF=/tmp/mlperf-submit-slurm/slurm.conf` and run this again; "
    "`make slurm-down` stops it"
)


def _slurm(cmd: list[str], timeout: float = 60) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise UsageError(
            f"{cmd[0]} not found: Slurm's client commands are not installed here. On a cluster, "
            f"run this on a login node. {LOCAL_CLUSTER_HINT}"
        ) from None
    except subprocess.TimeoutExpired:
        raise UsageError(f"{shlex.join(cmd)} did not answer in {timeout:.0f} s") from None


def check_controller() -> None:
    """UsageError saying what to do when no Slurm controller answers (before anything is
    written: a campaign that cannot be submitted leaves no files)."""
    proc = _slurm(["sinfo", "-h", "-o", "%P"], timeout=60)
    if proc.returncode == 0:
        return
    lines = (proc.stderr or proc.stdout).strip().splitlines()
    why = lines[-1] if lines else f"exit {proc.returncode}"
    conf = os.environ.get("SLURM_CONF")
    where = f"SLURM_CONF={conf}" if conf else "SLURM_CONF is not set"
    raise UsageError(
        f"no Slurm controller answers (sinfo: {why}; {where}). On a cluster, run this on a "
        f"login node, where sinfo works. {LOCAL_CLUSTER_HINT}"
    )


def submit(script: Path, sbatch_args: list[str]) -> str:
    proc = _slurm(["sbatch", "--parsable", *sbatch_args, str(script)])
    if proc.returncode != 0:
        raise UsageError(f"sbatch {script} failed: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout.strip().split(";")[0]


def job_state(job_id: str) -> str | None:
    """squeue's state while the job is known to it, else scontrol's final one, else None."""
    proc = _slurm(["squeue", "-h", "-j", job_id, "-o", "%T"])
    state = proc.stdout.strip() if proc.returncode == 0 else ""
    if state:
        return state
    proc = _slurm(["scontrol", "show", "job", "-o", job_id])
    for field in proc.stdout.split():
        if field.startswith("JobState="):
            return field.split("=", 1)[1]
    return None


ACTIVE = {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED", "RESIZING"}


def run_slurm_campaign(
    cfg: CampaignConfig, *, wait: bool = True, progress: Progress | None = None
) -> int:
    check_controller()
    m = prepare(cfg)
    if all(r.status in mf.FINISHED for r in m.runs) and not cfg.retry_failed:
        print(f"{cfg.out}: every run already has a result; nothing to submit", file=sys.stderr)
        return exit_code_of(m)
    script = write_script(cfg, render_script(cfg, time_limit=cfg.time_limit))
    job_id = submit(script, list(cfg.sbatch_args))
    with mf.locked_manifest(cfg.out) as m:
        m.slurm_jobs.append(job_id)
        m.state = mf.RUNNING
    progress = progress or Progress(cfg.benchmark, len(m.runs))
    progress.message(f"submitted {script} as Slurm job {job_id}")
    if not wait:
        progress.message(
            f"not waiting (--no-wait): follow with `squeue -j {job_id}`; output in "
            f"{cfg.out}/slurm-{job_id}.out"
        )
        return 0
    state, signum = follow(cfg, job_id, progress)
    rc = finalize(cfg, job_id, state, progress)
    return 128 + signum if signum else rc


def follow(cfg: CampaignConfig, job_id: str, progress: Progress) -> tuple[str | None, int | None]:
    """Poll until the job ends; SIGINT/SIGTERM cancel it first (scancel) and we still wait
    for the end, so the manifest is final when we return (final job state, signal)."""
    stop = {"sig": None}

    def on_signal(signum, _frame):
        stop["sig"] = signum

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    tails: dict[int, LogTail] = {}
    cancelled = False
    running: list[int] = []
    seen_runs: dict[int, str] = {}
    try:
        while True:
            state = job_state(job_id)
            if state not in ACTIVE:
                return state, stop["sig"]
            if stop["sig"] and not cancelled:
                progress.message(f"cancelling Slurm job {job_id} (scancel)")
                with mf.locked_manifest(cfg.out) as m:
                    m.state = mf.INTERRUPTED  # before the job's loop can write "finished"
                    running = [r.index for r in m.runs if r.status == mf.RUNNING]
                _slurm(["scancel", job_id])
                cancelled = True
            _report(cfg, progress, tails, seen_runs)
            time.sleep(POLL_S)
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        if stop["sig"]:
            with mf.locked_manifest(cfg.out) as m:
                m.state = mf.INTERRUPTED
                for r in m.runs:
                    # scancel kills the run's processes too; whatever the job's loop made of
                    # that, the run was interrupted by us
                    if r.index in running and r.status in (mf.RUNNING, mf.CRASHED):
                        r.status, r.note = mf.INTERRUPTED, f"Slurm job {job_id} cancelled"
        _report(cfg, progress, tails, seen_runs)


def _report(cfg, progress: Progress, tails: dict, seen: dict) -> None:
    try:
        m = mf.read_manifest(cfg.out)
    except InputError:  # not written yet: read again at the next poll
        return
    progress.total = len(m.runs)
    for r in m.runs:
        if seen.get(r.index) == r.status:
            continue
        if r.status != mf.PENDING and r.status != mf.RUNNING:
            progress.message(
                f"run {r.index + 1}/{len(m.runs)} {r.status} (exit {r.exit_code}, seed {r.seed})"
                + (f": {r.note}" if r.note else "")
            )
            if r.duration_s and r.status in mf.FINISHED:
                progress.durations.append(r.duration_s)
        seen[r.index] = r.status
    running = [r for r in m.runs if r.status == mf.RUNNING]
    for r in running:
        tail = tails.setdefault(r.index, LogTail(cfg.out / cfg.benchmark / f"run_{r.index}.log"))
        changed = tail.poll()
        remaining = sum(1 for x in m.runs if x.status in (mf.PENDING,))
        elapsed = _elapsed(r.start)
        progress.update(r.index + 1, r.seed, elapsed, remaining, tail.last_eval, changed=changed)


def _elapsed(start_iso: str | None) -> float:
    from datetime import datetime

    if not start_iso:
        return 0.0
    try:
        return max(0.0, time.time() - datetime.fromisoformat(start_iso).timestamp())
    except ValueError:
        return 0.0


def finalize(cfg: CampaignConfig, job_id: str, state: str | None, progress: Progress) -> int:
    """Mark what the job left running, set the campaign state, return the exit code."""
    with mf.locked_manifest(cfg.out) as m:
        for r in m.runs:
            if r.status == mf.RUNNING:
                if state == "TIMEOUT":
                    r.status, r.note = mf.TIMED_OUT, f"Slurm job {job_id} hit its time limit"
                else:
                    r.status, r.note = mf.INTERRUPTED, f"Slurm job {job_id} ended ({state})"
        if m.state != mf.INTERRUPTED:
            done = all(r.status not in mf.UNFINISHED for r in m.runs)
            m.state = "finished" if done else mf.INTERRUPTED
    counts: dict[str, int] = {}
    for r in m.runs:
        counts[r.status] = counts.get(r.status, 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in counts.items())
    progress.message(f"Slurm job {job_id} ended: {state}; runs: {summary}")
    if state != "COMPLETED":
        output = cfg.out / f"slurm-{job_id}.out"
        progress.message(f"last lines of {output}:\n{_tail_text(output)}")
    if m.state == mf.INTERRUPTED:
        progress.message(
            f"unfinished runs remain: `--resume` (or `sbatch {cfg.out / SCRIPT}`) finishes them; "
            f"job output: {cfg.out}/slurm-{job_id}.out"
        )
        return 1
    return exit_code_of(m)
