"""The frozen encoders of the raw-image path: T5-XXL and CLIP-L (transformers), the Flux VAE
(diffusers), and their tokenizers, loaded from Hugging Face checkpoint directories.

    enc = FrozenEncoders.load(cfg.encoders, device)      # eval mode, requires_grad False
    mean, logvar = enc.encode_images(images)             # uint8 [B, 3, H, W] -> [B, 16, H/8, W/8]
    t5, clip = enc.encode_text(t5_ids, clip_ids)         # [B, 256, 4096], [B, 768]
    tok = CaptionTokenizer.load(cfg.encoders); t5_ids, clip_ids = tok("a photo of a cat")

As the reference (torchtitan ``FluxEmbedder``, ``preprocess_data``): T5's last hidden state and
CLIP's pooled output, no attention mask (the padded T5 tokens are part of the text stream), the
VAE posterior's mean and log-variance (the sample is drawn by the loss with the sample's own
noise). The reference loads Black Forest Labs' ``ae.safetensors``; here the VAE is the same
network in the diffusers layout (``AutoencoderKL``, the ``vae/`` folder of FLUX.1-schnell).
None of these modules is part of the trained model: the optimizer never sees them, the Trainer
never wraps or shards them, and they run under ``torch.no_grad``. transformers and diffusers
are imported only here, only when ``data.format=raw`` (each costs 15-20 s of start-up).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from mlperf_submit.errors import InputError, UsageError


def _directory(path: str, key: str) -> Path:
    if not path:
        raise UsageError(
            f"{key} is not set: data.format=raw encodes images and captions on the fly and needs "
            "the T5, CLIP and VAE checkpoint directories (encoders.t5, encoders.clip, "
            "encoders.vae), or use a pre-encoded dataset (data.format=encoded)"
        )
    p = Path(path)
    if not (p / "config.json").is_file():
        raise InputError(f"{key}={path}: no config.json (expected a Hugging Face checkpoint dir)")
    return p


def _load(cls, path: Path, key: str, **kw) -> Any:
    try:
        return cls.from_pretrained(str(path), **kw)
    except (OSError, ValueError, KeyError, RuntimeError) as err:
        raise InputError(f"{key}={path}: cannot load a {cls.__name__} ({err})") from None


@dataclass
class CaptionTokenizer:
    """Caption -> (T5 ids [t5_max_length], CLIP ids [clip_max_length]), padded and truncated."""

    t5: Any
    clip: Any
    t5_len: int
    clip_len: int

    @classmethod
    def load(cls, cfg) -> CaptionTokenizer:
        from transformers import AutoTokenizer

        t5 = _load(AutoTokenizer, _directory(cfg.t5, "encoders.t5"), "encoders.t5")
        clip = _load(AutoTokenizer, _directory(cfg.clip, "encoders.clip"), "encoders.clip")
        return cls(t5, clip, cfg.t5_max_length, cfg.clip_max_length)

    def _ids(self, tok, text: str, length: int) -> torch.Tensor:
        out = tok(text, padding="max_length", max_length=length, truncation=True)
        return torch.tensor(out["input_ids"], dtype=torch.long)

    def __call__(self, text: str) -> tuple[torch.Tensor, torch.Tensor]:
        return self._ids(self.t5, text, self.t5_len), self._ids(self.clip, text, self.clip_len)


class FrozenEncoders:
    """T5, CLIP and the VAE on one device, frozen."""

    def __init__(self, t5, clip, vae, device: torch.device, dtype: torch.dtype) -> None:
        self.device, self.dtype = device, dtype
        self.t5, self.clip, self.vae = t5, clip, vae
        for module in (t5, clip, vae):
            module.to(device=device).eval().requires_grad_(False)

    @classmethod
    def load(cls, cfg, device: torch.device) -> FrozenEncoders:
        from diffusers import AutoencoderKL
        from diffusers.utils import logging as diffusers_logging
        from transformers import CLIPTextModel, T5EncoderModel
        from transformers.utils import logging as transformers_logging

        # Their per-file progress bars would interleave with the run's console lines.
        transformers_logging.disable_progress_bar()
        diffusers_logging.disable_progress_bar()

        dtype = torch.bfloat16 if device.type == "cuda" and cfg.dtype == "bf16" else torch.float32
        t5 = _load(T5EncoderModel, _directory(cfg.t5, "encoders.t5"), "encoders.t5", dtype=dtype)
        clip = _load(
            CLIPTextModel, _directory(cfg.clip, "encoders.clip"), "encoders.clip", dtype=dtype
        )
        vae = _load(
            AutoencoderKL, _directory(cfg.vae, "encoders.vae"), "encoders.vae", torch_dtype=dtype
        )
        return cls(t5, clip, vae, device, dtype)

    def modules(self) -> tuple[torch.nn.Module, ...]:
        return self.t5, self.clip, self.vae

    def check(self, t5_dim: int, clip_dim: int, latent_channels: int) -> None:
        """The checkpoints' widths against the data config (a wrong directory fails here, in
        init, not at the first step)."""
        have = {
            "data.t5_dim": (self.t5.config.d_model, t5_dim, "encoders.t5"),
            "data.clip_dim": (self.clip.config.hidden_size, clip_dim, "encoders.clip"),
            "data.latent_channels": (
                self.vae.config.latent_channels,
                latent_channels,
                "encoders.vae",
            ),
        }
        for key, (got, want, where) in have.items():
            if got != want:
                raise UsageError(f"{where} produces width {got} but {key}={want}: set {key}={got}")

    @torch.no_grad()
    def encode_text(self, t5_ids: torch.Tensor, clip_ids: torch.Tensor):
        t5 = self.t5(input_ids=t5_ids.to(self.device)).last_hidden_state
        clip = self.clip(input_ids=clip_ids.to(self.device)).pooler_output
        return t5.float(), clip.float()

    @torch.no_grad()
    def encode_images(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 [B, 3, H, W] -> the posterior's (mean, logvar), fp32 [B, C, H/8, W/8]."""
        x = images.to(self.device).to(self.dtype) / 127.5 - 1.0
        posterior = self.vae.encode(x).latent_dist
        return posterior.mean.float(), posterior.logvar.float()

    @torch.no_grad()
    def empty_caption(self, tokenize: CaptionTokenizer) -> tuple[torch.Tensor, torch.Tensor]:
        """(t5 [L, D], clip [D]) of the empty caption: what a dropped caption becomes."""
        t5_ids, clip_ids = tokenize("")
        t5, clip = self.encode_text(t5_ids[None], clip_ids[None])
        return t5[0], clip[0]
