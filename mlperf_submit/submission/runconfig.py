"""The configuration a campaign's runs used, rebuilt from its manifest (preset + overrides).

``train`` builds its config as ``apply_overrides(presets[preset](), overrides)``; a campaign
records the preset and the extra ``train`` arguments. We rebuild the same config to write it
into the implementation folder and to know the quality target the runs stopped at. This
imports the benchmark (and torch): only ``package`` and campaign reports need it.

    cfg = resolved_config("resnet", "tiny", ("--org", "X", "schedule.max_epochs=8"))
    cfg.values["schedule.max_epochs"], cfg.target
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mlperf_submit.errors import MLPerfSubmitError


@dataclass(frozen=True)
class RunConfig:
    benchmark: str
    preset: str
    overrides: tuple[str, ...]
    values: dict = field(default_factory=dict)  # flat {dotted key: value}
    target: float | None = None  # the quality target the runs stop at
    higher_is_better: bool = True
    progress_unit: str = ""
    error: str | None = None  # why the config could not be rebuilt


def overrides_from_args(train_args) -> tuple[str, ...]:
    """The ``key=value`` items of a train argument list (flags and their values skipped)."""
    out, skip = [], False
    for arg in train_args:
        if skip:
            skip = False
            continue
        if arg.startswith("-"):
            skip = "=" not in arg  # "--org X" takes the next item; "--org=X" does not
            continue
        if "=" in arg:
            out.append(arg)
    return tuple(out)


def _jsonable(value):
    if isinstance(value, str | int | float | bool | type(None)):
        return value
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    return repr(value)


def resolved_config(
    benchmark: str, preset: str | None, train_args=(), ruleset: str | None = None
) -> RunConfig:
    preset = preset or "tiny"  # train's default preset
    overrides = overrides_from_args(train_args)
    try:
        from mlperf_submit.benchmarks.command import build_config
        from mlperf_submit.benchmarks.common.config import as_dict
        from mlperf_submit.benchmarks.registry import get_benchmark

        bm_cls = get_benchmark(benchmark)
        cfg = build_config(bm_cls, preset, list(overrides))
    except (MLPerfSubmitError, ImportError) as err:
        return RunConfig(benchmark, preset, overrides, error=str(err))
    values = {k: _jsonable(v) for k, v in as_dict(cfg).items()}
    try:  # the preset's own (easier) target, else the closed target of the ruleset
        target = bm_cls.run_target(cfg, ruleset)
    except MLPerfSubmitError:
        target = None
    return RunConfig(
        benchmark, preset, overrides, values, target, bm_cls.higher_is_better, bm_cls.progress_unit
    )
