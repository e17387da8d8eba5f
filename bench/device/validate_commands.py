"""Validate the Python commands of a device script in one process (its ``--dry-run``).

    printf '%q ' bench/llama_mfu.py --preset 1b; echo | python3 bench/device/validate_commands.py

Reads one shell-quoted command per line (a script path and its arguments, the interpreter
left out), loads each script once and calls its ``main(argv + ["--dry-run"])``: argument
parsing and preset validation, nothing run. One import of torch for all of them, where one
process per command would pay it each time. Exit 0 when every command validates, else 2.
"""

from __future__ import annotations

import contextlib
import io
import runpy
import shlex
import sys


def validate(line: str) -> str | None:
    """None when the command validates, else why not."""
    script, *argv = shlex.split(line)
    try:
        module = runpy.run_path(script, run_name="validated")
    except (OSError, SyntaxError) as err:
        return f"{script}: cannot load ({err})"
    main = module.get("main")
    if not callable(main):
        return f"{script}: no main(argv) to call"
    err = io.StringIO()
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            rc = main([*argv, "--dry-run"])
    except SystemExit as stop:  # argparse's error exit
        rc = stop.code
    if rc not in (0, None):
        said = err.getvalue().strip().splitlines()
        return f"{line}: exit {rc}: {said[-1] if said else 'no message'}"
    return None


def main() -> int:
    problems = [p for ln in sys.stdin if ln.strip() and (p := validate(ln.strip())) is not None]
    for p in problems:
        print(f"INVALID {p}", file=sys.stderr)
    return 2 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
