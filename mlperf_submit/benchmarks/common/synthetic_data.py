"""Where a benchmark's synthetic dataset lives and how it is reused: one scheme for all.

``train --synthetic ROOT`` (and ``campaign --synthetic ROOT``) keeps every generated dataset in
its own sub-directory named after the benchmark and a digest of the generator's spec::

    ROOT/resnet-synthetic-3f2a9c01d4be/        train/ val/ synthetic.json
    ROOT/llama31_8b-synthetic-8e11f0a2c3d4/    c4-train.en_6_text_document.{bin,idx} ... synthetic.json

so one ROOT holds the datasets of several benchmarks and presets side by side, a second run
with the same spec reuses the files, and nothing a user put in ROOT is ever touched. A dataset
is written into a temporary sibling and renamed into place with its ``synthetic.json`` already
inside: a crash leaves no half-written dataset that a later run could take for a finished one.

    data = SyntheticData(root, "resnet", spec, writer=write_tree)   # spec: a frozen dataclass
    path = data.ensure()            # before init_start (generation is preparation, not the run)
    path = data.resolve()           # in build_data: InputError if ensure() has not run

``synthetic.json`` records ``{"synthetic": true, "benchmark", "generator", "spec", ...}``;
``read_manifest(dir)`` returns it (or None for real data).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

from mlperf_submit.errors import InputError, UsageError

MANIFEST = "synthetic.json"


def spec_dict(spec: Any) -> dict:
    """The spec as JSON-compatible data (a dataclass, or already a dict)."""
    raw = asdict(spec) if is_dataclass(spec) else dict(spec)
    return json.loads(json.dumps(raw, sort_keys=True))


def spec_digest(spec: Any) -> str:
    return hashlib.sha256(json.dumps(spec_dict(spec), sort_keys=True).encode()).hexdigest()[:12]


def read_manifest(directory: str | os.PathLike) -> dict | None:
    """The ``synthetic.json`` of a generated dataset directory, or None (real data)."""
    path = Path(directory) / MANIFEST
    if not path.is_file():
        return None
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise InputError(f"{path}: unreadable synthetic-dataset manifest ({err})") from None
    if not isinstance(info, dict) or info.get("synthetic") is not True:
        raise InputError(f'{path}: not a synthetic-dataset manifest (no "synthetic": true)')
    return info


class SyntheticData:
    """One benchmark's synthetic dataset for one spec, under a ``--synthetic`` root."""

    def __init__(
        self,
        root: str | os.PathLike,
        benchmark: str,
        spec: Any,
        *,
        writer: Callable[[Path], Any],
        generator: str = "",
    ) -> None:
        """``writer(dir)`` writes the files into the (new, empty) ``dir``; a dict it returns is
        added to the manifest (token counts, entropy rate, ...)."""
        self.root = Path(root)
        self.benchmark = benchmark
        self.spec = spec
        self.writer = writer
        self.generator = generator or getattr(writer, "__module__", "")
        self.path = self.root / f"{benchmark}-synthetic-{spec_digest(spec)}"

    def is_ready(self) -> bool:
        info = read_manifest(self.path)
        return info is not None and info.get("spec") == spec_dict(self.spec)

    def ensure(self) -> Path:
        """Reuse the dataset when it was written with this spec, else write it; the path."""
        if self.root.exists() and not self.root.is_dir():
            raise UsageError(f"--synthetic {self.root}: not a directory")
        here = read_manifest(self.root)
        if here is not None:  # --synthetic points straight at a generated dataset
            if here.get("spec") == spec_dict(self.spec):
                return self.root
            raise UsageError(
                f"--synthetic {self.root}: holds a synthetic dataset made with other parameters; "
                "pass its parent directory (each spec gets its own sub-directory)"
            )
        if self.is_ready():
            return self.path
        if read_manifest(self.path) is not None:  # same digest, other spec: never overwrite
            raise UsageError(
                f"{self.path / MANIFEST}: holds another synthetic dataset; remove it or choose "
                "another --synthetic root"
            )
        if self.path.exists():
            # Only this module creates "<bm>-synthetic-<digest>" and only by renaming a finished
            # dataset into place: a directory there without its manifest is not ours.
            raise UsageError(
                f"{self.path}: exists but holds no {MANIFEST}; remove it or choose another "
                "--synthetic root"
            )
        tmp = self.root / f".{self.path.name}.tmp-{os.getpid()}"
        try:
            if tmp.exists():
                shutil.rmtree(tmp)
            tmp.mkdir(parents=True)
            extra = self.writer(tmp)
            extra = extra if isinstance(extra, dict) else {}
            manifest = {
                "synthetic": True,
                "benchmark": self.benchmark,
                "generator": self.generator,
                "spec": spec_dict(self.spec),
                **extra,
            }
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError as err:
            raise UsageError(f"{self.path}: cannot write the synthetic dataset ({err})") from None
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        return self.path

    def resolve(self) -> Path:
        """Where ``build_data`` reads: the prepared sub-directory, or ``root`` itself when it is
        a generated dataset (``--synthetic`` pointed straight at one)."""
        if read_manifest(self.root) is not None:
            return self.root
        if not self.is_ready():
            raise InputError(
                f"{self.path}: the synthetic dataset was not prepared before the run "
                "(prepare_synthetic runs before init_start; generating now would time it)"
            )
        return self.path
