"""Animals in contact: find the ones the centroid model merged, and check who is who after they part.

Two animals closer than about half a body length often give the centroid
model one merged peak instead of two: one animal goes undetected for as long
as they touch, its track is lost, and the tracker has to guess which of
them reappears as which.  Labs' trackers swap identities exactly there.

The tracks know better than the single frame where the missing animal is:
before and after the contact it was detected.  :func:`gap_anchors`
interpolates each track's anchor over its short interior gaps (track-guided
detection, as trackers that predict boxes from motion do, but in both time
directions); :func:`fill_track_gaps` decodes those frames again, poses a box
around every interpolated anchor with the crop model, keeps only the
instances that are new animals (centred in their box, not a copy of an
instance already found in the frame) and appends them to the frame's
instances, so that tracking a second time sees every animal.

After tracking, :func:`resolve_contacts` samples how each animal looks at its
keypoints (:func:`keypoint_appearance`) on both sides of every encounter and
lets :func:`behaviorlab.trajectories.identity.repair_identities` give the
tracks their identities back where body shape, appearance and motion agree
that the frame-by-frame tracker swapped them.
"""

from __future__ import annotations

import itertools
import logging
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from behaviorlab.io.video import DamagedFrameError, VideoReader
from behaviorlab.pose.instances import instances_to_poses
from behaviorlab.schema import log_step
from behaviorlab.trajectories.identity import find_encounters, repair_identities
from behaviorlab.trajectories.tracking import estimate_animal_size, pairwise_mean_distance, track_poses

if TYPE_CHECKING:
    import xarray as xr

    from behaviorlab.pose.topdown import TopDownModel

__all__ = ["fill_track_gaps", "gap_anchors", "keypoint_appearance", "resolve_contacts"]

log = logging.getLogger(__name__)


def gap_anchors(positions: np.ndarray, anchor: int, max_gap: int) -> np.ndarray:
    """Each track's anchor linearly interpolated over its interior gaps of at most ``max_gap`` frames.

    Parameters
    ----------
    positions
        Tracked keypoints ``(time, track, keypoint, 2)``, NaN where a track has no detection.
    anchor
        Index of the anchor keypoint; where it is missing the mean of the finite keypoints stands in.
    max_gap
        Longest gap (frames without the track) to fill; gaps at the start or end are never filled.

    Returns
    -------
    numpy.ndarray
        ``(time, track, 2)``: the interpolated anchor inside the filled gaps, NaN elsewhere.
    """
    positions = np.asarray(positions, dtype=np.float64)
    if positions.ndim != 4 or positions.shape[-1] != 2:
        raise ValueError(f"positions must have shape (time, track, keypoint, 2), got {positions.shape}")
    with warnings.catch_warnings():  # all-NaN poses give NaN, as wanted
        warnings.simplefilter("ignore", RuntimeWarning)
        centre = np.where(
            np.isfinite(positions[:, :, anchor]).all(axis=-1, keepdims=True),
            positions[:, :, anchor],
            np.nanmean(positions, axis=2),
        )
    out = np.full(centre.shape, np.nan)
    for j in range(centre.shape[1]):
        seen = np.flatnonzero(np.isfinite(centre[:, j]).all(axis=-1))
        for a, b in itertools.pairwise(seen):
            if 1 < b - a <= max_gap + 1:
                w = (np.arange(a + 1, b) - a)[:, None] / (b - a)
                out[a + 1 : b, j] = (1.0 - w) * centre[a, j] + w * centre[b, j]
    return out


def _read(reader: VideoReader, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Frames ``indices`` and which of them decoded: a damaged frame comes back black and marked False."""
    try:
        return reader[indices], np.ones(len(indices), dtype=bool)
    except DamagedFrameError:
        frames = np.zeros((len(indices), reader.height, reader.width, reader.channels), np.uint8)
        ok = np.ones(len(indices), dtype=bool)
        for k, index in enumerate(indices):
            try:
                frames[k] = reader.read(int(index))
            except DamagedFrameError:
                ok[k] = False
        return frames, ok


def fill_track_gaps(
    model: TopDownModel,
    video: str | Path,
    instances: np.ndarray,
    tracked_positions: np.ndarray,
    *,
    first_frame: int = 0,
    max_gap: int = 30,
    animal_size: float,
    duplicate_share: float = 0.15,
    batch_size: int = 16,
) -> tuple[np.ndarray, int]:
    """Append the animals found in boxes at the interpolated anchors of the tracks' short gaps.

    Parameters
    ----------
    model
        The top-down model that made ``instances``.
    video
        The video they came from.
    instances
        Untracked instances ``(time, slot, keypoint, 3)`` (``x, y, confidence``; NaN rows absent).
    tracked_positions
        The same frames tracked: ``(time, track, keypoint, 2)``.
    first_frame
        Video frame of row 0.
    max_gap
        Longest track gap (frames) to look into.
    animal_size
        Typical animal size in px (the tracker's): an instance whose anchor
        lies more than half of it from the box centre belongs to a
        neighbour and is dropped.
    duplicate_share
        An instance whose mean keypoint distance to one already in the frame
        is under this share of ``animal_size`` is a copy of that animal and is dropped.
    batch_size
        Frames per forward pass of the crop model.

    Returns
    -------
    instances : numpy.ndarray
        ``(time, slot + n_tracks, keypoint, 3)``: the input with the found animals in extra slots.
    n_found : int
        How many animals were added.
    """
    anchors = gap_anchors(tracked_positions, model.skeleton.keypoints.index(model.anchor), max_gap)
    rows = np.flatnonzero(np.isfinite(anchors).all(axis=-1).any(axis=-1))
    n_time, n_slots, n_kp, _ = instances.shape
    out = np.concatenate([instances, np.full((n_time, anchors.shape[1], n_kp, 3), np.nan, instances.dtype)], axis=1)
    if rows.size == 0:
        return out, 0
    with VideoReader(video, grayscale=model.grayscale) as reader:
        found = np.empty((rows.size, anchors.shape[1], n_kp, 3), np.float32)
        for s in range(0, rows.size, 256):  # bounded memory: 256 frames decoded at a time
            part = rows[s : s + 256]
            frames, ok = _read(reader, part + first_frame)
            boxes = np.where(ok[:, None, None], anchors[part], np.nan)  # no second look into damaged frames
            found[s : s + part.size] = model.predict_instances(frames, anchors=boxes, batch_size=batch_size)
    anchor = model.skeleton.keypoints.index(model.anchor)
    n_found = 0
    for r, t in enumerate(rows):
        existing = out[t, :n_slots, :, :2]
        existing = existing[np.isfinite(existing).all(axis=-1).any(axis=-1)]
        for j in np.flatnonzero(np.isfinite(anchors[t]).all(axis=-1)):
            inst = found[r, j]
            if not np.isfinite(inst[:, :2]).all(axis=-1).any():
                continue
            centre = inst[anchor, :2] if np.isfinite(inst[anchor, :2]).all() else np.nanmean(inst[:, :2], axis=0)
            if np.hypot(*(centre - anchors[t, j])) > 0.5 * animal_size:
                continue  # the box's animal is off-centre: a neighbour's
            if existing.size:
                _, mean = pairwise_mean_distance(inst[None, :, :2].astype(np.float64), existing.astype(np.float64))
                if np.nanmin(mean) < duplicate_share * animal_size:
                    continue  # a copy of an animal already found
            out[t, n_slots + j] = inst
            existing = np.concatenate([existing, inst[None, :, :2]])
            n_found += 1
    n_boxes = int(np.isfinite(anchors).all(axis=-1).sum())
    log.info("track gaps: %d boxes in %d frames gave %d more animals", n_boxes, rows.size, n_found)
    return out, n_found


def keypoint_appearance(
    video: str | Path,
    positions: np.ndarray,
    rows: np.ndarray,
    *,
    first_frame: int = 0,
    grayscale: bool = False,
    radius: int = 2,
) -> np.ndarray:
    """How each tracked animal looks at its keypoints: the mean pixel value around each, per channel.

    A cheap appearance embedding for telling animals apart after they touch
    (:func:`behaviorlab.trajectories.identity.repair_identities`): fur colour,
    ear tags, tail and bleach marks show up at the keypoints.

    Parameters
    ----------
    video
        The video the poses come from.
    positions
        Tracked keypoints ``(time, track, keypoint, 2)`` in frame pixels.
    rows
        The rows of ``positions`` to sample (others stay NaN).
    first_frame
        Video frame of row 0.
    grayscale
        Read the video as one channel.
    radius
        Half-side of the square averaged around each keypoint (px).

    Returns
    -------
    numpy.ndarray
        ``(time, track, keypoint * channels)`` in ``[0, 1]``; NaN for rows not
        sampled and keypoints that are missing or outside the frame.
    """
    positions = np.asarray(positions, dtype=np.float64)
    rows = np.unique(np.asarray(rows, dtype=np.int64))
    n_time, n_tracks, n_kp, _ = positions.shape
    with VideoReader(video, grayscale=grayscale) as reader:
        channels = reader.channels
        out = np.full((n_time, n_tracks, n_kp * channels), np.nan)
        height, width = reader.height, reader.width
        offsets = np.arange(-radius, radius + 1)
        for s in range(0, rows.size, 256):
            part = rows[s : s + 256]
            decoded, readable = _read(reader, part + first_frame)
            frames = decoded.astype(np.float64) / 255.0  # (n, H, W, C)
            xy = np.rint(positions[part])  # (n, track, kp, 2)
            ok = np.isfinite(xy).all(axis=-1) & readable[:, None, None]
            ok &= (xy[..., 0] >= radius) & (xy[..., 0] < width - radius)
            ok &= (xy[..., 1] >= radius) & (xy[..., 1] < height - radius)
            x = np.where(ok, xy[..., 0], radius).astype(np.int64)
            y = np.where(ok, xy[..., 1], radius).astype(np.int64)
            n_idx = np.arange(part.size)[:, None, None, None, None]
            yy = y[..., None, None] + offsets[:, None]  # (n, track, kp, 2r+1, 1)
            xx = x[..., None, None] + offsets[None, :]  # (n, track, kp, 1, 2r+1)
            patch = frames[n_idx, yy, xx]  # (n, track, kp, 2r+1, 2r+1, C)
            values = patch.mean(axis=(3, 4))
            values[~ok] = np.nan
            out[part] = values.reshape(part.size, n_tracks, n_kp * channels)
    return out


def resolve_contacts(
    model: TopDownModel,
    video: str | Path,
    untracked: xr.Dataset,
    instances: np.ndarray,
    *,
    first_frame: int = 0,
    fill_gaps: int = 30,
    repair: bool = True,
    batch_size: int = 16,
    window: int = 15,
    **tracker_options: Any,
) -> xr.Dataset:
    """Track the instances of a video; look into the tracks' short gaps again; repair identities after encounters.

    Parameters
    ----------
    model
        The top-down model that found ``instances``.
    video
        The video.
    untracked
        ``instances`` as a pose Dataset (:func:`behaviorlab.pose.topdown.instances_to_poses`), with its log.
    instances
        ``(time, slot, keypoint, 3)``.
    first_frame
        Video frame of row 0.
    fill_gaps
        Longest track gap (frames) given a second look with :func:`fill_track_gaps`; 0: none.
    repair
        Run :func:`behaviorlab.trajectories.identity.repair_identities` with
        the animals' appearance sampled ``window`` frames either side of each encounter.
    batch_size
        Frames per forward pass.
    window
        Frames sampled for appearance before and after each encounter.
    **tracker_options
        Keywords of :func:`behaviorlab.trajectories.tracking.track_poses`.

    Returns
    -------
    xarray.Dataset
        Tracked poses with ``source_individual`` and ``identity_confidence``; every step logged.
    """
    tracked = track_poses(untracked, **tracker_options)
    n_keypoints = instances.shape[2]
    size = tracker_options.get("animal_size") or estimate_animal_size(instances[..., :2].reshape(-1, n_keypoints, 2))
    if fill_gaps > 0 and len(instances) and np.isfinite(size):
        positions = tracked["position"].transpose("time", "individual", "keypoint", "space").values
        filled, n_found = fill_track_gaps(
            model,
            video,
            instances,
            positions,
            first_frame=first_frame,
            max_gap=fill_gaps,
            animal_size=size,
            batch_size=batch_size,
        )
        if n_found:
            again = instances_to_poses(
                filled, model.skeleton, fps=untracked.attrs.get("fps"), first_frame=first_frame, attrs_=None
            )
            again = again.assign_coords(time=untracked["time"].values)
            again.attrs = dict(untracked.attrs)
            again = log_step(again, "fill_track_gaps", max_gap=fill_gaps, animals_found=n_found)
            tracked = track_poses(again, **tracker_options)
    if repair and tracked.sizes["individual"] > 1:
        found = find_encounters(tracked)
        rows = np.unique(
            np.concatenate(
                [np.arange(max(a - window, 0), a) for a, _ in found]
                + [np.arange(b, min(b + window, tracked.sizes["time"])) for _, b in found]
                + [np.zeros(0, np.int64)]
            )
        ).astype(np.int64)
        appearance = None
        if rows.size:
            positions = tracked["position"].transpose("time", "individual", "keypoint", "space").values
            appearance = keypoint_appearance(video, positions, rows, first_frame=first_frame, grayscale=model.grayscale)
        tracked = repair_identities(tracked, appearance=appearance)
    return tracked
