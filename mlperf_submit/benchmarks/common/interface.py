"""The contract between the common Trainer and one benchmark (the docstrings are the docs).

A benchmark supplies what differs: its config and presets, model, optimizer and schedule, data
(real and synthetic), loss, evaluation statistics, quality target, the MLPerf keys it must log
and how its run is cut into blocks. The :class:`~.trainer.Trainer` does the rest: seeding,
devices, DDP, precision, warm-up, the MLPerf run boundary, logging, timing, stopping.

Call order (the Trainer's stages)::

    __init__(cfg, ctx)        plain Python; nothing heavy
    prepare_synthetic(root)   before init_start (dataset generation is not part of the run)
    --- init_start ---
    build_model()             on ctx.device; the Trainer wraps it (compile, DDP) afterwards
    build_optimizer(model)    -> (optimizer, scheduler or None)
    hyperparameters(opt, sched)   MLPerf keys read back from the objects in effect
    prepare_pipeline()        imports of the input pipeline (no data read)
    warmup_batch()            random tensors of the real shapes (only if loop.warmup_steps > 0)
    --- init_stop, run_start ---
    build_data()              the first moment any dataset file may be read
    blocks(): for each Block: train steps (loss()), then evaluate (eval_sums() -> metric())
    --- run_stop ---

Rules a benchmark must keep: never touch dataset files before ``build_data``; report
statistics as sums (the Trainer all-reduces them over ranks before ``metric``); log nothing by
itself (return keys from ``hyperparameters``/``extra_run_keys`` instead).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn


@dataclass(frozen=True)
class RunContext:
    """Facts about this process and this run, fixed before the benchmark is built."""

    seed: int
    """The run's master seed (logged once as ``seed``); use ``derive_seed`` for streams."""
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    data_dir: Path | None = None
    """Root of the dataset in its real on-disk format (real or generated)."""
    synthetic: bool = False
    division: str = "closed"
    ruleset: str = ""
    log_only: bool = False
    """Only the init section is written (``train --log-only``): no data is read, no step is
    taken, so ``build_model`` may put the parameters on the meta device (no storage) -- how
    the 8B preset's init section is checked on a machine that cannot hold 8B weights."""


@dataclass(frozen=True)
class Block:
    """A stretch of training followed by one evaluation, in the benchmark's progress unit.

    epoch_num benchmarks: ``first`` is the first epoch (0-based) and ``count`` the epochs in
    the block. samples_count benchmarks: ``first`` is the samples trained before the block
    and ``count`` the samples it trains.
    """

    first: int
    count: int

    @property
    def end(self) -> int:
        return self.first + self.count


class DataSplits(ABC):
    """The datasets of one run, built after run_start."""

    train_samples: int
    """Global number of training samples in an epoch (logged as ``train_samples``)."""
    eval_samples: int
    """Global number of evaluation samples (logged as ``eval_samples``)."""

    @abstractmethod
    def train_epoch(self, epoch: int) -> Iterable[Any]:
        """This rank's batches of training epoch ``epoch`` (0-based), shuffled by epoch."""

    @abstractmethod
    def eval_batches(self) -> Iterable[Any]:
        """This rank's share of the evaluation set, each sample exactly once over all ranks."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release workers and pipelines."""


class Benchmark(ABC):
    """One MLPerf benchmark. Subclasses set the class attributes and implement the methods."""

    name: ClassVar[str]
    """MLPerf ``submission_benchmark`` value, e.g. "resnet"."""
    default_ruleset: ClassVar[str]
    """Newest ruleset that has the benchmark ("4.0.0" for resnet)."""
    progress_unit: ClassVar[str]
    """"epoch_num" or "samples_count": the metadata key of blocks and evals."""
    target: ClassVar[float]
    """Closed-division quality target of ``metric_key``."""
    higher_is_better: ClassVar[bool] = True
    metric_key: ClassVar[str] = "eval_accuracy"
    config_class: ClassVar[type]
    """The config dataclass; it has a field ``loop`` of type ``LoopConfig``."""
    presets: ClassVar[dict[str, Callable[[], Any]]]
    """Named presets: ``tiny`` plus ``config_<SYSTEM>_<NODES>x<GPUS>x<BS>``."""

    def __init__(self, cfg: Any, ctx: RunContext) -> None:
        self.cfg = cfg
        self.ctx = ctx

    # -- before init -----------------------------------------------------------------------
    def prepare_synthetic(self, root: Path) -> Path:
        """Generate (or reuse) synthetic data in the real on-disk format under ``root``."""
        raise NotImplementedError(f"{self.name} has no synthetic data generator")

    def check_data_dir(self, root: Path) -> None:  # noqa: B027 - optional hook
        """Cheap existence checks on ``--data`` (paths only, no dataset file is opened)."""

    # -- init --------------------------------------------------------------------------------
    @abstractmethod
    def build_model(self) -> nn.Module:
        """The model on ``ctx.device`` (weights initialised from the seeded torch RNG)."""

    @abstractmethod
    def build_optimizer(self, model: nn.Module) -> tuple[torch.optim.Optimizer, Any]:
        """Optimizer and LR scheduler (stepped once per training step) or None."""

    @abstractmethod
    def hyperparameters(self, optimizer: torch.optim.Optimizer, scheduler: Any) -> dict[str, Any]:
        """MLPerf hyperparameter keys -> values, read back from the objects in effect."""

    @abstractmethod
    def global_batch_size(self) -> int:
        """Samples per optimizer step over all ranks (logged as ``global_batch_size``)."""

    def gradient_accumulation_steps(self) -> int:
        """Micro-batches per optimizer step (``loop.gradient_accumulation_steps``)."""
        return self.cfg.loop.gradient_accumulation_steps

    def split_batch(self, batch: Any, parts: int) -> list[Any]:
        """``batch`` (one rank's step batch) as ``parts`` equal micro-batches, for gradient
        accumulation. Default: tensors, and tuples/lists/dicts of tensors, split on dim 0."""
        return split_on_first_dim(batch, parts)

    @abstractmethod
    def warmup_batch(self) -> Any:
        """A batch of random tensors with the real shapes, for warm-up inside init."""

    def eval_warmup_batch(self) -> Any:
        """Random tensors with the evaluation batch's shapes: warm-up also runs one eval
        forward, so a compiled model's no-grad graph is compiled inside init, not at the first
        (timed) evaluation. Default: ``warmup_batch()``."""
        return self.warmup_batch()

    def prepare_pipeline(self) -> None:  # noqa: B027 - optional hook
        """Import / compile the input pipeline's code inside init (DALI's import takes
        seconds). Must not open any dataset file."""

    # -- run ---------------------------------------------------------------------------------
    @abstractmethod
    def build_data(self) -> DataSplits:
        """Open the datasets. Called right after run_start: the first read of data."""

    @abstractmethod
    def blocks(self) -> Iterator[Block]:
        """The run's plan: blocks in order until the budget (max epochs or samples)."""

    @abstractmethod
    def loss(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, int]:
        """Training loss of one local batch and its number of samples."""

    @abstractmethod
    def eval_sums(self, model: nn.Module, batch: Any) -> torch.Tensor:
        """1-D float64 tensor of sums over one eval batch (e.g. [correct, count])."""

    @abstractmethod
    def metric(self, sums: torch.Tensor) -> float:
        """The eval metric from sums over the whole evaluation set (all ranks)."""

    def reached_target(self, value: float) -> bool:
        return value >= self.target if self.higher_is_better else value <= self.target

    def on_block_end(self, block: Block) -> None:  # noqa: B027 - optional hook
        """Called after each block's training, before its evaluation."""


def split_on_first_dim(batch: Any, parts: int) -> list[Any]:
    """Split a tensor, or a tuple/list/dict of tensors, into ``parts`` equal pieces on dim 0."""
    if isinstance(batch, torch.Tensor):
        if batch.shape[0] % parts:
            raise ValueError(f"a batch of {batch.shape[0]} does not split into {parts} equal parts")
        return list(batch.tensor_split(parts))
    if isinstance(batch, (tuple, list)):
        columns = [split_on_first_dim(x, parts) for x in batch]
        return [type(batch)(col[i] for col in columns) for i in range(parts)]
    if isinstance(batch, dict):
        columns = {k: split_on_first_dim(v, parts) for k, v in batch.items()}
        return [{k: v[i] for k, v in columns.items()} for i in range(parts)]
    raise TypeError(f"cannot split a batch of type {type(batch).__name__}: override split_batch")
