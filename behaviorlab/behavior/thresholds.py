"""Decision thresholds and bout cleaning of per-frame behavior probabilities.

A classifier's probability becomes a decision in two steps: a threshold per
behavior (chosen where F1 after bout cleaning is best, :func:`best_threshold`),
then :func:`~behaviorlab.behavior.bouts.postprocess_bouts` (short gaps closed,
short bouts dropped), whose lengths in seconds become frames at each
session's frame rate (:func:`bout_frames`).  Frame-wise precision, recall and
F1 (:func:`counts`, :func:`scores`) are here too.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import xarray as xr
from scipy.ndimage import uniform_filter1d

from behaviorlab._runs import value_runs
from behaviorlab.behavior.bouts import postprocess_bouts, postprocess_segments
from behaviorlab.behavior.classify_features import LABEL_DIMS

__all__ = [
    "SMOOTHING_GRID_S",
    "THRESHOLD_GRID",
    "best_smoothing",
    "best_threshold",
    "bout_frames",
    "counts",
    "decide",
    "frames",
    "scores",
    "smooth_segments",
]

#: Thresholds tried by :func:`best_threshold`: 0.01 to 0.99 by 0.01.
THRESHOLD_GRID = np.round(np.linspace(0.01, 0.99, 99), 2)
#: Smoothing windows tried by :func:`best_smoothing`, in seconds (0: none).
SMOOTHING_GRID_S = (0.0, 0.2, 0.4, 0.8, 1.6)
#: A longer smoothing window must raise the validation F1 by this much over the best shorter one: validation
#: chunks are short, and on the real sets a window chosen by a smaller gain lowered the held-out F1.
SMOOTHING_MARGIN = 0.02


def frames(seconds: float, fps: float) -> int:
    """Return ``seconds`` as a whole number of frames at ``fps`` (rounded half up)."""
    return math.floor(seconds * fps + 0.5)


def bout_frames(min_bout_s: float, max_gap_s: float, fps: float) -> tuple[int, int]:
    """Return the bout cleaning's ``(min_bout, max_gap)`` in frames: the shortest bout kept is one frame at least."""
    return max(1, frames(min_bout_s, fps)), frames(max_gap_s, fps)


def counts(pred: np.ndarray, truth: np.ndarray) -> tuple[int, int, int]:
    """Count true positives, false positives and false negatives (along axis 0)."""
    tp = np.sum(pred & truth, axis=0)
    return tp, np.sum(pred & ~truth, axis=0), np.sum(~pred & truth, axis=0)


def scores(tp: Any, fp: Any, fn: Any) -> tuple[float, float, float]:
    """Return precision, recall and F1 of these counts (NaN where undefined)."""
    precision = tp / (tp + fp) if tp + fp else float("nan")
    recall = tp / (tp + fn) if tp + fn else float("nan")
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan")
    return float(precision), float(recall), float(f1)


def best_threshold(proba: np.ndarray, y: np.ndarray, segments: np.ndarray, min_bout: int, max_gap: int) -> float:
    """Return the threshold with the best F1 after bout cleaning, from the middle of the near-best plateau.

    The F1 of every grid threshold is smoothed over five neighbours; the
    threshold is the centre of the contiguous run of thresholds within
    0.005 of the smoothed maximum, so a flat optimum gives a central
    threshold rather than an extreme one that a new session would not bear.
    """
    f1 = np.zeros(len(THRESHOLD_GRID))
    for i, t in enumerate(THRESHOLD_GRID):
        pred = postprocess_segments(proba >= t, segments, min_bout, max_gap)
        f1[i] = np.nan_to_num(scores(*counts(pred, y))[2])
    smooth = uniform_filter1d(f1, 5, mode="nearest")
    best = int(np.argmax(smooth))
    near = smooth >= smooth[best] - 0.005
    lo, hi = best, best
    while lo > 0 and near[lo - 1]:
        lo -= 1
    while hi < len(near) - 1 and near[hi + 1]:
        hi += 1
    return float(THRESHOLD_GRID[(lo + hi) // 2])


def smooth_segments(proba: np.ndarray, segments: np.ndarray, half_window: int) -> np.ndarray:
    """Centred moving average of ``proba`` over ``2 * half_window + 1`` frames, never across a segment change.

    NaN frames are left out of their neighbours' means and stay NaN.  A
    window cut by the start or end of its segment averages the frames it has.
    """
    proba = np.asarray(proba, dtype=np.float64)
    if half_window <= 0 or len(proba) == 0:
        return proba.copy()
    seen = np.isfinite(proba)
    total = np.concatenate([[0.0], np.cumsum(np.where(seen, proba, 0.0))])
    count = np.concatenate([[0], np.cumsum(seen)])
    starts, stops, _ = value_runs(np.asarray(segments))
    lengths = stops - starts
    first, last = np.repeat(starts, lengths), np.repeat(stops, lengths) - 1
    i = np.arange(len(proba))
    lo, hi = np.maximum(i - half_window, first), np.minimum(i + half_window, last) + 1
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (total[hi] - total[lo]) / (count[hi] - count[lo])
    return np.where(seen, mean, np.nan)


def best_smoothing(
    proba: np.ndarray, y: np.ndarray, segments: np.ndarray, fps: float, min_bout: int, max_gap: int
) -> tuple[float, float, np.ndarray]:
    """Return the window (s) of :data:`SMOOTHING_GRID_S` and the threshold with the best F1, and the smoothed values.

    Each window's threshold is :func:`best_threshold` on the smoothed
    probabilities; a longer window must beat the best shorter one by
    :data:`SMOOTHING_MARGIN` of F1 to be chosen (a flat optimum keeps the
    decisions sharp).
    """
    best: tuple[float, float, float, np.ndarray] | None = None
    for seconds in SMOOTHING_GRID_S:
        smoothed = smooth_segments(proba, segments, frames(seconds / 2.0, fps))
        threshold = best_threshold(smoothed, y, segments, min_bout, max_gap)
        pred = postprocess_segments(smoothed >= threshold, segments, min_bout, max_gap)
        f1 = float(np.nan_to_num(scores(*counts(pred, y))[2]))
        if best is None or f1 > best[0] + SMOOTHING_MARGIN:
            best = (f1, float(seconds), threshold, smoothed)
    assert best is not None
    return best[1], best[2], best[3]


def decide(proba: xr.DataArray, thresholds: np.ndarray, min_bout: int, max_gap: int) -> xr.DataArray:
    """Threshold and bout cleaning of one session's ``(time, individual, behavior)`` probabilities."""
    mask = np.asarray(proba.transpose(*LABEL_DIMS).values) >= thresholds  # NaN: False
    mask = postprocess_bouts(mask, min_bout, max_gap)
    return proba.transpose(*LABEL_DIMS).copy(data=mask).rename("behavior_prediction")
