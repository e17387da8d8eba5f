"""Loss-curve regression for the ``tiny`` preset: catches silent numerical changes.

20 fine-tuning steps of the tiny preset (seed fixed, one thread, the target out of reach so
every step runs: two evaluations, at 128 and 160 sequences) from the synthetic pretrained
base; the per-step training losses and both evaluations must match
``assets/tiny_loss_curve.json``. The base model itself comes out of 120 pretraining steps in
the data generation, so the tolerance (1 %) is wider than a from-scratch curve's: it allows
another CPU's last-bit differences carried through the pretraining, not a changed model, data
order, adapter init or schedule.

After an intended change, regenerate (and commit) the file:

    .venv/bin/python tests/benchmarks/llama2_70b_lora/test_lora_loss_curve.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import pytest
import torch

ASSET = Path(__file__).resolve().parent / "assets" / "tiny_loss_curve.json"
SEED = 1234
OVERRIDES = ["target=0.01", "optim.max_steps=20", "loop.threads=1"]


def run_curve(data_root: Path, log_dir: Path) -> dict:
    from mlperf_submit.benchmarks.common.config import apply_overrides
    from mlperf_submit.benchmarks.common.interface import RunContext
    from mlperf_submit.benchmarks.common.trainer import Trainer
    from mlperf_submit.benchmarks.llama2_70b_lora.benchmark import Llama2LoRABenchmark
    from mlperf_submit.benchmarks.llama2_70b_lora.config import tiny
    from mlperf_submit.logging import MLPerfLogger

    cfg = apply_overrides(tiny(), OVERRIDES)
    ctx = RunContext(seed=SEED, data_dir=data_root, synthetic=True, division="open",
                     ruleset="6.1.0")  # fmt: skip
    logger = MLPerfLogger("llama2_70b_lora", "6.1.0", "open", str(log_dir / "curve.log"),
                          check="strict", echo=False)  # fmt: skip
    threads = torch.get_num_threads()
    try:
        result = Trainer(Llama2LoRABenchmark(cfg, ctx), logger).train()
    finally:
        torch.set_num_threads(threads)
    return {
        "seed": SEED,
        "overrides": OVERRIDES,
        "losses": result.losses,
        "evals": [list(e) for e in result.evals],
    }


def test_tiny_loss_curve_matches_the_recorded_one(tmp_path, lora_root):
    want = json.loads(ASSET.read_text())
    got = run_curve(lora_root, tmp_path)
    assert got["overrides"] == want["overrides"] and got["seed"] == want["seed"]
    assert len(got["losses"]) == len(want["losses"]) == 20
    assert got["losses"] == pytest.approx(want["losses"], rel=1e-2, abs=1e-3)
    assert [e[0] for e in got["evals"]] == [e[0] for e in want["evals"]] == [128, 160]
    assert [e[1] for e in got["evals"]] == pytest.approx([e[1] for e in want["evals"]], rel=1e-2)
    # The curve itself: the base's loss on the packed rows, then below the tiny target.
    assert got["losses"][0] > 1.0 and got["evals"][-1][1] < 0.6


def _regenerate() -> None:
    from mlperf_submit.benchmarks.common.interface import RunContext
    from mlperf_submit.benchmarks.llama2_70b_lora.benchmark import Llama2LoRABenchmark
    from mlperf_submit.benchmarks.llama2_70b_lora.config import tiny

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "data"
        Llama2LoRABenchmark(tiny(), RunContext(seed=0)).prepare_synthetic(root)
        curve = run_curve(root, Path(tmp))
    ASSET.parent.mkdir(exist_ok=True)
    ASSET.write_text(json.dumps(curve, indent=1) + "\n")
    print(f"wrote {ASSET}: final eval {curve['evals'][-1][1]:.4f}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
    _regenerate()
