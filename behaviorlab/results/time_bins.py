"""The frames' clock shared by the label and movement statistics: frame rate, frame start times, time bins.

Frame ``f`` covers ``[t_f, t_f + 1/fps)``; with ``bin_s`` every frame
belongs to the bin ``floor(t / bin_s)`` (see :mod:`behaviorlab.results.stats`).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from behaviorlab.errors import SchemaError

__all__ = ["frame_rate", "frame_times", "time_bins"]


def frame_rate(obj: xr.Dataset | xr.DataArray, fps: float | None) -> float:
    """Return ``fps``, else the ``fps`` attr of ``obj``: frames per second (an error when neither is > 0)."""
    rate = fps if fps is not None else obj.attrs.get("fps")
    if rate is None or not float(rate) > 0:
        raise SchemaError(
            f"behavior statistics need the frame rate: the labels have no 'fps' attr; pass fps=... (got {rate!r})"
        )
    return float(rate)


def frame_times(labels: xr.DataArray) -> np.ndarray:
    """Start of every frame in seconds from the first frame's position 0 (time coordinate or frame / fps)."""
    fps = float(labels.attrs["fps"])
    n = labels.sizes["time"]
    if "time" in labels.coords:
        time_ = np.asarray(labels["time"].values)
        unit = labels.attrs.get("time_unit")
        if np.issubdtype(time_.dtype, np.floating) and unit != "frames":
            return time_.astype(np.float64)
        if np.issubdtype(time_.dtype, np.number):
            return time_.astype(np.float64) / fps
    return np.arange(n) / fps


def time_bins(times: np.ndarray, fps: float, bin_s: float | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bin index of every frame, and the start and end (s) of each bin."""
    n = len(times)
    end = (times[-1] + 1.0 / fps) if n else 0.0
    if bin_s is None:
        start = times[0] if n else 0.0
        return np.zeros(n, dtype=np.int64), np.array([start]), np.array([end])
    if not bin_s > 0:
        raise ValueError(f"bin_s must be > 0 seconds, got {bin_s!r}")
    # a tolerance of 1e-6 frame keeps frame k * bin_s * fps in its own bin despite float rounding
    index = np.floor(times / bin_s + 1e-6 / (fps * bin_s)).astype(np.int64)
    index -= index.min() if n else 0
    first = np.floor(times[0] / bin_s + 1e-6 / (fps * bin_s)) if n else 0
    count = int(index.max()) + 1 if n else 1
    starts = (first + np.arange(count)) * bin_s
    ends = np.minimum(starts + bin_s, end)
    return index, starts, ends
