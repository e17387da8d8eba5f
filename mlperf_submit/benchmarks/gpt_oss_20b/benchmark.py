"""The MLPerf small-MoE pretraining benchmark: GPT-OSS 20B on C4 from scratch, validation
log-perplexity <= 3.34.

The LLM pretraining family with the GPT-OSS shape (``config.py``: a mixture of experts from
``decoder/moe.py``, q/k-normalised windowed GQA from ``decoder/qk_norm_attention.py``) and the
MoE additions (``lm_pretraining/moe.py``: expert parallelism, its 6.1 key). Rulesets 6.0.0 and
6.1.0 (6.1.0 default); 10 runs; progress unit samples_count; evaluation every 12,288 sequences
rounded up to the global batch on the first 1,024 validation sequences.

    mlperf-submit train gpt_oss_20b --preset tiny --seed 1 --log run.log --synthetic /tmp/syn
"""

from __future__ import annotations

from mlperf_submit.benchmarks.families.lm_pretraining.benchmark import LMPretrainingBenchmark
from mlperf_submit.benchmarks.families.lm_pretraining.moe import MoEPretraining
from mlperf_submit.benchmarks.gpt_oss_20b.config import CLOSED, PRESETS
from mlperf_submit.benchmarks.gpt_oss_20b.docs import DOCS


class GptOss20BBenchmark(MoEPretraining, LMPretrainingBenchmark):
    name = "gpt_oss_20b"
    rounds = ("6.0.0", "6.1.0")
    docs = DOCS
    presets = PRESETS
    closed_rules = CLOSED
