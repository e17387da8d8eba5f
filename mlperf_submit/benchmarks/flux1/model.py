"""The Flux.1 MMDiT (rectified-flow transformer) that the MLPerf flux1 reference trains.

Written on this project's building blocks (``layers.py``; RMSNorm and the RoPE frequencies of
``families/decoder``), not as diffusers' ``FluxTransformer2DModel``, for two measured reasons:
``import diffusers`` costs 15-20 s of process start-up on the 2-core machines (the ``tiny``
preset's whole run is a few seconds, and ``make submit`` starts it 10 times per round), and the
reference's structure -- fused qkv / fused linear1 projections, its DiT initialisation, its
parameter names (Black Forest Labs' checkpoint names) -- is kept exactly. diffusers stays the
reference formulation in the tests: ``tests/benchmarks/flux1/test_flux_model.py`` loads these
weights into ``FluxTransformer2DModel`` and compares outputs.

The reference variant is Flux.1-schnell (torchtitan ``flux_configs["flux-schnell"]``): 19
double-stream blocks (separate image and text weights, joint attention), then 38 single-stream
blocks over the concatenated [text, image] sequence, hidden 3072, 24 heads of 128, MLP ratio 4,
RoPE over 3 position axes (16 + 56 + 56), no guidance embedding. Conditioning: the timestep
embedding plus the CLIP-L pooled text vector (768) form ``vec``, which modulates every block
(adaLN-Zero); the T5-XXL token embeddings (4096 wide, 256 tokens) are the text stream.
11,891,178,560 parameters (``tests/benchmarks/flux1`` checks the count on the meta device,
and against diffusers' FluxTransformer2DModel of the Flux.1-schnell configuration).

    model = MMDiT(MMDiTConfig())                 # on the meta device for --log-only
    pred = model(img, img_ids, txt, txt_ids, timesteps, y)   # [B, L_img, 64] velocity
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from mlperf_submit.benchmarks.flux1.layers import (
    EmbedND,
    MLPEmbedder,
    Modulation,
    QKNorm,
    SelfAttention,
    attention,
    modulate,
    split_heads,
    timestep_embedding,
)
from mlperf_submit.errors import UsageError

TIME_EMBED_DIM = 256


@dataclass
class MMDiTConfig:
    """The transformer's shape; the defaults are Flux.1-schnell's (the closed division's)."""

    in_channels: int = 64
    """Packed latent channels: VAE latent channels (16) x the 2x2 patch."""
    vec_in_dim: int = 768
    """Width of the pooled text vector (CLIP-L's pooler output)."""
    context_in_dim: int = 4096
    """Width of the text token embeddings (T5-XXL's hidden size)."""
    hidden_size: int = 3072
    mlp_ratio: float = 4.0
    num_heads: int = 24
    depth: int = 19
    """Double-stream blocks."""
    depth_single_blocks: int = 38
    axes_dim: tuple[int, ...] = (16, 56, 56)
    """RoPE dimensions per position axis; they sum to the head dimension."""
    theta: int = 10_000
    qkv_bias: bool = True

    def validate(self) -> None:
        if self.hidden_size % self.num_heads:
            raise UsageError(
                f"model.hidden_size={self.hidden_size} must be a multiple of model.num_heads="
                f"{self.num_heads}"
            )
        head_dim = self.hidden_size // self.num_heads
        if sum(self.axes_dim) != head_dim or any(d % 2 for d in self.axes_dim):
            raise UsageError(
                f"model.axes_dim={','.join(map(str, self.axes_dim))}: even sizes that sum to the "
                f"head dimension {head_dim} (hidden_size / num_heads)"
            )
        if self.in_channels % 4:
            raise UsageError(f"model.in_channels={self.in_channels}: latent channels x 4 (2x2)")
        for name in ("vec_in_dim", "context_in_dim", "depth", "depth_single_blocks"):
            if getattr(self, name) < (0 if name.startswith("depth") else 1):
                raise UsageError(f"model.{name} must be >= 1")
        if self.depth + self.depth_single_blocks < 1:
            raise UsageError("model: need at least one block (depth + depth_single_blocks)")

    @property
    def mlp_hidden(self) -> int:
        return int(self.hidden_size * self.mlp_ratio)


def _mlp(dim: int, hidden: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(dim, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, dim)
    )


def _xavier(*layers: nn.Linear) -> None:
    for layer in layers:
        nn.init.xavier_uniform_(layer.weight)
        nn.init.zeros_(layer.bias)


class DoubleStreamBlock(nn.Module):
    """Image and text keep their own weights; their tokens attend jointly ([text, image])."""

    def __init__(self, cfg: MMDiTConfig) -> None:
        super().__init__()
        h = cfg.hidden_size
        self.num_heads = cfg.num_heads
        self.img_mod = Modulation(h, double=True)
        self.img_norm1 = nn.LayerNorm(h, elementwise_affine=False, eps=1e-6)
        self.img_attn = SelfAttention(h, cfg.num_heads, cfg.qkv_bias)
        self.img_norm2 = nn.LayerNorm(h, elementwise_affine=False, eps=1e-6)
        self.img_mlp = _mlp(h, cfg.mlp_hidden)
        self.txt_mod = Modulation(h, double=True)
        self.txt_norm1 = nn.LayerNorm(h, elementwise_affine=False, eps=1e-6)
        self.txt_attn = SelfAttention(h, cfg.num_heads, cfg.qkv_bias)
        self.txt_norm2 = nn.LayerNorm(h, elementwise_affine=False, eps=1e-6)
        self.txt_mlp = _mlp(h, cfg.mlp_hidden)

    def init_weights(self) -> None:
        _xavier(self.img_mlp[0], self.img_mlp[2], self.txt_mlp[0], self.txt_mlp[2])
        for part in (self.img_attn, self.img_mod, self.txt_attn, self.txt_mod):
            part.init_weights()

    def forward(self, img, txt, vec, pe):
        (img_shift1, img_scale1, img_gate1), (img_shift2, img_scale2, img_gate2) = self.img_mod(vec)
        (txt_shift1, txt_scale1, txt_gate1), (txt_shift2, txt_scale2, txt_gate2) = self.txt_mod(vec)
        img_q, img_k, img_v = self.img_attn.qkv_heads(
            modulate(self.img_norm1(img), img_shift1, img_scale1)
        )
        txt_q, txt_k, txt_v = self.txt_attn.qkv_heads(
            modulate(self.txt_norm1(txt), txt_shift1, txt_scale1)
        )
        q = torch.cat((txt_q, img_q), dim=2)
        k = torch.cat((txt_k, img_k), dim=2)
        v = torch.cat((txt_v, img_v), dim=2)
        attn = attention(q, k, v, pe)
        n_txt = txt.shape[1]
        txt_attn, img_attn = attn[:, :n_txt], attn[:, n_txt:]
        img = img + img_gate1 * self.img_attn.proj(img_attn)
        img = img + img_gate2 * self.img_mlp(modulate(self.img_norm2(img), img_shift2, img_scale2))
        txt = txt + txt_gate1 * self.txt_attn.proj(txt_attn)
        txt = txt + txt_gate2 * self.txt_mlp(modulate(self.txt_norm2(txt), txt_shift2, txt_scale2))
        return img, txt


class SingleStreamBlock(nn.Module):
    """One weight set over the joint sequence; attention and MLP run in parallel from one fused
    input projection (linear1) and one fused output projection (linear2)."""

    def __init__(self, cfg: MMDiTConfig) -> None:
        super().__init__()
        h = cfg.hidden_size
        self.hidden_size, self.num_heads, self.mlp_hidden = h, cfg.num_heads, cfg.mlp_hidden
        self.linear1 = nn.Linear(h, 3 * h + cfg.mlp_hidden)
        self.linear2 = nn.Linear(h + cfg.mlp_hidden, h)
        self.norm = QKNorm(h // cfg.num_heads)
        self.pre_norm = nn.LayerNorm(h, elementwise_affine=False, eps=1e-6)
        self.mlp_act = nn.GELU(approximate="tanh")
        self.modulation = Modulation(h, double=False)

    def init_weights(self) -> None:
        _xavier(self.linear1, self.linear2)
        self.norm.init_weights()
        self.modulation.init_weights()

    def forward(self, x, vec, pe):
        ((shift, scale, gate),) = self.modulation(vec)
        qkv, mlp = torch.split(
            self.linear1(modulate(self.pre_norm(x), shift, scale)),
            [3 * self.hidden_size, self.mlp_hidden],
            dim=-1,
        )
        q, k, v = split_heads(qkv, self.num_heads)
        q, k = self.norm(q, k, v)
        out = self.linear2(torch.cat((attention(q, k, v, pe), self.mlp_act(mlp)), dim=2))
        return x + gate * out


class LastLayer(nn.Module):
    def __init__(self, hidden: int, out_channels: int) -> None:
        super().__init__()
        self.norm_final = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        self.linear = nn.Linear(hidden, out_channels)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden, 2 * hidden))

    def init_weights(self) -> None:
        for layer in (self.adaLN_modulation[-1], self.linear):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x, vec):
        shift, scale = self.adaLN_modulation(vec).chunk(2, dim=1)
        return self.linear(modulate(self.norm_final(x), shift[:, None], scale[:, None]))


class MMDiT(nn.Module):
    """Flux.1: packed noisy latents + text -> the predicted velocity (noise - data)."""

    def __init__(self, cfg: MMDiTConfig, *, checkpoint_blocks: bool = False) -> None:
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.checkpoint_blocks = checkpoint_blocks
        h = cfg.hidden_size
        self.pe_embedder = EmbedND(cfg.theta, cfg.axes_dim)
        self.img_in = nn.Linear(cfg.in_channels, h)
        self.time_in = MLPEmbedder(TIME_EMBED_DIM, h)
        self.vector_in = MLPEmbedder(cfg.vec_in_dim, h)
        self.txt_in = nn.Linear(cfg.context_in_dim, h)
        self.double_blocks = nn.ModuleList(DoubleStreamBlock(cfg) for _ in range(cfg.depth))
        self.single_blocks = nn.ModuleList(
            SingleStreamBlock(cfg) for _ in range(cfg.depth_single_blocks)
        )
        self.final_layer = LastLayer(h, cfg.in_channels)
        if not any(p.is_meta for p in self.parameters()):
            self.init_weights()

    def init_weights(self) -> None:
        """The reference's initialisation (torchtitan ``FluxModel.init_weights``, after DiT):
        Xavier-uniform projections with zero biases, N(0, 0.02) embedder MLPs, zero adaLN
        modulation and a zero output layer, so the untrained model predicts 0 everywhere."""
        _xavier(self.img_in, self.txt_in)
        self.time_in.init_weights()
        self.vector_in.init_weights()
        for block in (*self.single_blocks, *self.double_blocks):
            block.init_weights()
        self.final_layer.init_weights()

    def _run(self, block, *args):
        if self.checkpoint_blocks and self.training and torch.is_grad_enabled():
            return checkpoint(block, *args, use_reentrant=False)
        return block(*args)

    def forward(
        self,
        img: torch.Tensor,
        img_ids: torch.Tensor,
        txt: torch.Tensor,
        txt_ids: torch.Tensor,
        timesteps: torch.Tensor,
        y: torch.Tensor,
    ) -> torch.Tensor:
        """img [B, L_img, in_channels], txt [B, L_txt, context_in_dim], ids [B, L, 3] positions,
        timesteps [B] in [0, 1], y [B, vec_in_dim] -> [B, L_img, in_channels]."""
        if img.ndim != 3 or txt.ndim != 3:
            raise ValueError("img and txt must be [batch, tokens, channels]")
        img = self.img_in(img)
        vec = self.time_in(timestep_embedding(timesteps, TIME_EMBED_DIM).to(img.dtype))
        vec = vec + self.vector_in(y)
        txt = self.txt_in(txt)
        pe = self.pe_embedder(torch.cat((txt_ids, img_ids), dim=1))
        for block in self.double_blocks:
            img, txt = self._run(block, img, txt, vec, pe)
        x = torch.cat((txt, img), dim=1)
        for block in self.single_blocks:
            x = self._run(block, x, vec, pe)
        return self.final_layer(x[:, txt.shape[1] :], vec)


def parameter_count(cfg: MMDiTConfig) -> int:
    """Trained parameters of the shape, computed on the meta device (no storage)."""
    with torch.device("meta"):
        return sum(p.numel() for p in MMDiT(cfg).parameters())


def matmul_flops_per_sample(cfg: MMDiTConfig, img_tokens: int, txt_tokens: int) -> float:
    """Forward FLOPs of one sample: 2 per weight per token it multiplies, plus attention
    (QK^T and AV: 4 * L^2 * hidden per layer). The modulation and embedder MLPs act once per
    sample (on ``vec``), the stream weights of the double blocks on their own tokens only."""
    h, m = cfg.hidden_size, cfg.mlp_hidden
    n = img_tokens + txt_tokens
    stream = 3 * h * h + h * h + 2 * h * m  # qkv, proj, MLP: per token of its stream
    double = stream * n  # the image weights on image tokens + the text weights on text tokens
    single = (h * (3 * h + m) + (h + m) * h) * n
    per_sample_vec = cfg.depth * 2 * (6 * h * h) + cfg.depth_single_blocks * 3 * h * h
    per_sample_vec += (TIME_EMBED_DIM * h + h * h) + (cfg.vec_in_dim * h + h * h) + 2 * h * h
    io = cfg.in_channels * h * img_tokens + cfg.context_in_dim * h * txt_tokens
    io += h * cfg.in_channels * img_tokens  # the final projection
    weights = cfg.depth * double + cfg.depth_single_blocks * single + per_sample_vec + io
    attn = (cfg.depth + cfg.depth_single_blocks) * 4 * n * n * h
    return 2.0 * weights + attn


def training_flops_per_sample(cfg: MMDiTConfig, img_tokens: int, txt_tokens: int) -> float:
    """Forward + backward (x3), never counting recomputation (activation checkpointing)."""
    return 3.0 * matmul_flops_per_sample(cfg, img_tokens, txt_tokens)


def packed_tokens(image_size: int, downsample: int = 8, patch: int = 2) -> int:
    """Image tokens of a square image: (size / 8 / 2)^2 (256 px -> 32x32 latents -> 256)."""
    side = image_size // downsample // patch
    return side * side
