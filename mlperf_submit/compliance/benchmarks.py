"""Which rulesets contain a benchmark (from the installed mlperf_logging.benchmark_meta)."""

from __future__ import annotations

from functools import cache


@cache
def rulesets_with(benchmark: str, usage: str = "training") -> tuple[str, ...]:
    from mlperf_logging import benchmark_meta

    from mlperf_submit.compliance.rulefiles import available_rulesets

    allowed = benchmark_meta._ALL_ALLOWED_BENCHMARKS.get(usage, {})
    out = []
    for rs in available_rulesets(usage):
        short = ".".join(rs.split(".")[:2])
        if benchmark in allowed.get(rs, allowed.get(short, [])):
            out.append(rs)
    return tuple(out)
