"""Llama 3.1 405B continued-pretraining presets, and the closed hyperparameters as functions of
the global batch size (the configuration classes are the LM family's).

    mlperf-submit train llama31_405b --preset tiny --seed 1 --log run.log --synthetic /tmp/syn
        2 CPU cores: a 2-layer d=64 Llama continued from a generated tiny checkpoint on the
        synthetic Markov "C4" (vocab 256, 128-token sequences); see ``tiny`` for the measured run.
    srun ... python -m mlperf_submit train llama31_405b --preset config_DGXH100_144x8x1 ...
        144 nodes x 8 H100 (1,152 GPUs), GBS 1152: the reference's base point.

The closed rules (``closed_llama31_405b.yaml``, 5.1.0 and 6.0.0; 5.0.0 checks only the LR)
tie the schedule to the global batch size GBS::

    opt_base_learning_rate * 1152 == GBS * 8e-5                 (exact float equality)
    opt_learning_rate_warmup_steps = ceil(8000 * 1152 / GBS)
    opt_learning_rate_decay_steps  = ceil(1_200_000 * 1152 / GBS) - warmup

``closed_optim(gbs)`` computes them (the reference's ``round(GBS / 1152 * 8e-5, 8)`` where that
value satisfies the equality, else the exact quotient: at GBS 1008 the rounded 7e-05 fails the
checker's ``==``); the end LR is the reference's ``min_lr`` 8e-7.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from mlperf_submit.benchmarks.common.config import LoopConfig
from mlperf_submit.benchmarks.families.decoder.config import DecoderConfig, GQAConfig, SwiGLUConfig
from mlperf_submit.benchmarks.families.lm_pretraining.config import (
    ClosedLMRules,
    DataConfig,
    OptimConfig,
)
from mlperf_submit.benchmarks.families.lm_pretraining.continued import ContinuedPretrainConfig

# Llama 3.1 405B (meta-llama/Llama-3.1-405B config.json): 126 layers, d 16384, GQA 128:8,
# SwiGLU 53248, vocab 128256, RoPE theta 500000 with the llama3 scaling (the family default).
LLAMA31_405B = DecoderConfig(
    dim=16384,
    n_layers=126,
    attention=GQAConfig(n_heads=128, n_kv_heads=8),
    ffn=SwiGLUConfig(hidden_dim=53248),
)

BASE_GBS = 1152
BASE_LR = 8e-5
END_LR = 8e-7
"""The reference's ``min_lr`` (not a function of GBS; the rules leave it free)."""
WARMUP_SAMPLES_STEPS = 8000
"""Warm-up steps at the base GBS (the YAML's ``8000 * 1152 / GBS``)."""
SCHEDULE_STEPS = 1_200_000
"""LR-schedule length at the base GBS (the YAML's ``1_200_000 * 1152 / GBS``)."""

# closed_llama31_405b.yaml: sequence 8192, eval_samples 5760, AdamW (0.9, 0.95, 1e-5, 0.1),
# clip 1.0; the reference evaluates every 46,080 sequences. max_steps depends on GBS (checked
# by closed_schedule_problems), so it is not a fixed fact here.
CLOSED = ClosedLMRules(
    model=LLAMA31_405B, seq_len=8192, eval_samples=5760, eval_every=46_080, max_steps=None
)


def closed_lr(gbs: int) -> float:
    """A base LR that satisfies the checker's ``lr * 1152 == gbs * 8e-5`` exactly."""
    want = gbs * BASE_LR
    for lr in (round(gbs / BASE_GBS * BASE_LR, 8), want / BASE_GBS):
        if lr * BASE_GBS == want:
            return lr
    lr = want / BASE_GBS
    for _ in range(8):  # a float neighbour of the quotient
        for cand in (math.nextafter(lr, 0.0), math.nextafter(lr, 1.0)):
            if cand * BASE_GBS == want:
                return cand
        lr = math.nextafter(lr, 1.0)
    raise ValueError(f"no float LR satisfies lr * 1152 == {gbs} * 8e-5")


def closed_warmup_steps(gbs: int) -> int:
    return math.ceil(WARMUP_SAMPLES_STEPS * BASE_GBS / gbs)


def closed_max_steps(gbs: int) -> int:
    return math.ceil(SCHEDULE_STEPS * BASE_GBS / gbs)


def closed_optim(gbs: int) -> OptimConfig:
    """The closed AdamW + cosine schedule for a global batch of ``gbs`` sequences."""
    return OptimConfig(
        base_lr=closed_lr(gbs),
        end_lr=END_LR,
        warmup_steps=closed_warmup_steps(gbs),
        max_steps=closed_max_steps(gbs),
    )


def closed_schedule_problems(cfg: ContinuedPretrainConfig) -> list[str]:
    """The YAML's GBS formulas, evaluated as the checker evaluates them."""
    gbs, o = cfg.data.global_batch_size, cfg.optim
    out = []
    if o.base_lr * BASE_GBS != gbs * BASE_LR:
        out.append(
            f"optim.base_lr={o.base_lr}: closed requires base_lr * 1152 == GBS * 8e-5, i.e. "
            f"{closed_lr(gbs)} at global batch {gbs}"
        )
    if o.warmup_steps != closed_warmup_steps(gbs):
        out.append(
            f"optim.warmup_steps={o.warmup_steps}: closed requires ceil(8000 * 1152 / GBS) = "
            f"{closed_warmup_steps(gbs)}"
        )
    if o.max_steps != closed_max_steps(gbs):
        out.append(
            f"optim.max_steps={o.max_steps}: closed requires ceil(1,200,000 * 1152 / GBS) = "
            f"{closed_max_steps(gbs)} (decay steps = that - warmup)"
        )
    return out


def tiny() -> ContinuedPretrainConfig:
    """A 2-layer d=64 Llama (GQA 4:2, vocab 256) continued from a generated checkpoint on
    128-token synthetic sequences, 2 CPU cores.

    ``mlperf-submit train llama31_405b --preset tiny --seed 1 --log run.log --synthetic DIR``:
    log-perplexity 0.918-0.924 (< 1.0) at the second evaluation (256 sequences = 16 steps of
    16), 4.7-5.3 s of run time (run_start -> run_stop) on the 2-core VM at load average ~9-10
    (seeds 1-5). Its log fails exactly the open rules only a full-scale run meets
    (``Llama31_405BBenchmark.tiny_scale_rules``), nothing else.
    """
    return ContinuedPretrainConfig(
        target=1.0,
        model=DecoderConfig(
            vocab_size=256,
            dim=64,
            n_layers=2,
            attention=GQAConfig(n_heads=4, n_kv_heads=2),
            ffn=SwiGLUConfig(hidden_dim=192),
            max_seq_len=128,
        ),
        optim=OptimConfig(base_lr=2e-2, end_lr=1e-3, warmup_steps=20, max_steps=600),
        data=DataConfig(
            seq_len=128,
            global_batch_size=16,
            eval_samples=256,
            eval_every=128,
            eval_batch_size=128,
            max_samples=16 * 600,
            synthetic_train_tokens=1_300_000,
        ),
        loop=LoopConfig(device="cpu", threads=1),
    )


def _closed(gbs: int) -> ContinuedPretrainConfig:
    return ContinuedPretrainConfig(
        model=LLAMA31_405B,
        optim=closed_optim(gbs),
        data=DataConfig(
            seq_len=8192,
            global_batch_size=gbs,
            eval_samples=5760,
            eval_every=46_080,
            eval_batch_size=1,
            max_samples=gbs * 2000,
        ),
        activation_checkpointing=True,
        loop=LoopConfig(
            device="cuda",
            precision="bf16",
            compile=True,
            warmup_steps=1,
            data_parallel="fsdp2",
        ),
    )


def config_DGXH100_144x8x1() -> ContinuedPretrainConfig:  # noqa: N802 - MLPerf naming
    """Llama 3.1 405B on 144 nodes x 8 H100 (1,152 GPUs), one 8192-token sequence per GPU:
    GBS 1152, LR 8e-5, 8,000 warm-up steps, a 1,200,000-step cosine to 8e-7 (the GBS-1152 RCP).

    ``srun -N 144 --ntasks-per-node 8 python -m mlperf_submit train llama31_405b --preset
    config_DGXH100_144x8x1 --data /data/c4 init_checkpoint=/ckpt/Llama-3.1-405B --seed S --log
    run.log``: FSDP2 with meta-device init (each rank reads only its rows of the checkpoint),
    bf16 autocast, activation checkpointing, compiled. Not run here (no GPU); its --log-only
    init section passes the closed rules of 5.0.0, 5.1.0 and 6.0.0. The fp32 training state
    (6.5 TB) over 1,152 GPUs is 5.6 GB per GPU; the reference also uses TP 8, PP 9, CP 2,
    which this plain-PyTorch implementation does not have.
    """
    return _closed(1152)


def config_DGXH100_288x8x1() -> ContinuedPretrainConfig:  # noqa: N802
    """GBS 2304 on 288 nodes x 8 H100: LR 1.6e-4, 4,000 warm-up steps, 600,000-step schedule
    (the GBS-2304 RCP point). Not run here."""
    return _closed(2304)


PRESETS: dict[str, Callable[[], ContinuedPretrainConfig]] = {
    "tiny": tiny,
    "config_DGXH100_144x8x1": config_DGXH100_144x8x1,
    "config_DGXH100_288x8x1": config_DGXH100_288x8x1,
}
