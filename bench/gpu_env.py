"""One line on the GPU machine a device check runs on: the GPU, torch and what is installed.

    python3 bench/gpu_env.py            # RESULT env: NVIDIA H200 (139.8 GiB, sm_90) ...
    python3 bench/gpu_env.py --dry-run  # arguments only

The optional parts of the product are reported as present or absent (never required here):
NVIDIA DALI (the ResNet pipeline; the DataLoader replaces it), mlperf-logging (the Trainer's
logger needs its rule files), apex (the fused optimizers of NGC containers).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import sys


def version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def first_version(*dists: str) -> str:
    for d in dists:
        v = version(d)
        if v:
            return f"{d} {v}"
    return "absent"


def driver() -> str:
    try:
        import pynvml  # nvidia-ml-py

        pynvml.nvmlInit()
        v = pynvml.nvmlSystemGetDriverVersion()
        return v.decode() if isinstance(v, bytes) else str(v)
    except Exception:  # no NVML: the driver stays unnamed rather than failing the line
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dry-run", action="store_true", help="check the arguments, run nothing")
    args = ap.parse_args(argv)
    if args.dry_run:
        print("ok: env")
        return 0
    import torch

    cuda = torch.cuda.is_available()
    if cuda:
        p = torch.cuda.get_device_properties(0)
        gpu = (
            f"{p.name} ({p.total_memory / 2**30:.1f} GiB, sm_{p.major}{p.minor}, "
            f"{torch.cuda.device_count()} visible, driver {driver()})"
        )
        nccl = ".".join(map(str, torch.cuda.nccl.version()))
        runtime = f"CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}, NCCL {nccl}"
    else:
        gpu, runtime = "no CUDA device", "CPU build" if torch.version.cuda is None else "no GPU"
    apex = "present" if importlib.util.find_spec("apex") else "absent"
    print(
        f"RESULT env: {gpu}; torch {torch.__version__} ({runtime}); Python "
        f"{sys.version.split()[0]}; DALI {first_version('nvidia-dali-cuda130', 'nvidia-dali-cuda120')}"
        f"; mlperf-logging {version('mlperf-logging') or 'absent'}; apex {apex}"
    )
    return 0 if cuda else 1


if __name__ == "__main__":
    sys.exit(main())
