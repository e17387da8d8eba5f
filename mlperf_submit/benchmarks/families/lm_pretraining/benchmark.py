"""The LLM pretraining benchmark as a base class: a decoder on Megatron C4, AdamW + cosine.

A benchmark of the family is a subclass that sets its name, rounds, docs, presets and closed
facts (``ClosedLMRules``); the model variant comes from its presets' ``DecoderConfig``::

    class Llama31_8B(LMPretrainingBenchmark):
        name = "llama31_8b"
        rounds = ("5.1.0", "6.0.0", "6.1.0")
        docs = DOCS
        presets = PRESETS
        closed_rules = CLOSED

Progress unit samples_count; evaluation every ``data.eval_every`` sequences rounded up to the
global batch; the metric is the mean next-token cross-entropy in nats over the first
``eval_samples`` validation sequences, reported as ``eval_accuracy`` (lower is better). A model
whose parts keep an ``aux_loss`` (a router's balancing loss) adds it to the training loss, never
to the evaluation metric.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from mlperf_submit.benchmarks.common.interface import Benchmark, Block, DataSplits, RunContext
from mlperf_submit.benchmarks.common.optim import WarmupCosineLR
from mlperf_submit.benchmarks.common.synthetic_data import SyntheticData
from mlperf_submit.benchmarks.families.decoder.model import Decoder, next_token_loss
from mlperf_submit.benchmarks.families.lm_pretraining.config import (
    ClosedLMRules,
    PretrainConfig,
    closed_lm_problems,
)
from mlperf_submit.benchmarks.families.lm_pretraining.optim import build_adamw
from mlperf_submit.benchmarks.families.megatron_c4 import files, synthetic
from mlperf_submit.benchmarks.families.megatron_c4.windows import C4Splits
from mlperf_submit.launch.distributed.parallel import unwrap
from mlperf_submit.launch.distributed.seeding import derive_seed
from mlperf_submit.logging import adamw_values, attr_values

DECAY_SCHEDULE = "cosine with linear warmup"


class LMPretrainingBenchmark(Benchmark):
    progress_unit = "samples_count"
    higher_is_better = False
    metric_label = "log-perplexity"
    config_class = PretrainConfig
    config_hyperparameters = frozenset({"max_sequence_length"})
    closed_rules: ClassVar[ClosedLMRules]
    """The closed-division facts (reference shape, sequence length, eval schedule, AdamW)."""

    cfg: PretrainConfig

    def __init__(self, cfg: PretrainConfig, ctx: RunContext) -> None:
        super().__init__(cfg, ctx)
        self.local_batch = self.per_rank_batch(cfg.data.global_batch_size)
        self._loss_fn = next_token_loss  # compiled by compile_loss under loop.compile

    @classmethod
    def closed_problems(cls, cfg: PretrainConfig) -> list[str]:
        return super().closed_problems(cfg) + closed_lm_problems(cfg, cls.closed_rules)

    # -- before init -----------------------------------------------------------------------
    def synthetic_spec(self) -> synthetic.SyntheticSpec:
        d, m = self.cfg.data, self.cfg.model
        process = synthetic.TokenProcess(
            vocab_size=m.vocab_size,
            branching=d.synthetic_branching,
            p_top=d.synthetic_p_top,
            min_doc_len=d.synthetic_min_doc_len,
            max_doc_len=d.synthetic_max_doc_len,
            process_seed=d.synthetic_seed,
        )
        # Validation: the evaluated windows plus one document of slack for the last label.
        val_tokens = d.eval_samples * d.seq_len + 1 + d.synthetic_max_doc_len
        return synthetic.SyntheticSpec(process, d.synthetic_train_tokens, val_tokens)

    def synthetic_data(self, root: Path) -> SyntheticData:
        return synthetic.synthetic_data(root, self.name, self.synthetic_spec())

    def check_data_dir(self, root: Path) -> None:
        files.train_prefixes(root)
        files.validation_prefix(root)

    # -- init --------------------------------------------------------------------------------
    def model_device(self) -> torch.device:
        """The meta device for --log-only (no storage: the 8B init section is checked on a
        machine that cannot hold 32 GB of fp32 weights), else the run's device."""
        return torch.device("meta") if self.ctx.log_only else self.ctx.device

    def build_model(self) -> nn.Module:
        with self.model_device():
            return Decoder(self.cfg.model, checkpoint_blocks=self.cfg.activation_checkpointing)

    def compile_loss(self, compile_fn) -> None:
        # logits.float() + cross-entropy fused: the fp32 copy of the logits is never stored.
        self._loss_fn = compile_fn(next_token_loss)

    def build_optimizer(self, model: nn.Module):
        o = self.cfg.optim
        opt = build_adamw(model, o, self.model_device(), fused=self.cfg.loop.fused_optimizer)
        sched = WarmupCosineLR(
            opt, warmup_steps=o.warmup_steps, max_steps=o.max_steps, end_lr=o.end_lr
        )
        return opt, sched

    def hyperparameters(self, optimizer, scheduler) -> dict[str, Any]:
        # group 0 holds the matrices: its weight decay is the hyperparameter
        opt = adamw_values(optimizer, group=0)
        sched = attr_values(
            scheduler,
            {
                "opt_end_learning_rate": "end_lr",
                "opt_learning_rate_warmup_steps": "warmup_steps",
                "opt_learning_rate_decay_steps": "decay_steps",
                "max_steps": "max_steps",
            },
        )
        return {
            **opt,
            **sched,
            "opt_learning_rate_decay_schedule": DECAY_SCHEDULE,
            "max_sequence_length": self.cfg.data.seq_len,
        }

    def global_batch_size(self) -> int:
        return self.cfg.data.global_batch_size

    def warmup_batch(self) -> Any:
        g = torch.Generator().manual_seed(0)
        shape = (self.local_batch, self.cfg.data.seq_len + 1)
        return torch.randint(0, self.cfg.model.vocab_size, shape, generator=g)

    def eval_warmup_batch(self) -> Any:
        g = torch.Generator().manual_seed(1)
        shape = (self.cfg.data.eval_batch_size, self.cfg.data.seq_len + 1)
        return torch.randint(0, self.cfg.model.vocab_size, shape, generator=g)

    # -- run ---------------------------------------------------------------------------------
    def build_data(self) -> DataSplits:
        d, ctx = self.cfg.data, self.ctx
        root = self.data_root()
        return C4Splits(
            files.train_prefixes(root),
            files.validation_prefix(root),
            seq_len=d.seq_len,
            vocab_size=self.cfg.model.vocab_size,
            global_batch=d.global_batch_size,
            eval_samples=d.eval_samples,
            eval_batch=d.eval_batch_size,
            # The sample order must be the same on every rank: a rank-free seed.
            seed=derive_seed(ctx.seed, 0, "data-order"),
            rank=ctx.rank,
            world=ctx.world_size,
        )

    def blocks(self) -> Iterator[Block]:
        interval, budget = self.cfg.data.eval_interval(), self.cfg.data.max_samples
        start = 0
        while start < budget:
            yield Block(start, interval)
            start += interval

    def _split(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        tokens = batch.to(self.ctx.device, non_blocking=True)
        return tokens[:, :-1], tokens[:, 1:]

    def loss(self, model: nn.Module, batch) -> tuple[torch.Tensor, int]:
        inputs, labels = self._split(batch)
        loss = self._loss_fn(model(inputs), labels)
        aux = getattr(unwrap(model), "aux_loss", None)
        extra = aux() if callable(aux) else None
        return (loss if extra is None else loss + extra), inputs.shape[0]

    def eval_sums(self, model: nn.Module, batch) -> torch.Tensor:
        inputs, labels = self._split(batch)
        logits = model(inputs).float()
        nll = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), reduction="sum")
        count = torch.tensor(float(labels.numel()), dtype=torch.float64, device=nll.device)
        return torch.stack([nll.double(), count])

    def metric(self, sums: torch.Tensor) -> float:
        """Validation log-perplexity: mean nats per predicted token."""
        nll, tokens = float(sums[0]), float(sums[1])
        return nll / tokens if tokens else float("inf")
