"""mlperf-submit: from hardware to an MLPerf Training submission the official checkers accept.

Run ``mlperf-submit --help`` (or ``python -m mlperf_submit --help``) for the commands.
"""

__version__ = "0.1.0"

# The official tools' version we mirror; rules, RCP tables and run counts come from it.
MLPERF_LOGGING_VERSION = "4.1.68"
