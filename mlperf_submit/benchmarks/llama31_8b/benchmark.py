"""The MLPerf LLM pretraining benchmark: Llama 3.1 8B on C4, validation log-perplexity <= 3.3.

Plugs the Llama model (``model.py``), the Megatron indexed C4 (``indexed.py``, ``data.py``) and
AdamW + cosine (``optim.py``) into the common Trainer (see ``common/interface.py`` for the call
order). Rulesets 5.1.0-6.1.0 (6.1.0 default); 10 runs; progress unit samples_count; evaluation
every 12,288 sequences rounded up to the global batch; the metric is the mean next-token
cross-entropy in nats over the first ``eval_samples`` validation sequences, reported as
``eval_accuracy`` (lower is better).

    mlperf-submit train llama31_8b --preset tiny --seed 1 --log run.log --synthetic /tmp/llama
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mlperf_submit.benchmarks.common.interface import Benchmark, Block, DataSplits, RunContext
from mlperf_submit.benchmarks.common.precision import make_precision
from mlperf_submit.benchmarks.llama31_8b import synthetic
from mlperf_submit.benchmarks.llama31_8b.config import PRESETS, LlamaConfig
from mlperf_submit.benchmarks.llama31_8b.data import LlamaData
from mlperf_submit.benchmarks.llama31_8b.model import Llama, next_token_loss
from mlperf_submit.benchmarks.llama31_8b.optim import WarmupCosineLR, build_adamw
from mlperf_submit.errors import InputError, UsageError
from mlperf_submit.launch.distributed.seeding import derive_seed
from mlperf_submit.logging import attr_values, optimizer_name, optimizer_values

DECAY_SCHEDULE = "cosine with linear warmup"
# The MLPerf lowest_numerical_precision_* vocabulary for each autocast setting.
PRECISION_NAMES = {"fp32": "fp32", "bf16": "bfloat16", "fp16": "fp16"}
CONFIG_MODULE = "mlperf_submit/benchmarks/llama31_8b/config.py"


class LlamaBenchmark(Benchmark):
    name = "llama31_8b"
    default_ruleset = "6.1.0"
    progress_unit = "samples_count"
    target = 3.3
    higher_is_better = False
    config_class = LlamaConfig
    presets = PRESETS

    cfg: LlamaConfig

    def __init__(self, cfg: LlamaConfig, ctx: RunContext) -> None:
        super().__init__(cfg, ctx)
        self.target = cfg.target  # the preset's own target (tiny: < 1.0, the open bound)
        gbs = cfg.data.global_batch_size
        if gbs % ctx.world_size:
            raise UsageError(
                f"data.global_batch_size={gbs} does not split over {ctx.world_size} ranks: use a "
                f"multiple of {ctx.world_size}"
            )
        self.local_batch = gbs // ctx.world_size

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

    def prepare_synthetic(self, root: Path) -> Path:
        """Write (or reuse) the dataset under ``root/<spec digest>``; returns that directory."""
        if Path(root).exists() and not Path(root).is_dir():
            raise UsageError(f"--synthetic {root}: not a directory")
        spec = self.synthetic_spec()
        out = self.synthetic_dir(root)
        info = synthetic.read_manifest(out)
        if info is not None and info.get("spec") == json.loads(json.dumps(asdict(spec))):
            return out
        if info is not None:
            raise UsageError(
                f"{out / synthetic.MANIFEST}: this directory holds another synthetic dataset; "
                "remove it or choose another --synthetic root"
            )
        # No manifest: nothing finished here yet, only our own leftovers can be present.
        try:
            synthetic.write_synthetic_dataset(out, spec, force=True)
        except OSError as err:
            raise UsageError(f"{out}: cannot write the synthetic dataset ({err})") from None
        return out

    def synthetic_dir(self, root: Path) -> Path:
        spec = json.dumps(asdict(self.synthetic_spec()), sort_keys=True)
        return Path(root) / f"llama31_8b-synthetic-{hashlib.sha256(spec.encode()).hexdigest()[:12]}"

    def dataset_dir(self) -> Path:
        """Where build_data reads: ``--data`` itself, or the prepared synthetic sub-directory."""
        root = Path(self.ctx.data_dir)
        if not self.ctx.synthetic or _is_dataset(root):
            return root
        out = self.synthetic_dir(root)
        if synthetic.read_manifest(out) is None:
            raise InputError(
                f"{out}: the synthetic dataset was not prepared before the run "
                "(prepare_synthetic runs before init_start; generating now would time it)"
            )
        return out

    def check_data_dir(self, root: Path) -> None:
        train_prefixes(root)
        validation_prefix(root)

    # -- init --------------------------------------------------------------------------------
    def model_device(self) -> torch.device:
        """The meta device for --log-only (no storage: the 8B init section is checked on a
        machine that cannot hold 32 GB of fp32 weights), else the run's device."""
        return torch.device("meta") if self.ctx.log_only else self.ctx.device

    def build_model(self) -> nn.Module:
        with self.model_device():
            return Llama(self.cfg.model, checkpoint_blocks=self.cfg.activation_checkpointing)

    def build_optimizer(self, model: nn.Module):
        o = self.cfg.optim
        opt = build_adamw(model, o, self.model_device(), fused=self.cfg.loop.fused_optimizer)
        sched = WarmupCosineLR(
            opt, warmup_steps=o.warmup_steps, max_steps=o.max_steps, end_lr=o.end_lr
        )
        return opt, sched

    def hyperparameters(self, optimizer, scheduler) -> dict[str, Any]:
        name = optimizer_name(optimizer)
        if name == "adam" and getattr(optimizer, "adam_w_mode", False):
            name = "adamw"  # apex FusedAdam(adam_w_mode=True) is AdamW
        opt = optimizer_values(
            optimizer,
            {
                "opt_base_learning_rate": "base_lr",
                "opt_adamw_beta_1": ("betas", 0),
                "opt_adamw_beta_2": ("betas", 1),
                "opt_adamw_epsilon": "eps",
                "opt_adamw_weight_decay": "weight_decay",
                "opt_gradient_clip_norm": "max_grad_norm",
            },
            group=0,  # group 0 holds the matrices: its weight decay is the hyperparameter
        )
        sched = attr_values(
            scheduler,
            {
                "opt_end_learning_rate": "end_lr",
                "opt_learning_rate_warmup_steps": "warmup_steps",
                "opt_learning_rate_decay_steps": "decay_steps",
                "max_steps": "max_steps",
            },
        )
        precision = PRECISION_NAMES[make_precision(self.cfg.loop.precision, self.ctx.device).name]
        return {
            "opt_name": name,
            **opt,
            **sched,
            "opt_learning_rate_decay_schedule": DECAY_SCHEDULE,
            "max_sequence_length": self.cfg.data.seq_len,
            # Autocast runs matmuls and attention in this dtype; gradients are reduced in the
            # dtype of the fp32 master weights (DDP and FSDP2 without a reduce_dtype).
            "lowest_numerical_precision_in_linear": precision,
            "lowest_numerical_precision_in_attn": precision,
            "lowest_numerical_precision_in_comm": "fp32",
            # Data parallelism only (DDP or FSDP2 sharding): no TP/PP/CP/EP here.
            "tensor_parallelism": 1,
            "pipeline_parallelism": 1,
            "context_parallelism": 1,
            "expert_parallelism": 1,
            # One forward/backward's sequences per rank: the step batch over the accumulation.
            "micro_batch_size": self.local_batch // self.gradient_accumulation_steps(),
            "config_filename": f"{CONFIG_MODULE}:{self.cfg.preset}",
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
        root = self.dataset_dir()
        return LlamaData(
            train_prefixes(root),
            validation_prefix(root),
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
        return next_token_loss(model(inputs), labels), inputs.shape[0]

    def eval_sums(self, model: nn.Module, batch) -> torch.Tensor:
        inputs, labels = self._split(batch)
        logits = model(inputs).float()
        nll = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), reduction="sum")
        return torch.stack(
            [
                nll.double(),
                torch.tensor(float(labels.numel()), dtype=torch.float64, device=nll.device),
            ]
        )

    def metric(self, sums: torch.Tensor) -> float:
        """Validation log-perplexity: mean nats per predicted token."""
        nll, tokens = float(sums[0]), float(sums[1])
        return nll / tokens if tokens else float("inf")


def _is_dataset(root: Path) -> bool:
    return (root / f"{synthetic.VALIDATION_PREFIX}.idx").is_file()


def train_prefixes(root: Path) -> list[str]:
    """The training files of a C4 directory: every ``c4-train.en_<k>_text_document``, in k order
    (the reference trains on the merged shards 6 and 7; a synthetic directory has shard 6)."""
    found = sorted(
        root.glob("c4-train.en_*_text_document.idx"),
        key=lambda p: (len(p.name), p.name),
    )
    if not found:
        raise InputError(
            f"{root}: no c4-train.en_<k>_text_document.idx/.bin (the MLPerf C4 preprocessing "
            "output); pass --data <its directory> or --synthetic DIR"
        )
    return [str(p.with_suffix("")) for p in found]


def validation_prefix(root: Path) -> str:
    prefix = root / synthetic.VALIDATION_PREFIX
    if not Path(f"{prefix}.idx").is_file():
        raise InputError(
            f"{root}: no {synthetic.VALIDATION_PREFIX}.idx/.bin (the MLPerf C4 validation set)"
        )
    return str(prefix)
