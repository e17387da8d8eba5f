"""Parity with the official compliance checker on every real result log of the corpus.

VERDICTS.tsv holds what `python -m mlperf_logging.compliance_checker --ruleset <round>` said
about each of the 672 files (670 pass, 2 real bad runs fail), and how many warnings it printed.
"""

from __future__ import annotations

import csv

import pytest

from mlperf_submit.compliance.filecheck import check_file


@pytest.fixture(scope="session")
def verdict_rows(corpus_dir):
    with open(corpus_dir / "VERDICTS.tsv", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    assert len(rows) == 672
    return rows


def test_every_corpus_file_gets_the_official_verdict(corpus_dir, verdict_rows):
    mismatches = []
    for row in verdict_rows:
        report = check_file(corpus_dir / row["path"], row["ruleset"])
        ours = "pass" if report.passed else "fail"
        if ours != row["official_verdict"]:
            mismatches.append((row["path"], ours, row["official_verdict"], report.reasons(2)))
        elif len(report.warnings) != int(row["n_warnings"]):
            mismatches.append((row["path"], "warnings", len(report.warnings), row["n_warnings"]))
        assert report.n_mllog == int(row["mllog_lines"]), row["path"]
    assert not mismatches, mismatches[:5]


def test_the_two_failing_corpus_files_fail_for_the_official_reason(corpus_dir, verdict_rows):
    failing = [r for r in verdict_rows if r["official_verdict"] == "fail"]
    assert len(failing) == 2
    for row in failing:
        report = check_file(corpus_dir / row["path"], row["ruleset"])
        assert not report.passed
        messages = [f.message for f in report.errors]
        # the official first message is the first of our composed messages (same order)
        first = row["first_message"].strip()
        assert any(m.strip().startswith(first[:60]) for m in messages), (first, messages)
        # and we point at a real line of the file for keyed findings
        assert all(f.file_lineno is None or f.file_lineno >= 1 for f in report.errors)
