"""The Flux.1 MMDiT: the full shape's size on the meta device, the same function as diffusers'
FluxTransformer2DModel, the reference's initialisation, the FLOP count used for MFU."""

from __future__ import annotations

import torch
from diffusers_names import to_diffusers

from mlperf_submit.benchmarks.flux1.flow import image_ids, text_ids
from mlperf_submit.benchmarks.flux1.model import (
    MMDiT,
    MMDiTConfig,
    matmul_flops_per_sample,
    packed_tokens,
    parameter_count,
)

SMALL = MMDiTConfig(
    in_channels=16, vec_in_dim=12, context_in_dim=20, hidden_size=48, num_heads=2, depth=2,
    depth_single_blocks=2, axes_dim=(4, 10, 10),
)  # fmt: skip
FLUX_SCHNELL_PARAMS = 11_891_178_560


def _inputs(cfg: MMDiTConfig, b=2, h=6, w=8, n_txt=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    hw = (h // 2) * (w // 2)
    return {
        "img": torch.randn(b, hw, cfg.in_channels, generator=g),
        "img_ids": image_ids(b, h, w, torch.device("cpu")),
        "txt": torch.randn(b, n_txt, cfg.context_in_dim, generator=g),
        "txt_ids": text_ids(b, n_txt, torch.device("cpu")),
        "timesteps": torch.rand(b, generator=g),
        "y": torch.randn(b, cfg.vec_in_dim, generator=g),
    }


def test_the_full_shape_is_flux_schnell_on_the_meta_device():
    cfg = MMDiTConfig()
    assert (cfg.depth, cfg.depth_single_blocks, cfg.hidden_size, cfg.num_heads) == (
        19,
        38,
        3072,
        24,
    )
    assert parameter_count(cfg) == FLUX_SCHNELL_PARAMS  # ~11.9B, no guidance embedder
    with torch.device("meta"):
        model = MMDiT(cfg)
    assert all(p.is_meta for p in model.parameters())
    assert len(model.double_blocks) == 19 and len(model.single_blocks) == 38


def test_same_function_and_size_as_diffusers_flux_transformer():
    from diffusers import FluxTransformer2DModel

    torch.manual_seed(0)
    ours = MMDiT(SMALL)
    for p in ours.parameters():  # non-zero everywhere: every path counts
        torch.nn.init.normal_(p, std=0.1)
    ref = FluxTransformer2DModel(
        patch_size=1, in_channels=16, num_layers=2, num_single_layers=2, attention_head_dim=24,
        num_attention_heads=2, joint_attention_dim=20, pooled_projection_dim=12,
        guidance_embeds=False, axes_dims_rope=(4, 10, 10),
    )  # fmt: skip
    ref.load_state_dict(to_diffusers(ours.state_dict(), SMALL.hidden_size), strict=True)
    x = _inputs(SMALL)
    with torch.no_grad():
        got = ours(**x)
        want = ref(
            hidden_states=x["img"], encoder_hidden_states=x["txt"], pooled_projections=x["y"],
            timestep=x["timesteps"], img_ids=x["img_ids"][0], txt_ids=x["txt_ids"][0],
            return_dict=False,
        )[0]  # fmt: skip
    assert got.abs().max() > 0.1
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    with torch.device("meta"):
        schnell = FluxTransformer2DModel(guidance_embeds=False)  # the Flux.1-schnell defaults
    assert sum(p.numel() for p in schnell.parameters()) == FLUX_SCHNELL_PARAMS


def test_the_untrained_model_predicts_zero_and_every_block_starts_as_identity():
    torch.manual_seed(0)
    model = MMDiT(SMALL)
    x = _inputs(SMALL)
    assert torch.equal(model(**x), torch.zeros_like(x["img"]))
    for block in (*model.double_blocks, *model.single_blocks):
        mods = [m for m in block.modules() if m.__class__.__name__ == "Modulation"]
        assert mods and all(m.lin.weight.abs().sum() == 0 for m in mods)
    assert model.img_in.weight.std() > 0 and model.time_in.in_layer.weight.std() > 0


def test_flops_match_torch_flop_counter():
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    model = MMDiT(SMALL)
    x = _inputs(SMALL, b=3, h=6, w=8, n_txt=5)
    # The math attention backend: its matmuls are counted (the fused CPU kernel is not).
    counter = FlopCounterMode(display=False)
    with sdpa_kernel(SDPBackend.MATH), counter, torch.no_grad():
        model(**x)
    counted = counter.get_total_flops()
    assert counted == matmul_flops_per_sample(SMALL, img_tokens=12, txt_tokens=5) * 3
    assert packed_tokens(256) == 256


def test_activation_checkpointing_gives_the_same_gradients():
    torch.manual_seed(0)
    plain = MMDiT(SMALL)
    ckpt = MMDiT(SMALL, checkpoint_blocks=True)
    ckpt.load_state_dict(plain.state_dict())
    for p in plain.parameters():
        torch.nn.init.normal_(p, std=0.1)
    ckpt.load_state_dict(plain.state_dict())
    x = _inputs(SMALL)
    for m in (plain, ckpt):
        m(**x).square().mean().backward()
    for a, b in zip(plain.parameters(), ckpt.parameters()):
        torch.testing.assert_close(a.grad, b.grad)
