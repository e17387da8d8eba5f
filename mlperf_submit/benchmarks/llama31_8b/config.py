"""Llama 3.1 8B pretraining run configurations and named presets.

    mlperf-submit train llama31_8b --preset tiny --seed 1 --log run.log --synthetic /tmp/syn
        2 CPU cores, a 2-layer d=64 Llama on the synthetic Markov "C4" (vocab 256, 128-token
        sequences): validation log-perplexity < 0.9 at the 2nd eval (32 steps), 5-9 s of run time;
        division open (synthetic data; the open rule's bound is < 1.0).
    mlperf-submit train llama31_8b --preset small ...
        the CPU throughput shape (bench/llama_mfu.py measures its MFU).
    torchrun --nproc-per-node 8 -m mlperf_submit train llama31_8b --preset 8b --data /data/c4 ...
        one 8-GPU H100/H200 node, Llama 3.1 8B at sequence 8192, global batch 32, FSDP2, bf16:
        the hyperparameters of the GBS-32 reference convergence point (LR 8e-4 -> 8e-5, warm-up
        4096 samples = 128 steps), cosine over 1,200,000 steps, eval every 12,288 sequences,
        target 3.3.

Override any field with dotted keys: ``optim.base_lr=8e-4 data.global_batch_size=64``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from mlperf_submit.benchmarks.common.config import LoopConfig
from mlperf_submit.benchmarks.llama31_8b.model import ModelConfig
from mlperf_submit.errors import UsageError

CLOSED_MAX_STEPS = 1_200_000
CLOSED_SEQ_LEN = 8192
CLOSED_EVAL_SAMPLES = 1024
CLOSED_EVAL_EVERY = 12_288
CLOSED_TARGET = 3.3


@dataclass
class OptimConfig:
    """AdamW with a linear warm-up then a cosine decay from base_lr to end_lr."""

    base_lr: float = 8e-4
    """The GBS-32 reference convergence point's LR (rcps_llama31_8b.json in mlperf-logging)."""
    end_lr: float = 8e-5
    """The LR at max_steps (0.1 x base_lr, as in the reference)."""
    warmup_steps: int = 128
    """Linear warm-up from 0; the GBS-32 RCP warms up over 4096 samples = 128 steps."""
    max_steps: int = CLOSED_MAX_STEPS
    """Length of the LR schedule (closed: 1,200,000); the cosine spans max_steps - warmup_steps.
    Not the training budget: that is data.max_samples."""
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
    seq_len: int = CLOSED_SEQ_LEN
    """Tokens the model reads per sample (logged as max_sequence_length)."""
    global_batch_size: int = 32
    """Sequences per optimizer step over all ranks (each rank gets global / ranks)."""
    eval_samples: int = CLOSED_EVAL_SAMPLES
    """Validation sequences per evaluation (the first ones of the validation file)."""
    eval_every: int = CLOSED_EVAL_EVERY
    """Evaluate after this many training sequences, rounded up to a multiple of the global
    batch (the closed rule: 12,288)."""
    eval_batch_size: int = 4
    """Validation sequences per forward pass and rank."""
    max_samples: int = 40 * CLOSED_EVAL_EVERY
    """Budget: the run stops (status aborted) after this many training sequences."""
    synthetic_train_tokens: int = 50_000_000
    """--synthetic: training tokens to generate (the stream wraps into new epochs if short)."""
    synthetic_p_top: float = 0.9
    """--synthetic: probability of each token's likely successor (see synthetic.py)."""
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
class LlamaConfig:
    preset: str = "8b"
    """The preset this config came from (logged as config_filename with the config module)."""
    target: float = CLOSED_TARGET
    """Stop when validation log-perplexity <= target (closed: 3.3)."""
    model: ModelConfig = field(default_factory=ModelConfig)
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
        if self.target <= 0:
            raise UsageError(f"target={self.target}: a log-perplexity target must be > 0")

    def closed_problems(self) -> list[str]:
        """What the closed division's rules (closed_llama31_8b.yaml + policy) would reject."""
        o, d = self.optim, self.data
        want = {
            "optim.max_steps": (o.max_steps, CLOSED_MAX_STEPS),
            "optim.beta1": (o.beta1, 0.9),
            "optim.beta2": (o.beta2, 0.95),
            "optim.eps": (o.eps, 1e-5),
            "optim.weight_decay": (o.weight_decay, 0.1),
            "optim.grad_clip": (o.grad_clip, 1.0),
            "data.seq_len": (d.seq_len, CLOSED_SEQ_LEN),
            "data.eval_samples": (d.eval_samples, CLOSED_EVAL_SAMPLES),
            "data.eval_every": (d.eval_every, CLOSED_EVAL_EVERY),
        }
        out = [
            f"{k}={have}: closed requires {need}"
            for k, (have, need) in want.items()
            if have != need
        ]
        if self.target > CLOSED_TARGET:
            out.append(f"target={self.target}: closed requires reaching {CLOSED_TARGET}")
        if replace(self.model, max_seq_len=CLOSED_SEQ_LEN) != ModelConfig():
            out.append("model: closed division requires the Llama 3.1 8B shape (model.* defaults)")
        return out


def tiny() -> LlamaConfig:
    """A 2-layer d=64 Llama (GQA 4:2, vocab 256) on 128-token synthetic sequences, 2 CPU cores.

    ``mlperf-submit train llama31_8b --preset tiny --seed 1 --log run.log --synthetic DIR``:
    log-perplexity ~0.75-0.78 (< 0.9) at the second evaluation (512 sequences = 32 steps of 16),
    5-9 s of run time on 2 shared cores (runs of seeds 1-12, 101-108); the log passes
    the official checker for llama31_8b@6.1.0 division open. Same under
    ``torchrun --nproc-per-node 2`` (8 sequences per rank).
    """
    return LlamaConfig(
        preset="tiny",
        target=0.9,
        model=ModelConfig(
            vocab_size=256,
            dim=64,
            n_layers=2,
            n_heads=4,
            n_kv_heads=2,
            ffn_dim=192,
            max_seq_len=128,
        ),
        optim=OptimConfig(base_lr=1e-2, end_lr=1e-3, warmup_steps=20, max_steps=600),
        data=DataConfig(
            seq_len=128,
            global_batch_size=16,
            eval_samples=256,
            eval_every=256,
            eval_batch_size=128,
            max_samples=16 * 600,
            synthetic_train_tokens=1_300_000,
        ),
        loop=LoopConfig(device="cpu", threads=1),
    )


def small() -> LlamaConfig:
    """The CPU throughput shape: 4 layers, d=1024, GQA 16:4, FFN 3584, vocab 8192, seq 256.

    ``python bench/llama_mfu.py`` times its training step against a large matmul: MFU 0.90 with
    one thread, 0.62 with two on a loaded 2-core Zen VM (see the bench's docstring).
    """
    return LlamaConfig(
        preset="small",
        target=0.9,
        model=ModelConfig(
            vocab_size=8192,
            dim=1024,
            n_layers=4,
            n_heads=16,
            n_kv_heads=4,
            ffn_dim=3584,
            max_seq_len=256,
        ),
        optim=OptimConfig(base_lr=3e-3, end_lr=3e-4, warmup_steps=20, max_steps=2000),
        data=DataConfig(
            seq_len=256,
            global_batch_size=4,
            eval_samples=64,
            eval_every=512,
            eval_batch_size=8,
            max_samples=4 * 2000,
            synthetic_train_tokens=5_000_000,
        ),
        loop=LoopConfig(device="cpu"),
    )


def config_DGXH200_1x8x4() -> LlamaConfig:  # noqa: N802 - the MLPerf naming convention
    """Llama 3.1 8B on one 8-GPU H100/H200 node: 4 sequences of 8192 per GPU (global 32).

    ``torchrun --nproc-per-node 8 -m mlperf_submit train llama31_8b --preset
    config_DGXH200_1x8x4 --data /data/c4 --seed S --log run.log``: bf16 autocast, FSDP2 (the
    fp32 AdamW state of 8B does not fit one GPU), activation checkpointing, compiled.
    The GBS-32 RCP's hyperparameters (LR 8e-4, 128 warm-up steps); that RCP converged in
    172,032-196,608 sequences (mlperf-logging 4.1.68, rcps_llama31_8b.json). Not run here: no GPU.
    """
    return LlamaConfig(
        preset="config_DGXH200_1x8x4",
        activation_checkpointing=True,
        loop=LoopConfig(
            device="cuda", precision="bf16", compile=True, warmup_steps=2, data_parallel="fsdp2"
        ),
    )


def config_DGXH100_1x8x1() -> LlamaConfig:  # noqa: N802
    """Llama 3.1 8B on one 8-GPU node with 80 GB per GPU: the same global batch 32 (and so the
    same GBS-32 hyperparameters) as config_DGXH200_1x8x4, as 4 accumulated micro-batches of one
    8192-token sequence per GPU: a quarter of the activation and logits memory. Not run here."""
    cfg = config_DGXH200_1x8x4()
    return replace(
        cfg,
        preset="config_DGXH100_1x8x1",
        loop=replace(cfg.loop, gradient_accumulation_steps=4),
    )


def llama8b() -> LlamaConfig:
    """``8b``: the closed Llama 3.1 8B configuration (an alias of config_DGXH200_1x8x4)."""
    return replace(config_DGXH200_1x8x4(), preset="8b")


def gpu_1b() -> LlamaConfig:
    """A ~1.2B-parameter Llama (the Llama 3.2 1B shape: 16 layers, d 2048, GQA 32:8, FFN 8192,
    tied 128k vocabulary) at sequence 8192, bf16, DDP: what ``bench/device/llama_gpu.sh``
    measures MFU on, one H200."""
    return LlamaConfig(
        preset="1b",
        model=ModelConfig(
            dim=2048, n_layers=16, n_heads=32, n_kv_heads=8, ffn_dim=8192, tie_embeddings=True
        ),
        data=DataConfig(global_batch_size=4, eval_batch_size=2),
        loop=LoopConfig(device="cuda", precision="bf16", compile=True, warmup_steps=2),
    )


PRESETS: dict[str, Callable[[], LlamaConfig]] = {
    "tiny": tiny,
    "small": small,
    "8b": llama8b,
    "config_DGXH200_1x8x4": config_DGXH200_1x8x4,
    "config_DGXH100_1x8x1": config_DGXH100_1x8x1,
    "1b": gpu_1b,
}
