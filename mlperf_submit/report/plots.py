"""The two plots of a benchmark, as PNG files (matplotlib, no display needed).

- convergence: eval metric vs progress (samples_count or epoch_num) for every run, one line per
  seed, with the closed-division target (and the preset's target, when the runs used another);
- time to train: one bar per run in run order; the runs the olympic score drops are hatched and
  labelled (fastest / slowest / failed), and the score is drawn as a horizontal line.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display

import matplotlib.pyplot as plt  # noqa: E402

from mlperf_submit.report.collect import BenchmarkData  # noqa: E402

_DPI = 110


def metric_meaning(benchmark: str) -> str | None:
    """What eval_accuracy measures: the benchmark class's own label when it is built here,
    else the rules' meaning for a published benchmark (``compliance/quality_metrics.py``)."""
    from mlperf_submit.benchmarks.registry import describe
    from mlperf_submit.compliance.quality_metrics import quality_metric

    cls = describe(benchmark)
    return cls.metric_label if cls is not None else quality_metric(benchmark)


def _short_seed(seed) -> str:
    return "?" if seed is None else str(seed)


def plot_convergence(data: BenchmarkData, out: Path) -> Path:
    fig, ax = plt.subplots(figsize=(8, 4.8))
    cmap = plt.get_cmap("tab10" if len(data.runs) <= 10 else "tab20")
    drawn = 0
    for i, run in enumerate(data.runs):
        if not run.evals:
            continue
        xs, ys = zip(*run.evals)
        style = "-" if run.passed else ":"
        ax.plot(xs, ys, style, marker="o", ms=3, lw=1.4, color=cmap(i % cmap.N),
                label=f"{run.name} seed {_short_seed(run.seed)}" + ("" if run.passed else " (failed)"))  # fmt: skip
        drawn += 1
    for target, style, label in (
        (data.closed, "--", "closed target"),
        (data.preset, "-.", "preset target"),
    ):
        if target is not None and not (target is data.preset and data.closed and
                                       math.isclose(target.value, data.closed.value)):  # fmt: skip
            ax.axhline(target.value, color="black" if style == "--" else "tab:red", ls=style,
                       lw=1.2, label=f"{label} {target.value:g} ({'≥' if target.higher_is_better else '≤'})")  # fmt: skip
    ax.set_xlabel(data.progress_key)
    metric = next((r.metric for r in data.runs if r.evals), "eval_accuracy")
    meaning = metric_meaning(data.benchmark)
    ax.set_ylabel(f"{metric} ({meaning})" if meaning else metric)
    ax.set_title(f"{data.benchmark} ({data.division}, ruleset {data.ruleset}) — {data.where}",
                 fontsize=10)  # fmt: skip
    if drawn == 0:
        ax.text(0.5, 0.5, "no numeric eval_accuracy logged", ha="center", va="center",
                transform=ax.transAxes)  # fmt: skip
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        # Outside, on the right: with 10 or 40 seeds a legend inside hides the curves.
        ax.legend(fontsize=7, ncol=2 if len(data.runs) > 20 else 1, loc="upper left",
                  bbox_to_anchor=(1.01, 1.0), frameon=False)  # fmt: skip
    fig.savefig(out, dpi=_DPI, bbox_inches="tight")
    plt.close(fig)
    return out


def plot_ttt(data: BenchmarkData, out: Path) -> Path:
    score = data.score
    names = [r.name for r in data.runs]
    ttts = [r.ttt_minutes if r.ttt_minutes is not None else 0.0 for r in data.runs]
    fig, ax = plt.subplots(figsize=(min(16, max(6, 0.6 * len(names) + 2)), 4.2))
    colors, hatches, notes = [], [], []
    for r in data.runs:
        if r.name in score.dropped:
            note = "failed" if r.ttt_minutes is not None else "failed\n(no run_stop)"
            colors.append("tab:red"), hatches.append("xx"), notes.append(note)
        elif r.name in score.fastest:
            colors.append("lightgray"), hatches.append("//"), notes.append("drop: fastest")
        elif r.name in score.slowest:
            colors.append("lightgray"), hatches.append("\\\\"), notes.append("drop: slowest")
        else:
            colors.append("tab:blue"), hatches.append(""), notes.append("")
    bars = ax.bar(range(len(names)), ttts, color=colors, edgecolor="black", lw=0.6)
    many = len(names) > 12
    for bar, hatch, run in zip(bars, hatches, data.runs):
        bar.set_hatch(hatch)
        if run.ttt_minutes is not None:
            ax.annotate(f"{run.ttt_minutes:.4g}", (bar.get_x() + bar.get_width() / 2,
                        bar.get_height()), xytext=(0, 2), textcoords="offset points",
                        ha="center", va="bottom", fontsize=6 if many else 7,
                        rotation=90 if many else 0)  # fmt: skip
    # What happened to each run goes under its name, where there is always room.
    ticks = [f"{n}\n{note}" if note else n for n, note in zip(names, notes)]
    if score.minutes is not None:
        label = f"olympic score {score.minutes:.4g} min"
        if score.scaling_source:
            label += f" (x{score.scaling_factor:.4g}, {score.factor_text()})"
            ax.axhline(score.raw_minutes, color="tab:green", ls=":", lw=1.2,
                       label=f"olympic mean before scaling {score.raw_minutes:.4g} min")  # fmt: skip
        ax.axhline(score.minutes, color="tab:green", lw=1.6, label=label)
    else:
        ax.text(0.5, 0.92, "no score: " + (score.note or "not enough runs"), ha="center",
                transform=ax.transAxes, color="tab:red", fontsize=8)  # fmt: skip
    ax.set_xticks(range(len(names)), ticks, rotation=90 if many else 0, fontsize=7)
    ax.set_ylabel("time to train (minutes)")
    ax.set_title(f"{data.benchmark}: time to train per run (run_start → run_stop) — {data.where}",
                 fontsize=10)  # fmt: skip
    ax.grid(axis="y", alpha=0.3)
    if score.minutes is not None:
        # Below the axes: inside, it hides bars whatever corner it takes.
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.42 if many else -0.2), ncol=2,
                  frameon=False)  # fmt: skip
    ax.set_ylim(0, max(ttts + [score.minutes or 0.0, 1e-6]) * (1.25 if many else 1.15))
    fig.savefig(out, dpi=_DPI, bbox_inches="tight")
    plt.close(fig)
    return out
