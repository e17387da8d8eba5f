"""Model-side data parallelism on top of the process group that ``launch.distributed.dist`` created.

Distributed code lives in ``launch/``: ``dist`` owns the process group (init, rank, barrier),
this module wraps a model in DDP or FSDP2 when such a group exists and sums eval statistics over
it. Both are identities in a single process, so the Trainer never asks "am I distributed?".
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn

from mlperf_submit.launch.distributed import dist


def _group():
    return dist.torch_dist()  # the initialised torch.distributed module, or None


def wrap_model(model: nn.Module, device: torch.device) -> nn.Module:
    """DDP around ``model`` when a torch process group exists (gloo on CPU, nccl on GPU)."""
    if _group() is None:
        return model
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


def shard_model(model: nn.Module) -> nn.Module:
    """FSDP2 (``loop.data_parallel=fsdp2``) when a torch process group exists: weights,
    gradients and optimizer state sharded over the ranks. One ``fully_shard`` per entry of every
    ModuleList (a transformer's blocks: one block is gathered at a time), then one on the root
    for the rest (embeddings, head). Shards in place; build the optimizer afterwards."""
    if _group() is None:
        return model
    from torch.distributed.fsdp import fully_shard

    for module in list(model.modules()):
        if isinstance(module, nn.ModuleList):
            for block in module:
                fully_shard(block)
    fully_shard(model)
    return model


def local_gradients(model: nn.Module):
    """Context for a backward pass whose gradients stay on this rank (the first micro-batches
    of an accumulated step): DDP skips its all-reduce, the last micro-batch's backward reduces
    the sum. FSDP2 keeps reduce-scattering every micro-batch: skipping it would hold unsharded
    gradients between micro-batches, and accumulation is there to save memory. A no-op in a
    single process."""
    if isinstance(model, nn.parallel.DistributedDataParallel):
        return model.no_sync()
    return contextlib.nullcontext()


def communication_dtype(model: nn.Module) -> torch.dtype:
    """The dtype gradients are reduced in: DDP all-reduces them in the parameters' dtype, FSDP2
    reduce-scatters in its mixed-precision policy's ``reduce_dtype`` (else the parameters');
    one process communicates nothing, which is reported as the parameters' dtype."""
    raw = unwrap(model)
    policy = getattr(raw, "_get_fsdp_state", None)
    if callable(policy):
        state = policy()
        mp = getattr(getattr(state, "_mp_policy", None), "reduce_dtype", None)
        if mp is not None:
            return mp
    for p in raw.parameters():
        return p.dtype
    return torch.float32


def unwrap(model: nn.Module) -> nn.Module:
    """The module itself, without DDP or torch.compile wrappers (for state_dict and eval)."""
    inner = getattr(model, "module", model)
    return getattr(inner, "_orig_mod", inner)


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    """``t`` summed over ranks (returned; the input is not modified)."""
    tdist = _group()
    if tdist is None:
        return t
    out = t.clone()
    if tdist.get_backend() == "nccl" and out.device.type != "cuda":
        out = out.cuda()
    elif tdist.get_backend() != "nccl" and out.device.type != "cpu":
        out = out.cpu()
    tdist.all_reduce(out, op=tdist.ReduceOp.SUM)
    return out.to(t.device)
