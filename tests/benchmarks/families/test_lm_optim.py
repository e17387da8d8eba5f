"""AdamW groups, global-norm clipping and the cosine-with-linear-warmup schedule."""

from __future__ import annotations

import math

import pytest
import torch

from mlperf_submit.benchmarks.common.optim import WarmupCosineLR
from mlperf_submit.benchmarks.families.decoder.model import Decoder
from mlperf_submit.benchmarks.families.lm_pretraining.config import OptimConfig
from mlperf_submit.benchmarks.families.lm_pretraining.optim import build_adamw, param_groups
from mlperf_submit.benchmarks.llama31_8b.config import tiny


def _lrs(base, end, warmup, max_steps, n):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.AdamW([p], lr=base)
    sched = WarmupCosineLR(opt, warmup_steps=warmup, max_steps=max_steps, end_lr=end)
    out = []
    for _ in range(n):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out, sched


def test_schedule_points():
    lrs, sched = _lrs(1e-3, 1e-4, 10, 110, 130)
    assert lrs[0] == pytest.approx(1e-4)  # (0 + 1) / 10 of the peak
    assert lrs[9] == pytest.approx(1e-3)  # warm-up ends at the peak
    assert lrs[10] == pytest.approx(1e-3)  # cosine starts at the peak
    assert lrs[60] == pytest.approx(1e-4 + 0.9e-3 * 0.5)  # half way down the cosine
    assert lrs[110] == pytest.approx(1e-4)  # max_steps: end_lr
    assert lrs[125] == pytest.approx(1e-4)  # and stays there
    assert all(a >= b - 1e-15 for a, b in zip(lrs[10:111], lrs[11:111]))  # monotone decay
    assert sched.decay_steps == 100


def test_closed_schedule_logged_values():
    _, sched = _lrs(1e-3, 1e-4, 512, 1_200_000, 1)
    assert (sched.warmup_steps, sched.decay_steps, sched.max_steps) == (512, 1_199_488, 1_200_000)
    assert sched.end_lr == 1e-4


def test_norms_are_not_decayed():
    model = Decoder(tiny().model)
    decay, no_decay = param_groups(model, 0.1)
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert all(p.dim() == 2 for p in decay["params"])
    assert len(no_decay["params"]) == 2 * tiny().model.n_layers + 1  # two norms per block + final


def test_clipping_bounds_the_global_norm_before_each_step():
    torch.manual_seed(0)
    model = Decoder(tiny().model)
    opt = build_adamw(model, OptimConfig(base_lr=1e-3, grad_clip=0.5), torch.device("cpu"), True)
    assert opt.param_groups[0]["max_grad_norm"] == 0.5
    seen = []
    opt.register_step_pre_hook(
        lambda o, a, k: seen.append(
            math.sqrt(sum(float(p.grad.pow(2).sum()) for g in o.param_groups for p in g["params"]))
        )
    )
    x = torch.randint(0, 256, (4, 33))
    loss = torch.nn.functional.cross_entropy(model(x[:, :-1]).flatten(0, 1), x[:, 1:].flatten())
    (loss * 100).backward()  # a norm far above the threshold
    before = math.sqrt(sum(float(p.grad.pow(2).sum()) for p in model.parameters()))
    opt.step()
    assert before > 0.5
    assert seen[0] == pytest.approx(0.5, rel=1e-4)


def test_no_clipping_when_zero():
    p = torch.nn.Parameter(torch.ones(3))
    opt = build_adamw(
        torch.nn.ParameterList([p]), OptimConfig(grad_clip=0.0), torch.device("cpu"), True
    )
    p.grad = torch.full((3,), 100.0)
    opt.step()
    assert torch.equal(p.grad, torch.full((3,), 100.0))
