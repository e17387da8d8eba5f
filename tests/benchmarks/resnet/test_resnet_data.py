"""Both input pipelines (DALI, torch DataLoader + PIL) on the synthetic ImageNet: shapes,
labels, sharding (every eval image exactly once over the ranks, equal train steps per rank),
and bad datasets reported as InputError naming the path."""

from __future__ import annotations

import shutil

import pytest
import torch

from mlperf_submit.benchmarks.resnet import data_common, data_dali, verify_data
from mlperf_submit.benchmarks.resnet.data_torch import TorchImageNet
from mlperf_submit.errors import InputError

KW = dict(image_size=16, batch_size=32, eval_batch_size=64, min_area=0.5)


def test_dali_is_installed():
    """DALI runs its CPU pipelines on this machine and `make test` installs the dali extra, so
    the DALI tests run here (they fail, not skip, without it)."""
    assert data_dali.available(), "pip install -e '.[dali]' (make test does)"


def torch_splits(root, rank=0, world=1):
    train = data_common.list_split(root, "train")
    val = data_common.list_split(root, "val", train.classes)
    return TorchImageNet(train, val, workers=0, rank=rank, world=world, seed=5, **KW)


def dali_splits(root, rank=0, world=1):
    return data_dali.DaliImageNet(
        root,
        threads=1,
        rank=rank,
        world=world,
        seed=5,
        order_seed=6,
        device=torch.device("cpu"),
        **KW,
    )


BUILDERS = [
    pytest.param(dali_splits, id="dali"),
    pytest.param(torch_splits, id="torch"),
]


@pytest.mark.parametrize("build", BUILDERS)
def test_batches_are_normalised_nchw_with_labels(tiny_imagenet, build):
    data = build(tiny_imagenet)
    assert (data.train_samples, data.eval_samples) == (400, 200)
    batches = list(data.train_epoch(0))
    assert len(batches) == 400 // 32
    x, y = batches[0]
    assert x.shape == (32, 3, 16, 16) and x.dtype == torch.float32
    assert -3.0 < float(x.mean()) < 3.0 and float(x.std()) > 0.1
    assert y.dtype == torch.int64 and set(y.tolist()) <= set(range(10))
    data.close()


@pytest.mark.parametrize("world", [2, 3])
@pytest.mark.parametrize("build", BUILDERS)
def test_ranks_share_eval_exactly_and_step_together(tiny_imagenet, build, world):
    # 3 ranks: shards of 133/133/134 images; every rank must still take the same steps
    shards = [build(tiny_imagenet, rank=r, world=world) for r in range(world)]
    everything = torch.cat([torch.cat([y for _, y in s.eval_batches()]) for s in shards])
    assert len(everything) == 200
    assert torch.bincount(everything, minlength=10).tolist() == [20] * 10
    steps = [sum(1 for _ in s.train_epoch(1)) for s in shards]
    assert steps == [400 // (32 * world)] * world
    for s in shards:
        s.close()


def test_dali_and_torch_agree_on_eval_labels(tiny_imagenet):
    a = torch.cat([y for _, y in dali_splits(tiny_imagenet).eval_batches()])
    b = torch.cat([y for _, y in torch_splits(tiny_imagenet).eval_batches()])
    assert torch.equal(a, b)


def test_layout_errors_name_the_path(tmp_path):
    (tmp_path / "train").mkdir()
    with pytest.raises(InputError, match=r"val: not a directory"):
        data_common.check_layout(tmp_path)
    (tmp_path / "val").mkdir()
    with pytest.raises(InputError, match="no class folders"):
        data_common.list_split(tmp_path, "train")


@pytest.fixture
def corrupt_copy(tiny_imagenet, tmp_path):
    root = tmp_path / "corrupt"
    shutil.copytree(tiny_imagenet, root)
    bad = root / "train" / "n00000003" / "n00000003_5.JPEG"
    bad.write_bytes(b"\x00garbage, not a JPEG" * 3)
    return root, bad


def test_corrupt_jpeg_torch_names_the_file(corrupt_copy):
    root, bad = corrupt_copy
    data = torch_splits(root)
    with pytest.raises(InputError, match=str(bad)):
        for _ in range(3):
            for _batch in data.train_epoch(0):
                pass


def test_corrupt_jpeg_dali_is_an_input_error(corrupt_copy):
    root, _ = corrupt_copy
    with pytest.raises(InputError, match="DALI could not read or decode") as err:
        data = dali_splits(root)
        for _ in range(3):
            for _batch in data.train_epoch(0):
                pass
    assert f"python -m mlperf_submit.benchmarks.resnet.verify_data {root}" in str(err.value)


def test_verify_data_lists_every_image_that_does_not_decode(corrupt_copy, capsys):
    """What DALI's error points to: garbage, a JPEG cut in half and one with a garbled
    entropy-coded stream are each named with the reason; the good images are not."""
    root, garbage = corrupt_copy
    val = sorted((root / "val").rglob("*.JPEG"))
    half, garbled = val[0], val[7]
    data = half.read_bytes()
    half.write_bytes(data[: len(data) // 2])
    data = bytearray(garbled.read_bytes())
    for i in range(300, len(data) - 10, 7):
        data[i] = 0xFF
    garbled.write_bytes(bytes(data))
    assert verify_data.main([str(root), "--workers", "2"]) == 1
    out, err = capsys.readouterr()
    named = sorted(line.split(": ", 1)[0] for line in out.splitlines())
    assert named == sorted([str(garbage), str(half), str(garbled)])
    assert "cannot identify image file" in out and "Truncated" in out
    n_images = len(list(root.rglob("*.JPEG")))
    assert f"verify_data: {n_images} images, 3 that do not decode" in err
    assert verify_data.main([str(root), "--split", "train", "--workers", "1"]) == 1
    assert capsys.readouterr().out.splitlines() == [f"{garbage}: " + _why(garbage)]


def _why(path) -> str:
    return verify_data.decode_problem(str(path))


def test_verify_data_on_a_clean_tree_and_on_no_tree(tiny_imagenet, tmp_path, capsys):
    assert verify_data.main([str(tiny_imagenet), "--workers", "1"]) == 0
    assert capsys.readouterr().out == ""
    assert verify_data.main([str(tmp_path / "missing")]) == 2
    assert "not a directory" in capsys.readouterr().err


@pytest.mark.parametrize("build", BUILDERS)
def test_each_rank_trains_on_a_global_shuffle(tiny_imagenet, build):
    # The file list is sorted by class: a per-rank slice of it would hold half the classes.
    for rank in (0, 1):
        data = build(tiny_imagenet, rank=rank, world=2)
        first = torch.cat([y for _, y in data.train_epoch(0)])
        assert len(set(first.tolist())) == 10, rank
        data.close()


def _train_labels(root, loader: str, seed: int, epochs: int = 1) -> list[torch.Tensor]:
    """Rank 0's training labels of the first ``epochs`` epochs of a run with master seed
    ``seed``, built the way the run builds them (ResNetBenchmark.build_data)."""
    from mlperf_submit.benchmarks.common.config import apply_overrides
    from mlperf_submit.benchmarks.common.interface import RunContext
    from mlperf_submit.benchmarks.resnet.benchmark import ResNetBenchmark
    from mlperf_submit.benchmarks.resnet.config import tiny

    cfg = apply_overrides(tiny(), [f"data.loader={loader}"])
    bm = ResNetBenchmark(cfg, RunContext(seed=seed, data_dir=root, ruleset="4.0.0"))
    data = bm.build_data()
    try:
        return [torch.cat([y for _, y in data.train_epoch(e)]) for e in range(epochs)]
    finally:
        data.close()


@pytest.mark.parametrize("loader", ["dali", "torch"])
def test_the_run_seed_sets_the_image_order(tiny_imagenet, loader):
    """Issue 17 item 6: DALI's reader ignores ``seed`` under shuffle_after_epoch (a fixed
    default), so every run of a campaign saw one order. Two seeds: two orders; one seed, built
    twice: one order; and each epoch its own."""
    a0, a1 = _train_labels(tiny_imagenet, loader, seed=1, epochs=2)
    (again,) = _train_labels(tiny_imagenet, loader, seed=1)
    (b0,) = _train_labels(tiny_imagenet, loader, seed=2)
    assert torch.equal(a0, again)
    assert not torch.equal(a0, b0)
    assert not torch.equal(a0, a1)
    assert len(a0) == len(b0) == 400 // 32 * 32  # whole batches of one epoch
