"""Damaged inputs for the commands that take whole folders (verify, package, report, campaign
--resume): what the hypothesis tests apply to a copy of a real folder, and what they expect.

Structural damage -- a directory, a named pipe or a symbolic link loop where a file belongs, or
a JSON file (system description, scaling.json, campaign.json) that is truncated, a list,
garbage or 2 GB -- makes the input unusable: exit 2, one message naming the file, nothing
written. Damage to a log's *content* (truncated, garbage, a list, 64 MiB of zero bytes: the long
line path of ``parser.log_lines``, which a 2 GB log takes too) is no usage error: the command
gives its verdict (0 or 1) and names the file where it fails.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

DAMAGES = ("truncate", "directory", "fifo", "list_json", "garbage", "symlink_loop", "huge")
STRUCTURAL = ("directory", "fifo", "symlink_loop")
JSON_HUGE = 2 << 30  # a JSON file's size is checked before it is read: instant
LOG_HUGE = 64 << 20  # read in 16 MiB pieces: the same path as 2 GB, at test speed


def damage(path: Path, kind: str, *, is_json: bool) -> None:
    """Replace ``path`` (which may not exist) by its damaged version."""
    if kind == "truncate":
        data = path.read_bytes() if path.is_file() else b'{"scaling_factor": 1.0}'
        path.write_bytes(data[: len(data) // 2])
        return
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif os.path.lexists(path):
        path.unlink()
    if kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "list_json":
        path.write_text("[1, 2]\n")
    elif kind == "garbage":
        path.write_bytes(b"\x00\xff\xfe garbage {{{\n")
    elif kind == "symlink_loop":
        path.symlink_to(path.name)
    elif kind == "huge":
        with open(path, "wb") as f:
            f.truncate(JSON_HUGE if is_json else LOG_HUGE)
    else:
        raise ValueError(kind)


def expect_unusable(kind: str, *, is_json: bool) -> bool:
    """Exit 2 expected (the input cannot be used at all)."""
    return kind in STRUCTURAL or is_json


def listing(root: Path) -> dict[str, bytes | str]:
    """Every entry under ``root`` with its bytes (files) or its kind: to prove nothing changed.
    Named pipes are never opened."""
    out: dict[str, bytes | str] = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            if p.is_symlink():
                out[rel] = f"link -> {os.readlink(p)}"
            elif p.is_dir():
                out[rel] = "dir"
            elif p.is_file():
                out[rel] = p.read_bytes() if p.stat().st_size < (1 << 20) else f"{p.stat().st_size}"
            else:
                out[rel] = "special"
    return out
