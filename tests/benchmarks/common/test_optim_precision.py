"""Optimizer factories fall back to torch without apex; precision is fp32 on CPU whatever is
asked (bf16/fp16 autocast and the fp16 grad scaler are GPU-only)."""

from __future__ import annotations

import torch

from mlperf_submit.benchmarks.common import optim
from mlperf_submit.benchmarks.common.precision import make_precision


def params():
    return [torch.nn.Parameter(torch.ones(3))]


def test_factories_fall_back_to_torch_without_apex():
    assert optim._apex_optimizers() is None  # apex does not install on these machines
    sgd = optim.sgd(params(), lr=0.1, momentum=0.9, weight_decay=1e-4, device=torch.device("cpu"))
    assert type(sgd) is torch.optim.SGD and sgd.param_groups[0]["momentum"] == 0.9
    adamw = optim.adamw(
        params(), lr=1e-3, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1, device=torch.device("cpu")
    )
    assert type(adamw) is torch.optim.AdamW and adamw.param_groups[0]["betas"] == (0.9, 0.95)
    assert optim.implementation(sgd).startswith("torch")


def test_cpu_runs_fp32_whatever_is_asked():
    for asked in ("fp32", "bf16", "fp16"):
        p = make_precision(asked, torch.device("cpu"))
        assert p.name == "fp32" and p.scaler is None
        w = torch.nn.Parameter(torch.tensor([1.0]))
        opt = torch.optim.SGD([w], lr=0.5)
        with p.autocast():
            loss = (w * 2).sum()
        assert loss.dtype == torch.float32
        p.backward(loss)
        p.step(opt)
        assert float(w.detach()) == 0.0  # 1 - 0.5 * 2
