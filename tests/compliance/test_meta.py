"""meta: run counts, allowed benchmarks and rulesets exactly as the installed mlperf-logging."""

from __future__ import annotations

import os
import re

import pytest
from mlperf_logging import benchmark_meta
from mlperf_logging.compliance_checker import mlp_compliance

from mlperf_submit.compliance import meta
from mlperf_submit.errors import UsageError


def test_rulesets_are_the_training_folders_of_the_installed_checker():
    folder = os.path.dirname(mlp_compliance.__file__)
    expected = {
        m.group(1)
        for name in os.listdir(folder)
        if (m := re.fullmatch(r"training_(\d+\.\d+\.\d+)", name))
    }
    assert set(meta.rulesets()) == expected
    assert "6.1.0" in expected and "0.7.0" in expected  # training_0.7.0_warn is not a ruleset
    assert list(meta.rulesets()) == sorted(expected, key=lambda r: tuple(map(int, r.split("."))))


def test_required_runs_equal_benchmark_meta_for_every_benchmark():
    counts = benchmark_meta.get_result_file_counts("training")
    assert {bm: meta.required_runs(bm) for bm in counts} == counts
    assert (meta.required_runs("resnet"), meta.required_runs("unet3d")) == (5, 40)
    assert meta.required_runs("not_a_benchmark") is None


def test_allowed_benchmarks_follow_the_official_lookup_for_every_ruleset():
    for rs in meta.rulesets():
        try:
            official = set(benchmark_meta.get_allowed_benchmarks("training", rs))
        except ValueError:
            official = set()
        assert set(meta.allowed_benchmarks(rs)) == official, rs


@pytest.mark.parametrize(
    ("benchmark", "newest"),
    [
        ("resnet", "4.0.0"),
        ("unet3d", "4.0.0"),
        ("bert", "5.0.0"),
        ("dlrm_dcnv2", "6.0.0"),
        ("llama31_8b", "6.1.0"),
        ("llama2_70b_lora", "6.1.0"),
        ("flux1", "6.1.0"),
        ("gpt3", "4.1.0"),
        ("maskrcnn", "3.1.0"),
    ],
)
def test_newest_ruleset_with_a_benchmark(benchmark, newest):
    assert meta.newest_ruleset(benchmark) == newest
    assert meta.is_allowed(benchmark, newest)
    later = [rs for rs in meta.rulesets() if meta.version_key(rs) > meta.version_key(newest)]
    assert not any(meta.is_allowed(benchmark, rs) for rs in later)


def test_rulesets_with_lists_each_ruleset_that_allows_it():
    assert meta.rulesets_with("resnet")[-3:] == ("3.0.0", "3.1.0", "4.0.0")
    assert "4.1.0" not in meta.rulesets_with("resnet")
    assert meta.rulesets_with("llama3_8b") == ()
    assert meta.newest_ruleset("llama3_8b") is None
    assert "4.0.0" in meta.where_is("resnet")
    assert "no ruleset" in meta.where_is("llama3_8b")


def test_newest_ruleset_holding_several_benchmarks_is_the_newest_common_one():
    # what check, verify and make submit pick for a tree or a set of logs: one round for all
    assert meta.newest_ruleset("resnet", "bert") == "4.0.0"  # bert goes on to 5.0.0
    assert meta.newest_ruleset("llama31_8b", "dlrm_dcnv2") == "6.0.0"
    assert meta.newest_ruleset("resnet", "llama31_8b") is None  # no round has both
    assert meta.newest_ruleset("resnet", "llama3_8b") is None
    assert meta.newest_ruleset() == meta.rulesets()[-1]


def test_max_dropped_is_four_only_for_unet3d():
    assert meta.max_dropped("unet3d") == 4
    assert {meta.max_dropped(b) for b in meta.known_benchmarks() if b != "unet3d"} == {1}


def test_unknown_or_malformed_ruleset_is_a_usage_error_listing_the_known_ones():
    with pytest.raises(UsageError, match="6.1.0"):
        meta.check_ruleset("7.0.0")
    with pytest.raises(UsageError, match="X.Y.Z"):
        meta.version_key("latest")
    assert meta.check_ruleset("4.0.0") == "4.0.0"


def test_rcp_tables_are_found_where_the_rcp_checker_opens_them():
    assert meta.has_rcps("resnet", "4.0.0")
    assert not meta.has_rcps("resnet", "4.1.0")  # the 4.1.0 tables have no resnet
    assert meta.rcp_file("llama31_8b", "6.0.0").endswith("training_6.0.0/rcps_llama31_8b.json")
