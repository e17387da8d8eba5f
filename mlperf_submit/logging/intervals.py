"""Context managers for blocks, epochs and evaluations, with the metadata the rules ask for.

The metadata key depends on the benchmark's progress unit (``MLPerfLogger.progress_unit``, read
from its rule file):

=========  =================================================  ==================================
           epoch_num benchmarks (resnet, bert, unet3d, dlrm)   samples_count benchmarks (llama*)
=========  =================================================  ==================================
block      start: first_epoch_num, epoch_count;                start: samples_count = start;
           stop: first_epoch_num                               stop: samples_count = start+count
eval       eval_start/stop/accuracy: epoch_num                 samples_count
epoch      epoch_start/stop: epoch_num                         epoch_num
=========  =================================================  ==================================

(``start`` is the progress before the block: the first epoch number, or the samples seen so far.)
A stop line is written only when the body finishes normally: an exception means the interval did
not complete, and the run's end is recorded by ``run_stop``. These are classes rather than
``contextlib`` generators so that the logged call site is the user's ``with`` line.
"""

from __future__ import annotations

from collections.abc import Mapping


def _merge(base: dict, extra: Mapping | None) -> dict:
    if extra:
        base.update(extra)
    return base


class Block:
    def __init__(self, logger, start, count, metadata: Mapping | None, sync: bool):
        self.logger, self.start, self.count = logger, start, count
        self.metadata, self.sync = metadata, sync

    def __enter__(self) -> Block:
        if self.logger.progress_unit == "samples_count":
            meta = {"samples_count": self.start}
        else:
            meta = {"first_epoch_num": self.start, "epoch_count": self.count}
        self.logger.start("block_start", metadata=_merge(meta, self.metadata), sync=self.sync)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            return
        if self.logger.progress_unit == "samples_count":
            meta = {"samples_count": self.start + self.count}
        else:
            meta = {"first_epoch_num": self.start}
        self.logger.end("block_stop", metadata=_merge(meta, self.metadata), sync=self.sync)


class Epoch:
    def __init__(self, logger, epoch_num, metadata: Mapping | None, sync: bool):
        self.logger, self.epoch_num = logger, epoch_num
        self.metadata, self.sync = metadata, sync

    def __enter__(self) -> Epoch:
        meta = _merge({"epoch_num": self.epoch_num}, self.metadata)
        self.logger.start("epoch_start", metadata=meta, sync=self.sync)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            meta = _merge({"epoch_num": self.epoch_num}, self.metadata)
            self.logger.end("epoch_stop", metadata=meta, sync=self.sync)


class Eval:
    """``with log.eval(progress) as ev: ev.accuracy(value)``."""

    def __init__(self, logger, progress, metadata: Mapping | None, sync: bool):
        self.logger, self.progress = logger, progress
        self.metadata, self.sync = metadata, sync
        self.value = None

    def _meta(self) -> dict:
        return _merge({self.logger.progress_unit: self.progress}, self.metadata)

    def __enter__(self) -> Eval:
        self.logger.start("eval_start", metadata=self._meta(), sync=self.sync)
        return self

    def accuracy(self, value) -> None:
        """Log ``eval_accuracy`` for this evaluation (the benchmark's quality metric), and under
        the keys the rule file also requires for it (``MLPerfLogger.metric_aliases``)."""
        self.value = value
        self.logger.event("eval_accuracy", value, self._meta())
        for key in self.logger.metric_aliases:  # the same value under a key the rules also want
            self.logger.event(key, value, self._meta())

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.logger.end("eval_stop", metadata=self._meta(), sync=self.sync)
