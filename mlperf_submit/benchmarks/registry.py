"""Benchmark name -> its class (a ``Benchmark`` subclass in ``benchmarks/<name>/benchmark.py``).

    from mlperf_submit.benchmarks.registry import get_benchmark
    cls = get_benchmark("resnet")        # ResNetBenchmark; cls.presets["tiny"]() is a config

A new benchmark is its folder plus one line in ``BENCHMARKS`` (docs/adding-a-benchmark.md): its
``benchmark.py`` defines one subclass of ``common.interface.Benchmark`` whose ``name`` is that
name, and ``tests/benchmarks/test_contract.py`` checks the rest. Modules are imported on lookup,
so listing names does not import torch.
"""

from __future__ import annotations

import importlib
import importlib.util

from mlperf_submit.errors import UsageError

BENCHMARKS: tuple[str, ...] = (
    "resnet",
    "llama31_8b",
    "llama2_70b_lora",
    "gpt_oss_20b",
    "llama31_405b",
    "deepseekv3_671b",
    "flux1",
    "dlrm_dcnv2",
    "dlrmv4",
)


def _module(name: str) -> str:
    return f"mlperf_submit.benchmarks.{name}.benchmark"


def ready() -> list[str]:
    """The benchmarks whose ``benchmark.py`` exists in this checkout."""
    return [n for n in BENCHMARKS if importlib.util.find_spec(_module(n)) is not None]


def get_benchmark(name: str):
    if name not in BENCHMARKS:
        raise UsageError(f"unknown benchmark {name!r}: choose one of {', '.join(BENCHMARKS)}")
    if name not in ready():
        raise UsageError(f"benchmark {name!r} is not built in this checkout ({_module(name)})")
    from mlperf_submit.benchmarks.common.interface import Benchmark

    mod = importlib.import_module(_module(name))
    for obj in vars(mod).values():
        if (
            isinstance(obj, type)
            and issubclass(obj, Benchmark)
            and getattr(obj, "name", None) == name
        ):
            return obj
    raise UsageError(f"{_module(name)} defines no Benchmark subclass with name = {name!r}")


def describe(name: str):
    """The class of a benchmark built here, or None (not registered, or its dependencies --
    torch -- are not installed: a report-only install still reads published results)."""
    if name not in BENCHMARKS:
        return None
    try:
        return get_benchmark(name)
    except (UsageError, ImportError):
        return None
