"""Fixtures for every benchmark test: the resnet ``tiny`` synthetic ImageNet (made once per
session) and an in-process ``mlperf-submit train`` runner."""

from __future__ import annotations

import contextlib
import io

import pytest


@pytest.fixture(scope="session")
def tiny_imagenet(tmp_path_factory):
    """The dataset the resnet ``tiny`` preset trains on, generated as ``--synthetic`` does."""
    from mlperf_submit.benchmarks.resnet import synthetic
    from mlperf_submit.benchmarks.resnet.benchmark import ResNetBenchmark
    from mlperf_submit.benchmarks.resnet.config import tiny

    root = tmp_path_factory.mktemp("tiny_imagenet")
    return synthetic.ensure(root, ResNetBenchmark(tiny(), None).synthetic_spec())


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
