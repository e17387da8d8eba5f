"""End-to-end ``mlperf-submit train resnet``: the tiny preset converges and its log passes our
checker and the official one (resnet@4.0.0, open); a 2-process gloo run (torchrun) does the
same with the seed logged once; the real-scale preset's init section passes the closed rules;
bad usage exits 2 with a message, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from multi_rank import free_port

from mlperf_submit.compliance import official
from mlperf_submit.compliance.filecheck import check_file
from mlperf_submit.compliance.init_section import is_run_section_finding

LOADERS = [
    "dali",
    "torch",
]


def records(path):
    return [json.loads(ln.split(":::MLLOG ", 1)[1]) for ln in path.read_text().splitlines()]


@pytest.mark.parametrize("loader", LOADERS)
def test_tiny_converges_with_a_compliant_open_log(tmp_path, tiny_imagenet, train_cli, loader):
    log = tmp_path / "run_0.log"
    rc, out, err = train_cli(
        "resnet", "--preset", "tiny", "--seed", 1, "--log", log, "--synthetic", tiny_imagenet,
        "--cache-cleared", f"data.loader={loader}",
    )  # fmt: skip
    assert rc == 0, err
    assert "COMPLIANT" in err and "Traceback" not in err
    report = check_file(log, "4.0.0")
    assert report.passed, report.errors
    assert report.facts.run_stop_status == "success"
    assert report.facts.submission["submission_division"] == "open"
    values = [v for _, v, _ in report.facts.evals]
    assert values[-1] >= 0.759 and all(v < 1.0 for v in values)
    recs = records(log)
    assert [r["value"] for r in recs if r["key"] == "cache_clear"] == [True]
    assert [r["value"] for r in recs if r["key"] == "seed"] == [1]
    stats = [r for r in recs if r["key"] == "tracked_stats"]
    assert len(stats) == len(values) and all(s["value"]["throughput"] > 0 for s in stats)
    if loader == "dali":
        verdict = official.compliance_checker(str(log), "4.0.0")
        assert verdict.passed, verdict.output


def test_two_process_gloo_run_is_compliant(tmp_path, tiny_imagenet):
    log = tmp_path / "ddp.log"
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
        "--master-port", str(free_port()), "-m", "mlperf_submit", "--",
        "train", "resnet", "--preset", "tiny", "--seed", "5", "--log", str(log),
        "--synthetic", str(tiny_imagenet),
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    report = check_file(log, "4.0.0")
    assert report.passed, report.errors
    assert report.facts.seeds and [s[2] for s in report.facts.seeds] == [5]
    assert report.facts.global_batch_size == 64
    assert report.facts.run_stop_status == "success"
    verdict = official.compliance_checker(str(log), "4.0.0")
    assert verdict.passed, verdict.output
    # rank 1 printed no MLLOG line of its own: every line in the file is rank 0's, once
    keys = [r["key"] for r in records(log)]
    assert keys.count("run_start") == 1 and keys.count("init_start") == 1


@pytest.mark.parametrize("preset", ["config_DGXH100_1x8x400", "config_CPU_1x1x32_sgd"])
def test_log_only_init_section_passes_the_closed_rules(tmp_path, train_cli, preset):
    log = tmp_path / "init.log"
    rc, out, err = train_cli("resnet", "--preset", preset, "--seed", 9, "--log-only", "--log", log)
    assert rc == 0, err
    report = check_file(log, "4.0.0")
    assert report.errors and all(map(is_run_section_finding, report.errors)), report.errors
    keys = [r["key"] for r in records(log)]
    assert keys[-1] == "init_stop" and "run_start" not in keys
    opt = "lars" if "DGX" in preset else "sgd"
    assert f"{opt}_opt_base_learning_rate" in keys and keys.count("seed") == 1


def test_log_only_describes_a_many_gpu_global_batch(tmp_path, train_cli):
    log = tmp_path / "init8.log"
    rc, _, err = train_cli(
        "resnet", "--preset", "config_DGXH100_1x8x400", "--log-only", "--world-size", 8,
        "--log", log,
    )  # fmt: skip
    assert rc == 0, err
    assert check_file(log, "4.0.0").facts.global_batch_size == 3200
    rc, _, err = train_cli(
        "resnet", "--world-size", 8, "--log", tmp_path / "x.log", "--data", tmp_path
    )
    assert rc == 2 and "--log-only only" in err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--preset", "huge"], "has no preset 'huge'"),
        (["optim.base_lrr=1"], "did you mean optim.base_lr"),
        (["--division", "closed"], "not a closed-division configuration"),
        (["--ruleset", "6.0.0"], "resnet"),
        (["schedule.eval_offset=4"], "use 0..3"),
    ],
)
def test_bad_usage_exits_2_with_a_message(tmp_path, tiny_imagenet, train_cli, argv, message):
    log = tmp_path / "x.log"
    rc, out, err = train_cli(
        "resnet", "--seed", 1, "--log", log, "--synthetic", tiny_imagenet, *argv
    )
    assert rc == 2 and message in err and "Traceback" not in err, err


def test_missing_or_unusable_data_exits_2(tmp_path, train_cli):
    rc, _, err = train_cli("resnet", "--log", tmp_path / "a.log")
    assert rc == 2 and "--data DIR" in err
    rc, _, err = train_cli("resnet", "--log", tmp_path / "b.log", "--data", tmp_path / "nope")
    assert rc == 2 and "not a directory" in err
    (tmp_path / "empty").mkdir()
    rc, _, err = train_cli(
        "resnet", "--division", "open", "--log", tmp_path / "c.log", "--data", tmp_path / "empty"
    )
    assert rc == 2 and "train: not a directory" in err
    rc, _, err = train_cli("nosuch", "--log", tmp_path / "d.log")
    assert rc == 2 and "unknown benchmark" in err


def test_existing_log_is_never_overwritten(tmp_path, tiny_imagenet, train_cli):
    log = tmp_path / "mine.log"
    log.write_text("precious\n")
    rc, _, err = train_cli("resnet", "--seed", 1, "--log", log, "--synthetic", tiny_imagenet)
    assert rc == 2 and "already exists" in err
    assert log.read_text() == "precious\n"


@pytest.mark.parametrize("loader", LOADERS)
def test_val_classes_must_match_train(tmp_path, tiny_imagenet, train_cli, loader):
    import shutil

    root = tmp_path / "imnet"
    shutil.copytree(tiny_imagenet, root)
    shutil.rmtree(root / "val" / "n00000004")  # labels of later classes would shift silently
    rc, _, err = train_cli(
        "resnet", "--division", "open", "--log", tmp_path / "r.log", "--data", root,
        f"data.loader={loader}",
    )  # fmt: skip
    assert rc == 2 and "class folders differ from train/" in err and "n00000004" in err, err
