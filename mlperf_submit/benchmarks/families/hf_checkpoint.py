"""Hugging Face checkpoint directories (safetensors), read shard by shard into our parameters.

The layout of ``meta-llama/Llama-2-70b-hf`` and of every large HF model::

    config.json                          the architecture (and ``torch_dtype``)
    model.safetensors.index.json         {"metadata": {"total_size": N},
                                          "weight_map": {tensor name: shard file}}
    model-00001-of-00015.safetensors ... the tensors
    (or a single model.safetensors without an index)

A benchmark maps each of its parameter names to a :class:`Source` (a checkpoint tensor, or a
row range of one: a fused ``qkv_proj`` feeds three of our projections), or to several Sources
that fill row ranges of the parameter (three ``q/k/v_proj`` tensors feed one fused ``wqkv``),
and calls :func:`load_checkpoint`. Each shard file is opened once, memory-mapped by ``safetensors``; for a
parameter sharded by FSDP2 (a DTensor) only the rows this rank holds are read, so a 70B model is
never whole on one rank. Every problem is an :class:`InputError` naming the tensor and the file:
a missing shard, a tensor absent from the index, a shape that differs from the model's, a dtype
other than the one ``config.json`` declares.

:func:`save_checkpoint` writes the same layout (the synthetic data generators use it to ship a
tiny *pretrained* base model for fine-tuning benchmarks).
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from mlperf_submit.errors import InputError, UsageError

INDEX = "model.safetensors.index.json"
SINGLE = "model.safetensors"
CONFIG = "config.json"

_DTYPES = {
    "float32": torch.float32,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "F64": torch.float64,
    "I64": torch.int64,
    "I32": torch.int32,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}


@dataclass(frozen=True)
class Source:
    """Where one parameter (or rows of it) comes from: a checkpoint tensor, or rows
    ``[start, stop)`` of it."""

    tensor: str
    rows: tuple[int, int] | None = None
    """Rows of the checkpoint tensor (None: all of it)."""
    into: tuple[int, int] | None = None
    """Rows ``[start, stop)`` of the *parameter* this source fills (None: all of it). A
    parameter fed by several sources lists them in a tuple whose ``into`` ranges tile its rows."""


SourceMap = Mapping[str, "Source | Sequence[Source]"]
"""Our parameter name -> its source, or the sources that fill its row ranges."""


def _parts(name: str, entry, param) -> tuple[Source, ...]:
    """The sources of one parameter, checked to fill its rows exactly once."""
    parts = (entry,) if isinstance(entry, Source) else tuple(entry)
    if len(parts) == 1 and parts[0].into is None:
        return parts
    rows = param.shape[0] if param.dim() else 0
    spans = sorted(p.into or (0, rows) for p in parts)
    edge = 0
    for start, stop in spans:
        if start != edge or stop <= start:
            break
        edge = stop
    if edge != rows or not spans:
        raise UsageError(
            f"checkpoint name map: the sources of {name} fill rows {spans}, not [0, {rows}) once"
        )
    return parts


@dataclass
class LoadReport:
    loaded: list[str] = field(default_factory=list)
    """Our parameter names that were filled."""
    unused: list[str] = field(default_factory=list)
    """Checkpoint tensors no parameter asked for (buffers such as ``rotary_emb.inv_freq``)."""
    files: list[str] = field(default_factory=list)
    """Shard files opened, in order."""


@dataclass(frozen=True)
class CheckpointIndex:
    directory: Path
    weight_map: dict[str, str]
    """Tensor name -> shard file name (relative to ``directory``)."""
    config: dict
    index_file: Path | None

    @property
    def dtype(self) -> torch.dtype | None:
        """``torch_dtype`` (or transformers 5's ``dtype``) of config.json, when it names one."""
        name = self.config.get("torch_dtype", self.config.get("dtype"))
        return _DTYPES.get(name) if isinstance(name, str) else None

    def where(self, tensor: str) -> str:
        """The file a message about ``tensor`` should name."""
        shard = self.weight_map.get(tensor)
        if shard is not None:
            return str(self.directory / shard)
        return str(self.index_file or self.directory / SINGLE)


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise InputError(f"{path}: not readable JSON ({err})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object, found {type(data).__name__}")
    return data


def read_index(directory: str | os.PathLike) -> CheckpointIndex:
    """The weight map of a checkpoint directory (sharded with an index, or one file)."""
    from safetensors import safe_open

    d = Path(directory)
    if not d.is_dir():
        raise InputError(f"{d}: not a checkpoint directory")
    config = _read_json(d / CONFIG) if (d / CONFIG).is_file() else {}
    if (d / INDEX).is_file():
        raw = _read_json(d / INDEX).get("weight_map")
        if not isinstance(raw, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
        ):
            raise InputError(f'{d / INDEX}: no "weight_map" of tensor name -> shard file')
        for shard in sorted(set(raw.values())):
            if "/" in shard or shard.startswith(".") or not (d / shard).is_file():
                raise InputError(f"{d / shard}: shard listed in {d / INDEX} is missing")
        return CheckpointIndex(d, dict(raw), config, d / INDEX)
    if (d / SINGLE).is_file():
        try:
            with safe_open(str(d / SINGLE), framework="pt") as f:
                names = list(f.keys())
        except Exception as err:  # safetensors raises its own error types
            raise InputError(f"{d / SINGLE}: not a safetensors file ({err})") from None
        return CheckpointIndex(d, dict.fromkeys(names, SINGLE), config, None)
    raise InputError(f"{d}: neither {INDEX} nor {SINGLE} (a Hugging Face checkpoint directory)")


def local_region(param: torch.Tensor) -> tuple[tuple[int, ...], tuple[int, ...], torch.Tensor]:
    """(global offset, local shape, local tensor) of a parameter: a DTensor's own shard (FSDP2),
    or the whole of a plain tensor."""
    from torch.distributed.tensor import DTensor

    if isinstance(param, DTensor):
        from torch.distributed.tensor._utils import compute_local_shape_and_global_offset

        shape, offset = compute_local_shape_and_global_offset(
            param.shape, param.device_mesh, param.placements
        )
        return tuple(offset), tuple(shape), param.to_local()
    return (0,) * param.dim(), tuple(param.shape), param.data


def _read_region(handle, tensor: str, rows0: int, offset, shape) -> torch.Tensor:
    """Rows ``rows0 + offset[0]`` on (and ``offset`` in the other dims) of a checkpoint tensor,
    read from the memory-mapped file without materialising the rest."""
    starts = list(offset)
    if starts:
        starts[0] += rows0
    return handle.get_slice(tensor)[tuple(slice(s, s + n) for s, n in zip(starts, shape))]


def _fill_rows(handle, tensor: str, rows0: int, into: tuple[int, int], param) -> None:
    """Copy into this rank's part of ``param`` the rows it holds of ``into``; they come from the
    checkpoint tensor's rows starting at ``rows0``."""
    offset, shape, local = local_region(param)
    if not all(shape):
        return  # this rank holds no rows of it (more ranks than rows)
    if not shape:  # a 0-d parameter
        with torch.no_grad():
            local.copy_(handle.get_slice(tensor)[()].to(local.dtype))
        return
    lo, hi = max(offset[0], into[0]), min(offset[0] + shape[0], into[1])
    if lo >= hi:
        return  # none of this source's rows live on this rank
    region = _read_region(
        handle, tensor, rows0 + lo - into[0], (0, *offset[1:]), (hi - lo, *shape[1:])
    )
    with torch.no_grad():
        local[lo - offset[0] : hi - offset[0]].copy_(region.to(local.dtype))


def load_checkpoint(
    model: nn.Module,
    directory: str | os.PathLike,
    sources: SourceMap,
    *,
    allow_unused: bool = True,
) -> LoadReport:
    """Fill every parameter named in ``sources`` from the checkpoint in ``directory``.

    Parameters must exist on a real device (not meta); DTensors (FSDP2) receive only their
    local rows, read from the memory-mapped shard. Parameters not in ``sources`` are left as
    they are (LoRA adapters, say). Each shard file is opened once."""
    from safetensors import safe_open

    index = read_index(directory)
    params = dict(model.named_parameters())
    unknown = sorted(set(sources) - set(params))
    if unknown:
        raise UsageError(f"checkpoint name map names parameters the model lacks: {unknown[:5]}")
    by_file: dict[str, list[tuple[str, Source]]] = defaultdict(list)
    for name, entry in sources.items():
        for src in _parts(name, entry, params[name]):
            if src.tensor not in index.weight_map:
                raise InputError(
                    f"{index.where(src.tensor)}: the checkpoint has no tensor {src.tensor!r} "
                    f"(needed for {name})"
                )
            by_file[index.weight_map[src.tensor]].append((name, src))
    report = LoadReport()
    want_dtype = index.dtype
    for shard in sorted(by_file):
        path = index.directory / shard
        report.files.append(str(path))
        try:
            handle_cm = safe_open(str(path), framework="pt")
        except Exception as err:
            raise InputError(f"{path}: not a safetensors file ({err})") from None
        with handle_cm as handle:
            present = set(handle.keys())
            for name, src in by_file[shard]:
                if src.tensor not in present:
                    raise InputError(
                        f"{path}: the index lists {src.tensor!r} here but it is absent"
                    )
                _load_one(handle, path, name, src, params[name], want_dtype)
                if name not in report.loaded:
                    report.loaded.append(name)
    used = {
        src.tensor for name, entry in sources.items() for src in _parts(name, entry, params[name])
    }
    report.unused = sorted(set(index.weight_map) - used)
    if report.unused and not allow_unused:
        raise InputError(
            f"{index.directory}: {len(report.unused)} checkpoint tensor(s) map to no parameter "
            f"(first: {report.unused[0]!r})"
        )
    return report


def _load_one(handle, path: Path, name: str, src: Source, param, want_dtype) -> None:
    sl = handle.get_slice(src.tensor)
    full = tuple(sl.get_shape())
    dtype = _DTYPES.get(sl.get_dtype())
    if want_dtype is not None and dtype != want_dtype:
        raise InputError(
            f"{path}: tensor {src.tensor!r} is {sl.get_dtype()}, but config.json declares "
            f"{want_dtype} (a mixed or converted checkpoint?)"
        )
    if dtype is None or not dtype.is_floating_point:
        raise InputError(f"{path}: tensor {src.tensor!r} has dtype {sl.get_dtype()}, not a float")
    rows0 = 0
    if src.rows is not None:
        start, stop = src.rows
        if not full or not 0 <= start < stop <= full[0]:
            raise InputError(
                f"{path}: tensor {src.tensor!r} of shape {list(full)} has no rows "
                f"[{start}, {stop}) (needed for {name})"
            )
        rows0, full = start, (stop - start, *full[1:])
    want = tuple(param.shape)
    into = src.into or ((0, want[0]) if want else (0, 0))
    if src.into is not None:
        want = (into[1] - into[0], *want[1:])
    if want != full:
        part = "" if src.into is None else f" rows [{into[0]}, {into[1]})"
        raise InputError(
            f"{path}: tensor {src.tensor!r} has shape {list(full)} but the model's {name}{part} "
            f"is {list(want)}: a checkpoint of another model size?"
        )
    if param.device.type == "meta":
        raise UsageError(f"{name} is on the meta device: materialise the model before loading")
    _fill_rows(handle, src.tensor, rows0, into, param)


def save_checkpoint(
    directory: str | os.PathLike,
    tensors: Mapping[str, torch.Tensor],
    config: Mapping,
    *,
    max_shard_bytes: int = 2 << 30,
) -> Path:
    """Write ``tensors`` as ``model-0000k-of-0000n.safetensors`` + index + ``config.json``.

    Refuses to write into a directory that already holds a checkpoint."""
    from safetensors.torch import save_file

    d = Path(directory)
    if (d / INDEX).exists() or (d / SINGLE).exists():
        raise UsageError(f"{d}: already holds a checkpoint; refusing to overwrite it")
    d.mkdir(parents=True, exist_ok=True)
    shards: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for name, t in tensors.items():
        nbytes = t.numel() * t.element_size()
        if shards[-1] and size + nbytes > max_shard_bytes:
            shards.append({})
            size = 0
        shards[-1][name] = t.detach().contiguous().cpu()
        size += nbytes
    weight_map, total = {}, 0
    for k, shard in enumerate(shards, 1):
        fname = f"model-{k:05d}-of-{len(shards):05d}.safetensors"
        save_file(shard, str(d / fname), metadata={"format": "pt"})
        for name, t in shard.items():
            weight_map[name] = fname
            total += t.numel() * t.element_size()
    (d / INDEX).write_text(
        json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2) + "\n"
    )
    (d / CONFIG).write_text(json.dumps(dict(config), indent=2) + "\n")
    return d
