"""The mixture-of-experts feed-forward part: its config (the module is in ``moe.py``).

One config covers the two MoE benchmarks' routers (Megatron-Core's, which both MLPerf
references run)::

    GPT-OSS 20B (MLPerf reference, Primus):   MoEConfig(n_experts=32, top_k=4, expert_hidden=2880)
        softmax over the k largest logits, no balancing loss, dropless
    DeepSeek-V3 671B (Megatron-Bridge):       MoEConfig(n_experts=256, top_k=8, expert_hidden=2048,
        n_shared_experts=1, score="sigmoid", norm_topk=True, route_scale=2.5, n_groups=8,
        topk_groups=4, expert_bias=True, balance="seq_aux_loss", aux_loss_coeff=0.01,
        dense_layers=3, dense_hidden=18432)

``expert_parallel`` = E shards the experts over groups of E consecutive ranks (each holds
``n_experts / E`` of them; tokens travel by all-to-all, ``moe.py``); 1 = every rank holds all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from torch import nn

from mlperf_submit.benchmarks.families.decoder.config import FeedForwardPart
from mlperf_submit.errors import UsageError

if TYPE_CHECKING:
    from mlperf_submit.benchmarks.families.decoder.config import DecoderConfig


@dataclass(frozen=True)
class MoEConfig(FeedForwardPart):
    """Routed SwiGLU experts (optionally plus always-on shared experts)."""

    n_experts: int = 32
    """Routed experts per MoE layer."""
    top_k: int = 4
    """Experts each token is sent to."""
    expert_hidden: int = 2880
    """Hidden width of one expert's SwiGLU."""
    n_shared_experts: int = 0
    """Shared experts every token passes through, as one SwiGLU of n * expert_hidden
    (DeepSeekMoE: 1)."""
    score: Literal["softmax", "sigmoid"] = "softmax"
    """Router score function. softmax: the k weights are a softmax (see pre_softmax). sigmoid:
    independent sigmoid scores (DeepSeek-V3)."""
    pre_softmax: bool = False
    """softmax only: True = softmax over all experts, then the k largest; False = the k largest
    logits, then a softmax over those k (GPT-OSS, Mixtral)."""
    norm_topk: bool = False
    """sigmoid only: divide the k chosen scores by their sum (DeepSeek-V3 norm_topk_prob)."""
    route_scale: float = 1.0
    """Multiplies the routing weights (DeepSeek-V3 routed_scaling_factor 2.5)."""
    n_groups: int = 1
    """Group-limited routing: experts in n_groups equal groups; a token may only pick experts in
    its topk_groups best groups, a group scored by the sum of its two best scores (1 = off)."""
    topk_groups: int = 1
    balance: Literal["none", "aux_loss", "seq_aux_loss"] = "none"
    """Load-balancing loss (Megatron's moe_router_load_balancing_type): aux_loss = Switch/GShard
    over the micro-batch's tokens, seq_aux_loss = DeepSeek-V3's per-sequence loss."""
    aux_loss_coeff: float = 0.0
    """Its weight in the training loss (MLPerf ``moe_aux_loss_coeff``)."""
    expert_bias: bool = False
    """Auxiliary-loss-free balancing (DeepSeek-V3): a per-expert bias added to the scores for
    the choice of experts only, moved by bias_update_rate * sign(mean load - load) after every
    optimizer step (``moe_parallel.attach_expert_bias_update``)."""
    bias_update_rate: float = 1e-3
    capacity_factor: float = 0.0
    """0 = dropless (both references). > 0: each expert takes at most
    ceil(tokens * top_k / n_experts * capacity_factor) assignments per micro-batch and rank;
    the rest are dropped (contribute nothing), chosen by drop_policy."""
    drop_policy: Literal["probs", "position"] = "probs"
    """Which assignments an over-full expert keeps: the highest routing weights, or the first
    tokens (Megatron's moe_token_drop_policy)."""
    dense_layers: int = 0
    """The first layers use a dense SwiGLU of dense_hidden instead (DeepSeek-V3: 3)."""
    dense_hidden: int = 0
    expert_parallel: int = 1
    """Expert-parallel degree (ranks sharing one copy of the experts)."""

    def __post_init__(self) -> None:
        if self.n_experts < 1 or not 1 <= self.top_k <= self.n_experts:
            raise UsageError("model.ffn: need n_experts >= 1 and 1 <= top_k <= n_experts")
        if self.expert_hidden < 1 or self.n_shared_experts < 0:
            raise UsageError("model.ffn.expert_hidden must be >= 1, n_shared_experts >= 0")
        if self.n_groups < 1 or self.n_experts % self.n_groups:
            raise UsageError(
                f"model.ffn.n_groups={self.n_groups} must divide n_experts={self.n_experts}"
            )
        if not 1 <= self.topk_groups <= self.n_groups:
            raise UsageError("model.ffn.topk_groups must be in [1, n_groups]")
        if self.n_groups > 1 and self.topk_groups * self.n_experts // self.n_groups < self.top_k:
            raise UsageError("model.ffn: topk_groups groups hold fewer than top_k experts")
        if self.expert_parallel < 1 or self.n_experts % self.expert_parallel:
            raise UsageError(
                f"model.ffn.expert_parallel={self.expert_parallel} must divide n_experts="
                f"{self.n_experts}"
            )
        if self.dense_layers and self.dense_hidden < 1:
            raise UsageError("model.ffn.dense_hidden must be >= 1 when dense_layers > 0")
        if self.capacity_factor < 0 or self.aux_loss_coeff < 0 or self.bias_update_rate < 0:
            raise UsageError("model.ffn: capacity_factor, aux_loss_coeff, bias_update_rate >= 0")

    def is_moe(self, layer: int) -> bool:
        return layer >= self.dense_layers

    def build(self, cfg: DecoderConfig, layer: int) -> nn.Module:
        from mlperf_submit.benchmarks.families.decoder.feed_forward import SwiGLU
        from mlperf_submit.benchmarks.families.decoder.moe import MoE

        if not self.is_moe(layer):
            return SwiGLU(cfg.dim, self.dense_hidden)
        return MoE(cfg.dim, self)

    def expert_params(self, dim: int) -> int:
        return 3 * dim * self.expert_hidden

    def matmul_params(self, dim: int, layer: int) -> int:
        """The active weights: router, the top_k routed experts and the shared ones."""
        if not self.is_moe(layer):
            return 3 * dim * self.dense_hidden
        per = self.expert_params(dim)
        return dim * self.n_experts + (self.top_k + self.n_shared_experts) * per

    def total_params(self, dim: int, layer: int) -> int:
        """Every weight of the layer's feed-forward block (all experts)."""
        if not self.is_moe(layer):
            return 3 * dim * self.dense_hidden
        per = self.expert_params(dim)
        return dim * self.n_experts + (self.n_experts + self.n_shared_experts) * per
