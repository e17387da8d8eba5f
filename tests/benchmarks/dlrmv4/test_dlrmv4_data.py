"""The Yambda reader: anchors and windows on hand-made sessions, the vectorised history against
the reference's per-anchor gather, the synthetic files' learnable label, verify_data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlperf_submit.benchmarks.common.interface import RunContext
from mlperf_submit.benchmarks.dlrmv4 import verify_data
from mlperf_submit.benchmarks.dlrmv4.benchmark import DLRMv4Benchmark
from mlperf_submit.benchmarks.dlrmv4.config import tiny
from mlperf_submit.benchmarks.dlrmv4.data_yambda import YambdaSplits
from mlperf_submit.errors import InputError

DAY = 86400


@pytest.fixture(scope="module")
def tiny_yambda(tmp_path_factory) -> Path:
    """The tiny preset's synthetic Yambda (as --synthetic writes it)."""
    root = tmp_path_factory.mktemp("yambda")
    return DLRMv4Benchmark(tiny(), RunContext(seed=0)).prepare_synthetic(root)


def _splits(root: Path, **kw) -> YambdaSplits:
    cfg = tiny()
    m, d = cfg.model, cfg.data
    args = dict(
        processed_dir=d.processed_dir, history_length=d.history_length, min_history=d.min_history,
        scan_window=d.scan_window, window_seconds=d.window_seconds, start_ts=d.start_ts,
        num_train_ts=d.num_train_ts,
        table_rows={"items": m.items, "artists": m.artists, "albums": m.albums, "users": m.users},
        cross_rows=m.cross_rows, global_batch=8, eval_batch_size=5, rank=0, world=1,
    )  # fmt: skip
    args.update(kw)
    return YambdaSplits(root, **args)


def reference_history(data: YambdaSplits, pos: int, history_length: int, scan_window: int):
    """The reference's _gather_interleaved_history, one anchor at a time."""
    s = data.store
    per_pool = max(1, history_length // 3)
    start = max(int(s.user_start[s.uid[pos]]), pos - scan_window)
    lp, like, skip = data.lp[start:pos], data.like[start:pos], data.skip[start:pos]
    idx_all = np.arange(pos - start)
    keep = np.concatenate(
        [idx_all[lp][-per_pool:], idx_all[like][-per_pool:], idx_all[skip][-per_pool:]]
    )
    keep = keep[np.argsort(keep, kind="stable")]
    weight = np.zeros(len(keep), dtype=np.int64)
    weight[lp[keep]] |= 1
    weight[like[keep]] |= 2
    weight[skip[keep]] |= 4
    return s.item[start:pos][keep], s.ts[start:pos][keep], weight


def test_histories_are_the_references_gather(tiny_yambda):
    for scan in (200, 7):  # a window wider than the pools, and one that clips them
        data = _splits(tiny_yambda, scan_window=scan)
        anchors = np.concatenate([data.train_anchors[:40], data.eval_anchors[-40:]])
        items, ts, weights, lengths = data.histories(anchors)
        for row, pos in enumerate(anchors):
            want = reference_history(data, int(pos), tiny().data.history_length, scan)
            n = int(lengths[row])
            assert n == len(want[0])
            for got, ref in zip((items, ts, weights), want, strict=True):
                assert got[row, :n].tolist() == ref.tolist()
                assert not got[row, n:].any()


def _sessions(root: Path, events: list[tuple[int, int, int, int, int]]) -> Path:
    """One session per user from (uid, ts, item, event_type, played) rows; the other files."""
    proc, shared = root / "processed_5b", root / "shared_metadata"
    proc.mkdir(parents=True)
    shared.mkdir()
    users = sorted({e[0] for e in events})
    cols = {"uid": [], "session_id": [], "item_ids": [], "timestamps": [], "event_types": [],
            "is_organic": [], "played_ratio_pct": [], "track_length_seconds": []}  # fmt: skip
    for u in users:
        mine = [e for e in events if e[0] == u]
        cols["uid"].append(u)
        cols["session_id"].append(0)
        cols["item_ids"].append([e[2] for e in mine])
        cols["timestamps"].append([e[1] for e in mine])
        cols["event_types"].append([e[3] for e in mine])
        cols["is_organic"].append([1] * len(mine))
        cols["played_ratio_pct"].append([e[4] for e in mine])
        cols["track_length_seconds"].append([200] * len(mine))
    pq.write_table(pa.table(cols), proc / "train_sessions.parquet")
    lens = [len(c) for c in cols["item_ids"]]
    pq.write_table(
        pa.table(
            {
                "uid": users,
                "session_ids": [[0]] * len(users),
                "session_lens": [[n] for n in lens],
                "session_offsets": [[n] for n in lens],
            }
        ),  # fmt: skip
        proc / "session_index.parquet",
    )
    pq.write_table(
        pa.table(
            {
                "uid": [0],
                "timestamp": [0],
                "item_id": [0],
                "event_type": [0],
                "played_ratio_pct": [0],
            }
        ),
        proc / "test_events.parquet",
    )
    items = np.arange(10)
    pop = np.bincount([e[2] for e in events], minlength=10)
    np.save(proc / "item_popularity.npy", pop.astype(np.int64))
    pq.write_table(
        pa.table({"item_id": items, "artist_id": items % 3}), shared / "artist_item_mapping.parquet"
    )
    pq.write_table(
        pa.table({"item_id": items, "album_id": items % 4}), shared / "album_item_mapping.parquet"
    )
    meta = {"t_min": 0, "t_max": 9 * DAY, "num_train_events": len(events), "num_test_events": 1,
            "num_sessions": len(users), "num_users": len(users)}  # fmt: skip
    (proc / "split_meta.json").write_text(json.dumps(meta))
    return root


def test_anchors_windows_and_labels_on_hand_made_sessions(tmp_path):
    # user 1: 3 events before its first listen anchor; anchors need min_history=3 earlier events.
    ev = [(1, 10, 1, 1, 0), (1, 20, 2, 0, 80), (1, 30, 3, 0, 10)]  # like, lp, skip
    ev += [(1, 40 + DAY * k, 4 + k, 0, 90 if k % 2 else 20) for k in range(4)]  # anchors, days 0-3
    ev += [(2, 5, 7, 0, 60), (2, 6, 8, 0, 60)]  # too short a history: never an anchor
    root = _sessions(tmp_path / "y", ev)
    data = _splits(
        root, min_history=3, start_ts=0, num_train_ts=2, global_batch=1, history_length=6
    )
    s = data.store
    assert [int(s.ts[a]) for a in data.train_anchors] == [40, 40 + DAY]  # windows 0 and 1
    assert [int(s.ts[a]) for a in data.eval_anchors] == [40 + 2 * DAY]  # window 2
    batch = data.batch(data.train_anchors[1:2], 0)
    items, _, _, ts, weights, length, context, candidate, label, index = batch
    # history of the day-1 anchor: like(2), lp(2), skip(3), the day-0 anchor (a skip)
    assert length.tolist() == [4] and items[0, :4].tolist() == [1, 2, 3, 4]
    assert weights[0, :4].tolist() == [2, 1, 4, 4]
    assert candidate[0].tolist() == [5, 5 % 3, 5 % 4, 40]  # query time: the last history ts
    assert label.tolist() == [1.0] and context[0, 0].item() == 1


def test_reader_and_verify_data_name_damaged_files(tiny_yambda, tmp_path, capsys):
    assert verify_data.main([str(tiny_yambda)]) == 0
    root = _sessions(tmp_path / "y", [(1, 10 * k, k % 10, 0, 70) for k in range(12)])
    assert verify_data.main([str(root)]) == 0
    np.save(root / "processed_5b" / "item_popularity.npy", np.ones(7, dtype=np.int64))
    with pytest.raises(InputError, match="item_popularity.npy: 7 entries but the artist/album"):
        _splits(root)
    capsys.readouterr()
    assert verify_data.main([str(root)]) == 1
    out = capsys.readouterr().out
    assert "item_popularity.npy: 7 entries, the artist/album mappings describe 10 items" in out
    sessions = root / "processed_5b" / "train_sessions.parquet"
    sessions.write_bytes(sessions.read_bytes()[:100])
    with pytest.raises(InputError, match="train_sessions.parquet: not a readable parquet"):
        _splits(root)
    assert verify_data.main([str(root)]) == 1
    assert "train_sessions.parquet: not a readable parquet file" in capsys.readouterr().out
    (root / "processed_5b" / "split_meta.json").unlink()
    assert verify_data.main([str(root)]) == 1
    assert verify_data.main([str(tmp_path / "absent")]) == 2
