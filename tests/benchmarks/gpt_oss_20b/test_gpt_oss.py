"""gpt_oss_20b: the reference shape and its parameter counts, the q/k-normalised windowed
attention against a direct formulation, the closed schedule (RCP points, the YAML's decay
rule), and expert parallelism in a real 2-process run with its 6.1 key."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import yaml
from mlperf_logging import compliance_checker, rcp_checker
from multi_rank import launch_train
from tiny_runs import records

from mlperf_submit.benchmarks.families.decoder.attention import sliding_window_mask
from mlperf_submit.benchmarks.families.decoder.config import DecoderConfig
from mlperf_submit.benchmarks.families.decoder.flops import matmul_params
from mlperf_submit.benchmarks.families.decoder.model import Decoder
from mlperf_submit.benchmarks.families.decoder.qk_norm_attention import (
    QKNormGQAConfig,
    local_attention,
)
from mlperf_submit.benchmarks.families.decoder.rope import apply_rope, rope_cos_sin
from mlperf_submit.benchmarks.gpt_oss_20b.benchmark import GptOss20BBenchmark as Bm
from mlperf_submit.benchmarks.gpt_oss_20b.config import GPT_OSS_20B, PRESETS, rcp_optim, tiny

CHECKER = Path(compliance_checker.__file__).parent
RCPS = Path(rcp_checker.__file__).parent


def test_reference_shape_parameters_total_and_active():
    with torch.device("meta"):
        model = Decoder(GPT_OSS_20B)
    d, v, e = 2880, 128256, 32
    attn = d * 64 * 64 * 2 + d * 8 * 64 * 2 + 2 * 64  # q, o, k, v, q/k norms
    moe = d * e + e * 3 * d * 2880
    assert model.num_params() == 24 * (attn + moe + 2 * d) + 2 * v * d + d  # 20.49B
    assert matmul_params(GPT_OSS_20B) / 1e9 == pytest.approx(3.40, abs=0.01)
    # With GPT-OSS's own 201,088-token vocabulary: OpenAI's 20.9B total, 3.6B active (their
    # count also has ~7M biases and sinks the reference does not build).
    hf_vocab = replace(GPT_OSS_20B, vocab_size=201088)
    with torch.device("meta"):
        total = Decoder(hf_vocab).num_params()
    assert total / 1e9 == pytest.approx(20.9, abs=0.02)
    assert matmul_params(hf_vocab) / 1e9 == pytest.approx(3.6, abs=0.02)


@pytest.mark.parametrize("t, window", [(50, 7), (64, 16), (17, 20), (33, 1)])
def test_local_attention_equals_the_band_masked_attention(t, window):
    g = torch.Generator().manual_seed(t)
    q, k, v = (torch.randn(2, n, t, 8, generator=g) for n in (4, 2, 2))
    ref = F.scaled_dot_product_attention(
        q, k, v, attn_mask=sliding_window_mask(t, window, q.device), enable_gqa=True
    )
    assert torch.allclose(local_attention(q, k, v, window), ref, atol=1e-6)


def test_qk_norm_attention_equals_its_definition():
    """RMSNorm on each q and k head, RoPE, a 129-position window (TE's (128, 0)), softmax."""
    dim, t = 32, 300
    cfg = DecoderConfig(vocab_size=16, dim=dim, n_layers=2, max_seq_len=t, rope_scaling=None,
                        attention=QKNormGQAConfig(n_heads=4, n_kv_heads=2, head_dim=8,
                                                  sliding_window=129, window_every=2))  # fmt: skip
    torch.manual_seed(0)
    windowed, full = cfg.attention.build(cfg, 0), cfg.attention.build(cfg, 1)
    with torch.no_grad():
        for p in [*windowed.q_norm.parameters(), *windowed.k_norm.parameters()]:
            p.uniform_(0.5, 1.5)
    x = torch.randn(1, t, dim)
    cos, sin = rope_cos_sin(8, t, 10000.0, None)

    def direct(m, window):
        q = m.wq(x).view(1, t, 4, 8)
        k = m.wk(x).view(1, t, 2, 8)
        v = m.wv(x).view(1, t, 2, 8)
        norm = lambda y, w: y / y.pow(2).mean(-1, keepdim=True).add(1e-5).sqrt() * w  # noqa: E731
        q, k = norm(q, m.q_norm.weight), norm(k, m.k_norm.weight)
        q = apply_rope(q.transpose(1, 2), cos, sin)
        k = apply_rope(k.transpose(1, 2), cos, sin).repeat_interleave(2, 1)
        v = v.transpose(1, 2).repeat_interleave(2, 1)
        i = torch.arange(t)
        allowed = (i[:, None] >= i[None, :]) & (i[:, None] - i[None, :] <= window - 1)
        s = (q @ k.transpose(-1, -2) / math.sqrt(8)).masked_fill(~allowed, float("-inf"))
        return m.wo((s.softmax(-1) @ v).transpose(1, 2).reshape(1, t, 32))

    with torch.no_grad():
        assert torch.allclose(windowed(x, cos, sin), direct(windowed, 129), atol=1e-5)
        assert torch.allclose(full(x, cos, sin), direct(full, t), atol=1e-5)
        # The window is 128 past tokens plus the token itself.
        assert not torch.allclose(windowed(x, cos, sin), direct(windowed, 128), atol=1e-5)


def test_closed_presets_follow_the_rcp_points_and_the_yaml_decay_rule():
    rcps = json.loads((RCPS / "training_6.1.0/rcps_gpt_oss_20b.json").read_text())
    for point in rcps.values():
        gbs, hp = point["BS"], point["Hyperparams"]
        o = rcp_optim(gbs)
        assert o.base_lr == hp["opt_base_learning_rate"]
        assert o.warmup_steps * gbs == hp["opt_learning_rate_warmup_samples"]
    rules = yaml.safe_load((CHECKER / "training_6.1.0/closed_gpt_oss_20b.yaml").read_text())
    decay = next(
        r["KEY"]["CHECK"] for r in rules if r["KEY"]["NAME"] == "opt_learning_rate_decay_steps"
    )
    for name in ("config_DGXH200_1x8x2", "config_DGXH200_1x8x4"):
        cfg = PRESETS[name]()
        assert Bm.closed_problems(cfg) == []
        o = cfg.optim
        s = {"opt_learning_rate_warmup_steps": o.warmup_steps}
        assert eval(decay, {"s": s}, {"v": {"value": o.max_steps - o.warmup_steps}})
    problems = " ".join(Bm.closed_problems(tiny()))
    assert "data.eval_samples=2" in problems and "model:" in problems
    assert "data.seq_len" not in problems  # tiny reads 8,192-token sequences


def test_closed_init_section_logs_the_expert_parallelism_in_effect(train_cli, tmp_path):
    log = tmp_path / "init.log"
    rc, _, err = train_cli("gpt_oss_20b", "--preset", "config_DGXH200_1x8x2", "--log-only",
                           "--world-size", 8, "--log", log, "--seed", 3)  # fmt: skip
    assert rc == 0, err
    values = {r["key"]: r["value"] for r in records(log)}
    assert values["expert_parallelism"] == 8 and values["micro_batch_size"] == 2
    assert values["moe_aux_loss_coeff"] == 0.0


def test_tiny_log_says_the_parallelism_of_the_run(tiny_runs):
    values = tiny_runs.get("gpt_oss_20b").values
    assert values["max_sequence_length"] == 8192  # the length the open rules fix
    assert values["expert_parallelism"] == 1


def test_two_processes_expert_parallel_run(tmp_path, tiny_runs):
    """A real 2-rank gloo run with the experts split over the ranks: it trains, evaluates, and
    its log says expert_parallelism 2 (6.1's mandatory key, read from the model built)."""
    tiny_runs.get("gpt_oss_20b")  # the synthetic data exists
    log = tmp_path / "ep.log"
    results = launch_train(
        2, "gpt_oss_20b", "--preset", "tiny", "--seed", 5, "--log", log,
        "--synthetic", tiny_runs.synthetic_root, "model.ffn.expert_parallel=2", "target=5.0",
    )  # fmt: skip
    for rc, out in results:
        assert rc == 0, out[-3000:]
    values = {r["key"]: r["value"] for r in records(log)}
    assert values["expert_parallelism"] == 2
    assert [r["value"] for r in records(log) if r["key"] == "eval_accuracy"][-1] <= 5.0
