"""The ``mlperf-submit`` command line: thin, parse -> call one function -> exit code.

Each sub-command lives in the sub-package that owns it and is imported only when it runs, so
``mlperf-submit check`` never imports torch. A command module provides:

    HELP: str                                   # one line for ``--help``
    def add_arguments(parser) -> None
    def run(args) -> int                        # exit code (0 ok, 1 not compliant/failed, 2 usage)
    PASSTHROUGH = True                          # optional: words after `--` -> args.passthrough

Errors derived from :class:`mlperf_submit.errors.MLPerfSubmitError` are printed as one clear
message with their exit code; nothing a user can trigger prints a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from mlperf_submit import __version__
from mlperf_submit.errors import EXIT_USAGE, MLPerfSubmitError

# command name -> module that implements it (imported lazily)
COMMANDS: dict[str, str] = {
    "check": "mlperf_submit.compliance.command",
    "train": "mlperf_submit.benchmarks.command",
    "campaign": "mlperf_submit.launch.campaign.command",
    "package": "mlperf_submit.submission.command_package",
    "verify": "mlperf_submit.submission.command_verify",
    "report": "mlperf_submit.report.command",
    "preflight": "mlperf_submit.preflight.command",
    "rcp": "mlperf_submit.compliance.rcp_command",
}

# Short help shown without importing every module (keeps `mlperf-submit --help` instant).
SUMMARIES: dict[str, str] = {
    "check": "check MLPerf logs, result dirs or org folders against the official rules",
    "train": "run one benchmark (one seeded run) and write its MLPerf log",
    "campaign": "run the N seeded runs of a benchmark (local, torchrun, mpirun or Slurm)",
    "package": "build the official submission tree from campaign directories",
    "verify": "verify a submission org folder (compliance, seeds, RCP, scores, system JSON)",
    "report": "plots and a summary page for a campaign or an org folder",
    "preflight": "will this closed config pass? rules, RCP, eval schedule, runs, before any GPU hour",
    "rcp": "build reference convergence points (RCPs) from reference runs, or check runs on them",
}


def _build_parser(argv: list[str]) -> tuple[argparse.ArgumentParser, object | None]:
    parser = argparse.ArgumentParser(
        prog="mlperf-submit",
        description="From hardware to an MLPerf Training submission the official checkers accept.",
    )
    parser.add_argument("--version", action="version", version=f"mlperf-submit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = next((a for a in argv if not a.startswith("-")), None)
    module = None
    for name, summary in SUMMARIES.items():
        p = sub.add_parser(name, help=summary, description=summary)
        if name == chosen:
            module = importlib.import_module(COMMANDS[name])
            module.add_arguments(p)
    return parser, module


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parser, module = _build_parser(argv)
        # A command with PASSTHROUGH = True gets the words after the first `--` untouched as
        # args.passthrough (argparse cannot give a trailing positional list after `--` once
        # an earlier positional has matched).
        passthrough: list[str] = []
        if getattr(module, "PASSTHROUGH", False) and "--" in argv:
            cut = argv.index("--")
            argv, passthrough = argv[:cut], argv[cut + 1 :]
        args = parser.parse_args(argv)
        if getattr(module, "PASSTHROUGH", False):
            args.passthrough = passthrough
        if module is None:
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        return int(module.run(args) or 0)
    except MLPerfSubmitError as err:
        print(f"mlperf-submit: error: {err}", file=sys.stderr)
        _end_mpi_job(err.exit_code)
        return err.exit_code
    except KeyboardInterrupt:
        print("mlperf-submit: interrupted", file=sys.stderr)
        _end_mpi_job(130)
        return 130
    except BrokenPipeError:  # `mlperf-submit check ... | head`
        return 0
    except Exception:  # a bug: its traceback as usual (and in an MPI job, the job ends)
        _end_mpi_job(1, show_traceback=True)
        raise


def _end_mpi_job(exit_code: int, *, show_traceback: bool = False) -> None:
    """A rank of an MPI job that fails ends the whole job (launch.distributed.dist.abort_job);
    outside an MPI job of several ranks this returns at once."""
    dist = sys.modules.get("mlperf_submit.launch.distributed.dist")  # loaded only by a job
    if dist is None or not dist.in_mpi_job():
        return
    if show_traceback:
        import traceback

        traceback.print_exc()
    dist.abort_job(exit_code)


if __name__ == "__main__":
    sys.exit(main())
