"""Shared fixtures. The corpus of real result logs is test data that must be present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def corpus_path() -> Path:
    return Path(os.environ.get("MLPERF_SUBMIT_CORPUS", REPO.parent / "shared" / "corpus"))


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    path = corpus_path()
    if not (path / "MANIFEST.tsv").is_file():
        pytest.fail(f"corpus not found at {path}: set MLPERF_SUBMIT_CORPUS")
    return path
