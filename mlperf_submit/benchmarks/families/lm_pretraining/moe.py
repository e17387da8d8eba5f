"""What an LLM pretraining benchmark with a mixture-of-experts model adds to the family.

    class GptOss20B(MoEPretraining, LMPretrainingBenchmark): ...          # from scratch
    class DeepSeekV3(MoEPretraining, ContinuedPretrainingBenchmark): ...  # from a checkpoint

* expert parallelism (``model.ffn.expert_parallel``): checked against the world size before
  anything is built; the sharded experts are kept out of DDP and their gradients reduced as DDP
  would (``decoder/moe_parallel.py``); gradient clipping counts every expert once;
* DeepSeek-V3's routing bias is moved after every optimizer step;
* ``parallelism()`` reports the expert-parallel degree the model was built with (the 6.1
  ``expert_parallelism`` key), and ``moe_aux_loss_coeff`` is read back from the routers.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from torch import nn

from mlperf_submit.benchmarks.common import optim as common_optim
from mlperf_submit.benchmarks.common.optim import WarmupCosineLR
from mlperf_submit.benchmarks.families.decoder import moe_parallel
from mlperf_submit.benchmarks.families.decoder.moe import MoE
from mlperf_submit.benchmarks.families.decoder.moe_config import MoEConfig
from mlperf_submit.benchmarks.families.lm_pretraining.optim import param_groups
from mlperf_submit.errors import UsageError


class MoEPretraining:
    """Mixin for ``LMPretrainingBenchmark`` subclasses whose ``model.ffn`` is a ``MoEConfig``."""

    def __init__(self, cfg, ctx) -> None:
        super().__init__(cfg, ctx)
        ffn = cfg.model.ffn
        if not isinstance(ffn, MoEConfig):
            raise UsageError(f"{self.name}: model.ffn must be a mixture of experts (MoEConfig)")
        ep, world = ffn.expert_parallel, ctx.world_size if ctx else 1
        # --log-only describes a run (possibly of many nodes) from one process: no check.
        if ep > 1 and world % ep and not (ctx and ctx.log_only):
            raise UsageError(
                f"model.ffn.expert_parallel={ep} does not divide the {world} rank(s): run a "
                f"multiple of {ep} ranks or lower model.ffn.expert_parallel"
            )
        if ep > 1 and cfg.loop.data_parallel == "fsdp2":
            raise UsageError(
                "model.ffn.expert_parallel > 1 with loop.data_parallel=fsdp2: FSDP2 would shard "
                "the experts of different ranks as one tensor; use loop.data_parallel=ddp"
            )
        self._model: nn.Module | None = None

    @classmethod
    def closed_problems(cls, cfg) -> list[str]:
        # The expert-parallel degree is how a system runs the model, not its shape.
        ffn, ref = cfg.model.ffn, cls.closed_rules.model.ffn
        if isinstance(ffn, MoEConfig) and isinstance(ref, MoEConfig):
            model = replace(cfg.model, ffn=replace(ffn, expert_parallel=ref.expert_parallel))
            cfg = replace(cfg, model=model)
        return super().closed_problems(cfg)

    def build_model(self) -> nn.Module:
        model = super().build_model()
        moe_parallel.prepare_expert_parallel(model)
        self._model = model
        return model

    def build_optimizer(self, model: nn.Module):
        if moe_parallel.sharded_expert_params(model):
            o = self.cfg.optim
            opt = common_optim.adamw(
                param_groups(model, o.weight_decay),
                lr=o.base_lr,
                betas=(o.beta1, o.beta2),
                eps=o.eps,
                weight_decay=o.weight_decay,
                fused=self.cfg.loop.fused_optimizer,
                device=self.model_device(),
            )
            moe_parallel.add_expert_parallel_clipping(opt, model, o.grad_clip)
            sched = WarmupCosineLR(
                opt, warmup_steps=o.warmup_steps, max_steps=o.max_steps, end_lr=o.end_lr
            )
        else:
            opt, sched = super().build_optimizer(model)
        moe_parallel.attach_expert_bias_update(opt, model)
        return opt, sched

    def _routers(self) -> list[MoE]:
        return [m for m in self._model.modules() if isinstance(m, MoE)] if self._model else []

    def parallelism(self) -> dict[str, int]:
        degree = (
            moe_parallel.expert_parallel_degree(self._model)
            if self._model is not None
            else self.cfg.model.ffn.expert_parallel
        )
        return {**super().parallelism(), "expert_parallelism": degree}

    def hyperparameters(self, optimizer, scheduler) -> dict[str, Any]:
        out = super().hyperparameters(optimizer, scheduler)
        layers = self._routers()
        if layers:  # every MoE layer has the same router config
            c = layers[0].cfg
            out["moe_aux_loss_coeff"] = c.aux_loss_coeff if c.balance != "none" else 0.0
        return out
