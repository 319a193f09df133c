"""Tests for behaviorlab.labeling.refine: planted bad predictions are found, exported, corrected and merged."""

from __future__ import annotations

import attrs
import numpy as np
import pytest
import xarray as xr

from behaviorlab.errors import FileFormatError, SchemaError
from behaviorlab.io.labeled_frames import LabeledFrames, load_labeled_frames, to_grayscale
from behaviorlab.io.load import load_poses
from behaviorlab.io.video import VideoReader
from behaviorlab.labeling.refine import export_for_correction, merge_corrections, score_frames, select_outlier_frames
from behaviorlab.schema import Skeleton, from_numpy

JUMP, SWAP, LOW, STRETCH = 300, 700, 1100, 1500


@pytest.fixture(scope="module")
def truth(sample_data) -> xr.Dataset:
    return load_poses(sample_data / "session_a_poses.nc")


@pytest.fixture(scope="module")
def planted(truth) -> xr.Dataset:
    """Ground-truth poses with four kinds of bad prediction, one frame each."""
    pos = truth["position"].values.copy()
    conf = truth["confidence"].values.copy()
    kp = list(truth["keypoint"].values)
    pos[JUMP, :, kp.index("nose"), 0] += [40.0, -30.0]  # a keypoint jumps far away
    left, right = kp.index("forepaw_left"), kp.index("forepaw_right")
    pos[SWAP, :, left, 0], pos[SWAP, :, right, 0] = pos[SWAP, :, right, 0].copy(), pos[SWAP, :, left, 0].copy()
    conf[LOW, :, 0] = 0.1  # the model is unsure
    mid, tip = kp.index("tail_mid"), kp.index("tail_tip")
    pos[STRETCH, :, tip, 0] = pos[STRETCH, :, mid, 0] + 1.6 * (pos[STRETCH, :, tip, 0] - pos[STRETCH, :, mid, 0])
    return truth.copy(data={"position": pos, "confidence": conf})


# --------------------------------------------------------------------------- scoring
def test_select_outlier_frames_finds_exactly_the_planted_frames(planted):
    picked = select_outlier_frames(planted, 4)
    assert sorted(picked.tolist()) == sorted([JUMP, SWAP, LOW, STRETCH])
    assert picked[0] == JUMP  # the largest error comes first


def test_each_score_component_points_at_its_planted_frame(planted, truth):
    scores = score_frames(planted)
    assert scores["score"].dims == ("time",)
    assert scores["confidence_z"].dims == ("time", "individual")
    np.testing.assert_array_equal(scores["frame"].values, np.arange(truth.sizes["time"]))
    by_component = {
        name: int(scores[name].max("individual").argmax("time")) for name in ("confidence_z", "jump_z", "limb_z")
    }
    assert by_component == {"confidence_z": LOW, "jump_z": JUMP, "limb_z": JUMP}
    assert float(scores["min_confidence"][LOW, 0]) == pytest.approx(0.1)
    assert float(scores["jump_px"][JUMP, 0]) == pytest.approx(
        50.0, abs=2.0
    )  # |(40, -30)| from the neighbours' midpoint
    # the left/right swap is a jump of both paws; the stretched tail a long limb
    assert float(scores["jump_z"][SWAP, 0]) > 10
    assert float(scores["limb_z"][STRETCH, 0]) > 10
    # the clean ground truth scores well below every planted frame
    clean = float(score_frames(truth)["score"].max())
    assert clean < 0.7 * float(scores["score"].isel(time=[JUMP, SWAP, LOW, STRETCH]).min())
    assert "score_frames" in scores.attrs["log"]


def test_scoring_does_not_modify_the_poses(planted):
    before = planted.copy(deep=True)
    score_frames(planted)
    select_outlier_frames(planted, 3)
    xr.testing.assert_identical(planted, before)


def test_separation_exclusion_and_weights(planted):
    # the neighbours of the jump also score high; with min_separation=1 they can be picked
    close = select_outlier_frames(planted, 3, min_separation=1)
    assert JUMP in close.tolist()
    assert any(abs(f - JUMP) == 1 for f in close.tolist())
    spread = select_outlier_frames(planted, 6, min_separation=50)
    assert (np.abs(np.diff(np.sort(spread))) >= 50).all()
    without_jump = select_outlier_frames(planted, 3, exclude=[JUMP])
    assert JUMP not in without_jump.tolist()
    assert LOW in without_jump.tolist()
    confidence_only = select_outlier_frames(planted, 5, weights={"jump": 0, "limb": 0})
    assert confidence_only.tolist() == [LOW]  # nothing else scores above 0
    scores = score_frames(planted)
    np.testing.assert_array_equal(select_outlier_frames(scores, 4), select_outlier_frames(planted, 4))
    with pytest.raises(ValueError, match="unknown score components"):
        score_frames(planted, weights={"speed": 1})


def test_scores_handle_missing_points_and_no_skeleton():
    rng = np.random.default_rng(0)
    pos = np.cumsum(rng.normal(0, 0.5, (50, 2, 3, 1)), axis=0) + 50
    pos[10, :, 1] = np.nan
    pos[:, :, 2] = np.nan  # a keypoint never found
    conf = np.full((50, 3, 1), 0.9)
    ds = from_numpy(pos, conf)
    scores = score_frames(ds)
    assert np.isfinite(scores["score"]).all()
    assert (scores["limb_z"] == 0).all()  # no skeleton, no limbs
    pos[25, :, 0] += 30
    assert select_outlier_frames(from_numpy(pos, conf), 1).tolist() == [25]


# --------------------------------------------------------------------------- export and merge
def test_export_then_correct_then_merge_round_trip(tmp_path, sample_data, planted, truth):
    video = sample_data / "session_a.mp4"
    training = load_labeled_frames(sample_data / "labeled_frames.labels.h5")
    already = 33  # session_a.mp4#frame=33 is in the training set
    assert "session_a.mp4#frame=33" in training.sources
    frames = [JUMP, LOW, already]
    out = tmp_path / "correct.labels.h5"
    exported = export_for_correction(planted, video, frames, out, min_confidence=0.5, export="dlc")
    assert out.is_file()
    assert (tmp_path / "correct_dlc" / "config.yaml").is_file()
    back = load_labeled_frames(out)
    assert back.sources == ("session_a.mp4#frame=300", "session_a.mp4#frame=1100", "session_a.mp4#frame=33")
    assert back.individuals == ("mouse1",)
    predicted = planted["position"].transpose("time", "individual", "keypoint", "space").values
    np.testing.assert_array_equal(back.keypoints[0], predicted[JUMP])  # pre-filled with the predictions
    assert np.isnan(back.keypoints[1]).all()  # below min_confidence: left for the labeler
    np.testing.assert_array_equal(back.keypoints, exported.keypoints)
    with VideoReader(video) as reader:
        np.testing.assert_array_equal(back.images[0], reader.read(JUMP))

    # the labeler corrects every frame to the truth
    correct_xy = truth["position"].transpose("time", "individual", "keypoint", "space").values[frames]
    corrected = attrs.evolve(back, keypoints=correct_xy)
    merged = merge_corrections(training, corrected)
    assert len(merged) == len(training) + 2  # frame 33 replaced, two appended
    assert merged.sources[: len(training)] == training.sources
    assert merged.sources[-2:] == ("session_a.mp4#frame=300", "session_a.mp4#frame=1100")
    i = training.sources.index("session_a.mp4#frame=33")
    np.testing.assert_array_equal(merged.keypoints[i, 0], correct_xy[2, 0])
    assert np.isnan(merged.keypoints[i, 1]).all()  # mouse2 is not in session_a
    np.testing.assert_array_equal(merged.keypoints[-2:, 0], correct_xy[:2, 0])
    assert merged.images[-1].shape == (256, 256, 1)  # converted to the training set's grayscale
    np.testing.assert_array_equal(merged.images[-1], to_grayscale(back.images[1]))
    # inputs unchanged
    assert len(training) == 120
    assert np.isnan(back.keypoints[1]).all()


def test_merge_matches_frames_through_a_deeplabcut_round_trip(tmp_path, sample_data, planted):
    video = sample_data / "session_a.mp4"
    training = load_labeled_frames(sample_data / "labeled_frames.labels.h5")
    export_for_correction(planted, video, [33, 49], tmp_path / "c.labels.h5", export="dlc", grayscale=True)
    from_dlc = load_labeled_frames(tmp_path / "c_dlc" / "config.yaml")  # as DeepLabCut's GUI leaves it
    assert from_dlc.sources[0] == "labeled-data/session_a/img00033.png"
    assert from_dlc.individuals == ("id_0",)
    merged = merge_corrections(training, from_dlc)
    assert len(merged) == len(training)  # both frames replaced, none appended
    i = training.sources.index("session_a.mp4#frame=49")
    predicted = planted["position"].isel(individual=0).transpose("time", "keypoint", "space").values
    np.testing.assert_allclose(merged.keypoints[i, 0], predicted[49], atol=1e-6)
    with pytest.raises(SchemaError, match="not in the training set"):
        merge_corrections(training, from_dlc, individual="rat")


def test_merge_rejects_other_keypoints_and_export_checks_lengths(tmp_path, sample_data, planted):
    training = LabeledFrames([np.zeros((4, 4, 1), np.uint8)], np.zeros((1, 1, 2, 2)), Skeleton(["a", "b"]))
    other = LabeledFrames([np.zeros((4, 4, 1), np.uint8)], np.zeros((1, 1, 2, 2)), Skeleton(["a", "c"]))
    with pytest.raises(SchemaError, match="missing"):
        merge_corrections(training, other)
    swapped = LabeledFrames(
        [np.zeros((4, 4, 1), np.uint8)], np.array([[[[1.0, 1.0], [2.0, 2.0]]]]), Skeleton(["b", "a"]), sources=["n"]
    )
    merged = merge_corrections(training, swapped)
    np.testing.assert_array_equal(merged.keypoints[1, 0], [[2.0, 2.0], [1.0, 1.0]])  # reordered to a, b
    with pytest.raises(FileFormatError, match="has 1800 frames"):
        export_for_correction(
            planted.assign_coords(time=planted["time"] + 100.0), sample_data / "session_a.mp4", [4000]
        )
    with pytest.raises(SchemaError, match="no poses for frame"):
        export_for_correction(planted, sample_data / "session_a.mp4", [5000])
