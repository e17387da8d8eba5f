"""`mlperf-submit package` on a real tiny campaign: the official package_checker accepts the tree."""

import json
import os
import shutil
import stat
import subprocess

import pytest

from mlperf_submit.cli import main
from mlperf_submit.compliance import official
from mlperf_submit.submission.detect import SYSTEM_KEYS
from mlperf_submit.submission.tree import DRY_RUN_NOTE, mllog_lines

from .conftest import ORG, SYSTEM


def package_args(campaign, out, *extra):
    return ["package", "--org", ORG, "--detect", "--system-name", SYSTEM, "--division", "open",
            str(campaign), "--out", str(out), *extra]  # fmt: skip


@pytest.fixture(scope="module")
def tree(resnet_campaign, tmp_path_factory):
    out = tmp_path_factory.mktemp("pkg") / "out"
    assert main(package_args(resnet_campaign, out)) == 0
    return out / ORG


@pytest.mark.official
def test_official_package_checker_accepts_the_tree(tree):
    v = official.package_checker(str(tree), "4.0.0")
    assert v.passed is True, v.output[-3000:]
    assert v.message == "PACKAGE CHECKER FOUND NO ERRORS, SUCCESS !"
    assert official.repo_checker(str(tree), "4.0.0").passed is True


def test_layout_and_result_files_hold_only_the_mllog_lines(tree, resnet_campaign):
    assert sorted(p.name for p in tree.iterdir()) == [
        "README.md",
        "benchmarks",
        "results",
        "systems",
    ]
    results = sorted((tree / "results" / SYSTEM / "resnet").iterdir())
    assert [p.name for p in results] == [f"result_{i}.txt" for i in range(5)]
    runs = json.loads((tree / "benchmarks/resnet/implementations/mlperf_submit_pytorch/"
                       "submitted_runs.json").read_text())  # fmt: skip
    for i, path in enumerate(results):
        text = path.read_text()
        assert text and all(line.startswith(":::MLLOG {") for line in text.splitlines())
        (run,) = [r for r in runs["runs"] if r["submitted_as"] == f"result_{i}.txt"]
        log = resnet_campaign / "resnet" / f"run_{run['run']}.log"
        assert text == mllog_lines(log)
    assert "all 5 runs" in runs["selection"]


def test_system_description_is_complete_and_says_dry_run(tree):
    desc = json.loads((tree / "systems" / f"{SYSTEM}.json").read_text())
    assert list(desc)[:33] == list(SYSTEM_KEYS)
    assert all(isinstance(v, str) for v in desc.values())
    assert (desc["submitter"], desc["division"], desc["system_name"]) == (ORG, "open", SYSTEM)
    assert desc["sw_notes"].startswith(DRY_RUN_NOTE)
    assert "DRY RUN" in (tree / "README.md").read_text()


def test_implementation_folder(tree):
    impl = tree / "benchmarks/resnet/implementations/mlperf_submit_pytorch"
    readme = (impl / "README.md").read_text()
    for section in ("## 1. Problem", "## 2. Directions", "### Steps to run and time",
                    "## 3. Dataset/Environment", "## 4. Model", "## 5. Quality",
                    "### Quality target", "DRY RUN", "--preset tiny"):  # fmt: skip
        assert section in readme, section
    script = impl / "run_and_time.sh"
    assert script.stat().st_mode & stat.S_IXUSR
    text = script.read_text()
    assert "set -euo pipefail" in text and "train resnet --preset tiny" in text
    assert "--org TestOrg" in text
    subprocess.run(["bash", "-n", str(script)], check=True)
    config = json.loads((impl / "config_test_cpu_node_tiny.json").read_text())
    assert config["preset"] == "tiny" and config["config"]["optim.name"] in ("lars", "sgd")
    assert config["quality_target"] == pytest.approx(0.759)
    assert (impl / "mlperf_submit" / "submission" / "tree.py").is_file()
    assert not list(impl.rglob("__pycache__")) and not list(impl.rglob(".*"))


def test_verify_cli_passes_and_writes_the_summary_outside(tree, tmp_path, capsys):
    before = {p: p.stat().st_mtime_ns for p in tree.rglob("*")}
    rc = main(["verify", str(tree), "--json", "--summary-dir", str(tmp_path / "sum")])
    report = json.loads(capsys.readouterr().out)
    assert rc == 0 and report["passed"] and report["ruleset"] == "4.0.0"
    assert report["ruleset_inferred"] is True
    (row,) = report["summary"]["rows"]
    assert row["resnet"] > 0 and DRY_RUN_NOTE in row["notes"]
    assert sorted(p.name for p in (tmp_path / "sum").iterdir()) == [
        "summary.csv", "summary.json", "summary_detailed.csv", "summary_detailed.json"]  # fmt: skip
    assert {p: p.stat().st_mtime_ns for p in tree.rglob("*")} == before  # input untouched


def test_report_on_the_campaign(resnet_campaign, tmp_path, capsys):
    out = tmp_path / "rep"
    assert main(["report", str(resnet_campaign), "--out", str(out)]) == 0
    md = (out / "index.md").read_text()
    assert "DRY RUN" in md and "| run_4 |" in md and "preset target" not in md.split("##")[0]
    assert (out / "resnet_convergence.png").read_bytes()[:4] == b"\x89PNG"


def test_force_replaces_and_without_force_refuses(resnet_campaign, tmp_path, capsys):
    out = tmp_path / "out"
    (out / ORG).mkdir(parents=True)
    (out / ORG / "mine.txt").write_text("user data")
    assert main(package_args(resnet_campaign, out)) == 2
    assert "already exists" in capsys.readouterr().err
    assert [p.name for p in (out / ORG).iterdir()] == ["mine.txt"]
    assert main(package_args(resnet_campaign, out, "--force", "--no-verify")) == 0
    assert not (out / ORG / "mine.txt").exists() and (out / ORG / "systems").is_dir()
    assert sorted(p.name for p in out.iterdir()) == [ORG]


def _copy_campaign(src, dst, keep_runs=None, edit=None):
    shutil.copytree(src, dst)
    manifest = json.loads((dst / "campaign.json").read_text())
    if keep_runs is not None:
        manifest["runs"] = manifest["runs"][:keep_runs]
    if edit:
        edit(manifest)
    (dst / "campaign.json").write_text(json.dumps(manifest))
    return dst


def test_more_runs_than_required_takes_consecutive_runs_and_says_which(resnet_campaign, tmp_path,
                                                                        capsys):  # fmt: skip
    extra = _copy_campaign(resnet_campaign, tmp_path / "resnet_b", keep_runs=1)
    out = tmp_path / "out"
    args = package_args(resnet_campaign, out, "--no-verify")
    args.insert(args.index(str(resnet_campaign)) + 1, str(extra))
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "5 consecutive runs closest to the median of all 6" in printed
    runs = json.loads((out / ORG / "benchmarks/resnet/implementations/mlperf_submit_pytorch/"
                       "submitted_runs.json").read_text())  # fmt: skip
    chosen = [r for r in runs["runs"] if r["submitted_as"]]
    assert len(runs["runs"]) == 6 and len(chosen) == 5


@pytest.mark.parametrize(
    ("case", "code", "message"),
    [
        ("missing_system_file", 2, "no such file"),
        ("system_name_with_slash", 2, "path separator"),
        ("wrong_run_count", 1, "wrong run count: 4 run(s)"),
        ("existing_tree", 2, "already exists"),
        ("closed_with_synthetic", 2, "synthetic"),
        ("garbled_system_json", 2, ":3: not valid JSON"),
        ("number_in_system_json", 1, "accelerators_per_node"),
        ("status_not_in_enum", 1, "Field status contains a non valid value"),
        ("org_differs_from_logs", 1, "logs submission_org 'TestOrg'"),
        ("not_a_campaign", 2, "no campaign manifest"),
        ("garbled_manifest", 2, "campaign.json: cannot read the campaign manifest"),
        ("unknown_ruleset", 2, "unknown ruleset"),
        ("benchmark_not_in_round", 2, "is not a benchmark of ruleset 6.1.0"),
    ],
)
def test_bad_input_is_refused_before_anything_is_written(case, code, message, resnet_campaign,
                                                         tmp_path, capsys):  # fmt: skip
    out = tmp_path / "out"
    campaign = resnet_campaign
    args = package_args(campaign, out)
    sysfile = tmp_path / "sys.json"
    if case == "missing_system_file":
        args = ["package", "--org", ORG, "--system", str(tmp_path / "nope.json"), "--division",
                "open", str(campaign), "--out", str(out)]  # fmt: skip
    elif case == "system_name_with_slash":
        args[args.index(SYSTEM)] = "racks/a1"
    elif case == "wrong_run_count":
        args[args.index(str(campaign))] = str(_copy_campaign(campaign, tmp_path / "c4", 4))
    elif case == "existing_tree":
        (out / ORG).mkdir(parents=True)
        (out / ORG / "keep.txt").write_text("mine")
    elif case == "closed_with_synthetic":
        edit = lambda m: m.update(division="closed")  # noqa: E731
        args[args.index(str(campaign))] = str(_copy_campaign(campaign, tmp_path / "cc", None, edit))
        args[args.index("open")] = "closed"
    elif case in ("garbled_system_json", "number_in_system_json", "status_not_in_enum"):
        if case == "garbled_system_json":
            sysfile.write_text('{\n  "submitter": "TestOrg",\n  "cooling": air\n}\n')
        elif case == "number_in_system_json":
            sysfile.write_text(json.dumps({"accelerators_per_node": 0}))
        else:
            sysfile.write_text(json.dumps({"status": "available"}))
        args += ["--system", str(sysfile)]
    elif case == "org_differs_from_logs":
        args[args.index(ORG)] = "OtherOrg"
    elif case == "not_a_campaign":
        (tmp_path / "empty").mkdir()
        args[args.index(str(campaign))] = str(tmp_path / "empty")
    elif case == "garbled_manifest":
        bad = tmp_path / "garbled"
        shutil.copytree(campaign, bad)
        (bad / "campaign.json").write_bytes(b'{"format": "mlperf-submit campaign 1", \x00\xff')
        args[args.index(str(campaign))] = str(bad)
    elif case == "unknown_ruleset":
        args += ["--ruleset", "9.9.9"]
    elif case == "benchmark_not_in_round":
        args += ["--ruleset", "6.1.0"]
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    rc = main(args)
    err = capsys.readouterr().err
    assert rc == code, err
    assert message in err and "Traceback" not in err
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before  # nothing written or removed
    if case == "existing_tree":
        assert (out / ORG / "keep.txt").read_text() == "mine"


def test_verify_result_dir_without_system_json(tree, tmp_path, capsys):
    copy = tmp_path / ORG
    shutil.copytree(tree, copy)
    os.remove(copy / "systems" / f"{SYSTEM}.json")
    rc = main(["verify", str(copy), "--no-summary"])
    out = capsys.readouterr()
    assert rc == 1
    assert f"systems/{SYSTEM}.json is missing" in out.out and "Traceback" not in out.err


@pytest.mark.official
def test_verify_official_agrees_on_the_tree(tree, tmp_path, capsys):
    rc = main(["verify", str(tree), "--official", "--json", "--summary-dir", str(tmp_path)])
    report = json.loads(capsys.readouterr().out)
    assert rc == 0, report["official"]
    tools = {v["tool"]: v["verdict"] for v in report["official"]["verdicts"]}
    assert tools == {"package_checker": "PASS", "result_summarizer": "PASS", "repo_checker": "PASS"}
    assert report["official"]["disagreements"] == []


def test_binary_run_log_counts_as_a_failed_run(resnet_campaign, tmp_path, capsys):
    bad = tmp_path / "camp"
    shutil.copytree(resnet_campaign, bad)
    (bad / "resnet" / "run_3.log").write_bytes(bytes(range(256)) * 64)
    out = tmp_path / "out"
    rc = main(package_args(bad, out))
    printed = capsys.readouterr().out
    assert rc == 0, printed  # one failing run is accepted under olympic scoring
    assert "1 failing compliance" in printed
    assert "1 file does not comply, accepting this under olympic scoring" in printed
    assert (out / ORG / "results" / SYSTEM / "resnet" / "result_3.txt").read_text() == ""
