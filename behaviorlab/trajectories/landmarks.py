"""Static keypoints: arena corners, maze arms and other landmarks tracked beside the body.

Labs often track fixed points of the set-up with the animal (the corners and
centre of an open field, the arm ends of an elevated plus maze), so that one
pose file carries both. Such points are not body parts: averaged into the
centroid they pull it towards the arena, an egocentric axis that ends on one
points at a wall, and their tracking jitter adds "distance travelled".

:func:`find_static_keypoints` finds them from the poses alone: a keypoint is
static when, on its confident frames, it stays within a few pixels of one
place while the animal's own keypoints travel many body lengths.
:func:`split_static_keypoints` takes them out of a pose Dataset and keeps
their median positions as the arena's geometry in ``attrs["arena_landmarks"]``.
:func:`arena_zones` turns that geometry into zones for the kinematics: the
arena (the convex hull of the landmarks) and its centre (the hull shrunk to
half its size about its centroid, a quarter of its area: the open field's
classic centre zone), so that time in the centre and entries into it come
without a hand-drawn polygon.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy.spatial import ConvexHull, QhullError

from behaviorlab.errors import SchemaError
from behaviorlab.schema import CONFIDENCE_DIMS, POSITION_DIMS, check_dims
from behaviorlab.trajectories.kinematics import body_size

__all__ = [
    "ARENA_LANDMARKS",
    "CENTRE_SCALE",
    "arena_landmarks",
    "arena_zones",
    "find_static_keypoints",
    "split_static_keypoints",
]

log = logging.getLogger(__name__)

#: The attr that holds the landmarks taken out of a pose Dataset: JSON ``{name: [x, y]}`` (median positions, px).
ARENA_LANDMARKS = "arena_landmarks"

#: The centre zone is the arena's hull scaled by this factor about its centroid (a quarter of the area).
CENTRE_SCALE = 0.5

#: A static keypoint's 90th-percentile distance from its median position is at most this share of the
#: smallest such spread among the moving keypoints (measured: 0.036 on oft-rearing, 0.023 on dlc-epm-tracks).
MAX_SPREAD_RATIO = 0.1
#: ... and the moving keypoints travel at least this many body lengths from their median positions,
#: so a resting animal (whose tail base hardly moves while its nose does) is never called static.
MIN_TRAVEL_BODY_LENGTHS = 2.0
#: Frames with a confidence below this do not count (a tracker's guess on a lost point is not a position).
MIN_CONFIDENCE = 0.5
#: A keypoint needs this share of confident frames to be judged at all.
MIN_CONFIDENT_SHARE = 0.2


def _spreads(ds: xr.Dataset, min_confidence: float) -> pd.DataFrame:
    """Per keypoint: 90th-percentile distance from the median position, median position, confident share."""
    pos = ds["position"].transpose(*POSITION_DIMS).values[:, :2]  # (time, xy, keypoint, individual)
    if "confidence" in ds:
        conf = ds["confidence"].transpose(*CONFIDENCE_DIMS).values
    else:
        conf = np.full((pos.shape[0], pos.shape[2], pos.shape[3]), np.nan)
    rows = []
    for k, name in enumerate(ds["keypoint"].values):
        spread, centres, share = [], [], []
        for i in range(pos.shape[3]):
            xy = pos[:, :, k, i]
            good = np.isfinite(xy).all(axis=1) & ~(conf[:, k, i] < min_confidence)  # NaN confidence: unknown, kept
            if good.sum() < max(3, MIN_CONFIDENT_SHARE * len(xy)):
                continue
            centre = np.median(xy[good], axis=0)
            spread.append(float(np.percentile(np.linalg.norm(xy[good] - centre, axis=1), 90)))
            centres.append(centre)
            share.append(float(good.mean()))
        rows.append(
            {
                "keypoint": str(name),
                "spread_px": max(spread) if spread else np.nan,
                "x": float(np.mean([c[0] for c in centres])) if centres else np.nan,
                "y": float(np.mean([c[1] for c in centres])) if centres else np.nan,
                "confident_share": min(share) if share else 0.0,
            }
        )
    return pd.DataFrame(rows).set_index("keypoint")


def _body_length(ds: xr.Dataset, keypoints: Sequence[str]) -> float:
    """Return a robust body size (px): :func:`~behaviorlab.trajectories.kinematics.body_size` of the typical frame.

    The median frame (the thresholds below were measured with it), median over animals.
    """
    if len(keypoints) < 2:
        return np.nan
    sizes = body_size(ds["position"].sel(keypoint=list(keypoints)).transpose(*POSITION_DIMS).values[:, :2], 50.0)
    return float(np.nanmedian(sizes)) if np.isfinite(sizes).any() else np.nan


def find_static_keypoints(ds: xr.Dataset, *, min_confidence: float = MIN_CONFIDENCE) -> pd.DataFrame:
    """Find the keypoints that do not move with the animal (arena and maze landmarks).

    Parameters
    ----------
    ds
        Pose Dataset ``position (time, space, keypoint, individual)`` (and
        ``confidence``).
    min_confidence
        Frames whose confidence is below this are left out of the measure.

    Returns
    -------
    pandas.DataFrame
        Index ``keypoint``; columns ``spread_px`` (90th percentile of the
        distance from the keypoint's median position, on its confident
        frames; the largest over individuals), ``x``, ``y`` (median
        position), ``confident_share`` and ``static`` (bool).

    Notes
    -----
    A keypoint is static when its spread is at most
    :data:`MAX_SPREAD_RATIO` of the smallest spread among the other
    keypoints, and those travel at least :data:`MIN_TRAVEL_BODY_LENGTHS`
    body lengths (the largest distance between two of them in a frame,
    median over frames). A recording in which the animal hardly moves has no
    static keypoints: nothing can tell a landmark from a resting body part.
    """
    check_dims(ds, POSITION_DIMS, name="find_static_keypoints input")
    table = _spreads(ds, min_confidence)
    table["static"] = False
    spreads = table["spread_px"].dropna().sort_values()
    if len(spreads) < 2:
        return table
    # the widest gap (as a ratio) between consecutive spreads splits landmarks from body parts
    ratios = spreads.to_numpy()[1:] / np.maximum(spreads.to_numpy()[:-1], 1e-6)
    cut = int(np.argmax(ratios)) + 1
    low, high = spreads.index[:cut], spreads.index[cut:]
    if spreads.iloc[cut - 1] > MAX_SPREAD_RATIO * spreads.iloc[cut]:
        return table
    body = _body_length(ds, list(high))
    if not np.isfinite(body) or spreads.iloc[cut] < MIN_TRAVEL_BODY_LENGTHS * body:
        return table
    table.loc[list(low), "static"] = True
    return table


def split_static_keypoints(ds: xr.Dataset, static: str | Sequence[str] | None = "auto") -> xr.Dataset:
    """Return ``ds`` without its static keypoints, their median positions kept in ``attrs["arena_landmarks"]``.

    Parameters
    ----------
    ds
        Pose Dataset.
    static
        ``"auto"`` finds them with :func:`find_static_keypoints`; a list names
        them; ``None`` or an empty list keeps every keypoint.

    Returns
    -------
    xarray.Dataset
        A new Dataset (``ds`` is not modified) with the body keypoints only;
        ``attrs["arena_landmarks"]`` is JSON ``{name: [x, y]}`` (px, median
        over confident frames), merged with any landmarks ``ds`` already had.
    """
    check_dims(ds, POSITION_DIMS, name="split_static_keypoints input")
    if static is None or (not isinstance(static, str) and len(static) == 0):
        return ds
    table = _spreads(ds, MIN_CONFIDENCE)
    names = [str(k) for k in ds["keypoint"].values]
    if isinstance(static, str) and static == "auto":
        table = find_static_keypoints(ds)
        chosen = [k for k in names if table.loc[k, "static"]]
    else:
        chosen = [static] if isinstance(static, str) else [str(k) for k in static]
        unknown = [k for k in chosen if k not in names]
        if unknown:
            raise SchemaError(
                f"static keypoint(s) {unknown} are not in the poses (keypoints: {names}); "
                "fix cleaning.static_keypoints in the config"
            )
    if not chosen:
        return ds
    if len(chosen) == len(names):
        raise SchemaError(
            f"every keypoint ({names}) would be static: no body part is left; "
            "set cleaning.static_keypoints to the landmarks only (or [] to keep every keypoint)"
        )
    landmarks = arena_landmarks(ds)
    for k in chosen:
        xy = [float(table.loc[k, "x"]), float(table.loc[k, "y"])]
        landmarks[k] = [round(v, 3) for v in xy] if np.isfinite(xy).all() else None  # never confidently seen
    out = ds.sel(keypoint=[k for k in names if k not in chosen])
    out.attrs = {**ds.attrs, ARENA_LANDMARKS: json.dumps(landmarks)}
    log.info("static keypoints %s taken out of the body (kept as arena landmarks)", chosen)
    return out


def arena_landmarks(ds: xr.Dataset | Any) -> dict[str, list[float]]:
    """Return the arena landmarks a Dataset carries (``{name: [x, y]}``, px); empty when none."""
    raw = getattr(ds, "attrs", {}).get(ARENA_LANDMARKS)
    return dict(json.loads(raw)) if raw else {}


def arena_zones(landmarks: dict[str, Sequence[float]]) -> dict[str, list[list[float]]]:
    """Zones from arena landmarks: ``arena`` (their convex hull) and ``arena_centre`` (the hull at half size).

    Parameters
    ----------
    landmarks
        ``{name: [x, y]}`` in px, as :func:`arena_landmarks` returns.

    Returns
    -------
    dict
        Zone name to polygon vertices ``[[x, y], ...]`` (px, counter-clockwise), as
        :func:`behaviorlab.trajectories.kinematics.in_zone` takes; empty when the
        landmarks span no area (fewer than three, or all on one line).
    """
    points = np.asarray([list(v)[:2] for v in landmarks.values()], dtype=np.float64).reshape(-1, 2)
    points = points[np.isfinite(points).all(axis=1)]
    if len(points) < 3:
        return {}
    try:
        hull = ConvexHull(points)
    except QhullError:  # collinear or coincident points
        return {}
    if not hull.volume > 0:
        return {}
    arena = points[hull.vertices]
    x, y = arena[:, 0], arena[:, 1]
    cross = x * np.roll(y, -1) - np.roll(x, -1) * y
    centroid = np.array([((x + np.roll(x, -1)) * cross).sum(), ((y + np.roll(y, -1)) * cross).sum()]) / (
        3.0 * cross.sum()
    )
    centre = centroid + CENTRE_SCALE * (arena - centroid)
    return {"arena": arena.round(3).tolist(), "arena_centre": centre.round(3).tolist()}
