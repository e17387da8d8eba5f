"""Fixtures for every benchmark test: one ``tiny`` run per benchmark (made once per session and
shared by the contract test and the benchmark's own tests), the resnet ``tiny`` synthetic
ImageNet, and an in-process ``mlperf-submit train`` runner."""

from __future__ import annotations

import contextlib
import io

import pytest
from tiny_runs import TinyRuns


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory) -> TinyRuns:
    return TinyRuns(tmp_path_factory.mktemp("tiny_runs"))


@pytest.fixture(scope="session")
def tiny_imagenet(tiny_runs):
    """The dataset the resnet ``tiny`` preset trains on, generated as ``--synthetic`` does."""
    from mlperf_submit.benchmarks.common.interface import RunContext
    from mlperf_submit.benchmarks.resnet.benchmark import ResNetBenchmark
    from mlperf_submit.benchmarks.resnet.config import tiny

    return ResNetBenchmark(tiny(), RunContext(seed=0)).prepare_synthetic(tiny_runs.synthetic_root)


@pytest.fixture
def train_cli():
    """``train_cli(*argv) -> (exit code, stdout, stderr)`` of ``mlperf-submit train ...``."""
    from mlperf_submit.cli import main

    def run(*argv):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main(["train", *map(str, argv)])
        return rc, out.getvalue(), err.getvalue()

    return run
