"""Expert parallelism: the process groups, the all-to-all, and what DDP must not do to experts.

With ``model.ffn.expert_parallel`` = P > 1 the world of W ranks (W a multiple of P) splits into
W / P *expert-parallel groups* of P consecutive ranks; inside one, rank r holds experts
[r E/P, (r+1) E/P). Ranks at the same position of different groups hold the same experts and
form an *expert replica group* (W / P ranks).

The training objective is the mean of the ranks' losses, which DDP implements by averaging the
replicated parameters' gradients over all W ranks. An expert's gradient on its owner already
sums the contributions of every token of its expert-parallel group (the all-to-all's backward
brings them home), so :func:`prepare_expert_parallel`

* lists the expert parameters in ``_ddp_params_and_buffers_to_ignore`` (DDP would average
  different experts across ranks as if they were one tensor), and
* registers a gradient hook on each: all-reduce (sum) over the expert replica group, then
  divide by W -- exactly the gradient DDP would have given a replicated copy. The hook scales
  each contribution (not the accumulated ``.grad``), so gradient accumulation stays linear.

:func:`add_expert_parallel_clipping` clips by the norm of the whole model's gradient: the
replicated part (identical on every rank after DDP) plus the experts' part summed over the
expert-parallel group, so every rank computes the same norm and scales alike.
:func:`attach_expert_bias_update` moves DeepSeek-V3's routing bias after each optimizer step
from the load summed over all ranks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from mlperf_submit.errors import UsageError


@dataclass(frozen=True)
class ExpertParallelLayout:
    size: int
    """Expert-parallel degree P (1 = every rank holds every expert)."""
    rank: int
    """This rank's position in its expert-parallel group."""
    group: Any = None
    """The expert-parallel process group (None: not distributed)."""
    replica_group: Any = None
    """Ranks holding the same experts (None when W == P)."""
    world: int = 1


_LAYOUTS: dict[int, ExpertParallelLayout] = {}


def _dist():
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed
    return None


def expert_parallel_layout(size: int) -> ExpertParallelLayout:
    """This rank's layout for degree ``size``; the groups are created once, by every rank in
    the same order (``new_group`` is collective), when the first MoE layer is built."""
    if size == 1:
        return ExpertParallelLayout(1, 0)
    tdist = _dist()
    if tdist is None:
        # No process group (--log-only on one machine, a unit test): the shapes of rank 0.
        return ExpertParallelLayout(size, 0)
    if size in _LAYOUTS:
        return _LAYOUTS[size]
    world, rank = tdist.get_world_size(), tdist.get_rank()
    if world % size:
        raise UsageError(
            f"model.ffn.expert_parallel={size} does not divide the world size {world}: use a "
            "divisor of the number of ranks"
        )
    mine = replica = None
    for start in range(0, world, size):
        g = tdist.new_group(list(range(start, start + size)))
        if start <= rank < start + size:
            mine = g
    if world > size:
        for pos in range(size):
            g = tdist.new_group(list(range(pos, world, size)))
            if rank % size == pos:
                replica = g
    _LAYOUTS[size] = ExpertParallelLayout(size, rank % size, mine, replica, world)
    return _LAYOUTS[size]


def exchange_counts(send: torch.Tensor, group) -> torch.Tensor:
    """Row d of ``send`` goes to rank d of the group; row s of the result came from rank s."""
    recv = torch.empty_like(send)
    torch.distributed.all_to_all_single(recv, send.contiguous(), group=group)
    return recv


def all_to_all(x: torch.Tensor, out_splits: list[int], in_splits: list[int], group):
    """Rows of ``x`` in ``in_splits`` pieces to the group's ranks; differentiable."""
    from torch.distributed import _functional_collectives as fc

    return fc.all_to_all_single_autograd(x.contiguous(), out_splits, in_splits, group)


def _moe_layers(model: nn.Module):
    from mlperf_submit.benchmarks.families.decoder.moe import MoE

    return [(name, m) for name, m in model.named_modules() if isinstance(m, MoE)]


def expert_parallel_degree(model: nn.Module) -> int:
    """The expert-parallel degree the model was built with (1 without MoE layers)."""
    layers = _moe_layers(model)
    return layers[0][1].ep.size if layers else 1


def sharded_expert_params(model: nn.Module) -> dict[str, nn.Parameter]:
    """The expert parameters that differ between ranks (expert parallelism > 1)."""
    out = {}
    for name, moe in _moe_layers(model):
        if moe.ep.size > 1:
            for pname, p in moe.experts.named_parameters():
                out[f"{name}.experts.{pname}"] = p
    return out


def prepare_expert_parallel(model: nn.Module) -> None:
    """Keep sharded experts out of DDP and reduce their gradients as DDP would (module doc)."""
    sharded = sharded_expert_params(model)
    if not sharded:
        return
    ignore = list(getattr(model, "_ddp_params_and_buffers_to_ignore", []))
    model._ddp_params_and_buffers_to_ignore = ignore + sorted(sharded)
    layout = next(m.ep for _, m in _moe_layers(model) if m.ep.size > 1)
    if layout.group is None:
        return  # not distributed: nothing to reduce
    world = layout.world
    replica = layout.replica_group

    def reduce(grad: torch.Tensor) -> torch.Tensor:
        if replica is not None:
            grad = grad.clone()
            torch.distributed.all_reduce(grad, group=replica)
        return grad / world

    for p in sharded.values():
        p.register_hook(reduce)


def add_expert_parallel_clipping(
    optimizer: torch.optim.Optimizer, model: nn.Module, max_norm: float
) -> None:
    """Clip the global gradient norm before each step, counting every expert once."""
    sharded = {id(p) for p in sharded_expert_params(model).values()}
    layouts = [m.ep for _, m in _moe_layers(model) if m.ep.size > 1]
    group = layouts[0].group if layouts else None
    for g in optimizer.param_groups:
        g["max_grad_norm"] = max_norm

    def clip(opt, args, kwargs):
        limit = opt.param_groups[0]["max_grad_norm"]
        if limit <= 0:
            return None
        grads = [p.grad for g in opt.param_groups for p in g["params"] if p.grad is not None]
        if not grads:
            return None
        ids = [id(p) for g in opt.param_groups for p in g["params"] if p.grad is not None]
        dev = grads[0].device
        replicated = torch.zeros((), dtype=torch.float32, device=dev)
        experts = torch.zeros((), dtype=torch.float32, device=dev)
        for pid, gr in zip(ids, grads):
            sq = gr.detach().float().pow(2).sum()
            if pid in sharded:
                experts += sq
            else:
                replicated += sq
        if group is not None:
            torch.distributed.all_reduce(experts, group=group)
        total = (replicated + experts).sqrt()
        coef = torch.clamp(limit / (total + 1e-6), max=1.0)
        for gr in grads:
            gr.mul_(coef.to(gr.dtype))
        return None

    optimizer.register_step_pre_hook(clip)


def attach_expert_bias_update(optimizer: torch.optim.Optimizer, model: nn.Module) -> None:
    """After each optimizer step: bias += rate * sign(mean load - load), the load (routing
    choices since the last step) summed over every rank; a no-op for routers without a bias."""
    routers = [m.router for _, m in _moe_layers(model) if m.router.expert_bias is not None]
    if not routers:
        return

    def update(opt, args, kwargs):
        tdist = _dist()
        with torch.no_grad():
            for r in routers:
                load = r.load if r.load is not None else torch.zeros_like(r.expert_bias)
                if tdist is not None:
                    load = load.clone()
                    tdist.all_reduce(load)
                r.expert_bias += r.cfg.bias_update_rate * torch.sign(load.mean() - load)
                r.load = None

    optimizer.register_step_post_hook(update)
