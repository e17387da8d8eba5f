"""``benchmarks/<bm>/implementations/<impl>/``: the code that ran, how to run it, what it was.

Written into a submission tree by :mod:`.tree`:

- a snapshot of the ``mlperf_submit`` package source (``.py`` and data files; no caches, no dot
  files) plus ``setup.py``/``pyproject.toml`` when the package runs from a checkout, so the
  folder installs with ``pip install -e .``;
- ``README.md`` following the MLCommons reference README template (:mod:`.readme`);
- ``run_and_time.sh``: one seeded run with the preset, the overrides, the ruleset and division
  of the submitted runs, then the time to train read from the log;
- ``config_<system>_<preset>.json``: the full config in effect (rebuilt from the preset and
  overrides the campaign recorded) and the launch settings;
- ``submitted_runs.json``: every candidate run (campaign, index, seed, status, compliance, time
  to train) and which ``result_<i>.txt`` each chosen one became; the rules keep the full set for
  review.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import mlperf_submit
from mlperf_submit import __version__
from mlperf_submit.submission.campaign import Campaign
from mlperf_submit.submission.readme import RunInfo, render_readme
from mlperf_submit.submission.runconfig import RunConfig

PACKAGE_DIR = Path(mlperf_submit.__file__).resolve().parent
_CHECKOUT_FILES = ("setup.py", "pyproject.toml", "README.md", "LICENSE")
_SKIP_DIRS = {"__pycache__"}
_SKIP_SUFFIXES = (".pyc", ".pyo", ".so.tmp")


@dataclass(frozen=True)
class Candidate:
    """One run offered to the selection, with what the compliance check said about it."""

    campaign: Campaign
    index: int
    seed: int | None
    status: str
    log: Path
    passed: bool
    ttt_minutes: float | None
    command: str

    @property
    def label(self) -> str:
        return f"{self.campaign.path.name}/run_{self.index}"


def code_version() -> str:
    """'mlperf-submit 0.1.0 (git 1a2b3c4, with local changes)' when run from a git checkout."""
    root = PACKAGE_DIR.parent
    text = f"mlperf-submit {__version__}"
    if not (root / ".git").exists():
        return text
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10, check=True).stdout.strip()  # fmt: skip
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--",
                                "mlperf_submit"], capture_output=True, text=True, timeout=10,
                               check=True).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return text
    return f"{text} (git {head}{', with local changes' if dirty else ''})"


def snapshot_code(dest: Path) -> int:
    """Copy the package source into ``dest``; returns the number of files copied."""
    count = 0
    for dirpath, dirs, files in os.walk(PACKAGE_DIR):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.startswith("."))
        rel = Path(dirpath).relative_to(PACKAGE_DIR)
        for name in sorted(files):
            if name.startswith(".") or name.endswith(_SKIP_SUFFIXES) or " " in name:
                continue
            src = Path(dirpath) / name
            if src.is_symlink():
                continue
            out = dest / "mlperf_submit" / rel / name
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, out)
            count += 1
    for name in _CHECKOUT_FILES:
        src = PACKAGE_DIR.parent / name
        if src.is_file():
            shutil.copyfile(src, dest / name)
            count += 1
    return count


def train_command(campaign: Campaign, *, log: str, seed: str, data: str) -> list[str]:
    """The ``mlperf-submit train`` arguments of the campaign's runs, per run values as given."""
    args = ["mlperf-submit", "train", campaign.benchmark]
    if campaign.preset:
        args += ["--preset", campaign.preset]
    args += ["--seed", seed, "--log", log]
    args += ["--synthetic" if campaign.data == "synthetic" else "--data", data]
    if campaign.ruleset:
        args += ["--ruleset", campaign.ruleset]
    if campaign.division:
        args += ["--division", campaign.division]
    return args + list(campaign.train_args)


def render_run_and_time(campaign: Campaign) -> str:
    base = train_command(campaign, log="@LOG@", seed="@SEED@", data="@DATA@")
    quoted = shlex.join(base)
    quoted = (quoted.replace("@LOG@", '"$LOG"').replace("@SEED@", '"$SEED"')
              .replace("@DATA@", '"$DATA"'))  # fmt: skip
    data_line = (
        ': "${DATA:=./synthetic_data}"   # generated on first use (synthetic data)'
        if campaign.data == "synthetic"
        else ': "${DATA:?set DATA to the dataset root (see README.md, section 3)}"'
    )
    return f"""#!/usr/bin/env bash
# One seeded run of {campaign.benchmark} with the settings of the submitted runs, then its time
# to train (run_stop - run_start of the MLPerf log, what result_summarizer scores).
#   SEED=123 LOG=result_0.txt ./run_and_time.sh
# Needs the package installed (pip install -e . in this folder; see README.md).
set -euo pipefail
: "${{SEED:=$(python3 -c 'import secrets; print(secrets.randbits(31))')}}"
: "${{LOG:=result.txt}}"
{data_line}

{quoted}

python3 - "$LOG" <<'EOF'
import json, sys
start = stop = None
for line in open(sys.argv[1], encoding="utf-8"):
    i = line.find(":::MLLOG ")
    if i < 0:
        continue
    rec = json.loads(line[i + 9:])
    if rec["key"] == "run_start" and start is None:
        start = rec["time_ms"]
    if rec["key"] == "run_stop" and stop is None:
        stop = rec["time_ms"]
if start is None or stop is None:
    sys.exit(f"{{sys.argv[1]}}: no run_start/run_stop: the run did not finish")
print(f"RESULT,{campaign.benchmark},{{(stop - start) / 60000:.6f}} minutes")
EOF
"""


def write_implementation(
    dest: Path,
    *,
    benchmark: str,
    ruleset: str,
    division: str,
    system: str,
    impl: str,
    campaign: Campaign,
    config: RunConfig,
    candidates: list[Candidate],
    chosen: list[int],
    selection: str,
) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    version = code_version()
    snapshot_code(dest)
    config_name = f"config_{system}_{campaign.preset or 'tiny'}.json"
    (dest / config_name).write_text(json.dumps({
        "benchmark": benchmark,
        "preset": config.preset,
        "overrides": list(config.overrides),
        "ruleset": ruleset,
        "division": division,
        "data": campaign.data,
        "launcher": campaign.launcher,
        "train_args": list(campaign.train_args),
        "quality_target": config.target,
        "config": config.values,
        "config_error": config.error,
        "code": version,
    }, indent=2) + "\n", encoding="utf-8")  # fmt: skip
    script = dest / "run_and_time.sh"
    script.write_text(render_run_and_time(campaign), encoding="utf-8")
    script.chmod(0o755)
    result_of = {ci: f"result_{k}.txt" for k, ci in enumerate(chosen)}
    runs = [
        {
            "campaign": str(c.campaign.path),
            "run": c.index,
            "seed": c.seed,
            "status": c.status,
            "compliant": c.passed,
            "time_to_train_minutes": c.ttt_minutes,
            "submitted_as": result_of.get(i),
            "command": c.command,
        }
        for i, c in enumerate(candidates)
    ]
    (dest / "submitted_runs.json").write_text(
        json.dumps({"selection": selection, "runs": runs}, indent=2) + "\n", encoding="utf-8"
    )
    commands = tuple(candidates[i].command for i in chosen if candidates[i].command)
    info = RunInfo(
        benchmark=benchmark,
        ruleset=ruleset,
        division=division,
        preset=config.preset,
        system=system,
        impl=impl,
        commands=commands,
        campaign_command=campaign.command,
        data_kind=campaign.data or "unknown",
        selection=selection,
        code_version=version,
        config_file=config_name,
    )
    (dest / "README.md").write_text(render_readme(info), encoding="utf-8")
