"""Our decoder's DeepSeek-V3 parameters <-> a Hugging Face DeepSeek-V3 checkpoint's tensors.

The layout of ``deepseek-ai/DeepSeek-V3`` (bf16 conversion) and of the MLPerf benchmark's
starting checkpoint (Megatron-Bridge's export back to HF): per layer
``model.layers.{i}.self_attn.{q_a_proj, q_a_layernorm, q_b_proj, kv_a_proj_with_mqa,
kv_a_layernorm, kv_b_proj, o_proj}.weight``, a dense ``mlp.{gate,up,down}_proj`` in the first
``first_k_dense_replace`` layers, then ``mlp.gate.weight``, ``mlp.gate.e_score_correction_bias``
(fp32), ``mlp.shared_experts.*`` and one tensor per expert and projection,
``mlp.experts.{e}.{gate,up,down}_proj.weight``. Layer 61 (the multi-token-prediction module) is
not a parameter here and stays unused.

Our experts are stacked (``experts.w1 [E, hidden, dim]``): :func:`load_deepseek` fills the
ordinary parameters through ``hf_checkpoint.load_checkpoint`` and then each stacked expert
tensor row by row from the per-expert tensors -- only the experts this rank holds (expert
parallelism: ``Experts.first``; FSDP2: the rows of its DTensor shard) -- and the routing bias
buffer. :func:`export_deepseek` / :func:`hf_deepseek_config` write the same layout.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import torch
from torch import nn

from mlperf_submit.benchmarks.families.decoder.config import DecoderConfig
from mlperf_submit.benchmarks.families.decoder.mla import MLAConfig
from mlperf_submit.benchmarks.families.decoder.moe import Experts, MoE
from mlperf_submit.benchmarks.families.decoder.moe_config import MoEConfig
from mlperf_submit.benchmarks.families.decoder.rope import YarnScaling
from mlperf_submit.benchmarks.families.hf_checkpoint import (
    Source,
    load_checkpoint,
    read_index,
)
from mlperf_submit.errors import InputError, UsageError

_ATTN = {
    "wq": "q_proj",
    "wq_a": "q_a_proj",
    "q_norm": "q_a_layernorm",
    "wq_b": "q_b_proj",
    "wkv_a": "kv_a_proj_with_mqa",
    "kv_norm": "kv_a_layernorm",
    "wkv_b": "kv_b_proj",
    "wo": "o_proj",
}
_SWIGLU = {"w1": "gate_proj", "w3": "up_proj", "w2": "down_proj"}


def _check(cfg: DecoderConfig) -> tuple[MLAConfig, MoEConfig]:
    if not isinstance(cfg.attention, MLAConfig) or not isinstance(cfg.ffn, MoEConfig):
        raise UsageError("the DeepSeek-V3 layout fits MLA attention with a MoE feed-forward only")
    return cfg.attention, cfg.ffn


def deepseek_sources(cfg: DecoderConfig) -> dict[str, Source]:
    """Where each non-expert parameter comes from (the stacked experts: expert_sources)."""
    attn, ffn = _check(cfg)
    out = {"tok_embeddings.weight": Source("model.embed_tokens.weight"),
           "norm.weight": Source("model.norm.weight")}  # fmt: skip
    if not cfg.tie_embeddings:
        out["output.weight"] = Source("lm_head.weight")
    names = ("wq_a", "q_norm", "wq_b") if attn.q_lora_rank else ("wq",)
    for i in range(cfg.n_layers):
        ours, theirs = f"layers.{i}.", f"model.layers.{i}."
        out[ours + "attention_norm.weight"] = Source(theirs + "input_layernorm.weight")
        out[ours + "ffn_norm.weight"] = Source(theirs + "post_attention_layernorm.weight")
        for name in (*names, "wkv_a", "kv_norm", "wkv_b", "wo"):
            out[f"{ours}attention.{name}.weight"] = Source(
                f"{theirs}self_attn.{_ATTN[name]}.weight"
            )
        if not ffn.is_moe(i):
            for w, hf in _SWIGLU.items():
                out[f"{ours}feed_forward.{w}.weight"] = Source(f"{theirs}mlp.{hf}.weight")
            continue
        out[ours + "feed_forward.router.weight"] = Source(theirs + "mlp.gate.weight")
        if ffn.n_shared_experts:
            for w, hf in _SWIGLU.items():
                out[f"{ours}feed_forward.shared_experts.{w}.weight"] = Source(
                    f"{theirs}mlp.shared_experts.{hf}.weight"
                )
    return out


def expert_tensor(layer: int, expert: int, w: str) -> str:
    return f"model.layers.{layer}.mlp.experts.{expert}.{_SWIGLU[w]}.weight"


def bias_tensor(layer: int) -> str:
    return f"model.layers.{layer}.mlp.gate.e_score_correction_bias"


def _layer_of(name: str) -> int:
    return int(name.split(".")[1])


def _local_rows(param: torch.Tensor) -> tuple[int, torch.Tensor]:
    """(first row of the full tensor this rank holds, its local tensor): a DTensor's shard."""
    from torch.distributed.tensor import DTensor

    if isinstance(param, DTensor):
        from torch.distributed.tensor._utils import compute_local_shape_and_global_offset

        _, offset = compute_local_shape_and_global_offset(
            param.shape, param.device_mesh, param.placements
        )
        return int(offset[0]) if len(offset) else 0, param.to_local()
    return 0, param.data


def load_deepseek(model: nn.Module, directory: str | os.PathLike, cfg: DecoderConfig) -> None:
    """Fill ``model`` (our DeepSeek-V3) from a Hugging Face DeepSeek-V3 checkpoint directory."""
    from safetensors import safe_open

    _check(cfg)
    load_checkpoint(model, directory, deepseek_sources(cfg))
    index = read_index(directory)
    # (shard file) -> [(hf tensor, destination tensor view, our name)]
    plan: dict[str, list[tuple[str, torch.Tensor, str]]] = defaultdict(list)

    def want(tensor: str, dest: torch.Tensor, ours: str) -> None:
        if tensor not in index.weight_map:
            raise InputError(
                f"{index.where(tensor)}: the checkpoint has no tensor {tensor!r} (needed for {ours})"
            )
        plan[index.weight_map[tensor]].append((tensor, dest, ours))

    for name, module in model.named_modules():
        if isinstance(module, Experts):
            layer = _layer_of(name)
            for w in ("w1", "w3", "w2"):
                row0, local = _local_rows(getattr(module, w))
                for j in range(local.shape[0]):
                    expert = module.first + row0 + j
                    want(expert_tensor(layer, expert, w), local[j], f"{name}.{w}[{expert}]")
        elif isinstance(module, MoE) and module.router.expert_bias is not None:
            want(
                bias_tensor(_layer_of(name)),
                module.router.expert_bias,
                f"{name}.router.expert_bias",
            )
    dtype = index.dtype
    for shard in sorted(plan):
        path = Path(index.directory) / shard
        try:
            handle_cm = safe_open(str(path), framework="pt")
        except Exception as err:  # safetensors raises its own error types
            raise InputError(f"{path}: not a safetensors file ({err})") from None
        with handle_cm as handle, torch.no_grad():
            present = set(handle.keys())
            for tensor, dest, ours in plan[shard]:
                if tensor not in present:
                    raise InputError(f"{path}: the index lists {tensor!r} here but it is absent")
                value = handle.get_tensor(tensor)
                if tuple(value.shape) != tuple(dest.shape):
                    raise InputError(
                        f"{path}: tensor {tensor!r} has shape {list(value.shape)} but the model's "
                        f"{ours} is {list(dest.shape)}: a checkpoint of another model size?"
                    )
                # The routing bias is fp32 in DeepSeek's checkpoints whatever torch_dtype says.
                if dtype is not None and value.dtype != dtype and "e_score" not in tensor:
                    raise InputError(
                        f"{path}: tensor {tensor!r} is {value.dtype}, but config.json declares "
                        f"{dtype} (a mixed or converted checkpoint?)"
                    )
                dest.copy_(value.to(dest.dtype))


def export_deepseek(
    model: nn.Module, cfg: DecoderConfig, dtype: torch.dtype = torch.bfloat16
) -> dict[str, torch.Tensor]:
    """The model's weights under their HF names (experts one tensor each), ``dtype`` but the
    fp32 routing bias. Every rank must hold all experts (no expert parallelism)."""
    params = dict(model.named_parameters())
    out = {hf.tensor: params[ours].detach().to(dtype).contiguous()
           for ours, hf in deepseek_sources(cfg).items()}  # fmt: skip
    for name, module in model.named_modules():
        if isinstance(module, Experts):
            if module.first or module.n_local != cfg.ffn.n_experts:
                raise UsageError("export_deepseek needs every expert on this rank")
            layer = _layer_of(name)
            for w in ("w1", "w3", "w2"):
                stacked = getattr(module, w).detach()
                for e in range(module.n_local):
                    out[expert_tensor(layer, e, w)] = stacked[e].to(dtype).contiguous()
        elif isinstance(module, MoE) and module.router.expert_bias is not None:
            out[bias_tensor(_layer_of(name))] = module.router.expert_bias.detach().float().clone()
    return out


def hf_deepseek_config(cfg: DecoderConfig, dtype: str = "bfloat16") -> dict:
    """A ``config.json`` for ``transformers.DeepseekV3Config`` describing ``cfg``."""
    attn, ffn = _check(cfg)
    rope = None  # the published config.json's form: rope_theta + rope_scaling
    if isinstance(cfg.rope_scaling, YarnScaling):
        s = cfg.rope_scaling
        rope = {"type": "yarn", "factor": s.factor,
                "original_max_position_embeddings": s.original_max_position_embeddings,
                "beta_fast": s.beta_fast, "beta_slow": s.beta_slow, "mscale": s.mscale,
                "mscale_all_dim": s.mscale_all_dim}  # fmt: skip
    return {
        "architectures": ["DeepseekV3ForCausalLM"],
        "model_type": "deepseek_v3",
        "vocab_size": cfg.vocab_size,
        "hidden_size": cfg.dim,
        "intermediate_size": ffn.dense_hidden or ffn.expert_hidden,
        "moe_intermediate_size": ffn.expert_hidden,
        "num_hidden_layers": cfg.n_layers,
        "num_attention_heads": attn.n_heads,
        "num_key_value_heads": attn.n_heads,
        "n_shared_experts": ffn.n_shared_experts,
        "n_routed_experts": ffn.n_experts,
        "routed_scaling_factor": ffn.route_scale,
        "kv_lora_rank": attn.kv_lora_rank,
        "q_lora_rank": attn.q_lora_rank or None,
        "qk_rope_head_dim": attn.qk_rope_head_dim,
        "v_head_dim": attn.v_head_dim,
        "qk_nope_head_dim": attn.qk_nope_head_dim,
        "n_group": ffn.n_groups,
        "topk_group": ffn.topk_groups,
        "num_experts_per_tok": ffn.top_k,
        "first_k_dense_replace": ffn.dense_layers,
        "norm_topk_prob": ffn.norm_topk,
        "scoring_func": ffn.score,
        "topk_method": "noaux_tc",
        "hidden_act": "silu",
        "max_position_embeddings": cfg.max_seq_len,
        "rms_norm_eps": cfg.norm_eps,
        "rope_theta": cfg.rope_theta,
        "rope_scaling": rope,
        "rope_interleave": True,
        "tie_word_embeddings": cfg.tie_embeddings,
        "attention_bias": False,
        "num_nextn_predict_layers": 0,
        "torch_dtype": dtype,
    }
