"""The MLPerf recommendation benchmark of rounds 3.0.0-6.0.0: DLRM-DCNv2 on Criteo 1TB multi-hot.

TorchRec's ``DLRM_DCN`` (``model.py``), Adagrad on both parts (torch's on the MLPs, FBGEMM's
fused EXACT_ADAGRAD on the tables; ``families/recsys``), the reference's data order and
multi-hot expansion (``data_criteo.py``). 10 runs; progress unit ``epoch_num``, logged as the
epoch fraction at each evaluation: every ``floor(train_samples / (global batch x 20))`` steps,
as the reference's ``--validation_freq_within_epoch``; AUC over the whole validation set
(89,137,319 rows), target 0.80275.

    mlperf-submit train dlrm_dcnv2 --preset tiny --seed 1 --log run.log --synthetic /tmp/syn
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mlperf_submit.benchmarks.common.interface import Block, DataSplits, RunContext
from mlperf_submit.benchmarks.common.synthetic_data import SyntheticData
from mlperf_submit.benchmarks.dlrm_dcnv2 import data_criteo, synthetic
from mlperf_submit.benchmarks.dlrm_dcnv2.config import PRESETS, DCNv2Config, closed_problems
from mlperf_submit.benchmarks.dlrm_dcnv2.docs import DOCS
from mlperf_submit.benchmarks.dlrm_dcnv2.model import build_dlrm, to_kjt
from mlperf_submit.benchmarks.dlrm_dcnv2.optim import LRPolicy
from mlperf_submit.benchmarks.families.recsys.benchmark import RecsysBenchmark
from mlperf_submit.benchmarks.families.recsys.optim import Adagrad, RecOptimizer, table_settings
from mlperf_submit.benchmarks.families.recsys.tables import TableRule, import_torchrec
from mlperf_submit.errors import InputError, UsageError
from mlperf_submit.logging import attr_values, optimizer_name, optimizer_values


class DLRMDCNv2Benchmark(RecsysBenchmark):
    name = "dlrm_dcnv2"
    rounds = ("3.0.0", "3.1.0", "4.0.0", "4.1.0", "5.0.0", "5.1.0", "6.0.0")
    progress_unit = "epoch_num"
    blocks_in_samples = True
    docs = DOCS
    config_class = DCNv2Config
    presets = PRESETS

    cfg: DCNv2Config

    def __init__(self, cfg: DCNv2Config, ctx: RunContext) -> None:
        super().__init__(cfg, ctx)
        self._steps_per_epoch = 0

    @classmethod
    def closed_problems(cls, cfg: DCNv2Config) -> list[str]:
        return super().closed_problems(cfg) + closed_problems(cfg)

    # -- before init -----------------------------------------------------------------------
    def synthetic_spec(self) -> synthetic.SyntheticSpec:
        d = self.cfg.data
        return synthetic.SyntheticSpec(
            days=d.days,
            rows_per_day=d.synthetic_rows_per_day,
            table_sizes=tuple(self.cfg.model.num_embeddings_per_feature),
            multi_hot_sizes=tuple(d.multi_hot_sizes),
            sparse_format=d.sparse_format,
            signal=d.synthetic_signal,
            seed=d.synthetic_seed,
        )

    def synthetic_data(self, root: Path) -> SyntheticData:
        d = self.cfg.data
        train, val = (
            (d.days - 1) * d.synthetic_rows_per_day,
            math.ceil(d.synthetic_rows_per_day / 2),
        )
        if (train, val) != (d.train_samples, d.eval_samples):
            raise UsageError(
                f"synthetic data has {train} training and {val} validation rows but "
                f"data.train_samples={d.train_samples}, data.eval_samples={d.eval_samples}: "
                "set them consistently"
            )
        return synthetic.synthetic_data(root, self.name, self.synthetic_spec())

    def check_data_dir(self, root: Path) -> None:
        data_criteo.check_layout(root, self.cfg.data.days, self.cfg.data.sparse_format)

    # -- init --------------------------------------------------------------------------------
    def local_batch(self) -> int:
        return self.cfg.data.batch_size

    def eval_samples(self) -> int:
        return self.cfg.data.eval_samples

    def sharding(self) -> str:
        return self.cfg.schedule.sharding

    def build_model(self) -> nn.Module:
        import_torchrec()
        return build_dlrm(
            self.cfg.model, tables_device=self.tables_device(), dense_device=self.dense_device()
        )

    def table_rule(self) -> TableRule:
        o = self.cfg.optim
        return TableRule("adagrad", lr=o.lr, eps=o.eps, weight_decay=o.weight_decay)

    def dense_optimizer(self, params) -> torch.optim.Optimizer:
        o = self.cfg.optim
        return Adagrad(
            params,
            lr=o.lr,
            lr_decay=o.lr_decay,
            weight_decay=o.weight_decay,
            initial_accumulator_value=o.initial_accumulator_value,
            eps=o.eps,
        )

    def scheduler(self, optimizer: RecOptimizer):
        o = self.cfg.optim
        return LRPolicy(
            optimizer,
            warmup_steps=o.warmup_steps,
            decay_start_step=o.decay_start_step,
            decay_steps=o.decay_steps,
        )

    def hyperparameters(self, optimizer: RecOptimizer, scheduler) -> dict[str, Any]:
        dense = optimizer_values(
            optimizer.dense,
            {
                "opt_base_learning_rate": "base_lr",
                "opt_adagrad_learning_rate_decay": "lr_decay",
                "opt_weight_decay": "weight_decay",
                "opt_adagrad_initial_accumulator_value": "initial_accumulator_value",
                "opt_adagrad_epsilon": "eps",
            },
        )
        tables = table_settings(optimizer)
        name = optimizer_name(optimizer.dense)
        # One opt_name for both parts, as the reference logs it: they must be the same rule.
        # FBGEMM keeps its learning rate in float32: equal to that precision.
        same = (
            tables.name == name
            and math.isclose(tables.base_lr, dense["opt_base_learning_rate"], rel_tol=1e-6)
            and tables.eps == dense["opt_adagrad_epsilon"]
            and tables.weight_decay == dense["opt_weight_decay"]
        )
        if not same:
            raise UsageError(
                f"the tables' optimizer ({tables}) differs from the dense {name} ({dense}): "
                "dlrm_dcnv2 logs one Adagrad for both"
            )
        sched = attr_values(
            scheduler,
            {
                "opt_learning_rate_warmup_steps": "warmup_steps",
                "opt_learning_rate_decay_start_step": "decay_start_step",
                "opt_learning_rate_decay_steps": "decay_steps",
            },
        )
        return {"opt_name": name, **dense, **sched}

    def global_batch_size(self) -> int:
        return self.cfg.data.batch_size * self.ctx.world_size

    def random_batch(self, rows: int, seed: int):
        """Random tensors of the real batch layout; ``index`` counts 0 .. rows-1 (positions
        in the evaluation set, used by the exact AUC)."""
        d, m = self.cfg.data, self.cfg.model
        g = torch.Generator().manual_seed(seed)
        ids = torch.cat(
            [
                torch.randint(0, n, (rows, k), generator=g)
                for n, k in zip(m.num_embeddings_per_feature, d.multi_hot_sizes, strict=True)
            ],
            dim=1,
        )
        return (
            torch.rand(rows, data_criteo.DENSE, generator=g) * 5,
            ids,
            torch.randint(0, 2, (rows,), generator=g).float(),
            torch.arange(rows) % self.eval_samples(),
        )

    def warmup_batch(self) -> Any:
        return self.random_batch(self.cfg.data.batch_size, 0)

    def eval_warmup_batch(self) -> Any:
        n = min(self.cfg.data.eval_batch_size, self.eval_samples())
        return self.random_batch(n, 1)

    # -- run ---------------------------------------------------------------------------------
    def build_data(self) -> DataSplits:
        d, m, ctx = self.cfg.data, self.cfg.model, self.ctx
        root = self.data_root()
        data_criteo.check_layout(root, d.days, d.sparse_format)
        data = data_criteo.CriteoSplits(
            root,
            days=d.days,
            sparse_format=d.sparse_format,
            table_sizes=m.num_embeddings_per_feature,
            multi_hot_sizes=d.multi_hot_sizes,
            distribution=d.multi_hot_distribution,
            batch_size=d.batch_size,
            eval_batch_size=d.eval_batch_size,
            rank=ctx.rank,
            world=ctx.world_size,
        )
        for what, found, want in (
            ("training", data.train_samples, d.train_samples),
            ("validation", data.eval_samples, d.eval_samples),
        ):
            if found != want:
                key = "train_samples" if what == "training" else "eval_samples"
                raise InputError(
                    f"{root}: {found} {what} rows, but the run was laid out for data.{key}="
                    f"{want}; pass data.{key}={found}"
                )
        self._steps_per_epoch = data.steps_per_epoch
        return data

    def eval_interval_steps(self) -> int:
        """The reference's --validation_freq_within_epoch: floor(train / (GBS x evals))."""
        per = self.cfg.data.train_samples // (
            self.global_batch_size() * self.cfg.schedule.evals_per_epoch
        )
        return max(1, per)

    def blocks(self) -> Iterator[Block]:
        g, every = self.global_batch_size(), self.eval_interval_steps()
        steps = self.cfg.data.train_samples // g * self.cfg.schedule.max_epochs
        for k in range(steps // every):
            yield Block(k * every * g, every * g)

    def epoch_progress(self, samples: int) -> float:
        """Steps trained / steps per epoch, as the reference's ``epoch + it / len(loader)``."""
        per_epoch = self._steps_per_epoch or self.cfg.data.train_samples // self.global_batch_size()
        return (samples // self.global_batch_size()) / per_epoch

    def _on_device(self, batch):
        dense, ids, labels, index = batch
        dev = self.ctx.device
        kjt = to_kjt(ids.to(dev, non_blocking=True), self.cfg.data.multi_hot_sizes)
        return dense.to(dev, non_blocking=True), kjt, labels.to(dev, non_blocking=True), index

    def loss(self, model: nn.Module, batch) -> tuple[torch.Tensor, int]:
        dense, kjt, labels, _ = self._on_device(batch)
        logits = model(dense, kjt).squeeze(-1)
        return F.binary_cross_entropy_with_logits(logits.float(), labels), labels.shape[0]

    def logits(self, model: nn.Module, batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(logits, labels, positions in the evaluation set) of one batch."""
        dense, kjt, labels, index = self._on_device(batch)
        return model(dense, kjt).squeeze(-1), labels, index
