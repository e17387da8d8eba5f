"""The DALI image stage of the raw-image path: decode, bicubic resize, crop -- per batch.

webdataset (in the DataLoader workers, ``data_torch``) reads the shards, tokenises the
captions, reads each image's size from its header and plans its resize and crop with the
sample's own generator (``data_common.resize_crop_plan``, the reference's geometry); this
stage turns the batch's encoded images into uint8 [B, 3, S, S] with a DALI pipeline fed by
``fn.external_source``: ``fn.decoders.image`` (nvJPEG on a GPU, libjpeg-turbo threads on the
CPU), ``fn.resize`` (cubic, antialiased) to the planned size, ``fn.crop`` at the planned corner.
The same plan as the PIL path, so both loaders crop the same window of the same image.

On a machine without CUDA the pipeline runs on the CPU (``device_id=None``).
"""

from __future__ import annotations

import numpy as np
import torch

from mlperf_submit.benchmarks.common import dali
from mlperf_submit.errors import InputError

FALLBACK = "the PIL pipeline"


def import_dali():
    """DALI's ``(fn, pipeline_def, types)`` (``common.dali``: imported at init, a clear error)."""
    return dali.import_dali(FALLBACK)


available = dali.available


class DaliImageStage:
    """``stage(batch)``: replaces the batch's ``jpeg`` (encoded bytes) and ``plan`` ([B, 4]:
    new width, new height, left, top) by ``image`` (uint8 [B, 3, size, size])."""

    def __init__(self, size: int, *, threads: int, device: torch.device, max_batch: int = 256):
        fn, pipeline_def, types = import_dali()
        gpu = device.type == "cuda"
        self.size, self.device = size, device
        self.max_batch = max_batch

        @pipeline_def
        def pipe():
            jpegs = fn.external_source(name="jpegs", dtype=types.UINT8, ndim=1)
            sizes = fn.external_source(name="sizes", dtype=types.FLOAT, ndim=1)
            anchors = fn.external_source(name="anchors", dtype=types.INT32, ndim=1)
            images = fn.decoders.image(
                jpegs, device="mixed" if gpu else "cpu", output_type=types.RGB
            )
            images = fn.resize(images, size=sizes, interp_type=types.INTERP_CUBIC, antialias=True)
            shape = np.array([size, size], dtype=np.int32)  # ints: absolute pixels
            images = fn.slice(images, anchors, shape, axes=(1, 0), out_of_bounds_policy="error")
            return fn.transpose(images, perm=(2, 0, 1))

        self.pipe = pipe(
            batch_size=max_batch,
            num_threads=threads,
            device_id=(device.index or 0) if gpu else None,
            prefetch_queue_depth=1,
            exec_dynamic=True,
        )
        self.pipe.build()

    def decode(self, jpegs: list[bytes], plan: torch.Tensor) -> torch.Tensor:
        p = plan.numpy().astype(np.float32)
        self.pipe.feed_input("jpegs", [np.frombuffer(b, dtype=np.uint8) for b in jpegs])
        # fn.resize wants (height, width); fn.slice anchors (x, y) on axes (width=1, height=0)
        self.pipe.feed_input("sizes", [np.array([h, w], np.float32) for w, h in p[:, :2]])
        self.pipe.feed_input("anchors", [np.array([x, y], np.int32) for x, y in p[:, 2:]])
        try:
            (out,) = self.pipe.run()
        except RuntimeError as err:
            lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
            first = next((ln for ln in lines if "rror" in ln and "pipeline" not in ln), lines[0])
            raise InputError(
                f"DALI could not decode an image of the batch ({first}); list the samples that "
                "do not decode with: python -m mlperf_submit.benchmarks.flux1.verify_data DIR"
            ) from None
        if hasattr(out, "as_cpu"):
            out = out.as_cpu()
        return torch.from_numpy(np.stack([np.asarray(out[i]) for i in range(len(out))]))

    def __call__(self, batch: dict) -> dict:
        jpegs, plan = batch.pop("jpeg"), batch.pop("plan")
        parts = [
            self.decode(jpegs[i : i + self.max_batch], plan[i : i + self.max_batch])
            for i in range(0, len(jpegs), self.max_batch)
        ]
        batch["image"] = torch.cat(parts)
        return batch
