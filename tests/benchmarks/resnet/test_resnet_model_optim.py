"""ResNet-50 v1.5 shape, LARS arithmetic, the MLPerf poly schedule, the block plan."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from mlperf_submit.benchmarks.common.config import apply_overrides
from mlperf_submit.benchmarks.resnet.benchmark import ResNetBenchmark
from mlperf_submit.benchmarks.resnet.config import PRESETS, tiny
from mlperf_submit.benchmarks.resnet.model import (
    Bottleneck,
    ResNetSpec,
    build_resnet,
    count_parameters,
)
from mlperf_submit.benchmarks.resnet.optim import LARS, PolyWarmupLR, param_groups


def test_resnet50_has_the_reference_size_and_v15_strides():
    net = build_resnet(ResNetSpec())
    assert count_parameters(net) == 25_557_032  # the published ResNet-50 count
    first_of_stage = [stage[0] for stage in net.stages]
    assert [b.conv2.stride for b in first_of_stage] == [(1, 1), (2, 2), (2, 2), (2, 2)]
    assert all(b.conv1.stride == (1, 1) for b in first_of_stage)  # v1.5: not on the 1x1
    assert all(
        float(b.bn3.weight.detach().abs().sum()) == 0
        for b in net.modules()
        if isinstance(b, Bottleneck)
    )
    with torch.no_grad():
        assert net.eval()(torch.zeros(1, 3, 64, 64)).shape == (1, 1000)


def test_tiny_net_runs_at_16_px():
    net = build_resnet(ResNetSpec(layers=(1, 1, 1, 1), width=8, num_classes=10, stem="small"))
    assert net(torch.randn(2, 3, 16, 16)).shape == (2, 10)


def test_lars_step_matches_the_formula():
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.randn(4, 3))
    b = torch.nn.Parameter(torch.randn(4))
    w.grad, b.grad = torch.randn(4, 3), torch.randn(4)
    w0, b0, gw, gb = w.detach().clone(), b.detach().clone(), w.grad.clone(), b.grad.clone()
    lr, wd, eta, mom = 0.5, 1e-3, 0.01, 0.9
    opt = LARS(
        [{"params": [w], "weight_decay": wd, "lars": True},
         {"params": [b], "weight_decay": 0.0, "lars": False}],
        lr=lr, momentum=mom, weight_decay=wd, eta=eta,
    )  # fmt: skip
    opt.step()
    trust = eta * w0.norm() / (gw.norm() + wd * w0.norm())
    assert torch.allclose(w.detach(), w0 - lr * trust * (gw + wd * w0))
    assert torch.allclose(b.detach(), b0 - lr * gb)  # BN/bias: plain SGD, no decay
    opt.step()  # momentum: the second step adds mom * the first update
    assert opt.state[w]["momentum_buffer"].shape == w.shape


def reference_lars_step(params, states, lr, mom, wd, eta, eps, lars):
    """The per-tensor form of the LARS step (what the foreach implementation must equal)."""
    for p in params:
        g = p.grad + wd * p if wd else p.grad
        buf = states.setdefault(p, torch.zeros_like(p))
        if lars:
            w_n, g_n = p.norm(), p.grad.norm()
            denom = g_n + wd * w_n + eps
            trust = torch.where((w_n > 0) & (denom > 0), eta * w_n / denom, torch.ones_like(w_n))
            buf.mul_(mom).add_(g * (trust * lr))
        else:
            buf.mul_(mom).add_(g, alpha=lr)
        p.sub_(buf)


def test_foreach_lars_equals_the_per_tensor_form_bit_for_bit():
    torch.manual_seed(3)
    net = build_resnet(ResNetSpec(layers=(1, 1), width=8, num_classes=10, stem="small"))
    ref = copy.deepcopy(net)
    with torch.no_grad():  # one zero weight tensor: the trust ratio's fallback branch
        next(p for p in net.parameters() if p.ndim > 1).zero_()
        next(p for p in ref.parameters() if p.ndim > 1).zero_()
    lr, mom, wd, eta = 2.0, 0.9, 5e-5, 0.001
    opt = LARS(param_groups(net, wd), lr=lr, momentum=mom, weight_decay=wd, eta=eta)
    states: dict = {}
    x, y = torch.randn(8, 3, 16, 16), torch.randint(0, 10, (8,))
    for _ in range(3):
        for model in (net, ref):
            model.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        decay, skip = param_groups(ref, wd)
        with torch.no_grad():
            reference_lars_step(decay["params"], states, lr, mom, wd, eta, 0.0, True)
            reference_lars_step(skip["params"], states, lr, mom, 0.0, eta, 0.0, False)
    for a, b in zip(net.parameters(), ref.parameters()):
        assert torch.equal(a, b)


def test_param_groups_skip_bn_and_bias():
    net = build_resnet(ResNetSpec(layers=(1,), width=4, num_classes=3, stem="small"))
    decay, skip = param_groups(net, 5e-5)
    assert all(p.ndim > 1 for p in decay["params"]) and all(p.ndim == 1 for p in skip["params"])
    assert skip["weight_decay"] == 0.0 and not skip["lars"]


def test_poly_schedule_warmup_then_decay_to_end_lr():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=2.0)
    s = PolyWarmupLR(opt, steps_per_epoch=10, warmup_epochs=1, decay_epochs=5, end_lr=1e-4, power=2)
    lrs = []
    for _ in range(60):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        s.step()
    assert lrs[0] == pytest.approx(0.2) and lrs[9] == pytest.approx(2.0)
    mid = 10 + 20  # halfway through the decay
    assert lrs[mid] == pytest.approx((2.0 - 1e-4) * 0.25 + 1e-4)
    assert lrs[50] == pytest.approx(1e-4) and lrs[59] == pytest.approx(1e-4)
    assert all(a >= b for a, b in zip(lrs[9:], lrs[10:]))


@pytest.mark.parametrize(
    "overrides, plan",
    [
        (["schedule.eval_offset=0", "schedule.max_epochs=12"], [(0, 4), (4, 4), (8, 4)]),
        (["schedule.eval_offset=3", "schedule.max_epochs=10"], [(0, 3), (3, 4), (7, 3)]),
        (["schedule.eval_offset=1", "schedule.max_epochs=2"], [(0, 1), (1, 1)]),
    ],
)
def test_eval_every_4_epochs_with_offset(overrides, plan):
    bm = ResNetBenchmark(apply_overrides(tiny(), overrides), None)
    assert [(b.first, b.count) for b in bm.blocks()] == plan


def test_closed_presets_satisfy_the_closed_rules_and_tiny_does_not():
    for name, preset in PRESETS.items():
        problems = ResNetBenchmark.closed_problems(preset())
        assert (problems == []) == (name != "tiny"), (name, problems)
    cfg = PRESETS["config_DGXH100_1x8x400"]()
    assert math.log2(cfg.optim.weight_decay / 1e-4) == -1
