"""The benchmarks: a benchmark is its folder plus one line in ``registry.py``.

    registry.py   name -> Benchmark class (imported on lookup)
    command.py    ``mlperf-submit train``: one seeded run of one benchmark
    common/       the Trainer, the Benchmark interface, configs, optimizers, synthetic-data scheme
    families/     model and data families several benchmarks share (decoder, Megatron C4,
                  LLM pretraining, Hugging Face checkpoints)
    <name>/       one benchmark: benchmark.py (the class), config.py (presets), docs.py, and
                  what is its own (model, optim, data_*, synthetic, verify_data)

docs/adding-a-benchmark.md says how to add one; tests/benchmarks/test_contract.py checks each.
"""
