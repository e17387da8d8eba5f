"""Projecting an incomplete run set: the olympic score with an interval, the RCP outlook, the
runs still needed.

A run set of N runs is scored by ``result_summarizer`` (olympic mean of the compliant times, x
the ``scaling.json`` factor the RCP check writes) and judged by the RCP check (olympic mean of
the convergence points against the acceptance threshold). With k < N runs finished -- and maybe
one running, known only by its evaluations so far -- the remaining runs are drawn many times and
each completed set is scored and judged exactly as the official tools would; the spread of the
results is the projection.

The model of one run is the structure of a training run: its time to train is its convergence
point times its time per sample (or epoch), ``t = c * r``.

* more exactly ``t = a + c * r``, ``a`` the fixed cost of a run, fitted once the runs converged
  at two or more points.
* ``r`` varies little from run to run (0.1-3 % on the published logs): log r is normal, with
  the conjugate normal-inverse-chi-square posterior of its mean and spread given the k runs
  seen (prior spread :data:`RATE_SPREAD_PRIOR` worth :data:`RATE_SPREAD_PRIOR_DF` runs), so a
  few identical times still leave room for the next run to differ.
* ``c`` is what varies, and it is discrete: a run converges at one of its evaluation points. A
  new run's ``c`` comes from the Dirichlet-process posterior -- one of the points already seen,
  or, with prior weight ``ALPHA`` against 1 per point seen, a fresh draw from a log-normal
  around their mean (the RCP mean counted as one more run) whose spread is the reference
  convergence spread of the RCP at this batch size (the RCP test itself assumes the
  submission's spread equals the reference's), snapped to the evaluation grid the logs show.
* A run fails (compliance, or no convergence) with a probability whose Beta prior has mean
  :data:`FAIL_PRIOR` and the weight of :data:`FAIL_PRIOR_WEIGHT` runs, updated with the runs seen.
* A running run converges after its last evaluation: its ``c`` is drawn above that point, and
  its time is its elapsed time plus what is left at the pace the finished runs had after the
  same evaluation (their fixed costs are behind it too), else at ``r``.

The interval is the central ``level`` quantile range of the projected scores;
``bench/projection_accuracy.py`` measures how often it holds on the published logs.

    proj = project_files(sorted(glob("results/sys/llama31_8b/result_*.txt"))[:6], "5.1.0")
    proj.score, proj.score_low, proj.score_high, proj.rcp_verdict, proj.more_needed
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from mlperf_submit.compliance import meta
from mlperf_submit.compliance.rcp import NOT_CONVERGED, SAMPLES_COUNT_BENCHMARKS, read_rcp_point
from mlperf_submit.compliance.rcp_outlook import RcpOutlook, rcp_outlook
from mlperf_submit.errors import InputError

ALPHA = 2.0
"""Dirichlet-process concentration: the weight of "a point not seen yet" against each point
seen. Fitted, by maximum likelihood of "run k+1 converges at a point runs 1..k did not", on the
reference runs of every installed RCP table (162 distinct records) for k <= 6 -- data
independent of the published results the projection is measured on (all k: 8.5, driven by
benchmarks whose points are nearly continuous)."""
RATE_SPREAD_PRIOR = 0.01
"""Prior run-to-run spread of log(time per sample) (1 %: the published run sets spread 0.1-3 %)."""
RATE_SPREAD_PRIOR_DF = 1.0
"""Weight of that prior, in runs."""
DEFAULT_POINT_SPREAD = 0.05
"""Relative spread of the convergence point when no RCP gives the reference one."""
FAIL_PRIOR = 0.02
FAIL_PRIOR_WEIGHT = 10.0
DRAWS = 4000
SEED = 20250101


@dataclass
class RunObs:
    """A finished run as the projection sees it."""

    name: str
    compliant: bool  # the official compliance verdict (the summarizer drops the others)
    ttt: float | None  # minutes (run_stop - run_start), None without both
    point: float | None  # the RCP reader's convergence point; None when not converged
    evals: list[float] = field(default_factory=list)  # evaluation points in order
    eval_minutes: dict = field(default_factory=dict)  # point -> minutes since run_start
    bs: object = None
    benchmark: object = None
    division: object = None

    @property
    def counts(self) -> bool:
        """A run the score can use: compliant with a time."""
        return self.compliant and self.ttt is not None


@dataclass
class RunningObs:
    """A run still going: its evaluations so far (progress, minutes since run_start)."""

    name: str
    evals: list[tuple[float, float]]

    @property
    def progress(self) -> float:
        return self.evals[-1][0] if self.evals else 0.0

    @property
    def minutes(self) -> float:
        return self.evals[-1][1] if self.evals else 0.0


@dataclass
class Projection:
    benchmark: str
    ruleset: str
    division: object
    bs: object
    required: int
    finished: int  # runs with a result (compliant or not)
    failed: int  # of those, not compliant or not converged
    running: RunningObs | None
    level: float
    score: float | None = None  # median projected score (minutes)
    score_low: float | None = None
    score_high: float | None = None
    p_no_score: float = 0.0  # too many failed runs
    scaling: float | None = None  # median projected scaling factor
    rcp: RcpOutlook | None = None
    rcp_applies: bool = False
    rcp_verdict: str = "not applicable"  # pass | fail | not applicable | unknown
    p_rcp_pass: float | None = None
    points_mean: float | None = None  # mean convergence point of the converged runs so far
    remaining_min_point: float | None = None  # slowest-allowed common point for the rest
    remaining_faster: float | None = None  # how much faster than points_mean the rest may be
    rcp_fate: str | None = None  # "decided: fails" / "decided: passes" when the rest cannot matter
    more_failures_allowed: int | None = None
    notes: list[str] = field(default_factory=list)
    path: str | None = None  # the run set projected, where there is one

    @property
    def more_needed(self) -> int:
        return max(0, self.required - self.finished)

    @property
    def complete(self) -> bool:
        return self.more_needed == 0

    def lines(self) -> list[str]:
        out = []
        head = f"{self.finished}/{self.required} runs finished"
        if self.running is not None:
            head += f", {self.running.name} running (last eval at {_fmt(self.running.progress)})"
        head += f"; {self.more_needed} more needed"
        out.append(head)
        pct = round(self.level * 100)
        if self.score is not None:
            text = (
                f"projected score {self.score:.4f} min ({pct}% interval "
                f"{self.score_low:.4f} - {self.score_high:.4f})"
            )
            if self.scaling and self.scaling > 1.0:
                text += f", RCP scaling x{self.scaling:.4f} included"
            if self.p_no_score >= 0.005:
                text += f"; {self.p_no_score:.0%} chance of too many failed runs (no score)"
            out.append(text)
        else:
            out.append("no score projection yet (no finished compliant run)")
        out.append(self.rcp_line())
        out.extend(self.notes)
        return out

    def rcp_line(self) -> str:
        if not self.rcp_applies or self.rcp is None:
            why = "division is not closed" if self.division != "closed" else "no RCP check"
            if self.rcp is not None and self.rcp.kind in ("not_checked",):
                why = f"ruleset {self.ruleset} has no RCP check"
            return f"RCP: not applicable ({why})"
        r = self.rcp
        if not r.can_pass:
            return f"RCP: fails whatever the runs do ({r.message})"
        unit = r.unit
        text = f"RCP ({r.message}, BS {self.bs}): "
        if self.points_mean is not None:
            text += (
                f"mean {unit} to converge so far {_fmt(self.points_mean)} vs RCP mean "
                f"{_fmt(r.mean)}, pass from {_fmt(r.threshold)}; "
            )
        if self.p_rcp_pass is not None:
            text += f"projected {self.rcp_verdict} (p={self.p_rcp_pass:.2f})"
        if self.rcp_fate:
            text += f"; {self.rcp_fate}"
        elif self.remaining_min_point is not None and not self.complete:
            text += (
                f"; the remaining runs may converge down to {_fmt(self.remaining_min_point)} {unit}"
            )
            if self.remaining_faster is not None:
                text += f" ({self.remaining_faster:.1%} faster than so far)"
            text += " before the RCP test fails; slower runs never fail it"
        if self.more_failures_allowed is not None and not self.complete:
            text += f"; {self.more_failures_allowed} more may fail to converge"
        return text

    def to_dict(self) -> dict:
        def num(x):
            return None if x is None else float(x)

        return {
            "path": self.path,
            "benchmark": self.benchmark,
            "ruleset": self.ruleset,
            "division": self.division if isinstance(self.division, str) else None,
            "global_batch_size": self.bs if isinstance(self.bs, int | float) else None,
            "required_runs": self.required,
            "finished_runs": self.finished,
            "failed_runs": self.failed,
            "more_needed": self.more_needed,
            "running": (
                None
                if self.running is None
                else {
                    "name": self.running.name,
                    "progress": num(self.running.progress),
                    "minutes": num(self.running.minutes),
                }
            ),
            "level": self.level,
            "score": {
                "median": num(self.score),
                "low": num(self.score_low),
                "high": num(self.score_high),
                "p_no_score": float(self.p_no_score),
                "scaling_factor": num(self.scaling),
            },
            "rcp": {
                "applies": self.rcp_applies,
                "outlook": None if self.rcp is None else self.rcp.to_dict(),
                "verdict": self.rcp_verdict,
                "p_pass": num(self.p_rcp_pass),
                "points_mean_so_far": num(self.points_mean),
                "remaining_min_point": num(self.remaining_min_point),
                "remaining_may_be_faster_by": num(self.remaining_faster),
                "decided": self.rcp_fate,
                "more_failures_allowed": self.more_failures_allowed,
            },
            "notes": list(self.notes),
            "lines": self.lines(),
        }


def _fmt(x) -> str:
    if x is None:
        return "?"
    x = float(x)
    return f"{x:,.0f}" if x.is_integer() and abs(x) >= 1000 else f"{x:.6g}"


# ---------------------------------------------------------------- reading runs


def observe_file(path: str, ruleset: str, name: str | None = None) -> RunObs:
    """A finished run from its log: the compliance verdict and time as the summarizer reads
    them, the convergence point as the RCP reader reads it."""
    from mlperf_submit.compliance.filecheck import check_file

    return observe_report(check_file(path, ruleset, quiet=True), ruleset, name=name)


def observe_report(report, ruleset: str, rcp_run=None, name: str | None = None) -> RunObs:
    """A finished run from its ``filecheck.FileReport`` (and its ``rcp.RcpRun`` when the RCP
    reader has read it already)."""
    from mlperf_submit.compliance.scoring import ttt_minutes

    f = report.facts
    start, stop = f.ttt_start_ms, f.ttt_stop_ms
    ttt = ttt_minutes(start, stop) if start is not None and stop is not None else None
    if rcp_run is None:
        rcp_run = read_rcp_point(report.path, ruleset)
    point = None
    if not rcp_run.crash and not rcp_run.not_converged and _is_number(rcp_run.point):
        point = float(rcp_run.point)
    curve = eval_curve(report.path, f.benchmark)
    return RunObs(
        name=name or os.path.splitext(os.path.basename(report.path))[0],
        compliant=report.passed,
        ttt=ttt,
        point=point,
        evals=[p for p, _ in curve],
        eval_minutes={p: m for p, m in reversed(curve) if m is not None},
        bs=f.global_batch_size,
        benchmark=f.benchmark,
        division=f.division,
    )


def rcp_unit_key(benchmark) -> str:
    """The metadata field the RCP reader takes a convergence point from."""
    return "samples_count" if benchmark in SAMPLES_COUNT_BENCHMARKS else "epoch_num"


def eval_curve(path: str, benchmark=None) -> list[tuple[float, float | None]]:
    """``(progress, minutes since run_start)`` of each evaluation of a log, in order; progress in
    the RCP reader's unit (epoch_num rounded to 3 decimals, as it rounds them) -- the grid a
    convergence point lies on. ``benchmark`` None: the log's own ``submission_benchmark``."""
    return _curve(path, benchmark)[1]


def _curve(path: str, benchmark=None) -> tuple[bool, list[tuple[float, float | None]]]:
    from mlperf_submit.compliance.parser import LogLine, iter_file

    key = rcp_unit_key(benchmark) if benchmark is not None else "epoch_num"
    start = None
    out: list[tuple[float, float | None]] = []
    try:
        for item in iter_file(path):
            if type(item) is not LogLine:
                continue
            if item.key == "submission_benchmark" and benchmark is None:
                key = rcp_unit_key(item.val)
            elif item.key == "run_start" and start is None:
                start = item.timestamp
            elif item.key == "eval_accuracy":
                meta_ = item.metadata if isinstance(item.metadata, dict) else {}
                p = meta_.get(key)
                if _is_number(p):
                    p = round(float(p), 3) if key == "epoch_num" else float(p)
                    minutes = None if start is None else (item.timestamp - start) / 60000.0
                    out.append((p, minutes))
    except (OSError, InputError):
        return False, []
    return start is not None, out


def observe_running(path: str, name: str | None = None) -> RunningObs | None:
    """A run still writing its log: (progress, minutes since run_start) of each evaluation;
    None before its run_start."""
    started, curve = _curve(path)
    if not started:
        return None
    evals = [(p, m) for p, m in curve if m is not None]
    return RunningObs(name or os.path.splitext(os.path.basename(path))[0], evals)


def _is_number(x) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


# ---------------------------------------------------------------- the projection


def project(
    runs: Sequence[RunObs],
    *,
    benchmark: str,
    ruleset: str,
    division: object = None,
    bs: object = None,
    required: int | None = None,
    running: RunningObs | None = None,
    level: float = 0.9,
    draws: int = DRAWS,
    seed: int = SEED,
    rcp: RcpOutlook | None = None,
) -> Projection:
    """Project the full run set from the finished ``runs`` (and one ``running``)."""
    import numpy as np

    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    n_req = required or meta.required_runs(benchmark) or len(runs)
    if division is None:
        division = next((r.division for r in runs if r.division is not None), None)
    if bs is None:
        bs = next((r.bs for r in runs if r.bs is not None), None)
    proj = Projection(
        benchmark,
        ruleset,
        division,
        bs,
        n_req,
        finished=len(runs),
        failed=sum(1 for r in runs if not r.counts or r.point is None),
        running=running,
        level=level,
    )
    k_drop = meta.max_dropped(benchmark)
    closed = division == "closed"
    if rcp is None and _is_number(bs):
        rcp = rcp_outlook(benchmark, ruleset, int(bs))
    proj.rcp = rcp
    proj.rcp_applies = bool(
        closed and rcp is not None and rcp.kind != "not_checked" and benchmark != "minigo"
    )
    ok = [r for r in runs if r.counts and r.point is not None]
    seen_points = [r.point for r in runs if r.point is not None]
    if seen_points:
        proj.points_mean = float(np.mean(seen_points))
    n_fail_seen = sum(1 for r in runs if not r.counts)
    n_nc_seen = sum(1 for r in runs if r.point is None)
    proj.more_failures_allowed = max(0, k_drop - max(n_fail_seen, n_nc_seen))
    if len(runs) > n_req:
        proj.notes.append(
            f"{len(runs)} runs finished, {n_req} are submitted: the projection uses all of them"
        )
    # times and points of the finished runs that count
    times = np.array([r.ttt for r in ok], dtype=float)
    points = np.array([r.point for r in ok], dtype=float)
    other_times = [r.ttt for r in runs if r.counts and r.point is None]
    remaining = max(0, n_req - len(runs))
    rng = np.random.default_rng(seed)

    if len(ok) == 0 and (running is None or not running.evals or running.progress <= 0):
        _rcp_bounds(proj, seen_points, n_req, k_drop)
        if proj.complete:
            proj.notes.append("no compliant run with a convergence point: nothing to project")
        return proj
    # the reference informs the convergence model only where the RCP test applies: an open run
    # (other data, model, schedule) has no reason to converge like the reference
    ref = rcp if proj.rcp_applies and rcp is not None and rcp.mean else None
    if len(ok) == 0 and ref is None:
        proj.notes.append(
            "no finished run and no RCP that applies: the convergence point cannot be projected"
        )
        _rcp_bounds(proj, seen_points, n_req, k_drop)
        return proj

    # --- the model's parameters
    if len(ok):
        overhead, per_point, dof = _time_model(times, points)
        resid = np.log(times) - np.log(overhead + per_point * points)
        r_mean = float(resid.mean())
        r_ss = float(((resid - r_mean) ** 2).sum())  # dof * s^2
        log_c = np.log(points)
        c_mean, k_eff = float(log_c.mean()), len(ok)
        if ref is not None:
            # the reference convergence at this batch size counts as one more run: the RCP test
            # rests on submissions converging like the reference
            c_mean = (c_mean * k_eff + math.log(ref.mean)) / (k_eff + 1)
            k_eff += 1
    else:  # only a running run: its own pace and the RCP mean
        overhead, per_point, dof = 0.0, running.minutes / running.progress, 0
        r_mean, r_ss = 0.0, 0.0
        c_mean, k_eff = math.log(ref.mean), 1
    c_sd = DEFAULT_POINT_SPREAD
    if ref is not None and ref.stdev is not None and ref.stdev > 0:
        c_sd = float(ref.stdev / ref.mean)
    elif len(ok) > 1 and float(np.log(points).std(ddof=1)) > 0:
        c_sd = float(np.log(points).std(ddof=1))
    grid = _grid([r.evals for r in runs] + ([[p for p, _ in running.evals]] if running else []))

    # --- draws of the remaining runs (and the running one)
    n_new = remaining - (1 if running is not None and remaining > 0 else 0)
    D = draws
    fail_a = FAIL_PRIOR * FAIL_PRIOR_WEIGHT + max(n_fail_seen, n_nc_seen)
    fail_b = (1 - FAIL_PRIOR) * FAIL_PRIOR_WEIGHT + len(ok)
    p_fail = rng.beta(fail_a, fail_b, size=(D, 1))
    # spread and mean of log r: the normal-inverse-chi-square posterior, one draw per simulation
    nu = RATE_SPREAD_PRIOR_DF + max(0, dof)
    s2 = (RATE_SPREAD_PRIOR_DF * RATE_SPREAD_PRIOR**2 + r_ss) / nu
    r_sd = np.sqrt(nu * s2 / rng.chisquare(nu, size=(D, 1)))
    r_centre = r_mean + r_sd / math.sqrt(max(1, len(ok))) * rng.standard_normal((D, 1))
    c_centre = c_mean + c_sd / math.sqrt(k_eff) * rng.standard_normal((D, 1))

    def draw_points(shape, above: float | None = None):
        """The Dirichlet-process posterior of the convergence point: per simulation, weights
        over the points seen (1 each) and the base (``ALPHA``); each new run then takes a seen
        point or a draw of the base, a log-normal snapped to the evaluation grid. ``above``:
        conditioned on converging after that point (a running run)."""
        from scipy.special import ndtr, ndtri

        rows, m = shape
        seen = points if above is None else points[points > above]
        centre = np.broadcast_to(c_centre, shape)
        if above is None:
            base = np.exp(centre + c_sd * rng.standard_normal(shape))
            tail = np.ones((rows, 1))
        else:  # the log-normal conditioned on c > above (inverse CDF of the upper tail)
            lo = ndtr((math.log(above) - centre) / c_sd)
            u = lo + (1 - lo) * rng.random(shape)
            base = np.exp(centre + c_sd * ndtri(np.clip(u, 1e-12, 1 - 1e-12)))
            tail = np.clip(1 - lo[:, :1], 1e-9, 1)
        base = _snap(base, grid, above)
        if not len(seen):
            return base
        weights = np.hstack(
            [rng.gamma(1.0, size=(rows, len(seen))), rng.gamma(ALPHA * tail, size=(rows, 1))]
        )
        cum = np.cumsum(weights, axis=1) / weights.sum(axis=1, keepdims=True)
        pick = (rng.random(shape)[:, :, None] > cum[:, None, :]).sum(axis=2)
        take_seen = pick < len(seen)
        return np.where(take_seen, seen[np.minimum(pick, len(seen) - 1)], base)

    cols_t, cols_c, cols_nc = [], [], []
    if n_new > 0:
        c_new = draw_points((D, n_new))
        t_new = (overhead + per_point * c_new) * np.exp(
            r_centre + r_sd * rng.standard_normal((D, n_new))
        )
        failed = rng.random((D, n_new)) < p_fail
        cols_t.append(np.where(failed, np.nan, t_new))
        cols_c.append(np.where(failed, NOT_CONVERGED, c_new))
        cols_nc.append(failed)
    if running is not None and remaining > 0:
        if running.evals and running.progress > 0:
            c_run = draw_points((D, 1), above=running.progress)
            # the time per point after this evaluation, as the finished runs took it (the
            # fixed costs of a run are behind it), else the fitted rate
            pace0 = _pace_after(ok, running.progress) or per_point
            pace = pace0 * np.exp(r_centre + r_sd * rng.standard_normal((D, 1)))
            t_run = running.minutes + pace * (c_run - running.progress)
        else:  # started, no evaluation yet: a fresh run
            c_run = draw_points((D, 1))
            t_run = (overhead + per_point * c_run) * np.exp(
                r_centre + r_sd * rng.standard_normal((D, 1))
            )
        failed = rng.random((D, 1)) < p_fail
        cols_t.append(np.where(failed, np.nan, t_run))
        cols_c.append(np.where(failed, NOT_CONVERGED, c_run))
        cols_nc.append(failed)
    fixed_t = [*times.tolist(), *other_times] + [np.nan] * n_fail_seen
    # non-converged runs take the official reader's point 1e9 (it can be below a real point:
    # gpt3 counts tokens), and are counted apart
    fixed_c = [r.point if r.point is not None else NOT_CONVERGED for r in runs]
    fixed_nc = [r.point is None for r in runs]
    T = np.hstack([np.broadcast_to(np.array(fixed_t, dtype=float), (D, len(fixed_t))), *cols_t])
    C = np.hstack([np.broadcast_to(np.array(fixed_c, dtype=float), (D, len(fixed_c))), *cols_c])
    NC = np.hstack([np.broadcast_to(np.array(fixed_nc, dtype=bool), (D, len(fixed_nc))), *cols_nc])

    # --- score and RCP of each completed set, as the official tools compute them
    olympic_t = _olympic(T, k_drop)
    scale = np.ones(D)
    if proj.rcp_applies and rcp.can_pass:
        nc = NC.sum(axis=1)
        c_mean_set = _olympic_points(C, k_drop)
        passes = (nc <= k_drop) & (c_mean_set >= rcp.threshold)
        proj.p_rcp_pass = float(passes.mean())
        proj.rcp_verdict = "pass" if proj.p_rcp_pass >= 0.5 else "fail"
        scale = np.where(passes & (c_mean_set < rcp.mean), rcp.mean / c_mean_set, 1.0)
    elif proj.rcp_applies:
        proj.p_rcp_pass, proj.rcp_verdict = 0.0, "fail"
    scores = olympic_t * scale
    has = np.isfinite(scores)
    proj.p_no_score = float(1 - has.mean())
    if has.any():
        lo, mid, hi = np.quantile(scores[has], [(1 - level) / 2, 0.5, (1 + level) / 2])
        proj.score, proj.score_low, proj.score_high = float(mid), float(lo), float(hi)
        proj.scaling = float(np.median(scale[has]))
    _rcp_bounds(proj, seen_points, n_req, k_drop)
    return proj


def _pace_after(runs: Sequence[RunObs], progress: float) -> float | None:
    """Minutes per point from the evaluation at ``progress`` to run_stop, over the finished
    runs that evaluated there and converged later (a ratio of sums)."""
    dt = dc = 0.0
    for r in runs:
        m = r.eval_minutes.get(progress)
        if m is not None and r.point is not None and r.point > progress and r.ttt is not None:
            dt += r.ttt - m
            dc += r.point - progress
    return dt / dc if dc > 0 and dt > 0 else None


def _time_model(times, points) -> tuple[float, float, int]:
    """``(overhead, minutes per point, residual degrees of freedom)`` of ``t = a + b * c``:
    least squares when the runs converged at two or more points (the fixed cost of a run --
    its first evaluation, the data pipeline's start -- is then visible), else a pure rate."""
    import numpy as np

    k = len(points)
    if k >= 3 and len(set(points.tolist())) >= 2:
        b, a = np.polyfit(points, times, 1)
        if b > 0 and 0 <= a < 0.5 * float(times.min()):
            return float(a), float(b), k - 2
    return 0.0, float(np.exp(np.mean(np.log(times / points)))), k - 1


def _olympic(T, k: int):
    """Olympic mean per row (NaN = a failed run, which takes a slowest slot), NaN when a row has
    more than ``k`` failures: ``sorted[k : n - k]`` of the passing times, NaN sorting last."""
    import numpy as np

    n = T.shape[1]
    failures = np.isnan(T).sum(axis=1)
    s = np.sort(T, axis=1)
    if n - 2 * k <= 0:
        return np.full(T.shape[0], np.nan)
    out = s[:, k : n - k].mean(axis=1)
    return np.where(failures <= k, out, np.nan)


def _olympic_points(C, r: int):
    import numpy as np

    n = C.shape[1]
    s = np.sort(C, axis=1)
    if n - 2 * r <= 0:
        return np.full(C.shape[0], np.nan)
    return s[:, r : n - r].mean(axis=1)


def _grid(eval_lists: list[list[float]]):
    """The evaluation points the logs show (sorted, distinct), or None."""
    import numpy as np

    pts = sorted({float(p) for evals in eval_lists for p in evals if p > 0})
    return np.array(pts) if len(pts) >= 2 else None


def _snap(values, grid, above: float | None = None):
    """Each value to the nearest evaluation point (past the grid: its last step repeated). The
    base is centred on points the runs logged, which are already evaluation points, so the
    nearest one -- not the next one up -- keeps it unbiased."""
    import numpy as np

    if grid is None:
        return values
    step = float(np.median(np.diff(grid[-min(len(grid), 6) :])))
    if step <= 0:
        return values
    ext = np.concatenate([grid, grid[-1] + step * np.arange(1, 4)])
    out = np.empty_like(values)
    inside = values <= ext[-1]
    idx = np.clip(np.searchsorted(ext, values[inside]), 1, len(ext) - 1)
    left, right = ext[idx - 1], ext[idx]
    v = values[inside]
    out[inside] = np.where(v - left <= right - v, left, right)
    beyond = ~inside
    out[beyond] = grid[-1] + np.round((values[beyond] - grid[-1]) / step) * step
    if above is not None:  # converging strictly after the last evaluation seen
        out = np.where(out <= above, above + step, out)
    return out


def _rcp_bounds(proj: Projection, seen_points: list[float], n_req: int, r: int) -> None:
    """How fast the remaining runs may converge before the RCP test fails (all at one point)."""
    rcp = proj.rcp
    if not proj.rcp_applies or rcp is None or not rcp.can_pass:
        return
    fixed = list(seen_points) + [NOT_CONVERGED] * (proj.finished - len(seen_points))
    rest = n_req - len(fixed)
    if rest <= 0:
        return
    threshold = rcp.threshold

    def mean_with(x: float) -> float:
        pts = sorted(fixed + [x] * rest)
        return sum(pts[r : len(pts) - r]) / max(1, len(pts) - 2 * r)

    hi = max([threshold * 10, *seen_points])
    if mean_with(0.0) >= threshold:
        proj.rcp_fate = "decided: passes whatever the remaining runs do"
        return
    if mean_with(hi) < threshold:
        proj.rcp_fate = "decided: fails whatever the remaining runs do"
        return
    lo = 0.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if mean_with(mid) >= threshold:
            hi = mid
        else:
            lo = mid
    proj.remaining_min_point = hi
    if proj.points_mean:
        proj.remaining_faster = max(0.0, 1 - hi / proj.points_mean)


def project_files(
    paths: Sequence[str],
    ruleset: str,
    *,
    division: object = None,
    required: int | None = None,
    running: str | None = None,
    level: float = 0.9,
    draws: int = DRAWS,
    benchmark: str | None = None,
) -> Projection:
    """Project from finished logs (and the log of a running run)."""
    runs = [observe_file(p, ruleset) for p in paths]
    run_obs = observe_running(running) if running else None
    bm = benchmark or next((r.benchmark for r in runs if isinstance(r.benchmark, str)), None)
    if bm is None and running:
        from mlperf_submit.compliance.check_paths import log_benchmark

        bm = log_benchmark(running)
    if bm is None:
        raise ValueError("no log names its benchmark (submission_benchmark)")
    bs = next((r.bs for r in runs if r.bs is not None), None)
    if bs is None and running:
        bs = log_batch_size(running)
    return project(
        runs,
        benchmark=bm,
        ruleset=ruleset,
        division=division,
        bs=bs,
        required=required,
        running=run_obs,
        level=level,
        draws=draws,
    )


def log_batch_size(path: str):
    """The last global_batch_size a log holds (the RCP reader keeps the last), or None."""
    from mlperf_submit.compliance.parser import LogLine, iter_file

    bs = None
    try:
        for item in iter_file(path):
            if type(item) is LogLine and item.key == "global_batch_size":
                bs = item.val
    except OSError:
        return None
    return bs
