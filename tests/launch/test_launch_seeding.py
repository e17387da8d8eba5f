"""Seeds: OS entropy, 31 bits, derived per rank and stream, unique across a campaign."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlperf_submit.errors import UsageError
from mlperf_submit.launch.distributed import dist
from mlperf_submit.launch.distributed.seeding import (
    MAX_SEED,
    derive_seed,
    new_master_seed,
    shared_master_seed,
)


def test_new_master_seeds_are_31_bit_and_distinct():
    seeds = [new_master_seed() for _ in range(2000)]
    assert all(0 <= s <= MAX_SEED for s in seeds)
    # 2000 draws from 2**31: a collision has probability ~1e-3; more than one means no entropy.
    assert len(set(seeds)) >= 1999
    assert max(seeds) > 2**30 // 2, "the high bits are used"


@given(st.integers(0, MAX_SEED), st.integers(0, 4096), st.text(max_size=20))
def test_derive_seed_is_a_pure_31_bit_function(master, rank, stream):
    s = derive_seed(master, rank, stream)
    assert 0 <= s <= MAX_SEED
    assert s == derive_seed(master, rank, stream)


def test_derived_seeds_differ_by_rank_stream_and_master():
    master = 123456789
    per_rank = {derive_seed(master, r) for r in range(1024)}
    assert len(per_rank) == 1024
    assert derive_seed(master, 0, "data") != derive_seed(master, 0, "model")
    # unlike master + rank, run k's rank 1 is not run k+1's rank 0
    assert derive_seed(master, 1) != derive_seed(master + 1, 0)


@pytest.mark.parametrize("master,rank", [(-1, 0), (2**31, 0), (1.5, 0), (True, 0), (1, -1)])
def test_derive_seed_rejects(master, rank):
    with pytest.raises(ValueError):
        derive_seed(master, rank)


def test_shared_master_seed_single_process(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "PMI_RANK", "SLURM_STEP_ID"):
        monkeypatch.delenv(name, raising=False)
    dist.shutdown()
    assert shared_master_seed(42) == 42
    drawn = {shared_master_seed(None) for _ in range(20)}
    assert len(drawn) == 20
    with pytest.raises(UsageError, match="--seed"):
        shared_master_seed(2**31)
