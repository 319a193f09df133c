"""Tests for behaviorlab.labeling.select: frame selection with known answers, and labeling sets that training reads."""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import numpy as np
import pytest

from behaviorlab.errors import SchemaError
from behaviorlab.io.labeled_frames import LabeledFrames, load_labeled_frames, save_labeled_frames
from behaviorlab.io.load import load_poses
from behaviorlab.io.video import VideoReader
from behaviorlab.io.video_write import write_video
from behaviorlab.labeling.select import (
    downsample_frames,
    frame_source,
    make_labeling_set,
    parse_frame_source,
    read_skeleton,
    select_frames,
    video_features,
    write_labeling_set,
)
from behaviorlab.schema import Skeleton, from_numpy, pose_frame_numbers

# Five visually distinct scene types in blocks of very unequal length: uniform sampling of
# five frames misses the two rare ones, k-means must find all five.
BLOCKS = [100, 60, 30, 6, 4]
SIDE = 64


def scene(kind: int, rng: np.random.Generator) -> np.ndarray:
    yy, xx = np.mgrid[0:SIDE, 0:SIDE]
    base = [
        np.full((SIDE, SIDE), 40.0),  # dark
        np.full((SIDE, SIDE), 210.0),  # bright
        np.where((yy // 8) % 2 == 0, 60.0, 190.0),  # horizontal stripes
        np.where((xx // 8) % 2 == 0, 60.0, 190.0),  # vertical stripes
        np.where(((xx // 16) + (yy // 16)) % 2 == 0, 30.0, 230.0),  # checkerboard
    ][kind]
    return np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8)


def scene_types() -> np.ndarray:
    return np.repeat(np.arange(len(BLOCKS)), BLOCKS)


@pytest.fixture(scope="module")
def scene_video(tmp_path_factory) -> Path:
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("scenes") / "scenes.mp4"
    return write_video(path, (scene(k, rng) for k in scene_types()), fps=25)


# --------------------------------------------------------------------------- selection
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kmeans_sampling_draws_from_every_cluster(scene_video, seed):
    table = select_frames(scene_video, len(BLOCKS), method="kmeans", seed=seed)
    kinds = scene_types()[table["frame"].to_numpy()]
    assert sorted(kinds.tolist()) == list(range(len(BLOCKS)))  # one frame of every scene type
    assert table["cluster"].nunique() == len(BLOCKS)
    assert list(table["video"]) == [str(scene_video)] * len(BLOCKS)
    assert (np.diff(table["frame"]) > 0).all()


def test_kmeans_with_fewer_clusters_draws_several_per_cluster_and_is_seeded(scene_video):
    a = select_frames(scene_video, 10, n_clusters=5, seed=3, n_components=None)
    b = select_frames(scene_video, 10, n_clusters=5, seed=3, n_components=None)
    assert a.equals(b)
    kinds = scene_types()[a["frame"].to_numpy()]
    assert set(kinds.tolist()) == set(range(len(BLOCKS)))
    assert a["frame"].is_unique


def test_uniform_sampling_misses_rare_scenes_where_kmeans_does_not(scene_video):
    table = select_frames(scene_video, len(BLOCKS), method="uniform")
    # centres of five equal stretches of 200 frames
    assert table["frame"].tolist() == [20, 60, 100, 140, 180]
    assert (table["cluster"] == -1).all()
    assert set(scene_types()[table["frame"].to_numpy()].tolist()) == {0, 1, 2}


def test_uniform_sampling_spans_several_videos(tmp_path):
    first = write_video(tmp_path / "one.mp4", [np.zeros((16, 16), np.uint8)] * 10, fps=10)
    second = write_video(tmp_path / "two.mp4", [np.zeros((16, 16), np.uint8)] * 30, fps=10)
    table = select_frames([first, second], 4, method="uniform")
    # 40 frames joined end to end: global frames 5, 15, 25, 35
    assert table["video"].tolist() == [str(first), str(second), str(second), str(second)]
    assert table["frame"].tolist() == [5, 5, 15, 25]


def test_selection_rejects_bad_requests(scene_video, tmp_path):
    with pytest.raises(ValueError, match="cannot choose 500 frames"):
        select_frames(scene_video, 500, method="uniform")
    with pytest.raises(ValueError, match="cannot choose 500 frames"):
        select_frames(scene_video, 500)
    with pytest.raises(ValueError, match="method"):
        select_frames(scene_video, 5, method="random")
    with pytest.raises(ValueError, match="n_clusters"):
        select_frames(scene_video, 5, n_clusters=6)
    (tmp_path / "a").mkdir()
    twin = tmp_path / "a" / scene_video.name
    twin.write_bytes(scene_video.read_bytes())
    with pytest.raises(SchemaError, match="share the file name"):
        select_frames([scene_video, twin], 5)


# --------------------------------------------------------------------------- features
def test_downsample_frames_averages_blocks():
    frames = np.arange(24, dtype=np.uint8).reshape(1, 4, 6, 1)
    out = downsample_frames(frames, 3)
    assert out.shape == (1, 2, 3)
    expected = frames[0, :, :, 0].astype(float).reshape(2, 2, 3, 2).mean(axis=(1, 3))
    np.testing.assert_allclose(out[0], expected)
    rgb = np.stack([np.full((8, 8), v, np.uint8) for v in (0, 30, 60)], axis=-1)[None]
    np.testing.assert_allclose(downsample_frames(rgb, 4), np.full((1, 4, 4), 30.0))
    assert downsample_frames(frames, 100).shape == (1, 4, 6)  # never enlarged


def test_video_features_stream_every_step_th_frame(scene_video):
    frames, features = video_features(scene_video, size=16, step=7, batch_size=32)
    np.testing.assert_array_equal(frames, np.arange(0, sum(BLOCKS), 7))
    assert features.shape == (len(frames), 16 * 16)
    assert features.dtype == np.uint8
    # a dark frame and a bright frame keep their brightness
    assert features[0].mean() == pytest.approx(40, abs=4)
    assert features[frames.tolist().index(105)].mean() == pytest.approx(210, abs=4)


# --------------------------------------------------------------------------- names
def test_frame_sources_round_trip():
    assert frame_source(Path("videos/session_a.mp4"), 7) == "session_a.mp4#frame=7"
    assert parse_frame_source("session_a.mp4#frame=7") == ("session_a", 7)
    assert parse_frame_source("labeled-data/session_a/img00007.png") == ("session_a", 7)
    assert parse_frame_source("C:\\proj\\labeled-data\\session_a\\img00007.png") == ("session_a", 7)
    assert parse_frame_source("frame_3") is None
    assert parse_frame_source("x.mp4#frame=abc") is None


def test_pose_frame_numbers_follow_the_time_coordinate():
    ds = from_numpy(np.zeros((5, 2, 1, 1)), fps=25)
    np.testing.assert_array_equal(pose_frame_numbers(ds), np.arange(5))
    np.testing.assert_array_equal(pose_frame_numbers(ds.isel(time=slice(2, 5))), [2, 3, 4])
    np.testing.assert_array_equal(pose_frame_numbers(from_numpy(np.zeros((3, 2, 1, 1)))), [0, 1, 2])
    with pytest.raises(SchemaError, match="whole video frames"):
        pose_frame_numbers(ds.assign_coords(time=ds["time"] + 0.013))


def test_read_skeleton_from_model_labels_and_poses(tmp_path, sample_data):
    truth = load_poses(sample_data / "session_a_poses.nc")
    skeleton, individuals = read_skeleton(sample_data / "session_a_poses.nc")
    assert skeleton.keypoints == tuple(truth["keypoint"].values)
    assert skeleton.edges
    assert individuals == ("mouse1",)
    model = tmp_path / "model"
    model.mkdir()
    (model / "pose_config.json").write_text(json.dumps({"skeleton": skeleton.to_dict()}))
    assert read_skeleton(model) == (skeleton, None)
    assert read_skeleton(sample_data / "labeled_frames.labels.h5") == (skeleton, ("mouse1", "mouse2"))
    with pytest.raises(Exception, match="not found"):
        read_skeleton(tmp_path / "nothing")


# --------------------------------------------------------------------------- labeling sets
def test_labeling_set_is_empty_then_training_reads_it_once_labeled(tmp_path, sample_data):
    from behaviorlab.pose.data import PoseSequence, load_frames, prepare_images, single_animal_keypoints

    video = sample_data / "session_a.mp4"
    truth = load_poses(sample_data / "session_a_poses.nc")
    skeleton, _ = read_skeleton(sample_data / "session_a_poses.nc")
    frames = make_labeling_set(video, 6, skeleton, individuals=["mouse1"], method="uniform", grayscale=True)
    expected = [150, 450, 750, 1050, 1350, 1650]
    assert frames.sources == tuple(f"session_a.mp4#frame={f}" for f in expected)
    assert frames.keypoints.shape == (6, 1, skeleton.n_keypoints, 2)
    assert np.isnan(frames.keypoints).all()
    with VideoReader(video, grayscale=True) as reader:
        np.testing.assert_array_equal(frames.images[2], reader.read(750))
    written = write_labeling_set(frames, tmp_path / "to_label.labels.h5", export=["dlc", "sleap"])
    assert written["dlc"] == tmp_path / "to_label_dlc" / "config.yaml"
    assert written["sleap"] == tmp_path / "to_label.pkg.slp"
    for path in written.values():
        assert len(load_labeled_frames(path)) == 6

    # a labeler fills in the keypoints (here: the ground truth of those frames)
    empty = load_labeled_frames(written["labels"])
    picked = [parse_frame_source(s)[1] for s in empty.sources]
    xy = truth["position"].isel(time=picked).transpose("time", "individual", "keypoint", "space").values
    labeled_path = save_labeled_frames(attrs.evolve(empty, keypoints=xy), tmp_path / "labeled.labels.h5")

    labeled = load_frames(labeled_path)  # what train_model calls first
    assert isinstance(labeled, LabeledFrames)
    keypoints, used = single_animal_keypoints(labeled.keypoints, labeled.sources)
    np.testing.assert_array_equal(used, np.arange(6))
    np.testing.assert_allclose(keypoints, xy[:, 0])
    images = prepare_images([labeled.images[i] for i in used], 1, grayscale=True)
    sequence = PoseSequence(images, keypoints, labeled.skeleton, (256, 256, 1), 4, 5.0, 1, 3)
    batch_images, targets = sequence[0]
    assert batch_images.shape == (3, 256, 256, 1)
    assert np.isfinite(targets).all()
    assert targets.max() > 0.5


def test_labeling_set_needs_a_valid_export(tmp_path):
    frames = LabeledFrames([np.zeros((4, 4, 1), np.uint8)], np.full((1, 1, 1, 2), np.nan), Skeleton(["a"]))
    with pytest.raises(ValueError, match="export"):
        write_labeling_set(frames, tmp_path / "x.labels.h5", export="boris")
