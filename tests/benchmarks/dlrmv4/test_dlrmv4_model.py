"""HSTU: the reference's attention mask, one sample's logit independent of its batch, the closed
shape on the meta device, the closed eval grid and FIRST_CHECK, and the closed init section."""

from __future__ import annotations

import math

import pytest
import torch

from mlperf_submit.benchmarks.common.interface import RunContext
from mlperf_submit.benchmarks.common.trainer import Trainer
from mlperf_submit.benchmarks.dlrmv4.benchmark import DLRMv4Benchmark
from mlperf_submit.benchmarks.dlrmv4.config import (
    YAMBDA_TRAIN_SAMPLES,
    ModelConfig,
    config_DGXH100_1x8x1024,
    eval_interval,
    lr_band,
    rules_first_eval,
    tiny,
)
from mlperf_submit.benchmarks.dlrmv4.model import HSTU, attention_mask
from mlperf_submit.compliance.filecheck import check_file
from mlperf_submit.compliance.init_section import init_section_errors
from mlperf_submit.logging import MLPerfLogger


def reference_mask(n: int, lengths: torch.Tensor) -> torch.Tensor:
    """pt_hstu_attention._get_valid_attn_mask, causal, one target, no contextual window."""
    ids = torch.arange(0, n).view(1, n)
    max_ids = lengths.view(-1, 1, 1) - 1
    ids = torch.clamp(ids, max=max_ids)
    row_ids = ids.view(-1, n, 1).expand(-1, n, n)
    col_ids = ids.view(-1, 1, n).expand(-1, n, n)
    valid = torch.eye(n, dtype=torch.bool).view(1, n, n)
    return torch.logical_or(valid, (row_ids - col_ids) > 0)


def test_attention_mask_is_the_references():
    lengths = torch.tensor([3, 7, 1, 5])
    assert torch.equal(attention_mask(lengths, 7).bool(), reference_mask(7, lengths))


def test_a_samples_logit_does_not_depend_on_its_batch():
    """Padding to the batch's longest history is masked out and the attention normaliser is
    the configured max_seq_len: a short sample scores the same alone or beside a long one."""
    bm = DLRMv4Benchmark(tiny(), RunContext(seed=0))
    torch.manual_seed(0)
    model = bm.build_model().eval()
    batch = list(bm.random_batch(4, seed=3))
    batch[5] = torch.tensor([2, 21, 0, 9])  # history lengths, one empty
    with torch.no_grad():
        together = model(batch[:8])
        alone = [model([t[i : i + 1] for t in batch[:8]]) for i in range(4)]
    torch.testing.assert_close(together, torch.cat(alone), rtol=1e-5, atol=1e-6)


def test_the_closed_model_has_the_references_tables_and_width():
    with torch.device("meta"):
        model = HSTU(ModelConfig(), tables_device=torch.device("meta"))
    rows = 9_390_624 + 1_293_395 + 3_367_692 + 1_000_001 + 278_000_000
    tables = sum(p.numel() for p in model.embeddings.parameters())
    assert tables == rows * 512
    layer = model.layers[0]
    assert tuple(layer.uvqk_weight.shape) == (512, 2048)  # U, V, Q, K of 4 heads x 128
    assert tuple(layer.output_weight.shape) == (1536, 512)  # [u, attention, u * norm(attention)]
    assert len(model.layers) == 3


@pytest.mark.parametrize("gbs, block", [(8192, 25), (16384, 31), (32768, 41)])
def test_eval_grid_and_first_eval_are_closed_dlrmv4_yaml(gbs, block):
    """The yaml's comment: first eval at block 25, 31, 41 for GBS 8192, 16384, 32768; the grid is
    ceil(0.001 x train_samples / GBS) steps (2,293,760 samples at all three)."""
    interval = eval_interval(YAMBDA_TRAIN_SAMPLES, gbs, 0.001)
    assert interval == max(1, math.ceil(0.001 * YAMBDA_TRAIN_SAMPLES / gbs)) * gbs == 2_293_760
    assert rules_first_eval(gbs, interval) == block * interval
    lo, hi = lr_band(gbs)
    assert lo == pytest.approx(0.5e-6 * gbs / 8192) and hi == pytest.approx(1.5e-6 * gbs / 8192)


def test_closed_preset_init_section_passes_the_closed_rules(tmp_path):
    """What the contract test checks for a registered benchmark's closed presets (--log-only)."""
    cfg = config_DGXH100_1x8x1024()
    assert DLRMv4Benchmark.closed_problems(cfg) == []
    ctx = RunContext(
        seed=4, division="closed", ruleset="6.1.0", preset="config_DGXH100_1x8x1024", log_only=True
    )
    log = tmp_path / "init.log"
    logger = MLPerfLogger("dlrmv4", "6.1.0", "closed", str(log), check="off", echo=False)
    Trainer(DLRMv4Benchmark(cfg, ctx), logger).log_only()
    report = check_file(log, "6.1.0")
    assert init_section_errors(report) == []
    text = log.read_text()
    for key in ('"opt_sparse_name", "value": "RowWiseAdagrad"', '"opt_name", "value": "Adam"',
                '"opt_sparse_base_learning_rate", "value": 1e-06', '"max_sequence_length", "value": 4096'):  # fmt: skip
        assert key in text, key
    problems = DLRMv4Benchmark.closed_problems(tiny())
    assert any(p.startswith("optim.lr=") for p in problems)
