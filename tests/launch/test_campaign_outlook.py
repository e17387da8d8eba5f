"""The campaign's live projection (launch/campaign/outlook.py) on a campaign dir made of real
published logs: after each finished run it is printed and recorded in campaign.json; a running
run's evaluations move it; a projection that cannot be made never stops the campaign."""

from __future__ import annotations

import json
import re

from mlperf_submit.launch.campaign import manifest as mf
from mlperf_submit.launch.campaign.outlook import CampaignOutlook


def _number(path):
    return int(re.findall(r"\d+", path.name)[-1])


def _campaign(tmp_path, corpus_dir, finished: int):
    src = next((corpus_dir / "v5.1/closed/NVIDIA/results").glob("*/llama31_8b"))
    logs = sorted(src.glob("result_*.txt"), key=_number)
    (tmp_path / "llama31_8b").mkdir()
    runs = []
    for i, log in enumerate(logs[: finished + 1]):
        dst = tmp_path / "llama31_8b" / f"run_{i}.log"
        text = log.read_text(encoding="latin-1")
        if i == finished:  # the running one: cut after its 8th evaluation
            lines = text.splitlines(keepends=True)
            evals = [n for n, ln in enumerate(lines) if '"eval_accuracy"' in ln]
            text = "".join(lines[: evals[7] + 1])
        dst.write_text(text, encoding="latin-1")
        status = mf.CONVERGED if i < finished else mf.RUNNING
        runs.append(mf.RunRecord(index=i, status=status, log=f"llama31_8b/run_{i}.log"))
    m = mf.Manifest("llama31_8b", "5.1.0", "closed", "real", "local", 10, runs=runs)
    mf.write_manifest(tmp_path, m)
    return tmp_path


def test_after_each_run_and_during_one(tmp_path, corpus_dir):
    out = _campaign(tmp_path, corpus_dir, finished=3)
    outlook = CampaignOutlook(out, "llama31_8b", "5.1.0", "closed")
    lines = outlook.after_run(2)
    assert lines[0] == "projection: 3/10 runs finished; 7 more needed"
    assert any("projected score" in x for x in lines) and any("RCP (RCP found" in x for x in lines)
    m = mf.read_manifest(out)
    assert m.projection["finished_runs"] == 3 and m.projection["event"] == "run 2 finished"
    (h,) = m.projection_history
    assert h["finished"] == 3 and h["low"] < h["score"] < h["high"] and h["rcp_applies"]
    # the running run (8 evaluations so far) moves the projection, recorded, not in the history
    note = outlook.during_run(3, out / "llama31_8b" / "run_3.log")
    assert note.startswith("proj ") and "RCP pass" in note
    m = mf.read_manifest(out)
    assert m.projection["running"]["name"] == "run_3" and len(m.projection_history) == 1
    assert m.projection["running"]["progress"] == 8 * 12288
    assert outlook.during_run(3, out / "llama31_8b" / "run_3.log") is None  # no new evaluation
    # campaign.json stays readable JSON with the new keys
    assert "projection_history" in json.loads((out / mf.MANIFEST).read_text())


def test_a_failing_projection_never_stops_the_campaign(tmp_path, corpus_dir):
    out = _campaign(tmp_path, corpus_dir, finished=2)
    outlook = CampaignOutlook(out, "llama31_8b", "9.9.9", "closed")  # no such ruleset
    (line,) = outlook.after_run(1)
    assert line.startswith("projection unavailable (")
    assert outlook.after_run(1) == []  # said once
    assert mf.read_manifest(out).projection is None
