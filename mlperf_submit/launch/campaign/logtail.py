"""Follow a growing MLPerf log: the last eval metric for the progress line, and run_stop.

Each ``poll()`` takes the complete lines appended since the last one from the one log tailer
(``compliance.tail.Tail``: a line being written is left for the next poll) and parses them with
the compliance parser's own line loop, so that what counts as an MLLOG line is exactly what the
checkers accept.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from mlperf_submit.compliance.parser import LogLine, iter_lines
from mlperf_submit.compliance.tail import Tail
from mlperf_submit.errors import InputError

PROGRESS_KEYS = ("epoch_num", "samples_count")


@dataclass
class LogTail:
    path: str | os.PathLike
    n_lines: int = 0  # lines consumed (1-based numbering of the next one is n_lines + 1)
    n_mllog: int = 0
    last_eval: tuple[object, object] | None = None  # (progress, value) of the last eval_accuracy
    run_stop_status: str | None = None
    run_started: bool = False  # a run_start line was seen
    seeds: list[object] = field(default_factory=list)
    tail: Tail = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.tail = Tail(self.path)

    def poll(self) -> bool:
        """Consume new complete lines; True when something new about progress was seen."""
        try:
            lines = self.tail.read_lines()
        except InputError:
            # removed or replaced under us: the runner's records say what became of the run;
            # the progress line just stops moving
            return False
        changed = False
        for item in iter_lines(lines, self.n_lines + 1):
            self.n_mllog += 1
            if type(item) is LogLine:
                changed |= self._see(item)
        self.n_lines += len(lines)
        return changed

    def _see(self, line: LogLine) -> bool:
        meta = line.metadata if isinstance(line.metadata, dict) else {}
        if line.key == "eval_accuracy":
            progress = next((meta[k] for k in PROGRESS_KEYS if k in meta), None)
            self.last_eval = (progress, line.val)
            return True
        if line.key == "run_start":
            self.run_started = True
            return False
        if line.key == "run_stop":
            self.run_stop_status = meta.get("status")
            return True
        if line.key == "seed":
            self.seeds.append(line.val)
        return False
