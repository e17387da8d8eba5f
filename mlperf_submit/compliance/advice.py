"""What ``check`` adds to the official verdicts: rule-text warnings and projections.

Two things the official tools never say, attached to a checked :class:`~.report_format.Target`
without touching its verdict:

* ``advisories``: the evaluation-schedule and hyperparameter-relation warnings of
  :mod:`.eval_schedule` for every closed log in the target (mlcommons/logging#79);
* ``projections``: for a run set with fewer runs than the benchmark needs, the projected score,
  RCP outlook and runs still needed (:mod:`.projection`) instead of only "not enough runs".

    target = check_target(path, kind, ruleset, why)     # check_paths calls add_advice on it
    target.advisories, target.projections
"""

from __future__ import annotations

from mlperf_submit.compliance.eval_schedule import check_log


def _file_reports(target) -> list:
    rep = target.report
    if target.kind == "file":
        return [rep]
    if target.kind in ("dir", "files"):
        return list(rep.files)
    if target.kind == "org":
        return [fr for d in rep.dirs for fr in d.files]
    return []


def _dir_reports(target) -> list:
    if target.kind in ("dir", "files"):
        return [target.report]
    if target.kind == "org":
        return list(target.report.dirs)
    return []


def project_dir(d):
    """The projection of a run set with fewer runs than required, or None."""
    from mlperf_submit.compliance.projection import observe_report, project

    if d.skipped or not d.benchmark or not d.required_runs or not d.files:
        return None
    if d.n_runs >= d.required_runs:
        return None
    rcp_runs = {r.path: r for r in (d.rcp.runs if d.rcp is not None else [])}
    runs = [observe_report(fr, d.ruleset, rcp_runs.get(fr.path)) for fr in d.files]
    proj = project(
        runs,
        benchmark=d.benchmark,
        ruleset=d.ruleset,
        division=d.division,
        required=d.required_runs,
    )
    proj.path = d.path
    return proj


def add_advice(target) -> None:
    """Fill ``target.advisories`` and ``target.projections`` (never changes a verdict)."""
    for fr in _file_reports(target):
        if fr.official_crash or getattr(fr, "n_mllog", 0) == 0:
            continue
        for finding in check_log(fr.path, fr.ruleset):
            target.advisories.append((fr.path, finding))
    for d in _dir_reports(target):
        proj = project_dir(d)
        if proj is not None:
            target.projections.append(proj)
