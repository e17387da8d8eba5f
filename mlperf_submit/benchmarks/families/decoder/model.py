"""The decoder-only transformer of the LLM benchmarks, written with plain torch.

Pre-norm blocks (RMSNorm -> attention -> residual, RMSNorm -> feed-forward -> residual), token
embedding, final RMSNorm and output head; the attention and feed-forward variants come from
the config's parts (``config.py``), so Llama 3.1 (GQA + SwiGLU), GPT-OSS (windowed GQA + a
mixture of experts) and DeepSeek-V3 (latent attention + experts) share this module::

    from mlperf_submit.benchmarks.families.decoder.config import DecoderConfig, GQAConfig
    model = Decoder(DecoderConfig(vocab_size=256, dim=64, n_layers=2,
                                  attention=GQAConfig(n_heads=4, n_kv_heads=2)))
    logits = model(tokens)            # tokens: int64 [batch, seq] -> float [batch, seq, vocab]

``layers`` is a ModuleList: FSDP2 shards per block, activation checkpointing recomputes per
block. A part module that adds a term to the training loss (a router's load-balancing loss)
keeps it in an ``aux_loss`` attribute during the forward; :meth:`Decoder.aux_loss` sums them.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from mlperf_submit.benchmarks.families.decoder.config import DecoderConfig
from mlperf_submit.benchmarks.families.decoder.rope import rope_cos_sin
from mlperf_submit.errors import UsageError


class RMSNorm(nn.Module):
    """x / rms(x) * weight, computed in fp32 whatever the autocast dtype (as in Llama)."""

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.rms_norm(x.float(), (x.shape[-1],), self.weight.float(), self.eps).type_as(x)


class DecoderBlock(nn.Module):
    def __init__(self, cfg: DecoderConfig, layer: int) -> None:
        super().__init__()
        self.attention_norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.attention = cfg.attention.build(cfg, layer)
        self.ffn_norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.feed_forward = cfg.ffn.build(cfg, layer)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(self.attention_norm(x), cos, sin)
        return x + self.feed_forward(self.ffn_norm(x))


# Residual-branch output projections: initialised smaller (see Decoder.reset_parameters).
RESIDUAL_OUTPUTS = ("attention.wo.weight", "feed_forward.w2.weight")


class Decoder(nn.Module):
    """Token ids in, next-token logits out."""

    def __init__(self, cfg: DecoderConfig, *, checkpoint_blocks: bool = False) -> None:
        super().__init__()
        self.cfg = cfg
        self.checkpoint_blocks = checkpoint_blocks
        self.tok_embeddings = nn.Embedding(cfg.vocab_size, cfg.dim)
        self.layers = nn.ModuleList(DecoderBlock(cfg, i) for i in range(cfg.n_layers))
        self.norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.output = nn.Linear(cfg.dim, cfg.vocab_size, bias=False)
        if cfg.tie_embeddings:
            self.output.weight = self.tok_embeddings.weight
        cos, sin = rope_cos_sin(cfg.rotary_dim, cfg.max_seq_len, cfg.rope_theta, cfg.rope_scaling)
        # Not persistent: derived from the config, so never part of a checkpoint. Identical on
        # every rank, so DDP need not broadcast them before each forward (4 MB at 8192 tokens).
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        self._ddp_params_and_buffers_to_ignore = ["rope_cos", "rope_sin"]
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Normal(0, init_std) weights, zero biases, unit norm gains; the residual-branch output
        projections are scaled by 1/sqrt(2 * n_layers) so the residual stream's variance does
        not grow with depth. Part modules with their own ``reset_parameters`` (experts, latent
        projections) are then called to initialise what they own their way."""
        std = self.cfg.init_std
        out_std = std / math.sqrt(2 * self.cfg.n_layers)
        norms = {id(m.weight) for m in self.modules() if isinstance(m, RMSNorm)}
        for name, p in self.named_parameters():
            if id(p) in norms:
                p.fill_(1.0)
            elif name.endswith(".bias"):
                p.zero_()
            elif name.endswith(RESIDUAL_OUTPUTS):
                nn.init.normal_(p, 0.0, out_std)
            else:
                nn.init.normal_(p, 0.0, std)
        for block in self.layers:
            for part in (block.attention, block.feed_forward):
                reset = getattr(part, "reset_parameters", None)
                if callable(reset):
                    reset(std, out_std)

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

    def aux_loss(self) -> torch.Tensor | None:
        """Sum of the ``aux_loss`` the part modules kept during the last forward, or None."""
        found = [
            m.aux_loss
            for m in self.modules()
            if isinstance(getattr(m, "aux_loss", None), torch.Tensor)
        ]
        return torch.stack(found).sum() if found else None

    def num_params(self, *, non_embedding: bool = False) -> int:
        """Parameter count; ``non_embedding`` drops the input lookup table (it does no matmul)."""
        n = sum(p.numel() for p in self.parameters())
        if non_embedding and not self.cfg.tie_embeddings:
            n -= self.tok_embeddings.weight.numel()
        return n


def next_token_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy (nats per token) in fp32: the training loss and the log-perplexity."""
    return F.cross_entropy(logits.float().flatten(0, 1), labels.flatten())
