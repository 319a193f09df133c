"""Untracked instances (every animal found in a frame, in no particular order) as a pose Dataset."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from behaviorlab.errors import SchemaError
from behaviorlab.schema import Skeleton, from_numpy

__all__ = ["instances_to_poses"]


def instances_to_poses(
    instances: np.ndarray,
    skeleton: Skeleton,
    *,
    fps: float | None = None,
    first_frame: int = 0,
    attrs_: dict[str, Any] | None = None,
) -> xr.Dataset:
    """Untracked instances -> pose Dataset whose ``individual`` dim holds the instance slots.

    Parameters
    ----------
    instances
        Shape ``(time, n_slots, n_keypoints, 3)``: ``(x, y, confidence)``, NaN rows absent.
    skeleton
        Keypoints of axis 2.
    fps
        Frames per second (``time`` in seconds from ``first_frame``), or ``None`` (``time`` in frames).
    first_frame
        Video frame index of the first row, stored in the ``frame`` coordinate.
    attrs_
        Further attrs (strings and numbers).

    Returns
    -------
    xarray.Dataset
        ``position (time, space, keypoint, individual)`` and ``confidence
        (time, keypoint, individual)`` with ``individual = instance_0, ...``;
        pass it to :func:`behaviorlab.trajectories.tracking.track_poses` for identities.
    """
    instances = np.asarray(instances)
    if instances.ndim != 4 or instances.shape[-1] != 3 or instances.shape[2] != skeleton.n_keypoints:
        raise SchemaError(
            f"instances must have shape (time, n_slots, {skeleton.n_keypoints} keypoints, 3), got {instances.shape}"
        )
    position = np.transpose(instances[..., :2], (0, 3, 2, 1)).astype(np.float64)  # (time, space, keypoint, slot)
    confidence = np.transpose(instances[..., 2], (0, 2, 1)).astype(np.float64)
    ds = from_numpy(
        position,
        confidence,
        keypoints=skeleton.keypoints,
        individuals=[f"instance_{i}" for i in range(instances.shape[1])],
        fps=fps,
        source_software="behaviorlab",
        skeleton=skeleton,
        attrs_=attrs_,
    )
    frames = np.arange(first_frame, first_frame + len(instances), dtype=np.int64)
    ds = ds.assign_coords(frame=("time", frames))
    if fps:
        ds = ds.assign_coords(time=("time", frames / fps, ds["time"].attrs))
    return ds
