"""A campaign directory as packaging and reports see it (over ``launch.campaign.manifest``).

``launch.campaign.manifest.read_manifest`` reads and validates ``campaign.json``; this module adds what a
submission needs: the runs that have a log file (resolved against the campaign dir), in run
order, whether the data was synthetic, the preset and the exact commands.

    camp = read_campaign("out/submit/campaigns/resnet")
    camp.benchmark, camp.ruleset, [r.log for r in camp.runs]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlperf_submit.errors import InputError


@dataclass(frozen=True)
class CampaignRun:
    index: int
    seed: int | None
    status: str  # converged | not converged | crashed | timed out | interrupted | pending | running
    log: Path | None  # None when the run left no log file
    command: str
    data: str  # synthetic | real | ""

    @property
    def label(self) -> str:
        return f"run_{self.index}"


@dataclass(frozen=True)
class Campaign:
    path: Path
    benchmark: str
    ruleset: str
    division: str
    data: str  # synthetic | real
    preset: str | None
    command: str
    train_args: tuple[str, ...]
    launcher: str
    runs: tuple[CampaignRun, ...]
    target: float | None = None  # the preset's target, when the manifest records one

    @property
    def synthetic(self) -> bool:
        return self.data == "synthetic" or any(r.data == "synthetic" for r in self.runs)

    @property
    def runs_with_logs(self) -> list[CampaignRun]:
        return [r for r in self.runs if r.log is not None]


def read_campaign(path: str | Path) -> Campaign:
    from mlperf_submit.launch.campaign.manifest import read_manifest, unusable_run_logs

    path = Path(path)
    if not path.is_dir():
        raise InputError(f"{path}: not a campaign directory (no such directory)")
    m = read_manifest(path)
    problems = unusable_run_logs(path, m)
    if problems:
        raise InputError("unusable input, nothing written: " + "; ".join(problems))
    runs = []
    for rec in sorted(m.runs, key=lambda r: r.index):
        log = None
        if rec.log:
            candidate = Path(rec.log)
            candidate = candidate if candidate.is_absolute() else path / candidate
            if candidate.is_file():
                log = candidate
        runs.append(CampaignRun(rec.index, rec.seed, rec.status, log, rec.command,
                                rec.data or m.data))  # fmt: skip
    target = getattr(m, "target", None)
    return Campaign(
        path=path,
        benchmark=m.benchmark,
        ruleset=m.ruleset,
        division=m.division,
        data=m.data,
        preset=m.preset,
        command=m.command,
        train_args=tuple(m.train_args),
        launcher=m.launcher,
        runs=tuple(runs),
        target=target if isinstance(target, int | float) else None,
    )
