"""Features from poses and the xarray <-> scikit-learn adapter."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from behaviorlab.errors import SchemaError
from behaviorlab.features.design import FeatureConfig, compute_features
from behaviorlab.features.samples import from_samples, to_samples
from behaviorlab.schema import from_numpy, get_log

KEYPOINTS = ["nose", "neck", "body", "tail"]
#: The families of the first feature set only, in pixels (for tests of one family).
_FEW = {
    "scale": "none",
    "speed_lags_s": [0.0667],
    "accelerations": False,
    "confidence": False,
    "joint_angles": [],
    "body_area": False,
    "walls": False,
    "social": False,
}


def _poses(seed=0, n_time=120, rotate=0.0, shift=(0.0, 0.0), individuals=("b", "a")):
    rng = np.random.default_rng(seed)
    pos = 300 + np.cumsum(rng.normal(scale=2.0, size=(n_time, 2, len(KEYPOINTS), len(individuals))), axis=0)
    rot = np.array([[np.cos(rotate), -np.sin(rotate)], [np.sin(rotate), np.cos(rotate)]])
    pos = np.einsum("ij,tjkn->tikn", rot, pos) + np.asarray(shift)[None, :, None, None]
    return from_numpy(pos, keypoints=KEYPOINTS, individuals=list(individuals), fps=30.0)


def test_default_features_work_for_any_skeleton():
    ds = _poses()
    before = ds.copy(deep=True)
    out = compute_features(ds)
    xr.testing.assert_identical(ds, before)
    features = out["features"]
    assert features.dims == ("time", "individual", "feature")
    social = [str(n) for n in features["feature"].values if str(n).startswith("social_")]
    assert len(social) == 5  # two animals: social features by default (features.social: auto)
    names = [str(n) for n in features["feature"].values if str(n) not in social]
    assert names[0] == "speed_centroid"
    assert "ego_x_nose" in names
    assert "distance_nose_tail" in names
    speeds = 1 + 4 + 1  # centroid and every keypoint over 0.2 s, the centroid over 1 s too
    accelerations = 1 + 4
    posture = 2 * 4 + 6 + 1 + 1  # egocentric x/y, pair distances, the body's bend, its area
    assert len(names) == speeds + accelerations + 1 + posture  # and the heading velocity
    assert "angle_nose_centroid_tail" in names
    assert "body_area" in names
    assert not any(n.startswith("confidence_") for n in names)  # these poses have no confidence values
    assert not any(n.startswith("wall_") for n in names)  # no arena landmarks: no walls (features.walls: auto)
    assert not np.isnan(features.values).any()
    units = dict(zip(features["feature"].values, features["units"].values, strict=True))
    assert units["speed_centroid"] == "body sizes/s"
    assert units["distance_nose_tail"] == "body sizes"
    assert out["body_size_px"].dims == ("individual",)
    with_confidence = ds.assign(confidence=ds["confidence"].fillna(0.9))
    named = compute_features(with_confidence)["features"]["feature"].values
    assert {f"confidence_{k}" for k in KEYPOINTS} <= set(map(str, named))
    assert [e["operation"] for e in get_log(out)] == ["compute_features"]
    assert "position" in out  # features are added to the pose Dataset


def test_features_do_not_change_when_the_whole_trajectory_is_rotated_and_translated():
    config = FeatureConfig(
        origin_keypoint="tail", axis_from="tail", axis_to="neck", joint_angles=[("nose", "neck", "body")]
    )
    ref = compute_features(_poses(), config)["features"]
    moved = compute_features(_poses(rotate=2.3, shift=(-40.0, 75.0)), config)["features"]
    np.testing.assert_allclose(moved.values, ref.values, atol=1e-8)
    assert "ego_x_tail" not in list(ref["feature"].values)  # the origin is always (0, 0)


def test_feature_config_choices_and_calibration():
    config = FeatureConfig.from_dict(
        {**_FEW, "speed_keypoints": ["nose"], "egocentric": False, "distances": [["nose", "tail"]], "px_per_cm": 10.0}
    )
    features = compute_features(_poses(), config)["features"]
    assert list(features["feature"].values) == ["speed_nose", "heading_velocity", "distance_nose_tail"]
    assert list(features["units"].values) == ["cm/s", "rad/s", "cm"]
    px = compute_features(_poses(), {**_FEW, "speed_keypoints": ["nose"], "egocentric": False, "distances": ()})
    np.testing.assert_allclose(features.sel(feature="speed_nose"), px["features"].sel(feature="speed_nose") / 10.0)
    with pytest.raises(SchemaError, match=r"unknown key.*features"):
        FeatureConfig.from_dict({"speeds": ["nose"]})
    with pytest.raises(SchemaError, match="triplet"):
        FeatureConfig(joint_angles=[("nose", "neck")])


def test_heading_velocity_of_a_turning_animal():
    n_time, fps, omega = 90, 30.0, 1.5  # rad/s, crossing the +-pi wrap
    theta = omega * np.arange(n_time) / fps + 2.5
    pos = np.zeros((n_time, 2, 2, 1))
    pos[:, 0, 0, 0], pos[:, 1, 0, 0] = 100 + 10 * np.cos(theta), 100 + 10 * np.sin(theta)  # nose
    pos[:, :, 1, 0] = 100.0  # tail
    ds = from_numpy(pos, keypoints=["nose", "tail"], fps=fps)
    features = compute_features(ds, {"egocentric": False, "distances": ()})["features"]
    np.testing.assert_allclose(features.sel(feature="heading_velocity").values, omega, rtol=1e-9)


def test_to_samples_from_samples_round_trip_with_two_individuals():
    features = compute_features(_poses())["features"]
    X, index = to_samples(features)
    assert X.shape == (120 * 2, features.sizes["feature"])
    assert list(index.names) == ["time", "individual"]
    np.testing.assert_array_equal(X[1], features.isel(time=0).sel(individual="a").values)
    back = from_samples(X[:, 3], index, "ego")
    assert back.dims == ("time", "individual")
    assert list(back["individual"].values) == ["b", "a"]  # the input's order, not sorted
    np.testing.assert_array_equal(back.values, features.isel(feature=3).values)
    labels = from_samples(np.arange(len(index)) % 3, index, "label")
    assert labels.dtype.kind == "i"
    embedding = from_samples(X[:, :2], index, "embedding")
    assert embedding.dims == ("time", "individual", "component")
    assert [e["operation"] for e in get_log(back)] == ["from_samples"]
    X[0, 0] = -1.0  # X is a copy
    assert features.values[0, 0, 0] != -1.0
    with pytest.raises(SchemaError, match="one row per index"):
        from_samples(X[:-1, 0], index)


def test_nan_rows_are_reported_not_dropped():
    ds = _poses()
    pos = ds["position"].values.copy()
    pos[5, :, 0, 1] = np.nan  # nose of "a" missing in frame 5
    features = compute_features(
        from_numpy(pos, keypoints=KEYPOINTS, individuals=["b", "a"], fps=30.0), FeatureConfig(**_FEW)
    )
    samples = to_samples(features)
    X, index = samples
    assert len(X) == 240
    bad = np.flatnonzero(~samples.valid)
    assert set(index[bad].get_level_values("individual")) == {"a"}
    assert 5 * 30.0**-1 in set(index[bad].get_level_values("time"))
    X_ok, index_ok = to_samples(features, dropna=True)
    assert len(X_ok) == 240 - len(bad)
    predicted = from_samples(np.ones(len(index_ok), dtype=int), index_ok, "label")
    assert predicted.shape == (120, 2)
    assert int(predicted.isnull().sum()) == len(bad)


def test_sessions_and_spectrogram_columns_stack_into_rows_and_columns():
    features = compute_features(_poses())["features"]
    two = xr.concat([features, features * 2], dim="session").assign_coords(session=["s1", "s2"])
    spec = two.expand_dims(frequency=[1.0, 2.0, 4.0], axis=-1)  # (session, time, individual, feature, frequency)
    X, index = to_samples(spec)
    assert list(index.names) == ["session", "time", "individual"]
    assert X.shape == (2 * 120 * 2, features.sizes["feature"] * 3)
    back = from_samples(X[:, 0], index, "x")
    assert back.dims == ("session", "time", "individual")
    np.testing.assert_array_equal(back.sel(session="s2").values, 2 * features.isel(feature=0).values)
    with pytest.raises(SchemaError, match="feature"):
        to_samples(features.rename(feature="column"))


# ------------------------------------------------------------------ session_samples
def _session(n_time: int, individuals: list[str], seed: int, n_feat: int = 3):
    import xarray as xr

    rng = np.random.default_rng(seed)
    return xr.DataArray(
        rng.normal(size=(n_time, len(individuals), n_feat)),
        dims=("time", "individual", "feature"),
        coords={"time": np.arange(n_time) / 10, "individual": individuals, "feature": list("abc")[:n_feat]},
    )


def test_session_samples_orders_rows_by_session_individual_time_and_splits_runs_at_nan():
    from behaviorlab.features.samples import session_samples

    a, b = _session(5, ["m1", "m2"], 0), _session(4, ["m1"], 1)
    b[2, 0, 1] = np.nan
    s = session_samples({"A": a, "B": b})
    assert s.X.shape == (14, 3)
    np.testing.assert_array_equal(s.X[:5], a.sel(individual="m1").values)  # m1's frames of A come first
    np.testing.assert_array_equal(s.X[5:10], a.sel(individual="m2").values)
    assert s.valid.sum() == 13
    assert s.lengths().tolist() == [5, 5, 2, 1]  # A/m1, A/m2, B/m1 before and after the NaN frame
    assert list(s.index.names) == ["session", "individual", "time"]


def test_session_samples_unstack_round_trips_per_session():
    from behaviorlab.features.samples import session_samples

    a, b = _session(5, ["m1", "m2"], 0), _session(4, ["m1"], 1)
    b[2, 0, 1] = np.nan
    s = session_samples([a.assign_attrs(session="A"), b.assign_attrs(session="B")])
    back = s.unstack(s.X[s.valid][:, 0], "first")
    np.testing.assert_array_equal(back["A"].values, a[..., 0].values)
    assert back["B"].dims == ("time", "individual")
    assert np.isnan(back["B"].values[2, 0])
    np.testing.assert_array_equal(back["B"].values[[0, 1, 3], 0], b[[0, 1, 3], 0, 0].values)
    labels = s.unstack(np.arange(13), "label", fill_value=-1)
    assert labels["B"].values[2, 0] == -1
    assert labels["B"].dtype.kind == "i"


def test_session_samples_refuses_sessions_with_other_columns():
    from behaviorlab.features.samples import session_samples

    with pytest.raises(SchemaError, match="different columns"):
        session_samples({"A": _session(5, ["m1"], 0), "B": _session(5, ["m1"], 0, n_feat=2)})


def test_social_features_have_their_known_values_for_two_animals_approaching_face_to_face():
    from behaviorlab.features.design import FeatureConfig, compute_features
    from behaviorlab.schema import from_numpy

    n = 5
    pos = np.zeros((n, 2, 2, 2))  # (time, space, keypoint [nose, tail], individual)
    pos[:, 0, 0, 0], pos[:, 0, 1, 0] = 1.0, -1.0  # a: centroid 0, facing +x
    pos[:, 0, 0, 1] = 9.0 + np.arange(n)  # b: centroid 10 + t, facing -x (towards a)
    pos[:, 0, 1, 1] = 11.0 + np.arange(n)
    ds = from_numpy(pos, np.ones((n, 2, 2)), keypoints=["nose", "tail"], individuals=["a", "b"], fps=10)
    f = compute_features(ds, FeatureConfig(social=True, scale="none", axis_from="tail", axis_to="nose"))["features"]
    social = f.sel(feature=[str(n) for n in f["feature"].values if str(n).startswith("social_")])
    assert list(social["feature"].values) == [
        "social_distance",
        "social_nose_to_other",
        "social_other_nose_to_me",
        "social_distance_rate",
        "social_facing",
    ]
    for who in ("a", "b"):
        v = social.sel(individual=who).values
        np.testing.assert_allclose(v[:, 0], 10.0 + np.arange(n))  # centroid distance
        np.testing.assert_allclose(v[:, 1], 9.0 + np.arange(n))  # own nose to the other's centroid
        np.testing.assert_allclose(v[:, 2], 9.0 + np.arange(n))  # other's nose to own centroid
        np.testing.assert_allclose(v[:, 3], 10.0)  # 1 px per frame at 10 fps, moving apart
        np.testing.assert_allclose(v[:, 4], 1.0)  # facing each other
    # one animal alone: NaN social features when asked for; by default (auto) on for two animals, off for one
    alone = compute_features(ds.isel(individual=[0]), FeatureConfig(social=True, axis_from="tail", axis_to="nose"))
    assert np.isnan(alone["features"].sel(feature="social_distance")).all()
    assert any(str(n).startswith("social_") for n in compute_features(ds)["feature"].values)
    assert not any(str(n).startswith("social_") for n in compute_features(ds.isel(individual=[0]))["feature"].values)
    with pytest.raises(SchemaError, match="social"):
        FeatureConfig(social="yes")


# --------------------------------------------------------------------------- feature families with known answers
def test_scale_free_features_are_the_same_at_two_camera_distances():
    near = _poses(seed=3)
    far = near.copy(deep=True)
    far["position"] = near["position"] * 0.5 + 17.0  # the camera twice as far, the arena elsewhere in the frame
    a = compute_features(near, FeatureConfig(social=False))
    b = compute_features(far, FeatureConfig(social=False))
    np.testing.assert_allclose(b["body_size_px"].values, a["body_size_px"].values * 0.5)
    np.testing.assert_allclose(b["features"].values, a["features"].values, rtol=1e-9, atol=1e-9)
    px = compute_features(near, FeatureConfig(social=False, scale="none"))["features"].sel(feature="distance_nose_tail")
    size = a["body_size_px"].values
    np.testing.assert_allclose(a["features"].sel(feature="distance_nose_tail").values, px.values / size)


def test_feature_names_and_values_do_not_depend_on_the_keypoint_order_in_the_file():
    ds = _poses(seed=4)
    config = FeatureConfig(axis_from="tail", axis_to="nose", social=False)
    reordered = ds.sel(keypoint=["tail", "body", "nose", "neck"])
    a = compute_features(ds, config)["features"]
    b = compute_features(reordered, config)["features"]
    assert sorted(map(str, a["feature"].values)) == sorted(map(str, b["feature"].values))
    assert "distance_body_tail" in set(map(str, a["feature"].values))  # a pair is named with its keypoints sorted
    np.testing.assert_allclose(b.sel(feature=a["feature"].values).values, a.values, rtol=1e-9, atol=1e-12)


def test_lagged_speed_averages_out_jitter_and_keeps_the_true_speed():
    from behaviorlab.features.families import lag_frames, lagged_speed

    fps, n = 25.0, 500
    rng = np.random.default_rng(0)
    still = rng.normal(scale=1.0, size=(n, 2, 1))  # a still animal tracked with 1 px jitter
    moving = np.zeros((n, 2, 1))
    moving[:, 0, 0] = 40.0 * np.arange(n) / fps  # 40 px/s along x
    per_frame = lagged_speed(still, 2, fps)
    lagged = lagged_speed(still, lag_frames(1.0, fps), fps)
    assert np.median(per_frame) > 15.0  # the jitter looks like ~20 px/s frame to frame
    assert np.median(lagged) < 2.0  # over one second it is ~1.4 px/s
    np.testing.assert_allclose(lagged_speed(moving, lag_frames(0.2, fps), fps), 40.0)
    assert lag_frames(0.2, fps) == 5
    assert lag_frames(0.01, fps) == 2


def test_joint_angle_body_area_and_skeleton_joints_of_hand_made_shapes():
    from behaviorlab.features.families import body_area, joint_angle, skeleton_joints
    from behaviorlab.schema import Skeleton

    a, b, c = (np.array([[[x], [y]]], dtype=float) for x, y in ((1, 0), (0, 0), (0, 2)))
    np.testing.assert_allclose(joint_angle(a, b, c), np.pi / 2)
    np.testing.assert_allclose(joint_angle(c, b, a), np.pi / 2)  # unsigned: a mirrored animal has the same angles
    assert np.isnan(joint_angle(a, a, c)).all()
    square = np.array([[0, 0], [2, 0], [2, 2], [0, 2]], dtype=float).T[None, :, :, None]  # (1, 2, 4, 1)
    np.testing.assert_allclose(body_area(square), 4.0)
    shuffled = square[:, :, [2, 0, 3, 1]]
    np.testing.assert_allclose(body_area(shuffled), 4.0)  # joined around the centroid, not in file order
    hidden = square.copy()
    hidden[0, :, 1] = np.nan  # a triangle is left
    np.testing.assert_allclose(body_area(hidden), 2.0)
    two = square.copy()
    two[0, :, :2] = np.nan
    assert np.isnan(body_area(two)).all()
    skeleton = Skeleton(["nose", "neck", "tail", "ear"], edges=[("neck", "nose"), ("tail", "neck"), ("ear", "neck")])
    assert skeleton_joints(skeleton, ["nose", "neck", "tail", "ear"]) == [
        ("ear", "neck", "nose"),
        ("ear", "neck", "tail"),
        ("nose", "neck", "tail"),
    ]
    assert skeleton_joints(skeleton, ["nose", "neck"]) == []
    assert skeleton_joints(None, ["nose"]) == []


def test_wall_distances_come_from_the_arena_landmarks_the_cleaning_found():
    from behaviorlab.trajectories.landmarks import ARENA_LANDMARKS

    n = 10
    pos = np.zeros((n, 2, 2, 1))
    pos[:, 0, 0, 0], pos[:, 0, 1, 0] = 30.0, 10.0  # nose at x=30, tail at x=10, y=50: 10 px from the left wall
    pos[:, 1] = 50.0
    ds = from_numpy(pos, np.ones((n, 2, 1)), keypoints=["nose", "tail"], individuals=["m"], fps=10.0)
    arena = {"tl": [0, 0], "tr": [100, 0], "br": [100, 100], "bl": [0, 100]}
    ds.attrs[ARENA_LANDMARKS] = json.dumps(arena)
    f = compute_features(ds, FeatureConfig(scale="none"))["features"]
    np.testing.assert_allclose(f.sel(feature="wall_distance_nose").values, 30.0)
    np.testing.assert_allclose(f.sel(feature="wall_distance_centroid").values, 20.0)
    ds.attrs.pop(ARENA_LANDMARKS)
    assert "wall_distance_nose" not in set(map(str, compute_features(ds)["features"]["feature"].values))
    always = compute_features(ds, FeatureConfig(walls=True))["features"]
    assert np.isnan(always.sel(feature="wall_distance_nose")).all()


def test_skeleton_joint_angles_are_asked_for_and_the_bend_is_always_there():
    from behaviorlab.schema import Skeleton, set_skeleton

    ds = set_skeleton(_poses(seed=5), Skeleton(KEYPOINTS, edges=[("nose", "neck"), ("neck", "body"), ("body", "tail")]))
    default = set(map(str, compute_features(ds, FeatureConfig(social=False))["features"]["feature"].values))
    asked = set(map(str, compute_features(ds, FeatureConfig(social=False, joint_angles="skeleton"))["feature"].values))
    assert {n for n in default if n.startswith("angle_")} == {"angle_nose_centroid_tail"}
    assert {n for n in asked if n.startswith("angle_")} == {
        "angle_nose_centroid_tail",
        "angle_neck_body_tail",
        "angle_body_neck_nose",
    }
    with pytest.raises(SchemaError, match="skeleton"):
        FeatureConfig(joint_angles="all")


@pytest.mark.parametrize("chunk", [37, 500])
def test_features_in_blocks_equal_the_features_of_the_whole_recording(chunk):
    from behaviorlab.features.design import feature_context_frames

    ds = _poses(seed=5, n_time=1300)  # two animals: social features, their rates and lags at every block boundary
    ds["position"][600:640, :, 1, 0] = np.nan  # a gap across a block boundary
    config = FeatureConfig(speed_lags_s=(0.2, 1.0))
    assert feature_context_frames(config, 30.0) == 62
    whole = compute_features(ds, config)
    blocks = compute_features(ds, config, chunk_frames=chunk)
    xr.testing.assert_identical(blocks["features"], whole["features"])
    np.testing.assert_array_equal(blocks["body_size_px"].values, whole["body_size_px"].values)
    assert [(e["operation"], e["config"]) for e in get_log(blocks)] == [
        (e["operation"], e["config"]) for e in get_log(whole)
    ]
    with pytest.raises(SchemaError, match="chunk_frames"):
        compute_features(ds, config, chunk_frames=0)


def test_features_in_blocks_of_a_real_track_with_arena_landmarks(shared_data):
    from behaviorlab.io.load import load_poses
    from behaviorlab.trajectories.filtering import clean_poses

    path = shared_data / "oft-rearing/12_01_A_190507144429DeepCut_resnet50_Blockcourse1May9shuffle1_1030000.csv"
    cleaned = clean_poses(load_poses(path, fps=25.0).isel(time=slice(0, 3000)))
    whole = compute_features(cleaned)["features"]
    assert "wall_distance_centroid" in set(map(str, whole["feature"].values))
    xr.testing.assert_identical(compute_features(cleaned, chunk_frames=700)["features"], whole)
