"""``mlperf-submit check LOG --follow``: check a log while the run is still writing it.

For runs that do not log through our facade (a vendor container, another framework): each
complete line is fed to the same streaming rules engine as ``check``, and every finding that
is already definite (a CHECK that no later rule file can override, an EXACTLY_ONE key seen
twice, a line that does not parse) is printed the moment its line lands, as
``LOG:LINE: error: message``. Requirements that need the whole log (counts, the target) wait.

It ends after ``run_stop`` (once the lines already written are read), after ``--idle-timeout``
seconds without a new byte, or on Ctrl-C; then it prints the same report and exit code as
``check LOG`` on the file as it stands (0 compliant, 1 not, 2 unusable). The log may not exist
yet: it waits for it. Without ``--ruleset`` it waits for the ``submission_benchmark`` line and
takes the newest ruleset with that benchmark, like ``check``.
"""

from __future__ import annotations

import itertools
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from mlperf_submit.compliance.check_paths import (
    check_target,
    choose_ruleset,
    exit_code_for,
    ruleset_for,
)
from mlperf_submit.compliance.meta import check_ruleset
from mlperf_submit.compliance.parser import LogLine, iter_lines
from mlperf_submit.compliance.report_format import render
from mlperf_submit.compliance.rule_engine import RuleEngine
from mlperf_submit.errors import InputError


@dataclass
class _TailState:
    stop_at_eof: bool = False  # run_stop seen: read what is there, then end
    idle: bool = False  # ended by the idle timeout
    last_data: float = 0.0


class Tail:
    """The complete lines of a growing file, as they are written (latin-1, universal newlines,
    as the official parser reads). A last line without its newline is held back until the
    newline comes, or given as is when following ends."""

    def __init__(
        self,
        path: str,
        *,
        poll: float = 0.25,
        idle_timeout: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.path = path
        self.poll = poll
        self.idle_timeout = idle_timeout
        self.clock = clock
        self.sleep = sleep
        self.state = _TailState(last_data=clock())
        self.bytes_read = 0

    def idle(self) -> bool:
        if self.idle_timeout > 0 and self.clock() - self.state.last_data >= self.idle_timeout:
            self.state.idle = True
        return self.state.idle

    def wait_for_file(self) -> bool:
        """Block until the file exists; False when the idle timeout ran out first."""
        while not os.path.exists(self.path):
            if self.idle():
                return False
            self.sleep(self.poll)
        if os.path.isdir(self.path):
            raise InputError(f"{self.path}: is a directory, not a log file")
        return True

    def _open(self):
        try:
            return open(self.path, "rb")  # bytes: exact offsets for the shrink check
        except OSError as err:
            raise InputError(f"{self.path}: cannot read ({err.strerror or err})") from None

    def lines(self) -> Iterator[str]:
        with self._open() as f:
            ino = os.fstat(f.fileno()).st_ino
            partial = b""
            while True:
                chunk = f.readline()
                if chunk:
                    self.bytes_read += len(chunk)
                    self.state.last_data = self.clock()
                    if chunk.endswith((b"\n", b"\r")):
                        yield from _split_universal(partial + chunk)
                        partial = b""
                    else:
                        partial += chunk
                    continue
                if self.state.stop_at_eof or self.idle():
                    break
                self._check_not_replaced(ino)
                self.sleep(self.poll)
            if partial:
                yield from _split_universal(partial)

    def _check_not_replaced(self, ino: int) -> None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            raise InputError(f"{self.path}: removed while following") from None
        if st.st_ino != ino or st.st_size < self.bytes_read:
            raise InputError(
                f"{self.path}: replaced or truncated while following (read {self.bytes_read} "
                f"bytes, now {st.st_size}): start again on the new file"
            )


def _split_universal(raw: bytes) -> list[str]:
    """Text lines of one read, with \\r\\n and lone \\r as line ends (universal newlines)."""
    text = raw.decode("latin-1").replace("\r\n", "\n").replace("\r", "\n")
    return text.splitlines(keepends=True)


def follow(
    path: str,
    ruleset: str | None,
    *,
    idle_timeout: float = 0.0,
    poll: float = 0.25,
    out=None,
) -> int:
    """Follow ``path`` until it ends; print findings as they become definite, then the same
    report as ``check``. Returns the exit code."""
    out = out or sys.stdout
    tail = Tail(path, poll=poll, idle_timeout=idle_timeout)
    say = _printer(out)
    ended, source = "run_stop", "--ruleset"
    try:
        if not os.path.exists(path):
            say(f"waiting for {path} to appear ...")
        if not tail.wait_for_file():
            raise InputError(f"{path}: did not appear within --idle-timeout {idle_timeout:g} s")
        items = iter_lines(tail.lines())
        # Without --ruleset, hold the lines back until the benchmark is known (the engine needs
        # its ruleset from the first line on); one pass over the file either way.
        held: list = []
        if ruleset:
            ruleset, source = check_ruleset(ruleset), "--ruleset"
        else:
            bm = None
            for item in items:
                held.append(item)
                if type(item) is LogLine and item.key == "run_stop":
                    tail.state.stop_at_eof = True  # no benchmark line before the end
                if type(item) is LogLine and item.key == "submission_benchmark":
                    bm = item.val if isinstance(item.val, str) else None
                    break  # the first one decides, as for check (log_benchmark)
            ruleset, source = ruleset_for([bm] if bm else [], f"{path} (submission_benchmark)")
        say(f"following {path} (ruleset {ruleset}: {source}); Ctrl-C to stop")
        engine = RuleEngine(ruleset, "training", online=True)
        for item in itertools.chain(held, items):
            for f in engine.feed(item):
                where = f"{path}:{f.file_lineno}" if f.file_lineno else path
                say(f"{where}: {f.severity}: {f.short()}")
                if f.hint:
                    say(f"    fix: {f.hint}")
            if type(item) is LogLine and item.key == "run_stop":
                tail.state.stop_at_eof = True
        if tail.state.idle:
            ended = f"no new line for {idle_timeout:g} s"
    except KeyboardInterrupt:
        ended = "Ctrl-C"
        if not os.path.isfile(path):
            raise InputError(f"{path}: stopped (Ctrl-C) before the log appeared") from None
        if not ruleset:
            ruleset, source = choose_ruleset(path, "file", None)
    say(f"stopped following ({ended}); {tail.bytes_read} bytes read. The log as it stands:")
    target = check_target(path, "file", ruleset, source)
    for line in render([target]):
        say(line)
    return exit_code_for([target])


def _printer(out):
    def say(line: str) -> None:
        print(line, file=out, flush=True)  # flushed: someone is watching, maybe through a pipe

    return say
