"""ROC AUC over the whole evaluation set, from per-batch sums the Trainer adds and all-reduces.

The Trainer sums ``eval_sums`` over a rank's batches, all-reduces the sums over ranks and hands
the total to ``metric``. AUC is not a mean of per-batch (or per-rank) AUCs, so the sums must
carry enough to rank every positive against every negative of the whole set. Two encodings,
chosen by the evaluation set's size ``n``:

``exact`` (n <= ``EXACT_LIMIT``, 4,194,304: the tiny presets, dlrmv4's 2,058,204): a vector of
    2n float64, each sample's score ``sigmoid(logit)`` (float32, as the reference's
    torchmetrics AUROC sees it) at its index in the evaluation set and ``2 label + 1`` (1 or 3)
    at ``n + index``; every other entry is 0. Summing over batches and ranks adds zeros to each
    entry, which is exact, so ``metric`` gets every score; the AUC is then the Mann-Whitney
    statistic with tied scores counted as one half (sklearn's and torchmetrics' definition),
    and a sample missing or evaluated twice is an error.
``histogram`` (larger sets: dlrm_dcnv2's 89,137,319 would need 1.4 GB per batch): counts of
    negatives and positives in ``BINS`` equal bins of the logit over [-``LOGIT_RANGE``,
    +``LOGIT_RANGE``] (plus one bin below and one above). Pairs in different bins are ranked
    exactly; a pair in the same bin counts one half. The error is the fraction of pairs that
    share a bin times how far their true order is from a coin flip: with 2^21 bins of width
    1.9e-5 it stays below 1e-6 on millions of samples (``tests/benchmarks/families/
    test_recsys_auc.py`` measures it on 10^7 against the exact statistic and torchmetrics).
"""

from __future__ import annotations

import torch

EXACT_LIMIT = 1 << 22
BINS = 1 << 21
LOGIT_RANGE = 20.0


class AUCSums:
    """The per-batch sum vector and the AUC of the total, for an evaluation set of ``n``."""

    def __init__(self, n: int, *, exact_limit: int = EXACT_LIMIT, bins: int = BINS) -> None:
        if n < 1:
            raise ValueError(f"an evaluation set of {n} samples")
        self.n = n
        self.exact = n <= exact_limit
        self.bins = bins
        self.size = 2 * n if self.exact else 2 * (bins + 2)

    def batch(
        self, logits: torch.Tensor, labels: torch.Tensor, index: torch.Tensor
    ) -> torch.Tensor:
        """The sums of one batch: ``logits`` and 0/1 ``labels`` of the samples whose positions
        in the evaluation set are ``index`` (only the exact encoding uses them)."""
        logits = logits.detach().reshape(-1).float()
        labels = labels.detach().reshape(-1)
        out = torch.zeros(self.size, dtype=torch.float64, device=logits.device)
        if self.exact:
            index = index.reshape(-1).to(logits.device, torch.long)
            out[index] = torch.sigmoid(logits).double()
            # 1 or 3: a sample counted twice sums to 2 or 6, never to a valid mark.
            out[self.n + index] = 2.0 * labels.double() + 1.0
            return out
        width = 2 * LOGIT_RANGE / self.bins
        b = torch.floor((logits.double() + LOGIT_RANGE) / width).long() + 1
        b = b.clamp(0, self.bins + 1) + (self.bins + 2) * (labels.long() != 0).long()
        return out.index_add_(0, b, torch.ones_like(b, dtype=torch.float64))

    def auc(self, sums: torch.Tensor) -> float:
        sums = sums.double().cpu()
        if self.exact:
            marks = sums[self.n :]
            ok = (marks == 1.0) | (marks == 3.0)
            if not torch.all(ok):
                missing = int((marks == 0).sum())
                raise RuntimeError(
                    f"the evaluation covered {self.n - missing} of its {self.n} samples "
                    f"({int((~ok & (marks != 0)).sum())} more than once): every sample exactly once"
                )
            return auc_from_scores(sums[: self.n], marks == 3.0)
        k = self.bins + 2
        neg, pos = sums[:k], sums[k:]
        return auc_from_histograms(neg, pos)


def auc_from_scores(scores: torch.Tensor, positive: torch.Tensor) -> float:
    """Exact ROC AUC (Mann-Whitney U / (P N)), ties counted one half."""
    positive = positive.bool()
    p = int(positive.sum())
    n = positive.numel() - p
    if p == 0 or n == 0:
        return float("nan")
    _, inverse, counts = torch.unique(scores.double(), return_inverse=True, return_counts=True)
    ends = torch.cumsum(counts, 0).double()
    mean_rank = ends - (counts.double() - 1) / 2  # 1-based average rank of each distinct score
    rank_sum = mean_rank[inverse][positive].sum()
    return float((rank_sum - p * (p + 1) / 2) / (p * n))


def auc_from_histograms(neg: torch.Tensor, pos: torch.Tensor) -> float:
    """ROC AUC from per-bin counts (bins in increasing score order), a bin's pairs one half."""
    p, n = float(pos.sum()), float(neg.sum())
    if p == 0 or n == 0:
        return float("nan")
    below = torch.cumsum(neg, 0) - neg
    return float((pos * (below + 0.5 * neg)).sum() / (p * n))
