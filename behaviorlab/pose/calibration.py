"""A confidence scale that means what it says: the chance that a keypoint lies within a few pixels.

A heatmap network's raw confidence is the height of the peak of its map. A
small model trained for minutes draws low, wide peaks: the demo's model put
0.2-0.5 on keypoints it found within 5 px, so a cutoff of 0.3 hid most good
points. :func:`fit_calibration` maps the raw peak height to the share of
validation keypoints found within :func:`calibration_radius` of the label
(isotonic regression: monotone, so the ranking of keypoints is kept), and
:func:`calibrate` applies the map. ``train_model`` fits it on the validation
frames and keeps it in ``pose_config.json``; every prediction of the model
then reports calibrated confidence (``behaviorlab.pose.predict.PoseModel``).

Functions here are plain numpy and scikit-learn: no Keras.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.isotonic import IsotonicRegression

__all__ = ["MIN_POINTS", "calibrate", "calibration_radius", "fit_calibration"]

#: Fewer validation keypoints than this give no calibration (the raw peak heights stay).
MIN_POINTS = 20


def calibration_radius(sigma: float, output_stride: int = 1) -> float:
    """Return the distance (input pixels) within which a keypoint counts as found: twice the target's sigma.

    The training target is a Gaussian of ``sigma`` px; a peak within two
    sigmas of the label is on the labeled body part, beyond it is another
    place. Never less than 2 px or one output cell.
    """
    return float(max(2.0 * float(sigma), 2.0, float(output_stride)))


def fit_calibration(raw: np.ndarray, errors: np.ndarray, radius: float) -> dict[str, Any] | None:
    """Fit the map from raw peak height to the chance that the keypoint is within ``radius`` px.

    Parameters
    ----------
    raw
        Raw confidences of validation keypoints, any shape.
    errors
        Their distances to the labels (px), the same shape; NaN where a
        keypoint is not labeled (left out).
    radius
        Within this distance a keypoint counts as found.

    Returns
    -------
    dict or None
        ``{"radius_px", "n_points", "x", "y"}`` (the isotonic fit's knots, for
        :func:`calibrate` and ``pose_config.json``); None with fewer than
        :data:`MIN_POINTS` points, or when every point was found (or none):
        nothing to learn from.
    """
    raw, errors = np.asarray(raw, float).ravel(), np.asarray(errors, float).ravel()
    keep = np.isfinite(raw) & np.isfinite(errors)
    raw, found = raw[keep], (errors[keep] <= radius).astype(float)
    if len(raw) < MIN_POINTS or found.min() == found.max():
        return None
    fit = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip").fit(raw, found)
    x = np.asarray(fit.X_thresholds_, float)
    y = np.asarray(fit.y_thresholds_, float)
    return {"radius_px": float(radius), "n_points": len(raw), "x": x.round(6).tolist(), "y": y.round(6).tolist()}


def calibrate(raw: np.ndarray, calibration: dict[str, Any] | None) -> np.ndarray:
    """Calibrated confidences of raw peak heights (``raw`` unchanged without a calibration); NaN stays NaN."""
    raw = np.asarray(raw)
    if not calibration:
        return raw
    out = np.interp(raw, calibration["x"], calibration["y"]).astype(raw.dtype, copy=False)
    return np.where(np.isnan(raw), np.nan, out).astype(raw.dtype, copy=False)
