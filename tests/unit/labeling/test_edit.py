"""Label editing and pose review (behaviorlab.labeling.edit), with known answers."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from behaviorlab.errors import SchemaError
from behaviorlab.io.labeled_frames import LabeledFrames, load_labeled_frames, save_labeled_frames
from behaviorlab.labeling.edit import (
    EditHistory,
    click_to_pixel,
    display_scale,
    frame_order,
    frame_status,
    frame_table,
    get_keypoint,
    keypoint_table,
    label_image,
    labeling_progress,
    next_frame,
    next_unlabeled_keypoint,
    pose_quality_table,
    processing_log_table,
    save_labels,
    set_keypoint,
)
from behaviorlab.schema import Skeleton, from_numpy, log_step

SKELETON = Skeleton(["nose", "neck", "tail"], edges=[("nose", "neck"), ("neck", "tail")])


def make_frames() -> LabeledFrames:
    """Five 20 x 30 frames, two mice: labeled, unlabeled, partial, labeled (mouse2 absent), unlabeled."""
    nan = np.nan
    kp = np.full((5, 2, 3, 2), nan)
    kp[0] = [[[1, 2], [3, 4], [5, 6]], [[7, 8], [9, 10], [11, 12]]]
    kp[2, 1] = [[1, 1], [nan, nan], [2, 2]]  # mouse2 half done
    kp[3, 0] = [[4, 4], [5, 5], [6, 6]]  # mouse2 absent
    images = [np.full((20, 30, 1), 10 * i, np.uint8) for i in range(5)]
    sources = [f"video.mp4#frame={10 * i}" for i in range(5)]
    return LabeledFrames(images, kp, SKELETON, ["mouse1", "mouse2"], sources)


# --------------------------------------------------------------------------- which frames need labels
def test_frame_status_and_suggested_order():
    frames = make_frames()
    assert frame_status(frames).tolist() == ["labeled", "unlabeled", "partial", "labeled", "unlabeled"]
    assert frame_order(frames).tolist() == [1, 4, 2, 0, 3]
    assert labeling_progress(frames) == {"unlabeled": 2, "partial": 1, "labeled": 2, "total": 5}
    table = frame_table(frames)
    assert table["frame"].tolist() == [1, 4, 2, 0, 3]
    assert table["labeled_keypoints"].tolist() == ["0/6", "0/6", "2/6", "6/6", "3/6"]
    assert table["source"].iloc[0] == "video.mp4#frame=10"


def test_next_frame_skips_labeled_frames_and_wraps():
    frames = make_frames()
    assert next_frame(frames, 0) == 1
    assert next_frame(frames, 1) == 2
    assert next_frame(frames, 2) == 4
    assert next_frame(frames, 4) == 1  # wraps past the labeled frame 0
    done = set_keypoint(frames, 2, "mouse2", "neck", (0, 0))
    for i in (1, 4):
        for ind in ("mouse1", "mouse2"):
            for k in SKELETON.keypoints:
                done = set_keypoint(done, i, ind, k, (1, 1))
    assert (frame_status(done) == "labeled").all()
    assert next_frame(done, 4) == 0  # nothing left: simply the next frame


def test_next_unlabeled_keypoint():
    frames = make_frames()
    assert next_unlabeled_keypoint(frames, 2, "mouse2") == "neck"
    assert next_unlabeled_keypoint(frames, 2, "mouse2", after="neck") == "neck"  # wraps back to it
    assert next_unlabeled_keypoint(frames, 1, "mouse1", after="nose") == "neck"
    assert next_unlabeled_keypoint(frames, 1, "mouse1", after="tail") == "nose"
    assert next_unlabeled_keypoint(frames, 0, "mouse1") is None
    assert next_unlabeled_keypoint(frames, 2, 1) == "neck"  # individuals by position too


# --------------------------------------------------------------------------- setting and undoing
def test_set_keypoint_returns_a_new_object_and_leaves_the_input_alone():
    frames = make_frames()
    before = frames.keypoints.copy()
    changed = set_keypoint(frames, 1, "mouse2", "tail", (12.5, 3.25))
    np.testing.assert_array_equal(frames.keypoints, before)
    assert get_keypoint(changed, 1, "mouse2", "tail") == (12.5, 3.25)
    diff = ~((changed.keypoints == before) | (np.isnan(changed.keypoints) & np.isnan(before)))
    assert np.argwhere(diff).tolist() == [[1, 1, 2, 0], [1, 1, 2, 1]]  # only that one keypoint changed
    hidden = set_keypoint(frames, 0, "mouse1", "neck", None)
    assert np.isnan(get_keypoint(hidden, 0, "mouse1", "neck")).all()
    assert np.isnan(get_keypoint(set_keypoint(frames, 0, 0, 1, (np.nan, np.nan)), 0, 0, 1)).all()
    table = keypoint_table(changed, 1, "mouse2")
    assert table["labeled"].tolist() == [False, False, True]
    assert table.loc[2, ["x", "y"]].tolist() == [12.5, 3.25]


@pytest.mark.parametrize(
    ("index", "individual", "keypoint", "xy", "match"),
    [
        (5, "mouse1", "nose", (1, 1), "out of range"),
        (0, "rat", "nose", (1, 1), "unknown individual"),
        (0, "mouse1", "paw", (1, 1), "unknown keypoint"),
        (0, "mouse1", "nose", (30, 1), "outside"),  # the image is 30 wide: x up to 29.5
        (0, "mouse1", "nose", (1, -0.6), "outside"),
        (0, "mouse1", "nose", (1, np.nan), "both"),
        (0, "mouse1", "nose", (1, 2, 3), "two numbers"),
    ],
)
def test_set_keypoint_rejects_bad_input(index, individual, keypoint, xy, match):
    with pytest.raises(SchemaError, match=match):
        set_keypoint(make_frames(), index, individual, keypoint, xy)


def test_set_keypoint_accepts_the_image_edges():
    changed = set_keypoint(make_frames(), 0, "mouse1", "nose", (29.5, -0.5))
    assert get_keypoint(changed, 0, "mouse1", "nose") == (29.5, -0.5)


def test_undo_restores_previous_values_exactly_for_several_individuals():
    frames = make_frames()
    history = EditHistory()
    step1, history = history.apply(frames, 1, "mouse1", "nose", (3.0, 4.0))  # was NaN
    step2, history = history.apply(step1, 0, "mouse2", "tail", (20.0, 15.0))  # was (11, 12)
    step3, history = history.apply(step2, 0, "mouse2", "tail", None)  # hidden
    assert len(history) == 3
    assert history.edits[1].before == (11.0, 12.0)
    assert history.edits[1].after == (20.0, 15.0)
    assert history.edits[0].source == "video.mp4#frame=10"
    assert history.edits[0].individual == "mouse1"

    back2, history, edit = history.undo(step3)
    assert edit.keypoint == "tail"
    assert edit.individual == "mouse2"
    np.testing.assert_array_equal(back2.keypoints, step2.keypoints)
    back1, history, _ = history.undo(back2)
    np.testing.assert_array_equal(back1.keypoints, step1.keypoints)
    back0, history, _ = history.undo(back1)
    np.testing.assert_array_equal(back0.keypoints, frames.keypoints)  # NaN where it was NaN
    assert np.isnan(get_keypoint(back0, 1, "mouse1", "nose")).all()
    same, history, edit = history.undo(back0)
    assert edit is None
    assert same is back0
    assert len(history) == 0


def test_history_keeps_at_most_max_edits():
    frames, history = make_frames(), EditHistory(max_edits=2)
    for x in (1.0, 2.0, 3.0):
        frames, history = history.apply(frames, 1, "mouse1", "nose", (x, x))
    assert [e.after for e in history.edits] == [(2.0, 2.0), (3.0, 3.0)]


# --------------------------------------------------------------------------- saving
def test_save_round_trip_and_undo_round_trip(tmp_path):
    path = tmp_path / "frames.labels.h5"
    frames = make_frames()
    save_labeled_frames(frames, path)
    changed, history = EditHistory().apply(frames, 4, "mouse2", "neck", (7.25, 8.5))
    assert save_labels(changed, path) == path
    reloaded = load_labeled_frames(path)
    assert get_keypoint(reloaded, 4, "mouse2", "neck") == (7.25, 8.5)
    np.testing.assert_array_equal(reloaded.keypoints, changed.keypoints)
    for a, b in zip(reloaded.images, frames.images, strict=True):
        np.testing.assert_array_equal(a, b)
    assert reloaded.sources == frames.sources
    assert reloaded.individuals == frames.individuals

    restored, history, _ = history.undo(reloaded)
    save_labels(restored, path)
    np.testing.assert_array_equal(load_labeled_frames(path).keypoints, frames.keypoints)
    assert [p.name for p in tmp_path.iterdir()] == ["frames.labels.h5"]  # no temporary file left behind


def test_save_labels_writes_the_whole_file_when_the_frames_differ(tmp_path):
    path = tmp_path / "frames.labels.h5"
    save_labeled_frames(make_frames().select([0, 1]), path)
    frames = set_keypoint(make_frames(), 3, "mouse2", "nose", (1, 2))
    save_labels(frames, path)
    reloaded = load_labeled_frames(path)
    assert len(reloaded) == 5
    np.testing.assert_array_equal(reloaded.keypoints, frames.keypoints)
    new = tmp_path / "new.labels.h5"
    save_labels(frames, new)  # no file yet
    np.testing.assert_array_equal(load_labeled_frames(new).keypoints, frames.keypoints)


# --------------------------------------------------------------------------- drawing and clicks
def test_click_maps_back_to_image_pixels():
    # a 256 x 128 image shown at 512 x 256: screen pixel k covers image [k/2 - 0.5, k/2]
    assert click_to_pixel(201, 101, (512, 256), (256, 128)) == (100.25, 50.25)
    assert click_to_pixel(0, 0, (512, 256), (256, 128)) == (-0.25, -0.25)
    assert click_to_pixel(511, 255, (512, 256), (256, 128)) == (255.25, 127.25)
    assert click_to_pixel(10, 19, (30, 20), (30, 20)) == (10.0, 19.0)  # shown at natural size: unchanged
    assert click_to_pixel(600, -5, (512, 256), (256, 128)) == (255.5, -0.5)  # clipped to the image
    with pytest.raises(SchemaError):
        click_to_pixel(1, 1, (0, 10), (10, 10))


def test_display_scale():
    assert display_scale((256, 256, 1)) == 2
    assert display_scale((20, 30, 3)) == 17
    assert display_scale((1080, 1920, 3)) == 1
    assert display_scale((100, 50), target=400) == 4


def test_label_image_enlarges_and_marks_the_chosen_keypoint():
    frames = make_frames()
    plain = label_image(frames, 1, scale=3)
    assert plain.shape == (60, 90, 3)
    assert (plain == 10).all()
    drawn = label_image(frames, 0, individual="mouse1", keypoint="nose", scale=4)
    # mouse1's nose at (1, 2) lands on the enlarged pixel ((1 + 0.5) * 4 - 0.5, (2 + 0.5) * 4 - 0.5) = (5.5, 9.5)
    red = drawn[9:11, 5:7].reshape(-1, 3)
    assert (red[:, 0] > 150).all()
    assert (red[:, 1] < 80).all()
    neck = drawn[17:19, 13:15].reshape(-1, 3)  # neck (3, 4) -> (13.5, 17.5): green
    assert (neck[:, 1] > 150).all()
    assert (neck[:, 0] < 80).all()
    other = drawn[33:35, 29:31].reshape(-1, 3)  # mouse2's nose (7, 8) -> (29.5, 33.5): white
    assert (other > 200).all()
    with pytest.raises(SchemaError):
        label_image(frames, 0, scale=0)


# --------------------------------------------------------------------------- pose review
def test_pose_quality_table_known_shares():
    position = np.ones((4, 2, 2, 2))  # (time, space, keypoint, individual)
    position[0, :, 0, 0] = np.nan
    position[1:3, :, 1, 1] = np.nan
    confidence = np.array([[[0.2, 1.0], [1.0, 0.4]]] * 4)  # (time, keypoint, individual)
    confidence[3, 0, 0] = np.nan
    ds = from_numpy(position, confidence, keypoints=["nose", "tail"], individuals=["a", "b"], fps=10)
    table = pose_quality_table(ds, threshold=0.5).set_index(["individual", "keypoint"])
    assert table.loc[("a", "nose"), "missing_share"] == 0.25
    assert table.loc[("b", "tail"), "missing_share"] == 0.5
    assert table.loc[("a", "tail"), "missing_share"] == 0.0
    assert table.loc[("a", "nose"), "mean_confidence"] == pytest.approx(0.2)  # the NaN confidence is left out
    assert table.loc[("b", "nose"), "mean_confidence"] == 1.0
    # low: below 0.5 where a position exists. a/nose: frames 1, 2 (frame 0 missing, frame 3 no confidence)
    assert table.loc[("a", "nose"), "low_confidence_share"] == 0.5
    assert table.loc[("b", "tail"), "low_confidence_share"] == 0.5  # frames 0 and 3
    no_conf = pose_quality_table(ds.drop_vars("confidence"))
    assert no_conf["mean_confidence"].isna().all()
    assert len(no_conf) == 4
    with pytest.raises(SchemaError, match="position"):
        pose_quality_table(xr.Dataset())


def test_processing_log_table():
    ds = from_numpy(np.ones((2, 2, 1, 1)), np.ones((2, 1, 1)), fps=10)
    assert processing_log_table(ds).empty
    logged = log_step(ds, "filter_by_confidence", threshold=0.6)
    table = processing_log_table(logged)
    assert table["operation"].tolist()[-1] == "filter_by_confidence"
    assert json.loads(table["parameters"].iloc[-1]) == {"threshold": 0.6}


def test_pose_figures_of_the_poses_page():
    from behaviorlab.results.pose_figures import confidence_figure, pose_timeseries_figure

    n = 10
    position = np.zeros((n, 2, 2, 1))
    position[:, 0, 0, 0] = np.arange(n)  # nose x = frame
    position[:, 1, 1, 0] = 5.0  # tail y
    confidence = np.ones((n, 2, 1))
    confidence[3, 0, 0] = 0.1
    confidence[4:6, 1, 0] = np.nan
    ds = from_numpy(position, confidence, keypoints=["nose", "tail"], individuals=["a"], fps=10)

    fig = pose_timeseries_figure(ds, "a", ["nose", "tail"], frame=4, max_points=5)
    assert len(fig.data) == 4  # x and y panels, two keypoints each
    np.testing.assert_array_equal(fig.data[0].x, [0, 2, 4, 6, 8])  # thinned to every 2nd frame
    np.testing.assert_array_equal(fig.data[0].y, [0, 2, 4, 6, 8])
    assert fig.layout.shapes[0].x0 == 4

    heat = confidence_figure(ds, max_points=5).data[0]
    np.testing.assert_array_equal(heat.x, [0, 2, 4, 6, 8])
    # the lowest of each block of 2 frames; a block with only NaN stays NaN
    np.testing.assert_array_equal(heat.z[0], [1, 0.1, 1, 1, 1])
    np.testing.assert_array_equal(heat.z[1], [1, 1, np.nan, 1, 1])
    with pytest.raises(SchemaError, match="confidence"):
        confidence_figure(ds.drop_vars("confidence"))
    with pytest.raises(SchemaError, match="individual"):
        pose_timeseries_figure(ds, "b")
