"""The MLPerf image-classification benchmark: ResNet-50 v1.5 on ImageNet, top-1 >= 75.9 %.

Plugs ResNet into the common Trainer (see ``common/interface.py`` for the call order). Last
ruleset with resnet: 4.0.0 (so ``submission_status`` is logged); 5 runs; progress unit epochs;
evaluation every 4 epochs with an offset of 0-3; the closed rules fix the LARS/SGD keys checked
by ``training_3.1.0/closed_resnet_{lars,sgd}.yaml``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mlperf_submit.benchmarks.common import optim as common_optim
from mlperf_submit.benchmarks.common.interface import Benchmark, Block, DataSplits
from mlperf_submit.benchmarks.common.synthetic_data import SyntheticData
from mlperf_submit.benchmarks.resnet import data_common, synthetic
from mlperf_submit.benchmarks.resnet.config import PRESETS, ResNetConfig, closed_problems
from mlperf_submit.benchmarks.resnet.docs import DOCS
from mlperf_submit.benchmarks.resnet.model import ResNetSpec, build_resnet
from mlperf_submit.benchmarks.resnet.optim import LARS, PolyWarmupLR, param_groups
from mlperf_submit.errors import InputError
from mlperf_submit.launch.distributed.seeding import derive_seed
from mlperf_submit.logging import attr_values, optimizer_name, optimizer_values


class ResNetBenchmark(Benchmark):
    name = "resnet"
    rounds = ("3.0.0", "3.1.0", "4.0.0")
    progress_unit = "epoch_num"
    metric_label = "top-1 accuracy"
    docs = DOCS
    config_class = ResNetConfig
    presets = PRESETS
    # The BN span is the per-GPU batch of the configuration (no optimizer holds it).
    config_hyperparameters = frozenset({"model_bn_span"})

    cfg: ResNetConfig

    @classmethod
    def closed_problems(cls, cfg: ResNetConfig) -> list[str]:
        return super().closed_problems(cfg) + closed_problems(cfg)

    # -- before init -----------------------------------------------------------------------
    def synthetic_spec(self) -> synthetic.SyntheticSpec:
        d = self.cfg.data
        return synthetic.SyntheticSpec(
            classes=d.synthetic_classes,
            train_per_class=d.synthetic_train_per_class,
            val_per_class=d.synthetic_val_per_class,
            image_size=d.synthetic_image_size,
            seed=d.synthetic_seed,
        )

    def synthetic_data(self, root: Path) -> SyntheticData:
        spec = self.synthetic_spec()
        if spec.classes * spec.train_per_class != self.cfg.data.train_samples:
            raise InputError(
                f"synthetic data has {spec.classes * spec.train_per_class} training images but "
                f"data.train_samples={self.cfg.data.train_samples}: set them consistently"
            )
        return synthetic.synthetic_data(root, self.name, spec)

    def check_data_dir(self, root: Path) -> None:
        data_common.check_layout(root)

    def loader_kind(self) -> str:
        from mlperf_submit.benchmarks.resnet import data_dali

        kind = self.cfg.data.loader
        if kind == "auto":
            kind = "dali" if data_dali.available() else "torch"
        return kind

    # -- init --------------------------------------------------------------------------------
    def build_model(self) -> nn.Module:
        m = self.cfg.model
        spec = ResNetSpec(layers=m.layers, width=m.width, num_classes=m.num_classes, stem=m.stem)
        model = build_resnet(spec).to(self.ctx.device)
        if self.ctx.device.type == "cuda":  # NHWC: what cuDNN's fast convolution kernels want
            model = model.to(memory_format=torch.channels_last)
        return model

    def steps_per_epoch(self) -> int:
        return max(1, self.cfg.data.train_samples // self.global_batch_size())

    def build_optimizer(self, model: nn.Module):
        o, dev = self.cfg.optim, self.ctx.device
        groups = param_groups(model, o.weight_decay)
        if o.name == "lars":
            opt = LARS(
                groups,
                lr=o.base_lr,
                momentum=o.momentum,
                weight_decay=o.weight_decay,
                eta=o.lars_eta,
                epsilon=o.lars_epsilon,
            )
        else:
            opt = common_optim.sgd(
                groups,
                lr=o.base_lr,
                momentum=o.momentum,
                weight_decay=o.weight_decay,
                fused=self.cfg.loop.fused_optimizer,
                device=dev,
            )
        sched = PolyWarmupLR(
            opt,
            steps_per_epoch=self.steps_per_epoch(),
            warmup_epochs=o.warmup_epochs,
            decay_epochs=o.decay_epochs,
            end_lr=o.end_lr,
            power=o.poly_power,
        )
        return opt, sched

    def hyperparameters(self, optimizer, scheduler) -> dict[str, Any]:
        name = optimizer_name(optimizer)
        # Group 0 holds the weights: its weight decay is the hyperparameter (group 1, BN and
        # biases, is exempt by design, as in the reference).
        sched = attr_values(
            scheduler,
            {
                "end": "end_lr",
                "power": "power",
                "warmup": "warmup_epochs",
                "decay": "decay_epochs",
            },
        )
        opt = optimizer_values(
            optimizer,
            {"base": "base_lr", "momentum": "momentum", "wd": "weight_decay"},
            group=0,
        )
        out: dict[str, Any] = {"opt_name": name}
        if name == "lars":
            out.update(
                lars_opt_base_learning_rate=opt["base"],
                lars_opt_end_learning_rate=sched["end"],
                lars_opt_learning_rate_decay_poly_power=sched["power"],
                lars_opt_learning_rate_decay_steps=sched["decay"],
                lars_epsilon=optimizer.param_groups[0]["epsilon"],
                lars_opt_learning_rate_warmup_epochs=sched["warmup"],
                lars_opt_momentum=opt["momentum"],
                lars_opt_weight_decay=opt["wd"],
            )
        else:
            out.update(
                sgd_opt_base_learning_rate=opt["base"],
                sgd_opt_end_learning_rate=sched["end"],
                sgd_opt_learning_rate_decay_poly_power=sched["power"],
                sgd_opt_learning_rate_decay_steps=sched["decay"],
                sgd_opt_weight_decay=opt["wd"],
                sgd_opt_momentum=opt["momentum"],
                model_bn_span=self.cfg.data.batch_size,
                opt_learning_rate_warmup_epochs=sched["warmup"],
            )
        return out

    def global_batch_size(self) -> int:
        return self.cfg.data.batch_size * self.ctx.world_size

    def half_images(self) -> bool:
        """DALI hands fp16 images to a GPU run in reduced precision (the bf16/fp16 autocast
        casts them at the first convolution anyway: half the bytes through the pipeline)."""
        return (
            self.ctx.device.type == "cuda"
            and self.cfg.loop.precision != "fp32"
            and self.loader_kind() == "dali"
        )

    def warmup_batch(self) -> Any:
        # The real batches' dtype: a compiled model must not meet a new input dtype after
        # run_start (a recompile inside the timed run).
        d, g = self.cfg.data, torch.Generator().manual_seed(0)
        x = torch.randn(d.batch_size, 3, d.image_size, d.image_size, generator=g)
        y = torch.randint(0, self.cfg.model.num_classes, (d.batch_size,), generator=g)
        return (x.half() if self.half_images() else x), y

    def prepare_pipeline(self) -> None:
        if self.loader_kind() == "dali":
            from mlperf_submit.benchmarks.resnet import data_dali

            data_dali.import_dali()

    # -- run ---------------------------------------------------------------------------------
    def build_data(self) -> DataSplits:
        d, ctx = self.cfg.data, self.ctx
        root = self.data_root()
        classes = data_common.class_folders(root / "train")
        if not classes:
            raise InputError(f"{root / 'train'}: no class folders (expected train/<wnid>/*.JPEG)")
        val = data_common.class_folders(root / "val")
        data_common.check_same_classes(root / "val", val, classes)
        if len(classes) != self.cfg.model.num_classes:
            raise InputError(
                f"{root / 'train'}: {len(classes)} class folders but model.num_classes="
                f"{self.cfg.model.num_classes}; set model.num_classes={len(classes)}"
            )
        seed = derive_seed(ctx.seed, ctx.rank, "data")
        if self.loader_kind() == "dali":
            from mlperf_submit.benchmarks.resnet.data_dali import DaliImageNet

            data = DaliImageNet(
                root,
                image_size=d.image_size,
                batch_size=d.batch_size,
                eval_batch_size=d.eval_batch_size,
                min_area=d.min_crop_area,
                threads=d.workers,
                rank=ctx.rank,
                world=ctx.world_size,
                seed=seed,
                order_seed=derive_seed(ctx.seed, 0, "data-order"),
                device=ctx.device,
                half=self.half_images(),
            )
        else:
            from mlperf_submit.benchmarks.resnet.data_torch import TorchImageNet

            data = TorchImageNet(
                data_common.list_split(root, "train", classes),
                data_common.list_split(root, "val", classes),
                image_size=d.image_size,
                batch_size=d.batch_size,
                eval_batch_size=d.eval_batch_size,
                min_area=d.min_crop_area,
                workers=d.workers,
                rank=ctx.rank,
                world=ctx.world_size,
                # The epoch permutation must be the same on every rank: a rank-free seed.
                seed=derive_seed(ctx.seed, 0, "data-order"),
                pin_memory=ctx.device.type == "cuda",
            )
        if data.train_samples != d.train_samples:
            raise InputError(
                f"{root / 'train'}: {data.train_samples} training images, but the LR schedule "
                f"was laid out for data.train_samples={d.train_samples}; pass "
                f"data.train_samples={data.train_samples}"
            )
        return data

    def blocks(self) -> Iterator[Block]:
        s = self.cfg.schedule
        first = s.eval_offset if s.eval_offset > 0 else s.eval_every
        start = 0
        count = min(first, s.max_epochs)
        while start < s.max_epochs:
            yield Block(start, count)
            start += count
            count = min(s.eval_every, s.max_epochs - start)

    def _to_device(self, batch) -> tuple[torch.Tensor, torch.Tensor]:
        # DALI on a GPU: both already there, images already channels_last (no-ops). The
        # DataLoader: pinned host memory, so both copies are asynchronous.
        x, y = batch
        dev = self.ctx.device
        x = x.to(dev, non_blocking=True)
        if dev.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
        return x, torch.as_tensor(y).to(dev, non_blocking=True)

    def loss(self, model: nn.Module, batch) -> tuple[torch.Tensor, int]:
        x, y = self._to_device(batch)
        logits = model(x)
        return F.cross_entropy(logits, y, label_smoothing=self.cfg.optim.label_smoothing), len(y)

    def eval_sums(self, model: nn.Module, batch) -> torch.Tensor:
        x, y = self._to_device(batch)
        correct = (model(x).argmax(1) == y).sum()
        return torch.stack(
            [correct.double(), torch.tensor(float(len(y)), device=y.device).double()]
        )

    def metric(self, sums: torch.Tensor) -> float:
        correct, total = float(sums[0]), float(sums[1])
        return correct / total if total else 0.0
