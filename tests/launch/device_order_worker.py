"""One rank under mpirun, run by test_launch_device_binding.py: which device was current when
mpi4py was first imported (a CUDA-aware MPI opens its context on that device).

    mpirun -np 2 python tests/launch/device_order_worker.py OUT_DIR

Writes ``OUT_DIR/rank_<r>.json``: ``device_at_mpi4py_import`` is what ``dist`` had bound at
that moment (None: nothing bound yet -- the bug), ``device`` what it bound in the end.
"""

from __future__ import annotations

import importlib.abc
import json
import sys
from pathlib import Path

from mlperf_submit.launch.distributed import dist

seen: dict[str, str | None] = {}


class _FirstImport(importlib.abc.MetaPathFinder):
    """Notes dist's bound device at the first import of mpi4py; finds nothing itself."""

    def find_spec(self, name, path=None, target=None):
        if name == "mpi4py" and name not in seen:
            seen[name] = dist._state.device
        return None


def main(out_dir: Path) -> None:
    assert "mpi4py" not in sys.modules
    sys.meta_path.insert(0, _FirstImport())
    env = dist.init_distributed("auto")
    record = {
        "rank": env.rank,
        "launcher": env.launcher,
        "mpi4py_imported": "mpi4py" in sys.modules,
        "device_at_mpi4py_import": seen.get("mpi4py"),
        "device": dist._state.device,
    }
    dist.shutdown()
    (out_dir / f"rank_{env.rank}.json").write_text(json.dumps(record))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
