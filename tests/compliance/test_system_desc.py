"""System description JSON: the official system_desc_checker's verdict, its crashes as errors,
and the trap warnings. The official checker runs in-process on the same files."""

from __future__ import annotations

import json
import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mlperf_logging.system_desc_checker import system_desc_checker as official

from mlperf_submit.compliance.system_desc import (
    JOINED_FIELDS,
    REQUIRED_FIELDS,
    STATUS_OPTIONS,
    check_system_json,
    load_system_desc,
)


def official_verdict(path, ruleset) -> str:
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        valid, *_ = official.check_system_desc(str(path), "training", ruleset)
        return "pass" if valid else "fail"
    except Exception:
        return "crash"
    finally:
        logging.disable(previous)


def ours_verdict(path, ruleset) -> str:
    desc = load_system_desc(str(path), ruleset)
    if desc.official_crash:
        return "crash"
    return "pass" if desc.official_passed else "fail"


@pytest.fixture
def good():
    return {key: "" for key in REQUIRED_FIELDS} | {
        "submitter": "Org",
        "division": "closed",
        "status": "Available on-premise",
        "system_name": "sys1",
        "number_of_nodes": "1",
        "host_processors_per_node": "2",
        "accelerators_per_node": "8",
    }


def write(tmp_path, contents, name="sys1.json"):
    path = tmp_path / name
    path.write_text(contents if isinstance(contents, str) else json.dumps(contents))
    return path


def test_every_corpus_system_json_gets_the_official_verdict(corpus_dir):
    paths = sorted(corpus_dir.glob("v*/*/*/systems/*.json"))
    assert len(paths) >= 40
    verdicts = set()
    for path in paths:
        ruleset = path.relative_to(corpus_dir).parts[0][1:] + ".0"
        theirs = official_verdict(path, ruleset)
        assert ours_verdict(path, ruleset) == theirs, path
        verdicts.add(theirs)
    assert verdicts == {"pass", "fail"}  # the published v4.0 'available' / 'cloud' ones fail


def test_a_complete_file_passes(tmp_path, good):
    path = write(tmp_path, good)
    assert check_system_json(str(path), "6.0.0") == []
    assert official_verdict(path, "6.0.0") == "pass"


@pytest.mark.parametrize("key", REQUIRED_FIELDS)
def test_each_missing_field_fails_with_the_official_reason(tmp_path, good, key):
    del good[key]
    path = write(tmp_path, good)
    errors = [f for f in check_system_json(str(path), "5.1.0") if f.severity == "error"]
    assert [f.message for f in errors] == [f"Missing field {key}"]
    assert errors[0].hint and key in errors[0].hint
    assert official_verdict(path, "5.1.0") == "fail"


def test_status_list_is_applied_to_4_0_0_too_as_the_official_version_test_does(tmp_path, good):
    good["status"] = "available"
    path = write(tmp_path, good)
    for ruleset, verdict in [
        ("3.1.0", "pass"),
        ("4.0.0", "fail"),
        ("4.1.0", "fail"),
        ("6.1.0", "fail"),
    ]:
        assert official_verdict(path, ruleset) == verdict == ours_verdict(path, ruleset), ruleset
    message = check_system_json(str(path), "4.0.0")[0].message
    assert message.startswith("Field status contains a non valid value: available")
    assert "official behaviour" in message and "4.0.0 included" in message
    assert "official behaviour" not in check_system_json(str(path), "4.1.0")[0].message
    assert all(s in check_system_json(str(path), "4.1.0")[0].hint for s in STATUS_OPTIONS)


def test_invalid_status_hides_other_reasons_officially_but_we_list_them_all(tmp_path, good):
    good["status"] = "cloud"
    del good["cooling"]
    path = write(tmp_path, good)
    messages = [f.message for f in check_system_json(str(path), "4.0.0")]
    assert any(m == "Missing field cooling" for m in messages)
    assert any(m.startswith("Field status contains a non valid value: cloud") for m in messages)
    assert official_verdict(path, "4.0.0") == "fail"


@pytest.mark.parametrize("key", JOINED_FIELDS)
def test_a_number_in_a_joined_field_is_the_official_crash_reported_with_a_fix(tmp_path, good, key):
    good[key] = 64
    path = write(tmp_path, good)
    assert official_verdict(path, "6.0.0") == "crash"
    desc = load_system_desc(str(path), "6.0.0")
    assert desc.official_crash and "TypeError" in desc.official_crash and key in desc.official_crash
    assert desc.errors[0].kind == "crash" and f'"{key}": "64"' in desc.errors[0].hint


def test_traps_are_warnings_and_do_not_change_the_verdict(tmp_path, good):
    good["division"] = "Closed"
    good["number_of_nodes"] = ""
    good["host_processors_per_node"] = 2
    path = write(tmp_path, good)
    assert official_verdict(path, "6.0.0") == "pass" == ours_verdict(path, "6.0.0")
    warnings = {f.key: f for f in check_system_json(str(path), "6.0.0")}
    assert (
        warnings["division"].severity == "warning"
        and "looks like closed" in warnings["division"].message
    )
    assert "skips the seed and RCP checks" in warnings["division"].message
    assert "result_summarizer" in warnings["number_of_nodes"].message
    assert warnings["host_processors_per_node"].hint.startswith('write "host_processors_per_node"')
    assert not load_system_desc(str(path), "6.0.0").is_closed


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('{"submitter": "x",\n "division": "closed",\n}', "line 3"),
        ("", "not valid JSON"),
        ("[1, 2]", "JSON list"),
        ("42", "JSON int"),
    ],
)
def test_unusable_files_are_errors_that_name_the_file(tmp_path, text, fragment):
    path = write(tmp_path, text)
    desc = load_system_desc(str(path), "6.0.0")
    assert not desc.official_passed and desc.official_crash
    assert str(path) in desc.errors[0].message and fragment in desc.errors[0].message
    assert official_verdict(path, "6.0.0") in ("crash", "fail")


def test_binary_and_missing_files(tmp_path):
    path = tmp_path / "sys.json"
    path.write_bytes(b"\xff\xfe\x00\x01" * 50)
    desc = load_system_desc(str(path), "6.0.0")
    assert desc.official_crash and "UTF-8" in desc.errors[0].message
    desc = load_system_desc(str(tmp_path / "nope.json"), "6.0.0")
    assert desc.official_crash and "cannot read" in desc.official_crash


values = st.one_of(st.text(max_size=5), st.integers(), st.none(), st.sampled_from(STATUS_OPTIONS))


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.dictionaries(st.sampled_from(REQUIRED_FIELDS), values, max_size=len(REQUIRED_FIELDS)),
    st.sampled_from(["3.1.0", "4.0.0", "5.0.0", "6.1.0"]),
)
def test_random_files_get_the_official_verdict(tmp_path, contents, ruleset):
    path = write(tmp_path, contents)
    assert ours_verdict(path, ruleset) == official_verdict(path, ruleset)
