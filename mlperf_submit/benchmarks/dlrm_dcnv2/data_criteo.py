"""The Criteo 1TB click logs in the reference's preprocessed NumPy layout, as DLRM-DCNv2 reads them.

One directory, three files per day ``N`` of ``days`` (24 for Criteo 1TB; the output of the
reference's ``process_Criteo_1TB_Click_Logs_dataset.sh``)::

    day_N_dense.npy    float32 (rows, 13)   log-transformed integer features
    day_N_sparse.npy   int32   (rows, 26)   categorical ids (taken modulo the table sizes)
    day_N_labels.npy   int32   (rows, 1)    click 0/1

or, with ``sparse_format=multi_hot_npz``, ``day_N_sparse_multi_hot.npz`` instead of the sparse
file: the reference's materialized MLPerf v2 dataset, one uncompressed int32 member ``k.npy`` of
shape (rows, multi_hot_sizes[k]) per feature (memory-mapped inside the zip, as the reference's
``MultiHotCriteoIterDataPipe`` does).

Days 0 .. days-2 train, in file order (the files are already shuffled by preprocessing; the
reference reads them in order); the first half (rounded up) of the last day is the validation
set. A one-hot id ``i`` of feature ``k`` becomes the ``multi_hot_sizes[k]`` ids of row ``i`` of
the reference's lookup table (``multi_hot.py``): ``i`` itself and ids drawn once from
``numpy.random.seed(0)`` (uniform, or pareto(0.25)), table after table.

Batches are tuples of tensors (so gradient accumulation splits them on dim 0)::

    (dense float32 [B, 13], ids int64 [B, sum(multi_hot_sizes)], labels float32 [B],
     index int64 [B])

``ids`` holds feature 0's ids, then feature 1's ...; ``index`` is each row's position in its
split (the exact AUC needs it). The global batch of step ``s`` is rows ``[s G, (s+1) G)`` of the
training stream; rank ``r`` takes its ``r``-th slice of ``B`` rows. The last partial global batch
is dropped (the rules allow it).
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

from mlperf_submit.benchmarks.common.interface import DataSplits
from mlperf_submit.errors import InputError

DENSE, SPARSE = 13, 26


def day_paths(root: Path, day: int, sparse_format: str) -> tuple[Path, Path, Path]:
    sparse = (
        f"day_{day}_sparse.npy" if sparse_format == "one_hot" else f"day_{day}_sparse_multi_hot.npz"
    )
    return root / f"day_{day}_dense.npy", root / sparse, root / f"day_{day}_labels.npy"


def check_layout(root: Path, days: int, sparse_format: str) -> None:
    """Every day's three files exist (paths only; nothing is opened)."""
    if not root.is_dir():
        raise InputError(f"{root}: not a directory (expected day_N_dense.npy ... files)")
    missing = [p for d in range(days) for p in day_paths(root, d, sparse_format) if not p.is_file()]
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise InputError(f"{root}: missing {', '.join(p.name for p in missing[:3])}{more}")


def load_npy(path: Path, dtype, columns: int) -> np.ndarray:
    """A memory-mapped (rows, columns) array of ``dtype``, or InputError naming the file."""
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        raise InputError(f"{path}: not a readable .npy file ({err})") from None
    if arr.ndim != 2 or arr.shape[1] != columns or arr.dtype != np.dtype(dtype):
        raise InputError(
            f"{path}: shape {arr.shape} {arr.dtype}, expected (rows, {columns}) {np.dtype(dtype)}"
        )
    return arr


def npz_member(path: Path, member: str) -> np.ndarray:
    """Memory-map one stored (uncompressed) ``.npy`` member of a ``.npz`` zip."""
    try:
        with zipfile.ZipFile(path) as zf:
            info = zf.getinfo(member)
            if info.compress_type != zipfile.ZIP_STORED:
                raise InputError(f"{path}: member {member} is compressed (expected stored)")
            with open(path, "rb") as f:
                f.seek(info.header_offset)
                local = f.read(30)
                name_len = int.from_bytes(local[26:28], "little")
                extra_len = int.from_bytes(local[28:30], "little")
                f.seek(info.header_offset + 30 + name_len + extra_len)
                version = np.lib.format.read_magic(f)
                read = (
                    np.lib.format.read_array_header_1_0
                    if version == (1, 0)
                    else np.lib.format.read_array_header_2_0
                )
                shape, fortran, dtype = read(f)
                offset = f.tell()
    except KeyError:
        raise InputError(f"{path}: no member {member}") from None
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise InputError(f"{path}: not a readable .npz file ({err})") from None
    order = "F" if fortran else "C"
    return np.memmap(path, dtype=dtype, mode="r", shape=shape, order=order, offset=offset)


def multi_hot_tables(
    table_sizes: Sequence[int], multi_hot_sizes: Sequence[int], distribution: str
) -> list[np.ndarray]:
    """The reference's one-hot -> multi-hot lookup tables (``multi_hot.py``): for table ``k``,
    row ``i`` is ``[i, r_1 .. r_{m-1}]`` with the ``r`` drawn from ``numpy.random.seed(0)``,
    table after table."""
    rs = np.random.RandomState(0)
    out = []
    for n, m in zip(table_sizes, multi_hot_sizes, strict=True):
        if distribution == "uniform":
            extra = rs.randint(0, n, size=(n, m - 1))
        else:
            extra = rs.pareto(a=0.25, size=(n, m - 1)).astype(np.int32) % n
        # int32 as the reference keeps them (ids < 2^31): the 40M-row tables are GBs already.
        out.append(np.concatenate((np.arange(n)[:, None], extra), axis=-1).astype(np.int32))
    return out


class _Rows:
    """Rows of several day files as one stream: ``take(start, stop)`` crosses file ends."""

    def __init__(self, dense, sparse, labels) -> None:
        self.dense, self.sparse, self.labels = dense, sparse, labels
        lengths = [len(x) for x in dense]
        self.starts = np.concatenate([[0], np.cumsum(lengths)])
        self.total = int(self.starts[-1])

    def take(self, start: int, stop: int):
        dense, sparse, labels = [], [], []
        day = int(np.searchsorted(self.starts, start, side="right")) - 1
        while start < stop:
            lo = start - int(self.starts[day])
            hi = min(stop, int(self.starts[day + 1])) - int(self.starts[day])
            dense.append(self.dense[day][lo:hi])
            sparse.append([f[lo:hi] for f in self.sparse[day]])
            labels.append(self.labels[day][lo:hi])
            start += hi - lo
            day += 1
        feats = [np.concatenate([s[k] for s in sparse]) for k in range(len(sparse[0]))]
        return np.concatenate(dense), feats, np.concatenate(labels)


class CriteoSplits(DataSplits):
    """The training stream and the validation set of one rank (module doc)."""

    def __init__(
        self,
        root: Path,
        *,
        days: int,
        sparse_format: str,
        table_sizes: Sequence[int],
        multi_hot_sizes: Sequence[int],
        distribution: str,
        batch_size: int,
        eval_batch_size: int,
        rank: int,
        world: int,
    ) -> None:
        self.root = root
        self.table_sizes = np.asarray(table_sizes, dtype=np.int64)
        self.multi_hot_sizes = list(multi_hot_sizes)
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size
        self.rank, self.world = rank, world
        self.one_hot = sparse_format == "one_hot"
        per_day = [self._open_day(d, sparse_format) for d in range(days)]
        self.lookup = (
            multi_hot_tables(table_sizes, multi_hot_sizes, distribution) if self.one_hot else None
        )
        self.train = _Rows(*zip(*per_day[:-1], strict=True))
        last = per_day[-1]
        half = math.ceil(len(last[0]) / 2)  # the reference's validation half (rounded up)
        self.val = _Rows([last[0][:half]], [[f[:half] for f in last[1]]], [last[2][:half]])
        self.global_batch = batch_size * world
        self.steps_per_epoch = self.train.total // self.global_batch
        self.train_samples = self.train.total
        self.eval_samples = self.val.total
        if self.steps_per_epoch < 1:
            raise InputError(
                f"{root}: {self.train.total} training rows, fewer than one global batch "
                f"({self.global_batch})"
            )

    def _open_day(self, day: int, sparse_format: str):
        dense_p, sparse_p, labels_p = day_paths(self.root, day, sparse_format)
        dense = load_npy(dense_p, np.float32, DENSE)
        labels = load_npy(labels_p, np.int32, 1)
        if sparse_format == "one_hot":
            sparse = load_npy(sparse_p, np.int32, SPARSE)
            feats = [sparse[:, k] for k in range(SPARSE)]
        else:
            feats = [npz_member(sparse_p, f"{k}.npy") for k in range(SPARSE)]
            for k, f in enumerate(feats):
                if f.ndim != 2 or f.shape[1] != self.multi_hot_sizes[k]:
                    raise InputError(
                        f"{sparse_p}: {k}.npy has shape {f.shape}, expected (rows, "
                        f"{self.multi_hot_sizes[k]}) (data.multi_hot_sizes)"
                    )
        for name, arr in ((sparse_p, feats[0]), (labels_p, labels)):
            if len(arr) != len(dense):
                raise InputError(f"{name}: {len(arr)} rows, but {dense_p.name} has {len(dense)}")
        return dense, feats, labels

    def _batch(self, rows: _Rows, start: int, stop: int, first_index: int):
        dense, feats, labels = rows.take(start, stop)
        ids = []
        for k, f in enumerate(feats):
            if self.one_hot:
                ids.append(
                    self.lookup[k][f.astype(np.int64) % self.table_sizes[k]].astype(np.int64)
                )
            else:
                ids.append(np.asarray(f, dtype=np.int64).reshape(len(f), -1))
        n = stop - start
        return (
            torch.from_numpy(np.ascontiguousarray(dense, dtype=np.float32)),
            torch.from_numpy(np.concatenate(ids, axis=1)),
            torch.from_numpy(labels.reshape(-1).astype(np.float32)),
            torch.arange(first_index, first_index + n, dtype=torch.int64),
        )

    def train_epoch(self, epoch: int) -> Iterator[tuple]:
        b, g = self.batch_size, self.global_batch
        for step in range(self.steps_per_epoch):
            start = step * g + self.rank * b
            yield self._batch(self.train, start, start + b, start)

    def eval_batches(self) -> Iterator[tuple]:
        share = math.ceil(self.eval_samples / self.world)
        lo = min(self.eval_samples, self.rank * share)
        hi = min(self.eval_samples, lo + share)
        for start in range(lo, hi, self.eval_batch_size):
            stop = min(hi, start + self.eval_batch_size)
            yield self._batch(self.val, start, stop, start)
