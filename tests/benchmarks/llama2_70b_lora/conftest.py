"""Fixtures: the ``tiny`` synthetic data of llama2_70b_lora (dataset + pretrained base, made
once per session under the shared ``--synthetic`` root of tests/benchmarks/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def lora_root(tiny_runs) -> Path:
    """A ``--synthetic`` root holding what the ``tiny`` preset reads (generated once)."""
    from mlperf_submit.benchmarks.common.interface import RunContext
    from mlperf_submit.benchmarks.llama2_70b_lora.benchmark import Llama2LoRABenchmark
    from mlperf_submit.benchmarks.llama2_70b_lora.config import tiny

    root = tiny_runs.synthetic_root
    Llama2LoRABenchmark(tiny(), RunContext(seed=0)).prepare_synthetic(root)
    return root


@pytest.fixture(scope="session")
def tiny_bm(lora_root):
    """A tiny-preset benchmark object on the synthetic data (seed 5)."""
    from mlperf_submit.benchmarks.common.interface import RunContext
    from mlperf_submit.benchmarks.llama2_70b_lora.benchmark import Llama2LoRABenchmark
    from mlperf_submit.benchmarks.llama2_70b_lora.config import tiny

    ctx = RunContext(seed=5, data_dir=lora_root, synthetic=True, division="open",
                     ruleset="6.1.0", preset="tiny")  # fmt: skip
    return Llama2LoRABenchmark(tiny(), ctx)
