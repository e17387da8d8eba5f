"""What the MFU benches share: the dtypes they take, a device sync, the measured matmul peak
they divide by, and the fused-attention guard (imported by the bench scripts; not a script)."""

from __future__ import annotations

import contextlib
import time

import torch

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def sync(device: torch.device) -> None:
    """Wait for the device's queued work, so a wall-clock interval covers it (CPU: nothing)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_flops(n: int, dtype: torch.dtype, device: torch.device, reps: int = 4) -> float:
    """FLOP/s of an ``n``^3 matmul in ``dtype``, best of ``reps`` after one untimed call
    (allocation and kernel selection): what this device reaches with the threads in effect."""
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    a @ b
    best = float("inf")
    for _ in range(reps):
        sync(device)
        t = time.perf_counter()
        a @ b
        sync(device)
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best


def fused_attention(device: torch.device, compiled: bool = False):
    """On a GPU without compile, only the fused attention kernels: a silent fall-back to the
    math kernel (seq^2 scores per head in memory) would make the figure meaningless."""
    if device.type != "cuda" or compiled:
        return contextlib.nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel

    fused = [SDPBackend.FLASH_ATTENTION, SDPBackend.CUDNN_ATTENTION,
             SDPBackend.EFFICIENT_ATTENTION]  # fmt: skip
    return sdpa_kernel(fused)
