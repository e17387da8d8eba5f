"""The MLPerf LLM pretraining benchmark: Llama 3.1 8B on C4, validation log-perplexity <= 3.3.

The LLM pretraining family (``families/lm_pretraining``) with the Llama 3.1 8B shape, its
presets (``config.py``) and its closed facts. Rulesets 5.1.0-6.1.0 (6.1.0 default); 10 runs;
progress unit samples_count; evaluation every 12,288 sequences rounded up to the global batch on
the first 1,024 validation sequences.

    mlperf-submit train llama31_8b --preset tiny --seed 1 --log run.log --synthetic /tmp/llama
"""

from __future__ import annotations

from mlperf_submit.benchmarks.families.lm_pretraining.benchmark import LMPretrainingBenchmark
from mlperf_submit.benchmarks.llama31_8b.config import CLOSED, PRESETS
from mlperf_submit.benchmarks.llama31_8b.docs import DOCS


class Llama31_8BBenchmark(LMPretrainingBenchmark):  # noqa: N801 - the benchmark's name
    name = "llama31_8b"
    rounds = ("5.1.0", "6.0.0", "6.1.0")
    # 5.1.0's open_llama31_8b.yaml is a placeholder that wants epoch_num on eval_accuracy (its
    # closed file, and every later round, wants samples_count).
    open_rules_quirks = {"5.1.0": "'epoch_num' in v['metadata']"}
    docs = DOCS
    presets = PRESETS
    closed_rules = CLOSED
