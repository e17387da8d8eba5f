"""``mlperf-submit train``: one seeded run of one benchmark, writing its MLPerf log.

    mlperf-submit train resnet --preset tiny --seed 7 --log out/run_0.log --synthetic /tmp/imnet
    torchrun --nproc-per-node 2 -m mlperf_submit train resnet --preset tiny --seed 7 \\
        --log out/run_0.log --synthetic /tmp/imnet loop.max_minutes=5
    mlperf-submit train resnet --preset config_DGXH100_1x8x400 --log-only --log init.log

Exit codes: 0 converged (run_stop success), 3 finished without reaching the target (run_stop
aborted), 2 bad usage or unusable input, anything else: the run crashed. With ``--log-only`` the
init section alone is written (submission keys, hyperparameters, init_start/init_stop) and the
exit code says whether it passes the rules (0) or not (1); keys that only a training run can
log (run_start, evals, ...) are not counted.

``cache_clear`` is logged True only with ``--cache-cleared``: the campaign passes it when it
really dropped the page cache before the run. ``--seed`` defaults to a fresh OS-entropy seed.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from mlperf_submit.errors import EXIT_FAIL, UsageError

HELP = "run one benchmark (one seeded run) and write its MLPerf log"
EXIT_NOT_CONVERGED = 3


def add_arguments(p: argparse.ArgumentParser) -> None:
    from mlperf_submit.benchmarks.registry import BENCHMARKS

    p.add_argument("benchmark", help=f"benchmark name ({', '.join(BENCHMARKS)})")
    p.add_argument("--preset", default="tiny", help="named config (default: tiny)")
    p.add_argument("--seed", type=int, default=None, help="master seed (default: OS entropy)")
    p.add_argument("--log", type=Path, help="MLPerf log file to write (not for --list-keys)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--data", type=Path, help="dataset root in its real on-disk format")
    src.add_argument(
        "--synthetic", type=Path, help="generate (or reuse) synthetic data in this directory"
    )
    p.add_argument("--ruleset", default=None, help="MLPerf ruleset (default: the benchmark's)")
    p.add_argument(
        "--division",
        choices=("closed", "open"),
        default=None,
        help="default: open with --synthetic, else closed",
    )
    p.add_argument(
        "--cache-cleared", action="store_true", help="the caches were cleared before this run"
    )
    p.add_argument(
        "--log-only", action="store_true", help="write the init section only (no training)"
    )
    p.add_argument(
        "--world-size",
        type=int,
        default=None,
        help="with --log-only: processes of the run being described (global_batch_size = "
        "per-rank batch x N); default: the processes actually started",
    )
    p.add_argument("--org", default="mlperf-submit", help="submission_org")
    p.add_argument("--platform", default=None, help="submission_platform (default: detected)")
    p.add_argument(
        "--status",
        default="onprem",
        choices=("cloud", "onprem", "preview", "research"),
        help="submission_status (rulesets up to 4.0.0)",
    )
    p.add_argument(
        "--check", default="strict", choices=("strict", "warn", "off"), help="online checking"
    )
    p.add_argument("--force", action="store_true", help="overwrite an existing non-empty log")
    p.add_argument("--list-keys", action="store_true", help="print the config keys and exit")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")
    _allow_intermixed(p)


def _allow_intermixed(p: argparse.ArgumentParser) -> None:
    """Let ``key=value`` overrides follow the options (``train resnet --seed 1 a.b=2``).

    Plain argparse binds every positional at its first appearance, so overrides after options
    would be "unrecognized". The sub-command's parser is called through ``parse_known_args``;
    route that call through ``parse_known_intermixed_args`` (which itself calls the original).
    """
    original = p.parse_known_args

    def intermixed(args=None, namespace=None):
        p.parse_known_args = original
        try:
            return p.parse_known_intermixed_args(args, namespace)
        finally:
            p.parse_known_args = intermixed

    p.parse_known_args = intermixed


def build_config(bm_cls, preset: str, overrides: list[str]):
    from mlperf_submit.benchmarks.common.config import apply_overrides

    if preset not in bm_cls.presets:
        raise UsageError(
            f"{bm_cls.name} has no preset {preset!r}: choose one of {', '.join(bm_cls.presets)}"
        )
    return apply_overrides(bm_cls.presets[preset](), overrides)


def _device(loop, local_rank: int, *, log_only: bool = False):
    import torch

    want = loop.device
    if want == "auto" or (log_only and not torch.cuda.is_available()):
        # --log-only never trains: a GPU preset's init section can be written on a laptop.
        want = "cuda" if torch.cuda.is_available() else "cpu"
    if want == "cuda":
        if not torch.cuda.is_available():
            raise UsageError("loop.device=cuda but no CUDA GPU is visible: use loop.device=cpu")
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    return torch.device("cpu")


def _platform(world: int, device) -> str:
    import torch

    if device.type == "cuda":
        name = torch.cuda.get_device_name(device).replace(" ", "_")
    else:
        name = f"CPU{os.cpu_count()}"
    return f"{world}x{name}"


def run(args: argparse.Namespace) -> int:
    from mlperf_submit.benchmarks.common import config as cfgmod
    from mlperf_submit.benchmarks.registry import get_benchmark

    bm_cls = get_benchmark(args.benchmark)
    cfg = build_config(bm_cls, args.preset, list(args.overrides))
    if args.list_keys:  # a listing writes no log
        for key, value in cfgmod.as_dict(cfg).items():
            print(f"{key}={value}")
        return 0
    if args.log is None:
        raise UsageError("--log FILE is required: the MLPerf log this run writes")
    division = args.division or ("open" if args.synthetic else "closed")
    ruleset = args.ruleset or bm_cls.default_ruleset()
    if not args.log_only and args.data is None and args.synthetic is None:
        raise UsageError("give the dataset: --data DIR (real) or --synthetic DIR (generated)")
    if args.data is not None and not args.data.is_dir():
        raise UsageError(f"--data {args.data}: not a directory")
    if args.world_size is not None and (not args.log_only or args.world_size < 1):
        raise UsageError("--world-size N (N >= 1) describes a run for --log-only only")
    problems = bm_cls.closed_problems(cfg) if division == "closed" else []
    if problems:
        raise UsageError(
            f"preset {args.preset!r} is not a closed-division configuration: "
            + "; ".join(problems)
            + " (use --division open)"
        )
    return _run(args, bm_cls, cfg, division, ruleset)


def _run(args, bm_cls, cfg, division: str, ruleset: str) -> int:
    import gc

    from mlperf_submit.launch.distributed import dist

    env = dist.init_distributed()
    try:
        return _train(args, bm_cls, cfg, division, ruleset, env)
    finally:
        # What the run built (a DDP / FSDP model holds the process group) sits in reference
        # cycles. Left to the collector at interpreter exit, the gloo worker threads of the
        # group die while the interpreter is torn down: SIGABRT ("terminate called without
        # an active exception") after a successful run. Collect it while all is alive.
        gc.collect()
        dist.shutdown()


def _train(args, bm_cls, cfg, division: str, ruleset: str, env) -> int:
    from mlperf_submit.benchmarks.common.interface import RunContext
    from mlperf_submit.benchmarks.common.trainer import SubmissionInfo, Trainer
    from mlperf_submit.launch.distributed import dist
    from mlperf_submit.launch.distributed.seeding import shared_master_seed
    from mlperf_submit.logging import MLPerfLogger

    device = _device(cfg.loop, env.local_rank, log_only=args.log_only)
    seed = shared_master_seed(args.seed)
    data_dir = args.data or args.synthetic
    ctx = RunContext(
        seed=seed,
        rank=env.rank,
        # --log-only on one machine may describe a many-GPU run (its global batch).
        world_size=args.world_size or env.world_size,
        local_rank=env.local_rank,
        device=device,
        data_dir=data_dir.resolve() if data_dir is not None else None,
        synthetic=args.synthetic is not None,
        division=division,
        preset=args.preset,
        ruleset=ruleset,
        log_only=args.log_only,
    )
    bm = bm_cls(cfg, ctx)
    if args.synthetic is not None and not args.log_only:
        # Dataset generation is preparation, not part of the run: before init_start, on
        # rank 0 only; the others wait for it.
        if env.rank == 0:
            bm.prepare_synthetic(ctx.data_dir)
        dist.barrier()
    elif args.data is not None:
        bm.check_data_dir(ctx.data_dir)
    logger = MLPerfLogger(
        bm_cls.name, ruleset, division, str(args.log), check=args.check, force=args.force,
        progress_unit=bm_cls.progress_unit,
    )  # fmt: skip
    info = SubmissionInfo(
        org=args.org,
        platform=args.platform or _platform(env.world_size, device),
        status=args.status,
    )
    trainer = Trainer(bm, logger, submission=info, cache_cleared=args.cache_cleared)
    if args.log_only:
        return _report_log_only(trainer.log_only(), args.log, env.rank)
    result = trainer.train()
    if env.rank == 0:
        last = result.evals[-1] if result.evals else None
        print(
            f"mlperf-submit: {bm_cls.name} {args.preset} seed {seed}: {result.status}"
            f" after {result.run_seconds:.1f} s"
            + (f", {bm_cls.metric_key} {last[1]:.4f} at {last[0]}" if last else ""),
            file=sys.stderr,
        )
    return 0 if result.converged else EXIT_NOT_CONVERGED


def _report_log_only(check, log: Path, rank: int) -> int:
    if rank != 0 or check is None:
        return 0
    from mlperf_submit.compliance.init_section import init_section_errors

    errors = init_section_errors(check)
    for f in errors:
        print(f"mlperf-submit: {log}: {f.message.splitlines()[0]}", file=sys.stderr)
    skipped = len(check.errors) - len(errors)
    state = "passes" if not errors else "does NOT pass"
    print(
        f"mlperf-submit: {log}: the init section {state} the rules "
        f"({len(errors)} error(s); {skipped} finding(s) about run-section keys not counted)",
        file=sys.stderr,
    )
    return 0 if not errors else EXIT_FAIL
