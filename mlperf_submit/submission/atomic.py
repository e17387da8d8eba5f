"""Atomic writes: a tree or a file appears complete or not at all, and never replaces what a
user made unless they asked with ``--force``.

    with AtomicTree(Path("out/MyOrg"), force=False) as tmp:   # UsageError if out/MyOrg exists
        (tmp / "systems").mkdir()                             # build everything under tmp
    # here out/MyOrg is the finished tree (renamed in one step from a sibling temp dir)

On an exception the temp dir is removed and the destination is untouched (a directory created
only to hold the tree is removed again). With ``force=True`` an existing destination is moved
aside, the new tree renamed into place, and only then the old one deleted, so a crash in the
middle leaves either the old or the new tree, plus a ``<name>.old-*`` sibling at worst.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from mlperf_submit.errors import InputError, UsageError


def _exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()


class AtomicTree:
    """Context manager that yields a temp dir and renames it to ``dest`` on success."""

    def __init__(self, dest: Path, *, force: bool = False, what: str = "output tree"):
        self.dest = Path(dest)
        self.force = force
        self.what = what
        self.tmp: Path | None = None
        self._made_parents: list[Path] = []

    def __enter__(self) -> Path:
        if _exists(self.dest) and not self.force:
            raise UsageError(
                f"{self.what} {self.dest} already exists; refusing to overwrite it "
                "(pass --force to replace it, or choose another --out)"
            )
        if _exists(self.dest) and not self.dest.is_dir():
            raise UsageError(f"{self.what} {self.dest} exists and is not a directory")
        parent = self.dest.parent
        missing = []
        p = parent
        while not p.exists():
            missing.append(p)
            p = p.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise InputError(f"cannot create {parent}: {err.strerror}") from None
        self._made_parents = missing
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.dest.name}.tmp-", dir=parent))
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> None:
        assert self.tmp is not None
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            for d in self._made_parents:  # innermost first
                try:
                    d.rmdir()
                except OSError:
                    break
            return
        # mkdtemp makes the dir 0700; a submission tree is meant to be shared.
        os.chmod(self.tmp, 0o755)
        if _exists(self.dest):
            old = Path(tempfile.mkdtemp(prefix=f".{self.dest.name}.old-", dir=self.dest.parent))
            os.rename(self.dest, old / self.dest.name)
            os.rename(self.tmp, self.dest)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(self.tmp, self.dest)


def write_file_atomic(path: Path, data: str | bytes, *, force: bool = False) -> None:
    """Write ``path`` through a temp file + rename; refuse to replace it without ``force``."""
    path = Path(path)
    if _exists(path) and not force:
        raise UsageError(f"{path} already exists; refusing to overwrite it (pass --force)")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
