"""``mlperf-submit campaign``: the N seeded runs of one benchmark, under any launcher.

    mlperf-submit campaign resnet --out out/resnet --preset tiny --synthetic data/syn \\
        [--runs N] [--launcher local|torchrun|mpirun|srun|slurm] [--nproc-per-node P] \\
        [--nodes K] [--container IMAGE] [--timeout 30m] [--resume] [-- extra train args]

Writes ``OUT/campaign.json`` and ``OUT/<benchmark>/run_<i>.log`` (docs/DESIGN.md), prints a
progress line, and exits 0 when every run has a result (converged or not converged), 1 when some
crashed or timed out, 2 for bad usage, 130/143 when interrupted (``--resume`` finishes it).
``--runs`` defaults to the official count for the benchmark (mlperf_logging.benchmark_meta).
The launchers: ``local`` one process; ``torchrun`` P processes on this host; ``mpirun`` P*K
ranks (``--hosts``); ``srun`` inside an existing allocation; ``slurm`` writes ``OUT/run.sub``,
submits it with sbatch and follows the job (see launch/campaign/slurm.py).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from mlperf_submit.errors import UsageError

PASSTHROUGH = True  # cli.py: the words after `--` are args.passthrough (train arguments)
HELP = "run the N seeded runs of a benchmark (local, torchrun, mpirun or Slurm)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from mlperf_submit.launch.campaign.commandline import LAUNCHERS

    p.add_argument("benchmark", help="MLPerf benchmark name, e.g. resnet, llama31_8b")
    p.add_argument("--out", required=True, type=Path, help="campaign directory")
    p.add_argument("--runs", type=int, help="number of runs (default: the official count)")
    p.add_argument("--launcher", choices=LAUNCHERS, help="default: local")
    p.add_argument("--nproc-per-node", type=int, help="processes per node (default: 1)")
    p.add_argument("--nodes", type=int, help="nodes (srun/slurm/mpirun; default: 1)")
    p.add_argument("--hosts", help="mpirun: comma-separated hosts (default: this host)")
    p.add_argument("--container", help="srun/slurm: container image for pyxis (--container-image)")
    p.add_argument("--timeout", help="per run: kill it after this long (90, 90s, 30m, 2h, 1:30:00)")
    p.add_argument("--resume", action="store_true", help="finish an interrupted campaign in --out")
    p.add_argument("--retry-failed", action="store_true",
                   help="with --resume: also re-run crashed and timed-out runs")  # fmt: skip
    p.add_argument("--preset", help="train --preset (e.g. tiny)")
    p.add_argument("--ruleset", help="default: the newest ruleset that has the benchmark")
    p.add_argument("--division", choices=("closed", "open"), help="default: closed")
    data = p.add_mutually_exclusive_group()
    data.add_argument("--synthetic", metavar="DIR", help="synthetic data (written by train)")
    data.add_argument("--data", metavar="DIR", help="real data")
    p.add_argument("--cache-clear", metavar="MODE",
                   help="auto (sync + drop_caches when permitted), off, or a shell command "
                   "(default: auto)")  # fmt: skip
    p.add_argument("--no-cache-clear", dest="cache_clear", action="store_const", const="off",
                   help="same as --cache-clear off")  # fmt: skip
    p.add_argument("--launcher-args", default="", help="extra launcher arguments (one string)")
    p.add_argument("--mpirun", help="mpirun to use (default: the venv's, else PATH)")
    p.add_argument("--sbatch-arg", action="append", default=[], metavar="ARG",
                   help="slurm: extra sbatch argument, repeatable (--sbatch-arg=--partition=gpu)")  # fmt: skip
    p.add_argument("--time-limit", help="slurm: job time limit (#SBATCH --time)")
    p.add_argument("--gpus-per-node", type=int, metavar="G",
                   help="srun/slurm: GPUs per node (default: --nproc-per-node when the preset "
                   "runs on GPUs, else none)")  # fmt: skip
    p.add_argument("--cpus-per-task", type=int, metavar="C",
                   help="srun/slurm: CPUs per task (default: the node's allocated CPUs / tasks "
                   "per node)")  # fmt: skip
    exclusive = p.add_mutually_exclusive_group()
    exclusive.add_argument("--exclusive", action="store_true", default=None,
                           help="srun/slurm: whole nodes (default: on when the preset runs on "
                           "GPUs)")  # fmt: skip
    exclusive.add_argument("--no-exclusive", dest="exclusive", action="store_false",
                           help="srun/slurm: share the nodes")  # fmt: skip
    p.add_argument("--rendezvous-timeout", metavar="S",
                   help="seconds a rank waits for the others when a run starts, then gives up "
                   "naming the missing ranks (default 300; like --timeout: 90, 5m)")  # fmt: skip
    p.add_argument("--no-wait", action="store_true", help="slurm: submit and return")
    p.add_argument("--run-index", type=int, help="only this run (the loop in run.sub uses it)")
    p.epilog = "Words after `--` go to every `mlperf-submit train` run unchanged."


def parse_duration(text: str | None, flag: str = "--timeout") -> float | None:
    if text is None:
        return None
    t = text.strip()
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smh]?)", t)
    if m:
        return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]
    m = re.fullmatch(r"(?:(\d+):)?(\d+):(\d+)", t)
    if m:
        h, mi, s = (int(x or 0) for x in m.groups())
        return float(h * 3600 + mi * 60 + s)
    raise UsageError(f"{flag} {text!r}: use seconds (90), 90s, 30m, 2h or H:MM:SS")


def build_config(args):
    from mlperf_submit.compliance import meta
    from mlperf_submit.launch.campaign import manifest as mf
    from mlperf_submit.launch.campaign.commandline import LaunchSpec
    from mlperf_submit.launch.campaign.runner import CampaignConfig, check_train_args

    out = args.out.resolve()
    bm = args.benchmark
    args.train_args = list(getattr(args, "passthrough", []))
    check_train_args(args.train_args)
    # On resume, what was not given comes from the manifest (so a bare --resume works).
    previous = None
    if (args.resume or args.run_index is not None) and os.path.lexists(out / mf.MANIFEST):
        previous = mf.read_manifest(out)
        if previous.benchmark != bm:
            raise UsageError(f"{out / mf.MANIFEST} is a campaign of {previous.benchmark}, not {bm}")
    was = previous or argparse.Namespace(
        launcher="local", nodes=1, nproc_per_node=1, container=None, gpus_per_node=None,
        cpus_per_task=None, exclusive=None, rendezvous_timeout_s=None,
    )  # fmt: skip
    args.launcher = args.launcher or was.launcher
    args.nodes = args.nodes or was.nodes
    args.nproc_per_node = args.nproc_per_node or was.nproc_per_node
    args.container = args.container or was.container
    for name in ("runs", "nproc_per_node", "nodes", "cpus_per_task"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    if args.gpus_per_node is not None and args.gpus_per_node < 0:
        raise UsageError(f"--gpus-per-node must be 0 or more, got {args.gpus_per_node}")
    slurm_options = [
        f"--{n.replace('_', '-')}"
        for n in ("gpus_per_node", "cpus_per_task", "exclusive")
        if getattr(args, n) is not None
    ]
    if slurm_options and args.launcher not in ("srun", "slurm"):
        raise UsageError(f"{', '.join(slurm_options)}: for --launcher srun or slurm")
    rendezvous_s = (
        parse_duration(args.rendezvous_timeout, "--rendezvous-timeout")
        if args.rendezvous_timeout
        else was.rendezvous_timeout_s
    )
    if rendezvous_s is not None and rendezvous_s <= 0:
        raise UsageError(f"--rendezvous-timeout {args.rendezvous_timeout}: give seconds > 0")
    hosts = tuple(h for h in (args.hosts or "").split(",") if h)
    if hosts and args.launcher != "mpirun":
        raise UsageError("--hosts is for --launcher mpirun (Slurm chooses the nodes itself)")
    if args.launcher in ("local", "torchrun") and args.nodes != 1:
        raise UsageError(
            f"--launcher {args.launcher} runs on this host only: use mpirun, srun or slurm "
            f"for --nodes {args.nodes}"
        )
    if args.launcher == "local" and args.nproc_per_node != 1:
        raise UsageError("--launcher local runs one process: use torchrun or mpirun for more")
    if args.container and args.launcher not in ("srun", "slurm"):
        raise UsageError("--container works with --launcher srun or slurm (pyxis)")
    if args.retry_failed and not args.resume and args.run_index is None:
        raise UsageError("--retry-failed goes with --resume")
    timeout_s = parse_duration(args.timeout)
    if args.resume and previous is None and args.run_index is None:
        raise UsageError(f"--resume: no campaign to resume ({out / mf.MANIFEST} does not exist)")

    if previous is not None:
        data_kind, data_dir = previous.data, previous.data_dir
        if args.synthetic or args.data:
            data_kind = "synthetic" if args.synthetic else "real"
            data_dir = str(Path(args.synthetic or args.data).resolve())
        runs = args.runs or len(previous.runs)
        ruleset = args.ruleset or previous.ruleset
        division = args.division or previous.division
        preset = args.preset or previous.preset
        train_args = args.train_args or previous.train_args
    else:
        if bm not in meta.known_benchmarks():
            raise UsageError(
                f"unknown benchmark {bm!r}; known: {', '.join(meta.known_benchmarks())}"
            )
        runs = args.runs or meta.required_runs(bm)
        if not runs:
            raise UsageError(f"no official run count for {bm}: give --runs")
        ruleset = args.ruleset or meta.newest_ruleset(bm)
        division = args.division or "closed"
        preset = args.preset
        train_args = args.train_args
        data_kind = "real" if args.data else "synthetic"
        data_dir = args.data or args.synthetic
        data_dir = str(Path(data_dir).resolve()) if data_dir else None
    meta.check_ruleset(ruleset)
    if not meta.is_allowed(bm, ruleset):
        raise UsageError(f"{bm} is not a benchmark of ruleset {ruleset}: {meta.where_is(bm)}")

    # What every run will train, resolved as `train` resolves it: refuse now what train would
    # refuse at the first run, and size the Slurm request from it (a resumed campaign and the
    # loop inside run.sub were checked when the campaign was created).
    facts = {"closed_problems": None, "device": None}
    if previous is None and args.run_index is None:
        facts = train_facts(bm, preset, list(train_args))
    if division == "closed" and facts["closed_problems"]:
        shown = preset or "tiny"  # train's default preset
        raise UsageError(
            f"preset {shown!r} is not a closed-division configuration: "
            + "; ".join(facts["closed_problems"])
            + ". The campaign's division is closed by default: add --division open (or "
            "choose a closed preset)"
        )
    on_gpus = facts["device"] == "cuda"
    slurmish = args.launcher in ("srun", "slurm")
    gpus = args.gpus_per_node if args.gpus_per_node is not None else was.gpus_per_node
    if gpus is None:
        gpus = args.nproc_per_node if (on_gpus and slurmish) else 0
    exclusive = args.exclusive if args.exclusive is not None else was.exclusive
    if exclusive is None:
        exclusive = on_gpus and slurmish
    cpus = args.cpus_per_task or was.cpus_per_task
    if cpus is None and args.launcher == "srun" and os.environ.get("SLURM_CPUS_ON_NODE"):
        # inside an allocation: the node's CPUs shared by the tasks (run.sub passes it)
        cpus = max(1, int(os.environ["SLURM_CPUS_ON_NODE"]) // args.nproc_per_node)

    mounts = tuple(p for p in (str(out), data_dir) if p) if args.container else ()
    spec = LaunchSpec(
        launcher=args.launcher,
        nproc_per_node=args.nproc_per_node,
        nodes=args.nodes,
        hosts=hosts,
        container=args.container,
        mounts=mounts,
        mpirun=args.mpirun,
        extra=tuple(shlex.split(args.launcher_args)),
        gpus_per_node=gpus,
        cpus_per_task=cpus,
        exclusive=bool(exclusive),
        rendezvous_timeout_s=rendezvous_s,
    )
    return CampaignConfig(
        benchmark=bm,
        out=out,
        runs=runs,
        spec=spec,
        ruleset=ruleset,
        division=division,
        data=data_kind,
        data_dir=data_dir,
        preset=preset,
        train_args=list(train_args),
        timeout_s=timeout_s,
        cache_clear=args.cache_clear or (previous.cache_clear if previous else "auto"),
        resume=args.resume or args.run_index is not None,
        retry_failed=args.retry_failed,
        run_index=args.run_index,
        command=shlex.join(["mlperf-submit", *sys.argv[1:]]),
        sbatch_args=args.sbatch_arg or (previous.sbatch_args if previous else []),
        time_limit=args.time_limit or (previous.time_limit if previous else None),
    )


def train_facts(benchmark: str, preset: str | None, train_args: list[str]) -> dict:
    """``preset_check``'s answer (closed problems, device), from a process of its own: the
    campaign process never imports torch."""
    cmd = [sys.executable, "-m", "mlperf_submit.launch.campaign.preset_check", benchmark]
    cmd += [*(["--preset", preset] if preset else []), "--", *train_args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired):
        return {"closed_problems": None, "device": None}  # train still checks at the first run
    if proc.returncode == 2:
        lines = proc.stderr.strip().splitlines()
        raise UsageError(
            lines[-1].removeprefix("mlperf-submit: error: ") if lines else "bad preset"
        )
    try:
        return json.loads(proc.stdout)
    except ValueError:
        return {"closed_problems": None, "device": None}


def run(args) -> int:
    cfg = build_config(args)
    if cfg.spec.launcher == "slurm":
        from mlperf_submit.launch.campaign.slurm import run_slurm_campaign

        return run_slurm_campaign(cfg, wait=not args.no_wait)
    from mlperf_submit.launch.campaign.runner import run_campaign

    return run_campaign(cfg)
