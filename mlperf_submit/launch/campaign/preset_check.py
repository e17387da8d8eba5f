"""What a campaign's runs will train, resolved as ``train`` resolves it, in a process of its own.

    python -m mlperf_submit.launch.campaign.preset_check BENCHMARK [--preset P] -- [TRAIN ARGS]
    {"closed_problems": ["model: closed division requires ResNet-50 ..."], "device": "cpu"}

The campaign asks it once, before the first run: is the configuration closed (else a closed
campaign is refused up front, naming ``--division open``), and does it train on GPUs (then Slurm
is asked for GPUs and whole nodes)? It runs apart because building the config imports the
benchmark, hence torch, which the campaign process never imports (it only starts and follows
the runs). Exit 2 with the train error for a bad preset or override; ``{"closed_problems":
null}`` where the benchmark cannot be imported here (a login node without torch).
"""

from __future__ import annotations

import argparse
import json
import sys

from mlperf_submit.errors import MLPerfSubmitError, UsageError


def facts(benchmark: str, preset: str | None, train_args: list[str]) -> dict:
    from mlperf_submit.benchmarks.registry import describe

    cls = describe(benchmark)
    if cls is None:
        return {"closed_problems": None, "device": None}
    from mlperf_submit.benchmarks import command as train

    parser = argparse.ArgumentParser(prog="mlperf-submit train", add_help=False)
    train.add_arguments(parser)
    words = [benchmark, "--log", "-", *(["--preset", preset] if preset else []), *train_args]
    try:
        ns, _ = parser.parse_known_args(words)
    except SystemExit:  # argparse printed why
        raise UsageError(
            f"the train arguments after `--` are not valid: {' '.join(train_args)}"
        ) from None
    cfg = train.build_config(cls, ns.preset, list(ns.overrides))
    return {"closed_problems": cls.closed_problems(cfg), "device": cfg.loop.device}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    cut = argv.index("--") if "--" in argv else len(argv)
    p = argparse.ArgumentParser(prog="preset_check")
    p.add_argument("benchmark")
    p.add_argument("--preset")
    args = p.parse_args(argv[:cut])
    try:
        print(json.dumps(facts(args.benchmark, args.preset, argv[cut + 1 :])))
    except MLPerfSubmitError as err:
        print(f"mlperf-submit: error: {err}", file=sys.stderr)
        return err.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
