"""The logging tests start real jobs (torchrun, a killed child): none may outlive its test."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_leftovers(no_leftover_processes):
    """Every logging test: nothing it started outlives it (tests/conftest.py)."""
