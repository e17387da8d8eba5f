"""What both recommendation ``verify_data`` commands share: a list of problems, each naming its
file, the MD5 check against a reference's published sums, and the exit code.

Exit 0: every check passed. 1: problems (listed, one per line). 2: the directory is unusable.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from mlperf_submit.errors import EXIT_FAIL, EXIT_OK


class Problems:
    def __init__(self) -> None:
        self.items: list[str] = []
        self.checked = 0

    def add(self, path: Path, why: str) -> None:
        self.items.append(f"{path}: {why}")

    def add_error(self, err: Exception) -> None:
        """An InputError, whose message already starts with its file."""
        self.items.append(str(err))

    def report(self, what: str, out=None, err=None) -> int:
        out, err = out or sys.stdout, err or sys.stderr
        for line in self.items:
            print(line, file=out)
        verdict = "OK" if not self.items else f"{len(self.items)} problem(s)"
        print(f"verify_data: {what}: {self.checked} file(s) checked, {verdict}", file=err)
        return EXIT_FAIL if self.items else EXIT_OK


def md5(path: Path, chunk: int = 1 << 24) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def check_md5(files: dict[str, Path], expected: dict[str, str], problems: Problems) -> None:
    """Compare the MD5 of each present file that the reference lists."""
    for name, path in files.items():
        want = expected.get(name)
        if want is None or not path.is_file():
            continue
        got = md5(path)
        if got != want:
            problems.add(path, f"md5 {got}, the reference publishes {want}")
