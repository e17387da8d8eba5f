"""Our decoder's parameter names <-> a Hugging Face Llama checkpoint's tensor names.

``transformers``' ``LlamaForCausalLM`` (and every Llama-2/3 checkpoint on the Hub) names the
same weights ``model.layers.{i}.self_attn.q_proj.weight`` etc. Both use the "rotate half" RoPE
pairing (x[i], x[i + d/2]), so the q/k rows need no permutation. ``fused_qkv=True`` says the
*checkpoint* holds one ``self_attn.qkv_proj.weight`` per layer (q rows, then k, then v), the
layout of the fused-QKV Llama 2 70B checkpoint the MLPerf LoRA reference fine-tunes. Our model
is fused or not by its own config (``GQAConfig.fused_qkv``); every combination maps:

    model wq/wk/wv  <- checkpoint q/k/v_proj, or row ranges of qkv_proj
    model wqkv      <- checkpoint qkv_proj, or q/k/v_proj into its row ranges

    sources = llama_sources(cfg, fused_qkv=True)     # {our name: Source | (Source, ...)}
    load_checkpoint(model, "/ckpt/Llama2-70b-fused-qkv-mlperf", sources)
    tensors = export_llama(model, cfg, fused_qkv=True)   # {hf name: tensor}, for save_checkpoint
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
FUSED_QKV = "self_attn.qkv_proj.weight"


def _qkv_sources(a: GQAConfig, dim: int, ours: str, theirs: str, fused_ckpt: bool) -> dict:
    hd = a.resolved_head_dim(dim)
    sizes = {"wq": a.n_heads * hd, "wk": a.n_kv_heads * hd, "wv": a.n_kv_heads * hd}
    spans, start = {}, 0
    for proj, n in sizes.items():
        spans[proj] = (start, start + n)
        start += n
    if a.fused_qkv and fused_ckpt:
        return {f"{ours}attention.wqkv.weight": Source(theirs + FUSED_QKV)}
    if a.fused_qkv:  # three checkpoint tensors fill the row ranges of our one projection
        parts = tuple(
            Source(f"{theirs}self_attn.{hf}.weight", into=spans[proj]) for proj, hf in _QKV.items()
        )
        return {f"{ours}attention.wqkv.weight": parts}
    if fused_ckpt:  # one checkpoint tensor feeds our three projections
        return {f"{ours}attention.{p}.weight": Source(theirs + FUSED_QKV, spans[p]) for p in _QKV}
    return {f"{ours}attention.{p}.weight": Source(f"{theirs}self_attn.{hf}.weight")
            for p, hf in _QKV.items()}  # fmt: skip


def llama_sources(cfg: DecoderConfig, *, fused_qkv: bool = False) -> dict[str, Source | tuple]:
    """Where each parameter of a GQA + SwiGLU decoder comes from in an HF Llama checkpoint
    (``fused_qkv``: the checkpoint's layout, see the module docstring)."""
    if not isinstance(cfg.attention, GQAConfig) or not isinstance(cfg.ffn, SwiGLUConfig):
        raise UsageError("the Hugging Face Llama layout fits GQA attention with a SwiGLU FFN only")
    out = {"tok_embeddings.weight": Source("model.embed_tokens.weight"),
           "norm.weight": Source("model.norm.weight")}  # fmt: skip
    if not cfg.tie_embeddings:
        out["output.weight"] = Source("lm_head.weight")
    for i in range(cfg.n_layers):
        ours, theirs = f"layers.{i}.", f"model.layers.{i}."
        for k, v in _LAYER.items():
            out[ours + k] = Source(theirs + v)
        out.update(_qkv_sources(cfg.attention, cfg.dim, ours, theirs, fused_qkv))
    return out


def export_llama(
    model: nn.Module, cfg: DecoderConfig, *, fused_qkv: bool = False, dtype=torch.bfloat16
) -> dict[str, torch.Tensor]:
    """The model's weights under their HF names (``fused_qkv``: the checkpoint layout to write),
    as ``dtype``: the inverse of :func:`llama_sources`."""
    params = dict(model.named_parameters())
    pieces: dict[str, list[tuple[int, torch.Tensor]]] = {}
    for name, entry in llama_sources(cfg, fused_qkv=fused_qkv).items():
        for src in (entry,) if isinstance(entry, Source) else entry:
            value = params[name].detach()
            if src.into is not None:
                value = value[src.into[0] : src.into[1]]
            start = src.rows[0] if src.rows else 0
            pieces.setdefault(src.tensor, []).append((start, value))
    return {
        hf: torch.cat([t for _, t in sorted(parts, key=lambda p: p[0])]).to(dtype).contiguous()
        for hf, parts in pieces.items()
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
