"""bench/device/recsys_gpu.sh --dry-run: it runs nothing, and every part it would run is a valid
command line of bench/recsys_throughput.py (checked with the script's own parser)."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "bench" / "device" / "recsys_gpu.sh"


def test_dry_run_lists_valid_parts_and_runs_nothing(tmp_path):
    proc = subprocess.run(
        ["bash", str(SCRIPT), "--dry-run"],
        capture_output=True, text=True, timeout=60, env={"OUT": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert not any(tmp_path.iterdir())  # nothing written, nothing run
    commands = [ln.strip() for ln in proc.stdout.splitlines() if "recsys_throughput.py" in ln]
    assert len(commands) == 3
    sys.path.insert(0, str(REPO / "bench"))
    from recsys_throughput import parser

    parts = set()
    for line in commands:
        argv = shlex.split(line)
        args = parser().parse_args(argv[argv.index("bench/recsys_throughput.py") + 1 :])
        assert args.device == "cuda"
        parts.add(args.part)
    assert parts == {"samples", "lookups", "train"}
    assert subprocess.run(["bash", "-n", str(SCRIPT)]).returncode == 0
