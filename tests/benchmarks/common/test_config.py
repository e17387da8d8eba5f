"""Typed configs: dotted overrides parsed by field type, fix-it messages, validation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pytest

from mlperf_submit.benchmarks.common.config import (
    LoopConfig,
    apply_overrides,
    as_dict,
    keys,
)
from mlperf_submit.errors import UsageError


@dataclass
class Inner:
    lr: float = 0.1
    steps: int = 10
    name: Literal["lars", "sgd"] = "lars"
    layers: tuple[int, ...] = (3, 4)
    note: str | None = None

    def validate(self) -> None:
        if self.steps < 1:
            raise UsageError(f"inner.steps={self.steps}: use 1 or more")


@dataclass
class Outer:
    inner: Inner = field(default_factory=Inner)
    loop: LoopConfig = field(default_factory=LoopConfig)
    flag: bool = False


def test_overrides_parse_by_declared_type():
    cfg = apply_overrides(
        Outer(),
        [
            "inner.lr=2.5",
            "inner.steps=7",
            "inner.name=sgd",
            "inner.layers=1,2,3",
            "inner.note=hello",
            "flag=yes",
            "loop.precision=bf16",
        ],
    )
    assert cfg.inner == Inner(lr=2.5, steps=7, name="sgd", layers=(1, 2, 3), note="hello")
    assert cfg.flag is True and cfg.loop.precision == "bf16"
    assert apply_overrides(cfg, ["inner.note=none"]).inner.note is None
    assert Outer().inner.lr == 0.1  # the preset object is not modified


def test_keys_and_flat_dict():
    assert "inner.layers" in keys(Outer()) and "loop.max_minutes" in keys(Outer())
    assert as_dict(Outer())["inner.name"] == "lars"


@pytest.mark.parametrize(
    "override, message",
    [
        ("inner.lrr=1", "did you mean inner.lr"),
        ("inner=1", "is a group"),
        ("inner.steps=abc", "expected int"),
        ("inner.name=adam", "choose one of lars, sgd"),
        ("flag=maybe", "expected bool"),
        ("no_equals_sign", "write it as key=value"),
        ("inner.steps=0", "use 1 or more"),
        ("loop.warmup_steps=-1", "use 0 or more"),
        ("flag.x=1", "has no sub-keys"),
    ],
)
def test_bad_overrides_say_how_to_fix(override, message):
    with pytest.raises(UsageError, match=message):
        apply_overrides(Outer(), [override])


def test_list_keys_needs_no_log_but_a_run_does(capsys):
    """`train BM --list-keys` prints the config keys; only a run needs --log."""
    from mlperf_submit.cli import main

    assert main(["train", "llama31_8b", "--list-keys"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "model.dim=64" in out and all("=" in line for line in out)
    assert main(["train", "llama31_8b", "--synthetic", "/nonexistent"]) == 2
    assert "--log FILE is required" in capsys.readouterr().err
