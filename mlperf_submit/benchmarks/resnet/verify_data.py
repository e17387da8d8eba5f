"""Find the images of an ImageNet-layout tree that cannot be decoded (DALI cannot name them).

    python -m mlperf_submit.benchmarks.resnet.verify_data DATA [--split train|val|all] [--workers N]

When DALI fails on a corrupt JPEG its error says which operator failed, not which file. This
decodes every image the loaders would list (``data_common.list_split``: the same files, the
same order) with PIL in ``N`` processes and prints one line per bad file. JPEGs are decoded in
draft mode (DCT scaling to about 1/8): the whole entropy-coded stream is still parsed, so a
truncated or garbled file fails exactly as a full decode would, at a fraction of the cost.

Exit 0: every image decodes. 1: some do not (listed). 2: the tree itself is unusable.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterable
from multiprocessing import get_context
from pathlib import Path

from mlperf_submit.benchmarks.resnet.data_common import check_layout, list_split
from mlperf_submit.errors import EXIT_FAIL, EXIT_OK, MLPerfSubmitError

_CHUNK = 64  # files per task: few enough to balance, many enough to amortise the IPC


def decode_problem(path: str) -> str | None:
    """Why ``path`` does not decode as an RGB image, or None when it does."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            if im.format == "JPEG":
                im.draft("RGB", (max(1, im.size[0] // 8), max(1, im.size[1] // 8)))
            im.convert("RGB").load()
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as err:
        return str(err) or type(err).__name__
    return None


def _check_chunk(paths: list[str]) -> list[tuple[str, str]]:
    return [(p, why) for p in paths if (why := decode_problem(p)) is not None]


def _chunks(paths: list[str]) -> Iterable[list[str]]:
    for i in range(0, len(paths), _CHUNK):
        yield paths[i : i + _CHUNK]


def find_bad_images(root: Path, splits: Iterable[str], workers: int) -> tuple[int, list]:
    """(images checked, [(path, reason)] sorted by path)."""
    check_layout(root)
    classes = None
    paths: list[str] = []
    for split in splits:
        listing = list_split(root, split, classes)
        classes = listing.classes  # val/ must have train/'s classes, as for training
        paths.extend(p for p, _ in listing.files)
    if workers <= 1:
        bad = _check_chunk(paths)
    else:
        with get_context("spawn").Pool(workers) as pool:
            bad = [b for part in pool.imap_unordered(_check_chunk, _chunks(paths)) for b in part]
    return len(paths), sorted(bad)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m mlperf_submit.benchmarks.resnet.verify_data",
        description="list the images of an ImageNet-layout tree that do not decode",
    )
    ap.add_argument("data", type=Path, help="root holding train/<wnid>/ and val/<wnid>/")
    ap.add_argument("--split", choices=("train", "val", "all"), default="all")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args(argv)
    splits = ("train", "val") if args.split == "all" else (args.split,)
    t0 = time.perf_counter()
    try:
        n, bad = find_bad_images(args.data, splits, max(1, args.workers))
    except MLPerfSubmitError as err:
        print(f"verify_data: error: {err}", file=sys.stderr)
        return err.exit_code
    for path, why in bad:
        print(f"{path}: {why}")
    seconds = time.perf_counter() - t0
    print(
        f"verify_data: {n} images, {len(bad)} that do not decode ({seconds:.1f} s)",
        file=sys.stderr,
    )
    return EXIT_FAIL if bad else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
