"""The synthetic ImageNet generator: real JPEGs, ImageNet layout, deterministic, never overwrites."""

from __future__ import annotations

import hashlib

import pytest
from PIL import Image

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
    assert synthetic.read_manifest(root) == SMALL


def test_deterministic_by_seed(tmp_path):
    a = digest(synthetic.generate(tmp_path / "a", SMALL))
    b = digest(synthetic.generate(tmp_path / "b", SMALL))
    c = digest(
        synthetic.generate(tmp_path / "c", synthetic.SyntheticSpec(**{**SMALL.__dict__, "seed": 1}))
    )
    assert a == b != c


def test_ensure_reuses_and_never_overwrites(tmp_path):
    root = synthetic.ensure(tmp_path / "d", SMALL)
    before = digest(root)
    assert synthetic.ensure(root, SMALL) == root and digest(root) == before
    other = synthetic.SyntheticSpec(**{**SMALL.__dict__, "classes": 4})
    with pytest.raises(InputError, match="other parameters"):
        synthetic.ensure(root, other)
    (tmp_path / "user").mkdir()
    (tmp_path / "user" / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not empty"):
        synthetic.ensure(tmp_path / "user", SMALL)
    assert (tmp_path / "user" / "notes.txt").read_text() == "mine"
    (root / synthetic.MANIFEST).write_text("{garbage")
    with pytest.raises(InputError, match="synthetic.json"):
        synthetic.ensure(root, SMALL)


def test_bad_specs_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="classes"):
        synthetic.generate(tmp_path / "x", synthetic.SyntheticSpec(classes=1))
    with pytest.raises(UsageError, match="val_label_noise"):
        synthetic.generate(tmp_path / "y", synthetic.SyntheticSpec(val_label_noise=1.0))


def test_classes_differ_by_colour_and_shape_up_to_imagenet_size():
    looks = {synthetic.class_look(c) for c in range(synthetic.MAX_CLASSES)}
    assert len(looks) == synthetic.MAX_CLASSES
