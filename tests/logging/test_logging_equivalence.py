"""Online verdict == ``check_file`` on the produced file == the official compliance checker.

Two sources of event sequences, both sent through the facade in strict mode (a ComplianceError
is caught and the run goes on, so strict mode must not disturb the state it checks):

- hypothesis: the minimal log of an acceptance pair, mutated (lines deleted, duplicated, swapped,
  values and metadata replaced, random keys inserted, initialisation made too slow);
- the corpus: one real result log per result directory, plus every officially failing one,
  replayed with its original values, metadata and timestamps. The produced file must also get
  the verdict VERDICTS.tsv records for the original.

    .venv/bin/python -m pytest -q tests/logging/test_logging_equivalence.py
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from mllog_helpers import (
    PAIRS,
    T0,
    corpus_events,
    minimal_events,
    replay,
    three_verdicts,
)

from mlperf_submit.compliance.parser import LogLine, iter_file
from mlperf_submit.logging import MLPerfLogger
from mlperf_submit.logging.rules_info import _records, chain_files

pytestmark = pytest.mark.official

VALUES = [
    None,
    0,
    1,
    -1,
    2,
    0.5,
    0.9,
    0.95,
    1e-05,
    1e-08,
    3.3,
    3.4,
    0.76,
    0.93,
    8192,
    1024,
    1200000,
    1199936,
    "adamw",
    "sgd",
    "lars",
    "",
    "x",
    [1],
    {"a": 1},
    True,
    "onprem",
]
METADATA = [
    None,
    {},
    {"epoch_num": 1},
    {"samples_count": 0},
    {"samples_count": -1},
    {"first_epoch_num": 1, "epoch_count": 1},
    {"first_epoch_num": 1, "epoch_count": 0},
    {"epoch_count": 2},
    {"status": "success"},
    {"status": "aborted", "epoch_num": 3},
]
EXTRA_KEYS = ["tracked_stats", "train_loss", "weird key", "submission_poc_name"]


def _keys_of(bm: str, rs: str) -> list[str]:
    keys = []
    for relpath in chain_files(bm, rs, "closed"):
        keys += [rec["NAME"] for rec in _records(relpath)]
    return sorted(set(keys)) + EXTRA_KEYS


@st.composite
def mutated_runs(draw):
    bm, rs = draw(st.sampled_from(PAIRS))
    events = list(minimal_events(bm, rs))
    times = [T0 + 1000 * i for i in range(len(events))]
    keys = _keys_of(bm, rs)
    for _ in range(draw(st.integers(0, 6))):
        op = draw(st.sampled_from(["delete", "dup", "swap", "value", "meta", "insert", "slow"]))
        i = draw(st.integers(0, len(events) - 1))
        kind, key, value, meta = events[i]
        if op == "delete" and len(events) > 1:
            del events[i], times[i]
        elif op == "dup":
            events.insert(i, events[i])
            times.insert(i, times[i])
        elif op == "swap" and i + 1 < len(events):
            events[i], events[i + 1] = events[i + 1], events[i]
        elif op == "value":
            events[i] = (kind, key, draw(st.sampled_from(VALUES)), meta)
        elif op == "meta":
            events[i] = (kind, key, value, draw(st.sampled_from(METADATA)))
        elif op == "insert":
            new = (
                draw(st.sampled_from(["start", "end", "event"])),
                draw(st.sampled_from(keys)),
                draw(st.sampled_from(VALUES)),
                draw(st.sampled_from(METADATA)),
            )
            events.insert(i, new)
            times.insert(i, times[i])
        elif op == "slow":  # everything from here on 31 minutes later (closed init limit: 30)
            times[i:] = [t + 31 * 60 * 1000 for t in times[i:]]
    return bm, rs, events, times


def _edited(bm, rs, key, value=None, meta=None, delay_from=None):
    """The minimal run with ``key``'s value (or metadata) replaced, as an explicit example."""
    events = [
        (
            k,
            key_,
            (value if key_ == key and value is not None else v),
            (meta if key_ == key and meta is not None else m),
        )
        for k, key_, v, m in minimal_events(bm, rs)
    ]
    times = [T0 + 1000 * i for i in range(len(events))]
    if delay_from is not None:
        i = [e[1] for e in events].index(delay_from)
        times[i:] = [t + 31 * 60 * 1000 for t in times[i:]]
    return bm, rs, events, times


@example(run=_edited("llama31_8b", "6.0.0", "eval_accuracy", value="3.1"))  # official crash
@example(run=_edited("resnet", "4.0.0", "submission_benchmark", value="bert"))  # refused
@example(run=_edited("bert", "5.0.0", "init_stop", delay_from="init_stop"))  # init > 30 min
@example(run=_edited("unet3d", "4.0.0", "eval_accuracy", meta={"samples_count": 2}))
@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(run=mutated_runs())
def test_mutated_sequences_three_verdicts_agree(tmp_path_factory, run):
    bm, rs, events, times = run
    path = tmp_path_factory.mktemp("hyp") / "run.log"
    log = MLPerfLogger(bm, rs, "closed", path, check="strict", echo=False)
    replay(log, events, times)
    online, offline, official = three_verdicts(log)
    assert online == offline == official, (online, offline, official, events)
    event(f"verdict: {official}")


def _corpus_cases() -> list[tuple[str, str, str]]:
    # tests/conftest.py's corpus_path(), which is not importable from here; a missing corpus
    # fails the collection (it never skips).
    default = Path(__file__).resolve().parents[3] / "shared" / "corpus"
    root = Path(os.environ.get("MLPERF_SUBMIT_CORPUS", default))
    with open(root / "VERDICTS.tsv", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    chosen, seen_dirs = [], set()
    for row in sorted(rows, key=lambda r: r["path"]):
        folder = str(Path(row["path"]).parent)
        if folder not in seen_dirs or row["official_verdict"] != "pass":
            seen_dirs.add(folder)
            chosen.append((row["path"], row["ruleset"], row["official_verdict"]))
    return chosen


CORPUS_CASES = _corpus_cases()


def test_corpus_selection_covers_every_result_dir_and_every_failure():
    assert len({str(Path(p).parent) for p, _, _ in CORPUS_CASES}) == 75
    assert sum(v != "pass" for _, _, v in CORPUS_CASES) == 2


@pytest.mark.parametrize(
    ("relpath", "ruleset", "original"), CORPUS_CASES, ids=[c[0] for c in CORPUS_CASES]
)
def test_corpus_log_replayed_through_the_facade(corpus_dir, tmp_path, relpath, ruleset, original):
    src = corpus_dir / relpath
    parts = Path(relpath).parts  # <round>/<division>/<submitter>/results/<system>/<bm>/result_i
    division, bm = parts[1], parts[5]
    events, times = corpus_events(src)
    n_bad = sum(type(item) is not LogLine for item in iter_file(src))
    log = MLPerfLogger(bm, ruleset, division, tmp_path / "replayed.log", check="strict", echo=False)
    stats = replay(log, events, times)
    online, offline, official = three_verdicts(log)
    assert online == offline == official, (online, offline, official, stats)
    if stats["refused"] == 0 and n_bad == 0:
        # Same keys, values, metadata and times as the original: same official verdict.
        assert official == original
