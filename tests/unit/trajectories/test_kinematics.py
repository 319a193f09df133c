"""Kinematics with known answers: uniform motion, right angles, zones crossed at constant speed, rigid motions."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from behaviorlab.errors import SchemaError
from behaviorlab.schema import from_numpy, get_log
from behaviorlab.trajectories.kinematics import (
    compute_acceleration,
    compute_heading,
    compute_interindividual_distance,
    compute_joint_angle,
    compute_keypoint_distance,
    compute_speed,
    compute_velocity,
    distance_to_border,
    distance_to_zone,
    egocentric_align,
    in_zone,
    time_in_zone,
)

SQUARE = [[40.0, -10.0], [60.0, -10.0], [60.0, 10.0], [40.0, 10.0]]


def _uniform(step=(3.0, 4.0), n_time=30, fps=10.0, n_ind=2):
    """Every keypoint moves by ``step`` px per frame; keypoints 'b' and 'c' sit 10 px along +x / +y of 'a'."""
    t = np.arange(n_time, dtype=float)
    pos = np.zeros((n_time, 2, 3, n_ind))
    pos[:, 0] = step[0] * t[:, None, None]
    pos[:, 1] = step[1] * t[:, None, None]
    pos[:, 0, 1] += 10.0
    pos[:, 1, 2] += 10.0
    return from_numpy(pos, keypoints=["a", "b", "c"], fps=fps)


def test_uniform_linear_motion_has_the_speed_built_in():
    ds = _uniform()
    before = ds.copy(deep=True)
    speed = compute_speed(ds)
    xr.testing.assert_identical(ds, before)
    assert speed.dims == ("time", "keypoint", "individual")
    np.testing.assert_allclose(speed.values, 50.0)  # (3, 4) px/frame at 10 fps
    assert speed.attrs["units"] == "px/s"
    assert [e["operation"] for e in get_log(speed)] == ["compute_speed"]
    velocity = compute_velocity(ds)
    np.testing.assert_allclose(velocity.sel(space="x").values, 30.0)
    np.testing.assert_allclose(velocity.sel(space="y").values, 40.0)
    np.testing.assert_allclose(compute_acceleration(ds).values, 0.0, atol=1e-9)
    assert compute_acceleration(ds).attrs["units"] == "px/s^2"


def test_speed_in_cm_per_second_and_per_frame():
    ds = _uniform()
    speed = compute_speed(ds, px_per_cm=5.0)
    np.testing.assert_allclose(speed.values, 10.0)
    assert speed.attrs["units"] == "cm/s"
    per_frame = compute_speed(from_numpy(ds["position"].values))  # no fps
    np.testing.assert_allclose(per_frame.values, 5.0)
    assert per_frame.attrs["units"] == "px/frame"
    with pytest.raises(SchemaError, match="px_per_cm"):
        compute_speed(ds, px_per_cm=0)


def test_acceleration_of_uniformly_accelerated_motion():
    t = np.arange(20, dtype=float)
    pos = np.zeros((20, 2, 1, 1))
    pos[:, 0, 0, 0] = 0.5 * 3.0 * (t / 10.0) ** 2 * 100  # x = a t^2 / 2 with a = 300 px/s^2
    acc = compute_acceleration(from_numpy(pos, fps=10.0))
    np.testing.assert_allclose(acc.sel(space="x").values[2:-2], 300.0)


def test_nan_only_affects_neighbouring_frames():
    ds = _uniform()
    pos = ds["position"].values.copy()
    pos[10, :, 0, 0] = np.nan
    speed = compute_speed(from_numpy(pos, fps=10.0)).values[:, 0, 0]
    np.testing.assert_array_equal(np.flatnonzero(np.isnan(speed)), [9, 10, 11])


def test_heading_along_x_is_zero_and_along_y_is_half_pi():
    ds = _uniform()
    np.testing.assert_allclose(compute_heading(ds, "a", "b").values, 0.0)
    np.testing.assert_allclose(compute_heading(ds, "a", "c").values, np.pi / 2)
    np.testing.assert_allclose(compute_heading(ds, "b", "a").values, np.pi)
    assert compute_heading(ds, "a", "b").dims == ("time", "individual")
    with pytest.raises(SchemaError, match="not in the data"):
        compute_heading(ds, "a", "tail")


def test_joint_angle_of_a_right_angle_and_a_straight_line():
    ds = _uniform()
    np.testing.assert_allclose(compute_joint_angle(ds, "b", "a", "c").values, np.pi / 2)
    pos = np.zeros((4, 3, 3, 1))
    pos[:, 0, 0], pos[:, 0, 2] = -1.0, 1.0  # a, b, c on the x axis in 3-D
    np.testing.assert_allclose(compute_joint_angle(from_numpy(pos), "keypoint_0", "keypoint_1", "keypoint_2"), np.pi)


def test_distances_between_keypoints_and_individuals():
    ds = _uniform()
    np.testing.assert_allclose(compute_keypoint_distance(ds, "b", "c").values, np.hypot(10, 10))
    pos = ds["position"].values.copy()
    pos[:, 0, :, 1] += 3.0
    pos[:, 1, :, 1] += 4.0
    dist = compute_interindividual_distance(from_numpy(pos, keypoints=["a", "b", "c"], individuals=["m1", "m2"]), "a")
    assert dist.dims == ("time", "individual_a", "individual_b")
    np.testing.assert_allclose(dist.sel(individual_a="m1", individual_b="m2").values, 5.0)
    np.testing.assert_allclose(dist.sel(individual_a="m1", individual_b="m1").values, 0.0)
    assert compute_keypoint_distance(ds, "b", "c", px_per_cm=2.0).attrs["units"] == "cm"


def test_centroid_is_the_mean_of_the_valid_keypoints():
    ds = _uniform()  # b and c sit 10 px along +x and +y of a: the centroid is (10/3, 10/3) from a
    pos = ds["position"].values.copy()
    pos[5, :, 2, 0] = np.nan  # c missing: centroid halfway between a and b
    pos[6, :, :, 0] = np.nan  # every keypoint missing: no centroid
    ds = from_numpy(pos, keypoints=["a", "b", "c"], fps=10.0)
    dist = compute_keypoint_distance(ds, "a", "centroid").transpose("time", "individual").values
    expected = np.full(dist.shape, np.hypot(10, 10) / 3)
    expected[5, 0], expected[6, 0] = 5.0, np.nan
    np.testing.assert_allclose(dist, expected, rtol=1e-12)
    with np.errstate(all="raise"):  # no warning or floating-point error for the all-NaN frame
        compute_keypoint_distance(ds, "a", "centroid")


def test_time_in_a_square_zone_crossed_at_constant_speed():
    n_time, fps, step = 60, 10.0, 2.0  # 20 px/s along x through a 20 px wide zone: 1 s inside
    pos = np.zeros((n_time, 2, 1, 1))
    pos[:, 0, 0, 0] = 0.5 + step * np.arange(n_time)
    ds = from_numpy(pos, fps=fps)
    seconds = time_in_zone(ds, SQUARE)
    assert seconds.values.item() == pytest.approx(20.0 / (step * fps))
    assert seconds.attrs["units"] == "s"
    inside = in_zone(ds, SQUARE, "keypoint_0")
    assert inside.dtype == bool
    assert inside.dims == ("time", "individual")
    pos[25, :, 0, 0] = np.nan  # a missing frame inside the zone is not counted
    assert time_in_zone(from_numpy(pos, fps=fps), SQUARE).item() == pytest.approx(0.9)
    assert [e["operation"] for e in get_log(seconds)] == ["time_in_zone"]


def test_signed_distance_to_border_and_to_zone():
    pos = np.array([[50.0, 0.0], [42.0, 0.0], [30.0, 0.0], [70.0, 30.0], [np.nan, np.nan]])
    ds = from_numpy(pos.reshape(5, 2, 1, 1))
    border = distance_to_border(ds, SQUARE).values.ravel()
    np.testing.assert_allclose(border, [10.0, 2.0, -10.0, -np.hypot(10, 20), np.nan])
    zone = distance_to_zone(ds, SQUARE).values.ravel()
    np.testing.assert_allclose(zone, [0.0, 0.0, 10.0, np.hypot(10, 20), np.nan])
    with pytest.raises(SchemaError, match="polygon"):
        in_zone(ds, [[0, 0], [1, 1]])


def test_egocentric_frame_is_invariant_to_rotation_and_translation():
    rng = np.random.default_rng(3)
    pos = 200 + np.cumsum(rng.normal(size=(50, 2, 4, 2)), axis=0) * 3
    pos[7, :, 2, 1] = np.nan
    ds = from_numpy(pos, keypoints=["nose", "neck", "body", "tail"], fps=30.0)
    phi = 1.1
    rot = np.array([[np.cos(phi), -np.sin(phi)], [np.sin(phi), np.cos(phi)]])
    moved_pos = np.einsum("ij,tjkn->tikn", rot, pos) + np.array([55.0, -20.0])[None, :, None, None]
    moved = from_numpy(moved_pos, keypoints=["nose", "neck", "body", "tail"], fps=30.0)
    before = ds.copy(deep=True)
    ego = egocentric_align(ds, "tail", "tail", "neck")
    ego_moved = egocentric_align(moved, "tail", "tail", "neck")
    xr.testing.assert_identical(ds, before)
    np.testing.assert_allclose(ego["position"].values, ego_moved["position"].values, atol=1e-9)
    neck = ego["position"].sel(keypoint="neck").values
    np.testing.assert_allclose(neck[:, 1], 0.0, atol=1e-9)  # the body axis lies along +x
    assert (neck[:, 0] > 0).all()
    np.testing.assert_allclose(ego["position"].sel(keypoint="tail").values, 0.0, atol=1e-12)
    assert [e["operation"] for e in get_log(ego)] == ["egocentric_align"]
    assert isinstance(egocentric_align(ds["position"].assign_attrs(fps=30.0), "centroid", "tail", "neck"), xr.DataArray)
