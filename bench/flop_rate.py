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


class TimedStep:
    """One training step, timed: the loss under autocast (and, with ``guard_attention``, only
    fused attention kernels), backward, optimizer and scheduler steps, synced both ends.
    A bench's step sets ``model``, ``opt``, ``sched``, ``device``, ``dtype``, ``compiled`` and
    ``flops`` (model FLOPs of one step), and says what ``loss()`` is."""

    guard_attention = True
    compiled = False

    def loss(self) -> torch.Tensor:
        raise NotImplementedError

    def __call__(self) -> float:
        sync(self.device)
        t = time.perf_counter()
        on = self.dtype != torch.float32
        guard = (
            fused_attention(self.device, self.compiled)
            if self.guard_attention
            else contextlib.nullcontext()
        )
        with torch.autocast(self.device.type, dtype=self.dtype, enabled=on), guard:
            loss = self.loss()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.sched.step()
        sync(self.device)
        return time.perf_counter() - t


def interleaved_rounds(step: TimedStep, *, rounds: int, steps: int, peak_n: int) -> tuple:
    """(best matmul peak, best step time) over ``rounds`` that each measure the peak then
    ``steps`` steps, so another process's load hits both sides; one line per round."""
    best_peak, best_step = 0.0, float("inf")
    for r in range(rounds):
        peak = peak_flops(peak_n, step.dtype, step.device, reps=4)
        times = [step() for _ in range(steps)]
        best_peak, best_step = max(best_peak, peak), min(best_step, min(times))
        print(
            f"round {r}: peak {peak / 1e9:8.1f} GFLOP/s   step {min(times):7.3f} s "
            f"-> {step.flops / min(times) / 1e9:8.1f} GFLOP/s"
        )
    return best_peak, best_step
