"""The campaign's live projection: score interval, RCP outlook, runs still needed.

After every finished run, and whenever a running run logs a new evaluation, the campaign asks
:func:`mlperf_submit.compliance.projection.project` what the full run set will look like (the
official run count of the benchmark, whatever ``--runs`` says), prints it, and records it in
``campaign.json``: ``projection`` (the latest, ``Projection.to_dict()``) and
``projection_history`` (one compact record per finished run, for ``report``).

A projection never stops a campaign: if one cannot be made, the reason is printed once and the
runs go on.
"""

from __future__ import annotations

import os
from pathlib import Path

from mlperf_submit.launch.campaign import manifest as mf


def compact(proj, *, event: str) -> dict:
    """The record ``projection_history`` keeps (and ``report`` plots)."""
    return {
        "event": event,  # "run <i> finished" | "run <i> eval at <progress>"
        "time": mf.now_iso(),
        "finished": proj.finished,
        "required": proj.required,
        "running": None if proj.running is None else proj.running.name,
        "score": proj.score,
        "low": proj.score_low,
        "high": proj.score_high,
        "level": proj.level,
        "points_mean": proj.points_mean,
        "rcp_mean": None if proj.rcp is None else proj.rcp.mean,
        "rcp_threshold": None if proj.rcp is None else proj.rcp.threshold,
        "rcp_applies": proj.rcp_applies,
        "p_rcp_pass": proj.p_rcp_pass,
    }


class CampaignOutlook:
    def __init__(self, out: Path, benchmark: str, ruleset: str, division: str):
        self.out = Path(out)
        self.benchmark, self.ruleset, self.division = benchmark, ruleset, division
        self._cache: dict[str, tuple[float, object]] = {}  # log path -> (mtime, RunObs)
        self._failed_once = False
        self.last_progress: float | None = None

    # ---- reading the runs
    def _finished(self, m: mf.Manifest) -> list:
        from mlperf_submit.compliance.projection import observe_file

        runs = []
        for rec in m.runs:
            if rec.status not in mf.FINISHED or not rec.log:
                continue
            path = str(self.out / rec.log)
            try:
                mtime = os.path.getmtime(path)
            except OSError:
                continue
            hit = self._cache.get(path)
            if hit is None or hit[0] != mtime:
                hit = (mtime, observe_file(path, self.ruleset, name=f"run_{rec.index}"))
                self._cache[path] = hit
            runs.append(hit[1])
        return runs

    def _project(self, m: mf.Manifest, running_log: Path | None = None, name: str = ""):
        from mlperf_submit.compliance.projection import observe_running, project

        running = observe_running(str(running_log), name) if running_log else None
        runs = self._finished(m)
        bs = next((r.bs for r in runs if r.bs is not None), None)
        if bs is None and running_log is not None:
            from mlperf_submit.compliance.projection import log_batch_size

            bs = log_batch_size(str(running_log))
        return project(
            runs,
            benchmark=self.benchmark,
            ruleset=self.ruleset,
            division=self.division,
            bs=bs,
            running=running,
        )

    def _safe(self, fn):
        try:
            return fn(), None
        except Exception as err:  # a projection must never stop a campaign
            if os.environ.get("MLPERF_SUBMIT_DEBUG"):
                raise
            if self._failed_once:
                return None, None
            self._failed_once = True
            return None, f"projection unavailable ({type(err).__name__}: {err})"

    # ---- the two moments
    def after_run(self, index: int) -> list[str]:
        """Project after run ``index`` finished; record it; the lines to print."""
        proj, why = self._safe(lambda: self._project(mf.read_manifest(self.out)))
        if proj is None:
            return [why] if why else []
        self._record(proj, f"run {index} finished", history=True)
        self.last_progress = None
        return ["projection: " + proj.lines()[0], *("  " + x for x in proj.lines()[1:])]

    def during_run(self, index: int, log_path: Path) -> str | None:
        """After a new evaluation of the running run: a short text for the progress line."""

        def go():
            return self._project(mf.read_manifest(self.out), log_path, f"run_{index}")

        proj, why = self._safe(go)
        if proj is None:
            return why
        if proj.running is None or not proj.running.evals:
            return None
        if proj.running.progress == self.last_progress:
            return None
        self.last_progress = proj.running.progress
        self._record(proj, f"run {index} eval at {proj.running.progress:g}", history=False)
        if proj.score is None:
            return None
        return f"proj {proj.score:.4g} min [{proj.score_low:.4g}-{proj.score_high:.4g}]" + (
            f" RCP {proj.rcp_verdict}" if proj.rcp_applies else ""
        )

    def _record(self, proj, event: str, *, history: bool) -> None:
        data = proj.to_dict()
        data["event"] = event
        with mf.locked_manifest(self.out) as m:
            m.projection = data
            if history:
                m.projection_history.append(compact(proj, event=event))
