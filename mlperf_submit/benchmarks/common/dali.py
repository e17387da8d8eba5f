"""NVIDIA DALI, imported once and on demand (an optional extra: ``pip install -e '.[dali]'``).

The import takes seconds, so a benchmark calls ``import_dali`` at init (paid before
``run_start``), and a missing DALI is an input error that names the torch fall-back, not an
ImportError in the middle of a run.
"""

from __future__ import annotations

from mlperf_submit.errors import InputError


def available() -> bool:
    """Whether DALI can be imported here (``data.loader=auto`` picks it then)."""
    try:
        import nvidia.dali  # noqa: F401
    except ImportError:
        return False
    return True


def _missing(fallback: str) -> InputError:
    return InputError(
        f"data.loader=dali needs NVIDIA DALI: pip install -e '.[dali]' (or data.loader=torch "
        f"for {fallback})"
    )


def import_dali(fallback: str):
    """``(fn, pipeline_def, types)``; ``fallback`` names the torch pipeline in the error."""
    try:
        from nvidia.dali import fn, pipeline_def, types
    except ImportError:
        raise _missing(fallback) from None
    return fn, pipeline_def, types


def import_dali_pytorch(fallback: str):
    """``(DALIGenericIterator, LastBatchPolicy)`` of DALI's PyTorch plugin."""
    import_dali(fallback)
    try:
        from nvidia.dali.plugin.pytorch import DALIGenericIterator, LastBatchPolicy
    except ImportError:
        raise _missing(fallback) from None
    return DALIGenericIterator, LastBatchPolicy
