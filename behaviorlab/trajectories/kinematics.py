"""Kinematics of pose trajectories: derivatives, angles, distances, zones and egocentric frames.

Functions take a pose Dataset (its ``position`` is used) or a ``position``
DataArray ``(time, space, keypoint, individual)`` and return a named
DataArray (or, for :func:`egocentric_align`, an object of the input's kind)
carrying the input's attrs, a ``units`` attr and one more ``log`` entry.

Conventions
-----------
- Positions are in pixels, in image coordinates: ``x`` to the right, ``y``
  *down*.  Angles are ``arctan2(dy, dx)`` in radians in ``(-pi, pi]``; with y
  down a positive angle turns *clockwise* on screen (``pi/2`` points down the
  image).
- Time derivatives are central differences (one-sided at the ends) per second
  when the data have an ``fps`` attr, per frame otherwise; ``px_per_cm``
  converts pixels to centimetres.
- NaN propagates: a derivative is NaN at a missing frame and at its
  neighbours, an angle or distance where one of its keypoints is missing.
- Wherever a keypoint name is expected, ``"centroid"`` (when no keypoint has
  that name) means the mean of the valid keypoints of each individual.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import xarray as xr

from behaviorlab.errors import SchemaError
from behaviorlab.schema import POSITION_DIMS, check_dims, logged

__all__ = [
    "body_size",
    "compute_acceleration",
    "compute_heading",
    "compute_interindividual_distance",
    "compute_joint_angle",
    "compute_keypoint_distance",
    "compute_speed",
    "compute_velocity",
    "distance_to_border",
    "distance_to_zone",
    "egocentric_align",
    "in_zone",
    "time_in_zone",
]

log = logging.getLogger(__name__)

Data = xr.Dataset | xr.DataArray
CENTROID = "centroid"


# --------------------------------------------------------------------------- helpers
def body_size(xy: np.ndarray, percentile: float = 90.0) -> np.ndarray:
    """Each animal's size: the 90th percentile over frames of the median distance between two of its keypoints.

    The median pair in each frame, not the farthest pair or the nose-to-tail
    length, so that a wagging tail or a mistracked point hardly moves it;
    the 90th percentile over frames, the animal stretched out, so that the
    session's mix of behaviors (curled at rest, stretched when walking) does
    not: on six generated sessions of one animal it varied by 1 % (23.99 to
    24.27 px) where the median over frames varied by 6 % and the
    nose-to-tail-tip length by 10 %.

    Parameters
    ----------
    xy
        ``(time, 2, keypoint, individual)`` positions (NaN where missing).
    percentile
        Of the per-frame sizes over frames (50: the typical posture).

    Returns
    -------
    numpy.ndarray
        ``(individual,)`` float64 in the positions' unit; NaN for an animal
        with fewer than two keypoints seen together (or all on one point).
    """
    xy = np.asarray(xy, dtype=np.float64)
    n_keypoints = xy.shape[2]
    out = np.full(xy.shape[3], np.nan)
    if n_keypoints < 2:
        return out
    i, j = np.triu_indices(n_keypoints, k=1)
    dist = np.linalg.norm(xy[:, :, i] - xy[:, :, j], axis=1)  # (time, pair, individual)
    for ind in range(xy.shape[3]):
        seen = np.isfinite(dist[:, :, ind])
        frames = seen.any(axis=1)
        if frames.any():
            per_frame = np.nanmedian(dist[frames, :, ind], axis=1)
            out[ind] = float(np.percentile(per_frame, percentile))
    out[~(out > 0)] = np.nan
    return out


def position_of(data: Data, name: str) -> xr.DataArray:
    """Return the ``position`` DataArray of ``data`` with the input's attrs, dims checked."""
    if isinstance(data, xr.Dataset):
        check_dims(data, POSITION_DIMS, name=name)
        if "position" not in data.data_vars:
            raise SchemaError(f"{name} has no 'position' variable (it has {list(data.data_vars)})")
        pos = data["position"].copy(deep=False)
        pos.attrs = {**data["position"].attrs, **data.attrs}
        return pos
    check_dims(data, POSITION_DIMS, name=name)
    return data


def _result(values: np.ndarray | xr.DataArray, template: xr.DataArray, name: str, units: str, **coords) -> xr.DataArray:
    """Name ``values``, copy the template's attrs (fps, log, ...) and set ``units``."""
    da = values if isinstance(values, xr.DataArray) else xr.DataArray(values)
    da = da.rename(name)
    da.attrs = {k: v for k, v in template.attrs.items() if k != "units"}
    da.attrs["units"] = units
    return da.assign_coords(**coords) if coords else da


def _length_unit(px_per_cm: float | None) -> tuple[float, str]:
    if px_per_cm is None:
        return 1.0, "px"
    if not px_per_cm > 0:
        raise SchemaError(f"px_per_cm must be > 0, got {px_per_cm!r}")
    return 1.0 / float(px_per_cm), "cm"


def _time_step(pos: xr.DataArray) -> tuple[float, str]:
    fps = pos.attrs.get("fps")
    return (1.0 / float(fps), "s") if fps else (1.0, "frame")


def keypoint_or_centroid(pos: xr.DataArray, keypoint: str) -> xr.DataArray:
    """Return one keypoint ``(time, space, individual)``, or the centroid for ``"centroid"``."""
    names = [str(k) for k in pos["keypoint"].values]
    if keypoint in names:
        return pos.sel(keypoint=keypoint, drop=True)
    if keypoint == CENTROID:
        # NaN-aware mean in plain numpy: xarray's skipna reductions dispatch to numbagg when it is
        # installed (movement pulls it in), whose numba import and JIT cost seconds in every new process
        axis = pos.get_axis_num("keypoint")
        values = pos.values
        valid = ~np.isnan(values)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(valid, values, 0.0).sum(axis=axis) / valid.sum(axis=axis)  # 0 / 0: NaN
        return pos.isel(keypoint=0, drop=True).copy(data=mean)  # keeps attrs (fps), as xarray's mean does
    raise SchemaError(f"keypoint {keypoint!r} is not in the data; known keypoints: {names} (or 'centroid')")


def _select(pos: xr.DataArray, keypoint: str | Sequence[str] | None) -> xr.DataArray:
    """``pos`` restricted to ``keypoint`` (a name keeps no keypoint dim, a list or None keeps it)."""
    if keypoint is None:
        return pos
    if isinstance(keypoint, str):
        return keypoint_or_centroid(pos, keypoint)
    return xr.concat([keypoint_or_centroid(pos, k) for k in keypoint], dim="keypoint").assign_coords(
        keypoint=list(keypoint)
    )


def _xy(point: xr.DataArray) -> tuple[xr.DataArray, xr.DataArray]:
    if point.sizes["space"] != 2:
        raise SchemaError(
            f"this function needs 2-D positions (space ['x', 'y']), got space {list(point['space'].values)}"
        )
    return point.sel(space="x", drop=True), point.sel(space="y", drop=True)


def _central_diff(da: xr.DataArray, dt: float) -> xr.DataArray:
    axis = da.get_axis_num("time")
    if da.sizes["time"] < 2:
        return da.copy(data=np.full(da.shape, np.nan))
    values = np.gradient(da.values, dt, axis=axis)
    values[np.isnan(da.values)] = np.nan  # no derivative at a missing frame (the central difference skips it)
    return da.copy(data=values)


def _polygon(polygon: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    poly = np.asarray(polygon, dtype=np.float64)
    if poly.ndim != 2 or poly.shape[1] != 2 or poly.shape[0] < 3 or not np.isfinite(poly).all():
        raise SchemaError(f"polygon must be a finite (n_vertices >= 3, 2) array of (x, y) pixels, got {poly.shape}")
    return poly


def _inside(x: np.ndarray, y: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Even-odd point-in-polygon test, vectorised over points (loop over the few edges)."""
    inside = np.zeros(np.shape(x), dtype=bool)
    x0, y0 = poly[:, 0], poly[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    with np.errstate(invalid="ignore", divide="ignore"):
        for ax, ay, bx, by in zip(x0, y0, x1, y1, strict=True):
            crosses = (ay > y) != (by > y)
            x_cross = ax + (y - ay) * (bx - ax) / (by - ay)
            inside ^= crosses & (x < x_cross)
    return inside


def _border_distance(x: np.ndarray, y: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Unsigned distance from points to the polygon's edges (NaN for NaN points)."""
    best = np.full(np.shape(x), np.inf)
    x1, y1 = np.roll(poly[:, 0], -1), np.roll(poly[:, 1], -1)
    for ax, ay, bx, by in zip(poly[:, 0], poly[:, 1], x1, y1, strict=True):
        ex, ey = bx - ax, by - ay
        length2 = ex * ex + ey * ey
        u = np.clip(((x - ax) * ex + (y - ay) * ey) / length2, 0.0, 1.0) if length2 > 0 else 0.0
        best = np.fmin(best, np.hypot(x - (ax + u * ex), y - (ay + u * ey)))
    return np.where(np.isnan(x) | np.isnan(y), np.nan, best)


# --------------------------------------------------------------------------- derivatives
@logged()
def compute_velocity(data: Data, *, px_per_cm: float | None = None) -> xr.DataArray:
    """Velocity of every keypoint by central differences over time.

    Parameters
    ----------
    data
        Pose Dataset or ``position`` ``(time, space, keypoint, individual)`` in px.
    px_per_cm
        Spatial calibration; when given the result is in cm/s.

    Returns
    -------
    xarray.DataArray
        ``velocity (time, space, keypoint, individual)`` in px/s (cm/s;
        per frame without ``fps``), ``units`` attr set.
    """
    pos = position_of(data, "compute_velocity input")
    scale, length = _length_unit(px_per_cm)
    dt, tunit = _time_step(pos)
    return _result(_central_diff(pos * scale, dt), pos, "velocity", f"{length}/{tunit}")


@logged()
def compute_speed(data: Data, *, px_per_cm: float | None = None) -> xr.DataArray:
    """Speed (norm of the velocity) of every keypoint.

    Parameters
    ----------
    data
        Pose Dataset or ``position`` ``(time, space, keypoint, individual)`` in px.
    px_per_cm
        Spatial calibration; when given the result is in cm/s.

    Returns
    -------
    xarray.DataArray
        ``speed (time, keypoint, individual)`` in px/s (or cm/s).
    """
    pos = position_of(data, "compute_speed input")
    scale, length = _length_unit(px_per_cm)
    dt, tunit = _time_step(pos)
    vel = _central_diff(pos * scale, dt)
    speed = np.sqrt((vel**2).sum("space", skipna=False))
    return _result(speed, pos, "speed", f"{length}/{tunit}")


@logged()
def compute_acceleration(data: Data, *, px_per_cm: float | None = None) -> xr.DataArray:
    """Acceleration of every keypoint: central difference of the velocity.

    Parameters
    ----------
    data
        Pose Dataset or ``position`` ``(time, space, keypoint, individual)`` in px.
    px_per_cm
        Spatial calibration; when given the result is in cm/s^2.

    Returns
    -------
    xarray.DataArray
        ``acceleration (time, space, keypoint, individual)`` in px/s^2 (or cm/s^2).
    """
    pos = position_of(data, "compute_acceleration input")
    scale, length = _length_unit(px_per_cm)
    dt, tunit = _time_step(pos)
    acc = _central_diff(_central_diff(pos * scale, dt), dt)
    return _result(acc, pos, "acceleration", f"{length}/{tunit}^2")


# --------------------------------------------------------------------------- angles and distances
@logged()
def compute_heading(data: Data, from_keypoint: str, to_keypoint: str) -> xr.DataArray:
    """Direction of the body axis ``from_keypoint -> to_keypoint``.

    Parameters
    ----------
    data
        Pose Dataset or ``position`` ``(time, space, keypoint, individual)``, 2-D.
    from_keypoint, to_keypoint
        Keypoint names (or ``"centroid"``), e.g. ``"tail_base"`` and ``"neck"``.

    Returns
    -------
    xarray.DataArray
        ``heading (time, individual)`` in radians, ``arctan2(dy, dx)`` in
        ``(-pi, pi]``: 0 along +x (right), ``pi/2`` along +y, which is *down*
        the image (image coordinates), so angles grow clockwise on screen.
    """
    pos = position_of(data, "compute_heading input")
    fx, fy = _xy(keypoint_or_centroid(pos, from_keypoint))
    tx, ty = _xy(keypoint_or_centroid(pos, to_keypoint))
    return _result(np.arctan2(ty - fy, tx - fx), pos, "heading", "rad")


@logged()
def compute_joint_angle(data: Data, a: str, b: str, c: str) -> xr.DataArray:
    """Angle at keypoint ``b`` between the segments ``b -> a`` and ``b -> c``.

    Parameters
    ----------
    data
        Pose Dataset or ``position`` ``(time, space, keypoint, individual)``, 2-D or 3-D.
    a, b, c
        Keypoint names; ``b`` is the vertex.

    Returns
    -------
    xarray.DataArray
        ``joint_angle (time, individual)`` in radians in ``[0, pi]`` (unsigned).
    """
    pos = position_of(data, "compute_joint_angle input")
    u = keypoint_or_centroid(pos, a) - keypoint_or_centroid(pos, b)
    v = keypoint_or_centroid(pos, c) - keypoint_or_centroid(pos, b)
    dims = [d for d in u.dims if d != "space"]
    dot = (u * v).sum("space", skipna=False).transpose(*dims)
    uv, vv = u.transpose(*dims, "space").values, v.transpose(*dims, "space").values
    if uv.shape[-1] == 2:
        cross_norm = np.abs(uv[..., 0] * vv[..., 1] - uv[..., 1] * vv[..., 0])
    else:
        cross_norm = np.linalg.norm(np.cross(uv, vv), axis=-1)
    angle = dot.copy(data=np.arctan2(cross_norm, dot.values))
    return _result(angle, pos, "joint_angle", "rad")


@logged()
def compute_keypoint_distance(data: Data, a: str, b: str, *, px_per_cm: float | None = None) -> xr.DataArray:
    """Euclidean distance between two keypoints of the same individual.

    Parameters
    ----------
    data
        Pose Dataset or ``position`` ``(time, space, keypoint, individual)`` in px.
    a, b
        Keypoint names (or ``"centroid"``).
    px_per_cm
        Spatial calibration; when given the result is in cm.

    Returns
    -------
    xarray.DataArray
        ``keypoint_distance (time, individual)`` in px (or cm).
    """
    pos = position_of(data, "compute_keypoint_distance input")
    scale, length = _length_unit(px_per_cm)
    dist = (
        np.sqrt(((keypoint_or_centroid(pos, a) - keypoint_or_centroid(pos, b)) ** 2).sum("space", skipna=False)) * scale
    )
    return _result(dist, pos, "keypoint_distance", length)


@logged()
def compute_interindividual_distance(
    data: Data, keypoint_a: str = CENTROID, keypoint_b: str | None = None, *, px_per_cm: float | None = None
) -> xr.DataArray:
    """Distance from ``keypoint_a`` of each individual to ``keypoint_b`` of each other.

    Parameters
    ----------
    data
        Pose Dataset or ``position`` ``(time, space, keypoint, individual)`` in px.
    keypoint_a
        Keypoint of ``individual_a`` (default the centroid).
    keypoint_b
        Keypoint of ``individual_b``; defaults to ``keypoint_a``.
    px_per_cm
        Spatial calibration; when given the result is in cm.

    Returns
    -------
    xarray.DataArray
        ``interindividual_distance (time, individual_a, individual_b)`` in px
        (or cm), for every ordered pair (the diagonal compares an individual
        with itself).
    """
    pos = position_of(data, "compute_interindividual_distance input")
    scale, length = _length_unit(px_per_cm)
    pa = keypoint_or_centroid(pos, keypoint_a).rename(individual="individual_a")
    pb = keypoint_or_centroid(pos, keypoint_b or keypoint_a).rename(individual="individual_b")
    dist = np.sqrt(((pa - pb) ** 2).sum("space", skipna=False)) * scale
    return _result(dist.transpose("time", "individual_a", "individual_b"), pos, "interindividual_distance", length)


# --------------------------------------------------------------------------- zones
@logged()
def in_zone(
    data: Data, polygon: np.ndarray | Sequence[Sequence[float]], keypoint: str | Sequence[str] | None = CENTROID
) -> xr.DataArray:
    """Whether a keypoint lies inside a polygonal zone.

    Parameters
    ----------
    data
        Pose Dataset or ``position`` ``(time, space, keypoint, individual)``, 2-D, px.
    polygon
        Zone vertices ``(n_vertices, 2)`` as ``(x, y)`` pixels, in order (closed implicitly).
    keypoint
        A keypoint name (result without a keypoint dim), a list of names, or
        ``None`` for every keypoint; default the centroid.

    Returns
    -------
    xarray.DataArray
        Boolean ``in_zone (time, [keypoint,] individual)``; False where the
        position is missing (missing frames count as neither inside nor
        outside in :func:`time_in_zone`).
    """
    pos = _select(position_of(data, "in_zone input"), keypoint)
    x, y = _xy(pos)
    inside = _inside(x.values, y.values, _polygon(polygon))
    return _result(x.copy(data=inside), pos, "in_zone", "bool")


@logged()
def time_in_zone(
    data: Data, polygon: np.ndarray | Sequence[Sequence[float]], keypoint: str | Sequence[str] | None = CENTROID
) -> xr.DataArray:
    """Time spent inside a polygonal zone.

    Parameters
    ----------
    data
        Pose Dataset or ``position`` ``(time, space, keypoint, individual)``, 2-D, px.
    polygon
        Zone vertices ``(n_vertices, 2)`` in pixels.
    keypoint
        As in :func:`in_zone`.

    Returns
    -------
    xarray.DataArray
        ``time_in_zone ([keypoint,] individual)``: the number of frames inside
        divided by ``fps`` (seconds; frames without ``fps``).
    """
    inside = in_zone(data, polygon, keypoint)
    dt, tunit = _time_step(inside)
    total = inside.sum("time") * dt
    return _result(total, inside, "time_in_zone", "s" if tunit == "s" else "frames")


@logged()
def distance_to_border(
    data: Data,
    polygon: np.ndarray | Sequence[Sequence[float]],
    keypoint: str | Sequence[str] | None = CENTROID,
    *,
    px_per_cm: float | None = None,
) -> xr.DataArray:
    """Signed distance from a keypoint to the border of a polygon (an arena).

    Parameters
    ----------
    data
        Pose Dataset or ``position`` ``(time, space, keypoint, individual)``, 2-D, px.
    polygon
        Vertices ``(n_vertices, 2)`` in pixels.
    keypoint
        As in :func:`in_zone`.
    px_per_cm
        Spatial calibration; when given the result is in cm.

    Returns
    -------
    xarray.DataArray
        ``distance_to_border (time, [keypoint,] individual)`` in px (or cm):
        positive inside the polygon, negative outside, NaN where missing.
    """
    pos = _select(position_of(data, "distance_to_border input"), keypoint)
    scale, length = _length_unit(px_per_cm)
    poly = _polygon(polygon)
    x, y = _xy(pos)
    dist = _border_distance(x.values, y.values, poly)
    signed = np.where(_inside(x.values, y.values, poly), dist, -dist) * scale
    return _result(x.copy(data=signed), pos, "distance_to_border", length)


@logged()
def distance_to_zone(
    data: Data,
    polygon: np.ndarray | Sequence[Sequence[float]],
    keypoint: str | Sequence[str] | None = CENTROID,
    *,
    px_per_cm: float | None = None,
) -> xr.DataArray:
    """Distance from a keypoint to a polygonal zone (0 inside it).

    Parameters
    ----------
    data, polygon, keypoint, px_per_cm
        As in :func:`distance_to_border` (``polygon``: the zone's vertices).

    Returns
    -------
    xarray.DataArray
        ``distance_to_zone (time, [keypoint,] individual)`` in px (or cm), >= 0, NaN where missing.
    """
    signed = distance_to_border(data, polygon, keypoint, px_per_cm=px_per_cm)
    return _result(np.fmax(-signed, 0.0).where(signed.notnull()), signed, "distance_to_zone", signed.attrs["units"])


# --------------------------------------------------------------------------- egocentric frame
@logged()
def egocentric_align(data: Data, origin_keypoint: str, axis_from: str, axis_to: str) -> Data:
    """Express every keypoint in the animal's own frame of reference.

    Each frame is translated so ``origin_keypoint`` is at (0, 0) and rotated so
    the body axis ``axis_from -> axis_to`` (e.g. ``tail_base -> neck``) points
    along +x.  The result does not change when a whole trajectory is
    translated or rotated.

    Parameters
    ----------
    data
        Pose Dataset or ``position`` ``(time, space, keypoint, individual)``, 2-D, px.
    origin_keypoint
        Keypoint put at the origin (or ``"centroid"``).
    axis_from, axis_to
        Keypoints defining the body axis.

    Returns
    -------
    xarray.Dataset or xarray.DataArray
        Same kind as ``data``, positions in px in the egocentric frame (NaN for
        a frame whose origin or axis keypoints are missing).
    """
    pos = position_of(data, "egocentric_align input")
    x, y = _xy(pos)
    ox, oy = _xy(keypoint_or_centroid(pos, origin_keypoint))
    fx, fy = _xy(keypoint_or_centroid(pos, axis_from))
    tx, ty = _xy(keypoint_or_centroid(pos, axis_to))
    theta = np.arctan2(ty - fy, tx - fx)
    cos, sin = np.cos(theta), np.sin(theta)
    dx, dy = x - ox, y - oy
    ego = xr.concat([cos * dx + sin * dy, -sin * dx + cos * dy], dim="space").assign_coords(space=["x", "y"])
    ego = ego.transpose(*pos.dims)
    if isinstance(data, xr.Dataset):
        out = data.copy(deep=False)
        out["position"] = data["position"].copy(data=ego.values)
        return out
    return data.copy(data=ego.values)
