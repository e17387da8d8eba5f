"""One benchmark's run set: a ``results/<system>/<benchmark>/`` dir, or any logs of one benchmark.

What package_checker does per benchmark dir (docs/official-tools.md §2.2), with the same verdict
(``DirReport.passed``), plus the score result_summarizer prints (§4.3):

1. exactly ``required_runs(bm)`` files named ``result_*.txt`` (other files only warn);
2. every file through the compliance rules (``filecheck.check_file``, one pass each);
3. ``power/`` present -> the official power checker (its bugs: duplicate indices pass, and a
   missing run folder shifts the blame of a node-count mismatch to the wrong run);
4. olympic tolerance: 1 failing file accepted (1 to 4 for unet3d), more is an error;
5. closed division: seeds (§2.4) and RCP (§6, ``set_scaling`` side effect reported, never done);
   open division: seeds as information, RCP not applicable;
6. the score: olympic mean of the compliant runs x the committed ``scaling.json`` (and what the
   RCP check would write, separately).

Also reported: runs whose ``run_stop`` status is not ``success`` (compliance and scoring accept
them, the RCP checker counts them as non-converged).

In an org folder the system JSON decides the division (``orgfolder.py``); for a lone directory
or a set of files it comes from the logs' ``submission_division``.

    from mlperf_submit.compliance.runset import check_result_dir
    rep = check_result_dir("org/results/sys1/resnet", "4.0.0")
    rep.passed, rep.score.minutes, rep.rcp.message
"""

from __future__ import annotations

import glob
import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from mlperf_submit.compliance import meta
from mlperf_submit.compliance.findings import Finding
from mlperf_submit.compliance.params import PARAMS_FILE, Bypass, benchmark_params
from mlperf_submit.compliance.rcp import RcpResult, check_rcp_files
from mlperf_submit.compliance.scoring import (
    Score,
    publish_factor,
    read_scaling,
    score_runs,
    ttt_minutes,
)
from mlperf_submit.compliance.seed_check import check_seeds
from mlperf_submit.errors import InputError

RESULT_GLOB = "result_*.txt"


def run_name(path: str) -> str:
    """``result_3.txt`` -> ``result_3`` (the name package_checker and the power checker use)."""
    return os.path.splitext(os.path.basename(path))[0]


@dataclass
class DirReport:
    """Everything about one run set. ``passed`` equals package_checker's verdict for the dir."""

    path: str
    benchmark: str | None
    ruleset: str
    system: str | None = None
    division: object = None  # as declared (system JSON in an org, else the logs)
    closed: bool = False  # package_checker's test: division == "closed"
    required_runs: int | None = None
    files: list = field(default_factory=list)  # FileReport per result file, sorted by path
    errors: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    failing: list[str] = field(default_factory=list)  # run names failing compliance or power
    power_failing: list[str] = field(default_factory=list)
    not_success: list[tuple[str, object]] = field(default_factory=list)  # (run, run_stop status)
    seeds: list[Finding] = field(default_factory=list)
    seeds_checked: bool = False  # the official seed check applies (closed, not bypassed)
    seed_bypass: bool = False
    rcp: RcpResult | None = None
    rcp_applies: bool = False
    rcp_bypass: bool = False
    score: Score | None = None
    official_crash: str | None = None  # the official package_checker would end in a traceback
    skipped: str | None = None  # not checked: benchmark not in the ruleset (official warning)

    @property
    def passed(self) -> bool:
        return self.skipped is not None or (not self.errors and self.official_crash is None)

    @property
    def verdict(self) -> str:
        return "SKIP" if self.skipped else ("PASS" if self.passed else "FAIL")

    @property
    def n_runs(self) -> int:
        return len(self.files)


def _err(rep: DirReport, kind: str, message: str, hint: str | None = None, **kw) -> None:
    rep.errors.append(Finding("error", kind, message, hint=hint, **kw))


def _warn(rep: DirReport, kind: str, message: str, hint: str | None = None, **kw) -> None:
    rep.warnings.append(Finding("warning", kind, message, hint=hint, **kw))


# ---------------------------------------------------------------- power (power_checker.py)


def check_power(power_dir: str, result_files: Sequence[str]) -> tuple[set[str], list[Finding]]:
    """``PowerChecker.check_power``: failing run names and findings; raises where it crashes."""
    errors: set[str] = set()
    out: list[Finding] = []
    node_lens: list[int] = []
    sw_lens: list[int] = []
    for rf in result_files:
        name = run_name(rf)
        run_dir = os.path.join(power_dir, name)
        if not os.path.exists(run_dir):
            out.append(
                Finding(
                    "warning",
                    "power",
                    f"Package does not contain power result for {power_dir}: {name}",
                    hint=f"add {run_dir}/node_<j>.txt and sw_<k>.txt for this run",
                )
            )
            errors.add(name)
            continue
        files = os.listdir(run_dir)
        nodes = [f for f in files if f.startswith("node")]
        sws = [f for f in files if f.startswith("sw")]
        node_idx = [int(os.path.splitext(os.path.basename(f))[0].split("_")[-1]) for f in nodes]
        sw_idx = [int(os.path.splitext(os.path.basename(f))[0].split("_")[-1]) for f in sws]
        if len(files) > len(nodes) + len(sws):
            out.append(
                Finding(
                    "warning",
                    "power",
                    f"Detected {len(files)} total files in directory {run_dir}, but some do "
                    "not conform",
                )
            )
        for idx, what in ((node_idx, "node"), (sw_idx, "sw")):
            # the official range test never records what it saw: duplicates pass
            if any(e < 0 or e > len(idx) - 1 for e in idx):
                out.append(
                    Finding(
                        "warning",
                        "power",
                        f"Bad naming of {what} power files in directory {run_dir}, expected to "
                        f"be {what}_x with x in range [0, {len(idx) - 1}]",
                        hint=f"number the {what} files 0..n-1",
                    )
                )
                errors.add(name)
            elif len(set(idx)) != len(idx):
                out.append(
                    Finding(
                        "warning",
                        "power",
                        f"{run_dir}: duplicate {what} indices {sorted(idx)} (the official power "
                        "checker does not notice: its range test never records what it saw)",
                    )
                )
        node_lens.append(len(nodes))
        sw_lens.append(len(sws))
    names = [run_name(rf) for rf in result_files]
    for lens, what in ((node_lens, "nodes"), (sw_lens, "sw")):
        counter = Counter(lens)
        mode = max(counter, key=counter.get)  # ValueError on an empty list, as officially
        for i, n in enumerate(lens):
            if n != mode:
                # official index bug: i counts runs *with* a power folder, names counts all runs
                out.append(
                    Finding(
                        "warning",
                        "power",
                        f"Inconsistent number of {what} in directory {power_dir}/{names[i]}",
                        hint="every run needs the same number of node_* and sw_* files",
                    )
                )
                errors.add(names[i])
    return errors, out


# ---------------------------------------------------------------- the run set


def _default_check(path: str, ruleset: str):
    from mlperf_submit.compliance.filecheck import check_file

    return check_file(path, ruleset)


def _benchmark_of(reports: Sequence) -> str | None:
    names = [r.facts.submission.get("submission_benchmark") for r in reports]
    names = [n for n in names if isinstance(n, str)]
    return Counter(names).most_common(1)[0][0] if names else None


def _division_of(reports: Sequence):
    for r in reports:
        d = r.facts.submission.get("submission_division")
        if d is not None:
            return d
    return None


def result_files(directory: str) -> list[str]:
    """``glob(dir/result_*.txt)`` sorted, as package_checker iterates them."""
    return sorted(glob.glob(os.path.join(glob.escape(directory), RESULT_GLOB)))


def check_result_dir(
    directory: str,
    ruleset: str,
    division: object = None,
    *,
    system: str | None = None,
    system_bypass: Bypass | None = None,
    rcp_bypass: bool = False,
    seed_bypass: bool = False,
    check: Callable = _default_check,
) -> DirReport:
    """Check ``results/<system>/<benchmark>/`` as package_checker does (``division=None``: logs)."""
    directory = os.fspath(directory)  # kept as given: every path printed starts with it
    if not os.path.isdir(directory):
        raise InputError(f"{directory}: not a directory")
    names = os.path.normpath(os.path.abspath(directory))  # only for its last two names
    benchmark = os.path.basename(names)
    rep = DirReport(
        path=directory,
        benchmark=benchmark,
        ruleset=ruleset,
        system=system or os.path.basename(os.path.dirname(names)),
    )
    if not meta.is_allowed(benchmark, ruleset):
        rep.skipped = f"Skipping benchmark: {benchmark} (not in ruleset {ruleset}; {meta.where_is(benchmark)})"
        _warn(rep, "skip", rep.skipped, hint="check with --ruleset set to one of those rulesets")
        return rep
    files = result_files(directory)
    all_files = glob.glob(os.path.join(glob.escape(directory), "*"))
    params = benchmark_params(directory)
    rep.required_runs = meta.required_runs(benchmark)
    if len(files) != rep.required_runs:
        _err(
            rep,
            "count",
            f"Incorrect number of files in dir, or wrong file names in directory {directory}, "
            f"found {len(files)}, expected {rep.required_runs}",
            hint=f"submit exactly {rep.required_runs} runs named result_<i>.txt",
        )
    if len(all_files) > len(files) + len(params.paths):
        _warn(
            rep,
            "files",
            f"Detected {len(all_files)} total files in directory {directory}, but some do not "
            "conform to naming convention, should you rename them to result_*.txt ?",
        )
    if len(files) < len(all_files):
        others = sorted(os.path.basename(p) for p in set(all_files) - set(files))
        _warn(rep, "files", f"Unknown files in result directory: {directory} ({', '.join(others)})")
    _check_runs(rep, files, ruleset, check)
    power_dir = os.path.join(directory, "power")
    if os.path.exists(power_dir):
        try:
            power_errors, power_findings = check_power(power_dir, files)
        except Exception as err:
            rep.official_crash = f"power checker: {type(err).__name__}: {err}"
            _err(rep, "crash", f"{power_dir}: the official power checker crashes ({err})")
        else:
            rep.warnings.extend(power_findings)
            rep.power_failing = sorted(power_errors)
            rep.failing = sorted(set(rep.failing) | power_errors)
    _olympic_tolerance(rep, benchmark)
    rep.warnings.extend(params.findings)
    bypass = (system_bypass or Bypass()) | params
    _closed_checks(rep, division, files, bypass, rcp_bypass, seed_bypass)
    _score(rep, directory)
    return rep


def check_result_files(
    paths: Sequence[str],
    ruleset: str,
    division: object = None,
    *,
    check: Callable = _default_check,
    where: str | None = None,
) -> DirReport:
    """A loose set of logs of one benchmark (no directory rules: names, params, power);
    ``where``: the directory the user named (default: the files' common directory)."""
    files = sorted(str(p) for p in paths)
    if where is None:
        where = os.path.commonpath(files) if files else "."
    rep = DirReport(path=where, benchmark=None, ruleset=ruleset)
    _check_runs(rep, files, ruleset, check)
    rep.benchmark = _benchmark_of(rep.files)
    if rep.benchmark is None:
        _err(rep, "benchmark", "no log names its benchmark (submission_benchmark)")
        return rep
    rep.required_runs = meta.required_runs(rep.benchmark)
    if len(files) != rep.required_runs:
        _err(
            rep,
            "count",
            f"found {len(files)} runs of {rep.benchmark}, expected {rep.required_runs}",
            hint=f"a submission has exactly {rep.required_runs} runs",
        )
    _olympic_tolerance(rep, rep.benchmark)
    _closed_checks(rep, division, files, Bypass(), False, False)
    _score(rep, None)
    return rep


def _unreadable(path: str, ruleset: str, why: str):
    """A stand-in report for a result file that cannot be read (the official tools crash)."""
    from mlperf_submit.compliance.filecheck import FileReport, RunFacts

    finding = Finding("error", "crash", why, hint="replace it with the run's log (a text file)")
    return FileReport(
        path=path,
        ruleset=ruleset,
        passed=False,
        errors=[],  # the crash finding is official_crash_finding (reasons() lists it first)
        warnings=[],
        official_crash=why,
        n_mllog=0,
        n_parse_errors=0,
        configs=[],
        facts=RunFacts(),
        official_crash_finding=finding,
    )


def _check_runs(rep: DirReport, files: Sequence[str], ruleset: str, check: Callable) -> None:
    for path in files:
        try:
            fr = check(path, ruleset)
        except InputError as err:  # a directory or a dangling link named result_*.txt
            why = str(err).removeprefix(f"{path}: ")
            fr = _unreadable(path, ruleset, f"{why} (the official tools crash on it)")
        rep.files.append(fr)
        if fr.official_crash:
            rep.official_crash = rep.official_crash or f"{path}: {fr.official_crash}"
        if not fr.passed:
            rep.failing.append(run_name(path))
        status = fr.facts.run_stop_status
        if fr.facts.run_stop_ms is not None and status != "success":
            rep.not_success.append((run_name(path), status))
    for name, status in rep.not_success:
        _warn(
            rep,
            "status",
            f"{name}: run_stop status is {status!r}, not 'success': compliance and scoring accept "
            "the run, but the RCP checker counts it as not converged",
            hint="log run_stop with status 'success' only when the target was reached",
        )


def _olympic_tolerance(rep: DirReport, benchmark: str) -> None:
    n = len(rep.failing)
    if n == 0:
        return
    limit = meta.max_dropped(benchmark)
    names = ", ".join(rep.failing)
    if n <= limit:
        _warn(
            rep,
            "olympic",
            f"{n} file{' does' if n == 1 else 's do'} not comply, accepting this under olympic "
            f"scoring ({names})",
        )
    else:
        _err(
            rep,
            "olympic",
            f"{n} files do not comply, directory cannot be accepted ({names})",
            hint=f"at most {limit} non-compliant run(s) may be dropped for {benchmark}",
        )


def _closed_checks(rep, division, files, bypass: Bypass, rcp_bypass: bool, seed_bypass: bool):
    if division is None:
        division = _division_of(rep.files)
    rep.division = division
    rep.closed = division == "closed"
    in_scope = rep.ruleset in meta.CHECKED_RULESETS
    rep.seed_bypass = seed_bypass or bypass.seed
    if in_scope and rep.closed:
        if rep.seed_bypass:
            _warn(rep, "seed", "Bypassing Seed Checker (seed-checker-bypass)")
        else:
            rep.seeds_checked = True
            rep.seeds = check_seeds(rep.files)
            seed_errors = [f for f in rep.seeds if f.severity == "error"]
            rep.errors.extend(seed_errors)
            rep.warnings.extend(f for f in rep.seeds if f.severity != "error")
            if seed_errors:
                _err(rep, "seed", "Seed checker failed")
    elif rep.files:
        rep.seeds = check_seeds(rep.files, informational=True)
    rep.rcp_bypass = rcp_bypass or bypass.rcp
    if in_scope and rep.closed and rep.benchmark != "minigo" and files:
        rep.rcp_applies = True
        rep.rcp = check_rcp_files(files, rep.ruleset, bypass=rep.rcp_bypass)
        if rep.rcp.crash:
            rep.official_crash = rep.official_crash or f"rcp_checker: {rep.rcp.crash}"
            _err(rep, "crash", f"the official RCP checker crashes: {rep.rcp.crash}")
        elif not rep.rcp.passed:
            _err(
                rep,
                "rcp",
                f"RCP Test Failed: {rep.rcp.message}",
                hint=_rcp_hint(rep.rcp),
            )
        else:
            rep.warnings.extend(Finding("warning", "rcp", w) for w in rep.rcp.warnings)


def _rcp_hint(res: RcpResult) -> str:
    msg = res.message
    if msg.startswith("Missing RCP"):
        return (
            "no reference convergence point covers this batch size: submit one to "
            "mlcommons/logging, or use an RCP-covered global_batch_size (rcp-bypass needs review)"
        )
    if msg == "Insufficient convergence":
        return (
            "more runs did not converge (run_stop status not 'success') than olympic scoring allows"
        )
    if msg == "Could not detect global_batch_size":
        return "log global_batch_size (the same value) in every run"
    return (
        "the runs converge faster than the reference allows: check the hyperparameters and the "
        "evaluation schedule against the reference"
    )


def _score(rep: DirReport, directory: str | None) -> None:
    if not rep.files or rep.benchmark is None:
        return
    ttts: dict[str, float | None] = {}
    for fr in rep.files:
        f = fr.facts
        # the summarizer's pairing of run_start/run_stop, and its arithmetic
        start, stop = f.ttt_start_ms, f.ttt_stop_ms
        ok = fr.passed and start is not None and stop is not None
        ttts[run_name(fr.path)] = ttt_minutes(start, stop) if ok else None
    scaling = (1.0, None)
    if directory is not None:
        try:
            scaling = read_scaling(directory)
        except InputError as err:
            _err(rep, "scaling", str(err), hint='write {"scaling_factor": <number>}')
    # the official flow: package_checker's RCP step acts on scaling.json, then the summarizer
    rcp = rep.rcp if rep.rcp_applies and rep.rcp is not None and not rep.rcp.crash else None
    published = publish_factor(
        scaling, rcp.scaling_action if rcp else None, rcp.scaling_written if rcp else None
    )
    rep.score = score_runs(ttts, rep.benchmark, scaling, published)
    if rep.score.too_many_failures:
        _warn(rep, "score", rep.score.note)


__all__ = [
    "PARAMS_FILE",
    "DirReport",
    "check_power",
    "check_result_dir",
    "check_result_files",
    "result_files",
    "run_name",
]
