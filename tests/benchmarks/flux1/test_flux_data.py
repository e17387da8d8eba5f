"""The flux1 loaders on real shards: every sample once per epoch over ranks x workers, the same
per-sample draws whatever reads them, DALI and PIL cropping the same window, bad shards as clear
errors naming the file and sample, and verify_data."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from mlperf_submit.benchmarks.flux1 import data_common as dc
from mlperf_submit.benchmarks.flux1 import verify_data
from mlperf_submit.benchmarks.flux1.config import tiny
from mlperf_submit.benchmarks.flux1.data_torch import FluxSplits, SampleReader, ShardStream
from mlperf_submit.benchmarks.flux1.synthetic import bf16_bits, npy_bytes
from mlperf_submit.errors import InputError

CFG = tiny()
SHAPES = dc.Shapes(16, CFG.data.latent_size, CFG.encoders.t5_max_length, 32, 16)


def reader(seed: int = 5) -> SampleReader:
    return SampleReader("encoded", SHAPES, seed=seed, drop_prob=0.1, timesteps=8)


def fingerprints(batches) -> list[tuple]:
    """One row per sample: what identifies it (its data) and what was drawn for it."""
    rows = []
    for b in batches:
        for i in range(b["mean"].shape[0]):
            rows.append((round(float(b["mean"][i].sum()), 3), round(float(b["noise"][i].sum()), 4),
                         round(float(b["t"][i]), 6), bool(b["drop"][i])))  # fmt: skip
    return sorted(rows)


def stream(root: Path, sub: str, *, train: bool, rank=0, world=1, batch=32, epochs=None):
    return ShardStream(dc.list_shards(root / sub), reader(), batch_size=batch, rank=rank,
                       world=world, train=train, shuffle_buffer=64, epochs=epochs)  # fmt: skip


def test_an_epoch_reads_each_sample_once_with_the_same_draws_whatever_the_split(flux_tiny_data):
    one = fingerprints(stream(flux_tiny_data, "cc12m", train=True, epochs=1))
    assert len(one) == CFG.data.train_samples == len(set(one))
    # 2 ranks x 2 workers = 4 splits over 8 shards: by shard; 5 x 2 = 10 splits: by sample
    for world, workers in ((2, 2), (5, 2)):
        rows = []
        for rank in range(world):
            s = stream(flux_tiny_data, "cc12m", train=True, rank=rank, world=world, epochs=1)
            loader = torch.utils.data.DataLoader(s, batch_size=None, num_workers=workers)
            rows += fingerprints(loader)
        assert sorted(rows) == one, (world, workers)
    second = fingerprints(stream(flux_tiny_data, "cc12m", train=True, epochs=2))
    assert len(second) == 2 * len(one)
    assert set(second) - set(one), "epoch 2 draws new noise and timesteps for the same samples"


def test_the_training_order_is_seeded(flux_tiny_data):
    def first(seed):
        s = ShardStream(dc.list_shards(flux_tiny_data / "cc12m"), reader(seed), batch_size=8,
                        rank=0, world=1, train=True, shuffle_buffer=64)  # fmt: skip
        return next(iter(s))["mean"].sum(dim=(1, 2, 3))

    assert torch.equal(first(1), first(1))
    assert not torch.equal(first(1), first(2))


def test_validation_is_one_pass_with_fixed_timesteps(flux_tiny_data):
    batches = list(stream(flux_tiny_data, "coco", train=False, batch=100))
    assert [b["k"].shape[0] for b in batches] == [100, 100, 56]
    k = torch.cat([b["k"] for b in batches])
    assert torch.bincount(k).tolist() == [32] * 8
    assert torch.equal(torch.cat([b["t"] for b in batches]), k / 8)
    assert not any(bool(b["drop"].any()) for b in batches)
    split = []
    for rank in range(2):
        loader = torch.utils.data.DataLoader(
            stream(flux_tiny_data, "coco", train=False, rank=rank, world=2, batch=100),
            batch_size=None, num_workers=2,
        )  # fmt: skip
        split += fingerprints(loader)
    assert sorted(split) == fingerprints(batches)


def test_encodings_are_read_as_stored(flux_tiny_data):
    t5, clip = dc.read_empty_encodings(flux_tiny_data / "empty_encodings", SHAPES)
    assert t5.shape == (SHAPES.t5_tokens, 32) and clip.shape == (16,)
    x = np.linspace(-3, 3, 12, dtype=np.float32).reshape(3, 4)
    got = dc.to_tensor(dc.load_npy(npy_bytes(bf16_bits(x)), "x"), torch.float32)
    torch.testing.assert_close(got, torch.from_numpy(x).bfloat16().float())
    odd = np.asfortranarray(x)  # not np.save's plain header: numpy's own reader
    assert np.array_equal(dc.load_npy(npy_bytes(odd), "x"), x)


# -- bad input ---------------------------------------------------------------------------------
def _encoded_member(shape, dtype=np.float32) -> bytes:
    return npy_bytes(np.zeros(shape, dtype=dtype))


def _good_sample(key: str) -> dict:
    s = SHAPES
    lat = (16, s.latent_size, s.latent_size)
    return {
        "__key__": key,
        "mean.npy": _encoded_member(lat),
        "logvar.npy": _encoded_member(lat),
        "t5_encodings.npy": _encoded_member((s.t5_tokens, 32)),
        "clip_encodings.npy": _encoded_member((16,)),
        "json": json.dumps({"timestep": 3}).encode(),
    }


def _dataset(tmp_path: Path, bad: dict | None = None, bad_key: str = "s00002") -> Path:
    """A small encoded dataset (2 shards x 4 samples); ``bad`` replaces members of one sample."""
    import webdataset as wds

    root = tmp_path / "data"
    for sub in ("cc12m", "coco"):
        (root / sub).mkdir(parents=True)
        for shard in range(2):
            with wds.TarWriter(str(root / sub / f"{sub}-{shard}.tar"), encoder=False, mtime=0) as w:
                for i in range(4):
                    key = f"s{shard * 4 + i:05d}"
                    sample = _good_sample(key)
                    if bad is not None and key == bad_key:
                        sample.update(bad)
                        sample = {k: v for k, v in sample.items() if v is not None}
                    w.write(sample)
    (root / "empty_encodings").mkdir()
    np.save(
        root / "empty_encodings" / "t5_empty.npy", np.zeros((1, SHAPES.t5_tokens, 32), np.float16)
    )
    np.save(root / "empty_encodings" / "clip_empty.npy", np.zeros((1, 16), np.float16))
    return root


def _read_all(root: Path, sub: str, workers: int):
    s = stream(root, sub, train=sub == "cc12m", batch=4, epochs=1)
    splits = FluxSplits(s, s, train_samples=8, eval_samples=8, workers=workers, pin=False)
    try:
        return list(splits.eval_batches())
    finally:
        splits.close()


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"mean.npy": b"garbage"}, r"s00002\.mean\.npy: not a \.npy array"),
        ({"logvar.npy": _encoded_member((16, 3, 3))}, r"s00002\.logvar\.npy: shape \[16, 3, 3\]"),
        ({"t5_encodings.npy": _encoded_member((8, 32), np.int64)}, r"dtype int64"),
        ({"clip_encodings.npy": None}, r"s00002: no clip_encodings\.npy"),
        ({"json": b'{"timestep": 9}'}, r"s00002\.json: timestep 9 is not an integer in 0\.\.7"),
    ],
)
@pytest.mark.parametrize("workers", [0, 1])
def test_a_bad_sample_is_an_input_error_naming_shard_and_sample(tmp_path, bad, message, workers):
    root = _dataset(tmp_path, bad)
    with pytest.raises(InputError, match=message) as err:
        _read_all(root, "coco", workers)
    assert "coco-0.tar" in str(err.value) and "Traceback" not in str(err.value)


def test_a_truncated_shard_is_an_input_error_naming_it(tmp_path):
    root = _dataset(tmp_path)
    shard = root / "coco" / "coco-1.tar"
    shard.write_bytes(shard.read_bytes()[:3000])
    with pytest.raises(InputError, match=r"coco-1\.tar: unreadable WebDataset shard"):
        _read_all(root, "coco", workers=1)


def test_missing_directories_and_files_are_named(tmp_path):
    root = _dataset(tmp_path)
    (root / "empty_encodings" / "clip_empty.npy").unlink()
    with pytest.raises(InputError, match=r"empty_encodings/clip_empty\.npy: missing"):
        dc.check_layout(root, "cc12m", "coco", True, "empty_encodings")
    dc.check_layout(root, "cc12m", "coco", False, "empty_encodings")  # raw: not needed
    with pytest.raises(InputError, match=r"laion: missing"):
        dc.check_layout(root, "laion", "coco", False, "empty_encodings")
    for p in (root / "coco").glob("*.tar"):
        p.unlink()
    with pytest.raises(InputError, match=r"coco: no \.tar shards"):
        dc.list_shards(root / "coco")


def test_the_run_names_bad_data_and_exits_2(tmp_path, train_cli):
    root = _dataset(tmp_path, {"mean.npy": b"garbage"})
    rc, out, err = train_cli(
        "flux1", "--preset", "tiny", "--data", root, "--log", tmp_path / "run.log", "--seed", 1,
        "--division", "open", "data.train_samples=8", "data.eval_samples=8",
        "data.global_batch_size=4", "data.eval_every=4",
    )  # fmt: skip
    assert rc == 2, (out, err)
    assert "s00002.mean.npy: not a .npy array" in err and "Traceback" not in err


# -- verify_data --------------------------------------------------------------------------------
def test_verify_data_passes_good_shards_and_lists_bad_ones(tmp_path, flux_tiny_data, capsys):
    assert verify_data.main([str(flux_tiny_data), "--preset", "tiny", "--expect-counts"]) == 0
    out = capsys.readouterr().out
    assert "train: 8 shards, 2048 samples" in out and "k=7: 32" in out and "0 problem(s)" in out
    root = _dataset(tmp_path, {"logvar.npy": _encoded_member((16, 3, 3))})
    shard = root / "cc12m" / "cc12m-1.tar"
    shard.write_bytes(shard.read_bytes()[:3000])
    rc = verify_data.main([str(root), "--preset", "tiny", "--workers", "2"])
    out = capsys.readouterr().out
    assert rc == 1
    assert "cc12m-0.tar: sample s00002.logvar.npy: shape [16, 3, 3]" in out
    assert "coco-0.tar: sample s00002.logvar.npy" in out
    assert "cc12m-1.tar: unreadable after" in out
    assert verify_data.main([str(tmp_path / "nowhere"), "--preset", "tiny"]) == 2
    assert verify_data.main([str(root), "--preset", "nope"]) == 2


# -- images ------------------------------------------------------------------------------------
def _jpeg(w: int, h: int, seed: int) -> bytes:
    from PIL import Image

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([(xx * 255 / w), (yy * 255 / h), (xx + yy) % 256], -1) + rng.normal(
        0, 4, (h, w, 3)
    )
    buf = io.BytesIO()
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def test_resize_and_crop_follow_the_reference_and_dali_agrees_with_pil():
    g = torch.Generator().manual_seed(0)
    assert dc.resize_crop_plan(64, 64, 64, g) == (64, 64, 0, 0)
    w, h, left, top = dc.resize_crop_plan(150, 100, 64, g)
    assert (w, h, top) == (96, 64, 0) and 0 <= left <= 32  # short side -> 64, long side ceil'd
    w, h, left, top = dc.resize_crop_plan(100, 301, 64, g)
    assert (w, h, left) == (64, 193, 0) and 0 <= top <= 129
    from mlperf_submit.benchmarks.flux1.data_dali import DaliImageStage

    sizes = [(150, 100), (100, 301), (64, 64), (80, 64)]
    jpegs = [_jpeg(w, h, i) for i, (w, h) in enumerate(sizes)]
    plans = [dc.resize_crop_plan(w, h, 64, g) for w, h in sizes]
    pil = torch.stack([dc.decode_image_pil(j, p, 64, "x") for j, p in zip(jpegs, plans)])
    stage = DaliImageStage(64, threads=1, device=torch.device("cpu"))
    dali = stage({"jpeg": jpegs, "plan": torch.tensor(plans, dtype=torch.int32)})["image"]
    assert dali.shape == pil.shape == (4, 3, 64, 64) and dali.dtype == torch.uint8
    diff = (dali.int() - pil.int()).abs().float()
    assert diff.mean() < 1.5, diff.mean()  # two bicubic implementations, the same window
    assert torch.equal(dali[2:], pil[2:])  # no resize: the same libjpeg-turbo decode
    with pytest.raises(InputError, match="does not decode"):
        dc.decode_image_pil(jpegs[0][:200], plans[0], 64, "shard.tar: sample k")
