"""``check LOG --follow``: findings reported while the log is still being written.

A real corpus log (resnet, 4.0.0 closed) is written line by line by the test while the real CLI
follows it in another process: the violation must be printed before the rest of the log (and
its run_stop) exists, and the final report must be ``check``'s.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from mlperf_submit.compliance.tail import Tail
from mlperf_submit.errors import InputError

LOG = Path("v4.0/closed/GigaComputing/results/G593-SD1_mxnet/resnet/result_0.txt")
TOKEN = ":::MLLOG "


def corpus_lines(corpus_dir) -> list[str]:
    return (corpus_dir / LOG).read_text(encoding="latin-1").splitlines(keepends=True)


def with_value(lines: list[str], key: str, value) -> tuple[list[str], int]:
    """The lines with ``key``'s value replaced, and the index of that line."""
    out, at = [], None
    for i, line in enumerate(lines):
        if TOKEN in line:
            prefix, body = line.split(TOKEN, 1)
            obj = json.loads(body)
            if obj["key"] == key:
                obj["value"], at = value, i
                line = prefix + TOKEN + json.dumps(obj) + "\n"
        out.append(line)
    assert at is not None
    return out, at


def check_cli(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mlperf_submit", "check", *map(str, args)],
        capture_output=True, text=True, timeout=120, cwd=cwd,
    )  # fmt: skip


def start(*args) -> tuple[subprocess.Popen, queue.Queue]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlperf_submit", "check", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue = queue.Queue()

    def pump():
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return proc, lines


def read_until(lines: queue.Queue, needle: str, timeout: float = 60.0) -> list[str]:
    seen = []
    while True:
        line = lines.get(timeout=timeout)
        if line is None:
            raise AssertionError(f"follower ended before {needle!r}: {''.join(seen)}")
        seen.append(line)
        if needle in line:
            return seen


def test_a_violation_is_reported_while_the_run_is_still_writing(corpus_dir, tmp_path):
    lines, bad = with_value(corpus_lines(corpus_dir), "global_batch_size", -1)
    log = tmp_path / "run_0.log"
    proc, out = start(log, "--follow", "--ruleset", "4.0.0")
    try:
        read_until(out, "waiting for")  # started before the file exists
        with open(log, "w", encoding="latin-1") as f:
            f.writelines(lines[: bad + 1])
            f.write(lines[bad + 1][:20])  # and half of the next line, no newline yet
            f.flush()
            seen = read_until(out, "global_batch_size")
            assert "run_stop" not in log.read_text(encoding="latin-1")
            assert f"{log}:{bad + 1}: error: CHECK for 'global_batch_size' failed" in seen[-1]
            f.write(lines[bad + 1][20:])
            f.writelines(lines[bad + 2 :])
        rest = read_until(out, "1 checked")
        assert proc.wait(timeout=60) == 1
    finally:
        proc.kill()
    text = "".join(rest)
    assert "stopped following (run_stop)" in text and f"FAIL  {log}" in text


def test_a_finished_log_ends_at_run_stop_with_checks_verdict(corpus_dir, tmp_path):
    log = tmp_path / "run.log"
    log.write_text("".join(corpus_lines(corpus_dir)), encoding="latin-1")
    followed = check_cli(log, "--follow")
    checked = check_cli(log)
    assert followed.returncode == checked.returncode == 0
    assert "ruleset 4.0.0: default: newest ruleset with resnet" in followed.stdout
    assert followed.stdout.splitlines()[-2:] == checked.stdout.splitlines()[-2:]


def test_a_stalled_log_ends_at_the_idle_timeout_not_compliant(corpus_dir, tmp_path):
    lines = corpus_lines(corpus_dir)
    log = tmp_path / "run.log"
    text = "".join(lines[: len(lines) // 2]).rstrip("\n")  # the last line has no newline
    log.write_text(text, encoding="latin-1")
    proc = check_cli(log, "--follow", "--idle-timeout", "1")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"stopped following (no new line for 1 s); {len(text)} bytes read" in proc.stdout
    assert "run_stop" in proc.stdout  # what the check of the file as it stands misses


@pytest.mark.parametrize(
    "argv",
    [["a.log", "b.log", "--follow"], ["a.log", "--follow", "--json"], ["a.log", "--follow",
     "--idle-timeout", "-1"]],
)  # fmt: skip
def test_usage_errors(tmp_path, argv):
    proc = check_cli(*argv, cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "--follow takes one log" in proc.stderr or "--idle-timeout -1" in proc.stderr


def test_a_log_that_never_appears_or_is_truncated_is_an_input_error(tmp_path):
    clock = iter(range(100))
    tail = Tail(str(tmp_path / "never.log"), idle_timeout=3, clock=lambda: next(clock),
                sleep=lambda s: None)  # fmt: skip
    assert tail.wait_for_file() is False

    log = tmp_path / "run.log"
    log.write_text(":::MLLOG {}\nsecond line\n")

    def truncate(_seconds):
        log.write_text("")

    tail = Tail(str(log), sleep=truncate)
    got = []
    with pytest.raises(InputError, match="replaced or truncated while following"):
        for line in tail.lines():
            got.append(line)
    assert got == [":::MLLOG {}\n", "second line\n"]


def test_crlf_and_lone_cr_are_line_ends_as_for_the_official_parser(tmp_path):
    log = tmp_path / "run.log"
    log.write_bytes(b"one\r\ntwo\rthree\n\xe9four")
    tail = Tail(str(log), idle_timeout=0.01, poll=0.001)
    assert list(tail.lines()) == ["one\n", "two\n", "three\n", "\xe9four"]
