"""The MLPerf MoE pretraining benchmark: DeepSeek-V3 671B continued on C4 from a checkpoint,
validation log-perplexity <= 3.6.

The LLM pretraining family continued from a Hugging Face checkpoint (``continued.py``) with
multi-head latent attention (``decoder/mla.py``), DeepSeekMoE (``decoder/moe.py``: 1 shared +
256 routed experts, 8 active, sigmoid routing in 4 of 8 groups, the routing-bias update and the
per-sequence balancing loss), YaRN RoPE, and the MoE additions (``lm_pretraining/moe.py``).
Rulesets 6.0.0 and 6.1.0 (6.1.0 default); 3 runs; progress unit samples_count; evaluation after
every step from step floor(42 + 24576 / GBS) on, on the first 1,024 validation sequences.

    mlperf-submit train deepseekv3_671b --preset tiny --seed 1 --log run.log --synthetic /tmp/syn
"""

from __future__ import annotations

from collections.abc import Iterator

from mlperf_submit.benchmarks.common.interface import Block
from mlperf_submit.benchmarks.deepseekv3_671b.config import (
    CLOSED,
    PRESETS,
    DeepSeekPretrainConfig,
    closed_schedule_problems,
)
from mlperf_submit.benchmarks.deepseekv3_671b.docs import DOCS
from mlperf_submit.benchmarks.families.decoder.hf_names_deepseek import (
    export_deepseek,
    hf_deepseek_config,
    load_deepseek,
)
from mlperf_submit.benchmarks.families.lm_pretraining.continued import (
    ContinuedPretrainingBenchmark,
)
from mlperf_submit.benchmarks.families.lm_pretraining.moe import MoEPretraining


class DeepSeekV3_671BBenchmark(MoEPretraining, ContinuedPretrainingBenchmark):  # noqa: N801
    name = "deepseekv3_671b"
    rounds = ("6.0.0", "6.1.0")
    docs = DOCS
    presets = PRESETS
    closed_rules = CLOSED
    config_class = DeepSeekPretrainConfig
    tiny_scale_rules = {
        "global_batch_size": "v['value'] >= 15360",
        "max_sequence_length": "v['value'] == 4096",
        "eval_samples": "v['value'] == 1024",
    }
    """Official open rules only a full-scale run meets: open_deepseekv3_671b.yaml keeps the
    closed global batch (>= 15,360 sequences of 4,096 tokens per step) and evaluation set
    (tests/benchmarks/llm_contract.py)."""

    cfg: DeepSeekPretrainConfig

    @classmethod
    def closed_problems(cls, cfg) -> list[str]:
        return super().closed_problems(cfg) + closed_schedule_problems(cfg)

    def load_into(self, model, directory) -> None:
        load_deepseek(model, directory, self.cfg.model)

    def export_checkpoint(self, model):
        return export_deepseek(model, self.cfg.model), hf_deepseek_config(self.cfg.model)

    def blocks(self) -> Iterator[Block]:
        """The first evaluation after ``first_eval_steps`` steps (the reference's
        START_EVAL_AT_ITER), then every ``data.eval_every`` sequences (every step, closed)."""
        gbs, budget = self.cfg.data.global_batch_size, self.cfg.data.max_samples
        interval = self.cfg.data.eval_interval()
        first = self.cfg.first_eval_steps() * gbs or interval
        start, size = 0, first
        while start < budget:
            yield Block(start, size)
            start, size = start + size, interval
