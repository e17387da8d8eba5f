"""Fixtures: the llama ``tiny`` synthetic C4 (made once per session) and a launcher for real
multi-process gloo runs (``train_cli`` comes from tests/benchmarks/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from multi_rank import launch_train


@pytest.fixture(scope="session")
def tiny_c4_root(tiny_runs) -> Path:
    """A ``--synthetic`` root holding the dataset the ``tiny`` preset trains on."""
    from mlperf_submit.benchmarks.common.interface import RunContext
    from mlperf_submit.benchmarks.llama31_8b.benchmark import Llama31_8BBenchmark
    from mlperf_submit.benchmarks.llama31_8b.config import tiny

    Llama31_8BBenchmark(tiny(), RunContext(seed=0)).prepare_synthetic(tiny_runs.synthetic_root)
    return tiny_runs.synthetic_root


@pytest.fixture(scope="session")
def launch_ranks():
    """``launch_ranks(n, *train_argv) -> [(rc, output)]``: n real processes of ``python -m
    mlperf_submit train ...`` joined by torch.distributed (gloo) through the variables torchrun
    sets (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT)."""
    return launch_train
