"""The packed GovReport parquet files, read with pyarrow, as this run's batches.

The reference reads ``train-00000-of-00001.parquet`` and ``validation-00000-of-00001.parquet``
(MLCommons' ``scrolls_gov_report_8k``; the same files as the Hub dataset
``regisss/scrolls_gov_report_preprocessed_mlperf_2``, where they sit under ``data/``): one row
per packed sequence of 8,192 tokens, columns ``input_ids``, ``attention_mask`` and ``labels``
(lists of integers; -100 = no loss at that position). 3,901 training rows, 173 validation rows.

    splits = GovReportSplits(root, seq_len=8192, vocab_size=32000, global_batch=8,
                             eval_batch=1, seed=S, rank=r, world=8)
    for batch in splits.train_epoch(0): ...    # {"input_ids", "labels"}: int64 [8 / world, L]
    for batch in splits.eval_batches(): ...    # + "weight": 1 real row, 0 padding

Order: epoch e is a permutation of the training rows keyed by (seed, e), the same on every rank;
global step s takes rows [s*G, (s+1)*G) of it and rank r its slice (a partial last batch is
dropped). Validation: every row once, in file order, split over the ranks; ranks whose share is
shorter run padding rows of weight 0, so every rank runs the same number of forward passes
(FSDP2 gathers weights collectively inside each one), as accelerate pads and then drops
duplicates in the reference.

A position whose ``attention_mask`` is 0 (right padding; packed rows have none) gets no loss.
Every check here is cheap and vectorised; ``verify_data.py`` checks the files thoroughly.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from mlperf_submit.benchmarks.common.interface import DataSplits
from mlperf_submit.errors import InputError, UsageError

IGNORE = -100
COLUMNS = ("input_ids", "attention_mask", "labels")


def split_files(root: str | Path, split: str) -> list[Path]:
    """``<split>*.parquet`` in ``root`` (or in ``root/data``, the Hub layout), sorted."""
    root = Path(root)
    for d in (root, root / "data"):
        found = sorted(d.glob(f"{split}*.parquet"))
        if found:
            return found
    raise InputError(
        f"{root}: no {split}*.parquet (nor data/{split}*.parquet): the packed GovReport "
        "dataset (scrolls_gov_report_8k) has train-00000-of-00001.parquet and "
        "validation-00000-of-00001.parquet"
    )


def read_rows(path: Path, seq_len: int) -> tuple[np.ndarray, np.ndarray]:
    """(input_ids, labels) of one file as int32 [rows, seq_len]; labels already -100 where the
    attention mask is 0. InputError naming the file (and row) for anything malformed."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(str(path))
    except (OSError, pa.ArrowException) as err:
        raise InputError(f"{path}: not a readable parquet file ({err})") from None
    missing = [c for c in ("input_ids", "labels") if c not in table.column_names]
    if missing:
        raise InputError(
            f"{path}: no column {missing[0]!r} (columns: {', '.join(table.column_names)}; the "
            f"packed GovReport files have {', '.join(COLUMNS)})"
        )
    out = {}
    for name in COLUMNS:
        if name not in table.column_names:
            continue
        col = table.column(name).combine_chunks()
        if not (pa.types.is_list(col.type) or pa.types.is_large_list(col.type)) or not (
            pa.types.is_integer(col.type.value_type)
        ):
            raise InputError(f"{path}: column {name!r} is {col.type}, not a list of integers")
        lengths = col.value_lengths().to_numpy(zero_copy_only=False)
        bad = np.flatnonzero(lengths != seq_len)
        if bad.size:
            raise InputError(
                f"{path}: row {int(bad[0])} of {name!r} holds {int(lengths[bad[0]])} tokens, not "
                f"{seq_len} (data packed for another sequence length?)"
            )
        if col.null_count or col.values.null_count:
            raise InputError(f"{path}: column {name!r} has missing values")
        values = col.values.to_numpy(zero_copy_only=False)
        info = np.iinfo(np.int32)
        if values.size and (values.max() > info.max or values.min() < info.min):
            raise InputError(f"{path}: column {name!r} holds values beyond 32 bits: not token ids")
        # int32 in memory (8 ranks x 3,901 x 8,192 x 2 columns), int64 per batch
        out[name] = values.astype(np.int32).reshape(len(col), seq_len)
    ids, labels = out["input_ids"], out["labels"]
    mask = out.get("attention_mask")
    if mask is not None:
        labels = np.where(mask != 0, labels, IGNORE)
    return ids, labels


def check_tokens(path: Path, ids: np.ndarray, labels: np.ndarray, vocab_size: int) -> None:
    """Token ids inside the vocabulary; labels are -100 or a token id."""
    for name, arr, low in (("input_ids", ids, 0), ("labels", labels, IGNORE)):
        bad = (arr >= vocab_size) | (arr < low) | ((arr < 0) & (arr != IGNORE))
        if bad.any():
            row, pos = (int(x) for x in np.argwhere(bad)[0])
            raise InputError(
                f"{path}: row {row}, position {pos}: {name} holds {int(arr[row, pos])}, outside "
                f"[0, {vocab_size}) (and not -100): data tokenised for another model?"
            )


def read_split(root: Path, split: str, seq_len: int, vocab_size: int) -> tuple:
    parts = [(p, *read_rows(p, seq_len)) for p in split_files(root, split)]
    for path, ids, labels in parts:
        check_tokens(path, ids, labels, vocab_size)
    first = parts[0][0]
    ids = np.concatenate([p[1] for p in parts])
    labels = np.concatenate([p[2] for p in parts])
    return first, ids, labels


class GovReportSplits(DataSplits):
    """The training rows (shuffled per epoch) and the validation rows of one rank."""

    def __init__(
        self,
        root: Path,
        *,
        seq_len: int,
        vocab_size: int,
        global_batch: int,
        eval_batch: int,
        seed: int,
        rank: int = 0,
        world: int = 1,
    ) -> None:
        if global_batch % world:
            raise UsageError(f"global batch {global_batch} does not split over {world} ranks")
        self.seed, self.rank, self.world, self.global_batch = seed, rank, world, global_batch
        train_file, self.train_ids, self.train_labels = read_split(
            root, "train", seq_len, vocab_size
        )
        val_file, self.val_ids, self.val_labels = read_split(
            root, "validation", seq_len, vocab_size
        )
        if len(self.train_ids) < global_batch:
            raise InputError(
                f"{train_file}: {len(self.train_ids)} training rows, fewer than one global batch "
                f"({global_batch})"
            )
        if not len(self.val_ids):
            raise InputError(f"{val_file}: no validation rows")
        self.train_samples = len(self.train_ids)
        self.eval_samples = len(self.val_ids)
        self.eval_batch = eval_batch
        self.steps_per_epoch = self.train_samples // global_batch

    def _batch(self, ids: np.ndarray, labels: np.ndarray, rows: np.ndarray) -> dict:
        return {
            "input_ids": torch.from_numpy(ids[rows]).long(),
            "labels": torch.from_numpy(labels[rows]).long(),
        }

    def train_epoch(self, epoch: int) -> Iterator[dict]:
        order = np.random.default_rng([self.seed, epoch]).permutation(self.train_samples)
        local = self.global_batch // self.world
        for step in range(self.steps_per_epoch):
            first = step * self.global_batch + self.rank * local
            yield self._batch(self.train_ids, self.train_labels, order[first : first + local])

    def eval_batches(self) -> Iterator[dict]:
        mine = np.array_split(np.arange(self.eval_samples), self.world)[self.rank]
        per_rank = math.ceil(self.eval_samples / self.world)
        # Pad with this rank's first row (any real row works) at weight 0.
        pad = mine[:1] if len(mine) else np.zeros(1, dtype=np.int64)
        rows = np.concatenate([mine, np.repeat(pad, per_rank - len(mine))])
        weight = np.concatenate([np.ones(len(mine)), np.zeros(per_rank - len(mine))])
        for m in range(0, per_rank, self.eval_batch):
            batch = self._batch(self.val_ids, self.val_labels, rows[m : m + self.eval_batch])
            batch["weight"] = torch.from_numpy(weight[m : m + self.eval_batch]).float()
            yield batch
