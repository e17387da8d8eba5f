"""The Criteo NumPy reader on hand-made day files, the reference's multi-hot expansion, the
materialized .npz layout, and verify_data on good and damaged directories."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mlperf_submit.benchmarks.dlrm_dcnv2 import verify_data
from mlperf_submit.benchmarks.dlrm_dcnv2.data_criteo import CriteoSplits, multi_hot_tables
from mlperf_submit.errors import InputError

SIZES = [7, 5, 3, 11] + [4] * 22
HOTS = [3, 1, 2, 1] + [1] * 22


def _write(root, rows=(10, 9, 7), sparse_format="one_hot"):
    """Three days whose values encode (day, row): dense[:, 0] = 100 day + row."""
    root.mkdir(exist_ok=True)
    lookup = multi_hot_tables(SIZES, HOTS, "uniform")
    for day, n in enumerate(rows):
        r = np.arange(n)
        dense = np.zeros((n, 13), np.float32)
        dense[:, 0] = 100 * day + r
        sparse = (np.arange(26)[None, :] + r[:, None] + 10 * day).astype(np.int32)
        np.save(root / f"day_{day}_dense.npy", dense)
        np.save(root / f"day_{day}_labels.npy", (r % 2).astype(np.int32).reshape(-1, 1))
        if sparse_format == "one_hot":
            np.save(root / f"day_{day}_sparse.npy", sparse)
        else:
            members = {
                str(k): lookup[k][sparse[:, k] % SIZES[k]].astype(np.int32) for k in range(26)
            }
            np.savez(root / f"day_{day}_sparse_multi_hot.npz", **members)
    return root


def _splits(root, *, rank=0, world=1, batch=4, fmt="one_hot"):
    return CriteoSplits(
        root, days=3, sparse_format=fmt, table_sizes=SIZES, multi_hot_sizes=HOTS,
        distribution="uniform", batch_size=batch, eval_batch_size=3, rank=rank, world=world,
    )  # fmt: skip


def test_multi_hot_tables_are_the_references_lookup():
    """multi_hot.py: np.random.seed(0), then per table randint(0, n, (n, m - 1)) behind the id."""
    np.random.seed(0)
    want = []
    for n, m in zip(SIZES, HOTS, strict=True):
        extra = np.random.randint(0, n, size=(n, m - 1))
        want.append(np.concatenate((np.arange(n)[:, np.newaxis], extra), axis=-1))
    got = multi_hot_tables(SIZES, HOTS, "uniform")
    assert all(np.array_equal(g, w) for g, w in zip(got, want, strict=True))


def test_training_stream_crosses_day_files_and_ranks_take_their_slice(tmp_path):
    root = _write(tmp_path / "d")
    one = _splits(root)
    assert (one.train_samples, one.eval_samples) == (19, math.ceil(7 / 2))
    assert one.steps_per_epoch == 4  # 19 rows // 4: the last partial batch is dropped
    first = [b[0][:, 0].tolist() for b in one.train_epoch(0)]
    assert first[2] == [8.0, 9.0, 100.0, 101.0]  # day 0's last rows, then day 1's
    two = [_splits(root, rank=r, world=2, batch=2) for r in (0, 1)]
    steps = [list(s.train_epoch(0)) for s in two]
    assert len(steps[0]) == 19 // 4
    merged = [torch.cat([steps[0][i][0], steps[1][i][0]]) for i in range(len(steps[0]))]
    assert [m[:, 0].tolist() for m in merged] == first
    # Validation: the first half of day 2, each row once over the ranks, positions 0..3.
    evals = [b for s in two for b in s.eval_batches()]
    assert sorted(torch.cat([b[3] for b in evals]).tolist()) == [0, 1, 2, 3]
    assert sorted(torch.cat([b[0][:, 0] for b in evals]).tolist()) == [200.0, 201.0, 202.0, 203.0]


def test_ids_are_taken_modulo_the_tables_and_expanded_to_multi_hot(tmp_path):
    root = _write(tmp_path / "d")
    dense, ids, labels, index = next(iter(_splits(root).train_epoch(0)))
    lookup = multi_hot_tables(SIZES, HOTS, "uniform")
    assert ids.shape == (4, sum(HOTS)) and ids.dtype == torch.int64
    row = 1  # day 0 row 1: feature k has id k + 1
    offset = 0
    for k, m in enumerate(HOTS):
        assert ids[row, offset : offset + m].tolist() == lookup[k][(k + 1) % SIZES[k]].tolist()
        offset += m
    assert labels.tolist() == [0.0, 1.0, 0.0, 1.0] and index.tolist() == [0, 1, 2, 3]


def test_the_materialized_multi_hot_npz_reads_as_the_expansion(tmp_path):
    a = list(_splits(_write(tmp_path / "a")).train_epoch(0))
    b = list(
        _splits(
            _write(tmp_path / "b", sparse_format="multi_hot_npz"), fmt="multi_hot_npz"
        ).train_epoch(0)
    )
    assert all(
        torch.equal(x[1], y[1]) and torch.equal(x[0], y[0]) for x, y in zip(a, b, strict=True)
    )


def test_damaged_files_are_named(tmp_path):
    root = _write(tmp_path / "d")
    data = (root / "day_1_dense.npy").read_bytes()
    (root / "day_1_dense.npy").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="day_1_dense.npy"):
        _splits(root)
    root = _write(tmp_path / "e")
    np.save(root / "day_0_labels.npy", np.zeros((3, 1), np.int32))
    with pytest.raises(InputError, match="day_0_labels.npy: 3 rows, but day_0_dense.npy has 10"):
        _splits(root)
    np.save(root / "day_0_labels.npy", np.zeros((10, 1), np.float64))
    with pytest.raises(InputError, match=r"day_0_labels.npy: shape \(10, 1\) float64"):
        _splits(root)


def test_verify_data_passes_good_days_and_lists_damaged_ones(tmp_path, capsys):
    root = _write(tmp_path / "d")
    assert verify_data.main([str(root), "--days", "3", "--full"]) == 0
    np.save(root / "day_2_labels.npy", np.full((7, 1), 2, np.int32))
    data = (root / "day_1_sparse.npy").read_bytes()
    (root / "day_1_sparse.npy").write_bytes(data[:200])
    capsys.readouterr()
    assert verify_data.main([str(root), "--days", "3"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert any("day_2_labels.npy: labels other than 0/1" in line for line in out), out
    assert any("day_1_sparse.npy" in line for line in out), out
    assert verify_data.main([str(tmp_path / "absent"), "--days", "3"]) == 2
    assert verify_data.main([str(root), "--multi-hot-sizes", "1,2"]) == 2
