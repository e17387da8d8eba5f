"""Grouped-query attention with RMS-normalised queries and keys, and a local (sliding-window)
kernel that costs O(T * W) instead of O(T^2).

GPT-OSS 20B as the MLPerf reference (Primus on Megatron-Core) builds it: GQA 64:8 with 64-wide
heads, ``qk_layernorm`` (an RMSNorm over each head's 64 dims, one weight shared by the heads,
before RoPE; inherited from Primus's ``deepseek_v2_base.yaml``), no biases, and a 128-token
window on every other layer. Two differences from the Hugging Face ``GptOssAttention``, where we
follow the reference: HF has q/k/v/o biases and a learned attention *sink* per head (an extra
logit in each softmax) and no q/k norm; Megatron's default ``softmax_type`` is vanilla, so the
reference has no sinks. The window: Transformer Engine's ``window_size=(128, 0)`` lets query i
see keys [i - 128, i], 129 positions, where HF's ``sliding_window=128`` means 128 positions;
the reference preset therefore sets ``sliding_window=129`` (this family counts the token itself).

    attn = QKNormGQAConfig(n_heads=64, n_kv_heads=8, head_dim=64, sliding_window=129,
                           window_every=2).build(cfg, layer)

Windowed layers run :func:`local_attention`: the sequence in blocks of W queries, each block
attending to its own and the previous block of keys under a [W, 2W] band mask -- the same
result as a [T, T] band mask (tested) at 2W / T of its cost, which is what makes an 8,192-token
GPT-OSS layer affordable on a CPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from mlperf_submit.benchmarks.families.decoder.config import GQAConfig
from mlperf_submit.benchmarks.families.decoder.rope import apply_rope
from mlperf_submit.errors import UsageError

if TYPE_CHECKING:
    from mlperf_submit.benchmarks.families.decoder.config import DecoderConfig


@dataclass(frozen=True)
class QKNormGQAConfig(GQAConfig):
    """GQA (every field of GQAConfig) with an RMSNorm on each query and key head."""

    qk_norm: bool = True
    """RMSNorm over the head dimension of q and k, before RoPE (Megatron's qk_layernorm)."""

    def build(self, cfg: DecoderConfig, layer: int) -> nn.Module:
        if getattr(self, "fused_qkv", False):
            raise UsageError("QKNormGQAConfig has separate q/k/v projections (fused_qkv=false)")
        return QKNormAttention(cfg.dim, self, layer, cfg.norm_eps)


def band_mask(block: int, window: int, device: torch.device) -> torch.Tensor:
    """[block, 2 * block] bool: query a of a block may see key c of (previous block, block)
    when 0 <= (block + a) - c < window."""
    a = torch.arange(block, device=device)[:, None]
    c = torch.arange(2 * block, device=device)[None, :]
    delta = block + a - c
    return (delta >= 0) & (delta < window)


def local_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, window: int) -> torch.Tensor:
    """Causal attention of q [b, h, t, d] to the ``window`` latest keys (itself included) of
    k, v [b, h_kv, t, d], in blocks of ``window`` queries: 4-D SDPA calls over (batch x block)
    with a [window, 2 window] band mask (the fused memory-efficient kernel on a GPU); K/V heads
    are repeated for their query groups (2 blocks of keys per query block: cheap)."""
    b, h, t, d = q.shape
    blk = window
    n = -(-t // blk)
    pad = n * blk - t
    if k.shape[1] != h:
        k = k.repeat_interleave(h // k.shape[1], dim=1)
        v = v.repeat_interleave(h // v.shape[1], dim=1)
    # [b, h, t, d] -> [b * n, h, rows, d]: queries in blocks, keys with the previous block.
    qb = F.pad(q, (0, 0, 0, pad)).view(b, h, n, blk, d)
    kb = F.pad(k, (0, 0, blk, pad)).unfold(2, 2 * blk, blk).transpose(-1, -2)
    vb = F.pad(v, (0, 0, blk, pad)).unfold(2, 2 * blk, blk).transpose(-1, -2)
    qb, kb, vb = (x.transpose(1, 2).reshape(b * n, h, x.shape[-2], d) for x in (qb, kb, vb))
    mask = band_mask(blk, window, q.device).expand(n, blk, 2 * blk).clone()
    mask[0, :, :blk] = False  # block 0 has no previous block (those keys are padding)
    mask = mask.repeat(b, 1, 1).unsqueeze(1)  # [b * n, 1, blk, 2 blk]
    out = F.scaled_dot_product_attention(qb, kb, vb, attn_mask=mask)
    return out.view(b, n, h, blk, d).transpose(1, 2).reshape(b, h, n * blk, d)[:, :, :t]


class QKNormAttention(nn.Module):
    def __init__(self, dim: int, cfg: QKNormGQAConfig, layer: int, eps: float) -> None:
        super().__init__()
        self.n_heads, self.n_kv_heads = cfg.n_heads, cfg.n_kv_heads
        self.head_dim = hd = cfg.resolved_head_dim(dim)
        self.window = cfg.sliding_window if cfg.windowed(layer) else 0
        self.wq = nn.Linear(dim, cfg.n_heads * hd, bias=cfg.qkv_bias)
        self.wk = nn.Linear(dim, cfg.n_kv_heads * hd, bias=cfg.qkv_bias)
        self.wv = nn.Linear(dim, cfg.n_kv_heads * hd, bias=cfg.qkv_bias)
        self.wo = nn.Linear(cfg.n_heads * hd, dim, bias=False)
        if cfg.qk_norm:
            from mlperf_submit.benchmarks.families.decoder.model import RMSNorm

            self.q_norm, self.k_norm = RMSNorm(hd, eps), RMSNorm(hd, eps)
        else:
            self.q_norm = self.k_norm = None

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        q = self.wq(x).view(b, t, self.n_heads, self.head_dim)
        k = self.wk(x).view(b, t, self.n_kv_heads, self.head_dim)
        v = self.wv(x).view(b, t, self.n_kv_heads, self.head_dim).transpose(1, 2)
        if self.q_norm is not None:
            q, k = self.q_norm(q), self.k_norm(k)
        q = apply_rope(q.transpose(1, 2), cos, sin)
        k = apply_rope(k.transpose(1, 2), cos, sin)
        if self.window and self.window < t:
            out = local_attention(q, k, v, self.window)
        else:
            gqa = self.n_kv_heads != self.n_heads
            out = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=gqa)
        return self.wo(out.transpose(1, 2).reshape(b, t, -1))
