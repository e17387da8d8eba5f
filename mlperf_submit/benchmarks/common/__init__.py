"""The one training loop every benchmark uses, and what benchmarks share besides models.

    interface.py       the Benchmark contract: what a benchmark supplies and says about itself
    trainer.py         the Trainer: init / run / blocks / evals / stop, all MLPerf logging
    config.py          LoopConfig, typed dataclass configs, presets, dotted key=value overrides
    precision.py       autocast + grad scaler, and the precision in effect (MLPerf names)
    optim.py           optimizer factories (apex or torch, by device and parameter type),
                       warm-up + cosine, clipping
    throughput.py      datasheet GPU peaks, and the per-GPU throughput published results imply
    docs.py            BenchmarkDoc: the submission README's text about a benchmark
    synthetic_data.py  where a benchmark's synthetic dataset lives and how it is reused
    dali.py            NVIDIA DALI imported on demand, with the error that names the fall-back

``mlperf-submit train <bm>`` wires a benchmark to the Trainer (``benchmarks/command.py``). Torch
is imported by the submodules, not here.
"""
