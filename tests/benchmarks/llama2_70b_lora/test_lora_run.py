"""Two gloo processes: FSDP2 (the meta-built model sharded, each rank reading only its rows of
the checkpoint, adapters sharded) fine-tunes exactly as DDP does."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from mlperf_submit.compliance.filecheck import check_file

REPO = Path(__file__).resolve().parents[3]


def two_ranks(*argv) -> list[tuple[int, str]]:
    """``python -m mlperf_submit train ...`` as 2 processes joined through the torchrun
    variables (gloo on CPU)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    procs = []
    for rank in range(2):
        env = dict(os.environ, RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2",
                   LOCAL_WORLD_SIZE="2", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
                   OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))  # fmt: skip
        cmd = [sys.executable, "-m", "mlperf_submit", "train", *map(str, argv)]
        procs.append(subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True))  # fmt: skip
    out = []
    try:
        for p in procs:
            text, _ = p.communicate(timeout=600)
            out.append((p.returncode, text))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    return out


@pytest.mark.slow
def test_fsdp2_fine_tunes_like_ddp(lora_root, tmp_path):
    evals = {}
    for mode in ("ddp", "fsdp2"):
        log = tmp_path / f"{mode}.log"
        for rc, out in two_ranks(
            "llama2_70b_lora", "--preset", "tiny", "--seed", 7, "--log", log,
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
