"""`behaviorlab classify train/predict/evaluate` on the sample sessions and their BORIS files."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import xarray as xr
from typer.testing import CliRunner

from behaviorlab.cli.app import app


@pytest.fixture(scope="module")
def features(sample_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("features")
    config = out / "features.yaml"
    config.write_text("spectrogram: false\n")
    paths = []
    for session in ("session_a", "session_b"):
        path = out / f"{session}.nc"
        args = ["features", str(sample_data / f"{session}_poses.nc"), "--out", str(path), "--config", str(config)]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        paths.append(path)
    return paths


def _run(*args: str):
    return CliRunner().invoke(app, list(args))


def test_train_predict_and_evaluate_from_boris_files(features, sample_data, tmp_path):
    boris = [sample_data / f"{s}_boris.csv" for s in ("session_a", "session_b")]
    model = tmp_path / "clf.pkl"
    config = tmp_path / "classifier.yaml"  # fewer window features than the defaults: the CLI path, not the model
    config.write_text("windows_s: [0.25, 1.0]\nstats: [mean, std]\nmax_iter: 50\n")
    args = ["classify", "train", "--out", str(model), "--behaviors", "walk,rest", "--config", str(config)]
    for f, b in zip(features, boris, strict=True):
        args += ["--features", str(f), "--labels", str(b)]
    result = _run(*args)
    assert result.exit_code == 0, result.output
    assert "cross-validation (sessions)" in result.output
    assert "thresholds: walk" in result.output
    out = tmp_path / "pred"
    result = _run("classify", "predict", str(model), str(features[1]), "--out-dir", str(out), "--uncertain", "10")
    assert result.exit_code == 0, result.output
    pred = xr.load_dataset(out / "session_b.behavior.nc")
    assert pred["behavior_prediction"].dims == ("time", "individual", "behavior")
    assert list(pred["behavior"].values) == ["walk", "rest"]
    assert float(pred["behavior_probability"].min()) >= 0.0
    bouts = pd.read_csv(out / "session_b.bouts.csv")
    assert set(bouts["behavior"]) <= {"walk", "rest"}
    assert len(pd.read_csv(out / "uncertain_frames.csv")) == 10
    result = _run(
        "classify", "evaluate", str(model), "--features", str(features[1]), "--labels", str(boris[1]), "--json"
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output, parse_constant=_no_constants)  # strict JSON: no bare NaN
    assert report["session_b"]["training_session"] is True  # said, not silently scored as if held out
    frames = {row["behavior"]: row for row in report["session_b"]["frames"]}
    assert frames["walk"]["f1"] > 0.5  # trained on both sessions; a sanity bound, not the held-out figure
    assert "bouts" in report["session_b"]
    text = _run("classify", "evaluate", str(model), "--features", str(features[1]), "--labels", str(boris[1]))
    assert "session_b: this session was among the model's training sessions" in text.output
    # a session the model never saw (session_b's features, shifted by one frame) is not flagged
    shifted = xr.load_dataset(features[1])
    shifted["features"] = shifted["features"].shift(time=1)
    from behaviorlab.behavior.classify import BehaviorClassifier

    assert BehaviorClassifier.load(model).training_sessions({"other": shifted}) == {"other": False}


def _no_constants(name):
    raise AssertionError(f"{name} is not valid JSON")


def test_train_needs_one_labels_file_per_features_file(features, sample_data, tmp_path):
    result = _run(
        "classify",
        "train",
        "--out",
        str(tmp_path / "m.pkl"),
        "--features",
        str(features[0]),
        "--features",
        str(features[1]),
        "--labels",
        str(sample_data / "session_a_boris.csv"),
    )
    assert result.exit_code != 0
    assert "one --labels file per --features file" in result.output


def test_labels_outside_the_video_are_refused_naming_the_file(features, tmp_path):
    bad = tmp_path / "late.csv"
    bad.write_text("behavior,start,stop\nwalk,10,999\n")
    result = _run(
        "classify", "train", "--out", str(tmp_path / "m.pkl"), "--features", str(features[0]), "--labels", str(bad)
    )
    assert result.exit_code == 1
    assert "late.csv" in result.output
