"""`verify` and `package` on damaged inputs (hypothesis: a damage x a file of a real folder).

Unusable input (tests/damage.py: a directory, named pipe or link loop where a file belongs, a
JSON file that is not a JSON object) -> exit 2, one message naming the file, no traceback,
nothing written; damaged log content -> the verdict, naming the file where it fails.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlperf_submit.cli import main
from tests.damage import DAMAGES, damage, expect_unusable, listing

from .conftest import ORG, SYSTEM

SMALL_ORG = ("v5.1", "closed", "Dell")  # 1 system, dlrm_dcnv2 x 10 small logs
ORG_TARGETS = {  # (glob in the org folder, is a JSON file)
    "system JSON": ("systems/*.json", True),
    "result file": ("results/*/*/result_3.txt", False),
    "scaling.json": ("results/*/*/scaling.json", True),
    "params": ("results/*/*/package_checker_params", False),
}
SETTINGS = settings(max_examples=16, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip


def _target(root: Path, pattern: str) -> Path:
    found = sorted(root.glob(pattern))
    if found:
        return found[0]
    parent = next(root.glob(str(Path(pattern).parent)))  # a file that is not there yet
    return parent / Path(pattern).name


def _run(capsys, argv) -> tuple[int, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out + err


@SETTINGS
@given(kind=st.sampled_from(DAMAGES), what=st.sampled_from(sorted(ORG_TARGETS)))
def test_verify_on_a_damaged_org_folder(corpus_dir, capsys, kind, what):
    pattern, is_json = ORG_TARGETS[what]
    if what == "params" and kind in ("truncate", "list_json", "garbage", "huge"):
        is_json = False  # a params file is text: wrong words are findings, not damage
    with tempfile.TemporaryDirectory() as tmp:
        org = Path(tmp) / "Dell"
        shutil.copytree(corpus_dir.joinpath(*SMALL_ORG), org, symlinks=True)
        path = _target(org, pattern)
        damage(path, kind, is_json=is_json)
        before = listing(org)
        summary = Path(tmp) / "summary"
        code, text = _run(capsys, ["verify", str(org), "--ruleset", "5.1.0", "--no-code",
                                   "--summary-dir", str(summary)])  # fmt: skip
        assert listing(org) == before, "verify never writes into the org folder"
        if expect_unusable(kind, is_json=is_json) and not (what == "scaling.json" and kind in
                                                           ("directory", "fifo")):  # fmt: skip
            assert code == 2 and str(path) in text, text
            assert not summary.exists(), "nothing written on unusable input"
        else:  # the official tools ignore a scaling.json that is no file; logs get a verdict
            assert code in (0, 1), text
            if code == 1:
                assert path.name in text, text


@SETTINGS
@given(kind=st.sampled_from(DAMAGES), what=st.sampled_from(["manifest", "run log", "system"]))
def test_package_on_a_damaged_campaign(resnet_campaign, capsys, kind, what):
    with tempfile.TemporaryDirectory() as tmp:
        camp = Path(tmp) / "camp"
        shutil.copytree(resnet_campaign, camp)
        system = Path(tmp) / "system.json"
        system.write_text('{"system_name": "x"}')
        path = {"manifest": camp / "campaign.json", "run log": camp / "resnet" / "run_2.log",
                "system": system}[what]  # fmt: skip
        is_json = what != "run log"
        damage(path, kind, is_json=is_json)
        out = Path(tmp) / "pkg"
        how = ["--system", str(system)] if what == "system" else ["--detect"]
        code, text = _run(capsys, ["package", "--org", ORG, *how, "--system-name", SYSTEM,
                                   "--division", "open", str(camp), "--out", str(out)])  # fmt: skip
        if expect_unusable(kind, is_json=is_json):
            assert code == 2 and str(path) in text, text
            assert not out.exists(), "nothing written on unusable input"
        else:  # one bad run of five: dropped or refused, never a crash
            assert code in (0, 1, 2), text
            if code:
                assert not out.exists() or not any(out.iterdir())
