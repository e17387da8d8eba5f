"""Check a flux1 dataset's WebDataset shards before a run: every sample of every shard.

    python -m mlperf_submit.benchmarks.flux1.verify_data DATA [--preset P] [--split train|val|all]
        [--workers N] [--expect-counts]

The shapes come from a preset (default ``config_DGXH200_1x8x64``, the closed data: 16x32x32
latents, 256 T5 tokens of 4096, CLIP 768; ``--preset tiny`` for the tiny synthetic data) and
its ``data.format``. Per sample: the members the format needs, ``.npy`` arrays that parse with
the right shape and dtype (encoded), an image that decodes and a UTF-8 caption (raw), a
``.json`` timestep k in 0..7 (validation). Per shard: that the tar reads to its end. Printed:
samples per split, the validation timestep histogram, one line per problem (shard, sample,
what). ``--expect-counts`` also compares the counts with data.train_samples / eval_samples.

Exit 0: all good. 1: problems (listed). 2: the layout itself is unusable (a missing directory,
no shards, an unknown preset).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from multiprocessing import get_context
from pathlib import Path

from mlperf_submit.benchmarks.flux1 import data_common as dc
from mlperf_submit.errors import EXIT_FAIL, EXIT_OK, MLPerfSubmitError, UsageError

TIMESTEPS = 8
MAX_PER_SHARD = 10
"""Problems listed per shard (a shard of the wrong shape would list every sample)."""


def _check_sample(sample: dict, encoded: bool, val: bool, shapes: dc.Shapes) -> tuple[str, int]:
    """Raises InputError for a bad sample; returns its timestep (-1 for training)."""
    if encoded:
        dc.decode_encoded(sample, shapes)
    else:
        at = dc.where(sample)
        data = dc.image_bytes(sample)
        dc.caption_of(sample)
        w, h = dc.image_header_size(data, at)
        dc.decode_image_pil(data, (w, h, 0, 0), min(w, h), at)
    return dc.where(sample), dc.timestep_of(sample, dc.where(sample), TIMESTEPS) if val else -1


def check_shard(job: tuple[str, bool, bool, dc.Shapes]) -> tuple[str, int, Counter, list[str]]:
    """(shard, samples, timestep histogram, problems) of one shard."""
    from webdataset.tariterators import tarfile_samples

    url, encoded, val, shapes = job
    count, hist, problems, unlisted = 0, Counter(), [], 0
    try:
        for sample in tarfile_samples([{"url": url}]):
            count += 1
            try:
                _, k = _check_sample(sample, encoded, val, shapes)
                hist[k] += 1
            except MLPerfSubmitError as err:
                if len(problems) < MAX_PER_SHARD:
                    problems.append(str(err))
                else:
                    unlisted += 1
    except Exception as err:  # noqa: BLE001 - a tar that does not read to its end
        problems.append(f"{url}: unreadable after {count} samples ({type(err).__name__}: {err})")
    if unlisted:
        problems.append(f"{url}: {unlisted} more bad sample(s), not listed")
    return url, count, hist, problems


def verify(root: Path, preset: str, splits: list[str], workers: int, expect: bool, out=None):
    out = out or sys.stdout
    from mlperf_submit.benchmarks.flux1.config import PRESETS

    if preset not in PRESETS:
        raise UsageError(f"--preset {preset}: choose one of {', '.join(PRESETS)}")
    cfg = PRESETS[preset]()
    d = cfg.data
    encoded = d.format == "encoded"
    shapes = dc.Shapes(
        d.latent_channels, d.latent_size, cfg.encoders.t5_max_length, d.t5_dim, d.clip_dim
    )
    dc.check_layout(root, d.train_dir, d.val_dir, encoded, d.empty_encodings_dir)
    if encoded and "val" in splits:
        dc.read_empty_encodings(root / d.empty_encodings_dir, shapes)
    problems: list[str] = []
    for split in splits:
        val = split == "val"
        shards = dc.list_shards(root / (d.val_dir if val else d.train_dir))
        jobs = [(url, encoded, val, shapes) for url in shards]
        if workers > 1:
            with get_context("fork").Pool(workers) as pool:
                results = pool.map(check_shard, jobs, chunksize=1)
        else:
            results = [check_shard(j) for j in jobs]
        total, hist = 0, Counter()
        for _, count, h, bad in results:
            total += count
            hist.update(h)
            problems.extend(bad)
        print(f"{split}: {len(shards)} shards, {total} samples", file=out)
        if val:
            print(
                "val timesteps: " + ", ".join(f"k={k}: {hist[k]}" for k in range(TIMESTEPS)),
                file=out,
            )
            missing = [k for k in range(TIMESTEPS) if hist[k] == 0]
            if missing and total:
                problems.append(f"{root / d.val_dir}: no validation sample has timestep {missing}")
        if expect:
            want = d.eval_samples if val else d.train_samples
            if total != want:
                key = "eval_samples" if val else "train_samples"
                problems.append(
                    f"{split}: {total} samples, preset {preset} expects data.{key}={want}"
                )
    for line in problems:
        print(line, file=out)
    print(f"{len(problems)} problem(s)", file=out)
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mlperf_submit.benchmarks.flux1.verify_data")
    ap.add_argument("data", type=Path)
    ap.add_argument("--preset", default="config_DGXH200_1x8x64")
    ap.add_argument("--split", choices=("train", "val", "all"), default="all")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--expect-counts", action="store_true")
    args = ap.parse_args(argv)
    splits = ["train", "val"] if args.split == "all" else [args.split]
    try:
        problems = verify(args.data, args.preset, splits, max(1, args.workers), args.expect_counts)
    except MLPerfSubmitError as err:
        print(f"verify_data: {err}", file=sys.stderr)
        return err.exit_code
    return EXIT_FAIL if problems else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
