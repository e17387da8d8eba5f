"""Rotary position embeddings with the Llama 3.1 frequency scaling, or YaRN (DeepSeek-V3).

Llama 3.1 stretches RoPE to long contexts by dividing the low frequencies (long wavelengths) by
``factor``, keeping the high frequencies, and blending linearly in between::

    wavelength = 2*pi / freq
    wavelength <  original_context / high_freq_factor  -> freq            (kept)
    wavelength >  original_context / low_freq_factor   -> freq / factor   (stretched)
    otherwise: smooth = (original_context / wavelength - low) / (high - low)
               freq' = (1 - smooth) * freq / factor + smooth * freq

YaRN (Peng et al., 2023; DeepSeek-V3's ``rope_scaling`` type "yarn", Megatron-Core's
``YarnRotaryEmbedding``) keeps the fast dimensions, divides the slow ones by ``factor`` and
ramps linearly between the dimensions that turn ``beta_fast`` and ``beta_slow`` times over the
original context; ``mscale`` terms scale the tables and (``mscale_all_dim``) the softmax.

``rope_cos_sin`` returns fp32 tables of shape [seq, head_dim // 2]; ``apply_rope`` rotates the
pairs (x[i], x[i + head_dim/2]), the "rotate half" layout of the Hugging Face and NeMo Llama 3.1
checkpoints.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class RopeScaling:
    """Llama 3.1 defaults (``rope_scaling`` in the published config.json)."""

    factor: float = 8.0
    low_freq_factor: float = 1.0
    high_freq_factor: float = 4.0
    original_max_position_embeddings: int = 8192


@dataclass(frozen=True)
class YarnScaling:
    """YaRN as DeepSeek-V3's config.json sets it (``rope_scaling`` type "yarn")."""

    factor: float = 40.0
    original_max_position_embeddings: int = 4096
    beta_fast: float = 32.0
    beta_slow: float = 1.0
    mscale: float = 1.0
    mscale_all_dim: float = 1.0

    def table_scale(self) -> float:
        """Multiplies cos and sin (HF's ``attention_factor``; 1.0 for DeepSeek-V3)."""
        return yarn_mscale(self.factor, self.mscale) / yarn_mscale(self.factor, self.mscale_all_dim)

    def softmax_scale(self) -> float:
        """Multiplies the attention's 1/sqrt(d) softmax scale (``mscale_all_dim`` squared)."""
        return yarn_mscale(self.factor, self.mscale_all_dim) ** 2


def yarn_mscale(scale: float, mscale: float) -> float:
    return 1.0 if scale <= 1 else 0.1 * mscale * math.log(scale) + 1.0


def yarn_scale(freqs: torch.Tensor, head_dim: int, theta: float, s: YarnScaling) -> torch.Tensor:
    """Frequencies of dimension pairs below the ``beta_fast`` correction dimension are kept,
    those above ``beta_slow``'s divided by ``factor``, linear in between (bounds floored /
    ceiled, as HF's ``truncate`` and Megatron do)."""

    def correction_dim(rotations: float) -> float:
        ctx = s.original_max_position_embeddings
        return head_dim * math.log(ctx / (rotations * 2 * math.pi)) / (2 * math.log(theta))

    low = max(math.floor(correction_dim(s.beta_fast)), 0)
    high = min(math.ceil(correction_dim(s.beta_slow)), head_dim - 1)
    if low == high:
        high += 0.001  # as the references: no division by zero
    ramp = ((torch.arange(head_dim // 2, dtype=torch.float64) - low) / (high - low)).clamp(0, 1)
    keep = 1 - ramp  # 1: extrapolate (keep the frequency), 0: interpolate (divide by factor)
    return freqs / s.factor * (1 - keep) + freqs * keep


def inverse_frequencies(head_dim: int, theta: float) -> torch.Tensor:
    """The unscaled RoPE frequencies theta^(-2i/d), i = 0 .. d/2 - 1, in fp64 for exact tests."""
    return 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim))


def llama3_scale(freqs: torch.Tensor, s: RopeScaling) -> torch.Tensor:
    low_wavelen = s.original_max_position_embeddings / s.low_freq_factor
    high_wavelen = s.original_max_position_embeddings / s.high_freq_factor
    wavelen = 2 * math.pi / freqs
    smooth = (s.original_max_position_embeddings / wavelen - s.low_freq_factor) / (
        s.high_freq_factor - s.low_freq_factor
    )
    blended = (1 - smooth) * freqs / s.factor + smooth * freqs
    out = torch.where(wavelen > low_wavelen, freqs / s.factor, blended)
    return torch.where(wavelen < high_wavelen, freqs, out)


def rope_cos_sin(
    head_dim: int, seq_len: int, theta: float, scaling: RopeScaling | YarnScaling | None
) -> tuple[torch.Tensor, torch.Tensor]:
    freqs = inverse_frequencies(head_dim, theta)
    table_scale = 1.0
    if isinstance(scaling, YarnScaling):
        freqs = yarn_scale(freqs, head_dim, theta, scaling)
        table_scale = scaling.table_scale()
    elif scaling is not None:
        freqs = llama3_scale(freqs, scaling)
    angles = torch.outer(torch.arange(seq_len, dtype=torch.float64), freqs)
    return (angles.cos() * table_scale).float(), (angles.sin() * table_scale).float()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate ``x`` [..., seq, head_dim] by position; pairs are (x[i], x[i + head_dim/2])."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half].float(), x[..., half:].float()
    out = torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)
    return out.type_as(x)
