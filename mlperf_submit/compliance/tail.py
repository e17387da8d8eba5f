"""The complete lines of a growing log file, as they are written: the one log tailer.

``check --follow`` (``follow.py``) waits on it line by line, with an idle timeout; the campaign
runner and the Slurm follower (``launch/campaign/logtail.py``) poll it between other work.
Lines are cut as the official parser reads a file (``open(path, encoding='latin-1')``):
latin-1, universal newlines -- ``\\n``, ``\\r\\n`` and a lone ``\\r`` end a line, and nothing else
does (``str.splitlines`` would also cut at ``\\x0c``, ``\\x1c``-``\\x1e`` and ``\\x85``, which a
UTF-8 log holds inside JSON strings). A last line without its line end is held back until it
is complete (a trailing ``\\r`` too: its ``\\n`` may follow), and given as it is by ``rest()``
when following ends. The file is reopened at each read, from ``offset``; a file that was there
and is then removed, replaced or truncated is an InputError, not a silent restart.

    tail = Tail("run_0.log", idle_timeout=60)
    tail.wait_for_file()
    for line in tail.lines(): ...          # blocks until tail.stop_at_eof and EOF, or idle
    new = Tail("run_0.log").read_lines()   # what is there now, without waiting
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator

from mlperf_submit.errors import InputError

CHUNK_BYTES = 1 << 20  # one read; a long log is followed chunk by chunk, never held whole


def split_lines(raw: bytes) -> list[str]:
    """Text lines of ``raw`` with their line ends as ``\\n``; the last one may have none."""
    text = raw.decode("latin-1").replace("\r\n", "\n").replace("\r", "\n")
    pieces = text.split("\n")
    out = [p + "\n" for p in pieces[:-1]]
    if pieces[-1]:
        out.append(pieces[-1])
    return out


class Tail:
    def __init__(
        self,
        path: str | os.PathLike,
        *,
        poll: float = 0.25,
        idle_timeout: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.path = path
        self.poll = poll
        self.idle_timeout = idle_timeout  # seconds without a new byte that end lines(); 0: wait
        self.clock = clock
        self.sleep = sleep
        self.offset = 0  # bytes read so far (complete lines and the held-back part)
        self.stop_at_eof = False  # set by the reader (e.g. at run_stop): lines() ends at EOF
        self.timed_out = False  # lines() / wait_for_file() ended by the idle timeout
        self.last_data = clock()
        self._partial = b""
        self._ino: int | None = None

    # -- without waiting ----------------------------------------------------------------------
    def read_lines(self) -> list[str]:
        """The complete lines written since the last call; [] while the file does not exist."""
        out: list[str] = []
        while data := self._read_chunk():
            out.extend(self._complete_lines(data))
        return out

    def rest(self) -> list[str]:
        """The held-back last line, when following ends (the file ends without a line end)."""
        raw, self._partial = self._partial, b""
        return split_lines(raw) if raw else []

    # -- waiting --------------------------------------------------------------------------------
    def idle(self) -> bool:
        """True once ``idle_timeout`` seconds passed without a new byte (0: never)."""
        if self.idle_timeout > 0 and self.clock() - self.last_data >= self.idle_timeout:
            self.timed_out = True
        return self.timed_out

    def wait_for_file(self) -> bool:
        """Block until the file exists; False when the idle timeout ran out first."""
        while not os.path.exists(self.path):
            if self.idle():
                return False
            self.sleep(self.poll)
        if os.path.isdir(self.path):
            raise InputError(f"{self.path}: is a directory, not a log file")
        return True

    def lines(self) -> Iterator[str]:
        """Every line as it is written, until EOF after ``stop_at_eof`` was set or the idle
        timeout; then the held-back last line, if any."""
        while True:
            data = self._read_chunk()
            if data:
                yield from self._complete_lines(data)
                continue
            if self.stop_at_eof or self.idle():
                break
            self.sleep(self.poll)
        yield from self.rest()

    # -- internals ------------------------------------------------------------------------------
    def _open(self):
        """The file in bytes (exact offsets; decoded per complete line), None while it does
        not exist yet."""
        try:
            return open(self.path, "rb")
        except FileNotFoundError:
            if self._ino is None:
                return None
            raise InputError(f"{self.path}: removed while following") from None
        except OSError as err:
            raise InputError(f"{self.path}: cannot read ({err.strerror or err})") from None

    def _read_chunk(self) -> bytes:
        f = self._open()
        if f is None:
            return b""
        with f:
            st = os.fstat(f.fileno())
            if self._ino is None:
                self._ino = st.st_ino
            elif st.st_ino != self._ino or st.st_size < self.offset:
                raise InputError(
                    f"{self.path}: replaced or truncated while following (read {self.offset} "
                    f"bytes, now {st.st_size}): start again on the new file"
                )
            f.seek(self.offset)
            data = f.read(CHUNK_BYTES)
        if data:
            self.offset += len(data)
            self.last_data = self.clock()
        return data

    def _complete_lines(self, data: bytes) -> list[str]:
        buf = self._partial + data
        # the last line end: a \n, or a \r that is not the last byte read (that one may be
        # the first half of a \r\n)
        end = max(buf.rfind(b"\n"), buf.rfind(b"\r", 0, len(buf) - 1))
        self._partial = buf[end + 1 :]
        return split_lines(buf[: end + 1]) if end >= 0 else []
