"""Check a Yambda directory in the dlrmv4 reference's processed layout before a campaign reads it.

    python -m mlperf_submit.benchmarks.dlrmv4.verify_data DATA [--processed-dir processed_5b]
        [--md5]

Streams ``train_sessions.parquet`` by record batch (47 GB for Yambda-5b): the columns the reader
needs, every row's lists of equal length, rows sorted by (uid, session_id), integer ids >= 0.
Then the cross-checks the reference relies on: ``session_index.parquet`` covers the same users
with the same session lengths; ``item_popularity.npy`` (1-D integers) has one entry per item of
the artist/album mappings (a stale mapping silently resizes the tables) and counts every
training event; ``split_meta.json`` agrees with the counts (events, sessions, users, test
events); the mappings name each item once. ``--md5`` compares the seven files with the
reference's ``md5sums_yambda_5b_processed.txt``.

Exit 0: all checks pass. 1: problems, one line each naming the file. 2: DATA is unusable.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from mlperf_submit.benchmarks.dlrmv4.data_yambda import MAPPINGS, SESSION_COLUMNS, paths
from mlperf_submit.benchmarks.families.recsys.verify import Problems, check_md5
from mlperf_submit.errors import InputError

# md5sums_yambda_5b_processed.txt of the reference (recommendation_v4).
YAMBDA_5B_MD5 = {
    "train_sessions.parquet": "fc7c4c5d42d43f0d1f1ed6033ad0eb6f",
    "test_events.parquet": "462a8dc32205a9d2130cb42a0a06067c",
    "session_index.parquet": "484c03ecea413c3ff1e4aa319de2b15a",
    "item_popularity.npy": "6a586fcf43109e34837f68d73213c01d",
    "split_meta.json": "175984de3aadf6137922c4c30a09d69c",
    "artist_item_mapping.parquet": "a7fa1226d16d2867eb7ca43f395091d0",
    "album_item_mapping.parquet": "40a37753824093fa6d5c89a50c7c5191",
}
TEST_COLUMNS = ("uid", "timestamp", "item_id", "event_type", "played_ratio_pct")
INDEX_COLUMNS = ("uid", "session_ids", "session_lens", "session_offsets")
META_KEYS = ("t_min", "t_max", "num_train_events", "num_test_events", "num_sessions", "num_users")


def _open(path: Path, columns, problems: Problems):
    import pyarrow.parquet as pq

    try:
        f = pq.ParquetFile(path)
    except Exception as err:  # pyarrow: ArrowInvalid, OSError ... on a damaged file
        problems.add(path, f"not a readable parquet file ({err})")
        return None
    missing = [c for c in columns if c not in f.schema_arrow.names]
    if missing:
        problems.add(path, f"missing column(s) {', '.join(missing)}")
        return None
    problems.checked += 1
    return f


def check_sessions(path: Path, problems: Problems) -> dict | None:
    """Events, sessions, per-user session lengths, per-item counts of train_sessions.parquet."""
    import pyarrow.compute as pc

    f = _open(path, SESSION_COLUMNS, problems)
    if f is None:
        return None
    lens_by_user: dict[int, list[int]] = {}
    counts: dict[int, int] = {}
    events = sessions = 0
    last = (-1, -1)
    try:
        for batch in f.iter_batches(columns=list(SESSION_COLUMNS), batch_size=65536):
            lengths = pc.list_value_length(batch.column("item_ids")).to_numpy(zero_copy_only=False)
            for name in SESSION_COLUMNS[3:]:
                other = pc.list_value_length(batch.column(name)).to_numpy(zero_copy_only=False)
                if not np.array_equal(other, lengths):
                    row = sessions + int(np.flatnonzero(other != lengths)[0])
                    problems.add(path, f"row {row}: {name} and item_ids differ in length")
                    return None
            uid = batch.column("uid").to_numpy(zero_copy_only=False).astype(np.int64)
            sid = batch.column("session_id").to_numpy(zero_copy_only=False).astype(np.int64)
            keys = np.stack([uid, sid], 1)
            order_ok = np.all((np.diff(uid) > 0) | ((np.diff(uid) == 0) & (np.diff(sid) > 0)))
            if not order_ok or tuple(keys[0]) <= last:
                problems.add(path, "rows are not sorted by (uid, session_id)")
                return None
            last = tuple(keys[-1])
            items = pc.list_flatten(batch.column("item_ids")).to_numpy(zero_copy_only=False)
            if len(items) and items.min() < 0:
                problems.add(path, "negative item ids")
                return None
            ids, n = np.unique(items.astype(np.int64), return_counts=True)
            for i, c in zip(ids.tolist(), n.tolist(), strict=True):
                counts[i] = counts.get(i, 0) + c
            for u, length in zip(uid.tolist(), lengths.tolist(), strict=True):
                lens_by_user.setdefault(u, []).append(length)
            events += int(lengths.sum())
            sessions += len(uid)
    except Exception as err:  # a damaged row group surfaces while reading
        problems.add(path, f"unreadable ({err})")
        return None
    return {"events": events, "sessions": sessions, "lens": lens_by_user, "items": counts}


def check_index(path: Path, stats: dict, problems: Problems) -> None:
    f = _open(path, INDEX_COLUMNS, problems)
    if f is None:
        return
    table = f.read()
    uids = table.column("uid").to_pylist()
    lens = table.column("session_lens").to_pylist()
    if sorted(uids) != sorted(stats["lens"]):
        problems.add(path, f"{len(uids)} users, train_sessions.parquet has {len(stats['lens'])}")
        return
    for u, mine in zip(uids, lens, strict=True):
        if mine != stats["lens"][u]:
            problems.add(path, f"uid {u}: session lengths {mine[:5]} ... differ from the sessions")
            return


def check_items(files: dict[str, Path], stats: dict | None, problems: Problems) -> None:
    n_items = 0
    for name, col in zip(MAPPINGS, ("artist_id", "album_id"), strict=True):
        f = _open(files[name], ("item_id", col), problems)
        if f is None:
            continue
        items = f.read(columns=["item_id"]).column("item_id").to_numpy().astype(np.int64)
        if len(np.unique(items)) != len(items):
            problems.add(files[name], "an item_id appears more than once")
        n_items = max(n_items, int(items.max()) + 1 if len(items) else 0)
    path = files["item_popularity.npy"]
    try:
        pop = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        problems.add(path, f"not a readable .npy file ({err})")
        return
    problems.checked += 1
    if pop.ndim != 1 or pop.dtype.kind not in "iu":
        problems.add(path, f"shape {pop.shape} {pop.dtype}, expected 1-D integers")
        return
    if n_items and len(pop) != n_items:
        problems.add(
            path, f"{len(pop)} entries, the artist/album mappings describe {n_items} items"
        )
    if stats is not None:
        counted = np.zeros(len(pop), dtype=np.int64)
        ids = np.fromiter(stats["items"], dtype=np.int64)
        if len(ids) and ids.max() >= len(pop):
            problems.add(path, f"item {int(ids.max())} of the sessions has no entry")
            return
        counted[ids] = np.fromiter(stats["items"].values(), dtype=np.int64)
        if not np.array_equal(counted, pop):
            problems.add(path, "the counts differ from the events of train_sessions.parquet")


def check_meta(files: dict[str, Path], stats: dict | None, problems: Problems) -> None:
    path = files["split_meta.json"]
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        problems.add(path, f"not readable JSON ({err})")
        return
    problems.checked += 1
    missing = [k for k in META_KEYS if not isinstance(meta, dict) or k not in meta]
    if missing:
        problems.add(path, f"missing key(s) {', '.join(missing)}")
        return
    if stats is not None:
        found = {
            "num_train_events": stats["events"],
            "num_sessions": stats["sessions"],
            "num_users": len(stats["lens"]),
        }
        for key, value in found.items():
            if meta[key] != value:
                problems.add(path, f"{key}={meta[key]}, the sessions have {value}")
    test = _open(files["test_events.parquet"], TEST_COLUMNS, problems)
    if test is not None and test.metadata.num_rows != meta["num_test_events"]:
        problems.add(
            files["test_events.parquet"],
            f"{test.metadata.num_rows} events, split_meta.json says {meta['num_test_events']}",
        )


def verify(root: Path, processed_dir: str, *, md5: bool) -> Problems:
    if not root.is_dir():
        raise InputError(f"{root}: not a directory (expected {processed_dir}/, shared_metadata/)")
    problems = Problems()
    files = {Path(k).name: v for k, v in paths(root, processed_dir).items()}
    absent = [p for p in files.values() if not p.is_file()]
    for p in absent:
        problems.add(p, "missing")
    if absent:
        return problems
    stats = check_sessions(files["train_sessions.parquet"], problems)
    if stats is not None:
        check_index(files["session_index.parquet"], stats, problems)
    check_items(files, stats, problems)
    check_meta(files, stats, problems)
    if md5:
        check_md5(files, YAMBDA_5B_MD5, problems)
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m mlperf_submit.benchmarks.dlrmv4.verify_data",
        description="check a Yambda directory in the dlrmv4 reference's processed layout",
    )
    ap.add_argument("data", type=Path, help="$DLRM_DATA_PATH: processed_5b/ and shared_metadata/")
    ap.add_argument("--processed-dir", default="processed_5b")
    ap.add_argument("--md5", action="store_true", help="compare with the reference's MD5 sums")
    args = ap.parse_args(argv)
    try:
        problems = verify(args.data, args.processed_dir, md5=args.md5)
    except InputError as err:
        print(f"verify_data: error: {err}", file=sys.stderr)
        return err.exit_code
    return problems.report(str(args.data))


if __name__ == "__main__":
    sys.exit(main())
