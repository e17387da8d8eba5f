"""A tree appears whole or not at all, and never replaces what exists without force."""

import os

import pytest

from mlperf_submit.errors import UsageError
from mlperf_submit.submission.atomic import AtomicTree, write_file_atomic


def test_tree_appears_only_on_success(tmp_path):
    dest = tmp_path / "out" / "Org"
    with AtomicTree(dest) as tmp:
        (tmp / "systems").mkdir()
        (tmp / "systems" / "s.json").write_text("{}")
        assert not dest.exists()
    assert (dest / "systems" / "s.json").read_text() == "{}"
    assert oct(os.stat(dest).st_mode & 0o777) == "0o755"
    assert sorted(p.name for p in dest.parent.iterdir()) == ["Org"]


def test_failure_leaves_nothing_behind(tmp_path):
    dest = tmp_path / "new" / "deeper" / "Org"
    with pytest.raises(RuntimeError), AtomicTree(dest) as tmp:
        (tmp / "half").write_text("x")
        raise RuntimeError("boom")
    assert not (tmp_path / "new").exists()


def test_existing_tree_is_refused_and_untouched(tmp_path):
    dest = tmp_path / "Org"
    dest.mkdir()
    (dest / "mine.txt").write_text("user data")
    with pytest.raises(UsageError, match="already exists.*--force"), AtomicTree(dest):
        pass
    assert (dest / "mine.txt").read_text() == "user data"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Org"]


def test_force_replaces_in_one_step(tmp_path):
    dest = tmp_path / "Org"
    dest.mkdir()
    (dest / "old.txt").write_text("old")
    with AtomicTree(dest, force=True) as tmp:
        (tmp / "new.txt").write_text("new")
    assert [p.name for p in dest.iterdir()] == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Org"]


def test_force_with_failure_keeps_the_old_tree(tmp_path):
    dest = tmp_path / "Org"
    dest.mkdir()
    (dest / "old.txt").write_text("old")
    with pytest.raises(ValueError), AtomicTree(dest, force=True) as tmp:
        (tmp / "new.txt").write_text("new")
        raise ValueError
    assert [p.name for p in dest.iterdir()] == ["old.txt"]


def test_file_write_refuses_then_forces(tmp_path):
    path = tmp_path / "summary.csv"
    write_file_atomic(path, "a\n")
    with pytest.raises(UsageError, match="already exists"):
        write_file_atomic(path, "b\n")
    assert path.read_text() == "a\n"
    write_file_atomic(path, b"b\n", force=True)
    assert path.read_text() == "b\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.csv"]
