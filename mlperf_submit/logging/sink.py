"""Where MLLOG lines go: the log file (rank 0) and stdout, each line complete and flushed.

Crash safety: the file is opened ``O_APPEND`` unbuffered and every line, newline included, is
one ``os.write`` call, so a process killed with SIGKILL leaves whole lines only (the kernel
finishes a write it has started; there is no user-space buffer to lose). stdout gets the same
line and a flush, which is what Slurm's output file or ``tee`` captures.

The file is created on the first line, not in the constructor: under torchrun or srun every rank
builds a logger, and only rank 0 may touch the file. An existing non-empty file is never
truncated unless ``force=True``.
"""

from __future__ import annotations

import os
import sys

from mlperf_submit.errors import UsageError


class LineSink:
    """Appends whole lines to ``path`` (created lazily) and echoes them to stdout."""

    def __init__(self, path: str | os.PathLike | None, *, echo: bool = True, force: bool = False):
        self.path = os.fspath(path) if path is not None else None
        self.echo = echo
        self.force = force
        self._fd: int | None = None
        self.lines_written = 0  # MLLOG lines written to the file (the official 0-based index)

    def _open(self) -> int:
        path = self.path
        assert path is not None
        if os.path.isdir(path):
            raise UsageError(f"log file {path} is a directory")
        if not self.force and os.path.exists(path) and os.path.getsize(path) > 0:
            raise UsageError(
                f"log file {path} already exists and is not empty; choose a new name or pass "
                "force=True (--force) to overwrite it"
            )
        parent = os.path.dirname(path)
        try:
            if parent:
                os.makedirs(parent, exist_ok=True)
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_TRUNC
            return os.open(path, flags, 0o644)
        except OSError as err:
            raise UsageError(f"cannot write log file {path}: {err.strerror or err}") from None

    def write(self, line: str, to_file: bool = True) -> None:
        """Write one line (no trailing newline in ``line``) to the file and/or stdout."""
        if to_file and self.path is not None:
            if self._fd is None:
                self._fd = self._open()
            data = (line + "\n").encode("utf-8")
            # One write per line: a partial write only happens on a full disk or a signal,
            # and then we finish the line rather than leave half of it.
            n = os.write(self._fd, data)
            while n < len(data):
                n += os.write(self._fd, data[n:])
            self.lines_written += 1
        if self.echo:
            try:
                out = sys.stdout
                out.write(line + "\n")
                out.flush()
            except (OSError, ValueError):
                # stdout closed or a broken pipe (tee gone): the file is the record; stop echoing.
                self.echo = False

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
