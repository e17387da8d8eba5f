"""Watch a dataset tree with Linux inotify: which files were opened or read, and when.

Catches reads from any code in the process or its children, C++ included (DALI's file reader
does not go through Python's ``open``), which an audit hook would miss.

    with DirWatch(root) as w:
        ...                       # w.drain() -> events since the last drain
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import struct
from pathlib import Path

IN_ACCESS = 0x001
IN_OPEN = 0x020
IN_NONBLOCK = 0o4000
IN_ISDIR = 0x40000000
_HEADER = struct.Struct("iIII")


class DirWatch:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        self.fd = -1
        self.dirs: dict[int, Path] = {}

    def __enter__(self) -> DirWatch:
        self.fd = self._libc.inotify_init1(IN_NONBLOCK)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 failed")
        for d in [self.root, *sorted(p for p in self.root.rglob("*") if p.is_dir())]:
            wd = self._libc.inotify_add_watch(self.fd, str(d).encode(), IN_OPEN | IN_ACCESS)
            if wd < 0:
                raise OSError(ctypes.get_errno(), f"inotify_add_watch {d}")
            self.dirs[wd] = d
        return self

    def drain(self) -> list[str]:
        """Paths opened or read since the last call ("<dir>/" for a directory listing)."""
        events = []
        while True:
            try:
                buf = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                return events
            off = 0
            while off < len(buf):
                wd, mask, _cookie, length = _HEADER.unpack_from(buf, off)
                name = buf[off + _HEADER.size : off + _HEADER.size + length].rstrip(b"\0")
                off += _HEADER.size + length
                base = self.dirs.get(wd, Path("?"))
                events.append(str(base / name.decode()) if name else f"{base}/")

    def __exit__(self, *exc) -> None:
        os.close(self.fd)
