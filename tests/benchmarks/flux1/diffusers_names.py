"""Our MMDiT's state dict (Black Forest Labs' names) as diffusers' FluxTransformer2DModel's.

The same mapping as diffusers' ``convert_flux_transformer_checkpoint_to_diffusers`` (which
hard-codes hidden 3072, so the small test shapes need their own): fused qkv / linear1 rows are
split, the final adaLN's (shift, scale) halves become diffusers' (scale, shift).
"""

from __future__ import annotations

import torch


def to_diffusers(sd: dict[str, torch.Tensor], hidden: int) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}

    def lin(dst: str, src: str) -> None:
        out[f"{dst}.weight"] = sd[f"{src}.weight"]
        if f"{src}.bias" in sd:
            out[f"{dst}.bias"] = sd[f"{src}.bias"]

    def split3(dsts: tuple[str, str, str], src: str, rows: int = 3 * hidden) -> None:
        w = sd[f"{src}.weight"][:rows].chunk(3)
        b = sd[f"{src}.bias"][:rows].chunk(3)
        for i, dst in enumerate(dsts):
            out[f"{dst}.weight"], out[f"{dst}.bias"] = w[i], b[i]

    lin("x_embedder", "img_in")
    lin("context_embedder", "txt_in")
    lin("time_text_embed.timestep_embedder.linear_1", "time_in.in_layer")
    lin("time_text_embed.timestep_embedder.linear_2", "time_in.out_layer")
    lin("time_text_embed.text_embedder.linear_1", "vector_in.in_layer")
    lin("time_text_embed.text_embedder.linear_2", "vector_in.out_layer")
    doubles = {int(k.split(".")[1]) for k in sd if k.startswith("double_blocks.")}
    for i in sorted(doubles):
        s, d = f"double_blocks.{i}", f"transformer_blocks.{i}"
        lin(f"{d}.norm1.linear", f"{s}.img_mod.lin")
        lin(f"{d}.norm1_context.linear", f"{s}.txt_mod.lin")
        split3((f"{d}.attn.to_q", f"{d}.attn.to_k", f"{d}.attn.to_v"), f"{s}.img_attn.qkv")
        split3(
            (f"{d}.attn.add_q_proj", f"{d}.attn.add_k_proj", f"{d}.attn.add_v_proj"),
            f"{s}.txt_attn.qkv",
        )
        out[f"{d}.attn.norm_q.weight"] = sd[f"{s}.img_attn.norm.query_norm.weight"]
        out[f"{d}.attn.norm_k.weight"] = sd[f"{s}.img_attn.norm.key_norm.weight"]
        out[f"{d}.attn.norm_added_q.weight"] = sd[f"{s}.txt_attn.norm.query_norm.weight"]
        out[f"{d}.attn.norm_added_k.weight"] = sd[f"{s}.txt_attn.norm.key_norm.weight"]
        lin(f"{d}.attn.to_out.0", f"{s}.img_attn.proj")
        lin(f"{d}.attn.to_add_out", f"{s}.txt_attn.proj")
        lin(f"{d}.ff.net.0.proj", f"{s}.img_mlp.0")
        lin(f"{d}.ff.net.2", f"{s}.img_mlp.2")
        lin(f"{d}.ff_context.net.0.proj", f"{s}.txt_mlp.0")
        lin(f"{d}.ff_context.net.2", f"{s}.txt_mlp.2")
    singles = {int(k.split(".")[1]) for k in sd if k.startswith("single_blocks.")}
    for i in sorted(singles):
        s, d = f"single_blocks.{i}", f"single_transformer_blocks.{i}"
        lin(f"{d}.norm.linear", f"{s}.modulation.lin")
        split3((f"{d}.attn.to_q", f"{d}.attn.to_k", f"{d}.attn.to_v"), f"{s}.linear1")
        out[f"{d}.proj_mlp.weight"] = sd[f"{s}.linear1.weight"][3 * hidden :]
        out[f"{d}.proj_mlp.bias"] = sd[f"{s}.linear1.bias"][3 * hidden :]
        out[f"{d}.attn.norm_q.weight"] = sd[f"{s}.norm.query_norm.weight"]
        out[f"{d}.attn.norm_k.weight"] = sd[f"{s}.norm.key_norm.weight"]
        lin(f"{d}.proj_out", f"{s}.linear2")
    shift, scale = sd["final_layer.adaLN_modulation.1.weight"].chunk(2)
    out["norm_out.linear.weight"] = torch.cat((scale, shift))
    shift, scale = sd["final_layer.adaLN_modulation.1.bias"].chunk(2)
    out["norm_out.linear.bias"] = torch.cat((scale, shift))
    lin("proj_out", "final_layer.linear")
    return out
