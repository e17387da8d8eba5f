"""The shape of a decoder-only transformer, with pluggable attention and feed-forward parts.

A :class:`DecoderConfig` holds what every variant shares (vocabulary, width, depth, norms,
RoPE, embeddings) and two part configs that choose the variant by their type::

    DecoderConfig(dim=4096, n_layers=32, attention=GQAConfig(n_heads=32, n_kv_heads=8),
                  ffn=SwiGLUConfig(hidden_dim=14336))          # Llama 3.1 8B

A part config is a frozen dataclass with ``build(cfg, layer) -> nn.Module``: the decoder calls
it once per layer, so a new variant (multi-head latent attention, a mixture-of-experts feed-
forward layer) is a new part config and module beside these, never a fork of the decoder.
The attention module is called as ``attn(x, cos, sin)`` with the RoPE tables the decoder built
for ``cfg.attention.rotary_dim``; the feed-forward module as ``ffn(x)``. Dotted overrides reach
into the parts: ``model.attention.n_kv_heads=4 model.ffn.hidden_dim=512``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from torch import nn

from mlperf_submit.benchmarks.families.decoder.rope import RopeScaling
from mlperf_submit.errors import UsageError


class AttentionPart:
    """Base of attention part configs: what the decoder needs to know about any variant."""

    def rotary_dim(self, dim: int) -> int:
        """Width of the RoPE tables the decoder builds and passes to every layer."""
        raise NotImplementedError

    def build(self, cfg: DecoderConfig, layer: int) -> nn.Module:
        raise NotImplementedError

    def check(self, dim: int) -> None:
        """Raise UsageError when the part does not fit a model of width ``dim``."""

    def matmul_params(self, dim: int) -> int:
        """Weights of one layer's attention that multiply activations (for FLOPs)."""
        raise NotImplementedError

    def score_flops_per_token(self, dim: int, seq_len: int, layer: int) -> float:
        """Forward FLOPs of the attention scores and the weighted sum, per token and layer,
        counting only what a causal (and windowed) kernel computes."""
        raise NotImplementedError


class FeedForwardPart:
    """Base of feed-forward part configs."""

    def build(self, cfg: DecoderConfig, layer: int) -> nn.Module:
        raise NotImplementedError

    def matmul_params(self, dim: int, layer: int) -> int:
        """Weights of one layer's feed-forward block that multiply a token's activations
        (for a mixture of experts: the active ones)."""
        raise NotImplementedError


@dataclass(frozen=True)
class GQAConfig(AttentionPart):
    """Grouped-query attention (Llama): ``n_kv_heads`` K/V heads shared by groups of queries."""

    n_heads: int = 32
    """Query heads."""
    n_kv_heads: int = 8
    """Key/value heads; n_heads must be a multiple."""
    head_dim: int = 0
    """Width of one head; 0 = dim / n_heads (Llama). GPT-OSS sets it explicitly (64)."""
    sliding_window: int = 0
    """0 = full causal attention; W > 0: each token sees itself and the W - 1 before it ..."""
    window_every: int = 1
    """... in layers whose index is a multiple of this (2: layers 0, 2, 4 ... windowed,
    1, 3, 5 ... full, as GPT-OSS alternates)."""
    qkv_bias: bool = False
    """Biases on the q/k/v projections (GPT-OSS has them; Llama does not)."""
    fused_qkv: bool = False
    """One ``wqkv`` projection (rows: q, then k, then v) split after the matmul, instead of
    three. The same function at initialisation, but a different *module* for what wraps
    modules by name: the MLPerf LoRA reference fine-tunes a fused ``qkv_proj``, and one LoRA
    on the fused projection (one A shared by q, k and v) is not three LoRAs on three."""

    def resolved_head_dim(self, dim: int) -> int:
        return self.head_dim or dim // self.n_heads

    def rotary_dim(self, dim: int) -> int:
        return self.resolved_head_dim(dim)

    def windowed(self, layer: int) -> bool:
        return self.sliding_window > 0 and layer % self.window_every == 0

    def check(self, dim: int) -> None:
        if self.n_heads < 1 or self.n_kv_heads < 1:
            raise UsageError("attention.n_heads and attention.n_kv_heads must be >= 1")
        if not self.head_dim and dim % self.n_heads:
            raise UsageError(
                f"model dim {dim} is not a multiple of attention.n_heads {self.n_heads}: choose "
                "n_heads that divides dim, or set attention.head_dim"
            )
        if self.n_heads % self.n_kv_heads:
            raise UsageError(
                f"attention.n_heads {self.n_heads} is not a multiple of attention.n_kv_heads "
                f"{self.n_kv_heads}: GQA shares each K/V head with a whole group of query heads"
            )
        if self.resolved_head_dim(dim) % 2:
            raise UsageError(f"head dim {self.resolved_head_dim(dim)} must be even for RoPE")
        if self.sliding_window < 0 or self.window_every < 1:
            raise UsageError("attention.sliding_window must be >= 0, window_every >= 1")

    def build(self, cfg: DecoderConfig, layer: int) -> nn.Module:
        from mlperf_submit.benchmarks.families.decoder.attention import GroupedQueryAttention

        return GroupedQueryAttention(cfg.dim, self, layer)

    def matmul_params(self, dim: int) -> int:
        hd = self.resolved_head_dim(dim)
        return dim * self.n_heads * hd * 2 + dim * self.n_kv_heads * hd * 2  # q, o + k, v

    def score_flops_per_token(self, dim: int, seq_len: int, layer: int) -> float:
        # QK^T and PV: 2 * 2 * d_heads per attended position; a causal kernel attends to half
        # the positions on average, a window to at most W.
        attended = seq_len / 2
        if self.windowed(layer):
            attended = min(attended, self.sliding_window)
        return 4.0 * self.n_heads * self.resolved_head_dim(dim) * attended


@dataclass(frozen=True)
class SwiGLUConfig(FeedForwardPart):
    """SwiGLU feed-forward: w2(silu(w1 x) * w3 x)."""

    hidden_dim: int = 14336

    def build(self, cfg: DecoderConfig, layer: int) -> nn.Module:
        from mlperf_submit.benchmarks.families.decoder.feed_forward import SwiGLU

        return SwiGLU(cfg.dim, self.hidden_dim)

    def matmul_params(self, dim: int, layer: int) -> int:
        return 3 * dim * self.hidden_dim


@dataclass(frozen=True)
class DecoderConfig:
    """A decoder-only transformer. Defaults are Llama 3.1 8B."""

    vocab_size: int = 128256
    """Llama 3 tokenizer (128,000 BPE tokens + 256 special tokens)."""
    dim: int = 4096
    """Model (residual stream) width."""
    n_layers: int = 32
    attention: AttentionPart = field(default_factory=GQAConfig)
    """The attention variant (its type) and its shape."""
    ffn: FeedForwardPart = field(default_factory=SwiGLUConfig)
    """The feed-forward variant (its type) and its shape."""
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
        for name in ("vocab_size", "dim", "n_layers", "max_seq_len"):
            if getattr(self, name) < 1:
                raise UsageError(f"model {name} must be >= 1, got {getattr(self, name)}")
        self.attention.check(self.dim)

    @property
    def rotary_dim(self) -> int:
        """Width of the RoPE tables (a GQA model's head width)."""
        return self.attention.rotary_dim(self.dim)

    def to_dict(self) -> dict:
        return asdict(self)
