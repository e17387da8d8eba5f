"""The one training loop every benchmark runs: init, run, blocks, evals, stop -- and the log.

    trainer = Trainer(benchmark, logger, submission=SubmissionInfo(org="MyOrg", platform="1xH200"))
    result = trainer.train()          # RunResult: status "success" (target reached) or "aborted"

Stages, each a small method (in the spirit of torchtitan's Trainer):

``init``       init_start; submission keys, cache_clear, seed; ``build`` (model, compile,
               FSDP2, optimizer, DDP -- the order in ``launch/distributed/parallel.py``) and
               the hyperparameters read back from the objects in effect;
               ``warm_up`` (random tensors, state restored). Everything costly happens here.
``run``        init_stop + run_start (all ranks together), *then* ``build_data`` -- the first
               time any dataset file is read --, then for each block: ``train_block``,
               ``evaluate``, ``should_stop``.
``finish``     run_stop with status success (quality target reached) or aborted (budget spent:
               the benchmark's last block, or ``loop.max_minutes``); returns the verdict.

The invariants (tested): the model, optimizer and warm-up sit between init_start and init_stop;
no dataset file is opened before run_start; the seed is logged once; block/eval metadata use the
benchmark's progress unit. Throughput is logged per block as ``tracked_stats``.
"""

from __future__ import annotations

import contextlib
import copy
import math
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import torch

from mlperf_submit.benchmarks.common.interface import Benchmark, Block, DataSplits
from mlperf_submit.benchmarks.common.optim import implementation as optim_impl
from mlperf_submit.benchmarks.common.precision import MLPERF_DTYPE, Precision, make_precision
from mlperf_submit.errors import UsageError
from mlperf_submit.launch.distributed import dist
from mlperf_submit.launch.distributed import parallel as ddp
from mlperf_submit.launch.distributed.seeding import derive_seed
from mlperf_submit.logging import rules_info


@dataclass(frozen=True)
class SubmissionInfo:
    org: str = "mlperf-submit"
    platform: str = "unknown"
    status: str = "onprem"
    """submission_status (only rulesets up to 4.0.0 log it): cloud|onprem|preview|research."""


@dataclass
class RunResult:
    status: str
    """"success" (the quality target was reached) or "aborted"."""
    evals: list[tuple[int, float]] = field(default_factory=list)
    """(progress at the eval, metric value), in order."""
    losses: list[float] = field(default_factory=list)
    """Rank 0's training loss of every step (the loss-curve regression reads these)."""
    run_seconds: float = 0.0
    """run_start to run_stop, the slowest rank's clock."""
    throughput: list[float] = field(default_factory=list)
    """Global samples per second of each block's training."""
    check: Any = None
    """The logger's CheckResult (rank 0), None elsewhere."""

    @property
    def converged(self) -> bool:
        return self.status == "success"


def config_filename(bm_cls: type, preset: str) -> str:
    """``<the module that defines the preset>:<preset>``, relative to the repository: the file
    a reader opens to see the configuration of the run (MLPerf ``config_filename``)."""
    fn = bm_cls.presets.get(preset)
    module = (fn.__module__ if fn is not None else bm_cls.config_class.__module__).split(".")
    path = "/".join(module) + ".py"
    return f"{path}:{preset}" if preset else path


def _dtype_name(dtype: torch.dtype | None) -> str:
    return str(dtype).removeprefix("torch.")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Trainer:
    """Runs one benchmark once. ``logger`` is an ``MLPerfLogger`` for (benchmark, ruleset, div)."""

    def __init__(
        self,
        benchmark: Benchmark,
        logger,
        *,
        submission: SubmissionInfo | None = None,
        cache_cleared: bool = False,
        out=None,
    ) -> None:
        self.bm = benchmark
        self.ctx = benchmark.ctx
        self.loop = benchmark.cfg.loop
        self.logger = logger
        self.submission = submission or SubmissionInfo()
        self.cache_cleared = cache_cleared
        self.out = out if out is not None else sys.stderr  # the in-effect line (rank 0)
        self.device = self.ctx.device
        self.precision: Precision = make_precision(self.loop.precision, self.device)
        self.model: torch.nn.Module | None = None  # as trained (compiled / DDP-wrapped)
        self.compiled = "none"  # what build compiled: "none", "<n> blocks" or "whole"
        self.optimizer: torch.optim.Optimizer | None = None
        self.scheduler: Any = None
        self.data: DataSplits | None = None
        self.result = RunResult(status="aborted")
        self._run_t0 = 0.0
        self._stream = None  # samples_count benchmarks: one iterator across blocks
        if benchmark.progress_unit != logger.progress_unit:
            raise UsageError(
                f"{benchmark.name}: the benchmark counts progress in {benchmark.progress_unit} but "
                f"its logger writes {logger.progress_unit}: build the MLPerfLogger with "
                f"progress_unit={benchmark.progress_unit!r}"
            )
        self.accumulation = benchmark.gradient_accumulation_steps()
        per_step = self.ctx.world_size * self.accumulation
        if benchmark.global_batch_size() % per_step:
            raise UsageError(
                f"loop.gradient_accumulation_steps={self.accumulation}: the global batch "
                f"{benchmark.global_batch_size()} over {self.ctx.world_size} rank(s) does not "
                f"split into {self.accumulation} equal micro-batches; use a divisor of "
                f"{benchmark.global_batch_size() // self.ctx.world_size}"
            )

    # -- top level -----------------------------------------------------------------------------
    def train(self) -> RunResult:
        self.init()
        try:
            status = self.run()
        finally:
            if self.data is not None:
                self.data.close()
        return self.finish(status)

    def log_only(self):
        """The init section alone (submission keys, hyperparameters), then init_stop."""
        self.init(warm_up=False)  # nothing is trained: no steps (the model may be on meta)
        self.logger.end("init_stop", sync=True)
        return self.logger.finish(print_verdict=False)

    # -- init ----------------------------------------------------------------------------------
    def init(self, *, warm_up: bool = True) -> None:
        log = self.logger
        log.cache_clear(self.cache_cleared)
        log.init_start()
        log.submission_info(
            org=self.submission.org,
            platform=self.submission.platform,
            status=self.submission.status,
        )
        log.seed(self.ctx.seed)
        if self.loop.threads:
            torch.set_num_threads(self.loop.threads)
        self.build()
        self.bm.prepare_pipeline()
        if warm_up:
            self.warm_up()

    def build(self) -> None:
        # Same initial weights on every rank (DDP would broadcast rank 0's anyway).
        torch.manual_seed(derive_seed(self.ctx.seed, 0, "model"))
        model = self.bm.build_model()
        own = self.bm.parallelize(model)  # model parallel (TorchRec DMP): no compile/FSDP2/DDP
        model = model if own is None else own
        compile_fn = self._compiler() if own is None else None
        # Compile before any wrapper, so FSDP2's and DDP's hooks stay outside compiled code:
        # the repeated blocks (one graph serves them all) and the benchmark's loss.
        blocks = ddp.compile_blocks(model, compile_fn) if compile_fn else 0
        if compile_fn:
            self.bm.compile_loss(compile_fn)
        whole = compile_fn is not None and blocks == 0
        if self.loop.data_parallel == "fsdp2" and own is None:
            if whole:
                model = compile_fn(model)
            # fully_shard replaces the parameters by sharded ones: before the optimizer sees them.
            model = ddp.shard_model(model, param_dtype=self.precision.param_dtype)
        self.optimizer, self.scheduler = self.bm.build_optimizer(model)
        if self.loop.data_parallel == "ddp" and own is None:
            model = ddp.wrap_model(model, self.device)
            if whole:
                # DDP first: compiling DDP's module lets dynamo split the graph at DDP's
                # buckets, so each all-reduce overlaps the rest of backward. (DDP around a
                # compiled model sees every gradient at the end of backward.)
                model = compile_fn(model)
        self.model = model
        self.compiled = (
            "none" if compile_fn is None
            else f"{blocks} block{'s' if blocks > 1 else ''}" if blocks
            else "whole"
        )  # fmt: skip
        self.logger.hyperparameters(
            {
                "global_batch_size": self.bm.global_batch_size(),
                "gradient_accumulation_steps": self.bm.gradient_accumulation_steps(),
                **self.run_shape_keys(),
                **self.bm.hyperparameters(self.optimizer, self.scheduler),
            }
        )
        if self.ctx.rank == 0:
            print(f"mlperf-submit: in effect: {self.in_effect()}", file=self.out, flush=True)
        # Per-rank streams from here on (augmentation, dropout).
        torch.manual_seed(derive_seed(self.ctx.seed, self.ctx.rank, "train"))

    def _compiler(self):
        """``torch.compile`` with the configured backend, or None without ``loop.compile``."""
        if not self.loop.compile:
            return None
        backend = self.loop.compile_backend
        return lambda fn: torch.compile(fn, backend=backend)

    def in_effect(self) -> str:
        """One line on what runs, read back from the objects built (not the request): the
        optimizer implementation, the parameters' type and dtype, FSDP2's gather/reduce dtypes,
        what is compiled, the precision."""
        raw = ddp.unwrap(self.model)
        p = next(raw.parameters(), None)
        params = (
            "none" if p is None else f"{type(p).__name__} {str(p.dtype).removeprefix('torch.')}"
        )
        policies = (ddp.fsdp_policy(m) for m in raw.modules())
        policy = next((x for x in policies if x is not None), None)
        fsdp = ""
        if policy is not None:
            gather = policy.param_dtype or (p.dtype if p is not None else None)
            reduce = policy.reduce_dtype or gather
            fsdp = f", FSDP2 gather {_dtype_name(gather)} reduce {_dtype_name(reduce)}"
        return (
            f"optimizer {optim_impl(self.optimizer)}, parameters {params}{fsdp}, "
            f"precision {self.precision.name}, compiled {self.compiled}, "
            f"communication {MLPERF_DTYPE[ddp.communication_dtype(self.model)]}"
        )

    def run_shape_keys(self) -> dict[str, Any]:
        """The keys every benchmark logs from 6.0.0 on (common.yaml: optional in 6.0.0,
        required in 6.1.0): the precisions, parallel degrees and micro-batch in effect, read from
        the objects this loop built. Rulesets without them get none (they would be noise)."""
        wanted = rules_info.common_keys(self.logger.ruleset)
        linear = self.precision.lowest_matmul_precision()
        keys = {
            "lowest_numerical_precision_in_linear": linear,
            "lowest_numerical_precision_in_attn": linear,
            "lowest_numerical_precision_in_comm": MLPERF_DTYPE[ddp.communication_dtype(self.model)],
            **self.bm.parallelism(),
            "micro_batch_size": (
                self.bm.global_batch_size() // self.ctx.world_size // self.accumulation
            ),
            "config_filename": config_filename(type(self.bm), self.ctx.preset),
        }
        return {k: v for k, v in keys.items() if k in wanted}

    def warm_up(self) -> None:
        """Run a few steps on random tensors (kernels, compile), then restore every state."""
        if self.loop.warmup_steps <= 0:
            return
        raw = ddp.unwrap(self.model)
        saved = (
            copy.deepcopy(raw.state_dict()),
            copy.deepcopy(self.optimizer.state_dict()),
            copy.deepcopy(self.scheduler.state_dict()) if self.scheduler is not None else None,
            torch.get_rng_state(),
        )
        for _ in range(self.loop.warmup_steps):
            self.train_step(self.bm.warmup_batch())
        # An evaluation forward too: under torch.compile, no-grad eval is another graph (and
        # the eval batch another shape); compile it here rather than in the first timed eval.
        self.model.eval()
        with torch.no_grad(), self.precision.autocast():
            self.bm.eval_sums(self.model, self.bm.eval_warmup_batch())
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        raw.load_state_dict(saved[0])
        self.optimizer.load_state_dict(saved[1])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(saved[2])
        torch.set_rng_state(saved[3])
        _sync(self.device)

    # -- run -----------------------------------------------------------------------------------
    def run(self) -> str:
        self.logger.init_stop_run_start()
        self._run_t0 = time.perf_counter()
        self.data = self.bm.build_data()  # the first read of the dataset: after run_start
        self.logger.event("train_samples", self.data.train_samples)
        self.logger.event("eval_samples", self.data.eval_samples)
        for block in self.bm.blocks():
            self.train_block(block)
            self.bm.on_block_end(block)
            value = self.evaluate(block)
            if self.bm.reached_target(value):
                return "success"
            if self.should_stop():
                return "aborted"
        return "aborted"  # the plan's last block ended without reaching the target

    def _log_block(self, block: Block) -> tuple[int | float, int | float]:
        """The block's first progress value and count as logged."""
        if self.bm.blocks_in_samples:  # samples trained, logged as epoch fractions
            first = self.bm.epoch_progress(block.first)
            return first, self.bm.epoch_progress(block.end) - first
        # Epochs are logged 1-based (the references' convention, and what the RCPs count).
        first = block.first + 1 if self.bm.progress_unit == "epoch_num" else block.first
        return first, block.count

    def train_block(self, block: Block) -> None:
        self.model.train()
        steps: list[torch.Tensor] = []
        samples = 0
        _sync(self.device)
        t0 = time.perf_counter()
        with self.logger.block(*self._log_block(block)):
            if self.bm.progress_unit == "epoch_num" and not self.bm.blocks_in_samples:
                for epoch in range(block.first, block.end):
                    with self.logger.epoch(epoch + 1):
                        for batch in self.data.train_epoch(epoch):
                            loss, n = self.train_step(batch)
                            steps.append(loss)
                            samples += n
            else:
                samples = self._train_samples(block, steps)
            _sync(self.device)
        seconds = dist.all_reduce_max(time.perf_counter() - t0)
        global_samples = samples * self.ctx.world_size
        losses = [float(x) for x in torch.stack(steps).float().cpu()] if steps else []
        self.result.losses.extend(losses)
        rate = global_samples / seconds if seconds > 0 else 0.0
        self.result.throughput.append(rate)
        mean_loss = sum(losses) / len(losses) if losses else math.nan
        self.logger.event(
            "tracked_stats",
            {"throughput": round(rate, 3), "train_loss": round(mean_loss, 5)},
            {"step": block.end},
        )

    def _train_samples(self, block: Block, steps: list) -> int:
        """samples_count unit: train until the global sample count reaches the block's end."""
        local = 0
        needed = block.count
        while local * self.ctx.world_size < needed:
            if self._stream is None:
                self._stream = self._batches()
            batch = next(self._stream)
            loss, n = self.train_step(batch)
            steps.append(loss)
            local += n
        return local

    def _batches(self):
        epoch = 0
        while True:
            yield from self.data.train_epoch(epoch)
            epoch += 1

    def train_step(self, batch: Any) -> tuple[torch.Tensor, int]:
        """One optimizer step on this rank's step batch; returns its mean loss and size.

        With K > 1 accumulation steps the batch is split into K equal micro-batches, each run
        forward and backward with its (mean) loss scaled by 1/K, so the summed gradients are
        those of the whole batch's mean loss; DDP reduces them after the last one only."""
        k = self.accumulation
        micro = [batch] if k == 1 else self.bm.split_batch(batch, k)
        self.optimizer.zero_grad(set_to_none=True)
        losses, n = [], 0
        for i, part in enumerate(micro):
            last = i == k - 1
            with contextlib.nullcontext() if last else ddp.local_gradients(self.model):
                with self.precision.autocast():
                    loss, m = self.bm.loss(self.model, part)
                self.precision.backward(loss if k == 1 else loss / k)
            losses.append(loss.detach())
            n += m
        self.precision.step(self.optimizer)
        if self.scheduler is not None:
            self.scheduler.step()
        return (losses[0] if k == 1 else sum(losses[1:], losses[0]) / k), n

    def evaluate(self, block: Block) -> float:
        progress = block.end  # epochs completed (1-based) or samples trained
        if self.bm.blocks_in_samples:
            progress = self.bm.epoch_progress(block.end)
        self.model.eval()
        sums = None
        with self.logger.eval(progress) as ev, torch.no_grad(), self.precision.autocast():
            for batch in self.data.eval_batches():
                s = self.bm.eval_sums(self.model, batch).double()
                sums = s if sums is None else sums + s
            if sums is None:
                raise RuntimeError("evaluation produced no batch on this rank")
            value = float(self.bm.metric(ddp.all_reduce_sum(sums).cpu()))
            ev.accuracy(value)
        self.model.train()
        self.result.evals.append((progress, value))
        return value

    def should_stop(self) -> bool:
        """True when the wall-clock budget (loop.max_minutes) is spent, the same on all ranks."""
        if self.loop.max_minutes <= 0:
            return False
        elapsed = dist.all_reduce_max(time.perf_counter() - self._run_t0)
        return elapsed >= self.loop.max_minutes * 60

    # -- finish --------------------------------------------------------------------------------
    def finish(self, status: str) -> RunResult:
        _sync(self.device)
        self.result.run_seconds = dist.all_reduce_max(time.perf_counter() - self._run_t0)
        self.result.status = status
        self.result.check = self.logger.run_stop(status)
        return self.result
