"""Our decoder's parameter names <-> a Hugging Face Llama checkpoint's tensor names.

``transformers``' ``LlamaForCausalLM`` (and every Llama-2/3 checkpoint on the Hub) names the
same weights ``model.layers.{i}.self_attn.q_proj.weight`` etc. Both use the "rotate half" RoPE
pairing (x[i], x[i + d/2]), so the q/k rows need no permutation. ``fused_qkv=True`` maps the
three projections to row ranges of one ``self_attn.qkv_proj.weight`` (q rows, then k, then v),
the layout of the fused-QKV Llama 2 70B checkpoint the MLPerf LoRA reference fine-tunes.

    sources = llama_sources(cfg)                     # {our name: Source(hf name[, rows])}
    load_checkpoint(model, "/ckpt/Llama-2-70b-hf", sources)
    tensors = export_llama(model, cfg)               # {hf name: tensor}, for save_checkpoint
"""

from __future__ import annotations

import torch
from torch import nn

from mlperf_submit.benchmarks.families.decoder.config import DecoderConfig, GQAConfig, SwiGLUConfig
from mlperf_submit.benchmarks.families.hf_checkpoint import Source
from mlperf_submit.errors import UsageError

_LAYER = {
    "attention_norm.weight": "input_layernorm.weight",
    "ffn_norm.weight": "post_attention_layernorm.weight",
    "attention.wo.weight": "self_attn.o_proj.weight",
    "feed_forward.w1.weight": "mlp.gate_proj.weight",
    "feed_forward.w3.weight": "mlp.up_proj.weight",
    "feed_forward.w2.weight": "mlp.down_proj.weight",
}
_QKV = {"wq": "q_proj", "wk": "k_proj", "wv": "v_proj"}


def llama_sources(cfg: DecoderConfig, *, fused_qkv: bool = False) -> dict[str, Source]:
    """Where each parameter of a GQA + SwiGLU decoder comes from in an HF Llama checkpoint."""
    if not isinstance(cfg.attention, GQAConfig) or not isinstance(cfg.ffn, SwiGLUConfig):
        raise UsageError("the Hugging Face Llama layout fits GQA attention with a SwiGLU FFN only")
    a = cfg.attention
    hd = a.resolved_head_dim(cfg.dim)
    rows = {"wq": a.n_heads * hd, "wk": a.n_kv_heads * hd, "wv": a.n_kv_heads * hd}
    out = {"tok_embeddings.weight": Source("model.embed_tokens.weight"),
           "norm.weight": Source("model.norm.weight")}  # fmt: skip
    if not cfg.tie_embeddings:
        out["output.weight"] = Source("lm_head.weight")
    for i in range(cfg.n_layers):
        ours, theirs = f"layers.{i}.", f"model.layers.{i}."
        for k, v in _LAYER.items():
            out[ours + k] = Source(theirs + v)
        start = 0
        for proj, hf in _QKV.items():
            name = f"{ours}attention.{proj}.weight"
            if fused_qkv:
                out[name] = Source(
                    f"{theirs}self_attn.qkv_proj.weight", (start, start + rows[proj])
                )
                start += rows[proj]
            else:
                out[name] = Source(f"{theirs}self_attn.{hf}.weight")
    return out


def export_llama(
    model: nn.Module, cfg: DecoderConfig, *, fused_qkv: bool = False, dtype=torch.bfloat16
) -> dict[str, torch.Tensor]:
    """The model's weights under their HF names (fused rows concatenated), as ``dtype``."""
    params = dict(model.named_parameters())
    grouped: dict[str, list[tuple[int, torch.Tensor]]] = {}
    for name, src in llama_sources(cfg, fused_qkv=fused_qkv).items():
        start = src.rows[0] if src.rows else 0
        grouped.setdefault(src.tensor, []).append((start, params[name].detach()))
    return {
        hf: torch.cat([t for _, t in sorted(parts, key=lambda p: p[0])]).to(dtype).contiguous()
        for hf, parts in grouped.items()
    }


def hf_llama_config(cfg: DecoderConfig, dtype: str = "bfloat16") -> dict:
    """A ``config.json`` for ``transformers.LlamaConfig`` describing ``cfg``."""
    a = cfg.attention
    rope = None
    if cfg.rope_scaling is not None:
        s = cfg.rope_scaling
        rope = {"rope_type": "llama3", "factor": s.factor, "low_freq_factor": s.low_freq_factor,
                "high_freq_factor": s.high_freq_factor,
                "original_max_position_embeddings": s.original_max_position_embeddings}  # fmt: skip
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": cfg.vocab_size,
        "hidden_size": cfg.dim,
        "intermediate_size": cfg.ffn.hidden_dim,
        "num_hidden_layers": cfg.n_layers,
        "num_attention_heads": a.n_heads,
        "num_key_value_heads": a.n_kv_heads,
        "head_dim": a.resolved_head_dim(cfg.dim),
        "max_position_embeddings": cfg.max_seq_len,
        "rms_norm_eps": cfg.norm_eps,
        "rope_theta": cfg.rope_theta,
        "rope_scaling": rope,
        "tie_word_embeddings": cfg.tie_embeddings,
        "hidden_act": "silu",
        "attention_bias": a.qkv_bias,
        "torch_dtype": dtype,
    }
