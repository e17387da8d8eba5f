"""XXH64 against the published vectors; the vectorised cross ids against the scalar hash."""

from __future__ import annotations

import numpy as np
import pytest

from mlperf_submit.benchmarks.dlrmv4.hashing import cross_id, cross_ids, xxh64


@pytest.mark.parametrize(
    "data, digest",
    [
        (b"", 0xEF46DB3751D8E999),
        (b"a", 0xD24EC4F1A98C6E5B),
        (b"abc", 0x44BC2CF5AD770999),
        (b"hello", 0x26C7827D889F6DA3),
        (b"message digest", 0x066ED728FCEEB3BE),  # an 8-byte lane, a 4-byte and 2 single bytes
    ],
)
def test_xxh64_matches_the_published_vectors(data, digest):
    assert xxh64(data) == digest


def test_cross_ids_are_the_scalar_hash_of_each_row():
    rng = np.random.default_rng(0)
    cols = [rng.integers(0, 10**9, 200), rng.integers(0, 24, 200), rng.integers(0, 10**7, 200)]
    for width, salt, size in ((2, 0, 100_000_000), (3, 7, 40_000_000)):
        got = cross_ids(cols[:width], size, salt)
        want = [cross_id([int(c[i]) for c in cols[:width]], size, salt) for i in range(200)]
        assert got.tolist() == want
        assert got.min() >= 0 and got.max() < size
    with pytest.raises(ValueError):
        xxh64(bytes(32))
