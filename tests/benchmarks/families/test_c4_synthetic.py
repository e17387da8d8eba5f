"""The synthetic token process: deterministic, in the real format, and honestly learnable.

"Honestly learnable" is checked on generated data, not asserted from the formula: the true
chain's cross-entropy on a validation sample is below the tiny target, and a model that knows
only the token frequencies (unigram) stays far above 1.0 (the open rule's bound), so reaching the
target requires learning the transitions.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from mlperf_submit.benchmarks.common.synthetic_data import MANIFEST
from mlperf_submit.benchmarks.families.megatron_c4.files import TRAIN_PREFIX, VALIDATION_PREFIX
from mlperf_submit.benchmarks.families.megatron_c4.indexed import IndexedDataset
from mlperf_submit.benchmarks.families.megatron_c4.synthetic import (
    BOS,
    EOS,
    FIRST_REGULAR,
    SyntheticSpec,
    TokenProcess,
    main,
    synthetic_data,
)
from mlperf_submit.benchmarks.llama31_8b.config import tiny
from mlperf_submit.errors import UsageError


def test_successor_table_is_seeded_and_distinct_per_row():
    p = TokenProcess()
    a, b = p.successors(), p.successors()
    assert np.array_equal(a, b)
    assert a.shape == (256, 4)
    assert (a >= FIRST_REGULAR).all() and (a < 256).all()
    assert all(len(set(row)) == 4 for row in a.tolist())
    other = TokenProcess(process_seed=7).successors()
    assert not np.array_equal(a, other)
    # The 128k Llama vocabulary costs O(vocab * branching), not O(vocab^2).
    assert TokenProcess(vocab_size=128256).successors().shape == (128256, 4)


def test_documents_follow_the_chain():
    p = TokenProcess(min_doc_len=8, max_doc_len=40)
    succ = p.successors()
    docs = p.documents(5000, sample_seed=3)
    assert sum(map(len, docs)) >= 5000
    for doc in docs:
        assert doc[0] == BOS and doc[-1] == EOS
        assert 8 <= len(doc) <= 40
        walk = doc[1:-1]
        assert ((walk >= FIRST_REGULAR) & (walk < 256)).all()
        for prev, nxt in zip(walk[:-1], walk[1:]):
            assert nxt in succ[prev]
    again = p.documents(5000, sample_seed=3)
    assert all(np.array_equal(x, y) for x, y in zip(docs, again))


def test_transition_frequencies_match_p_top():
    p = TokenProcess()
    succ = p.successors()
    walk = np.concatenate([d[1:-1] for d in p.documents(200_000, sample_seed=5)])
    top = succ[walk[:-1], 0] == walk[1:]
    # Steps across document boundaries are excluded by construction (walks only).
    assert abs(top.mean() - p.p_top) < 0.01


def _cross_entropies(p: TokenProcess, tokens: np.ndarray) -> tuple[float, float]:
    """(true-chain cross-entropy, unigram cross-entropy) in nats per predicted token."""
    succ, probs = p.successors(), p.successor_probs()
    prev, nxt = tokens[:-1], tokens[1:]
    nll = np.empty(len(nxt))
    regular = (prev >= FIRST_REGULAR) & (nxt != EOS) & (nxt != BOS)
    hit = succ[prev] == nxt[:, None]
    nll[regular] = -np.log(np.where(hit[regular], probs, 0).sum(axis=1))
    # BOS -> start token: uniform over the regular ids; EOS -> BOS: certain; walk -> EOS: the
    # length choice, charged at its worst case (uniform hazard ignored).
    nll[prev == BOS] = np.log(p.vocab_size - FIRST_REGULAR)
    nll[prev == EOS] = 0.0
    nll[nxt == EOS] = np.log(p.max_doc_len - p.min_doc_len + 1)
    freq = np.bincount(tokens, minlength=p.vocab_size) / len(tokens)
    unigram = -np.log(freq[nxt]).mean()
    return float(nll.mean()), float(unigram)


def test_tiny_target_needs_learning_and_is_reachable():
    cfg = tiny()
    p = TokenProcess(vocab_size=cfg.model.vocab_size)
    tokens = np.concatenate(p.documents(300_000, sample_seed=2))
    chain, unigram = _cross_entropies(p, tokens)
    assert chain == pytest.approx(p.expected_floor(), abs=0.02)
    assert chain < cfg.target - 0.3  # reachable with room to spare
    assert unigram > 4.0  # frequencies alone are nowhere near the open bound of 1.0
    assert p.entropy_rate() == pytest.approx(-(0.9 * np.log(0.9) + 0.1 * np.log(0.1 / 3)))


def test_write_synthetic_dataset_real_format_and_manifest(tmp_path):
    spec = SyntheticSpec(TokenProcess(), train_tokens=20_000, validation_tokens=5_000)
    data = synthetic_data(tmp_path / "syn", "llama31_8b", spec)
    out = data.ensure()
    assert out.parent == tmp_path / "syn" and out.name.startswith("llama31_8b-synthetic-")
    train = IndexedDataset(out / TRAIN_PREFIX)
    val = IndexedDataset(out / VALIDATION_PREFIX)
    assert train.dtype == np.uint16 and train.num_tokens >= 20_000
    assert val.num_tokens >= 5_000
    assert train.num_documents == len(train)
    info = json.loads((out / MANIFEST).read_text())
    assert info["synthetic"] is True and info["benchmark"] == "llama31_8b"
    assert info["spec"]["process"]["vocab_size"] == 256
    assert info["entropy_rate_nats"] == pytest.approx(spec.process.entropy_rate())
    # Train and validation are independent samples of the same chain.
    assert not np.array_equal(train[0][:50], val[0][:50])
    # A second prepare reuses the files: nothing is rewritten.
    before = (out / f"{TRAIN_PREFIX}.bin").stat().st_mtime_ns
    assert data.ensure() == out and (out / f"{TRAIN_PREFIX}.bin").stat().st_mtime_ns == before


def test_cli_writes_and_refuses(tmp_path, capsys):
    assert main([str(tmp_path / "c"), "--train-tokens", "3000", "--validation-tokens", "1000"]) == 0
    assert "entropy rate 0.435" in capsys.readouterr().out
    (tmp_path / "f").write_text("a file, not a root")
    assert main([str(tmp_path / "f"), "--train-tokens", "3000"]) == 2
    assert "not a directory" in capsys.readouterr().err


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"vocab_size": 4}, "too small"),
        ({"p_top": 0.0}, "p_top"),
        ({"min_doc_len": 2}, "document lengths"),
        ({"min_doc_len": 50, "max_doc_len": 40}, "document lengths"),
    ],
)
def test_bad_process_parameters(kwargs, message):
    with pytest.raises(UsageError, match=message):
        TokenProcess(**kwargs)
