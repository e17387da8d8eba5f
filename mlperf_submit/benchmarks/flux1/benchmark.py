"""The MLPerf text-to-image benchmark: Flux.1-schnell trained from scratch on CC12M with
rectified flow, to a validation loss <= 0.586 on COCO-2014.

Plugs the MMDiT (``model.py``) into the common Trainer (``common/interface.py`` gives the call
order). Rounds 6.0.0 and 6.1.0 (6.1.0 default); 10 runs; progress unit samples_count; an
evaluation every ``evaluation_frequency`` samples as the round defines it (``schedule.py``);
the metric is the mean over the 8 fixed timesteps of the mean validation loss per timestep
(``flow.py``). Two data paths, as the reference: pre-encoded shards (VAE posteriors and T5 /
CLIP embeddings: no encoder is loaded) and raw .jpg + .txt shards encoded on the fly by the
frozen encoders (``encoders.py``), which are held here, beside the trained model, never in it.

    mlperf-submit train flux1 --preset tiny --seed 1 --log run.log --synthetic /tmp/flux
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mlperf_submit.benchmarks.common.interface import Benchmark, Block, DataSplits, RunContext
from mlperf_submit.benchmarks.common.synthetic_data import SyntheticData
from mlperf_submit.benchmarks.flux1 import data_common as dc
from mlperf_submit.benchmarks.flux1 import flow, schedule, synthetic
from mlperf_submit.benchmarks.flux1.config import (
    EVAL_TIMESTEPS,
    PRESETS,
    Flux1Config,
    closed_problems,
)
from mlperf_submit.benchmarks.flux1.docs import DOCS
from mlperf_submit.benchmarks.flux1.model import MMDiT
from mlperf_submit.benchmarks.flux1.optim import SCHEDULE, WarmupConstantLR, build_adamw
from mlperf_submit.errors import InputError, UsageError
from mlperf_submit.launch.distributed.seeding import derive_seed
from mlperf_submit.logging import adamw_values, attr_values


class Flux1Benchmark(Benchmark):
    name = "flux1"
    rounds = ("6.0.0", "6.1.0")
    progress_unit = "samples_count"
    higher_is_better = False
    metric_label = "validation loss"
    docs = DOCS
    config_class = Flux1Config
    presets = PRESETS

    cfg: Flux1Config

    def __init__(self, cfg: Flux1Config, ctx: RunContext) -> None:
        super().__init__(cfg, ctx)
        self.local_batch = self.per_rank_batch(cfg.data.global_batch_size)
        self.encoders = None  # FrozenEncoders on the raw path (built with the model)
        self.tokenize = None  # CaptionTokenizer on the raw path
        self.schedule: schedule.EvalSchedule | None = None
        d = cfg.data
        # The empty caption's encodings replace dropped captions. Zeros until build_data (warm-up
        # runs on random tensors; the encoded format's empty_encodings/ are data, read after
        # run_start); the raw path computes them with the encoders in build_model.
        self._empty = (
            torch.zeros(cfg.encoders.t5_max_length, d.t5_dim),
            torch.zeros(d.clip_dim),
        )
        self._empty_cache: tuple | None = None  # (the _empty it holds, device, moved copies)

    @classmethod
    def closed_problems(cls, cfg: Flux1Config) -> list[str]:
        return super().closed_problems(cfg) + closed_problems(cfg)

    @property
    def raw(self) -> bool:
        return self.cfg.data.format == "raw"

    # -- before init -----------------------------------------------------------------------
    def synthetic_spec(self) -> synthetic.SyntheticSpec:
        d, e = self.cfg.data, self.cfg.encoders
        return synthetic.SyntheticSpec(
            format=d.format,
            train_samples=d.synthetic_train_samples,
            val_samples=d.synthetic_val_samples,
            samples_per_shard=d.synthetic_samples_per_shard,
            classes=d.synthetic_classes,
            latent_channels=d.latent_channels,
            latent_size=d.latent_size,
            t5_tokens=e.t5_max_length,
            t5_dim=d.t5_dim,
            clip_dim=d.clip_dim,
            image_size=d.image_size,
            latent_shift=e.latent_shift,
            latent_scale=e.latent_scale,
            seed=d.synthetic_seed,
        )

    def synthetic_data(self, root: Path) -> SyntheticData:
        d = self.cfg.data
        if (d.synthetic_train_samples, d.synthetic_val_samples) != (
            d.train_samples,
            d.eval_samples,
        ):
            raise UsageError(
                f"synthetic data has {d.synthetic_train_samples} training / "
                f"{d.synthetic_val_samples} validation samples but data.train_samples="
                f"{d.train_samples}, data.eval_samples={d.eval_samples}: set them consistently"
            )
        return synthetic.synthetic_data(root, self.name, self.synthetic_spec())

    def check_data_dir(self, root: Path) -> None:
        d = self.cfg.data
        dc.check_layout(root, d.train_dir, d.val_dir, not self.raw, d.empty_encodings_dir)

    def shapes(self) -> dc.Shapes:
        d = self.cfg.data
        return dc.Shapes(
            d.latent_channels, d.latent_size, self.cfg.encoders.t5_max_length, d.t5_dim, d.clip_dim
        )

    # -- init --------------------------------------------------------------------------------
    def model_device(self) -> torch.device:
        """The meta device for --log-only (11.9B fp32 weights are 48 GB), else the run's."""
        return torch.device("meta") if self.ctx.log_only else self.ctx.device

    def build_model(self) -> nn.Module:
        with self.model_device():
            model = MMDiT(self.cfg.model, checkpoint_blocks=self.cfg.activation_checkpointing)
        if self.raw and not self.ctx.log_only:
            self._build_encoders()
        return model

    def _build_encoders(self) -> None:
        from mlperf_submit.benchmarks.flux1.encoders import CaptionTokenizer, FrozenEncoders

        d, e = self.cfg.data, self.cfg.encoders
        self.tokenize = CaptionTokenizer.load(e)
        self.encoders = FrozenEncoders.load(e, self.ctx.device)
        self.encoders.check(d.t5_dim, d.clip_dim, d.latent_channels)
        t5, clip = self.encoders.empty_caption(self.tokenize)
        self._empty = (t5.cpu(), clip.cpu())

    def build_optimizer(self, model: nn.Module):
        o, d = self.cfg.optim, self.cfg.data
        opt = build_adamw(model, o, self.model_device(), fused=self.cfg.loop.fused_optimizer)
        sched = WarmupConstantLR(opt, warmup_steps=o.warmup_steps)
        # The evaluation plan in effect: blocks() follows it, hyperparameters() logs it.
        self.schedule = schedule.EvalSchedule(
            every=d.eval_every,
            global_batch=self.global_batch_size(),
            budget=d.max_samples,
            rule=schedule.interval_rule(self.ctx.ruleset or self.default_ruleset()),
        )
        return opt, sched

    def hyperparameters(self, optimizer, scheduler) -> dict[str, Any]:
        opt = adamw_values(optimizer)
        sched = attr_values(scheduler, {"opt_learning_rate_warmup_steps": "warmup_steps"})
        return {
            **opt,
            **sched,
            "opt_learning_rate_decay_schedule": SCHEDULE,
            "evaluation_frequency": self.schedule.evaluation_frequency,
        }

    def global_batch_size(self) -> int:
        return self.cfg.data.global_batch_size

    def _random_batch(self, n: int, seed: int, evaluation: bool) -> dict:
        g = torch.Generator().manual_seed(seed)
        d, e = self.cfg.data, self.cfg.encoders
        latent = (n, d.latent_channels, d.latent_size, d.latent_size)
        batch = {
            "noise": torch.randn(latent, generator=g),
            "eps": torch.randn(latent, generator=g),
            "t": torch.rand(n, generator=g),
            "drop": torch.rand(n, generator=g) < d.cfg_drop_prob,
        }
        if evaluation:
            batch["k"] = torch.randint(0, EVAL_TIMESTEPS, (n,), generator=g)
            batch["t"] = batch["k"] / EVAL_TIMESTEPS
        if self.raw:
            size = d.image_size
            batch["image"] = torch.randint(0, 256, (n, 3, size, size), generator=g).byte()
            batch["t5_tokens"] = torch.randint(0, 8, (n, e.t5_max_length), generator=g)
            batch["clip_tokens"] = torch.randint(0, 8, (n, e.clip_max_length), generator=g)
        else:
            batch["mean"] = torch.randn(latent, generator=g)
            batch["logvar"] = torch.full(latent, -4.0)
            batch["t5"] = torch.randn(n, e.t5_max_length, d.t5_dim, generator=g).to(dc.TEXT_DTYPE)
            batch["clip"] = torch.randn(n, d.clip_dim, generator=g).to(dc.TEXT_DTYPE)
        return batch

    def warmup_batch(self) -> Any:
        return self._random_batch(self.local_batch, 0, evaluation=False)

    def eval_warmup_batch(self) -> Any:
        return self._random_batch(self.cfg.data.eval_batch_size, 1, evaluation=True)

    def prepare_pipeline(self) -> None:
        import webdataset  # noqa: F401 - imported inside init, not at the first read

        if self.raw and self.loader_kind() == "dali":
            from mlperf_submit.benchmarks.flux1 import data_dali

            data_dali.import_dali()

    def loader_kind(self) -> str:
        kind = self.cfg.data.loader
        if kind == "auto":
            from mlperf_submit.benchmarks.flux1 import data_dali

            kind = "dali" if data_dali.available() else "torch"
        return kind

    # -- run ---------------------------------------------------------------------------------
    def build_data(self) -> DataSplits:
        from mlperf_submit.benchmarks.flux1.data_torch import FluxSplits, SampleReader, ShardStream

        d, ctx = self.cfg.data, self.ctx
        root = self.data_root()
        self.check_data_dir(root)
        if not self.raw:
            self._empty = dc.read_empty_encodings(root / d.empty_encodings_dir, self.shapes())
        dali = self.raw and self.loader_kind() == "dali"
        reader = SampleReader(
            format=d.format,
            shapes=self.shapes(),
            # Per-sample draws must not depend on the rank that reads the sample: rank-free.
            seed=derive_seed(ctx.seed, 0, "data"),
            drop_prob=d.cfg_drop_prob,
            timesteps=EVAL_TIMESTEPS,
            image_size=d.image_size,
            tokenize=self.tokenize,
            defer_decode=dali,
        )
        common = {"rank": ctx.rank, "world": ctx.world_size}
        train = ShardStream(
            dc.list_shards(root / d.train_dir),
            reader,
            batch_size=self.local_batch,
            train=True,
            shuffle_buffer=d.shuffle_buffer,
            **common,
        )
        val = ShardStream(
            dc.list_shards(root / d.val_dir),
            reader,
            batch_size=d.eval_batch_size,
            train=False,
            **common,
        )
        stage = None
        if dali:
            from mlperf_submit.benchmarks.flux1.data_dali import DaliImageStage

            stage = DaliImageStage(d.image_size, threads=max(1, d.workers), device=ctx.device)
        return FluxSplits(
            train,
            val,
            train_samples=d.train_samples,
            eval_samples=d.eval_samples,
            workers=d.workers,
            pin=ctx.device.type == "cuda",
            image_stage=stage,
        )

    def blocks(self) -> Iterator[Block]:
        start = 0
        for point in self.schedule.points():
            yield Block(start, point - start)
            start = point

    def _conditioning(self, batch: dict):
        """(x0, t5, clip) on the device: the normalised latent drawn from the posterior with the
        sample's own eps, and the text encodings with dropped captions made empty."""
        dev = self.ctx.device
        if self.raw:
            mean, logvar = self.encoders.encode_images(batch["image"])
            t5, clip = self.encoders.encode_text(batch["t5_tokens"], batch["clip_tokens"])
        else:
            mean = batch["mean"].to(dev, non_blocking=True).float()
            logvar = batch["logvar"].to(dev, non_blocking=True).float()
            t5 = batch["t5"].to(dev, non_blocking=True).float()
            clip = batch["clip"].to(dev, non_blocking=True).float()
        e = self.cfg.encoders
        z = flow.posterior_sample(mean, logvar, batch["eps"].to(dev, non_blocking=True))
        x0 = (z - e.latent_shift) * e.latent_scale
        # No `if drop.any()`: that would make the host wait for the device at every step.
        drop = batch["drop"].to(dev, non_blocking=True)
        empty_t5, empty_clip = self._empty_on(dev)
        t5 = torch.where(drop[:, None, None], empty_t5, t5)
        clip = torch.where(drop[:, None], empty_clip, clip)
        return x0, t5, clip

    def _empty_on(self, dev: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """The empty caption's encodings on ``dev`` (copied once, not at every step)."""
        cached = self._empty_cache
        if cached is None or cached[0] is not self._empty or cached[1] != dev:
            moved = tuple(x.to(dev).float() for x in self._empty)
            self._empty_cache = (self._empty, dev, moved)
        return self._empty_cache[2]

    def _per_sample(self, model: nn.Module, batch: dict) -> torch.Tensor:
        dev = self.ctx.device
        x0, t5, clip = self._conditioning(batch)
        noise = batch["noise"].to(dev, non_blocking=True)
        t = batch["t"].to(dev, non_blocking=True).float()
        return flow.velocity_loss(model, x0, t5, clip, noise, t)

    def loss(self, model: nn.Module, batch) -> tuple[torch.Tensor, int]:
        per = self._per_sample(model, batch)
        return per.mean(), per.shape[0]

    def eval_sums(self, model: nn.Module, batch) -> torch.Tensor:
        return flow.eval_sums(self._per_sample(model, batch), batch["k"], EVAL_TIMESTEPS)

    def metric(self, sums: torch.Tensor) -> float:
        """The validation loss; the evaluation must have seen every validation sample once."""
        seen = int(round(float(sums[EVAL_TIMESTEPS:].sum())))
        want = self.cfg.data.eval_samples
        if seen != want:
            raise InputError(
                f"{self.data_root() / self.cfg.data.val_dir}: the evaluation read {seen} "
                f"validation samples but data.eval_samples={want}; set data.eval_samples={seen}"
            )
        try:
            return flow.timestep_mean(sums, EVAL_TIMESTEPS)
        except ValueError as err:
            raise InputError(f"{self.data_root() / self.cfg.data.val_dir}: {err}") from None
