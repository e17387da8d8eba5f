"""Minimal run sets for RCP tests: what the official RCP reader reads, nothing else.

A log here holds the four lines ``read_submission_file`` looks at (``submission_benchmark``,
``global_batch_size``, one ``eval_accuracy`` at the convergence point, ``run_stop``), so the
official ``rcp_checker`` can be asked what it says about any batch size and any points.
"""

from __future__ import annotations

import json
from pathlib import Path

from mlperf_submit.compliance.rcp import SAMPLES_COUNT_BENCHMARKS


def _line(key: str, value, metadata: dict | None = None, t: int = 0) -> str:
    rec = {
        "namespace": "",
        "time_ms": t,
        "event_type": "POINT_IN_TIME",
        "key": key,
        "value": value,
        "metadata": {"file": "rcp_logs.py", "lineno": 1, **(metadata or {})},
    }
    return ":::MLLOG " + json.dumps(rec)


def write_run_set(directory: Path, benchmark: str, bs: int, points: list) -> list[Path]:
    """``result_<i>.txt`` per point (``None``: a run that did not converge)."""
    directory.mkdir(parents=True, exist_ok=True)
    unit = "samples_count" if benchmark in SAMPLES_COUNT_BENCHMARKS else "epoch_num"
    paths = []
    for i, point in enumerate(points):
        lines = [
            _line("submission_benchmark", benchmark),
            _line("global_batch_size", bs),
            _line("eval_accuracy", 0.5, {unit: point if point is not None else 1}),
            _line("run_stop", None, {"status": "success" if point is not None else "aborted"}),
        ]
        path = directory / f"result_{i}.txt"
        path.write_text("\n".join(lines) + "\n")
        paths.append(path)
    return paths
