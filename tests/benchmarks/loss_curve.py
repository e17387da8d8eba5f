"""Loss-curve regression for a benchmark's ``tiny`` preset: one harness, one asset per benchmark.

A ``LossCurve`` runs the tiny preset in this process with a fixed seed, fixed overrides (the
target out of reach, so every step runs; one thread) on the fixed synthetic data, and returns the
per-step training losses and the evaluations. Each benchmark's test compares that with its
committed ``assets/tiny_loss_curve.json`` at a tolerance that allows another CPU's last-bit
differences, not a changed model, data order or schedule. After an intended change, regenerate
the asset by running the test file as a script (it calls ``LossCurve.regenerate``).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch


@dataclass(frozen=True)
class LossCurve:
    benchmark: str
    """The registry name; the class and its ``tiny`` preset come from the registry."""
    asset: Path
    seed: int
    overrides: tuple[str, ...]
    check: str = "strict"
    """The logger's online rules check (``off`` where a tiny run's shape breaks a scale rule)."""
    ruleset: str = "6.1.0"

    def _benchmark_class(self):
        from mlperf_submit.benchmarks import registry

        return registry.get_benchmark(self.benchmark)

    def run(self, data_root: Path, log_dir: Path) -> dict:
        """The curve of one run on ``data_root`` (its log goes to ``log_dir``)."""
        from mlperf_submit.benchmarks.common.config import apply_overrides
        from mlperf_submit.benchmarks.common.interface import RunContext
        from mlperf_submit.benchmarks.common.trainer import Trainer
        from mlperf_submit.logging import MLPerfLogger

        cls = self._benchmark_class()
        cfg = apply_overrides(cls.presets["tiny"](), list(self.overrides))
        ctx = RunContext(seed=self.seed, data_dir=data_root, synthetic=True, division="open",
                         ruleset=self.ruleset)  # fmt: skip
        logger = MLPerfLogger(self.benchmark, self.ruleset, "open", str(log_dir / "curve.log"),
                              check=self.check, echo=False)  # fmt: skip
        threads = torch.get_num_threads()
        try:
            result = Trainer(cls(cfg, ctx), logger).train()
        finally:
            torch.set_num_threads(threads)
            logger.close()
        return {
            "seed": self.seed,
            "overrides": list(self.overrides),
            "losses": result.losses,
            "evals": [list(e) for e in result.evals],
        }

    def recorded(self) -> dict:
        return json.loads(self.asset.read_text())

    def regenerate(self) -> None:
        """Write the asset from a fresh run on freshly generated synthetic data."""
        from mlperf_submit.benchmarks.common.interface import RunContext

        cls = self._benchmark_class()
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / "data"
            cls(cls.presets["tiny"](), RunContext(seed=0)).prepare_synthetic(root)
            curve = self.run(root, Path(tmp))
        self.asset.parent.mkdir(exist_ok=True)
        self.asset.write_text(json.dumps(curve, indent=1) + "\n")
        print(f"wrote {self.asset}: final eval {curve['evals'][-1][1]:.4f}")
