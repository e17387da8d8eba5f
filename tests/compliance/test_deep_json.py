"""A logged value nested hundreds of levels deep gets the official verdict, never a traceback.

The official parser ``json.loads`` each line in its own process: a line nested more than
``parser.OFFICIAL_JSON_DEPTH`` levels deep raises ``RecursionError`` there (a crash), anything
within the bound is read and checked like any other value. Both sides of the bound are run
through the real ``python -m mlperf_logging.compliance_checker`` in a subprocess (where its
stack is what a user's is), and through ours at a stack far deeper than pytest's own, so that
the answer never depends on where we are called from.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlperf_submit.compliance.filecheck import check_file
from mlperf_submit.compliance.parser import OFFICIAL_JSON_DEPTH, json_depth
from mlperf_submit.compliance.report_format import Target, render, to_json
from mlperf_submit.compliance.runset import check_result_dir

SEED_DIR = Path("v3.1/closed/Google/results/cloud-tpu-v5e-4096-PAX/gpt3")  # the seed
RULESET = "3.1.0"
TOKEN = ":::MLLOG "


def nested(depth: int, kind: str) -> str:
    if kind == "obj":
        return '{"a": ' * depth + "1" + "}" * depth
    return "[" * depth + "1" + "]" * depth


def deep_log(src: Path, dst: Path, text_of_value: str, *, in_metadata: bool = False) -> Path:
    """``src`` with global_batch_size's value (or a new metadata field) replaced by a text."""
    out = []
    for line in src.read_text(encoding="latin-1").splitlines(keepends=True):
        if TOKEN in line:
            prefix, body = line.split(TOKEN, 1)
            obj = json.loads(body)
            if obj["key"] == "global_batch_size":
                if in_metadata:
                    obj["metadata"]["x"] = "@@"
                else:
                    obj["value"] = "@@"
                line = prefix + TOKEN + json.dumps(obj).replace('"@@"', text_of_value) + "\n"
        out.append(line)
    dst.write_text("".join(out), encoding="latin-1")
    return dst


def official(path: Path) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "mlperf_logging.compliance_checker", "--usage", "training",
         "--ruleset", RULESET, str(path)],
        capture_output=True, text=True, timeout=300, cwd=path.parent,
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    if "Traceback" in out:
        return "crash"
    return "pass" if out.rstrip().endswith("SUCCESS") else "fail"


def ours(path: Path, *, extra_frames: int = 600) -> tuple[str, object]:
    """Our verdict, checked from ``extra_frames`` frames deeper than pytest's stack."""

    def deeper(n: int):
        return deeper(n - 1) if n else check_file(path, RULESET)

    report = deeper(extra_frames)
    verdict = "crash" if report.official_crash else ("pass" if report.passed else "fail")
    return verdict, report


CASES = [
    # (name, value text, in metadata, official verdict)
    ("value object at the bound", nested(OFFICIAL_JSON_DEPTH - 1, "obj"), False, "pass"),
    ("value object one beyond", nested(OFFICIAL_JSON_DEPTH, "obj"), False, "crash"),
    ("value array one beyond", nested(OFFICIAL_JSON_DEPTH, "arr"), False, "crash"),
    ("metadata array at the bound", nested(OFFICIAL_JSON_DEPTH - 2, "arr"), True, "pass"),
    ("the issue's 900 levels", nested(900, "obj"), False, "pass"),
    # a syntax error before the levels beyond the bound: a parse error, not a crash
    ("bad JSON, then too deep", "[1,, " + nested(2000, "arr") + "]", False, "fail"),
]


@pytest.mark.parametrize(("name", "text", "in_metadata", "expected"), CASES,
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_deep_values_get_the_official_verdict(corpus_dir, tmp_path, name, text, in_metadata,
                                              expected):  # fmt: skip
    log = deep_log(corpus_dir / SEED_DIR / "result_0.txt", tmp_path / "result_0.txt", text,
                   in_metadata=in_metadata)  # fmt: skip
    assert official(log) == expected, "the official tool changed: re-measure OFFICIAL_JSON_DEPTH"
    verdict, report = ours(log)
    assert verdict == expected, report.reasons(3)
    # the report prints, in text and JSON, without a traceback
    target = Target(str(log), "file", RULESET, "--ruleset", report)
    assert render([target])[-1].startswith("1 checked")
    json.dumps(to_json([target], 0 if report.passed else 1))


def test_a_result_dir_of_deep_batch_sizes_reports_the_official_rcp_crash(corpus_dir, tmp_path):
    """rcp_checker compares the batch size with its table and crashes on a JSON object; the
    three logs themselves pass. No RecursionError anywhere on the way."""
    bm_dir = tmp_path / "gpt3"
    bm_dir.mkdir()
    for src in sorted((corpus_dir / SEED_DIR).glob("result_*.txt")):
        deep_log(src, bm_dir / src.name, nested(OFFICIAL_JSON_DEPTH - 1, "obj"))
    rep = check_result_dir(str(bm_dir), RULESET)
    assert all(fr.passed for fr in rep.files)
    assert rep.rcp.crash and "'<' not supported between instances of 'int' and 'dict'" in (
        rep.rcp.crash
    )
    target = Target(str(bm_dir), "dir", RULESET, "--ruleset", rep)
    text = "\n".join(render([target]))
    assert "official rcp_checker crashes" in text
    doc = json.dumps(to_json([target], 1))
    assert "deeper than 64 levels" in doc


def test_json_depth_counts_brackets_outside_strings():
    assert json_depth('{"a": [1, "[[[{", {"b": {}}]}') == 4
    assert json_depth("1") == 0 and json_depth(nested(5000, "arr")) == 5000
