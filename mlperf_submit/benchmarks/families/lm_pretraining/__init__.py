"""LLM pretraining on C4 as a base class: a benchmark of the family is a subclass with its
name, rounds, docs, presets and closed facts.

    benchmark.py  LMPretrainingBenchmark: decoder + C4 windows + AdamW/cosine, samples_count evals
    config.py     PretrainConfig (model, optim, data, loop) and ClosedLMRules + their check
    optim.py      AdamW whose matrices decay and whose norms/biases do not
    continued.py  ContinuedPretrainingBenchmark: start every run from a Hugging Face checkpoint
    moe.py        MoEPretraining: what a mixture-of-experts model adds (expert parallelism)
"""
