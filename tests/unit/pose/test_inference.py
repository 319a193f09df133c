"""Streaming video inference: identical results in any batch grouping, resume after a crash, truncated videos."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

pytest.importorskip("keras")

import keras

from behaviorlab.errors import BehaviorlabError, FileFormatError
from behaviorlab.io.load import load_poses
from behaviorlab.io.video import TruncatedVideoWarning, VideoReader
from behaviorlab.io.video_write import write_video
from behaviorlab.pose import backend
from behaviorlab.pose.inference import RealtimePredictor, partial_dir, predict_video
from behaviorlab.pose.models import build_stacked_densenet
from behaviorlab.pose.predict import PoseModel
from behaviorlab.schema import Skeleton, get_log

N_FRAMES = 45
SIZE = 32


def moving_dot(n: int = N_FRAMES) -> list[np.ndarray]:
    """A bright dot moving across a dark frame, one position per frame."""
    frames = []
    yy, xx = np.mgrid[:SIZE, :SIZE]
    for i in range(n):
        cx, cy = 4 + (i % 24), 8 + (i // 24) * 10
        frames.append((220 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 8.0) + 20).astype(np.uint8))
    return frames


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    return write_video(tmp_path_factory.mktemp("video") / "dot.mp4", moving_dot(), fps=30)


@pytest.fixture(scope="module")
def model() -> PoseModel:
    keras.utils.set_random_seed(3)
    skeleton = Skeleton(keypoints=("a", "b"), edges=(("a", "b"),))
    net = build_stacked_densenet((SIZE, SIZE, 1), 2, n_stacks=1, growth_rate=8, output_stride=2)
    config = {
        "model": "stacked_densenet",
        "skeleton": skeleton.to_dict(),
        "input_shape": [SIZE, SIZE, 1],
        "channels": 1,
        "grayscale": True,
        "output_stride": 2,
        "sigma": 3.0,
    }
    return PoseModel(net, config)


def values(ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    return ds["position"].values, ds["confidence"].values


def test_video_poses_match_frame_by_frame_prediction(model, video):
    ds = predict_video(model, video, batch_size=8)
    assert ds["position"].dims == ("time", "space", "keypoint", "individual")
    assert ds.sizes["time"] == N_FRAMES
    assert ds.attrs["fps"] == 30
    assert ds.attrs["source_software"] == "behaviorlab"
    np.testing.assert_array_equal(ds["frame"].values, np.arange(N_FRAMES))
    np.testing.assert_allclose(ds["time"].values, np.arange(N_FRAMES) / 30)
    with VideoReader(video, grayscale=True) as reader:
        frames = reader[:]
    expected = model.predict(frames, batch_size=8)
    np.testing.assert_allclose(ds["position"].values[..., 0], np.transpose(expected[..., :2], (0, 2, 1)), atol=1e-3)
    np.testing.assert_allclose(ds["confidence"].values[..., 0], expected[..., 2], atol=1e-5)
    assert json.loads(ds.attrs["log"])[-1]["operation"] == "predict_video"


def test_frame_range(model, video):
    whole = predict_video(model, video, batch_size=8)
    part = predict_video(model, video, batch_size=8, start=16, stop=40)
    np.testing.assert_array_equal(part["frame"].values, np.arange(16, 40))
    np.testing.assert_allclose(part["position"].values, whole["position"].values[16:40], atol=1e-3)


def test_interrupted_prediction_resumes_to_identical_output(model, video, tmp_path, monkeypatch):
    clean = predict_video(model, video, tmp_path / "clean.nc", batch_size=4, chunk_size=8)

    out = tmp_path / "crash.nc"
    real = backend.compiled_predict
    calls = {"n": 0}

    def crashing(net):
        predict = real(net)

        def run(images):
            calls["n"] += 1
            if calls["n"] == 7:  # in the 4th chunk of 8 frames (batches of 4)
                raise KeyboardInterrupt
            return predict(images)

        return run

    monkeypatch.setattr(backend, "compiled_predict", crashing)
    with pytest.raises(KeyboardInterrupt):  # a fresh PoseModel: its compiled function is not cached yet
        predict_video(PoseModel(model.train_model, model.config), video, out, batch_size=4, chunk_size=8)
    assert not out.exists()
    chunks = sorted(partial_dir(out).glob("chunk_*.npz"))
    assert len(chunks) == 3  # 24 frames kept

    seen = []

    def counting(net):
        predict = real(net)

        def run(images):
            seen.append(len(images))
            return predict(images)

        return run

    monkeypatch.setattr(backend, "compiled_predict", counting)
    resumed = predict_video(PoseModel(model.train_model, model.config), video, out, batch_size=4, chunk_size=8)
    assert len(seen) == -(-(N_FRAMES - 24) // 4)  # only the missing frames ran
    assert not partial_dir(out).exists()
    for a, b in zip(values(clean), values(resumed), strict=True):
        np.testing.assert_array_equal(a, b)
    loaded_clean, loaded_resumed = load_poses(tmp_path / "clean.nc"), load_poses(out)
    for a, b in zip(values(loaded_clean), values(loaded_resumed), strict=True):
        np.testing.assert_array_equal(a, b)


def test_resume_refuses_other_settings(model, video, tmp_path):
    out = tmp_path / "p.nc"
    folder = partial_dir(out)
    folder.mkdir()
    (folder / "meta.json").write_text(json.dumps({"model": "something else"}))
    with pytest.raises(BehaviorlabError, match="different"):
        predict_video(model, video, out, batch_size=4)


def test_truncated_video_gives_readable_frames_and_a_warning(model, tmp_path):
    rng = np.random.default_rng(0)  # noise: the frame data, not the index, makes up most of the file
    frames = [rng.integers(0, 255, (SIZE, SIZE), dtype=np.uint8) for _ in range(300)]
    path = write_video(tmp_path / "long.mp4", frames, fps=30)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(path.read_bytes()[: int(path.stat().st_size * 0.5)])
    with pytest.warns(TruncatedVideoWarning, match="broken.mp4"):
        ds = predict_video(model, broken, tmp_path / "broken.nc", batch_size=16)
    assert 0 < ds.sizes["time"] < 300
    with VideoReader(broken, grayscale=True) as reader, warnings.catch_warnings():
        warnings.simplefilter("ignore", TruncatedVideoWarning)
        readable = np.concatenate([b for _, b in reader.iter_batches(50, on_truncated="warn")])
    assert ds.sizes["time"] == len(readable)
    assert np.isfinite(ds["position"].values).all()


def damaged_video(path: Path, frames: list[np.ndarray], bad: int) -> Path:
    """An MJPEG AVI of ``frames`` whose frame ``bad`` holds garbage bytes (every frame is its own packet)."""
    import av

    clean = path.with_name("clean_" + path.name)
    with av.open(str(clean), "w") as out:
        stream = out.add_stream("mjpeg", rate=30)
        stream.width, stream.height, stream.pix_fmt = SIZE, SIZE, "yuvj420p"
        for image in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(np.repeat(image[..., None], 3, -1), format="rgb24")))
        out.mux(stream.encode())
    with av.open(str(clean)) as src, av.open(str(path), "w") as out:
        source = src.streams.video[0]
        target = out.add_stream_from_template(source)
        packets = [p for p in src.demux(source) if p.size]
        for i, packet in enumerate(packets):
            if i == bad:
                broken = av.Packet(bytes(packet)[:20] + b"\x13" * (packet.size - 20))
                broken.pts, broken.dts, broken.time_base = packet.pts, packet.dts, packet.time_base
                packet = broken
            packet.stream = target
            out.mux(packet)
    return path


def test_a_damaged_frame_mid_video_gives_nan_poses_a_warning_and_every_other_frame(model, tmp_path):
    from behaviorlab.io.video import DamagedFrameError
    from behaviorlab.pose.inference import DamagedFramesWarning

    path = damaged_video(tmp_path / "damaged.avi", moving_dot(), bad=20)
    with (
        VideoReader(path, grayscale=True) as reader,
        pytest.raises(DamagedFrameError, match=r"damaged\.avi: frame 20 is damaged"),
    ):
        list(reader.iter_batches(16))
    with pytest.warns(DamagedFramesWarning, match=r"damaged\.avi: 1 damaged frame.*frame 20"):
        ds = predict_video(model, path, tmp_path / "damaged.nc", batch_size=8)
    assert ds.sizes["time"] == N_FRAMES  # the run went on past the damage
    bad = np.isnan(ds["position"].values).all(axis=(1, 2, 3))
    assert np.flatnonzero(bad).tolist() == [20]
    assert ds.attrs["damaged_frames"] == 1
    assert get_log(ds)[-1]["damaged_frames"] == [20]
    # the other frames are predicted exactly as from the decoded images
    with VideoReader(path, grayscale=True) as reader:
        good = [i for i in range(N_FRAMES) if i != 20]
        direct = model.predict(reader[good])
    np.testing.assert_allclose(ds["position"].values[good, :, :, 0], direct[..., :2].transpose(0, 2, 1), atol=1e-4)


def test_missing_video_is_a_clear_error(model, tmp_path):
    with pytest.raises(FileFormatError, match=r"nope\.mp4"):
        predict_video(model, tmp_path / "nope.mp4")


def test_realtime_predictor_matches_batch_prediction_and_records_latency(model, video):
    with VideoReader(video, grayscale=True) as reader:
        frames = reader[:5]
    predictor = RealtimePredictor(model, warmup=1)
    one = np.stack([predictor(frame) for frame in frames])
    np.testing.assert_allclose(one, model.predict(frames), atol=1e-3)
    stats = predictor.latency_ms()
    assert stats["n"] == 5
    assert 0 < stats["p50"] <= stats["p99"]


def test_colour_video_on_a_one_channel_model(model, tmp_path):
    """Models trained on gray images (grayscale=False, one channel) take colour video frames as their luma."""
    gray_model = PoseModel(model.train_model, {**model.config, "grayscale": False})
    colour = write_video(tmp_path / "rgb.mp4", [np.repeat(f[..., None], 3, axis=2) for f in moving_dot(12)], fps=30)
    ds = predict_video(gray_model, colour, batch_size=4)
    with VideoReader(colour, grayscale=True) as reader:
        expected = model.predict(reader[:], batch_size=4)
    np.testing.assert_allclose(ds["confidence"].values[..., 0], expected[..., 2], atol=1e-5)
