"""Presets, the closed-division checks and the evaluation plan of llama31_8b."""

from __future__ import annotations

import pytest
import torch

from mlperf_submit.benchmarks.common.config import apply_overrides, validate
from mlperf_submit.benchmarks.common.interface import Block, RunContext
from mlperf_submit.benchmarks.families.decoder.model import Decoder
from mlperf_submit.benchmarks.families.lm_pretraining.config import DataConfig
from mlperf_submit.benchmarks.llama31_8b.benchmark import Llama31_8BBenchmark as LlamaBenchmark
from mlperf_submit.benchmarks.llama31_8b.config import PRESETS, tiny
from mlperf_submit.errors import UsageError


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_validates(name):
    validate(PRESETS[name]())


@pytest.mark.parametrize(
    "gbs, interval", [(32, 12288), (48, 12288), (64, 12288), (100, 12300), (1152, 12672)]
)
def test_eval_every_12288_rounded_up_to_the_global_batch(gbs, interval):
    assert DataConfig(global_batch_size=gbs).eval_interval() == interval


def test_blocks_follow_the_eval_interval_until_the_budget():
    cfg = apply_overrides(tiny(), ["data.eval_every=40", "data.max_samples=100"])
    bm = LlamaBenchmark(cfg, RunContext(seed=0))
    # 40 rounded up to the global batch of 16 is 48: evals at 48, 96, 144 (the budget 100
    # is reached inside the third block).
    assert list(bm.blocks()) == [Block(0, 48), Block(48, 48), Block(96, 48)]


def test_closed_presets_have_no_closed_problems():
    assert LlamaBenchmark.closed_problems(PRESETS["8b"]()) == []
    assert LlamaBenchmark.closed_problems(PRESETS["config_DGXH200_1x8x4"]()) == []
    assert LlamaBenchmark.closed_problems(PRESETS["config_DGXH100_1x8x1"]()) == []
    problems = " ".join(LlamaBenchmark.closed_problems(tiny()))
    for key in ("optim.max_steps", "data.seq_len", "data.eval_samples", "model:"):
        assert key in problems
    loose = apply_overrides(PRESETS["8b"](), ["target=3.5", "optim.beta2=0.99"])
    assert any("target=3.5" in p for p in LlamaBenchmark.closed_problems(loose))
    assert any("optim.beta2=0.99" in p for p in LlamaBenchmark.closed_problems(loose))


def test_1b_preset_is_about_one_billion_parameters():
    with torch.device("meta"):
        model = Decoder(PRESETS["1b"]().model)
    assert 1.2e9 < model.num_params() < 1.3e9  # the Llama 3.2 1B shape (tied embeddings)


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["data.seq_len=256"], "exceeds model.max_seq_len=128"),
        (["optim.warmup_steps=600"], "optim.warmup_steps=600 must be in"),
        (["optim.end_lr=1.0"], "0 <= end_lr <= base_lr"),
        (["target=0"], "must be > 0"),
        (["model.attention.n_kv_heads=3"], "not a multiple of attention.n_kv_heads"),
        (["data.global_batch_size=0"], "data.global_batch_size must be >= 1"),
    ],
)
def test_bad_overrides_are_usage_errors(overrides, message):
    with pytest.raises(UsageError, match=message):
        apply_overrides(tiny(), overrides)


def test_global_batch_must_split_over_the_ranks():
    with pytest.raises(UsageError, match="does not split over 3 ranks"):
        LlamaBenchmark(tiny(), RunContext(seed=0, world_size=3))
