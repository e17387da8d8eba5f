"""`mlperf-submit report` on real published logs: plots, page, score, and refusals."""

import csv
import math

import pytest

from mlperf_submit.cli import main
from mlperf_submit.compliance.targets import closed_target
from mlperf_submit.report.collect import collect

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def manifest_row(corpus_dir, round_, submitter, benchmark):
    with open(corpus_dir / "MANIFEST.tsv", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if (row["round"], row["submitter"], row["benchmark"]) == (round_, submitter, benchmark):
                return row
    raise LookupError((round_, submitter, benchmark))


@pytest.fixture(scope="module")
def tinycorp_report(corpus_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("rep") / "tinycorp"
    rc = main(["report", str(corpus_dir / "v4.1/closed/tinycorp"), "--ruleset", "4.1.0",
               "--out", str(out)])  # fmt: skip
    assert rc == 0
    return out


def test_report_files_are_written(tinycorp_report):
    names = sorted(p.name for p in tinycorp_report.iterdir())
    assert names == [
        "bert_convergence.png",
        "bert_projection.png",
        "bert_ttt.png",
        "index.html",
        "index.md",
    ]
    for png in ("bert_convergence.png", "bert_ttt.png", "bert_projection.png"):
        data = (tinycorp_report / png).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 10_000


def test_page_shows_the_official_score_and_the_drops(tinycorp_report, corpus_dir):
    md = (tinycorp_report / "index.md").read_text()
    official = float(manifest_row(corpus_dir, "v4.1", "tinycorp", "bert")["official_score_minutes"])
    assert f"{official:.6g}" in md
    # result_2 has no run_stop: it fails compliance, is dropped, and stands in for the slowest.
    assert "| result_2 |" in md and "dropped (failed compliance)" in md
    assert md.count("olympic drop (fastest)") == 1
    assert "olympic drop (slowest)" not in md
    assert "closed target ≥ 0.72" in md
    html = (tinycorp_report / "index.html").read_text()
    assert "<img src='bert_ttt.png'" in html and "<img src='bert_convergence.png'" in html


def test_collect_matches_manifest_scores_for_several_dirs(corpus_dir):
    for rnd, org, system, bm in [
        ("v4.0", "GigaComputing", "G593-SD1_mxnet", "resnet"),  # committed scaling.json
        ("v5.1", "NVIDIA", "theia_ngpu512_ngc25.09_nemo", "llama31_8b"),
        ("v3.1", "NVIDIA", "eos_n8_ngc23.04_pytorch", "maskrcnn"),  # structured metric, 1 fail
    ]:
        path = corpus_dir / rnd / "closed" / org / "results" / system / bm
        (data,) = collect(path, rnd[1:] + ".0")
        row = manifest_row(corpus_dir, rnd, org, bm)
        assert math.isclose(data.score.minutes, float(row["official_score_minutes"]), abs_tol=1e-9)
        assert len(data.runs) == int(row["n_files"])
        assert sum(not r.passed for r in data.runs) == int(row["n_compliance_failures"])
        assert all(r.evals for r in data.runs)
    assert data.runs[1].metric == "eval_accuracy[BBOX]"


def test_samples_benchmark_uses_samples_count_axis(corpus_dir):
    path = corpus_dir / "v5.1/closed/NVIDIA/results/theia_ngpu512_ngc25.09_nemo/llama31_8b"
    (data,) = collect(path, "5.1.0")
    assert data.progress_key == "samples_count"
    assert data.closed == closed_target("llama31_8b", "5.1.0")
    assert not data.closed.higher_is_better and data.closed.value == 3.3
    xs = [x for x, _ in data.runs[0].evals]
    assert xs == sorted(xs) and xs[0] > 1000


def test_existing_out_is_refused_and_kept(tinycorp_report, corpus_dir, capsys):
    before = (tinycorp_report / "index.md").read_text()
    rc = main(["report", str(corpus_dir / "v4.1/closed/tinycorp"), "--ruleset", "4.1.0",
               "--out", str(tinycorp_report)])  # fmt: skip
    assert rc == 2
    assert "already exists" in capsys.readouterr().err
    assert (tinycorp_report / "index.md").read_text() == before


@pytest.mark.parametrize("kind", ["missing", "file", "empty", "inside"])
def test_bad_input_is_a_clear_usage_error(kind, tmp_path, corpus_dir, capsys):
    src = corpus_dir / "v4.1/closed/tinycorp"
    out = tmp_path / "out"
    if kind == "missing":
        args = [str(tmp_path / "nope")]
    elif kind == "file":
        (tmp_path / "f.txt").write_text("x")
        args = [str(tmp_path / "f.txt")]
    elif kind == "empty":
        (tmp_path / "empty").mkdir()
        args = [str(tmp_path / "empty")]
    else:
        args = [str(src)]
        out = src / "report"
    rc = main(["report", *args, "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("mlperf-submit: error: ") and "Traceback" not in err
    assert not out.exists()


def test_a_dir_without_scaling_json_reports_the_published_score(corpus_dir, tmp_path):
    """As `check`: before packaging (no scaling.json) the score shown is the olympic mean x the
    factor the RCP step will write (HPE v4.0 llama2_70b_lora: the published 19.7548)."""
    import shutil

    row = manifest_row(corpus_dir, "v4.0", "HPE", "llama2_70b_lora")
    src = corpus_dir / "v4.0/closed/HPE/results" / row["system"] / "llama2_70b_lora"
    bm_dir = tmp_path / "llama2_70b_lora"
    shutil.copytree(src, bm_dir)
    (bm_dir / "scaling.json").unlink()
    (data,) = collect(bm_dir, "4.0.0")
    assert math.isclose(data.score.minutes, float(row["official_score_minutes"]), abs_tol=1e-9)
    assert data.score.scaling_source == "rcp" and not (bm_dir / "scaling.json").exists()
