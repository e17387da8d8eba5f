"""Flux.1 run configurations and named presets (the MMDiT shape is ``model.MMDiTConfig``).

    mlperf-submit train flux1 --preset tiny --seed 1 --log run.log --synthetic /tmp/syn
        2 CPU cores, a 1+1-block MMDiT on synthetic pre-encoded shards (16x8x8 latents):
        validation loss < 0.5 after 48 steps, ~3 s of run time on an idle machine; division open.
    torchrun --nproc-per-node 8 -m mlperf_submit train flux1 --preset config_DGXH200_1x8x64 \\
        --data /data/flux1 --seed S --log run.log
        one 8-GPU H200 node, global batch 512: the hyperparameters of the GBS-512 reference
        convergence point (LR 2e-4, 1600 warm-up steps).

Override any field with dotted keys: ``optim.base_lr=2e-4 data.global_batch_size=1024``.
The closed presets take the hyperparameters of the RCP of their global batch size (mlperf-logging
4.1.68, ``rcp_checker/training_6.*/rcps_flux1.json``, identical in 6.0.0 and 6.1.0):

    GBS    LR        warm-up steps   reference samples to converge (first of 20)
    512    2e-4      1600             7,077,888
    1024   2.5e-4     800             8,650,752
    2048   2.5e-4       0             9,437,184
    4096   4e-4       100            15,204,352
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from mlperf_submit.benchmarks.common.config import LoopConfig
from mlperf_submit.benchmarks.flux1.model import MMDiTConfig
from mlperf_submit.errors import UsageError

CC12M_TRAIN = 1_099_776
"""Training samples of the reference's CC12M subset (10 %, cleaned)."""
COCO_VAL = 29_696
"""Validation samples of the reference's COCO-2014 subset (3,712 per timestep)."""
EVAL_EVERY = 262_144
"""Training samples between evaluations (closed_flux1.yaml: evaluation_frequency)."""
EVAL_TIMESTEPS = 8
"""Validation timesteps t = k / 8, k = 0..7: each validation sample carries its k."""


@dataclass
class OptimConfig:
    """AdamW, a linear warm-up to base_lr, then constant (the reference: ``decay_ratio = 0``)."""

    base_lr: float = 2e-4
    warmup_steps: int = 1600
    """Linear warm-up: the LR of step s (0-based) is base_lr * (s + 1) / warmup_steps."""
    beta1: float = 0.9
    beta2: float = 0.95
    eps: float = 1e-8
    weight_decay: float = 0.1
    """Applied to every parameter (torchtitan's AdamW has one parameter group)."""
    grad_clip: float = 1.0
    """Clip the global gradient L2 norm to this (0 = no clipping)."""

    def validate(self) -> None:
        if self.base_lr <= 0 or self.warmup_steps < 0:
            raise UsageError("optim: need base_lr > 0 and warmup_steps >= 0")
        if not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1) or self.eps <= 0:
            raise UsageError("optim: betas must be in [0, 1) and eps > 0")
        if self.weight_decay < 0 or self.grad_clip < 0:
            raise UsageError("optim.weight_decay and optim.grad_clip must be >= 0")


@dataclass
class EncoderConfig:
    """The frozen encoders, for datasets of images and captions (``data.format=raw``).

    Each is a Hugging Face checkpoint directory: ``t5`` and ``clip`` in the transformers format
    (``T5EncoderModel``, ``CLIPTextModel``, with their tokenizer files), ``vae`` in the diffusers
    format (``AutoencoderKL``: the ``vae/`` folder of black-forest-labs/FLUX.1-schnell). A
    pre-encoded dataset (``data.format=encoded``, the reference's preprocessed path) needs none.
    """

    t5: str = ""
    clip: str = ""
    vae: str = ""
    t5_max_length: int = 256
    """T5 tokens per caption (padded / truncated): the text stream's length."""
    clip_max_length: int = 77
    latent_shift: float = 0.1159
    """x0 = (z - latent_shift) * latent_scale: the Flux VAE's latent normalisation."""
    latent_scale: float = 0.3611
    dtype: Literal["bf16", "fp32"] = "bf16"
    """The encoders' weights on a GPU (always fp32 on a CPU)."""

    def validate(self) -> None:
        if self.t5_max_length < 1 or self.clip_max_length < 1:
            raise UsageError("encoders.t5_max_length and encoders.clip_max_length must be >= 1")
        if self.latent_scale <= 0:
            raise UsageError("encoders.latent_scale must be > 0")

    def paths(self) -> dict[str, str]:
        return {"encoders.t5": self.t5, "encoders.clip": self.clip, "encoders.vae": self.vae}


@dataclass
class DataConfig:
    format: Literal["encoded", "raw"] = "encoded"
    """encoded: shards of VAE posteriors (mean, logvar) and T5 / CLIP embeddings as .npy (the
    reference's preprocessed path, encoders not loaded); raw: .jpg + .txt shards, encoded on
    the fly by the frozen encoders (``encoders.*``)."""
    train_dir: str = "cc12m"
    """Training shards: ``--data``/train_dir/*.tar."""
    val_dir: str = "coco"
    """Validation shards (each sample with a .json holding its timestep k): --data/val_dir/*.tar."""
    empty_encodings_dir: str = "empty_encodings"
    """encoded format: t5_empty.npy and clip_empty.npy, the encodings of the empty caption that
    replace a dropped caption (classifier-free guidance)."""
    global_batch_size: int = 512
    eval_batch_size: int = 16
    """Validation samples per forward pass and rank."""
    image_size: int = 256
    """Square training resolution (raw format); the latents are image_size / 8 wide."""
    latent_channels: int = 16
    t5_dim: int = 4096
    clip_dim: int = 768
    cfg_drop_prob: float = 0.1
    """Probability that a training caption is replaced by the empty one (classifier-free
    guidance dropout, the reference's classifer_free_guidance_prob)."""
    train_samples: int = CC12M_TRAIN
    """Training samples in the shards (logged as train_samples; verify_data counts them)."""
    eval_samples: int = COCO_VAL
    """Validation samples; every evaluation checks that it saw exactly this many."""
    eval_every: int = EVAL_EVERY
    """Evaluate every ceil(eval_every / global_batch_size) steps, i.e. every
    ceil(eval_every / GBS) * GBS samples (the reference's eval_freq_steps)."""
    max_samples: int = 40 * EVAL_EVERY
    """Budget: the run stops (status aborted) after this many training samples."""
    loader: Literal["auto", "dali", "torch"] = "auto"
    """Image decode/resize of the raw format: auto = DALI when installed, else PIL in the
    DataLoader workers (the encoded format has no images: always the DataLoader)."""
    workers: int = 4
    """DataLoader worker processes per rank (0 = read in the training process)."""
    shuffle_buffer: int = 64
    """Training samples each worker shuffles among, on top of a seeded shard order per epoch
    (the reference reads its dataset in order). A pre-encoded sample holds 2 MB of T5
    embeddings: 64 of them are 128 MB per worker."""
    synthetic_train_samples: int = 4096
    synthetic_val_samples: int = 512
    synthetic_samples_per_shard: int = 256
    synthetic_classes: int = 8
    """--synthetic: captions name one of this many classes; each class has its own latent (or
    image) template, so the caption determines the data up to small noise."""
    synthetic_seed: int = 20250601
    """The synthetic dataset's own seed: every run of a campaign sees the same data."""

    def validate(self) -> None:
        for name in (
            "global_batch_size",
            "eval_batch_size",
            "image_size",
            "latent_channels",
            "t5_dim",
            "clip_dim",
            "train_samples",
            "eval_samples",
            "eval_every",
            "max_samples",
            "shuffle_buffer",
            "synthetic_train_samples",
            "synthetic_val_samples",
            "synthetic_samples_per_shard",
            "synthetic_classes",
        ):
            if getattr(self, name) < 1:
                raise UsageError(f"data.{name} must be >= 1")
        if self.image_size % 16:
            raise UsageError(
                f"data.image_size={self.image_size}: use a multiple of 16 (8x VAE, 2x2 patches)"
            )
        if not 0 <= self.cfg_drop_prob < 1:
            raise UsageError("data.cfg_drop_prob must be in [0, 1)")
        if self.workers < 0:
            raise UsageError("data.workers must be >= 0")

    @property
    def latent_size(self) -> int:
        return self.image_size // 8

    def eval_interval(self) -> int:
        """Training samples between evaluations: ceil(eval_every / GBS) steps of GBS."""
        gbs = self.global_batch_size
        return math.ceil(self.eval_every / gbs) * gbs


@dataclass
class Flux1Config:
    target: float | None = None
    """Stop when the validation loss <= target; None = the closed target of the run's ruleset
    (0.586, closed_flux1.yaml)."""
    model: MMDiTConfig = field(default_factory=MMDiTConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    data: DataConfig = field(default_factory=DataConfig)
    encoders: EncoderConfig = field(default_factory=EncoderConfig)
    activation_checkpointing: bool = False
    """Recompute each block's activations in the backward pass (the reference: mode "full")."""
    loop: LoopConfig = field(default_factory=LoopConfig)

    def validate(self) -> None:
        m, d = self.model, self.data
        if m.in_channels != 4 * d.latent_channels:
            raise UsageError(
                f"model.in_channels={m.in_channels} must be 4 x data.latent_channels="
                f"{d.latent_channels} (2x2 patches of the VAE latent)"
            )
        if m.context_in_dim != d.t5_dim or m.vec_in_dim != d.clip_dim:
            raise UsageError(
                f"model.context_in_dim / model.vec_in_dim ({m.context_in_dim} / {m.vec_in_dim}) "
                f"must equal data.t5_dim / data.clip_dim ({d.t5_dim} / {d.clip_dim})"
            )
        if self.target is not None and self.target <= 0:
            raise UsageError(f"target={self.target}: a validation-loss target must be > 0")


# -- the closed division ----------------------------------------------------------------------
@dataclass(frozen=True)
class ClosedRule:
    """What closed_flux1.yaml (6.0.0, 6.1.0) fixes, and what the reference fixes beside it."""

    model: MMDiTConfig = field(default_factory=MMDiTConfig)
    beta1: float = 0.9
    beta2: float = 0.95
    eps: float = 1e-8
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    eval_every: int = EVAL_EVERY
    eval_samples: int = COCO_VAL
    image_size: int = 256
    t5_max_length: int = 256
    cfg_drop_prob: float = 0.1


CLOSED = ClosedRule()


def closed_problems(cfg: Flux1Config, rules: ClosedRule = CLOSED) -> list[str]:
    """What the closed rules (and the reference's fixed choices) would reject in ``cfg``."""
    o, d = cfg.optim, cfg.data
    want = {
        "optim.beta1": (o.beta1, rules.beta1),
        "optim.beta2": (o.beta2, rules.beta2),
        "optim.eps": (o.eps, rules.eps),
        "optim.weight_decay": (o.weight_decay, rules.weight_decay),
        "optim.grad_clip": (o.grad_clip, rules.grad_clip),
        "data.eval_every": (d.eval_every, rules.eval_every),
        "data.eval_samples": (d.eval_samples, rules.eval_samples),
        "data.image_size": (d.image_size, rules.image_size),
        "data.cfg_drop_prob": (d.cfg_drop_prob, rules.cfg_drop_prob),
    }
    if d.format == "raw":
        want["encoders.t5_max_length"] = (cfg.encoders.t5_max_length, rules.t5_max_length)
    out = [
        f"{k}={have}: closed requires {need}" for k, (have, need) in want.items() if have != need
    ]
    if cfg.model != rules.model:
        out.append(
            "model: closed division requires the Flux.1-schnell shape (the model.* defaults)"
        )
    return out


# -- presets ----------------------------------------------------------------------------------
def tiny() -> Flux1Config:
    """A 1 double + 1 single block MMDiT (hidden 96) on synthetic pre-encoded shards, 2 CPU cores.

    ``mlperf-submit train flux1 --preset tiny --seed 1 --log run.log --synthetic DIR``:
    validation loss 0.42-0.47 (< 0.5) at the 3rd evaluation (1,536 samples = 48 steps of 32;
    0.54-0.61 at the 2nd) for seeds 1-12; the best possible is 0.235 (``synthetic.py``).
    Run time (run_start -> run_stop) 5.4-8.6 s of wall time on the 2 shared cores at load
    average 6-9, 2.9-3.0 s of CPU time (one thread: what an idle machine takes); the log
    passes the official checker for flux1 6.0.0 and 6.1.0, division open.
    """
    return Flux1Config(
        target=0.5,
        model=MMDiTConfig(
            in_channels=64,
            vec_in_dim=16,
            context_in_dim=32,
            hidden_size=96,
            num_heads=2,
            depth=1,
            depth_single_blocks=1,
            axes_dim=(8, 20, 20),
        ),
        optim=OptimConfig(base_lr=1e-2, warmup_steps=5, weight_decay=0.1),
        data=DataConfig(
            global_batch_size=32,
            eval_batch_size=128,
            image_size=64,
            t5_dim=32,
            clip_dim=16,
            train_samples=2048,
            eval_samples=256,
            eval_every=512,
            max_samples=32 * 300,
            workers=0,
            shuffle_buffer=256,
            synthetic_train_samples=2048,
            synthetic_val_samples=256,
            synthetic_samples_per_shard=256,
        ),
        encoders=EncoderConfig(t5_max_length=8),
        loop=LoopConfig(device="cpu", threads=1),
    )


def tiny_raw() -> Flux1Config:
    """``tiny`` on .jpg + .txt shards through tiny generated T5 / CLIP / VAE checkpoints (set
    ``encoders.t5/clip/vae``; ``tests/benchmarks/flux1`` generates them): the raw-image path
    end to end on a CPU. Not a convergence preset."""
    cfg = tiny()
    cfg.data.format = "raw"
    cfg.data.synthetic_train_samples = cfg.data.train_samples = 512
    cfg.data.synthetic_val_samples = cfg.data.eval_samples = 64
    cfg.data.synthetic_samples_per_shard = 64
    cfg.data.eval_every = 256
    cfg.data.max_samples = 512
    cfg.data.eval_batch_size = 32
    cfg.encoders.t5_max_length = 16
    cfg.encoders.clip_max_length = 16
    return cfg


def small() -> Flux1Config:
    """The CPU throughput shape: 2 double + 2 single blocks, hidden 512 (8 heads), 256 px
    images (256 image + 64 text tokens), global batch 8; ``bench/flux1_throughput.py``."""
    return Flux1Config(
        target=0.5,
        model=MMDiTConfig(
            vec_in_dim=768,
            context_in_dim=1024,
            hidden_size=512,
            num_heads=8,
            depth=2,
            depth_single_blocks=2,
            axes_dim=(8, 28, 28),
        ),
        optim=OptimConfig(base_lr=1e-3, warmup_steps=10),
        data=DataConfig(
            global_batch_size=8,
            eval_batch_size=8,
            t5_dim=1024,
            train_samples=512,
            eval_samples=64,
            eval_every=256,
            max_samples=8 * 200,
            workers=2,
            shuffle_buffer=64,
            synthetic_train_samples=512,
            synthetic_val_samples=64,
            synthetic_samples_per_shard=64,
        ),
        encoders=EncoderConfig(t5_max_length=64),
        loop=LoopConfig(device="cpu"),
    )


def _closed(gbs: int, per_gpu: int, lr: float, warmup: int, accumulation: int = 1) -> Flux1Config:
    """The reference shape and data at global batch ``gbs`` with its RCP's LR and warm-up:
    bf16 autocast, FSDP2 (fp32 AdamW state of 11.9B parameters is 190 GB: it does not fit one
    GPU), activation checkpointing (the reference's mode "full"), compiled."""
    return Flux1Config(
        optim=OptimConfig(base_lr=lr, warmup_steps=warmup),
        data=DataConfig(global_batch_size=gbs, eval_batch_size=per_gpu // accumulation, workers=6),
        activation_checkpointing=True,
        loop=LoopConfig(
            device="cuda",
            precision="bf16",
            compile=True,
            warmup_steps=2,
            data_parallel="fsdp2",
            gradient_accumulation_steps=accumulation,
        ),
    )


def config_DGXH200_1x8x64() -> Flux1Config:  # noqa: N802 - the MLPerf naming convention
    """One 8-GPU H200 node, 64 samples per GPU as 4 accumulated micro-batches of 16 (global 512).

    ``torchrun --nproc-per-node 8 -m mlperf_submit train flux1 --preset config_DGXH200_1x8x64
    --data /data/flux1 --seed S --log run.log``: the GBS-512 RCP (LR 2e-4, 1600 warm-up
    steps; the reference converged in 7.1-7.3M samples). Not run here: no GPU.
    """
    return _closed(512, 64, 2e-4, 1600, accumulation=4)


def config_DGXH200_8x8x16() -> Flux1Config:  # noqa: N802
    """Eight 8-GPU H200 nodes, 16 samples per GPU (global 1024): the GBS-1024 RCP (LR 2.5e-4,
    800 warm-up steps; 8.1-8.7M samples in the reference). Not run here."""
    return _closed(1024, 16, 2.5e-4, 800)


def config_DGXH200_16x8x16() -> Flux1Config:  # noqa: N802
    """Sixteen 8-GPU H200 nodes, 16 per GPU (global 2048): the GBS-2048 RCP (LR 2.5e-4, no
    warm-up). Not run here."""
    return _closed(2048, 16, 2.5e-4, 0)


def config_DGXH200_32x8x16() -> Flux1Config:  # noqa: N802
    """Thirty-two 8-GPU H200 nodes, 16 per GPU (global 4096): the GBS-4096 RCP (LR 4e-4, 100
    warm-up steps). Not run here."""
    return _closed(4096, 16, 4e-4, 100)


def gpu_small() -> Flux1Config:
    """``h200``: one H200, the full 11.9B shape would not train (190 GB of AdamW state), so
    ``bench/device/flux1_gpu.sh`` measures MFU on 8 double + 16 single blocks (5.0B), batch 8,
    bf16, activation checkpointing, compiled, on synthetic pre-encoded shards of the reference
    sizes (32x32x16 latents, 256 T5 tokens of 4096, CLIP 768)."""
    return Flux1Config(
        model=MMDiTConfig(depth=8, depth_single_blocks=16),
        data=DataConfig(
            global_batch_size=8,
            eval_batch_size=8,
            train_samples=1024,
            eval_samples=64,
            synthetic_train_samples=1024,
            synthetic_val_samples=64,
            synthetic_samples_per_shard=64,
            workers=4,
        ),
        activation_checkpointing=True,
        loop=LoopConfig(device="cuda", precision="bf16", compile=True, warmup_steps=2),
    )


PRESETS: dict[str, Callable[[], Flux1Config]] = {
    "tiny": tiny,
    "tiny_raw": tiny_raw,
    "small": small,
    "config_DGXH200_1x8x64": config_DGXH200_1x8x64,
    "config_DGXH200_8x8x16": config_DGXH200_8x8x16,
    "config_DGXH200_16x8x16": config_DGXH200_16x8x16,
    "config_DGXH200_32x8x16": config_DGXH200_32x8x16,
    "h200": gpu_small,
}
