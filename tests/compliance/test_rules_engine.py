"""Unit tests of the streaming rules engine: chain discovery, bounded memory, online findings."""

from __future__ import annotations

import glob
import json
import os
import tracemalloc

import pytest

from mlperf_submit.compliance import rulefiles
from mlperf_submit.compliance.filecheck import check_file
from mlperf_submit.compliance.parser import iter_lines
from mlperf_submit.compliance.rule_engine import RuleEngine
from mlperf_submit.errors import UsageError


def line(key, value=None, t=0, **metadata):
    metadata.setdefault("file", "train.py")
    metadata.setdefault("lineno", 1)
    return ":::MLLOG " + json.dumps(
        {
            "namespace": "",
            "time_ms": 1_700_000_000_000 + t,
            "event_type": "POINT_IN_TIME",
            "key": key,
            "value": value,
            "metadata": metadata,
        }
    )


def llama_head(division="closed", ruleset="6.0.0"):
    """A minimal llama31_8b@6.0.0 closed init section, in the order the rules need."""
    out = [
        line("submission_org", "Org"),
        line("submission_platform", "p"),
        line("submission_division", division),
        line("submission_benchmark", "llama31_8b"),
        line("cache_clear", True),
        line("init_start", t=1),
    ]
    if division == "closed":
        for k, v in [
            ("global_batch_size", 32),
            ("max_sequence_length", 8192),
            ("opt_name", "adamw"),
            ("opt_base_learning_rate", 8e-4),
            ("opt_end_learning_rate", 8e-5),
            ("opt_learning_rate_warmup_steps", 128),
            ("opt_learning_rate_decay_steps", 1199872),
            ("opt_learning_rate_decay_schedule", "cosine with linear warmup"),
            ("opt_adamw_beta_1", 0.9),
            ("opt_adamw_beta_2", 0.95),
            ("opt_adamw_epsilon", 1e-5),
            ("opt_adamw_weight_decay", 0.1),
            ("opt_gradient_clip_norm", 1.0),
            ("gradient_accumulation_steps", 1),
            ("eval_samples", 1024),
            ("max_steps", 1200000),
            ("train_samples", 100),
        ]:
            out.append(line(k, v, t=2))
    out += [line("init_stop", t=3), line("run_start", t=4)]
    return out


def test_config_info_text_scan_equals_the_yaml_parse_for_every_installed_rule_file():
    base = rulefiles.checker_dir()
    checked = 0
    for path in glob.glob(os.path.join(base, "*", "*.yaml")):
        name = os.path.relpath(path, base)
        try:
            expected = rulefiles.config_info_from_yaml(name)
        except Exception:  # training_0.7.0_warn/bert.yaml is not valid YAML (official too)
            continue
        assert rulefiles.config_info(name) == expected, name
        checked += 1
    assert checked > 300


def test_unknown_ruleset_is_a_usage_error_naming_the_known_ones():
    with pytest.raises(UsageError, match="unknown ruleset '9.9.9'.*6.1.0"):
        RuleEngine("9.9.9")


def test_the_chain_is_discovered_in_official_order():
    engine = RuleEngine("6.0.0")
    engine.feed_all(iter_lines(llama_head()))
    result = engine.finish()
    assert result.configs == [
        "training_6.0.0/common.yaml",
        "training_6.0.0/closed_common.yaml",
        "training_6.0.0/closed_llama31_8b.yaml",
    ]


def test_nothing_is_buffered_once_the_chain_is_settled_and_memory_does_not_grow(tmp_path):
    def peak(n_evals: int) -> tuple[int, int]:
        lines = llama_head()
        for i in range(n_evals):
            lines.append(line("block_start", None, t=10 + i, samples_count=i * 32))
            lines.append(line("train_loss", 3.0, t=10 + i, samples_count=i * 32))
            lines.append(line("block_stop", None, t=10 + i, samples_count=i * 32))
            lines.append(line("eval_accuracy", 3.5, t=10 + i, samples_count=i * 32))
        lines.append(line("run_stop", None, t=99_999, status="aborted"))
        path = tmp_path / f"log_{n_evals}.txt"
        path.write_text("\n".join(lines))
        engine = RuleEngine("6.0.0")
        tracemalloc.start()
        with open(path, encoding="latin-1") as f:
            engine.feed_all(iter_lines(f))
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert engine.chain_settled()
        assert engine.buffer == []
        return top, engine.n_lines

    small, n_small = peak(2_000)
    large, n_large = peak(20_000)
    assert n_large > 9 * n_small
    assert large < 1.5 * small + 64_000, (small, large)


def test_online_findings_wait_until_no_later_config_can_override_them():
    engine = RuleEngine("6.0.0", online=True)
    early = line("eval_accuracy", 0.5, t=0)  # no epoch_num/samples_count: common.yaml CHECK fails
    findings = engine.feed(next(iter_lines([early])))
    # the benchmark config (not known yet) may define eval_accuracy and discard that message
    assert findings == []
    out = []
    for item in iter_lines(llama_head()):
        out += engine.feed(item)
    # closed_llama31_8b.yaml defines eval_accuracy: the common.yaml message is never reported,
    # and the benchmark's own CHECK on that (replayed) line is, once that config runs
    assert [f.config for f in out if f.key == "eval_accuracy"] == [
        "training_6.0.0/closed_llama31_8b.yaml"
    ]
    # a definite CHECK failure is reported on the offending line (here also a second,
    # different value of an EXACTLY_ONE key: an error that can only stay)
    bad = engine.feed(next(iter_lines([line("max_sequence_length", 4096)])))
    assert sorted((f.key, f.kind, f.severity) for f in bad) == [
        ("max_sequence_length", "check", "error"),
        ("max_sequence_length", "req", "error"),
    ]
    # a second EXACTLY_ONE occurrence is reported at once (warning: same value)
    dup = engine.feed(next(iter_lines([line("run_start", None, t=5)])))
    assert [(f.key, f.severity) for f in dup] == [("run_start", "warning")]


def test_stable_diffusion_begin_block_reads_the_whole_log(corpus_dir):
    """closed_stable_diffusion.yaml aggregates FID and CLIP lines in a BEGIN block over all
    lines; the engine runs it at the end over the kept lines, with the official verdict."""
    paths = sorted(corpus_dir.glob("v3.1/closed/*/results/*/stable_diffusion/result_*.txt"))
    assert paths
    report = check_file(paths[0], "3.1.0")
    assert report.passed
    assert "training_3.1.0/closed_stable_diffusion.yaml" in report.configs
