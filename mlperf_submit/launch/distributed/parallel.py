"""Model-side data parallelism on top of the process group that ``launch.distributed.dist`` created.

Distributed code lives in ``launch/``: ``dist`` owns the process group (init, rank, barrier),
this module wraps a model in DDP or FSDP2 when such a group exists, compiles it in the order
that keeps the wrappers' hooks out of the compiled code, and sums eval statistics over the
ranks. The wrappers are identities in a single process, so the Trainer never asks "am I
distributed?". The order the Trainer applies them (``Trainer.build``)::

    compile_blocks(model, compile_fn)     each repeated block (torchtitan's per-block compile)
    shard_model(model, param_dtype=bf16)  FSDP2: one fully_shard per block, then the root
    wrap_model(model, device)             DDP; a model without repeated blocks is compiled
    compile_fn(model)                     whole *after* DDP (DDP's optimizer splits the graph
                                          at its buckets, so the all-reduce overlaps backward)

A model exposes its repeated blocks as ``nn.ModuleList`` entries (a transformer's ``layers``):
they are the unit of FSDP2's gather and of compilation, so one compiled graph serves every
block and FSDP2's hooks sit between compiled regions, never inside one (``torch.compile`` of
an already sharded model breaks its graph at every block and leaves the head and the loss
eager). A model without a ModuleList (ResNet) is compiled whole.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable

import torch
from torch import nn

from mlperf_submit.launch.distributed import dist

# Lowest first: how much a value is rounded in each dtype (mantissa bits), for "the lowest
# precision" among several communications.
_PRECISION_ORDER = (torch.bfloat16, torch.float16, torch.float32, torch.float64)


def _group():
    return dist.torch_dist()  # the initialised torch.distributed module, or None


def repeated_blocks(model: nn.Module) -> list[tuple[nn.ModuleList, int]]:
    """(list, index) of every entry of the outermost ``nn.ModuleList``s of ``model``: a
    transformer's blocks. Lists nested inside an entry (a block's experts) are part of that
    entry. Empty for a model without a ModuleList (ResNet's stages are Sequentials)."""
    found: list[tuple[nn.ModuleList, int]] = []
    inside: set[int] = set()
    for module in model.modules():  # parents come before their children
        if id(module) in inside:
            continue
        if isinstance(module, nn.ModuleList):
            for i, entry in enumerate(module):
                found.append((module, i))
                inside.update(id(m) for m in entry.modules())
    return found


def compile_blocks(model: nn.Module, compile_fn: Callable[[nn.Module], nn.Module]) -> int:
    """Replace each repeated block by ``compile_fn(block)`` (``torch.compile``), in place, before
    any wrapping: how many were compiled (0: the model has no repeated blocks; compile it whole
    after ``wrap_model``). The blocks share their code, so dynamo captures one graph for all.
    Parameter names gain the compiled wrapper's ``_orig_mod.`` (as in torchtitan)."""
    blocks = repeated_blocks(model)
    for parent, i in blocks:
        parent[i] = compile_fn(parent[i])
    return len(blocks)


def wrap_model(model: nn.Module, device: torch.device) -> nn.Module:
    """DDP around ``model`` when a torch process group exists (gloo on CPU, nccl on GPU)."""
    if _group() is None:
        return model
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


def shard_model(model: nn.Module, *, param_dtype: torch.dtype | None = None) -> nn.Module:
    """FSDP2 (``loop.data_parallel=fsdp2``) when a torch process group exists: weights,
    gradients and optimizer state sharded over the ranks. One ``fully_shard`` per repeated
    block (one block is gathered at a time), then one on the root for the rest (embeddings,
    head). Shards in place; build the optimizer afterwards.

    ``param_dtype`` (the autocast dtype of a bf16/fp16 run) is FSDP2's mixed-precision policy:
    the fp32 shards are gathered as ``param_dtype`` (half the bytes of every all-gather, and
    no per-forward weight cast by autocast), gradients are reduce-scattered in fp32 and the
    optimizer steps on the fp32 shards. None (an fp32 run): everything in the parameters'
    dtype."""
    if _group() is None:
        return model
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

    policy = (
        MixedPrecisionPolicy(param_dtype=param_dtype, reduce_dtype=torch.float32)
        if param_dtype is not None
        else MixedPrecisionPolicy()
    )
    for parent, i in repeated_blocks(model):
        fully_shard(parent[i], mp_policy=policy)
    fully_shard(model, mp_policy=policy)
    return model


def local_gradients(model: nn.Module):
    """Context for a backward pass whose gradients stay on this rank (the first micro-batches
    of an accumulated step): DDP skips its all-reduce, the last micro-batch's backward reduces
    the sum. FSDP2 keeps reduce-scattering every micro-batch: skipping it would hold unsharded
    gradients between micro-batches, and accumulation is there to save memory. A no-op in a
    single process."""
    ddp = _ddp(model)
    return ddp.no_sync() if ddp is not None else contextlib.nullcontext()


def communication_dtype(model: nn.Module) -> torch.dtype:
    """The lowest precision the ranks exchange tensors in, read from the wrappers in effect:
    FSDP2 all-gathers parameters in its policy's ``param_dtype`` and reduce-scatters gradients
    in ``reduce_dtype`` (each defaulting to the parameters' own dtype); DDP all-reduces
    gradients in the parameters' dtype. One process communicates nothing, which is reported as
    the parameters' dtype."""
    raw = unwrap(model)
    own = next((p.dtype for p in raw.parameters()), torch.float32)
    used = [own]
    for module in raw.modules():
        policy = fsdp_policy(module)
        if policy is None:
            continue
        gather = policy.param_dtype or own
        used += [gather, policy.reduce_dtype or gather]
    return min(used, key=_rank)


def fsdp_policy(module: nn.Module):
    """The ``MixedPrecisionPolicy`` FSDP2 applies to ``module``, or None if it is not sharded."""
    fsdp = sys.modules.get("torch.distributed.fsdp")  # nothing is sharded before its import
    if fsdp is None or not isinstance(module, fsdp.FSDPModule):
        return None
    return module._get_fsdp_state()._mp_policy


def _rank(dtype: torch.dtype) -> int:
    return _PRECISION_ORDER.index(dtype) if dtype in _PRECISION_ORDER else -1


def _compiled_inner(m: nn.Module) -> nn.Module | None:
    """The module inside a ``torch.compile`` wrapper, else None. (No compiled module can exist
    before dynamo is imported, and importing it costs a second: look, don't import.)"""
    frames = sys.modules.get("torch._dynamo.eval_frame")
    if frames is not None and isinstance(m, frames.OptimizedModule):
        return m._orig_mod
    return None


def _ddp(model: nn.Module) -> nn.parallel.DistributedDataParallel | None:
    m: nn.Module | None = model
    while m is not None and not isinstance(m, nn.parallel.DistributedDataParallel):
        m = _compiled_inner(m)
    return m


def unwrap(model: nn.Module) -> nn.Module:
    """The module itself, without DDP or whole-model torch.compile wrappers (for state_dict and
    eval). Blocks compiled by ``compile_blocks`` stay compiled inside it."""
    m = model
    while True:
        if isinstance(m, nn.parallel.DistributedDataParallel):
            m = m.module
            continue
        inner = _compiled_inner(m)
        if inner is None:
            return m
        m = inner


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
