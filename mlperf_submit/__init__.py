"""mlperf-submit: from hardware to an MLPerf Training submission the official checkers accept.

Run ``mlperf-submit --help`` (or ``python -m mlperf_submit --help``) for the commands. The
layout, the five flows and the contracts between the packages: docs/DESIGN.md.

    cli.py          the command line: parse, import the one command module, exit code
    __main__.py     ``python -m mlperf_submit``
    errors.py       errors the CLI prints as a message with an exit code (no traceback)
    compliance/     logs, the official rules, run sets, RCP, scores, the official tools; `check`
    logging/        the MLPerfLogger facade, every line checked online against the official rules
    launch/         ranks and process groups (distributed/), campaigns of seeded runs (campaign/)
    benchmarks/     the one training loop and a folder per benchmark; `train`
    submission/     the submission tree (`package`) and `verify`
    report/         plots and a summary page (`report`)
"""

__version__ = "0.1.0"

# The official tools' version we mirror; rules, RCP tables and run counts come from it.
MLPERF_LOGGING_VERSION = "4.1.68"
