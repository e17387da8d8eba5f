"""``rcp build`` / ``rcp check``: RCP records the official rcp_checker reads as its own.

The proof is two real tiny campaigns (llama31_8b ``tiny``, 3 runs each, ``--launcher local``)
at two learning rates: 3e-3, whose runs converge at 1024 samples (the reference runs), and the
preset's 1e-2, whose runs converge at 512. ``rcp build`` makes the records from the first;
``python -m mlperf_logging.rcp_checker --custom_rcps`` then accepts the first campaign and
rejects the second (too fast), and ``rcp check`` says the same.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlperf_submit.cli import main
from mlperf_submit.compliance.rcp_build import build_rcps

REPO = Path(__file__).resolve().parents[2]
PY = sys.executable
REFERENCE_LR, FAST_LR = "0.003", "0.01"


def _env() -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLURM_", "OMPI_", "PMI_")) and k not in ("RANK", "WORLD_SIZE")
    }
    env["PYTHONPATH"] = str(REPO)
    env["OMP_NUM_THREADS"] = "1"
    return env


def _campaign(out: Path, data: Path, *train_args: str) -> Path:
    cmd = [
        PY, "-m", "mlperf_submit", "campaign", "llama31_8b", "--out", str(out),
        "--preset", "tiny", "--division", "open", "--synthetic", str(data), "--runs", "3",
        "--launcher", "local", "--no-cache-clear", "--", *train_args,
    ]  # fmt: skip
    proc = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=900)
    print(proc.stderr[-3000:])
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out


@pytest.fixture(scope="module")
def campaigns(tmp_path_factory):
    root = tmp_path_factory.mktemp("rcp_campaigns")
    data = root / "synthetic"
    ref = _campaign(root / "reference", data, f"optim.base_lr={REFERENCE_LR}")
    fast = _campaign(root / "fast", data)  # the preset's own learning rate
    return ref, fast


def _result_dir(campaign: Path, dst: Path) -> Path:
    """The campaign's logs as ``result_<i>.txt``: what the official rcp_checker globs."""
    dst.mkdir(parents=True)
    for log in sorted((campaign / "llama31_8b").glob("run_*.log")):
        shutil.copy(log, dst / log.name.replace("run_", "result_").replace(".log", ".txt"))
    return dst


def _official(result_dir: Path, rcps: Path, cwd: Path) -> subprocess.CompletedProcess:
    cmd = [
        PY, "-m", "mlperf_logging.rcp_checker", str(result_dir), "--rcp_usage", "training",
        "--rcp_version", "6.1.0", "--custom_rcps", str(rcps),
    ]  # fmt: skip
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_official_checker_accepts_the_reference_and_rejects_a_faster_campaign(
    campaigns, tmp_path, capsys
):
    ref, fast = campaigns
    rcps = tmp_path / "rcps.json"
    assert main(["rcp", "build", str(ref), "--out", str(rcps)]) == 0
    report = capsys.readouterr().out
    records = json.loads(rcps.read_text())
    (name,) = records
    rec = records[name]
    assert name == "llama31_8b_ref_16" and rec["Benchmark"] == "llama31_8b" and rec["BS"] == 16
    assert list(rec) == [
        "Benchmark", "Creator", "When", "Platform", "Precision", "BS", "Hyperparams",
        "Epochs to converge",
    ]  # fmt: skip
    assert rec["Precision"] == "FP32"  # lowest_numerical_precision_in_linear, logged in 6.1.0
    assert rec["Epochs to converge"] == [1024, 1024, 1024]  # the field llama31_8b records use
    assert rec["Hyperparams"]["opt_base_learning_rate"] == float(REFERENCE_LR)
    assert rec["Creator"] == "mlperf-submit"  # the logs' submission_org
    assert "kept" in report and "references need 2x the submission runs (20" in report

    ref_dir = _result_dir(ref, tmp_path / "ref" / "llama31_8b")
    fast_dir = _result_dir(fast, tmp_path / "fast" / "llama31_8b")
    ok = _official(ref_dir, rcps, tmp_path)
    assert ok.returncode == 0 and "RCP found, RCP test PASSED" in ok.stderr, ok.stderr
    bad = _official(fast_dir, rcps, tmp_path)
    assert bad.returncode == 1 and "RCP found, RCP test FAILED" in bad.stderr, bad.stderr

    # ours, on the campaign dirs themselves
    assert main(["rcp", "check", str(ref), "--rcps", str(rcps)]) == 0
    assert main(["rcp", "check", str(fast), "--rcps", str(rcps), "--json"]) == 1
    out = capsys.readouterr().out
    result = json.loads(out[out.index("{") :])
    assert result["message"] == "RCP found" and result["submission_mean"] == 512.0
    assert result["min_epochs"] == 1024.0  # every reference run at 1024: no spread


@pytest.mark.slow
def test_the_campaigns_record_their_projection(campaigns):
    ref, _ = campaigns
    data = json.loads((ref / "campaign.json").read_text())
    history = data["projection_history"]
    assert [h["finished"] for h in history] == [1, 2, 3]
    assert all(h["required"] == 10 and h["score"] is not None for h in history)
    latest = data["projection"]
    assert latest["finished_runs"] == 3 and latest["more_needed"] == 7
    assert latest["rcp"]["applies"] is False  # open division: synthetic data


def test_build_reports_the_official_pruning(tmp_path, corpus_dir):
    from mlperf_logging.rcp_checker import rcp_checker as official

    results = corpus_dir / "v5.1/closed"
    dirs = [
        next(results.glob("HPE/results/*/llama31_8b")),  # BS 32
        next(results.glob("NVIDIA/results/*/llama31_8b")),  # BS 64
    ]
    built = build_rcps([str(d) for d in dirs], "5.1.0", merge_installed=True)
    out = tmp_path / "merged.json"
    out.write_text(built.to_json_text())
    with open(out) as f:
        checker = official.RCP_Checker("training", "5.1.0", "llama31_8b", False, f)
    theirs = set(checker.rcp_data) - set(checker.pruned_rcp_data)
    ours = {r.name for r in built.reports if r.pruned} | set(built.installed_pruned)
    assert ours == theirs
    for rep in built.reports:
        rec = checker.rcp_data[rep.name]
        assert rep.mean == pytest.approx(rec["RCP Mean"]) and rep.stdev == pytest.approx(
            rec["RCP Stdev"]
        )
    assert any("replaces the installed record" in w for w in built.warnings)
    assert [r.bs for r in built.reports] == [32, 64]


def test_bad_input_is_exit_2_naming_the_file(tmp_path, corpus_dir, capsys):
    src = next((corpus_dir / "v5.1/closed/HPE/results").glob("*/llama31_8b"))
    out = tmp_path / "rcps.json"
    out.write_text("{}")
    assert main(["rcp", "build", str(src), "--out", str(out)]) == 2
    assert "exists: pass --force" in capsys.readouterr().err
    garbled = tmp_path / "garbled.json"
    garbled.write_text('{"x": {"Benchmark": "llama31_8b"')
    assert main(["rcp", "check", str(src), "--rcps", str(garbled)]) == 2
    assert str(garbled) in capsys.readouterr().err
    lacking = tmp_path / "lacking.json"
    lacking.write_text(json.dumps({"r": {"Benchmark": "llama31_8b", "BS": 32}}))
    assert main(["rcp", "check", str(src), "--rcps", str(lacking)]) == 2
    assert "lacks Hyperparams, Epochs to converge" in capsys.readouterr().err
    one = tmp_path / "one"
    one.mkdir()
    shutil.copy(next(src.glob("result_*.txt")), one / "result_0.txt")
    assert main(["rcp", "build", str(one), "--out", str(tmp_path / "x.json")]) == 2
    assert "needs at least 3" in capsys.readouterr().err
