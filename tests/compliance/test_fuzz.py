"""Property tests: the parser and the rules engine never raise, whatever the bytes."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlperf_submit.compliance.filecheck import check_file
from mlperf_submit.compliance.parser import TOKEN, iter_lines

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
keys = st.sampled_from(
    [
        "run_start",
        "run_stop",
        "init_start",
        "init_stop",
        "eval_accuracy",
        "submission_division",
        "submission_benchmark",
        "opt_name",
        "cache_clear",
        "global_batch_size",
        "seed",
        "x",
    ]
)


@st.composite
def mllog_lines(draw):
    obj = {}
    for field in ("namespace", "time_ms", "event_type", "key", "value", "metadata"):
        if draw(st.integers(0, 9)) == 0:
            continue  # sometimes leave a field out
        if field == "key":
            obj[field] = draw(keys | json_values)
        elif field == "time_ms":
            obj[field] = draw(st.integers(0, 2**70) | st.floats() | json_values)
        elif field == "value" and draw(st.booleans()):
            obj[field] = draw(st.sampled_from(["closed", "open", "resnet", "llama31_8b", "lars"]))
        else:
            obj[field] = draw(json_values)
    text = json.dumps(obj)
    if draw(st.integers(0, 5)) == 0:
        cut = draw(st.integers(0, len(text)))
        text = text[:cut]
    prefix = draw(st.sampled_from(["", "[1,0]<stdout>:", "0: ", TOKEN]))
    return prefix + TOKEN + text


@SETTINGS
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "log.txt"
    path.write_bytes(data)
    for ruleset in ("4.0.0", "6.1.0"):
        report = check_file(path, ruleset)
        assert report.passed is False  # random bytes are never a compliant log


@SETTINGS
@given(
    st.lists(mllog_lines() | st.text(max_size=40), max_size=30),
    st.sampled_from(["4.0.0", "5.0.0", "6.1.0"]),
)
def test_arbitrary_mllog_lines_never_raise(tmp_path_factory, lines, ruleset):
    path = tmp_path_factory.mktemp("fuzz") / "log.txt"
    path.write_text("\n".join(lines), encoding="utf-8", errors="surrogatepass")
    report = check_file(path, ruleset)
    # file line numbers point into the file
    n_lines = path.read_bytes().count(b"\n") + 1
    for f in report.errors:
        assert f.file_lineno is None or 1 <= f.file_lineno <= n_lines + path.read_bytes().count(
            b"\r"
        )


@SETTINGS
@given(st.lists(st.text(max_size=300), max_size=20))
def test_parser_counts_only_lines_with_the_token(lines):
    items = list(iter_lines(lines))
    assert len(items) == sum(TOKEN in line for line in lines)
    assert [i.lineno for i in items] == list(range(len(items)))
