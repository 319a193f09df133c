"""Track repair after close encounters: who left the huddle as whom, decided from the animals' own signatures.

The frame-by-frame :class:`~behaviorlab.trajectories.tracking.Tracker`
carries identities through contact by motion alone, and its per-frame
``identity_confidence`` says where that was a guess.  After an *encounter*
(a run of frames where some track's confidence is low) this module looks
at the animals as wholes, the way a person checking a tracker would:

- **body shape**: the median length of every skeleton edge over the
  confident frames before and after the encounter (animals differ in size
  and build; a pup and its mother, a male and a female);
- **appearance** (optional): any per-frame, per-track feature vector, e.g.
  the pixel values sampled at the keypoints
  (:func:`behaviorlab.pose.contacts.keypoint_appearance`): fur colour,
  ear tags, tail or bleach marks;
- **motion**: where each track was heading into the encounter and where
  each came from out of it, both extrapolated to its middle.

Each cue is scaled by its own frame-to-frame spread within the tracks, so
it counts only when the animals differ by more than they vary themselves.
The assignment of the tracks after the encounter to those before it that
costs least (:func:`scipy.optimize.linear_sum_assignment`) is adopted when
it beats keeping the tracker's order by ``min_margin``; identical-looking
animals with no clear motion cue are left as the tracker had them, with
their low confidence kept so that statistics can skip those frames.
"""

from __future__ import annotations

import logging
import warnings
from itertools import permutations

import numpy as np
import xarray as xr
from scipy.optimize import linear_sum_assignment

from behaviorlab._runs import runs
from behaviorlab.errors import SchemaError
from behaviorlab.schema import POSITION_DIMS, as_poses, log_step

__all__ = ["encounters", "find_encounters", "repair_identities", "shape_features"]

log = logging.getLogger(__name__)


def encounters(
    confidence: np.ndarray, threshold: float = 0.5, join_frames: int = 5, close: np.ndarray | None = None
) -> list[tuple[int, int]]:
    """Frame ranges ``[start, stop)`` where some track's identity confidence is below ``threshold`` (or ``close``).

    Parameters
    ----------
    confidence
        ``(time, track)`` identity confidence, NaN where a track has no detection (ignored).
    threshold
        Confidence below which a frame belongs to an encounter.
    join_frames
        Encounters separated by fewer confident frames are one.
    close
        Optional ``(time,)`` booleans: frames where two animals touch, encounters whatever the confidence.

    Returns
    -------
    list of (int, int)
        In time order.
    """
    conf = np.asarray(confidence, dtype=np.float64)
    if conf.ndim != 2:
        raise SchemaError(f"confidence must have shape (time, track), got {conf.shape}")
    low = (np.nan_to_num(conf, nan=1.0) < threshold).any(axis=1)
    if close is not None:
        low |= np.asarray(close, dtype=bool)
    _, starts, stops = runs(low)
    joined: list[tuple[int, int]] = []
    for a, b in zip(starts.tolist(), stops.tolist(), strict=True):
        if joined and a - joined[-1][1] < join_frames:
            joined[-1] = (joined[-1][0], b)
        else:
            joined.append((a, b))
    return joined


def shape_features(positions: np.ndarray, edges: list[tuple[int, int]] | None = None) -> np.ndarray:
    """Body-shape features ``(time, track, n_edges)``: the length of each skeleton edge (every keypoint pair if none).

    ``positions`` is ``(time, track, keypoint, 2)``; a length is NaN where either end is missing.
    """
    n_kp = positions.shape[2]
    pairs = edges or [(a, b) for a in range(n_kp) for b in range(a + 1, n_kp)]
    a, b = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    return np.linalg.norm(positions[:, :, a] - positions[:, :, b], axis=-1)


def _segment_signature(features: np.ndarray, frames: np.ndarray, min_frames: int) -> np.ndarray:
    """Median feature vector ``(track, d)`` over ``frames``; NaN for a track seen in fewer than ``min_frames``."""
    part = features[frames]  # (n, track, d)
    seen = np.isfinite(part).all(axis=-1).sum(axis=0) if part.size else np.zeros(features.shape[1], int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns give NaN, as wanted
        signature = np.nanmedian(part, axis=0) if part.size else np.full(features.shape[1:], np.nan)
    signature[seen < min_frames] = np.nan
    return signature


def _spread(features: np.ndarray, confident: np.ndarray, found: list[tuple[int, int]]) -> np.ndarray:
    """Per feature, how much one animal varies over time.

    The median absolute deviation around each track's median within each
    stretch between encounters (where its identity is not in doubt), pooled
    over stretches and tracks.
    """
    values = np.where(confident[..., None], features, np.nan)
    edges = [0, *[x for run in found for x in run], len(values)]
    deviations = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for a, b in zip(edges[::2], edges[1::2], strict=True):
            if b > a:
                deviations.append(np.abs(values[a:b] - np.nanmedian(values[a:b], axis=0, keepdims=True)))
        mad = np.nanmedian(np.concatenate(deviations), axis=(0, 1)) if deviations else np.full(values.shape[-1], np.nan)
    return np.where(np.isfinite(mad) & (mad > 0), 1.4826 * mad, np.inf)


def _motion_cost(centres: np.ndarray, before: np.ndarray, after: np.ndarray, middle: float) -> np.ndarray:
    """``(track_before, track_after)`` distance at ``middle`` between forward and backward linear extrapolations."""
    n = centres.shape[1]
    out = np.full((n, n), np.nan)

    def fit(frames: np.ndarray, j: int) -> np.ndarray | None:
        ok = frames[np.isfinite(centres[frames, j]).all(axis=-1)]
        if ok.size < 3:
            return None
        coef = np.polyfit(ok.astype(np.float64), centres[ok, j], 1)  # (2, space)
        return coef[0] * middle + coef[1]

    ahead = [fit(before[-10:], j) for j in range(n)]
    back = [fit(after[:10], k) for k in range(n)]
    for j in range(n):
        for k in range(n):
            if ahead[j] is not None and back[k] is not None:
                out[j, k] = float(np.linalg.norm(ahead[j] - back[k]))
    return out


def _pair_costs(
    cues: list[tuple[np.ndarray, np.ndarray]], before: np.ndarray, after: np.ndarray, min_frames: int
) -> np.ndarray:
    """Sum the spread-scaled costs ``(track_before, track_after)`` over the cues; NaN where no cue applies."""
    total = np.zeros((0, 0))
    counted = np.zeros((0, 0), dtype=bool)
    for i, (features, spread) in enumerate(cues):
        sig_a = _segment_signature(features, before, min_frames)
        sig_b = _segment_signature(features, after, min_frames)
        diff = np.abs(sig_a[:, None, :] - sig_b[None, :, :]) / spread  # (track, track, d)
        finite = np.isfinite(diff)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            cost = np.nanmean(np.where(finite, diff, np.nan), axis=-1)
        total = cost if i == 0 else np.where(np.isfinite(cost), np.nan_to_num(total) + cost, total)
        counted = np.isfinite(cost) if i == 0 else counted | np.isfinite(cost)
    return np.where(counted, total, np.nan)


def _switch_frame(
    cues: list[tuple[np.ndarray, np.ndarray]],
    before: np.ndarray,
    involved: np.ndarray,
    cols: np.ndarray,
    start: int,
    stop: int,
    min_frames: int,
) -> int:
    """Find the frame of ``[start, stop]`` from which the re-labelling fits the animals' signatures best."""
    keep = np.zeros(stop - start)
    swap = np.zeros(stop - start)
    for features, spread in cues:
        signature = _segment_signature(features, before, min_frames)[involved]  # (n_involved, d)
        window = features[start:stop]
        for frame_cols, out in ((involved, keep), (involved[cols], swap)):
            diff = np.abs(window[:, frame_cols] - signature[None]) / spread
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                out += np.nan_to_num(np.nanmean(diff, axis=-1)).sum(axis=-1)
    # total cost of switching at start + s: keep before it, swap from it
    totals = np.r_[0.0, np.cumsum(keep)] + np.r_[np.cumsum(swap[::-1])[::-1], 0.0]
    return start + int(np.argmin(totals))


def repair_identities(
    ds: xr.Dataset,
    *,
    appearance: np.ndarray | None = None,
    threshold: float = 0.5,
    min_frames: int = 5,
    min_margin: float = 4.0,
    motion_weight: float = 0.0,
    contact: float = 0.3,
) -> xr.Dataset:
    """Swap track identities back after encounters where the animals' signatures say the tracker got them wrong.

    Parameters
    ----------
    ds
        Tracked poses (:func:`~behaviorlab.trajectories.tracking.track_poses`)
        with ``identity_confidence (time, individual)``.
    appearance
        Optional ``(time, individual, d)`` appearance features of each track
        in each frame (NaN where unknown).
    threshold
        Identity confidence below which frames belong to an encounter.
    contact
        Frames where two tracks' centres are closer than this share of the
        animal size (the median of each pose's longest edge) are encounters too,
        however sure the tracker was.
    min_frames
        Confident frames a track needs on each side of an encounter to take part.
    min_margin
        How much cheaper (in within-animal spreads) the best assignment must
        be than keeping the tracker's order before the tracks are re-labelled.
        Set high on purpose: with identical animals (noise, occlusion and
        posture changes between the two sides of an encounter) an earlier
        version (margin 1, ``motion_weight`` 1, ``contact`` 0.5, the spread
        taken over whole tracks) re-labelled wrongly: 18 switches in 14,400
        generated frames where the tracker alone had none, 27 in the
        overtaking clips against its 5; with the defaults it changes nothing
        there (``benchmarks/tracking.py``).
    motion_weight
        Weight of the motion cue: the distance between the extrapolations,
        in tenths of the animal size.  0 (default): the frame-by-frame
        tracker has used motion already, and extrapolating across a long
        encounter re-labelled animals that overtook each other wrongly.

    Returns
    -------
    xarray.Dataset
        A new Dataset: after each encounter whose best assignment differs,
        the tracks' poses, confidences and ``source_individual`` are permuted
        for the rest of the recording; the frames of the encounter keep
        their low identity confidence.  The step and every swap are logged.
        The input is not modified.
    """
    ds = as_poses(ds, source="repair_identities input")
    if "identity_confidence" not in ds:
        raise SchemaError("repair_identities needs identity_confidence: track the poses with track_poses first")
    names = list(ds["individual"].values)
    pos = ds["position"].transpose("time", "individual", "keypoint", "space").values
    conf = ds["identity_confidence"].transpose("time", "individual").values
    n_time, n_tracks = conf.shape
    if appearance is not None and (appearance.ndim != 3 or appearance.shape[:2] != (n_time, n_tracks)):
        raise SchemaError(
            f"appearance must have shape (time={n_time}, individual={n_tracks}, d), got {appearance.shape}"
        )
    shape = shape_features(pos)
    confident = np.nan_to_num(conf, nan=0.0) >= threshold
    found = encounters(conf, threshold, close=_in_contact(pos, contact))
    cues = [(shape, _spread(shape, confident, found))]
    if appearance is not None:
        cues.append((appearance, _spread(appearance, confident, found)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        centres = np.nanmean(pos, axis=2)  # (time, track, space)
        size = float(np.nanmedian(np.nanmax(shape, axis=-1)))
    relabel = np.tile(np.arange(n_tracks), (n_time, 1))  # the output column of each input column, per frame
    swaps: list[dict[str, object]] = []
    for i, (start, stop) in enumerate(found):
        prev_stop = found[i - 1][1] if i else 0
        next_start = found[i + 1][0] if i + 1 < len(found) else n_time
        before = np.arange(prev_stop, start)
        after = np.arange(stop, next_start)
        before = before[confident[before].any(axis=1)] if before.size else before
        after = after[confident[after].any(axis=1)] if after.size else after
        if before.size < min_frames or after.size < min_frames:
            continue
        cost = _pair_costs(cues, before, after, min_frames)
        if motion_weight > 0 and np.isfinite(size) and size > 0:
            motion = _motion_cost(centres, before, after, (start + stop - 1) / 2) / (0.1 * size)
            cost = np.where(np.isfinite(motion), np.nan_to_num(cost) + motion_weight * motion, cost)
        # ``cost[a, b]``: track a before vs track b after, both in the tracker's labels so far
        involved = np.flatnonzero(np.isfinite(cost).all(axis=1) & np.isfinite(cost).all(axis=0))
        if involved.size < 2:
            continue
        sub = cost[np.ix_(involved, involved)]
        keep = float(np.trace(sub))
        if involved.size <= 6:
            best_perm = min(permutations(range(involved.size)), key=lambda p: sub[range(len(p)), p].sum())
            best = float(sub[range(involved.size), best_perm].sum())
            cols = np.array(best_perm)
        else:
            rows, cols = linear_sum_assignment(sub)
            best = float(sub[rows, cols].sum())
        if keep - best < min_margin or (cols == np.arange(involved.size)).all():
            continue
        # the animal in column involved[r] before the encounter continues in column involved[cols[r]]: that
        # column takes the label the animal had
        at = _switch_frame(cues, before, involved, cols, start, stop, min_frames)
        labels = relabel[start].copy()
        labels[involved[cols]] = relabel[start, involved]
        relabel[at:] = labels
        swaps.append(
            {
                "frames": [start, stop],
                "from": at,
                "margin": round(keep - best, 3),
                "tracks": [names[j] for j in involved],
            }
        )
    out = _apply_relabel(ds, relabel)
    log.info("repair_identities: %d encounters, %d re-labelled", len(found), len(swaps))
    return log_step(
        out, "repair_identities", threshold=threshold, min_margin=min_margin, encounters=len(found), swaps=swaps
    )


def find_encounters(ds: xr.Dataset, *, threshold: float = 0.5, contact: float = 0.3) -> list[tuple[int, int]]:
    """Find the encounters :func:`repair_identities` looks at: low identity confidence or two tracks in contact.

    Returns frame ranges ``[start, stop)`` (row indices along ``time``), in order.
    """
    pos = ds["position"].transpose("time", "individual", "keypoint", "space").values
    conf = ds["identity_confidence"].transpose("time", "individual").values
    return encounters(conf, threshold, close=_in_contact(pos, contact))


def _in_contact(pos: np.ndarray, contact: float) -> np.ndarray:
    """``(time,)``: two tracks' centres closer than ``contact`` times the animal size."""
    n_tracks = pos.shape[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        centres = np.nanmean(pos, axis=2)
        size = float(np.nanmedian(np.nanmax(shape_features(pos), axis=-1)))
    gaps = np.linalg.norm(centres[:, :, None] - centres[:, None, :], axis=-1)
    gaps[:, np.arange(n_tracks), np.arange(n_tracks)] = np.inf
    if not np.isfinite(size):
        return np.zeros(pos.shape[0], dtype=bool)
    return np.nan_to_num(gaps, nan=np.inf).min(axis=(1, 2)) < contact * size


def _apply_relabel(ds: xr.Dataset, relabel: np.ndarray) -> xr.Dataset:
    """Move column ``c`` of every per-track variable to ``relabel[t, c]`` in each frame."""
    out = ds.copy()
    if (relabel == np.arange(relabel.shape[1])).all():
        return out
    inverse = np.argsort(relabel, axis=1)  # the old column that goes to each new one
    for name, var in ds.data_vars.items():
        if "individual" not in var.dims or "time" not in var.dims:
            continue
        dims = ("time", "individual", *[d for d in var.dims if d not in ("time", "individual")])
        values = var.transpose(*dims).values
        index = inverse.reshape(inverse.shape + (1,) * (values.ndim - 2))
        moved = np.take_along_axis(values, np.broadcast_to(index, values.shape), axis=1)
        out[name] = (dims, moved, var.attrs)
        out[name] = out[name].transpose(*var.dims)
    if "position" in out:
        out["position"] = out["position"].transpose(*POSITION_DIMS)
    return out
