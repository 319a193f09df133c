"""Tests for behaviorlab.results.render: known drawings on blank frames, and a rendered clip read back from disk."""

from __future__ import annotations

import numpy as np
import pytest

from behaviorlab.errors import FileFormatError, SchemaError
from behaviorlab.io.save import save_poses
from behaviorlab.io.video import VideoReader
from behaviorlab.io.video_write import write_video
from behaviorlab.results.render import (
    INDIVIDUAL_COLORS,
    PoseVideoMismatchWarning,
    confidence_colors,
    draw_poses,
    render_poses,
)
from behaviorlab.schema import Skeleton, from_numpy

RED, YELLOW, GREEN = (220, 20, 20), (240, 220, 20), (20, 200, 40)
SKELETON = Skeleton(["head", "tail"], edges=[("head", "tail")])


def test_confidence_colours_run_red_yellow_green():
    colors = confidence_colors(np.array([0.0, 0.5, 1.0, 1.7, -1.0, np.nan]))
    np.testing.assert_allclose(colors[:5], [RED, YELLOW, GREEN, GREEN, RED])
    np.testing.assert_allclose(colors[5], [245, 245, 245])
    np.testing.assert_allclose(confidence_colors(np.array(0.25)), np.add(RED, YELLOW) / 2)


def test_draw_poses_puts_keypoints_and_edges_where_they_belong():
    frame = np.full((40, 60), 50, np.uint8)
    position = np.array([[[10.0, 20.0], [40.0, 20.0]]])  # (individual, keypoint, xy)
    out = draw_poses(frame, position, np.array([[1.0, 0.0]]), SKELETON, radius=3)
    assert out.shape == (40, 60, 3)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out[20, 10], GREEN)  # disc centres: the confidence colour
    np.testing.assert_array_equal(out[20, 40], RED)
    np.testing.assert_array_equal(out[20, 25], INDIVIDUAL_COLORS[0])  # the edge between them
    np.testing.assert_array_equal(out[5, 5], [50, 50, 50])  # background untouched
    np.testing.assert_array_equal(out[23, 25], [50, 50, 50])  # 1.5 px line: 3 px away is background
    assert (frame == 50).all()  # input unchanged


def test_draw_poses_skips_missing_and_unconfident_points():
    frame = np.zeros((30, 30, 3), np.uint8)
    position = np.array([[[5.0, 5.0], [np.nan, np.nan]], [[20.0, 20.0], [25.0, 5.0]]])
    confidence = np.array([[0.9, 0.9], [0.1, np.nan]])
    out = draw_poses(frame, position, confidence, SKELETON, min_confidence=0.5)
    assert out[5, 5].any()
    assert not out[20, 20].any()  # confidence 0.1 < 0.5: hidden
    np.testing.assert_array_equal(out[5, 25], [245, 245, 245])  # NaN confidence: drawn white
    assert not out[12, 12].any()
    assert not out[12, 22].any()
    with pytest.raises(SchemaError, match="position"):
        draw_poses(frame, np.zeros((2, 2)))
    with pytest.raises(SchemaError, match="skeleton"):
        draw_poses(frame, np.zeros((1, 3, 2)), skeleton=SKELETON)


def test_draw_poses_trails_fade_along_the_path():
    frame = np.zeros((20, 60, 3), np.uint8)
    trail = np.array([[[[x, 10.0]]] for x in (10.0, 20.0, 30.0)])  # (step, individual, keypoint, xy)
    ones = np.ones((3, 1, 1))
    out = draw_poses(frame, np.array([[[40.0, 10.0]]]), np.array([[1.0]]), trail=trail, trail_confidence=ones, radius=2)
    brightness = [int(out[10, x].sum()) for x in (15, 25, 35)]
    assert 0 < brightness[0] < brightness[1] < brightness[2]  # older parts fainter
    assert not out[10, 5].any()  # nothing before the oldest point


# --------------------------------------------------------------------------- videos
N_FRAMES, H, W = 24, 64, 80


@pytest.fixture
def clip(tmp_path):
    """A plain grey clip and poses of two keypoints moving right by 1 px per frame."""
    video = write_video(tmp_path / "clip.mp4", [np.full((H, W), 100, np.uint8)] * N_FRAMES, fps=12)
    t = np.arange(N_FRAMES, dtype=float)
    pos = np.zeros((N_FRAMES, 2, 2, 1))
    pos[:, 0, 0, 0], pos[:, 1, 0, 0] = 20 + t, 20  # head: confident
    pos[:, 0, 1, 0], pos[:, 1, 1, 0] = 20 + t, 45  # tail: unsure
    conf = np.zeros((N_FRAMES, 2, 1))
    conf[:, 0] = 1.0
    poses = from_numpy(pos, conf, fps=12, skeleton=SKELETON, individuals=["mouse"])
    return video, poses


def test_render_poses_draws_on_every_frame(tmp_path, clip):
    video, poses = clip
    out = render_poses(poses, video, tmp_path / "labeled.mp4", radius=4, trail=12)
    with VideoReader(out) as reader:
        assert (reader.n_frames, reader.height, reader.width, reader.fps) == (N_FRAMES, H, W, 12)
        rendered = reader[:]
    for t in (0, 11, 23):
        head = rendered[t, 20, 20 + t].astype(int)
        tail = rendered[t, 45, 20 + t].astype(int)
        assert min(head[1] - head[0], head[1] - head[2]) > 80, head  # green
        assert min(tail[0] - tail[1], tail[0] - tail[2]) > 80, tail  # red
        np.testing.assert_allclose(rendered[t, 5, 5], [100, 100, 100], atol=6)  # background
    # the trail: behind the head at frame 23 (x = 43), on the path it took, and nothing further back
    assert np.abs(rendered[23, 20, 43 - 7].astype(int) - 100).max() > 20
    np.testing.assert_allclose(rendered[23, 20, 43 - 16], [100, 100, 100], atol=6)


def test_render_poses_range_and_pose_file(tmp_path, clip):
    video, poses = clip
    path = save_poses(poses, tmp_path / "clip_poses.nc")
    out = render_poses(path, video, tmp_path / "part.mp4", start=5, end=9, radius=4)
    with VideoReader(out) as reader:
        assert reader.n_frames == 4
        first = reader.read(0).astype(int)
    head = first[20, 25]  # frame 5: head at x = 25
    assert head[1] - head[0] > 80


def test_render_poses_warns_when_the_poses_are_shorter_or_longer(tmp_path, clip):
    video, poses = clip
    short = save_poses(poses.isel(time=slice(0, 10)), tmp_path / "clip_short.nc")
    with pytest.warns(PoseVideoMismatchWarning, match=r"clip_short\.nc.*clip\.mp4 has 24 frames"):
        out = render_poses(short, video, tmp_path / "short.mp4")
    assert VideoReader(out).n_frames == 10
    longer = from_numpy(np.full((30, 2, 2, 1), 10.0), fps=12, skeleton=SKELETON)
    with pytest.warns(PoseVideoMismatchWarning, match="has 24 frames"):
        out = render_poses(longer, video, tmp_path / "long.mp4")
    assert VideoReader(out).n_frames == N_FRAMES
    with pytest.raises(FileFormatError, match=r"clip\.mp4.*the video has 24 frames"):
        render_poses(poses, video, tmp_path / "bad.mp4", end=30)
    with pytest.raises(FileFormatError, match="no poses for frames"):
        render_poses(poses.isel(time=slice(0, 5)), video, tmp_path / "none.mp4", start=10, end=20)
    assert not (tmp_path / "bad.mp4").exists()
    assert not (tmp_path / "none.mp4").exists()
