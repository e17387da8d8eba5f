"""The flux1 dataset on disk and what its loaders share: layout, sample decoding, seeds, splits.

Layout (``--data DIR``; ``synthetic.py`` writes the same)::

    DIR/cc12m/*.tar            training shards (WebDataset: members <key>.<ext>)
    DIR/coco/*.tar             validation shards; every sample has <key>.json {"timestep": k}
    DIR/empty_encodings/       encoded format: t5_empty.npy [1, L, D], clip_empty.npy [1, D]

A sample of the *encoded* format (the reference's preprocessed path) holds ``mean.npy`` and
``logvar.npy`` (the VAE posterior, [16, 32, 32] at 256 px), ``t5_encodings.npy`` ([L, 4096]) and
``clip_encodings.npy`` ([768]); arrays are float16/float32, or uint16 holding bfloat16 bits (the
reference's encoding). A sample of the *raw* format holds ``jpg`` (or ``jpeg``/``png``) and
``txt``. Sub-directory names are ``data.train_dir`` / ``data.val_dir``.

Splitting: each (rank, worker) reads its own shards (shard i goes to split i mod S, S = ranks x
workers) when there are at least S shards, else every split reads all shards and keeps every
S-th sample; either way each sample is read by exactly one split. Training shards are permuted
per epoch by a rank-free seed (the same order on every rank) and each split shuffles within a
small buffer. Everything random about a sample comes from ``sample_generator(seed, stream, key)``
(``flow.py`` says why).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mlperf_submit.errors import InputError

ENCODED = ("mean.npy", "logvar.npy", "t5_encodings.npy", "clip_encodings.npy")
IMAGE_EXTS = ("jpg", "jpeg", "png")
EMPTY_FILES = ("t5_empty.npy", "clip_empty.npy")
TEXT_DTYPE = torch.bfloat16
"""T5 / CLIP embeddings travel as bfloat16 (the reference's training dtype; 2 MB per sample of
256 x 4096 instead of 4), latents as float32."""


class LoaderError:
    """An error a worker met, carried to the training process (which raises InputError with
    this message: no worker traceback reaches the user)."""

    def __init__(self, message: str) -> None:
        self.message = message


@dataclass(frozen=True)
class Shapes:
    """What every sample of a split must hold."""

    latent_channels: int
    latent_size: int
    t5_tokens: int
    t5_dim: int
    clip_dim: int


# -- files ---------------------------------------------------------------------------------------
def list_shards(directory: Path) -> list[str]:
    """The ``*.tar`` shards of a split, sorted by name; InputError when there are none."""
    if not directory.is_dir():
        raise InputError(f"{directory}: missing (expected a directory of WebDataset .tar shards)")
    shards = sorted(str(p) for p in directory.glob("*.tar"))
    if not shards:
        raise InputError(f"{directory}: no .tar shards")
    return shards


def check_layout(root: Path, train_dir: str, val_dir: str, encoded: bool, empty_dir: str) -> None:
    """Paths only (no dataset file is opened): the split directories, the empty encodings."""
    if not root.is_dir():
        raise InputError(f"--data {root}: not a directory")
    for sub in (train_dir, val_dir):
        if not (root / sub).is_dir():
            raise InputError(
                f"{root / sub}: missing; --data must hold {train_dir}/ and {val_dir}/ with .tar "
                "shards (data.train_dir / data.val_dir name them)"
            )
    if encoded:
        for name in EMPTY_FILES:
            if not (root / empty_dir / name).is_file():
                raise InputError(
                    f"{root / empty_dir / name}: missing (the encoded format needs the encodings "
                    "of the empty caption for caption dropout)"
                )


# The header np.save writes (format 1.0); parsed with a regex instead of numpy's literal_eval,
# which costs more than reading a small array. Anything else goes through np.load.
_NPY_HEADER = re.compile(
    rb"\{'descr': '([<>|=]?[a-z]\d+)', 'fortran_order': False, 'shape': \(([\d, ]*)\), \}"
)


def _fast_npy(data: bytes) -> np.ndarray | None:
    if data[:8] != b"\x93NUMPY\x01\x00" or len(data) < 10:
        return None
    end = 10 + int.from_bytes(data[8:10], "little")
    m = _NPY_HEADER.match(data, 10, end)
    if m is None:
        return None
    shape = tuple(int(x) for x in m.group(2).split(b",") if x.strip())
    dtype = np.dtype(m.group(1).decode())
    count = math.prod(shape)
    if len(data) - end != count * dtype.itemsize:
        return None  # truncated or padded: np.load says what is wrong
    return np.frombuffer(data, dtype=dtype, count=count, offset=end).reshape(shape).copy()


def load_npy(data: bytes, where: str) -> np.ndarray:
    arr = _fast_npy(data)
    if arr is None:
        try:
            arr = np.load(io.BytesIO(data), allow_pickle=False)
        except (ValueError, OSError, EOFError) as err:
            raise InputError(f"{where}: not a .npy array ({err})") from None
    if arr.dtype.kind not in "fu" or (arr.dtype.kind == "u" and arr.dtype != np.uint16):
        raise InputError(f"{where}: dtype {arr.dtype} (expected float16/32, or uint16 bf16 bits)")
    return arr


def to_tensor(arr: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    """uint16 arrays hold bfloat16 bits (the reference's .npy encoding of bf16)."""
    t = torch.from_numpy(np.ascontiguousarray(arr))
    if arr.dtype == np.uint16:
        t = t.view(torch.bfloat16)
    return t.to(dtype)


def read_empty_encodings(directory: Path, shapes: Shapes) -> tuple[torch.Tensor, torch.Tensor]:
    """(t5 [L, D], clip [D]) of the empty caption, from t5_empty.npy / clip_empty.npy."""
    out = []
    for name, dim in zip(EMPTY_FILES, (shapes.t5_dim, shapes.clip_dim)):
        path = directory / name
        try:
            arr = load_npy(path.read_bytes(), str(path))
        except OSError as err:
            raise InputError(f"{path}: unreadable ({err})") from None
        if arr.ndim >= 1 and arr.shape[0] == 1 and arr.ndim in (2, 3):
            arr = arr[0]  # the reference saves a batch of one
        want = (shapes.t5_tokens, dim) if name.startswith("t5") else (dim,)
        if arr.shape != want:
            raise InputError(
                f"{path}: shape {list(arr.shape)}, expected [1, {', '.join(map(str, want))}]"
            )
        out.append(to_tensor(arr, TEXT_DTYPE))
    return out[0], out[1]


# -- seeds and splits ----------------------------------------------------------------------------
def stable_seed(*parts: object) -> int:
    """A 63-bit seed from the parts (SHA-256: the same on every machine and Python)."""
    text = "\x1f".join(map(str, parts)).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "little") >> 1


def sample_generator(seed: int, stream: str, key: str) -> torch.Generator:
    """The generator of everything random about one sample of one stream ("train3" = epoch 3,
    "eval"): independent of the order, the rank and the worker that read it."""
    return torch.Generator().manual_seed(stable_seed(seed, stream, key))


def split_shards(shards: Sequence[str], split: int, splits: int) -> tuple[list[str], int, int]:
    """(the shards split ``split`` reads, keep every ``stride``-th sample, starting at ``offset``)."""
    if len(shards) >= splits:
        return list(shards[split::splits]), 1, 0
    return list(shards), splits, split


def epoch_order(shards: Sequence[str], seed: int, epoch: int) -> list[str]:
    order = list(shards)
    random.Random(stable_seed(seed, "shards", epoch)).shuffle(order)
    return order


# -- per-sample draws ------------------------------------------------------------------------------
def train_draws(gen: torch.Generator, latent: tuple[int, ...], drop_prob: float) -> dict:
    """The noise, posterior draw, timestep t ~ U(0, 1) and caption dropout of a training sample."""
    return {
        "noise": torch.randn(latent, generator=gen),
        "eps": torch.randn(latent, generator=gen),
        "t": torch.rand((), generator=gen),
        "drop": torch.rand((), generator=gen) < drop_prob,
    }


def eval_draws(gen: torch.Generator, latent: tuple[int, ...], k: int, timesteps: int) -> dict:
    return {
        "noise": torch.randn(latent, generator=gen),
        "eps": torch.randn(latent, generator=gen),
        "t": torch.tensor(k / timesteps),
        "drop": torch.tensor(False),
        "k": torch.tensor(k),
    }


def timestep_of(sample: dict, where: str, timesteps: int) -> int:
    raw = sample.get("json")
    if raw is None:
        raise InputError(f"{where}: validation sample without .json (its timestep k)")
    try:
        k = json.loads(raw)["timestep"]
    except (ValueError, KeyError, TypeError):
        raise InputError(f'{where}.json: expected {{"timestep": k}} with k in 0..7') from None
    if not isinstance(k, int) or not 0 <= k < timesteps:
        raise InputError(f"{where}.json: timestep {k!r} is not an integer in 0..{timesteps - 1}")
    return k


def where(sample: dict) -> str:
    return f"{sample.get('__url__', '?')}: sample {sample.get('__key__', '?')}"


# -- decoding --------------------------------------------------------------------------------------
def decode_encoded(sample: dict, shapes: Shapes) -> dict:
    """mean, logvar [C, h, w] float32, t5 [L, D] and clip [D] bfloat16, checked against shapes."""
    at = where(sample)
    missing = [m for m in ENCODED if m not in sample]
    if missing:
        have = sorted(k for k in sample if not k.startswith("__"))
        raise InputError(f"{at}: no {', '.join(missing)} (has: {', '.join(have) or 'nothing'})")
    arrs = {m: load_npy(sample[m], f"{at}.{m}") for m in ENCODED}
    c, s = shapes.latent_channels, shapes.latent_size
    want = {
        "mean.npy": (c, s, s),
        "logvar.npy": (c, s, s),
        "clip_encodings.npy": (shapes.clip_dim,),
    }
    for m, shape in want.items():
        if arrs[m].shape != shape:
            raise InputError(f"{at}.{m}: shape {list(arrs[m].shape)}, expected {list(shape)}")
    t5 = arrs["t5_encodings.npy"]
    if t5.shape != (shapes.t5_tokens, shapes.t5_dim):
        raise InputError(
            f"{at}.t5_encodings.npy: shape {list(t5.shape)}, expected "
            f"[{shapes.t5_tokens}, {shapes.t5_dim}] (encoders.t5_max_length, data.t5_dim)"
        )
    return {
        "mean": to_tensor(arrs["mean.npy"], torch.float32),
        "logvar": to_tensor(arrs["logvar.npy"], torch.float32),
        "t5": to_tensor(t5, TEXT_DTYPE),
        "clip": to_tensor(arrs["clip_encodings.npy"], TEXT_DTYPE),
    }


def image_bytes(sample: dict) -> bytes:
    for ext in IMAGE_EXTS:
        if ext in sample:
            return sample[ext]
    have = sorted(k for k in sample if not k.startswith("__"))
    raise InputError(f"{where(sample)}: no image (.jpg/.jpeg/.png; has: {', '.join(have)})")


def caption_of(sample: dict) -> str:
    if "txt" not in sample:
        raise InputError(f"{where(sample)}: no .txt caption")
    try:
        return sample["txt"].decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{where(sample)}.txt: not UTF-8") from None


def resize_crop_plan(
    width: int, height: int, size: int, gen: torch.Generator
) -> tuple[int, int, int, int]:
    """The reference's ``_process_cc12m_image``: scale the short side to ``size`` (the long side
    rounded up), then a random ``size`` crop along the long side -> (new_w, new_h, left, top)."""
    if width == size and height == size:
        return size, size, 0, 0
    if width >= height:
        new_w, new_h = math.ceil(size / height * width), size
        left = int(torch.randint(0, new_w - size + 1, (), generator=gen))
        return new_w, new_h, left, 0
    new_w, new_h = size, math.ceil(size / width * height)
    top = int(torch.randint(0, new_h - size + 1, (), generator=gen))
    return new_w, new_h, 0, top


def image_header_size(data: bytes, at: str) -> tuple[int, int]:
    """(width, height) from the image header alone (no decode)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            return im.size
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise InputError(f"{at}: not an image ({err})") from None


def decode_image_pil(data: bytes, plan: tuple[int, int, int, int], size: int, at: str):
    """uint8 [3, size, size]: decode, bicubic resize, crop (as the reference, with PIL)."""
    from PIL import Image, UnidentifiedImageError

    new_w, new_h, left, top = plan
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.size != (new_w, new_h):
                im = im.resize((new_w, new_h), Image.Resampling.BICUBIC)
            im = im.crop((left, top, left + size, top + size)).convert("RGB")
            arr = np.asarray(im, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:
        raise InputError(f"{at}: the image does not decode ({err})") from None
    return torch.from_numpy(arr.copy()).permute(2, 0, 1)


# -- batches ---------------------------------------------------------------------------------------
def collate(samples: list[dict]) -> dict:
    """Stack tensors per key; anything else (encoded image bytes) stays a list."""
    out = {}
    for key in samples[0]:
        values = [s[key] for s in samples]
        out[key] = torch.stack(values) if isinstance(values[0], torch.Tensor) else values
    return out
