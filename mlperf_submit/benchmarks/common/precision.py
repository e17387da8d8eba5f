"""Mixed precision: autocast for the forward pass and a grad scaler for fp16, GPU only.

On CPU the loop runs fp32 whatever the config asks (CPU bf16 autocast is slow for convolutions
on most CPUs and the tiny presets are about correctness, not speed); the effective precision is
reported by :attr:`Precision.name` so nothing pretends otherwise.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
# torch dtypes -> the MLPerf lowest_numerical_precision_* vocabulary (common.yaml 6.x).
MLPERF_DTYPE = {
    torch.float64: "fp64",
    torch.float32: "fp32",
    torch.bfloat16: "bfloat16",
    torch.float16: "fp16",
}


@dataclass
class Precision:
    name: str
    """The precision in effect: fp32, bf16 or fp16."""
    device_type: str
    scaler: torch.amp.GradScaler | None = None

    def lowest_matmul_precision(self) -> str:
        """The MLPerf name of the lowest precision matmuls run in: the autocast dtype, or fp32 --
        tf32 on a GPU whose fp32 matmuls are allowed to use TensorFloat-32."""
        if self.name != "fp32":
            return MLPERF_DTYPE[_DTYPES[self.name]]
        if self.device_type == "cuda" and torch.get_float32_matmul_precision() != "highest":
            return "tf32"
        return "fp32"

    @property
    def param_dtype(self) -> torch.dtype | None:
        """The dtype the weights take part in the forward pass in (bf16/fp16 under autocast),
        None for fp32: FSDP2 gathers its shards in this dtype (``parallel.shard_model``)."""
        return _DTYPES.get(self.name)

    def autocast(self):
        if self.name == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=_DTYPES[self.name])

    def backward(self, loss: torch.Tensor) -> None:
        """Accumulate the gradients of ``loss`` (scaled under fp16)."""
        if self.scaler is None:
            loss.backward()
        else:
            self.scaler.scale(loss).backward()

    def step(self, optimizer: torch.optim.Optimizer) -> None:
        """One optimizer step on the accumulated gradients (unscaled and checked under fp16)."""
        if self.scaler is None:
            optimizer.step()
        else:
            self.scaler.step(optimizer)
            self.scaler.update()


def make_precision(requested: str, device: torch.device) -> Precision:
    if device.type != "cuda" or requested == "fp32":
        return Precision("fp32", device.type)
    scaler = torch.amp.GradScaler("cuda") if requested == "fp16" else None
    return Precision(requested, device.type, scaler)
