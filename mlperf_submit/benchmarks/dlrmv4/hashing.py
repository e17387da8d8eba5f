"""XXH64, for the reference's cross-feature ids (``datasets/utils.py: xxhash_cross``).

The reference hashes the little-endian int64 values of an anchor's fields (``uid``,
``artist_id``, ``hour_of_day`` ...) with ``xxhash.xxh64(seed=salt)`` and takes the digest modulo
the cross table's size, so its embedding rows line up with Primus-trained ones. The ``xxhash``
package is not a dependency here: :func:`xxh64` is the published algorithm (Collet's XXH64 spec)
in Python for inputs under 32 bytes, :func:`cross_ids` the same digest vectorised over int64 columns (whole
8-byte lanes, fewer than 32 bytes: 2 or 3 fields). Tests pin both to the official vectors.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import numpy as np

P1 = 0x9E3779B185EBCA87
P2 = 0xC2B2AE3D27D4EB4F
P3 = 0x165667B19E3779F9
P4 = 0x85EBCA77C2B2AE63
P5 = 0x27D4EB2F165667C5
M = (1 << 64) - 1


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (64 - r))) & M


def _round(acc: int, lane: int) -> int:
    return (_rotl((acc + lane * P2) & M, 31) * P1) & M


def xxh64(data: bytes, seed: int = 0) -> int:
    """XXH64 of ``data`` shorter than 32 bytes (the cross ids hash 16 or 24): the published
    algorithm's short-input path, scalar."""
    n, i = len(data), 0
    if n >= 32:
        raise ValueError(f"xxh64 here covers inputs under 32 bytes (cross ids), got {n}")
    h = (seed + P5 + n) & M
    while i + 8 <= n:
        h ^= _round(0, int.from_bytes(data[i : i + 8], "little"))
        h = (_rotl(h, 27) * P1 + P4) & M
        i += 8
    if i + 4 <= n:
        h ^= (int.from_bytes(data[i : i + 4], "little") * P1) & M
        h = (_rotl(h, 23) * P2 + P3) & M
        i += 4
    while i < n:
        h ^= (data[i] * P5) & M
        h = (_rotl(h, 11) * P1) & M
        i += 1
    h ^= h >> 33
    h = (h * P2) & M
    h ^= h >> 29
    h = (h * P3) & M
    return h ^ (h >> 32)


def cross_id(values: Sequence[int], table_size: int, salt: int = 0) -> int:
    """The reference's ``xxhash_cross`` of one anchor: xxh64 of the int64 values, mod size."""
    return xxh64(struct.pack(f"<{len(values)}q", *values), salt) % table_size


def _rotl_np(x: np.ndarray, r: int) -> np.ndarray:
    return (x << np.uint64(r)) | (x >> np.uint64(64 - r))


def cross_ids(columns: Sequence[np.ndarray], table_size: int, salt: int = 0) -> np.ndarray:
    """:func:`cross_id` of every row of equal-length int64 ``columns`` (2 or 3 of them)."""
    if not 1 <= len(columns) <= 3:
        raise ValueError(f"cross_ids hashes 1-3 int64 fields (< 32 bytes), got {len(columns)}")
    p1, p2, p3, p4 = (np.uint64(p) for p in (P1, P2, P3, P4))
    start = (salt + P5 + 8 * len(columns)) & M
    with np.errstate(over="ignore"):
        h = np.full(len(columns[0]), start, dtype=np.uint64)
        for col in columns:
            lane = np.asarray(col, dtype=np.int64).view(np.uint64)
            k = _rotl_np(lane * p2, 31) * p1
            h = _rotl_np(h ^ k, 27) * p1 + p4
        h ^= h >> np.uint64(33)
        h = h * p2
        h ^= h >> np.uint64(29)
        h = h * p3
        h ^= h >> np.uint64(32)
    return (h % np.uint64(table_size)).astype(np.int64)
