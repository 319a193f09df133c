"""The command line as a user drives it: stable command forms, clear errors, real outputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from behaviorlab.cli.app import app
from behaviorlab.io.load import load_poses
from behaviorlab.io.save import save_poses
from behaviorlab.schema import from_numpy

runner = CliRunner()


@pytest.fixture
def poses_nc(tmp_path):
    rng = np.random.default_rng(1)
    pos = rng.uniform(0, 100, (20, 2, 3, 2))
    pos[3, :, 1, 0] = np.nan
    ds = from_numpy(pos, rng.random((20, 3, 2)), keypoints=["nose", "neck", "tail"], individuals=["m1", "m2"], fps=30)
    return save_poses(ds, tmp_path / "poses.nc"), ds


def test_info_reports_versions_backend_and_devices():
    result = runner.invoke(app, ["info", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["behaviorlab"] != "not installed"
    assert report["numpy"] == np.__version__
    assert "keras backend" in report
    table = runner.invoke(app, ["info"])
    assert table.exit_code == 0
    assert "sleap-io" in table.output


@pytest.mark.parametrize("suffix", [".csv", ".h5", ".slp", ".nwb", ".nc"])
def test_convert_round_trips_every_format(tmp_path, poses_nc, suffix):
    src, ds = poses_nc
    out = tmp_path / f"converted{suffix}"
    result = runner.invoke(app, ["convert", str(src), str(out)])
    assert result.exit_code == 0, result.output
    assert str(out) in result.output
    back = load_poses(out, fps=30)
    np.testing.assert_allclose(back["position"].values, ds["position"].values, rtol=0, atol=1e-6)
    assert list(back["keypoint"].values) == ["nose", "neck", "tail"]
    assert list(back["individual"].values) == ["m1", "m2"]
    assert back.attrs["fps"] == 30


def test_convert_source_and_fps_options(tmp_path, poses_nc):
    src, _ = poses_nc
    csv = tmp_path / "tracks.csv"
    assert runner.invoke(app, ["convert", str(src), str(csv)]).exit_code == 0
    renamed = tmp_path / "tracks.txt"
    renamed.write_bytes(csv.read_bytes())
    out = tmp_path / "tracks.nc"
    result = runner.invoke(app, ["convert", str(renamed), str(out), "--source", "dlc", "--fps", "25"])
    assert result.exit_code == 0, result.output
    assert load_poses(out).attrs["fps"] == 25
    bad = runner.invoke(app, ["convert", str(renamed), str(out), "--source", "excel"])
    assert bad.exit_code == 2
    assert "--source must be one of" in bad.output


def test_convert_errors_name_the_file_without_traceback(tmp_path):
    missing = tmp_path / "nope.h5"
    result = runner.invoke(app, ["convert", str(missing), str(tmp_path / "out.nc")])
    assert result.exit_code == 1
    assert str(missing) in result.output
    assert "Traceback" not in result.output
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    result = runner.invoke(app, ["convert", str(empty), str(tmp_path / "out.nc")])
    assert result.exit_code == 1
    assert str(empty) in result.output
    assert not (tmp_path / "out.nc").exists()


# --------------------------------------------------------------------------- features
@pytest.fixture
def tracked_nc(tmp_path):
    """Ten seconds of two random-walking animals with tracking noise: low-confidence points and a NaN gap."""
    rng = np.random.default_rng(7)
    n_time, keypoints = 300, ["nose", "neck", "body", "tail"]
    body = 200 + np.cumsum(rng.normal(scale=2.0, size=(n_time, 2, 1, 2)), axis=0)
    offsets = np.array([0.0, -10.0, -20.0, -30.0])[None, None, :, None] * np.array([1.0, 0.3])[None, :, None, None]
    pos = body + offsets + rng.normal(scale=0.5, size=(n_time, 2, 4, 2))
    conf = rng.uniform(0.7, 1.0, (n_time, 4, 2))
    conf[rng.random(conf.shape) < 0.05] = 0.1
    pos[100:104, :, 1, 0] = np.nan
    ds = from_numpy(pos, conf, keypoints=keypoints, individuals=["m1", "m2"], fps=30)
    return save_poses(ds, tmp_path / "tracked.nc")


def _features_config(tmp_path, text, name="config.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_features_writes_cleaned_poses_features_and_spectrogram(tmp_path, tracked_nc):
    import xarray as xr

    from behaviorlab.features.pipeline import compute_session_features

    out = tmp_path / "features.nc"
    result = runner.invoke(app, ["features", str(tracked_nc), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "masked" in result.output
    assert "filled by interpolation" in result.output
    # speeds: the centroid and 4 keypoints over 0.2 s, the centroid over 1 s (6); 5 accelerations; the heading's
    # velocity; 2 x 4 egocentric; 6 distances; the bend; the area; 4 confidences; 5 social features: two animals
    assert "features: 37" in result.output
    assert "frequency 25" in result.output
    written = xr.load_dataset(out, engine="h5netcdf")
    assert {"position", "confidence", "cleaning_masked", "interpolated", "features", "spectrogram"} <= set(written)
    assert written["features"].dims == ("time", "individual", "feature")
    assert written["spectrogram"].dims == ("time", "individual", "feature", "frequency")
    assert written.sizes["frequency"] == 25
    expected = compute_session_features(load_poses(tracked_nc))
    np.testing.assert_array_equal(written["features"].values, expected["features"].values)
    np.testing.assert_array_equal(written["spectrogram"].values, expected["spectrogram"].values)
    np.testing.assert_array_equal(written["position"].values, expected["position"].values)
    assert list(written["feature"].values) == list(expected["feature"].values)
    assert load_poses(out).sizes["time"] == 300  # the output is a pose file too


def test_features_applies_the_config_file(tmp_path, tracked_nc):
    import xarray as xr

    config = _features_config(
        tmp_path,
        "cleaning:\n  confidence_threshold: 0.5\n  median_window: 3\n"
        "features:\n  distances: []\n  egocentric: false\n  social: false\n  speed_keypoints: [centroid]\n"
        "  speed_lags_s: [0.1]\n  accelerations: false\n  confidence: false\n  joint_angles: []\n  body_area: false\n"
        "spectrogram:\n  n_frequencies: 6\n  f_min: 2.0\n  f_max: 10.0\n",
    )
    out = tmp_path / "features.nc"
    result = runner.invoke(app, ["features", str(tracked_nc), "--out", str(out), "--config", str(config)])
    assert result.exit_code == 0, result.output
    written = xr.load_dataset(out, engine="h5netcdf")
    assert list(written["feature"].values) == ["speed_centroid", "heading_velocity"]
    np.testing.assert_allclose(written["frequency"].values[[0, -1]], [2.0, 10.0])
    assert written.sizes["frequency"] == 6
    assert written["cleaning_masked"].values.any()  # the 0.1-confidence points were masked
    skip = _features_config(tmp_path, '{"spectrogram": false}', name="config.json")
    out2 = tmp_path / "no_spectrogram.nc"
    result = runner.invoke(app, ["features", str(tracked_nc), "--out", str(out2), "--config", str(skip)])
    assert result.exit_code == 0, result.output
    assert "spectrogram: skipped" in result.output
    assert "spectrogram" not in xr.load_dataset(out2, engine="h5netcdf")


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("cleaning:\n  confidence_treshold: 0.5\n", "confidence_treshold"),
        ("spectogram:\n  n_frequencies: 5\n", "spectogram"),
        ("spectrogram:\n  n_frequencies: ten\n", "spectrogram.n_frequencies"),
        ("features: [speed]\n", "features"),
        ("cleaning: {max_gap: 3\n", "not valid YAML"),
    ],
)
def test_features_bad_config_names_the_file_and_the_key(tmp_path, tracked_nc, text, named):
    config = _features_config(tmp_path, text)
    out = tmp_path / "features.nc"
    result = runner.invoke(app, ["features", str(tracked_nc), "--out", str(out), "--config", str(config)])
    assert result.exit_code == 1
    assert str(config) in result.output
    assert named in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_features_refuses_to_overwrite_unless_asked(tmp_path, tracked_nc):
    out = tmp_path / "features.nc"
    out.write_bytes(b"earlier results")
    result = runner.invoke(app, ["features", str(tracked_nc), "--out", str(out)])
    assert result.exit_code == 1
    assert "--overwrite" in result.output
    assert out.read_bytes() == b"earlier results"
    result = runner.invoke(app, ["features", str(tracked_nc), "--out", str(out), "--overwrite"])
    assert result.exit_code == 0, result.output
    assert load_poses(out).sizes["time"] == 300


def test_features_bad_input_names_the_file_without_traceback(tmp_path, tracked_nc):
    out = tmp_path / "features.nc"
    missing = tmp_path / "nope.csv"
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    for path in (missing, empty):
        result = runner.invoke(app, ["features", str(path), "--out", str(out)])
        assert result.exit_code == 1
        assert str(path) in result.output
        assert "Traceback" not in result.output
    csv = tmp_path / "tracked.csv"  # DeepLabCut files store no frame rate
    save_poses(load_poses(tracked_nc), csv)
    result = runner.invoke(app, ["features", str(csv), "--out", str(out)])
    assert result.exit_code == 1
    assert str(csv) in result.output
    assert "--fps" in result.output
    assert not out.exists()
    result = runner.invoke(app, ["features", str(csv), "--out", str(out), "--fps", "30"])
    assert result.exit_code == 0, result.output
    wrong_suffix = runner.invoke(app, ["features", str(tracked_nc), "--out", str(tmp_path / "features.csv")])
    assert wrong_suffix.exit_code == 1
    assert ".nc" in wrong_suffix.output


def test_predict_writes_poses_in_the_requested_formats_and_skips_done_videos(tmp_path):
    keras = pytest.importorskip("keras")
    from behaviorlab.io.video_write import write_video
    from behaviorlab.pose.models import build_stacked_densenet
    from behaviorlab.schema import Skeleton

    keras.utils.set_random_seed(0)
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    build_stacked_densenet((32, 32, 1), 2, n_stacks=1, growth_rate=8, output_stride=2).save(model_dir / "model.keras")
    config = {
        "model": "stacked_densenet",
        "skeleton": Skeleton(keypoints=("nose", "tail")).to_dict(),
        "input_shape": [32, 32, 1],
        "channels": 1,
        "grayscale": True,
        "output_stride": 2,
        "sigma": 3.0,
    }
    (model_dir / "pose_config.json").write_text(json.dumps(config))
    rng = np.random.default_rng(0)
    video = write_video(tmp_path / "clip.mp4", [rng.integers(0, 255, (32, 32), dtype=np.uint8) for _ in range(20)], 25)

    out = tmp_path / "out"
    result = runner.invoke(app, ["predict", str(model_dir), str(video), "--out", str(out), "--format", "nc,csv,slp"])
    assert result.exit_code == 0, result.output
    assert "20 frames" in result.output
    ds = load_poses(out / "clip.poses.nc")
    assert ds.sizes["time"] == 20
    assert list(ds["keypoint"].values) == ["nose", "tail"]
    for suffix in (".poses.csv", ".poses.slp"):
        again = load_poses(out / f"clip{suffix}")
        np.testing.assert_allclose(again["position"].values, ds["position"].values, atol=1e-3)

    again = runner.invoke(app, ["predict", str(model_dir), str(video), "--out", str(out)])
    assert again.exit_code == 0
    assert "skipped" in again.output

    bad = runner.invoke(app, ["predict", str(model_dir), str(video), "--out", str(out), "--format", "xyz"])
    assert bad.exit_code != 0
    assert "xyz" in bad.output

    # a part of the video, with the progress a log file gets (the runner's output is no terminal)
    part = runner.invoke(
        app, ["predict", str(model_dir), str(video), "--out", str(out), "--start", "5", "--stop", "12"]
    )
    assert part.exit_code == 0, part.output
    assert "predicting clip.mp4: 7 frames in" in part.output
    ds = load_poses(out / "clip.frames5-12.poses.nc")
    assert ds.sizes["time"] == 7
    np.testing.assert_allclose(
        ds["position"].values, load_poses(out / "clip.poses.nc")["position"].values[5:12], atol=1e-4
    )


def test_progress_lines_when_the_output_is_not_a_terminal():
    import io

    from behaviorlab.progress import progress_reporter

    stream = io.StringIO()
    advance = progress_reporter(100, "predicting x.mp4", stream=stream, every_s=0.0)
    for _ in range(4):
        advance(25)
    advance(None)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 5
    assert lines[1].startswith("predicting x.mp4: 50/100 frames (50%), ")
    assert "frames/s" in lines[1]
    assert lines[1].endswith(" s left")
    assert lines[-1].startswith("predicting x.mp4: 100 frames in ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--time-budget", "30"], "--time-budget: cannot read '30' as a duration; write it like 90s, 30m"),
        (["--path", "boxes"], "--path must be one of auto, crop, full-frame"),
    ],
)
def test_train_options_are_checked_before_anything_loads(tmp_path, args, message):
    result = runner.invoke(app, ["train", str(tmp_path / "absent.labels.h5"), "--out", str(tmp_path / "m"), *args])
    assert result.exit_code == 2
    assert message in " ".join(result.output.replace("│", " ").split())  # the words, out of rich's box
    assert not (tmp_path / "m").exists()
