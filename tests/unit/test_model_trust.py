"""Model files load only when behaviorlab wrote them for this user, or with ``--trust``."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from typer.testing import CliRunner

from behaviorlab import model_trust
from behaviorlab._persist import read_trusted_pickle
from behaviorlab.behavior.ethogram import EthogramHMM
from behaviorlab.cli.app import app
from behaviorlab.errors import BehaviorlabError
from behaviorlab.model_trust import MODEL_DIGESTS, UntrustedModelError


def _features(path: Path, seed: int) -> Path:
    """A features file of two alternating regimes (an HMM with 2 states fits it in a moment)."""
    rng = np.random.default_rng(seed)
    regime = np.repeat(np.arange(20) % 2, 30)
    values = rng.normal(size=(len(regime), 1, 3)) + 4.0 * regime[:, None, None]
    xr.Dataset(
        {"features": (("time", "individual", "feature"), values)},
        coords={"time": np.arange(len(regime)) / 30.0, "individual": ["m"], "feature": ["a", "b", "c"]},
        attrs={"fps": 30.0},
    ).to_netcdf(path)
    return path


@pytest.fixture
def fitted(tmp_path) -> tuple[Path, Path]:
    """``(hmm.pkl written by `behaviorlab ethogram fit`, a features file)``."""
    features = _features(tmp_path / "s1.nc", 0)
    model = tmp_path / "models" / "hmm.pkl"
    result = CliRunner().invoke(
        app, ["ethogram", "fit", str(features), "--out", str(model), "--n-states", "2", "--seed", "0"]
    )
    assert result.exit_code == 0, result.output
    return model, features


def _predict(model: Path, features: Path, out: Path, *trust: Path):
    args = ["ethogram", "predict", str(model), str(features), "--out-dir", str(out), "--overwrite"]
    return CliRunner().invoke(app, args + [a for t in trust for a in ("--trust", str(t))])


class _Payload:
    """A pickle that writes a file when it is loaded (what a hostile model file would do)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "code ran"))


def test_files_behaviorlab_wrote_load_and_their_digest_is_recorded(fitted, tmp_path):
    model, features = fitted
    record = json.loads((model.parent / MODEL_DIGESTS).read_text())
    assert [e["name"] for e in record["files"].values()] == ["hmm.pkl"]
    assert model_trust.is_recorded(model)
    result = _predict(model, features, tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert EthogramHMM.load(model).n_states_ == 2


def test_a_file_changed_after_it_was_written_is_refused_then_accepted_with_trust(fitted, tmp_path):
    model, features = fitted
    payload = pickle.loads(model.read_bytes())
    payload["estimator"].startprob_ = payload["estimator"].startprob_[::-1].copy()  # someone edited the model
    model.write_bytes(pickle.dumps(payload))
    with pytest.raises(UntrustedModelError, match="changed after behaviorlab wrote it"):
        EthogramHMM.load(model)
    result = _predict(model, features, tmp_path / "out")
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert str(model) in lines[0]
    assert f"--trust {model}" in lines[0]
    assert not (tmp_path / "out").exists()

    result = _predict(model, features, tmp_path / "out", model)
    assert result.exit_code == 0, result.output
    assert f"trusted {model}" in result.output
    assert _predict(model, features, tmp_path / "out").exit_code == 0  # recorded: trusted from then on


def test_a_file_copied_in_from_elsewhere_is_refused_then_accepted_with_trust(fitted, tmp_path, monkeypatch):
    model, features = fitted
    bare = tmp_path / "received" / "hmm.pkl"  # the file alone
    bare.parent.mkdir()
    shutil.copyfile(model, bare)
    with pytest.raises(UntrustedModelError, match="did not write it here"):
        EthogramHMM.load(bare)
    assert _predict(bare, features, tmp_path / "out").exit_code == 1

    # a whole folder from another user, its record included: the record's HMAC is made with their key, not ours
    theirs = tmp_path / "their_project" / "models"
    shutil.copytree(model.parent, theirs)
    monkeypatch.setenv(model_trust.KEY_ENV, str(tmp_path / "my_key"))
    with pytest.raises(UntrustedModelError, match="another user's key"):
        EthogramHMM.load(theirs / "hmm.pkl")
    # a forged record (the digest without a valid HMAC) does not help either
    forged = json.loads((theirs / MODEL_DIGESTS).read_text())
    for entry in forged["files"].values():
        entry["hmac"] = "0" * 64
    (theirs / MODEL_DIGESTS).write_text(json.dumps(forged))
    result = _predict(theirs / "hmm.pkl", features, tmp_path / "out")
    assert result.exit_code == 1
    assert "refused to load this model file" in result.output

    result = _predict(theirs / "hmm.pkl", features, tmp_path / "out", theirs)  # a folder: every .pkl in it
    assert result.exit_code == 0, result.output
    assert EthogramHMM.load(theirs / "hmm.pkl").n_states_ == 2


def test_a_hostile_pickle_runs_no_code_unless_trusted(tmp_path):
    marker = tmp_path / "code_ran.txt"
    evil = tmp_path / "project" / "models" / "map.pkl"
    evil.parent.mkdir(parents=True)
    evil.write_bytes(pickle.dumps(_Payload(marker)))
    for load in (EthogramHMM.load, read_trusted_pickle):
        with pytest.raises(UntrustedModelError, match=r"map\.pkl"):
            load(evil)
    assert not marker.exists()
    model_trust.trust([evil])  # what --trust does: the user takes responsibility
    read_trusted_pickle(evil)
    assert marker.read_text() == "code ran"


def test_copies_of_trusted_files_are_recorded_and_untrusted_ones_are_not(fitted, tmp_path):
    model, _ = fitted
    copied = model_trust.copy_model(model, tmp_path / "published" / "hmm.pkl")
    assert model_trust.is_recorded(copied)
    stranger = tmp_path / "stranger.pkl"
    stranger.write_bytes(pickle.dumps({"x": 1}))
    with pytest.raises(UntrustedModelError):
        model_trust.copy_model(stranger, tmp_path / "published" / "stranger.pkl")
    shutil.copyfile(stranger, tmp_path / "published" / "other.pkl")
    assert not model_trust.vouch_copy(stranger, tmp_path / "published" / "other.pkl")
    assert not model_trust.is_recorded(tmp_path / "published" / "other.pkl")


def test_the_key_is_made_once_readable_by_its_user_only(tmp_path, monkeypatch):
    key = tmp_path / "config" / "model_key"
    monkeypatch.setenv(model_trust.KEY_ENV, str(key))
    target = tmp_path / "a.pkl"
    target.write_bytes(b"x")
    model_trust.record(target)
    assert key.stat().st_mode & 0o777 == 0o600
    first = key.read_text()
    model_trust.record(target)
    assert key.read_text() == first
    key.chmod(0o644)
    with pytest.raises(BehaviorlabError, match="readable by other users"):
        model_trust.record(target)


def test_trusting_a_missing_path_is_a_one_line_error(tmp_path):
    result = CliRunner().invoke(
        app, ["ethogram", "predict", "x.pkl", "y.nc", "--out-dir", str(tmp_path), "--trust", str(tmp_path / "nope")]
    )
    assert result.exit_code == 1
    assert "no such file or folder to trust" in result.output
