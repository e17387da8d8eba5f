"""The mixture-of-experts layer against independent formulations: per-token routing, the
balancing losses (Megatron's formulas and transformers' Mixtral loss), capacity dropping, the
routing bias update, determinism, and expert parallelism on 2 gloo ranks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from multi_rank import free_port

from mlperf_submit.benchmarks.families.decoder import moe_parallel
from mlperf_submit.benchmarks.families.decoder.moe import MoE, balancing_loss
from mlperf_submit.benchmarks.families.decoder.moe_config import MoEConfig
from mlperf_submit.errors import UsageError

REPO = Path(__file__).resolve().parents[3]

SOFTMAX = MoEConfig(n_experts=8, top_k=2, expert_hidden=16, balance="aux_loss", aux_loss_coeff=0.01)
PRE_SOFTMAX = MoEConfig(n_experts=8, top_k=3, expert_hidden=16, pre_softmax=True)
DEEPSEEK = MoEConfig(
    n_experts=8, top_k=3, expert_hidden=16, n_shared_experts=1, score="sigmoid", norm_topk=True,
    route_scale=2.5, n_groups=4, topk_groups=2, expert_bias=True, balance="seq_aux_loss",
    aux_loss_coeff=0.01,
)  # fmt: skip


def _moe(cfg: MoEConfig, seed: int = 0, dim: int = 12) -> MoE:
    torch.manual_seed(seed)
    m = MoE(dim, cfg)
    with torch.no_grad():
        for p in m.parameters():
            p.normal_(0.0, 0.3)
        if m.router.expert_bias is not None:
            m.router.expert_bias.copy_(torch.linspace(-0.2, 0.2, cfg.n_experts))
    return m


def _route_one(cfg: MoEConfig, m: MoE, x: torch.Tensor):
    """One token's experts and weights, written out from the definitions."""
    logits = (m.router.weight.detach().double() @ x.double()).tolist()
    e = cfg.n_experts
    if cfg.score == "softmax":
        z = torch.tensor(logits).softmax(0).tolist()
        if cfg.pre_softmax:
            chosen = sorted(range(e), key=lambda i: -z[i])[: cfg.top_k]
            return chosen, [z[i] for i in chosen]
        chosen = sorted(range(e), key=lambda i: -logits[i])[: cfg.top_k]
        top = torch.tensor([logits[i] for i in chosen]).softmax(0).tolist()
        return chosen, top
    s = [1 / (1 + torch.exp(torch.tensor(-v)).item()) for v in logits]
    bias = m.router.expert_bias.tolist()
    biased = [a + b for a, b in zip(s, bias)]
    size = e // cfg.n_groups
    group_score = [sum(sorted(biased[g * size : (g + 1) * size])[-2:]) for g in range(cfg.n_groups)]
    groups = sorted(range(cfg.n_groups), key=lambda g: -group_score[g])[: cfg.topk_groups]
    allowed = [i for i in range(e) if i // size in groups]
    chosen = sorted(allowed, key=lambda i: -biased[i])[: cfg.top_k]
    w = [s[i] for i in chosen]
    total = sum(w)
    return chosen, [cfg.route_scale * v / total for v in w]


@pytest.mark.parametrize("cfg", [SOFTMAX, PRE_SOFTMAX, DEEPSEEK], ids=["topk-softmax",
                         "softmax-topk", "deepseek"])  # fmt: skip
def test_grouped_experts_equal_the_per_token_definition(cfg):
    m = _moe(cfg)
    x = torch.randn(2, 5, 12, generator=torch.Generator().manual_seed(1))
    y = m(x).reshape(-1, 12)
    for t, tok in enumerate(x.reshape(-1, 12)):
        chosen, weights = _route_one(cfg, m, tok)
        want = torch.zeros(12)
        for e, w in zip(chosen, weights):
            h = F.silu(m.experts.w1[e] @ tok) * (m.experts.w3[e] @ tok)
            want += w * (m.experts.w2[e] @ h)
        if m.shared_experts is not None:
            want += m.shared_experts(tok)
        assert torch.allclose(y[t], want, atol=1e-5), t


def test_grouped_gemm_path_equals_the_per_expert_loop():
    """The GPU path (``torch._grouped_mm``) on the CPU in fp32: values and gradients."""
    # make test installs torch 2.13, which has it; an older torch would silently run the loop
    # for "grouped" (moe.py falls back), and this comparison would check nothing.
    assert hasattr(torch, "_grouped_mm"), "this torch has no _grouped_mm: install torch==2.13.0"
    m = _moe(DEEPSEEK)
    x = torch.randn(2, 9, 12, generator=torch.Generator().manual_seed(3))
    out = {}
    for impl in ("loop", "grouped"):
        m.experts.impl = impl
        m.zero_grad()
        y = m(x)
        y.pow(2).sum().backward()
        out[impl] = (y.detach(), m.experts.w1.grad.clone(), m.experts.w2.grad.clone())
    for a, b in zip(out["loop"], out["grouped"]):
        assert torch.allclose(a, b, atol=1e-5)


def test_routing_is_deterministic_under_a_seed():
    x = torch.randn(4, 16, 12, generator=torch.Generator().manual_seed(2))
    a, b, c = _moe(DEEPSEEK, seed=7), _moe(DEEPSEEK, seed=7), _moe(DEEPSEEK, seed=8)
    torch.nn.init.normal_(a.router.weight, generator=torch.Generator().manual_seed(3))
    torch.nn.init.normal_(b.router.weight, generator=torch.Generator().manual_seed(3))
    wa, ia, _ = a.router(x.reshape(-1, 12))
    wb, ib, _ = b.router(x.reshape(-1, 12))
    assert torch.equal(ia, ib) and torch.equal(wa, wb)
    assert torch.equal(a(x), a(x)) and torch.equal(a(x), b(x))
    assert not torch.equal(c.router(x.reshape(-1, 12))[1], ia)


def test_switch_aux_loss_is_megatrons_formula():
    m = _moe(SOFTMAX)
    x = torch.randn(3, 7, 12, generator=torch.Generator().manual_seed(4))
    m(x)
    logits = (x.reshape(-1, 12) @ m.router.weight.T).double()
    probs = logits.softmax(-1)
    chosen = logits.topk(2, dim=-1).indices
    n, e, k = logits.shape[0], 8, 2
    tokens_per_expert = torch.bincount(chosen.flatten(), minlength=e).double()
    # Megatron-Core switch_load_balancing_loss_func
    megatron = (probs.sum(0) * tokens_per_expert).sum() * (e * 0.01 / (k * n * n))
    assert float(m.aux_loss) == pytest.approx(float(megatron), rel=1e-5)
    # The same as coeff * E * sum_e f_e P_e (f: share of the N*k assignments, P: mean score);
    # transformers' Mixtral loss omits the 1/k (it is k times this over the coefficient).
    f, p = tokens_per_expert / (n * k), probs.mean(0)
    assert float(m.aux_loss) == pytest.approx(0.01 * e * float((f * p).sum()), rel=1e-5)


def test_sequence_aux_loss_is_deepseeks_per_sequence_formula():
    m = _moe(DEEPSEEK)
    x = torch.randn(3, 7, 12, generator=torch.Generator().manual_seed(5))
    m(x)
    e, k, t = 8, 3, 7
    total = 0.0
    for seq in x:
        s = (seq @ m.router.weight.T).double().sigmoid()
        s_norm = s / s.sum(-1, keepdim=True)
        _, idx, _ = m.router(seq)
        counts = torch.bincount(idx.flatten(), minlength=e).double()
        f = counts * e / (k * t)
        p = s_norm.mean(0)
        total += 0.01 * float((f * p).sum())
    assert float(m.aux_loss) == pytest.approx(total / 3, rel=1e-5)
    weights, idx, scores = m.router(x.reshape(-1, 12))
    assert float(balancing_loss(DEEPSEEK, scores, idx, 3)) == pytest.approx(float(m.aux_loss))


def test_capacity_keeps_the_highest_weights_per_expert():
    cfg = MoEConfig(n_experts=4, top_k=2, expert_hidden=8, capacity_factor=0.5)
    m = _moe(cfg, dim=6)
    flat = torch.randn(24, 6, generator=torch.Generator().manual_seed(6))
    weights, idx = m.router(flat)[:2]
    kept = m._assignments(weights, idx)
    capacity = 24 * 2 // 4 // 2  # ceil(48 / 4 * 0.5)
    experts = idx.flatten()[kept]
    assert torch.bincount(experts, minlength=4).max() <= capacity
    w = weights.flatten()
    for e in range(4):
        mine = (idx.flatten() == e).nonzero().flatten()
        keep = set(kept[experts == e].tolist())
        best = set(mine[w[mine].argsort(descending=True)[:capacity]].tolist())
        assert keep == best
    by_position = MoEConfig(n_experts=4, top_k=2, expert_hidden=8, capacity_factor=0.5,
                            drop_policy="position")  # fmt: skip
    m.cfg = by_position
    kept = m._assignments(weights, idx)
    for e in range(4):
        mine = (idx.flatten() == e).nonzero().flatten()
        assert set(kept[idx.flatten()[kept] == e].tolist()) == set(mine[:capacity].tolist())


def test_expert_bias_moves_against_the_load_after_each_step():
    m = _moe(DEEPSEEK)
    m.train()
    start = m.router.expert_bias.clone()
    opt = torch.optim.SGD(m.parameters(), lr=0.0)
    moe_parallel.attach_expert_bias_update(opt, m)
    x = torch.randn(2, 8, 12, generator=torch.Generator().manual_seed(9))
    m(x).sum().backward()
    load = m.router.load.clone()
    opt.step()
    step = m.router.expert_bias - start
    assert torch.allclose(step, 1e-3 * torch.sign(load.mean() - load))
    assert m.router.load is None
    with torch.no_grad():  # evaluation forwards do not count
        m.eval()
        m(x)
    assert m.router.load is None


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(n_experts=8, top_k=9), "top_k"),
        (dict(n_experts=8, n_groups=3), "n_groups=3"),
        (dict(n_experts=8, expert_parallel=3), "expert_parallel=3"),
        (dict(n_experts=8, top_k=4, n_groups=4, topk_groups=1), "fewer than top_k"),
        (dict(dense_layers=2), "dense_hidden"),
    ],
)
def test_bad_moe_configs_say_what_to_change(kwargs, message):
    with pytest.raises(UsageError, match=message):
        MoEConfig(**kwargs)


def test_expert_parallel_step_equals_the_single_process_step():
    """2 gloo ranks, experts split 2 ways, DDP for the rest: the forward and one clipped AdamW
    step (balancing loss and routing bias included) equal one process on the whole batch."""
    port = free_port()
    procs = [
        subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("ep_worker.py")), "softmax", "sigmoid"],
            env={
                **os.environ,
                "RANK": str(r),
                "WORLD_SIZE": "2",
                "MASTER_ADDR": "127.0.0.1",
                "MASTER_PORT": str(port),
                "OMP_NUM_THREADS": "1",
                "PYTHONPATH": str(REPO),
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=REPO,
        )  # fmt: skip
        for r in range(2)
    ]
    try:
        outputs = [p.communicate(timeout=300)[0] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    results = []
    for p, out in zip(procs, outputs):
        assert p.returncode == 0, out
        lines = [ln for ln in out.splitlines() if ln.startswith("RESULT ")]
        assert len(lines) == 2, out  # softmax routing, then DeepSeek's
        results += [json.loads(ln[len("RESULT ") :]) for ln in lines]
    for r in results:
        assert r["out"] < 1e-5 and r["param"] < 1e-5, r
        assert r["moved"] > 1e-4 and r["grad_norm"] > 0.05, r  # it stepped, and clipping acted
