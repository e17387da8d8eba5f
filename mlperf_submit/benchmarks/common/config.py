"""Typed run configurations: dataclasses, named presets, dotted ``key=value`` overrides.

A benchmark's config is a (possibly nested) dataclass. Every field has a type annotation and a
docstring; cross-field checks live in a ``validate()`` method that raises ``UsageError`` with a
message that says how to fix it. Presets are plain functions returning a config, registered by
name (``tiny``, ``config_<SYSTEM>_<NODES>x<GPUS>x<BS>``).

    cfg = apply_overrides(preset(), ["optim.base_lr=2.0", "data.batch_size=64"])

Values are parsed by the field's declared type: ``int``, ``float``, ``bool`` (true/false/1/0/
yes/no), ``str``, ``Literal[...]`` (one of the listed), ``X | None`` (``none`` gives None) and
``tuple[int, ...]`` (comma separated). An unknown key names the closest known ones.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Iterable
from typing import Any, Literal

from mlperf_submit.errors import UsageError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclasses.dataclass
class LoopConfig:
    """What the common Trainer needs, whatever the benchmark (a field ``loop`` of each config)."""

    device: Literal["auto", "cpu", "cuda"] = "auto"
    """auto = cuda when available, else cpu."""
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"
    """Autocast dtype of the forward pass on GPU; fp32 is used on CPU whatever is asked."""
    compile: bool = False
    """torch.compile the model (inside init, so compile time is init time, not run time): each
    repeated block and the benchmark's loss before sharding, or a model without blocks whole
    after DDP (``launch.distributed.parallel``)."""
    compile_backend: str = "inductor"
    """The torch.compile backend: inductor (generated kernels); aot_eager or eager capture the
    same graphs without generating code (CPU checks of what is compiled)."""
    warmup_steps: int = 0
    """Steps on random tensors inside init (kernels, allocator, compile); the model and
    optimizer state are restored afterwards, so training starts from the initial weights."""
    threads: int = 0
    """torch intra-op threads per process; 0 leaves torch's default."""
    max_minutes: float = 0.0
    """Wall-clock budget of the run section (run_start to run_stop); 0 = none. When it is
    reached the run stops after the current block with status aborted."""
    fused_optimizer: bool = True
    """Fused optimizer kernels on GPU: apex's when apex imports and the parameters are plain
    tensors, torch's fused AdamW for FSDP2's DTensor shards (apex cannot read a DTensor); the
    implementation in effect is printed at start-up (``common.optim.implementation``)."""
    data_parallel: Literal["ddp", "fsdp2"] = "ddp"
    """ddp: replicated weights, all-reduced gradients. fsdp2: weights, gradients and optimizer
    state sharded over the ranks (``launch.distributed.parallel.shard_model``), for models whose training state does
    not fit one device."""
    gradient_accumulation_steps: int = 1
    """Micro-batches per optimizer step. Each rank's step batch (global batch / ranks) is split
    into this many equal micro-batches, run forward and backward one after the other (gradients
    all-reduced after the last one only), then the optimizer steps once: the global batch and
    every hyperparameter stay the same, only activation memory shrinks. Logged as MLPerf's
    ``gradient_accumulation_steps``."""

    def validate(self) -> None:
        if self.warmup_steps < 0:
            raise UsageError(f"loop.warmup_steps={self.warmup_steps}: use 0 or more")
        if self.threads < 0:
            raise UsageError(f"loop.threads={self.threads}: use 0 (torch default) or more")
        if self.max_minutes < 0:
            raise UsageError(f"loop.max_minutes={self.max_minutes}: use 0 (no limit) or more")
        if self.gradient_accumulation_steps < 1:
            raise UsageError(
                f"loop.gradient_accumulation_steps={self.gradient_accumulation_steps}: use 1 "
                "(no accumulation) or more"
            )


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _parse(value: str, tp: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if type(None) in args and value.strip().lower() in {"none", "null", ""}:
            return None
        inner = [a for a in args if a is not type(None)]
        return _parse(value, inner[0], key)
    if origin is Literal:
        for choice in args:
            if str(choice) == value:
                return choice
        raise UsageError(f"{key}={value}: choose one of {', '.join(map(str, args))}")
    if origin is tuple:
        parts = [p for p in value.replace(" ", "").split(",") if p]
        elem = args[0] if args else str
        return tuple(_parse(p, elem, key) for p in parts)
    try:
        if tp is bool:
            low = value.strip().lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
            raise ValueError
        if tp is int:
            return int(value)
        if tp is float:
            return float(value)
        if tp is str:
            return value
    except ValueError:
        raise UsageError(f"{key}={value}: expected {getattr(tp, '__name__', tp)}") from None
    raise UsageError(f"{key}: fields of type {tp} cannot be set from the command line")


def keys(cfg: Any, prefix: str = "") -> list[str]:
    """All dotted keys that an override can set."""
    out = []
    for f in dataclasses.fields(cfg):
        val = getattr(cfg, f.name)
        if dataclasses.is_dataclass(val):
            out.extend(keys(val, f"{prefix}{f.name}."))
        else:
            out.append(prefix + f.name)
    return out


def set_key(cfg: Any, key: str, value: str, _prefix: str = "") -> Any:
    """A copy of ``cfg`` with dotted ``key`` set from the string ``value``."""
    head, _, rest = key.partition(".")
    full = _prefix + key
    names = [f.name for f in dataclasses.fields(cfg)]
    if head not in names:
        known = [_prefix + k for k in keys(cfg)]
        close = difflib.get_close_matches(full, known, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise UsageError(f"unknown config key {full!r}{hint}; known keys: {', '.join(known)}")
    current = getattr(cfg, head)
    if rest:
        if not dataclasses.is_dataclass(current):
            raise UsageError(f"config key {full!r}: {_prefix + head!r} has no sub-keys")
        return dataclasses.replace(
            cfg, **{head: set_key(current, rest, value, f"{_prefix}{head}.")}
        )
    if dataclasses.is_dataclass(current):
        raise UsageError(f"config key {full!r} is a group: set one of its fields ({full}.<name>)")
    return dataclasses.replace(cfg, **{head: _parse(value, _field_types(type(cfg))[head], full)})


def apply_overrides(cfg: Any, overrides: Iterable[str]) -> Any:
    """Apply ``key=value`` strings in order, then validate the result."""
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"override {item!r}: write it as key=value (e.g. optim.base_lr=2.0)")
        cfg = set_key(cfg, key.strip(), value.strip())
    validate(cfg)
    return cfg


def validate(cfg: Any) -> None:
    """Run ``validate()`` of every nested dataclass, innermost first."""
    for f in dataclasses.fields(cfg):
        val = getattr(cfg, f.name)
        if dataclasses.is_dataclass(val):
            validate(val)
    check = getattr(cfg, "validate", None)
    if callable(check):
        check()


def as_dict(cfg: Any) -> dict[str, Any]:
    """Flat {dotted key: value}, for printing and for the campaign manifest."""
    out: dict[str, Any] = {}
    for key in keys(cfg):
        val = cfg
        for part in key.split("."):
            val = getattr(val, part)
        out[key] = val
    return out
