"""Llama 3.1 8B pretraining presets (the configuration classes are the LM family's).

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

from collections.abc import Callable
from dataclasses import replace

from mlperf_submit.benchmarks.common.config import LoopConfig
from mlperf_submit.benchmarks.families.decoder.config import DecoderConfig, GQAConfig, SwiGLUConfig
from mlperf_submit.benchmarks.families.lm_pretraining.config import (
    ClosedLMRules,
    DataConfig,
    OptimConfig,
    PretrainConfig,
)

# Llama 3.1 8B: 32 layers, d 4096, GQA 32:8, SwiGLU 14336, vocab 128256, llama3 RoPE scaling
# (the DecoderConfig defaults).
LLAMA31_8B = DecoderConfig()

# closed_llama31_8b.yaml (5.1.0-6.1.0): max_steps 1,200,000, sequence 8192, eval_samples 1024,
# AdamW (0.9, 0.95, 1e-5, 0.1), clip 1.0; the rules evaluate every 12,288 sequences.
CLOSED = ClosedLMRules(
    model=LLAMA31_8B, seq_len=8192, eval_samples=1024, eval_every=12_288, max_steps=1_200_000
)


def tiny() -> PretrainConfig:
    """A 2-layer d=64 Llama (GQA 4:2, vocab 256) on 128-token synthetic sequences, 2 CPU cores.

    ``mlperf-submit train llama31_8b --preset tiny --seed 1 --log run.log --synthetic DIR``:
    log-perplexity ~0.75-0.78 (< 0.9) at the second evaluation (512 sequences = 32 steps of 16),
    5-9 s of run time on 2 shared cores (runs of seeds 1-12, 101-108); the log passes
    the official checker for llama31_8b@6.1.0 division open. Same under
    ``torchrun --nproc-per-node 2`` (8 sequences per rank).
    """
    return PretrainConfig(
        target=0.9,
        model=DecoderConfig(
            vocab_size=256,
            dim=64,
            n_layers=2,
            attention=GQAConfig(n_heads=4, n_kv_heads=2),
            ffn=SwiGLUConfig(hidden_dim=192),
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


def small() -> PretrainConfig:
    """The CPU throughput shape: 4 layers, d=1024, GQA 16:4, FFN 3584, vocab 8192, seq 256.

    ``python bench/llama_mfu.py`` times its training step against a large matmul: MFU 0.90 with
    one thread, 0.62 with two on a loaded 2-core Zen VM (see the bench's docstring).
    """
    return PretrainConfig(
        target=0.9,
        model=DecoderConfig(
            vocab_size=8192,
            dim=1024,
            n_layers=4,
            attention=GQAConfig(n_heads=16, n_kv_heads=4),
            ffn=SwiGLUConfig(hidden_dim=3584),
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


def config_DGXH200_1x8x4() -> PretrainConfig:  # noqa: N802 - the MLPerf naming convention
    """Llama 3.1 8B on one 8-GPU H100/H200 node: 4 sequences of 8192 per GPU (global 32).

    ``torchrun --nproc-per-node 8 -m mlperf_submit train llama31_8b --preset
    config_DGXH200_1x8x4 --data /data/c4 --seed S --log run.log``: bf16 autocast, FSDP2 (the
    fp32 AdamW state of 8B does not fit one GPU), activation checkpointing, compiled.
    The GBS-32 RCP's hyperparameters (LR 8e-4, 128 warm-up steps); that RCP converged in
    172,032-196,608 sequences (mlperf-logging 4.1.68, rcps_llama31_8b.json). Not run here: no GPU.
    """
    return PretrainConfig(
        activation_checkpointing=True,
        loop=LoopConfig(
            device="cuda", precision="bf16", compile=True, warmup_steps=2, data_parallel="fsdp2"
        ),
    )


def config_DGXH100_1x8x1() -> PretrainConfig:  # noqa: N802
    """Llama 3.1 8B on one 8-GPU node with 80 GB per GPU: the same global batch 32 (and so the
    same GBS-32 hyperparameters) as config_DGXH200_1x8x4, as 4 accumulated micro-batches of one
    8192-token sequence per GPU: a quarter of the activation and logits memory. Not run here."""
    cfg = config_DGXH200_1x8x4()
    return replace(cfg, loop=replace(cfg.loop, gradient_accumulation_steps=4))


def llama8b() -> PretrainConfig:
    """``8b``: the closed Llama 3.1 8B configuration (an alias of config_DGXH200_1x8x4)."""
    return config_DGXH200_1x8x4()


def gpu_1b() -> PretrainConfig:
    """A ~1.2B-parameter Llama (the Llama 3.2 1B shape: 16 layers, d 2048, GQA 32:8, FFN 8192,
    tied 128k vocabulary) at sequence 8192, bf16, DDP: what ``bench/device/llama_gpu.sh``
    measures MFU on, one H200."""
    return PretrainConfig(
        model=DecoderConfig(
            dim=2048,
            n_layers=16,
            attention=GQAConfig(n_heads=32, n_kv_heads=8),
            ffn=SwiGLUConfig(hidden_dim=8192),
            tie_embeddings=True,
        ),
        data=DataConfig(global_batch_size=4, eval_batch_size=2),
        loop=LoopConfig(device="cuda", precision="bf16", compile=True, warmup_steps=2),
    )


PRESETS: dict[str, Callable[[], PretrainConfig]] = {
    "tiny": tiny,
    "small": small,
    "8b": llama8b,
    "config_DGXH200_1x8x4": config_DGXH200_1x8x4,
    "config_DGXH100_1x8x1": config_DGXH100_1x8x1,
    "1b": gpu_1b,
}
