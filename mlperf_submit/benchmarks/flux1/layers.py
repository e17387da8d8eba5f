"""The parts of the Flux.1 MMDiT: multi-axis RoPE, timestep embedding, adaLN modulation.

Written with plain torch after the reference (torchtitan ``experiments/flux/model/layers.py``
and ``math.py``, itself Black Forest Labs' Flux code), with the reference's parameter names so
a Black Forest Labs checkpoint's names map one to one:

* ``EmbedND``: rotary frequencies over ``len(axes_dim)`` position axes (Flux: 3 axes of 16, 56
  and 56 of the 128 head dimensions; text tokens sit at position (0, 0, 0), image patches at
  (0, row, column)); the rotated pairs are *interleaved* (x[2i], x[2i+1]), as in Flux, not the
  "rotate half" layout of the Llama checkpoints (``families/decoder/rope.py``).
* ``timestep_embedding``: sinusoids of 1000 * t (cos first, then sin), t in [0, 1].
* ``Modulation``: the adaLN-Zero shift/scale/gate triples from the conditioning vector.
* ``SelfAttention``: fused qkv projection, RMS-normalised queries and keys (QK-norm), SDPA.

QK-norm is an RMSNorm with eps 1e-6 computed in fp32, as in Black Forest Labs' code and
diffusers (torchtitan uses ``nn.RMSNorm`` with the dtype's machine epsilon).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from mlperf_submit.benchmarks.families.decoder.model import RMSNorm
from mlperf_submit.benchmarks.families.decoder.rope import inverse_frequencies

QK_NORM_EPS = 1e-6


def rope_axis(pos: torch.Tensor, dim: int, theta: float) -> torch.Tensor:
    """[..., n] positions -> [..., n, dim/2, 2, 2] rotation matrices [[cos, -sin], [sin, cos]]."""
    omega = inverse_frequencies(dim, theta).to(pos.device)
    angles = pos.double()[..., None] * omega  # fp64: positions up to ~1e3 keep full precision
    cos, sin = angles.cos(), angles.sin()
    return torch.stack((cos, -sin, sin, cos), dim=-1).view(*angles.shape, 2, 2).float()


class EmbedND(nn.Module):
    """Position ids [B, L, n_axes] -> rotations [B, 1, L, head_dim/2, 2, 2] (no parameters)."""

    def __init__(self, theta: float, axes_dim: tuple[int, ...]) -> None:
        super().__init__()
        self.theta = theta
        self.axes_dim = tuple(axes_dim)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        parts = [rope_axis(ids[..., i], d, self.theta) for i, d in enumerate(self.axes_dim)]
        return torch.cat(parts, dim=-3).unsqueeze(1)


def apply_rope(x: torch.Tensor, pe: torch.Tensor) -> torch.Tensor:
    """Rotate the interleaved pairs of ``x`` [B, H, L, D] by ``pe`` [B, 1, L, D/2, 2, 2]."""
    pairs = x.float().reshape(*x.shape[:-1], -1, 1, 2)
    out = pe[..., 0] * pairs[..., 0] + pe[..., 1] * pairs[..., 1]
    return out.reshape(x.shape).type_as(x)


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, pe: torch.Tensor):
    """Bidirectional attention over all (text + image) tokens: [B, H, L, D] -> [B, L, H*D]."""
    q, k = apply_rope(q, pe), apply_rope(k, pe)
    out = F.scaled_dot_product_attention(q, k, v)
    return out.transpose(1, 2).flatten(2)


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """[B] times in [0, 1] -> [B, dim] sinusoids of 1000 * t: cos of every frequency, then sin."""
    half = dim // 2
    freqs = torch.exp(
        -math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half
    )
    args = (1000.0 * t.float())[:, None] * freqs[None]
    emb = torch.cat((torch.cos(args), torch.sin(args)), dim=-1)
    if dim % 2:
        emb = torch.cat((emb, torch.zeros_like(emb[:, :1])), dim=-1)
    return emb


class MLPEmbedder(nn.Module):
    def __init__(self, in_dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.in_layer = nn.Linear(in_dim, hidden_dim)
        self.out_layer = nn.Linear(hidden_dim, hidden_dim)

    def init_weights(self, std: float = 0.02) -> None:
        for layer in (self.in_layer, self.out_layer):
            nn.init.normal_(layer.weight, std=std)
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out_layer(F.silu(self.in_layer(x)))


class QKNorm(nn.Module):
    def __init__(self, head_dim: int) -> None:
        super().__init__()
        self.query_norm = RMSNorm(head_dim, QK_NORM_EPS)
        self.key_norm = RMSNorm(head_dim, QK_NORM_EPS)

    def init_weights(self) -> None:
        nn.init.ones_(self.query_norm.weight)
        nn.init.ones_(self.key_norm.weight)

    def forward(self, q, k, v):
        return self.query_norm(q).to(v.dtype), self.key_norm(k).to(v.dtype)


def split_heads(qkv: torch.Tensor, heads: int):
    """[B, L, 3*H*D] -> q, k, v, each [B, H, L, D] (the reference's "B L (K H D) -> K B H L D")."""
    b, n, _ = qkv.shape
    q, k, v = qkv.view(b, n, 3, heads, -1).permute(2, 0, 3, 1, 4)
    return q, k, v


class SelfAttention(nn.Module):
    """The per-stream attention weights of a double-stream block (qkv, QK-norm, output)."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.norm = QKNorm(dim // num_heads)
        self.proj = nn.Linear(dim, dim)

    def init_weights(self) -> None:
        for layer in (self.qkv, self.proj):
            nn.init.xavier_uniform_(layer.weight)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        self.norm.init_weights()

    def qkv_heads(self, x: torch.Tensor):
        q, k, v = split_heads(self.qkv(x), self.num_heads)
        q, k = self.norm(q, k, v)
        return q, k, v


class Modulation(nn.Module):
    """adaLN: ``vec`` -> 1 (single-stream) or 2 (double-stream) (shift, scale, gate) triples,
    each [B, 1, dim]. Zero-initialised (adaLN-Zero, as in DiT): every block starts as the
    identity."""

    def __init__(self, dim: int, double: bool) -> None:
        super().__init__()
        self.multiplier = 6 if double else 3
        self.lin = nn.Linear(dim, self.multiplier * dim)

    def init_weights(self) -> None:
        nn.init.zeros_(self.lin.weight)
        nn.init.zeros_(self.lin.bias)

    def forward(self, vec: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        out = self.lin(F.silu(vec))[:, None, :].chunk(self.multiplier, dim=-1)
        return [tuple(out[i : i + 3]) for i in range(0, self.multiplier, 3)]


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return (1 + scale) * x + shift
