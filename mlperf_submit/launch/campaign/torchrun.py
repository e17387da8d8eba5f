"""torchrun, except that its option parser never sees the training program's arguments.

    python -m mlperf_submit.launch.campaign.torchrun [torchrun options] -- PROGRAM [ARGS...]

torchrun checks every word after the script name for abbreviations of its own options, so
``torchrun ... -m mlperf_submit train resnet --log FILE`` dies with "ambiguous option: --log
could match --log-dir, --logs-specs". Here torchrun's own parser reads only the options before
``--``; PROGRAM and ARGS go to ``torch.distributed.run.run`` untouched (as with
``--no-python``), so the elastic agent, the worker environment (RANK, LOCAL_RANK, ...) and the
exit status are torchrun's. Exit 1 when a worker fails (torchrun's rule), with its summary.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--" not in argv or argv.index("--") == len(argv) - 1:
        print("usage: python -m mlperf_submit.launch.campaign.torchrun [torchrun options] -- PROGRAM "
              "[ARGS...]", file=sys.stderr)  # fmt: skip
        return 2
    cut = argv.index("--")
    program = argv[cut + 1 :]
    from torch.distributed import run as torchrun
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    args = torchrun.get_args_parser().parse_args([*argv[:cut], "--no-python", program[0]])
    args.training_script_args = program[1:]
    try:
        torchrun.run(args)
    except ChildFailedError as err:
        print(f"torchrun: {err.get_first_failure()[1].message or 'a worker failed'}",
              file=sys.stderr)  # fmt: skip
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
