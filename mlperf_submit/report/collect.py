"""Gather what a report shows from a campaign directory or a submission org folder.

Inputs understood (the kind is detected from the layout):
- a campaign dir: ``campaign.json`` + ``<benchmark>/run_<i>.log`` (docs/DESIGN.md, launch/);
- an org folder: ``systems/`` + ``results/<system>/<benchmark>/result_*.txt``;
- one result dir ``results/<system>/<benchmark>/`` (or any dir of ``result_*.txt`` files).

Every log goes through ``compliance.filecheck.check_file`` once (verdict + facts: evals,
run_start/run_stop, seeds, run_stop status); the score comes from ``compliance.scoring`` exactly
as ``result_summarizer`` computes it. Nothing here writes.
"""

from __future__ import annotations

import glob
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from mlperf_submit.compliance import meta
from mlperf_submit.compliance.filecheck import check_file
from mlperf_submit.compliance.rcp import RCP_RULESETS, SAMPLES_COUNT_BENCHMARKS, check_rcp_files
from mlperf_submit.compliance.scoring import Score, publish_factor, read_scaling, score_runs
from mlperf_submit.compliance.targets import Target, closed_target
from mlperf_submit.errors import InputError, UsageError

# Benchmarks whose convergence point is counted in samples (docs/official-tools.md §6.2);
# others in epochs.
SAMPLE_BENCHMARKS = SAMPLES_COUNT_BENCHMARKS | {"gpt3"}


@dataclass
class RunData:
    name: str  # "run_3" (campaign) or "result_0" (tree)
    path: str
    seed: object | None
    status: str  # campaign status, else run_stop status, else "no run_stop"
    passed: bool  # the official compliance verdict
    ttt_minutes: float | None  # run_stop - run_start, whatever the verdict
    evals: list[tuple[float, float]]  # (progress, metric) with numeric values only
    reasons: list[str] = field(default_factory=list)
    metric: str = "eval_accuracy"  # or "eval_accuracy[BBOX]" for structured values


@dataclass
class BenchmarkData:
    benchmark: str
    ruleset: str
    division: str
    where: str  # system name (tree) or campaign dir
    source: str  # directory the logs came from
    runs: list[RunData]
    score: Score
    progress_key: str  # "samples_count" | "epoch_num"
    closed: Target | None  # closed-division target from the official rules
    preset: Target | None = None  # the target the runs were configured with, if recorded
    synthetic: bool = False

    @property
    def seeds(self) -> list[object]:
        return [r.seed for r in self.runs]


def _numeric(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _run_from_log(name: str, path: str, ruleset: str) -> tuple[RunData, str | None, str | None]:
    rep = check_file(path, ruleset, quiet=True)
    f = rep.facts
    evals, metric = [], "eval_accuracy"
    for progress, value, _ in f.evals:
        if isinstance(value, dict):  # maskrcnn {BBOX, SEGM}, stable_diffusion {FID, CLIP}
            sub = next((k for k, x in value.items() if _numeric(x) is not None), None)
            if sub is None:
                continue
            value, metric = value[sub], f"eval_accuracy[{sub}]"
        p, v = _numeric(progress), _numeric(value)
        if p is not None and v is not None:
            evals.append((p, v))
    seed = f.seeds[0][2] if f.seeds else None
    status = str(f.run_stop_status) if f.run_stop_ms is not None else "no run_stop"
    run = RunData(
        name=name,
        path=path,
        seed=seed,
        status=status,
        passed=rep.passed,
        ttt_minutes=f.ttt_minutes(),
        evals=evals,
        reasons=rep.reasons(2),
        metric=metric,
    )
    return run, f.benchmark, f.division


def _natural(name: str) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def _bench_data(benchmark, ruleset, division, where, source, runs, scaling=(1.0, None)):
    ttts = {r.name: (r.ttt_minutes if r.passed else None) for r in runs}
    published = None
    if division == "closed" and ruleset in RCP_RULESETS and not scaling[1]:
        # no scaling.json yet: the published score carries the factor the RCP step writes
        rcp = check_rcp_files([r.path for r in runs], ruleset)
        if not rcp.crash:
            published = publish_factor(scaling, rcp.scaling_action, rcp.scaling_written)
    return BenchmarkData(
        benchmark=benchmark,
        ruleset=ruleset,
        division=division,
        where=where,
        source=source,
        runs=runs,
        score=score_runs(ttts, benchmark, scaling, published),
        progress_key="samples_count" if benchmark in SAMPLE_BENCHMARKS else "epoch_num",
        closed=closed_target(benchmark, ruleset),
    )


def _ruleset_for(benchmark: str, ruleset: str | None) -> str:
    if ruleset:
        return meta.check_ruleset(ruleset)
    newest = meta.newest_ruleset(benchmark)
    if newest is None:
        raise InputError(f"{meta.where_is(benchmark)}; pass --ruleset")
    return newest


def collect_result_dir(path: Path, ruleset: str | None, *, system: str = "") -> BenchmarkData:
    files = sorted(glob.glob(os.path.join(path, "result_*.txt")), key=_natural)
    if not files:
        raise InputError(f"{path}: no result_*.txt files")
    benchmark = path.name
    rs = _ruleset_for(benchmark, ruleset)
    runs, division = [], None
    for file in files:
        run, _, div = _run_from_log(Path(file).stem, file, rs)
        runs.append(run)
        division = division or div
    return _bench_data(
        benchmark, rs, str(division or "?"), system or path.parent.name, str(path), runs,
        read_scaling(str(path)),
    )  # fmt: skip


def _packaged_target(org: Path, benchmark: str, closed: Target | None) -> Target | None:
    """The preset target recorded by ``mlperf-submit package`` in the implementation config."""
    for cfg in sorted(org.glob(f"benchmarks/{benchmark}/implementations/*/config_*.json")):
        try:
            value = json.loads(cfg.read_text(encoding="utf-8")).get("quality_target")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(value, int | float) and not isinstance(value, bool):
            higher = closed.higher_is_better if closed else True
            return Target(float(value), higher, str(cfg.relative_to(org)))
    return None


def _dry_run(org: Path, system: str) -> bool:
    if not (org / "systems" / f"{system}.json").is_file():
        return False
    try:
        desc = json.loads((org / "systems" / f"{system}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    sw = desc.get("sw_notes", "") if isinstance(desc, dict) else ""
    return isinstance(sw, str) and "DRY RUN" in sw


def collect_org(path: Path, ruleset: str | None) -> list[BenchmarkData]:
    out = []
    results = path / "results"
    for system_dir in sorted(p for p in results.iterdir() if p.is_dir()):
        for bm_dir in sorted(p for p in system_dir.iterdir() if p.is_dir()):
            if glob.glob(os.path.join(bm_dir, "result_*.txt")):
                data = collect_result_dir(bm_dir, ruleset, system=system_dir.name)
                data.preset = _packaged_target(path, data.benchmark, data.closed)
                data.synthetic = _dry_run(path, system_dir.name)
                out.append(data)
    if not out:
        raise InputError(f"{path}: no results/<system>/<benchmark>/result_*.txt files")
    return out


def collect_campaign(path: Path, ruleset: str | None) -> list[BenchmarkData]:
    from mlperf_submit.submission.campaign import read_campaign

    camp = read_campaign(path)
    rs = ruleset or camp.ruleset
    runs = []
    for r in camp.runs_with_logs:
        run, _, _ = _run_from_log(r.label, str(r.log), _ruleset_for(camp.benchmark, rs))
        if r.status:
            run.status = r.status
        if run.seed is None:
            run.seed = r.seed
        runs.append(run)
    if not runs:
        raise InputError(f"{path}: the campaign has no run logs yet")
    data = _bench_data(
        camp.benchmark, _ruleset_for(camp.benchmark, rs), camp.division, str(path), str(path), runs
    )
    data.synthetic = camp.synthetic
    target = camp.target
    if target is None:  # rebuild the preset's config (imports the benchmark) to learn it
        from mlperf_submit.submission.runconfig import resolved_config

        target = resolved_config(camp.benchmark, camp.preset, camp.train_args, rs).target
    if target is not None:
        higher = data.closed.higher_is_better if data.closed else True
        data.preset = Target(float(target), higher, f"preset {camp.preset or 'tiny'}")
    return [data]


def collect(path: str | os.PathLike, ruleset: str | None = None) -> list[BenchmarkData]:
    """Benchmarks found at ``path`` (campaign dir, org folder or result dir)."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file or directory")
    if not p.is_dir():
        raise UsageError(f"{p}: expected a campaign dir, an org folder or a result dir")
    if os.path.lexists(p / "campaign.json"):  # read_manifest says what is wrong with it
        return collect_campaign(p, ruleset)
    if (p / "results").is_dir():
        from mlperf_submit.compliance.inputs import require_usable_org

        require_usable_org(p)  # before any plot is drawn or file written
        return collect_org(p, ruleset)
    if glob.glob(os.path.join(p, "result_*.txt")):
        return [collect_result_dir(p, ruleset)]
    raise InputError(
        f"{p}: not a campaign dir (campaign.json), an org folder (systems/ + results/) "
        "or a result dir (result_*.txt)"
    )
