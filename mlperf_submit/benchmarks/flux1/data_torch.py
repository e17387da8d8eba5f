"""The flux1 input pipeline: webdataset shards streamed by torch DataLoader workers.

Each (rank, worker) reads its split of the shards (``data_common``) with webdataset
(``tarfile_samples``: tar members grouped into samples by key), shuffles training samples in a
seeded ``webdataset.shuffle`` buffer, decodes them (``SampleReader``) and batches them in the
worker; the training process only receives finished batches. The training stream runs across
epochs inside the workers (one DataLoader for the run: its workers start once, as the
reference's looping dataset); the validation stream is one pass, each sample once over all
ranks, in a persistent DataLoader re-iterated at each evaluation.

Raw images are decoded here with PIL (bicubic resize of the short side, a seeded crop) -- or,
with DALI, the workers only read the bytes and plan the resize/crop and ``data_dali`` decodes
the batch (``image_stage``). A worker's error reaches the training process as a
``LoaderError`` and is raised there as an ``InputError`` naming the shard and sample.
"""

from __future__ import annotations

import itertools
import os
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from mlperf_submit.benchmarks.common.interface import DataSplits
from mlperf_submit.benchmarks.flux1 import data_common as dc
from mlperf_submit.errors import InputError


@dataclass
class SampleReader:
    """One WebDataset sample -> the tensors a training or validation step needs."""

    format: str
    """"encoded" or "raw"."""
    shapes: dc.Shapes
    seed: int
    """The rank-free run seed the per-sample generators derive from."""
    drop_prob: float
    timesteps: int
    image_size: int = 256
    tokenize: Callable[[str], tuple[torch.Tensor, torch.Tensor]] | None = None
    """raw format: caption -> (T5 ids, CLIP ids), padded."""
    defer_decode: bool = False
    """raw format: leave the image decode to DALI (keep the bytes and the resize/crop plan)."""

    @property
    def latent(self) -> tuple[int, int, int]:
        s = self.shapes
        return (s.latent_channels, s.latent_size, s.latent_size)

    def __call__(self, sample: dict, stream: str, train: bool) -> dict | None:
        """None for a training image smaller than the training size (the reference skips them)."""
        gen = dc.sample_generator(self.seed, stream, sample["__key__"])
        at = dc.where(sample)
        if train:
            draws = dc.train_draws(gen, self.latent, self.drop_prob)
        else:
            draws = dc.eval_draws(
                gen, self.latent, dc.timestep_of(sample, at, self.timesteps), self.timesteps
            )
        if self.format == "encoded":
            return {**dc.decode_encoded(sample, self.shapes), **draws}
        data = dc.image_bytes(sample)
        width, height = dc.image_header_size(data, at)
        if train and min(width, height) < self.image_size:
            return None
        plan = dc.resize_crop_plan(width, height, self.image_size, gen)
        t5_ids, clip_ids = self.tokenize(dc.caption_of(sample))
        out = {"t5_tokens": t5_ids, "clip_tokens": clip_ids, **draws}
        if self.defer_decode:
            out["jpeg"] = data
            out["plan"] = torch.tensor(plan, dtype=torch.int32)
        else:
            out["image"] = dc.decode_image_pil(data, plan, self.image_size, at)
        return out


class ShardStream(IterableDataset):
    """Batches of one split of the shards, for one rank; see the module docstring."""

    def __init__(
        self,
        shards: list[str],
        reader: SampleReader,
        *,
        batch_size: int,
        rank: int,
        world: int,
        train: bool,
        first_epoch: int = 0,
        shuffle_buffer: int = 1,
        epochs: int | None = None,
    ) -> None:
        """``epochs``: training epochs to stream (None: endless, what a run uses)."""
        self.shards, self.reader, self.batch_size = shards, reader, batch_size
        self.rank, self.world, self.train = rank, world, train
        self.first_epoch, self.shuffle_buffer = first_epoch, shuffle_buffer
        self.epochs = epochs

    def __iter__(self) -> Iterator[dict | dc.LoaderError]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        split, splits = self.rank * workers + worker, self.world * workers
        try:
            yield from self._batches(split, splits)
        except InputError as err:
            yield dc.LoaderError(str(err))
        except Exception as err:  # noqa: BLE001 - reported, with the shard, by the main process
            yield dc.LoaderError(f"the data loader failed: {type(err).__name__}: {err}")

    def _read(self, shards: list[str], stride: int, offset: int) -> Iterator[dict]:
        from webdataset.tariterators import tarfile_samples

        index = 0
        for url in shards:
            try:
                for sample in tarfile_samples([{"url": url}]):
                    if index % stride == offset:
                        yield sample
                    index += 1
            except InputError:
                raise
            except Exception as err:  # tarfile / gopen errors: name the shard
                raise InputError(f"{url}: unreadable WebDataset shard ({err})") from None

    def _samples(self, split: int, splits: int) -> Iterator[dict]:
        if not self.train:
            mine, stride, offset = dc.split_shards(self.shards, split, splits)
            for sample in self._read(mine, stride, offset):
                yield self.reader(sample, "eval", train=False)
            return
        import webdataset as wds

        seed = self.reader.seed
        epochs = itertools.count(self.first_epoch)
        if self.epochs is not None:
            epochs = range(self.first_epoch, self.first_epoch + self.epochs)
        for epoch in epochs:
            order = dc.epoch_order(self.shards, seed, epoch)
            mine, stride, offset = dc.split_shards(order, split, splits)
            rng = random.Random(dc.stable_seed(seed, "shuffle", epoch, split))
            stream = wds.shuffle(self.shuffle_buffer, initial=self.shuffle_buffer, rng=rng)(
                self._read(mine, stride, offset)
            )
            for sample in stream:
                yield self.reader(sample, f"train{epoch}", train=True)

    def _batches(self, split: int, splits: int) -> Iterator[dict]:
        batch: list[dict] = []
        for item in self._samples(split, splits):
            if item is None:
                continue
            batch.append(item)
            if len(batch) == self.batch_size:
                yield dc.collate(batch)
                batch = []
        if batch and (not self.train or self.epochs is not None):
            yield dc.collate(batch)


def make_loader(stream: ShardStream, workers: int, *, pin: bool, persistent: bool) -> DataLoader:
    # Tokenizers forked into workers would warn about their own thread pool: use one thread.
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    return DataLoader(
        stream,
        batch_size=None,
        num_workers=workers,
        pin_memory=pin,
        persistent_workers=persistent and workers > 0,
        prefetch_factor=4 if workers > 0 else None,
    )


class FluxSplits(DataSplits):
    """The training stream and the validation set of one rank."""

    def __init__(
        self,
        train: ShardStream,
        val: ShardStream,
        *,
        train_samples: int,
        eval_samples: int,
        workers: int,
        pin: bool,
        image_stage: Callable[[dict], dict] | None = None,
    ) -> None:
        self.train_samples, self.eval_samples = train_samples, eval_samples
        self._train, self._val = train, val
        self._workers, self._pin = workers, pin
        self._stage = image_stage
        self._val_loader = make_loader(val, workers, pin=pin, persistent=True)
        self._train_iter: Any = None

    def _checked(self, loader) -> Iterator[dict]:
        for item in loader:
            if isinstance(item, dc.LoaderError):
                raise InputError(item.message)
            yield self._stage(item) if self._stage is not None else item

    def train_epoch(self, epoch: int) -> Iterator[dict]:
        """The training stream from ``epoch`` on: it does not end at the epoch's last sample
        (the workers go on into the next epoch), so the Trainer asks for it once."""
        self._train.first_epoch = epoch
        loader = make_loader(self._train, self._workers, pin=self._pin, persistent=False)
        self._train_iter = self._checked(loader)
        return self._train_iter

    def eval_batches(self) -> Iterator[dict]:
        return self._checked(self._val_loader)

    def close(self) -> None:
        if self._train_iter is not None:
            self._train_iter.close()
        self._val_loader = None
