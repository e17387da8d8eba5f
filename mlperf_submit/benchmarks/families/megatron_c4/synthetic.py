"""A learnable synthetic "C4" in the real on-disk format, for CPU runs and tests.

Real MLPerf data is C4 tokenised with the Llama 3.1 tokenizer and written as Megatron indexed
datasets. This module writes the same files (``c4-train.en_6_text_document.{bin,idx}`` and
``c4-validation-91205-samples.en_text_document.{bin,idx}``) filled by a token process a small
model can learn, so a ``tiny`` run really converges below its target instead of being told to::

    python -m mlperf_submit.benchmarks.families.megatron_c4.synthetic ROOT --vocab 256 --train-tokens 2000000

The process is a first-order Markov chain over ``vocab_size`` ids with ids 0 (BOS) and 1 (EOS)
reserved. Each token has ``branching`` successors: the first is taken with probability ``p_top``,
the others share the rest uniformly. A document is BOS, a uniformly random start token, a walk
of random length, EOS. Its entropy rate (``TokenProcess.entropy_rate()``, about 0.44 nats per
token for the defaults) is the floor of the achievable validation log-perplexity, while a model
that learned nothing but token frequencies stays near ln(vocab) (5.5 nats at vocab 256): the
``tiny`` target (0.9) lies between the two, so reaching it means the model learned the chain.

The chain is a pure function of ``process_seed``; the train and validation files are two
independent samples of it (different ``sample_seed``), so validation measures generalisation to
unseen walks, not memorisation. ``synthetic.json`` beside the files records all of this (the
directory scheme is ``benchmarks/common/synthetic_data.py``, shared by every benchmark).
"""

from __future__ import annotations

import argparse
import functools
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mlperf_submit.benchmarks.common.synthetic_data import SyntheticData
from mlperf_submit.benchmarks.families.megatron_c4.files import TRAIN_PREFIX, VALIDATION_PREFIX
from mlperf_submit.benchmarks.families.megatron_c4.indexed import (
    token_dtype_for,
    write_indexed_dataset,
)
from mlperf_submit.errors import UsageError

BOS, EOS = 0, 1
FIRST_REGULAR = 2


@dataclass(frozen=True)
class TokenProcess:
    """The Markov chain. Defaults give an entropy rate of ~0.44 nats/token at vocab 256."""

    vocab_size: int = 256
    branching: int = 4
    """Successors per token: 1 likely, ``branching - 1`` unlikely."""
    p_top: float = 0.9
    """Probability of the likely successor."""
    min_doc_len: int = 64
    max_doc_len: int = 512
    """Document lengths (tokens, BOS and EOS included) are uniform in [min, max]."""
    process_seed: int = 20250101
    """Fixes the successor table: the same chain for train and validation."""

    def __post_init__(self) -> None:
        if self.vocab_size < FIRST_REGULAR + self.branching:
            raise UsageError(
                f"synthetic vocab_size {self.vocab_size} is too small for branching "
                f"{self.branching} (ids 0 and 1 are BOS/EOS)"
            )
        if not 0.0 < self.p_top <= 1.0 or self.branching < 1:
            raise UsageError("synthetic p_top must be in (0, 1] and branching >= 1")
        if not 4 <= self.min_doc_len <= self.max_doc_len:
            raise UsageError("synthetic document lengths need 4 <= min_doc_len <= max_doc_len")

    def successors(self) -> np.ndarray:
        """[vocab, branching] successor ids, distinct within a row; BOS/EOS rows are unused.

        Row t is ``perm[t] + offsets`` modulo the regular ids: O(vocab * branching) memory, so
        the 128k Llama vocabulary is as cheap as the tiny one.
        """
        rng = np.random.default_rng(self.process_seed)
        n_regular = self.vocab_size - FIRST_REGULAR
        perm = rng.permutation(n_regular)
        perm = np.concatenate([perm[:FIRST_REGULAR], perm])[: self.vocab_size]
        offsets = rng.choice(n_regular, size=self.branching, replace=False)
        return (perm[:, None] + offsets[None, :]) % n_regular + FIRST_REGULAR

    def successor_probs(self) -> np.ndarray:
        if self.branching == 1:
            return np.ones(1)
        rest = (1.0 - self.p_top) / (self.branching - 1)
        return np.array([self.p_top] + [rest] * (self.branching - 1))

    def entropy_rate(self) -> float:
        """Nats per predicted token of the chain itself, ignoring document boundaries."""
        p = self.successor_probs()
        p = p[p > 0]
        return float(-(p * np.log(p)).sum())

    def expected_floor(self) -> float:
        """Mean cross-entropy of the ideal predictor (knows the chain and its position in the
        document), in nats per token: the floor no model can beat on this data.

        Per document of mean length L: L - 3 chain steps at the entropy rate, the BOS -> start
        step (ln of the regular vocabulary) and the length choice (ln(max - min + 1)); EOS -> BOS
        is certain. A first-order chain needs one token of context, so a training window loses
        nothing at its left edge.
        """
        mean_len = (self.min_doc_len + self.max_doc_len) / 2
        n_regular = self.vocab_size - FIRST_REGULAR
        boundary = math.log(self.max_doc_len - self.min_doc_len + 1) + math.log(n_regular)
        return ((mean_len - 3) * self.entropy_rate() + boundary) / mean_len

    def documents(self, n_tokens: int, sample_seed: int) -> list[np.ndarray]:
        """Whole documents totalling at least ``n_tokens`` tokens, walked in parallel."""
        rng = np.random.default_rng(sample_seed)
        succ = self.successors()
        cum = np.cumsum(self.successor_probs())
        cum[-1] = 1.0
        mean_len = (self.min_doc_len + self.max_doc_len) / 2
        n_docs = max(1, math.ceil(n_tokens / mean_len))
        lengths = rng.integers(self.min_doc_len, self.max_doc_len + 1, size=n_docs)
        while lengths.sum() < n_tokens:  # the draw came out short: top up
            lengths = np.append(lengths, rng.integers(self.min_doc_len, self.max_doc_len + 1))
            n_docs += 1
        walk_len = int(lengths.max()) - 2  # BOS and EOS are not walked
        walks = np.empty((n_docs, walk_len), dtype=np.int64)
        walks[:, 0] = rng.integers(FIRST_REGULAR, self.vocab_size, size=n_docs)
        for t in range(1, walk_len):
            choice = np.searchsorted(cum, rng.random(n_docs), side="right")
            walks[:, t] = succ[walks[:, t - 1], choice]
        docs = []
        for i, n in enumerate(lengths):
            doc = np.empty(int(n), dtype=np.int64)
            doc[0], doc[-1] = BOS, EOS
            doc[1:-1] = walks[i, : n - 2]
            docs.append(doc)
        return docs


@dataclass(frozen=True)
class SyntheticSpec:
    """What to write: the process and how many tokens per split."""

    process: TokenProcess
    train_tokens: int
    validation_tokens: int
    train_sample_seed: int = 1
    validation_sample_seed: int = 2


def write_synthetic_dataset(out_dir: str | os.PathLike, spec: SyntheticSpec) -> dict:
    """Write the train and validation indexed datasets into ``out_dir``; returns the facts for
    the manifest (``SyntheticData`` writes it). Refuses to replace existing files."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dtype = token_dtype_for(spec.process.vocab_size)
    p = spec.process
    write_indexed_dataset(
        out / TRAIN_PREFIX, p.documents(spec.train_tokens, spec.train_sample_seed), dtype
    )
    write_indexed_dataset(
        out / VALIDATION_PREFIX,
        p.documents(spec.validation_tokens, spec.validation_sample_seed),
        dtype,
    )
    return {
        "entropy_rate_nats": p.entropy_rate(),
        "train_prefix": TRAIN_PREFIX,
        "validation_prefix": VALIDATION_PREFIX,
    }


def synthetic_data(root: str | os.PathLike, benchmark: str, spec: SyntheticSpec) -> SyntheticData:
    """The dataset of ``spec`` under a ``--synthetic`` root (see common/synthetic_data.py)."""
    return SyntheticData(
        root,
        benchmark,
        spec,
        writer=functools.partial(write_synthetic_dataset, spec=spec),
        generator=__name__,
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("root", help="the --synthetic root; the dataset goes in a sub-directory")
    ap.add_argument("--benchmark", default="llama31_8b", help="names the sub-directory")
    ap.add_argument("--vocab", type=int, default=256)
    ap.add_argument("--train-tokens", type=int, default=2_000_000)
    ap.add_argument("--validation-tokens", type=int, default=200_000)
    args = ap.parse_args(argv)
    try:
        spec = SyntheticSpec(
            TokenProcess(vocab_size=args.vocab), args.train_tokens, args.validation_tokens
        )
        out = synthetic_data(args.root, args.benchmark, spec).ensure()
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    print(f"wrote {out} (entropy rate {spec.process.entropy_rate():.3f} nats/token)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
