"""A mixture-of-experts feed-forward layer: router, top-k, balancing, grouped expert compute,
and an expert-parallel path over ``torch.distributed`` all-to-all.

    moe = MoE(dim, MoEConfig(n_experts=32, top_k=4, expert_hidden=2880))
    y = moe(x)                  # x [batch, seq, dim]; moe.aux_loss: the balancing loss or None

Routing (Megatron-Core's ``TopKRouter``, which both MLPerf MoE references run): the router is a
bias-free linear map evaluated in fp32; softmax routing picks the k largest logits and
softmaxes those k (or, ``pre_softmax``, the k largest of a full softmax); sigmoid routing
(DeepSeek-V3) picks by ``sigmoid(logits) + expert_bias`` within the best ``topk_groups``
groups and weights by the unbiased scores, renormalised and scaled by ``route_scale``.

Expert compute is grouped, never per token: the (token, expert) assignments are sorted by
expert once, each expert multiplies its contiguous slice of tokens -- on a GPU one
``torch._grouped_mm`` per projection for all experts, elsewhere one matmul per expert (a 0-row
slice still joins the graph, so every expert gets a gradient and DDP sees no unused
parameter) -- and the weighted results are summed back with ``index_add_``. The experts
are stacked parameters ``experts.w1/w3 [E, hidden, dim]`` and ``experts.w2 [E, dim, hidden]``
(each slice an ``nn.Linear`` weight, the Hugging Face per-expert tensors' layout).

Expert parallelism (``expert_parallel`` = P > 1): the ranks form groups of P consecutive ranks;
rank r of a group holds experts [r E/P, (r+1) E/P). Each rank routes its own tokens, sends each
assignment to the rank holding its expert (``all_to_all_single`` with autograd, counts
exchanged first), the receiver regroups what it got by local expert, computes, and sends the
results back the same way. ``moe_parallel.py`` keeps these parameters out of DDP and reduces
their gradients itself.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from mlperf_submit.benchmarks.families.decoder.feed_forward import SwiGLU
from mlperf_submit.benchmarks.families.decoder.moe_config import MoEConfig
from mlperf_submit.errors import UsageError


class Experts(nn.Module):
    """``n_local`` SwiGLU experts stored as stacked weights; ``first`` is the global index of
    the first one (expert parallelism)."""

    def __init__(self, n_local: int, dim: int, hidden: int, first: int = 0) -> None:
        super().__init__()
        self.first = first
        self.impl = "auto"
        """"loop": one matmul per expert slice; "grouped": ``torch._grouped_mm``; "auto":
        grouped on CUDA, the loop elsewhere (the CPU grouped kernel is a fallback)."""
        self.w1 = nn.Parameter(torch.empty(n_local, hidden, dim))
        self.w3 = nn.Parameter(torch.empty(n_local, hidden, dim))
        self.w2 = nn.Parameter(torch.empty(n_local, dim, hidden))

    @property
    def n_local(self) -> int:
        return self.w1.shape[0]

    def forward(self, x: torch.Tensor, counts: list[int]) -> torch.Tensor:
        """``x`` [sum(counts), dim] grouped by local expert (``counts[e]`` rows each)."""
        use_grouped = self.impl == "grouped" or (self.impl == "auto" and x.is_cuda)
        if use_grouped and hasattr(torch, "_grouped_mm"):
            return self._grouped(x, counts)
        outs = []
        for e, chunk in enumerate(x.split(counts)):
            h = F.silu(F.linear(chunk, self.w1[e])) * F.linear(chunk, self.w3[e])
            outs.append(F.linear(h, self.w2[e]))
        return torch.cat(outs) if outs else x.new_zeros(0, self.w2.shape[1])

    def _grouped(self, x: torch.Tensor, counts: list[int]) -> torch.Tensor:
        """One grouped GEMM per projection (``torch._grouped_mm``: CUTLASS on Hopper GPUs in
        bf16) instead of one matmul per expert; under autocast in its dtype."""
        dtype = x.dtype
        if torch.is_autocast_enabled(x.device.type):
            dtype = torch.get_autocast_dtype(x.device.type)
        ends = torch.tensor(counts, device=x.device, dtype=torch.int64).cumsum(0).to(torch.int32)
        x = x.to(dtype)

        def mm(a: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
            return torch._grouped_mm(a, w.to(dtype).transpose(-2, -1), offs=ends)

        h = F.silu(mm(x, self.w1)) * mm(x, self.w3)
        return mm(h, self.w2)

    @torch.no_grad()
    def reset_parameters(self, std: float, out_std: float, base_seed: int) -> None:
        """Each expert from its own generator keyed by its global index: the same expert gets
        the same weights whichever rank holds it, and no two experts start equal."""
        if self.w1.device.type == "meta":
            return
        for e in range(self.n_local):
            g = torch.Generator(device=self.w1.device).manual_seed(base_seed + self.first + e)
            nn.init.normal_(self.w1[e], 0.0, std, generator=g)
            nn.init.normal_(self.w3[e], 0.0, std, generator=g)
            nn.init.normal_(self.w2[e], 0.0, out_std, generator=g)


def stable_order(keys: torch.Tensor) -> torch.Tensor:
    return torch.sort(keys, stable=True).indices


def _in_backward() -> bool:
    return torch._C._current_graph_task_id() != -1


class Router(nn.Module):
    """Scores, top-k choice and weights; the balancing statistics of the last forward."""

    def __init__(self, dim: int, cfg: MoEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.weight = nn.Parameter(torch.empty(cfg.n_experts, dim))
        if cfg.expert_bias:
            # Persistent: part of the model's state (saved, restored after warm-up).
            self.register_buffer("expert_bias", torch.zeros(cfg.n_experts))
        else:
            self.expert_bias = None
        self.load: torch.Tensor | None = None
        """Assignments per expert since the last bias update (training forwards only). A plain
        attribute, not a buffer: DDP would overwrite buffers with rank 0's every forward."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x [N, dim] -> (weights [N, k], expert ids [N, k], aux-loss scores [N, E])."""
        c = self.cfg
        logits = F.linear(x.float(), self.weight.float())  # the router in fp32
        if c.score == "softmax":
            aux_scores = logits.softmax(dim=-1)
            if c.pre_softmax:
                weights, idx = aux_scores.topk(c.top_k, dim=-1)
            else:
                top, idx = logits.topk(c.top_k, dim=-1)
                weights = top.softmax(dim=-1)
        else:
            scores = logits.sigmoid()
            choice = scores if self.expert_bias is None else scores + self.expert_bias
            if c.n_groups > 1:
                choice = self._limit_to_groups(choice)
            idx = choice.topk(c.top_k, dim=-1).indices
            weights = scores.gather(1, idx)
            if c.norm_topk:
                weights = weights / (weights.sum(dim=-1, keepdim=True) + 1e-20)
            aux_scores = scores / (scores.sum(dim=-1, keepdim=True) + 1e-20)
        if c.route_scale != 1.0:
            weights = weights * c.route_scale
        # Count the load once per training forward: not again when activation checkpointing
        # recomputes this forward inside the backward pass.
        if self.expert_bias is not None and self.training and not _in_backward():
            counts = torch.bincount(idx.flatten(), minlength=c.n_experts).float()
            self.load = counts if self.load is None else self.load + counts
        return weights, idx, aux_scores

    def _limit_to_groups(self, choice: torch.Tensor) -> torch.Tensor:
        c = self.cfg
        n = choice.shape[0]
        grouped = choice.view(n, c.n_groups, c.n_experts // c.n_groups)
        group_scores = grouped.topk(min(2, grouped.shape[-1]), dim=-1).values.sum(dim=-1)
        best = group_scores.topk(c.topk_groups, dim=-1).indices
        keep = torch.zeros_like(group_scores, dtype=torch.bool).scatter_(1, best, True)
        return grouped.masked_fill(~keep.unsqueeze(-1), float("-inf")).view(n, c.n_experts)


def balancing_loss(
    cfg: MoEConfig, aux_scores: torch.Tensor, idx: torch.Tensor, batch: int
) -> torch.Tensor | None:
    """The load-balancing loss of one micro-batch (Megatron-Core's formulas).

    aux_loss:      coeff * E * sum_e f_e * P_e over all N tokens, with f_e the fraction of the
                   N * k assignments that went to e and P_e the mean score of e;
    seq_aux_loss:  the same per sequence (f and P over its T tokens), averaged over sequences.
    """
    if cfg.balance == "none" or cfg.aux_loss_coeff == 0:
        return None
    e, k = cfg.n_experts, cfg.top_k
    chosen = F.one_hot(idx, e).sum(dim=1).float()  # [N, E] 0/1 per (token, expert)
    if cfg.balance == "aux_loss":
        f = chosen.mean(dim=0) / k
        p = aux_scores.mean(dim=0)
        return cfg.aux_loss_coeff * e * (f * p).sum()
    per_seq_f = chosen.view(batch, -1, e).mean(dim=1) / k  # [B, E]
    per_seq_p = aux_scores.view(batch, -1, e).mean(dim=1)
    return cfg.aux_loss_coeff * e * (per_seq_f * per_seq_p).sum(dim=-1).mean()


class MoE(nn.Module):
    """Routed experts (+ shared experts); ``aux_loss`` holds the last forward's balancing loss
    (training only), which ``Decoder.aux_loss`` adds to the training loss."""

    def __init__(self, dim: int, cfg: MoEConfig) -> None:
        super().__init__()
        from mlperf_submit.benchmarks.families.decoder import moe_parallel

        self.cfg = cfg
        self.ep = moe_parallel.expert_parallel_layout(cfg.expert_parallel)
        n_local = cfg.n_experts // cfg.expert_parallel
        self.router = Router(dim, cfg)
        self.experts = Experts(n_local, dim, cfg.expert_hidden, first=self.ep.rank * n_local)
        hidden = cfg.n_shared_experts * cfg.expert_hidden
        self.shared_experts = SwiGLU(dim, hidden) if hidden else None
        self.aux_loss: torch.Tensor | None = None

    @torch.no_grad()
    def reset_parameters(self, std: float, out_std: float) -> None:
        """Called by ``Decoder.reset_parameters`` after its generic pass: the router and shared
        experts keep that (normal(std); the shared down projection out_std), the routed experts
        are drawn per expert (``Experts.reset_parameters``)."""
        if self.router.weight.device.type == "meta":
            return
        if self.shared_experts is not None:
            nn.init.normal_(self.shared_experts.w2.weight, 0.0, out_std)
        # One draw from the model's RNG stream, the same on every rank (same model seed).
        base = int(torch.randint(0, 2**62, (1,), device="cpu"))
        self.experts.reset_parameters(std, out_std, base)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        flat = x.reshape(b * t, d)
        weights, idx, aux_scores = self.router(flat)
        self.aux_loss = (
            balancing_loss(self.cfg, aux_scores, idx, b) if torch.is_grad_enabled() else None
        )
        out = self._routed(flat, weights, idx)
        if self.shared_experts is not None:
            out = out + self.shared_experts(flat)
        return out.view(b, t, d)

    def _assignments(self, weights: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """Indices into the flattened [N * k] assignments, grouped by expert (stable: token
        order within an expert), over-capacity ones dropped."""
        flat_e = idx.flatten()
        c = self.cfg
        if c.capacity_factor <= 0:
            return stable_order(flat_e)
        if c.drop_policy == "probs":  # highest weight first within each expert
            by_weight = stable_order(-weights.flatten().detach())
            order = by_weight[stable_order(flat_e[by_weight])]
        else:
            order = stable_order(flat_e)
        sorted_e = flat_e[order]
        counts = torch.bincount(sorted_e, minlength=c.n_experts)
        starts = torch.cumsum(counts, 0) - counts
        rank_in_expert = torch.arange(order.numel(), device=order.device) - starts[sorted_e]
        capacity = math.ceil(flat_e.numel() / c.n_experts * c.capacity_factor)
        return order[rank_in_expert < capacity]  # still grouped by expert

    def _routed(self, flat: torch.Tensor, weights: torch.Tensor, idx: torch.Tensor):
        k = self.cfg.top_k
        order = self._assignments(weights, idx)
        experts_of = idx.flatten()[order]
        counts = torch.bincount(experts_of, minlength=self.cfg.n_experts)
        tokens = order // k
        x_in = flat[tokens]
        if self.ep.size == 1:
            y = self.experts(x_in, counts.tolist())
        else:
            y = self._expert_parallel(x_in, counts)
        y = y * weights.flatten()[order].unsqueeze(-1).to(y.dtype)
        return torch.zeros_like(flat, dtype=y.dtype).index_add_(0, tokens, y).to(flat.dtype)

    def _expert_parallel(self, x_in: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        """Send each row to the rank of its expert, compute there, bring the results back."""
        from mlperf_submit.benchmarks.families.decoder import moe_parallel

        ep = self.ep
        if ep.group is None:
            raise UsageError(
                f"model.ffn.expert_parallel={ep.size} needs torch.distributed with a world size "
                "that is a multiple of it (torchrun --nproc-per-node ...)"
            )
        n_local = self.experts.n_local
        send = counts.view(ep.size, n_local)  # [dest rank, its local expert]
        recv = moe_parallel.exchange_counts(send, ep.group)  # [source rank, my local expert]
        x_recv = moe_parallel.all_to_all(x_in, recv.sum(1).tolist(), send.sum(1).tolist(), ep.group)
        # Rows arrive grouped by source rank, then by local expert: regroup by local expert.
        local_ids = torch.arange(n_local, device=recv.device).repeat(ep.size)
        expert_of_row = torch.repeat_interleave(local_ids, recv.flatten())
        perm = stable_order(expert_of_row)
        y_grouped = self.experts(x_recv[perm], recv.sum(0).tolist())
        inverse = torch.empty_like(perm)
        inverse[perm] = torch.arange(perm.numel(), device=perm.device)
        y_recv = y_grouped[inverse]
        return moe_parallel.all_to_all(y_recv, send.sum(1).tolist(), recv.sum(1).tolist(), ep.group)
