"""Reference convergence points from reference runs, in the format the official checker reads.

The reference creators' workflow: seeded runs of the reference at one or more global batch
sizes, each set in a directory (a result dir of ``result_*.txt``, a campaign dir with
``campaign.json``, or a dir of ``*.log``/``*.txt``), become one RCP record per batch size, as in
the installed ``rcp_checker/training_<rs>/rcps_<bm>.json``::

    "llama31_8b_ref_32": {"Benchmark": "llama31_8b", "Creator": ..., "When": ..., "Platform": ...,
                          "Precision": "BF16", "BS": 32, "Hyperparams": {...},
                          "Epochs to converge": [172032, 184320, ...]}

* the record name is the installed table's (``<prefix>_ref_<BS>``, prefix as the installed
  records of the benchmark spell it: ``flux`` for flux1), the points' field the one the
  official reader looks up (``"samples to converge"`` for llama2_70b_lora and flux1,
  ``"Epochs to converge"`` otherwise, whatever the unit);
* each point is what the official RCP reader takes from a log (``rcp.read_rcp_point``); runs
  that did not converge are left out, and said so;
* ``Hyperparams`` are the logged values of the init section (every key logged before
  ``run_start`` other than the submission, lifecycle, seed and batch-size keys) that all runs
  of the batch size share; keys whose values differ between them are reported, not recorded;
* ``Creator``/``Platform`` default to the logs' ``submission_org``/``submission_platform``,
  ``Precision`` to ``lowest_numerical_precision_in_linear`` where logged.

:func:`build_rcps` also runs the official statistics and pruning on the result (optionally
merged with the installed table), so the report says which records the check would never use.
"""

from __future__ import annotations

import glob
import json
import os
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from mlperf_submit.compliance import meta
from mlperf_submit.compliance.parser import LogLine, iter_file
from mlperf_submit.compliance.rcp import (
    SUBMISSION_RUNS,
    RcpTable,
    acceptance_threshold,
    conv_unit_key,
    effective_record,
    read_rcp_point,
)
from mlperf_submit.errors import InputError, UsageError

NOT_HYPERPARAMETERS = frozenset(
    {
        "cache_clear",
        "init_start",
        "init_stop",
        "run_start",
        "seed",
        "global_batch_size",
        "config_filename",
        "eval_samples",
        "train_samples",
    }
)
FIELD_ORDER = ("Benchmark", "Creator", "When", "Platform", "Precision", "BS", "Hyperparams")
RECORD_FIELDS = ("Benchmark", "BS", "Hyperparams")


@dataclass
class RefRun:
    path: str
    benchmark: object
    bs: object
    point: float | None  # None: did not converge (or the reader crashed: ``problem``)
    init: dict = field(default_factory=dict)  # init-section key -> first value
    problem: str | None = None


def read_reference_run(path: str, ruleset: str) -> RefRun:
    """One reference run: its convergence point (the official reader) and init section."""
    rcp_run = read_rcp_point(path, ruleset)
    init: dict = {}
    try:
        for item in iter_file(path):
            if type(item) is not LogLine:
                continue
            if item.key == "run_start":
                break
            if isinstance(item.key, str) and item.key not in init:
                init[item.key] = item.val
    except OSError as err:
        raise InputError(f"{path}: cannot read ({err.strerror})") from None
    problem = rcp_run.crash
    point = None
    if problem is None and rcp_run.not_converged:
        problem = f"did not converge (run_stop status {rcp_run.stop_status!r})"
    elif problem is None:
        point = rcp_run.point
    return RefRun(path, rcp_run.benchmark, rcp_run.bs, point, init, problem)


def reference_logs(directory: str) -> list[str]:
    """The logs of a reference run set: ``result_*.txt``; else a campaign's finished runs; else
    every ``*.log``/``*.txt`` directly inside."""
    if not os.path.isdir(directory):
        raise InputError(f"{directory}: not a directory")
    found = sorted(glob.glob(os.path.join(glob.escape(directory), "result_*.txt")))
    if found:
        return found
    if os.path.isfile(os.path.join(directory, "campaign.json")):
        from mlperf_submit.launch.campaign.manifest import read_manifest

        m = read_manifest(directory)
        return [os.path.join(directory, r.log) for r in m.finished_runs() if r.log]
    from mlperf_submit.compliance.check_paths import loose_logs

    found = loose_logs(directory)
    if not found:
        raise InputError(f"{directory}: no result_*.txt, campaign.json or *.log/*.txt here")
    return found


def _prefix(benchmark: str) -> str:
    """How the installed tables name the benchmark's records (``flux`` in ``flux_ref_512``)."""
    for rs in reversed(meta.rulesets()):
        if meta.has_rcps(benchmark, rs):
            with open(meta.rcp_file(benchmark, rs)) as f:
                names = list(json.load(f))
            prefixes = {n.split("_ref_")[0] for n in names if "_ref_" in n}
            if len(prefixes) == 1:
                return prefixes.pop()
    return benchmark


@dataclass
class RecordReport:
    name: str
    bs: int
    n_runs: int
    points: list
    excluded: list[tuple[str, str]]  # (log, why)
    differing: dict[str, list]  # hyperparameter -> distinct values
    mean: float | None = None
    stdev: float | None = None
    threshold: float | None = None
    max_speedup: float | None = None
    pruned: str | None = None  # why the official pruning drops it


@dataclass
class BuildResult:
    benchmark: str
    ruleset: str
    records: dict  # name -> record, in the official format (what --out holds)
    reports: list[RecordReport]
    merged_with: str | None = None  # the installed table merged in, if asked
    installed_pruned: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_json_text(self) -> str:
        return json.dumps(self.records, indent=2) + "\n"

    def lines(self) -> list[str]:
        out = [
            f"{len(self.reports)} RCP record(s) for {self.benchmark} (statistics and pruning of "
            f"the official rcp_checker, ruleset {self.ruleset}, {SUBMISSION_RUNS[self.benchmark]}"
            " submission runs)"
        ]
        for r in self.reports:
            state = f"PRUNED: {r.pruned}" if r.pruned else "kept"
            out.append(
                f"  {r.name}: BS {r.bs}, {r.n_runs} runs, mean {r.mean:.6g}, stdev "
                f"{r.stdev:.4g}, passes from {r.threshold:.6g} (max speedup "
                f"{r.max_speedup:.4f}); {state}"
            )
            for log, why in r.excluded:
                out.append(f"    left out {log}: {why}")
            for key, values in r.differing.items():
                out.append(f"    not in Hyperparams: {key} differs between runs ({values})")
        if self.merged_with:
            out.append(f"  merged with the installed {self.merged_with}")
            for name, why in self.installed_pruned.items():
                out.append(f"  installed {name}: PRUNED: {why}")
        out.extend(f"  warning: {w}" for w in self.warnings)
        return out


def build_rcps(
    directories: list[str],
    ruleset: str | None = None,
    *,
    creator: str | None = None,
    when: str | None = None,
    platform: str | None = None,
    precision: str | None = None,
    merge_installed: bool = False,
) -> BuildResult:
    """One record per global batch size found in the runs of ``directories``."""
    logs = [p for d in directories for p in reference_logs(d)]
    if not logs:
        raise InputError("no finished reference run in " + ", ".join(directories))
    first = read_rcp_point(logs[0], ruleset or "6.1.0")
    bm = first.benchmark
    if not isinstance(bm, str):
        raise InputError(f"{logs[0]}: no submission_benchmark line: which benchmark is this?")
    if bm not in SUBMISSION_RUNS:
        raise UsageError(f"{bm}: the official RCP checker has no run count for it")
    ruleset = ruleset or meta.newest_ruleset(bm)
    if ruleset is None:
        raise UsageError(f"{bm} is in no ruleset of mlperf-logging: pass --ruleset")
    meta.check_ruleset(ruleset)
    runs = [read_reference_run(p, ruleset) for p in logs]
    by_bs: dict = defaultdict(list)
    for r in runs:
        if r.benchmark != bm:
            raise InputError(f"{r.path}: a run of {r.benchmark!r}, the others are of {bm!r}")
        if isinstance(r.bs, bool) or not isinstance(r.bs, int) or r.bs <= 0:
            raise InputError(f"{r.path}: no usable global_batch_size ({r.bs!r})")
        by_bs[r.bs].append(r)
    prefix, unit = _prefix(bm), conv_unit_key(bm)
    records: dict = {}
    reports: list[RecordReport] = []
    warnings: list[str] = []
    r_drop = meta.max_dropped(bm)
    for bs in sorted(by_bs):
        group = by_bs[bs]
        used = [r for r in group if r.point is not None]
        excluded = [(r.path, r.problem or "no point") for r in group if r.point is None]
        if len(used) < 2 * r_drop + 1:
            raise InputError(
                f"BS {bs}: {len(used)} converged run(s); the official statistics drop "
                f"{r_drop} at each end, so a record needs at least {2 * r_drop + 1}"
            )
        want = 2 * SUBMISSION_RUNS[bm]
        if len(used) < want:
            warnings.append(
                f"BS {bs}: {len(used)} converged reference runs; references need 2x the "
                f"submission runs ({want}, rcp_checker.py)"
            )
        shared, differing = _shared(used)
        name = f"{prefix}_ref_{bs}"
        record = {
            "Benchmark": bm,
            "Creator": creator or _common(used, "submission_org") or "unknown",
            "When": when or f"mlperf-submit rcp build, {date.today().isoformat()}",
            "Platform": platform or _common(used, "submission_platform") or "unknown",
            "Precision": precision or _precision(used),
            "BS": bs,
            "Hyperparams": shared,
            unit: [r.point for r in used],
        }
        if record["Precision"] is None:
            del record["Precision"]
        records[name] = record
        reports.append(RecordReport(name, bs, len(used), record[unit], excluded, differing))
    result = BuildResult(bm, ruleset, records, reports, warnings=warnings)
    _statistics(result, merge_installed)
    return result


def _shared(runs: list[RefRun]) -> tuple[dict, dict]:
    keys = [k for k in runs[0].init if _is_hyperparameter(k, runs[0].init[k])]
    shared, differing = {}, {}
    for k in keys:
        values = [r.init.get(k, "<missing>") for r in runs]
        if all(v == values[0] for v in values):
            shared[k] = values[0]
        else:
            distinct = []
            for v in values:
                if v not in distinct:
                    distinct.append(v)
            differing[k] = distinct
    return shared, differing


def _is_hyperparameter(key: str, value) -> bool:
    if key in NOT_HYPERPARAMETERS or key.startswith("submission_"):
        return False
    return value is None or isinstance(value, str | int | float | bool)


def _common(runs: list[RefRun], key: str):
    values = {json.dumps(r.init.get(key)) for r in runs}
    return runs[0].init.get(key) if len(values) == 1 else None


def _precision(runs: list[RefRun]) -> str | None:
    value = _common(runs, "lowest_numerical_precision_in_linear")
    return value.upper() if isinstance(value, str) else None


def _statistics(result: BuildResult, merge_installed: bool) -> None:
    """The official statistics and pruning of the records (merged with the installed table)."""
    bm, rs = result.benchmark, result.ruleset
    raw = {}
    if merge_installed:
        if not meta.has_rcps(bm, rs):
            raise UsageError(f"--merge-installed: mlperf-logging has no RCP table for {bm} {rs}")
        with open(meta.rcp_file(bm, rs)) as f:
            installed = json.load(f)
        for name in sorted(set(installed) & set(result.records)):
            result.warnings.append(f"{name} replaces the installed record of that name")
        ours_bs = {r["BS"]: n for n, r in result.records.items()}
        for name, rec in installed.items():
            if name not in result.records and rec["BS"] in ours_bs:
                result.warnings.append(
                    f"the installed {name} has the BS of {ours_bs[rec['BS']]}: both are kept, "
                    "and the official lookup uses whichever it finds first"
                )
        raw.update({k: v for k, v in installed.items() if k not in result.records})
        result.merged_with = os.path.basename(meta.rcp_file(bm, rs))
    raw.update(json.loads(json.dumps(result.records)))  # a copy: the table sorts the points
    table = RcpTable(rs, bm, raw)
    for rep in result.reports:
        rec = effective_record(rs, bm, table.rcp_data[rep.name])
        rep.mean, rep.stdev = float(rec["RCP Mean"]), float(rec["RCP Stdev"])
        rep.threshold, rep.max_speedup = float(acceptance_threshold(rec)), float(rec["Max Speedup"])
        rep.pruned = table.pruned_away.get(rep.name)
    if merge_installed:
        result.records = {name: raw[name] for name in table.rcp_data}  # the official order: BS
        result.installed_pruned = {
            n: why
            for n, why in table.pruned_away.items()
            if n not in {r.name for r in result.reports}
        }


def load_rcps(path: str) -> dict:
    """A custom RCP file (``--custom_rcps``), checked for what the official reader needs."""
    try:
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
    except OSError as err:
        raise InputError(f"{path}: cannot read ({err.strerror})") from None
    except (UnicodeDecodeError, ValueError) as err:
        raise InputError(f"{path}: not a JSON file ({err})") from None
    if not isinstance(raw, dict) or not raw:
        raise InputError(f"{path}: expected an object of RCP records")
    for name, rec in raw.items():
        if not isinstance(rec, dict):
            raise InputError(f"{path}: record {name!r} is not an object")
        missing = [k for k in RECORD_FIELDS if k not in rec]
        unit = conv_unit_key(rec.get("Benchmark"))
        if unit not in rec:
            missing.append(unit)
        if missing:
            raise InputError(f"{path}: record {name!r} lacks {', '.join(missing)}")
        points = rec[unit]
        if (
            not isinstance(points, list)
            or not points
            or not all(isinstance(p, int | float) and not isinstance(p, bool) for p in points)
        ):
            raise InputError(f"{path}: record {name!r}: {unit!r} must be a list of numbers")
        if isinstance(rec["BS"], bool) or not isinstance(rec["BS"], int | float):
            raise InputError(f"{path}: record {name!r}: BS must be a number")
    return raw
