"""Untracked instances (every animal found in a frame, in no particular order) as a pose Dataset.

When two animals touch, the crop model of one often puts a keypoint on the
neighbour's (the follower's tail on the leader's tail): both instances of
the frame then claim one spot.  :func:`exclusive_keypoints` gives every spot
to one animal and the other its next-best peak, as bottom-up grouping does
by construction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr
from scipy.optimize import linear_sum_assignment

from behaviorlab.errors import SchemaError
from behaviorlab.schema import Skeleton, from_numpy

__all__ = ["exclusive_keypoints", "instances_to_poses"]


def instances_to_poses(
    instances: np.ndarray,
    skeleton: Skeleton,
    *,
    fps: float | None = None,
    first_frame: int = 0,
    attrs_: dict[str, Any] | None = None,
) -> xr.Dataset:
    """Untracked instances -> pose Dataset whose ``individual`` dim holds the instance slots.

    Parameters
    ----------
    instances
        Shape ``(time, n_slots, n_keypoints, 3)``: ``(x, y, confidence)``, NaN rows absent.
    skeleton
        Keypoints of axis 2.
    fps
        Frames per second (``time`` in seconds from ``first_frame``), or ``None`` (``time`` in frames).
    first_frame
        Video frame index of the first row, stored in the ``frame`` coordinate.
    attrs_
        Further attrs (strings and numbers).

    Returns
    -------
    xarray.Dataset
        ``position (time, space, keypoint, individual)`` and ``confidence
        (time, keypoint, individual)`` with ``individual = instance_0, ...``;
        pass it to :func:`behaviorlab.trajectories.tracking.track_poses` for identities.
    """
    instances = np.asarray(instances)
    if instances.ndim != 4 or instances.shape[-1] != 3 or instances.shape[2] != skeleton.n_keypoints:
        raise SchemaError(
            f"instances must have shape (time, n_slots, {skeleton.n_keypoints} keypoints, 3), got {instances.shape}"
        )
    position = np.transpose(instances[..., :2], (0, 3, 2, 1)).astype(np.float64)  # (time, space, keypoint, slot)
    confidence = np.transpose(instances[..., 2], (0, 2, 1)).astype(np.float64)
    ds = from_numpy(
        position,
        confidence,
        keypoints=skeleton.keypoints,
        individuals=[f"instance_{i}" for i in range(instances.shape[1])],
        fps=fps,
        source_software="behaviorlab",
        skeleton=skeleton,
        attrs_=attrs_,
    )
    frames = np.arange(first_frame, first_frame + len(instances), dtype=np.int64)
    ds = ds.assign_coords(frame=("time", frames))
    if fps:
        ds = ds.assign_coords(time=("time", frames / fps, ds["time"].attrs))
    return ds


def exclusive_keypoints(candidates: np.ndarray, radius: float, *, exempt: Sequence[int] = ()) -> tuple[np.ndarray, int]:
    """Each animal's keypoints with no spot claimed by two animals of a frame.

    Where the best peaks of one keypoint of two or more instances of a frame
    lie within ``radius`` of each other, the peaks of those instances'
    maps for that keypoint are pooled into spots (peaks within ``radius`` of a
    stronger one join it) and each spot goes to at most one instance,
    maximising the summed map value (Hungarian algorithm): the instance
    whose map is strongest there keeps the spot, the other takes its next
    peak elsewhere, or NaN when its map has none.  Keypoints without a
    clash keep their best peak.

    The cost: where the same body parts of two animals truly touch (nose to
    nose, crossed tails) within ``radius``, the maps cannot tell the two
    peaks from one peak claimed twice, and one animal loses its keypoint
    too.  On generated two- and three-mouse sessions about 1 clash in 8 was
    such a true contact; in the other 7 one box had put its keypoint on the neighbour.

    Parameters
    ----------
    candidates
        Shape ``(time, slot, keypoint, n_peaks, 3)``: ``(x, y, map value)``
        in frame pixels; peak 0 is each map's highest (finite wherever the
        instance is present), further peaks best first, NaN where the map has
        no more (:func:`behaviorlab.pose.models.build_candidates_model`).
    radius
        Two peaks closer than this (px) are one spot.
    exempt
        Keypoints (indices) that keep their best peak whatever the clash: the
        anchor a box is centred on defines its instance (two instances
        sharing it are one animal found twice, a detection matter).

    Returns
    -------
    keypoints : numpy.ndarray
        ``(time, slot, keypoint, 3)``, float32 ``(x, y, map value)``.
    n_moved : int
        Keypoints that left a spot to another instance (moved to a further peak or made NaN).
    """
    candidates = np.asarray(candidates, dtype=np.float64)
    if candidates.ndim != 5 or candidates.shape[-1] != 3:
        raise SchemaError(f"candidates must have shape (time, slot, keypoint, n_peaks, 3), got {candidates.shape}")
    if not radius > 0:
        raise ValueError(f"radius must be > 0 px, got {radius}")
    best = candidates[:, :, :, 0]
    out = best.astype(np.float32)
    n_slots = best.shape[1]
    if n_slots < 2:
        return out, 0
    gap = np.linalg.norm(best[:, :, None, :, :2] - best[:, None, :, :, :2], axis=-1)  # (time, slot, slot, keypoint)
    gap[:, np.arange(n_slots), np.arange(n_slots)] = np.inf
    gap[..., list(exempt)] = np.inf
    n_moved = 0
    for t, k in zip(*np.nonzero((np.nan_to_num(gap, nan=np.inf) < radius).any(axis=(1, 2))), strict=True):
        chosen = _share_spots(candidates[t, :, k], radius)
        moved = np.isfinite(best[t, :, k, 0]) & ~np.isclose(chosen[:, 0], best[t, :, k, 0], equal_nan=False)
        n_moved += int(moved.sum())
        out[t, :, k] = chosen
    return out, n_moved


def _share_spots(peaks: np.ndarray, radius: float) -> np.ndarray:
    """One keypoint's peaks ``(slot, n_peaks, 3)`` of one frame -> each slot's peak ``(slot, 3)``, spots exclusive."""
    slot, rank = np.nonzero(np.isfinite(peaks[..., :2]).all(axis=-1))
    xy, value = peaks[slot, rank, :2], np.nan_to_num(peaks[slot, rank, 2])
    spot = np.full(slot.size, -1)
    centres: list[np.ndarray] = []
    for q in np.argsort(-value, kind="stable"):
        near = [c for c, centre in enumerate(centres) if np.hypot(*(xy[q] - centre)) < radius]
        spot[q] = near[0] if near else len(centres)
        if not near:
            centres.append(xy[q])
    gain = np.zeros((peaks.shape[0], len(centres)))
    pick = np.full(gain.shape, -1)
    for q in range(slot.size):  # a slot's strongest peak in each spot
        if pick[slot[q], spot[q]] < 0 or value[q] > gain[slot[q], spot[q]]:
            gain[slot[q], spot[q]], pick[slot[q], spot[q]] = value[q], q
    out = np.full((peaks.shape[0], 3), np.nan)
    for s, c in zip(*linear_sum_assignment(-gain), strict=True):
        if pick[s, c] >= 0:
            out[s] = (*xy[pick[s, c]], value[pick[s, c]])
    return out
