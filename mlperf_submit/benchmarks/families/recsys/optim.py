"""The optimizer the Trainer steps for a recommendation model, and what the log reads from it.

:class:`RecOptimizer` joins two optimizers into the one ``torch.optim.Optimizer`` the common
Trainer expects (``zero_grad``, ``step``, ``state_dict``, an LR scheduler over
``param_groups``):

- ``dense``: a torch optimizer over the MLPs / transformer (Adagrad for dlrm_dcnv2, Adam for
  dlrmv4, as the references);
- ``tables``: the embedding tables' optimizer from ``tables.place_tables``. A fused one
  (TorchRec's ``KeyedOptimizer`` over FBGEMM) updates the rows inside backward; its ``step``
  only hands FBGEMM the learning rate of its param group, so one scheduler drives both parts.

``state_dict()`` keeps torch's layout for the dense part -- ``{"state", "param_groups"}`` -- and
adds ``"tables"``: the tables' state (FBGEMM's momentum rows) and learning rates, so warm-up's
save/restore covers the fused state too. The dense Adagrad and both stepped table rules create
their per-parameter state at a parameter's first step (as Adam does) rather than at
construction: the same updates, and an optimizer as built that holds no state.

:func:`table_settings` reads the tables' rule back from the objects in effect (FBGEMM's
``optimizer`` / ``optimizer_args`` and learning rate, or the stepped optimizer's groups).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.optim.optimizer import _get_scalar_dtype

from mlperf_submit.benchmarks.families.recsys.tables import TableRule


class _StateAtFirstStep:
    """Mixin for an optimizer whose per-parameter state is created at the parameter's first
    step (``_first_state``) instead of at construction."""

    def __init__(self, params, **kwargs) -> None:
        super().__init__(params, **kwargs)
        self.state.clear()

    def _first_state(self, p: torch.Tensor, group: dict) -> dict:
        raise NotImplementedError

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None and not self.state[p]:
                    self.state[p].update(self._first_state(p, group))
        return super().step(closure)


class Adagrad(_StateAtFirstStep, torch.optim.Adagrad):
    """``torch.optim.Adagrad`` whose state (``step`` 0, ``sum`` = initial_accumulator_value)
    is created at a parameter's first step instead of at construction."""

    def _first_state(self, p: torch.Tensor, group: dict) -> dict:
        return {
            "step": torch.tensor(0.0, dtype=_get_scalar_dtype()),
            "sum": torch.full_like(
                p, group["initial_accumulator_value"], memory_format=torch.preserve_format
            ),
        }


def _rowwise_class():
    from torchrec.optim.rowwise_adagrad import RowWiseAdagrad as TorchRecRowWiseAdagrad

    class RowWiseAdagrad(_StateAtFirstStep, TorchRecRowWiseAdagrad):
        """TorchRec's ``RowWiseAdagrad`` (FBGEMM's EXACT_ROWWISE_ADAGRAD in torch: one
        accumulator per row, the mean of the squared gradient) with its state created at a
        parameter's first step."""

        def _first_state(self, p: torch.Tensor, group: dict) -> dict:
            init = group["initial_accumulator_value"]
            return {
                "step": torch.tensor(0.0),
                "sum": torch.full((p.shape[0], 1), float(init), dtype=p.dtype, device=p.device),
            }

    return RowWiseAdagrad


def stepped_table_optimizer(rule: TableRule, params) -> torch.optim.Optimizer:
    """The tables' rule as a torch optimizer stepped after the last micro-batch."""
    if rule.kind == "adagrad":
        return Adagrad(params, **rule.kwargs())
    return _rowwise_class()(params, **rule.kwargs())


class RecOptimizer(torch.optim.Optimizer):
    """The dense optimizer and the tables' optimizer as one (module doc)."""

    def __init__(self, dense: torch.optim.Optimizer, tables, *, fused: bool) -> None:
        self.dense = dense
        self.tables = tables
        self.fused = fused
        """True: the tables' optimizer runs inside backward (FBGEMM); False: in step()."""
        # torch's bookkeeping (hooks, profiler names) over the dense parameters; the groups
        # themselves are the two optimizers' own dicts, so a scheduler's writes reach both.
        super().__init__([p for g in dense.param_groups for p in g["params"]], {})
        self._join_groups()

    def _join_groups(self) -> None:
        self.param_groups = [*self.dense.param_groups, *self.tables.param_groups]
        self.state = self.dense.state

    @property
    def dense_groups(self) -> list[dict]:
        return self.dense.param_groups

    @property
    def table_groups(self) -> list[dict]:
        return self.tables.param_groups

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.dense.zero_grad(set_to_none=set_to_none)
        # A fused optimizer's zero_grad hands FBGEMM the group's LR for this step's backward.
        self.tables.zero_grad(set_to_none=set_to_none)

    @torch.no_grad()
    def step(self, closure=None):
        loss = self.dense.step(closure)
        self.tables.step()
        return loss

    def state_dict(self) -> dict:
        dense = self.dense.state_dict()
        tables = self.tables.state_dict()
        return {
            "state": dense["state"],
            "param_groups": dense["param_groups"],
            "tables": {"state": tables, "lr": [g["lr"] for g in self.tables.param_groups]},
        }

    def load_state_dict(self, state_dict: dict) -> None:
        self.dense.load_state_dict(
            {"state": state_dict["state"], "param_groups": state_dict["param_groups"]}
        )
        tables = state_dict["tables"]
        self.tables.load_state_dict(tables["state"])
        for group, lr in zip(self.tables.param_groups, tables["lr"], strict=True):
            group["lr"] = lr
        # torch's load_state_dict makes new group dicts: join the live ones again.
        self._join_groups()


@dataclass(frozen=True)
class TableSettings:
    """The tables' optimizer as it is in effect."""

    name: str
    """"adagrad" (EXACT_ADAGRAD) or "rowwise_adagrad" (EXACT_ROWWISE_ADAGRAD)."""
    eps: float
    weight_decay: float
    base_lr: float
    """The group's ``initial_lr`` (what the scheduler scales) or its LR."""


_FBGEMM_NAMES = {"EXACT_ADAGRAD": "adagrad", "EXACT_ROWWISE_ADAGRAD": "rowwise_adagrad"}


def fbgemm_modules(keyed_optimizer) -> list:
    """The FBGEMM table-batched modules behind a TorchRec fused ``KeyedOptimizer`` tree."""
    inner = getattr(keyed_optimizer, "_optims", None)
    if inner is not None:
        return [m for _, opt in inner for m in fbgemm_modules(opt)]
    emb = getattr(keyed_optimizer, "_emb_module", None)
    return [emb] if emb is not None else []


def table_settings(optimizer: RecOptimizer) -> TableSettings:
    """The tables' rule read back from FBGEMM (fused) or the stepped optimizer; every table
    group must agree. Under a process group the ranks' findings are gathered: a rank may hold
    no table (26 table-wise tables on 32 ranks). Every rank must call it."""
    groups = optimizer.table_groups
    lrs = {float(g.get("initial_lr", g["lr"])) for g in groups}
    if optimizer.fused:
        found = set()
        for emb in fbgemm_modules(optimizer.tables):
            kind = getattr(emb.optimizer, "name", str(emb.optimizer))
            args = emb.optimizer_args
            found.add((_FBGEMM_NAMES.get(kind, kind), float(args.eps), float(args.weight_decay)))
    else:
        kind = "adagrad" if isinstance(optimizer.tables, torch.optim.Adagrad) else "rowwise_adagrad"
        found = {(kind, float(g["eps"]), float(g["weight_decay"])) for g in groups}
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        every: list = [None] * torch.distributed.get_world_size()
        torch.distributed.all_gather_object(every, (found, lrs))
        found = set().union(*(f for f, _ in every))
        lrs = set().union(*(r for _, r in every))
    if len(found) != 1 or len(lrs) != 1:
        raise RuntimeError(f"the embedding tables' optimizers disagree: {found}, lr {lrs}")
    (name, eps, wd), lr = found.pop(), lrs.pop()
    return TableSettings(name=name, eps=eps, weight_decay=wd, base_lr=float(lr))
