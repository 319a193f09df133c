"""Movement statistics from poses: distance travelled, speed, and time in, entries into and latency to zones.

One point per individual (a keypoint or the centroid) is followed over the
frames; the tables have one row per session, individual (zone) and time bin,
with the frame and bin conventions of :mod:`behaviorlab.results.stats`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import xarray as xr

from behaviorlab.errors import SchemaError
from behaviorlab.results.time_bins import frame_rate, frame_times, time_bins
from behaviorlab.schema import check_dims
from behaviorlab.trajectories.kinematics import CENTROID, in_zone, keypoint_or_centroid

__all__ = ["movement_statistics", "zone_statistics"]


class _Track(NamedTuple):
    """One point of every individual with its frames' times and bins."""

    point: xr.DataArray  # (time, space, individual)
    fps: float
    times: np.ndarray
    frame_bin: np.ndarray
    bin_start: np.ndarray
    bin_end: np.ndarray
    tracked: np.ndarray  # (time, individual) bool
    individuals: np.ndarray
    session: str | None

    def keys(self, bin_: np.ndarray, individual: np.ndarray) -> dict[str, Any]:
        """Return the leading columns ``session, individual, bin, bin_start_s, bin_end_s`` of a table."""
        return {
            "session": pd.Series([self.session] * len(bin_), dtype=object),
            "individual": self.individuals[individual],
            "bin": bin_.astype(np.int64),
            "bin_start_s": self.bin_start[bin_],
            "bin_end_s": self.bin_end[bin_],
        }


def _track(poses: xr.Dataset | xr.DataArray, keypoint: str, session: str | None, bin_s: float | None) -> _Track:
    if isinstance(poses, xr.Dataset):
        if "position" not in poses:
            raise SchemaError(f"movement statistics need a pose Dataset with 'position'; got {list(poses.data_vars)}")
        pos = poses["position"].copy(deep=False)
        pos.attrs = {**poses["position"].attrs, **poses.attrs}
    else:
        pos = poses
    check_dims(pos, ["time", "space", "keypoint", "individual"], name="poses")
    point = keypoint_or_centroid(pos, keypoint).transpose("time", "space", "individual")
    fps = frame_rate(pos, None)
    frames = point.isel(space=0, drop=True)
    frames.attrs = {"fps": fps, **({"time_unit": point.attrs["time_unit"]} if "time_unit" in point.attrs else {})}
    times = frame_times(frames)
    frame_bin, bin_start, bin_end = time_bins(times, fps, bin_s)
    return _Track(
        point,
        fps,
        times,
        frame_bin,
        bin_start,
        bin_end,
        np.isfinite(np.asarray(point.values)).all(axis=1),
        np.asarray([str(v) for v in point["individual"].values], dtype=object),
        session or point.attrs.get("session"),
    )


def movement_statistics(
    poses: xr.Dataset | xr.DataArray,
    *,
    keypoint: str = CENTROID,
    px_per_cm: float | None = None,
    session: str | None = None,
    bin_s: float | None = None,
) -> pd.DataFrame:
    """Distance travelled and speed of every individual (and time bin).

    The distance is the sum of the steps between consecutive frames where
    the point is tracked; a step into or out of a missing frame is not
    counted (gaps are not bridged).  Clean or smooth the poses first: jitter
    adds length.

    Parameters
    ----------
    poses
        Pose Dataset (or ``position``) with an ``fps`` attr.
    keypoint
        Keypoint name, or ``"centroid"`` (mean of the tracked keypoints).
    px_per_cm
        Calibration; without it lengths are in pixels.
    session, bin_s
        As in :func:`behaviorlab.results.stats.behavior_statistics`; a step belongs to the bin of the
        frame it ends in.

    Returns
    -------
    pandas.DataFrame
        ``session, individual, bin, bin_start_s, bin_end_s, tracked_s,
        distance, mean_speed, length_unit``: seconds with the point tracked,
        distance in ``length_unit`` (``cm`` or ``px``), and distance per
        tracked second.
    """
    track = _track(poses, keypoint, session, bin_s)
    fps_, frame_bin, bin_start, tracked = track.fps, track.frame_bin, track.bin_start, track.tracked
    xy = np.asarray(track.point.values, dtype=np.float64)  # (time, space, individual)
    scale, unit = (1.0, "px") if px_per_cm is None else (1.0 / float(px_per_cm), "cm")
    if px_per_cm is not None and not px_per_cm > 0:
        raise SchemaError(f"px_per_cm must be > 0, got {px_per_cm!r}")
    step = np.zeros(tracked.shape)
    if len(xy) > 1:
        d = np.sqrt(((xy[1:] - xy[:-1]) ** 2).sum(axis=1)) * scale
        step[1:] = np.where(np.isfinite(d), d, 0.0)
    n_bins, n_ind = len(bin_start), tracked.shape[1]
    dist = np.zeros((n_bins, n_ind))
    seen = np.zeros((n_bins, n_ind))
    np.add.at(dist, frame_bin, step)
    np.add.at(seen, frame_bin, tracked.astype(np.float64))
    tracked_s = seen / fps_
    with np.errstate(invalid="ignore", divide="ignore"):
        speed = np.where(tracked_s > 0, dist / tracked_s, np.nan)
    b, i = (a.ravel() for a in np.indices((n_bins, n_ind)))
    return pd.DataFrame(
        {
            **track.keys(b, i),
            "tracked_s": tracked_s.ravel(),
            "distance": dist.ravel(),
            "mean_speed": speed.ravel(),
            "length_unit": unit,
        }
    )


def zone_statistics(
    poses: xr.Dataset | xr.DataArray,
    zones: Mapping[str, Any],
    *,
    keypoint: str = CENTROID,
    session: str | None = None,
    bin_s: float | None = None,
) -> pd.DataFrame:
    """Time in, entries into and latency to every zone, per individual (and time bin).

    Parameters
    ----------
    poses
        Pose Dataset (or ``position``) with an ``fps`` attr.
    zones
        Zone name to polygon vertices ``(n, 2)`` in pixels (as
        :func:`behaviorlab.trajectories.kinematics.in_zone` takes).
    keypoint
        Keypoint that must be inside, or ``"centroid"``.
    session, bin_s
        As in :func:`behaviorlab.results.stats.behavior_statistics`.

    Returns
    -------
    pandas.DataFrame
        ``session, individual, zone, bin, bin_start_s, bin_end_s, tracked_s,
        time_s, time_pct, entries, latency_s``: frames with the point
        tracked, inside (seconds and share of tracked time), entries (a
        tracked frame inside after a tracked frame outside; a recording that
        starts inside counts no entry), and the time from the bin start to
        the first frame inside (NaN if never).
    """
    track = _track(poses, keypoint, session, bin_s)
    fps_, times, frame_bin, bin_start, tracked = track.fps, track.times, track.frame_bin, track.bin_start, track.tracked
    n_bins, n_ind = len(bin_start), tracked.shape[1]
    pos = poses["position"] if isinstance(poses, xr.Dataset) else poses
    seen = np.zeros((n_bins, n_ind))
    np.add.at(seen, frame_bin, tracked.astype(np.float64))
    frames = []
    for name, polygon in zones.items():
        inside = np.asarray(in_zone(pos, polygon, keypoint).transpose("time", "individual").values) & tracked
        within = np.zeros((n_bins, n_ind))
        np.add.at(within, frame_bin, inside.astype(np.float64))
        entry = np.zeros_like(inside)
        entry[1:] = inside[1:] & tracked[:-1] & ~inside[:-1]
        entries = np.zeros((n_bins, n_ind), dtype=np.int64)
        np.add.at(entries, frame_bin, entry.astype(np.int64))
        first = np.full((n_bins, n_ind), np.inf)
        t_in, i_in = np.nonzero(inside)
        np.minimum.at(first, (frame_bin[t_in], i_in), times[t_in])
        with np.errstate(invalid="ignore", divide="ignore"):
            pct = np.where(seen > 0, 100.0 * within / seen, np.nan)
        b, i = (a.ravel() for a in np.indices((n_bins, n_ind)))
        frames.append(
            pd.DataFrame(
                {
                    **track.keys(b, i),
                    "zone": str(name),
                    "tracked_s": (seen / fps_).ravel(),
                    "time_s": (within / fps_).ravel(),
                    "time_pct": pct.ravel(),
                    "entries": entries.ravel(),
                    "latency_s": np.where(np.isfinite(first), first - bin_start[:, None], np.nan).ravel(),
                }
            )
        )
    if not frames:
        raise SchemaError("zone_statistics needs at least one zone")
    return pd.concat(frames, ignore_index=True)
