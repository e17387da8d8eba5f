"""A synthetic ImageNet: real JPEG files in the ImageNet folder layout, deterministic by seed.

    train/<wnid>/<wnid>_<i>.JPEG        val/<wnid>/ILSVRC2012_val_<j>.JPEG
    synthetic.json                      the parameters, so a later run can reuse the tree

(in ``ROOT/resnet-synthetic-<digest>/`` under a ``--synthetic`` ROOT: the scheme every
benchmark shares, ``benchmarks/common/synthetic_data.py``).

Class ``c`` draws a shape pattern (disk, square, horizontal or vertical stripes, ring, cross)
in one colour of a palette on a random background, at a random place and size, plus pixel
noise: a small CNN must learn colour *and* shape to separate the classes, so it is a real
(if easy) vision task. A fraction ``val_label_noise`` of the validation images is drawn from a
different class than its folder says, so top-1 accuracy tops out near ``1 - noise``: the open
rule needs some eval_accuracy < 1.0, and a run must never look "trivially perfect".

    python -m mlperf_submit.benchmarks.resnet.synthetic ROOT [--classes 10] [--seed 0]
"""

from __future__ import annotations

import argparse
import colorsys
import functools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mlperf_submit.benchmarks.common.synthetic_data import SyntheticData
from mlperf_submit.errors import InputError, UsageError

PATTERNS = ("disk", "hstripes", "ring", "vstripes", "square", "cross")
PALETTE = (  # well-separated RGB colours
    (220, 40, 40),
    (40, 180, 60),
    (40, 80, 220),
    (230, 200, 40),
    (200, 60, 200),
    (40, 200, 210),
    (240, 130, 30),
    (130, 130, 130),
)

MAX_CLASSES = 1000


@dataclass(frozen=True)
class SyntheticSpec:
    """What to generate. Equal specs give byte-identical trees."""

    classes: int = 10
    train_per_class: int = 40
    val_per_class: int = 20
    image_size: int = 20
    """Side of the stored JPEGs in pixels (the loader crops/resizes to the model's resolution)."""
    val_label_noise: float = 0.1
    """Fraction of validation images drawn from another class than their folder."""
    pixel_noise: float = 18.0
    """Standard deviation of the Gaussian noise added to every pixel (0-255 scale)."""
    seed: int = 0
    quality: int = 90

    def validate(self) -> None:
        if not 2 <= self.classes <= MAX_CLASSES:
            raise UsageError(f"synthetic classes={self.classes}: use 2..{MAX_CLASSES}")
        if self.train_per_class < 1 or self.val_per_class < 1:
            raise UsageError("synthetic train_per_class and val_per_class must be >= 1")
        if self.image_size < 8:
            raise UsageError(f"synthetic image_size={self.image_size}: use at least 8 pixels")
        if not 0.0 <= self.val_label_noise < 1.0:
            raise UsageError("synthetic val_label_noise must be in [0, 1)")


def wnid(c: int) -> str:
    """ImageNet-style synset id: the folder name of class ``c``."""
    return f"n{c:08d}"


def class_look(c: int) -> tuple[tuple[int, int, int], str]:
    """Colour and pattern of class ``c``: colours cycle fastest so neighbours differ in colour.

    The first 48 classes combine the palette with the patterns; beyond that (ImageNet-sized
    runs) each pattern takes hues spread by the golden ratio, so every class keeps a look of
    its own (close hues make those classes harder, which a 1000-class task should be).
    """
    table = len(PALETTE) * len(PATTERNS)
    if c < table:
        return PALETTE[c % len(PALETTE)], PATTERNS[(c // len(PALETTE)) % len(PATTERNS)]
    k = c - table
    hue = (k // len(PATTERNS)) * 0.6180339887 % 1.0
    value = 0.95 if (k // len(PATTERNS)) % 2 == 0 else 0.7
    r, g, b = colorsys.hsv_to_rgb(hue, 0.85, value)
    return (round(r * 255), round(g * 255), round(b * 255)), PATTERNS[k % len(PATTERNS)]


def _mask(pattern: str, size: int, rng: np.random.Generator) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    r = size * rng.uniform(0.25, 0.42)
    cy, cx = size / 2 + rng.uniform(-0.15, 0.15, 2) * size
    d = np.hypot(yy - cy, xx - cx)
    if pattern == "disk":
        return d <= r
    if pattern == "square":
        return (np.abs(yy - cy) <= r * 0.85) & (np.abs(xx - cx) <= r * 0.85)
    if pattern == "ring":
        return (d <= r) & (d >= r * 0.5)
    if pattern == "cross":
        return ((np.abs(yy - cy) <= r * 0.3) | (np.abs(xx - cx) <= r * 0.3)) & (d <= r * 1.2)
    period = max(4.0, size / rng.uniform(3.0, 4.5))
    phase = rng.uniform(0, period)
    coord = yy if pattern == "hstripes" else xx
    return ((coord + phase) % period) < period / 2


def render(c: int, size: int, rng: np.random.Generator, pixel_noise: float) -> np.ndarray:
    """One HxWx3 uint8 image of class ``c``."""
    colour, pattern = class_look(c)
    bg = rng.uniform(0, 90, 3)  # dark, varied backgrounds keep the colour cue clear but not trivial
    img = np.broadcast_to(bg, (size, size, 3)).astype(np.float32).copy()
    fg = np.asarray(colour, np.float32) * rng.uniform(0.8, 1.1)
    img[_mask(pattern, size, rng)] = fg
    img += rng.normal(0.0, pixel_noise, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def generate(out: Path, spec: SyntheticSpec) -> Path:
    """Write the tree under ``out`` (must not exist or be empty); returns ``out``."""
    from PIL import Image  # Pillow is in the 'train' extra

    spec.validate()
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise InputError(f"{out}: not empty; refusing to write a synthetic dataset over it")
    rng = np.random.default_rng(spec.seed)
    for split, per_class in (("train", spec.train_per_class), ("val", spec.val_per_class)):
        noise = spec.val_label_noise if split == "val" else 0.0
        n_noisy = math.floor(per_class * noise + 0.5)
        val_index = 0
        for c in range(spec.classes):
            folder = out / split / wnid(c)
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                drawn = c
                if i < n_noisy:  # a mislabeled image: another class, stored under c
                    drawn = (c + 1 + int(rng.integers(spec.classes - 1))) % spec.classes
                img = render(drawn, spec.image_size, rng, spec.pixel_noise)
                if split == "train":
                    name = f"{wnid(c)}_{i}.JPEG"
                else:
                    val_index += 1
                    name = f"ILSVRC2012_val_{val_index:08d}.JPEG"
                Image.fromarray(img).save(folder / name, format="JPEG", quality=spec.quality)
    return out


def synthetic_data(root: Path, benchmark: str, spec: SyntheticSpec) -> SyntheticData:
    """The tree of ``spec`` under a ``--synthetic`` root (see common/synthetic_data.py)."""
    spec.validate()
    return SyntheticData(
        root, benchmark, spec, writer=functools.partial(generate, spec=spec), generator=__name__
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("root", type=Path, help="the --synthetic root; the tree goes in a sub-dir")
    p.add_argument("--classes", type=int, default=SyntheticSpec.classes)
    p.add_argument("--train-per-class", type=int, default=SyntheticSpec.train_per_class)
    p.add_argument("--val-per-class", type=int, default=SyntheticSpec.val_per_class)
    p.add_argument("--image-size", type=int, default=SyntheticSpec.image_size)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    spec = SyntheticSpec(a.classes, a.train_per_class, a.val_per_class, a.image_size, seed=a.seed)
    print(synthetic_data(a.root, "resnet", spec).ensure())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
