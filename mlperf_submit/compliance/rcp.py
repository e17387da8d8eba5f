"""The RCP (reference convergence point) check, bit-identical to ``mlperf_logging.rcp_checker``.

docs/official-tools.md §6. Three steps, each mirroring the official code, bugs included:

1. :func:`read_rcp_point` reads one log the way ``read_submission_file`` does: lines containing
   ``:::MLLOG `` cut at the *last* token, and **substring** tests on the raw JSON text
   (``"global_batch_size"`` anywhere in a line sets the batch size, the last one wins;
   ``eval_accuracy``/``eval_error`` set the convergence point: ``samples_count`` for the LLM-era
   benchmarks, ``round(epoch_num, 3)`` for the others, the first passing FID/CLIP step for
   stable_diffusion, ``train_samples`` for bert with ``bert_train_samples``); a ``run_stop`` whose
   ``metadata.status`` is not ``"success"`` makes the run non-converged (point ``1e9``).
2. :func:`collect_points` mirrors ``get_submission_epochs`` (one batch size and one benchmark
   across files, more than 1 non-converged run (4 for unet3d) = ``Insufficient convergence``).
3. :func:`rcp_check` mirrors ``check_directory``: RCP statistics (olympic mean, population stdev
   over all points, t-test bisection with alpha 0.05 and tolerance 1e-4), pruning with its
   off-by-one (logging#368), exact match / interpolation / smaller-BS fallback, the llama31_405b
   slack, bypass, and the normalisation factor.

Where the official tool would raise (bad JSON on a matching line, a ``run_stop`` without
``status``, a converged run without any eval line, no ``submission_benchmark``, a benchmark
without RCP table, ...), the result carries ``crash`` with the reason and counts as failed.

numpy is imported only when statistics are computed, scipy only for a t-test whose p-value
lies within 1e-8 of the limit (``_p_above_alpha``: importing scipy.stats takes 1.6 s, and the
bisection asks ~20 t-tests per RCP record). Nothing here writes: what the
official ``set_scaling=True`` would do to ``scaling.json`` is reported in
``RcpResult.scaling_action`` / ``scaling_written``.

    from mlperf_submit.compliance.rcp import check_rcp_files
    res = check_rcp_files(sorted(glob("results/sys/llama31_8b/result_*.txt")), "6.0.0")
    res.passed, res.message, res.scaling_factor     # (True, 'RCP found', 1.0085470085470085)
"""

from __future__ import annotations

import functools
import json
import math
import operator
import os
import warnings
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from mlperf_submit.compliance import meta
from mlperf_submit.compliance.parser import call_deep, loads_bounded, log_lines, open_log
from mlperf_submit.errors import InputError

TOKEN = ":::MLLOG "
NOT_CONVERGED = 1e9
ALPHA = 0.05
TOLERANCE = 0.0001

# Benchmarks whose convergence point is metadata.samples_count of the eval line (official set).
SAMPLES_COUNT_BENCHMARKS = frozenset(
    {
        "llama2_70b_lora",
        "flux1",
        "llama31_405b",
        "llama31_8b",
        "gpt_oss_20b",
        "deepseekv3_671b",
        "qwen35_397b_grpo",
        "dlrmv4",
    }
)
# Benchmarks whose RCP records hold their points under "samples to converge" (the official
# _process_raw_rcp_data); every other benchmark's records use "Epochs to converge", whatever the
# unit of the values (llama31_8b's are samples).
SAMPLES_KEY_BENCHMARKS = frozenset({"llama2_70b_lora", "flux1"})
# llama31_405b from 5.0.0 on: a run set may converge one evaluation (46080 samples) earlier than
# the t-test allows (training rules, v5.0 appendix; logging PR 417).
LLAMA31_405B_SLACK = 46080
# rcp_checker.submission_runs['training'] (its own copy of the run counts).
SUBMISSION_RUNS = {
    "bert": 10,
    "dlrm_dcnv2": 10,
    "gpt3": 3,
    "maskrcnn": 5,
    "resnet": 5,
    "ssd": 5,
    "retinanet": 5,
    "unet3d": 40,
    "rnnt": 10,
    "stable_diffusion": 10,
    "gnn": 10,
    "rgat": 10,
    "llama2_70b_lora": 10,
    "flux1": 10,
    "llama31_405b": 3,
    "llama31_8b": 10,
    "gpt_oss_20b": 10,
    "deepseekv3_671b": 3,
    "qwen35_397b_grpo": 3,
    "dlrmv4": 10,
}
# rcp_checker's own list of rulesets happens to be package_checker's (meta.CHECKED_RULESETS)
RCP_RULESETS = meta.CHECKED_RULESETS
# Messages that rcp-bypass may turn into a pass (the Missing RCP one is matched by prefix).
BYPASSABLE = ("RCP found", "RCP Interpolation")
MISSING_PREFIX = "Missing RCP, please submit RCP with BS = "


class _Unset:
    def __repr__(self) -> str:
        return "<unset>"


_UNSET = _Unset()


@dataclass
class RcpRun:
    """One log as the official RCP reader sees it."""

    path: str
    not_converged: int  # 1 or 0, as the official reader returns it
    point: object  # convergence point (epochs or samples); 1e9 when not converged
    bs: object  # last global_batch_size value, -1 when none
    benchmark: object  # last submission_benchmark value, None when none
    stop_status: object = None  # metadata.status of the last run_stop line
    stop_line: int | None = None  # 1-based file line of that run_stop
    crash: str | None = None  # why the official reader would raise (with file:line)


def conv_unit_key(benchmark: str) -> str:
    """The field of an RCP record that holds its convergence points, as the official reader
    looks it up (``"samples to converge"`` or ``"Epochs to converge"``)."""
    return "samples to converge" if benchmark in SAMPLES_KEY_BENCHMARKS else "Epochs to converge"


def _load(text: str, cache: dict) -> dict:
    if "v" not in cache:
        cache["v"] = loads_bounded(text)  # json.loads, deep values included (parser.py)
    return cache["v"]


def read_rcp_point(path: str, ruleset: str, *, bert_train_samples: bool = False) -> RcpRun:
    """Read one result file exactly like ``rcp_checker.read_submission_file``."""
    not_converged = 1
    subm_epochs: object = NOT_CONVERGED
    bs: object = -1
    benchmark: object = None
    use_train_samples = bert_train_samples
    conv_epoch: object = _UNSET
    sd_results: dict = defaultdict(dict)
    status: object = None
    stop_line = None
    lineno = 0
    try:
        with open_log(path) as f:
            for lineno, line in enumerate(log_lines(f, path), 1):
                pos = line.rfind(TOKEN)
                if pos < 0:
                    continue
                stripped = line[pos:].strip()
                if not stripped.startswith(TOKEN):
                    continue
                text = stripped[len(TOKEN) :]
                cache: dict = {}
                if "global_batch_size" in text:
                    bs = _load(text, cache)["value"]
                if "submission_benchmark" in text:
                    benchmark = _load(text, cache)["value"]
                    if benchmark != "bert" and use_train_samples:
                        use_train_samples = False
                is_eval = "eval_error" in text or "eval_accuracy" in text
                if benchmark == "stable_diffusion" and is_eval:
                    step_unit = "step_num" if ruleset in ["3.1.0"] else "samples_count"
                    obj = _load(text, cache)
                    eval_step = obj["metadata"][step_unit]
                    eval_metric = obj["metadata"]["metric"]
                    sd_results[eval_step][eval_metric] = obj["value"]
                elif benchmark in SAMPLES_COUNT_BENCHMARKS and is_eval:
                    obj = _load(text, cache)
                    conv_epoch = obj["metadata"]["samples_count"]
                    obj["value"]  # noqa: B018 -- the official reader reads it (KeyError if missing)
                elif not use_train_samples and is_eval:
                    conv_epoch = round(_load(text, cache)["metadata"]["epoch_num"], 3)
                elif use_train_samples and "train_samples" in text:
                    conv_epoch = _load(text, cache)["value"]
                if "run_stop" in text and _load(text, cache)["key"] == "run_stop":
                    status = _load(text, cache)["metadata"]["status"]
                    stop_line = lineno
                    if status == "success":
                        not_converged = 0
                        if benchmark == "stable_diffusion":
                            passing = [
                                step
                                for step, res in sd_results.items()
                                if res["FID"] <= 90.0 and res["CLIP"] >= 0.15
                            ]
                            conv_epoch = min(passing)
                        if conv_epoch is _UNSET:
                            raise UnboundLocalError(
                                "run_stop status 'success' but no eval line before it "
                                "(local variable 'conv_epoch' referenced before assignment)"
                            )
                        subm_epochs = conv_epoch
                    else:
                        not_converged = 1
                        subm_epochs = NOT_CONVERGED
    except (OSError, InputError) as err:
        return RcpRun(path, 1, NOT_CONVERGED, -1, None, crash=f"{path}: cannot read ({err})")
    except Exception as err:  # the official reader has no error handling: any raise is a crash
        where = f"{path}:{lineno}"
        return RcpRun(
            path,
            not_converged,
            subm_epochs,
            bs,
            benchmark,
            status,
            stop_line,
            crash=f"{where}: {type(err).__name__}: {err}",
        )
    return RcpRun(path, not_converged, subm_epochs, bs, benchmark, status, stop_line)


@dataclass
class RcpPoints:
    """What ``get_submission_epochs`` returns, plus why."""

    bs: object  # -1 when undetected or inconsistent
    points: list | None  # None = insufficient convergence (or inconsistent files)
    benchmark: object
    runs: list[RcpRun]
    warnings: list[str] = field(default_factory=list)


def collect_points(runs: Sequence[RcpRun], *, bert_train_samples: bool = False) -> RcpPoints:
    """Mirror ``get_submission_epochs`` over already-read runs (in the order given)."""
    not_converged = 0
    points: list = []
    bs: object = -1
    benchmark: object = None
    notes = [
        f"{r.path}: run incomplete or did not converge (run_stop status {r.stop_status!r}); "
        "the RCP checker marks it as infinite"
        for r in runs
        if r.not_converged
    ]
    for run in runs:
        points.append(run.point)
        not_converged += run.not_converged
        if bs == -1:
            bs = run.bs
        elif call_deep(operator.ne, run.bs, bs):
            notes.append(f"batch sizes in files do not match ({run.path}: {run.bs!r} vs {bs!r})")
            return RcpPoints(-1, None, None, list(runs), notes)
        if benchmark is None:
            benchmark = run.benchmark
        elif call_deep(operator.ne, run.benchmark, benchmark):
            notes.append(
                f"benchmark names in files do not match ({run.path}: {run.benchmark!r} vs "
                f"{benchmark!r})"
            )
            return RcpPoints(-1, None, None, list(runs), notes)
    limit = 4 if benchmark == "unet3d" else 1
    if not_converged > limit:
        return RcpPoints(bs, None, benchmark, list(runs), notes)
    return RcpPoints(bs, points, benchmark, list(runs), notes)


# ---------------------------------------------------------------- RCP statistics (numpy/scipy)


def _p_value(subm_mean, subm_stdev, subm_n, ref_mean, ref_stdev, ref_n) -> float:
    """The official ``_find_p_value``: scipy's equal-variance t-test, made one-sided."""
    import scipy.stats  # 1.6 s to import: only where _p_above_alpha cannot decide alone

    t_stat, p_value = scipy.stats.ttest_ind_from_stats(
        subm_mean, subm_stdev, subm_n, ref_mean, ref_stdev, ref_n, equal_var=True
    )
    # two-sided -> one-sided, as the official _find_p_value does
    return p_value / 2 if t_stat < 0 else 1 - (p_value / 2)


# Relative distance from the critical t within which the official computation decides (the
# approximation below is good to ~1e-12; scipy's t to ~1e-16).
_BAND = 1e-8


def _p_above_alpha(subm_mean, subm_stdev, subm_n, ref_mean, ref_stdev, ref_n) -> bool:
    """``_p_value(...) > ALPHA`` without scipy: the one-sided p-value is at least 0.5 for
    t >= 0, and for t < 0 it is the t distribution's CDF at t, which exceeds ALPHA exactly
    when t exceeds the critical value t_c (the CDF increases). t and t_c are computed here;
    only a t within a hair of t_c (or a NaN) goes to the official scipy call. Same answers
    as the official bisection, bit for bit (tests/compliance/test_rcp.py compares every
    shipped table and every corpus dir with the official checker)."""
    v1, v2 = float(subm_stdev) ** 2, float(ref_stdev) ** 2
    v1 = 0.0 if subm_n == 1 else v1
    v2 = 0.0 if ref_n == 1 else v2
    df = subm_n + ref_n - 2.0
    try:
        denom = math.sqrt(((subm_n - 1) * v1 + (ref_n - 1) * v2) / df * (1 / subm_n + 1 / ref_n))
        t = (float(subm_mean) - float(ref_mean)) / denom
    except (ValueError, ZeroDivisionError):
        t = math.nan
    if t >= 0:
        return True  # p = 1 - p2/2 >= 0.5
    tc = _t_critical(df)
    if abs(t - tc) > _BAND * abs(tc):  # False for NaN
        return t > tc
    return _p_value(subm_mean, subm_stdev, subm_n, ref_mean, ref_stdev, ref_n) > ALPHA


@functools.lru_cache(maxsize=256)
def _t_critical(df: float) -> float:
    """t with CDF(t) = ALPHA for ``df`` degrees of freedom (negative), by bisection."""
    lo, hi = -1e3, 0.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if _t_cdf(mid, df) > ALPHA:
            hi = mid
        else:
            lo = mid
        if hi - lo <= 1e-15 * abs(mid):
            break
    return (lo + hi) / 2


def _t_cdf(t: float, df: float) -> float:
    """Student's t CDF for t <= 0: I_x(df/2, 1/2) / 2 with x = df / (df + t^2)."""
    return 0.5 * _betainc(df / 2, 0.5, df / (df + t * t))


def _betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b) (continued fraction, Lentz)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    ln_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x > (a + 1) / (a + b + 2):  # the fraction converges fast on this side only
        return 1.0 - _betainc(b, a, 1.0 - x)
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 1000):
        for num in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-16:
            break
    return math.exp(ln_front) * h / a


def min_acceptable_mean(mean, stdev, num_samples_ref: int, submission_runs: int):
    """``_find_min_acceptable_mean``: bisection on [0, mean] until narrower than 1e-4."""
    if stdev == 0:
        return mean
    num_samples_subm = submission_runs - 2
    mean_max = mean
    mean_min = 0.0
    mean_mid = (mean_min + mean_max) / 2
    while mean_max - mean_min > TOLERANCE:
        if _p_above_alpha(mean_mid, stdev, num_samples_ref, mean, stdev, num_samples_subm):
            mean_max = mean_mid
        else:
            mean_min = mean_mid
        mean_mid = (mean_min + mean_max) / 2
    return mean_mid


class RcpTable:
    """The RCP records of (ruleset, benchmark) with the official statistics and pruned set."""

    def __init__(self, ruleset: str, benchmark: str, raw: dict | None = None):
        import numpy as np

        self.ruleset = ruleset
        self.benchmark = benchmark
        self.submission_runs = SUBMISSION_RUNS[benchmark]  # KeyError as official
        if raw is None:
            with open(meta.rcp_file(benchmark, ruleset)) as f:
                raw = json.load(f)
        processed = {}
        for name, rec in raw.items():
            unit = conv_unit_key(rec["Benchmark"])
            processed[name] = {
                "Benchmark": rec["Benchmark"],
                "BS": rec["BS"],
                "Hyperparams": rec["Hyperparams"],
                "Epochs to converge": list(rec[unit]),
                "RCP Mean": 0.0,
                "RCP Stdev": 0.0,
                "Max Speedup": 0.0,
            }
        self.rcp_data = dict(sorted(processed.items(), key=lambda item: item[1]["BS"]))
        for rec in self.rcp_data.values():
            epochs = rec["Epochs to converge"]
            epochs.sort()
            r = 4 if rec["Benchmark"] == "unet3d" else 1
            rec["RCP Mean"] = np.mean(epochs[r : len(epochs) - r])
            rec["RCP Stdev"] = np.std(epochs)
            min_epochs = min_acceptable_mean(
                rec["RCP Mean"], rec["RCP Stdev"], len(epochs) - r * 2, self.submission_runs
            )
            rec["Max Speedup"] = rec["RCP Mean"] / min_epochs
            rec["Min Epochs"] = min_epochs
        self.pruned_rcp_data = self._prune()

    def interp_mean_stdev(self, target_bs, low: dict, high: dict):
        import numpy as np

        mean = np.interp(target_bs, [low["BS"], high["BS"]], [low["RCP Mean"], high["RCP Mean"]])
        stdev = np.interp(target_bs, [low["BS"], high["BS"]], [low["RCP Stdev"], high["RCP Stdev"]])
        return mean, stdev

    def interp_record(self, target_bs, low: dict, high: dict) -> dict:
        """``_create_interp_rcp``: the t-test uses 2N reference samples (no point list)."""
        mean, stdev = self.interp_mean_stdev(target_bs, low, high)
        min_epochs = min_acceptable_mean(
            mean, stdev, self.submission_runs * 2, self.submission_runs
        )
        return {
            "Benchmark": self.benchmark,
            "BS": target_bs,
            "Hyperparams": {},
            "Epochs to converge": [],
            "RCP Mean": mean,
            "RCP Stdev": stdev,
            "Max Speedup": mean / min_epochs,
            "Min Epochs": min_epochs,
        }

    def _prune(self) -> dict:
        """``_prune_rcps`` with its off-by-one: a deleted point's left neighbour is not re-tested.

        Why each dropped record goes is kept in ``pruned_away`` (record name -> reason)."""
        self.pruned_away: dict[str, str] = {}
        min_epochs = list(self.rcp_data.values())
        fastest = min(min_epochs, key=lambda rc: rc["RCP Mean"])
        for rc in min_epochs:
            if rc["BS"] < fastest["BS"]:
                self.pruned_away[self._name_of(rc)] = (
                    f"BS {rc['BS']} is below BS {fastest['BS']}, the record that converges in the "
                    f"fewest samples/epochs (mean {float(fastest['RCP Mean']):.6g})"
                )
        min_epochs = [rc for rc in min_epochs if rc["BS"] >= fastest["BS"]]
        list_len = len(min_epochs)
        i = 1
        while i < list_len - 1:
            # only the interpolated mean is compared, so the bisection is skipped here
            low, high = min_epochs[i - 1], min_epochs[i + 1]
            mean, _ = self.interp_mean_stdev(min_epochs[i]["BS"], low, high)
            if min_epochs[i]["RCP Mean"] > mean:
                self.pruned_away[self._name_of(min_epochs[i])] = (
                    f"mean {float(min_epochs[i]['RCP Mean']):.6g} at BS {min_epochs[i]['BS']} is "
                    f"above {float(mean):.6g}, the interpolation between BS {low['BS']} and BS "
                    f"{high['BS']}"
                )
                del min_epochs[i]
                i = i - 1
                list_len = list_len - 1
            i = i + 1
        pruned = {}
        for kept in min_epochs:
            for name, rec in self.rcp_data.items():
                if rec["Benchmark"] == kept["Benchmark"] and rec["BS"] == kept["BS"]:
                    pruned[name] = rec
        return pruned

    def _name_of(self, rec: dict) -> str:
        return next(name for name, r in self.rcp_data.items() if r is rec)

    def records(self, rcp_pass: str) -> dict:
        return self.pruned_rcp_data if rcp_pass == "pruned_rcps" else self.rcp_data

    def find(self, bs, rcp_pass: str) -> dict | None:
        for rec in self.records(rcp_pass).values():
            if rec["BS"] == bs:
                return rec
        return None

    def find_min(self, rcp_pass: str) -> dict | None:
        min_bs, found = 1e9, None
        for rec in self.records(rcp_pass).values():
            if rec["BS"] < min_bs:
                found, min_bs = rec, rec["BS"]
        return found

    def top_min(self, bs, rcp_pass: str) -> dict | None:
        min_bs, found = 0, None
        for rec in self.records(rcp_pass).values():
            if rec["BS"] < bs and rec["BS"] > min_bs:
                min_bs, found = rec["BS"], rec
        return found

    def bottom_max(self, bs, rcp_pass: str) -> dict | None:
        max_bs, found = 1e9, None
        for rec in self.records(rcp_pass).values():
            if rec["BS"] > bs and rec["BS"] < max_bs:
                max_bs, found = rec["BS"], rec
        return found


@dataclass
class RcpMatch:
    """Which record ``check_directory`` tests a run set of batch size ``bs`` against.

    kind: ``found`` (a record at ``bs``), ``interpolated`` (between ``low`` and ``high``),
    ``smaller`` (``bs`` below every record: tested against the smallest, passes only when the
    runs converge no faster than it), ``missing`` (``bs`` above every record: fails, ``Missing
    RCP``), ``none`` (no record at all: ``Cannot find any RCPs``)."""

    kind: str
    record: dict | None = None
    low: dict | None = None
    high: dict | None = None


def match_record(table: RcpTable, bs, rcp_pass: str = "pruned_rcps") -> RcpMatch:
    """The official lookup of ``check_directory`` for batch size ``bs`` (no submission needed)."""
    rec = table.find(bs, rcp_pass)
    if rec is not None:
        return RcpMatch("found", rec)
    low, high = table.top_min(bs, rcp_pass), table.bottom_max(bs, rcp_pass)
    if low is not None and high is not None:
        return RcpMatch("interpolated", table.interp_record(bs, low, high), low, high)
    if low is not None:
        return RcpMatch("missing", None, low, None)
    if high is not None:
        return RcpMatch("smaller", table.find_min(rcp_pass), None, high)
    return RcpMatch("none")


def effective_record(ruleset: str, benchmark, rec: dict) -> dict:
    """The record as the test uses it: a copy, with llama31_405b's one-evaluation slack applied
    to its Max Speedup from 5.0.0 on (``_eval_submission_record``)."""
    rec = dict(rec)  # the cached table must not be mutated (official mutates a fresh copy)
    if _version_at_least(ruleset, "5.0.0") and benchmark == "llama31_405b":
        rec["Max Speedup"] = rec["RCP Mean"] / (rec["Min Epochs"] - LLAMA31_405B_SLACK)
    return rec


def acceptance_threshold(rec: dict) -> float:
    """The smallest olympic mean of a run set's points that passes (``Mean / Max Speedup``) of
    an :func:`effective_record`."""
    return rec["RCP Mean"] / rec["Max Speedup"]


@functools.lru_cache(maxsize=64)
def rcp_table(ruleset: str, benchmark: str) -> RcpTable:
    """The shipped table of (ruleset, benchmark), statistics computed once per process."""
    return RcpTable(ruleset, benchmark)


# ---------------------------------------------------------------- the check


@dataclass
class RcpResult:
    """Verdict of the RCP check on one directory (``check_directory``'s return and side effects)."""

    ruleset: str
    benchmark: object
    bs: object
    passed: bool
    message: str  # official rcp_msg ('' when it crashes)
    scaling_factor: float = 1.0  # official third return value (normalisation factor)
    # what set_scaling=True does to <dir>/scaling.json: 'keep', 'delete' or 'write'
    scaling_action: str = "keep"
    scaling_written: float | None = None
    bypassed: bool = False
    record: dict | None = None  # the RCP record compared against (BS, Mean, Stdev, Min, Speedup)
    interpolated: bool = False
    subm_mean: float | None = None
    points: list = field(default_factory=list)  # per-run points, in file order
    runs: list[RcpRun] = field(default_factory=list)
    crash: str | None = None  # the official tool would raise here
    warnings: list[str] = field(default_factory=list)

    @property
    def min_epochs(self) -> float | None:
        if self.record is None:
            return None
        return float(self.record["RCP Mean"] / self.record["Max Speedup"])

    def summary(self) -> str:
        if self.crash:
            return f"official rcp_checker crashes: {self.crash}"
        verdict = "passed" if self.passed else "failed"
        text = f"RCP {verdict}: {self.message}"
        if self.subm_mean is not None and self.record is not None:
            text += (
                f" (BS {self.bs}: submission mean {self.subm_mean:.6g} vs RCP mean "
                f"{float(self.record['RCP Mean']):.6g}, minimum {self.min_epochs:.6g})"
            )
        if self.scaling_written is not None:
            text += f"; normalisation factor {float(self.scaling_written)!r}"
        return text


def _version_at_least(version: str, minimum: str) -> bool:
    a = tuple(int(x) for x in version.split("."))
    b = tuple(int(x) for x in minimum.split("."))
    n = max(len(a), len(b))
    return a + (0,) * (n - len(a)) >= b + (0,) * (n - len(b))


def _eval_record(res: RcpResult, rec: dict, points: list) -> bool:
    """``_eval_submission_record``; fills mean, factor and the scaling.json side effect."""
    import numpy as np

    rec = effective_record(res.ruleset, res.benchmark, rec)
    pts = list(points)
    pts.sort()
    r = 4 if rec["Benchmark"] == "unet3d" else 1
    with warnings.catch_warnings():  # mean of an empty slice is nan, as official (a fail)
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.mean(pts[r : len(pts) - r])
    norm = rec["RCP Mean"] / mean
    norm = 1.0 if norm < 1 else norm
    res.record, res.subm_mean, res.scaling_factor = rec, mean, norm
    res.scaling_action = "delete"
    if mean >= acceptance_threshold(rec):
        if mean < rec["RCP Mean"]:
            res.scaling_action, res.scaling_written = "write", norm
        return True
    return False


def rcp_check(
    ruleset: str,
    collected: RcpPoints,
    *,
    rcp_pass: str = "pruned_rcps",
    bypass: bool = False,
    table: RcpTable | None = None,
) -> RcpResult:
    """Mirror ``check_directory`` on collected points (never writes ``scaling.json``)."""
    bs, points, benchmark = collected.bs, collected.points, collected.benchmark
    res = RcpResult(
        ruleset,
        benchmark,
        bs,
        False,
        "",
        points=[r.point for r in collected.runs],
        runs=list(collected.runs),
        warnings=list(collected.warnings),
    )
    crashed = next((r.crash for r in collected.runs if r.crash), None)
    if crashed:
        res.crash = crashed
        return res
    try:
        if ruleset not in RCP_RULESETS:
            raise Exception(f"RCP Checker only supported in {', '.join(sorted(RCP_RULESETS))}")
        if benchmark not in SUBMISSION_RUNS:
            raise KeyError(benchmark)
        if table is None:
            if not meta.has_rcps(benchmark, ruleset):
                raise FileNotFoundError(f"no RCP table {meta.rcp_file(benchmark, ruleset)}")
            table = rcp_table(ruleset, benchmark)
        if bs == -1:
            res.message = "Could not detect global_batch_size"
            return res
        if points is None:
            res.message = "Insufficient convergence"
            return res
        match = match_record(table, bs, rcp_pass)
        res.interpolated = match.kind == "interpolated"
        if match.kind == "found":
            res.message = "RCP found"
            res.passed = _eval_record(res, match.record, points)
        elif match.kind == "interpolated":
            res.message = "RCP Interpolation"
            res.passed = _eval_record(res, match.record, points)
        elif match.kind == "missing":
            res.message = f"{MISSING_PREFIX}{bs}"
        elif match.kind == "smaller":
            res.passed = _eval_record(res, match.record, points)
            res.message = (
                "RCP not found but slower convergence on smaller batch size"
                if res.passed
                else f"{MISSING_PREFIX}{bs}"
            )
        else:
            res.message = "Cannot find any RCPs"
    except Exception as err:  # the official checker would end in a traceback
        res.passed, res.crash = False, f"{type(err).__name__}: {err}"
        return res
    if (
        bypass
        and not res.passed
        and (res.message in BYPASSABLE or res.message == f"{MISSING_PREFIX}{bs}")
    ):
        res.message += " passed using rcp_bypass"
        res.passed = res.bypassed = True
        res.warnings.append(
            "RCP test failed but allowed to proceed with RCP bypass; be ready to have this "
            "reviewed by the submission committee"
        )
    return res


def check_rcp_files(
    paths: Iterable[str],
    ruleset: str,
    *,
    rcp_pass: str = "pruned_rcps",
    bypass: bool = False,
    bert_train_samples: bool = False,
) -> RcpResult:
    """Read the logs (in the order given) and run the check, like ``check_directory``."""
    runs = [read_rcp_point(p, ruleset, bert_train_samples=bert_train_samples) for p in paths]
    collected = collect_points(runs, bert_train_samples=bert_train_samples)
    res = rcp_check(ruleset, collected, rcp_pass=rcp_pass, bypass=bypass)
    missing_bs = [r.path for r in runs if r.bs == -1 and not r.crash]
    if missing_bs and len(missing_bs) < len(runs):
        res.warnings.append(
            f"{', '.join(os.path.basename(p) for p in missing_bs)} log no global_batch_size: "
            "the official RCP checker's outcome then depends on the directory listing order"
        )
    return res


def apply_scaling(directory: str, result: RcpResult) -> str | None:
    """Do to ``<directory>/scaling.json`` what the official ``set_scaling=True`` check does.

    Only for callers that ask for it explicitly (the checks never call this): ``delete`` removes
    the file, ``write`` replaces it with ``{"scaling_factor": <factor>}`` written as the official
    tool writes it, ``keep`` leaves it. Returns the path written, or None.
    """
    path = os.path.join(directory, "scaling.json")
    if result.scaling_action in ("delete", "write") and os.path.exists(path):
        os.remove(path)
    if result.scaling_action != "write":
        return None
    with open(path, "w") as f:
        f.write(json.dumps({"scaling_factor": result.scaling_written}))
    return path
