"""DLRM-DCNv2 at its closed shape (on the meta device), the KeyedJaggedTensor layout, and the
evaluation cadence in epoch fractions."""

from __future__ import annotations

import pytest
import torch

from mlperf_submit.benchmarks.common.interface import RunContext
from mlperf_submit.benchmarks.dlrm_dcnv2.benchmark import DLRMDCNv2Benchmark
from mlperf_submit.benchmarks.dlrm_dcnv2.config import (
    CRITEO_MULTI_HOT,
    CRITEO_TABLES,
    ModelConfig,
    config_DGXH100_1x8x8192,
    tiny,
)
from mlperf_submit.benchmarks.dlrm_dcnv2.model import build_dlrm, parameter_count, to_kjt


def test_the_closed_model_has_the_references_shape():
    meta = torch.device("meta")
    model = build_dlrm(ModelConfig(), tables_device=meta, dense_device=meta)
    tables, dense = parameter_count(model)
    assert sum(CRITEO_TABLES) == 204_184_588
    assert tables == 204_184_588 * 128  # 26.1 billion: 104.5 GB in fp32
    d_in = 27 * 128  # 26 pooled embeddings + the bottom MLP's 128
    bottom = (13 * 512 + 512) + (512 * 256 + 256) + (256 * 128 + 128)
    cross = 3 * (d_in * 512 + 512 * d_in + d_in)  # low-rank W (d x r), V (r x d), bias
    top = (d_in * 1024 + 1024) + (1024 * 1024 + 1024) + (1024 * 512 + 512) + (512 * 256 + 256)
    top += 256 * 1 + 1
    assert dense == bottom + cross + top


def test_ids_become_a_kjt_with_fixed_bag_sizes():
    sizes = [2, 1] + [1] * 24
    ids = torch.arange(3 * 27).view(3, 27)
    kjt = to_kjt(ids, sizes)
    assert kjt.keys()[:2] == ["cat_0", "cat_1"]
    assert kjt["cat_0"].lengths().tolist() == [2, 2, 2]
    assert kjt["cat_0"].values().tolist() == [0, 1, 27, 28, 54, 55]
    assert kjt["cat_1"].values().tolist() == [2, 29, 56]


def test_closed_cadence_is_every_0_05_epoch():
    """floor(4,195,197,692 / (65,536 x 20)) = 3,200 steps; 64,013 steps per epoch; the RCP
    checker rounds epoch_num to 3 decimals: 0.05, 0.10, ... 1.0."""
    bm = DLRMDCNv2Benchmark(config_DGXH100_1x8x8192(), RunContext(seed=1, world_size=8))
    assert bm.global_batch_size() == 65536 and bm.eval_interval_steps() == 3200
    blocks = list(bm.blocks())
    assert len(blocks) == 20 and blocks[0].count == 3200 * 65536
    fractions = [round(bm.epoch_progress(b.end), 3) for b in blocks]
    assert fractions == [round(0.05 * k, 3) for k in range(1, 21)]
    assert bm.epoch_progress(blocks[0].end) == pytest.approx(3200 / 64013)


def test_tiny_is_not_closed_and_the_closed_presets_are():
    problems = DLRMDCNv2Benchmark.closed_problems(tiny())
    assert any(p.startswith("model:") for p in problems)
    assert DLRMDCNv2Benchmark.closed_problems(config_DGXH100_1x8x8192()) == []
    assert len(CRITEO_MULTI_HOT) == 26 and max(CRITEO_MULTI_HOT) == 100
