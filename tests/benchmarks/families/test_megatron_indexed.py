"""The Megatron indexed dataset: a hand-built file, writer round trips, and every corruption.

The hand-built file below is assembled byte by byte from the format description in Megatron-LM
(``megatron/core/datasets/indexed_dataset.py``: ``_IndexWriter``), not with our writer, so the
reader is checked against the format itself and the writer against the same bytes.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlperf_submit.benchmarks.families.megatron_c4.indexed import (
    IndexedDataset,
    token_dtype_for,
    write_indexed_dataset,
)
from mlperf_submit.errors import InputError, UsageError

# Three sequences in two documents: doc 0 = seqs 0-1, doc 1 = seq 2; uint16 tokens (code 8).
SEQS = [[5, 6, 7], [8], [9, 10]]
HAND_IDX = (
    b"MMIDIDX\x00\x00"  # magic
    + (1).to_bytes(8, "little")  # version
    + bytes([8])  # dtype code: uint16
    + (3).to_bytes(8, "little")  # sequence count
    + (3).to_bytes(8, "little")  # document-index count (2 documents + 1)
    + b"".join(n.to_bytes(4, "little", signed=True) for n in (3, 1, 2))  # lengths
    + b"".join(n.to_bytes(8, "little", signed=True) for n in (0, 6, 8))  # byte pointers
    + b"".join(n.to_bytes(8, "little", signed=True) for n in (0, 2, 3))  # document indices
)
HAND_BIN = b"".join(t.to_bytes(2, "little") for seq in SEQS for t in seq)


@pytest.fixture
def hand_prefix(tmp_path):
    prefix = tmp_path / "hand_text_document"
    (tmp_path / "hand_text_document.idx").write_bytes(HAND_IDX)
    (tmp_path / "hand_text_document.bin").write_bytes(HAND_BIN)
    return prefix


def test_reads_hand_built_file(hand_prefix):
    ds = IndexedDataset(hand_prefix)
    assert len(ds) == 3
    assert ds.dtype == np.uint16
    assert [ds[i].tolist() for i in range(3)] == SEQS
    assert ds.num_documents == 2
    assert ds.document(0).tolist() == [5, 6, 7, 8]
    assert ds.document(1).tolist() == [9, 10]
    assert ds.num_tokens == 6
    assert ds.contiguous
    assert ds.flat_tokens().tolist() == [5, 6, 7, 8, 9, 10]


def test_writer_produces_the_hand_built_bytes_for_one_sequence_per_document(tmp_path):
    # Our writer stores one sequence per document, so its document index is 0..n.
    write_indexed_dataset(tmp_path / "w", [np.array(s) for s in SEQS], np.uint16)
    idx = (tmp_path / "w.idx").read_bytes()
    assert idx[:9] == b"MMIDIDX\x00\x00"
    assert struct.unpack_from("<QBQQ", idx, 9) == (1, 8, 3, 4)
    assert np.frombuffer(idx, "<i4", 3, 34).tolist() == [3, 1, 2]
    assert np.frombuffer(idx, "<i8", 3, 46).tolist() == [0, 6, 8]
    assert np.frombuffer(idx, "<i8", 4, 70).tolist() == [0, 1, 2, 3]
    assert len(idx) == 70 + 32
    assert (tmp_path / "w.bin").read_bytes() == HAND_BIN


def test_non_contiguous_pointers_are_followed(tmp_path):
    # Sequences stored out of order in .bin: the pointers, not the order, locate them.
    idx = bytearray(HAND_IDX)
    bin_ = b"".join(t.to_bytes(2, "little") for t in SEQS[2]) + b"".join(
        t.to_bytes(2, "little") for t in SEQS[0] + SEQS[1]
    )
    struct.pack_into("<qqq", idx, 46, 4, 10, 0)
    (tmp_path / "nc.idx").write_bytes(bytes(idx))
    (tmp_path / "nc.bin").write_bytes(bin_)
    ds = IndexedDataset(tmp_path / "nc")
    assert not ds.contiguous
    assert [ds[i].tolist() for i in range(3)] == SEQS
    assert ds.flat_tokens().tolist() == [5, 6, 7, 8, 9, 10]


@settings(max_examples=40, deadline=None)
@given(
    docs=st.lists(st.lists(st.integers(0, 127999), max_size=40), max_size=12),
    dtype=st.sampled_from([np.int32, np.int64]),
)
def test_round_trip_llama_vocabulary(tmp_path_factory, docs, dtype):
    prefix = tmp_path_factory.mktemp("rt") / "d"
    write_indexed_dataset(prefix, [np.array(d, dtype=np.int64) for d in docs], dtype)
    ds = IndexedDataset(prefix)
    assert [ds[i].tolist() for i in range(len(ds))] == docs
    assert ds.num_documents == len(docs)
    assert ds.flat_tokens().tolist() == [t for d in docs for t in d]


def test_token_dtype_follows_megatron():
    assert token_dtype_for(256) == np.uint16
    assert token_dtype_for(128256) == np.int32


def test_writer_refuses_to_overwrite(tmp_path):
    write_indexed_dataset(tmp_path / "d", [np.arange(3)], np.uint16)
    before = (tmp_path / "d.bin").read_bytes()
    with pytest.raises(UsageError, match="refusing to overwrite"):
        write_indexed_dataset(tmp_path / "d", [np.arange(5)], np.uint16)
    assert (tmp_path / "d.bin").read_bytes() == before
    write_indexed_dataset(tmp_path / "d", [np.arange(5)], np.uint16, force=True)
    assert IndexedDataset(tmp_path / "d")[0].tolist() == list(range(5))


def _corrupt(tmp_path, idx: bytes, bin_: bytes = HAND_BIN):
    (tmp_path / "c.idx").write_bytes(idx)
    (tmp_path / "c.bin").write_bytes(bin_)
    return tmp_path / "c"


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda b: b"NOTMAGIC!" + b[9:], "not a Megatron indexed-dataset index"),
        (lambda b: b[:9] + (2).to_bytes(8, "little") + b[17:], "index version 2"),
        (lambda b: b[:17] + bytes([9]) + b[18:], "unknown dtype code 9"),
        (lambda b: b[:20], "truncated header"),
        (lambda b: b[:60], "truncated: the header announces 3 sequences"),
        (lambda b: b"", "not a Megatron indexed-dataset index"),
        (lambda b: b[:34] + (-1).to_bytes(4, "little", signed=True) + b[38:], "negative length"),
        (lambda b: b[:70] + (1).to_bytes(8, "little") + b[78:], "document indices must start"),
        (lambda b: b[:54] + (5).to_bytes(8, "little") + b[62:], "not on a 2-byte token boundary"),
    ],
)
def test_corrupt_index_is_an_input_error_naming_the_file(tmp_path, mutate, message):
    prefix = _corrupt(tmp_path, mutate(HAND_IDX))
    with pytest.raises(InputError, match=message) as err:
        IndexedDataset(prefix)
    assert "c.idx" in str(err.value)


def test_truncated_bin_names_the_bin(tmp_path):
    prefix = _corrupt(tmp_path, HAND_IDX, HAND_BIN[:-2])
    with pytest.raises(InputError, match=r"c\.bin: sequence 2 .* outside the 10-byte data file"):
        IndexedDataset(prefix)


def test_missing_half_of_the_pair(tmp_path):
    (tmp_path / "only.idx").write_bytes(HAND_IDX)
    with pytest.raises(InputError, match=r"only\.bin: not found"):
        IndexedDataset(tmp_path / "only")


def test_trailing_partial_token_is_ignored_but_a_cut_sequence_is_not(tmp_path):
    prefix = _corrupt(tmp_path, HAND_IDX, HAND_BIN + b"\x07")  # one stray byte after the data
    assert [IndexedDataset(prefix)[i].tolist() for i in range(3)] == SEQS
    prefix = _corrupt(tmp_path, HAND_IDX, HAND_BIN[:-1])  # last token cut in half
    with pytest.raises(InputError, match="outside the 11-byte data file"):
        IndexedDataset(prefix)


@settings(max_examples=200, deadline=None)
@given(
    pos=st.integers(0, len(HAND_IDX) - 1),
    byte=st.integers(0, 255),
    cut=st.integers(0, len(HAND_IDX)),
    bin_cut=st.integers(0, len(HAND_BIN)),
)
def test_garbled_files_never_escape_as_tracebacks(tmp_path_factory, pos, byte, cut, bin_cut):
    """Any single-byte change, truncation of either file: a valid read or an InputError."""
    idx = bytearray(HAND_IDX)
    idx[pos] = byte
    prefix = _corrupt(tmp_path_factory.mktemp("g"), bytes(idx[:cut]), HAND_BIN[:bin_cut])
    try:
        ds = IndexedDataset(prefix)
        for i in range(len(ds)):
            ds[i].tolist()
        for d in range(ds.num_documents):
            ds.document(d)
        ds.flat_tokens()
    except InputError:
        pass
