"""The Poses and Label pages: frames, figures and the cleaning report; placing, undoing and skipping labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from behaviorlab.io.labeled_frames import LabeledFrames, load_labeled_frames, save_labeled_frames
from behaviorlab.schema import Skeleton


# --------------------------------------------------------------------------- Poses
def test_poses_page_draws_the_frame_follows_the_frame_number_and_jumps_to_low_confidence(full_project, run_app):
    at = run_app(full_project, "poses")
    assert not at.exception
    assert at.title[0].value == "Poses"
    assert at.caption[0].value.startswith("Frame 0 of ")
    assert len(at.get("image")) == 1
    assert len(at.get("plotly_chart")) == 2  # keypoint positions and confidence
    report = [d.value for d in at.dataframe if "missing_share" in d.value.columns]  # the cleaning report
    assert len(report) == 1
    assert set(report[0]["keypoint"]) == set(at.multiselect(key="poses_keypoints").options)

    at.number_input(key="poses_frame_number").set_value(100).run()
    assert not at.exception
    assert at.caption[0].value.startswith("Frame 100 of ")
    assert at.slider(key="poses_frame_slider").value == 100
    at.slider(key="poses_frame_slider").set_value(7).run()
    assert at.number_input(key="poses_frame_number").value == 7
    assert at.caption[0].value.startswith("Frame 7 of ")

    at.slider(key="poses_threshold").set_value(1.0).run()  # every frame below perfect confidence is listed
    pick = at.selectbox(key="poses_low_pick")
    target = int(at.dataframe[0].value["frame"].iloc[-1])
    pick.set_value(target).run()
    at.button(key="poses_goto").click().run()
    assert not at.exception
    assert at.number_input(key="poses_frame_number").value == target
    assert at.caption[0].value.startswith(f"Frame {target} of ")


def test_poses_page_without_a_video_shows_the_time_series(full_project, run_app, monkeypatch):
    from behaviorlab.project.view import Project

    monkeypatch.setattr(Project, "video", lambda self, session: None)
    at = run_app(full_project, "poses")
    assert not at.exception
    assert "video" in at.info[0].value
    assert len(at.get("image")) == 0
    assert len(at.get("plotly_chart")) == 2


def test_poses_page_of_empty_projects(empty_project, store_without_sessions, run_app):
    at = run_app(empty_project, "poses")
    assert not at.exception
    assert "No results store" in at.info[0].value
    at = run_app(store_without_sessions, "poses")
    assert not at.exception
    assert "no sessions yet" in at.info[0].value


# --------------------------------------------------------------------------- Label
SKELETON = Skeleton(["nose", "neck", "tail"], edges=[("nose", "neck"), ("neck", "tail")])


@pytest.fixture
def labels_project(tmp_path) -> Path:
    """A project with one labels file: frame 0 labeled, 1 partly (mouse2 lacks its neck), 2 and 3 unlabeled."""
    kp = np.full((4, 2, 3, 2), np.nan)
    kp[0] = [[[1, 2], [3, 4], [5, 6]], [[7, 8], [9, 10], [11, 12]]]
    kp[1, 1] = [[1, 1], [np.nan, np.nan], [2, 2]]
    images = [np.full((40, 60, 1), 20 * i, np.uint8) for i in range(4)]
    frames = LabeledFrames(images, kp, SKELETON, ["mouse1", "mouse2"], [f"v.mp4#frame={i}" for i in range(4)])
    save_labeled_frames(frames, tmp_path / "project" / "frames.labels.h5")
    return tmp_path / "project"


def _keypoint(project: Path, frame: int, individual: int, keypoint: int) -> np.ndarray:
    return load_labeled_frames(project / "frames.labels.h5").keypoints[frame, individual, keypoint]


def test_label_page_sets_saves_undoes_and_skips(labels_project, run_app):
    at = run_app(labels_project, "label")
    assert not at.exception
    assert at.session_state["label_frame"] == 2  # the first unlabeled frame comes first
    assert "1 of 4 frames labeled, 1 partly, 2 not yet" in at.get("progress")[0].proto.text
    assert len(at.get("component_instance")) == 1  # the clickable image

    at.selectbox(key="label_individual").set_value("mouse2").run()
    at.selectbox(key="label_keypoint").set_value("neck").run()
    at.number_input(key="label_x").set_value(12.5)
    at.number_input(key="label_y").set_value(30.25)
    at.button(key="label_set").click().run()
    assert not at.exception
    assert at.success[0].value.startswith("Saved neck of mouse2 on frame 2 = (12.50, 30.25)")
    np.testing.assert_array_equal(_keypoint(labels_project, 2, 1, 1), [12.5, 30.25])  # written to the file
    assert at.selectbox(key="label_keypoint").value == "tail"  # on to the next unlabeled keypoint

    at.number_input(key="label_x").set_value(500.0)  # outside the 60 x 40 image: refused, file unchanged
    at.button(key="label_set").click().run()
    assert "outside" in at.error[0].value
    assert np.isnan(_keypoint(labels_project, 2, 1, 2)).all()

    at.button(key="label_undo").click().run()
    assert not at.exception
    assert at.success[0].value.startswith("Undone: neck of mouse2 on frame 2")
    assert np.isnan(_keypoint(labels_project, 2, 1, 1)).all()  # back to NaN, exactly
    assert at.selectbox(key="label_keypoint").value == "neck"

    at.button(key="label_skip").click().run()
    assert at.session_state["label_frame"] == 3  # the next frame that needs labels
    at.button(key="label_skip").click().run()
    assert at.session_state["label_frame"] == 1  # wraps around, past the labeled frame 0

    at.number_input(key="label_frame").set_value(0).run()
    at.selectbox(key="label_individual").set_value("mouse1").run()
    at.selectbox(key="label_keypoint").set_value("tail").run()
    at.button(key="label_hide").click().run()
    assert at.success[0].value.startswith("Saved tail of mouse1 on frame 0 = not visible")
    assert np.isnan(_keypoint(labels_project, 0, 0, 2)).all()
    np.testing.assert_array_equal(_keypoint(labels_project, 0, 1, 2), [11, 12])  # the other mouse untouched


def test_label_page_on_the_demo_labels(full_project, run_app):
    at = run_app(full_project, "label")  # only reads: nothing is clicked
    assert not at.exception
    assert at.title[0].value == "Label"
    assert len(at.get("component_instance")) == 1
    assert any(c.value.startswith("Frame ") for c in at.caption)
    assert at.dataframe[-1].value["status"].isin(["unlabeled", "partial", "labeled"]).all()


def test_label_page_without_labels_files(empty_project, run_app):
    at = run_app(empty_project, "label")
    assert not at.exception
    assert "No labels file" in at.info[0].value
