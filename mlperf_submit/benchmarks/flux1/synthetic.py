"""Synthetic flux1 datasets in the real on-disk format, with a caption that determines the image.

Written with webdataset's ``TarWriter`` (``--synthetic`` runs, tests, benches), laid out as
``data_common`` reads a real dataset::

    <dir>/cc12m/train-000000.tar ...     training shards
    <dir>/coco/val-000000.tar ...        validation shards (each sample's .json: {"timestep": k})
    <dir>/empty_encodings/t5_empty.npy, clip_empty.npy     (encoded format only)

The relation a model can learn: every sample belongs to one of ``classes`` classes, its caption
names the class ("a photo of a red circle"), and its latent (encoded format) or image (raw
format) is the class's template plus a little noise. Knowing the class, a rectified-flow model
can predict the velocity exactly at every t > 0; at t = 0 the noise is unknowable. With the
encoded format's noise (0.1 jitter, 0.05 posterior std, in units of the normalised latent)
the best possible validation loss is 0.235 -- the mean over t = k/8 of the optimal predictor's
error (``optimal_validation_loss``) -- and predicting zero scores ~2.

* encoded: ``<key>.mean.npy``, ``<key>.logvar.npy`` ([C, h, w] VAE posterior, chosen so that
  ``(z - shift) * scale`` is the template), ``<key>.t5_encodings.npy`` ([L, D]: the class's
  token embeddings + noise), ``<key>.clip_encodings.npy`` ([D]), stored as bfloat16 bits in
  uint16 arrays -- the reference's preprocessed format;
* raw: ``<key>.jpg`` (a class colour layout, slightly wider than ``image_size`` so the loaders
  resize and crop), ``<key>.txt`` (the caption).
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mlperf_submit.benchmarks.common.synthetic_data import SyntheticData

COLOURS = ("red", "green", "blue", "yellow", "purple", "orange", "white", "black")
SHAPES = ("circle", "square", "stripe", "cross", "ring", "dot", "wave", "grid")
_RGB = {
    "red": (220, 40, 40),
    "green": (40, 200, 60),
    "blue": (40, 60, 220),
    "yellow": (230, 220, 40),
    "purple": (150, 40, 180),
    "orange": (240, 140, 30),
    "white": (240, 240, 240),
    "black": (20, 20, 20),
}
JITTER = 0.1
"""Per-sample noise on the class template, in units of the normalised latent."""
POSTERIOR_STD = 0.05
"""Standard deviation of the stored VAE posterior, in units of the normalised latent."""
TEXT_NOISE = 0.1
EVAL_TIMESTEPS = 8


@dataclass(frozen=True)
class SyntheticSpec:
    format: str
    """"encoded" or "raw"."""
    train_samples: int
    val_samples: int
    samples_per_shard: int
    classes: int
    latent_channels: int
    latent_size: int
    t5_tokens: int
    t5_dim: int
    clip_dim: int
    image_size: int
    latent_shift: float
    latent_scale: float
    seed: int
    generator: int = 3
    """The generator's version: a change in what it writes changes the spec's digest, so a
    dataset written by an older generator is never reused."""


def caption(cls: int) -> str:
    return f"a photo of a {COLOURS[cls % len(COLOURS)]} {SHAPES[(cls // len(COLOURS) + cls) % len(SHAPES)]}"


def vocabulary() -> list[str]:
    """Every word a synthetic caption uses (the tiny generated tokenizers know exactly these)."""
    return ["a", "photo", "of", *COLOURS, *SHAPES]


def bf16_bits(x: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 (round to nearest even) as uint16: the reference's .npy encoding."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)


def npy_bytes(x: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, x, allow_pickle=False)
    return buf.getvalue()


def _class_latent(rng: np.random.Generator, channels: int, size: int) -> np.ndarray:
    """A class's [C, size, size] latent "image": one unit-variance value per channel, the same
    at every position (the MMDiT has no absolute position embedding: a spatial pattern is
    learnt only through RoPE attention to the text tokens, too slowly for a seconds-long
    run; the per-sample jitter gives every position its own value)."""
    return np.broadcast_to(rng.standard_normal((channels, 1, 1)), (channels, size, size)).copy()


class _Templates:
    def __init__(self, spec: SyntheticSpec) -> None:
        rng = np.random.default_rng(spec.seed)
        k = spec.classes
        self.latent = [_class_latent(rng, spec.latent_channels, spec.latent_size) for _ in range(k)]
        self.t5 = rng.standard_normal((k, spec.t5_tokens, spec.t5_dim)).astype(np.float32)
        self.clip = rng.standard_normal((k, spec.clip_dim)).astype(np.float32)
        self.empty_t5 = 0.1 * rng.standard_normal((spec.t5_tokens, spec.t5_dim))
        self.empty_clip = 0.1 * rng.standard_normal(spec.clip_dim)


def _encoded_sample(spec: SyntheticSpec, tpl: _Templates, cls: int, rng) -> dict[str, bytes]:
    x0 = tpl.latent[cls] + JITTER * rng.standard_normal(tpl.latent[cls].shape)
    mean = x0 / spec.latent_scale + spec.latent_shift
    logvar = np.full_like(mean, 2 * math.log(POSTERIOR_STD / spec.latent_scale))
    t5 = tpl.t5[cls] + TEXT_NOISE * rng.standard_normal(tpl.t5[cls].shape)
    clip = tpl.clip[cls] + TEXT_NOISE * rng.standard_normal(tpl.clip[cls].shape)
    return {
        "mean.npy": npy_bytes(bf16_bits(mean)),
        "logvar.npy": npy_bytes(bf16_bits(logvar)),
        "t5_encodings.npy": npy_bytes(bf16_bits(t5)),
        "clip_encodings.npy": npy_bytes(bf16_bits(clip)),
        "txt": caption(cls).encode(),
    }


def class_image(spec: SyntheticSpec, cls: int, rng) -> np.ndarray:
    """[H, W, 3] uint8: the class colour in a pattern that depends on the class, + noise;
    16 px wider than image_size (the loaders resize the short side and crop)."""
    h, w = spec.image_size, spec.image_size + 16
    yy, xx = np.mgrid[0:h, 0:w] / h
    colour = np.array(_RGB[COLOURS[cls % len(COLOURS)]], dtype=np.float64)
    phase = 2 * math.pi * (cls % 4) / 4
    mask = 0.5 + 0.5 * np.sin(2 * math.pi * (1 + cls % 3) * (xx + yy) + phase)
    img = colour * mask[..., None] + 128 * (1 - mask[..., None])
    img = img + 8 * rng.standard_normal(img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def _raw_sample(spec: SyntheticSpec, cls: int, rng) -> dict[str, bytes]:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(class_image(spec, cls, rng)).save(buf, format="JPEG", quality=90)
    return {"jpg": buf.getvalue(), "txt": caption(cls).encode()}


def _write_split(spec, tpl, out: Path, prefix: str, n: int, rng, val: bool) -> None:
    import webdataset as wds

    out.mkdir(parents=True)
    for shard in range(math.ceil(n / spec.samples_per_shard)):
        first = shard * spec.samples_per_shard
        path = out / f"{prefix}-{shard:06d}.tar"
        # An integer mtime: a float one makes tarfile add a PAX header to every member, which
        # doubles the headers the loaders parse.
        with wds.TarWriter(str(path), encoder=False, mtime=0) as sink:
            for i in range(first, min(n, first + spec.samples_per_shard)):
                cls = int(rng.integers(spec.classes))
                if spec.format == "encoded":
                    sample = _encoded_sample(spec, tpl, cls, rng)
                else:
                    sample = _raw_sample(spec, cls, rng)
                if val:  # balanced timesteps, as the reference's validation subset
                    sample["json"] = json.dumps({"timestep": i % EVAL_TIMESTEPS}).encode()
                sink.write({"__key__": f"{prefix}{i:08d}", **sample})


def write_dataset(spec: SyntheticSpec, out: Path) -> dict:
    """Fill the empty directory ``out``; returns facts for the manifest."""
    tpl = _Templates(spec) if spec.format == "encoded" else None
    rng = np.random.default_rng(spec.seed + 1)
    _write_split(spec, tpl, out / "cc12m", "train", spec.train_samples, rng, val=False)
    _write_split(spec, tpl, out / "coco", "val", spec.val_samples, rng, val=True)
    if tpl is not None:
        empty = out / "empty_encodings"
        empty.mkdir()
        # float16 with a leading batch dimension, as the reference's save_empty_encodings.py
        np.save(empty / "t5_empty.npy", tpl.empty_t5[None].astype(np.float16))
        np.save(empty / "clip_empty.npy", tpl.empty_clip[None].astype(np.float16))
    return {"optimal_validation_loss": round(optimal_validation_loss(spec), 4)}


def optimal_validation_loss(spec: SyntheticSpec) -> float:
    """The best validation loss any model can reach on the encoded format: the mean over
    t = k/8 of Var(n - x0 | x_t, class) for x0 ~ N(template, s^2), n ~ N(0, 1) per element."""
    if spec.format != "encoded":
        return float("nan")
    s2 = JITTER**2 + POSTERIOR_STD**2
    total = 0.0
    for k in range(EVAL_TIMESTEPS):
        t = k / EVAL_TIMESTEPS
        cov = t - (1 - t) * s2
        total += (1 + s2) - cov * cov / ((1 - t) ** 2 * s2 + t * t)
    return total / EVAL_TIMESTEPS


def synthetic_data(root: Path, name: str, spec: SyntheticSpec) -> SyntheticData:
    return SyntheticData(root, name, spec, writer=lambda out: write_dataset(spec, out))
