"""package_checker_params: recognised exactly as package_checker does (only a last line without
a newline), every ignored line warned about with the fix; verdicts checked against the official
package checker on a real submitter folder."""

from __future__ import annotations

import pytest

from mlperf_submit.compliance.orgfolder import check_org
from mlperf_submit.compliance.params import Bypass, read_params

from .runset_fixtures import (
    SMALL_ORG,
    SMALL_ORG_RULESET,
    copy_tree,
    edit_log,
    official_package_check,
    set_key,
)


def params(tmp_path, data: bytes, level="benchmark"):
    path = tmp_path / "package_checker_params"
    path.write_bytes(data)
    return read_params(str(path), level=level)


@pytest.mark.parametrize(
    ("data", "rcp", "seed"),
    [
        (b"rcp-bypass", True, False),
        (b"seed-checker-bypass", False, True),
        (b"rcp-bypass\n", False, False),
        (b"rcp-bypass\r\n", False, False),
        (b"rcp-bypass\nseed-checker-bypass", False, True),  # only the last line can count
        (b"seed-checker-bypass\nrcp-bypass", True, False),
        (b" rcp-bypass", False, False),
        (b"", False, False),
    ],
)
def test_flags_are_read_like_the_official_readlines_comparison(tmp_path, data, rcp, seed):
    b = params(tmp_path, data)
    assert (b.rcp, b.seed) == (rcp, seed)


def test_an_ignored_line_gets_a_warning_with_the_fix(tmp_path):
    b = params(tmp_path, b"rcp-bypass\nseed-checker-bypass\n")
    assert not b.rcp and not b.seed
    assert [f.file_lineno for f in b.findings] == [1, 2]
    first = b.findings[0]
    assert first.severity == "warning" and first.kind == "trap"
    assert "ignored by package_checker" in first.message and "newline" in first.message
    assert "printf 'rcp-bypass'" in first.hint and "only one" in first.hint
    b = params(tmp_path, b"rcp-bypass ")
    assert "extra blanks" in b.findings[0].message


def test_unknown_lines_binary_files_and_the_root_level(tmp_path):
    b = params(tmp_path, b"--rcp-bypass\n")
    assert b.findings[0].kind == "params" and "unknown line" in b.findings[0].message
    b = params(tmp_path, b"\xff\xfe\x00garbage")
    assert (
        b.findings[0].severity == "error"
        and "official package_checker crashes" in b.findings[0].message
    )
    b = params(tmp_path, b"rcp-bypass", level="root")
    assert not b.rcp and "never reads" in b.findings[0].message
    assert read_params(str(tmp_path / "absent")) == Bypass()


def test_union_of_levels():
    a, b = Bypass(rcp=True, paths=["a"]), Bypass(seed=True, paths=["b"])
    assert (a | b).rcp and (a | b).seed and (a | b).paths == ["a", "b"]


@pytest.fixture(scope="module")
def too_fast_org(corpus_dir, tmp_path_factory):
    """The small real org with every run made faster than the RCP allows (RCP found: fail)."""
    org = copy_tree(corpus_dir.joinpath(*SMALL_ORG), tmp_path_factory.mktemp("o") / SMALL_ORG[2])
    bm_dir = next((org / "results").glob("*/*"))
    for path in sorted(bm_dir.glob("result_*.txt")):
        edit_log(path, set_key("eval_accuracy", metadata={"epoch_num": 0.05}))
    return org, bm_dir


@pytest.mark.parametrize(
    ("where", "data", "verdict"),
    [
        (None, None, "fail"),
        ("benchmark", b"rcp-bypass", "pass"),
        ("benchmark", b"rcp-bypass\n", "fail"),
        ("system", b"rcp-bypass", "pass"),
        ("system", b"rcp-bypass\n", "fail"),
        ("root", b"rcp-bypass", "fail"),
    ],
)
def test_rcp_bypass_verdicts_equal_package_checker(too_fast_org, where, data, verdict):
    org, bm_dir = too_fast_org
    target = {"benchmark": bm_dir, "system": bm_dir.parent, "root": org}.get(where)
    path = target / "package_checker_params" if target else None
    try:
        if path:
            path.write_bytes(data)
        official = official_package_check(str(org), SMALL_ORG_RULESET)
        ours = check_org(str(org), SMALL_ORG_RULESET)
    finally:
        if path:
            path.unlink()
    assert official["verdict"] == verdict
    assert ours.verdict.lower() == verdict
    d = ours.dirs[0]
    if verdict == "pass":
        assert d.rcp.bypassed and d.rcp.message == "RCP found passed using rcp_bypass"
    else:
        assert any(f.message == "RCP Test Failed: RCP found" for f in d.errors)
    if data and data.endswith(b"\n"):
        assert any("ignored by package_checker" in f.message for f in ours.warnings + d.warnings)
