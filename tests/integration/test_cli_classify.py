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


def test_a_saved_classifier_applies_to_renamed_keypoints_through_a_keypoint_map(features, sample_data, tmp_path):
    import numpy as np

    from behaviorlab.io.load import load_poses
    from behaviorlab.io.save import save_poses
    from behaviorlab.schema import Skeleton, get_skeleton, rename_keypoints, set_skeleton

    boris = [sample_data / f"{s}_boris.csv" for s in ("session_a", "session_b")]
    model = tmp_path / "clf.pkl"
    config = tmp_path / "classifier.yaml"
    config.write_text("windows_s: [0.5]\nstats: [mean]\nmax_iter: 30\n")
    args = ["classify", "train", "--out", str(model), "--behaviors", "walk", "--config", str(config)]
    args += ["--features", str(features[0]), "--labels", str(boris[0])]
    args += ["--features", str(features[1]), "--labels", str(boris[1])]
    assert _run(*args).exit_code == 0
    # another lab's file: the same animal, its keypoints named otherwise and listed in another order
    poses = load_poses(sample_data / "session_b_poses.nc")
    names = [str(k) for k in poses["keypoint"].values]
    theirs = {k: f"lab2_{k}" for k in names}
    other = rename_keypoints(poses, theirs).isel(keypoint=slice(None, None, -1))
    skeleton = get_skeleton(other)  # their skeleton: the same joints under their names, in their order
    other = set_skeleton(other, Skeleton(skeleton.keypoints[::-1], edges=skeleton.edges, symmetry=skeleton.symmetry))
    other_file = tmp_path / "other_lab.nc"
    save_poses(other, other_file)
    feature_config = tmp_path / "features.yaml"
    feature_config.write_text("spectrogram: false\n")
    unmapped = tmp_path / "unmapped.nc"
    assert _run("features", str(other_file), "--out", str(unmapped), "--config", str(feature_config)).exit_code == 0
    result = _run("classify", "predict", str(model), str(unmapped), "--out-dir", str(tmp_path / "no"))
    assert result.exit_code != 0
    message = " ".join(result.output.replace("│", " ").split())
    assert "lacks the keypoint(s)" in message
    assert names[0] in message
    assert "--keypoint-map" in message
    keypoint_map = tmp_path / "map.yaml"
    keypoint_map.write_text("".join(f"{v}: {k}\n" for k, v in theirs.items()))
    mapped = tmp_path / "session_b.nc"
    args = ["features", str(other_file), "--out", str(mapped), "--config", str(feature_config)]
    assert _run(*args, "--keypoint-map", str(keypoint_map)).exit_code == 0
    result = _run("classify", "predict", str(model), str(mapped), "--out-dir", str(tmp_path / "yes"))
    assert result.exit_code == 0, result.output
    theirs_pred = xr.load_dataset(tmp_path / "yes" / "session_b.behavior.nc")["behavior_probability"]
    ours = _run("classify", "predict", str(model), str(features[1]), "--out-dir", str(tmp_path / "ours"))
    assert ours.exit_code == 0
    ours_pred = xr.load_dataset(tmp_path / "ours" / "session_b.behavior.nc")["behavior_probability"]
    np.testing.assert_allclose(theirs_pred.values, ours_pred.values, atol=1e-9)  # the same decisions as at home
    bad_map = tmp_path / "bad.yaml"
    bad_map.write_text("tail_tip_typo: tail\n")
    result = _run("features", str(other_file), "--out", str(tmp_path / "x.nc"), "--keypoint-map", str(bad_map))
    assert result.exit_code != 0
    assert "tail_tip_typo" in " ".join(result.output.replace("│", " ").split())


def test_classify_suggest_proposes_uncertain_bouts_spread_in_time(features, sample_data, tmp_path):
    boris = [sample_data / f"{s}_boris.csv" for s in ("session_a", "session_b")]
    model = tmp_path / "clf.pkl"
    config = tmp_path / "classifier.yaml"
    config.write_text("windows_s: [0.5]\nstats: [mean]\nmax_iter: 30\n")
    args = ["classify", "train", "--out", str(model), "--behaviors", "walk,rest", "--config", str(config)]
    args += ["--features", str(features[0]), "--labels", str(boris[0]), "--features", str(features[1])]
    args += ["--labels", str(boris[1])]
    assert _run(*args).exit_code == 0
    out = tmp_path / "suggest.csv"
    result = _run("classify", "suggest", str(model), str(features[1]), "--out", str(out), "-n", "5")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    assert 1 <= len(table) <= 5
    assert (table["start_frame"] <= table["frame"]).all()
    assert (table["frame"] <= table["end_frame"]).all()
    assert table["uncertainty"].is_monotonic_decreasing
    times = table.sort_values("time")["time"].to_numpy()
    assert (times[1:] - times[:-1] >= 2.0).all() or table["behavior"].nunique() > 1 or len(times) == 1
