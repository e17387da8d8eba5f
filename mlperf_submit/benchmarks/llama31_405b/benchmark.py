"""The MLPerf LLM pretraining benchmark Llama 3.1 405B: continued pretraining on C4 from the
Llama 3.1 405B checkpoint, validation log-perplexity <= 5.6.

The LLM pretraining family (``families/lm_pretraining``, continued from a checkpoint:
``continued.py``) with the 405B shape, its presets and its closed facts (``config.py``: the
learning rate, warm-up and schedule length are functions of the global batch size). Rulesets
5.0.0-6.0.0 (6.0.0 default); 3 runs; progress unit samples_count; evaluation every 46,080
sequences rounded up to the global batch, on the first 5,760 validation sequences.

    mlperf-submit train llama31_405b --preset tiny --seed 1 --log run.log --synthetic /tmp/syn
"""

from __future__ import annotations

from mlperf_submit.benchmarks.families.decoder.hf_names import (
    export_llama,
    hf_llama_config,
    llama_sources,
)
from mlperf_submit.benchmarks.families.lm_pretraining.continued import (
    ContinuedPretrainingBenchmark,
)
from mlperf_submit.benchmarks.llama31_405b.config import (
    CLOSED,
    PRESETS,
    closed_schedule_problems,
)
from mlperf_submit.benchmarks.llama31_405b.docs import DOCS


class Llama31_405BBenchmark(ContinuedPretrainingBenchmark):  # noqa: N801 - the benchmark's name
    name = "llama31_405b"
    rounds = ("5.0.0", "5.1.0", "6.0.0")
    # The open files of 5.0.0 and 5.1.0 want epoch_num on eval_accuracy (their closed twins, and
    # 6.0.0, want samples_count), as llama31_8b's 5.1.0 open file does.
    open_rules_quirks = {
        "5.0.0": "'epoch_num' in v['metadata']",
        "5.1.0": "'epoch_num' in v['metadata']",
    }
    tiny_scale_rules = {
        "max_sequence_length": "v['value'] == 8192",
        "eval_samples": "v['value'] == 5760",
    }
    """Official open rules only a full-scale run meets: every round's open_llama31_405b.yaml
    fixes the sequence length and the 5,760 evaluated sequences (47M tokens), which no CPU tiny
    run can evaluate in seconds (tests/benchmarks/llm_contract.py)."""
    docs = DOCS
    presets = PRESETS
    closed_rules = CLOSED

    @classmethod
    def closed_problems(cls, cfg) -> list[str]:
        return super().closed_problems(cfg) + closed_schedule_problems(cfg)

    def checkpoint_sources(self, model):
        return llama_sources(self.cfg.model)

    def export_checkpoint(self, model):
        return export_llama(model, self.cfg.model), hf_llama_config(self.cfg.model)
