"""``mlperf-submit preflight BENCHMARK --preset P [--nodes N --nproc-per-node G] [--ruleset R]``.

Before any GPU hour: will a closed campaign of this configuration pass? Prints the init
section's verdict under the closed rules, the RCP at the global batch size (found, interpolated
between which two, or none -- then the nearest batch sizes that work), the evaluation schedule
the rules require, the runs required and the samples to converge the RCP predicts with the band
the RCP test allows::

    mlperf-submit preflight llama31_8b --preset 8b                      # 1 node x 8 (the name)
    mlperf-submit preflight resnet --preset config_DGXH100_1x8x400 --nodes 2 --json
    mlperf-submit preflight llama31_8b --preset 8b data.global_batch_size=256   # overrides

``--nodes``/``--nproc-per-node`` default to the preset name's ``<NODES>x<GPUS>x<BS>``, else 1.
Exit 0 the campaign can pass, 1 it cannot (a closed problem, an init-section error, no RCP for
the batch size), 2 bad usage. ``--werror``: the rule-text warnings (schedule, smaller batch size
than every RCP) fail too.
"""

from __future__ import annotations

import json
import sys

from mlperf_submit.errors import EXIT_FAIL, EXIT_OK

HELP = "will this closed config pass? rules, RCP, eval schedule, runs, before any GPU hour"


def add_arguments(p) -> None:
    from mlperf_submit.benchmarks.command import _allow_intermixed
    from mlperf_submit.benchmarks.registry import BENCHMARKS

    p.add_argument("benchmark", help=f"benchmark name ({', '.join(BENCHMARKS)})")
    p.add_argument("--preset", required=True, help="named config (a closed one: config_...)")
    p.add_argument("--nodes", type=int, help="nodes (default: from the preset name, else 1)")
    p.add_argument("--nproc-per-node", type=int,
                   help="processes (GPUs) per node (default: from the preset name, else 1)")  # fmt: skip
    p.add_argument("--ruleset", help="default: the benchmark's newest round")
    p.add_argument("--json", action="store_true", help="one JSON document (CI)")
    p.add_argument("--werror", action="store_true", help="warnings fail too (exit 1)")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")
    _allow_intermixed(p)


def run(args) -> int:
    from mlperf_submit.preflight.config_check import assess_facts, config_facts

    facts = config_facts(
        args.benchmark,
        args.preset,
        nodes=args.nodes,
        nproc_per_node=args.nproc_per_node,
        ruleset=args.ruleset,
        overrides=list(args.overrides),
    )
    rep = assess_facts(facts)
    failed = not rep.passed or (args.werror and rep.warnings)
    if args.json:
        data = rep.to_dict()
        data["exit_code"] = EXIT_FAIL if failed else EXIT_OK
        json.dump(data, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for line in rep.lines():
            print(line)
    return EXIT_FAIL if failed else EXIT_OK
