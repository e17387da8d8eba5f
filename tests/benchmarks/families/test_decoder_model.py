"""The decoder family against independent formulations of its parts, and the Llama 8B shape."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from mlperf_submit.benchmarks.families.decoder.attention import (
    GroupedQueryAttention,
    sliding_window_mask,
)
from mlperf_submit.benchmarks.families.decoder.config import (
    DecoderConfig,
    GQAConfig,
    SwiGLUConfig,
)
from mlperf_submit.benchmarks.families.decoder.model import Decoder, RMSNorm
from mlperf_submit.benchmarks.families.decoder.rope import (
    RopeScaling,
    apply_rope,
    inverse_frequencies,
    llama3_scale,
    rope_cos_sin,
)
from mlperf_submit.benchmarks.llama31_8b.config import PRESETS, tiny
from mlperf_submit.errors import UsageError


def _llama3_frequency_scalar(freq: float) -> float:
    """Llama 3.1's ``apply_scaling`` written per frequency with scalars (the published form)."""
    factor, low, high, old_ctx = 8.0, 1.0, 4.0, 8192
    wavelen = 2 * math.pi / freq
    if wavelen < old_ctx / high:
        return freq
    if wavelen > old_ctx / low:
        return freq / factor
    smooth = (old_ctx / wavelen - low) / (high - low)
    return (1 - smooth) * freq / factor + smooth * freq


def test_llama3_scaling_matches_the_scalar_formula():
    freqs = inverse_frequencies(128, 500000.0)
    scaled = llama3_scale(freqs, RopeScaling())
    expected = [_llama3_frequency_scalar(f) for f in freqs.tolist()]
    assert scaled.tolist() == pytest.approx(expected, rel=1e-12)
    # All three regimes occur for the 8B head dim: kept, blended, divided by 8.
    ratio = (scaled / freqs).tolist()
    assert ratio[0] == 1.0 and ratio[-1] == pytest.approx(1 / 8)
    assert any(1 / 8 < r < 1 for r in ratio)


def test_rope_is_a_rotation_with_relative_positions():
    torch.manual_seed(0)
    cos, sin = rope_cos_sin(16, 64, 500000.0, RopeScaling())
    q, k = torch.randn(1, 1, 64, 16), torch.randn(1, 1, 64, 16)
    rq = apply_rope(q, cos, sin)
    assert torch.allclose(rq.norm(dim=-1), q.norm(dim=-1), atol=1e-5)
    # Same vectors at every position: the score depends only on the position difference.
    qs, ks = q[:, :, :1].expand(-1, -1, 64, -1), k[:, :, :1].expand(-1, -1, 64, -1)
    scores = apply_rope(qs, cos, sin)[0, 0] @ apply_rope(ks, cos, sin)[0, 0].T
    assert torch.allclose(scores[10, 3], scores[40, 33], atol=1e-4)
    assert torch.allclose(scores[5, 5], scores[50, 50], atol=1e-4)


def test_rmsnorm_formula():
    x = torch.randn(3, 5, 8)
    norm = RMSNorm(8, 1e-5)
    with torch.no_grad():
        norm.weight.copy_(torch.linspace(0.5, 2, 8))
    expected = x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * norm.weight
    assert torch.allclose(norm(x), expected, atol=1e-6)


def explicit_attention(attn, x, cos, sin, allowed):
    """Grouped softmax attention written out per head; ``allowed[i, j]``: query i sees key j."""
    b, t, _ = x.shape
    hd = attn.head_dim
    q = apply_rope(attn.wq(x).view(b, t, 8, hd).transpose(1, 2), cos, sin)
    k = apply_rope(attn.wk(x).view(b, t, 2, hd).transpose(1, 2), cos, sin)
    v = attn.wv(x).view(b, t, 2, hd).transpose(1, 2)
    heads = []
    for h in range(8):
        kv = h // 4  # query heads 0-3 share K/V head 0, 4-7 share head 1
        s = q[:, h] @ k[:, kv].transpose(-1, -2) / math.sqrt(hd)
        s = s.masked_fill(~allowed, float("-inf"))
        heads.append(torch.softmax(s, -1) @ v[:, kv])
    return attn.wo(torch.stack(heads, 1).transpose(1, 2).reshape(b, t, -1))


def test_gqa_attention_equals_explicit_grouped_softmax():
    torch.manual_seed(1)
    part = GQAConfig(n_heads=8, n_kv_heads=2)
    attn = GroupedQueryAttention(32, part, layer=0)
    x = torch.randn(2, 16, 32)
    cos, sin = rope_cos_sin(part.rotary_dim(32), 16, 500000.0, RopeScaling())
    causal = ~torch.triu(torch.ones(16, 16, dtype=torch.bool), 1)
    assert torch.allclose(
        attn(x, cos, sin), explicit_attention(attn, x, cos, sin, causal), atol=1e-5
    )


def test_sliding_window_layers_see_only_the_last_w_tokens():
    torch.manual_seed(4)
    part = GQAConfig(n_heads=8, n_kv_heads=2, sliding_window=5, window_every=2, qkv_bias=True)
    windowed, full = (GroupedQueryAttention(32, part, layer=i) for i in (0, 1))
    assert windowed.window == 5 and full.window == 0 and windowed.wq.bias is not None
    x = torch.randn(2, 16, 32)
    cos, sin = rope_cos_sin(part.rotary_dim(32), 16, 150000.0, None)
    band = sliding_window_mask(16, 5, x.device)
    assert band[10].nonzero().flatten().tolist() == [6, 7, 8, 9, 10]
    out = windowed(x, cos, sin)
    assert torch.allclose(out, explicit_attention(windowed, x, cos, sin, band), atol=1e-5)


def test_causal_future_tokens_do_not_change_the_past():
    torch.manual_seed(2)
    model = Decoder(tiny().model).eval()
    a = torch.randint(0, 256, (1, 32))
    b = a.clone()
    b[0, 20:] = (b[0, 20:] + 7) % 256
    with torch.no_grad():
        la, lb = model(a), model(b)
    assert torch.allclose(la[0, :20], lb[0, :20], atol=1e-5)
    assert not torch.allclose(la[0, 20:], lb[0, 20:])


def test_activation_checkpointing_gives_the_same_gradients():
    torch.manual_seed(3)
    cfg = tiny().model
    plain, ckpt = Decoder(cfg), Decoder(cfg, checkpoint_blocks=True)
    ckpt.load_state_dict(plain.state_dict())
    x = torch.randint(0, 256, (2, 17))
    for m in (plain, ckpt):
        F.cross_entropy(m(x[:, :-1]).flatten(0, 1), x[:, 1:].flatten()).backward()
    for (name, p), q in zip(plain.named_parameters(), ckpt.parameters()):
        assert torch.allclose(p.grad, q.grad, atol=1e-6), name


def test_8b_shape_has_the_published_parameter_count():
    with torch.device("meta"):
        model = Decoder(PRESETS["8b"]().model)
    assert model.num_params() == 8_030_261_248  # Llama 3.1 8B
    assert model.output.weight is not model.tok_embeddings.weight  # untied
    assert model.num_params(non_embedding=True) == 8_030_261_248 - 128256 * 4096


def test_tied_embeddings_share_one_matrix():
    cfg = DecoderConfig(
        vocab_size=64,
        dim=16,
        n_layers=1,
        attention=GQAConfig(n_heads=2, n_kv_heads=1),
        ffn=SwiGLUConfig(hidden_dim=32),
        max_seq_len=8,
        tie_embeddings=True,
    )
    model = Decoder(cfg)
    assert model.output.weight is model.tok_embeddings.weight
    assert model.num_params() == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"dim": 30, "attention": GQAConfig(n_heads=4)}, "not a multiple of attention.n_heads"),
        ({"dim": 32, "attention": GQAConfig(n_heads=4, n_kv_heads=3)}, "of attention.n_kv_heads"),
        ({"dim": 12, "attention": GQAConfig(n_heads=4, n_kv_heads=4)}, "must be even"),
        ({"n_layers": 0}, "n_layers must be >= 1"),
    ],
)
def test_bad_shapes_are_usage_errors(kwargs, message):
    with pytest.raises(UsageError, match=message):
        DecoderConfig(**kwargs)


def test_sequence_longer_than_the_rope_tables():
    model = Decoder(tiny().model)
    with pytest.raises(UsageError, match="longer than the model's max_seq_len 128"):
        model(torch.zeros(1, 129, dtype=torch.long))


def test_flops_count_every_weight_matrix_once():
    from mlperf_submit.benchmarks.families.decoder.flops import (
        matmul_params,
        training_flops_per_token,
    )

    for name in ("tiny", "small", "8b"):
        cfg = PRESETS[name]().model
        with torch.device("meta"):
            model = Decoder(cfg)
        weights = sum(
            p.numel() for n, p in model.named_parameters() if p.dim() == 2 and "tok_emb" not in n
        )
        assert matmul_params(cfg) == weights, name
    cfg = PRESETS["8b"]().model
    assert matmul_params(cfg) == 8_030_261_248 - 128256 * 4096 - 65 * 4096
    causal = training_flops_per_token(cfg, 8192)
    palm = training_flops_per_token(cfg, 8192, causal=False)
    assert palm - causal == 6 * 32 * 8192 * 4096
    assert causal == pytest.approx(6 * 7.5047e9 + 6 * 32 * 8192 * 4096, rel=1e-4)


def test_a_windowed_layer_counts_only_the_window_in_flops():
    from mlperf_submit.benchmarks.families.decoder.flops import training_flops_per_token

    full = DecoderConfig(vocab_size=64, dim=64, n_layers=2, attention=GQAConfig(4, 2))
    windowed = DecoderConfig(
        vocab_size=64,
        dim=64,
        n_layers=2,
        attention=GQAConfig(4, 2, sliding_window=128, window_every=2),
    )
    # layer 0 attends to <= 128 positions instead of 4096 on average; layer 1 is unchanged
    saved = training_flops_per_token(full, 8192) - training_flops_per_token(windowed, 8192)
    assert saved == pytest.approx(3 * 4 * 4 * 16 * (4096 - 128))
