"""Scoring of identity tracks: against ground truth, or described on their own when there is none.

:func:`match_identities` pairs predicted tracks with true individuals in every
frame (the CLEAR MOT rule, then the Hungarian algorithm among close pairs);
:func:`identity_switches` counts how often that pairing changes and
:func:`keypoint_error` measures the keypoints after matching identities;
:func:`summarize_tracks` counts fragments, large jumps and likely swaps of
tracks without ground truth.  The tracks come from
:func:`behaviorlab.trajectories.tracking.track_poses` or any other tracker.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import xarray as xr
from scipy.optimize import linear_sum_assignment

from behaviorlab.errors import SchemaError
from behaviorlab.schema import as_poses
from behaviorlab.trajectories.tracking import REFUSED_COST, estimate_animal_size, pairwise_mean_distance

__all__ = [
    "identity_switches",
    "keypoint_error",
    "match_identities",
    "summarize_tracks",
]


def _poses(ds: xr.Dataset, name: str) -> np.ndarray:
    """``position`` of a pose Dataset as ``(time, individual, keypoint, space)``."""
    if not isinstance(ds, xr.Dataset) or "position" not in ds.data_vars:
        raise SchemaError(f"{name} must be a pose Dataset with a 'position' variable, got {type(ds).__name__}")
    ds = as_poses(ds, source=name)
    return ds["position"].transpose("time", "individual", "keypoint", "space").values


def _check_pair(pred_ds: xr.Dataset, true_ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    pred, true = _poses(pred_ds, "pred_ds"), _poses(true_ds, "true_ds")
    if pred.shape[0] != true.shape[0]:
        raise SchemaError(f"pred_ds has {pred.shape[0]} frames but true_ds has {true.shape[0]}")
    kp_pred = [str(k) for k in pred_ds["keypoint"].values]
    kp_true = [str(k) for k in true_ds["keypoint"].values]
    if kp_pred != kp_true:
        raise SchemaError(f"pred_ds and true_ds have different keypoints: {kp_pred} vs {kp_true}")
    return pred, true


def _frame_matches(
    pred: np.ndarray, true: np.ndarray, max_distance: float | None, keep_distance: float | None
) -> np.ndarray:
    """Per frame, the predicted track matched to each true individual (``-1``: none); ``(time, n_true)``."""
    n_time, n_pred, n_true = pred.shape[0], pred.shape[1], true.shape[1]
    match = np.full((n_time, n_true), -1, dtype=np.int64)
    size = estimate_animal_size(true)
    limit = size if max_distance is None else float(max_distance)
    keep = 0.25 * size if keep_distance is None else float(keep_distance)
    if not np.isfinite(limit):
        limit = REFUSED_COST
    if not np.isfinite(keep):
        keep = 0.0
    last = np.full(n_true, -1, dtype=np.int64)  # the track each true individual was last matched to
    for t in range(n_time):
        _, cost = pairwise_mean_distance(pred[t], true[t])  # (n_pred, n_true)
        # 1. correspondences that still hold are kept (CLEAR MOT), so two animals on top of each other
        #    do not make the matching flicker
        kept = np.zeros(n_true, dtype=bool)
        for a in range(n_true):
            p = last[a]
            if p >= 0 and cost[p, a] < min(keep, limit) and not (match[t] == p).any():
                match[t, a] = p
                kept[a] = True
        # 2. the rest: maximise the sum of (limit - distance) over close pairs, so a far pair is never
        #    taken just to match one more
        rows_free = np.setdiff1d(np.arange(n_pred), match[t][kept])
        cols_free = np.flatnonzero(~kept)
        if rows_free.size and cols_free.size:
            sub = cost[np.ix_(rows_free, cols_free)]
            close = sub < limit
            if close.any():
                rows, cols = linear_sum_assignment(np.where(close, sub - limit, 0.0))
                ok = close[rows, cols]
                match[t, cols_free[cols[ok]]] = rows_free[rows[ok]]
        last = np.where(match[t] >= 0, match[t], last)
    return match


def match_identities(
    pred_ds: xr.Dataset,
    true_ds: xr.Dataset,
    *,
    max_distance: float | None = None,
    keep_distance: float | None = None,
) -> xr.DataArray:
    """Match predicted tracks to true individuals in every frame.

    Each frame, a true individual keeps the track it was last matched to
    while that track stays within ``keep_distance`` of it (the CLEAR MOT
    rule); the others are matched by the Hungarian algorithm on the mean
    keypoint distance, among pairs closer than ``max_distance``, maximising
    the sum of ``max_distance - distance`` (so a track is never paired with
    a far animal just to make one more pair).

    Parameters
    ----------
    pred_ds
        Tracked pose Dataset (``individual`` = tracks).
    true_ds
        Ground-truth pose Dataset with the same frames and keypoints.
    max_distance
        Pairs whose mean keypoint distance (px) is larger are never matched; ``None``: the animal
        size of ``true_ds`` (:func:`estimate_animal_size`).
    keep_distance
        A correspondence is kept from one frame to the next while its mean keypoint distance (px)
        stays below this; ``None``: a quarter of the animal size.  0 re-matches every frame.

    Returns
    -------
    xarray.DataArray
        ``matched_track (time, individual)`` over the true individuals: the
        name of the matched track, ``""`` where none.
    """
    pred, true = _check_pair(pred_ds, true_ds)
    match = _frame_matches(pred, true, max_distance, keep_distance)
    names = np.array([str(v) for v in pred_ds["individual"].values] + [""], dtype=object)
    return xr.DataArray(
        names[match],
        dims=("time", "individual"),
        coords={"time": true_ds["time"].values, "individual": true_ds["individual"].values},
        name="matched_track",
    )


def identity_switches(
    pred_ds: xr.Dataset,
    true_ds: xr.Dataset,
    *,
    max_distance: float | None = None,
    keep_distance: float | None = None,
) -> dict[str, float | int]:
    """Count identity switches of tracks against ground-truth identities.

    A true individual *switches* when its matched track (:func:`match_identities`,
    which describes the matching and its two distances) differs from the track
    it was last matched to.

    Parameters
    ----------
    pred_ds
        Tracked pose Dataset.
    true_ds
        Ground truth with the same frames and keypoints.
    max_distance, keep_distance
        See :func:`match_identities`.

    Returns
    -------
    dict
        ``switches``: frames in which the mapping changed (two animals that
        swap tracks count once); ``switch_events``: changes summed over the
        true individuals (the MOT ``IDSW`` count; a swap of two counts 2);
        ``switches_per_1000_frames``; ``n_frames``; ``matched_share``: the
        share of (frame, true individual) pairs that were matched.
    """
    pred, true = _check_pair(pred_ds, true_ds)
    match = _frame_matches(pred, true, max_distance, keep_distance)
    last = np.full(true.shape[1], -1, dtype=np.int64)
    frames, events = 0, 0
    for t in range(match.shape[0]):
        m = match[t]
        changed = (m >= 0) & (last >= 0) & (m != last)
        events += int(changed.sum())
        frames += int(changed.any())
        last = np.where(m >= 0, m, last)
    n_time = match.shape[0]
    return {
        "switches": frames,
        "switch_events": events,
        "switches_per_1000_frames": 1000.0 * frames / max(n_time, 1),
        "n_frames": n_time,
        "matched_share": float((match >= 0).mean()) if match.size else float("nan"),
    }


def keypoint_error(
    pred_ds: xr.Dataset, true_ds: xr.Dataset, *, matching: Literal["session", "frame"] = "session"
) -> xr.DataArray:
    """Euclidean keypoint error of tracks against ground truth after matching identities.

    Parameters
    ----------
    pred_ds, true_ds
        As in :func:`identity_switches`.
    matching
        ``"session"``: one track per true individual for the whole session
        (Hungarian on the mean distance over all frames), so identity
        switches show up as errors; ``"frame"``: matched anew every frame
        (:func:`match_identities`), which measures the keypoints alone.

    Returns
    -------
    xarray.DataArray
        ``keypoint_error (time, keypoint, individual)`` in px over the true
        individuals; NaN where the keypoint is missing in either or no track matched.
    """
    pred, true = _check_pair(pred_ds, true_ds)
    n_time, n_true = true.shape[:2]
    if matching == "frame":
        match = _frame_matches(pred, true, None, None)
    elif matching == "session":
        dist = np.sqrt(((pred[:, :, None] - true[:, None]) ** 2).sum(axis=-1))  # (time, pred, true, keypoint)
        with np.errstate(invalid="ignore"):
            valid = np.isfinite(dist)
            mean = np.where(valid, dist, 0.0).sum(axis=(0, 3)) / np.maximum(valid.sum(axis=(0, 3)), 1)
        mean = np.where(valid.any(axis=(0, 3)), mean, REFUSED_COST)
        rows, cols = linear_sum_assignment(mean)
        fixed = np.full(n_true, -1, dtype=np.int64)
        fixed[cols] = rows
        match = np.broadcast_to(fixed, (n_time, n_true))
    else:
        raise SchemaError(f"matching must be 'session' or 'frame', got {matching!r}")
    nan_slot = np.full((pred.shape[0], 1, *pred.shape[2:]), np.nan)
    padded = np.concatenate([pred, nan_slot], axis=1)  # index -1 (no track matched) -> all NaN
    matched = np.take_along_axis(padded, np.where(match >= 0, match, pred.shape[1])[:, :, None, None], axis=1)
    err = np.sqrt(((matched - true) ** 2).sum(axis=-1))  # (time, true, keypoint)
    return xr.DataArray(
        err.transpose(0, 2, 1),
        dims=("time", "keypoint", "individual"),
        coords={
            "time": true_ds["time"].values,
            "keypoint": true_ds["keypoint"].values,
            "individual": true_ds["individual"].values,
        },
        name="keypoint_error",
        attrs={"units": "px", "matching": matching},
    )


def summarize_tracks(
    ds: xr.Dataset, *, jump_px: float | None = None, swap_ratio: float = 0.5, expected_tracks: int | None = None
) -> dict[str, float | int]:
    """Describe tracks without ground truth: fragments, large jumps and likely swaps.

    Parameters
    ----------
    ds
        Tracked pose Dataset (``individual`` = tracks).
    jump_px
        A track *jumps* when its mean keypoint displacement between consecutive
        frames exceeds this (px); ``None``: half the animal size
        (:func:`estimate_animal_size`).
    swap_ratio
        Two tracks ``a`` and ``b`` present in frames ``t-1`` and ``t`` are a
        *suspected swap* when one of them jumps and the crossed displacements
        ``d(a[t-1], b[t]) + d(b[t-1], a[t])`` are below ``swap_ratio`` times the
        straight ones ``d(a[t-1], a[t]) + d(b[t-1], b[t])``.
    expected_tracks
        Number of animals; tracks beyond it are counted as fragments.  ``None``:
        the largest number of tracks present in one frame.

    Returns
    -------
    dict
        ``n_tracks``; ``max_tracks_per_frame``; ``new_track_starts``: tracks
        whose first frame comes after the first frame with any track (a new id
        for an animal that already had one, or for a spurious detection);
        ``fragments_beyond_expected`` = ``n_tracks - expected_tracks``;
        ``large_jumps``: (frame, track) pairs that jump; ``suspected_swaps``:
        frames with at least one suspected swap; ``jump_px``.
    """
    pos = _poses(ds, "summarize_tracks input")
    n_time, n_tracks = pos.shape[:2]
    present = np.isfinite(pos).all(axis=-1).any(axis=-1)  # (time, track)
    if jump_px is None:
        jump_px = 0.5 * estimate_animal_size(pos)
    first_any = int(np.argmax(present.any(axis=1))) if present.any() else 0
    firsts = [int(np.argmax(present[:, j])) for j in range(n_tracks) if present[:, j].any()]
    max_per_frame = int(present.sum(axis=1).max()) if n_time else 0
    expected = max_per_frame if expected_tracks is None else int(expected_tracks)
    jumps, swaps = 0, 0
    for t in range(1, n_time):
        both = np.flatnonzero(present[t] & present[t - 1])
        if both.size == 0:
            continue
        _, cross = pairwise_mean_distance(pos[t - 1, both], pos[t, both])  # (prev, now)
        straight = np.diag(cross)
        jumped = straight > jump_px
        jumps += int(jumped.sum())
        found = False
        for i in np.flatnonzero(jumped):
            for k in range(both.size):
                if k == i:
                    continue
                crossed = cross[i, k] + cross[k, i]
                if np.isfinite(crossed) and crossed < swap_ratio * (straight[i] + straight[k]):
                    found = True
        swaps += int(found)
    return {
        "n_tracks": int(n_tracks),
        "max_tracks_per_frame": max_per_frame,
        "new_track_starts": int(sum(f > first_any for f in firsts)),
        "fragments_beyond_expected": int(max(n_tracks - expected, 0)),
        "large_jumps": jumps,
        "suspected_swaps": swaps,
        "jump_px": float(jump_px),
    }
