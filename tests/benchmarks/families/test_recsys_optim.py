"""The tables' optimizers: FBGEMM's fused rules equal the stepped torch rules; the lazy-state
Adagrads equal torch's and TorchRec's; RecOptimizer's state_dict restores the fused state; the
settings in effect are read back from FBGEMM."""

from __future__ import annotations

import copy

import pytest
import torch

from mlperf_submit.benchmarks.families.recsys.optim import (
    Adagrad,
    RecOptimizer,
    stepped_table_optimizer,
    table_settings,
)
from mlperf_submit.benchmarks.families.recsys.tables import (
    TableRule,
    embedding_modules,
    place_tables,
    table_weights,
)


def _model(kind: str):
    from torchrec import EmbeddingBagCollection, EmbeddingBagConfig, EmbeddingCollection
    from torchrec.modules.embedding_configs import EmbeddingConfig

    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            if kind == "bag":
                cfgs = [
                    EmbeddingBagConfig(
                        name=f"t{i}", embedding_dim=4, num_embeddings=12, feature_names=[f"f{i}"]
                    )
                    for i in range(2)
                ]
                self.tables = EmbeddingBagCollection(tables=cfgs)
            else:
                cfgs = [
                    EmbeddingConfig(
                        name=f"t{i}", embedding_dim=4, num_embeddings=12, feature_names=[f"f{i}"]
                    )
                    for i in range(2)
                ]
                self.tables = EmbeddingCollection(tables=cfgs)
            self.out = torch.nn.Linear(4, 1)

        def forward(self, kjt):
            if kind == "bag":
                x = self.tables(kjt).values().view(-1, 2, 4).sum(1)
            else:
                x = torch.cat([jt.values() for jt in self.tables(kjt).values()])
            return self.out(x).squeeze(-1)

    torch.manual_seed(0)
    return M()


def _kjt(seed: int):
    from torchrec.sparse.jagged_tensor import KeyedJaggedTensor

    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, 4, (6,), generator=g)
    values = torch.randint(0, 12, (int(lengths.sum()),), generator=g)
    return KeyedJaggedTensor.from_lengths_sync(keys=["f0", "f1"], values=values, lengths=lengths)


def _train(model, opt, steps=3):
    for s in range(steps):
        opt.zero_grad()
        (model(_kjt(s)) ** 2).mean().backward()
        opt.step()


def test_fused_fbgemm_adagrad_equals_the_stepped_torch_rule():
    rule = TableRule("adagrad", lr=0.1, eps=1e-8)
    fused, fused_opt = place_tables(_model("bag"), rule, kind="fused", device=torch.device("cpu"))
    stepped, stepped_opt = place_tables(
        _model("bag"), rule, kind="stepped", device=torch.device("cpu")
    )
    assert type(embedding_modules(fused)[0][1]).__name__ == "FusedEmbeddingBagCollection"
    start = {k: v.detach().clone() for k, v in table_weights(stepped).items()}
    assert all(torch.equal(start[k], v) for k, v in table_weights(fused).items())
    dense = [fused.out.weight, fused.out.bias]
    ro_f = RecOptimizer(torch.optim.SGD(dense, lr=0.0), fused_opt, fused=True)
    ro_s = RecOptimizer(
        torch.optim.SGD([stepped.out.weight, stepped.out.bias], lr=0.0), stepped_opt, fused=False
    )
    _train(fused, ro_f)
    _train(stepped, ro_s)
    a, b = table_weights(fused), table_weights(stepped)
    assert max((a[k] - start[k]).abs().max() for k in a) > 1e-3
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6)


def test_lazy_adagrads_have_no_state_as_built_and_step_as_the_originals():
    from torchrec.optim.rowwise_adagrad import RowWiseAdagrad as TorchRecRowWise

    for ours, theirs in (
        (lambda p: Adagrad(p, lr=0.1, eps=1e-8, initial_accumulator_value=0.5), lambda p: torch.optim.Adagrad(p, lr=0.1, eps=1e-8, initial_accumulator_value=0.5)),
        (lambda p: stepped_table_optimizer(TableRule("rowwise_adagrad", 0.1, 1e-8), p), lambda p: TorchRecRowWise(p, lr=0.1, eps=1e-8)),
    ):  # fmt: skip
        torch.manual_seed(1)
        w0 = torch.randn(5, 3)
        p1, p2 = torch.nn.Parameter(w0.clone()), torch.nn.Parameter(w0.clone())
        o1, o2 = ours([p1]), theirs([p2])
        assert o1.state_dict()["state"] == {}
        for s in range(3):
            g = torch.randn(5, 3, generator=torch.Generator().manual_seed(s))
            p1.grad, p2.grad = g.clone(), g.clone()
            o1.step()
            o2.step()
        torch.testing.assert_close(p1, p2, rtol=0, atol=0)


def test_state_dict_restores_the_fused_momentum_and_keeps_the_groups_live():
    rule = TableRule("rowwise_adagrad", lr=0.05, eps=1e-8)
    model, tables_opt = place_tables(_model("bag"), rule, kind="fused", device=torch.device("cpu"))
    dense = torch.optim.Adam([model.out.weight, model.out.bias], lr=1e-3)
    opt = RecOptimizer(dense, tables_opt, fused=True)
    saved_model = copy.deepcopy(model.state_dict())
    saved = copy.deepcopy(opt.state_dict())
    assert saved["state"] == {} and "tables" in saved
    _train(model, opt)
    momentum = [
        v for s in opt.state_dict()["tables"]["state"]["state"].values() for v in s.values()
    ]
    assert max(float(m.abs().max()) for m in momentum) > 0
    model.load_state_dict(saved_model)
    opt.load_state_dict(saved)
    restored = [
        v for s in opt.state_dict()["tables"]["state"]["state"].values() for v in s.values()
    ]
    assert all(float(m.abs().max()) == 0 for m in restored)
    assert opt.state_dict()["state"] == {}
    # After a load, a scheduler's write to param_groups still reaches both optimizers.
    for g in opt.param_groups:
        g["lr"] = 0.125
    assert dense.param_groups[0]["lr"] == 0.125 and tables_opt.param_groups[0]["lr"] == 0.125


def test_settings_are_read_back_from_fbgemm():
    rule = TableRule("rowwise_adagrad", lr=0.05, eps=1e-7)
    model, tables_opt = place_tables(_model("bag"), rule, kind="fused", device=torch.device("cpu"))
    opt = RecOptimizer(torch.optim.Adam([model.out.weight], lr=1e-3), tables_opt, fused=True)
    s = table_settings(opt)
    assert (s.name, s.eps, s.weight_decay) == ("rowwise_adagrad", 1e-7, 0.0)
    assert s.base_lr == pytest.approx(0.05, rel=1e-7)  # FBGEMM holds its LR in float32
    stepped, st_opt = place_tables(_model("coll"), rule, kind="stepped", device=torch.device("cpu"))
    s2 = table_settings(
        RecOptimizer(torch.optim.Adam([stepped.out.weight], lr=1e-3), st_opt, fused=False)
    )
    assert (s2.name, s2.eps, s2.base_lr) == ("rowwise_adagrad", 1e-7, 0.05)
