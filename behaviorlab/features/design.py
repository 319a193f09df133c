"""The one adapter between xarray and scikit-learn: features, samples and predictions.

:func:`compute_features` turns a pose Dataset into a ``features (time,
individual, feature)`` variable; :func:`to_samples` stacks ``(session,) time,
individual`` into the rows of a ``(n_samples, n_features)`` matrix for
scikit-learn, and :func:`from_samples` puts per-row predictions back on
``(session,) time, individual``.  No other module converts between the two.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, NamedTuple

import attrs
import numpy as np
import pandas as pd
import xarray as xr

from behaviorlab._config import ConfigBase
from behaviorlab.errors import SchemaError
from behaviorlab.features.families import (
    body_area,
    joint_angle,
    lag_frames,
    lagged_rate,
    lagged_speed,
    pair_name,
    skeleton_joints,
)
from behaviorlab.schema import POSITION_DIMS, check_dims, get_skeleton, guess_body_axis, log_step, unlogged
from behaviorlab.trajectories import kinematics
from behaviorlab.trajectories.kinematics import CENTROID
from behaviorlab.trajectories.landmarks import arena_landmarks, arena_zones

__all__ = [
    "FeatureConfig",
    "Samples",
    "SessionSamples",
    "compute_features",
    "from_samples",
    "session_items",
    "session_samples",
    "to_samples",
]

log = logging.getLogger(__name__)

_FEATURE_DIMS = ("time", "individual", "feature")
_ROW_DIMS = ("session", "time", "individual")


def _names(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


def _groups(value: Any) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(str(v) for v in group) for group in value)


def _auto_or_bool(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not (isinstance(value, bool) or value == "auto"):
        raise SchemaError(f"features.{attribute.name} must be true, false or 'auto', got {value!r}")


def _speed_keypoints(value: Any) -> str | tuple[str, ...]:
    return "all" if isinstance(value, str) and value == "all" else _names(value)


def _positive_lags(instance: Any, attribute: attrs.Attribute, value: tuple[float, ...]) -> None:
    if not value or not all(v > 0 for v in value):
        raise SchemaError(f"features.{attribute.name} must be one or more lags in seconds > 0, got {list(value)!r}")


def _scale_choice(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if value not in SCALES:
        raise SchemaError(f"features.scale must be one of {list(SCALES)}, got {value!r}")


#: Length units of the features: each animal's body size (scale-free, the default) or the poses' pixels.
SCALES = ("body_size", "none")


@attrs.frozen
class FeatureConfig(ConfigBase):
    """Which features :func:`compute_features` computes; the defaults work for any skeleton.

    Keypoint names may be ``"centroid"`` (mean of the valid keypoints).  Feature
    names do not depend on the order of the keypoints in the file (a pair is
    named with its two keypoints sorted).

    Parameters
    ----------
    scale
        ``"body_size"`` (default): every length in units of the animal's own
        size (:func:`~behaviorlab.trajectories.kinematics.body_size`: the
        median over the session of the median distance between two of its
        keypoints), speeds in sizes per second, areas in sizes squared, so
        that a classifier trained at one camera distance or resolution
        applies at another.  ``"none"``: pixels (or cm with ``px_per_cm``).
    speed_keypoints
        Keypoints whose speed is a feature; ``"all"`` (default) is the centroid and every keypoint.
    speed_lags_s
        Speeds are measured over these lags (seconds, centred on the frame;
        at least two frames): the first for every speed keypoint, the others
        for the centroid too (``speed_centroid_1s``).  Over a lag, tracking
        jitter averages out: on real tracks the frame-to-frame speed of a
        freezing mouse is mostly jitter.
    accelerations
        Add the rate of change of each speed keypoint's speed (same lag).
    confidence
        Add each keypoint's tracking confidence (an occluded keypoint is
        information: a rearing mouse hides its paws from a top camera); not
        for poses without any confidence value.
    egocentric
        Add the egocentric x and y of every keypoint (see
        :func:`behaviorlab.trajectories.kinematics.egocentric_align`), except the origin's.
    origin_keypoint
        Origin of the egocentric frame.
    axis_from, axis_to
        Body axis of the egocentric frame and of the heading; default read
        from the keypoint names (:func:`behaviorlab.schema.guess_body_axis`:
        tail base -> nose, snout or head), else the last and the first keypoint.
    distances
        ``"all"`` for every pair of keypoints, or a list of ``(a, b)`` pairs, or ``()``.
    joint_angles
        ``"auto"`` (default): the body's bend, the angle at the centroid
        between ``axis_to`` and ``axis_from``; ``"skeleton"``: that and the
        angle at every joint of the Dataset's skeleton (``attrs["skeleton"]``,
        each keypoint with each pair of its neighbours; for projects whose
        every pose file carries the same skeleton, since files without one
        would get other columns); or a list of ``(a, b, c)`` triplets, the
        angle at ``b`` in radians (0 to pi).
    body_area
        Add the area of the body outline (keypoints joined around their centroid).
    walls
        Distances of ``axis_to`` and the centroid to the arena's walls (positive
        inside), when the poses carry arena landmarks (static keypoints found
        by the cleaning, :mod:`behaviorlab.trajectories.landmarks`).  ``"auto"``
        (default): when there are landmarks; ``True``: always (NaN without
        landmarks); ``False``: never.
    heading_velocity
        Add the angular velocity of the body axis (rad/s, wrapped differences).
    px_per_cm
        Spatial calibration for speeds and distances (``scale: none`` only).
    social
        Add features relative to the nearest other individual (Datasets with
        several animals): centroid-to-centroid distance, own nose (``axis_to``)
        to the other's centroid, own centroid to the other's nose, the rate
        of change of the centroid distance (negative when approaching) and
        the cosine of the angle between the own heading and the direction to
        the other (1 when facing it).  NaN where no other animal is tracked.
        ``"auto"`` (the default): on for a Dataset with two or more
        individuals, off for one animal (``behaviorlab run`` decides once for
        the whole project, so every session has the same columns).
    """

    section: ClassVar[str] = "features"

    scale: str = attrs.field(default="body_size", validator=_scale_choice)
    speed_keypoints: str | tuple[str, ...] = attrs.field(default="all", converter=_speed_keypoints)
    speed_lags_s: tuple[float, ...] = attrs.field(
        default=(0.2, 1.0),
        converter=lambda v: tuple(float(x) for x in ([v] if np.isscalar(v) else v)),
        validator=_positive_lags,
    )
    accelerations: bool = True
    confidence: bool = True
    egocentric: bool = True
    origin_keypoint: str = "centroid"
    axis_from: str | None = None
    axis_to: str | None = None
    distances: str | tuple[tuple[str, ...], ...] = attrs.field(
        default="all", converter=lambda v: v if isinstance(v, str) else _groups(v)
    )
    joint_angles: str | tuple[tuple[str, ...], ...] = attrs.field(
        default="auto", converter=lambda v: v if isinstance(v, str) else _groups(v)
    )
    body_area: bool = True
    walls: bool | str = attrs.field(default="auto", validator=_auto_or_bool)
    heading_velocity: bool = True
    px_per_cm: float | None = None
    social: bool | str = attrs.field(default="auto", validator=_auto_or_bool)

    def social_for(self, n_individuals: int) -> bool:
        """Whether social features are computed for a Dataset with ``n_individuals`` animals."""
        return n_individuals >= 2 if self.social == "auto" else bool(self.social)

    def __attrs_post_init__(self) -> None:
        """Check the shapes of the pair and triplet lists."""
        if isinstance(self.distances, str) and self.distances != "all":
            raise SchemaError(
                f"FeatureConfig.distances must be 'all' or a list of (a, b) pairs, got {self.distances!r}"
            )
        if not isinstance(self.distances, str) and any(len(p) != 2 for p in self.distances):
            raise SchemaError("FeatureConfig.distances: each entry must be a pair (a, b) of keypoint names")
        if isinstance(self.joint_angles, str) and self.joint_angles not in ("auto", "skeleton"):
            raise SchemaError(
                "FeatureConfig.joint_angles must be 'auto', 'skeleton' or (a, b, c) triplets, "
                f"got {self.joint_angles!r}"
            )
        if not isinstance(self.joint_angles, str) and any(len(t) != 3 for t in self.joint_angles):
            raise SchemaError("FeatureConfig.joint_angles: each entry must be a triplet (a, b, c) of keypoint names")


def compute_features(ds: xr.Dataset, config: FeatureConfig | Mapping[str, Any] | None = None) -> xr.Dataset:
    """Compute per-frame behavioural features of every individual.

    Parameters
    ----------
    ds
        Pose Dataset, ``position (time, space, keypoint, individual)`` in px, 2-D.
    config
        A :class:`FeatureConfig` or a mapping of its fields; default :class:`FeatureConfig()`.

    Returns
    -------
    xarray.Dataset
        A shallow copy of ``ds`` with the variable ``features (time,
        individual, feature)`` (float64, NaN where a keypoint it needs is
        missing), a ``units`` coordinate on ``feature`` and, with ``scale:
        body_size``, ``body_size_px (individual)``; the ``log`` attr
        records the call and its config.
    """
    with unlogged():  # the kinematics below are building blocks: the features log once, at the end
        return _compute_features(ds, config)


class _Columns:
    """Feature columns as they are computed: ``(time, individual)`` values with a name and a unit."""

    def __init__(self) -> None:
        self.values: list[np.ndarray] = []
        self.names: list[str] = []
        self.units: list[str] = []

    def add(self, values: np.ndarray | xr.DataArray, name: str, unit: str) -> None:
        if isinstance(values, xr.DataArray):
            values = values.transpose("time", "individual").values
        self.values.append(np.asarray(values, dtype=np.float64))
        self.names.append(name)
        self.units.append(unit)


class _Body(NamedTuple):
    """What every feature family reads: positions, the axis, the frame rate and the length unit."""

    pos: xr.DataArray  # (time, space, keypoint, individual) of the 2-D poses
    xy: np.ndarray  # (time, 2, keypoint, individual)
    keypoints: list[str]
    axis_from: str
    axis_to: str
    fps: float | None
    divisor: np.ndarray  # (individual,): lengths are divided by this (body size, 1, or px per cm)
    length: str  # unit of lengths

    def point(self, keypoint: str) -> np.ndarray:
        """``(time, 2, individual)`` of a keypoint or of the centroid."""
        return (
            kinematics.keypoint_or_centroid(self.pos, keypoint).transpose("time", "space", "individual").values[:, :2]
        )

    @property
    def rate_unit(self) -> str:
        return "/s" if self.fps else "/frame"


def _body(ds: xr.Dataset, config: FeatureConfig) -> _Body:
    pos = kinematics.position_of(ds, "compute_features input")
    keypoints = [str(k) for k in ds["keypoint"].values]
    guessed_from, guessed_to = guess_body_axis(keypoints)
    axis_from = config.axis_from or guessed_from
    axis_to = config.axis_to or guessed_to
    fps = pos.attrs.get("fps")
    body = _Body(pos, pos.transpose(*POSITION_DIMS).values[:, :2], keypoints, axis_from, axis_to, fps, None, "px")
    n_ind = ds.sizes["individual"]
    if config.scale == "body_size" and len(keypoints) > 1:
        return body._replace(divisor=kinematics.body_size(body.xy), length="body sizes")
    if config.px_per_cm:
        return body._replace(divisor=np.full(n_ind, float(config.px_per_cm)), length="cm")
    return body._replace(divisor=np.ones(n_ind))


def _compute_features(ds: xr.Dataset, config: FeatureConfig | Mapping[str, Any] | None) -> xr.Dataset:
    if not isinstance(ds, xr.Dataset):
        raise SchemaError(f"compute_features needs a pose Dataset, got {type(ds).__name__}")
    check_dims(ds, POSITION_DIMS, name="compute_features input")
    if config is None:
        config = FeatureConfig()
    elif isinstance(config, Mapping):
        config = FeatureConfig.from_dict(config)
    raw = ds.copy(deep=False)
    raw.attrs = {k: v for k, v in ds.attrs.items() if k != "log"}  # the steps below are internal: log only once
    body = _body(raw, config)
    columns = _Columns()
    _motion_features(columns, body, config)
    _posture_features(columns, body, config, raw)
    _context_features(columns, body, config, raw)
    if not columns.names:
        raise SchemaError("the feature config selects no feature for this Dataset")
    values = np.stack(columns.values, axis=-1)  # (time, individual, feature)
    features = xr.DataArray(
        values,
        dims=_FEATURE_DIMS,
        coords={"time": ds["time"].values, "individual": ds["individual"].values, "feature": columns.names},
        name="features",
    ).assign_coords(units=("feature", columns.units))
    for coord in ("time", "individual"):
        features[coord].attrs = ds[coord].attrs
    out = ds.copy(deep=False)
    out["features"] = features
    if config.scale == "body_size":
        out["body_size_px"] = xr.DataArray(body.divisor, dims=("individual",), attrs={"units": "px"})
    log.debug("compute_features: %d features for %d individuals", len(columns.names), ds.sizes["individual"])
    return log_step(out, "compute_features", config=config.to_dict())


def _motion_features(columns: _Columns, body: _Body, config: FeatureConfig) -> None:
    """Speeds (over the lags), accelerations and the heading's angular velocity."""
    speed_unit = f"{body.length}{body.rate_unit}"
    chosen = [CENTROID, *body.keypoints] if config.speed_keypoints == "all" else list(config.speed_keypoints)
    first, *longer = [lag_frames(lag, body.fps) for lag in config.speed_lags_s]
    speeds = {}
    for kp in chosen:
        speeds[kp] = lagged_speed(body.point(kp), first, body.fps) / body.divisor
        columns.add(speeds[kp], f"speed_{kp}", speed_unit)
    if CENTROID in chosen:
        for lag_s, lag in zip(config.speed_lags_s[1:], longer, strict=True):
            columns.add(
                lagged_speed(body.point(CENTROID), lag, body.fps) / body.divisor,
                f"speed_{CENTROID}_{lag_s:g}s",
                speed_unit,
            )
    if config.accelerations:
        for kp in chosen:
            columns.add(lagged_rate(speeds[kp], first, body.fps), f"acceleration_{kp}", f"{speed_unit}{body.rate_unit}")
    if config.heading_velocity and len(body.keypoints) > 1:
        heading = (
            kinematics.compute_heading(body.pos, body.axis_from, body.axis_to).transpose("time", "individual").values
        )
        dt = 1.0 / float(body.fps) if body.fps else 1.0
        turn = np.full_like(heading, np.nan)
        if heading.shape[0] > 1:
            step = np.angle(np.exp(1j * np.diff(heading, axis=0)))  # wrapped to (-pi, pi]
            turn[1:-1] = (step[1:] + step[:-1]) / (2 * dt)
            turn[0], turn[-1] = step[0] / dt, step[-1] / dt
        columns.add(turn, "heading_velocity", "rad/s" if body.fps else "rad/frame")


def _posture_features(columns: _Columns, body: _Body, config: FeatureConfig, ds: xr.Dataset) -> None:
    """Egocentric positions, pair distances, joint angles and the body's area."""
    if config.egocentric and len(body.keypoints) > 1:
        ego = kinematics.egocentric_align(body.pos, config.origin_keypoint, body.axis_from, body.axis_to)
        ego = ego.transpose(*POSITION_DIMS).values
        for k, kp in enumerate(body.keypoints):
            if kp == config.origin_keypoint:
                continue
            for s, axis in enumerate(("x", "y")):
                columns.add(ego[:, s, k] / body.divisor, f"ego_{axis}_{kp}", body.length)
    pairs = itertools.combinations(body.keypoints, 2) if config.distances == "all" else config.distances
    for a, b in sorted(pairs, key=lambda p: sorted(p)):
        dist = np.linalg.norm(body.point(a) - body.point(b), axis=1) / body.divisor
        columns.add(dist, pair_name("distance", a, b), body.length)
    if isinstance(config.joint_angles, str):
        triplets = skeleton_joints(get_skeleton(ds), body.keypoints) if config.joint_angles == "skeleton" else []
        if len(body.keypoints) > 2:
            triplets.append((body.axis_to, CENTROID, body.axis_from))
    else:
        triplets = list(config.joint_angles)
    for a, b, c in triplets:
        a, c = sorted((a, c))
        columns.add(joint_angle(body.point(a), body.point(b), body.point(c)), f"angle_{a}_{b}_{c}", "rad")
    if config.body_area and len(body.keypoints) > 2:
        columns.add(body_area(body.xy) / body.divisor**2, "body_area", f"{body.length}^2")


def _context_features(columns: _Columns, body: _Body, config: FeatureConfig, ds: xr.Dataset) -> None:
    """Tracking confidence, distances to the arena's walls and the social features."""
    conf = ds["confidence"].transpose("time", "keypoint", "individual").values if "confidence" in ds else None
    if config.confidence and conf is not None and np.isfinite(conf).any():  # poses without confidence: no column
        for k, kp in enumerate(body.keypoints):
            columns.add(conf[:, k], f"confidence_{kp}", "1")
    arena = arena_zones(arena_landmarks(ds)).get("arena")
    if config.walls is True or (config.walls == "auto" and arena is not None):
        for kp in dict.fromkeys((body.axis_to, CENTROID)):
            if arena is None:
                wall = np.full((*body.xy.shape[::3][:1], body.xy.shape[3]), np.nan)
            else:
                wall = kinematics.distance_to_border(body.pos, arena, kp).transpose("time", "individual").values
            columns.add(wall / body.divisor, f"wall_distance_{kp}", body.length)
    if config.social_for(ds.sizes["individual"]):
        for name, values, unit in _social_features(body):
            columns.add(values, name, unit)


def _social_features(body: _Body) -> list[tuple[str, np.ndarray, str]]:
    """Features of each individual relative to its nearest other individual; ``(name, (time, individual), unit)``."""
    centroid = body.point(CENTROID)
    nose = body.point(body.axis_to)
    tail = body.point(body.axis_from)
    n_time, _, n_ind = centroid.shape
    # (time, individual a, individual b) centroid distances; an animal is not its own neighbour
    diff = centroid[:, :, None, :] - centroid[:, :, :, None]  # (time, space, a, b): b minus a
    dist = np.sqrt((diff**2).sum(axis=1))
    dist[:, np.arange(n_ind), np.arange(n_ind)] = np.inf
    dist = np.where(np.isnan(dist), np.inf, dist)
    nearest = np.argmin(dist, axis=2)  # (time, a)
    d_min = np.take_along_axis(dist, nearest[:, :, None], axis=2)[:, :, 0]
    none = ~np.isfinite(d_min)
    t = np.arange(n_time)[:, None]
    other_centroid = centroid.transpose(0, 2, 1)[t, nearest]  # (time, a, space)
    other_nose = nose.transpose(0, 2, 1)[t, nearest]
    own_centroid, own_nose, own_tail = (v.transpose(0, 2, 1) for v in (centroid, nose, tail))
    nose_to_other = np.linalg.norm(own_nose - other_centroid, axis=2)
    other_nose_to_me = np.linalg.norm(other_nose - own_centroid, axis=2)
    heading = own_nose - own_tail
    to_other = other_centroid - own_centroid
    norms = np.linalg.norm(heading, axis=2) * np.linalg.norm(to_other, axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        facing = (heading * to_other).sum(axis=2) / norms
    d = np.where(none, np.nan, d_min)
    rate = np.full_like(d, np.nan)
    if n_time > 1:  # central differences, one-sided at the ends (as heading_velocity)
        rate[1:-1] = (d[2:] - d[:-2]) / 2.0
        rate[0], rate[-1] = d[1] - d[0], d[-1] - d[-2]
    rate *= float(body.fps) if body.fps else 1.0
    length = body.length
    return [
        ("social_distance", d / body.divisor, length),
        ("social_nose_to_other", np.where(none, np.nan, nose_to_other) / body.divisor, length),
        ("social_other_nose_to_me", np.where(none, np.nan, other_nose_to_me) / body.divisor, length),
        ("social_distance_rate", rate / body.divisor, f"{length}{body.rate_unit}"),
        ("social_facing", np.where(none, np.nan, facing), "cos"),
    ]


class Samples(NamedTuple):
    """Rows for scikit-learn: unpacks as ``X, index = to_samples(da)``.

    Attributes
    ----------
    X
        ``(n_samples, n_features)`` float matrix.
    index
        :class:`pandas.MultiIndex` with levels ``([session,] time, individual)``
        in the input's coordinate order, one entry per row of ``X``.
    """

    X: np.ndarray
    index: pd.MultiIndex

    @property
    def valid(self) -> np.ndarray:
        """Boolean ``(n_samples,)``: True for rows without NaN."""
        return ~np.isnan(self.X).any(axis=1)


def to_samples(da: xr.DataArray | xr.Dataset, *, dropna: bool = False) -> Samples:
    """Stack ``([session,] time, individual)`` into the rows of a 2-D matrix.

    Parameters
    ----------
    da
        ``features ([session,] time, individual, feature)`` (or a Dataset
        holding ``features``).  Any other dims (e.g. ``frequency`` of a
        spectrogram) are flattened into the columns, after ``feature``.
    dropna
        Drop rows with any NaN (the index then lists only the kept rows).  By
        default nothing is dropped: rows with NaN stay and
        :attr:`Samples.valid` is the mask of complete rows.

    Returns
    -------
    Samples
        ``(X (n_samples, n_features), index)``; rows in C order of
        ``([session,] time, individual)``.
    """
    if isinstance(da, xr.Dataset):
        if "features" not in da:
            raise SchemaError(f"to_samples needs a 'features' variable; the Dataset has {list(da.data_vars)}")
        da = da["features"]
    check_dims(da, ("time", "individual", "feature"), name="to_samples input")
    rows = [d for d in _ROW_DIMS if d in da.dims]
    cols = [d for d in da.dims if d not in rows]
    cols = ["feature", *[d for d in cols if d != "feature"]]
    ordered = da.transpose(*rows, *cols)
    n_rows = int(np.prod([da.sizes[d] for d in rows]))
    dtype = ordered.dtype if ordered.dtype.kind == "f" else np.float64
    X = np.array(ordered.values, dtype=dtype, copy=True).reshape(n_rows, -1)  # a copy: X never aliases da
    levels = [pd.Index(da[d].values, name=d) for d in rows]
    codes = [c.ravel() for c in np.indices([da.sizes[d] for d in rows])]
    index = pd.MultiIndex(levels=levels, codes=codes, names=rows, verify_integrity=False)
    samples = Samples(X, index)
    n_bad = int((~samples.valid).sum())
    if n_bad:
        log.info("to_samples: %d of %d rows have NaN%s", n_bad, n_rows, " (dropped)" if dropna else "")
    if dropna and n_bad:
        keep = samples.valid
        samples = Samples(X[keep], index[keep])
    return samples


def from_samples(
    y: np.ndarray | Sequence[Any], index: pd.MultiIndex, name: str = "prediction", *, fill_value: Any = None
) -> xr.DataArray:
    """Put one value (or vector) per row back on ``([session,] time, individual)``.

    Parameters
    ----------
    y
        ``(n_samples,)`` or ``(n_samples, n_components)`` predictions, one per
        entry of ``index`` (labels, probabilities, embeddings...).
    index
        The index from :func:`to_samples` (or a subset of its rows, e.g. the
        valid ones); its levels give the output coordinates.
    name
        Name of the result.
    fill_value
        Value for rows missing from ``index``; default NaN (integer ``y`` is
        then cast to float), ``None`` for object ``y``.

    Returns
    -------
    xarray.DataArray
        ``name ([session,] time, individual[, component])``.
    """
    if not isinstance(index, pd.MultiIndex):
        raise SchemaError(f"index must be the pandas.MultiIndex from to_samples, got {type(index).__name__}")
    y = np.asarray(y)
    if y.ndim not in (1, 2) or y.shape[0] != len(index):
        raise SchemaError(f"y must have one row per index entry ({len(index)}), got shape {y.shape}")
    shape = [len(level) for level in index.levels]
    n_full = int(np.prod(shape))
    codes = tuple(np.asarray(c) for c in index.codes)
    extra = y.shape[1:]
    if len(index) == n_full and len(np.unique(np.ravel_multi_index(codes, shape))) == n_full:
        out = np.empty((*shape, *extra), dtype=y.dtype)
    else:
        if fill_value is None:
            fill_value = None if y.dtype.kind in "OUS" else np.nan
        dtype = np.result_type(y.dtype, np.min_scalar_type(fill_value)) if y.dtype.kind not in "OUS" else object
        out = np.full((*shape, *extra), fill_value, dtype=dtype)
    out[codes] = y
    dims = [*index.names, *(["component"] if extra else [])]
    coords = {str(level.name): level.values for level in index.levels}
    result = xr.DataArray(out, dims=dims, coords=coords, name=name)
    return log_step(result, "from_samples", name=name, n_samples=len(index))


# --------------------------------------------------------------------------- many sessions at once
SessionData = xr.DataArray | xr.Dataset | Sequence[xr.DataArray | xr.Dataset] | Mapping[str, xr.DataArray | xr.Dataset]


class SessionSamples(NamedTuple):
    """Rows of many sessions for the sequence models: unpacks as ``X, index, valid = session_samples(...)``.

    Rows are ordered session, then individual, then time, so the frames of one
    animal in one session are consecutive (a hidden Markov model needs them so).

    Attributes
    ----------
    X
        ``(n_rows, n_columns)`` float matrix; a row with any NaN is invalid.
    index
        :class:`pandas.MultiIndex` with levels ``(session, individual, time)``,
        one entry per row of ``X``.
    valid
        Boolean ``(n_rows,)``: True for rows without NaN.
    """

    X: np.ndarray
    index: pd.MultiIndex
    valid: np.ndarray

    @property
    def groups(self) -> np.ndarray:
        """``(n_rows,)`` integer code of each row's (session, individual) pair, in row order."""
        session, individual = self.index.codes[0], self.index.codes[1]
        return np.asarray(session, dtype=np.int64) * len(self.index.levels[1]) + np.asarray(individual)

    def lengths(self) -> np.ndarray:
        """Lengths of the runs of consecutive valid rows of one (session, individual), in row order.

        ``X[valid]`` split by these lengths gives the uninterrupted sequences
        (hmmlearn's ``lengths``); a NaN row or a new animal starts a new run.
        """
        if not self.valid.any():
            return np.zeros(0, dtype=np.int64)
        groups = self.groups
        rows = np.flatnonzero(self.valid)
        breaks = (np.diff(rows) != 1) | (np.diff(groups[rows]) != 0)
        starts = np.concatenate([[0], np.flatnonzero(breaks) + 1, [len(rows)]])
        return np.diff(starts).astype(np.int64)

    def unstack(self, values: np.ndarray, name: str, *, fill_value: Any = np.nan) -> dict[str, xr.DataArray]:
        """Put per-valid-row ``values`` back on ``(time, individual[, component])``, one DataArray per session.

        Parameters
        ----------
        values
            ``(n_valid,)`` or ``(n_valid, n_components)``: one value per valid
            row, in row order.
        name
            Name of each result.
        fill_value
            Value of the invalid rows (NaN; use e.g. -1 for integer labels).

        Returns
        -------
        dict of str to xarray.DataArray
            ``name (time, individual[, component])`` per session name.
        """
        values = np.asarray(values)
        n_valid = int(self.valid.sum())
        if values.ndim not in (1, 2) or values.shape[0] != n_valid:
            raise SchemaError(f"values must have one row per valid sample ({n_valid}), got shape {values.shape}")
        dtype = np.result_type(values.dtype, np.min_scalar_type(fill_value))
        full = np.full((len(self.valid), *values.shape[1:]), fill_value, dtype=dtype)
        full[self.valid] = values
        out: dict[str, xr.DataArray] = {}
        session_codes = np.asarray(self.index.codes[0])
        for code, session in enumerate(self.index.levels[0]):
            rows = np.flatnonzero(session_codes == code)
            if len(rows) == 0:
                continue
            sub = self.index[rows]
            individuals = np.asarray(pd.unique(sub.get_level_values(1)).astype(str))
            times = pd.unique(sub.get_level_values(2))
            block = full[rows].reshape(len(individuals), len(times), *values.shape[1:])
            dims = ["individual", "time", *(["component"] if values.ndim == 2 else [])]
            da = xr.DataArray(block, dims=dims, coords={"individual": individuals, "time": times}, name=name)
            out[str(session)] = da.transpose("time", "individual", ...)
        return out


def session_items(data: SessionData) -> list[tuple[str, xr.DataArray | xr.Dataset]]:
    """``(name, session)`` pairs of one session, a list (named by ``session`` attrs) or a mapping of sessions."""
    if isinstance(data, xr.DataArray | xr.Dataset):
        return [(str(data.attrs.get("session", "session")), data)]
    if isinstance(data, Mapping):
        return [(str(k), v) for k, v in data.items()]
    items = list(data)
    names = [str(d.attrs.get("session", f"session_{i}")) for i, d in enumerate(items)]
    if len(set(names)) != len(names):  # attrs missing or repeated: number them
        names = [f"session_{i}" for i in range(len(items))]
    return list(zip(names, items, strict=True))


def _session_array(name: str, obj: xr.DataArray | xr.Dataset, variable: str) -> xr.DataArray:
    """Return the session's variable as ``(individual, time, feature, ...)`` (a view: nothing is copied yet)."""
    if isinstance(obj, xr.Dataset):
        if variable not in obj:
            raise SchemaError(
                f"session {name!r} has no {variable!r} variable (it has {sorted(map(str, obj.data_vars))}); "
                "compute it first (behaviorlab features)"
            )
        obj = obj[variable]
    if not isinstance(obj, xr.DataArray):
        raise SchemaError(f"session {name!r}: expected an xarray Dataset or DataArray, got {type(obj).__name__}")
    check_dims(obj, _FEATURE_DIMS, name=f"session {name!r}")
    rest = [d for d in obj.dims if d not in ("individual", "time", "feature")]
    return obj.transpose("individual", "time", "feature", *rest)


def _columns_differ(name: str, columns: dict[str, Any], reference: tuple[str, int, dict[str, Any]]) -> str:
    """Return the error for sessions whose feature columns differ, naming the difference (social features first)."""
    first, _, first_columns = reference
    mine = {str(f) for f in columns.get("feature", ())}
    theirs = {str(f) for f in first_columns.get("feature", ())}
    social = {f for f in mine ^ theirs if f.startswith("social_")}
    if social and social == mine ^ theirs:
        with_social, without = (name, first) if social <= mine else (first, name)
        return (
            f"session {with_social!r} has social features (two or more animals) and session {without!r} has not "
            "(one animal, or computed with features.social: false): every session needs the same columns; compute "
            "all of them with features.social: false, or true (NaN for a lone animal), in the config"
        )
    extra = sorted(mine - theirs)[:5] + [f"-{f}" for f in sorted(theirs - mine)[:5]]
    return (
        f"session {name!r} has different columns from session {first!r} ({extra or 'other frequencies'}): "
        "compute both with the same feature config"
    )


def session_samples(data: SessionData, variable: str = "features") -> SessionSamples:
    """Stack the frames of many sessions and individuals into rows, one animal's frames consecutive.

    Parameters
    ----------
    data
        One session or many: a Dataset (``variable`` is taken from it), a
        DataArray ``(time, individual, feature[, frequency])``, a list of them
        (named by their ``session`` attr, else ``session_0``, ``session_1``...)
        or a mapping of session name to either.  Sessions may differ in length
        and individuals; they must share the columns (same features and
        frequencies, in the same order).
    variable
        Variable taken from Datasets: ``"features"`` or ``"spectrogram"``.

    Returns
    -------
    SessionSamples
        ``(X, index, valid)`` with rows ordered session, individual, time.
    """
    items = session_items(data)
    if not items:
        raise SchemaError("session_samples needs at least one session")
    arrays, ordered_all, reference = [], [], None
    for name, obj in items:
        ordered = _session_array(name, obj, variable)
        n_cols = int(np.prod([ordered.sizes[d] for d in ordered.dims[2:]]))
        columns = {
            d: ordered[d].values for d in ordered.dims if d not in ("individual", "time") and d in ordered.coords
        }
        if reference is None:
            reference = (name, n_cols, columns)
        elif n_cols != reference[1] or any(not np.array_equal(columns.get(d, ()), c) for d, c in reference[2].items()):
            raise SchemaError(_columns_differ(name, columns, reference))
        ordered_all.append(ordered)
        n_ind, n_time = ordered.sizes["individual"], ordered.sizes["time"]
        arrays.append(
            (
                np.full(n_ind * n_time, name, dtype=object),
                np.repeat(ordered["individual"].values.astype(str), n_time),
                np.tile(ordered["time"].values, n_ind),
            )
        )
    # one allocation, filled session by session (float32 spectrograms stay float32; no concatenated copies)
    dtype = np.result_type(*[o.dtype if o.dtype.kind == "f" else np.float64 for o in ordered_all])
    X = np.empty((sum(len(a[0]) for a in arrays), reference[1]), dtype=dtype)
    start = 0
    for ordered in ordered_all:
        stop = start + ordered.sizes["individual"] * ordered.sizes["time"]
        X[start:stop].reshape(ordered.shape)[...] = ordered.values
        start = stop
    session = np.concatenate([a[0] for a in arrays])
    individual = np.concatenate([a[1] for a in arrays])
    time_ = np.concatenate([a[2] for a in arrays])
    index = pd.MultiIndex.from_arrays(
        [
            pd.Categorical(session, categories=[n for n, _ in items]),
            pd.Categorical(individual, categories=list(dict.fromkeys(individual))),
            time_,
        ],
        names=["session", "individual", "time"],
    )
    return SessionSamples(X, index, np.isfinite(X).all(axis=1))
