"""The one training loop every benchmark uses.

A benchmark implements :class:`Benchmark` (``interface.py``: model, optimizer + schedule,
data, loss, eval sums -> metric, blocks, hyperparameters read back from the objects) with a
config dataclass that has a ``loop: LoopConfig`` field and named presets (``config.py``); the
:class:`Trainer` (``trainer.py``) does init / run / blocks / evals / stop and all MLPerf
logging through ``mlperf_submit.logging``. ``mlperf-submit train <bm>`` wires them together
(``benchmarks/command.py``). Torch is imported by the submodules, not here.
"""

__all__ = ["config", "ddp", "interface", "optim", "precision", "trainer"]
