"""The Megatron / NeMo indexed dataset (``<prefix>.bin`` + ``<prefix>.idx``), read and written.

This is the on-disk format of the MLPerf C4 preprocessing (``c4-train.en_6_text_document.{bin,idx}``,
``c4-validation-91205-samples.en_text_document.{bin,idx}``). ``.bin`` holds the token ids of every
sequence back to back; ``.idx`` is, all little-endian::

    b"MMIDIDX\\x00\\x00"          9 bytes, magic
    version                     uint64, always 1
    dtype code                  uint8: 1 uint8, 2 int8, 3 int16, 4 int32, 5 int64,
                                       6 float64, 7 float32, 8 uint16
    sequence_count              uint64  (S)
    document_count              uint64  (D = number of documents + 1)
    sequence_lengths            int32[S]   tokens per sequence
    sequence_pointers           int64[S]   byte offset of each sequence in .bin
    document_indices            int64[D]   0, then the sequence index that ends each document

(Megatron-LM ``megatron/core/datasets/indexed_dataset.py``, ``_IndexWriter`` / ``_IndexReader``;
the optional multimodal ``sequence_modes`` tail is not used by the LLM benchmarks.)

Usage::

    write_indexed_dataset("/data/val_text_document", docs, dtype=np.uint16)   # refuses to overwrite
    ds = IndexedDataset("/data/val_text_document")                            # memory-mapped
    len(ds), ds[0], ds.num_tokens, ds.document_indices

Every structural problem (missing file, wrong magic or version, unknown dtype, truncated index,
pointers outside ``.bin``) raises :class:`InputError` naming the file, never a numpy traceback.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from mlperf_submit.errors import InputError, UsageError

MAGIC = b"MMIDIDX\x00\x00"
VERSION = 1
HEADER_BYTES = len(MAGIC) + 8 + 1 + 8 + 8  # = 34
DTYPE_CODES: dict[int, np.dtype] = {
    1: np.dtype(np.uint8),
    2: np.dtype(np.int8),
    3: np.dtype(np.int16),
    4: np.dtype(np.int32),
    5: np.dtype(np.int64),
    6: np.dtype(np.float64),
    7: np.dtype(np.float32),
    8: np.dtype(np.uint16),
}
CODE_OF_DTYPE = {dt: code for code, dt in DTYPE_CODES.items()}


def index_path(prefix: str | os.PathLike) -> Path:
    return Path(f"{os.fspath(prefix)}.idx")


def bin_path(prefix: str | os.PathLike) -> Path:
    return Path(f"{os.fspath(prefix)}.bin")


def token_dtype_for(vocab_size: int) -> np.dtype:
    """Megatron's choice: uint16 while the ids fit (vocab < 65500), else int32 (Llama 3: int32)."""
    return np.dtype(np.uint16 if vocab_size < 65500 else np.int32)


def write_indexed_dataset(
    prefix: str | os.PathLike,
    documents: Iterable[np.ndarray],
    dtype: np.dtype | type,
    *,
    force: bool = False,
) -> tuple[Path, Path]:
    """Write one sequence per document (what Megatron's ``preprocess_data.py`` does without
    sentence splitting). Refuses to replace existing files unless ``force``."""
    dtype = np.dtype(dtype)
    if dtype not in CODE_OF_DTYPE:
        raise UsageError(f"dtype {dtype} has no indexed-dataset code: use one of {CODE_OF_DTYPE}")
    idx, binf = index_path(prefix), bin_path(prefix)
    for p in (idx, binf):
        if p.exists() and not force:
            raise UsageError(f"{p} exists: refusing to overwrite it (pass force / --force)")
    idx.parent.mkdir(parents=True, exist_ok=True)
    lengths: list[int] = []
    # Write to temp names first so a crash never leaves a .bin without its matching .idx.
    tmp_bin, tmp_idx = binf.with_name(binf.name + ".tmp"), idx.with_name(idx.name + ".tmp")
    with open(tmp_bin, "wb") as out:
        for doc in documents:
            arr = np.asarray(doc)
            if arr.ndim != 1:
                raise UsageError(f"a document must be a 1-D token array, got shape {arr.shape}")
            out.write(arr.astype(dtype, copy=False).tobytes(order="C"))
            lengths.append(int(arr.shape[0]))
    sizes = np.asarray(lengths, dtype=np.int32)
    pointers = np.zeros(len(lengths), dtype=np.int64)
    if len(lengths) > 1:
        pointers[1:] = np.cumsum(sizes[:-1].astype(np.int64)) * dtype.itemsize
    doc_index = np.arange(len(lengths) + 1, dtype=np.int64)
    with open(tmp_idx, "wb") as out:
        out.write(MAGIC)
        out.write(struct.pack("<Q", VERSION))
        out.write(struct.pack("<B", CODE_OF_DTYPE[dtype]))
        out.write(struct.pack("<Q", len(lengths)))
        out.write(struct.pack("<Q", len(doc_index)))
        out.write(sizes.tobytes(order="C"))
        out.write(pointers.tobytes(order="C"))
        out.write(doc_index.tobytes(order="C"))
    os.replace(tmp_bin, binf)
    os.replace(tmp_idx, idx)
    return binf, idx


class IndexedDataset:
    """Memory-mapped read access to a ``.bin``/``.idx`` pair; ``ds[i]`` is sequence i (a view)."""

    def __init__(self, prefix: str | os.PathLike) -> None:
        self.prefix = os.fspath(prefix)
        self.idx_path, self.bin_path = index_path(prefix), bin_path(prefix)
        for p in (self.idx_path, self.bin_path):
            if not p.is_file():
                raise InputError(
                    f"{p}: not found (an indexed dataset needs both {self.idx_path.name} and "
                    f"{self.bin_path.name}; pass the common prefix without the extension)"
                )
        self._read_index()
        self._tokens = self._map_bin()

    def _read_index(self) -> None:
        path = self.idx_path
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(HEADER_BYTES)
        if len(head) < len(MAGIC) or head[: len(MAGIC)] != MAGIC:
            raise InputError(
                f"{path}: not a Megatron indexed-dataset index (expected magic {MAGIC!r} at byte "
                f"0, found {head[: len(MAGIC)]!r})"
            )
        if len(head) < HEADER_BYTES:
            raise InputError(f"{path}: truncated header ({len(head)} of {HEADER_BYTES} bytes)")
        (version,) = struct.unpack_from("<Q", head, 9)
        if version != VERSION:
            raise InputError(f"{path}: index version {version} at byte 9, only {VERSION} is known")
        (code,) = struct.unpack_from("<B", head, 17)
        if code not in DTYPE_CODES:
            raise InputError(
                f"{path}: unknown dtype code {code} at byte 17 (known: {sorted(DTYPE_CODES)})"
            )
        self.dtype = DTYPE_CODES[code]
        n_seq, n_doc = struct.unpack_from("<QQ", head, 18)
        need = HEADER_BYTES + n_seq * (4 + 8) + n_doc * 8
        if size < need:
            raise InputError(
                f"{path}: truncated: the header announces {n_seq} sequences and {n_doc} document "
                f"indices ({need} bytes) but the file has {size} bytes"
            )
        mm = np.memmap(path, dtype=np.uint8, mode="r")
        off = HEADER_BYTES
        self.sequence_lengths = np.frombuffer(mm, dtype="<i4", count=n_seq, offset=off)
        off += 4 * n_seq
        self.sequence_pointers = np.frombuffer(mm, dtype="<i8", count=n_seq, offset=off)
        off += 8 * n_seq
        self.document_indices = np.frombuffer(mm, dtype="<i8", count=n_doc, offset=off)
        self._check_index(path, n_seq)

    def _check_index(self, path: Path, n_seq: int) -> None:
        if (self.sequence_lengths < 0).any():
            bad = int(np.argmax(self.sequence_lengths < 0))
            raise InputError(f"{path}: sequence {bad} has negative length")
        doc = self.document_indices
        if len(doc) and (doc[0] != 0 or (np.diff(doc) < 0).any() or doc[-1] > n_seq):
            raise InputError(
                f"{path}: document indices must start at 0, never decrease and end at most at the "
                f"sequence count {n_seq} (found first {doc[0]}, last {doc[-1]})"
            )
        bin_size = self.bin_path.stat().st_size
        ends = self.sequence_pointers + self.sequence_lengths.astype(np.int64) * self.dtype.itemsize
        if n_seq and ((self.sequence_pointers < 0).any() or ends.max() > bin_size):
            bad = int(np.argmax((self.sequence_pointers < 0) | (ends > bin_size)))
            raise InputError(
                f"{self.bin_path}: sequence {bad} (bytes {self.sequence_pointers[bad]}.."
                f"{ends[bad]}) lies outside the {bin_size}-byte data file: truncated .bin, or an "
                f".idx that belongs to another dataset"
            )
        if n_seq and (self.sequence_pointers % self.dtype.itemsize).any():
            bad = int(np.argmax(self.sequence_pointers % self.dtype.itemsize != 0))
            raise InputError(
                f"{path}: sequence {bad} starts at byte {self.sequence_pointers[bad]}, not on a "
                f"{self.dtype.itemsize}-byte token boundary"
            )
        # Contiguous sequences (what every writer produces) let readers slice one flat array.
        expected = np.zeros(n_seq, dtype=np.int64)
        if n_seq > 1:
            expected[1:] = np.cumsum(self.sequence_lengths[:-1].astype(np.int64))
        self.contiguous = bool(
            n_seq == 0 or np.array_equal(self.sequence_pointers, expected * self.dtype.itemsize)
        )

    def _map_bin(self) -> np.ndarray:
        # Whole tokens only: a trailing partial token (a torn write) is outside every sequence,
        # which _check_index has verified, so it is simply not mapped.
        count = self.bin_path.stat().st_size // self.dtype.itemsize
        if count == 0:
            return np.zeros(0, dtype=self.dtype)
        return np.memmap(self.bin_path, dtype=self.dtype, mode="r", shape=(count,))

    def __len__(self) -> int:
        return len(self.sequence_lengths)

    def __getitem__(self, i: int) -> np.ndarray:
        if not -len(self) <= i < len(self):
            raise IndexError(f"sequence {i} out of range for {len(self)} sequences")
        start = int(self.sequence_pointers[i]) // self.dtype.itemsize
        return self._tokens[start : start + int(self.sequence_lengths[i])]

    @property
    def num_documents(self) -> int:
        return max(len(self.document_indices) - 1, 0)

    @property
    def num_tokens(self) -> int:
        return int(self.sequence_lengths.sum(dtype=np.int64))

    def flat_tokens(self) -> np.ndarray:
        """All tokens of all sequences in order, as one array (a view when contiguous)."""
        if self.contiguous:
            return self._tokens[: self.num_tokens]
        return np.concatenate([self[i] for i in range(len(self))]) if len(self) else self._tokens

    def document(self, d: int) -> np.ndarray:
        """Document d: its sequences concatenated."""
        lo, hi = int(self.document_indices[d]), int(self.document_indices[d + 1])
        return np.concatenate([self[i] for i in range(lo, hi)]) if hi > lo else self._tokens[:0]
