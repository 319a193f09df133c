"""Window features: per-frame features summarised over centred windows of several lengths (SimBA, JAABA).

:func:`window_features` adds, for every feature, its rolling mean, standard
deviation, minimum and maximum over windows of a few tenths of a second to a
second, so a per-frame classifier sees the movement around each frame.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from behaviorlab.errors import SchemaError
from behaviorlab.schema import check_dims, log_step

__all__ = ["ALL_STATS", "STATS", "window_feature_names", "window_features"]

#: Window statistics of the classifiers by default: over a window centred on the frame.
STATS: tuple[str, ...] = ("mean", "std", "min", "max")
#: Every statistic :func:`window_features` can compute: the centred ones, and the mean over the window that ends
#: at the frame (``past_mean``) or starts at it (``future_mean``): what came before and what follows.
ALL_STATS: tuple[str, ...] = (*STATS, "past_mean", "future_mean")
_FEATURE_DIMS = ("time", "individual", "feature")


def frame_rate(obj: xr.DataArray | xr.Dataset, fps: float | None, name: str) -> float:
    """Frames per second: ``fps``, else the ``fps`` attr, else the spacing of a time coordinate in seconds."""
    rate = fps if fps is not None else obj.attrs.get("fps")
    if rate is None and "time" in obj.coords and obj.sizes["time"] > 1:
        times = np.asarray(obj["time"].values)
        if np.issubdtype(times.dtype, np.floating) and obj.attrs.get("time_unit", "seconds") == "seconds":
            step = float(np.median(np.diff(times)))
            rate = 1.0 / step if step > 0 else None
    if rate is None or not float(rate) > 0:
        raise SchemaError(
            f"{name}: no frame rate (no 'fps' attr and no time coordinate in seconds); pass fps=... "
            "or load the poses with their fps"
        )
    return float(rate)


def _half_width(seconds: float, fps: float) -> int:
    """Half-width in frames of a centred window of ``seconds``: ``floor(seconds * fps / 2 + 0.5)``."""
    return math.floor(seconds * fps / 2 + 0.5)


def check_windows(windows_s: Sequence[float], stats: Sequence[str]) -> tuple[tuple[float, ...], tuple[str, ...]]:
    if isinstance(windows_s, str) or isinstance(stats, str):
        raise SchemaError("windows_s and stats must be sequences, e.g. windows_s=(0.5,) and stats=('mean',)")
    windows = tuple(float(w) for w in windows_s)
    if any(not w > 0 for w in windows):
        raise SchemaError(f"window lengths must be positive seconds, got {list(windows_s)}")
    stats = tuple(str(s) for s in stats)
    unknown = [s for s in stats if s not in ALL_STATS]
    if unknown:
        raise SchemaError(f"unknown window statistic(s) {unknown}; choose from {list(ALL_STATS)}")
    if len(set(windows)) != len(windows) or len(set(stats)) != len(stats):
        raise SchemaError(f"windows_s and stats must not repeat, got {list(windows)} and {list(stats)}")
    return windows, stats


def window_feature_names(base: Sequence[str], windows_s: Sequence[float], stats: Sequence[str]) -> list[str]:
    """Names of :func:`window_features`' columns: the raw names, then ``f"{name}__{stat}_{seconds:g}s"``."""
    base = [str(b) for b in base]
    return base + [f"{f}__{s}_{w:g}s" for w in windows_s for s in stats for f in base]


def window_features(
    features: xr.DataArray | xr.Dataset,
    windows_s: Sequence[float] = (0.2, 0.5, 1.0),
    stats: Sequence[str] = STATS,
    fps: float | None = None,
    *,
    dtype: Any = None,
) -> xr.DataArray:
    """Summarise every per-frame feature over centred windows of several lengths (SimBA, JAABA).

    Parameters
    ----------
    features
        ``features (time, individual, feature)``, or a Dataset holding it
        (its ``fps`` attr is then used).  Not modified.
    windows_s
        Window lengths in seconds.  A window of ``w`` seconds spans ``2 h + 1``
        frames centred on each frame, ``h = floor(w * fps / 2 + 0.5)`` (so
        0.2 s at 30 fps is 7 frames).
    stats
        Statistics among :data:`ALL_STATS`: over the centred window
        ``"mean"``, ``"std"`` (population standard deviation, ``ddof=0``, so
        0 for a single value), ``"min"``, ``"max"``; ``"past_mean"``, the mean
        over the same number of frames ending at the frame, and
        ``"future_mean"``, starting at it.
    fps
        Frames per second; default the ``fps`` attr, else the spacing of the
        time coordinate (seconds).
    dtype
        Float dtype of the result; default the input's (float64 for integers).

    Returns
    -------
    xarray.DataArray
        ``features (time, individual, feature')`` with ``n_features * (1 +
        len(windows_s) * len(stats))`` columns: the raw features first, then
        for each window and each statistic every feature, named
        ``"speed_centroid__mean_0.5s"``.  Statistics skip NaN and need one
        value (``min_periods=1``): near the ends of a recording the windows
        are truncated, and a window is NaN only when all its frames are.  A
        ``units`` coordinate on ``feature`` is carried over; the ``log`` attr
        records the call.
    """
    if isinstance(features, xr.Dataset):
        if "features" not in features:
            raise SchemaError(f"window_features needs a 'features' variable; the Dataset has {list(features)}")
        rate = frame_rate(features, fps, "window_features input")
        features = features["features"]
    else:
        rate = frame_rate(features, fps, "window_features input")
    check_dims(features, _FEATURE_DIMS, name="window_features input")
    extra = [d for d in features.dims if d not in _FEATURE_DIMS]
    if extra:
        raise SchemaError(f"window_features needs (time, individual, feature), got the extra dim(s) {extra}")
    windows, stats = check_windows(windows_s, stats)
    ordered = features.transpose(*_FEATURE_DIMS)
    n_time, n_ind, n_feat = ordered.shape
    out_dtype = np.dtype(dtype) if dtype is not None else np.result_type(ordered.dtype, np.float32)
    if out_dtype.kind != "f":
        raise SchemaError(f"window_features: dtype must be a float dtype, got {out_dtype}")
    if ordered.dtype.kind not in "fiub":
        raise SchemaError(f"window_features needs numeric features, got dtype {ordered.dtype}")
    values = np.asarray(ordered.values)
    out = np.empty((n_time, n_ind, n_feat * (1 + len(windows) * len(stats))), dtype=out_dtype)
    out[..., :n_feat] = values
    table = pd.DataFrame(values.reshape(n_time, n_ind * n_feat).astype(np.float64, copy=False))  # columns: series
    k = 1
    for w in windows:
        span = 2 * _half_width(w, rate) + 1
        rolling = table.rolling(span, center=True, min_periods=1)
        for stat in stats:
            if stat == "past_mean":
                result = table.rolling(span, min_periods=1).mean()
            elif stat == "future_mean":
                result = table[::-1].rolling(span, min_periods=1).mean()[::-1]
            else:
                result = rolling.std(ddof=0) if stat == "std" else getattr(rolling, stat)()
            out[..., k * n_feat : (k + 1) * n_feat] = result.to_numpy().reshape(n_time, n_ind, n_feat)
            k += 1
    names = window_feature_names(ordered["feature"].values, windows, stats)
    coords: dict[str, Any] = {d: ordered[d].values for d in ("time", "individual") if d in ordered.coords}
    coords["feature"] = names
    if "units" in ordered.coords and ordered["units"].dims == ("feature",):
        coords["units"] = ("feature", np.tile(ordered["units"].values, 1 + len(windows) * len(stats)))
    result = xr.DataArray(
        out, dims=_FEATURE_DIMS, coords=coords, name="features", attrs={**features.attrs, "fps": rate}
    )
    return log_step(result, "window_features", windows_s=list(windows), stats=list(stats), fps=rate)
