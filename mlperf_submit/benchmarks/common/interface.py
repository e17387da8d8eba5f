"""The contract between the common Trainer and one benchmark (the docstrings are the docs).

A benchmark supplies what differs: its config and presets, model, optimizer and schedule, data
(real and synthetic), loss, evaluation statistics, the MLPerf keys it must log and how its run
is cut into blocks -- and it describes itself (rounds, progress unit, metric, docs, closed
problems) so that nothing outside ``benchmarks/`` keeps a table of benchmark names. The
:class:`~.trainer.Trainer` does the rest: seeding, devices, DDP/FSDP2, precision, warm-up, the
MLPerf run boundary, the keys every benchmark logs (batch sizes, precisions, parallelism,
config file), timing, stopping. ``docs/adding-a-benchmark.md`` walks through a new one;
``tests/benchmarks/test_contract.py`` checks every registered benchmark against this file.

Call order (the Trainer's stages)::

    __init__(cfg, ctx)        plain Python; nothing heavy
    prepare_synthetic(root)   before init_start (dataset generation is not part of the run):
                              synthetic_data(root).ensure()
    --- init_start ---
    build_model()             on ctx.device; the Trainer wraps it (compile / FSDP2 / DDP), or
                              parallelize(model) does when it returns a module (TorchRec DMP)
    compile_loss(compile_fn)  only with loop.compile: compile the loss's own computation
    build_optimizer(model)    -> (optimizer, scheduler or None)
    hyperparameters(opt, sched)   MLPerf keys read back from the objects in effect
    prepare_pipeline()        imports of the input pipeline (no data read)
    warmup_batch()            random tensors of the real shapes (only if loop.warmup_steps > 0)
    --- init_stop, run_start ---
    build_data()              the first moment any dataset file may be read (data_root())
    blocks(): for each Block: train steps (loss()), then evaluate (eval_sums() -> metric())
    --- run_stop ---

Rules a benchmark must keep: never touch dataset files before ``build_data``; report
statistics as sums (the Trainer all-reduces them over ranks before ``metric``); log nothing by
itself (return keys from ``hyperparameters`` instead); read every logged value back from the
object that uses it, except the few facts of the configuration it names in
``config_hyperparameters``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import nn

from mlperf_submit.benchmarks.common.docs import BenchmarkDoc
from mlperf_submit.errors import UsageError

if TYPE_CHECKING:
    from mlperf_submit.benchmarks.common.synthetic_data import SyntheticData


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
    preset: str = ""
    """The preset's name (``train --preset``; logged in ``config_filename``)."""
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
    """One MLPerf benchmark. Subclasses set the class attributes and implement the methods.

    The class is the one place that describes the benchmark to the rest of the package
    (submission README, report labels, campaign defaults, the contract test): nothing outside
    ``benchmarks/`` keeps a table keyed by benchmark name. What the official ``mlperf-logging``
    already knows (rounds, run counts, closed targets, progress unit) is read from it, or checked
    against it by ``tests/benchmarks/test_contract.py``.
    """

    name: ClassVar[str]
    """MLPerf ``submission_benchmark`` value, e.g. "resnet"."""
    rounds: ClassVar[tuple[str, ...]]
    """The rulesets this implementation logs for, oldest first (each must hold the benchmark in
    ``mlperf_logging.benchmark_meta``; the contract test runs the tiny preset's log through the
    official checker of every one). The newest is the default ``--ruleset``."""
    open_rules_quirks: ClassVar[dict[str, str]] = {}
    """Rounds whose official *open* rule file rejects a correct log, and the rule it wrongly
    applies (the contract test then expects exactly that failure there, and no other)."""
    tiny_scale_rules: ClassVar[dict[str, str]] = {}
    """MLPerf key -> the official *open* rule that fixes a full-scale value no CPU tiny run can
    meet without logging a lie (llama31_405b: ``eval_samples == 5760`` sequences of 8192 tokens;
    deepseekv3_671b: ``global_batch_size >= 15360``). The tiny run then logs what it really
    does with the online checker warning, the contract test expects exactly these failures
    (plus a round's quirk), and ``make submit`` leaves the benchmark out (its tree would fail)."""
    progress_unit: ClassVar[str]
    """"epoch_num" or "samples_count": the metadata key of blocks and evals (the contract test
    checks it against the official rule file)."""
    blocks_in_samples: ClassVar[bool] = False
    """For an ``epoch_num`` benchmark that evaluates inside an epoch (dlrm_dcnv2: every 0.05
    epoch): its blocks count global training samples, as a ``samples_count`` benchmark's do (the
    stream continues across blocks and epochs), and the log's ``epoch_num`` is the fraction
    ``epoch_progress(samples)``."""
    higher_is_better: ClassVar[bool] = True
    """Direction of ``eval_accuracy`` (accuracy, AUC: True; losses, perplexity: False)."""
    metric_key: ClassVar[str] = "eval_accuracy"
    metric_label: ClassVar[str]
    """What ``eval_accuracy`` measures, for people: "top-1 accuracy", "log-perplexity"."""
    docs: ClassVar[BenchmarkDoc]
    """The submission README's text about the benchmark (``common/docs.py``)."""
    config_class: ClassVar[type]
    """The config dataclass: fields ``loop: LoopConfig`` and ``target: float | None`` (None = the
    closed target of the run's ruleset, read from the official rule file)."""
    presets: ClassVar[dict[str, Callable[[], Any]]]
    """Named presets: ``tiny`` plus ``config_<SYSTEM>_<NODES>x<GPUS>x<BS>``."""
    config_hyperparameters: ClassVar[frozenset[str]] = frozenset()
    """Logged keys that are facts of the configuration by design (``max_sequence_length``,
    ``config_filename``, ...), not settings of the optimizer or schedule: exempt from the
    contract test that every other hyperparameter is read back from the objects in effect."""

    # -- what the class says about itself --------------------------------------------------
    @classmethod
    def default_ruleset(cls) -> str:
        return cls.rounds[-1]

    @classmethod
    def closed_target(cls, ruleset: str | None = None) -> float:
        """The closed-division quality target of ``ruleset`` (default: the newest round), from
        the ``ATLEAST_ONE_CHECK`` of ``closed_<name>.yaml`` in the installed mlperf-logging."""
        from mlperf_submit.compliance.targets import closed_target

        rs = ruleset or cls.default_ruleset()
        target = closed_target(cls.name, rs)
        if target is None:
            raise UsageError(f"{cls.name}: no closed target in the ruleset {rs} rule files")
        return target.value

    @classmethod
    def closed_problems(cls, cfg: Any) -> list[str]:
        """What the closed division's rules would reject in ``cfg``, each with the value to use;
        empty for a closed configuration. The base class checks the target against the rule
        file; a benchmark adds its closed hyperparameters (``super().closed_problems(cfg)``)."""
        target = getattr(cfg, "target", None)
        if target is None:
            return []
        closed = cls.closed_target()
        weaker = target < closed if cls.higher_is_better else target > closed
        if weaker:
            return [f"target={target}: closed requires reaching {closed} (or leave target unset)"]
        return []

    @classmethod
    def run_target(cls, cfg: Any, ruleset: str | None = None) -> float:
        """The quality target a run of ``cfg`` stops at: its own ``target`` (a tiny preset's
        easier bound on synthetic data), else the closed target of the ruleset."""
        target = getattr(cfg, "target", None)
        return float(target) if target is not None else cls.closed_target(ruleset)

    def __init__(self, cfg: Any, ctx: RunContext) -> None:
        self.cfg = cfg
        self.ctx = ctx
        self.target = self.run_target(cfg, ctx.ruleset or None) if ctx is not None else None
        """The quality target of this run (``run_target``)."""

    def per_rank_batch(self, global_batch: int) -> int:
        """``global_batch`` split evenly over this run's ranks; a global batch that does not
        split is a usage error, raised at construction so nothing has started yet."""
        world = self.ctx.world_size if self.ctx is not None else 1
        if global_batch % world:
            raise UsageError(
                f"data.global_batch_size={global_batch} does not split over {world} ranks: use "
                f"a multiple of {world}"
            )
        return global_batch // world

    # -- before init -----------------------------------------------------------------------
    def synthetic_data(self, root: Path) -> SyntheticData:
        """This run's synthetic dataset under a ``--synthetic`` root: the generator's spec and
        its writer, in the real on-disk format (``common/synthetic_data.py``)."""
        raise NotImplementedError(f"{self.name} has no synthetic data generator")

    def prepare_synthetic(self, root: Path) -> Path:
        """Generate (or reuse) the synthetic dataset under ``root``; before init_start."""
        return self.synthetic_data(root).ensure()

    def data_root(self) -> Path:
        """The directory ``build_data`` reads: ``--data``, or the prepared synthetic dataset."""
        root = Path(self.ctx.data_dir)
        return self.synthetic_data(root).resolve() if self.ctx.synthetic else root

    def check_data_dir(self, root: Path) -> None:  # noqa: B027 - optional hook
        """Cheap existence checks on ``--data`` (paths only, no dataset file is opened)."""

    # -- init --------------------------------------------------------------------------------
    @abstractmethod
    def build_model(self) -> nn.Module:
        """The model on ``ctx.device`` (weights initialised from the seeded torch RNG)."""

    def compile_loss(self, compile_fn: Callable[[Callable], Callable]) -> None:  # noqa: B027
        """``loop.compile``: compile, with ``compile_fn``, what ``loss`` computes outside the
        model's forward -- a cross-entropy over 8192 x 128k logits is worth a fused kernel (no
        fp32 copy of the logits). The Trainer compiles the model itself (each repeated block,
        or the whole model). Default: nothing."""

    @abstractmethod
    def build_optimizer(self, model: nn.Module) -> tuple[torch.optim.Optimizer, Any]:
        """Optimizer and LR scheduler (stepped once per training step) or None."""

    @abstractmethod
    def hyperparameters(self, optimizer: torch.optim.Optimizer, scheduler: Any) -> dict[str, Any]:
        """MLPerf hyperparameter keys -> values, read back from the objects in effect."""

    @abstractmethod
    def global_batch_size(self) -> int:
        """Samples per optimizer step over all ranks (logged as ``global_batch_size``)."""

    def parallelize(self, model: nn.Module) -> nn.Module | None:
        """A model-parallel benchmark wraps its own model here and returns the wrapped module
        (TorchRec's ``DistributedModelParallel``: sharded embedding tables, the dense part in
        DDP); the Trainer then uses it as built, with neither FSDP2, DDP nor torch.compile.
        Called after ``build_model`` and before ``build_optimizer`` (which receives the result);
        the result must expose the raw module as ``.module`` (``parallel.unwrap``) for warm-up's
        state restore. Default None: the Trainer's data parallelism (``loop.data_parallel``)."""
        return None

    def epoch_progress(self, samples: int) -> float:
        """``blocks_in_samples`` benchmarks: the ``epoch_num`` logged after ``samples`` global
        training samples (an epoch fraction, counted from 0, as the reference logs it)."""
        raise NotImplementedError(f"{self.name} does not count its blocks in samples")

    def parallelism(self) -> dict[str, int]:
        """The model-parallel degrees in effect (MLPerf 6.x keys): data parallelism only unless a
        benchmark shards its model otherwise (expert parallelism of a mixture of experts)."""
        return {
            "tensor_parallelism": 1,
            "pipeline_parallelism": 1,
            "context_parallelism": 1,
            "expert_parallelism": 1,
        }

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
