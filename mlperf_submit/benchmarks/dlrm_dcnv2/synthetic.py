"""A small synthetic Criteo in the reference's preprocessed NumPy layout, with a learnable click.

Writes ``day_0 .. day_{days-1}`` exactly as ``data_criteo`` reads them (float32 dense
``log(count + 2)`` features, int32 ids, int32 labels; or the materialized multi-hot ``.npz``).
Each id of feature ``k`` has a hidden weight ``w_k[id] ~ N(0, 1)``, each dense feature a slope;
a row's click probability is ``sigmoid(signal * (sum_k w_k[id_k] / sqrt(26) + dense term) - 1)``,
so a model that learns the embeddings and the bottom MLP ranks clicks well (the Bayes AUC of the
default signal 1.5 is about 0.84) while a constant guess scores 0.5.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mlperf_submit.benchmarks.common.synthetic_data import SyntheticData
from mlperf_submit.benchmarks.dlrm_dcnv2.data_criteo import DENSE, SPARSE, multi_hot_tables


@dataclass(frozen=True)
class SyntheticSpec:
    days: int
    rows_per_day: int
    table_sizes: tuple[int, ...]
    multi_hot_sizes: tuple[int, ...]
    sparse_format: str
    signal: float
    seed: int


def synthetic_data(root: Path, benchmark: str, spec: SyntheticSpec) -> SyntheticData:
    return SyntheticData(root, benchmark, spec, writer=lambda d: write_criteo(d, spec))


def click_logits(
    rng: np.random.Generator, spec: SyntheticSpec, dense: np.ndarray, ids: np.ndarray
) -> np.ndarray:
    """The generator's true click logit of each row (its hidden weights drawn from ``rng``)."""
    weights = [rng.standard_normal(n) for n in spec.table_sizes]
    slopes = rng.standard_normal(DENSE) / np.sqrt(DENSE)
    sparse_term = sum(weights[k][ids[:, k]] for k in range(SPARSE)) / np.sqrt(SPARSE)
    dense_term = (dense - dense.mean(axis=0)) @ slopes
    return spec.signal * (sparse_term + dense_term) - 1.0


def write_criteo(directory: Path, spec: SyntheticSpec) -> dict:
    rng = np.random.default_rng(spec.seed)
    n = spec.days * spec.rows_per_day
    counts = rng.geometric(p=rng.uniform(0.05, 0.5, size=DENSE), size=(n, DENSE)) - 1
    dense = np.log(counts.astype(np.float32) + 2.0, dtype=np.float32)
    # Ids skewed like real categorical features: a Zipf-ish draw over each table.
    ids = np.stack(
        [np.minimum(rng.zipf(1.3, size=n) - 1, size - 1) for size in spec.table_sizes], axis=1
    ).astype(np.int64)
    perm = [rng.permutation(size) for size in spec.table_sizes]  # popular ids spread over rows
    ids = np.stack([perm[k][ids[:, k]] for k in range(SPARSE)], axis=1)
    logits = click_logits(np.random.default_rng(spec.seed + 1), spec, dense, ids)
    labels = (rng.random(n) < 1.0 / (1.0 + np.exp(-logits))).astype(np.int32)
    lookup = (
        multi_hot_tables(spec.table_sizes, spec.multi_hot_sizes, "uniform")
        if spec.sparse_format == "multi_hot_npz"
        else None
    )
    for day in range(spec.days):
        rows = slice(day * spec.rows_per_day, (day + 1) * spec.rows_per_day)
        np.save(directory / f"day_{day}_dense.npy", dense[rows])
        np.save(directory / f"day_{day}_labels.npy", labels[rows].reshape(-1, 1))
        if lookup is None:
            np.save(directory / f"day_{day}_sparse.npy", ids[rows].astype(np.int32))
        else:
            members = {str(k): lookup[k][ids[rows, k]].astype(np.int32) for k in range(SPARSE)}
            np.savez(directory / f"day_{day}_sparse_multi_hot.npz", **members)
    return {"rows": int(n), "click_rate": round(float(labels.mean()), 4)}
