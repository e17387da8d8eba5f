"""Names that become folders or files of a submission tree (org, system id, implementation id).

The official ``repo_checker`` rejects any file or folder name that starts with ``.`` or contains
a space, and a path separator would silently create an extra folder level that
``package_checker`` then reads as a system or a benchmark. We refuse such names up front, with
the fix, instead of writing a tree that fails later.

    >>> check_name("system", "dgx_h100_n1")
    'dgx_h100_n1'
    >>> check_name("system", "a/b")          # raises UsageError
"""

from __future__ import annotations

import re

from mlperf_submit.errors import UsageError

# Letters, digits and the punctuation seen in published trees ("HPE-Cray-XD670_n8_25.09").
_ALLOWED = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+\-]*$")
_MAX_LEN = 128


def name_problem(value: object) -> str | None:
    """Why ``value`` cannot be a folder or file name of a submission tree, or None if it can."""
    if not isinstance(value, str):
        return f"must be a string, got {type(value).__name__}"
    if not value:
        return "is empty"
    if "/" in value or "\\" in value:
        return "contains a path separator (/ or \\)"
    if value.startswith("."):
        return "starts with '.' (repo_checker rejects dot files)"
    if any(ch.isspace() for ch in value):
        return "contains whitespace (repo_checker rejects names with spaces)"
    if len(value) > _MAX_LEN:
        return f"is longer than {_MAX_LEN} characters"
    if not _ALLOWED.match(value):
        bad = sorted({ch for ch in value if not (ch.isascii() and (ch.isalnum() or ch in "._+-"))})
        if bad:
            return f"contains characters other than letters, digits and . _ + - ({''.join(bad)!r})"
        return "must start with a letter or a digit"
    return None


def check_name(kind: str, value: object) -> str:
    """Return ``value`` if it is a valid name for a ``kind`` folder, else raise UsageError."""
    problem = name_problem(value)
    if problem:
        raise UsageError(
            f"{kind} name {value!r} {problem}; use letters, digits and . _ + - only "
            f"(for example {suggest_name(value)!r})"
        )
    return value  # type: ignore[return-value]


def suggest_name(value: object) -> str:
    """A valid name close to ``value`` (for messages and for names derived from hostnames)."""
    text = str(value).strip()
    text = re.sub(r"[^A-Za-z0-9._+\-]+", "_", text).strip("._-+")
    return text[:_MAX_LEN] or "system"
