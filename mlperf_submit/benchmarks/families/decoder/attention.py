"""Grouped-query attention with RoPE, optionally over a sliding window.

``F.scaled_dot_product_attention(enable_gqa=True)`` runs the fused kernels (flash / memory-
efficient on GPU, the fused CPU kernel here) and never copies K/V heads to the query head count.
Full layers use ``is_causal=True``; windowed layers (GPT-OSS alternates them) pass a boolean band
mask, built once per sequence length and kept (it depends on nothing else).

``GQAConfig(fused_qkv=True)`` holds one ``wqkv`` Linear (q rows, then k, then v: the layout of
the fused ``self_attn.qkv_proj`` of the MLPerf Llama 2 70B checkpoint) and splits its output;
otherwise ``wq``, ``wk``, ``wv``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mlperf_submit.benchmarks.families.decoder.config import GQAConfig
from mlperf_submit.benchmarks.families.decoder.rope import apply_rope


def sliding_window_mask(seq_len: int, window: int, device: torch.device) -> torch.Tensor:
    """[seq, seq] bool, True where query i may attend key j: i - window < j <= i."""
    i = torch.arange(seq_len, device=device)
    delta = i[:, None] - i[None, :]
    return (delta >= 0) & (delta < window)


class GroupedQueryAttention(nn.Module):
    def __init__(self, dim: int, cfg: GQAConfig, layer: int) -> None:
        super().__init__()
        self.n_heads, self.n_kv_heads = cfg.n_heads, cfg.n_kv_heads
        self.head_dim = cfg.resolved_head_dim(dim)
        self.window = cfg.sliding_window if cfg.windowed(layer) else 0
        hd = self.head_dim
        self.qkv_sizes = (cfg.n_heads * hd, cfg.n_kv_heads * hd, cfg.n_kv_heads * hd)
        self.fused_qkv = cfg.fused_qkv
        if cfg.fused_qkv:
            self.wqkv = nn.Linear(dim, sum(self.qkv_sizes), bias=cfg.qkv_bias)
        else:
            self.wq = nn.Linear(dim, self.qkv_sizes[0], bias=cfg.qkv_bias)
            self.wk = nn.Linear(dim, self.qkv_sizes[1], bias=cfg.qkv_bias)
            self.wv = nn.Linear(dim, self.qkv_sizes[2], bias=cfg.qkv_bias)
        self.wo = nn.Linear(cfg.n_heads * hd, dim, bias=False)
        self._mask: torch.Tensor | None = None

    def _window_mask(self, t: int, device: torch.device) -> torch.Tensor:
        m = self._mask
        if m is None or m.shape[0] != t or m.device != device:
            m = self._mask = sliding_window_mask(t, self.window, device)
        return m

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        if self.fused_qkv:
            q, k, v = self.wqkv(x).split(self.qkv_sizes, dim=-1)
        else:
            q, k, v = self.wq(x), self.wk(x), self.wv(x)
        # [b, t, h, d] -> [b, h, t, d]: the layout SDPA wants
        q = q.view(b, t, self.n_heads, self.head_dim).transpose(1, 2)
        k = k.view(b, t, self.n_kv_heads, self.head_dim).transpose(1, 2)
        v = v.view(b, t, self.n_kv_heads, self.head_dim).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        gqa = self.n_kv_heads != self.n_heads
        if self.window and self.window < t:
            mask = self._window_mask(t, x.device)
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=gqa)
        else:
            out = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=gqa)
        return self.wo(out.transpose(1, 2).reshape(b, t, -1))
