"""Multi-head latent attention (DeepSeek-V2/V3): queries and keys/values through low-rank
latents, a decoupled RoPE part shared by all heads.

    q  = W_qb RMSNorm(W_qa x)                       per head: [q_nope (128) | q_rope (64)]
    c  = W_kva x = [c_kv (512) | k_rope (64)]      k_rope: one head, shared by all heads
    kv = W_kvb RMSNorm(c_kv)                        per head: [k_nope (128) | v (128)]
    attention(q, [k_nope | rope(k_rope)], v) with scale mscale^2 / sqrt(192)

(DeepSeek-V3: 128 heads, q_lora_rank 1536, kv_lora_rank 512; ``q_lora_rank=0`` projects
queries directly, as DeepSeek-V2-Lite.) The RoPE dimensions of the checkpoints are interleaved
pairs (x0, x1), (x2, x3) ...: both HF (``rope_interleave``) and Megatron-Core's MLA de-interleave
them to [x0, x2, ... | x1, x3, ...] and rotate halves, which is what ``forward`` does, so
Hugging Face DeepSeek-V3 weights load unchanged. The softmax scale carries YaRN's
``mscale_all_dim`` correction (``rope.YarnScaling.softmax_scale``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from mlperf_submit.benchmarks.families.decoder.config import AttentionPart
from mlperf_submit.benchmarks.families.decoder.rope import YarnScaling, apply_rope
from mlperf_submit.errors import UsageError

if TYPE_CHECKING:
    from mlperf_submit.benchmarks.families.decoder.config import DecoderConfig


@dataclass(frozen=True)
class MLAConfig(AttentionPart):
    """Multi-head latent attention; defaults are DeepSeek-V3's."""

    n_heads: int = 128
    q_lora_rank: int = 1536
    """Rank of the query latent; 0 = a direct query projection."""
    kv_lora_rank: int = 512
    """Rank of the key/value latent (what an inference cache keeps per token)."""
    qk_nope_head_dim: int = 128
    """Per-head query/key dims without position information."""
    qk_rope_head_dim: int = 64
    """Per-head query dims (and the shared key dims) rotated by RoPE."""
    v_head_dim: int = 128

    @property
    def qk_head_dim(self) -> int:
        return self.qk_nope_head_dim + self.qk_rope_head_dim

    def rotary_dim(self, dim: int) -> int:
        return self.qk_rope_head_dim

    def check(self, dim: int) -> None:
        sizes = (self.n_heads, self.kv_lora_rank, self.qk_nope_head_dim, self.v_head_dim)
        if min(sizes) < 1 or self.q_lora_rank < 0 or self.qk_rope_head_dim < 2:
            raise UsageError("model.attention: MLA ranks and head dims must be >= 1")
        if self.qk_rope_head_dim % 2:
            raise UsageError(f"qk_rope_head_dim {self.qk_rope_head_dim} must be even for RoPE")

    def build(self, cfg: DecoderConfig, layer: int) -> nn.Module:
        scale = 1.0 / math.sqrt(self.qk_head_dim)
        if isinstance(cfg.rope_scaling, YarnScaling):
            scale *= cfg.rope_scaling.softmax_scale()
        return MultiHeadLatentAttention(cfg.dim, self, scale, cfg.norm_eps)

    def matmul_params(self, dim: int) -> int:
        h = self.n_heads
        q = (
            dim * self.q_lora_rank + self.q_lora_rank * h * self.qk_head_dim
            if self.q_lora_rank
            else dim * h * self.qk_head_dim
        )
        kv_a = dim * (self.kv_lora_rank + self.qk_rope_head_dim)
        kv_b = self.kv_lora_rank * h * (self.qk_nope_head_dim + self.v_head_dim)
        return q + kv_a + kv_b + h * self.v_head_dim * dim

    def score_flops_per_token(self, dim: int, seq_len: int, layer: int) -> float:
        # QK^T over qk_head_dim and PV over v_head_dim, 2 FLOPs each, causal: half the keys.
        return 2.0 * self.n_heads * (self.qk_head_dim + self.v_head_dim) * seq_len / 2


def deinterleave(x: torch.Tensor) -> torch.Tensor:
    """[x0, x1, x2, x3 ...] -> [x0, x2, ... | x1, x3, ...] on the last dim."""
    return torch.cat((x[..., 0::2], x[..., 1::2]), dim=-1)


class MultiHeadLatentAttention(nn.Module):
    def __init__(self, dim: int, cfg: MLAConfig, softmax_scale: float, eps: float) -> None:
        super().__init__()
        from mlperf_submit.benchmarks.families.decoder.model import RMSNorm

        self.cfg = cfg
        self.softmax_scale = softmax_scale
        h, qk = cfg.n_heads, cfg.qk_head_dim
        if cfg.q_lora_rank:
            self.wq_a = nn.Linear(dim, cfg.q_lora_rank, bias=False)
            self.q_norm = RMSNorm(cfg.q_lora_rank, eps)
            self.wq_b = nn.Linear(cfg.q_lora_rank, h * qk, bias=False)
        else:
            self.wq = nn.Linear(dim, h * qk, bias=False)
        self.wkv_a = nn.Linear(dim, cfg.kv_lora_rank + cfg.qk_rope_head_dim, bias=False)
        self.kv_norm = RMSNorm(cfg.kv_lora_rank, eps)
        self.wkv_b = nn.Linear(
            cfg.kv_lora_rank, h * (cfg.qk_nope_head_dim + cfg.v_head_dim), bias=False
        )
        self.wo = nn.Linear(h * cfg.v_head_dim, dim, bias=False)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        c = self.cfg
        b, t, _ = x.shape
        h = c.n_heads
        q = self.wq_b(self.q_norm(self.wq_a(x))) if c.q_lora_rank else self.wq(x)
        q = q.view(b, t, h, c.qk_head_dim).transpose(1, 2)
        q_nope, q_rope = q.split([c.qk_nope_head_dim, c.qk_rope_head_dim], dim=-1)
        latent, k_rope = self.wkv_a(x).split([c.kv_lora_rank, c.qk_rope_head_dim], dim=-1)
        kv = self.wkv_b(self.kv_norm(latent)).view(b, t, h, c.qk_nope_head_dim + c.v_head_dim)
        k_nope, v = kv.transpose(1, 2).split([c.qk_nope_head_dim, c.v_head_dim], dim=-1)
        q_rope = apply_rope(deinterleave(q_rope), cos, sin)
        k_rope = apply_rope(deinterleave(k_rope.view(b, 1, t, c.qk_rope_head_dim)), cos, sin)
        q = torch.cat((q_nope, q_rope), dim=-1)
        k = torch.cat((k_nope, k_rope.expand(b, h, t, c.qk_rope_head_dim)), dim=-1)
        # The fused (flash) kernels want one head width for q, k and v: zero-pad v to the q/k
        # width (the zero columns weigh nothing) and drop them from the output.
        pad = c.qk_head_dim - c.v_head_dim
        v = F.pad(v, (0, pad)) if pad > 0 else v
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=self.softmax_scale)
        out = out[..., : c.v_head_dim]
        return self.wo(out.transpose(1, 2).reshape(b, t, h * c.v_head_dim))
