"""MLPerfLogger: the one logging facade benchmarks and launchers use (model code never imports mllog).

    from mlperf_submit.logging import MLPerfLogger
    log = MLPerfLogger("llama31_8b", "6.1.0", "closed", "run_0.log", check="strict")
    log.submission_info(org="MyOrg", platform="1xCPU")
    log.cache_clear(True)
    log.init_start()
    log.hyperparameters({"global_batch_size": 32, ...})
    log.init_stop_run_start()
    with log.block(0, 12288):
        ...
    with log.eval(12288) as ev:
        ev.accuracy(3.1)
    log.run_stop("success")        # prints a one-line verdict to stderr

Each line is what ``mlperf_logging.mllog`` writes (``:::MLLOG {json}``, same key order,
``metadata.file``/``lineno`` of the caller of the facade), goes to the log file (rank 0 only) and
to stdout, flushed, and is checked online by the same rules engine as ``mlperf-submit check``
(``check="strict"`` raises :class:`ComplianceError` at the offending call, ``"warn"`` prints once
per rule, ``"off"`` checks nothing). See ``online.py`` for what is reported when.

Distributed runs: rank and barriers come from ``mlperf_submit.launch.distributed.dist``. ``unique=True``
(the default) writes on rank 0 only; ``unique=False`` prints the line on every rank's stdout, but
only rank 0 writes the file and checks it, so the file is exactly what the online verdict saw.
``sync=True`` waits at a barrier first, so the timestamp is taken when the slowest rank arrives;
every rank must then make the same call.
"""

from __future__ import annotations

import atexit
import sys
import threading
import time
import weakref
from collections.abc import Mapping

from mlperf_submit.errors import UsageError
from mlperf_submit.logging import rules_info
from mlperf_submit.logging.encode import (
    INTERVAL_END,
    INTERVAL_START,
    POINT_IN_TIME,
    build_metadata,
    call_site,
    encode_or_raise,
    where,
)
from mlperf_submit.logging.intervals import Block, Epoch, Eval
from mlperf_submit.logging.online import MODES, OnlineChecker, verdict_line
from mlperf_submit.logging.sink import LineSink

RUN_STATUSES = ("success", "aborted")
SUBMISSION_STATUSES = ("cloud", "onprem", "preview", "research")

_dist_module = None


def _dist():
    """``mlperf_submit.launch.distributed.dist``, imported on first use (it may import torch)."""
    global _dist_module
    if _dist_module is None:
        from mlperf_submit.launch.distributed import dist

        _dist_module = dist
    return _dist_module


class MLPerfLogger:
    """Writes MLLOG lines for one run of (benchmark, ruleset, division) and checks them online."""

    def __init__(
        self,
        benchmark: str,
        ruleset: str,
        division: str = "closed",
        log_file=None,
        check: str = "strict",
        *,
        echo: bool = True,
        force: bool = False,
        namespace: str = "",
        root_dir: str | None = None,
        progress_unit: str | None = None,
    ):
        if check not in MODES:
            raise UsageError(f"check must be one of {', '.join(MODES)}, not {check!r}")
        rules_info.validate(benchmark, ruleset, division)
        self.benchmark = benchmark
        self.ruleset = ruleset
        self.division = division
        self.check = check
        self.namespace = namespace
        self.root_dir = root_dir
        # The benchmark knows its unit; the rule file's is the default. They differ only where an
        # official open file is a placeholder (5.x open LLM files want epoch_num): the log then
        # keeps the benchmark's unit and fails that one rule, as a correct log does there.
        if progress_unit not in (None, "epoch_num", "samples_count"):
            raise UsageError(
                f"progress_unit must be epoch_num or samples_count, not {progress_unit!r}"
            )
        self.progress_unit = progress_unit or rules_info.progress_unit(benchmark, ruleset, division)
        self.metric_aliases = rules_info.metric_aliases(benchmark, ruleset, division)
        self.log_file = log_file
        self._sink = LineSink(log_file, echo=echo, force=force)
        self._checker: OnlineChecker | None = None
        self._lock = threading.RLock()
        self._result = None
        self._finished = False
        self._after_finish = 0  # lines written after finish(): re-checked from the file at exit
        _LIVE.add(self)

    # -- the mllog API --------------------------------------------------------------------------
    def start(
        self,
        key,
        value=None,
        metadata=None,
        sync=False,
        unique=True,
        *,
        time_ms=None,
        stack_offset=0,
    ):
        """Log an ``INTERVAL_START`` line (``mllog.start``)."""
        self._log(INTERVAL_START, key, value, metadata, sync, unique, time_ms, stack_offset)

    def end(
        self,
        key,
        value=None,
        metadata=None,
        sync=False,
        unique=True,
        *,
        time_ms=None,
        stack_offset=0,
    ):
        """Log an ``INTERVAL_END`` line (``mllog.end``)."""
        self._log(INTERVAL_END, key, value, metadata, sync, unique, time_ms, stack_offset)

    def event(
        self,
        key,
        value=None,
        metadata=None,
        sync=False,
        unique=True,
        *,
        time_ms=None,
        stack_offset=0,
    ):
        """Log a ``POINT_IN_TIME`` line (``mllog.event``)."""
        self._log(POINT_IN_TIME, key, value, metadata, sync, unique, time_ms, stack_offset)

    def _log(self, event_type, key, value, metadata, sync, unique, time_ms, stack_offset):
        site = call_site(stack_offset, self.root_dir)
        if type(key) is not str:
            raise UsageError(
                f"{where(site)}: an MLLOG key must be a str (an mllog constant such as "
                f"'eval_accuracy'), not {type(key).__name__} {key!r:.60}"
            )
        meta = build_metadata(site, metadata)
        if key in _SUBMISSION_GUARDS:
            self._guard_submission(key, value, site)
        dist = _dist()
        if sync:
            dist.barrier()
        main = dist.get_rank() == 0
        if unique and not main:
            # Not written here, but a value rank 0 refuses must be refused on every rank too,
            # or the other ranks run on into the next collective and hang there.
            encode_or_raise(self.namespace, 0, event_type, key, value, meta, site)
            return
        with self._lock:
            if time_ms is None:
                time_ms = int(time.time() * 1e3)  # what mllog writes
            line = encode_or_raise(self.namespace, time_ms, event_type, key, value, meta, site)
            self._sink.write(line, to_file=main)
            if not main or self.check == "off":
                return
            if self._finished:
                self._after_finish += 1
                return
            if self._checker is None:
                self._checker = OnlineChecker(self.ruleset, self.check)
            self._checker.feed(line, key, where(site))

    def _guard_submission(self, key, value, site):
        # A wrong benchmark name makes the official checker crash on a missing rule file, and a
        # wrong division checks the run against the other division's rules: refuse, unwritten.
        expected = self.benchmark if key == "submission_benchmark" else self.division
        if value != expected:
            raise UsageError(
                f"{where(site)}: {key} {value!r} does not match this logger's {expected!r}; "
                f"configure the logger with the {key.split('_', 1)[1]} you run"
            )

    # -- helpers --------------------------------------------------------------------------------
    def submission_info(
        self,
        org: str,
        platform: str,
        division: str | None = None,
        status: str | None = None,
        *,
        poc_name: str | None = None,
        poc_email: str | None = None,
    ) -> None:
        """The ``submission_*`` keys, in the order the reference implementations write them.

        ``status`` (cloud|onprem|preview|research) is required by rulesets up to 4.0.0 and
        ignored after; the benchmark and division are this logger's.
        """
        site = call_site(0, self.root_dir)
        if division is not None and division != self.division:
            raise UsageError(
                f"{where(site)}: division {division!r} does not match this logger's "
                f"{self.division!r}"
            )
        needs_status = "submission_status" in rules_info.common_keys(self.ruleset)
        if status is None and needs_status:
            raise UsageError(
                f"{where(site)}: ruleset {self.ruleset} requires submission_status: pass "
                f"status= one of {', '.join(SUBMISSION_STATUSES)}"
            )
        if status is not None and status not in SUBMISSION_STATUSES:
            raise UsageError(
                f"{where(site)}: status {status!r} is not one of {', '.join(SUBMISSION_STATUSES)}"
            )
        for name, val in (("org", org), ("platform", platform)):
            if not isinstance(val, str) or not val:
                raise UsageError(f"{where(site)}: {name} must be a non-empty string")
        self.event("submission_benchmark", self.benchmark)
        self.event("submission_org", org)
        self.event("submission_division", self.division)
        if status is not None:
            self.event("submission_status", status)
        self.event("submission_platform", platform)
        if poc_name is not None:
            self.event("submission_poc_name", poc_name)
        if poc_email is not None:
            self.event("submission_poc_email", poc_email)

    def cache_clear(self, cleared: bool = True) -> None:
        """Log ``cache_clear`` with the truth: whether the caches were really cleared."""
        self.event("cache_clear", bool(cleared))

    def seed(self, value: int) -> None:
        """The run's master seed, once (rank 0), as the seed checker expects."""
        self.event("seed", value)

    def hyperparameters(self, values: Mapping | None = None, /, **more) -> None:
        """Log each hyperparameter as an event, ordered so that the rules' CHECKs accept it.

        Pass the values in effect (see ``hparams.py`` for reading them back from the optimizer,
        scheduler and config). Everything is validated before the first line is written.
        """
        merged = dict(values or {})
        merged.update(more)
        site = call_site(0, self.root_dir)
        for key, val in merged.items():
            if type(key) is not str:
                raise UsageError(f"{where(site)}: hyperparameter names must be str, not {key!r}")
            encode_or_raise(self.namespace, 0, POINT_IN_TIME, key, val, {}, site)
        for key in rules_info.order_keys(list(merged), self.benchmark, self.ruleset, self.division):
            self.event(key, merged[key])

    def init_start(self) -> None:
        self.start("init_start")

    def init_stop_run_start(self, sync: bool = True) -> None:
        """``init_stop`` then ``run_start``; with ``sync`` all ranks start the clock together."""
        self.end("init_stop", sync=sync)
        self.start("run_start", sync=sync)

    def run_stop(self, status: str, sync: bool = True, metadata: Mapping | None = None):
        """``run_stop`` with ``metadata.status``, then :meth:`finish` (returns its CheckResult)."""
        if status not in RUN_STATUSES:
            site = call_site(0, self.root_dir)
            raise UsageError(
                f"{where(site)}: run_stop status must be one of {', '.join(RUN_STATUSES)}, "
                f"not {status!r}"
            )
        meta = {"status": status}
        if metadata:
            meta.update(metadata)
        self.end("run_stop", metadata=meta, sync=sync)
        return self.finish()

    def block(self, start, count, metadata: Mapping | None = None, sync: bool = False) -> Block:
        """``with log.block(first, count):`` -- a training block of ``count`` epochs / samples."""
        return Block(self, start, count, metadata, sync)

    def epoch(self, epoch_num, metadata: Mapping | None = None, sync: bool = False) -> Epoch:
        """``with log.epoch(n):`` -- ``epoch_start``/``epoch_stop`` with ``epoch_num``."""
        return Epoch(self, epoch_num, metadata, sync)

    def eval(self, progress, metadata: Mapping | None = None, sync: bool = False) -> Eval:
        """``with log.eval(p) as ev: ev.accuracy(x)`` -- tagged with the benchmark's unit."""
        return Eval(self, progress, metadata, sync)

    def eval_accuracy(self, value, progress, metadata: Mapping | None = None) -> None:
        meta = {self.progress_unit: progress}
        if metadata:
            meta.update(metadata)
        self.event("eval_accuracy", value, meta)
        for key in self.metric_aliases:
            self.event(key, value, meta)

    # -- end of run -----------------------------------------------------------------------------
    def finish(self, *, print_verdict: bool = True):
        """Evaluate the end-of-log rules and print a one-line verdict to stderr.

        Returns the engine's ``CheckResult`` (``passed`` == the official checker on the file), or
        None where nothing is checked: ``check="off"``, a rank other than 0, or no line written.
        Idempotent; lines logged after it are re-checked from the file at interpreter exit.
        """
        with self._lock:
            if self._finished:
                return self._result
            self._finished = True
            if self._checker is None:
                return None
            self._result = self._checker.finish()
            if print_verdict:
                print(
                    verdict_line(self._result, self._label(), self._checker.policy_findings),
                    file=sys.stderr,
                    flush=True,
                )
            return self._result

    @property
    def policy_findings(self):
        return list(self._checker.policy_findings) if self._checker else []

    def _label(self) -> str:
        target = self.log_file if self.log_file is not None else "stdout"
        return f"{self.benchmark}@{self.ruleset} {self.division} log {target}"

    def _at_exit(self) -> None:
        if not self._finished:
            self.finish()
        elif self._after_finish and self.log_file is not None:
            from mlperf_submit.compliance.filecheck import check_file

            report = check_file(self.log_file, self.ruleset)
            print(
                verdict_line(report, self._label() + " (re-checked: lines after run_stop)"),
                file=sys.stderr,
                flush=True,
            )
        self.close()

    def close(self) -> None:
        """Close the log file (without finishing; :meth:`finish` is separate)."""
        with self._lock:
            self._sink.close()


_SUBMISSION_GUARDS = frozenset({"submission_benchmark", "submission_division"})
_LIVE: weakref.WeakSet[MLPerfLogger] = weakref.WeakSet()


@atexit.register
def _finish_all() -> None:
    for logger in list(_LIVE):
        try:
            logger._at_exit()
        except Exception as err:  # at exit a traceback helps nobody; say what failed
            print(f"mlperf-submit: could not finish the MLPerf log check: {err}", file=sys.stderr)
