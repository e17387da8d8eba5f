"""dlrm_dcnv2 end to end on 2 gloo ranks under torchrun: TorchRec's planner shards the tables
(auto: a model-parallel type per table, FBGEMM's fused kernel), the ranks read their slices,
the AUC comes from every rank's scores, and the log is compliant (ours and the official)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

from multi_rank import free_port

from mlperf_submit.compliance import official
from mlperf_submit.compliance.filecheck import check_file


def test_two_rank_run_with_the_planners_plan_is_compliant(tmp_path, tiny_runs):
    data = tiny_runs.get("dlrm_dcnv2").data_dir
    log = tmp_path / "dmp.log"
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
        "--master-port", str(free_port()), "-m", "mlperf_submit", "--",
        "train", "dlrm_dcnv2", "--preset", "tiny", "--seed", "2", "--log", str(log),
        "--synthetic", str(data),
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        start_new_session=True,
    )  # fmt: skip
    try:
        _, stderr = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, stderr[-3000:]
    report = check_file(log, "6.0.0")
    assert report.passed, report.errors
    assert report.facts.global_batch_size == 256 and report.facts.run_stop_status == "success"
    verdict = official.compliance_checker(str(log), "6.0.0")
    assert verdict.passed, verdict.output
    recs = [json.loads(ln.split(":::MLLOG ", 1)[1]) for ln in log.read_text().splitlines()]
    evals = [r["metadata"]["epoch_num"] for r in recs if r["key"] == "eval_accuracy"]
    # 8,192 rows / 256 = 32 steps an epoch, floor(8192 / (256 x 8)) = 4 steps per evaluation
    assert evals == [0.125 * k for k in range(1, len(evals) + 1)]
