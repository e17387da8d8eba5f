"""The packed GovReport parquet files: the loader on hand-made files (order, ranks, padding,
masks), the synthetic set's columns and masks, the loss and metric formulas, and verify_data on
damaged files."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from torch import nn

from mlperf_submit.benchmarks.llama2_70b_lora import verify_data
from mlperf_submit.benchmarks.llama2_70b_lora.benchmark import per_sequence_loss
from mlperf_submit.benchmarks.llama2_70b_lora.data_parquet import GovReportSplits, split_files
from mlperf_submit.benchmarks.llama2_70b_lora.synthetic import (
    EOS,
    IGNORE,
    SUMMARY,
    TEXT,
    TRAIN_FILE,
    VALIDATION_FILE,
    write_parquet,
)
from mlperf_submit.errors import InputError

L = 8  # sequence length of the hand-made files


def make_dir(tmp_path, train_rows=6, val_rows=5, seq=L):
    """Row i of each split holds ids 10*i + position; validation masks its first half."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    for name, rows, masked in ((TRAIN_FILE, train_rows, False), (VALIDATION_FILE, val_rows, True)):
        ids = (np.arange(rows)[:, None] * 10 + np.arange(seq)[None, :]) % 100
        labels = ids.copy()
        if masked:
            labels[:, : seq // 2] = IGNORE
        write_parquet(tmp_path / name, ids, labels)
    return tmp_path


def splits(root, **kw):
    args = dict(seq_len=L, vocab_size=100, global_batch=2, eval_batch=2, seed=3)
    return GovReportSplits(root, **{**args, **kw})


def test_epoch_order_is_shared_and_split_over_ranks(tmp_path):
    root = make_dir(tmp_path)
    one = [b["input_ids"][:, 0].tolist() for b in splits(root).train_epoch(0)]
    assert len(one) == 3 and sorted(x for b in one for x in b) == [0, 10, 20, 30, 40, 50]
    ranks = [[b["input_ids"][:, 0].tolist() for b in splits(root, rank=r, world=2).train_epoch(0)]
             for r in range(2)]  # fmt: skip
    # step s: rank 0 takes the first half of the global batch, rank 1 the second
    assert [r0 + r1 for r0, r1 in zip(*ranks)] == one
    other = [b["input_ids"][:, 0].tolist() for b in splits(root).train_epoch(1)]
    assert other != one and sorted(sum(other, [])) == sorted(sum(one, []))
    batch = next(iter(splits(root).train_epoch(0)))
    assert batch["input_ids"].dtype == torch.int64 and batch["input_ids"].shape == (2, L)
    assert torch.equal(batch["labels"], batch["input_ids"])


def test_every_validation_row_once_with_padding_at_weight_zero(tmp_path):
    root = make_dir(tmp_path)
    seen = []
    counts = []
    for r in range(3):  # 5 rows over 3 ranks: 2, 2, 1 (+1 padding row), 2 batches each
        batches = list(splits(root, rank=r, world=3, global_batch=3, eval_batch=1).eval_batches())
        counts.append(len(batches))
        for b in batches:
            seen += [int(i) for i, w in zip(b["input_ids"][:, 0], b["weight"]) if w == 1]
            assert (b["labels"][:, : L // 2] == IGNORE).all()
    assert counts == [2, 2, 2] and sorted(seen) == [0, 10, 20, 30, 40]


def test_attention_mask_zero_positions_carry_no_loss(tmp_path):
    root = make_dir(tmp_path)
    table = pq.read_table(tmp_path / TRAIN_FILE)
    mask = np.ones((6, L), dtype=np.int64)
    mask[:, -3:] = 0  # right padding
    col = pa.ListArray.from_arrays(pa.array(np.arange(0, 6 * L + 1, L, dtype=np.int32)),
                                   pa.array(mask.reshape(-1)))  # fmt: skip
    table = table.set_column(table.column_names.index("attention_mask"), "attention_mask", col)
    pq.write_table(table, tmp_path / TRAIN_FILE)
    batch = next(iter(splits(root).train_epoch(0)))
    assert (batch["labels"][:, -3:] == IGNORE).all()
    assert torch.equal(batch["labels"][:, :-3], batch["input_ids"][:, :-3])


@pytest.mark.parametrize(
    "damage, message",
    [
        ("drop_labels", "no column 'labels'"),
        ("short_row", "row 2 of 'input_ids' holds 7 tokens, not 8"),
        ("big_token", "row 1, position 3: input_ids holds 5000, outside [0, 100)"),
        ("floats", "double>, not a list of integers"),
        ("garbage", "not a readable parquet file"),
    ],
)
def test_damaged_files_are_errors_naming_file_and_row(tmp_path, damage, message):
    root = make_dir(tmp_path)
    path = tmp_path / TRAIN_FILE
    ids = np.arange(6 * L).reshape(6, L) % 100
    if damage == "drop_labels":
        pq.write_table(pq.read_table(path).drop(["labels"]), path)
    elif damage == "short_row":
        rows = [list(r) for r in ids]
        rows[2] = rows[2][:-1]
        pq.write_table(pa.table({"input_ids": rows, "attention_mask": rows, "labels": rows}), path)
    elif damage == "big_token":
        ids[1, 3] = 5000
        write_parquet(path, ids, ids)
    elif damage == "floats":
        rows = [list(map(float, r)) for r in ids]
        pq.write_table(pa.table({"input_ids": rows, "attention_mask": rows, "labels": rows}), path)
    else:
        path.write_bytes(b"PAR1 not really")
    with pytest.raises(InputError) as err:
        splits(root)
    assert str(err.value).startswith(str(path)) and message in str(err.value)


def test_missing_split_names_what_is_expected(tmp_path):
    make_dir(tmp_path)
    (tmp_path / VALIDATION_FILE).unlink()
    with pytest.raises(InputError, match="no validation\\*.parquet .*validation-00000-of-00001"):
        split_files(tmp_path, "validation")
    # the Hub layout keeps the files under data/
    (tmp_path / "data").mkdir()
    (tmp_path / TRAIN_FILE).rename(tmp_path / "data" / TRAIN_FILE)
    assert split_files(tmp_path, "train") == [tmp_path / "data" / TRAIN_FILE]


class FixedLogits(nn.Module):
    """Logits that put probability p on token 1 everywhere (the rest uniform)."""

    def __init__(self, vocab: int, p: float) -> None:
        super().__init__()
        self.vocab, self.p = vocab, p

    def forward(self, ids):
        probs = torch.full((*ids.shape, self.vocab), (1 - self.p) / (self.vocab - 1))
        probs[..., 1] = self.p
        return probs.log()


def test_metric_averages_rows_not_tokens():
    """transformers' eval_loss at one row per forward: the mean over rows of each row's mean over
    its label tokens (a row with 1 label token weighs as much as a row with 6)."""
    model = FixedLogits(4, 0.5)
    ids = torch.ones(2, 8, dtype=torch.long)
    labels = torch.full((2, 8), IGNORE)
    labels[0, 2:] = 1  # 6 label tokens, each costing -ln 0.5
    labels[1, 7] = 0  # 1 label token costing -ln(0.5 / 3)
    per_row, has = per_sequence_loss(model, ids, labels)
    assert has.tolist() == [True, True]
    expected = [-np.log(0.5), -np.log(0.5 / 3)]
    assert per_row.tolist() == pytest.approx(expected, rel=1e-6)
    token_mean = (6 * expected[0] + expected[1]) / 7
    assert per_row.mean().item() != pytest.approx(token_mean)
    # position t predicts label t + 1: a label on position 0 is never predicted
    labels = torch.full((1, 8), IGNORE)
    labels[0, 0] = 1
    assert per_sequence_loss(model, ids[:1], labels)[1].tolist() == [False]


def test_synthetic_files_have_the_reference_columns_and_masks(tiny_bm):
    root = tiny_bm.synthetic_data(tiny_bm.ctx.data_dir).resolve()
    for name, rows in ((TRAIN_FILE, 256), (VALIDATION_FILE, 32)):
        table = pq.read_table(root / name)
        assert table.column_names == ["input_ids", "attention_mask", "labels"]
        assert table.num_rows == rows
        for col in table.column_names:
            t = table.schema.field(col).type
            assert pa.types.is_list(t) and t.value_type == pa.int64()
    train = pq.read_table(root / TRAIN_FILE).to_pydict()
    assert all(a == b for a, b in zip(train["input_ids"], train["labels"]))  # every token learned
    val = pq.read_table(root / VALIDATION_FILE).to_pydict()
    assert (np.array(val["attention_mask"]) == 1).all()
    for ids, labels in zip(val["input_ids"], val["labels"]):
        # labelled: exactly the summary tokens, after SUMMARY and before </s> (a packed row may
        # start inside a sample: its state is known from its first SUMMARY or </s> on)
        state = None
        for tok, lab in zip(ids, labels):
            if tok == SUMMARY:
                state, labelled = True, False
            elif tok in (EOS, TEXT):
                state, labelled = (False, False) if tok == EOS else (state, False)
            else:
                labelled = bool(state)
            if state is not None:
                assert (lab != IGNORE) == labelled and lab in (IGNORE, tok)


def test_verify_data_passes_the_synthetic_set(tiny_bm, capsys):
    root = tiny_bm.synthetic_data(tiny_bm.ctx.data_dir).resolve()
    rc = verify_data.main([str(root), "--seq-len", "128", "--vocab", "64"])
    assert rc == 0, capsys.readouterr()
    assert "256 train + 32 validation rows of 128 tokens, 0 problem(s)" in capsys.readouterr().err


def test_verify_data_lists_every_problem(tmp_path, capsys):
    root = make_dir(tmp_path, train_rows=6, val_rows=5)
    ids = (np.arange(6)[:, None] * 10 + np.arange(L)[None, :]) % 100
    labels = ids.copy()
    ids[4, 1] = 999  # out of the vocabulary
    labels[2, 5] = 7  # neither -100 nor the id
    write_parquet(tmp_path / TRAIN_FILE, ids, labels)
    val = (np.arange(5)[:, None] * 10 + np.arange(L)[None, :]) % 100
    vlab = np.full_like(val, IGNORE)
    vlab[:, -1] = val[:, -1]
    vlab[3] = IGNORE  # a validation row with nothing to learn
    write_parquet(tmp_path / VALIDATION_FILE, val, vlab)
    rc = verify_data.main([str(root), "--seq-len", str(L), "--vocab", "100"])
    out = capsys.readouterr().out.splitlines()
    assert rc == 1
    train, valid = tmp_path / TRAIN_FILE, tmp_path / VALIDATION_FILE
    assert out == [
        f"{train}: row 4, position 1: input_ids holds 999, outside [0, 100) (1 such positions "
        "in rows 0..)",
        f"{train}: row 2, position 5: label 7 is neither -100 nor the input id 25",
        f"{root}: train has 6 rows, expected 3901",
        f"{valid}: row 3: no label token (all -100): no loss to take",
        f"{root}: validation has 5 rows, expected 173",
    ]
    assert verify_data.main([str(root), "--seq-len", "9", "--vocab", "100",
                             "--train-rows", "6", "--validation-rows", "5"]) == 1  # fmt: skip
    assert "row 0: input_ids holds 8 values, not 9" in capsys.readouterr().out
    assert verify_data.main([str(tmp_path / "absent")]) == 2
    assert "not a directory" in capsys.readouterr().err
