"""The pose data model: construction, validation, movement compatibility, provenance, skeleton."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from behaviorlab.errors import SchemaError
from behaviorlab.schema import (
    CONFIDENCE_DIMS,
    POSITION_DIMS,
    Skeleton,
    as_poses,
    check_dims,
    from_numpy,
    get_log,
    get_skeleton,
    guess_tail_keypoints,
    log_step,
    logged,
    set_skeleton,
    to_movement,
    validate_poses,
)


def _arrays(n_time=5, n_space=2, n_kp=3, n_ind=2, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n_time, n_space, n_kp, n_ind)), rng.random((n_time, n_kp, n_ind))


def test_from_numpy_builds_the_movement_schema():
    pos, conf = _arrays()
    ds = from_numpy(pos, conf, keypoints=["nose", "ear", "tail"], individuals=["a", "b"], fps=25, source_software="x")
    assert ds["position"].dims == POSITION_DIMS
    assert ds["confidence"].dims == CONFIDENCE_DIMS
    assert list(ds["space"].values) == ["x", "y"]
    assert list(ds["keypoint"].values) == ["nose", "ear", "tail"]
    assert list(ds["individual"].values) == ["a", "b"]
    np.testing.assert_allclose(ds["time"].values, np.arange(5) / 25)
    assert ds.attrs["fps"] == 25.0
    assert ds.attrs["time_unit"] == "seconds"
    assert ds.attrs["source_software"] == "x"
    assert ds.attrs["ds_type"] == "poses"
    assert get_log(ds) == []
    np.testing.assert_array_equal(ds["position"].values, pos)
    np.testing.assert_array_equal(ds["confidence"].values, conf)


def test_defaults_without_fps_names_or_confidence():
    pos, _ = _arrays(n_space=3)
    ds = from_numpy(pos)
    assert ds.attrs["time_unit"] == "frames"
    assert "fps" not in ds.attrs
    np.testing.assert_array_equal(ds["time"].values, np.arange(5))
    assert list(ds["space"].values) == ["x", "y", "z"]
    assert list(ds["keypoint"].values) == ["keypoint_0", "keypoint_1", "keypoint_2"]
    assert list(ds["individual"].values) == ["id_0", "id_1"]
    assert np.isnan(ds["confidence"].values).all()


def test_integer_positions_become_float():
    ds = from_numpy(np.ones((2, 2, 1, 1), dtype=int))
    assert ds["position"].dtype.kind == "f"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"position": np.zeros((5, 2, 3))}, "4 dims"),
        ({"position": np.zeros((5, 4, 3, 1))}, "size 2 or 3"),
        ({"position": np.zeros((5, 2, 3, 1)), "confidence": np.zeros((5, 3, 2))}, "confidence must have shape"),
        ({"position": np.zeros((5, 2, 3, 1)), "keypoints": ["a", "b", "a"]}, "duplicate keypoint names: ['a']"),
        ({"position": np.zeros((5, 2, 3, 1)), "keypoints": ["a", "b"]}, "2 keypoint names for 3"),
        ({"position": np.zeros((5, 2, 1, 2)), "individuals": ["m", "m"]}, "duplicate individual names"),
        ({"position": np.zeros((5, 2, 1, 1)), "fps": 0}, "fps must be a finite number > 0"),
        ({"position": np.zeros((5, 2, 1, 1)), "fps": -30}, "fps must be a finite number > 0"),
        ({"position": np.zeros((5, 2, 1, 1)), "fps": float("nan")}, "fps must be a finite number > 0"),
        ({"position": np.array([[[["a"]], [["b"]]]])}, "numeric"),
    ],
)
def test_from_numpy_rejects_bad_inputs(kwargs, message):
    position = kwargs.pop("position")
    with pytest.raises(SchemaError) as err:
        from_numpy(position, **kwargs)
    assert message in str(err.value)


def test_validate_rejects_wrong_dims_and_missing_variables():
    ds = from_numpy(*_arrays())
    with pytest.raises(SchemaError, match="no 'confidence' variable"):
        validate_poses(ds.drop_vars("confidence"))
    bad = ds.copy()
    bad["confidence"] = bad["confidence"].isel(individual=0, drop=True)
    with pytest.raises(SchemaError, match="confidence must have dims"):
        validate_poses(bad)
    with pytest.raises(SchemaError, match="position must have dims"):
        validate_poses(ds.transpose("time", "keypoint", "space", "individual"))
    with pytest.raises(SchemaError, match=r"source\.nc: position must have dims"):
        validate_poses(ds.transpose("time", "keypoint", "space", "individual"), source="source.nc")
    with pytest.raises(SchemaError, match=r"expected an xarray\.Dataset"):
        validate_poses(ds["position"])


def test_validate_rejects_bad_attrs():
    ds = from_numpy(*_arrays(), fps=10)
    for attrs, message in [
        ({"fps": 0}, "fps must be"),
        ({"time_unit": "minutes"}, "time_unit must be"),
        ({"log": "not json"}, "JSON list"),
    ]:
        bad = ds.copy()
        bad.attrs = {**ds.attrs, **attrs}
        with pytest.raises(SchemaError, match=message):
            validate_poses(bad)
    no_fps = ds.copy()
    no_fps.attrs = {k: v for k, v in ds.attrs.items() if k != "fps"}
    with pytest.raises(SchemaError, match="no fps"):
        validate_poses(no_fps)


def _movement_style_dataset() -> xr.Dataset:
    """A Dataset exactly as movement's ValidPosesInputs.to_dataset builds it (plural dims)."""
    pos, conf = _arrays(n_time=4, n_kp=2, n_ind=1)
    dims = ("time", "space", "keypoints", "individuals")
    return xr.Dataset(
        {
            "position": xr.DataArray(pos, dims=dims),
            "confidence": xr.DataArray(conf, dims=("time", "keypoints", "individuals")),
        },
        coords={
            "time": np.arange(4) / 30.0,
            "space": ["x", "y"],
            "keypoints": ["snout", "tail"],
            "individuals": ["id_0"],
        },
        attrs={"source_software": "DeepLabCut", "ds_type": "poses", "fps": 30.0, "time_unit": "seconds"},
    )


def test_movement_dataset_is_accepted_and_returned_unchanged():
    mds = _movement_style_dataset()
    before = mds.copy(deep=True)
    ds = as_poses(mds)
    assert ds["position"].dims == POSITION_DIMS
    assert list(ds["keypoint"].values) == ["snout", "tail"]
    assert ds.attrs["fps"] == 30.0
    np.testing.assert_array_equal(ds["position"].values, mds["position"].values)
    xr.testing.assert_identical(mds, before)  # input not mutated
    back = to_movement(ds)
    assert back["position"].dims == ("time", "space", "keypoints", "individuals")
    xr.testing.assert_equal(back[["position", "confidence"]], mds[["position", "confidence"]])


def test_as_poses_transposes_and_keeps_extra_variables():
    ds = from_numpy(*_arrays(), fps=10)
    ds["speed"] = ds["position"].isel(space=0) * 2
    shuffled = ds.transpose("individual", "keypoint", "space", "time")
    out = as_poses(shuffled)
    assert out["position"].dims == POSITION_DIMS
    assert "speed" in out


def test_log_step_appends_without_mutating():
    ds = from_numpy(*_arrays(), fps=10)
    out = log_step(ds, "median_filter", window=5, keypoints=np.array(["a"]), threshold=np.float32(0.5))
    assert get_log(ds) == []
    (entry,) = get_log(out)
    assert entry["operation"] == "median_filter"
    assert entry["window"] == 5
    assert entry["keypoints"] == ["a"]
    assert entry["threshold"] == pytest.approx(0.5)
    assert "datetime" in entry
    assert "behaviorlab_version" in entry
    again = log_step(out, "second")
    assert [e["operation"] for e in get_log(again)] == ["median_filter", "second"]
    json.loads(again.attrs["log"])


def test_logged_decorator_records_bound_arguments():
    @logged()
    def scale_positions(ds, factor=2.0, *, label="x"):
        out = ds.copy()
        out["position"] = ds["position"] * factor
        return out

    ds = from_numpy(*_arrays())
    out = scale_positions(ds, 3.0)
    (entry,) = get_log(out)
    assert entry["operation"] == "scale_positions"
    assert entry["factor"] == 3.0
    assert entry["label"] == "x"


def test_check_dims():
    da = xr.DataArray(np.zeros((2, 3)), dims=("time", "feature"))
    check_dims(da, ["time"])
    with pytest.raises(SchemaError, match=r"features lacks the dim\(s\) \['individual'\]"):
        check_dims(da, ["time", "individual"], name="features")
    with pytest.raises(SchemaError, match="must be an xarray"):
        check_dims(np.zeros(3), ["time"])


# --------------------------------------------------------------------------- skeleton
def _mouse() -> Skeleton:
    return Skeleton(
        ["nose", "ear_left", "ear_right", "tail_base"],
        edges=[("nose", "ear_left"), ("nose", "ear_right"), ("nose", "tail_base")],
        symmetry=[("ear_left", "ear_right")],
        name="mouse",
    )


def test_skeleton_indices_and_round_trip():
    sk = _mouse()
    assert sk.n_keypoints == 4
    np.testing.assert_array_equal(sk.edge_indices(), [[0, 1], [0, 2], [0, 3]])
    np.testing.assert_array_equal(sk.swap_indices(), [0, 2, 1, 3])
    assert Skeleton.from_json(sk.to_json()) == sk
    assert Skeleton.from_dict(sk.to_dict()) == sk
    assert Skeleton(["a"]).edge_indices().shape == (0, 2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"keypoints": []}, "at least one keypoint"),
        ({"keypoints": ["a", "a"]}, "duplicate keypoint names of the skeleton: ['a']"),
        ({"keypoints": ["a", "b"], "edges": [("a", "c")]}, "unknown keypoint(s) ['c']"),
        ({"keypoints": ["a", "b"], "edges": [("a", "a")]}, "joins a keypoint to itself"),
        ({"keypoints": ["a", "b", "c"], "symmetry": [("a", "b"), ("b", "c")]}, "more than one symmetry pair"),
        ({"keypoints": ["a", "b"], "edges": [("a", "b", "c")]}, "pair of keypoint names"),
        ({"keypoints": "nose"}, "single string"),
    ],
)
def test_skeleton_rejects_bad_definitions(kwargs, message):
    with pytest.raises(SchemaError) as err:
        Skeleton(**kwargs)
    assert message in str(err.value)


def test_skeleton_check_keypoints_names_the_source():
    sk = _mouse()
    sk.check_keypoints(["nose", "ear_left", "ear_right", "tail_base"])
    with pytest.raises(SchemaError, match=r"poses.csv: keypoints disagree.*missing \['tail_base'\].*\['tail'\]"):
        sk.check_keypoints(["nose", "ear_left", "ear_right", "tail"], source="poses.csv")
    with pytest.raises(SchemaError, match="order"):
        sk.check_keypoints(["ear_left", "nose", "ear_right", "tail_base"])


def test_skeleton_travels_in_dataset_attrs():
    sk = _mouse()
    pos = np.zeros((3, 2, 4, 1))
    ds = from_numpy(pos, skeleton=sk)
    assert list(ds["keypoint"].values) == list(sk.keypoints)
    assert get_skeleton(ds) == sk
    assert get_skeleton(from_numpy(pos)) is None
    ds2 = set_skeleton(from_numpy(pos, keypoints=sk.keypoints), sk)
    assert get_skeleton(ds2) == sk
    with pytest.raises(SchemaError, match="disagree"):
        set_skeleton(from_numpy(pos), sk)
    with pytest.raises(SchemaError, match="disagree"):
        from_numpy(pos, keypoints=["a", "b", "c", "d"], skeleton=sk)


def test_rename_keypoints_maps_names_and_the_skeleton_and_refuses_unknown_or_doubled_names():
    from behaviorlab.schema import rename_keypoints

    ds = from_numpy(np.zeros((3, 2, 3, 1)), keypoints=["snout", "ear", "tailbase"], individuals=["m"], fps=10.0)
    ds = set_skeleton(ds, Skeleton(["snout", "ear", "tailbase"], edges=[("snout", "ear"), ("ear", "tailbase")]))
    out = rename_keypoints(ds, {"snout": "nose", "tailbase": "tail_base"}, "lab2.csv")
    assert list(out["keypoint"].values) == ["nose", "ear", "tail_base"]
    assert get_skeleton(out).edges == (("nose", "ear"), ("ear", "tail_base"))
    assert list(ds["keypoint"].values) == ["snout", "ear", "tailbase"]  # the input is not changed
    assert rename_keypoints(ds, {}) is ds
    with pytest.raises(SchemaError, match=r"lab2.csv.*\['nozze'\].*--keypoint-map"):
        rename_keypoints(ds, {"nozze": "nose"}, "lab2.csv")
    with pytest.raises(SchemaError, match="several keypoints are called"):
        rename_keypoints(ds, {"snout": "ear"})


def test_the_body_axis_is_read_from_the_names_whatever_their_order():
    from behaviorlab.schema import guess_body_axis

    names = ["nose", "headcentre", "neck", "earl", "bodycentre", "tailbase", "tailcentre", "tailtip"]
    assert guess_body_axis(names) == ("tailbase", "nose")
    assert guess_body_axis(names[::-1]) == ("tailbase", "nose")
    assert guess_body_axis(["Snout", "leftear", "rightear", "Tail_Tip"]) == ("Tail_Tip", "Snout")
    assert guess_body_axis(["thorax", "head", "abdomen"]) == ("abdomen", "thorax")  # no tail name: last and first


@pytest.mark.parametrize(
    ("names", "posterior", "tail"),
    [
        (["nose", "tail_base", "tail_mid", "tail_tip"], None, ["tail_mid", "tail_tip"]),  # generated, SLEAP-style
        (["nose", "earl", "tailbase", "tailcentre", "tailtip"], None, ["tailcentre", "tailtip"]),  # oft-rearing
        (["Snout", "Front Paw R", "Butt/Proximal Tail"], None, []),  # bsoid-openfield: the root only
        (["tail", "spine4", "nose"], "tail", []),  # keypoint-MoSeq's example: a lone "tail" is the root
        (["nose", "Tail Base", "Tail1", "Tail2"], None, ["Tail1", "Tail2"]),
    ],
)
def test_guess_tail_keypoints(names, posterior, tail):
    assert guess_tail_keypoints(names, posterior) == tail
