"""`report` on damaged org folders and campaign dirs (hypothesis: a damage x a file).

Unusable input (tests/damage.py) -> exit 2, one message naming the file, no traceback, no --out
written; damaged log content -> a report that shows the run as it is."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlperf_submit.cli import main
from mlperf_submit.launch.campaign import manifest as mf
from tests.damage import DAMAGES, damage, expect_unusable, listing

SMALL_ORG = ("v5.1", "closed", "Dell")  # 1 system, dlrm_dcnv2 x 10 small logs
SETTINGS = settings(max_examples=14, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip


def campaign_from_logs(logs: list[Path], out: Path) -> Path:
    """A campaign dir holding real logs (those of a published result dir) and its manifest."""
    (out / "dlrm_dcnv2").mkdir(parents=True)
    runs = []
    for i, log in enumerate(logs):
        shutil.copy(log, out / "dlrm_dcnv2" / f"run_{i}.log")
        runs.append(mf.RunRecord(index=i, seed=1000 + i, status="converged",
                                 log=f"dlrm_dcnv2/run_{i}.log", ruleset="5.1.0",
                                 division="closed", data="real"))  # fmt: skip
    m = mf.Manifest(benchmark="dlrm_dcnv2", ruleset="5.1.0", division="closed", data="real",
                    launcher="local", runs_requested=len(runs), runs=runs, state="finished")  # fmt: skip
    mf.write_manifest(out, m)
    return out


def _report(capsys, src: Path, out: Path) -> tuple[int, str]:
    code = main(["report", str(src), "--ruleset", "5.1.0", "--out", str(out)])
    text = "".join(capsys.readouterr())
    assert "Traceback" not in text
    return code, text


@SETTINGS
@given(kind=st.sampled_from(DAMAGES), what=st.sampled_from(["system JSON", "result file",
                                                             "scaling.json"]))  # fmt: skip
def test_report_on_a_damaged_org_folder(corpus_dir, capsys, kind, what):
    pattern, is_json = {"system JSON": ("systems/*.json", True),
                        "result file": ("results/*/*/result_3.txt", False),
                        "scaling.json": ("results/*/*/scaling.json", True)}[what]  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        org = Path(tmp) / "Dell"
        shutil.copytree(corpus_dir.joinpath(*SMALL_ORG), org, symlinks=True)
        found = sorted(org.glob(pattern))
        path = found[0] if found else next(org.glob("results/*/*")) / "scaling.json"
        damage(path, kind, is_json=is_json)
        before = listing(org)
        out = Path(tmp) / "rep"
        code, text = _report(capsys, org, out)
        assert listing(org) == before
        ignored = what == "scaling.json" and kind in ("directory", "fifo")  # as the summarizer
        if expect_unusable(kind, is_json=is_json) and not ignored:
            assert code == 2 and str(path) in text, text
            assert not out.exists()
        else:
            assert code == 0 and (out / "index.md").is_file(), text


@SETTINGS
@given(kind=st.sampled_from(DAMAGES), what=st.sampled_from(["manifest", "run log"]))
def test_report_on_a_damaged_campaign(corpus_dir, capsys, kind, what):
    logs = sorted(corpus_dir.joinpath(*SMALL_ORG).glob("results/*/*/result_*.txt"))
    with tempfile.TemporaryDirectory() as tmp:
        camp = campaign_from_logs(logs, Path(tmp) / "camp")
        path = camp / "campaign.json" if what == "manifest" else camp / "dlrm_dcnv2" / "run_3.log"
        is_json = what == "manifest"
        damage(path, kind, is_json=is_json)
        out = Path(tmp) / "rep"
        code, text = _report(capsys, camp, out)
        if expect_unusable(kind, is_json=is_json):
            assert code == 2 and str(path) in text, text
            assert not out.exists()
        else:
            assert code == 0 and "run_3" in (out / "index.md").read_text(), text
