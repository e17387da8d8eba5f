"""The offline hot loop: read, parse and check a log in one Python loop.

``parser.iter_lines`` + ``RuleEngine.feed_all`` do the same work through a generator and a
method call per line; for offline checks of large logs that overhead is a third of the time, so
this loop inlines both. It gives exactly the same results (the corpus, differential and fuzz
tests run through it): every line orjson accepts is first validated like the official parser
does, lines no rule, buffer or fact reads are only counted, and anything unusual (JSON orjson
refuses, a missing field, a float that may have been a huge integer) goes through
``parser.parse_mllog_text`` and ``RuleEngine.feed``, the exact paths.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from mlperf_submit.compliance.parser import (
    _FINITE,
    TOKEN,
    LogLine,
    _new_logline,
    _orjson_loads,
    _values_exact,
    parse_mllog_text,
)
from mlperf_submit.compliance.rule_engine import RuleEngine

_TOKEN_LEN = len(TOKEN)


def scan_lines(
    lines: Iterable[str],
    engine: RuleEngine,
    observe: Callable[[LogLine], None],
    observe_keys: frozenset,
) -> None:
    """Feed every MLLOG line of ``lines`` to ``engine``; ``observe`` gets the lines whose key is
    in ``observe_keys`` or starts with ``submission_``."""
    fast = _orjson_loads
    if fast is None:  # pragma: no cover - orjson missing: the generic path
        from mlperf_submit.compliance.parser import iter_lines

        engine.feed_all(iter_lines(lines), observe, observe_keys)
        return
    values_exact = _values_exact
    dispatch = engine._dispatch
    buffer_append = engine.buffer.append
    retain_all = engine._retain_all
    retain_keys = engine._retain_keys
    index = 0
    n_ok = 0
    for file_lineno, line in enumerate(lines, 1):
        pos = line.rfind(TOKEN)
        if pos < 0:
            continue
        ll = None
        try:
            # orjson skips the same leading/trailing JSON whitespace json.loads does; a line it
            # accepts here is accepted identically by the official strip() + json.loads.
            m = fast(line[pos + _TOKEN_LEN :])
            ts = m["time_ms"]  # TypeError for non-objects: exact path
            if type(ts) is not float:
                ts = float(ts)
            key = m["key"]
            value = m["value"]
            metadata = m["metadata"]
            if not -_FINITE <= ts <= _FINITE:
                raise ValueError
        except Exception:
            m = None
        if m is not None:
            if type(key) is str:
                targets = dispatch.get(key)
                retain = retain_all or key in retain_keys
                fact = key in observe_keys or key[:11] == "submission_"
                if targets is None and not retain and not fact:
                    index += 1
                    n_ok += 1
                    continue
            elif not retain_all:
                index += 1
                n_ok += 1
                continue
            else:
                targets = None
                retain = True
                fact = False
            ok = values_exact(value, metadata)  # see parser._orjson_exact
            if ok:
                ll = _new_logline(
                    LogLine,
                    (
                        line[pos:].strip(),
                        ts,
                        key,
                        {"value": value, "metadata": metadata},
                        index,
                        file_lineno,
                    ),
                )
                index += 1
                n_ok += 1
                if retain:
                    buffer_append(ll)
                if targets is not None:
                    for run, rule in targets:
                        run.process_rule(ll, key, rule)
                    if engine._pending_enqueue or engine._chain_changed:
                        if engine._pending_enqueue:
                            engine._drain_enqueues()
                        if engine._chain_changed:
                            engine._update_retention()
                        buffer_append = engine.buffer.append
                        retain_all = engine._retain_all
                        retain_keys = engine._retain_keys
                if fact:
                    observe(ll)
                continue
        # the exact path: anything orjson refused or may have read differently
        item = parse_mllog_text(line[pos:].strip(), index, file_lineno)
        index += 1
        engine.feed(item)
        if type(item) is LogLine:
            key = item.key
            if type(key) is str and (key in observe_keys or key[:11] == "submission_"):
                observe(item)
        buffer_append = engine.buffer.append
        retain_all = engine._retain_all
        retain_keys = engine._retain_keys
    engine.n_lines += n_ok
    engine.n_parsed += n_ok
