"""Model FLOPs of a decoder training step, for model FLOP utilisation (MFU).

MFU = (model FLOPs per step / step time) / peak FLOP/s. "Model FLOPs" count only the
arithmetic the model needs, never recomputation (activation checkpointing) or the optimizer:

* every weight matrix that multiplies a token's activations (attention projections, the feed-
  forward block's active weights, the output head): 2 FLOPs per weight per token forward, 4
  backward -> 6 * N_matmul per token (the embedding lookup does no arithmetic and is not
  counted; for a mixture of experts only the experts a token is routed to count);
* attention scores and the weighted sum of values: each attention part says how many forward
  FLOPs per token its kernel computes (causal: half the positions; a window: at most W), times
  3 with the backward pass.

PaLM (Chowdhery et al., 2022, appendix B) counts 12 * L * T * d for attention, as if it were
not causal; ``causal=False`` gives that convention for full-attention layers. The causal count
is the default here, so the figure never credits work that is not done.
"""

from __future__ import annotations

from mlperf_submit.benchmarks.families.decoder.config import DecoderConfig


def matmul_params(cfg: DecoderConfig) -> int:
    """Weights that multiply a token's activations (everything but the embedding table and the
    norms; the active experts only)."""
    per_layer = sum(
        cfg.attention.matmul_params(cfg.dim) + cfg.ffn.matmul_params(cfg.dim, layer)
        for layer in range(cfg.n_layers)
    )
    return per_layer + cfg.dim * cfg.vocab_size  # + output head


def training_flops_per_token(cfg: DecoderConfig, seq_len: int, *, causal: bool = True) -> float:
    scores = sum(
        cfg.attention.score_flops_per_token(cfg.dim, seq_len, layer)
        for layer in range(cfg.n_layers)
    )
    if not causal:
        scores *= 2
    return 6.0 * matmul_params(cfg) + 3.0 * scores
