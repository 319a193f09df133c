"""Atomic writes: the target appears whole or not at all, and an old version survives a failed write."""

from __future__ import annotations

import pytest

from behaviorlab._atomic import atomic_path


def test_successful_write_replaces_target(tmp_path):
    target = tmp_path / "sub" / "out.csv"
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent
        assert tmp.suffix == ".csv"
        assert not tmp.exists()
        tmp.write_text("new")
    assert target.read_text() == "new"
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.csv"]


def _write_then_fail(target, error):
    with atomic_path(target) as tmp:
        tmp.write_text("half")
        raise error


def test_failed_write_keeps_previous_version_and_leaves_no_temp(tmp_path):
    target = tmp_path / "out.nc"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="disk full"):
        _write_then_fail(target, RuntimeError("disk full"))
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.nc"]


def test_interrupt_is_handled_like_an_error(tmp_path):
    target = tmp_path / "out.h5"
    with pytest.raises(KeyboardInterrupt):
        _write_then_fail(target, KeyboardInterrupt())
    assert list(tmp_path.iterdir()) == []


def test_writer_that_writes_nothing_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="produced no file"), atomic_path(tmp_path / "x.slp"):
        pass
    assert list(tmp_path.iterdir()) == []
