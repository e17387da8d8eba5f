"""The primary ResNet input pipeline: NVIDIA DALI (``pip install -e .[dali]``).

Train: ``fn.readers.file`` sharded by rank (one global shuffle per epoch, the same on every
rank, drawn from the run's data-order seed; augmentation seeded per rank),
``fn.decoders.image`` on the GPU (``device="mixed"``, nvJPEG) or the CPU,
``fn.random_resized_crop`` (area 8-100 %), ``fn.crop_mirror_normalize`` with a random horizontal
flip and the ImageNet mean/std. Eval: decode, resize the shorter side to size/0.875, centre
crop, normalise; the iterator drops the reader's padding so every validation image counts
exactly once.

The order: with ``shuffle_after_epoch`` the reader ignores its ``seed`` and shuffles from a
fixed default plus the epoch -- every run of a campaign would see the same image order -- so
the run's order seed goes to ``shuffle_after_epoch_seed`` (DALI 2.x), which also orders the
first epoch.

On a machine without CUDA the pipelines run on the CPU (``device_id=None``) and yield CPU
tensors, NCHW fp32. With CUDA they yield tensors on this rank's GPU with nothing left for the
host to do per step: images NHWC (handed over as an NCHW view in channels_last memory, the
layout the convolutions want) in fp16 when the run computes in reduced precision, labels moved
to the GPU inside the pipeline. Each training "epoch" takes exactly ``train_samples //
global_batch`` batches from a continuous stream, so all ranks step together even when the
shards differ in size by one image.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import torch

from mlperf_submit.benchmarks.common import dali
from mlperf_submit.benchmarks.common.interface import DataSplits
from mlperf_submit.benchmarks.resnet.data_common import MEAN, STD, eval_resize
from mlperf_submit.errors import InputError

FALLBACK = "the PIL/DataLoader pipeline"
available = dali.available


def import_dali():
    """DALI's ``(fn, pipeline_def, types)`` (``common.dali``: imported at init, a clear error)."""
    return dali.import_dali(FALLBACK)


def _pipelines():
    fn, pipeline_def, types = import_dali()

    @pipeline_def
    def train_pipe(root, shard_id, num_shards, size, min_area, decoder, order_seed, out):
        # A global shuffle, the same permutation on every rank (one seed for all readers), cut
        # into disjoint shards: each rank sees every class, and an epoch covers the dataset
        # once. (random_shuffle would only shuffle inside each rank's contiguous -- i.e.
        # class-sorted -- slice of the file list.)
        jpegs, labels = fn.readers.file(
            file_root=root,
            shard_id=shard_id,
            num_shards=num_shards,
            shuffle_after_epoch=True,
            shuffle_after_epoch_seed=order_seed,
            name="Reader",
        )
        images = fn.decoders.image(jpegs, device=decoder, output_type=types.RGB)
        images = fn.random_resized_crop(images, size=(size, size), random_area=[min_area, 1.0])
        flip = fn.random.coin_flip(probability=0.5)
        images = fn.crop_mirror_normalize(
            images, dtype=out.dtype, output_layout=out.layout, mean=MEAN, std=STD, mirror=flip
        )
        return images, out.labels(labels)

    @pipeline_def
    def eval_pipe(root, shard_id, num_shards, size, decoder, out):
        jpegs, labels = fn.readers.file(
            file_root=root,
            shard_id=shard_id,
            num_shards=num_shards,
            random_shuffle=False,
            pad_last_batch=True,
            name="Reader",
        )
        images = fn.decoders.image(jpegs, device=decoder, output_type=types.RGB)
        images = fn.resize(images, resize_shorter=eval_resize(size))
        images = fn.crop_mirror_normalize(
            images,
            dtype=out.dtype,
            output_layout=out.layout,
            crop=(size, size),
            mean=MEAN,
            std=STD,
        )
        return images, out.labels(labels)

    return train_pipe, eval_pipe


class _Output:
    """What the pipelines hand over: the image layout and dtype, and where the labels are."""

    def __init__(self, gpu: bool, half: bool) -> None:
        _, _, types = import_dali()
        self.gpu = gpu
        self.layout = "HWC" if gpu else "CHW"
        self.dtype = types.FLOAT16 if gpu and half else types.FLOAT

    def labels(self, labels):
        return labels.gpu() if self.gpu else labels


def _guarded(call, root):
    """``call()``, with DALI's read/decode failures (a RuntimeError) turned into an
    InputError: a corrupt dataset is bad input, not a crash. DALI does not name the file, so
    the message says how to find it (``verify_data``)."""
    try:
        return call()
    except RuntimeError as err:
        lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
        useful = [ln for ln in lines if "Error in" in ln or "failure" in ln or "error:" in ln]
        detail = "; ".join(dict.fromkeys(useful or lines[:1]))
        raise InputError(
            f"{root}: DALI could not read or decode a sample ({detail}); list the files that "
            f"do not decode with: python -m mlperf_submit.benchmarks.resnet.verify_data {root}"
        ) from None


def _guarded_next(it: Iterator, root):
    return _guarded(lambda: next(it), root)


class DaliImageNet(DataSplits):
    def __init__(
        self,
        root,
        *,
        image_size: int,
        batch_size: int,
        eval_batch_size: int,
        min_area: float,
        threads: int,
        rank: int,
        world: int,
        seed: int,
        order_seed: int,
        device: torch.device,
        half: bool = False,
    ) -> None:
        """``order_seed``: the image order (the same on every rank); ``seed``: this rank's
        augmentation. ``half``: fp16 images on a GPU (a bf16/fp16 run)."""
        DALIGenericIterator, LastBatchPolicy = dali.import_dali_pytorch(FALLBACK)
        train_pipe, eval_pipe = _pipelines()
        gpu = device.type == "cuda"
        self._out = _Output(gpu, half)
        common = dict(
            out=self._out,
            num_threads=max(1, threads),
            device_id=device.index if gpu else None,
            shard_id=rank,
            num_shards=world,
            size=image_size,
            decoder="mixed" if gpu else "cpu",
        )
        self._train_pipe = train_pipe(
            root=str(root / "train"),
            batch_size=batch_size,
            min_area=min_area,
            seed=seed,
            order_seed=order_seed,
            **common,
        )
        self._eval_pipe = eval_pipe(
            root=str(root / "val"), batch_size=eval_batch_size, seed=seed, **common
        )
        try:
            self._train_pipe.build()
            self._eval_pipe.build()
        except RuntimeError as err:
            raise InputError(f"{root}: DALI could not open the dataset ({err})") from None
        self.train_samples = int(self._train_pipe.epoch_size("Reader"))
        self.eval_samples = int(self._eval_pipe.epoch_size("Reader"))
        self.steps_per_epoch = self.train_samples // (batch_size * world)
        if self.steps_per_epoch < 1:
            raise InputError(
                f"{root / 'train'}: {self.train_samples} images are fewer than one global batch "
                f"({batch_size} x {world} ranks); lower data.batch_size"
            )
        # The iterators prefetch their first batch at construction: guarded like next().
        self._train_it = _guarded(
            lambda: DALIGenericIterator(
                [self._train_pipe],
                ["data", "label"],
                reader_name="Reader",
                last_batch_policy=LastBatchPolicy.DROP,
                auto_reset=True,
            ),
            root,
        )
        self._eval_it = _guarded(
            lambda: DALIGenericIterator(
                [self._eval_pipe],
                ["data", "label"],
                reader_name="Reader",
                last_batch_policy=LastBatchPolicy.PARTIAL,
                auto_reset=True,
            ),
            root,
        )
        self._stream: Iterator | None = None
        self._root = root

    def _next_train(self):
        if self._stream is None:
            self._stream = iter(self._train_it)
        try:
            return _guarded_next(self._stream, self._root)
        except StopIteration:  # the shard's epoch ended (auto_reset re-arms it): go on
            self._stream = iter(self._train_it)
            return _guarded_next(self._stream, self._root)

    def _unpack(self, out) -> tuple[torch.Tensor, torch.Tensor]:
        batch = out[0]
        images = batch["data"]
        if self._out.layout == "HWC":  # NCHW view of NHWC memory: channels_last, no copy
            images = images.permute(0, 3, 1, 2)
        return images, batch["label"].view(-1).long()

    def train_epoch(self, epoch: int) -> Iterable:
        for _ in range(self.steps_per_epoch):
            yield self._unpack(self._next_train())

    def eval_batches(self) -> Iterable:
        it = iter(self._eval_it)
        while True:
            try:
                out = _guarded_next(it, self._root)
            except StopIteration:
                return
            yield self._unpack(out)

    def close(self) -> None:
        self._train_it = self._eval_it = None
        self._train_pipe = self._eval_pipe = None
