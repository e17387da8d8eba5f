"""Model FLOPs of a Llama training step, for model FLOP utilisation (MFU).

MFU = (model FLOPs per step / step time) / peak FLOP/s. "Model FLOPs" count only the
arithmetic the model needs, never recomputation (activation checkpointing) or the optimizer:

* every weight matrix (attention q/k/v/o, SwiGLU w1/w3/w2, the output head): 2 FLOPs per
  weight per token forward, 4 backward -> 6 * N_matmul per token (the embedding lookup does
  no arithmetic and is not counted);
* attention scores and the weighted sum of values: 2 * 2 * T * d FLOPs per token and layer
  forward without a mask; causal attention needs half of that (the fused kernels skip the
  masked blocks), times 3 with the backward pass -> 6 * L * T * d per token.

PaLM (Chowdhery et al., 2022, appendix B) counts 12 * L * T * d for attention, as if it were
not causal; ``causal=False`` gives that convention. The causal count is the default here, so the
figure never credits work that is not done.
"""

from __future__ import annotations

from mlperf_submit.benchmarks.llama31_8b.model import ModelConfig


def matmul_params(cfg: ModelConfig) -> int:
    """Weights that multiply activations (everything but the embedding table and the norms)."""
    d, hd = cfg.dim, cfg.head_dim
    attn = d * cfg.n_heads * hd * 2 + d * cfg.n_kv_heads * hd * 2  # q, o + k, v
    ffn = 3 * d * cfg.ffn_dim
    return cfg.n_layers * (attn + ffn) + d * cfg.vocab_size  # + output head


def training_flops_per_token(cfg: ModelConfig, seq_len: int, *, causal: bool = True) -> float:
    attention = (6 if causal else 12) * cfg.n_layers * seq_len * cfg.n_heads * cfg.head_dim
    return 6.0 * matmul_params(cfg) + attention
