"""The AUC sums: exact for sets up to 4M (every score at its index), a 2^21-bin logit histogram
beyond; both summed over batches and ranks as the Trainer sums them."""

from __future__ import annotations

import pytest
import torch
from torchmetrics.functional.classification import binary_auroc

from mlperf_submit.benchmarks.families.recsys.auc import (
    AUCSums,
    auc_from_histograms,
    auc_from_scores,
)


def _data(n: int, seed: int, rate: float = 0.3):
    g = torch.Generator().manual_seed(seed)
    labels = (torch.rand(n, generator=g) < rate).float()
    logits = torch.randn(n, generator=g) + 1.2 * labels
    return logits, labels


def _summed(stat: AUCSums, logits, labels, parts: int) -> torch.Tensor:
    """Batches split over ``parts`` "ranks" in interleaved chunks, summed as the Trainer does."""
    n = len(logits)
    index = torch.arange(n)
    total = torch.zeros(stat.size, dtype=torch.float64)
    for rank in range(parts):
        mine = index[rank::parts]
        for chunk in mine.split(97):
            total += stat.batch(logits[chunk], labels[chunk], chunk)
    return total


def test_exact_auc_equals_torchmetrics_over_ranks_and_batches():
    logits, labels = _data(5000, 0)
    logits[:200] = logits[200:400]  # tied scores count one half, as torchmetrics / sklearn
    stat = AUCSums(len(logits))
    assert stat.exact
    got = stat.auc(_summed(stat, logits, labels, parts=3))
    scores = torch.sigmoid(logits).double()
    pos, neg = scores[labels > 0], scores[labels == 0]
    pairs = (pos[:, None] > neg[None, :]).double() + 0.5 * (pos[:, None] == neg[None, :]).double()
    assert got == pytest.approx(float(pairs.mean()), abs=1e-12)  # every pair, by brute force
    # torchmetrics (the reference's AUROC) returns float32: equal to its precision.
    assert got == pytest.approx(float(binary_auroc(torch.sigmoid(logits), labels.long())), abs=1e-7)
    # The mean of per-rank AUCs is a different number: the sums carry every score instead.
    per_rank = [auc_from_scores(torch.sigmoid(logits[r::3]), labels[r::3] > 0) for r in range(3)]
    assert abs(sum(per_rank) / 3 - got) > 1e-6


def test_a_sample_missing_or_evaluated_twice_is_an_error():
    logits, labels = _data(100, 1)
    stat = AUCSums(100)
    sums = stat.batch(logits[:99], labels[:99], torch.arange(99))
    with pytest.raises(RuntimeError, match="covered 99 of its 100"):
        stat.auc(sums)
    twice = stat.batch(logits, labels, torch.arange(100)) + stat.batch(
        logits[:1], labels[:1], torch.arange(1)
    )
    with pytest.raises(RuntimeError, match="more than once"):
        stat.auc(twice)


def test_histogram_auc_matches_the_exact_statistic_on_ten_million_samples():
    """Criteo-like: 3 % positives, a model of AUC ~0.80; the 2^21-bin histogram of 10^7 logits
    against the exact rank statistic (and torchmetrics on a million of them)."""
    logits, labels = _data(10_000_000, 2, rate=0.034)
    logits = logits * 1.3 - 3.5
    stat = AUCSums(len(logits), exact_limit=1000)
    assert not stat.exact and stat.size == 2 * ((1 << 21) + 2)
    sums = torch.zeros(stat.size, dtype=torch.float64)
    for chunk in torch.arange(len(logits)).split(1_000_000):
        sums += stat.batch(logits[chunk], labels[chunk], chunk)
    exact = auc_from_scores(logits, labels > 0)
    assert 0.75 < exact < 0.85
    assert stat.auc(sums) == pytest.approx(exact, abs=1e-6)
    sub = slice(0, 1_000_000)
    want = float(binary_auroc(torch.sigmoid(logits[sub]), labels[sub].long()))
    assert auc_from_scores(torch.sigmoid(logits[sub]), labels[sub] > 0) == pytest.approx(
        want, abs=1e-7
    )


def test_histograms_count_a_shared_bin_one_half():
    neg = torch.tensor([1.0, 1.0, 0.0])
    pos = torch.tensor([0.0, 1.0, 1.0])
    # pairs: pos@1 vs neg@0 (1), pos@1 vs neg@1 (1/2), pos@2 vs both (2): 3.5 of 4
    assert auc_from_histograms(neg, pos) == pytest.approx(3.5 / 4)
