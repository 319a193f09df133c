"""Feature families on plain arrays: lagged speeds, joint angles, body area, names independent of keypoint order.

The pose features of :func:`behaviorlab.features.design.compute_features`
that SimBA, MARS and JAABA compute, written once on numpy arrays
``(time, space, keypoint, individual)`` (x and y only) so that every family
is cheap on long sessions and has a known answer on a hand-made skeleton:

- :func:`lagged_speed`: the speed over a lag of several frames, centred, so
  that tracking jitter (about one pixel per frame in every direction, a
  "speed" of 25 px/s for a still mouse at 25 fps) averages out;
- :func:`joint_angle`, :func:`body_area`: posture;
- :func:`pair_name`, :func:`skeleton_joints`: names and joints that do not
  depend on the order of the keypoints in a file.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from behaviorlab.schema import Skeleton

__all__ = [
    "body_area",
    "joint_angle",
    "lag_frames",
    "lagged_rate",
    "lagged_speed",
    "pair_name",
    "skeleton_joints",
]


def pair_name(prefix: str, a: str, b: str) -> str:
    """Return ``f"{prefix}_{a}_{b}"`` with the two names sorted: the same feature whichever keypoint comes first."""
    first, second = sorted((str(a), str(b)))
    return f"{prefix}_{first}_{second}"


def lag_frames(lag_s: float, fps: float | None) -> int:
    """Frames spanned by a lag of ``lag_s`` seconds: at least 2 (one either side of the frame)."""
    return max(2, round(float(lag_s) * float(fps))) if fps else 2


def _lag_ends(n_time: int, lag: int) -> tuple[np.ndarray, np.ndarray]:
    """Start and end frame of the centred lag around each frame, clipped to the session."""
    t = np.arange(n_time)
    before = lag // 2
    return np.clip(t - before, 0, n_time - 1), np.clip(t + (lag - before), 0, n_time - 1)


def lagged_rate(values: np.ndarray, lag: int, fps: float | None) -> np.ndarray:
    """Rate of change of ``values`` (time first) over a centred lag of ``lag`` frames (per second, or per frame).

    At the ends of the session the lag is cut to the frames there are; a
    frame whose lag spans no frame (a one-frame session) is NaN.
    """
    values = np.asarray(values, dtype=np.float64)
    start, stop = _lag_ends(len(values), lag)
    span = (stop - start).astype(np.float64)
    if fps:
        span = span / float(fps)
    span = span.reshape((-1,) + (1,) * (values.ndim - 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(span > 0, (values[stop] - values[start]) / np.where(span > 0, span, 1.0), np.nan)


def lagged_speed(xy: np.ndarray, lag: int, fps: float | None) -> np.ndarray:
    """Speed of a point over a centred lag of ``lag`` frames: distance between the lag's ends over its duration.

    Parameters
    ----------
    xy
        ``(time, 2, individual)`` positions.
    lag
        Frames spanned (:func:`lag_frames`).
    fps
        Frames per second; ``None`` gives units per frame.

    Returns
    -------
    numpy.ndarray
        ``(time, individual)``; NaN where an end of the lag is missing.
    """
    return np.linalg.norm(lagged_rate(xy, lag, fps), axis=1)


def joint_angle(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Angle at ``b`` between the segments to ``a`` and to ``c``, in radians in ``[0, pi]``.

    ``a``, ``b``, ``c`` are ``(time, 2, individual)``; the result is
    ``(time, individual)``, NaN where a point is missing or a segment has no
    length.  Unsigned, so a mirrored animal (left and right swapped) has the
    same angles.
    """
    u = np.asarray(a, np.float64) - b
    v = np.asarray(c, np.float64) - b
    cross = u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0]
    dot = (u * v).sum(axis=1)
    degenerate = (np.hypot(u[:, 0], u[:, 1]) == 0) | (np.hypot(v[:, 0], v[:, 1]) == 0)
    return np.where(degenerate, np.nan, np.abs(np.arctan2(cross, dot)))


def body_area(pos: np.ndarray) -> np.ndarray:
    """Area of the body outline: the keypoints joined in order of their angle around their centroid.

    Parameters
    ----------
    pos
        ``(time, 2, keypoint, individual)``; missing keypoints are left out.

    Returns
    -------
    numpy.ndarray
        ``(time, individual)`` in the square of the positions' unit; NaN with
        fewer than three keypoints seen.
    """
    pos = np.asarray(pos, dtype=np.float64)
    x, y = pos[:, 0], pos[:, 1]  # (time, keypoint, individual)
    seen = np.isfinite(x) & np.isfinite(y)
    with np.errstate(invalid="ignore", divide="ignore"):
        cx = np.where(seen, x, 0.0).sum(axis=1, keepdims=True) / seen.sum(axis=1, keepdims=True)
        cy = np.where(seen, y, 0.0).sum(axis=1, keepdims=True) / seen.sum(axis=1, keepdims=True)
    angle = np.where(seen, np.arctan2(y - cy, x - cx), np.inf)  # missing keypoints sort last
    order = np.argsort(angle, axis=1, kind="stable")
    xs, ys = np.take_along_axis(x, order, axis=1), np.take_along_axis(y, order, axis=1)
    ok = np.take_along_axis(seen, order, axis=1)
    # a missing keypoint repeats the last one seen: its edges have no length and add no area
    last = np.maximum.accumulate(np.where(ok, np.arange(x.shape[1])[None, :, None], 0), axis=1)
    xs, ys = np.take_along_axis(xs, last, axis=1), np.take_along_axis(ys, last, axis=1)
    area = 0.5 * np.abs((xs * np.roll(ys, -1, axis=1) - np.roll(xs, -1, axis=1) * ys).sum(axis=1))
    return np.where(seen.sum(axis=1) >= 3, area, np.nan)


def skeleton_joints(skeleton: Skeleton | None, keypoints: Sequence[str]) -> list[tuple[str, str, str]]:
    """Every joint of a skeleton: ``(a, b, c)`` for each keypoint ``b`` and each pair of its neighbours.

    Neighbours are taken in name order, and ``a`` < ``c``, so the joints and
    their names do not depend on the order of the keypoints or edges in a
    file.  Edges to keypoints the poses lack are ignored; no skeleton, no joint.
    """
    if skeleton is None:
        return []
    present = set(map(str, keypoints))
    neighbours: dict[str, set[str]] = {}
    for a, b in skeleton.edges:
        if a in present and b in present and a != b:
            neighbours.setdefault(a, set()).add(b)
            neighbours.setdefault(b, set()).add(a)
    joints = []
    for b in sorted(neighbours):
        around = sorted(neighbours[b])
        joints += [(a, b, c) for i, a in enumerate(around) for c in around[i + 1 :]]
    return joints
