"""Training and validation samples cut from indexed datasets, sharded by rank, seeded order.

As in Megatron's ``GPTDataset``, the documents of the training files are one token stream and
sample ``i`` is the window ``stream[i*L : i*L + L + 1]`` (L = sequence length): the model reads
the first L tokens and predicts the last L. The order of samples in epoch ``e`` is a
pseudo-random permutation keyed by (seed, e) that costs O(1) memory (a Feistel network with
cycle walking), so a 10^9-sample C4 stream needs no shuffle index on disk. Global step ``s``
takes samples ``[s*G, (s+1)*G)`` of that order (G = global batch) and rank ``r`` its slice
``[r*G/W, (r+1)*G/W)``; every rank computes the same order from the seed, nothing is broadcast.

Validation uses the first ``eval_samples`` windows of the validation file in file order (the
reference does not shuffle it), split across ranks so each sample is evaluated exactly once.

    splits = C4Splits(train_prefixes, val_prefix, seq_len=128, vocab_size=256, global_batch=16,
                       eval_samples=64, eval_batch=16, seed=1, rank=0, world=2)
    for batch in splits.train_epoch(0): ...       # int64 [global_batch / world, seq_len + 1]

One batch per optimizer step and rank; the common loop splits it into
``loop.gradient_accumulation_steps`` micro-batches, so the micro batch size is
``global_batch / world / accumulation``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch

from mlperf_submit.benchmarks.common.interface import DataSplits
from mlperf_submit.benchmarks.families.megatron_c4.indexed import IndexedDataset
from mlperf_submit.errors import InputError, UsageError


class FeistelPermutation:
    """A seeded bijection of [0, n) evaluated on arrays, without materialising it."""

    ROUNDS = 4

    def __init__(self, n: int, key: Sequence[int]) -> None:
        if n < 1:
            raise UsageError("a permutation needs n >= 1")
        self.n = n
        bits = max(2, int(n - 1).bit_length())
        bits += bits % 2  # two equal halves
        self.half = bits // 2
        self.mask = (1 << self.half) - 1
        rng = np.random.default_rng(list(key))
        self.keys = rng.integers(0, 1 << 31, size=self.ROUNDS, dtype=np.uint64)

    def _round(self, x: np.ndarray, k: np.uint64) -> np.ndarray:
        # A cheap integer mix (splitmix-style); any keyed function keeps the network bijective.
        h = (x ^ k) * np.uint64(0x9E3779B97F4A7C15)
        h ^= h >> np.uint64(29)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(32)
        return h & np.uint64(self.mask)

    def _encrypt(self, x: np.ndarray) -> np.ndarray:
        half, mask = np.uint64(self.half), np.uint64(self.mask)
        left, right = x >> half, x & mask
        for k in self.keys:
            left, right = right, left ^ self._round(right, k)
        return (left << half) | right

    def __call__(self, idx: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            x = self._encrypt(np.asarray(idx, dtype=np.uint64))
            # Cycle walking: the network permutes [0, 2^bits); re-encrypt until inside [0, n).
            out = x >= self.n
            while out.any():
                x[out] = self._encrypt(x[out])
                out = x >= self.n
        return x.astype(np.int64)


class TokenWindows:
    """Samples of ``seq_len + 1`` tokens over the concatenated documents of some datasets."""

    def __init__(self, datasets: Sequence[IndexedDataset], seq_len: int) -> None:
        if not datasets:
            raise UsageError("no dataset files given")
        self.datasets = list(datasets)
        self.seq_len = seq_len
        self._flats = [ds.flat_tokens() for ds in self.datasets]
        sizes = np.array([len(f) for f in self._flats], dtype=np.int64)
        self._starts = np.concatenate([[0], np.cumsum(sizes)])
        self.num_tokens = int(self._starts[-1])
        # The last window needs one token beyond its L inputs (the final label).
        self.num_samples = max(0, (self.num_tokens - 1) // seq_len)

    def file_of(self, token: int) -> str:
        f = int(np.searchsorted(self._starts, token, side="right")) - 1
        return str(self.datasets[min(f, len(self.datasets) - 1)].bin_path)

    def window(self, i: int) -> np.ndarray:
        lo = i * self.seq_len
        hi = lo + self.seq_len + 1
        f = int(np.searchsorted(self._starts, lo, side="right")) - 1
        local = lo - int(self._starts[f])
        flat = self._flats[f]
        if local + (hi - lo) <= len(flat):
            return flat[local : local + hi - lo]
        pieces, need = [flat[local:]], hi - lo - (len(flat) - local)
        while need > 0:  # the window spans a file boundary
            f += 1
            pieces.append(self._flats[f][:need])
            need -= len(pieces[-1])
        return np.concatenate(pieces)

    def batch(self, indices: np.ndarray, vocab_size: int) -> torch.Tensor:
        rows = np.stack([self.window(int(i)) for i in indices]).astype(np.int64)
        top = int(rows.max(initial=0))
        if top >= vocab_size or int(rows.min(initial=0)) < 0:
            bad = int(np.argmax((rows >= vocab_size) | (rows < 0)).item() // rows.shape[1])
            raise InputError(
                f"{self.file_of(int(indices[bad]) * self.seq_len)}: sample {int(indices[bad])} "
                f"holds token id {top if top >= vocab_size else int(rows.min())} outside the "
                f"model's vocabulary [0, {vocab_size}): data tokenised for another model?"
            )
        return torch.from_numpy(rows)


class C4Splits(DataSplits):
    """The train stream and the fixed validation set of one rank."""

    def __init__(
        self,
        train_prefixes: Sequence[str],
        validation_prefix: str,
        *,
        seq_len: int,
        vocab_size: int,
        global_batch: int,
        eval_samples: int,
        eval_batch: int,
        seed: int,
        rank: int = 0,
        world: int = 1,
    ) -> None:
        if global_batch % world:
            raise UsageError(
                f"global batch {global_batch} does not split evenly over {world} ranks: use a "
                f"multiple of {world}"
            )
        if eval_samples % world:
            # Equal shares: every rank runs the same number of forward passes (FSDP2 gathers
            # weights collectively inside each one).
            raise UsageError(
                f"eval_samples {eval_samples} does not split evenly over {world} ranks"
            )
        self.vocab_size, self.seed, self.rank, self.world = vocab_size, seed, rank, world
        self.global_batch = global_batch
        self.train = TokenWindows([IndexedDataset(p) for p in train_prefixes], seq_len)
        self.validation = TokenWindows([IndexedDataset(validation_prefix)], seq_len)
        if self.train.num_samples < global_batch:
            raise InputError(
                f"{train_prefixes[0]}: {self.train.num_tokens} training tokens make "
                f"{self.train.num_samples} samples of {seq_len + 1} tokens, fewer than one global "
                f"batch ({global_batch})"
            )
        if self.validation.num_samples < eval_samples:
            raise InputError(
                f"{validation_prefix}: {self.validation.num_tokens} tokens make "
                f"{self.validation.num_samples} validation samples of {seq_len + 1} tokens; "
                f"the benchmark evaluates {eval_samples}"
            )
        self.train_samples = self.train.num_samples
        self.eval_samples = eval_samples
        self.eval_batch = eval_batch
        self.steps_per_epoch = self.train.num_samples // global_batch

    def train_epoch(self, epoch: int) -> Iterator[torch.Tensor]:
        perm = FeistelPermutation(self.train.num_samples, (self.seed, epoch))
        local = self.global_batch // self.world
        for step in range(self.steps_per_epoch):
            first = step * self.global_batch + self.rank * local
            yield self.train.batch(perm(np.arange(first, first + local)), self.vocab_size)

    def eval_batches(self) -> Iterator[torch.Tensor]:
        mine = np.array_split(np.arange(self.eval_samples), self.world)[self.rank]
        for m in range(0, len(mine), self.eval_batch):
            yield self.validation.batch(mine[m : m + self.eval_batch], self.vocab_size)
