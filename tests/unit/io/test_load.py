"""Tests of the pose file layer: behaviorlab.io.load / behaviorlab.io.save."""

from __future__ import annotations

import json
import time
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from behaviorlab.errors import FileFormatError, SchemaError
from behaviorlab.io import save as save_module
from behaviorlab.io.load import detect_source, load_poses
from behaviorlab.io.save import convert_poses, save_poses
from behaviorlab.schema import Skeleton, from_numpy, get_log, get_skeleton, validate_poses

# --------------------------------------------------------------------------- real files
# id: (path under shared/data, n_time, keypoints (first few or all), individuals, source_software)
REAL = {
    "dlc-openfield-h5": (
        "dlc-openfield/labeled-data/m4s1/CollectedData_Pranav.h5",
        116,
        ["snout", "leftear", "rightear", "tailbase"],
        ["individual_0"],
    ),
    "dlc-openfield-csv": (
        "dlc-openfield/labeled-data/m4s1/CollectedData_Pranav.csv",
        116,
        ["snout", "leftear", "rightear", "tailbase"],
        ["individual_0"],
    ),
    "lp-mirror": ("lp-mirror-mouse/CollectedData.csv", 90, 17, ["individual_0"]),
    "sleap-slp": ("sleap-centered-pair/centered_pair_predictions.slp", 1100, 24, 27),
    "sleap-legacy-h5": ("sleap-centered-pair/centered_pair_predictions.h5", 1100, 24, 27),
    "sleap-analysis-h5": ("sleap-single-fly/single_fly.h5", 3189, ["head", "thorax", "abdomen"], ["individual_0"]),
    "dlc-epm": ("dlc-epm-tracks/EPM_15DeepCut_resnet50_epmMay17shuffle1_1030000.csv", 962, 25, ["individual_0"]),
    "ethome": (
        "ethome-interact/e3v813a-20210610T122332-122642DLC_dlcrnetms5_pilot_studySep24shuffle1_100000_el_filtered.csv",
        5700,
        ["nose", "leftear", "rightear", "neck", "lefthip", "righthip", "tail"],
        ["adult", "juvenile"],
    ),
    "oft-12": ("oft-rearing/12_01_A_190507144429DeepCut_resnet50_Blockcourse1May9shuffle1_1030000.csv", 1998, 18, 1),
    "oft-8": ("oft-rearing/8_01_A_190507134142DeepCut_resnet50_Blockcourse1May9shuffle1_1030000.csv", 1998, 18, 1),
    "bsoid-1": ("bsoid-openfield/raw_clip1DLC_resnet50_OpenFieldHighResApr8shuffle1_1030000.csv", 7200, 6, 1),
    "bsoid-2": ("bsoid-openfield/raw_clip2DLC_resnet50_OpenFieldHighResApr8shuffle1_1030000.csv", 7200, 6, 1),
}
FORMATS = [".nc", ".csv", ".h5", ".slp", ".nwb"]

_cache: dict[str, xr.Dataset] = {}


def _load_real(shared_data: Path, key: str) -> xr.Dataset:
    if key not in _cache:
        _cache[key] = load_poses(shared_data / REAL[key][0])
    return _cache[key]


def _assert_same_poses(a: xr.Dataset, b: xr.Dataset, *, check_fps: bool = True) -> None:
    assert list(a["keypoint"].values) == list(b["keypoint"].values)
    assert list(a["individual"].values) == list(b["individual"].values)
    assert a["position"].shape == b["position"].shape
    pa, pb = a["position"].to_numpy(), b["position"].to_numpy()
    np.testing.assert_array_equal(np.isnan(pa), np.isnan(pb))
    np.testing.assert_allclose(pa, pb, rtol=1e-9, atol=1e-9, equal_nan=True)
    ca, cb = a["confidence"].to_numpy(), b["confidence"].to_numpy()
    np.testing.assert_array_equal(np.isnan(ca), np.isnan(cb))
    np.testing.assert_allclose(ca, cb, rtol=1e-6, atol=1e-7, equal_nan=True)
    if check_fps:
        assert a.attrs.get("fps") == b.attrs.get("fps")
        np.testing.assert_allclose(a["time"].to_numpy(), b["time"].to_numpy())


@pytest.mark.shared_data
@pytest.mark.parametrize("key", list(REAL))
def test_load_real_file_shapes_and_names(shared_data: Path, key: str) -> None:
    rel, n_time, keypoints, individuals = REAL[key]
    ds = _load_real(shared_data, key)
    validate_poses(ds)
    assert ds.sizes["time"] == n_time
    assert ds.sizes["space"] == 2
    if isinstance(keypoints, list):
        assert list(ds["keypoint"].values) == keypoints
    else:
        assert ds.sizes["keypoint"] == keypoints
    if isinstance(individuals, list):
        assert list(ds["individual"].values) == individuals
    else:
        assert ds.sizes["individual"] == individuals
    assert ds.attrs["source_file"] == str(shared_data / rel)
    assert ds.attrs["source_software"] in ("DeepLabCut", "SLEAP")
    assert ds.attrs["time_unit"] == "frames"
    assert get_log(ds)[-1]["operation"] == "load_poses"


def _dlc_frame(path: Path, n_header: int) -> pd.DataFrame:
    return pd.read_csv(path, header=list(range(n_header)), index_col=0)


@pytest.mark.shared_data
def test_dlc_openfield_values_match_pandas(shared_data: Path) -> None:
    folder = shared_data / "dlc-openfield/labeled-data/m4s1"
    df = pd.read_hdf(folder / "CollectedData_Pranav.h5")
    for key in ("dlc-openfield-h5", "dlc-openfield-csv"):
        ds = _load_real(shared_data, key)
        scorer = df.columns.get_level_values(0)[0]
        np.testing.assert_allclose(
            ds["position"].sel(keypoint="tailbase", space="y", individual="individual_0").to_numpy(),
            df[(scorer, "tailbase", "y")].to_numpy(),
        )
        assert np.isnan(ds["confidence"]).all()  # human labels carry no score
        assert ds["image_path"].values[0] == "labeled-data/m4s1/img0000.png"
    np.testing.assert_allclose(
        _load_real(shared_data, "dlc-openfield-csv")["position"].sel(keypoint="snout", individual="individual_0")[0],
        [21.521, 265.428],
    )


@pytest.mark.shared_data
def test_lp_mirror_keeps_nans(shared_data: Path) -> None:
    ds = _load_real(shared_data, "lp-mirror")
    df = _dlc_frame(shared_data / REAL["lp-mirror"][0], 3)
    values = df.to_numpy(dtype=float).reshape(90, 17, 2)
    np.testing.assert_array_equal(ds["position"].to_numpy()[:, :, :, 0], values.transpose(0, 2, 1))
    frac = np.isnan(values).mean()
    assert 0.05 < frac < 0.15
    assert ds["keypoint"].values[0] == "paw1LH_top"


@pytest.mark.shared_data
@pytest.mark.parametrize("key", ["dlc-epm", "bsoid-1", "oft-12"])
def test_dlc_prediction_values_match_pandas(shared_data: Path, key: str) -> None:
    path = shared_data / REAL[key][0]
    if key.startswith("oft"):  # pandas re-save: header labels in the 2nd column, an extra index column
        df = pd.read_csv(path, header=[1, 2], index_col=0).iloc[:, 1:]
        df.columns = pd.MultiIndex.from_tuples(list(df.columns))
    else:
        df = _dlc_frame(path, 3).droplevel(0, axis=1)
    ds = _load_real(shared_data, key)
    kp = str(ds["keypoint"].values[-1])
    sel = {"keypoint": kp, "individual": "individual_0"}
    np.testing.assert_allclose(ds["position"].sel(space="x", **sel).to_numpy(), df[(kp, "x")].to_numpy(float))
    np.testing.assert_allclose(ds["confidence"].sel(**sel).to_numpy(), df[(kp, "likelihood")].to_numpy(float))


@pytest.mark.shared_data
def test_oft_rearing_known_values(shared_data: Path) -> None:
    ds = _load_real(shared_data, "oft-12")
    assert list(ds["keypoint"].values[:5]) == ["tl", "tr", "bl", "br", "centre"]
    first = ds.isel(time=0, individual=0)
    np.testing.assert_allclose(first["position"].sel(keypoint="tl"), [2.2573689222335815, 6.148974895477295])
    np.testing.assert_allclose(first["confidence"].sel(keypoint="tr"), 0.9999998807907104)
    assert ds.attrs["dlc_scorer"] == "DeepCut_resnet50_Blockcourse1May9shuffle1_1030000"


@pytest.mark.shared_data
def test_ethome_multi_animal_values(shared_data: Path) -> None:
    ds = _load_real(shared_data, "ethome")
    df = _dlc_frame(shared_data / REAL["ethome"][0], 4).droplevel(0, axis=1)
    np.testing.assert_allclose(
        ds["position"].sel(individual="juvenile", keypoint="tail", space="y").to_numpy(),
        df[("juvenile", "tail", "y")].to_numpy(float),
    )
    np.testing.assert_allclose(ds["position"].isel(time=0).sel(individual="adult", keypoint="nose"), [606.248, 718.07])
    np.testing.assert_allclose(ds["confidence"].isel(time=0).sel(individual="adult", keypoint="nose"), 0.88880997896)


@pytest.mark.shared_data
def test_sleap_slp_and_legacy_h5_agree_with_h5py(shared_data: Path) -> None:
    slp = _load_real(shared_data, "sleap-slp")
    legacy = _load_real(shared_data, "sleap-legacy-h5")
    _assert_same_poses(slp, legacy)
    assert list(slp["individual"].values[:3]) == ["1", "2", "3"]
    assert slp["keypoint"].values[0] == "head"
    # frame 0, first instance, from the raw tables: track 0 ("1"), points 0..23 in skeleton node order
    with h5py.File(shared_data / REAL["sleap-slp"][0]) as f:
        inst = f["instances"][0]
        pts = f["pred_points"][inst["point_id_start"] : inst["point_id_end"]]
        frames = f["frames"][:]
    assert inst["track"] == 0
    np.testing.assert_allclose(slp["position"].isel(time=0, individual=0).to_numpy().T, np.c_[pts["x"], pts["y"]])
    np.testing.assert_allclose(slp["confidence"].isel(time=0, individual=0).to_numpy(), pts["score"])
    # one individual per instance of each frame (every instance is tracked, one per track)
    n_per_frame = (~np.isnan(slp["position"].isel(space=0)).all("keypoint")).sum("individual").to_numpy()
    np.testing.assert_array_equal(
        n_per_frame[frames["frame_idx"]], frames["instance_id_end"] - frames["instance_id_start"]
    )


@pytest.mark.shared_data
def test_sleap_slp_matches_sleap_io_numpy(shared_data: Path) -> None:
    import sleap_io as sio

    labels = sio.load_slp(str(shared_data / REAL["sleap-slp"][0]), open_videos=False)
    arr = labels.numpy(return_confidence=True)  # (frames, tracks, nodes, 3), float32
    ds = _load_real(shared_data, "sleap-slp")
    np.testing.assert_allclose(ds["position"].to_numpy(), arr[..., :2].transpose(0, 3, 2, 1), rtol=1e-6)
    np.testing.assert_allclose(ds["confidence"].to_numpy(), arr[..., 2].transpose(0, 2, 1), rtol=1e-6)


@pytest.mark.shared_data
def test_sleap_analysis_h5_values(shared_data: Path) -> None:
    ds = _load_real(shared_data, "sleap-analysis-h5")
    with h5py.File(shared_data / REAL["sleap-analysis-h5"][0]) as f:
        tracks = f["tracks"][:]  # (tracks, 2, nodes, frames)
        scores = f["point_scores"][:]
    np.testing.assert_array_equal(ds["position"].to_numpy(), tracks.transpose(3, 1, 2, 0))
    np.testing.assert_array_equal(ds["confidence"].to_numpy(), scores.transpose(2, 1, 0))
    assert np.isfinite(ds["position"]).any()


# --------------------------------------------------------------------------- round trips
def _generated(n_individuals: int = 2, *, fps: float | None = 30.0, seed: int = 0) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    n_t, n_k = 40, 4
    position = rng.uniform(0, 500, (n_t, 2, n_k, n_individuals))
    confidence = rng.uniform(0, 1, (n_t, n_k, n_individuals))
    position[3:6, :, 1, 0] = np.nan  # a keypoint lost for a few frames
    confidence[3:6, 1, 0] = np.nan
    position[10, :, :, -1] = np.nan  # a whole animal missing in one frame
    confidence[10, :, -1] = np.nan
    position[-1] = np.nan  # trailing empty frame must survive
    confidence[-1] = np.nan
    confidence[20, 2, 0] = np.nan  # a score missing where the position is known
    skeleton = Skeleton(["nose", "ear/left", "ear right", "tail"], edges=[("nose", "tail")])
    names = ["mouse A", "mouse/B", "c"][:n_individuals]
    return from_numpy(position, confidence, individuals=names, fps=fps, source_software="DeepLabCut", skeleton=skeleton)


@pytest.mark.parametrize("ext", FORMATS)
@pytest.mark.parametrize("n_individuals", [1, 2])
def test_generated_round_trip(tmp_path: Path, ext: str, n_individuals: int) -> None:
    ds = _generated(n_individuals)
    out = save_poses(ds, tmp_path / f"poses{ext}")
    back = load_poses(out, fps=None if ext in (".nc", ".slp", ".nwb") else 30.0)
    _assert_same_poses(ds, back)  # a named single animal is written in the layout that keeps its name
    assert back.attrs["fps"] == 30.0
    assert back.attrs["source_software"] == ("DeepLabCut" if ext in (".nc", ".nwb", ".csv", ".h5") else "SLEAP")
    assert not list(tmp_path.glob(".*tmp*"))  # no temporary files left over


@pytest.mark.parametrize("ext", [".csv", ".h5"])
def test_unnamed_single_animal_uses_single_animal_dlc_layout(tmp_path: Path, ext: str) -> None:
    ds = _generated(1).assign_coords(individual=["individual_0"])
    out = save_poses(ds, tmp_path / f"poses{ext}")
    if ext == ".csv":
        header = out.read_text().splitlines()[:3]
        assert [row.split(",")[0] for row in header] == ["scorer", "bodyparts", "coords"]
    _assert_same_poses(ds, load_poses(out, fps=30.0))


@pytest.mark.parametrize("ext", FORMATS)
def test_round_trip_without_fps(tmp_path: Path, ext: str) -> None:
    ds = _generated(2, fps=None)
    back = load_poses(save_poses(ds, tmp_path / f"poses{ext}"))
    _assert_same_poses(ds, back)
    assert "fps" not in back.attrs
    assert back.attrs["time_unit"] == "frames"


def test_netcdf_keeps_attrs_log_skeleton_and_string_coords(tmp_path: Path) -> None:
    ds = _generated(2).assign_coords(image_path=("time", [f"img{i:03d}.png" for i in range(40)]))
    back = load_poses(save_poses(ds, tmp_path / "poses.nc"))
    assert get_skeleton(back) == get_skeleton(ds)
    assert [e["operation"] for e in get_log(back)] == ["load_poses"]  # saving is not a processing step
    assert list(back["image_path"].values) == list(ds["image_path"].values)
    assert back.attrs["source_software"] == "DeepLabCut"
    xr.testing.assert_allclose(back[["position", "confidence"]], ds[["position", "confidence"]])


@pytest.mark.shared_data
@pytest.mark.parametrize("ext", FORMATS)
@pytest.mark.parametrize("key", list(REAL))
def test_real_round_trip(shared_data: Path, tmp_path: Path, key: str, ext: str) -> None:
    ds = _load_real(shared_data, key)
    if key.startswith("sleap") and ext == ".nwb":
        ds = ds.isel(individual=slice(0, 3))  # 27 tracks x 24 nodes = 648 NWB series: slow, nothing new
    if key.startswith("sleap") and ext == ".csv":
        ds = ds.isel(individual=slice(0, 6))
    ds = ds.assign_attrs(fps=25.0, time_unit="seconds").assign_coords(time=np.arange(ds.sizes["time"]) / 25.0)
    back = load_poses(save_poses(ds, tmp_path / f"out{ext}"), fps=25.0)
    _assert_same_poses(ds, back)
    if "image_path" in ds.coords and ext in (".nc", ".csv", ".h5"):
        assert list(back["image_path"].values) == list(ds["image_path"].values)


# --------------------------------------------------------------------------- other layouts
def test_movement_netcdf_loads_without_conversion(tmp_path: Path) -> None:
    # as movement's ValidPosesInputs.to_dataset builds it: plural dims, (time, space, keypoints, individuals)
    rng = np.random.default_rng(1)
    n_t = 25
    position = rng.normal(100, 10, (n_t, 2, 3, 2))
    confidence = rng.uniform(0, 1, (n_t, 3, 2))
    ds = xr.Dataset(
        data_vars={
            "position": xr.DataArray(position, dims=("time", "space", "keypoints", "individuals")),
            "confidence": xr.DataArray(confidence, dims=("time", "keypoints", "individuals")),
        },
        coords={
            "time": np.arange(n_t) / 50.0,
            "space": ["x", "y"],
            "keypoints": ["snout", "centroid", "tail_base"],
            "individuals": ["id_0", "id_1"],
        },
        attrs={"source_software": "SLEAP", "ds_type": "poses", "fps": 50.0, "time_unit": "seconds", "log": "[]"},
    )
    ds.to_netcdf(tmp_path / "movement.nc", engine="h5netcdf")
    back = load_poses(tmp_path / "movement.nc")
    assert back["position"].dims == ("time", "space", "keypoint", "individual")
    assert list(back["keypoint"].values) == ["snout", "centroid", "tail_base"]
    assert back.attrs["fps"] == 50.0
    np.testing.assert_array_equal(back["position"].to_numpy(), position)
    np.testing.assert_array_equal(back["confidence"].to_numpy(), confidence)
    assert detect_source(tmp_path / "movement.nc") == "netcdf"


def test_madlc_unique_bodyparts_and_sparse_frames(tmp_path: Path) -> None:
    path = tmp_path / "maDLC.csv"
    lines = [
        "scorer" + ",s" * 9,
        "individuals,m1,m1,m1,m2,m2,m2,single,single,single",
        "bodyparts,nose,nose,nose,nose,nose,nose,led,led,led",
        "coords,x,y,likelihood,x,y,likelihood,x,y,likelihood",
        "0,1,2,0.9,3,4,0.8,5,6,0.7",
        "2,11,12,0.5,,,,15,16,0.6",
    ]
    path.write_text("\n".join(lines) + "\n")
    ds = load_poses(path)
    assert list(ds["individual"].values) == ["m1", "m2", "single"]
    assert list(ds["keypoint"].values) == ["nose", "led"]
    assert ds.sizes["time"] == 3  # frame 1 is absent: a NaN row
    assert np.isnan(ds["position"].isel(time=1)).all()
    np.testing.assert_array_equal(ds["position"].sel(individual="single", keypoint="led").isel(time=2), [15, 16])
    assert np.isnan(ds["position"].sel(individual="single", keypoint="nose")).all()
    assert np.isnan(ds["position"].sel(individual="m1", keypoint="led")).all()
    assert np.isnan(ds["position"].sel(individual="m2").isel(time=2)).all()
    # written back, "single" keeps only its own bodypart
    out = save_poses(ds, tmp_path / "again.csv")
    header = out.read_text().splitlines()[1].split(",")
    assert header.count("single") == 3
    _assert_same_poses(ds, load_poses(out))


def test_dlc_collected_data_with_three_level_index(tmp_path: Path) -> None:
    # DeepLabCut >= 2.2 labeled-data: row index (labeled-data, video, image)
    index = pd.MultiIndex.from_tuples([("labeled-data", "vid", f"img{i}.png") for i in range(3)])
    columns = pd.MultiIndex.from_product([["me"], ["a", "b"], ["x", "y"]], names=["scorer", "bodyparts", "coords"])
    df = pd.DataFrame(np.arange(12.0).reshape(3, 4), index=index, columns=columns)
    df.to_csv(tmp_path / "CollectedData_me.csv")
    df.to_hdf(tmp_path / "CollectedData_me.h5", key="keypoints")  # DeepLabCut writes these "fixed"
    for name in ("CollectedData_me.csv", "CollectedData_me.h5"):
        ds = load_poses(tmp_path / name)
        assert list(ds["image_path"].values) == [f"labeled-data/vid/img{i}.png" for i in range(3)]
        np.testing.assert_array_equal(ds["position"].isel(individual=0, time=2).to_numpy(), [[8, 10], [9, 11]])
        assert np.isnan(ds["confidence"]).all()


def test_fps_argument_wins_over_file(tmp_path: Path) -> None:
    out = save_poses(_generated(1, fps=30.0), tmp_path / "p.slp")
    ds = load_poses(out, fps=10.0)
    assert ds.attrs["fps"] == 10.0
    np.testing.assert_allclose(ds["time"].to_numpy()[:3], [0.0, 0.1, 0.2])
    nc = save_poses(_generated(1, fps=30.0), tmp_path / "p.nc")
    ds = load_poses(nc, fps=10.0)
    np.testing.assert_allclose(ds["time"].to_numpy()[:3], [0.0, 0.1, 0.2])


def test_skeleton_mismatch_names_the_file(tmp_path: Path) -> None:
    path = save_poses(_generated(1), tmp_path / "p.csv")
    ok = Skeleton(["nose", "ear/left", "ear right", "tail"])
    assert get_skeleton(load_poses(path, skeleton=ok)) == ok
    with pytest.raises(SchemaError, match=r"p\.csv.*missing \['snout'\]"):
        load_poses(path, skeleton=Skeleton(["snout", "ear/left", "ear right", "tail"]))


def test_convert_poses(tmp_path: Path) -> None:
    src = save_poses(_generated(2), tmp_path / "a.csv")
    dst = convert_poses(src, tmp_path / "b.nwb", fps=30.0)
    _assert_same_poses(load_poses(src, fps=30.0), load_poses(dst))


def test_source_forces_format(tmp_path: Path) -> None:
    path = save_poses(_generated(1), tmp_path / "p.csv")
    renamed = path.rename(tmp_path / "p.txt")
    with pytest.raises(FileFormatError, match=r"p\.txt.*unsupported extension"):
        load_poses(renamed)
    assert load_poses(renamed, source="dlc").sizes["time"] == 40


# --------------------------------------------------------------------------- bad inputs
def _bad_csv(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("empty.csv", "", "empty"),
        ("nocoords.csv", "scorer,s,s\nbodyparts,a,a\n0,1,2\n", "no 'coords' row"),
        ("text.csv", "scorer,s,s\nbodyparts,a,a\ncoords,x,y\n0,1,2\n1,abc,3\n", "non-numeric value 'abc'"),
        ("plain.csv", "a,b,c\n1,2,3\n", "not a DeepLabCut pose table"),
        ("headeronly.csv", "scorer,s,s\nbodyparts,a,a\ncoords,x,y\n", "no data rows"),
        ("badcoords.csv", "scorer,s,s\nbodyparts,a,a\ncoords,x,q\n0,1,2\n", "unknown entries"),
        ("ragged.csv", "scorer,s,s\nbodyparts,a,a\ncoords,x,y\n0,1,2,4,5\n", "malformed"),
        ("poses.xyz", "whatever", "unsupported extension"),
        ("fake.h5", "not hdf5 at all", "not an HDF5 file"),
        ("fake.slp", "not hdf5 at all", "not a SLEAP file"),
        ("fake.nc", "not netcdf", "netCDF"),
        ("fake.nwb", "not nwb", "could not be read"),
    ],
)
def test_bad_input_raises_one_file_format_error(tmp_path: Path, name: str, content: str, problem: str) -> None:
    path = _bad_csv(tmp_path, name, content)
    with pytest.raises(FileFormatError) as info:
        load_poses(path)
    message = str(info.value)
    assert name in message
    assert problem in message
    assert info.value.path == path


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileFormatError, match=r"nothere\.csv: the file does not exist"):
        load_poses(tmp_path / "nothere.csv")


def test_h5_neither_dlc_nor_sleap(tmp_path: Path) -> None:
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f["images"] = np.zeros((2, 3))
    with pytest.raises(FileFormatError, match=r"other\.h5.*neither a DeepLabCut.*\['images'\]"):
        load_poses(path)
    with pytest.raises(FileFormatError, match=r"other\.h5.*not a SLEAP"):
        load_poses(path, source="sleap")
    with pytest.raises(FileFormatError, match=r"other\.h5"):
        load_poses(path, source="dlc")


def test_nwb_without_pose_estimation(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    import pynwb

    path = tmp_path / "empty.nwb"
    nwbfile = pynwb.NWBFile(session_description="x", identifier="x", session_start_time=datetime.now(UTC))
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwbfile)
    with pytest.raises(FileFormatError, match=r"empty\.nwb.*no ndx-pose PoseEstimation"):
        load_poses(path)


# --------------------------------------------------------------------------- writing
def test_refuses_invalid_dataset(tmp_path: Path) -> None:
    ds = _generated(1)
    bad = ds.assign(confidence=ds["confidence"].transpose("keypoint", "time", "individual").fillna(0).astype(int))
    bad = bad.drop_vars("position")
    with pytest.raises(SchemaError, match=r"out\.nc"):
        save_poses(bad, tmp_path / "out.nc")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("name", "fmt", "problem"),
    [("out.txt", None, "cannot tell the pose format"), ("out.csv", "nwb", "needs one of the extensions")],
)
def test_bad_destination(tmp_path: Path, name: str, fmt: str | None, problem: str) -> None:
    with pytest.raises(FileFormatError, match=problem) as info:
        save_poses(_generated(1), tmp_path / name, format=fmt)
    assert name in str(info.value)
    assert not list(tmp_path.iterdir())


def test_sleap_refuses_3d(tmp_path: Path) -> None:
    ds = from_numpy(np.zeros((3, 3, 2, 1)))
    with pytest.raises(FileFormatError, match=r"out\.slp.*2-D"):
        save_poses(ds, tmp_path / "out.slp")


@pytest.mark.parametrize("ext", FORMATS)
def test_failed_write_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ext: str) -> None:
    def half_write_then_fail(ds: xr.Dataset, path: Path, **kwargs: object) -> None:
        path.write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(save_module, "_write_netcdf", half_write_then_fail)
    monkeypatch.setattr(save_module, "_write_nwb", half_write_then_fail)
    monkeypatch.setattr(save_module, "write_dlc", half_write_then_fail)
    monkeypatch.setattr(save_module, "write_slp", half_write_then_fail)
    target = tmp_path / f"poses{ext}"
    with pytest.raises(OSError, match="disk full"):
        save_poses(_generated(1), target)
    assert list(tmp_path.iterdir()) == []
    # an existing file is left untouched
    target.write_text("previous version")
    with pytest.raises(OSError, match="disk full"):
        save_poses(_generated(1), target)
    assert target.read_text() == "previous version"
    assert list(tmp_path.iterdir()) == [target]


# --------------------------------------------------------------------------- speed
@pytest.mark.slow
def test_large_dlc_csv_loads_in_seconds(tmp_path: Path) -> None:
    n_t, n_k = 108_000, 8
    rng = np.random.default_rng(2)
    columns = pd.MultiIndex.from_product(
        [["DLC_resnet50"], [f"kp{k}" for k in range(n_k)], ["x", "y", "likelihood"]],
        names=["scorer", "bodyparts", "coords"],
    )
    pd.DataFrame(rng.uniform(0, 1, (n_t, n_k * 3)).round(4), columns=columns).to_csv(tmp_path / "big.csv")
    start = time.perf_counter()
    ds = load_poses(tmp_path / "big.csv", fps=30)
    elapsed = time.perf_counter() - start
    assert ds.sizes["time"] == n_t
    assert elapsed < 10, f"loading took {elapsed:.1f} s"
    assert json.loads(ds.attrs["log"])[-1]["fps"] == 30


def test_save_and_load_netcdf_round_trip_any_dataset_and_check_variables(tmp_path):
    import xarray as xr

    from behaviorlab.errors import FileFormatError
    from behaviorlab.io import load_netcdf, save_netcdf

    ds = xr.Dataset(
        {"cluster": (("time", "individual"), np.arange(6).reshape(3, 2))},
        coords={"time": [0.0, 0.1, 0.2], "individual": ["a", "b"]},
        attrs={"session": "s1", "params": {"k": 1}},
    )
    path = save_netcdf(ds, tmp_path / "labels.nc")
    back = load_netcdf(path, ["cluster"])
    np.testing.assert_array_equal(back["cluster"].values, ds["cluster"].values)
    assert back.attrs["params"] == '{"k": 1}'
    with pytest.raises(FileFormatError, match=r"labels\.nc.*has no 'state'"):
        load_netcdf(path, ["state"])
    with pytest.raises(FileFormatError, match=r"\.nc"):
        save_netcdf(ds, tmp_path / "labels.csv")
    # select: only the chosen variables are read, with the coords and attrs
    two = save_netcdf(ds.assign(state=ds["cluster"] * 2), tmp_path / "two.nc")
    only = load_netcdf(two, select=["state"])
    assert list(only.data_vars) == ["state"]
    np.testing.assert_array_equal(only["state"].values, ds["cluster"].values * 2)
    assert list(only["individual"].values) == ["a", "b"]
    assert only.attrs["session"] == "s1"
    with pytest.raises(FileFormatError, match=r"two\.nc.*has no 'speed'"):
        load_netcdf(two, select=["state", "speed"])


def test_large_variables_are_saved_gzipped_in_time_chunks_and_read_back_exactly(tmp_path):
    import h5py
    import xarray as xr

    from behaviorlab.io import load_netcdf, save_netcdf
    from behaviorlab.io.save import CHUNK_BYTES

    rng = np.random.default_rng(0)
    n = 20_000
    spectrogram = np.zeros((n, 1, 40, 25), np.float32)  # like a spectrogram whose non-postural rows are zero
    spectrogram[:, :, :10] = rng.random((n, 1, 10, 25), dtype=np.float32)
    ds = xr.Dataset(
        {
            "spectrogram": (("time", "individual", "feature", "frequency"), spectrogram),
            "small": (("time",), np.arange(n, dtype=np.int64)),
        },
        coords={"time": np.arange(n) / 30.0},
    )
    path = save_netcdf(ds, tmp_path / "features.nc")
    raw = spectrogram.nbytes
    assert path.stat().st_size < 0.4 * raw  # the zero rows cost next to nothing
    with h5py.File(path) as f:
        chunks = f["spectrogram"].chunks
        assert f["spectrogram"].compression == "gzip"
        assert chunks[1:] == (1, 40, 25)
        assert chunks[0] * 40 * 25 * 4 <= CHUNK_BYTES
        assert f["small"].compression is None  # small variables stay plain
    back = load_netcdf(path)
    xr.testing.assert_equal(back, ds)
    # a Dataset read from such a file saves again, sliced or not (old chunk sizes are not carried over)
    again = save_netcdf(back.isel(time=slice(0, 50)), tmp_path / "slice.nc")
    xr.testing.assert_equal(load_netcdf(again), ds.isel(time=slice(0, 50)))
