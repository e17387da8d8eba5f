"""``mlperf-submit check LOG --follow``: check a log while the run is still writing it.

For runs that do not log through our facade (a vendor container, another framework): each
complete line is fed to the same streaming rules engine as ``check``, and every finding that
is already definite (a CHECK that no later rule file can override, an EXACTLY_ONE key seen
twice, a line that does not parse) is printed the moment its line lands, as
``LOG:LINE: error: message``. Requirements that need the whole log (counts, the target) wait.

It ends after ``run_stop`` (once the lines already written are read), after ``--idle-timeout``
seconds without a new byte, or on Ctrl-C; then it prints the same report and exit code as
``check LOG`` on the file as it stands (0 compliant, 1 not, 2 unusable). The log may not exist
yet: it waits for it. Without ``--ruleset`` it waits for the ``submission_benchmark`` line and
takes the newest ruleset with that benchmark, like ``check``.
"""

from __future__ import annotations

import itertools
import os
import sys

from mlperf_submit.compliance.check_paths import (
    check_target,
    choose_ruleset,
    exit_code_for,
    ruleset_for,
)
from mlperf_submit.compliance.meta import check_ruleset
from mlperf_submit.compliance.parser import LogLine, iter_lines
from mlperf_submit.compliance.report_format import render
from mlperf_submit.compliance.rule_engine import RuleEngine
from mlperf_submit.compliance.tail import Tail
from mlperf_submit.errors import InputError


def follow(
    path: str,
    ruleset: str | None,
    *,
    idle_timeout: float = 0.0,
    poll: float = 0.25,
    out=None,
) -> int:
    """Follow ``path`` until it ends; print findings as they become definite, then the same
    report as ``check``. Returns the exit code."""
    out = out or sys.stdout
    tail = Tail(path, poll=poll, idle_timeout=idle_timeout)
    say = _printer(out)
    ended, source = "run_stop", "--ruleset"
    try:
        if not os.path.exists(path):
            say(f"waiting for {path} to appear ...")
        if not tail.wait_for_file():
            raise InputError(f"{path}: did not appear within --idle-timeout {idle_timeout:g} s")
        items = iter_lines(tail.lines())
        # Without --ruleset, hold the lines back until the benchmark is known (the engine needs
        # its ruleset from the first line on); one pass over the file either way.
        held: list = []
        if ruleset:
            ruleset, source = check_ruleset(ruleset), "--ruleset"
        else:
            bm = None
            for item in items:
                held.append(item)
                if type(item) is LogLine and item.key == "run_stop":
                    tail.stop_at_eof = True  # no benchmark line before the end
                if type(item) is LogLine and item.key == "submission_benchmark":
                    bm = item.val if isinstance(item.val, str) else None
                    break  # the first one decides, as for check (log_benchmark)
            ruleset, source = ruleset_for([bm] if bm else [], f"{path} (submission_benchmark)")
        say(f"following {path} (ruleset {ruleset}: {source}); Ctrl-C to stop")
        engine = RuleEngine(ruleset, "training", online=True)
        for item in itertools.chain(held, items):
            for f in engine.feed(item):
                where = f"{path}:{f.file_lineno}" if f.file_lineno else path
                say(f"{where}: {f.severity}: {f.short()}")
                if f.hint:
                    say(f"    fix: {f.hint}")
            if type(item) is LogLine and item.key == "run_stop":
                tail.stop_at_eof = True
        if tail.timed_out:
            ended = f"no new line for {idle_timeout:g} s"
    except KeyboardInterrupt:
        ended = "Ctrl-C"
        if not os.path.isfile(path):
            raise InputError(f"{path}: stopped (Ctrl-C) before the log appeared") from None
        if not ruleset:
            ruleset, source = choose_ruleset(path, "file", None)
    say(f"stopped following ({ended}); {tail.offset} bytes read. The log as it stands:")
    target = check_target(path, "file", ruleset, source)
    for line in render([target]):
        say(line)
    return exit_code_for([target])


def _printer(out):
    def say(line: str) -> None:
        print(line, file=out, flush=True)  # flushed: someone is watching, maybe through a pipe

    return say
