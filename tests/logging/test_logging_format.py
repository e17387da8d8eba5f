"""Lines are byte-for-byte what mlperf_logging.mllog writes; call sites are the facade's caller;
bad usage is refused with the call site named and nothing written.

    .venv/bin/python -m pytest -q tests/logging/test_format.py
"""

from __future__ import annotations

import io
import logging
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mlperf_logging.mllog import mllog

from mlperf_submit.errors import UsageError
from mlperf_submit.logging import MLPerfLogger

THIS = str(Path(__file__).resolve())
T0 = 1_700_000_000_000


@pytest.fixture
def pair(tmp_path):
    """Our logger (check off: format only) and a real mllog.MLLogger writing to a buffer."""
    ours = MLPerfLogger("resnet", "4.0.0", "closed", tmp_path / "ours.log", check="off", echo=False)
    buf = io.StringIO()
    pylog = logging.getLogger(f"mllog-ref-{id(buf)}")
    pylog.propagate = False
    pylog.setLevel(logging.INFO)
    pylog.handlers[:] = [logging.StreamHandler(buf)]
    ref = mllog.MLLogger(logger=pylog)
    yield ours, ref, buf, tmp_path / "ours.log"
    ours.close()


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.integers(-1000, 1000).map(np.int64),
    st.floats(-1e6, 1e6, width=32).map(np.float32),
    st.floats(-1e6, 1e6).map(np.float64),
)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(max_size=6), inner, max_size=4),
        st.lists(st.integers(-5, 5), max_size=4).map(np.array),
    ),
    max_leaves=10,
)
metadata = st.one_of(
    st.none(),
    st.dictionaries(
        st.sampled_from(["epoch_num", "samples_count", "status", "step", "x", "é"]),
        json_leaf,
        max_size=3,
    ),
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    key=st.one_of(st.sampled_from(["eval_accuracy", "seed", "block_start"]), st.text(max_size=10)),
    value=json_value,
    meta=metadata,
    kind=st.sampled_from(["start", "end", "event"]),
    namespace=st.sampled_from(["", "worker0"]),
)
def test_lines_are_byte_identical_to_mllog(pair, key, value, meta, kind, namespace):
    ours, ref, buf, path = pair
    ours.namespace = namespace
    before = len(_lines(path))
    buf.seek(0)
    buf.truncate()
    # Both calls on one source line, so mllog's call site and ours are the same file:line.
    o, r, m = getattr(ours, kind), getattr(ref, kind), dict(meta) if meta else meta
    o(key, value, meta, time_ms=T0), r(key, value, m, namespace=namespace, time_ms=T0)  # fmt: skip
    written = _lines(path)[before:]
    assert written == buf.getvalue().splitlines()
    assert len(written) == 1


def test_metadata_file_and_lineno_point_at_the_caller(tmp_path):
    log = MLPerfLogger("resnet", "4.0.0", "closed", tmp_path / "a.log", check="off", echo=False)
    line_event = sys._getframe().f_lineno + 1
    log.event("seed", 1)
    line_info = sys._getframe().f_lineno + 1
    log.submission_info(org="O", platform="P", status="onprem")
    line_block = sys._getframe().f_lineno + 1
    with log.block(1, 4), log.eval(4) as ev:
        line_acc = sys._getframe().f_lineno + 1
        ev.accuracy(0.5)
    line_hp = sys._getframe().f_lineno + 1
    log.hyperparameters(global_batch_size=32)
    log.close()
    sites = [
        (r["key"], r["metadata"]["file"], r["metadata"]["lineno"])
        for r in map(_json, _lines(tmp_path / "a.log"))
    ]
    expected = [("seed", THIS, line_event)]
    expected += [
        (k, THIS, line_info)
        for k in (
            "submission_benchmark",
            "submission_org",
            "submission_division",
            "submission_status",
            "submission_platform",
        )
    ]
    expected += [
        ("block_start", THIS, line_block),
        ("eval_start", THIS, line_block),
        ("eval_accuracy", THIS, line_acc),
        ("eval_stop", THIS, line_block),
        ("block_stop", THIS, line_block),
        ("global_batch_size", THIS, line_hp),
    ]
    assert sites == expected


def _json(line: str) -> dict:
    import json

    assert line.startswith(":::MLLOG ")
    return json.loads(line[len(":::MLLOG ") :])


def _wrapper(log):
    log.event("wrapped", 1, stack_offset=1)  # a user's own helper reports ITS caller


def test_stack_offset_and_root_dir(tmp_path):
    log = MLPerfLogger(
        "resnet",
        "4.0.0",
        "closed",
        tmp_path / "a.log",
        check="off",
        echo=False,
        root_dir=str(Path(THIS).parent),
    )
    line = sys._getframe().f_lineno + 1
    _wrapper(log)
    log.close()
    rec = _json(_lines(tmp_path / "a.log")[0])
    assert rec["metadata"] == {"file": Path(THIS).name, "lineno": line}


def test_metadata_may_override_file_and_lineno_like_mllog(tmp_path):
    log = MLPerfLogger("resnet", "4.0.0", "closed", tmp_path / "a.log", check="off", echo=False)
    log.event("seed", 7, {"lineno": 12, "file": "train.py", "x": 1})
    log.close()
    assert _json(_lines(tmp_path / "a.log")[0])["metadata"] == {
        "file": "train.py",
        "lineno": 12,
        "x": 1,
    }


class _Tensorish:
    def item(self):
        return 1.0

    def numel(self):
        return 1


@pytest.mark.parametrize(
    ("call", "needle"),
    [
        (lambda log: log.event(3, 1), "key must be a str"),
        (lambda log: log.event(None), "key must be a str"),
        (lambda log: log.event("seed", {1, 2}), "not JSON-serialisable: set"),
        (lambda log: log.event("seed", object()), "not JSON-serialisable: object"),
        (lambda log: log.event("loss", _Tensorish()), "tensor.item()"),
        (lambda log: log.event("seed", 1, metadata=[1]), "metadata must be a dict"),
        (lambda log: log.event("seed", 1, metadata={"x": b"raw"}), "metadata of 'seed'"),
        (lambda log: log.run_stop("converged"), "status must be one of success, aborted"),
        (lambda log: log.submission_info(org="O", platform="P"), "requires submission_status"),
        (lambda log: log.submission_info(org="", platform="P", status="onprem"), "org must be"),
        (lambda log: log.event("submission_benchmark", "bert"), "does not match"),
        (lambda log: log.event("submission_division", "open"), "does not match"),
        (lambda log: log.hyperparameters({"a": 1, "b": object()}), "not JSON-serialisable"),
    ],
)
def test_bad_usage_names_the_call_site_and_writes_nothing(tmp_path, call, needle):
    path = tmp_path / "a.log"
    log = MLPerfLogger("resnet", "4.0.0", "closed", path, check="strict", echo=False)
    log.event("cache_clear", True)
    with pytest.raises(UsageError) as err:
        call(log)
    assert needle in str(err.value)
    assert f"{THIS}:" in str(err.value)
    log.close()
    assert len(_lines(path)) == 1  # only the cache_clear line: no partial lines, no extras


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("resnet", "6.0.0", "closed"), "not part of training ruleset 6.0.0"),
        (("llama3_8b", "6.0.0", "closed"), "not part of training ruleset"),
        (("resnet", "9.9.9", "closed"), "unknown ruleset '9.9.9'"),
        (("resnet", "4.0.0", "Closed"), "unknown division"),
    ],
)
def test_unknown_benchmark_ruleset_division(tmp_path, args, needle):
    with pytest.raises(UsageError, match=needle):
        MLPerfLogger(*args, tmp_path / "a.log")


def test_unknown_check_mode(tmp_path):
    with pytest.raises(UsageError, match="check must be one of strict, warn, off"):
        MLPerfLogger("resnet", "4.0.0", "closed", tmp_path / "a.log", check="loud")


def test_existing_log_is_never_overwritten_without_force(tmp_path):
    path = tmp_path / "run.log"
    path.write_text("precious\n")
    log = MLPerfLogger("resnet", "4.0.0", "closed", path, check="off", echo=False)
    with pytest.raises(UsageError, match="already exists.*force=True"):
        log.event("seed", 1)
    assert path.read_text() == "precious\n"
    forced = MLPerfLogger("resnet", "4.0.0", "closed", path, check="off", echo=False, force=True)
    forced.event("seed", 1)
    forced.close()
    assert len(_lines(path)) == 1 and '"seed"' in path.read_text()


def test_lines_also_go_to_stdout(tmp_path, capsys):
    log = MLPerfLogger("resnet", "4.0.0", "closed", tmp_path / "a.log", check="off")
    log.event("seed", 5)
    log.close()
    out = capsys.readouterr().out.splitlines()
    assert out == _lines(tmp_path / "a.log")


def test_nan_is_written_as_mllog_writes_it(tmp_path):
    log = MLPerfLogger("resnet", "4.0.0", "closed", tmp_path / "a.log", check="off", echo=False)
    log.event("eval_accuracy", math.nan, {"epoch_num": 1})
    log.close()
    assert '"value": NaN' in _lines(tmp_path / "a.log")[0]
