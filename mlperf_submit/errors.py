"""Errors that the CLI turns into a clear message and an exit code, never a traceback.

Exit codes (every command): 0 = success / compliant, 1 = not compliant (or the job failed),
2 = bad usage or unusable input (missing file, unreadable data, unknown benchmark or ruleset).
"""

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_USAGE = 2


class MLPerfSubmitError(Exception):
    """Base class. ``str(err)`` is shown to the user as-is, so make it say what to do."""

    exit_code = EXIT_USAGE


class UsageError(MLPerfSubmitError):
    """Bad arguments or unusable input: exit 2."""

    exit_code = EXIT_USAGE


class InputError(MLPerfSubmitError):
    """An input file or directory cannot be used (missing, unreadable, wrong type): exit 2.

    Name the file (and the line, where there is one) in the message.
    """

    exit_code = EXIT_USAGE


class CheckFailed(MLPerfSubmitError):
    """A check found something non-compliant: exit 1."""

    exit_code = EXIT_FAIL
