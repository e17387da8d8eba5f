"""Yambda as the dlrmv4 reference reads it: sessions -> a flat event store -> anchors by window.

The layout of ``$DLRM_DATA_PATH`` (the reference's ``preprocess_public_data.py`` output)::

    processed_5b/train_sessions.parquet   uid, session_id, item_ids[], timestamps[],
                                          event_types[] (0 listen, 1 like, 2 dislike,
                                          3 unlike, 4 undislike), is_organic[],
                                          played_ratio_pct[], track_length_seconds[]
    processed_5b/session_index.parquet    uid, session_ids[], session_lens[], session_offsets[]
    processed_5b/test_events.parquet      the held-out test day, flat (not read by training)
    processed_5b/item_popularity.npy      int64 count per item id (the vocabulary check)
    processed_5b/split_meta.json          the temporal split's boundaries and counts
    shared_metadata/artist_item_mapping.parquet   item_id, artist_id
    shared_metadata/album_item_mapping.parquet    item_id, album_id

What the reference's ``DLRMv4YambdaDataset`` does, here in memory (no mmap cache):

- sessions sorted by (uid, session_id) and exploded into flat per-event arrays; a user's events
  are contiguous (``user_start``);
- an *anchor* is a LISTEN event with at least ``min_history`` earlier events of its user; its
  label is listen_plus (``played_ratio_pct >= 50``);
- windows of ``window_seconds`` from the earliest anchor; training streams windows
  ``start_ts .. start_ts + num_train_ts - 1`` in order (within a window, user-major file order);
  the next window is the evaluation set;
- an anchor's history: the last ``history_length // 3`` events of each pool (listen+, like,
  skip) among the ``scan_window`` events before it, merged in time order, each tagged with its
  pool bit (1, 2, 4) as ``action_weight``; contextual ids: ``uid`` and the 7 xxh64 cross ids
  of (uid, item, artist, album, hour of day, is_organic); the candidate: the anchor's item,
  artist, album and query time (the last history timestamp).

Batches are tuples of tensors of fixed shapes (so gradient accumulation splits them)::

    (items, artists, albums, timestamps, action_weights  int64 [B, H]  (H = 3 x pool cap),
     history_length int64 [B], context int64 [B, 8], candidate int64 [B, 4]
     (item, artist, album, query time), labels float32 [B], index int64 [B])

The global batch of step s is stream anchors [s G, (s+1) G); a batch may straddle two windows
(the reference restarts its loader per window), so every step has G samples and the eval grid
counts exact samples.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mlperf_submit.benchmarks.common.interface import DataSplits
from mlperf_submit.benchmarks.dlrmv4.hashing import cross_ids
from mlperf_submit.errors import InputError

LISTEN, LIKE = 0, 1
LISTEN_PLUS_PCT = 50
LP_BIT, LIKE_BIT, SKIP_BIT = 1, 2, 4
SESSION_COLUMNS = (
    "uid", "session_id", "item_ids", "timestamps", "event_types", "is_organic",
    "played_ratio_pct", "track_length_seconds",
)  # fmt: skip
PROCESSED_FILES = (
    "train_sessions.parquet",
    "session_index.parquet",
    "test_events.parquet",
    "item_popularity.npy",
    "split_meta.json",
)
MAPPINGS = ("artist_item_mapping.parquet", "album_item_mapping.parquet")
CROSS_FIELDS = (
    ("uid", "artist_id"), ("uid", "album_id"), ("uid", "hour_of_day"),
    ("item_id", "hour_of_day"), ("artist_id", "hour_of_day"), ("uid", "is_organic"),
    ("uid", "artist_id", "hour_of_day"),
)  # fmt: skip


def paths(root: Path, processed_dir: str) -> dict[str, Path]:
    files = {name: root / processed_dir / name for name in PROCESSED_FILES}
    files.update({name: root / "shared_metadata" / name for name in MAPPINGS})
    return files


def check_layout(root: Path, processed_dir: str) -> None:
    """The files exist (paths only)."""
    if not root.is_dir():
        raise InputError(
            f"{root}: not a directory (expected {processed_dir}/ and shared_metadata/)"
        )
    missing = [p for p in paths(root, processed_dir).values() if not p.is_file()]
    if missing:
        raise InputError(f"{root}: missing {', '.join(str(p.relative_to(root)) for p in missing)}")


def _read_parquet(path: Path, columns: Sequence[str]):
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as err:  # pyarrow raises ArrowInvalid, OSError ... for a damaged file
        raise InputError(f"{path}: not a readable parquet file ({err})") from None
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise InputError(
            f"{path}: missing column(s) {', '.join(missing)} (has {table.column_names})"
        )
    return table


def _ints(table, column: str, path: Path) -> np.ndarray:
    col = table.column(column)
    if col.null_count:
        raise InputError(f"{path}: column {column} has {col.null_count} null(s)")
    try:
        return col.to_numpy().astype(np.int64)
    except (TypeError, ValueError) as err:
        raise InputError(f"{path}: column {column} is not integer ({col.type}: {err})") from None


@dataclass
class EventStore:
    """The flat per-event arrays of the training sessions (the reference's _FlatEventStore)."""

    uid: np.ndarray
    item: np.ndarray
    ts: np.ndarray
    event_type: np.ndarray
    played: np.ndarray
    organic: np.ndarray
    user_start: np.ndarray
    """First flat position of each uid (-1: no events)."""

    @property
    def is_lp(self) -> np.ndarray:
        return (self.event_type == LISTEN) & (self.played >= LISTEN_PLUS_PCT)

    @property
    def is_skip(self) -> np.ndarray:
        return (self.event_type == LISTEN) & (self.played < LISTEN_PLUS_PCT)

    @property
    def is_like(self) -> np.ndarray:
        return self.event_type == LIKE


def read_sessions(path: Path) -> EventStore:
    import pyarrow.compute as pc

    table = _read_parquet(path, SESSION_COLUMNS)
    order = pc.sort_indices(table, sort_keys=[("uid", "ascending"), ("session_id", "ascending")])
    table = table.take(order)
    lengths = pc.list_value_length(table.column("item_ids")).to_numpy(zero_copy_only=False)
    for name in SESSION_COLUMNS[3:]:
        other = pc.list_value_length(table.column(name)).to_numpy(zero_copy_only=False)
        if not np.array_equal(other, lengths):
            bad = int(np.flatnonzero(other != lengths)[0])
            raise InputError(
                f"{path}: row {bad}: {name} has {other[bad]} entries but item_ids {lengths[bad]}"
            )

    def flat(name: str, fill=None) -> np.ndarray:
        values = pc.list_flatten(table.column(name))
        if fill is not None:
            values = pc.fill_null(values, fill)
        elif values.null_count:
            raise InputError(f"{path}: {name} has {values.null_count} null(s)")
        return values.to_numpy(zero_copy_only=False)

    uid = np.repeat(_ints(table, "uid", path), lengths)
    store = EventStore(
        uid=uid,
        item=flat("item_ids").astype(np.int64),
        ts=flat("timestamps").astype(np.int64),
        event_type=flat("event_types").astype(np.int64),
        played=flat("played_ratio_pct", 0).astype(np.float32),
        organic=flat("is_organic", 0).astype(np.int64),
        user_start=np.empty(0, dtype=np.int64),
    )
    if len(uid) == 0:
        raise InputError(f"{path}: no events")
    starts = np.concatenate([[0], np.flatnonzero(np.diff(uid)) + 1])
    store.user_start = np.full(int(uid.max()) + 1, -1, dtype=np.int64)
    store.user_start[uid[starts]] = starts
    return store


def read_mappings(root: Path, popularity: Path) -> tuple[np.ndarray, np.ndarray]:
    """item -> artist and item -> album, checked against item_popularity.npy's length."""
    maps = []
    for name, col in zip(MAPPINGS, ("artist_id", "album_id"), strict=True):
        path = root / "shared_metadata" / name
        table = _read_parquet(path, ("item_id", col))
        items, values = _ints(table, "item_id", path), _ints(table, col, path)
        maps.append((items, values))
    n_items = max(int(items.max()) + 1 for items, _ in maps)
    try:
        n_pop = len(np.load(popularity, mmap_mode="r", allow_pickle=False))
    except (OSError, ValueError) as err:
        raise InputError(f"{popularity}: not a readable .npy file ({err})") from None
    if n_pop != n_items:
        raise InputError(
            f"{popularity}: {n_pop} entries but the artist/album mappings describe {n_items} "
            "items (the two come from different preprocessing runs)"
        )
    out = []
    for items, values in maps:
        table = np.zeros(n_items, dtype=np.int64)
        table[items] = values
        out.append(table)
    return out[0], out[1]


def read_split_meta(path: Path) -> dict:
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise InputError(f"{path}: not readable JSON ({err})") from None
    if not isinstance(meta, dict) or "t_min" not in meta:
        raise InputError(f"{path}: not a split_meta.json (no t_min)")
    return meta


class YambdaSplits(DataSplits):
    """The training stream and the evaluation window of one rank (module doc)."""

    def __init__(
        self,
        root: Path,
        *,
        processed_dir: str,
        history_length: int,
        min_history: int,
        scan_window: int,
        window_seconds: int,
        start_ts: int,
        num_train_ts: int,
        table_rows: dict[str, int],
        cross_rows: Sequence[int],
        global_batch: int,
        eval_batch_size: int,
        rank: int,
        world: int,
    ) -> None:
        files = paths(root, processed_dir)
        read_split_meta(files["split_meta.json"])
        self.store = s = read_sessions(files["train_sessions.parquet"])
        self.item_to_artist, self.item_to_album = read_mappings(root, files["item_popularity.npy"])
        self.pool = max(1, history_length // 3)
        self.width = 3 * self.pool
        self.scan_window = scan_window
        self.cross_rows = list(cross_rows)
        self.global_batch, self.eval_batch_size = global_batch, eval_batch_size
        self.rank, self.world = rank, world
        self._check_ids(files["train_sessions.parquet"], table_rows)
        self.lp, self.like, self.skip = s.is_lp, s.is_like, s.is_skip
        # Per pool: its events' flat positions and, at every position, how many came before.
        self._pools = [
            (np.flatnonzero(m), np.concatenate([[0], np.cumsum(m)]))
            for m in (self.lp, self.like, self.skip)
        ]
        pos = np.arange(len(s.uid))
        anchors = np.flatnonzero(
            (s.event_type == LISTEN) & (pos - s.user_start[s.uid] >= min_history)
        )
        if len(anchors) == 0:
            raise InputError(
                f"{files['train_sessions.parquet']}: no anchor with {min_history} events before it"
            )
        ts = s.ts[anchors]
        window = (ts - ts.min()) // window_seconds
        train = (window >= start_ts) & (window < start_ts + num_train_ts)
        order = np.argsort(window[train], kind="stable")  # window by window, file order inside
        self.train_anchors = anchors[train][order]
        self.eval_anchors = anchors[window == start_ts + num_train_ts]
        self.train_samples = len(self.train_anchors)
        self.eval_samples = len(self.eval_anchors)
        self.windows = int(window.max()) + 1
        if self.train_samples < global_batch or self.eval_samples == 0:
            raise InputError(
                f"{root}: {self.train_samples} training anchors in windows {start_ts}.."
                f"{start_ts + num_train_ts - 1} and {self.eval_samples} in the evaluation window "
                f"(of {self.windows}): need one global batch ({global_batch}) and one eval anchor"
            )
        self.steps_per_epoch = self.train_samples // global_batch

    def _check_ids(self, path: Path, rows: dict[str, int]) -> None:
        s = self.store
        checks = (
            ("item_id", s.item, rows["items"], "model.items"),
            ("uid", s.uid, rows["users"], "model.users"),
            ("artist_id", self.item_to_artist, rows["artists"], "model.artists"),
            ("album_id", self.item_to_album, rows["albums"], "model.albums"),
        )
        for name, values, limit, key in checks:
            top = int(values.max())
            if top >= limit:
                raise InputError(f"{path}: {name} {top} >= {key}={limit} (the table's rows)")
        if int(s.item.max()) >= len(self.item_to_artist):
            raise InputError(f"{path}: item {int(s.item.max())} has no artist/album mapping")

    def histories(self, anchors: np.ndarray):
        """(items, timestamps, action weights, lengths) of the anchors' histories: for each
        pool the last ``pool`` events among the ``scan_window`` before the anchor (vectorised
        with per-pool running counts), merged in time order; padded with 0 to ``width``."""
        s, k = self.store, self.pool
        lo = np.maximum(s.user_start[s.uid[anchors]], anchors - self.scan_window)
        picked = []
        for positions, count in self._pools:
            hi_n, lo_n = count[anchors], count[lo]
            first = np.maximum(lo_n, hi_n - k)
            idx = first[:, None] + np.arange(k)[None, :]
            ok = idx < hi_n[:, None]
            picked.append(np.where(ok, positions[np.minimum(idx, len(positions) - 1)], -1))
        pos = np.concatenate(picked, axis=1)
        pos = np.sort(np.where(pos < 0, np.iinfo(np.int64).max, pos), axis=1)
        valid = pos != np.iinfo(np.int64).max
        pos = np.where(valid, pos, 0)
        weight = self.lp[pos] * LP_BIT + self.like[pos] * LIKE_BIT + self.skip[pos] * SKIP_BIT
        return (
            np.where(valid, s.item[pos], 0),
            np.where(valid, s.ts[pos], 0),
            np.where(valid, weight, 0).astype(np.int64),
            valid.sum(axis=1).astype(np.int64),
        )

    def batch(self, anchors: np.ndarray, first_index: int):
        s, n = self.store, len(anchors)
        items, tss, weights, lengths = self.histories(anchors)
        target = s.item[anchors]
        artist, album = self.item_to_artist[target], self.item_to_album[target]
        last_ts = tss[np.arange(n), np.maximum(lengths - 1, 0)]
        query = np.where(lengths > 0, last_ts, s.ts[anchors])
        fields = {
            "uid": s.uid[anchors],
            "item_id": target,
            "artist_id": artist,
            "album_id": album,
            "hour_of_day": (s.ts[anchors] // 3600) % 24,
            "is_organic": s.organic[anchors],
        }
        context = [fields["uid"]] + [
            cross_ids([fields[f] for f in keys], rows)
            for keys, rows in zip(CROSS_FIELDS, self.cross_rows, strict=True)
        ]
        hist_mask = np.arange(self.width)[None, :] < lengths[:, None]
        return (
            torch.from_numpy(items),
            torch.from_numpy(np.where(hist_mask, self.item_to_artist[items], 0)),
            torch.from_numpy(np.where(hist_mask, self.item_to_album[items], 0)),
            torch.from_numpy(tss),
            torch.from_numpy(weights),
            torch.from_numpy(lengths),
            torch.from_numpy(np.stack(context, axis=1)),
            torch.from_numpy(np.stack([target, artist, album, query], axis=1)),
            torch.from_numpy(self.lp[anchors].astype(np.float32)),
            torch.arange(first_index, first_index + n, dtype=torch.int64),
        )

    def train_epoch(self, epoch: int) -> Iterator[tuple]:
        g = self.global_batch
        b = g // self.world
        for step in range(self.steps_per_epoch):
            start = step * g + self.rank * b
            yield self.batch(self.train_anchors[start : start + b], start)

    def eval_batches(self) -> Iterator[tuple]:
        share = math.ceil(self.eval_samples / self.world)
        lo = min(self.eval_samples, self.rank * share)
        hi = min(self.eval_samples, lo + share)
        for start in range(lo, hi, self.eval_batch_size):
            stop = min(hi, start + self.eval_batch_size)
            yield self.batch(self.eval_anchors[start:stop], start)
