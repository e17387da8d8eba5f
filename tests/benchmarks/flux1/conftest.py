"""Fixtures: the flux1 ``tiny`` synthetic shards (shared with the contract test's run), the
``tiny_raw`` image shards, tiny generated T5 / CLIP / VAE checkpoints (each made once per
session), small hand-made shards for bad-input tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(scope="session")
def flux_tiny_data(tiny_runs) -> Path:
    """The prepared dataset directory of the ``tiny`` preset (pre-encoded shards)."""
    from mlperf_submit.benchmarks.common.interface import RunContext
    from mlperf_submit.benchmarks.flux1.benchmark import Flux1Benchmark
    from mlperf_submit.benchmarks.flux1.config import tiny

    return Flux1Benchmark(tiny(), RunContext(seed=0)).prepare_synthetic(tiny_runs.synthetic_root)


@pytest.fixture(scope="session")
def flux_raw_data(tiny_runs) -> Path:
    """The prepared dataset directory of the ``tiny_raw`` preset (.jpg + .txt shards)."""
    from mlperf_submit.benchmarks.common.interface import RunContext
    from mlperf_submit.benchmarks.flux1.benchmark import Flux1Benchmark
    from mlperf_submit.benchmarks.flux1.config import tiny_raw

    bm = Flux1Benchmark(tiny_raw(), RunContext(seed=0))
    return bm.prepare_synthetic(tiny_runs.synthetic_root)


@pytest.fixture(scope="session")
def tiny_encoders(tmp_path_factory) -> dict[str, str]:
    """``{"encoders.t5": dir, "encoders.clip": dir, "encoders.vae": dir}`` of tiny checkpoints
    whose widths match ``tiny_raw`` (T5 32, CLIP 16, 16 latent channels)."""
    from mlperf_submit.benchmarks.flux1.tiny_encoders import write_tiny_encoders

    return write_tiny_encoders(tmp_path_factory.mktemp("flux_encoders") / "enc")
