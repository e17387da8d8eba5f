"""Check a Criteo 1TB directory in the reference's NumPy layout before a 10-run campaign reads it.

    python -m mlperf_submit.benchmarks.dlrm_dcnv2.verify_data DATA [--days 24]
        [--sparse-format one_hot|multi_hot_npz] [--multi-hot-sizes 3,2,1,...] [--full] [--md5]

Per day: the three files exist and open as arrays of the right dtype and width (a truncated
``.npy`` fails here: its header promises more bytes than the file has), with the same number of
rows; labels are 0/1, dense features finite and >= 0 (``log(x + 2)``), ids >= 0 -- on 64 evenly
spaced rows, or every row with ``--full``. Then the totals: Criteo 1TB has 4,195,197,692
training rows and 89,137,319 validation rows (``--days 24``). ``--md5`` compares every file with
the checksums the reference publishes (hours for 1.5 TB).

Exit 0: all checks pass. 1: problems, one line each naming the file. 2: DATA is unusable.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

from mlperf_submit.benchmarks.dlrm_dcnv2 import checksums
from mlperf_submit.benchmarks.dlrm_dcnv2.config import (
    CRITEO_DAYS,
    CRITEO_EVAL_SAMPLES,
    CRITEO_MULTI_HOT,
    CRITEO_TRAIN_SAMPLES,
)
from mlperf_submit.benchmarks.dlrm_dcnv2.data_criteo import (
    DENSE,
    SPARSE,
    day_paths,
    load_npy,
    npz_member,
)
from mlperf_submit.benchmarks.families.recsys.verify import Problems, check_md5
from mlperf_submit.errors import EXIT_USAGE, InputError

SAMPLE_ROWS = 64
CHUNK = 1 << 20


def _rows(n: int, full: bool):
    """Row slices to read: everything in chunks, or SAMPLE_ROWS rows spread over the file."""
    if full:
        return [slice(i, min(n, i + CHUNK)) for i in range(0, n, CHUNK)]
    return [np.unique(np.linspace(0, n - 1, min(n, SAMPLE_ROWS)).astype(np.int64))]


def check_day(root: Path, day: int, fmt: str, sizes, full: bool, problems: Problems) -> int:
    """Rows of the day (0 when it cannot be read)."""
    dense_p, sparse_p, labels_p = day_paths(root, day, fmt)
    try:
        dense = load_npy(dense_p, np.float32, DENSE)
        labels = load_npy(labels_p, np.int32, 1)
        if fmt == "one_hot":
            sparse = [load_npy(sparse_p, np.int32, SPARSE)]
        else:
            sparse = [npz_member(sparse_p, f"{k}.npy") for k in range(SPARSE)]
    except InputError as err:
        problems.add_error(err)
        return 0
    problems.checked += 3
    n = len(dense)
    for path, arr in ((labels_p, labels), *((sparse_p, s) for s in sparse)):
        if len(arr) != n:
            problems.add(path, f"{len(arr)} rows, but {dense_p.name} has {n}")
            return 0
    if fmt == "multi_hot_npz":
        for k, s in enumerate(sparse):
            if s.ndim != 2 or s.shape[1] != sizes[k] or s.dtype != np.int32:
                problems.add(
                    sparse_p, f"{k}.npy: {s.shape} {s.dtype}, expected (rows, {sizes[k]}) int32"
                )
                return n
    for rows in _rows(n, full):
        lab, den = np.asarray(labels[rows]), np.asarray(dense[rows])
        if not np.isin(lab, (0, 1)).all():
            problems.add(labels_p, f"labels other than 0/1 ({np.unique(lab)[:5].tolist()} ...)")
            break
        if not np.isfinite(den).all() or (den < 0).any():
            problems.add(dense_p, "dense values that are not finite or are negative")
            break
        if any((np.asarray(s[rows]) < 0).any() for s in sparse):
            problems.add(sparse_p, "negative categorical ids")
            break
    return n


def verify(root: Path, days: int, fmt: str, sizes, *, full: bool, md5: bool) -> Problems:
    if not root.is_dir():
        raise InputError(f"{root}: not a directory")
    problems = Problems()
    rows = [check_day(root, d, fmt, sizes, full, problems) for d in range(days)]
    if days == CRITEO_DAYS and all(rows):
        train, val = sum(rows[:-1]), math.ceil(rows[-1] / 2)
        if (train, val) != (CRITEO_TRAIN_SAMPLES, CRITEO_EVAL_SAMPLES):
            problems.add(
                root,
                f"{train} training and {val} validation rows; Criteo 1TB has "
                f"{CRITEO_TRAIN_SAMPLES} and {CRITEO_EVAL_SAMPLES}",
            )
    if md5:
        files = {p.name: p for d in range(days) for p in day_paths(root, d, fmt)}
        check_md5(files, {**checksums.CRITEO_ONE_HOT, **checksums.CRITEO_MULTI_HOT}, problems)
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m mlperf_submit.benchmarks.dlrm_dcnv2.verify_data",
        description="check a Criteo 1TB directory in the reference's NumPy layout",
    )
    ap.add_argument("data", type=Path)
    ap.add_argument("--days", type=int, default=CRITEO_DAYS)
    ap.add_argument("--sparse-format", choices=("one_hot", "multi_hot_npz"), default="one_hot")
    ap.add_argument("--multi-hot-sizes", default=",".join(map(str, CRITEO_MULTI_HOT)))
    ap.add_argument("--full", action="store_true", help="check every row, not a sample")
    ap.add_argument("--md5", action="store_true", help="compare with the reference's MD5 sums")
    args = ap.parse_args(argv)
    try:
        sizes = [int(x) for x in args.multi_hot_sizes.split(",")]
        if len(sizes) != SPARSE:
            raise ValueError
    except ValueError:
        print(f"verify_data: error: --multi-hot-sizes needs {SPARSE} integers", file=sys.stderr)
        return EXIT_USAGE
    try:
        problems = verify(
            args.data, args.days, args.sparse_format, sizes, full=args.full, md5=args.md5
        )
    except InputError as err:
        print(f"verify_data: error: {err}", file=sys.stderr)
        return err.exit_code
    return problems.report(f"{args.data} ({args.days} days, {args.sparse_format})")


if __name__ == "__main__":
    sys.exit(main())
