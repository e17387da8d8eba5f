"""Follow a growing MLPerf log: the last eval metric for the progress line, and run_stop.

Reads only the bytes appended since the last call, and only whole lines (a line being written
is left for the next call), through the compliance parser so that what counts as an MLLOG line
is exactly what the checkers accept.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from mlperf_submit.compliance.parser import TOKEN, LogLine, parse_mllog_text

PROGRESS_KEYS = ("epoch_num", "samples_count")


@dataclass
class LogTail:
    path: str | os.PathLike
    offset: int = 0
    n_lines: int = 0  # lines consumed (1-based numbering of the next one is n_lines + 1)
    n_mllog: int = 0
    last_eval: tuple[object, object] | None = None  # (progress, value) of the last eval_accuracy
    run_stop_status: str | None = None
    seeds: list[object] = field(default_factory=list)

    def poll(self) -> bool:
        """Consume new complete lines; True when something new about progress was seen."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except OSError:
            return False
        end = data.rfind(b"\n")
        if end < 0:
            return False
        self.offset += end + 1
        changed = False
        for raw in data[: end + 1].decode("latin-1").splitlines():
            self.n_lines += 1
            if TOKEN not in raw:
                continue
            item = parse_mllog_text(raw, self.n_mllog, self.n_lines)
            self.n_mllog += 1
            if isinstance(item, LogLine):
                changed |= self._see(item)
        return changed

    def _see(self, line: LogLine) -> bool:
        meta = line.metadata if isinstance(line.metadata, dict) else {}
        if line.key == "eval_accuracy":
            progress = next((meta[k] for k in PROGRESS_KEYS if k in meta), None)
            self.last_eval = (progress, line.val)
            return True
        if line.key == "run_stop":
            self.run_stop_status = meta.get("status")
            return True
        if line.key == "seed":
            self.seeds.append(line.val)
        return False
