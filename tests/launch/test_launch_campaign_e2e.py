"""Real campaigns of the real ``resnet --preset tiny`` benchmark under every launcher.

Each tiny run costs 20-40 s of CPU on 2 cores, so these are few and small: 2-run campaigns
under mpirun (2 ranks) and Slurm (2 nodes x 1 task, interrupted then resumed), a 1-run
torchrun campaign (2 procs), kill -9 / SIGTERM / --resume on a local 2-run campaign, and a
--timeout. Every finished log
must pass ``mlperf-submit check`` (resnet, ruleset 4.0.0, open division) and log the seed the
manifest recorded; seeds are unique within a campaign, attempts included.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlperf_submit.launch.campaign import manifest as mf
from mlperf_submit.launch.campaign.proctree import end_job, run_job

PY = sys.executable
RULESET = "4.0.0"


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory) -> Path:
    """One synthetic ImageNet tree for every campaign here (train writes it on first use)."""
    return tmp_path_factory.mktemp("resnet-synthetic") / "data"


def campaign_cmd(out: Path, data: Path, *extra: str) -> list[str]:
    return [
        PY, "-m", "mlperf_submit", "campaign", "resnet", "--out", str(out),
        "--preset", "tiny", "--division", "open", "--synthetic", str(data), *extra,
    ]  # fmt: skip


def run_campaign(cmd, env, timeout=900) -> subprocess.CompletedProcess:
    proc = run_job(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    print(proc.stderr[-4000:])  # the progress lines, shown when a test fails
    return proc


def logged_seeds(log: Path) -> list[int]:
    seeds = []
    for line in log.read_text().splitlines():
        if ":::MLLOG " in line:
            rec = json.loads(line.split(":::MLLOG ", 1)[1])
            if rec["key"] == "seed":
                seeds.append(rec["value"])
    return seeds


def logged_value(log: Path, key: str):
    for line in log.read_text().splitlines():
        if ":::MLLOG " in line:
            rec = json.loads(line.split(":::MLLOG ", 1)[1])
            if rec["key"] == key:
                return rec["value"]
    raise AssertionError(f"{log} has no {key}")


def assert_compliant_runs(out: Path, env, statuses=("converged",)) -> mf.Manifest:
    m = mf.read_manifest(out)
    assert m.state == "finished"
    logs = []
    for r in m.runs:
        assert r.status in statuses, (r.index, r.status, r.note)
        log = out / r.log
        assert logged_seeds(log) == [r.seed], "the seed the campaign chose is logged, once"
        assert r.ruleset == RULESET and r.division == "open" and r.data == "synthetic"
        logs.append(str(log))
    check = run_job(
        [PY, "-m", "mlperf_submit", "check", *logs, "--ruleset", RULESET],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    seeds = [s for r in m.runs for s in r.all_seeds()]
    assert len(seeds) == len(set(seeds)), f"seeds repeat: {seeds}"
    assert sorted(p.name for p in (out / "resnet").glob("run_*.log")) == [
        f"run_{i}.log" for i in range(len(m.runs))
    ]
    return m


@pytest.mark.mpi
def test_mpirun_campaign_two_ranks(tmp_path, launch_env, synthetic_dir, mpirun):
    out = tmp_path / "camp"
    cmd = campaign_cmd(out, synthetic_dir, "--launcher", "mpirun", "--nproc-per-node", "2")
    proc = run_campaign([*cmd, "--runs", "2", "--no-cache-clear"], launch_env)
    assert proc.returncode == 0
    m = assert_compliant_runs(out, launch_env)
    assert m.launcher == "mpirun" and m.nproc_per_node == 2
    for r in m.runs:
        # the recorded command is shell-quoted (a path with a space stays one word)
        assert r.command.startswith(shlex.quote(mpirun)) and " -np 2 " in r.command
        assert not r.cache_cleared and logged_value(out / r.log, "cache_clear") is False


def test_torchrun_campaign_two_procs_clears_caches_truthfully(tmp_path, launch_env, synthetic_dir):
    out = tmp_path / "camp"
    cmd = campaign_cmd(out, synthetic_dir, "--launcher", "torchrun", "--nproc-per-node", "2")
    proc = run_campaign([*cmd, "--runs", "1"], launch_env)  # default: --cache-clear auto
    assert proc.returncode == 0
    m = assert_compliant_runs(out, launch_env)
    r = m.runs[0]
    assert (
        "mlperf_submit.launch.campaign.torchrun" in r.command and "--nproc-per-node=2" in r.command
    )
    may_drop = os.access("/proc/sys/vm/drop_caches", os.W_OK)
    assert r.cache_cleared is may_drop
    assert logged_value(out / r.log, "cache_clear") is may_drop


def _children(pid: int) -> list[int]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    return kids


def _wait_for(predicate, what: str, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _has(path: Path, text: str) -> bool:
    return path.exists() and text in path.read_text(errors="replace")


def test_kill9_sigterm_and_resume(tmp_path, launch_env, synthetic_dir):
    """kill -9 of run 0 -> crashed and the campaign goes on; SIGTERM during run 1 -> run 1
    interrupted, manifest consistent, exit 143; --resume re-runs run 1 only;
    --resume --retry-failed then re-runs run 0."""
    out = tmp_path / "camp"
    cmd = [*campaign_cmd(out, synthetic_dir), "--runs", "2", "--no-cache-clear"]
    camp = subprocess.Popen(cmd, env=launch_env, stderr=subprocess.PIPE, text=True)
    try:
        log0, log1 = out / "resnet" / "run_0.log", out / "resnet" / "run_1.log"
        _wait_for(lambda: _has(log0, '"run_start"'), "run 0 to start")
        (train,) = _children(camp.pid)
        os.kill(train, signal.SIGKILL)
        _wait_for(lambda: _has(log1, '"run_start"'), "run 1 to start after the crash")
        camp.send_signal(signal.SIGTERM)
        _, err = camp.communicate(timeout=120)
    finally:
        if camp.poll() is None:
            end_job(camp.pid)  # the campaign and the train processes below it
    print(err[-3000:])
    assert camp.returncode == 128 + signal.SIGTERM
    m = mf.read_manifest(out)
    assert m.state == "interrupted"
    r0, r1 = m.runs
    assert (r0.status, r0.exit_code, r0.note) == ("crashed", -9, "killed by SIGKILL")
    assert r1.status == "interrupted" and r1.end is not None
    run0_log = log0.read_text()

    proc = run_campaign(
        [*campaign_cmd(out, synthetic_dir), "--resume", "--no-cache-clear"], launch_env
    )
    assert proc.returncode == 1, "a crashed run remains"
    m = mf.read_manifest(out)
    r0b, r1b = m.runs
    assert (r0b.status, r0b.seed) == ("crashed", r0.seed) and log0.read_text() == run0_log
    assert r1b.status == "converged" and r1b.seed != r1.seed
    assert [a["status"] for a in r1b.attempts] == ["interrupted"]
    assert (out / r1b.attempts[0]["log"]).is_file()  # the interrupted log is kept, not overwritten
    assert m.state == "finished"

    proc = run_campaign(
        [*campaign_cmd(out, synthetic_dir), "--resume", "--retry-failed", "--no-cache-clear"],
        launch_env,
    )
    assert proc.returncode == 0
    m = assert_compliant_runs(out, launch_env)
    assert m.runs[1].seed == r1b.seed, "the converged run is left alone"
    assert [a["status"] for a in m.runs[0].attempts] == ["crashed"]
    assert len({s for r in m.runs for s in r.all_seeds()}) == 4


def test_timeout_marks_the_run_timed_out(tmp_path, launch_env):
    out = tmp_path / "camp"
    # its own data dir: the kill may land while train is still writing the synthetic tree
    cmd = [
        *campaign_cmd(out, tmp_path / "syn"),
        "--runs",
        "1",
        "--timeout",
        "2",
        "--no-cache-clear",
    ]
    proc = run_campaign(cmd, launch_env)
    assert proc.returncode == 1
    (r,) = mf.read_manifest(out).runs
    assert r.status == "timed out" and r.exit_code == -signal.SIGTERM
    assert r.duration_s < 60


def test_a_run_whose_peer_never_arrives_is_a_crash_that_resume_runs_again(
    tmp_path, launch_env, synthetic_dir
):
    """Run 0 is rank 0 of a 2-rank job whose rank 1 never starts (the variables say so): it
    gives up after --rendezvous-timeout, the manifest says crashed and why; a plain --resume
    runs it again (it never reached run_start: there is no result to keep)."""
    out = tmp_path / "camp"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    alone = {**launch_env, "RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "0",
             "LOCAL_WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}  # fmt: skip
    cmd = [*campaign_cmd(out, synthetic_dir), "--runs", "1", "--no-cache-clear",
           "--rendezvous-timeout", "3"]  # fmt: skip
    proc = run_campaign(cmd, alone)
    assert proc.returncode == 1, proc.stderr[-2000:]
    (r,) = mf.read_manifest(out).runs
    assert (r.status, r.exit_code, r.started) == ("crashed", 1, False)
    assert r.note == (
        f"exit code 1: rank 0: rank 1 of 2 did not join the rendezvous at 127.0.0.1:{port} "
        "within 3 s (not started, or died before it got there); "
        "MLPERF_SUBMIT_RENDEZVOUS_TIMEOUT sets this timeout"
    )
    proc = run_campaign([*campaign_cmd(out, synthetic_dir), "--resume"], launch_env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    m = assert_compliant_runs(out, launch_env)
    assert [a["status"] for a in m.runs[0].attempts] == ["crashed"]
    assert m.runs[0].started is True


@pytest.mark.slurm
def test_slurm_two_nodes_ctrl_c_then_resume(tmp_path, launch_env, synthetic_dir, slurm_cluster):
    """A 2-node x 1-task campaign through sbatch, asking for GPUs, cores and whole nodes as a
    GPU preset does (the local nodes declare gpu:8; Slurm must accept every option). Ctrl-C on
    the following process during run 0: scancel, wait for the job, run 0 interrupted, exit 130.
    --resume submits again and both runs finish in the same layout, compliant, with unique
    seeds."""
    out = tmp_path / "camp"
    env = {**launch_env, "SLURM_CONF": str(slurm_cluster.conf)}
    cmd = [*campaign_cmd(out, synthetic_dir, "--launcher", "slurm", "--nodes", "2")]
    first = [*cmd, "--runs", "2", "--no-cache-clear", "--time-limit", "20",
             "--gpus-per-node", "8", "--exclusive"]  # fmt: skip
    follower = subprocess.Popen(first, env=env, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: _has(out / "resnet" / "run_0.log", '"run_start"'), "run 0 to start")
        follower.send_signal(signal.SIGINT)
        _, err = follower.communicate(timeout=180)
    finally:
        if follower.poll() is None:
            end_job(follower.pid)
    print(err[-3000:])
    assert follower.returncode == 128 + signal.SIGINT
    assert "cancelling Slurm job" in err
    m = mf.read_manifest(out)
    assert m.state == "interrupted"
    assert [r.status for r in m.runs] == ["interrupted", "pending"]
    first_seed = m.runs[0].seed

    # a bare --resume: launcher, nodes, cache mode ... come from the manifest
    proc = run_campaign([*campaign_cmd(out, synthetic_dir), "--resume"], env)
    assert proc.returncode == 0
    m = assert_compliant_runs(out, launch_env)
    assert m.launcher == "slurm" and m.cache_clear == "off" and len(m.slurm_jobs) == 2
    job = m.slurm_jobs[1]
    assert (out / "run.sub").is_file() and (out / f"slurm-{job}.out").is_file()
    assert f"Slurm job {job} ended: COMPLETED" in proc.stderr
    assert [a["status"] for a in m.runs[0].attempts] == ["interrupted"]
    assert m.runs[0].seed != first_seed
    assert "#SBATCH --gpus-per-node=8\n#SBATCH --exclusive\n" in (out / "run.sub").read_text()
    for r in m.runs:
        assert r.hosts == ["n1", "n2"]
        # the job got the whole node: both CPUs for its one task
        assert r.command.startswith(
            f"srun --nodes=2 --ntasks-per-node=1 --gpus-per-node=8 "
            f"--cpus-per-task={os.cpu_count()} --exclusive --kill-on-bad-exit=1"
        ), r.command


def test_train_usage_error_stops_the_campaign(tmp_path, launch_env, synthetic_dir):
    """train exits 2 at once (a flag only train refuses; bad config keys and a preset that is
    not closed are refused before the first run): the campaign does not burn N runs on it."""
    out = tmp_path / "camp"
    cmd = [*campaign_cmd(out, synthetic_dir), "--runs", "2", "--no-cache-clear", "--",
           "--world-size", "2"]  # fmt: skip
    proc = run_campaign(cmd, launch_env)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "run 0 stopped at once with exit 2" in proc.stderr and "--world-size" in proc.stderr
    m = mf.read_manifest(out)
    assert [r.status for r in m.runs] == ["crashed", "pending"] and m.state == "interrupted"


def test_ctrl_c_while_clearing_caches_starts_nothing(tmp_path, launch_env, synthetic_dir):
    out = tmp_path / "camp"
    cmd = [*campaign_cmd(out, synthetic_dir), "--runs", "2", "--cache-clear", "sleep 3; true"]
    camp = subprocess.Popen(cmd, env=launch_env, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: _has(out / "campaign.json", "clearing caches"), "the cache clearing")
        camp.send_signal(signal.SIGINT)
        _, err = camp.communicate(timeout=60)
    finally:
        if camp.poll() is None:
            end_job(camp.pid)  # the campaign and the train processes below it
    assert camp.returncode == 128 + signal.SIGINT, err
    m = mf.read_manifest(out)
    assert [(r.status, r.note) for r in m.runs] == [
        ("interrupted", "stopped before it started"),
        ("pending", None),
    ]
    assert m.state == "interrupted" and not (out / "resnet" / "run_0.log").exists()
