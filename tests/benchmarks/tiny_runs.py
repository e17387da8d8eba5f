"""One ``tiny`` run per benchmark, watched (the contract test and the benchmarks' own tests
share it through the session fixture ``tiny_runs`` of conftest.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from fs_watch import DirWatch

CONTRACT_SEED = 1
CONTRACT_ORG = "ContractOrg"


def records(log: Path) -> list[dict]:
    """The MLLOG records of a log, in order."""
    return [json.loads(ln.split(":::MLLOG ", 1)[1]) for ln in log.read_text().splitlines()]


@dataclass
class TinyRun:
    """One ``tiny`` run of a benchmark on its synthetic data, watched."""

    name: str
    ruleset: str
    log: Path
    data_dir: Path
    """The prepared synthetic dataset (the watched directory)."""
    result: object = None
    reads_before_build_data: list[str] = field(default_factory=list)
    reads_during_run: list[str] = field(default_factory=list)
    keys_at: dict[str, list[str]] = field(default_factory=dict)
    """Stage (method name) -> the keys logged when the Trainer called it."""

    @property
    def values(self) -> dict:
        return {r["key"]: r["value"] for r in records(self.log)}


class TinyRuns:
    """``tiny_runs.get(name)``: the benchmark's tiny run, made on first use."""

    STAGES = ("build_model", "build_optimizer", "prepare_pipeline", "warmup_batch", "build_data")

    def __init__(self, root: Path) -> None:
        self.root = root
        self.synthetic_root = root / "synthetic"
        self._runs: dict[str, TinyRun] = {}

    def get(self, name: str) -> TinyRun:
        if name not in self._runs:
            self._runs[name] = self._run(name)
        return self._runs[name]

    def _run(self, name: str) -> TinyRun:
        from mlperf_submit.benchmarks.common.config import apply_overrides
        from mlperf_submit.benchmarks.common.interface import RunContext
        from mlperf_submit.benchmarks.common.trainer import SubmissionInfo, Trainer
        from mlperf_submit.benchmarks.registry import get_benchmark
        from mlperf_submit.logging import MLPerfLogger

        cls = get_benchmark(name)
        rs = cls.default_ruleset()
        # One warm-up step: the run boundary test then covers warm-up inside init too.
        cfg = apply_overrides(cls.presets["tiny"](), ["loop.warmup_steps=1"])
        ctx = RunContext(
            seed=CONTRACT_SEED, data_dir=self.synthetic_root, synthetic=True, division="open",
            ruleset=rs, preset="tiny",
        )  # fmt: skip
        bm = cls(cfg, ctx)
        data_dir = bm.prepare_synthetic(self.synthetic_root)
        log = self.root / f"{name}.log"
        # A benchmark whose open rules fix full-scale values logs what its tiny run does and
        # gets warnings for those rules (tiny_scale_rules), never a stop.
        check = "warn" if cls.tiny_scale_rules else "strict"
        logger = MLPerfLogger(name, rs, "open", str(log), check=check, echo=False)
        run = TinyRun(name, rs, log, data_dir)
        trainer = Trainer(bm, logger, submission=SubmissionInfo(org=CONTRACT_ORG, platform="1xCPU"))
        with DirWatch(data_dir) as watch:
            for stage in self.STAGES:
                real = getattr(bm, stage)

                def spy(*a, _real=real, _stage=stage, **kw):
                    run.keys_at[_stage] = [r["key"] for r in records(log)] if log.exists() else []
                    if _stage == "build_data":
                        run.reads_before_build_data = watch.drain()
                    return _real(*a, **kw)

                setattr(bm, stage, spy)
            run.result = trainer.train()
            run.reads_during_run = watch.drain()
        return run
