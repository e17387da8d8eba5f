"""summary.csv/json are byte-identical to the official result_summarizer's on the same tree."""

import shutil
import subprocess
import sys

import pytest

from mlperf_submit.compliance.orgfolder import check_org
from mlperf_submit.errors import UsageError
from mlperf_submit.submission.summary import SUMMARY_FILES, summary_tables, write_summary

CASES = [("v4.1/closed/Krai", "4.1.0"), ("v3.1/open/Ailiverse", "3.1.0")]


@pytest.mark.official
@pytest.mark.parametrize(("rel", "ruleset"), CASES)
def test_summary_files_equal_result_summarizer(rel, ruleset, corpus_dir, tmp_path):
    org = corpus_dir / rel
    ours = tmp_path / "ours"
    write_summary(summary_tables(check_org(str(org), ruleset)), ruleset, ours)
    # The official tool writes scaling.json into the tree (closed): run it on a copy.
    copy = tmp_path / "copy" / org.name
    shutil.copytree(org, copy)
    subprocess.run(
        [sys.executable, "-m", "mlperf_logging.result_summarizer", str(copy), "training", ruleset,
         "--csv", str(tmp_path / "off.csv")],
        capture_output=True, text=True, check=True, cwd=tmp_path,
    )  # fmt: skip
    pairs = {"summary.csv": "off.csv", "summary.json": "off.json",
             "summary_detailed.csv": "off_detailed.csv",
             "summary_detailed.json": "off_detailed.json"}  # fmt: skip
    for mine, theirs in pairs.items():
        assert (ours / mine).read_bytes() == (tmp_path / theirs).read_bytes(), mine


def test_summary_refuses_to_overwrite(corpus_dir, tmp_path):
    tables = summary_tables(check_org(str(corpus_dir / "v4.1/closed/tinycorp"), "4.1.0"))
    write_summary(tables, "4.1.0", tmp_path)
    (tmp_path / "summary.csv").write_text("edited by hand")
    with pytest.raises(UsageError, match="already exists"):
        write_summary(tables, "4.1.0", tmp_path)
    assert (tmp_path / "summary.csv").read_text() == "edited by hand"
    write_summary(tables, "4.1.0", tmp_path, force=True)
    assert (tmp_path / "summary.csv").read_text().startswith("division,availability,")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(SUMMARY_FILES)


def test_rows_carry_system_columns_and_scores(corpus_dir):
    tables = summary_tables(check_org(str(corpus_dir / "v4.1/closed/tinycorp"), "4.1.0"))
    (row,) = tables.strong
    assert row["submitter"] == "tinycorp" and row["division"] == "closed"
    assert row["bert"] == pytest.approx(360.5164979, abs=1e-6)
    assert row["details_url"].startswith("https://github.com/mlcommons/training_results_v4.1/")
    (det,) = tables.detailed
    assert det["bert:RCP"] in ("Pass", "Fail", "Interp. Fail", "Missing")
