"""The campaign's parts, each on its own: status rules, command lines, manifest, resume
bookkeeping, cache clearing, the log follower, the progress line and CLI validation.

The end-to-end campaigns with the real ``train`` are in test_launch_campaign_e2e.py.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlperf_submit.cli import main as cli_main
from mlperf_submit.errors import InputError, UsageError
from mlperf_submit.launch.campaign import manifest as mf
from mlperf_submit.launch.campaign.cache import clear_caches, drop_caches
from mlperf_submit.launch.campaign.command import parse_duration
from mlperf_submit.launch.campaign.commandline import LaunchSpec, wrap
from mlperf_submit.launch.campaign.logtail import LogTail
from mlperf_submit.launch.campaign.progress_line import Progress, eta_seconds, hms
from mlperf_submit.launch.campaign.runner import (
    CampaignConfig,
    check_train_args,
    classify,
    prepare,
    runs_to_do,
)
from mlperf_submit.launch.campaign.slurm import render_script, write_script
from tests.damage import DAMAGES, damage, listing

PY = sys.executable


# -- classify ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "rc,run_stop,reason,status,note",
    [
        (0, "success", None, "converged", None),
        (3, "aborted", None, "not converged", None),
        (1, "aborted", None, "not converged", "exit code 1 with run_stop aborted"),  # torchrun
        (1, "success", None, "converged", "exit code 1 after run_stop success"),
        (0, None, None, "crashed", "exit code 0 but the log has no run_stop"),
        (-9, None, None, "crashed", "killed by SIGKILL"),
        (2, None, None, "crashed", "train refused its arguments or input (exit 2)"),
        (134, None, None, "crashed", "exit code 134"),
        (-15, None, "timed out", "timed out", "killed after --timeout"),
        (-15, "success", "interrupted", "interrupted", "stopped by a signal to the campaign"),
    ],
)
def test_classify(rc, run_stop, reason, status, note):
    assert classify(rc, run_stop, reason) == (status, note)


@pytest.mark.parametrize(
    "text,seconds",
    [("90", 90), ("90s", 90), ("1.5m", 90), ("2h", 7200), ("1:30:00", 5400), ("05:00", 300)],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


def test_parse_duration_rejects():
    with pytest.raises(UsageError, match="--timeout 'soon'"):
        parse_duration("soon")


# -- command lines ----------------------------------------------------------------------------
TRAIN = ["--seed", "7", "--log", "/o/resnet/run_0.log"]


def test_local_command():
    argv, env = wrap(LaunchSpec("local"), "resnet", TRAIN)
    assert argv == [PY, "-m", "mlperf_submit", "train", "resnet", *TRAIN] and env == {}
    _, env = wrap(LaunchSpec("local", rendezvous_timeout_s=90), "resnet", TRAIN)
    assert env == {"MLPERF_SUBMIT_RENDEZVOUS_TIMEOUT": "90"}


def test_torchrun_command_binds_its_own_port():
    argv, env = wrap(LaunchSpec("torchrun", nproc_per_node=2), "resnet", TRAIN)
    assert argv[:3] == [PY, "-m", "mlperf_submit.launch.campaign.torchrun"]
    assert "--nproc-per-node=2" in argv and "--standalone" in argv and env == {}
    assert not any(a.startswith("--master-port") for a in argv)
    assert argv[argv.index("--") :] == ["--", PY, "-m", "mlperf_submit", "train", "resnet", *TRAIN]


def test_openmpi_command_as_root_on_one_host():
    """No MASTER_PORT: rank 0 binds one and tells the others over MPI (rendezvous.py)."""
    spec = LaunchSpec("mpirun", nproc_per_node=4, mpirun="/x/mpirun", rendezvous_timeout_s=60)
    argv, env = wrap(spec, "resnet", TRAIN, flavour="openmpi")
    assert argv[:3] == ["/x/mpirun", "-np", "4"]
    assert ("--allow-run-as-root" in argv) == (os.geteuid() == 0)
    assert ("--oversubscribe" in argv) == (os.cpu_count() < 4)
    exported = [argv[i + 1] for i, a in enumerate(argv) if a == "-x"]
    assert exported == ["MASTER_ADDR", "MLPERF_SUBMIT_RENDEZVOUS_TIMEOUT"]
    assert env == {"MASTER_ADDR": "127.0.0.1", "MLPERF_SUBMIT_RENDEZVOUS_TIMEOUT": "60"}
    assert argv[-len(TRAIN) - 5 :] == [PY, "-m", "mlperf_submit", "train", "resnet", *TRAIN]


def test_openmpi_command_on_two_hosts():
    spec = LaunchSpec("mpirun", nproc_per_node=2, nodes=2, hosts=("a", "b"), mpirun="mpirun")
    argv, env = wrap(spec, "resnet", TRAIN, master_port=1, flavour="openmpi")
    assert argv[argv.index("--host") + 1] == "a:2,b:2" and "--oversubscribe" not in argv
    assert env["MASTER_ADDR"] == "a"


def test_mpich_command():
    spec = LaunchSpec("mpirun", nproc_per_node=2, nodes=2, hosts=("a", "b"), mpirun="mpiexec")
    argv, _ = wrap(spec, "resnet", TRAIN, master_port=1, flavour="mpich")
    assert argv[:7] == ["mpiexec", "-n", "4", "-ppn", "2", "-hosts", "a,b"]


def test_srun_command_with_container():
    spec = LaunchSpec("srun", nproc_per_node=8, nodes=2, container="nvcr.io/x:1", mounts=("/o",))
    argv, env = wrap(spec, "resnet", TRAIN, master_port=29500)
    assert argv[:4] == ["srun", "--nodes=2", "--ntasks-per-node=8", "--kill-on-bad-exit=1"]
    assert "--container-name=mlperf-submit" in argv and "--container-mounts=/o:/o" in argv
    assert not any(a.startswith("--container-image") for a in argv), "created once by run.sub"
    assert argv[-len(TRAIN) - 3 :] == ["mlperf-submit", "train", "resnet", *TRAIN]
    assert env == {"MASTER_PORT": "29500"}


def test_srun_command_asks_for_the_gpus_and_cores_the_run_uses():
    """Where a cluster confines a job to what it asked for, a run asking for nothing sees no
    GPU and shares one core per task (issue 17 item 2)."""
    spec = LaunchSpec("srun", nproc_per_node=8, nodes=2, gpus_per_node=8, cpus_per_task=14,
                      exclusive=True)  # fmt: skip
    argv, _ = wrap(spec, "llama31_8b", TRAIN, master_port=29500)
    assert argv[:7] == [
        "srun", "--nodes=2", "--ntasks-per-node=8", "--gpus-per-node=8", "--cpus-per-task=14",
        "--exclusive", "--kill-on-bad-exit=1",
    ]  # fmt: skip


def test_cache_clearing_reaches_every_node():
    from mlperf_submit.launch.campaign.commandline import cache_clear_argv

    drop = [PY, "-m", "mlperf_submit.launch.campaign.cache"]
    assert cache_clear_argv(LaunchSpec("local")) is None
    assert cache_clear_argv(LaunchSpec("torchrun", nproc_per_node=2)) is None
    assert cache_clear_argv(LaunchSpec("mpirun", nproc_per_node=2, hosts=("a",))) is None
    assert cache_clear_argv(LaunchSpec("srun", nproc_per_node=8, nodes=2)) == [
        "srun", "--nodes=2", "--ntasks-per-node=1", *drop
    ]  # fmt: skip
    spec = LaunchSpec("mpirun", nproc_per_node=8, nodes=2, hosts=("a", "b"), mpirun="mpirun")
    argv = cache_clear_argv(spec, flavour="openmpi")
    assert argv[:5] == ["mpirun", "-np", "2", "--host", "a:1,b:1"] and argv[-3:] == drop
    argv = cache_clear_argv(replace(spec, mpirun="mpiexec"), flavour="mpich")
    assert argv == ["mpiexec", "-n", "2", "-ppn", "1", "-hosts", "a,b", *drop]


@pytest.mark.parametrize("flag", ["--seed", "--log=x", "--cache-cleared", "--preset", "--data"])
def test_owned_train_flags_refused(flag):
    with pytest.raises(UsageError, match="set by the campaign"):
        check_train_args(["max_epochs=3", flag])


# -- manifest ---------------------------------------------------------------------------------
def _cfg(tmp_path, **kw) -> CampaignConfig:
    base = dict(benchmark="resnet", out=tmp_path / "c", runs=3, ruleset="4.0.0", division="open")
    base.update(kw)
    return CampaignConfig(**base)


def test_manifest_roundtrip_and_atomic_write(tmp_path):
    m = prepare(_cfg(tmp_path))
    assert [r.status for r in m.runs] == ["pending"] * 3
    with mf.locked_manifest(tmp_path / "c") as m2:
        m2.runs[1].status, m2.runs[1].seed = "converged", 5
    again = mf.read_manifest(tmp_path / "c")
    assert again.runs[1].status == "converged" and again.runs[1].seed == 5
    assert again.finished_runs() == [again.runs[1]]
    leftovers = [p.name for p in (tmp_path / "c").iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []
    data = json.loads((tmp_path / "c" / "campaign.json").read_text())
    assert data["format"] == mf.FORMAT and data["runs"][1]["status"] == "converged"


@pytest.mark.parametrize(
    "text,words",
    [
        (
            '{"format": "mlperf-submit campaign 1",\n "runs": [',
            ["campaign.json:2", "not valid JSON"],
        ),
        ("[1, 2]", ["JSON object"]),
        ('{"format": "other"}', ["unknown manifest format"]),
        ('{"format": "mlperf-submit campaign 1"}', ["missing or unexpected"]),
        ("\x00\xff\xfe", ["campaign.json"]),
    ],
)
def test_garbled_manifest_is_an_input_error(tmp_path, text, words):
    (tmp_path / "campaign.json").write_bytes(text.encode("latin-1"))
    with pytest.raises(InputError) as info:
        mf.read_manifest(tmp_path)
    for w in words:
        assert w in str(info.value)


def test_bad_run_status_is_named(tmp_path):
    m = prepare(_cfg(tmp_path))
    data = json.loads(m.to_json())
    data["runs"][2]["status"] = "exploded"
    (tmp_path / "c" / "campaign.json").write_text(json.dumps(data))
    with pytest.raises(InputError, match=r"runs\[2\] has unknown status 'exploded'"):
        mf.read_manifest(tmp_path / "c")


def test_prepare_refuses_to_clobber(tmp_path):
    prepare(_cfg(tmp_path))
    with pytest.raises(UsageError, match="--resume"):
        prepare(_cfg(tmp_path))
    with pytest.raises(UsageError, match="ruleset: campaign has '4.0.0', now '3.1.0'"):
        prepare(_cfg(tmp_path, ruleset="3.1.0", resume=True))
    with pytest.raises(UsageError, match="cannot shrink"):
        prepare(_cfg(tmp_path, runs=2, resume=True))
    assert len(prepare(_cfg(tmp_path, runs=5, resume=True)).runs) == 5


def test_prepare_refuses_stray_logs_and_missing_campaign(tmp_path):
    (tmp_path / "c" / "resnet").mkdir(parents=True)
    (tmp_path / "c" / "resnet" / "run_0.log").write_text("mine\n")
    with pytest.raises(UsageError, match="already holds run logs"):
        prepare(_cfg(tmp_path))
    assert (tmp_path / "c" / "resnet" / "run_0.log").read_text() == "mine\n"
    with pytest.raises(UsageError, match="no campaign to resume"):
        prepare(_cfg(tmp_path, out=tmp_path / "new", resume=True))


def test_runs_to_do(tmp_path):
    m = prepare(_cfg(tmp_path, runs=6))
    for r, s in zip(m.runs, mf.STATUSES[1:]):
        r.status = s  # running, converged, not converged, crashed, timed out, interrupted
    assert runs_to_do(m, retry_failed=False) == [0, 5]
    assert runs_to_do(m, retry_failed=True) == [0, 3, 4, 5]
    m.runs[3].started = False  # crashed before run_start (a rank missing): no result to keep
    assert runs_to_do(m, retry_failed=False) == [0, 3, 5]
    assert runs_to_do(m, retry_failed=False, only=5) == [5]
    assert runs_to_do(m, retry_failed=False, only=1) == []
    with pytest.raises(UsageError, match="runs 0..5"):
        runs_to_do(m, retry_failed=False, only=6)


# -- cache clearing ---------------------------------------------------------------------------
def test_cache_clear_modes(tmp_path):
    assert not clear_caches("off").cleared
    assert clear_caches("true").cleared
    failed = clear_caches("echo no permission >&2; exit 3")
    assert not failed.cleared and "exited 3" in failed.how and "no permission" in failed.how
    # a drop_caches file we cannot write (a directory): reported, not raised
    res = drop_caches(str(tmp_path))
    assert not res.cleared and "cannot write" in res.how


def test_cache_clear_auto_tells_the_truth():
    """Really drops the page cache when we may (root, writable /proc/sys), else says why not."""
    res = clear_caches("auto")
    assert res.cleared == os.access("/proc/sys/vm/drop_caches", os.W_OK)


# -- following a log --------------------------------------------------------------------------
def _mllog(key, value, **meta):
    return ":::MLLOG " + json.dumps(
        {"namespace": "", "time_ms": 1, "event_type": "POINT_IN_TIME", "key": key,
         "value": value, "metadata": {"file": "x.py", "lineno": 1, **meta}}
    )  # fmt: skip


def test_logtail_reads_only_complete_new_lines(tmp_path):
    log = tmp_path / "run.log"
    tail = LogTail(log)
    assert not tail.poll()  # no file yet
    with open(log, "w") as f:
        f.write(_mllog("seed", 42) + "\n" + _mllog("eval_accuracy", 0.5, epoch_num=4) + "\n")
        f.write(_mllog("eval_accuracy", 0.9, epoch_num=8)[:30])  # half a line
    assert tail.poll() and tail.last_eval == (4, 0.5) and tail.seeds == [42]
    with open(log, "a") as f:
        f.write(_mllog("eval_accuracy", 0.9, epoch_num=8)[30:] + "\nnoise line\n")
        f.write(_mllog("run_stop", None, status="success") + "\n")
    assert tail.poll()
    assert tail.last_eval == (8, 0.9) and tail.run_stop_status == "success"
    assert tail.n_lines == 5 and tail.n_mllog == 4


# -- progress line ----------------------------------------------------------------------------
def test_progress_line_and_eta():
    assert hms(3725) == "1:02:05" and hms(None) == "?"
    assert eta_seconds([], 3, 10) is None
    assert eta_seconds([10, 20], 2, 5) == 10 + 30
    stream = io.StringIO()
    p = Progress("resnet", 5, stream=stream, durations=[60.0])
    p.update(2, 1234, 30.0, 3, (8, 0.6875), changed=True)
    p.update(2, 1234, 31.0, 3, (8, 0.6875))  # nothing new: not printed to a file
    p.message("run 2/5 converged")
    lines = stream.getvalue().splitlines()
    assert lines == [
        "[campaign resnet] run 2/5 seed 1234 | 0:00:30 | ETA 0:03:30 | eval 0.6875 @ 8",
        "[campaign resnet] run 2/5 converged",
    ]


# -- Slurm batch script -----------------------------------------------------------------------
def test_run_sub_is_strict_bash_with_the_run_sub_conventions(tmp_path):
    cfg = _cfg(
        tmp_path,
        spec=LaunchSpec("slurm", nproc_per_node=8, nodes=2, container="nvcr.io/nvidia/pytorch:25.01-py3"),
        preset="tiny",
        data_dir="/data/syn",
        train_args=["max_epochs=4"],
    )  # fmt: skip
    text = render_script(cfg, time_limit="01:00:00")
    path = tmp_path / "run.sub"
    path.write_text(text)
    subprocess.run(["bash", "-n", str(path)], check=True)  # syntax
    for needle in [
        "#SBATCH --nodes=2",
        "#SBATCH --ntasks-per-node=8",
        "#SBATCH --time=01:00:00",
        "set -euo pipefail",
        ': "${SLURM_JOB_ID:?',
        ': "${MASTER_PORT:=$(( 20000 + RANDOM % 10000 ))}"',
        ': "${NEXP:=3}"',
        "export MASTER_ADDR MASTER_PORT",
        '--container-image="$CONTAINER_IMAGE" --container-name=mlperf-submit',
        "for (( i = 0; i < NEXP; i++ )); do",
        '--run-index "$i" -- "${TRAIN_ARGS[@]}"',
        "TRAIN_ARGS=(max_epochs=4)",
        "  --launcher srun\n",
        "  --nproc-per-node 8\n",
        '  --out "$OUT" --runs "$NEXP"',
        "  --container nvcr.io/nvidia/pytorch:25.01-py3\n",
    ]:
        assert needle in text, needle
    assert render_script(cfg, time_limit="01:00:00") == text, "deterministic"
    assert "--gpus-per-node" not in text.split("CAMPAIGN=(")[0], "a CPU preset asks for none"


def test_run_sub_asks_for_gpus_cores_and_whole_nodes(tmp_path):
    spec = LaunchSpec("slurm", nproc_per_node=8, nodes=2, gpus_per_node=8, exclusive=True,
                      container="nvcr.io/x:1", mounts=("/o", "/data"), rendezvous_timeout_s=600)  # fmt: skip
    text = render_script(_cfg(tmp_path, spec=spec, preset="8b", benchmark="llama31_8b"))
    for needle in [
        "#SBATCH --gpus-per-node=8\n#SBATCH --exclusive\n",
        ': "${CPUS_PER_TASK:=}"',
        "CPUS_PER_TASK=$(( ${SLURM_CPUS_ON_NODE:-1} / 8 ))",
        "  --gpus-per-node 8\n  --exclusive\n  --rendezvous-timeout 600\n",
        '  --cpus-per-task "$CPUS_PER_TASK"\n',
        '--container-image="$CONTAINER_IMAGE" --container-name=mlperf-submit',
    ]:
        assert needle in text, needle
    given = render_script(_cfg(tmp_path, spec=replace(spec, cpus_per_task=14)))
    assert "#SBATCH --cpus-per-task=14" in given and ': "${CPUS_PER_TASK:=14}"' in given


def test_run_sub_is_not_overwritten_when_edited(tmp_path):
    cfg = _cfg(tmp_path, spec=LaunchSpec("slurm"))
    cfg.out.mkdir()
    write_script(cfg, "#!/bin/bash\necho one\n")
    write_script(cfg, "#!/bin/bash\necho one\n")  # same text: fine
    with pytest.raises(UsageError, match="differs"):
        write_script(cfg, "#!/bin/bash\necho two\n")
    assert (cfg.out / "run.sub").read_text() == "#!/bin/bash\necho one\n"


def test_run_sub_fails_clearly_outside_sbatch(tmp_path):
    path = tmp_path / "run.sub"
    path.write_text(render_script(_cfg(tmp_path, spec=LaunchSpec("slurm"))))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    proc = subprocess.run(["bash", str(path)], capture_output=True, text=True, env=env)
    assert proc.returncode != 0 and "run.sub must be submitted with sbatch" in proc.stderr


# -- CLI validation (exit 2, one clear line, nothing written) --------------------------------
@pytest.mark.parametrize(
    "extra,words",
    [
        (["nosuchbm"], "unknown benchmark 'nosuchbm'"),
        (["resnet", "--ruleset", "6.1.0"], "not a benchmark of ruleset 6.1.0"),
        (["resnet", "--hosts", "a,b"], "--hosts is for --launcher mpirun"),
        (["resnet", "--nodes", "2"], "runs on this host only"),
        (["resnet", "--nproc-per-node", "2"], "use torchrun or mpirun"),
        (["resnet", "--container", "img"], "--container works with"),
        (["resnet", "--runs", "0"], "--runs must be at least 1"),
        (["resnet", "--timeout", "later"], "--timeout 'later'"),
        (["resnet", "--", "--seed", "1"], "--seed after `--` is set by the campaign"),
        (["resnet", "--retry-failed"], "--retry-failed goes with --resume"),
        (["resnet", "--resume"], "no campaign to resume"),
        (["resnet", "--gpus-per-node", "8"], "--gpus-per-node: for --launcher srun or slurm"),
        (["resnet", "--rendezvous-timeout", "soon"], "--rendezvous-timeout 'soon'"),
        (["resnet", "--preset", "tiny"], "add --division open"),
        (["resnet", "--division", "open", "--", "no.such=1"], "no.such"),
    ],
)
def test_cli_usage_errors(tmp_path, capsys, extra, words):
    out = tmp_path / "camp"
    rc = cli_main(["campaign", *extra[:1], "--out", str(out), *extra[1:]])
    err = capsys.readouterr().err
    assert rc == 2 and words in err and "Traceback" not in err, err
    assert not (out / "campaign.json").exists()


def test_cli_garbled_manifest_on_resume(tmp_path, capsys):
    (tmp_path / "campaign.json").write_text("{ nope")
    rc = cli_main(["campaign", "resnet", "--out", str(tmp_path), "--resume"])
    err = capsys.readouterr().err
    assert rc == 2 and f"{tmp_path / 'campaign.json'}:1: not valid JSON" in err
    assert (tmp_path / "campaign.json").read_text() == "{ nope"


def test_default_run_count_is_the_official_one(tmp_path):
    from mlperf_submit.launch.campaign.command import build_config

    parser = __import__("argparse").ArgumentParser()
    from mlperf_submit.launch.campaign.command import add_arguments

    add_arguments(parser)
    closed = ["--preset", "config_DGXH100_1x8x400"]
    cfg = build_config(parser.parse_args(["resnet", "--out", str(tmp_path), *closed]))
    assert (cfg.runs, cfg.ruleset, cfg.division) == (5, "4.0.0", "closed")
    cfg = build_config(parser.parse_args(["llama31_8b", "--out", str(tmp_path), "--preset", "8b"]))
    assert (cfg.runs, cfg.ruleset) == (10, "6.1.0")
    assert Path(cfg.out).is_absolute()


def test_slurm_requests_follow_the_preset(tmp_path):
    """A GPU preset asks Slurm for a GPU per process and whole nodes; a CPU preset for none;
    the flags override."""
    from mlperf_submit.launch.campaign.command import add_arguments, build_config

    parser = __import__("argparse").ArgumentParser()
    add_arguments(parser)
    base = ["llama31_8b", "--out", str(tmp_path), "--launcher", "slurm", "--nproc-per-node", "4"]
    spec = build_config(parser.parse_args([*base, "--preset", "8b"])).spec
    assert (spec.gpus_per_node, spec.exclusive, spec.cpus_per_task) == (4, True, None)
    spec = build_config(parser.parse_args([*base, "--preset", "tiny", "--division", "open"])).spec
    assert (spec.gpus_per_node, spec.exclusive) == (0, False)
    args = [*base, "--preset", "8b", "--gpus-per-node", "8", "--no-exclusive",
            "--cpus-per-task", "12"]  # fmt: skip
    spec = build_config(parser.parse_args(args)).spec
    assert (spec.gpus_per_node, spec.exclusive, spec.cpus_per_task) == (8, False, 12)


def test_run_sub_variables_survive_odd_characters(tmp_path):
    """Paths and commands with spaces, quotes and $ reach the job unchanged."""
    odd_out = tmp_path / 'a b "c" $HOME'
    cfg = _cfg(tmp_path, out=odd_out, spec=LaunchSpec("slurm"), cache_clear="echo 'x' \\$y")
    text = render_script(cfg)
    block = text[text.index(': "${OUT:=') : text.index("# Rank 0 runs")]
    probe = block + 'printf "%s\\n" "$OUT" "$CACHE_CLEAR" "$CONTAINER_IMAGE"\n'
    env = {"PATH": os.environ["PATH"], "HOME": "/home"}
    out = subprocess.run(["bash", "-euc", probe], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:3] == [str(odd_out), "echo 'x' \\$y", ""]


@pytest.mark.slurm
def test_cache_clearing_on_every_slurm_node(slurm_cluster, monkeypatch):
    """What a campaign inside an allocation runs before each run: one drop per node."""
    import shlex

    from mlperf_submit.launch.campaign.commandline import cache_clear_argv

    monkeypatch.setenv("SLURM_CONF", str(slurm_cluster.conf))
    argv = cache_clear_argv(LaunchSpec("srun", nodes=2))
    res = clear_caches(shlex.join(["srun", "-t", "2", *argv[1:]]))
    assert res.cleared == os.access("/proc/sys/vm/drop_caches", os.W_OK), res.how


@settings(max_examples=14, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(kind=st.sampled_from(DAMAGES), what=st.sampled_from(["manifest", "run log"]))
def test_resume_on_a_damaged_campaign(capsys, kind, what):
    """A finished campaign whose manifest or a run log is damaged (tests/damage.py): an
    unusable manifest is exit 2 naming it, with the campaign dir untouched; a damaged log of a
    finished run is never read again (nothing to re-run: exit 0)."""
    with tempfile.TemporaryDirectory() as tmp:
        cfg = _cfg(Path(tmp), runs=2)
        prepare(cfg)
        with mf.locked_manifest(cfg.out) as m:
            for r in m.runs:
                r.status, r.seed, r.log = "converged", 10 + r.index, f"resnet/run_{r.index}.log"
                (cfg.out / r.log).write_text(":::MLLOG {}\n")
        path = cfg.out / ("campaign.json" if what == "manifest" else "resnet/run_1.log")
        is_json = what == "manifest"
        damage(path, kind, is_json=is_json)
        before = listing(cfg.out)
        code = cli_main(["campaign", "resnet", "--out", str(cfg.out), "--resume"])
        err = capsys.readouterr().err
        assert "Traceback" not in err
        if is_json:
            assert code == 2 and str(path) in err, err
            assert listing(cfg.out) == before, "nothing written on unusable input"
        else:
            assert code == 0, err


@pytest.mark.slurm
def test_slurm_up_and_down_as_make_runs_them(tmp_path):
    """`make slurm-up` / `make slurm-down` run this module: up prints the SLURM_CONF to export
    and the nodes answer with their GPUs declared; a second up is refused; down stops every
    daemon (no process left: the autouse fixture)."""
    cli = [PY, "-m", "mlperf_submit.launch.campaign.local_slurm"]
    where = ["--dir", str(tmp_path / "slurm")]
    up = subprocess.run([*cli, "up", *where], capture_output=True, text=True, timeout=120)
    try:
        assert up.returncode == 0, up.stderr
        conf = tmp_path / "slurm" / "slurm.conf"
        assert f"export SLURM_CONF={conf}" in up.stdout
        env = {**os.environ, "SLURM_CONF": str(conf)}
        nodes = subprocess.run(["sinfo", "-h", "-N", "-o", "%N %t %G"], env=env,
                               capture_output=True, text=True, timeout=60).stdout.split("\n")  # fmt: skip
        assert nodes[:2] == ["n1 idle gpu:8", "n2 idle gpu:8"]
        again = subprocess.run([*cli, "up", *where], capture_output=True, text=True, timeout=60)
        assert again.returncode == 2 and "already running" in again.stderr
        status = subprocess.run([*cli, "status", *where], capture_output=True, text=True)
        assert status.returncode == 0 and "running" in status.stdout
    finally:
        down = subprocess.run([*cli, "down", *where], capture_output=True, text=True, timeout=60)
    assert down.returncode == 0 and "stopped" in down.stdout
    status = subprocess.run([*cli, "status", *where], capture_output=True, text=True)
    assert status.returncode == 1 and "not running" in status.stdout


def test_campaign_says_what_to_do_without_a_slurm_controller(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SLURM_CONF", str(tmp_path / "nowhere.conf"))
    out = tmp_path / "camp"
    rc = cli_main(["campaign", "resnet", "--launcher", "slurm", "--nodes", "2", "--preset",
                   "tiny", "--division", "open", "--out", str(out)])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 2 and "no Slurm controller answers" in err and "make slurm-up" in err, err
    assert "export SLURM_CONF=/tmp/mlperf-submit-slurm/slurm.conf" in err
    assert not out.exists(), "nothing written"
