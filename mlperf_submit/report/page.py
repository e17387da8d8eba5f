"""The summary page of a report: ``index.md`` and ``index.html`` linking the PNGs.

One section per benchmark: where the runs came from, the score (olympic mean in minutes, as
``result_summarizer`` computes it) and what was dropped, then a table of runs (seed, status,
compliance verdict, time to train, best metric) and the two plots. A dry run on synthetic data
says so at the top. Pure text; the caller writes the files.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from mlperf_submit.report.collect import BenchmarkData


@dataclass(frozen=True)
class Section:
    data: BenchmarkData
    convergence_png: str  # relative to the page
    ttt_png: str
    projection_png: str | None = None
    projection: list[str] | None = None  # the last projection's lines (projection_plot.py)


def _fmt(x: float | None, digits: int = 4) -> str:
    return "—" if x is None else f"{x:.{digits}g}"


def _best(data: BenchmarkData, run) -> float | None:
    if not run.evals:
        return None
    values = [v for _, v in run.evals]
    higher = data.closed.higher_is_better if data.closed else True
    return max(values) if higher else min(values)


def _role(data: BenchmarkData, name: str) -> str:
    s = data.score
    if name in s.dropped:
        return "dropped (failed compliance)"
    if name in s.fastest:
        return "olympic drop (fastest)"
    if name in s.slowest:
        return "olympic drop (slowest)"
    return "counted" if s.minutes is not None else "—"


def _rows(data: BenchmarkData) -> list[list[str]]:
    return [
        [
            r.name,
            "—" if r.seed is None else str(r.seed),
            r.status,
            "PASS" if r.passed else "FAIL",
            _fmt(r.ttt_minutes),
            _fmt(_best(data, r)),
            _role(data, r.name),
        ]
        for r in data.runs
    ]


_HEAD = ["run", "seed", "status", "compliance", "time to train (min)", "best metric", "score"]


def _score_line(data: BenchmarkData) -> str:
    s = data.score
    if s.minutes is None:
        return f"no score: {s.note or 'not enough passing runs'}"
    text = f"{s.minutes:.6g} minutes (olympic mean of {s.n_runs - len(s.dropped) - len(s.fastest) - len(s.slowest)} runs"
    if s.scaling_source:
        text += f", {s.raw_minutes:.6g} x {s.scaling_factor:.6g}: {s.factor_text()}"
    text += ")"
    if s.note:
        text += f"; {s.note}"
    return text


def _target_line(data: BenchmarkData) -> str:
    parts = []
    for t, what in ((data.closed, "closed target"), (data.preset, "preset target")):
        if t is not None:
            parts.append(f"{what} {'≥' if t.higher_is_better else '≤'} {t.value:g} ({t.source})")
    return "; ".join(parts) or "no single-value target"


def render_markdown(title: str, sections: list[Section], notes: list[str]) -> str:
    out = [f"# {title}", ""]
    for n in notes:
        out += [f"> {n}", ""]
    out += [
        "| benchmark | division | ruleset | where | runs | score (min) |",
        "|---|---|---|---|---|---|",
    ]
    for sec in sections:
        d = sec.data
        out.append(
            f"| [{d.benchmark}](#{d.benchmark}) | {d.division} | {d.ruleset} | {d.where} | "
            f"{len(d.runs)} | {_fmt(d.score.minutes, 6)} |"
        )
    out.append("")
    for sec in sections:
        d = sec.data
        out += [f"## {d.benchmark}", ""]
        if d.synthetic:
            out += ["**Dry run on synthetic data** — not a result on the real dataset.", ""]
        out += [
            f"- source: `{d.source}`",
            f"- ruleset {d.ruleset}, {d.division} division, progress in `{d.progress_key}`",
            f"- {_target_line(d)}",
            f"- score: {_score_line(d)}",
            "",
            "| " + " | ".join(_HEAD) + " |",
            "|" + "---|" * len(_HEAD),
        ]
        out += ["| " + " | ".join(row) + " |" for row in _rows(d)]
        out += [
            "",
            f"![convergence of {d.benchmark}]({sec.convergence_png})",
            "",
            f"![time to train of {d.benchmark}]({sec.ttt_png})",
            "",
        ]
        if sec.projection_png:
            out += [f"projection: {'; '.join(sec.projection or [])}", ""]
            out += [f"![projection of {d.benchmark}]({sec.projection_png})", ""]
    return "\n".join(out)


_CSS = (
    "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;"
    "font-size:90%}th{background:#f3f3f3}.note{background:#fff4d6;padding:.6em;"
    "border-left:4px solid #e0a800}img{max-width:100%}.fail{color:#b00}"
)


def render_html(title: str, sections: list[Section], notes: list[str]) -> str:
    e = html.escape
    out = [
        "<!doctype html>",
        f"<html><head><meta charset='utf-8'><title>{e(title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>",
    ]
    out += [f"<p class='note'>{e(n)}</p>" for n in notes]
    out.append("<table><tr><th>benchmark</th><th>division</th><th>ruleset</th><th>where</th>"
               "<th>runs</th><th>score (min)</th></tr>")  # fmt: skip
    for sec in sections:
        d = sec.data
        out.append(
            f"<tr><td><a href='#{e(d.benchmark)}'>{e(d.benchmark)}</a></td><td>{e(d.division)}</td>"
            f"<td>{e(d.ruleset)}</td><td>{e(d.where)}</td><td>{len(d.runs)}</td>"
            f"<td>{_fmt(d.score.minutes, 6)}</td></tr>"
        )
    out.append("</table>")
    for sec in sections:
        d = sec.data
        out.append(f"<h2 id='{e(d.benchmark)}'>{e(d.benchmark)}</h2>")
        if d.synthetic:
            out.append("<p class='note'><b>Dry run on synthetic data</b> — not a result on the "
                       "real dataset.</p>")  # fmt: skip
        out.append(
            "<ul>"
            f"<li>source: <code>{e(d.source)}</code></li>"
            f"<li>ruleset {e(d.ruleset)}, {e(d.division)} division, progress in "
            f"<code>{e(d.progress_key)}</code></li>"
            f"<li>{e(_target_line(d))}</li><li>score: {e(_score_line(d))}</li></ul>"
        )
        out.append("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in _HEAD) + "</tr>")
        for row in _rows(d):
            cls = " class='fail'" if row[3] == "FAIL" else ""
            out.append(f"<tr{cls}>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>")
        out.append("</table>")
        out.append(
            f"<p><img src='{e(sec.convergence_png)}' alt='convergence of {e(d.benchmark)}'></p>"
        )
        out.append(f"<p><img src='{e(sec.ttt_png)}' alt='time to train of {e(d.benchmark)}'></p>")
        if sec.projection_png:
            out.append(f"<p>projection: {e('; '.join(sec.projection or []))}</p>")
            out.append(
                f"<p><img src='{e(sec.projection_png)}' alt='projection of {e(d.benchmark)}'></p>"
            )
    out.append("</body></html>")
    return "\n".join(out)
