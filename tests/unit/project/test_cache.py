"""Stage outputs keyed by what made them: keys, file digests, atomic writes, stale outputs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from behaviorlab.errors import SchemaError
from behaviorlab.project.cache import StageCache, canonical_json, file_digest, stage_key


def test_equal_parameters_give_equal_keys_whatever_their_order_and_types():
    a = stage_key("features", {"window": 5, "keypoints": ("nose", "tail"), "scale": np.float64(1.5)})
    b = stage_key("features", {"scale": 1.5, "keypoints": ["nose", "tail"], "window": np.int64(5)})
    assert a == b
    assert len(a) == 32
    assert canonical_json({"b": 1, "a": [1.0, None]}) == '{"a":[1.0,null],"b":1}'


def test_a_changed_parameter_upstream_key_or_file_changes_the_key():
    base = stage_key("features", {"window": 5}, upstream={"clean": "k1"}, files={"video": "d1"})
    assert stage_key("features", {"window": 6}, upstream={"clean": "k1"}, files={"video": "d1"}) != base
    assert stage_key("features", {"window": 5}, upstream={"clean": "k2"}, files={"video": "d1"}) != base
    assert stage_key("features", {"window": 5}, upstream={"clean": "k1"}, files={"video": "d2"}) != base
    assert stage_key("spectrogram", {"window": 5}, upstream={"clean": "k1"}, files={"video": "d1"}) != base
    # a parameter that is 1 in one run and True in another is not the same parameter
    assert stage_key("s", {"flag": True}) != stage_key("s", {"flag": 1})


def test_keys_refuse_what_is_not_plain_data():
    with pytest.raises(SchemaError, match=r"params\.model: object is not plain data"):
        stage_key("s", {"model": object()})
    with pytest.raises(SchemaError, match="equal as strings"):
        stage_key("s", {1: "a", "1": "b"})
    with pytest.raises(SchemaError, match="non-empty name"):
        stage_key("", {})
    assert stage_key("s", {"x": float("nan")}) == stage_key("s", {"x": np.nan})


def test_file_digest_is_the_content_hash_and_is_remembered(tmp_path):
    import hashlib

    path = tmp_path / "video.bin"
    path.write_bytes(b"frames" * 1000)
    memo: dict = {}
    assert file_digest(path, memo) == hashlib.sha256(b"frames" * 1000).hexdigest()
    (entry,) = memo.values()
    entry["sha256"] = "remembered"
    assert file_digest(path, memo) == "remembered"  # same size and mtime: not read again
    path.write_bytes(b"other!" * 1001)
    assert file_digest(path, memo) == hashlib.sha256(b"other!" * 1001).hexdigest()
    with pytest.raises(FileNotFoundError, match=r"missing\.bin"):
        file_digest(tmp_path / "missing.bin")


def test_cache_digests_survive_a_new_cache_object(tmp_path):
    path = tmp_path / "poses.h5"
    path.write_bytes(b"x" * 100)
    first = StageCache(tmp_path / "cache").digest(path)
    memo = json.loads((tmp_path / "cache" / "digests.json").read_text())
    assert memo[str(path.resolve())]["sha256"] == first
    assert StageCache(tmp_path / "cache").digest(path) == first


def test_run_writes_once_and_reuses_the_output(tmp_path):
    cache = StageCache(tmp_path)
    calls = []

    def write(path):
        calls.append(path)
        path.write_text("result")

    key = stage_key("clean", {"max_gap": 5})
    out = cache.run("clean", "session_a", key, write, suffix=".txt")
    assert out == tmp_path / "clean" / "session_a" / f"{key}.txt"
    assert out.read_text() == "result"
    assert cache.run("clean", "session_a", key, write, suffix=".txt") == out
    assert len(calls) == 1
    assert calls[0].parent == out.parent
    assert calls[0].name.startswith(".")  # written beside the output under a hidden name, then renamed
    assert cache.done("clean", "session_a", key, suffix=".txt")


def test_a_failing_stage_leaves_the_previous_output_and_no_debris(tmp_path):
    cache = StageCache(tmp_path)
    old = cache.run("clean", "s", "k1", lambda p: p.write_text("old"), suffix=".txt")

    def crash(path):
        path.write_text("half")
        raise KeyboardInterrupt  # Ctrl-C in the middle of writing

    with pytest.raises(KeyboardInterrupt):
        cache.run("clean", "s", "k2", crash, suffix=".txt")
    assert old.read_text() == "old"
    assert [p.name for p in old.parent.iterdir()] == ["k1.txt"]
    assert not cache.done("clean", "s", "k2", suffix=".txt")
    with pytest.raises(SchemaError, match="stage 'clean' of session 's' wrote no file"):
        cache.run("clean", "s", "k3", lambda p: None, suffix=".txt")


def test_a_new_key_replaces_the_stale_output_of_that_stage_and_session_only(tmp_path):
    cache = StageCache(tmp_path)
    cache.run("clean", "a", "k1", lambda p: p.write_text("1"), suffix=".txt")
    cache.run("clean", "b", "k1", lambda p: p.write_text("1"), suffix=".txt")
    cache.run("features", "a", "f1", lambda p: p.write_text("1"), suffix=".txt")
    cache.run("clean", "a", "k2", lambda p: p.write_text("2"), suffix=".txt")
    assert [p.name for p in cache.outputs("clean", "a", suffix=".txt")] == ["k2.txt"]
    assert [p.name for p in cache.outputs("clean", "b", suffix=".txt")] == ["k1.txt"]
    assert [p.name for p in cache.outputs("features", "a", suffix=".txt")] == ["f1.txt"]
    assert cache.outputs("missing", "a") == []


@pytest.mark.parametrize("session", ["", ".", "..", "a/b", "a\\b"])
def test_names_that_are_not_folder_names_are_refused(tmp_path, session):
    with pytest.raises(SchemaError, match="cannot be a folder name"):
        StageCache(tmp_path).path("clean", session, "k")
