"""Rotary position embeddings with the Llama 3.1 frequency scaling.

Llama 3.1 stretches RoPE to long contexts by dividing the low frequencies (long wavelengths) by
``factor``, keeping the high frequencies, and blending linearly in between::

    wavelength = 2*pi / freq
    wavelength <  original_context / high_freq_factor  -> freq            (kept)
    wavelength >  original_context / low_freq_factor   -> freq / factor   (stretched)
    otherwise: smooth = (original_context / wavelength - low) / (high - low)
               freq' = (1 - smooth) * freq / factor + smooth * freq

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
    head_dim: int, seq_len: int, theta: float, scaling: RopeScaling | None
) -> tuple[torch.Tensor, torch.Tensor]:
    freqs = inverse_frequencies(head_dim, theta)
    if scaling is not None:
        freqs = llama3_scale(freqs, scaling)
    angles = torch.outer(torch.arange(seq_len, dtype=torch.float64), freqs)
    return angles.cos().float(), angles.sin().float()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate ``x`` [..., seq, head_dim] by position; pairs are (x[i], x[i + head_dim/2])."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half].float(), x[..., half:].float()
    out = torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)
    return out.type_as(x)
