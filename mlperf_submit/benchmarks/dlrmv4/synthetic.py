"""A small synthetic Yambda in the reference's processed layout, with a learnable listen_plus.

Writes every file ``data_yambda`` names (sessions, session index, test day, item popularity,
split meta, the two item mappings) for ``users`` x ``days`` x ``events_per_day`` events. Items
belong to artists, artists to one of 4 genres; each user has a taste per genre and each item a
quality. A listen is a listen_plus (played >= 50 %) with probability
``sigmoid(signal * (taste[user, genre(item)] + 0.5 quality[item]))`` and users pick items of the
genres they like more often, so a model reading the history (which genres were played through,
which skipped) and the candidate's embedding ranks listen_plus well; likes follow listen_plus.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mlperf_submit.benchmarks.common.synthetic_data import SyntheticData

DAY = 86400
GENRES = 4


@dataclass(frozen=True)
class SyntheticSpec:
    users: int
    items: int
    artists: int
    albums: int
    days: int
    events_per_day: int
    signal: float
    seed: int
    processed_dir: str


def synthetic_data(root: Path, benchmark: str, spec: SyntheticSpec) -> SyntheticData:
    return SyntheticData(root, benchmark, spec, writer=lambda d: write_yambda(d, spec))


def _events(spec: SyntheticSpec, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Every event of days 0 .. days (the last is the test day), sorted by (uid, time)."""
    artist_of = rng.integers(0, spec.artists, spec.items)
    album_of = (
        artist_of * (spec.albums // spec.artists) + rng.integers(0, 2, spec.items)
    ) % spec.albums
    genre_of = artist_of % GENRES
    quality = rng.standard_normal(spec.items)
    taste = rng.standard_normal((spec.users, GENRES)) * 1.2
    per_user = (spec.days + 1) * spec.events_per_day
    uid = np.repeat(np.arange(spec.users), per_user)
    day = np.tile(np.repeat(np.arange(spec.days + 1), spec.events_per_day), spec.users)
    # Seconds within the day (Yambda rounds to 5 s); sorted per user and day.
    sec = (rng.integers(0, DAY // 5, len(uid)) * 5).reshape(spec.users, spec.days + 1, -1)
    ts = (day * DAY + np.sort(sec, axis=-1).reshape(-1)).astype(np.int64)
    prefs = np.exp(taste)[uid]  # users choose genres they like more often
    genre = rng.random(len(uid))[:, None] < np.cumsum(prefs / prefs.sum(1, keepdims=True), 1)
    genre = genre.argmax(1)
    by_genre = [np.flatnonzero(genre_of == g) for g in range(GENRES)]
    item = np.array([by_genre[g][rng.integers(0, len(by_genre[g]))] for g in genre])
    p_lp = 1 / (1 + np.exp(-spec.signal * (quality[item] + 0.5 * taste[uid, genre_of[item]])))
    lp = rng.random(len(uid)) < p_lp
    kind = rng.random(len(uid))
    event_type = np.where(kind < 0.9, 0, np.where(lp, 1, np.where(kind < 0.95, 2, 3)))
    played = np.where(lp, rng.integers(50, 101, len(uid)), rng.integers(0, 50, len(uid)))
    return {
        "uid": uid.astype(np.uint32),
        "timestamp": ts.astype(np.uint32),
        "item_id": item.astype(np.uint32),
        "is_organic": (rng.random(len(uid)) < 0.6).astype(np.uint8),
        "played_ratio_pct": played.astype(np.uint16),
        "track_length_seconds": rng.integers(90, 400, len(uid)).astype(np.uint32),
        "event_type": event_type.astype(np.uint8),
        "artist_of": artist_of,
        "album_of": album_of,
    }


def write_yambda(directory: Path, spec: SyntheticSpec) -> dict:
    import pyarrow as pa
    import pyarrow.parquet as pq

    ev = _events(spec, np.random.default_rng(spec.seed))
    processed, shared = directory / spec.processed_dir, directory / "shared_metadata"
    processed.mkdir()
    shared.mkdir()
    train_end = spec.days * DAY
    test_start = train_end + 30 * 60  # the reference's 30-minute gap
    train = ev["timestamp"] < train_end
    test = ev["timestamp"] >= test_start
    listen = ev["event_type"] == 0
    played = ev["played_ratio_pct"]
    cols = (
        "item_id",
        "timestamp",
        "event_type",
        "is_organic",
        "played_ratio_pct",
        "track_length_seconds",
    )

    # Sessions: a user's events split where the gap exceeds 30 minutes.
    u, t = ev["uid"][train].astype(np.int64), ev["timestamp"][train].astype(np.int64)
    new = np.ones(len(u), dtype=bool)
    new[1:] = (u[1:] != u[:-1]) | (t[1:] - t[:-1] > 1800)
    starts = np.flatnonzero(new)
    session = np.cumsum(new) - 1
    first_of_user = np.r_[True, u[starts][1:] != u[starts][:-1]]
    sid = np.arange(len(starts)) - np.maximum.accumulate(
        np.where(first_of_user, np.arange(len(starts)), 0)
    )
    offsets = np.r_[starts, len(u)]

    def lists(values: np.ndarray, null: np.ndarray | None = None):
        mask = null
        flat = pa.array(values, mask=mask)
        return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), flat)

    names = {"item_id": "item_ids", "timestamp": "timestamps", "event_type": "event_types"}
    sessions = {
        "uid": pa.array(u[starts].astype(np.uint32)),
        "session_id": pa.array(sid.astype(np.uint32)),
    }
    for col in cols:
        null = ~listen[train] if col == "played_ratio_pct" else None
        sessions[names.get(col, col)] = lists(ev[col][train], null)
    pq.write_table(pa.table(sessions), processed / "train_sessions.parquet")

    lens = np.diff(offsets)
    user_of_session = u[starts]
    index_rows = {"uid": [], "session_ids": [], "session_lens": [], "session_offsets": []}
    for user in np.unique(user_of_session):
        mine = user_of_session == user
        index_rows["uid"].append(int(user))
        index_rows["session_ids"].append(sid[mine].tolist())
        index_rows["session_lens"].append(lens[mine].tolist())
        index_rows["session_offsets"].append(np.cumsum(lens[mine]).tolist())
    pq.write_table(pa.table(index_rows), processed / "session_index.parquet")

    test_cols = {"uid": pa.array(ev["uid"][test])}
    for col in cols:
        null = ~listen[test] if col == "played_ratio_pct" else None
        test_cols[col] = pa.array(ev[col][test], mask=null)
    pq.write_table(pa.table(test_cols), processed / "test_events.parquet")

    popularity = np.bincount(ev["item_id"][train].astype(np.int64), minlength=spec.items)
    np.save(processed / "item_popularity.npy", popularity.astype(np.int64))
    items = np.arange(spec.items, dtype=np.uint32)
    pq.write_table(
        pa.table({"item_id": items, "artist_id": ev["artist_of"].astype(np.uint32)}),
        shared / "artist_item_mapping.parquet",
    )
    pq.write_table(
        pa.table({"item_id": items, "album_id": ev["album_of"].astype(np.uint32)}),
        shared / "album_item_mapping.parquet",
    )
    meta = {
        "size": "synthetic",
        "t_min": int(ev["timestamp"].min()),
        "t_max": int(ev["timestamp"].max()),
        "train_start": 0,
        "train_end": int(train_end),
        "test_start": int(test_start),
        "test_end": int(test_start + DAY),
        "train_days": spec.days,
        "gap_minutes": 30,
        "test_days": 1,
        "session_gap_seconds": 1800,
        "num_train_events": int(train.sum()),
        "num_test_events": int(test.sum()),
        "num_sessions": int(len(starts)),
        "num_users": int(len(np.unique(u))),
    }
    (processed / "split_meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    del played, session
    return {
        "train_events": int(train.sum()),
        "listen_plus_rate": round(
            float(np.mean((ev["event_type"][train] == 0) & (ev["played_ratio_pct"][train] >= 50))),
            4,
        ),
    }
