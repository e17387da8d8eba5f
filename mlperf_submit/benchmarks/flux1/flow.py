"""Rectified flow (flow matching) as the flux1 reference trains and evaluates it.

With data x0 (the VAE latent, normalised: ``(z - shift) * scale``) and noise n ~ N(0, I), the
path is ``x_t = (1 - t) x0 + t n`` and the model predicts the velocity ``v = n - x0``; the loss
is the mean squared error over all latent elements (torchtitan ``flux/train.py``). Training
draws t ~ U(0, 1) per sample (the reference's ``torch.rand``); validation evaluates each sample
at its fixed t = k / 8 (k in 0..7, stored with the sample) and reports the mean over the 8
timesteps of the mean loss per timestep (the reference README's algorithm, exact even when the
timesteps do not hold equally many samples).

Latents are packed into 2x2 patches, ``[B, C, H, W] -> [B, H/2 * W/2, 4C]`` (channel, then the
patch row, then column: the reference's ``pack_latents``); image patches sit at RoPE positions
(0, row, column), text tokens at (0, 0, 0).

Every random draw of a sample (its noise, its posterior draw, its t, whether its caption is
dropped) comes with the sample from the data pipeline, drawn from a generator seeded by (run
seed, epoch, sample key) (``data_common.sample_generator``): a step's loss is a function of
its batch alone, so splitting the batch into micro-batches (gradient accumulation), changing
the number of loader workers or of ranks does not change what a sample sees.
"""

from __future__ import annotations

import torch
from torch import nn

PATCH = 2


def pack_latents(x: torch.Tensor) -> torch.Tensor:
    b, c, h, w = x.shape
    x = x.view(b, c, h // PATCH, PATCH, w // PATCH, PATCH).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(b, (h // PATCH) * (w // PATCH), c * PATCH * PATCH)


def unpack_latents(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    b, _, cpp = x.shape
    c = cpp // (PATCH * PATCH)
    x = x.view(b, h // PATCH, w // PATCH, c, PATCH, PATCH).permute(0, 3, 1, 4, 2, 5)
    return x.reshape(b, c, h, w)


def image_ids(batch: int, h: int, w: int, device: torch.device) -> torch.Tensor:
    """[B, H/2 * W/2, 3] positions (0, row, column) of the packed latent patches."""
    hp, wp = h // PATCH, w // PATCH
    ids = torch.zeros(hp, wp, 3, device=device)
    ids[..., 1] = torch.arange(hp, device=device)[:, None]
    ids[..., 2] = torch.arange(wp, device=device)[None, :]
    return ids.view(1, hp * wp, 3).expand(batch, -1, -1)


def text_ids(batch: int, tokens: int, device: torch.device) -> torch.Tensor:
    return torch.zeros(batch, tokens, 3, device=device)


def posterior_sample(mean: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor):
    """A draw from the VAE's diagonal Gaussian posterior: mean + exp(logvar / 2) * eps."""
    return mean + torch.exp(0.5 * logvar) * eps


def velocity_loss(
    model: nn.Module,
    x0: torch.Tensor,
    t5: torch.Tensor,
    clip: torch.Tensor,
    noise: torch.Tensor,
    t: torch.Tensor,
) -> torch.Tensor:
    """Per-sample MSE [B] between the model's velocity and n - x0 at x_t (fp32 loss)."""
    b, _, h, w = x0.shape
    tb = t.view(-1, 1, 1, 1).to(x0.dtype)
    xt = (1 - tb) * x0 + tb * noise
    pred = model(
        img=pack_latents(xt),
        img_ids=image_ids(b, h, w, x0.device),
        txt=t5,
        txt_ids=text_ids(b, t5.shape[1], x0.device),
        timesteps=t,
        y=clip,
    )
    err = unpack_latents(pred, h, w).float() - (noise - x0).float()
    return err.square().mean(dim=(1, 2, 3))


def eval_sums(per_sample: torch.Tensor, k: torch.Tensor, timesteps: int) -> torch.Tensor:
    """[loss sum of each timestep k..., sample count of each k...] (2 * timesteps, float64)."""
    idx = k.long().to(per_sample.device)
    sums = torch.zeros(timesteps, dtype=torch.float64, device=per_sample.device)
    counts = torch.zeros(timesteps, dtype=torch.float64, device=per_sample.device)
    sums.index_add_(0, idx, per_sample.double())
    counts.index_add_(0, idx, torch.ones_like(per_sample, dtype=torch.float64))
    return torch.cat((sums, counts))


def timestep_mean(sums: torch.Tensor, timesteps: int) -> float:
    """The validation loss: the mean over timesteps of each timestep's mean sample loss (a
    timestep without samples is an error of the validation set, not a zero)."""
    loss, count = sums[:timesteps].double(), sums[timesteps:].double()
    if bool((count == 0).any()):
        missing = [k for k in range(timesteps) if count[k] == 0]
        raise ValueError(f"no validation sample has timestep k in {missing}")
    return float((loss / count).mean())
