"""File names of the MLPerf C4 preprocessing output, and finding them in a data directory.

The reference's preprocessing writes Megatron indexed datasets named
``c4-train.en_<k>_text_document.{bin,idx}`` (the LLM benchmarks train on shards 6 and 7) and
``c4-validation-91205-samples.en_text_document.{bin,idx}``; the synthetic generator writes
shard 6 and the validation file under the same names.
"""

from __future__ import annotations

from pathlib import Path

from mlperf_submit.errors import InputError

TRAIN_PREFIX = "c4-train.en_6_text_document"
VALIDATION_PREFIX = "c4-validation-91205-samples.en_text_document"


def is_dataset(root: Path) -> bool:
    return (Path(root) / f"{VALIDATION_PREFIX}.idx").is_file()


def train_prefixes(root: Path) -> list[str]:
    """The training files of a C4 directory: every ``c4-train.en_<k>_text_document``, in k order
    (the reference trains on the merged shards 6 and 7; a synthetic directory has shard 6)."""
    found = sorted(
        Path(root).glob("c4-train.en_*_text_document.idx"),
        key=lambda p: (len(p.name), p.name),
    )
    if not found:
        raise InputError(
            f"{root}: no c4-train.en_<k>_text_document.idx/.bin (the MLPerf C4 preprocessing "
            "output); pass --data <its directory> or --synthetic DIR"
        )
    return [str(p.with_suffix("")) for p in found]


def validation_prefix(root: Path) -> str:
    prefix = Path(root) / VALIDATION_PREFIX
    if not Path(f"{prefix}.idx").is_file():
        raise InputError(f"{root}: no {VALIDATION_PREFIX}.idx/.bin (the MLPerf C4 validation set)")
    return str(prefix)
