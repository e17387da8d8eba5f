"""Run configuration and presets of llama2_70b_lora (LoRA fine-tuning of Llama 2 70B on GovReport).

The reference (mlcommons/training ``llama2_70b_lora``: transformers' Trainer + peft + DeepSpeed
ZeRO-3 on 8 GPUs) fine-tunes the fused-QKV Llama 2 70B checkpoint with::

    LoRA r 16, alpha 32, dropout 0.1 on "qkv_proj,o_proj"; AdamW (torch defaults: betas 0.9 /
    0.999, eps 1e-8), lr 4e-4, weight decay 1e-4, clip 0.3, cosine to 0 over max_steps 1024,
    warmup_ratio 0; 1 sequence of 8192 per GPU, bf16, gradient checkpointing; eval every
    384 sequences after skipping the first floor(0.125 * GBS + 2) evaluations; target 0.925.

    mlperf-submit train llama2_70b_lora --preset tiny --seed 1 --log run.log --synthetic /tmp/syn
        2 CPU cores: LoRA on a 2-layer d=64 decoder pretrained on a synthetic language (part of
        the data generation); see ``tiny``'s docstring for the measured result.
    torchrun --nproc-per-node 8 -m mlperf_submit train llama2_70b_lora \\
        --preset config_DGXH200_1x8x1 --data /data/scrolls_gov_report_8k \\
        checkpoint=/models/Llama2-70b-fused-qkv-mlperf --seed S --log run.log
        the closed configuration of one 8-GPU H200 node (FSDP2, bf16).

Override any field with dotted keys: ``optim.base_lr=5e-4 data.global_batch_size=16``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal

from mlperf_submit.benchmarks.common.config import LoopConfig
from mlperf_submit.benchmarks.families.decoder.config import DecoderConfig, GQAConfig, SwiGLUConfig
from mlperf_submit.errors import UsageError

# Llama 2 70B: 80 layers, d 8192, GQA 64:8, SwiGLU 28672, vocabulary 32000, RoPE theta 10000 with
# no scaling; the reference loads it with max_position_embeddings=8192 (trained at 4096, fine-
# tuned at 8192 without RoPE interpolation). The MLPerf checkpoint fuses q/k/v into qkv_proj.
LLAMA2_70B = DecoderConfig(
    vocab_size=32000,
    dim=8192,
    n_layers=80,
    attention=GQAConfig(n_heads=64, n_kv_heads=8, fused_qkv=True),
    ffn=SwiGLUConfig(hidden_dim=28672),
    max_seq_len=8192,
    norm_eps=1e-5,
    rope_theta=10000.0,
    rope_scaling=None,
)

REFERENCE_TARGETS = ("wqkv", "wo")
"""Our module names of the reference's ``--lora_target_modules "qkv_proj,o_proj"``."""


@dataclass
class LoRASettings:
    """The adapters (peft ``LoraConfig``) on the attention projections."""

    rank: int = 16
    """r: the inner dimension of each adapter (closed: 16, checked by the rule file)."""
    alpha: int = 32
    """lora_alpha: the adapter output is scaled by alpha / r (closed: 32)."""
    dropout: float = 0.1
    """Dropout on the adapter's input (closed: 0.1)."""
    target_modules: tuple[str, ...] = REFERENCE_TARGETS
    """Module names that get an adapter (peft matches name suffixes): ``wqkv`` is the fused
    ``qkv_proj``, ``wo`` the ``o_proj``."""

    def validate(self) -> None:
        if self.rank < 1 or self.alpha <= 0:
            raise UsageError("lora.rank must be >= 1 and lora.alpha > 0")
        if not 0.0 <= self.dropout < 1.0:
            raise UsageError(f"lora.dropout={self.dropout}: use a probability in [0, 1)")
        if not self.target_modules:
            raise UsageError("lora.target_modules is empty: name the modules to adapt (wqkv,wo)")


@dataclass
class OptimSettings:
    """AdamW on the adapters, transformers' cosine schedule (``optim.py``), clipping."""

    base_lr: float = 4e-4
    max_steps: int = 1024
    """The schedule's length (num_training_steps: the LR reaches 0 there) and the run's budget:
    the reference stops after max_steps optimizer steps."""
    warmup_ratio: float = 0.0
    """Linear warm-up over ceil(warmup_ratio * max_steps) steps."""
    weight_decay: float = 1e-4
    grad_clip: float = 0.3
    """Clip the adapters' global gradient L2 norm to this (0 = no clipping)."""
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    """transformers' ``adamw_torch`` uses torch.optim.AdamW's defaults."""

    def validate(self) -> None:
        if self.base_lr <= 0 or self.max_steps < 1:
            raise UsageError("optim: need base_lr > 0 and max_steps >= 1")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise UsageError(f"optim.warmup_ratio={self.warmup_ratio}: use a fraction in [0, 1)")
        if not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1) or self.eps <= 0:
            raise UsageError("optim: betas must be in [0, 1) and eps > 0")
        if self.weight_decay < 0 or self.grad_clip < 0:
            raise UsageError("optim.weight_decay and optim.grad_clip must be >= 0")


@dataclass
class DataSettings:
    seq_len: int = 8192
    """Tokens per packed row (logged as max_sequence_length)."""
    global_batch_size: int = 8
    """Sequences per optimizer step over all ranks."""
    eval_every: int = 384
    """Evaluate after this many training sequences, rounded up to a multiple of the global
    batch (the rules: CEIL(384 / GBS) steps)."""
    skip_evals: int | None = None
    """Evaluation points skipped at the start; None = the rules' FLOOR(0.125 * GBS + 2)."""
    eval_batch_size: int = 1
    """Validation rows per forward pass and rank."""
    synthetic_train_rows: int = 3901
    """--synthetic: packed training rows to write (the real set has 3,901)."""
    synthetic_validation_rows: int = 173
    """--synthetic: packed validation rows (the real set has 173)."""
    synthetic_pretrain_steps: int = 120
    """--synthetic: steps of pretraining of the tiny base model (data generation, not the
    run)."""

    def validate(self) -> None:
        for name in ("seq_len", "global_batch_size", "eval_every", "eval_batch_size",
                     "synthetic_train_rows", "synthetic_validation_rows"):  # fmt: skip
            if getattr(self, name) < 1:
                raise UsageError(f"data.{name} must be >= 1")
        if self.skip_evals is not None and self.skip_evals < 0:
            raise UsageError(f"data.skip_evals={self.skip_evals}: use 0 or more (or none)")

    def eval_interval(self) -> int:
        """Training sequences between evaluations: eval_every rounded up to a global batch."""
        gbs = self.global_batch_size
        return math.ceil(self.eval_every / gbs) * gbs

    def skipped_evals(self) -> int:
        """Evaluation points skipped before the first one is run and logged."""
        if self.skip_evals is not None:
            return self.skip_evals
        return math.floor(0.125 * self.global_batch_size + 2)


@dataclass
class LoRARunConfig:
    target: float | None = None
    """Stop when the evaluation loss <= target; None = the closed target (0.925)."""
    model: DecoderConfig = LLAMA2_70B
    lora: LoRASettings = field(default_factory=LoRASettings)
    optim: OptimSettings = field(default_factory=OptimSettings)
    data: DataSettings = field(default_factory=DataSettings)
    checkpoint: str = ""
    """The base model's Hugging Face checkpoint directory (the reference's --model_path, e.g.
    Llama2-70b-fused-qkv-mlperf). Empty: ``<--data>/model``; under --synthetic, the tiny
    pretrained base written with the synthetic data."""
    base_dtype: Literal["auto", "bf16", "fp32"] = "auto"
    """Storage dtype of the frozen base weights: auto = bf16 on a GPU (as the reference loads
    them), fp32 on CPU (where the loop runs without autocast). The adapters stay fp32."""
    activation_checkpointing: bool = True
    """Recompute each block's activations in the backward pass (the reference's gradient
    checkpointing)."""
    loop: LoopConfig = field(default_factory=LoopConfig)

    def validate(self) -> None:
        if self.data.seq_len > self.model.max_seq_len:
            raise UsageError(
                f"data.seq_len={self.data.seq_len} exceeds model.max_seq_len="
                f"{self.model.max_seq_len}: raise model.max_seq_len or shorten the rows"
            )
        if self.target is not None and self.target <= 0:
            raise UsageError(f"target={self.target}: a loss target must be > 0")


# The closed division: rule file (lora_rank == 16) + training_rules.adoc (fixed to the reference:
# clip 0.3, dropout 0.1, sequence 8192, alpha 32, weight decay 1e-4; free: batch, accumulation,
# LR, max_steps, warm-up) + what the reference fixes and the rules do not free (the model, its
# adapted modules, AdamW's betas/eps, the evaluation plan).
CLOSED_VALUES = {
    "lora.rank": 16,
    "lora.alpha": 32,
    "lora.dropout": 0.1,
    "lora.target_modules": REFERENCE_TARGETS,
    "optim.grad_clip": 0.3,
    "optim.weight_decay": 1e-4,
    "optim.beta1": 0.9,
    "optim.beta2": 0.999,
    "optim.eps": 1e-8,
    "data.seq_len": 8192,
    "data.eval_every": 384,
    "data.skip_evals": None,
}


def closed_problems(cfg: LoRARunConfig) -> list[str]:
    """What the closed rules would reject in ``cfg``, each naming the key and the value to use."""
    out = []
    for key, need in CLOSED_VALUES.items():
        group, name = key.split(".")
        have = getattr(getattr(cfg, group), name)
        if have != need:
            out.append(f"{key}={have}: closed requires {need}")
    if replace(cfg.model, max_seq_len=LLAMA2_70B.max_seq_len) != LLAMA2_70B:
        out.append("model: closed division requires the Llama 2 70B shape (the model.* defaults)")
    return out


def tiny() -> LoRARunConfig:
    """LoRA (r 16, alpha 32, on wqkv and wo) of a 2-layer d=64 decoder (GQA 4:2, fused QKV,
    vocab 64) pretrained on the synthetic language, 128-token rows, 2 CPU cores.

    ``mlperf-submit train llama2_70b_lora --preset tiny --seed 1 --log run.log --synthetic DIR``:
    the pretrained base's evaluation loss is ~2.6 (it has never seen the summary marker); the
    fine-tuned one is 0.49-0.57 (< 0.6) at the first evaluation (128 sequences = 16 steps of 8:
    the rules' 3 skipped points at every 32), so every run stops there; 1.4-4.5 s of run time
    (run_start to run_stop) on 2 CPU cores shared with other jobs (load average 6-10), seeds
    1-12 and 10 campaign seeds. The data generation pretrains the base in ~7 s of CPU time.
    The log passes the official checker for llama2_70b_lora 6.0.0 and 6.1.0, division open
    (5.0.0 and 5.1.0: only their open file's epoch_num rule fails, see benchmark.py).
    """
    return LoRARunConfig(
        target=0.6,
        model=DecoderConfig(
            vocab_size=64,
            dim=64,
            n_layers=2,
            attention=GQAConfig(n_heads=4, n_kv_heads=2, fused_qkv=True),
            ffn=SwiGLUConfig(hidden_dim=128),
            max_seq_len=128,
            rope_theta=10000.0,
            rope_scaling=None,
        ),
        optim=OptimSettings(base_lr=4e-3, max_steps=64),
        data=DataSettings(
            seq_len=128,
            global_batch_size=8,
            eval_every=32,
            eval_batch_size=32,
            synthetic_train_rows=256,
            synthetic_validation_rows=32,
        ),
        activation_checkpointing=False,
        loop=LoopConfig(device="cpu", threads=1),
    )


def small() -> LoRARunConfig:
    """The CPU throughput shape: 4 layers, d=1024, GQA 16:4 fused, FFN 3584, vocab 8192, rows
    of 256, LoRA r 16 on wqkv and wo; ``python bench/llama2_70b_lora_mfu.py`` times its step."""
    return LoRARunConfig(
        target=0.6,
        model=DecoderConfig(
            vocab_size=8192,
            dim=1024,
            n_layers=4,
            attention=GQAConfig(n_heads=16, n_kv_heads=4, fused_qkv=True),
            ffn=SwiGLUConfig(hidden_dim=3584),
            max_seq_len=256,
            rope_theta=10000.0,
            rope_scaling=None,
        ),
        optim=OptimSettings(base_lr=1e-3, max_steps=200),
        data=DataSettings(seq_len=256, global_batch_size=4, eval_every=64, eval_batch_size=8),
        activation_checkpointing=False,
        loop=LoopConfig(device="cpu"),
    )


def config_DGXH200_1x8x1() -> LoRARunConfig:  # noqa: N802 - the MLPerf naming convention
    """Llama 2 70B LoRA on one 8-GPU H200 node: 1 sequence of 8192 per GPU (global batch 8),
    the reference's configuration.

    ``torchrun --nproc-per-node 8 -m mlperf_submit train llama2_70b_lora --preset
    config_DGXH200_1x8x1 --data /data/scrolls_gov_report_8k
    checkpoint=/models/Llama2-70b-fused-qkv-mlperf --seed S --log run.log``: bf16 base (140 GB,
    17.5 GB per GPU under FSDP2), fp32 adapters (44.6M parameters), bf16 autocast, activation
    checkpointing. The GBS-8 RCP's hyperparameters (LR 4e-4, 1024 steps, clip 0.3); that RCP
    converged in 2,688-3,840 sequences (mlperf-logging 4.1.68, rcps_llama2_70b_lora.json).
    Not run here: no GPU.
    """
    return LoRARunConfig(
        loop=LoopConfig(device="cuda", precision="bf16", warmup_steps=2, data_parallel="fsdp2")
    )


def config_DGXH100_1x8x1() -> LoRARunConfig:  # noqa: N802
    """Eight 80 GB GPUs: global batch 16 (the GBS-16 RCP: LR 4e-4, 1024 steps) as 2 accumulated
    micro-batches of one 8192-token sequence per GPU, so activation memory is that of GBS 8.
    Not run here: no GPU."""
    cfg = config_DGXH200_1x8x1()
    return replace(
        cfg,
        data=replace(cfg.data, global_batch_size=16),
        loop=replace(cfg.loop, gradient_accumulation_steps=2),
    )


def gpu_8layer() -> LoRARunConfig:
    """The Llama 2 70B layer shape with 8 of its 80 layers (6.9B parameters), bf16, one GPU:
    what ``bench/device/llama2_70b_lora_gpu.sh`` measures MFU on (one H200)."""
    cfg = config_DGXH200_1x8x1()
    return replace(
        cfg,
        model=replace(LLAMA2_70B, n_layers=8),
        loop=LoopConfig(device="cuda", precision="bf16", warmup_steps=2),
    )


PRESETS: dict[str, Callable[[], LoRARunConfig]] = {
    "tiny": tiny,
    "small": small,
    "config_DGXH200_1x8x1": config_DGXH200_1x8x1,
    "config_DGXH100_1x8x1": config_DGXH100_1x8x1,
    "gpu_8layer": gpu_8layer,
}
