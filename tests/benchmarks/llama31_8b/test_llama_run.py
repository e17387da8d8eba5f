"""Whole llama31_8b runs beyond the contract test: what the tiny log says (schedule, batch,
precision), two gloo processes (DDP, FSDP2, accumulation), the 8B and 80 GB init sections'
values, compile inside init, and bad data as a clear exit-2 error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from tiny_runs import records

from mlperf_submit.benchmarks.llama31_8b.benchmark import Llama31_8BBenchmark
from mlperf_submit.benchmarks.llama31_8b.config import PRESETS, tiny
from mlperf_submit.compliance.filecheck import check_file

TINY_TARGET = tiny().target


def official(log: Path, ruleset: str, tmp_path: Path) -> tuple[int, str]:
    """The official compliance checker, run in a temp dir (it writes compliance_checker.log)."""
    proc = subprocess.run(
        [sys.executable, "-m", "mlperf_logging.compliance_checker", "--ruleset", ruleset,
         str(log)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    return proc.returncode, proc.stdout + proc.stderr


def assert_converged_and_compliant(log: Path, tmp_path: Path, ruleset: str = "6.1.0"):
    report = check_file(log, ruleset)
    assert report.passed, [f.message for f in report.errors]
    assert report.facts.run_stop_status == "success"
    assert report.facts.submission["submission_division"] == "open"
    evals = report.facts.evals
    assert evals[-1][1] <= TINY_TARGET < 1.0
    assert all(v > TINY_TARGET for _, v, _ in evals[:-1])  # stops at the first eval that passes
    rc, out = official(log, ruleset, tmp_path)
    assert rc == 0 and out.strip().endswith("SUCCESS"), out


def test_tiny_log_says_what_ran(tmp_path, tiny_runs):
    run = tiny_runs.get("llama31_8b")
    assert_converged_and_compliant(run.log, tmp_path)
    assert check_file(run.log, "6.0.0").passed
    recs = records(run.log)
    keys = [r["key"] for r in recs]
    # Progress in samples_count, every eval on a multiple of the global batch.
    for r in recs:
        if r["key"] in ("eval_accuracy", "eval_start", "block_start"):
            assert r["metadata"]["samples_count"] % 16 == 0
    values = run.values
    assert values["opt_learning_rate_decay_steps"] == 600 - 20
    assert keys.index("opt_learning_rate_warmup_steps") < keys.index(
        "opt_learning_rate_decay_steps"
    )
    assert values["micro_batch_size"] == 16 and values["global_batch_size"] == 16
    assert values["lowest_numerical_precision_in_linear"] == "fp32"
    assert values["lowest_numerical_precision_in_comm"] == "fp32"
    assert values["config_filename"] == "mlperf_submit/benchmarks/llama31_8b/config.py:tiny"
    assert values["eval_samples"] == 256
    assert [values[k] for k in ("tensor_parallelism", "expert_parallelism")] == [1, 1]


@pytest.fixture(scope="module")
def ddp_log(tmp_path_factory, tiny_c4_root, launch_ranks) -> Path:
    """A 2-process gloo DDP run of tiny (seed 7), shared by the tests below."""
    log = tmp_path_factory.mktemp("ddp") / "ddp.log"
    results = launch_ranks(
        2, "llama31_8b", "--preset", "tiny", "--seed", 7, "--log", log,
        "--synthetic", tiny_c4_root,
    )  # fmt: skip
    for rc, out in results:
        assert rc == 0, out[-3000:]
    return log


def test_tiny_two_processes_ddp(tmp_path, ddp_log):
    assert_converged_and_compliant(ddp_log, tmp_path)
    values = {r["key"]: r["value"] for r in records(ddp_log)}
    assert values["micro_batch_size"] == 8 and values["global_batch_size"] == 16
    assert values["submission_platform"].startswith("2x")
    # rank 1 echoes lines on its stdout but never writes the file: one run_stop in it.
    assert [r["key"] for r in records(ddp_log)].count("run_stop") == 1


def test_tiny_two_processes_fsdp2_trains_like_ddp(tmp_path, tiny_c4_root, launch_ranks, ddp_log):
    log = tmp_path / "fsdp2.log"
    results = launch_ranks(
        2, "llama31_8b", "--preset", "tiny", "--seed", 7, "--log", log,
        "--synthetic", tiny_c4_root, "loop.data_parallel=fsdp2", "data.max_samples=256",
        "loop.warmup_steps=2",
    )  # fmt: skip
    for rc, out in results:
        assert rc == 3, out[-3000:]  # budget of one block spent before the target
    report = check_file(log, "6.1.0")
    assert report.facts.run_stop_status == "aborted"
    first_ddp = check_file(ddp_log, "6.1.0").facts.evals[0]
    # Same seed, same sample order: sharded and replicated training reach the same model (and
    # the FSDP2 warm-up, on sharded DTensor state, restored the initial weights exactly).
    assert report.facts.evals[0][0] == first_ddp[0] == 256
    assert report.facts.evals[0][1] == pytest.approx(first_ddp[1], rel=1e-4)


def test_tiny_two_processes_gradient_accumulation_trains_like_ddp(
    tmp_path, tiny_c4_root, launch_ranks, ddp_log
):
    """Each rank's 8 sequences as 2 micro-batches of 4 (DDP all-reduces after the second
    backward only): the same global batch, so the same model as the plain DDP run."""
    log = tmp_path / "accum.log"
    results = launch_ranks(
        2, "llama31_8b", "--preset", "tiny", "--seed", 7, "--log", log,
        "--synthetic", tiny_c4_root, "loop.gradient_accumulation_steps=2", "data.max_samples=256",
    )  # fmt: skip
    for rc, out in results:
        assert rc == 3, out[-3000:]  # budget of one block spent before the target
    report = check_file(log, "6.1.0")
    # one block only, so its eval is still above the open bound (< 1.0): that is the one error
    assert [f.message for f in report.errors] == [
        "Failed checks for eval_accuracy : v['value'] < 1.0"
    ]
    values = {r["key"]: r["value"] for r in records(log)}
    assert values["gradient_accumulation_steps"] == 2
    assert values["micro_batch_size"] == 4 and values["global_batch_size"] == 16
    first_ddp = check_file(ddp_log, "6.1.0").facts.evals[0]
    assert report.facts.evals[0][0] == first_ddp[0] == 256
    assert report.facts.evals[0][1] == pytest.approx(first_ddp[1], rel=1e-4)


def test_80gb_preset_init_section_logs_its_accumulation(tmp_path, train_cli):
    """config_DGXH100_1x8x1 described for 8 GPUs: global batch 32 = 8 ranks x 4 micro-batches
    of 1; its init section passes the closed 6.1.0 rules, ours and official."""
    log = tmp_path / "init.log"
    rc, out, err = train_cli(
        "llama31_8b", "--preset", "config_DGXH100_1x8x1", "--log-only", "--world-size", 8,
        "--log", log, "--seed", 4,
    )  # fmt: skip
    assert rc == 0, err
    values = {r["key"]: r["value"] for r in records(log)}
    assert values["global_batch_size"] == 32 and values["gradient_accumulation_steps"] == 4
    assert values["micro_batch_size"] == 1
    rc, out = official(log, "6.1.0", tmp_path)
    failures = [ln for ln in out.splitlines() if "CHECK for" in ln or "failed test" in ln]
    assert failures == [], out


@pytest.mark.parametrize("ruleset", ["6.0.0", "6.1.0"])
def test_8b_init_section_passes_the_closed_rules(tmp_path, train_cli, ruleset):
    assert Llama31_8BBenchmark.closed_problems(PRESETS["8b"]()) == []
    log = tmp_path / "init.log"
    rc, out, err = train_cli(
        "llama31_8b", "--preset", "8b", "--log-only", "--log", log, "--seed", 4,
        "--ruleset", ruleset,
    )  # fmt: skip
    assert rc == 0, err
    assert "the init section passes the rules" in err
    report = check_file(log, ruleset)
    run_keys = {"run_start", "run_stop", "train_samples", "eval_samples", "eval_accuracy"}
    for f in report.errors:
        # Only what a training run logs is missing; no CHECK fails on a logged value.
        assert f.key in run_keys or f.kind == "alternatives", f.message
    values = {r["key"]: r["value"] for r in records(log)}
    assert values["submission_division"] == "closed"
    assert values["max_sequence_length"] == 8192
    assert values["max_steps"] == 1_200_000
    assert (
        values["opt_learning_rate_decay_steps"]
        == 1_200_000 - values["opt_learning_rate_warmup_steps"]
    )
    assert values["opt_gradient_clip_norm"] == 1.0
    assert values["global_batch_size"] == 32
    # The GBS-32 reference convergence point's hyperparameters (rcps_llama31_8b.json).
    assert values["opt_base_learning_rate"] == 8e-4 and values["opt_end_learning_rate"] == 8e-5
    assert values["opt_learning_rate_warmup_steps"] * 32 == 4096
    rc, out = official(log, ruleset, tmp_path)
    failures = [ln for ln in out.splitlines() if "CHECK for" in ln or "failed test" in ln]
    assert failures == [], out


def test_tiny_is_refused_in_the_closed_division(tmp_path, tiny_c4_root, train_cli):
    rc, out, err = train_cli(
        "llama31_8b", "--preset", "tiny", "--log", tmp_path / "x.log", "--data", tiny_c4_root,
        "--division", "closed",
    )  # fmt: skip
    assert rc == 2
    assert "optim.max_steps=600: closed requires 1200000" in err
    assert "Traceback" not in err


def _copy_dataset(src_root: Path, dst: Path) -> Path:
    src = next(src_root.glob("llama31_8b-synthetic-*"))
    dst.mkdir()
    for f in src.iterdir():
        (dst / f.name).write_bytes(f.read_bytes())
    return dst


def test_corrupt_index_is_a_clear_error(tmp_path, tiny_c4_root, train_cli):
    data = _copy_dataset(tiny_c4_root, tmp_path / "c4")
    idx = data / "c4-train.en_6_text_document.idx"
    idx.write_bytes(idx.read_bytes()[:40])  # truncated index
    rc, out, err = train_cli(
        "llama31_8b", "--preset", "tiny", "--log", tmp_path / "x.log", "--data", data,
        "--division", "open",
    )  # fmt: skip
    assert rc == 2, err
    assert f"{idx}: truncated" in err
    assert "Traceback" not in err


def test_missing_dataset_files_are_named(tmp_path, train_cli):
    (tmp_path / "empty").mkdir()
    rc, out, err = train_cli(
        "llama31_8b", "--preset", "tiny", "--log", tmp_path / "x.log", "--data",
        tmp_path / "empty", "--division", "open",
    )  # fmt: skip
    assert rc == 2
    assert "no c4-train.en_<k>_text_document.idx" in err


def test_compile_happens_inside_init(tmp_path, tiny_c4_root, monkeypatch):
    """With loop.compile, warm-up compiles the training and the evaluation graphs inside init:
    no graph is compiled after run_start. (dynamo with the eager backend: the same capture and
    recompile guards as inductor, without minutes of C++ code generation.)"""
    import torch
    from torch._dynamo.utils import counters

    from mlperf_submit.benchmarks.common.config import apply_overrides
    from mlperf_submit.benchmarks.common.interface import RunContext
    from mlperf_submit.benchmarks.common.trainer import Trainer
    from mlperf_submit.logging import MLPerfLogger

    real_compile = torch.compile
    monkeypatch.setattr(torch, "compile", lambda m, **kw: real_compile(m, backend="eager"))
    torch._dynamo.reset()
    cfg = apply_overrides(tiny(), ["loop.compile=true", "loop.warmup_steps=1"])
    ctx = RunContext(seed=3, data_dir=tiny_c4_root, synthetic=True, division="open",
                     ruleset="6.1.0")  # fmt: skip
    log = tmp_path / "compiled.log"
    logger = MLPerfLogger("llama31_8b", "6.1.0", "open", str(log), check="strict", echo=False)
    trainer = Trainer(Llama31_8BBenchmark(cfg, ctx), logger)
    trainer.init()
    graphs_in_init = counters["stats"]["unique_graphs"]
    status = trainer.run()
    trainer.data.close()
    trainer.finish(status)
    torch._dynamo.reset()
    assert status == "success"
    assert graphs_in_init >= 2  # the training and the no-grad evaluation graph
    assert counters["stats"]["unique_graphs"] == graphs_in_init
    assert check_file(log, "6.1.0").passed


def test_synthetic_root_that_is_a_file(tmp_path, train_cli):
    not_dir = tmp_path / "file"
    not_dir.write_text("x")
    rc, out, err = train_cli(
        "llama31_8b", "--preset", "tiny", "--log", tmp_path / "x.log", "--synthetic", not_dir
    )
    assert rc == 2 and f"--synthetic {not_dir}: not a directory" in err
    assert "Traceback" not in err


def test_synthetic_dataset_is_reused_not_rewritten(tmp_path, tiny_c4_root):
    from mlperf_submit.benchmarks.common.interface import RunContext

    bm = Llama31_8BBenchmark(tiny(), RunContext(seed=0))
    out = bm.synthetic_data(tiny_c4_root).path
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert bm.prepare_synthetic(tiny_c4_root) == out
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before
    # Another spec gets its own directory beside it; nothing is overwritten.
    other = Llama31_8BBenchmark(apply_tiny(["data.synthetic_seed=3"]), RunContext(seed=0))
    assert other.synthetic_data(tiny_c4_root).path != out


def apply_tiny(overrides):
    from mlperf_submit.benchmarks.common.config import apply_overrides

    return apply_overrides(tiny(), overrides)
