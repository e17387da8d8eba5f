"""Streaming parser for MLPerf logs, with the official parser's exact acceptance rules.

The official ``mlp_parser`` (identical for rulesets 3.0.0 and later) reads the file as latin-1
text with universal newlines, keeps the lines that contain ``:::MLLOG ``, cuts everything before
the *last* token (``re.sub(".*:::MLLOG ", ...)`` is greedy), strips whitespace, and
``json.loads`` the rest. It then needs ``time_ms`` (``float()``-able), ``key``, ``value`` and
``metadata``. A JSON error or a ``time_ms`` that ``float()`` rejects is a parse error (the log
fails); a missing field or a non-object JSON value raises an uncaught exception (a traceback).

We accept exactly the same lines, but we never raise: a line the official tool crashes on is a
:class:`BadLine` with ``fatal=True``. Every item carries both numbers: ``lineno`` (the official
0-based index among MLLOG lines, which its messages print) and ``file_lineno`` (the real 1-based
line in the file, which ours print).

``str.rfind`` replaces the official regex, whose leading ``.*`` rescans the line at every
position (quadratic in line length); the results are identical.

JSON nesting: ``json.loads`` in the official process raises ``RecursionError`` (a traceback)
on a line nested more than :data:`OFFICIAL_JSON_DEPTH` levels deep (the top-level object is
level 1), a bound set by Python's recursion limit and the official call stack (measured with
``python -m mlperf_logging.compliance_checker`` on CPython 3.11; tests/compliance/test_deep_json.py
checks both sides of it against the official tool). We apply that bound by counting brackets,
whatever our own stack depth, and parse anything within it without a recursion limit of ours.
"""

from __future__ import annotations

import errno
import itertools
import json
import os
import re
import stat
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from operator import itemgetter

from mlperf_submit.errors import InputError

TOKEN = ":::MLLOG "
_TOKEN_LEN = len(TOKEN)
_REQUIRED = ("time_ms", "key", "value", "metadata")
_json_loads = json.loads
_raw_decode = json.JSONDecoder().raw_decode  # skips json.loads' Python-level wrapper

try:  # ~3x faster JSON; only trusted where it is known to agree with json.loads (see below)
    from orjson import loads as _orjson_loads
except ImportError:  # pragma: no cover - orjson is a dependency, but the exact path stands alone
    _orjson_loads = None
# orjson silently turns integers beyond 64 bits into floats, where json keeps them exact, so a
# float that large may have been an integer in the text: such lines take the exact path.
_HUGE = 9.2e18


# The deepest JSON text the official parser loads without RecursionError (see the docstring).
OFFICIAL_JSON_DEPTH = 985
_EXACT_DEPTH = 32  # deeper values take the exact path (no deep recursion on the fast one)


def _orjson_exact(x, depth: int = 0) -> bool:
    t = type(x)
    if t is float:
        return -_HUGE < x < _HUGE
    if t is dict:
        x = x.values()
    elif t is not list:
        return True
    if depth > _EXACT_DEPTH:
        return False
    for v in x:
        tv = type(v)
        if tv is float:
            if not -_HUGE < v < _HUGE:
                return False
        elif (tv is dict or tv is list) and not _orjson_exact(v, depth + 1):
            return False
    return True


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def json_depth(text: str) -> int:
    """How deep the brackets of a JSON text nest (outside strings); no recursion."""
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    return max(itertools.accumulate(map(_STEP.__getitem__, brackets)), default=0)


_STRING_OR_BRACKET = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.S)


def _too_deep_at(body: str) -> int:
    """Index of the first bracket that opens level ``OFFICIAL_JSON_DEPTH + 1`` (the caller
    knows there is one)."""
    depth = 0
    for m in _STRING_OR_BRACKET.finditer(body):
        c = m.group()
        if c in "[{":
            depth += 1
            if depth > OFFICIAL_JSON_DEPTH:
                return m.start()
        elif c in "]}":
            depth -= 1
    return len(body)


def _decode_deep(body: str, decode):
    """``decode(body)`` for a text within the official depth bound, whatever the depth of our
    own stack: the recursion limit is raised for the call, then restored."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(old + OFFICIAL_JSON_DEPTH + 100)
    try:
        return decode(body)
    finally:
        sys.setrecursionlimit(old)


def loads_bounded(text: str):
    """``json.loads`` as in the official process: RecursionError beyond the official depth
    bound, ValueError on bad JSON, the value otherwise (whatever the depth of our stack)."""
    if len(text) > 2 * OFFICIAL_JSON_DEPTH and json_depth(text) > OFFICIAL_JSON_DEPTH:
        cut = _too_deep_at(text)
        _decode_deep(text[:cut], _json_loads)  # a syntax error before the bound comes first
        raise RecursionError("maximum recursion depth exceeded while decoding a JSON object")
    try:
        return _json_loads(text)
    except RecursionError:
        return _decode_deep(text, _json_loads)


def call_deep(fn, *args):
    """``fn(*args)`` on parsed values (``==``, ``str``), which may nest up to the official
    bound: where our stack is too deep for that, again with the recursion limit raised."""
    try:
        return fn(*args)
    except RecursionError:
        return _decode_deep(args, lambda a: fn(*a))


class LogLine(tuple):
    """One parsed ``:::MLLOG`` line; the first five fields are the official ``LogLine``'s.

    A tuple subclass because a log can have millions of them: creating one is a single C call.
    Rule code reads them through the same attribute names as the official dataclass. (The one
    rule BEGIN block that copies and edits lines gets :class:`MutableLogLine` copies.)
    """

    __slots__ = ()
    _fields = ("full_string", "timestamp", "key", "value", "lineno", "file_lineno")

    def __new__(cls, full_string, timestamp, key, value, lineno, file_lineno):
        return tuple.__new__(cls, (full_string, timestamp, key, value, lineno, file_lineno))

    full_string = property(itemgetter(0))
    timestamp = property(itemgetter(1))
    key = property(itemgetter(2))
    value = property(itemgetter(3))  # {'value': ..., 'metadata': ...}
    lineno = property(itemgetter(4))  # official 0-based index among MLLOG lines
    file_lineno = property(itemgetter(5))  # real 1-based line in the file

    @property
    def metadata(self):
        return self[3]["metadata"]

    @property
    def val(self):
        return self[3]["value"]

    def __repr__(self):
        return (
            f"LogLine(key={self[2]!r}, value={self[3]!r}, lineno={self[4]}, file_lineno={self[5]})"
        )


@dataclass
class MutableLogLine:
    """The official tool's mutable LogLine, for rule code that copies and edits lines."""

    full_string: str
    timestamp: float
    key: object
    value: dict
    lineno: int
    file_lineno: int = -1

    def __getitem__(self, i):  # same positional access as LogLine
        return (
            self.full_string,
            self.timestamp,
            self.key,
            self.value,
            self.lineno,
            self.file_lineno,
        )[i]


_new_logline = tuple.__new__


def _values_exact(value, metadata) -> bool:
    """``_orjson_exact`` of a line's value and metadata, with the usual shapes inlined (a
    scalar value, a flat metadata dict): this runs for every line a rule reads."""
    tv = type(value)
    if tv is float:
        if not -_HUGE < value < _HUGE:
            return False
    elif (tv is dict or tv is list) and not _orjson_exact(value):
        return False
    if type(metadata) is not dict:
        return _orjson_exact(metadata)
    for x in metadata.values():
        tx = type(x)
        if tx is float:
            if not -_HUGE < x < _HUGE:
                return False
        elif (tx is dict or tx is list) and not _orjson_exact(x):
            return False
    return True


@dataclass(slots=True)
class BadLine:
    """An MLLOG line that does not parse. ``fatal``: the official parser raises on it."""

    text: str
    lineno: int
    file_lineno: int
    message: str
    fatal: bool = False


def _decode(body: str):
    # Fast path for the usual '{...}' body; anything else (leading blanks, trailing data) goes
    # through json.loads for its exact behaviour and message.
    if body[:1] == "{":
        m, end = _raw_decode(body)
        if end == len(body):
            return m
    return _json_loads(body)


def parse_mllog_text(text: str, lineno: int, file_lineno: int) -> LogLine | BadLine:
    """Parse one stripped line that starts at the token (as the official parser sees it)."""
    if not text.startswith(TOKEN):
        # e.g. ":::MLLOG" followed by nothing: strip() ate the token's space.
        return BadLine(text, lineno, file_lineno, "does not match regex")
    body = text[_TOKEN_LEN:]
    # A text this long may nest beyond the official bound (every level takes two brackets).
    if len(body) > 2 * OFFICIAL_JSON_DEPTH and (depth := json_depth(body)) > OFFICIAL_JSON_DEPTH:
        # The official json.loads raises whichever comes first, left to right: a syntax error
        # (a parse error) or the level beyond the bound (RecursionError, a crash).
        cut = _too_deep_at(body)
        try:
            _decode_deep(body[:cut], _json_loads)
        except ValueError as err:
            if err.pos < cut:
                return BadLine(text, lineno, file_lineno, str(err))
        return BadLine(
            text,
            lineno,
            file_lineno,
            f"JSON nested {depth} levels deep: the official parser crashes (RecursionError) "
            f"beyond {OFFICIAL_JSON_DEPTH}",
            True,
        )
    try:
        try:
            m = _decode(body)
        except RecursionError:  # within the official bound, but our stack is deeper
            m = _decode_deep(body, _decode)
    except ValueError as err:  # JSONDecodeError
        return BadLine(text, lineno, file_lineno, str(err))
    if m is None:  # JSON null: the official parser treats it like a line without the token
        return BadLine(text, lineno, file_lineno, "does not match regex")
    if type(m) is not dict:
        return BadLine(
            text,
            lineno,
            file_lineno,
            f"the JSON after ':::MLLOG ' is a {type(m).__name__}, not an object "
            "(the official parser crashes with a TypeError)",
            True,
        )
    try:
        ts = m["time_ms"]
        key = m["key"]
        value = m["value"]
        metadata = m["metadata"]
    except KeyError:
        missing = next(k for k in _REQUIRED if k not in m)
        return BadLine(
            text,
            lineno,
            file_lineno,
            f"missing field '{missing}' (the official parser crashes with KeyError: '{missing}')",
            True,
        )
    if type(ts) is not float:
        try:
            ts = float(ts)
        except ValueError as err:  # the official parser records this one as a parse error
            return BadLine(text, lineno, file_lineno, str(err))
        except (TypeError, OverflowError) as err:
            return BadLine(
                text,
                lineno,
                file_lineno,
                f"time_ms is not a number: {err} (the official parser crashes)",
                True,
            )
    return LogLine(text, ts, key, {"value": value, "metadata": metadata}, lineno, file_lineno)


_FINITE = 1.7976931348623157e308


def iter_lines(lines: Iterable[str], start_file_lineno: int = 1) -> Iterator[LogLine | BadLine]:
    """Parse already-split text lines (universal-newline semantics are the caller's job)."""
    index = 0
    parse = parse_mllog_text
    fast = _orjson_loads
    for file_lineno, line in enumerate(lines, start_file_lineno):
        pos = line.rfind(TOKEN)
        if pos < 0:
            continue
        text = line[pos:].strip()
        # Fast path: orjson accepts a strict subset of what json.loads accepts (no NaN,
        # Infinity, lone surrogates, huge numbers) and gives the same objects for it; anything
        # it refuses, or that lacks a field, takes the exact path below.
        if fast is not None and len(text) > _TOKEN_LEN:
            try:
                m = fast(text[_TOKEN_LEN:])
            except Exception:
                m = None
            if type(m) is dict:
                try:
                    ts = m["time_ms"]
                    if type(ts) is not float:
                        ts = float(ts)
                    key = m["key"]
                    value = m["value"]
                    metadata = m["metadata"]
                    if -_FINITE <= ts <= _FINITE and _values_exact(value, metadata):
                        yield _new_logline(
                            LogLine,
                            (
                                text,
                                ts,
                                key,
                                {"value": value, "metadata": metadata},
                                index,
                                file_lineno,
                            ),
                        )
                        index += 1
                        continue
                except Exception:
                    pass
        yield parse(text, index, file_lineno)
        index += 1


def regular_file(path: str | os.PathLike, what: str = "log file") -> None:
    """InputError unless ``path`` is a regular file: opening a FIFO would wait for a writer
    forever, and a directory, a device or a symbolic-link loop is no log."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as err:  # ELOOP, EACCES on a parent, ...
        if err.errno == errno.ELOOP:
            raise InputError(f"{path}: a symbolic link loop") from None
        raise InputError(f"{path}: cannot read: {err.strerror or err}") from None
    if stat.S_ISDIR(mode):
        raise InputError(f"{path}: is a directory, not a {what}")
    if not stat.S_ISREG(mode):
        kind = "a named pipe" if stat.S_ISFIFO(mode) else "not a regular file"
        raise InputError(f"{path}: {kind}, not a {what}")


def open_log(path: str | os.PathLike):
    """Open a log the way the official parser does (latin-1, universal newlines)."""
    regular_file(path)
    try:
        return open(path, encoding="latin-1", newline=None)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a log file") from None
    except PermissionError:
        raise InputError(f"{path}: permission denied") from None
    except OSError as err:
        raise InputError(f"{path}: cannot read: {err.strerror or err}") from None


# Lines longer than this are read in pieces: a 2 GB log of zero bytes is one "line", which
# the file iterator would hold in memory whole.
LONG_LINE = 1 << 24  # 16 MiB
# What is kept of a line after its last token (the JSON a check reads) has no such bound in
# the official tools; past this we give up on the file rather than on the machine's memory.
MAX_RECORD = 1 << 28  # 256 MiB


def log_lines(f, name: str | os.PathLike = "log") -> Iterator[str]:
    """The lines of an open log, as ``for line in f`` gives them, in bounded memory: a line
    longer than :data:`LONG_LINE` comes back as its part from the *last* ``:::MLLOG `` token on
    (all any check reads: the official parser cuts at the last token), or as a bare line end
    when it holds no token, so line numbers stay right."""
    readline = f.readline
    lineno = 0
    while True:
        line = readline(LONG_LINE)
        if not line:
            return
        lineno += 1
        if len(line) < LONG_LINE or line[-1] == "\n":
            yield line
        else:
            yield _rest_of_long_line(line, readline, name, lineno)


def _rest_of_long_line(first: str, readline, name, lineno: int) -> str:
    keep = first
    while True:
        pos = keep.rfind(TOKEN)
        keep = keep[pos:] if pos >= 0 else keep[-(_TOKEN_LEN - 1) :]  # a token may straddle
        if len(keep) > MAX_RECORD:
            raise InputError(
                f"{name}:{lineno}: an MLLOG record longer than {MAX_RECORD >> 20} MiB: not a "
                "log this tool (or the official one, in sane memory) can read"
            )
        if keep.endswith("\n"):
            break
        piece = readline(LONG_LINE)
        if not piece:
            break
        keep += piece
    if keep.startswith(TOKEN):
        return keep
    return "\n" if keep.endswith("\n") else ""


def iter_file(path: str | os.PathLike) -> Iterator[LogLine | BadLine]:
    """Stream the MLLOG lines of a file; memory does not grow with its length."""
    with open_log(path) as f:
        try:
            yield from iter_lines(log_lines(f, path))
        except OSError as err:
            raise InputError(f"{path}: read error: {err.strerror or err}") from None
