"""Confidence calibration: raw peak heights mapped to the chance that a keypoint is within a few pixels."""

from __future__ import annotations

import numpy as np
import pytest

from behaviorlab.pose.calibration import MIN_POINTS, calibrate, calibration_radius, fit_calibration


def test_a_known_step_is_recovered():
    rng = np.random.default_rng(0)
    raw = rng.uniform(0.0, 0.6, 2000)  # a small model's low peaks
    errors = np.where(raw > 0.25, rng.uniform(0, 3, raw.size), rng.uniform(20, 60, raw.size))  # found above 0.25
    errors[::100] = np.nan  # unlabeled keypoints are left out
    calibration = fit_calibration(raw, errors, radius=8.0)
    assert calibration["radius_px"] == 8.0
    assert calibration["n_points"] == 1980
    out = calibrate(np.array([0.05, 0.2, 0.3, 0.55, np.nan]), calibration)
    np.testing.assert_allclose(out[:4], [0.0, 0.0, 1.0, 1.0], atol=1e-9)  # 0.3 raw: a keypoint found, not "low"
    assert np.isnan(out[4])


def test_calibration_is_monotone_and_matches_the_found_share():
    rng = np.random.default_rng(1)
    raw = rng.uniform(0, 1, 5000)
    found = rng.random(raw.size) < raw  # P(found | raw) = raw
    errors = np.where(found, 1.0, 50.0)
    calibration = fit_calibration(raw, errors, radius=5.0)
    grid = np.linspace(0, 1, 101)
    out = calibrate(grid, calibration)
    assert np.all(np.diff(out) >= 0)  # the ranking of keypoints is kept
    np.testing.assert_allclose(out[10:91], grid[10:91], atol=0.12)


def test_too_few_points_or_nothing_to_learn_leave_the_raw_scale():
    assert fit_calibration(np.linspace(0, 1, MIN_POINTS - 1), np.zeros(MIN_POINTS - 1), 5.0) is None
    assert fit_calibration(np.linspace(0, 1, 50), np.zeros(50), 5.0) is None  # every keypoint found
    raw = np.array([0.1, 0.9])
    assert calibrate(raw, None) is raw
    assert calibration_radius(4.0) == 8.0
    assert calibration_radius(0.5, output_stride=4) == 4.0


@pytest.mark.slow
def test_a_trained_model_reports_calibrated_confidence(tmp_path):
    """Trained on blobs with enough validation keypoints, the model keeps its calibration and predicts with it."""
    import json

    pytest.importorskip("keras")
    from behaviorlab.pose.predict import PoseModel, frame_predictions
    from behaviorlab.pose.train import TrainConfig, train_model

    from .test_train import blob_frames

    frames = blob_frames(48)
    config = TrainConfig(
        model="stacked_densenet",
        model_kwargs={"growth_rate": 8, "n_stacks": 1},
        epochs=3,
        batch_size=8,
        sigma=3.0,
        val_fraction=0.5,
        steps_per_epoch=2,
    )
    train_model(frames, tmp_path / "m", config, verbose=0)
    saved = json.loads((tmp_path / "m" / "pose_config.json").read_text())
    model = PoseModel.load(tmp_path / "m")
    raw, _ = frame_predictions(model, frames, model.validation_indices, raw_confidence=True)
    shown, _ = frame_predictions(model, frames, model.validation_indices)
    calibration = saved["confidence_calibration"]  # 3 epochs: some keypoints found, some not (seeded)
    assert calibration["radius_px"] == 6.0
    assert calibration["n_points"] >= 20
    np.testing.assert_allclose(shown[..., 2], calibrate(raw[..., 2], calibration), rtol=1e-6)
    np.testing.assert_array_equal(shown[..., :2], raw[..., :2])
