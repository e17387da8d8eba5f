"""Llama 3.1 decoder written with plain torch: RMSNorm, llama3-scaled RoPE, GQA, SwiGLU.

The ``8b`` shape (32 layers, d 4096, 32 heads, 8 KV heads, FFN 14336, vocab 128256, untied
embeddings) is the MLPerf ``llama31_8b`` model; ``tiny`` and ``small`` (``config.py``) are the
same architecture at CPU sizes. Build one with::

    from mlperf_submit.benchmarks.llama31_8b.config import tiny
    from mlperf_submit.benchmarks.llama31_8b.model import Llama
    model = Llama(tiny().model)
    logits = model(tokens)            # tokens: int64 [batch, seq] -> float [batch, seq, vocab]

Attention is ``F.scaled_dot_product_attention(is_causal=True, enable_gqa=True)``, so the fused
(flash / memory-efficient) kernels run on GPU and the fused CPU kernel here; K/V heads are never
copied to the query head count.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from mlperf_submit.benchmarks.llama31_8b.rope import RopeScaling, apply_rope, rope_cos_sin
from mlperf_submit.errors import UsageError


@dataclass(frozen=True)
class ModelConfig:
    """The shape of a Llama 3.1 decoder. Defaults are Llama 3.1 8B."""

    vocab_size: int = 128256
    """Llama 3 tokenizer (128,000 BPE tokens + 256 special tokens)."""
    dim: int = 4096
    """Model (residual stream) width."""
    n_layers: int = 32
    n_heads: int = 32
    """Query heads; head dim = dim / n_heads (128 for 8B)."""
    n_kv_heads: int = 8
    """Key/value heads shared by groups of n_heads / n_kv_heads query heads (GQA)."""
    ffn_dim: int = 14336
    """Hidden width of the SwiGLU feed-forward block."""
    max_seq_len: int = 8192
    """Longest sequence the RoPE tables are built for (MLPerf trains at 8192)."""
    norm_eps: float = 1e-5
    rope_theta: float = 500000.0
    rope_scaling: RopeScaling | None = field(default_factory=RopeScaling)
    """Llama 3.1 frequency scaling (factor 8, low 1, high 4, original context 8192); None = off."""
    tie_embeddings: bool = False
    """8B unties the input embedding and the output head (1B/3B tie them)."""
    init_std: float = 0.02

    def __post_init__(self) -> None:
        if self.dim % self.n_heads:
            raise UsageError(
                f"model dim {self.dim} is not a multiple of n_heads {self.n_heads}: "
                "choose n_heads that divides dim"
            )
        if self.n_heads % self.n_kv_heads:
            raise UsageError(
                f"n_heads {self.n_heads} is not a multiple of n_kv_heads {self.n_kv_heads}: "
                "GQA shares each K/V head with a whole group of query heads"
            )
        if (self.dim // self.n_heads) % 2:
            raise UsageError(f"head dim {self.dim // self.n_heads} must be even for RoPE")
        for name in ("vocab_size", "dim", "n_layers", "ffn_dim", "max_seq_len"):
            if getattr(self, name) < 1:
                raise UsageError(f"model {name} must be >= 1, got {getattr(self, name)}")

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_heads

    def to_dict(self) -> dict:
        return asdict(self)


class RMSNorm(nn.Module):
    """x / rms(x) * weight, computed in fp32 whatever the autocast dtype (as in Llama)."""

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.rms_norm(x.float(), (x.shape[-1],), self.weight.float(), self.eps).type_as(x)


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.n_heads, self.n_kv_heads, self.head_dim = cfg.n_heads, cfg.n_kv_heads, cfg.head_dim
        self.wq = nn.Linear(cfg.dim, cfg.n_heads * cfg.head_dim, bias=False)
        self.wk = nn.Linear(cfg.dim, cfg.n_kv_heads * cfg.head_dim, bias=False)
        self.wv = nn.Linear(cfg.dim, cfg.n_kv_heads * cfg.head_dim, bias=False)
        self.wo = nn.Linear(cfg.n_heads * cfg.head_dim, cfg.dim, bias=False)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        # [b, t, h, d] -> [b, h, t, d]: the layout SDPA wants
        q = self.wq(x).view(b, t, self.n_heads, self.head_dim).transpose(1, 2)
        k = self.wk(x).view(b, t, self.n_kv_heads, self.head_dim).transpose(1, 2)
        v = self.wv(x).view(b, t, self.n_kv_heads, self.head_dim).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        out = F.scaled_dot_product_attention(
            q, k, v, is_causal=True, enable_gqa=self.n_kv_heads != self.n_heads
        )
        return self.wo(out.transpose(1, 2).reshape(b, t, -1))


class FeedForward(nn.Module):
    """SwiGLU: w2(silu(w1 x) * w3 x)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.w1 = nn.Linear(cfg.dim, cfg.ffn_dim, bias=False)
        self.w3 = nn.Linear(cfg.dim, cfg.ffn_dim, bias=False)
        self.w2 = nn.Linear(cfg.ffn_dim, cfg.dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class TransformerBlock(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.attention_norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.attention = Attention(cfg)
        self.ffn_norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.feed_forward = FeedForward(cfg)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(self.attention_norm(x), cos, sin)
        return x + self.feed_forward(self.ffn_norm(x))


class Llama(nn.Module):
    """Token ids in, next-token logits out. ``layers`` is a ModuleList so FSDP2 can shard per block."""

    def __init__(self, cfg: ModelConfig, *, checkpoint_blocks: bool = False) -> None:
        super().__init__()
        self.cfg = cfg
        self.checkpoint_blocks = checkpoint_blocks
        self.tok_embeddings = nn.Embedding(cfg.vocab_size, cfg.dim)
        self.layers = nn.ModuleList(TransformerBlock(cfg) for _ in range(cfg.n_layers))
        self.norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.output = nn.Linear(cfg.dim, cfg.vocab_size, bias=False)
        if cfg.tie_embeddings:
            self.output.weight = self.tok_embeddings.weight
        cos, sin = rope_cos_sin(cfg.head_dim, cfg.max_seq_len, cfg.rope_theta, cfg.rope_scaling)
        # Not persistent: derived from the config, so never part of a checkpoint. Identical on
        # every rank, so DDP need not broadcast them before each forward (4 MB at 8192 tokens).
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        self._ddp_params_and_buffers_to_ignore = ["rope_cos", "rope_sin"]
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Normal(0, init_std) weights; the two residual-branch outputs per block are scaled by
        1/sqrt(2 * n_layers) so the residual stream's variance does not grow with depth."""
        std = self.cfg.init_std
        out_std = std / math.sqrt(2 * self.cfg.n_layers)
        for name, p in self.named_parameters():
            if p.dim() == 1:  # RMSNorm gains
                p.fill_(1.0)
            elif name.endswith(("attention.wo.weight", "feed_forward.w2.weight")):
                nn.init.normal_(p, 0.0, out_std)
            else:
                nn.init.normal_(p, 0.0, std)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        t = tokens.shape[1]
        if t > self.cfg.max_seq_len:
            raise UsageError(
                f"sequence of {t} tokens is longer than the model's max_seq_len "
                f"{self.cfg.max_seq_len}"
            )
        cos, sin = self.rope_cos[:t], self.rope_sin[:t]
        h = self.tok_embeddings(tokens)
        for layer in self.layers:
            if self.checkpoint_blocks and torch.is_grad_enabled():
                # Keep only each block's input; recompute its activations during backward.
                h = checkpoint(layer, h, cos, sin, use_reentrant=False)
            else:
                h = layer(h, cos, sin)
        return self.output(self.norm(h))

    def num_params(self, *, non_embedding: bool = False) -> int:
        """Parameter count; ``non_embedding`` drops the input lookup table (it does no matmul)."""
        n = sum(p.numel() for p in self.parameters())
        if non_embedding and not self.cfg.tie_embeddings:
            n -= self.tok_embeddings.weight.numel()
        return n


def next_token_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy (nats per token) in fp32: the training loss and the log-perplexity."""
    return F.cross_entropy(logits.float().flatten(0, 1), labels.flatten())
