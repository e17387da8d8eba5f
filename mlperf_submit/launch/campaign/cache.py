"""Clear the page cache before a run, and say truthfully whether it happened.

The rules want caches cleared before each run, and the log's ``cache_clear`` value must be the
truth: the campaign passes ``--cache-cleared`` to ``train`` only when :func:`clear_caches`
returns ``cleared=True``. Three ways:

* ``auto`` (default): ``sync`` then ``3 > /proc/sys/vm/drop_caches`` on this host; works as
  root outside read-only-/proc containers, otherwise reports why not (cleared=False);
* ``off``: do nothing (cleared=False);
* any other text is a shell command the site uses instead (e.g. ``sudo /sbin/sysctl
  vm.drop_caches=3``, or an ``srun`` line for every node); cleared = its exit status is 0.

``python -m mlperf_submit.launch.campaign.cache`` runs ``auto`` on the host it runs on and exits 0 only
if the caches were dropped; the Slurm batch script runs it on every node with
``srun --ntasks-per-node=1``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass

DROP_CACHES = "/proc/sys/vm/drop_caches"


@dataclass(frozen=True)
class CacheResult:
    cleared: bool
    how: str  # what was done, for the manifest note and the progress output


def drop_caches(path: str = DROP_CACHES) -> CacheResult:
    os.sync()  # dirty pages cannot be dropped: write them out first
    try:
        with open(path, "w") as f:
            f.write("3\n")
    except OSError as err:
        return CacheResult(False, f"not cleared: cannot write {path} ({err.strerror or err})")
    return CacheResult(True, f"sync + 3 > {path}")


def clear_caches(mode: str = "auto", *, timeout_s: float = 600.0) -> CacheResult:
    if mode == "off":
        return CacheResult(False, "not cleared (--no-cache-clear)")
    if mode == "auto":
        return drop_caches()
    try:
        proc = subprocess.run(
            mode, shell=True, capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired:
        return CacheResult(False, f"not cleared: {mode!r} took longer than {timeout_s:.0f} s")
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [""]
        return CacheResult(False, f"not cleared: {mode!r} exited {proc.returncode} {detail[0]}")
    return CacheResult(True, mode)


if __name__ == "__main__":
    result = drop_caches()
    print(f"{os.uname().nodename}: {result.how}", file=sys.stderr)
    sys.exit(0 if result.cleared else 1)
