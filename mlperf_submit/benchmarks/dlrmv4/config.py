"""DLRMv4 (HSTU on Yambda-5b) run configurations and named presets.

    mlperf-submit train dlrmv4 --preset tiny --seed 1 --log run.log --synthetic /tmp/syn
        2 CPU cores, a synthetic Yambda in the reference's processed layout (docstring of tiny).
    torchrun --nproc-per-node 8 -m mlperf_submit train dlrmv4 \\
        --preset config_DGXH100_1x8x1024 --data /data/mlperf_dlrm_v4 --seed S --log run.log
        one 8-GPU node, global batch 8,192, LR 1e-6: the reference's RCP recipe.

Override any field with dotted keys: ``optim.lr=2e-6 data.global_batch_size=16384``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from mlperf_submit.benchmarks.common.config import LoopConfig
from mlperf_submit.errors import UsageError

# (name, fields hashed, rows): the reference's YAMBDA_5B_CROSS_SPECS (salt 0).
CROSS_SPECS = (
    ("user_x_artist", ("uid", "artist_id"), 100_000_000),
    ("user_x_album", ("uid", "album_id"), 40_000_000),
    ("user_x_hour", ("uid", "hour_of_day"), 24_000_000),
    ("item_x_hour", ("item_id", "hour_of_day"), 40_000_000),
    ("artist_x_hour", ("artist_id", "hour_of_day"), 32_000_000),
    ("user_x_is_organic", ("uid", "is_organic"), 2_000_000),
    ("user_x_artist_x_hour", ("uid", "artist_id", "hour_of_day"), 40_000_000),
)
YAMBDA_TABLES = {"item_id": 9_390_624, "artist_id": 1_293_395, "album_id": 3_367_692}
YAMBDA_USERS = 1_000_001
YAMBDA_TRAIN_SAMPLES = 2_290_835_423
YAMBDA_EVAL_SAMPLES = 2_058_204


@dataclass
class ModelConfig:
    table_dim: int = 512
    """Embedding dimension of every table (hstu_embedding_table_dim)."""
    dim: int = 512
    """HSTU transducer width."""
    num_layers: int = 3
    num_heads: int = 4
    qk_dim: int = 128
    """Per-head query/key width (hstu_attn_qk_dim)."""
    linear_dim: int = 128
    """Per-head U/V width (hstu_attn_linear_dim)."""
    preprocessor_hidden_dim: int = 256
    action_embedding_dim: int = 8
    input_dropout: float = 0.2
    linear_dropout: float = 0.1
    max_seq_len: int = 4096
    """Positions per sample: 8 contextual + history + 1 candidate (logged max_sequence_length)."""
    position_buckets: int = 8192
    time_buckets: int = 2048
    items: int = YAMBDA_TABLES["item_id"]
    artists: int = YAMBDA_TABLES["artist_id"]
    albums: int = YAMBDA_TABLES["album_id"]
    users: int = YAMBDA_USERS
    cross_rows: tuple[int, ...] = tuple(n for _, _, n in CROSS_SPECS)
    """Rows of the 7 cross tables (the hash is taken modulo these)."""
    causal_multitask_weight: float = 0.2

    def validate(self) -> None:
        if self.dim % 1 or min(self.dim, self.table_dim, self.num_layers, self.num_heads) < 1:
            raise UsageError("model: dim, table_dim, num_layers, num_heads must be >= 1")
        if len(self.cross_rows) != len(CROSS_SPECS):
            raise UsageError(f"model.cross_rows needs {len(CROSS_SPECS)} values")
        if not 0 <= self.input_dropout < 1 or not 0 <= self.linear_dropout < 1:
            raise UsageError("model: dropout ratios must be in [0, 1)")


@dataclass
class OptimConfig:
    """Adam on the dense part, FBGEMM's fused row-wise Adagrad on the tables, one LR ramp."""

    lr: float = 1e-6
    """The dense (Adam) target LR the warm-up ramps to."""
    sparse_lr: float = 1e-6
    """The tables' (row-wise Adagrad) target LR; closed: equal to lr."""
    beta1: float = 0.95
    beta2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 0.0
    sparse_eps: float = 1e-8
    grad_clip: float = 1.0
    """Max L2 norm of the dense gradients (0: none); the tables are not clipped."""
    warmup_steps: int = 24000
    warmup_start_lr: float = 0.0

    def validate(self) -> None:
        if self.lr <= 0 or self.sparse_lr <= 0 or self.eps <= 0 or self.sparse_eps <= 0:
            raise UsageError("optim: lr, sparse_lr, eps, sparse_eps must be > 0")
        if self.warmup_steps < 0 or self.grad_clip < 0 or self.warmup_start_lr < 0:
            raise UsageError("optim: warmup_steps, grad_clip, warmup_start_lr must be >= 0")


@dataclass
class DataConfig:
    global_batch_size: int = 8192
    """Sequences per step over all ranks (the reference's BATCH_SIZE x world size; the
    closed LR band and first evaluation follow it); each rank takes an equal share."""
    eval_batch_size: int = 1024
    """Per-rank evaluation batch."""
    history_length: int = 4086
    """UIH budget: the last history_length // 3 events of each pool (listen+, like, skip)."""
    min_history: int = 4086
    """An anchor is a LISTEN event with at least this many earlier events of its user."""
    scan_window: int = 20000
    window_seconds: int = 86400
    start_ts: int = 0
    num_train_ts: int = 299
    """Train windows start_ts .. start_ts + num_train_ts - 1; the next window is evaluated."""
    train_samples: int = YAMBDA_TRAIN_SAMPLES
    """Training anchors expected; 0: whatever the data holds (synthetic presets)."""
    eval_samples: int = YAMBDA_EVAL_SAMPLES
    """Evaluation anchors expected; 0: whatever the data holds."""
    processed_dir: str = "processed_5b"
    synthetic_users: int = 64
    synthetic_days: int = 8
    synthetic_events_per_day: int = 24
    synthetic_signal: float = 2.0
    synthetic_seed: int = 0

    def validate(self) -> None:
        if min(self.global_batch_size, self.eval_batch_size, self.history_length) < 1:
            raise UsageError("data.global_batch_size, eval_batch_size, history_length must be >= 1")
        if self.num_train_ts < 1 or self.start_ts < 0 or self.window_seconds < 1:
            raise UsageError("data: num_train_ts >= 1, start_ts >= 0, window_seconds >= 1")


@dataclass
class ScheduleConfig:
    eval_every_data_pct: float = 0.001
    """Evaluate every ceil(pct x train_samples / global batch) steps (closed: 0.001)."""
    first_eval: str = "rules"
    """rules: the first eval at the grid point closed_dlrmv4.yaml's FIRST_CHECK computes,
    ceil(floor((4480 GBS + 135331840) / 3) / interval) x interval samples; grid: the first
    grid point."""
    max_samples: int = YAMBDA_TRAIN_SAMPLES
    """Budget in training samples (one pass of the stream); 0: the data's train_samples."""
    sharding: str = "auto"
    """TorchRec sharding of the tables under a process group: auto (the planner chooses a
    model-parallel type per table), table_wise, row_wise, column_wise, table_row_wise."""

    def validate(self) -> None:
        if not 0 < self.eval_every_data_pct <= 1:
            raise UsageError("schedule.eval_every_data_pct must be in (0, 1]")
        if self.first_eval not in ("rules", "grid"):
            raise UsageError(f"schedule.first_eval={self.first_eval!r}: use rules or grid")


@dataclass
class DLRMv4Config:
    target: float | None = None
    """Stop at this AUC; None = the closed target (0.75)."""
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    data: DataConfig = field(default_factory=DataConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    loop: LoopConfig = field(default_factory=LoopConfig)

    def validate(self) -> None:
        budget = self.data.history_length // 3 * 3 + len(CROSS_SPECS) + 1 + 1
        if budget > self.model.max_seq_len:
            raise UsageError(
                f"data.history_length={self.data.history_length}: 3 pools of "
                f"{self.data.history_length // 3} + 8 contextual + 1 candidate = {budget} "
                f"positions exceed model.max_seq_len={self.model.max_seq_len}"
            )


def eval_interval(train_samples: int, global_batch: int, pct: float) -> int:
    """Samples between evaluations: the reference's data_pct_to_global_steps, in samples."""
    return max(1, math.ceil(pct * train_samples / global_batch)) * global_batch


def rules_first_eval(global_batch: int, interval: int) -> int:
    """closed_dlrmv4.yaml's first_eval_samples (FIRST_CHECK) for this batch and grid."""
    return math.ceil(((4480 * global_batch + 135331840) // 3) / interval) * interval


def lr_band(global_batch: int) -> tuple[float, float]:
    """closed/open_dlrmv4.yaml's LR band: 0.5x to 1.5x of 1e-6 x GBS / 8192."""
    return 0.5e-6 * global_batch / 8192, 1.5e-6 * global_batch / 8192


CLOSED_MODEL = ModelConfig()


def closed_problems(cfg: DLRMv4Config) -> list[str]:
    """What closed_dlrmv4.yaml (6.1.0) and the reference fix, in ``cfg``."""
    o, d, s = cfg.optim, cfg.data, cfg.schedule
    out = []
    fixed = {"beta1": 0.95, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0, "grad_clip": 1.0}
    fixed |= {"warmup_steps": 24000, "warmup_start_lr": 0.0, "sparse_eps": 1e-8}
    for name, want in fixed.items():
        if getattr(o, name) != want:
            out.append(f"optim.{name}={getattr(o, name)}: closed requires {want}")
    if o.sparse_lr != o.lr:
        out.append(f"optim.sparse_lr={o.sparse_lr}: closed requires optim.lr ({o.lr})")
    if cfg.model != CLOSED_MODEL:
        out.append("model: closed requires the reference HSTU (the default model.* values)")
    if (d.history_length, d.min_history, d.window_seconds) != (4086, 4086, 86400):
        out.append(
            "data.history_length/min_history/window_seconds: closed requires 4086/4086/86400"
        )
    if (d.start_ts, d.num_train_ts) != (0, 299):
        out.append(
            f"data.start_ts={d.start_ts}, num_train_ts={d.num_train_ts}: closed requires 0, 299"
        )
    if (d.train_samples, d.eval_samples) != (YAMBDA_TRAIN_SAMPLES, YAMBDA_EVAL_SAMPLES):
        out.append(
            f"data.train_samples={d.train_samples}: closed requires Yambda-5b "
            f"({YAMBDA_TRAIN_SAMPLES} / {YAMBDA_EVAL_SAMPLES} eval)"
        )
    if s.eval_every_data_pct != 0.001 or s.first_eval != "rules":
        out.append("schedule.eval_every_data_pct/first_eval: closed requires 0.001 and rules")
    gbs = d.global_batch_size
    lo, hi = lr_band(gbs)
    if not lo * (1 - 1e-9) <= o.lr <= hi * (1 + 1e-9):
        out.append(f"optim.lr={o.lr}: closed requires {lo:g} .. {hi:g} at global batch {gbs}")
    return out


def tiny() -> DLRMv4Config:
    """HSTU at 1/32 width (dim 16, 2 layers, 2 heads, 32 positions) on a synthetic Yambda of
    64 users x 8 days x 24 events (8,088 training anchors in 6 windows, 1,363 evaluated), one CPU
    process (tables stepped: TorchRec's FusedEmbeddingCollection is CUDA-only), 2 CPU cores.

    Through the Trainer (``tests/benchmarks/dlrmv4/test_dlrmv4_run.py``; ``train dlrmv4`` once
    the registry lists it): AUC >= 0.75 at the 2nd or 3rd evaluation (1,792-2,688 samples),
    1.2-3.1 s of run time (seeds 1-12, load average 6-8 from other jobs). Its log fails 6.1.0's
    open rules that pin Yambda-5b (train/eval samples, the LR band) and nothing else.
    """
    return DLRMv4Config(
        target=0.75,  # open_dlrmv4.yaml's own bound
        model=ModelConfig(
            table_dim=16,
            dim=16,
            num_layers=2,
            num_heads=2,
            qk_dim=8,
            linear_dim=8,
            preprocessor_hidden_dim=16,
            action_embedding_dim=4,
            input_dropout=0.0,
            linear_dropout=0.0,
            max_seq_len=32,
            position_buckets=64,
            time_buckets=64,
            items=200,
            artists=20,
            albums=40,
            users=64,
            cross_rows=(512, 512, 256, 512, 256, 128, 512),
        ),
        optim=OptimConfig(lr=1e-2, sparse_lr=1e-1, warmup_steps=10),
        data=DataConfig(
            global_batch_size=128,
            eval_batch_size=512,
            history_length=21,
            min_history=8,
            scan_window=200,
            window_seconds=86400,
            start_ts=0,
            num_train_ts=6,
            train_samples=0,
            eval_samples=0,
            synthetic_signal=3.0,
        ),
        schedule=ScheduleConfig(eval_every_data_pct=0.1, first_eval="grid", max_samples=0),
        loop=LoopConfig(device="cpu", threads=1),
    )


def small() -> DLRMv4Config:
    """The full HSTU block (dim 512, 3 layers, 4 heads, 128/128) on 54-event histories (64
    positions) with tables of 5,000-20,000 rows: the throughput preset of
    ``bench/recsys_throughput.py`` (the CPU cannot afford 4,096 positions)."""
    return DLRMv4Config(
        target=0.75,
        model=ModelConfig(
            max_seq_len=64,
            items=20_000,
            artists=5_000,
            albums=10_000,
            users=5_000,
            cross_rows=(10_000,) * len(CROSS_SPECS),
        ),
        optim=OptimConfig(lr=1e-3, sparse_lr=1e-2, warmup_steps=100),
        data=DataConfig(
            global_batch_size=64,
            eval_batch_size=256,
            history_length=54,
            min_history=64,
            scan_window=4000,
            num_train_ts=6,
            train_samples=0,
            eval_samples=0,
            synthetic_users=512,
            synthetic_events_per_day=96,
        ),
        schedule=ScheduleConfig(eval_every_data_pct=0.25, first_eval="grid", max_samples=0),
    )


def config_DGXH100_1x8x1024() -> DLRMv4Config:  # noqa: N802 - the MLPerf naming convention
    """One 8-GPU node (H100/H200), 1,024 sequences per GPU (global 8,192), LR 1e-6 for both.

    ``torchrun --nproc-per-node 8 -m mlperf_submit train dlrmv4 --preset
    config_DGXH100_1x8x1024 --data /data/mlperf_dlrm_v4 --seed S --log run.log``: the
    reference's RCP point at 8,192 (RCP mean 69.3M samples). Not run here (no GPUs; the
    full-length attention needs the reference's jagged Triton kernel to fit): its
    ``--log-only`` init section passes closed_dlrmv4.yaml (the contract test).
    """
    return DLRMv4Config(loop=LoopConfig(device="cuda", precision="bf16"))


def config_DGXH100_2x8x1024() -> DLRMv4Config:  # noqa: N802
    """Two 8-GPU nodes, global batch 16,384, LR 2e-6 (the reference's second RCP point)."""
    return DLRMv4Config(
        optim=OptimConfig(lr=2e-6, sparse_lr=2e-6),
        data=DataConfig(global_batch_size=16384),
        loop=LoopConfig(device="cuda", precision="bf16"),
    )


PRESETS: dict[str, Callable[[], DLRMv4Config]] = {
    "tiny": tiny,
    "small": small,
    "config_DGXH100_1x8x1024": config_DGXH100_1x8x1024,
    "config_DGXH100_2x8x1024": config_DGXH100_2x8x1024,
}
