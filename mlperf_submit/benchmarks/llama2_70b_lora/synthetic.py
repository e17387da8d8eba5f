"""A learnable synthetic "GovReport" in the reference's parquet format, for CPU runs and tests.

The real data is SCROLLS GovReport, each sample written as ``### Summarize the following
text:\\n {report}\\n ### Summary:\\n {summary}</s>``, tokenised with the Llama 2 tokenizer and
packed (concatenated, cut into 8,192-token rows, the remainder dropped) into
``train-00000-of-00001.parquet`` and ``validation-00000-of-00001.parquet`` with the columns
``input_ids``, ``attention_mask`` (all ones: packed rows have no padding) and ``labels``
(training: the input ids, every token is learned; validation: -100 on the prompt and on each
sample's final ``</s>``, so the evaluation loss is the loss of the summaries alone).

This module writes the same files over a small token language that a tiny model can learn and
in which fine-tuning has something to do:

* two first-order Markov chains, A and B, over the same regular tokens (each token has
  ``branching`` successors, the first taken with probability ``p_top``);
* *pretraining* text (``synthetic_base.py`` pretrains the base model on it; never part of a
  run): documents of several segments, each opened by a tag, TEXT (continue in chain A) or ALT
  (continue in chain B), so the base model learns both chains and to follow the latest tag;
* *fine-tuning* samples: ``<s> TEXT report(chain A) SUMMARY summary(chain B) </s>``: the
  SUMMARY marker (the "### Summary:" of the prompt) never occurs in pretraining, so the base
  model keeps writing chain A after it and its evaluation loss on the summaries is high; the
  fine-tuning has to teach the frozen model that SUMMARY switches to chain B, a low-rank change
  of the attention projections, which is what LoRA can learn.

The summary's first token is always ``SUMMARY_START`` (as "### Summary:\\n" is always followed
by the same token), so a model that has learned the task reaches ``summary_floor()`` nats per
summary token, while the base model stays several nats above it.
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mlperf_submit.benchmarks.common.synthetic_data import SyntheticData
from mlperf_submit.errors import UsageError

BOS, EOS, TEXT, ALT, SUMMARY = 0, 1, 2, 3, 4
"""Special ids: ``<s>``, ``</s>``, the report prompt (and pretraining's chain-A tag), the
pretraining-only chain-B tag, the summary prompt (fine-tuning only)."""
FIRST_REGULAR = 5
SUMMARY_START = FIRST_REGULAR
IGNORE = -100
"""The label of a position the loss skips (the reference's, and PyTorch's, ignore_index)."""
TRAIN_FILE = "train-00000-of-00001.parquet"
VALIDATION_FILE = "validation-00000-of-00001.parquet"


@dataclass(frozen=True)
class SyntheticTask:
    """The token language (see the module docstring); the same for pretraining and the data."""

    vocab_size: int = 64
    branching: int = 3
    """Successors per regular token in each chain: 1 likely, ``branching - 1`` unlikely."""
    p_top: float = 0.9
    """Probability of the likely successor."""
    report_len: tuple[int, int] = (16, 40)
    """Report (chain A) tokens per fine-tuning sample, uniform in [min, max]."""
    summary_len: tuple[int, int] = (8, 16)
    """Summary tokens per fine-tuning sample (SUMMARY_START included)."""
    segment_len: tuple[int, int] = (8, 32)
    """Tokens per tagged segment of a pretraining document."""
    segments: tuple[int, int] = (2, 5)
    """Segments per pretraining document."""
    process_seed: int = 20240614
    """Fixes both chains: pretraining, train and validation data speak the same language."""

    def __post_init__(self) -> None:
        if self.vocab_size < FIRST_REGULAR + 2 * self.branching:
            raise UsageError(
                f"synthetic vocab_size {self.vocab_size} is too small for branching "
                f"{self.branching} (ids 0-{FIRST_REGULAR - 1} are special)"
            )
        if not 0.0 < self.p_top <= 1.0 or self.branching < 1:
            raise UsageError("synthetic p_top must be in (0, 1] and branching >= 1")
        for name in ("report_len", "summary_len", "segment_len", "segments"):
            lo, hi = getattr(self, name)
            if not 1 <= lo <= hi:
                raise UsageError(f"synthetic {name} needs 1 <= min <= max, got {(lo, hi)}")

    @functools.cached_property
    def chains(self) -> tuple[np.ndarray, np.ndarray]:
        """Successor tables of chains A and B: [vocab, branching] ids (special rows unused)."""
        rng = np.random.default_rng(self.process_seed)
        n = self.vocab_size - FIRST_REGULAR
        out = []
        for _ in range(2):
            table = np.stack([rng.choice(n, size=self.branching, replace=False) for _ in range(n)])
            full = np.zeros((self.vocab_size, self.branching), dtype=np.int64)
            full[FIRST_REGULAR:] = table + FIRST_REGULAR
            out.append(full)
        return out[0], out[1]

    def probs(self) -> np.ndarray:
        if self.branching == 1:
            return np.ones(1)
        rest = (1.0 - self.p_top) / (self.branching - 1)
        return np.array([self.p_top] + [rest] * (self.branching - 1))

    def entropy_rate(self) -> float:
        """Nats per step of either chain."""
        p = self.probs()
        p = p[p > 0]
        return float(-(p * np.log(p)).sum())

    def summary_floor(self) -> float:
        """The evaluation loss of a model that knows the task: SUMMARY_START is certain, every
        later summary token costs the entropy rate; averaged per sample over its summary tokens
        (as the metric averages), for the mean summary length."""
        lo, hi = self.summary_len
        lengths = np.arange(lo, hi + 1)
        return float(np.mean((lengths - 1) / lengths) * self.entropy_rate())

    def _walk(self, rng, starts: np.ndarray, steps: int, table: np.ndarray) -> np.ndarray:
        """[len(starts), steps] walks of a chain from the given start tokens, in parallel."""
        cum = np.cumsum(self.probs())
        cum[-1] = 1.0
        out = np.empty((len(starts), steps), dtype=np.int64)
        out[:, 0] = starts
        for t in range(1, steps):
            choice = np.searchsorted(cum, rng.random(len(starts)), side="right")
            out[:, t] = table[out[:, t - 1], choice]
        return out

    def _random_regular(self, rng, n: int) -> np.ndarray:
        return rng.integers(FIRST_REGULAR, self.vocab_size, size=n)

    def pretraining_stream(self, n_tokens: int, seed: int) -> np.ndarray:
        """Concatenated pretraining documents: ``<s> (tag walk)+ </s>``, at least n_tokens."""
        rng = np.random.default_rng(seed)
        a, b = self.chains
        parts: list[np.ndarray] = []
        total = 0
        while total < n_tokens:
            n_seg = int(rng.integers(self.segments[0], self.segments[1] + 1))
            doc = [np.array([BOS])]
            for _ in range(n_seg):
                alt = bool(rng.random() < 0.5)
                steps = int(rng.integers(self.segment_len[0], self.segment_len[1] + 1))
                walk = self._walk(rng, self._random_regular(rng, 1), steps, b if alt else a)
                doc += [np.array([ALT if alt else TEXT]), walk[0]]
            doc.append(np.array([EOS]))
            parts.append(np.concatenate(doc))
            total += len(parts[-1])
        return np.concatenate(parts)

    def finetune_samples(self, n: int, seed: int) -> list[tuple[np.ndarray, int]]:
        """``n`` samples ``<s> TEXT report SUMMARY summary </s>`` with their prompt length
        (the tokens up to and including SUMMARY, which the validation labels mask)."""
        rng = np.random.default_rng(seed)
        a, b = self.chains
        r_len = rng.integers(self.report_len[0], self.report_len[1] + 1, size=n)
        s_len = rng.integers(self.summary_len[0], self.summary_len[1] + 1, size=n)
        reports = self._walk(rng, self._random_regular(rng, n), int(r_len.max()), a)
        summaries = self._walk(rng, np.full(n, SUMMARY_START), int(s_len.max()), b)
        out = []
        for i in range(n):
            prompt = np.concatenate([[BOS, TEXT], reports[i, : r_len[i]], [SUMMARY]])
            tokens = np.concatenate([prompt, summaries[i, : s_len[i]], [EOS]])
            out.append((tokens.astype(np.int64), len(prompt)))
        return out


def pack(
    samples: list[tuple[np.ndarray, int]], seq_len: int, *, mask_prompt: bool
) -> tuple[np.ndarray, np.ndarray]:
    """The reference's ``group_texts``: concatenate, cut into rows of ``seq_len``, drop the
    remainder. Labels are the input ids, or (``mask_prompt``, the validation set) -100 on
    each sample's prompt and final ``</s>``."""
    ids = np.concatenate([t for t, _ in samples])
    labels = []
    for tokens, prompt in samples:
        lab = tokens.copy()
        if mask_prompt:
            lab[:prompt] = IGNORE
            lab[-1] = IGNORE
        labels.append(lab)
    lab = np.concatenate(labels)
    rows = len(ids) // seq_len
    keep = rows * seq_len
    return ids[:keep].reshape(rows, seq_len), lab[:keep].reshape(rows, seq_len)


def samples_for_rows(task: SyntheticTask, rows: int, seq_len: int) -> int:
    """Fine-tuning samples whose packing certainly fills ``rows`` rows of ``seq_len``."""
    shortest = 2 + task.report_len[0] + 1 + task.summary_len[0] + 1
    return math.ceil(rows * seq_len / shortest) + 1


def write_parquet(path: Path, input_ids: np.ndarray, labels: np.ndarray) -> None:
    """One packed split as the reference ships it: list<int64> columns, one row per sequence."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    def column(rows: np.ndarray) -> pa.Array:
        n, width = rows.shape
        offsets = pa.array(np.arange(0, (n + 1) * width, width, dtype=np.int32))
        return pa.ListArray.from_arrays(offsets, pa.array(rows.reshape(-1).astype(np.int64)))

    table = pa.table(
        {
            "input_ids": column(input_ids),
            "attention_mask": column(np.ones_like(input_ids)),
            "labels": column(labels),
        }
    )
    pq.write_table(table, str(path))


@dataclass(frozen=True)
class DatasetSpec:
    """What ``--synthetic`` writes: the task, the packed length, rows per split."""

    task: SyntheticTask
    seq_len: int
    train_rows: int
    validation_rows: int
    train_seed: int = 1
    validation_seed: int = 2


def write_dataset(out_dir: str | os.PathLike, spec: DatasetSpec) -> dict:
    """Both parquet files into ``out_dir``; returns the facts for ``synthetic.json``."""
    out = Path(out_dir)
    t = spec.task
    for name, rows, seed, masked in (
        (TRAIN_FILE, spec.train_rows, spec.train_seed, False),
        (VALIDATION_FILE, spec.validation_rows, spec.validation_seed, True),
    ):
        samples = t.finetune_samples(samples_for_rows(t, rows, spec.seq_len), seed)
        ids, labels = pack(samples, spec.seq_len, mask_prompt=masked)
        write_parquet(out / name, ids[:rows], labels[:rows])
    return {
        "summary_floor_nats": t.summary_floor(),
        "entropy_rate_nats": t.entropy_rate(),
        "files": [TRAIN_FILE, VALIDATION_FILE],
    }


def dataset(root: str | os.PathLike, benchmark: str, spec: DatasetSpec) -> SyntheticData:
    """The packed parquet dataset of ``spec`` under a ``--synthetic`` root."""
    return SyntheticData(
        root,
        benchmark,
        spec,
        writer=functools.partial(write_dataset, spec=spec),
        generator=__name__,
    )
