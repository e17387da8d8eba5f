"""Where a model's TorchRec embedding tables live and where their optimizer runs.

A benchmark builds its model with plain TorchRec modules (``EmbeddingBagCollection`` for
dlrm_dcnv2, ``EmbeddingCollection`` for dlrmv4) and a :class:`TableRule` (the sparse
optimizer the reference uses); :func:`place_tables` then puts the tables in one of three places:

``fused``    one process: TorchRec's ``fuse_embedding_optimizer`` swaps in
             ``FusedEmbeddingBagCollection`` / ``FusedEmbeddingCollection``, whose FBGEMM
             ``SplitTableBatchedEmbeddingBagsCodegen`` applies the rule inside backward (the
             kernels a GPU runs; on CPU, FBGEMM's CPU kernels). The initial weights are
             copied over, so the model is the one ``build_model`` made.
``sharded``  a process group: the reference's recipe -- ``apply_optimizer_in_backward`` on the
             tables, TorchRec's ``EmbeddingShardingPlanner`` (``sharding`` constrains the plan
             to table-wise, row-wise ...), ``DistributedModelParallel``: each rank holds its
             shards in the same fused FBGEMM kernels; the dense part runs in DDP.
``stepped``  gradient accumulation (K > 1 micro-batches): a fused optimizer updates the tables
             in every backward, which would apply K updates; the plain modules keep their
             gradients instead and the same rule (Adagrad / row-wise Adagrad, ``optim.py``)
             steps once after the last micro-batch. One process only.

Each returns the model and the tables' optimizer (a TorchRec ``KeyedOptimizer`` for the fused
kinds, a torch optimizer for ``stepped``); ``optim.RecOptimizer`` joins it to the dense one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from mlperf_submit.errors import UsageError


def import_torchrec() -> None:
    """Import TorchRec (and FBGEMM) once, before any meta-device context (its import runs tensor
    code) and without FBGEMM's import-time DeprecationWarnings about SSD kernels the CPU build
    lacks and a module rename (noise in every run's output, nothing to act on)."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"fbgemm_gpu\.")
        import torchrec  # noqa: F401


SHARDINGS = ("auto", "table_wise", "row_wise", "column_wise", "table_row_wise")


@dataclass(frozen=True)
class TableRule:
    """The embedding tables' optimizer, as the reference configures it."""

    kind: Literal["adagrad", "rowwise_adagrad"]
    """adagrad: FBGEMM EXACT_ADAGRAD (one accumulator per weight, torch.optim.Adagrad's rule);
    rowwise_adagrad: EXACT_ROWWISE_ADAGRAD (one accumulator per row: the mean squared grad)."""
    lr: float
    eps: float
    weight_decay: float = 0.0

    def torch_class(self) -> type:
        """The optimizer class TorchRec maps onto the FBGEMM kernel (``fused_embedding_modules.
        convert_optimizer_type_and_kwargs``: Adagrad -> EXACT_ADAGRAD, torchrec's
        RowWiseAdagrad -> EXACT_ROWWISE_ADAGRAD)."""
        if self.kind == "adagrad":
            return torch.optim.Adagrad
        from torchrec.optim.rowwise_adagrad import RowWiseAdagrad

        return RowWiseAdagrad

    def kwargs(self) -> dict[str, float]:
        return {"lr": self.lr, "eps": self.eps, "weight_decay": self.weight_decay}


def embedding_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The model's TorchRec embedding collections (plain or fused), by qualified name."""
    from torchrec.modules.embedding_modules import (
        EmbeddingBagCollectionInterface,
        EmbeddingCollectionInterface,
    )

    kinds = (EmbeddingBagCollectionInterface, EmbeddingCollectionInterface)
    return [(n, m) for n, m in model.named_modules() if isinstance(m, kinds)]


def table_weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """``{state_dict key: weight}`` of every table of the plain (unsharded) model."""
    names = [n for n, _ in embedding_modules(model)]
    return {
        k: v
        for k, v in model.state_dict().items()
        if any(k.startswith(f"{n}.") for n in names) and k.endswith(".weight")
    }


def place_tables(
    model: nn.Module,
    rule: TableRule,
    *,
    kind: Literal["fused", "sharded", "stepped"],
    device: torch.device,
    sharding: str = "auto",
    local_batch: int = 1,
):
    """``(model, tables optimizer)`` with the tables placed as ``kind`` says (module doc)."""
    if kind == "fused":
        return _fuse(model, rule, device)
    if kind == "sharded":
        return _shard(model, rule, device, sharding=sharding, local_batch=local_batch)
    from mlperf_submit.benchmarks.families.recsys.optim import stepped_table_optimizer

    params = [p for _, m in embedding_modules(model) for p in m.parameters()]
    return model, stepped_table_optimizer(rule, params)


def _fuse(model: nn.Module, rule: TableRule, device: torch.device):
    from torchrec.modules.fused_embedding_modules import fuse_embedding_optimizer
    from torchrec.optim.keyed import CombinedOptimizer

    initial = {k: v.detach().clone() for k, v in table_weights(model).items()}
    kwargs = {}
    if device.type == "meta":  # --log-only: FBGEMM builds on meta only for an explicit place
        from fbgemm_gpu.split_table_batched_embeddings_ops_common import EmbeddingLocation

        kwargs["location"] = EmbeddingLocation.HOST
    model = fuse_embedding_optimizer(
        model,
        optimizer_type=rule.torch_class(),
        optimizer_kwargs=rule.kwargs(),
        device=device,
        **kwargs,
    )
    if device.type != "meta":
        # The fused modules draw their own initial rows; keep the ones build_model made (the
        # seeded model every placement and rank starts from).
        missing = model.load_state_dict(initial, strict=False)
        if missing.unexpected_keys:
            raise RuntimeError(f"fused tables lack {missing.unexpected_keys}")
    optims = [(n, m.fused_optimizer()) for n, m in embedding_modules(model)]
    return model, CombinedOptimizer(optims)


def sharding_constraints(model: nn.Module, sharding: str) -> dict:
    """Planner constraints for every table: ``sharding`` pins its type; ``auto`` lets the planner
    choose among the model-parallel types. Always the fused kernel: a data-parallel (dense
    kernel) table would drop the in-backward rule -- the planner picks that for small tables
    (all 26 of the tiny preset), the reference's plans never do for its 40M-row ones."""
    if sharding not in SHARDINGS:
        raise UsageError(f"sharding={sharding!r}: choose one of {', '.join(SHARDINGS)}")
    from torchrec.distributed.embedding_types import EmbeddingComputeKernel
    from torchrec.distributed.planner.types import ParameterConstraints

    types = (
        [t for t in SHARDINGS if t not in ("auto", "data_parallel")]
        if sharding == "auto"
        else [sharding]
    )
    fused = [EmbeddingComputeKernel.FUSED.value]
    names = []
    for _, m in embedding_modules(model):
        configs = (
            m.embedding_bag_configs()
            if hasattr(m, "embedding_bag_configs")
            else m.embedding_configs()
        )
        names.extend(c.name for c in configs)
    return {n: ParameterConstraints(sharding_types=types, compute_kernels=fused) for n in names}


def _shard(model: nn.Module, rule: TableRule, device: torch.device, *, sharding, local_batch):
    import torch.distributed as tdist
    from torchrec.distributed.comm import get_local_size
    from torchrec.distributed.model_parallel import (
        DistributedModelParallel,
        get_default_sharders,
    )
    from torchrec.distributed.planner import EmbeddingShardingPlanner, Topology
    from torchrec.optim.apply_optimizer_in_backward import apply_optimizer_in_backward

    # What the reference does (dlrm_main.py): the rule rides on the table parameters and the
    # sharders turn it into FBGEMM fused parameters.
    for _, m in embedding_modules(model):
        apply_optimizer_in_backward(rule.torch_class(), m.parameters(), rule.kwargs())
    world = tdist.get_world_size()
    planner = EmbeddingShardingPlanner(
        topology=Topology(
            world_size=world,
            local_world_size=get_local_size(world),
            compute_device=device.type,
        ),
        batch_size=local_batch,
        constraints=sharding_constraints(model, sharding),
    )
    plan = planner.collective_plan(model, get_default_sharders(), tdist.GroupMember.WORLD)
    dmp = DistributedModelParallel(module=model, device=device, plan=plan)
    return dmp, dmp.fused_optimizer


def dense_parameters(model: nn.Module, tables_optimizer) -> list[nn.Parameter]:
    """The parameters the dense optimizer owns: all but the tables' (which carry TorchRec's
    in-backward optimizer when sharded, or belong to the tables' optimizer otherwise)."""
    from torchrec.optim.optimizers import in_backward_optimizer_filter

    owned = {id(p) for g in tables_optimizer.param_groups for p in g["params"]}
    owned |= {id(p) for _, m in embedding_modules(model) for p in m.parameters()}
    return [
        p
        for _, p in in_backward_optimizer_filter(model.named_parameters())
        if id(p) not in owned and p.requires_grad
    ]


def copy_table_rows(model: nn.Module, full: dict[str, torch.Tensor]) -> None:
    """Write full tables (``table_weights`` of a plain model) into ``model``'s tables, plain,
    fused or sharded: each local shard gets its rows and columns (TorchRec's ShardedTensor
    shards are views of the FBGEMM weights). How a sharded model starts from the weights a
    single process drew (the sharded-equals-single test)."""
    state = model.state_dict()
    with torch.no_grad():
        for key, weight in full.items():
            target = state[_sharded_key(state, key)]
            shards = getattr(target, "local_shards", None)
            if shards is None:
                target.copy_(weight)
                continue
            for shard in shards():
                r, c = shard.metadata.shard_offsets
                h, w = shard.metadata.shard_sizes
                shard.tensor.copy_(weight[r : r + h, c : c + w])


def gather_table_rows(model: nn.Module, like: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The full tables of ``model`` (sharded: this rank's shards written into zero tables; sum
    over ranks for the whole), shaped as ``like``."""
    state = model.state_dict()
    out = {}
    for key, ref in like.items():
        target = state[_sharded_key(state, key)]
        shards = getattr(target, "local_shards", None)
        if shards is None:
            out[key] = target.detach().clone()
            continue
        full = torch.zeros_like(ref)
        for shard in shards():
            r, c = shard.metadata.shard_offsets
            h, w = shard.metadata.shard_sizes
            full[r : r + h, c : c + w] = shard.tensor.detach()
        out[key] = full
    return out


def _sharded_key(state: dict, key: str) -> str:
    if key in state:
        return key
    for prefix in ("module.", "_dmp_wrapped_module.module."):
        if prefix + key in state:
            return prefix + key
    raise KeyError(f"no table {key!r} in the model (it has {', '.join(list(state)[:8])} ...)")
