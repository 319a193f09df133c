"""Per-frame behavioural features of a pose Dataset.

:func:`compute_features` turns a pose Dataset into a ``features (time,
individual, feature)`` variable (at once or in blocks of frames);
:mod:`behaviorlab.features.samples` stacks features into the rows scikit-learn reads.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping
from typing import Any, ClassVar, NamedTuple

import attrs
import numpy as np
import xarray as xr

from behaviorlab._blocks import blocks
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
    "FEATURE_DIMS",
    "FeatureConfig",
    "compute_features",
    "feature_context_frames",
]

log = logging.getLogger(__name__)

FEATURE_DIMS = ("time", "individual", "feature")


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


def compute_features(
    ds: xr.Dataset, config: FeatureConfig | Mapping[str, Any] | None = None, *, chunk_frames: int | None = None
) -> xr.Dataset:
    """Compute per-frame behavioural features of every individual.

    Parameters
    ----------
    ds
        Pose Dataset, ``position (time, space, keypoint, individual)`` in px, 2-D.
    config
        A :class:`FeatureConfig` or a mapping of its fields; default :class:`FeatureConfig()`.
    chunk_frames
        Compute the features of this many frames at a time, each block with
        :func:`feature_context_frames` of the recording on both sides and the
        session-wide quantities (the body size) taken from the whole
        recording, so the working memory does not grow with the recording
        and the result is the same as at once.  ``None``: all frames at once.

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
        return _compute_features(ds, config, chunk_frames)


def feature_context_frames(config: FeatureConfig, fps: float | None) -> int:
    """Frames on each side a frame's features read: the longest speed lag twice (speed, then acceleration), plus 2."""
    return 2 * max(lag_frames(lag, fps) for lag in config.speed_lags_s) + 2


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


def _body(ds: xr.Dataset, config: FeatureConfig, divisor: np.ndarray | None = None) -> _Body:
    """Positions, axis and length unit of ``ds``; ``divisor``: the body sizes of the whole recording, if known."""
    pos = kinematics.position_of(ds, "compute_features input")
    keypoints = [str(k) for k in ds["keypoint"].values]
    guessed_from, guessed_to = guess_body_axis(keypoints)
    axis_from = config.axis_from or guessed_from
    axis_to = config.axis_to or guessed_to
    fps = pos.attrs.get("fps")
    body = _Body(pos, pos.transpose(*POSITION_DIMS).values[:, :2], keypoints, axis_from, axis_to, fps, None, "px")
    n_ind = ds.sizes["individual"]
    if config.scale == "body_size" and len(keypoints) > 1:
        return body._replace(divisor=kinematics.body_size(body.xy) if divisor is None else divisor, length="body sizes")
    if config.px_per_cm:
        return body._replace(divisor=np.full(n_ind, float(config.px_per_cm)), length="cm")
    return body._replace(divisor=np.ones(n_ind))


def _feature_columns(ds: xr.Dataset, config: FeatureConfig, divisor: np.ndarray | None) -> tuple[_Columns, _Body]:
    raw = ds.copy(deep=False)
    raw.attrs = {k: v for k, v in ds.attrs.items() if k != "log"}  # the steps below are internal: log only once
    body = _body(raw, config, divisor)
    columns = _Columns()
    _motion_features(columns, body, config)
    _posture_features(columns, body, config, raw)
    _context_features(columns, body, config, raw)
    if not columns.names:
        raise SchemaError("the feature config selects no feature for this Dataset")
    return columns, body


def _feature_values(
    ds: xr.Dataset, config: FeatureConfig, chunk_frames: int | None
) -> tuple[np.ndarray, _Columns, _Body]:
    """``(time, individual, feature)`` values, at once or in blocks of ``chunk_frames`` with their context."""
    n_time = ds.sizes["time"]
    if chunk_frames is not None and not int(chunk_frames) >= 1:
        raise SchemaError(f"chunk_frames must be a positive number of frames or None, got {chunk_frames!r}")
    if chunk_frames is None or n_time <= chunk_frames:
        columns, body = _feature_columns(ds, config, None)
        return np.stack(columns.values, axis=-1), columns, body
    whole = _body(ds, config)  # session-wide quantities (the body size) from every frame
    values = None
    for block in blocks(n_time, int(chunk_frames), feature_context_frames(config, whole.fps)):
        columns, _ = _feature_columns(ds.isel(time=slice(block.lo, block.hi)), config, whole.divisor)
        if values is None:
            values = np.empty((n_time, ds.sizes["individual"], len(columns.names)), dtype=np.float64)
        for j, column in enumerate(columns.values):
            values[block.start : block.stop, :, j] = column[block.keep]
    return values, columns, whole


def _compute_features(
    ds: xr.Dataset, config: FeatureConfig | Mapping[str, Any] | None, chunk_frames: int | None = None
) -> xr.Dataset:
    if not isinstance(ds, xr.Dataset):
        raise SchemaError(f"compute_features needs a pose Dataset, got {type(ds).__name__}")
    check_dims(ds, POSITION_DIMS, name="compute_features input")
    if config is None:
        config = FeatureConfig()
    elif isinstance(config, Mapping):
        config = FeatureConfig.from_dict(config)
    values, columns, body = _feature_values(ds, config, chunk_frames)
    features = xr.DataArray(
        values,
        dims=FEATURE_DIMS,
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
