"""What both ResNet input pipelines share: the ImageNet folder listing, sharding, normalisation.

Layout (real ImageNet after the usual ``val`` re-foldering, or our synthetic tree)::

    <root>/train/<wnid>/*.JPEG      <root>/val/<wnid>/*.JPEG

Labels are the index of ``<wnid>`` in the sorted list of train class folders, which is also what
DALI's ``fn.readers.file`` assigns, so both pipelines agree on every label.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mlperf_submit.errors import InputError

IMAGE_EXTENSIONS = (".jpeg", ".jpg", ".png")
# ImageNet channel statistics (0-255 scale), as the references normalise.
MEAN = (0.485 * 255, 0.456 * 255, 0.406 * 255)
STD = (0.229 * 255, 0.224 * 255, 0.225 * 255)


@dataclass(frozen=True)
class Listing:
    root: Path
    classes: tuple[str, ...]
    files: tuple[tuple[str, int], ...]
    """(path, label), sorted by class folder then file name."""


def check_layout(root: Path) -> None:
    """Paths only (no dataset file is opened): fail early, before init, on a wrong --data."""
    root = Path(root)
    for split in ("train", "val"):
        if not (root / split).is_dir():
            raise InputError(
                f"{root / split}: not a directory; --data must hold train/<wnid>/*.JPEG and "
                "val/<wnid>/*.JPEG (ImageNet folder layout)"
            )


def class_folders(base: Path) -> tuple[str, ...]:
    try:
        return tuple(sorted(e.name for e in os.scandir(base) if e.is_dir()))
    except OSError as err:
        raise InputError(f"{base}: cannot list the class folders ({err.strerror})") from None


def check_same_classes(base: Path, found: tuple[str, ...], classes: tuple[str, ...]) -> None:
    """Labels are folder indices: val/ must hold exactly train/'s classes, or labels shift."""
    if found != classes:
        extra = sorted(set(found) - set(classes))[:3]
        missing = sorted(set(classes) - set(found))[:3]
        raise InputError(
            f"{base}: class folders differ from train/ (extra {extra}, missing {missing})"
        )


def list_split(root: Path, split: str, classes: tuple[str, ...] | None = None) -> Listing:
    base = Path(root) / split
    found = class_folders(base)
    if classes is None:
        classes = found
    check_same_classes(base, found, classes)
    if not classes:
        raise InputError(f"{base}: no class folders (expected {split}/<wnid>/*.JPEG)")
    files = []
    for label, wnid in enumerate(classes):
        names = sorted(
            e.name
            for e in os.scandir(base / wnid)
            if e.is_file() and e.name.lower().endswith(IMAGE_EXTENSIONS)
        )
        files.extend((str(base / wnid / n), label) for n in names)
    if not files:
        raise InputError(f"{base}: no image files under the class folders")
    return Listing(base, classes, tuple(files))


def shard_range(n: int, rank: int, world: int) -> tuple[int, int]:
    """Contiguous shard [lo, hi) of ``n`` items for ``rank``: sizes differ by at most one."""
    return n * rank // world, n * (rank + 1) // world


def eval_resize(image_size: int) -> int:
    """Shorter side before the centre crop: 256 for 224 (the references' 0.875 ratio)."""
    return round(image_size / 0.875)
