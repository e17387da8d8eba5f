"""Yardsticks for a GPU throughput figure: datasheet peaks, and what published results imply.

    peak = datasheet_bf16_peak(torch.cuda.get_device_name())  # 989e12 on "NVIDIA H200"
    mfu = achieved_flops_per_s / peak
    ref = LLAMA31_8B_PUBLISHED          # tokens/s per GPU of a real v5.1 closed result
    run_tokens_per_gpu_s(result_file, gpus=64)  # how that figure is derived from the log

Two peaks answer two questions. A matmul measured on the machine (``bench/llama_mfu.py``
times an 8192^3 bf16 product: ~790 TFLOP/s on an H200) says how close the training step comes
to what this GPU really sustains; the datasheet's dense bf16 peak (989 TFLOP/s on H100/H200
SXM) is the denominator everyone else quotes as MFU, and reads ~0.8 x the first ratio. Print
both.

A published time-to-train implies a per-GPU throughput: samples trained (run_stop's
``samples_count``) x ``max_sequence_length`` tokens / (run_stop - run_start) / GPUs. That is
the figure a one-GPU measurement of the same model is held against (it includes the
evaluations, ~3 % of the run, and the communication of a 64-GPU job).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from mlperf_submit.compliance.parser import LogLine, iter_file
from mlperf_submit.errors import InputError

# Dense (no sparsity) bf16 tensor-core peaks from NVIDIA's datasheets, TFLOP/s, matched against
# torch.cuda.get_device_name() in order (the first substring found wins: the PCIe/NVL
# variants before the SXM name they contain).
_BF16_DENSE_TFLOPS = (
    ("H200 NVL", 835.0),
    ("H200", 989.0),  # H200 SXM ("NVIDIA H200")
    ("H100 NVL", 835.0),
    ("H100 PCIe", 756.0),
    ("H100", 989.0),  # H100 SXM ("NVIDIA H100 80GB HBM3")
    ("A100", 312.0),
)


def datasheet_bf16_peak(device_name: str) -> float | None:
    """The datasheet's dense bf16 FLOP/s of a GPU named like ``torch.cuda.get_device_name()``,
    or None for a GPU not in the table."""
    for part, tflops in _BF16_DENSE_TFLOPS:
        if part.lower() in device_name.lower():
            return tflops * 1e12
    return None


@dataclass(frozen=True)
class PublishedRun:
    """The per-GPU throughput one published result implies, and where it comes from."""

    source: str
    """The result file, relative to the corpus root (a copy of mlcommons/training_results_*)."""
    system: str
    gpus: int
    tokens_per_gpu_s: float
    """Derived by :func:`run_tokens_per_gpu_s` (tests/benchmarks/common/test_throughput.py
    recomputes it from the corpus)."""

    def describe(self) -> str:
        return (
            f"{self.tokens_per_gpu_s / 1e3:.1f}k tokens/s per GPU published "
            f"({self.system}, {self.gpus} GPUs; {self.source})"
        )


# v5.1 closed, HPE Cray XD670, 8 nodes x 8 H200-SXM5-141GB: global batch 32 x 8192 tokens,
# 196,608 sequences (6,144 steps) in 2,241.9 s. Its ten runs all imply 11,223-11,229.
LLAMA31_8B_PUBLISHED = PublishedRun(
    source="v5.1/closed/HPE/results/HPE-Cray-XD670-H200-SXM5-141GB_n8_25.09/llama31_8b/result_1.txt",
    system="HPE Cray XD670, 8 x 8 H200-SXM5-141GB",
    gpus=64,
    tokens_per_gpu_s=11225.0,
)


def run_tokens_per_gpu_s(path: str | os.PathLike, gpus: int) -> float:
    """Tokens per second per GPU over a result log's run: run_stop's ``samples_count`` x the
    logged ``max_sequence_length`` / (run_stop - run_start) / ``gpus``."""
    start = stop = samples = seq_len = None
    for line in iter_file(path):
        if not isinstance(line, LogLine):
            continue
        if line.key == "run_start" and start is None:
            start = line.timestamp
        elif line.key == "run_stop" and stop is None:
            stop, samples = line.timestamp, line.metadata.get("samples_count")
        elif line.key == "max_sequence_length":
            seq_len = line.val
    missing = [
        name
        for name, v in (("run_start", start), ("run_stop", stop), ("run_stop samples_count",
                        samples), ("max_sequence_length", seq_len))
        if v is None
    ]  # fmt: skip
    if missing:
        raise InputError(f"{path}: no {', '.join(missing)}: cannot derive a throughput")
    return float(samples) * float(seq_len) / ((stop - start) / 1000.0) / gpus
