"""The synthetic ImageNet generator: real JPEGs, ImageNet layout, deterministic, never overwrites
(the directory scheme is the one every benchmark shares: common/synthetic_data.py)."""

from __future__ import annotations

import hashlib

import pytest
from PIL import Image

from mlperf_submit.benchmarks.common.synthetic_data import MANIFEST, read_manifest
from mlperf_submit.benchmarks.resnet import synthetic
from mlperf_submit.errors import InputError, UsageError

SMALL = synthetic.SyntheticSpec(classes=3, train_per_class=4, val_per_class=10, image_size=12)


def digest(root):
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode() + p.read_bytes())
    return h.hexdigest()


def test_layout_and_real_jpegs(tmp_path):
    root = synthetic.generate(tmp_path / "a", SMALL)
    train = sorted((root / "train").iterdir())
    assert [d.name for d in train] == ["n00000000", "n00000001", "n00000002"]
    files = sorted((root / "val" / "n00000001").glob("*.JPEG"))
    assert len(files) == 10
    with Image.open(files[0]) as im:
        assert im.format == "JPEG" and im.size == (12, 12)


def test_deterministic_by_seed(tmp_path):
    a = digest(synthetic.generate(tmp_path / "a", SMALL))
    b = digest(synthetic.generate(tmp_path / "b", SMALL))
    c = digest(
        synthetic.generate(tmp_path / "c", synthetic.SyntheticSpec(**{**SMALL.__dict__, "seed": 1}))
    )
    assert a == b != c


def test_ensure_reuses_and_never_overwrites(tmp_path):
    user = tmp_path / "root"
    user.mkdir()
    (user / "notes.txt").write_text("mine")
    data = synthetic.synthetic_data(user, "resnet", SMALL)
    root = data.ensure()
    assert root.parent == user and root.name.startswith("resnet-synthetic-")
    assert (user / "notes.txt").read_text() == "mine"  # the user's files are left alone
    assert read_manifest(root)["spec"]["classes"] == 3
    before = digest(root)
    assert data.ensure() == root and digest(root) == before
    # --synthetic pointing straight at the generated tree reuses it too
    assert synthetic.synthetic_data(root, "resnet", SMALL).ensure() == root
    other = synthetic.SyntheticSpec(**{**SMALL.__dict__, "classes": 4})
    other_root = synthetic.synthetic_data(user, "resnet", other).ensure()
    assert other_root != root and digest(root) == before  # side by side, nothing overwritten
    with pytest.raises(UsageError, match="other parameters"):
        synthetic.synthetic_data(root, "resnet", other).ensure()
    (root / MANIFEST).write_text("{garbage")
    with pytest.raises(InputError, match="synthetic.json"):
        data.ensure()


def test_an_interrupted_write_leaves_no_dataset_behind(tmp_path, monkeypatch):
    def crash(out, spec):
        (out / "train").mkdir()
        raise OSError("disk full")

    monkeypatch.setattr(synthetic, "generate", crash)
    data = synthetic.synthetic_data(tmp_path, "resnet", SMALL)
    with pytest.raises(UsageError, match="disk full"):
        data.ensure()
    assert list(tmp_path.iterdir()) == [] and not data.is_ready()


def test_bad_specs_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="classes"):
        synthetic.generate(tmp_path / "x", synthetic.SyntheticSpec(classes=1))
    with pytest.raises(UsageError, match="val_label_noise"):
        synthetic.generate(tmp_path / "y", synthetic.SyntheticSpec(val_label_noise=1.0))


def test_classes_differ_by_colour_and_shape_up_to_imagenet_size():
    looks = {synthetic.class_look(c) for c in range(synthetic.MAX_CLASSES)}
    assert len(looks) == synthetic.MAX_CLASSES
