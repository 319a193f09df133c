"""Plain CSV pose tables (generic and SLEAP's export), session names and DeepLabCut's pcutoff."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from behaviorlab.errors import FileFormatError
from behaviorlab.io.load import detect_source, find_dlc_pcutoff, load_poses, session_name
from behaviorlab.schema import from_numpy
from behaviorlab.trajectories.filtering import DEEPLABCUT_PCUTOFF, clean_poses, resolve_confidence_threshold


def test_a_generic_table_loads_with_frames_gaps_and_confidence(tmp_path):
    table = pd.DataFrame(
        {
            "frame": [10, 11, 13],  # frame 12 is not in the file: NaN there
            "snout_x": [1.0, 2.0, 3.0],
            "snout_y": [4.0, 5.0, 6.0],
            "snout_p": [0.9, 0.8, 0.7],
            "Tail Base.X": [7.0, 8.0, np.nan],
            "Tail Base.Y": [1.0, 1.0, 1.0],
            "notes": ["a", "b", "c"],  # ignored
        }
    )
    path = tmp_path / "tracks.csv"
    table.to_csv(path, index=False)
    assert detect_source(path) == "csv"
    ds = load_poses(path, fps=25)
    assert ds["keypoint"].values.tolist() == ["snout", "Tail Base"]
    assert ds.sizes["time"] == 4
    assert ds["frame"].values.tolist() == [10, 11, 12, 13]
    xy = ds["position"].sel(keypoint="snout", individual="individual_0").transpose("time", "space").values
    np.testing.assert_array_equal(xy[[0, 1, 3]], [[1, 4], [2, 5], [3, 6]])
    assert np.isnan(xy[2]).all()
    np.testing.assert_allclose(ds["confidence"].sel(keypoint="snout").values[[0, 3], 0], [0.9, 0.7])
    assert np.isnan(ds["confidence"].sel(keypoint="Tail Base").values).all()  # no score column: unknown
    assert ds.attrs["fps"] == 25


def test_a_long_table_with_an_animal_column_and_a_custom_pattern(tmp_path):
    table = pd.DataFrame(
        {
            "frame": [0, 0, 1, 1],
            "animal": ["m1", "m2", "m1", "m2"],
            "pos:nose:x": [1.0, 10.0, 2.0, 20.0],
            "pos:nose:y": [1.0, 10.0, 2.0, 20.0],
        }
    )
    path = tmp_path / "long.csv"
    table.to_csv(path, index=False)
    with pytest.raises(FileFormatError, match="--csv-columns"):
        load_poses(path, source="csv")
    ds = load_poses(path, source="csv", csv_columns=r"^pos:(?P<keypoint>\w+):(?P<coord>[xy])$", fps=30)
    assert ds["individual"].values.tolist() == ["m1", "m2"]
    assert ds["position"].sel(keypoint="nose", individual="m2", space="x").values.tolist() == [10.0, 20.0]


@pytest.mark.shared_data
def test_sleap_csv_export_loads_like_the_analysis_file(shared_data, tmp_path):
    ds = load_poses(shared_data / "sleap-single-fly" / "single_fly.h5")
    # the layout SLEAP's "Export Analysis CSV" writes: one row per instance and frame
    pos = ds["position"].isel(individual=0).transpose("time", "keypoint", "space").values
    conf = ds["confidence"].isel(individual=0).transpose("time", "keypoint").values
    rows = {"track": [""] * len(pos), "frame_idx": np.arange(len(pos)), "instance.score": np.ones(len(pos))}
    for k, name in enumerate(ds["keypoint"].values):
        rows[f"{name}.x"], rows[f"{name}.y"], rows[f"{name}.score"] = pos[:, k, 0], pos[:, k, 1], conf[:, k]
    path = tmp_path / "single_fly.analysis.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    assert detect_source(path) == "sleap_csv"
    back = load_poses(path, fps=ds.attrs.get("fps"))
    assert back.attrs["source_software"] == "SLEAP"
    assert back["keypoint"].values.tolist() == ds["keypoint"].values.tolist()
    np.testing.assert_allclose(
        back["position"].isel(individual=0).transpose("time", "keypoint", "space").values, pos, equal_nan=True
    )
    np.testing.assert_allclose(back["confidence"].isel(individual=0).values, ds["confidence"].isel(individual=0).values)


@pytest.mark.shared_data
def test_session_names_drop_deeplabcut_scorer_suffixes(shared_data):
    names = {session_name(p) for p in shared_data.glob("*/*DLC_*.csv")} | {
        session_name(p) for p in shared_data.glob("*/*DeepCut_*.csv")
    }
    assert {"12_01_A_190507144429", "8_01_A_190507134142", "EPM_15", "raw_clip1", "raw_clip2"} <= names
    assert "e3v813a-20210610T122332-122642" in names  # the name the lab's BORIS files carry
    assert session_name("mouse1DLC_Resnet50_openfieldMay1shuffle1_snapshot_200_filtered.h5") == "mouse1"
    assert session_name("session_a.predictions.slp") == "session_a"


@pytest.mark.shared_data
def test_deeplabcut_pcutoff_comes_from_the_project_config(shared_data, tmp_path):
    labels = shared_data / "dlc-openfield" / "labeled-data" / "m4s1" / "CollectedData_Pranav.h5"
    assert find_dlc_pcutoff(labels) == (0.4, (shared_data / "dlc-openfield" / "config.yaml").resolve())
    ds = load_poses(labels)
    assert ds.attrs["pcutoff"] == 0.4
    assert resolve_confidence_threshold(ds, "auto") == 0.4
    # DeepLabCut poses without their project: DeepLabCut's default pcutoff
    tracks = load_poses(
        shared_data / "ethome-interact" / next(p.name for p in (shared_data / "ethome-interact").glob("*.csv"))
    )
    assert "pcutoff" not in tracks.attrs
    assert resolve_confidence_threshold(tracks, "auto") == DEEPLABCUT_PCUTOFF
    cleaned = clean_poses(tracks)
    assert json.loads(cleaned.attrs["log"])[-1]["confidence_threshold_used"] == DEEPLABCUT_PCUTOFF
    low = (tracks["confidence"] < DEEPLABCUT_PCUTOFF) & tracks["position"].notnull().all("space")
    assert int(cleaned["cleaning_masked"].sum()) >= int(low.sum()) > 0  # the low-likelihood points are masked


def test_poses_of_our_own_or_unknown_tools_are_not_masked_by_default():
    ds = from_numpy(np.zeros((5, 2, 2, 1)), np.full((5, 2, 1), 0.05), keypoints=["a", "b"], fps=30)
    assert resolve_confidence_threshold(ds, "auto") is None
    assert resolve_confidence_threshold(ds, 0.3) == 0.3
    assert resolve_confidence_threshold(ds, None) is None
