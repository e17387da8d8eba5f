"""The campaign's progress line: run i/N, elapsed, ETA, the last eval metric.

On a terminal the line is redrawn in place (``\\r``) at most twice a second; into a file (a
Slurm output file, CI) a line is printed only when something changes (a new eval, a run ends)
or every ``quiet_s`` seconds, so logs stay readable::

    [campaign resnet] run 2/5 seed 1714636113 | 0:00:41 | ETA 0:02:10 | eval 0.6875 @ 8
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field


def hms(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def eta_seconds(
    durations: list[float], remaining_after_current: int, current_elapsed: float
) -> float | None:
    """Mean duration of the runs done so far times what is left; None before the first one."""
    if not durations:
        return None
    mean = sum(durations) / len(durations)
    return max(0.0, mean - current_elapsed) + mean * remaining_after_current


@dataclass
class Progress:
    benchmark: str
    total: int
    stream: object = field(default=None)
    quiet_s: float = 60.0
    durations: list[float] = field(default_factory=list)
    note: str = ""  # appended to the line (the live projection)
    _last_text: str = ""
    _last_print: float = 0.0
    _open_line: bool = False

    def __post_init__(self):
        if self.stream is None:
            self.stream = sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def line(self, number: int, seed, elapsed: float, remaining: int, last_eval) -> str:
        eta = eta_seconds(self.durations, remaining, elapsed)
        text = f"[campaign {self.benchmark}] run {number}/{self.total} seed {seed} | {hms(elapsed)}"
        text += f" | ETA {hms(eta)}"
        if last_eval is not None:
            progress, value = last_eval
            value = f"{value:.4g}" if isinstance(value, float) else value
            text += f" | eval {value} @ {progress}"
        if self.note:
            text += f" | {self.note}"
        return text

    def update(self, number, seed, elapsed, remaining, last_eval, *, changed=False) -> None:
        text = self.line(number, seed, elapsed, remaining, last_eval)
        now = time.monotonic()
        if self.tty:
            if now - self._last_print >= 0.5 or changed:
                self.stream.write("\r\x1b[K" + text)
                self.stream.flush()
                self._last_print, self._open_line = now, True
        elif changed or now - self._last_print >= self.quiet_s:
            self._emit(text)
            self._last_print = now

    def message(self, text: str) -> None:
        """A line that stays (run finished, cache cleared ...)."""
        self._emit(f"[campaign {self.benchmark}] {text}")

    def _emit(self, text: str) -> None:
        if self._open_line:
            self.stream.write("\r\x1b[K")
            self._open_line = False
        self.stream.write(text + "\n")
        self.stream.flush()
