"""Samples, the seeded order and the rank sharding of the Llama data pipeline."""

from __future__ import annotations

import numpy as np
import pytest

from mlperf_submit.benchmarks.families.megatron_c4.indexed import (
    IndexedDataset,
    write_indexed_dataset,
)
from mlperf_submit.benchmarks.families.megatron_c4.windows import (
    C4Splits,
    FeistelPermutation,
    TokenWindows,
)
from mlperf_submit.errors import InputError, UsageError


@pytest.mark.parametrize("n", [1, 2, 3, 7, 64, 1000, 4097])
def test_feistel_is_a_seeded_bijection(n):
    perm = FeistelPermutation(n, (11, 0))(np.arange(n))
    assert sorted(perm.tolist()) == list(range(n))
    assert np.array_equal(perm, FeistelPermutation(n, (11, 0))(np.arange(n)))
    if n >= 64:
        other_epoch = FeistelPermutation(n, (11, 1))(np.arange(n))
        other_seed = FeistelPermutation(n, (12, 0))(np.arange(n))
        assert not np.array_equal(perm, other_epoch)
        assert not np.array_equal(perm, other_seed)
        # Shuffled, not a near-identity: few fixed points.
        assert (perm == np.arange(n)).mean() < 0.05


def test_feistel_large_domain_costs_no_table():
    n = 3_000_000_000  # a full C4 stream's worth of samples
    perm = FeistelPermutation(n, (1, 0))
    out = perm(np.arange(100_000))
    assert len(np.unique(out)) == 100_000
    assert out.min() >= 0 and out.max() < n


def _write(tmp_path, name, docs):
    write_indexed_dataset(tmp_path / name, [np.asarray(d) for d in docs], np.uint16)
    return IndexedDataset(tmp_path / name)


def test_windows_overlap_by_one_token_and_span_files(tmp_path):
    a = _write(tmp_path, "a", [np.arange(0, 7), np.arange(7, 10)])  # 10 tokens
    b = _write(tmp_path, "b", [np.arange(10, 23)])  # 13 tokens
    w = TokenWindows([a, b], seq_len=4)
    assert w.num_tokens == 23
    assert w.num_samples == (23 - 1) // 4
    assert w.window(0).tolist() == [0, 1, 2, 3, 4]
    assert w.window(1).tolist() == [4, 5, 6, 7, 8]
    assert w.window(2).tolist() == [8, 9, 10, 11, 12]  # crosses from a.bin into b.bin
    assert w.window(4).tolist() == [16, 17, 18, 19, 20]


@pytest.fixture
def dataset(tmp_path):
    train = _write(tmp_path, "train", [np.arange(i, i + 50) for i in range(0, 2000, 50)])
    _write(tmp_path, "val", [np.arange(0, 400) % 200])
    return str(train.prefix), str(tmp_path / "val")


def _data(dataset, **kw):
    args = dict(seq_len=8, vocab_size=4096, global_batch=8, eval_samples=16, eval_batch=4, seed=5)
    args.update(kw)
    return C4Splits([dataset[0]], dataset[1], **args)


def test_ranks_partition_each_global_batch(dataset):
    world = 4
    shards = [list(_data(dataset, rank=r, world=world).train_epoch(0)) for r in range(world)]
    single = list(_data(dataset).train_epoch(0))
    assert len(single) == _data(dataset).steps_per_epoch
    for step, whole in enumerate(single):
        parts = [shards[r][step] for r in range(world)]
        assert all(p.shape == (2, 9) for p in parts)
        # The ranks together see exactly the single-process global batch, in rank order.
        assert np.array_equal(np.concatenate(parts), whole.numpy())


def test_epoch_order_is_seeded_and_reshuffled(dataset):
    d = _data(dataset)
    e0 = np.concatenate([b.numpy() for b in d.train_epoch(0)])
    e0_again = np.concatenate([b.numpy() for b in _data(dataset).train_epoch(0)])
    e1 = np.concatenate([b.numpy() for b in d.train_epoch(1)])
    other = np.concatenate([b.numpy() for b in _data(dataset, seed=6).train_epoch(0)])
    assert np.array_equal(e0, e0_again)
    assert not np.array_equal(e0, e1)
    assert not np.array_equal(e0, other)
    # An epoch uses each sample at most once.
    assert len({row.tobytes() for row in e0}) == len(e0)


def test_eval_covers_the_first_samples_once_over_ranks(dataset):
    world = 2
    seen = np.concatenate(
        [
            b.numpy()
            for r in range(world)
            for b in _data(dataset, rank=r, world=world).eval_batches()
        ]
    )
    expected = np.stack([np.arange(i * 8, i * 8 + 9) % 200 for i in range(16)])
    assert np.array_equal(seen, expected)


def test_token_outside_vocabulary_names_the_file(tmp_path, dataset):
    with pytest.raises(
        InputError,
        match=r"train\.bin: sample \d+ holds token id \d+ outside the model's vocabulary \[0, 100\)",
    ):
        next(iter(_data(dataset, vocab_size=100).train_epoch(0)))


def test_too_small_datasets_are_input_errors(dataset):
    with pytest.raises(InputError, match="validation samples of 9 tokens; the benchmark evaluates"):
        _data(dataset, eval_samples=1000)
    with pytest.raises(InputError, match="fewer than one global batch"):
        _data(dataset, global_batch=4096)


def test_uneven_splits_are_usage_errors(dataset):
    with pytest.raises(UsageError, match="does not split evenly over 3 ranks"):
        _data(dataset, global_batch=9, world=3, eval_samples=16)
    with pytest.raises(UsageError, match="global batch 8 does not split evenly over 3"):
        _data(dataset, world=3)
