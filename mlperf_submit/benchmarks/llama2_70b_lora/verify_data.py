"""Check the packed GovReport parquet files before a campaign: schema, lengths, tokens, rows.

    python -m mlperf_submit.benchmarks.llama2_70b_lora.verify_data DATA [--seq-len 8192]
        [--vocab 32000] [--train-rows 3901] [--validation-rows 173]

Reads ``train*.parquet`` and ``validation*.parquet`` (in DATA or DATA/data, as the loader does)
in batches of rows and lists every problem, one line each, naming the file and the row:

* schema: the columns ``input_ids``, ``attention_mask`` and ``labels``, lists of integers;
* sequence length: every row of every column holds exactly ``--seq-len`` values;
* token range: ``input_ids`` in [0, vocab); ``labels`` is -100 or the input id at that position
  (a packed row's labels are its ids, masked); ``attention_mask`` is 0 or 1, ones then zeros;
* validation rows have at least one label token (the metric averages over rows);
* row counts: 3,901 training and 173 validation rows (the MLCommons files), or what the
  ``synthetic.json`` of a generated dataset says.

Exit 0: no problem. 1: problems (listed). 2: the directory or a file is unusable.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from mlperf_submit.benchmarks.llama2_70b_lora.data_parquet import COLUMNS, IGNORE, split_files
from mlperf_submit.errors import EXIT_FAIL, EXIT_OK, InputError, MLPerfSubmitError

REAL_ROWS = {"train": 3901, "validation": 173}
"""Rows of the MLCommons scrolls_gov_report_8k files (the reference's dataset)."""
BATCH_ROWS = 256


def _rows(col, seq_len: int, name: str, path: Path, first: int, problems: list[str]):
    """The column as int64 [rows, seq_len], or None (problems noted) when rows are ragged."""
    lengths = col.value_lengths().to_numpy(zero_copy_only=False)
    bad = np.flatnonzero(lengths != seq_len)
    for i in bad[:3]:
        problems.append(
            f"{path}: row {first + int(i)}: {name} holds {int(lengths[i])} values, not {seq_len}"
        )
    if len(bad) > 3:
        problems.append(f"{path}: {len(bad) - 3} more rows of {name} with another length")
    if bad.size or col.null_count or col.values.null_count:
        if col.null_count or col.values.null_count:
            problems.append(f"{path}: {name} has missing values in rows {first}..")
        return None
    return col.values.to_numpy(zero_copy_only=False).astype(np.int64).reshape(len(col), seq_len)


def _first(mask: np.ndarray) -> tuple[int, int]:
    row, pos = np.argwhere(mask)[0]
    return int(row), int(pos)


def check_batch(cols: dict, path: Path, first: int, split: str, vocab: int) -> list[str]:
    """The problems of one batch of rows (all columns the same shape)."""
    out = []
    ids, labels, mask = cols["input_ids"], cols["labels"], cols["attention_mask"]
    bad = (ids < 0) | (ids >= vocab)
    if bad.any():
        r, p = _first(bad)
        out.append(
            f"{path}: row {first + r}, position {p}: input_ids holds {ids[r, p]}, outside "
            f"[0, {vocab}) ({int(bad.sum())} such positions in rows {first}..)"
        )
    bad = (labels != IGNORE) & (labels != ids)
    if bad.any():
        r, p = _first(bad)
        out.append(
            f"{path}: row {first + r}, position {p}: label {labels[r, p]} is neither -100 nor "
            f"the input id {ids[r, p]}"
        )
    bad = (mask != 0) & (mask != 1)
    if bad.any():
        r, p = _first(bad)
        out.append(f"{path}: row {first + r}, position {p}: attention_mask {mask[r, p]} not 0/1")
    elif (np.diff(mask, axis=1) > 0).any():
        r, p = _first(np.diff(mask, axis=1) > 0)
        out.append(
            f"{path}: row {first + r}: attention_mask turns 0 -> 1 at position {p + 1} (only "
            "right padding is supported: the model attends causally over the whole row)"
        )
    if split == "validation":
        empty = np.flatnonzero(((labels != IGNORE) & (mask != 0)).sum(1) == 0)
        for r in empty[:3]:
            out.append(f"{path}: row {first + int(r)}: no label token (all -100): no loss to take")
    return out


def check_file(path: Path, split: str, seq_len: int, vocab: int) -> tuple[int, list[str]]:
    """(rows, problems) of one parquet file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(str(path))
    except (OSError, pa.ArrowException) as err:
        raise InputError(f"{path}: not a readable parquet file ({err})") from None
    schema = pf.schema_arrow
    problems = []
    for name in COLUMNS:
        if name not in schema.names:
            problems.append(f"{path}: no column {name!r} (columns: {', '.join(schema.names)})")
            continue
        t = schema.field(name).type
        if not (pa.types.is_list(t) or pa.types.is_large_list(t)) or not pa.types.is_integer(
            t.value_type
        ):
            problems.append(f"{path}: column {name!r} is {t}, not a list of integers")
    if problems:
        return pf.metadata.num_rows, problems
    first = 0
    try:
        for batch in pf.iter_batches(batch_size=BATCH_ROWS, columns=list(COLUMNS)):
            cols = {}
            for name in COLUMNS:
                rows = _rows(batch.column(name), seq_len, name, path, first, problems)
                if rows is not None:
                    cols[name] = rows
            if len(cols) == len(COLUMNS):
                problems += check_batch(cols, path, first, split, vocab)
            first += batch.num_rows
    except (OSError, pa.ArrowException) as err:
        raise InputError(f"{path}: unreadable after row {first} ({err})") from None
    return first, problems


def expected_rows(root: Path, given: dict) -> dict:
    """Rows per split: given on the command line, else a synthetic dataset's spec, else the
    MLCommons counts."""
    out = dict(REAL_ROWS)
    manifest = root / "synthetic.json"
    if manifest.is_file():
        try:
            spec = json.loads(manifest.read_text(encoding="utf-8"))["spec"]
            out = {"train": spec["train_rows"], "validation": spec["validation_rows"]}
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise InputError(f"{manifest}: not a synthetic-dataset manifest ({err})") from None
    out.update({k: v for k, v in given.items() if v is not None})
    return out


def verify(root: Path, seq_len: int, vocab: int, rows: dict) -> tuple[dict, list[str]]:
    """(rows found per split, problems)."""
    if not root.is_dir():
        raise InputError(f"{root}: not a directory")
    want = expected_rows(root, rows)
    found, problems = {}, []
    for split in ("train", "validation"):
        total = 0
        for path in split_files(root, split):
            n, found_problems = check_file(path, split, seq_len, vocab)
            total += n
            problems += found_problems
        found[split] = total
        if total != want[split]:
            problems.append(f"{root}: {split} has {total} rows, expected {want[split]}")
    return found, problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m mlperf_submit.benchmarks.llama2_70b_lora.verify_data",
        description="check the packed GovReport parquet files (schema, lengths, tokens, rows)",
    )
    ap.add_argument("data", type=Path, help="directory of train*.parquet, validation*.parquet")
    ap.add_argument("--seq-len", type=int, default=8192)
    ap.add_argument("--vocab", type=int, default=32000, help="Llama 2 tokenizer: 32000")
    ap.add_argument("--train-rows", type=int, default=None)
    ap.add_argument("--validation-rows", type=int, default=None)
    args = ap.parse_args(argv)
    try:
        found, problems = verify(
            args.data, args.seq_len, args.vocab,
            {"train": args.train_rows, "validation": args.validation_rows},
        )  # fmt: skip
    except MLPerfSubmitError as err:
        print(f"verify_data: error: {err}", file=sys.stderr)
        return err.exit_code
    for p in problems:
        print(p)
    print(
        f"verify_data: {found['train']} train + {found['validation']} validation rows of "
        f"{args.seq_len} tokens, {len(problems)} problem(s)",
        file=sys.stderr,
    )
    return EXIT_FAIL if problems else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
