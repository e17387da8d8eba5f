"""``mlperf-submit report PATH... --out DIR``: plots and a summary page.

PATH is a campaign dir (``campaign.json``), a submission org folder (``systems/`` +
``results/``) or one result dir. For each benchmark found it writes
``DIR/<slug>_convergence.png`` (eval metric vs samples/epochs per seed, with the target line),
``DIR/<slug>_ttt.png`` (time to train per run, olympic drops marked, score drawn) and
``DIR/<slug>_projection.png`` (the projected score and RCP outlook after each finished run,
``report/projection_plot.py``), and a page ``DIR/index.md`` + ``DIR/index.html`` linking them. DIR is written atomically and an
existing DIR is only replaced with ``--force``.

    mlperf-submit report out/submit/campaigns/resnet --out out/report-resnet
    mlperf-submit report /path/to/Org --ruleset 4.0.0 --out out/report-org

Exit 0 when the report was written (whatever the verdicts it shows), 2 on unusable input.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from mlperf_submit.errors import UsageError

HELP = "plots and a summary page for a campaign or an org folder"

# What packaged dry-run trees put in the system JSON's sw_notes (see submission.tree).
DRY_RUN_MARK = "DRY RUN"


def add_arguments(parser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="campaign dir, org folder or result dir")  # fmt: skip
    parser.add_argument("--out", required=True, help="directory to write (must not exist)")
    parser.add_argument("--ruleset", help="ruleset of the logs (default: from the campaign "
                        "manifest, else the newest ruleset containing the benchmark)")  # fmt: skip
    parser.add_argument("--title", help="page title")
    parser.add_argument("--force", action="store_true", help="replace an existing --out")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "report"


def _dry_run_notes(path: Path) -> list[str]:
    notes = []
    for sysfile in sorted((path / "systems").glob("*.json")) if (path / "systems").is_dir() else []:
        if not sysfile.is_file():
            continue
        try:
            desc = json.loads(sysfile.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        sw = desc.get("sw_notes", "") if isinstance(desc, dict) else ""
        if isinstance(sw, str) and DRY_RUN_MARK in sw:
            notes.append(f"{sysfile.stem}: {sw}")
    return notes


def build_report(paths: list[Path], out: Path, *, ruleset=None, title=None, force=False) -> Path:
    # Imported here so that `mlperf-submit report --help` does not load matplotlib.
    from mlperf_submit.report.collect import collect
    from mlperf_submit.report.page import Section, render_html, render_markdown
    from mlperf_submit.report.plots import plot_convergence, plot_ttt
    from mlperf_submit.report.projection_plot import plot_projection, replay
    from mlperf_submit.submission.atomic import AtomicTree

    datas, notes = [], []
    for p in paths:
        datas.extend(collect(p, ruleset))
        notes.extend(_dry_run_notes(Path(p)))
    if any(d.synthetic for d in datas) and not notes:
        notes.insert(0, "DRY RUN: these runs used synthetic data; they test the pipeline and "
                     "are not a measurement on the real dataset.")  # fmt: skip
    title = title or "MLPerf Training report: " + ", ".join(str(p) for p in paths)
    sections, used = [], set()
    with AtomicTree(out, force=force, what="report dir") as tmp:
        for d in datas:
            slug = _slug(d.benchmark if len(datas) == 1 else f"{Path(d.where).name}_{d.benchmark}")
            while slug in used:
                slug += "_"
            used.add(slug)
            conv, ttt = f"{slug}_convergence.png", f"{slug}_ttt.png"
            plot_convergence(d, tmp / conv)
            plot_ttt(d, tmp / ttt)
            proj_png, history = f"{slug}_projection.png", replay(d)
            plot_projection(d, history, tmp / proj_png)
            lines = history[-1].lines() if history else ["no finished run yet"]
            sections.append(Section(d, conv, ttt, proj_png, lines))
        (tmp / "index.md").write_text(render_markdown(title, sections, notes), encoding="utf-8")
        (tmp / "index.html").write_text(render_html(title, sections, notes), encoding="utf-8")
    return out


def run(args) -> int:
    paths = [Path(p) for p in args.paths]
    out = Path(args.out)
    for p in paths:
        o, i = out.resolve(), p.resolve()
        if o == i or o in i.parents:
            raise UsageError(f"--out {out} would replace the input {p}; choose another dir")
        if i in o.parents:
            raise UsageError(
                f"--out {out} is inside the input {p}; a report never writes into "
                "its input, choose a dir outside it"
            )
    build_report(paths, out, ruleset=args.ruleset, title=args.title, force=args.force)
    print(f"report: {out / 'index.html'} (markdown: {out / 'index.md'})")
    return 0
