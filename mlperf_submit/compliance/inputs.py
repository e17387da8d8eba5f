"""Input files a command cannot use at all, found before it reads or writes anything.

``verify``, ``report`` and ``package`` take whole folders. A file in them that is not what it
must be -- a directory or a named pipe where a result file or a JSON file belongs, a symbolic
link loop, a system description or ``scaling.json`` that is not a JSON object, a JSON file far
too large to be one -- is unusable input: the command stops with one message naming every such
file (exit 2) and writes nothing. (The official tools crash on most of these, or wait forever on
a named pipe.) A log whose *content* is wrong (truncated, garbage, gigabytes of zeros) is not
unusable: it gets the official verdict, read in bounded memory (``parser.log_lines``).

    from mlperf_submit.compliance.inputs import require_usable_org
    require_usable_org("submission/MyOrg")          # InputError listing what is unusable
"""

from __future__ import annotations

import errno
import glob
import json
import math
import os

from mlperf_submit.compliance.parser import regular_file
from mlperf_submit.errors import InputError

MAX_JSON_BYTES = 16 << 20  # no system description or scaling.json is near this
SHOWN = 5  # problems listed in the message (all are counted)


def read_json_file(path: str | os.PathLike, what: str) -> object:
    """The JSON value in a small regular file; InputError naming the file otherwise."""
    regular_file(path, what)
    size = os.path.getsize(path)
    if size > MAX_JSON_BYTES:
        raise InputError(f"{path}: {size >> 20} MiB, far too large for a {what}")
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as err:
        raise InputError(f"{path}:{err.lineno}: not valid JSON ({err.msg})") from None
    except UnicodeDecodeError as err:
        raise InputError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    except OSError as err:
        raise InputError(f"{path}: cannot read: {err.strerror or err}") from None


def unusable_org_inputs(folder: str | os.PathLike) -> list[str]:
    """Why each unusable file of an org folder is unusable (``path: reason``), sorted."""
    folder = os.fspath(folder)
    out = []
    esc = glob.escape(folder)
    for path in sorted(glob.glob(os.path.join(esc, "systems", "*.json"))):
        try:
            if not isinstance(read_json_file(path, "system description"), dict):
                out.append(f"{path}: the top level is not a JSON object")
        except InputError as err:
            out.append(str(err))
    for path in sorted(glob.glob(os.path.join(esc, "results", "*", "*", "result_*.txt"))):
        try:
            regular_file(path, "result file")
        except InputError as err:
            out.append(str(err))
    for path in sorted(glob.glob(os.path.join(esc, "results", "*", "*", "scaling.json"))):
        if not os.path.isfile(path):  # result_summarizer ignores what is not a file
            continue
        try:
            value = read_json_file(path, "scaling.json")
        except InputError as err:
            out.append(str(err))
            continue
        factor = value.get("scaling_factor") if isinstance(value, dict) else None
        if (
            isinstance(factor, bool)
            or not isinstance(factor, int | float)
            or not math.isfinite(factor)
        ):
            out.append(f'{path}: not {{"scaling_factor": <finite number>}}')
    params = glob.glob(os.path.join(esc, "results", "*", "package_checker_params"))
    params += glob.glob(os.path.join(esc, "results", "*", "*", "package_checker_params"))
    for path in sorted(params):
        if os.path.lexists(path) and not os.path.isfile(path):
            try:
                regular_file(path, "package_checker_params file")
            except InputError as err:
                out.append(str(err))
    out += _link_loops(folder)
    return sorted(set(out))


def _link_loops(folder: str) -> list[str]:
    loops = []
    for dirpath, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = os.path.join(dirpath, name)
            if os.path.islink(path):
                try:
                    os.stat(path)
                except OSError as err:
                    if err.errno == errno.ELOOP:  # a dangling link is the tree rules' finding
                        loops.append(f"{path}: a symbolic link loop")
    return loops


def require_usable_org(folder: str | os.PathLike) -> None:
    """InputError naming the unusable files of an org folder (see the module doc)."""
    problems = unusable_org_inputs(folder)
    if problems:
        more = f" (and {len(problems) - SHOWN} more)" if len(problems) > SHOWN else ""
        raise InputError(
            f"{folder}: unusable input, nothing checked or written: "
            + "; ".join(problems[:SHOWN])
            + more
        )
