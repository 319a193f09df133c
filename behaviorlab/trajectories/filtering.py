"""Cleaning of pose trajectories: confidence masking, jump removal, interpolation and smoothing.

Every function takes either a pose Dataset (it then works on ``position``
and returns a new Dataset) or a DataArray with a ``time`` dim (any other dims,
e.g. ``(time, space, keypoint, individual)`` or ``(time, individual,
feature)``), returns a new object of the same kind and appends itself to the
``log`` attr.  NaN marks a missing value throughout; no function modifies its
input.  All work is vectorised over time and over every other dim.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Literal

import attrs
import numpy as np
import pandas as pd
import xarray as xr
from scipy.interpolate import CubicSpline
from scipy.signal import savgol_filter as _savgol

from behaviorlab._config import ConfigBase
from behaviorlab.errors import SchemaError
from behaviorlab.schema import CONFIDENCE_DIMS, POSITION_DIMS, check_dims, log_step, logged
from behaviorlab.trajectories.landmarks import arena_landmarks, split_static_keypoints

__all__ = [
    "CleaningConfig",
    "clean_poses",
    "cleaning_report",
    "filter_by_confidence",
    "filter_jumps",
    "interpolate_over_time",
    "median_filter",
    "resolve_confidence_threshold",
    "savgol_filter",
]

log = logging.getLogger(__name__)

Data = xr.Dataset | xr.DataArray


# --------------------------------------------------------------------------- helpers
def _position_of(data: Data, name: str) -> xr.DataArray:
    """Return the DataArray a stage works on: ``position`` of a Dataset, else ``data`` itself."""
    if isinstance(data, xr.Dataset):
        check_dims(data, POSITION_DIMS, name=name)
        if "position" not in data.data_vars:
            raise SchemaError(f"{name} has no 'position' variable (it has {list(data.data_vars)})")
        return data["position"]
    check_dims(data, ("time",), name=name)
    return data


def _with_position(data: Data, values: np.ndarray) -> Data:
    """Return a copy of ``data`` whose ``position`` (Dataset) or values (DataArray) are ``values``."""
    if isinstance(data, xr.Dataset):
        out = data.copy(deep=False)
        out["position"] = data["position"].copy(data=values)
        return out
    return data.copy(data=values)


def _to_columns(da: xr.DataArray) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """Float copy of ``da`` as ``(time, n_columns)`` and the function that restores the layout."""
    axis = da.get_axis_num("time")
    arr = np.moveaxis(np.asarray(da.values, dtype=np.float64 if da.dtype.kind != "f" else da.dtype), axis, 0)
    shape = arr.shape
    cols = np.array(arr.reshape(shape[0], -1), copy=True)

    def restore(columns: np.ndarray) -> np.ndarray:
        return np.moveaxis(columns.reshape(shape), 0, axis)

    return cols, restore


def _check_window(window: int, name: str = "window") -> int:
    if isinstance(window, bool) or not isinstance(window, int | np.integer) or window < 1 or window % 2 == 0:
        raise SchemaError(f"{name} must be an odd integer >= 1 (frames), got {window!r}")
    return int(window)


def _fps_of(obj: Data) -> float | None:
    fps = obj.attrs.get("fps")
    return None if fps is None else float(fps)


def _gap_bounds(valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each frame, the index of the last valid frame at or before it and the next at or after it.

    Parameters
    ----------
    valid
        Boolean, shape ``(time, n_columns)``.

    Returns
    -------
    prev, nxt
        Integer arrays of the same shape; ``-1`` / ``time`` where there is none.
    """
    n_time = valid.shape[0]
    idx = np.arange(n_time)[:, None]
    prev = np.maximum.accumulate(np.where(valid, idx, -1), axis=0)
    nxt = np.minimum.accumulate(np.where(valid, idx, n_time)[::-1], axis=0)[::-1]
    return prev, nxt


def fill_linear(
    cols: np.ndarray, max_gap: int | None = None, *, extrapolate: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Linearly interpolate NaN runs of every column.

    Parameters
    ----------
    cols
        Float array ``(time, n_columns)``; not modified.
    max_gap
        Fill only runs of at most this many NaN frames; ``None`` fills all.
    extrapolate
        Also fill leading and trailing NaN with the nearest valid value.

    Returns
    -------
    filled
        Float array ``(time, n_columns)``.
    fillable
        Boolean ``(time, n_columns)``: the frames that were filled.
    """
    n_time = cols.shape[0]
    valid = ~np.isnan(cols)
    prev, nxt = _gap_bounds(valid)
    inner = ~valid & (prev >= 0) & (nxt < n_time)
    if max_gap is not None:
        inner &= (nxt - prev - 1) <= max_gap
    p = np.clip(prev, 0, n_time - 1)
    n = np.clip(nxt, 0, n_time - 1)
    x0 = np.take_along_axis(cols, p, axis=0)
    x1 = np.take_along_axis(cols, n, axis=0)
    span = np.where(inner, nxt - prev, 1)
    weight = (np.arange(n_time)[:, None] - prev) / span
    out = cols.copy()
    out[inner] = (x0 + weight * (x1 - x0))[inner]
    fillable = inner
    if extrapolate:
        lead = ~valid & (prev < 0) & (nxt < n_time)
        trail = ~valid & (nxt >= n_time) & (prev >= 0)
        out[lead] = x1[lead]
        out[trail] = x0[trail]
        fillable = inner | lead | trail
    return out, fillable


def _fill_cubic(cols: np.ndarray, fillable: np.ndarray, linear: np.ndarray) -> np.ndarray:
    """Refill the ``fillable`` frames of ``linear`` with a cubic spline through the valid frames of ``cols``."""
    out = linear.copy()
    t = np.arange(cols.shape[0], dtype=np.float64)
    for j in np.flatnonzero(fillable.any(axis=0)):  # loop over columns with gaps, not over frames
        good = ~np.isnan(cols[:, j])
        if good.sum() < 4:
            continue  # the linear fill already done stays
        spline = CubicSpline(t[good], cols[good, j], bc_type="not-a-knot")
        out[fillable[:, j], j] = spline(t[fillable[:, j]])
    return out


def _point_missing(position: xr.DataArray) -> np.ndarray:
    """``(time, keypoint, individual)`` True where any coordinate of a keypoint is NaN."""
    return np.isnan(position.transpose(*POSITION_DIMS).values).any(axis=1)


# --------------------------------------------------------------------------- stages
def filter_by_confidence(
    data: Data, threshold: float = 0.6, *, confidence: xr.DataArray | None = None, drop_unknown: bool = False
) -> Data:
    """Set positions whose confidence is below ``threshold`` to NaN.

    Parameters
    ----------
    data
        A pose Dataset (its ``confidence`` is used), or a ``position`` DataArray
        ``(time, space, keypoint, individual)`` together with ``confidence``.
    threshold
        Keypoints with confidence strictly below this value are masked
        (confidence units, usually 0-1).
    confidence
        Confidence ``(time, keypoint, individual)``; required when ``data`` is
        a DataArray, ignored otherwise.
    drop_unknown
        A NaN confidence means "unknown" (e.g. hand-made labels): such
        positions are kept unless this is True.

    Returns
    -------
    xarray.Dataset or xarray.DataArray
        Same kind as ``data``, masked positions NaN; ``confidence`` is kept as is.
    """
    position = _position_of(data, "filter_by_confidence input")
    if isinstance(data, xr.Dataset):
        confidence = data["confidence"]
    elif confidence is None:
        raise SchemaError("filter_by_confidence of a position DataArray needs confidence=(time, keypoint, individual)")
    check_dims(confidence, CONFIDENCE_DIMS, name="confidence")
    threshold = float(threshold)
    conf = confidence.values
    drop = conf < threshold
    if drop_unknown:
        drop |= np.isnan(conf)
    drop_da = xr.DataArray(drop, dims=confidence.dims, coords={d: confidence[d] for d in confidence.dims})
    masked = position.where(~drop_da.broadcast_like(position)).transpose(*position.dims)
    log.debug("filter_by_confidence masked %d of %d keypoint positions", int(drop.sum()), drop.size)
    out = _with_position(data, masked.values)
    return log_step(out, "filter_by_confidence", threshold=threshold, drop_unknown=bool(drop_unknown))


@logged()
def interpolate_over_time(
    data: Data, method: Literal["linear", "cubic"] = "linear", max_gap: int | None = None
) -> Data:
    """Fill NaN gaps along ``time`` by interpolation.

    Parameters
    ----------
    data
        Pose Dataset or DataArray with a ``time`` dim (any other dims).
    method
        ``"linear"`` or ``"cubic"`` (a not-a-knot cubic spline through all
        valid frames of each series; series with fewer than 4 valid frames
        fall back to linear).
    max_gap
        Fill only gaps of at most this many consecutive NaN frames; longer gaps
        stay entirely NaN.  ``None`` fills every gap.  Leading and trailing NaN
        are never extrapolated.

    Returns
    -------
    xarray.Dataset or xarray.DataArray
        Same kind and shape as ``data``.
    """
    if method not in ("linear", "cubic"):
        raise SchemaError(f"method must be 'linear' or 'cubic', got {method!r}")
    if max_gap is not None and (isinstance(max_gap, bool) or int(max_gap) != max_gap or max_gap < 0):
        raise SchemaError(f"max_gap must be a whole number of frames >= 0 or None, got {max_gap!r}")
    da = _position_of(data, "interpolate_over_time input")
    cols, restore = _to_columns(da)
    filled, fillable = fill_linear(cols, None if max_gap is None else int(max_gap))
    if method == "cubic":
        filled = _fill_cubic(cols, fillable, filled)
    return _with_position(data, restore(filled))


@logged()
def median_filter(data: Data, window: int = 5, *, min_periods: int | None = None) -> Data:
    """Centred rolling median along ``time``, ignoring NaN.

    Parameters
    ----------
    data
        Pose Dataset or DataArray with a ``time`` dim.
    window
        Odd window length in frames.
    min_periods
        Least number of valid frames in the window for a value; default
        ``window // 2 + 1`` (a majority).  Frames that are NaN in the input
        stay NaN: smoothing never fills gaps (see :func:`interpolate_over_time`).

    Returns
    -------
    xarray.Dataset or xarray.DataArray
        Same kind and shape as ``data``.
    """
    window = _check_window(window)
    min_periods = window // 2 + 1 if min_periods is None else int(min_periods)
    if not 1 <= min_periods <= window:
        raise SchemaError(f"min_periods must be between 1 and window={window}, got {min_periods}")
    da = _position_of(data, "median_filter input")
    cols, restore = _to_columns(da)
    half = window // 2
    out = np.empty_like(cols)
    block = max(1, 2_000_000 // max(1, cols.shape[1] * window))  # bound the memory of the sorted windows
    padded = np.pad(cols, ((half, half), (0, 0)), constant_values=np.nan)
    for start in range(0, cols.shape[0], block):  # blocks of frames, each fully vectorised
        stop = min(start + block, cols.shape[0])
        win = np.lib.stride_tricks.sliding_window_view(padded[start : stop + 2 * half], window, axis=0)
        count = (~np.isnan(win)).sum(axis=-1)
        ordered = np.sort(win, axis=-1)  # NaN sort last
        lo = np.clip((count - 1) // 2, 0, window - 1)[..., None]
        hi = np.clip(count // 2, 0, window - 1)[..., None]
        med = 0.5 * (np.take_along_axis(ordered, lo, -1) + np.take_along_axis(ordered, hi, -1))[..., 0]
        med[count < min_periods] = np.nan
        out[start:stop] = med
    out[np.isnan(cols)] = np.nan
    return _with_position(data, restore(out))


@logged()
def savgol_filter(data: Data, window: int = 7, polyorder: int = 2) -> Data:
    """Savitzky-Golay smoothing along ``time`` that never smooths across NaN.

    A frame gets a value only when the window that produces it (centred, or
    the first/last ``window`` frames at the ends of the series, as
    :func:`scipy.signal.savgol_filter` with ``mode="interp"``) holds no NaN;
    otherwise it is NaN.  Gaps therefore grow by up to ``window // 2`` frames
    on each side; interpolate short gaps first to avoid that.

    Parameters
    ----------
    data
        Pose Dataset or DataArray with a ``time`` dim.
    window
        Odd window length in frames, ``> polyorder``.
    polyorder
        Order of the fitted polynomial.

    Returns
    -------
    xarray.Dataset or xarray.DataArray
        Same kind and shape as ``data``.
    """
    window = _check_window(window)
    if not 0 <= int(polyorder) < window:
        raise SchemaError(f"polyorder must be >= 0 and < window={window}, got {polyorder!r}")
    da = _position_of(data, "savgol_filter input")
    cols, restore = _to_columns(da)
    n_time = cols.shape[0]
    if n_time < window:
        return _with_position(data, restore(np.full_like(cols, np.nan)))
    nan = np.isnan(cols)
    smooth = _savgol(np.where(nan, 0.0, cols), window, int(polyorder), axis=0, mode="interp")
    counts = np.concatenate([np.zeros((1, cols.shape[1])), np.cumsum(nan, axis=0)])
    start = np.clip(np.arange(n_time) - window // 2, 0, n_time - window)
    bad = (counts[start + window] - counts[start]) > 0
    smooth[bad] = np.nan
    return _with_position(data, restore(smooth))


def _reject_jumps(xy: np.ndarray, t: np.ndarray, max_speed: float) -> np.ndarray:
    """Frames of one trajectory reached too fast from the last accepted position.

    The longest run of frames without a jump is trusted; from there the
    trajectory is followed forwards and backwards: a frame is accepted when
    it is reachable at ``<= max_speed`` from the last accepted frame, so a
    spike (even at the very start) is removed and the return from it is kept.
    The loop runs over jump events, not frames.

    Parameters
    ----------
    xy
        Positions ``(time, space)``.
    t
        Frame times ``(time,)``.
    max_speed
        Largest plausible speed, in units of ``xy`` per unit of ``t``.

    Returns
    -------
    numpy.ndarray
        Boolean ``(time,)``, True for rejected frames.
    """
    reject = np.zeros(len(t), dtype=bool)
    vi = np.flatnonzero(~np.isnan(xy).any(axis=1))
    if len(vi) < 2:
        return reject
    p, tt = xy[vi], t[vi]
    speed = np.linalg.norm(np.diff(p, axis=0), axis=1) / np.diff(tt)
    breaks = np.flatnonzero(speed > max_speed) + 1
    if len(breaks) == 0:
        return reject
    starts = np.r_[0, breaks]
    ends = np.r_[breaks, len(vi)]
    anchor = int(np.argmax(ends - starts))
    accepted = np.zeros(len(vi), dtype=bool)
    accepted[starts[anchor] : ends[anchor]] = True
    last = ends[anchor] - 1
    for k in range(anchor + 1, len(starts)):
        seg = np.arange(starts[k], ends[k])
        ok = np.linalg.norm(p[seg] - p[last], axis=1) <= max_speed * (tt[seg] - tt[last])
        if ok.any():
            accepted[seg[np.argmax(ok)] : ends[k]] = True
            last = ends[k] - 1
    first = starts[anchor]
    for k in range(anchor - 1, -1, -1):
        seg = np.arange(starts[k], ends[k])
        ok = np.linalg.norm(p[seg] - p[first], axis=1) <= max_speed * (tt[first] - tt[seg])
        if ok.any():
            accepted[starts[k] : seg[len(ok) - 1 - np.argmax(ok[::-1])] + 1] = True
            first = starts[k]
    reject[vi[~accepted]] = True
    return reject


@logged()
def filter_jumps(data: Data, max_speed: float, *, px_per_cm: float | None = None) -> Data:
    """Set positions reached implausibly fast (tracking teleports) to NaN.

    A keypoint position is removed when reaching it from the last valid
    position of the same keypoint needs a speed above ``max_speed``.  The
    reference is the longest run of frames without a jump, so single-frame
    spikes, multi-frame excursions and spikes in the very first frames are
    removed while the frames after them are kept.

    Parameters
    ----------
    data
        Pose Dataset or ``position`` DataArray ``(time, space, keypoint, individual)``.
    max_speed
        Largest plausible speed: px/s when the data have an ``fps`` attr (px per
        frame otherwise), or cm/s (cm per frame) when ``px_per_cm`` is given.
    px_per_cm
        Spatial calibration, pixels per centimetre.

    Returns
    -------
    xarray.Dataset or xarray.DataArray
        Same kind as ``data`` with the jumps NaN.
    """
    position = _position_of(data, "filter_jumps input")
    check_dims(position, POSITION_DIMS, name="filter_jumps position")
    if not max_speed > 0:
        raise SchemaError(f"max_speed must be > 0, got {max_speed!r}")
    limit = float(max_speed) * (float(px_per_cm) if px_per_cm is not None else 1.0)
    fps = _fps_of(data) or _fps_of(position)
    n_time = position.sizes["time"]
    t = np.arange(n_time) / (fps if fps else 1.0)
    arr = position.transpose("time", "keypoint", "individual", "space").values
    cols = arr.reshape(n_time, -1, arr.shape[-1])  # (time, point, space)
    valid = ~np.isnan(cols).any(axis=2)
    # vectorised screen: only trajectories with a too-fast step between valid frames need the walk
    prev, _ = _gap_bounds(valid)
    p = np.clip(prev[:-1], 0, None)
    step = np.linalg.norm(cols[1:] - np.take_along_axis(cols, p[..., None], axis=0), axis=2)
    dt = t[1:, None] - t[np.clip(prev[:-1], 0, None)]
    suspect = np.flatnonzero((valid[1:] & (prev[:-1] >= 0) & (step > limit * dt)).any(axis=0))
    reject = np.zeros(valid.shape, dtype=bool)
    for j in suspect:  # loop over trajectories with jumps only
        reject[:, j] = _reject_jumps(cols[:, j], t, limit)
    cols = np.where(reject[..., None], np.nan, cols)
    out = np.moveaxis(cols.reshape(arr.shape), 3, 1)  # back to (time, space, keypoint, individual)
    new = xr.DataArray(out, dims=POSITION_DIMS).transpose(*position.dims).values
    log.debug("filter_jumps removed %d positions in %d trajectories", int(reject.sum()), len(suspect))
    return _with_position(data, new)


# --------------------------------------------------------------------------- pipeline
#: DeepLabCut's default ``pcutoff`` (its project template), for DeepLabCut poses whose project file is not found.
DEEPLABCUT_PCUTOFF = 0.6


def _static_names(value: Any) -> str | tuple[str, ...] | None:
    if value is None or value == "auto":
        return value
    if isinstance(value, str):
        raise SchemaError(f"cleaning.static_keypoints must be 'auto', a list of keypoint names or [], got {value!r}")
    return tuple(str(v) for v in value)


def _threshold(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if isinstance(value, str) and value != "auto":
        raise SchemaError(f"cleaning.confidence_threshold must be a number, 'auto' or null, got {value!r}")


def resolve_confidence_threshold(ds: xr.Dataset, threshold: float | str | None) -> float | None:
    """Return the confidence threshold that ``"auto"`` means for these poses (a number or None passes through).

    The ``pcutoff`` that :func:`behaviorlab.io.load.load_poses` found in the
    DeepLabCut project of the file, else :data:`DEEPLABCUT_PCUTOFF` for
    DeepLabCut poses, else None (SLEAP drops points below its peak threshold
    itself, and other sources have no agreed scale).
    """
    if threshold != "auto":
        return None if threshold is None else float(threshold)
    if ds.attrs.get("pcutoff") is not None:
        return float(ds.attrs["pcutoff"])
    if "deeplabcut" in str(ds.attrs.get("source_software", "")).lower():
        return DEEPLABCUT_PCUTOFF
    return None


#: A keypoint missing from more than this share of frames after cleaning is named in a warning.
MOSTLY_MISSING = 0.5


def _optional_positive(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if value is not None and not value > 0:
        raise SchemaError(f"CleaningConfig.{attribute.name} must be > 0 or None, got {value!r}")


@attrs.frozen
class CleaningConfig(ConfigBase):
    """Parameters of :func:`clean_poses`; a step whose parameter is ``None`` is skipped.

    Steps run in this order: static keypoints set apart, confidence masking,
    jump removal, median filter, interpolation, Savitzky-Golay smoothing.

    Parameters
    ----------
    static_keypoints
        Keypoints that are arena or maze landmarks, not body parts: ``"auto"``
        finds them (:func:`behaviorlab.trajectories.landmarks.find_static_keypoints`), a
        list names them, ``[]`` or ``None`` keeps every keypoint. They are
        taken out of the poses and kept in ``attrs["arena_landmarks"]``.
    confidence_threshold
        Mask keypoints with confidence below this (see :func:`filter_by_confidence`).
        ``"auto"``: the ``pcutoff`` of the DeepLabCut project the poses came
        from (its ``config.yaml``), else :data:`DEEPLABCUT_PCUTOFF` for
        DeepLabCut poses, else no masking.
    drop_unknown
        Also mask keypoints whose confidence is NaN.
    max_speed
        px/s (cm/s with ``px_per_cm``) for :func:`filter_jumps`.
    px_per_cm
        Spatial calibration for ``max_speed``.
    median_window
        Odd window in frames for :func:`median_filter`.
    max_gap
        Longest gap in frames that :func:`interpolate_over_time` fills; 0 disables.
    interpolation
        ``"linear"`` or ``"cubic"``.
    savgol_window, savgol_polyorder
        Window in frames and order for :func:`savgol_filter`.
    """

    section: ClassVar[str] = "cleaning"

    static_keypoints: str | tuple[str, ...] | None = attrs.field(default="auto", converter=_static_names)
    confidence_threshold: float | str | None = attrs.field(default="auto", validator=_threshold)
    drop_unknown: bool = False
    max_speed: float | None = attrs.field(default=None, validator=_optional_positive)
    px_per_cm: float | None = attrs.field(default=None, validator=_optional_positive)
    median_window: int | None = None
    max_gap: int | None = 10
    interpolation: str = attrs.field(default="linear", validator=attrs.validators.in_(("linear", "cubic")))
    savgol_window: int | None = None
    savgol_polyorder: int = 2


def clean_poses(ds: xr.Dataset, config: CleaningConfig | Mapping[str, Any] | None = None) -> xr.Dataset:
    """Run the cleaning steps of ``config`` in order on a pose Dataset.

    Parameters
    ----------
    ds
        Pose Dataset (``position (time, space, keypoint, individual)``, ``confidence``).
    config
        A :class:`CleaningConfig` or a mapping of its fields.

    Returns
    -------
    xarray.Dataset
        Cleaned copy of ``ds`` without its static keypoints (their median
        positions are in ``attrs["arena_landmarks"]``).  Two boolean
        variables ``(time, keypoint, individual)`` record what happened:
        ``cleaning_masked`` (valid in ``ds``, removed by a cleaning step,
        whether or not later filled) and ``interpolated`` (filled by
        interpolation).  Each step appends itself to the ``log`` attr,
        followed by a ``clean_poses`` entry with the confidence threshold used
        and the static keypoints found.  A keypoint missing from most frames
        afterwards is named in a warning (logged) and in
        ``attrs["mostly_missing_keypoints"]``.
    """
    if not isinstance(ds, xr.Dataset):
        raise SchemaError(f"clean_poses needs a pose Dataset, got {type(ds).__name__}")
    check_dims(ds, POSITION_DIMS, name="clean_poses input")
    if config is None:
        config = CleaningConfig()
    elif isinstance(config, Mapping):
        config = CleaningConfig.from_dict(config)
    before = set(arena_landmarks(ds))
    ds = split_static_keypoints(ds, config.static_keypoints)
    static = [k for k in arena_landmarks(ds) if k not in before]
    if static:
        log.warning(
            "%s: keypoints %s stay in one place while the animal moves: treated as arena landmarks and left out of "
            "the body (set cleaning.static_keypoints to change this)",
            ds.attrs.get("source_file", "poses"),
            static,
        )
    threshold = resolve_confidence_threshold(ds, config.confidence_threshold)
    masked = np.zeros(_point_missing(ds["position"]).shape, dtype=bool)
    filled = np.zeros_like(masked)
    out = ds

    def track(new: xr.Dataset, *, fills: bool = False) -> xr.Dataset:
        before, after = _point_missing(out["position"]), _point_missing(new["position"])
        if fills:
            filled[...] |= before & ~after
        else:
            masked[...] |= ~before & after
        return new

    if threshold is not None:
        out = track(filter_by_confidence(out, threshold, drop_unknown=config.drop_unknown))
    if config.max_speed is not None:
        out = track(filter_jumps(out, config.max_speed, px_per_cm=config.px_per_cm))
    if config.median_window is not None:
        out = track(median_filter(out, config.median_window))
    if config.max_gap:
        out = track(interpolate_over_time(out, config.interpolation, config.max_gap), fills=True)
    if config.savgol_window is not None:
        out = track(savgol_filter(out, config.savgol_window, config.savgol_polyorder))
    out = out.copy(deep=False)
    out["cleaning_masked"] = (CONFIDENCE_DIMS, masked & ~_point_missing(ds["position"]))
    out["interpolated"] = (CONFIDENCE_DIMS, filled)
    missing = _point_missing(out["position"]).mean(axis=(0, 2))
    mostly = [str(k) for k, share in zip(out["keypoint"].values, missing, strict=True) if share > MOSTLY_MISSING]
    out.attrs["mostly_missing_keypoints"] = json.dumps(mostly)
    if mostly:
        shares = ", ".join(
            f"{k} {share:.0%}" for k, share in zip(out["keypoint"].values, missing, strict=True) if str(k) in mostly
        )
        log.warning(
            "%s: keypoints missing from most frames after cleaning (%s): features that use them are mostly NaN",
            ds.attrs.get("source_file", "poses"),
            shares,
        )
    return log_step(
        out, "clean_poses", config=config.to_dict(), confidence_threshold_used=threshold, static_keypoints=static
    )


def cleaning_report(raw: Data, cleaned: Data) -> pd.DataFrame:
    """Summarise what cleaning did, per individual and keypoint.

    Parameters
    ----------
    raw
        Pose Dataset (or ``position`` DataArray) before cleaning.
    cleaned
        The result of :func:`clean_poses` (or of any cleaning steps) on ``raw``.

    Returns
    -------
    pandas.DataFrame
        Index ``(individual, keypoint)``; columns ``share_nan_raw`` (share of
        frames missing in ``raw``), ``share_masked`` (share of frames valid in
        ``raw`` that cleaning removed, even if later filled), ``n_interpolated``
        (frames filled by interpolation) and ``share_missing`` (share of frames
        still missing after cleaning).  Shares are between 0 and 1.  When
        ``cleaned`` lacks the ``cleaning_masked`` / ``interpolated`` variables of
        :func:`clean_poses` they are inferred from the NaN patterns alone.
        The static keypoints that cleaning set apart (``arena_landmarks``)
        have no rows.
    """
    raw_pos = _position_of(raw, "raw")
    clean_pos = _position_of(cleaned, "cleaned")
    for da, name in ((raw_pos, "raw"), (clean_pos, "cleaned")):
        check_dims(da, POSITION_DIMS, name=f"{name} position")
    landmarks = arena_landmarks(cleaned)
    if landmarks:
        raw_pos = raw_pos.sel(keypoint=[k for k in raw_pos["keypoint"].values if str(k) not in landmarks])
    if raw_pos.sizes != clean_pos.sizes:
        raise SchemaError(f"raw {dict(raw_pos.sizes)} and cleaned {dict(clean_pos.sizes)} differ in shape")
    nan_raw = _point_missing(raw_pos)
    nan_clean = _point_missing(clean_pos)
    if isinstance(cleaned, xr.Dataset) and "cleaning_masked" in cleaned:
        masked = cleaned["cleaning_masked"].transpose(*CONFIDENCE_DIMS).values
        filled = cleaned["interpolated"].transpose(*CONFIDENCE_DIMS).values
    else:
        masked = ~nan_raw & nan_clean
        filled = nan_raw & ~nan_clean
    n_time = max(nan_raw.shape[0], 1)
    index = pd.MultiIndex.from_product(
        [[str(i) for i in raw_pos["individual"].values], [str(k) for k in raw_pos["keypoint"].values]],
        names=["individual", "keypoint"],
    )

    def per_point(a: np.ndarray) -> np.ndarray:  # (time, keypoint, individual) -> rows (individual, keypoint)
        return a.sum(axis=0).T.reshape(-1)

    return pd.DataFrame(
        {
            "share_nan_raw": per_point(nan_raw) / n_time,
            "share_masked": per_point(masked) / n_time,
            "n_interpolated": per_point(filled).astype(np.int64),
            "share_missing": per_point(nan_clean) / n_time,
        },
        index=index,
    )
