"""Run configuration of an LLM pretraining benchmark (decoder on C4, AdamW + cosine).

Each benchmark of the family (llama31_8b, llama31_405b, gpt_oss_20b, deepseekv3_671b) builds
its presets from these dataclasses and states its closed-division facts once, as a
:class:`ClosedLMRules`; :func:`closed_lm_problems` compares a config with them. Override any
field with dotted keys: ``optim.base_lr=8e-4 data.global_batch_size=64
model.attention.n_kv_heads=4``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from mlperf_submit.benchmarks.common.config import LoopConfig
from mlperf_submit.benchmarks.families.decoder.config import DecoderConfig
from mlperf_submit.errors import UsageError


@dataclass
class OptimConfig:
    """AdamW with a linear warm-up then a cosine decay from base_lr to end_lr."""

    base_lr: float = 8e-4
    end_lr: float = 8e-5
    """The LR at max_steps."""
    warmup_steps: int = 128
    """Linear warm-up from 0 over this many optimizer steps."""
    max_steps: int = 1_200_000
    """Length of the LR schedule; the cosine spans max_steps - warmup_steps. Not the training
    budget: that is data.max_samples."""
    beta1: float = 0.9
    beta2: float = 0.95
    eps: float = 1e-5
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    """Clip the global gradient L2 norm to this (0 = no clipping)."""

    def validate(self) -> None:
        if not 0 <= self.end_lr <= self.base_lr or self.base_lr <= 0:
            raise UsageError("optim: need base_lr > 0 and 0 <= end_lr <= base_lr")
        if not 0 <= self.warmup_steps < self.max_steps:
            raise UsageError(
                f"optim.warmup_steps={self.warmup_steps} must be in [0, optim.max_steps="
                f"{self.max_steps})"
            )
        if not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1) or self.eps <= 0:
            raise UsageError("optim: betas must be in [0, 1) and eps > 0")
        if self.weight_decay < 0 or self.grad_clip < 0:
            raise UsageError("optim.weight_decay and optim.grad_clip must be >= 0")


@dataclass
class DataConfig:
    seq_len: int = 8192
    """Tokens the model reads per sample (logged as max_sequence_length)."""
    global_batch_size: int = 32
    """Sequences per optimizer step over all ranks (each rank gets global / ranks)."""
    eval_samples: int = 1024
    """Validation sequences per evaluation (the first ones of the validation file)."""
    eval_every: int = 12_288
    """Evaluate after this many training sequences, rounded up to a multiple of the global
    batch."""
    eval_batch_size: int = 4
    """Validation sequences per forward pass and rank."""
    max_samples: int = 40 * 12_288
    """Budget: the run stops (status aborted) after this many training sequences."""
    synthetic_train_tokens: int = 50_000_000
    """--synthetic: training tokens to generate (the stream wraps into new epochs if short)."""
    synthetic_p_top: float = 0.9
    """--synthetic: probability of each token's likely successor (megatron_c4/synthetic.py)."""
    synthetic_branching: int = 4
    synthetic_min_doc_len: int = 64
    synthetic_max_doc_len: int = 512
    synthetic_seed: int = 20250101
    """The synthetic chain's own seed: every run of a campaign sees the same data."""

    def validate(self) -> None:
        for name in (
            "seq_len",
            "global_batch_size",
            "eval_samples",
            "eval_every",
            "eval_batch_size",
            "max_samples",
            "synthetic_train_tokens",
        ):
            if getattr(self, name) < 1:
                raise UsageError(f"data.{name} must be >= 1")

    def eval_interval(self) -> int:
        """Training sequences between evaluations: eval_every rounded up to a global batch."""
        gbs = self.global_batch_size
        return math.ceil(self.eval_every / gbs) * gbs


@dataclass
class PretrainConfig:
    target: float | None = None
    """Stop when validation log-perplexity <= target; None = the closed target of the run's
    ruleset (closed_<benchmark>.yaml)."""
    model: DecoderConfig = field(default_factory=DecoderConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    data: DataConfig = field(default_factory=DataConfig)
    activation_checkpointing: bool = False
    """Recompute each block's activations in the backward pass (memory for compute)."""
    loop: LoopConfig = field(default_factory=LoopConfig)

    def validate(self) -> None:
        if self.data.seq_len > self.model.max_seq_len:
            raise UsageError(
                f"data.seq_len={self.data.seq_len} exceeds model.max_seq_len="
                f"{self.model.max_seq_len}: raise model.max_seq_len or shorten the samples"
            )
        if self.target is not None and self.target <= 0:
            raise UsageError(f"target={self.target}: a log-perplexity target must be > 0")


@dataclass(frozen=True)
class ClosedLMRules:
    """The closed-division facts of one LLM pretraining benchmark (its closed YAML + rules)."""

    model: DecoderConfig
    """The reference shape (max_seq_len aside)."""
    seq_len: int
    eval_samples: int
    eval_every: int
    max_steps: int | None
    """The schedule length the rules fix (None: the rules leave it free)."""
    beta1: float = 0.9
    beta2: float = 0.95
    eps: float = 1e-5
    weight_decay: float = 0.1
    grad_clip: float = 1.0


def closed_lm_problems(cfg: PretrainConfig, rules: ClosedLMRules) -> list[str]:
    """What the closed rules would reject in ``cfg``, each naming the key and the value to use."""
    o, d = cfg.optim, cfg.data
    want = {
        "optim.beta1": (o.beta1, rules.beta1),
        "optim.beta2": (o.beta2, rules.beta2),
        "optim.eps": (o.eps, rules.eps),
        "optim.weight_decay": (o.weight_decay, rules.weight_decay),
        "optim.grad_clip": (o.grad_clip, rules.grad_clip),
        "data.seq_len": (d.seq_len, rules.seq_len),
        "data.eval_samples": (d.eval_samples, rules.eval_samples),
        "data.eval_every": (d.eval_every, rules.eval_every),
    }
    if rules.max_steps is not None:
        want["optim.max_steps"] = (o.max_steps, rules.max_steps)
    out = [
        f"{k}={have}: closed requires {need}" for k, (have, need) in want.items() if have != need
    ]
    if replace(cfg.model, max_seq_len=rules.model.max_seq_len) != rules.model:
        out.append("model: closed division requires the reference shape (the model.* defaults)")
    return out
