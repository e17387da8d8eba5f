"""Two gloo processes: FSDP2 (the meta-built model sharded, each rank reading only its rows of
the checkpoint, adapters sharded) fine-tunes exactly as DDP does."""

from __future__ import annotations

import pytest
from multi_rank import REPO, launch_python, launch_train

from mlperf_submit.compliance.filecheck import check_file


@pytest.mark.slow
def test_fsdp2_fine_tunes_like_ddp(lora_root, tmp_path):
    evals = {}
    for mode in ("ddp", "fsdp2"):
        log = tmp_path / f"{mode}.log"
        for rc, out in launch_train(
            2, "llama2_70b_lora", "--preset", "tiny", "--seed", 7, "--log", log,
            "--synthetic", lora_root, f"loop.data_parallel={mode}", "loop.warmup_steps=1",
        ):  # fmt: skip
            assert rc == 0, out[-3000:]
        report = check_file(log, "6.1.0")
        assert report.passed and report.facts.run_stop_status == "success"
        evals[mode] = report.facts.evals
    # same seed, same rows, same adapter init (drawn whole, then sliced): the same model
    (p_ddp, v_ddp, _), (p_fsdp, v_fsdp, _) = evals["ddp"][0], evals["fsdp2"][0]
    assert p_ddp == p_fsdp == 128
    assert v_fsdp == pytest.approx(v_ddp, rel=1e-4)


def test_a_finished_run_leaves_no_model_for_interpreter_exit(lora_root, tmp_path):
    """A 2-rank DDP run: when the train command returns, the model (which holds the gloo
    process group) is already collected. Left to interpreter exit, rank 0 once died with
    SIGABRT ("terminate called without an active exception") after logging success."""
    worker = REPO / "tests" / "benchmarks" / "common" / "train_leftovers_worker.py"
    results = launch_python(
        2, worker, "train", "llama2_70b_lora", "--preset", "tiny", "--seed", 7,
        "--log", tmp_path / "run.log", "--synthetic", lora_root, "loop.data_parallel=ddp",
    )  # fmt: skip
    for rc, out in results:
        assert rc == 0, out[-3000:]
        line = next(ln for ln in out.splitlines() if ln.startswith("LEFTOVERS"))
        assert line.startswith("LEFTOVERS rc=0 "), line
        alive = set(line.split("modules=", 1)[1].split(","))
        assert not alive & {"DistributedDataParallel", "Decoder", "PeftModel", "LoraModel"}, line
