"""What the two TorchRec benchmarks share in the Benchmark contract: placing the tables, the
two-part optimizer, the exact AUC, and the table placement chosen for the run.

A subclass builds its model with plain TorchRec modules in ``build_model`` (tables on the meta
device when they will be sharded or the run is ``--log-only``: the closed tables do not fit a
host) and says what its tables' rule is (``table_rule``) and how its dense optimizer is made
(``dense_optimizer``). ``parallelize`` (the Trainer's model-parallel hook) places the tables:

- a process group (``world_size > 1``): ``sharded`` -- TorchRec's ``DistributedModelParallel``
  with the planner's plan (``schedule.sharding`` constrains it), the dense part in DDP;
- one process: ``fused`` -- FBGEMM's fused tables, the weights ``build_model`` drew -- where
  TorchRec has them: ``FusedEmbeddingCollection`` (dlrmv4) is CUDA-only in TorchRec 1.8
  ("only supported for device in [CUDA, meta]"), so one CPU process steps its tables instead;
- ``loop.gradient_accumulation_steps > 1``: ``stepped`` (one process only; ``tables.py``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from mlperf_submit.benchmarks.common.interface import Benchmark
from mlperf_submit.benchmarks.families.recsys.auc import AUCSums
from mlperf_submit.benchmarks.families.recsys.optim import RecOptimizer
from mlperf_submit.benchmarks.families.recsys.tables import (
    TableRule,
    dense_parameters,
    place_tables,
)
from mlperf_submit.errors import UsageError


class RecsysBenchmark(Benchmark):
    """Base of dlrm_dcnv2 and dlrmv4 (module doc); AUC, higher is better."""

    higher_is_better = True
    metric_label = "AUC"

    def __init__(self, cfg: Any, ctx) -> None:
        super().__init__(cfg, ctx)
        self._placed: tuple[int, Any] | None = None  # (id of the placed model, tables' opt)
        self._auc: AUCSums | None = None

    # -- what a subclass says ------------------------------------------------------------------
    def table_rule(self) -> TableRule:
        raise NotImplementedError

    def dense_optimizer(self, params: list[nn.Parameter]) -> torch.optim.Optimizer:
        raise NotImplementedError

    def local_batch(self) -> int:
        raise NotImplementedError

    def eval_samples(self) -> int:
        """The evaluation set's size the config declares (the AUC sums are sized for it)."""
        raise NotImplementedError

    def sharding(self) -> str:
        return "auto"

    fused_on_cpu: bool = True
    """Whether TorchRec fuses this model's tables in one CPU process (module doc)."""

    # -- placement -----------------------------------------------------------------------------
    def placement(self) -> str:
        """fused, sharded or stepped (module doc)."""
        sharded = self.ctx.world_size > 1 and torch.distributed.is_initialized()
        if self.cfg.loop.gradient_accumulation_steps > 1:
            if sharded:
                raise UsageError(
                    "loop.gradient_accumulation_steps > 1 with sharded tables: FBGEMM's fused "
                    "optimizer updates the tables inside every backward (the reference logs 1); "
                    "use 1, or one process"
                )
            return "stepped"
        if sharded:
            return "sharded"
        on_cpu = self.ctx.device.type == "cpu" and not self.ctx.log_only
        return "stepped" if on_cpu and not self.fused_on_cpu else "fused"

    def tables_device(self) -> torch.device:
        if self.ctx.log_only or self.placement() == "sharded":
            return torch.device("meta")
        return self.ctx.device

    def dense_device(self) -> torch.device:
        return torch.device("meta") if self.ctx.log_only else self.ctx.device

    def parallelize(self, model: nn.Module) -> nn.Module:
        return self._place(model)

    def _place(self, model: nn.Module) -> nn.Module:
        if self._placed is not None and self._placed[0] == id(model):
            return model
        device = torch.device("meta") if self.ctx.log_only else self.ctx.device
        placed, tables_opt = place_tables(
            model,
            self.table_rule(),
            kind=self.placement(),
            device=device,
            sharding=self.sharding(),
            local_batch=self.local_batch(),
        )
        self._placed = (id(placed), tables_opt)
        return placed

    def build_optimizer(self, model: nn.Module):
        model = self._place(model)
        tables_opt = self._placed[1]
        dense = self.dense_optimizer(dense_parameters(model, tables_opt))
        opt = RecOptimizer(dense, tables_opt, fused=self.placement() != "stepped")
        return opt, self.scheduler(opt)

    def scheduler(self, optimizer: RecOptimizer):
        raise NotImplementedError

    # -- evaluation ----------------------------------------------------------------------------
    def auc_sums(self) -> AUCSums:
        """The AUC sums of the evaluation set (sized by the config until ``use_eval_set``)."""
        if self._auc is None:
            self._auc = AUCSums(self.eval_samples())
        return self._auc

    def use_eval_set(self, n: int) -> None:
        """Size the AUC sums for the ``n`` samples the opened evaluation set holds."""
        if self._auc is None or self._auc.n != n:
            self._auc = AUCSums(n)

    def logits(self, model: nn.Module, batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(logits, 0/1 labels, positions in the evaluation set) of one evaluation batch."""
        raise NotImplementedError

    def eval_sums(self, model: nn.Module, batch) -> torch.Tensor:
        return self.auc_sums().batch(*self.logits(model, batch))

    def metric(self, sums: torch.Tensor) -> float:
        return self.auc_sums().auc(sums)
