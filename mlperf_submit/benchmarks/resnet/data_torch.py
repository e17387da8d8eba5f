"""The fallback ResNet input pipeline: a torch DataLoader decoding JPEGs with PIL.

Same augmentations as the DALI pipeline: random-resized-crop (area 8-100 %, aspect 3/4-4/3),
horizontal flip, ImageNet normalisation; eval: resize the shorter side to size/0.875, centre
crop. Each training epoch is a permutation shared by all ranks (seeded by the run's data-order
seed and the epoch) cut into equal per-rank shards, so every rank takes the same number of
steps. For a GPU run the batches come in pinned memory (``pin_memory``), so the copies to the
device are asynchronous instead of a synchronous copy from pageable memory each step.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from mlperf_submit.benchmarks.common.interface import DataSplits
from mlperf_submit.benchmarks.resnet.data_common import (
    MEAN,
    STD,
    Listing,
    eval_resize,
    shard_range,
)
from mlperf_submit.errors import InputError

_MEAN = torch.tensor(MEAN).view(3, 1, 1)
_STD = torch.tensor(STD).view(3, 1, 1)


def _open_rgb(path: str):
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return im.convert("RGB")
    except (OSError, UnidentifiedImageError) as err:
        raise InputError(f"{path}: not a readable image ({err})") from None


def _to_tensor(img) -> torch.Tensor:
    arr = torch.from_numpy(np.asarray(img, dtype=np.uint8).copy()).permute(2, 0, 1).float()
    return (arr - _MEAN) / _STD


def random_resized_crop_box(
    w: int, h: int, g: torch.Generator, area: tuple[float, float], ratio=(3 / 4, 4 / 3)
) -> tuple[int, int, int, int]:
    """(left, top, width, height): the Inception-style crop the references train with."""
    log_r = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target = w * h * (area[0] + (area[1] - area[0]) * torch.rand(1, generator=g).item())
        aspect = math.exp(log_r[0] + (log_r[1] - log_r[0]) * torch.rand(1, generator=g).item())
        cw = round(math.sqrt(target * aspect))
        ch = round(math.sqrt(target / aspect))
        if 0 < cw <= w and 0 < ch <= h:
            left = int(torch.randint(0, w - cw + 1, (1,), generator=g))
            top = int(torch.randint(0, h - ch + 1, (1,), generator=g))
            return left, top, cw, ch
    side = min(w, h)  # fall back to the centre square
    return (w - side) // 2, (h - side) // 2, side, side


class TrainImages(Dataset):
    def __init__(self, files, size: int, min_area: float, seed: int) -> None:
        self.files, self.size, self.min_area, self.seed = files, size, min_area, seed

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, key: tuple[int, int]):
        from PIL import Image

        i, epoch = key  # the sampler passes the epoch: workers hold a copy of this object
        path, label = self.files[i]
        # Per-sample generator: the same augmentation whatever the worker count.
        g = torch.Generator().manual_seed(((self.seed * 1000003 + epoch) * 10007 + i) % 2**62)
        img = _open_rgb(path)
        left, top, cw, ch = random_resized_crop_box(*img.size, g, (self.min_area, 1.0))
        img = img.resize(
            (self.size, self.size), Image.BILINEAR, box=(left, top, left + cw, top + ch)
        )
        x = _to_tensor(img)
        if torch.rand(1, generator=g).item() < 0.5:
            x = x.flip(2)
        return x, label


class EvalImages(Dataset):
    def __init__(self, files, size: int) -> None:
        self.files, self.size, self.resize = files, size, eval_resize(size)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int):
        from PIL import Image

        path, label = self.files[i]
        img = _open_rgb(path)
        w, h = img.size
        scale = self.resize / min(w, h)
        nw, nh = max(self.size, round(w * scale)), max(self.size, round(h * scale))
        img = img.resize((nw, nh), Image.BILINEAR)
        left, top = (nw - self.size) // 2, (nh - self.size) // 2
        return _to_tensor(img.crop((left, top, left + self.size, top + self.size))), label


class _EpochShard(torch.utils.data.Sampler):
    """This rank's share of one shuffled epoch: ``steps * batch`` indices."""

    def __init__(self, n: int, rank: int, world: int, batch: int, seed: int) -> None:
        self.n, self.rank, self.world, self.batch, self.seed = n, rank, world, batch, seed
        self.steps = n // (batch * world)
        self.epoch = 0

    def __iter__(self):
        g = torch.Generator().manual_seed((self.seed * 1000003 + self.epoch) % 2**62)
        perm = torch.randperm(self.n, generator=g)
        per_rank = self.steps * self.batch
        mine = perm[self.rank * per_rank : (self.rank + 1) * per_rank].tolist()
        return iter([(i, self.epoch) for i in mine])

    def __len__(self) -> int:
        return self.steps * self.batch


class TorchImageNet(DataSplits):
    def __init__(
        self,
        train: Listing,
        val: Listing,
        *,
        image_size: int,
        batch_size: int,
        eval_batch_size: int,
        min_area: float,
        workers: int,
        rank: int,
        world: int,
        seed: int,
        pin_memory: bool = False,
    ) -> None:
        """``seed``: the image order and augmentation (the same on every rank: the order must
        be, and each rank crops other images). ``pin_memory``: for a GPU run."""
        self.train_samples = len(train.files)
        self.eval_samples = len(val.files)
        self.steps_per_epoch = self.train_samples // (batch_size * world)
        if self.steps_per_epoch < 1:
            raise InputError(
                f"{train.root}: {self.train_samples} images are fewer than one global batch "
                f"({batch_size} x {world} ranks); lower data.batch_size"
            )
        self._train_ds = TrainImages(train.files, image_size, min_area, seed)
        self._sampler = _EpochShard(self.train_samples, rank, world, batch_size, seed)
        common = dict(num_workers=workers, persistent_workers=workers > 0, pin_memory=pin_memory)
        self._train = DataLoader(
            self._train_ds, batch_size=batch_size, sampler=self._sampler, drop_last=True, **common
        )
        lo, hi = shard_range(self.eval_samples, rank, world)
        self._eval = DataLoader(
            EvalImages(val.files[lo:hi], image_size), batch_size=eval_batch_size, **common
        )

    def train_epoch(self, epoch: int) -> Iterable:
        self._sampler.epoch = epoch
        return self._train

    def eval_batches(self) -> Iterable:
        return self._eval
