"""What the AR-HMM sees of a pose session: aligned, size-normalized keypoints, frame weights, syllable lengths.

:func:`pose_rows` turns one session's poses into the rows
:class:`~behaviorlab.behavior.arhmm.ARHMM` models: keypoints interpolated
over short gaps, aligned to the animal's body (centroid at the origin,
tail-to-head axis along +x, lengths in body sizes), optionally the body's
own velocity, and each frame's weight from its keypoint confidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from behaviorlab._runs import value_runs
from behaviorlab.behavior import arhmm_core as core
from behaviorlab.errors import SchemaError
from behaviorlab.schema import POSITION_DIMS, check_dims
from behaviorlab.trajectories.filtering import interpolate_over_time
from behaviorlab.trajectories.kinematics import body_size, egocentric_align

__all__ = [
    "MOTION_FEATURES",
    "body_motion",
    "check_pose_session",
    "jitter_variance",
    "median_syllable",
    "pose_rows",
    "syllable_durations",
]

#: Columns :func:`pose_rows` adds with ``motion=True``.
MOTION_FEATURES = ("motion_forward", "motion_sideways", "motion_turn")
#: Smallest frame weight: a frame of very low confidence still counts a little.
_MIN_WEIGHT = 0.05


def syllable_durations(states: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Lengths in frames of the runs of equal states (syllables), runs cut at sequence ends."""
    parts = [np.zeros(0, dtype=np.int64)]
    for a, b in zip(*core.sequence_bounds(lengths), strict=True):
        starts, stops, _ = value_runs(states[a:b])
        parts.append(stops - starts)
    return np.concatenate(parts)


def median_syllable(states: np.ndarray, lengths: np.ndarray) -> float:
    """Median syllable length in frames (0 without frames)."""
    durations = syllable_durations(states, lengths)
    return float(np.median(durations)) if len(durations) else 0.0


def jitter_variance(Z: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Variance of each column's frame-to-frame measurement noise, from its second differences.

    White noise of variance ``s2`` on a smooth trajectory gives second
    differences ``x[t+1] - 2 x[t] + x[t-1]`` of variance ``6 s2``; the median
    absolute deviation keeps fast real movement from counting as noise.
    """
    parts = []
    for a, b in zip(*core.sequence_bounds(lengths), strict=True):
        if b - a >= 3:
            parts.append(Z[a + 2 : b] - 2 * Z[a + 1 : b - 1] + Z[a : b - 2])
    if not parts:
        return np.zeros(Z.shape[1])
    second = np.concatenate(parts)
    mad = np.median(np.abs(second - np.median(second, axis=0)), axis=0)
    return (1.4826 * mad) ** 2 / 6.0


def _wrap(angle: np.ndarray) -> np.ndarray:
    return (angle + np.pi) % (2 * np.pi) - np.pi


def body_motion(xy: np.ndarray, tail: int, head: int, size: np.ndarray, fps: float) -> np.ndarray:
    """Forward, sideways and turning velocity of each animal in its own frame: ``(time, individual, 3)``.

    ``xy (time, individual, keypoint, 2)``; the centroid's velocity (central
    differences) is rotated into the body frame and given in body sizes per
    second, the turning rate of the tail-to-head axis in radians per second.
    """
    with np.errstate(invalid="ignore"):
        seen = np.isfinite(xy).all(axis=3, keepdims=True)
        centroid = np.where(seen, xy, 0.0).sum(axis=2) / seen.sum(axis=2)
    axis = xy[:, :, head] - xy[:, :, tail]
    theta = np.arctan2(axis[..., 1], axis[..., 0])
    n = len(xy)
    if n < 3:
        return np.full((n, xy.shape[1], 3), np.nan)
    vel = np.gradient(centroid, axis=0) * fps / size[None, :, None]
    turn = np.empty_like(theta)
    turn[1:-1] = _wrap(theta[2:] - theta[:-2]) * fps / 2.0
    turn[0] = _wrap(theta[1] - theta[0]) * fps
    turn[-1] = _wrap(theta[-1] - theta[-2]) * fps
    cos, sin = np.cos(theta), np.sin(theta)
    forward = cos * vel[..., 0] + sin * vel[..., 1]
    sideways = -sin * vel[..., 0] + cos * vel[..., 1]
    return np.stack([forward, sideways, turn], axis=-1)


def check_pose_session(name: str, ds: Any) -> None:
    """Raise a clear error unless ``ds`` is a pose Dataset (``position`` with the movement dims)."""
    if not isinstance(ds, xr.Dataset) or "position" not in ds:
        raise SchemaError(
            f"session {name!r}: the AR-HMM models poses and needs a Dataset with a 'position' variable "
            "(a poses or features .nc file, not a features DataArray)"
        )
    check_dims(ds, POSITION_DIMS, name=f"session {name!r}")


def _frame_weights(ds: xr.Dataset, keypoints: Sequence[str]) -> np.ndarray:
    """Mean keypoint confidence of each frame ``(time, individual)``, in [0.05, 1]; 1 where unknown."""
    conf = ds["confidence"].sel(keypoint=list(keypoints)).transpose("time", "individual", "keypoint").values
    seen = np.isfinite(conf)
    mean = np.where(seen, conf, 0.0).sum(axis=2) / np.maximum(seen.sum(axis=2), 1)
    mean[~seen.any(axis=2)] = np.nan
    return np.clip(np.where(np.isfinite(mean), mean, 1.0), _MIN_WEIGHT, 1.0)


def pose_rows(
    name: str,
    ds: Any,
    keypoints: Sequence[str],
    axis: tuple[str, str],
    *,
    fps: float,
    max_gap_s: float,
    motion: bool,
    weighting: bool,
    min_confidence: float = 0.0,
) -> tuple[xr.DataArray, xr.DataArray]:
    """Aligned pose ``(time, individual, feature)`` of one session and its frame weights ``(..., feature=[weight])``.

    ``axis`` is ``(posterior, anterior)``: the body axis' tail and head
    keypoints.  Gaps up to ``max_gap_s`` are interpolated; a frame with a
    keypoint still missing is NaN (it ends a sequence).  A keypoint whose
    confidence is under ``min_confidence`` is interpolated from the confident
    frames around it when they are at most ``max_gap_s`` apart, and kept as
    estimated otherwise (a keypoint hidden for long does not end the sequence).
    """
    check_pose_session(name, ds)
    missing = [k for k in keypoints if k not in set(map(str, ds["keypoint"].values))]
    if missing:
        raise SchemaError(
            f"session {name!r} lacks keypoints {missing} that the AR-HMM was fitted on: rename them with "
            "--keypoint-map (CLI) or poses.keypoint_map (project config)"
        )
    posterior, anterior = axis
    pos = ds["position"].sel(keypoint=list(keypoints)).sel(space=["x", "y"])
    gap = max(0, round(max_gap_s * fps))
    pos = interpolate_over_time(pos, max_gap=gap)
    if min_confidence > 0 and "confidence" in ds:
        conf = ds["confidence"].sel(keypoint=list(keypoints))
        pos = interpolate_over_time(pos.where(conf >= min_confidence), max_gap=gap).fillna(pos)
    ego = egocentric_align(pos, "centroid", posterior, anterior)
    size = body_size(ego.transpose("time", "space", "keypoint", "individual").values)
    size = np.where(np.isfinite(size), size, np.nanmax(np.append(size, 1.0)))
    values = ego.transpose("time", "individual", "keypoint", "space").values / size[None, :, None, None]
    n_time, n_ind = values.shape[:2]
    features = [f"{k}_{s}" for k in keypoints for s in ("x", "y")]
    values = values.reshape(n_time, n_ind, -1)
    if motion:
        xy = pos.transpose("time", "individual", "keypoint", "space").values
        names = list(keypoints)
        velocity = body_motion(xy, names.index(posterior), names.index(anterior), size, fps)
        values = np.concatenate([values, velocity], axis=2)
        features += list(MOTION_FEATURES)
    coords = {"time": ds["time"].values, "individual": ds["individual"].values}
    pose = xr.DataArray(values, dims=("time", "individual", "feature"), coords={**coords, "feature": features})
    weight = _frame_weights(ds, keypoints) if weighting and "confidence" in ds else np.ones((n_time, n_ind))
    weights = xr.DataArray(weight[..., None], dims=("time", "individual", "feature"), coords=coords)
    return pose, weights.assign_coords(feature=["weight"])
