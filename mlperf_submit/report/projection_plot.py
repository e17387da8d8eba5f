"""The projection of a benchmark's run set, replayed run by run, and its plot.

After the first k runs (k = 1..n, in run order), what did the projection say about the full run
set (``compliance/projection.py``: score interval, RCP outlook)? One PNG, two panels:

- the projected olympic score with its interval against the number of runs finished, and the
  actual score once the run set is complete;
- the mean convergence point so far against the RCP band (acceptance threshold, RCP mean) where
  the RCP test applies (closed division).

A campaign that is still running shows where it is heading; a finished one how early the
projection knew.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from mlperf_submit.report.collect import BenchmarkData  # noqa: E402

FINISHED = ("converged", "not converged")
_DPI = 110


def replay(data: BenchmarkData, draws: int = 2000) -> list:
    """The projection after each finished run, in run order (``Projection`` objects)."""
    from mlperf_submit.compliance.projection import observe_file, project

    finished = [r for r in data.runs if r.status in FINISHED or not _is_campaign_status(r.status)]
    runs = [observe_file(r.path, data.ruleset, name=r.name) for r in finished]
    out = []
    for k in range(1, len(runs) + 1):
        out.append(
            project(
                runs[:k],
                benchmark=data.benchmark,
                ruleset=data.ruleset,
                division=data.division,
                draws=draws,
            )
        )
    return out


def _is_campaign_status(status: str) -> bool:
    return status in ("pending", "running", "crashed", "timed out", "interrupted", *FINISHED)


def plot_projection(data: BenchmarkData, history: list, out: Path) -> Path:
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2))
    ks = [p.finished for p in history if p.score is not None]
    mids = [p.score for p in history if p.score is not None]
    lows = [p.score - p.score_low for p in history if p.score is not None]
    highs = [p.score_high - p.score for p in history if p.score is not None]
    level = history[-1].level if history else 0.9
    if ks:
        ax.errorbar(ks, mids, yerr=[lows, highs], fmt="o", capsize=4, color="tab:blue",
                    label=f"projected score, {level:.0%} interval")  # fmt: skip
    required = history[-1].required if history else None
    if data.score.minutes is not None and required and len(data.runs) >= required:
        ax.axhline(data.score.minutes, color="tab:green", lw=1.4,
                   label=f"score {data.score.minutes:.4g} min")  # fmt: skip
    ax.set_xlabel(f"runs finished (of {required} required)" if required else "runs finished")
    ax.set_ylabel("olympic score (minutes)")
    ax.set_title(f"{data.benchmark}: projected score — {data.where}", fontsize=10)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="best")
    pts = [(p.finished, p.points_mean) for p in history if p.points_mean is not None]
    if pts:
        bx.plot(*zip(*pts), "o-", color="tab:purple", label="mean convergence point so far")
    last = history[-1] if history else None
    if last is not None and last.rcp_applies and last.rcp is not None and last.rcp.mean:
        r = last.rcp
        bx.axhline(r.mean, color="black", ls="--", lw=1.1, label=f"RCP mean {r.mean:.6g}")
        bx.axhline(r.threshold, color="tab:red", lw=1.2,
                   label=f"RCP test passes from {r.threshold:.6g}")  # fmt: skip
        title = f"RCP outlook ({r.message}): projected {last.rcp_verdict}"
    else:
        title = "convergence (RCP not applicable: " + (
            "division not closed)" if last is not None and last.division != "closed" else "no RCP)"
        )
    bx.set_xlabel("runs finished")
    bx.set_ylabel(f"{data.progress_key} at convergence")
    bx.set_title(title, fontsize=10)
    bx.grid(alpha=0.3)
    if bx.get_legend_handles_labels()[0]:
        bx.legend(fontsize=8, loc="best")
    if not history:
        ax.text(0.5, 0.5, "no finished run yet", ha="center", va="center", transform=ax.transAxes)
    fig.tight_layout()
    fig.savefig(out, dpi=_DPI, bbox_inches="tight")
    plt.close(fig)
    return out
