"""The one log tailer (``compliance.tail.Tail``): the lines of a file being written are the lines
the official parser reads from the finished file, however the writes and reads are cut."""

from __future__ import annotations

import pytest

from mlperf_submit.compliance import tail as tail_module
from mlperf_submit.compliance.parser import iter_file, iter_lines
from mlperf_submit.compliance.tail import Tail
from mlperf_submit.launch.campaign.logtail import LogTail

from .test_follow import LOG

# \x0c, \x1c and \x85 end a line for str.splitlines but not for the official parser's
# open(encoding="latin-1"); \x85 is the second byte of a UTF-8 "Å" inside a JSON string.
AWKWARD = b'a\x0cb\x1cc\r\nd\re \xc3\x85 f\n:::MLLOG {"x": "\xc3\x85"}\r\n\r\rlast'


def official_lines(path) -> list[str]:
    with open(path, encoding="latin-1") as f:  # as mlp_parser reads a log
        return f.readlines()


def written_piecewise(path, data: bytes, cuts: list[int]) -> list[str]:
    """Write ``data`` in the pieces ``cuts`` gives, reading what is complete after each."""
    tail = Tail(path)
    got = []
    with open(path, "wb") as f:
        start = 0
        for end in [*cuts, len(data)]:
            f.write(data[start:end])
            f.flush()
            got += tail.read_lines()
            start = end
    return got + tail.rest()


@pytest.mark.parametrize("cuts", [[], [1], [4, 5], [14, 15, 16], list(range(1, len(AWKWARD)))])
def test_lines_are_the_official_parsers_however_the_writes_are_cut(tmp_path, cuts):
    log = tmp_path / "run.log"
    got = written_piecewise(log, AWKWARD, cuts)
    assert got == official_lines(log)
    assert got[0] == "a\x0cb\x1cc\n" and got[-1] == "last"


def test_a_cr_at_the_end_of_a_read_waits_for_a_possible_lf(tmp_path):
    log = tmp_path / "run.log"
    log.write_bytes(b"one\r")
    tail = Tail(log)
    assert tail.read_lines() == []  # "one\r" + "\n" would be one line end, not two
    with open(log, "ab") as f:
        f.write(b"\ntwo\n")
    assert tail.read_lines() == ["one\n", "two\n"] and tail.offset == 9


def test_chunked_reads_of_a_real_log_give_the_official_lines(corpus_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(tail_module, "CHUNK_BYTES", 61)  # lines span chunks, chunks hold lines
    log = tmp_path / "run.log"
    log.write_bytes((corpus_dir / LOG).read_bytes())
    tail = Tail(log)
    lines = tail.read_lines() + tail.rest()
    assert lines == official_lines(log)
    assert list(iter_lines(lines)) == list(iter_file(log))


def test_logtail_counts_the_mllog_lines_the_checkers_accept(tmp_path):
    log = tmp_path / "run.log"
    log.write_bytes(
        b'[1,0]<stdout>::::MLLOG {"namespace": "", "time_ms": 1, "event_type": "POINT_IN_TIME", '
        b'"key": "run_stop", "value": null, "metadata": {"status": "success"}}\n'
        b"noise with \x85 inside\n"
    )
    logtail = LogTail(log)
    assert logtail.poll() and logtail.run_stop_status == "success"  # the prefix is cut
    assert (logtail.n_lines, logtail.n_mllog) == (2, 1)
    log.write_bytes(b"")  # truncated under the campaign: no progress, no crash
    assert logtail.poll() is False
