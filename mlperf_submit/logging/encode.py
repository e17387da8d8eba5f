"""One ``:::MLLOG`` line, byte for byte what ``mlperf_logging.mllog`` writes, and its call site.

``mllog`` builds ``OrderedDict(namespace, time_ms, event_type, key, value, metadata)`` and
``json.dumps`` it with a numpy-aware encoder; ``metadata`` starts with ``file`` and ``lineno``
of the call site, then the caller's own keys. We produce the same bytes (tests compare them with
``mllog`` itself), with two differences that only show on bad input: where ``mllog`` logs
"Failed to encode" and carries on, we raise :class:`~mlperf_submit.errors.UsageError` naming the
call site, and a key that is not a ``str`` is refused instead of written.

The call site is found with ``sys._getframe`` rather than ``inspect.getframeinfo`` (which reads
the source file for context lines): same ``file``/``lineno``, a fraction of the cost.

    >>> encode_line("", 1700000000000, "POINT_IN_TIME", "seed", 7, {"file": "t.py", "lineno": 3})
    ':::MLLOG {"namespace": "", "time_ms": 1700000000000, "event_type": "POINT_IN_TIME", "key": "seed", "value": 7, "metadata": {"file": "t.py", "lineno": 3}}'
"""

from __future__ import annotations

import json
import os
import sys

from mlperf_submit.errors import UsageError

TOKEN = ":::MLLOG "
INTERVAL_START = "INTERVAL_START"
INTERVAL_END = "INTERVAL_END"
POINT_IN_TIME = "POINT_IN_TIME"

try:  # mllog uses numpy's types when numpy is importable; so do we (same output)
    import numpy as _np
except ImportError:  # pragma: no cover - numpy is a dependency of mlperf-logging
    _np = None


class _NumpyJSONEncoder(json.JSONEncoder):
    """The conversions of ``mllog._NumpyJSONEncoder``, so numpy values encode identically."""

    def default(self, o):
        if _np is not None:
            if isinstance(o, _np.integer):
                return int(o)
            if isinstance(o, _np.floating):
                return float(o)
            if isinstance(o, _np.ndarray):
                return o.tolist()
        return super().default(o)


# One encoder with json.dumps' default settings: json.dumps(cls=...) would build a new one per call.
_encode = _NumpyJSONEncoder().encode

# Frames in this package are the facade; the call site is the first frame outside it.
_FACADE_DIR = os.path.dirname(sys._getframe(0).f_code.co_filename) + os.sep


def call_site(stack_offset: int = 0, root_dir: str | None = None) -> tuple[str, int]:
    """``(file, lineno)`` of the code that called the facade.

    Frames inside ``mlperf_submit/logging/`` are skipped, so helpers and context managers report
    the user's line; ``stack_offset`` skips that many further frames (for a user's own wrapper,
    as ``mllog``'s ``stack_offset`` does). ``root_dir`` is trimmed from the front of the path,
    as ``mllog``'s ``root_dir`` is.
    """
    frame = sys._getframe(1)
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_FACADE_DIR):
        frame = frame.f_back
    for _ in range(stack_offset):
        if frame.f_back is None:
            break
        frame = frame.f_back
    filename = frame.f_code.co_filename
    if root_dir and filename.startswith(root_dir.rstrip("/") + "/"):
        filename = filename[len(root_dir.rstrip("/")) + 1 :]
    return filename, frame.f_lineno


def where(site: tuple[str, int]) -> str:
    """``file:line`` for messages."""
    return f"{site[0]}:{site[1]}"


def build_metadata(site: tuple[str, int], metadata) -> dict:
    """``{"file", "lineno"}`` then the caller's keys (which may override them, as in ``mllog``)."""
    meta = {"file": site[0], "lineno": site[1]}
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise UsageError(
                f"{where(site)}: metadata must be a dict, not {type(metadata).__name__} "
                f"({metadata!r:.80})"
            )
        meta.update(metadata)
    return meta


def encode_line(namespace: str, time_ms: int, event_type: str, key, value, metadata) -> str:
    """The complete line without its newline. TypeError/ValueError if not JSON-serialisable."""
    payload = {
        "namespace": namespace,
        "time_ms": time_ms,
        "event_type": event_type,
        "key": key,
        "value": value,
        "metadata": metadata,
    }
    return TOKEN + _encode(payload)


def encode_or_raise(
    namespace: str, time_ms: int, event_type: str, key, value, metadata, site: tuple[str, int]
) -> str:
    """:func:`encode_line`, turning an encoding failure into a UsageError naming the call site."""
    try:
        return encode_line(namespace, time_ms, event_type, key, value, metadata)
    except (TypeError, ValueError, RecursionError) as err:
        culprit = _find_unencodable(value)
        part = "value"
        if culprit is None:
            culprit = _find_unencodable(metadata)
            part = "metadata"
        hint = ""
        if culprit is not None and hasattr(culprit, "item") and hasattr(culprit, "numel"):
            hint = (
                " (a tensor: log tensor.item(), outside the hot loop; .item() waits for the device)"
            )
        shown = f"{type(culprit).__name__} {culprit!r:.60}" if culprit is not None else str(err)
        raise UsageError(
            f"{where(site)}: the {part} of '{key}' is not JSON-serialisable: {shown}{hint}"
        ) from None


def _find_unencodable(obj, depth: int = 0):
    """The first sub-value json cannot encode, for the error message (None if not found)."""
    if depth > 50:
        return obj
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return None
    if isinstance(obj, (list, tuple)):
        for item in obj:
            bad = _find_unencodable(item, depth + 1)
            if bad is not None:
                return bad
        return None
    if isinstance(obj, dict):
        for k, item in obj.items():
            if not (k is None or isinstance(k, (str, int, float, bool))):
                return k
            bad = _find_unencodable(item, depth + 1)
            if bad is not None:
                return bad
        return None
    if _np is not None and isinstance(obj, (_np.integer, _np.floating, _np.ndarray)):
        return None
    return obj
