"""Tests of behaviorlab.io.exports: Excel workbooks, session NWB files and SimBA CSV."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from behaviorlab.errors import FileFormatError, SchemaError
from behaviorlab.io import exports
from behaviorlab.io.exports import (
    BOUT_TABLE_COLUMNS,
    read_nwb_bouts,
    write_excel,
    write_session_nwb,
    write_simba_csv,
)
from behaviorlab.io.load import load_poses
from behaviorlab.schema import from_numpy

FPS = 30.0


# --------------------------------------------------------------------------- fixtures
def _poses(individuals: list[str], n_time: int = 20, seed: int = 0) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    position = rng.uniform(0, 100, size=(n_time, 2, 3, len(individuals)))
    position[1, :, 1, 0] = np.nan  # a missing keypoint
    confidence = rng.uniform(0, 1, size=(n_time, 3, len(individuals)))
    confidence[1, 1, 0] = np.nan
    return from_numpy(
        position,
        confidence,
        keypoints=["nose", "ear/left", "tail"],
        individuals=individuals,
        fps=FPS,
        source_software="DeepLabCut",
    )


def _bouts(session: str, rows: list[tuple[str, str, int, int, bool]]) -> pd.DataFrame:
    start = np.array([r[2] for r in rows], dtype=np.int64)
    end = np.array([r[3] for r in rows], dtype=np.int64)
    return pd.DataFrame(
        {
            "session": [session] * len(rows),
            "individual": [r[0] for r in rows],
            "source": ["classifier"] * len(rows),
            "behavior": [r[1] for r in rows],
            "start_frame": start,
            "end_frame": end,
            "start_s": start / FPS,
            "duration_s": (end - start + 1) / FPS,
            "truncated": np.array([r[4] for r in rows], dtype=bool),
        },
        columns=list(BOUT_TABLE_COLUMNS),
    )


TWO_BOUTS = [
    ("mouse1", "grooming", 0, 4, True),
    ("mouse1", "rearing", 7, 9, False),
    ("mouse2", "grooming", 2, 2, False),
    ("mouse2", "rearing", 11, 19, True),
]


# --------------------------------------------------------------------------- Excel
def _tables() -> dict[str, pd.DataFrame]:
    bouts = _bouts("s1", TWO_BOUTS)
    bouts.loc[1, "start_s"] = np.nan
    stamps = pd.to_datetime(["2024-05-01 10:30:00", "2024-05-01 23:15:00"])
    times = pd.DataFrame({"session": ["s1", "s2"], "local": stamps, "aware": stamps.tz_localize("Europe/Berlin")})
    empty = pd.DataFrame({"session": pd.Series(dtype=str), "count": pd.Series(dtype=np.int64)})
    return {"bouts": bouts, "times": times, "empty": empty}


def test_excel_round_trip(tmp_path: Path) -> None:
    tables = _tables()
    before = {name: table.copy(deep=True) for name, table in tables.items()}
    path = write_excel(tables, tmp_path / "results.xlsx")
    assert path == tmp_path / "results.xlsx"
    back = pd.read_excel(path, sheet_name=None)
    assert list(back) == ["bouts", "times", "empty"]
    pd.testing.assert_frame_equal(back["bouts"], tables["bouts"])  # ints, floats with NaN, bools, strings
    expected = tables["times"].copy()
    # Excel has no timezones: 10:30 and 23:15 in Berlin (summer time, UTC+2) are written as 08:30 and 21:15 UTC
    expected["aware"] = pd.to_datetime(["2024-05-01 08:30:00", "2024-05-01 21:15:00"])
    pd.testing.assert_frame_equal(back["times"], expected, check_dtype=False)
    assert str(back["times"]["aware"].dtype).startswith("datetime64")
    assert list(back["empty"].columns) == ["session", "count"]
    assert len(back["empty"]) == 0
    for name, table in tables.items():  # inputs are not modified
        pd.testing.assert_frame_equal(table, before[name])


def test_excel_named_index_becomes_columns(tmp_path: Path) -> None:
    table = pd.DataFrame({"time_s": [1.5, 2.5]}, index=pd.Index(["a", "b"], name="behavior"))
    back = pd.read_excel(write_excel({"budget": table}, tmp_path / "x.xlsx"), sheet_name="budget")
    pd.testing.assert_frame_equal(back, table.reset_index())


def test_excel_sheet_names_safe_and_unique(tmp_path: Path) -> None:
    long = "time_budget_per_individual_and_session"  # 38 characters
    tables = {
        long + "_A": pd.DataFrame({"x": [1]}),
        long + "_B": pd.DataFrame({"x": [2]}),
        "bouts [s1]: a/b\\c?*": pd.DataFrame({"x": [3]}),
        "BOUTS _S1__ A_B_C__": pd.DataFrame({"x": [4]}),  # clashes with the previous one, ignoring case
    }
    back = pd.read_excel(write_excel(tables, tmp_path / "x.xlsx"), sheet_name=None)
    assert list(back) == [long[:31], long[:29] + "~2", "bouts _s1__ a_b_c__", "BOUTS _S1__ A_B_C__~2"]
    assert [int(frame["x"].iloc[0]) for frame in back.values()] == [1, 2, 3, 4]


def test_excel_too_many_rows_names_the_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exports, "EXCEL_MAX_ROWS", 3)
    tables = {"small": pd.DataFrame({"x": [1, 2, 3]}), "frames": pd.DataFrame({"x": [1, 2, 3, 4]})}
    with pytest.raises(ValueError, match=r"table 'frames' has 4 rows.*CSV or Parquet"):
        write_excel(tables, tmp_path / "x.xlsx")
    assert list(tmp_path.iterdir()) == []


def test_excel_failed_write_keeps_previous_file(tmp_path: Path) -> None:
    path = write_excel({"a": pd.DataFrame({"x": [1]})}, tmp_path / "x.xlsx")
    previous = path.read_bytes()
    bad = {"good": pd.DataFrame({"x": [1]}), "notes": pd.DataFrame({"text": ["ok", "bell\x07"]})}
    with pytest.raises(FileFormatError, match=r"x\.xlsx.*table 'notes'"):
        write_excel(bad, path)
    assert path.read_bytes() == previous
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_excel_refuses_bad_input(tmp_path: Path) -> None:
    with pytest.raises(FileFormatError, match=r"\.xlsx"):
        write_excel({"a": pd.DataFrame({"x": [1]})}, tmp_path / "x.xls")
    with pytest.raises(FileFormatError, match="no tables"):
        write_excel({}, tmp_path / "x.xlsx")
    columns = pd.MultiIndex.from_tuples([("a", "x"), ("a", "y")])
    with pytest.raises(FileFormatError, match="table 'multi' has MultiIndex columns"):
        write_excel({"multi": pd.DataFrame([[1, 2]], columns=columns)}, tmp_path / "x.xlsx")
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- NWB
def test_session_nwb_round_trip_with_poses(tmp_path: Path) -> None:
    import pynwb

    poses = _poses(["mouse1", "mouse2"])
    bouts = _bouts("s1", TWO_BOUTS)
    poses_before, bouts_before = poses.copy(deep=True), bouts.copy(deep=True)
    metadata = {"session_start_time": "2024-05-01T10:30:00+02:00", "experimenter": "A. Rater", "group": "control"}
    path = write_session_nwb(tmp_path / "s1.nwb", session="s1", bouts=bouts, poses=poses, metadata=metadata)

    with pynwb.NWBHDF5IO(str(path), mode="r") as io:
        nwbfile = io.read()
        assert nwbfile.session_id == "s1"
        assert "s1" in nwbfile.session_description
        assert nwbfile.session_start_time == datetime(2024, 5, 1, 8, 30, tzinfo=UTC)
        assert list(nwbfile.experimenter) == ["A. Rater"]
        assert nwbfile.subject is None  # two animals: an NWB subject is one
        assert json.loads(nwbfile.notes)["behaviorlab"]["metadata"] == {"group": "control"}
        behavior = nwbfile.processing["behavior"]
        for i, individual in enumerate(["mouse1", "mouse2"]):
            pe = behavior[f"PoseEstimation_{individual}"]
            for k, keypoint in enumerate(["nose", "ear%2Fleft", "tail"]):
                series = pe.pose_estimation_series[keypoint]
                assert series.rate == FPS
                np.testing.assert_array_equal(series.data[:], poses["position"].to_numpy()[:, :, k, i])
                np.testing.assert_array_equal(series.confidence[:], poses["confidence"].to_numpy()[:, k, i])
        table = nwbfile.intervals["behavior_bouts"]
        np.testing.assert_allclose(table["stop_time"].data[:], bouts["start_s"] + bouts["duration_s"])

    back = read_nwb_bouts(path)
    pd.testing.assert_frame_equal(back, bouts)
    assert back["start_frame"].dtype == np.int64
    assert back["truncated"].dtype == bool
    # the poses read back as save_poses writes them
    loaded = load_poses(path)
    np.testing.assert_array_equal(loaded["position"].to_numpy(), poses["position"].to_numpy())
    assert list(loaded["individual"].values) == ["mouse1", "mouse2"]
    assert list(loaded["keypoint"].values) == ["nose", "ear/left", "tail"]
    assert loaded.attrs["fps"] == FPS
    xr.testing.assert_identical(poses, poses_before)
    pd.testing.assert_frame_equal(bouts, bouts_before)


def test_session_nwb_one_individual_has_subject(tmp_path: Path) -> None:
    import pynwb

    poses = _poses(["mouse1"])
    bouts = _bouts("s2", TWO_BOUTS[:2])
    metadata = {"subject": "mouse1", "species": "Mus musculus", "sex": "F"}
    path = write_session_nwb(tmp_path / "s2.nwb", session="s2", bouts=bouts, poses=poses, metadata=metadata)
    with pynwb.NWBHDF5IO(str(path), mode="r") as io:
        subject = io.read().subject
        assert (subject.subject_id, subject.species, subject.sex) == ("mouse1", "Mus musculus", "F")
    assert list(load_poses(path)["individual"].values) == ["mouse1"]
    pd.testing.assert_frame_equal(read_nwb_bouts(path), bouts)
    with pytest.raises(ValueError, match=r"subject 'rat7'.*'mouse1'"):
        write_session_nwb(tmp_path / "bad.nwb", session="s2", bouts=bouts, poses=poses, metadata={"individual": "rat7"})
    assert not (tmp_path / "bad.nwb").exists()


def test_session_nwb_without_poses(tmp_path: Path) -> None:
    import pynwb

    bouts = _bouts("s3", TWO_BOUTS[2:])
    path = write_session_nwb(tmp_path / "s3.nwb", session="s3", bouts=bouts.drop(columns="session"))
    with pynwb.NWBHDF5IO(str(path), mode="r") as io:
        nwbfile = io.read()
        assert nwbfile.session_id == "s3"
        assert len(nwbfile.processing) == 0
        assert nwbfile.subject.subject_id == "mouse2"
        assert nwbfile.session_start_time.tzinfo is not None
    pd.testing.assert_frame_equal(read_nwb_bouts(path), bouts)


def test_session_nwb_empty_bouts_and_missing_seconds(tmp_path: Path) -> None:
    empty = _bouts("s4", [])
    back = read_nwb_bouts(write_session_nwb(tmp_path / "e.nwb", session="s4", bouts=empty))
    assert list(back.columns) == list(BOUT_TABLE_COLUMNS)
    assert len(back) == 0
    assert back["end_frame"].dtype == np.int64
    assert back["truncated"].dtype == bool

    bouts = _bouts("s4", TWO_BOUTS)
    bouts.loc[[0, 2], ["start_s", "duration_s"]] = np.nan
    with pytest.raises(SchemaError, match="fps="):
        write_session_nwb(tmp_path / "f.nwb", session="s4", bouts=bouts)
    back = read_nwb_bouts(write_session_nwb(tmp_path / "f.nwb", session="s4", bouts=bouts, fps=FPS))
    pd.testing.assert_frame_equal(back, _bouts("s4", TWO_BOUTS))


def test_session_nwb_refuses_bad_input(tmp_path: Path) -> None:
    bouts = _bouts("s1", TWO_BOUTS)
    with pytest.raises(ValueError, match=r"session\(s\) \['s1'\] besides 's9'"):
        write_session_nwb(tmp_path / "x.nwb", session="s9", bouts=bouts)
    with pytest.raises(SchemaError, match=r"lacks the column\(s\) \['truncated'\]"):
        write_session_nwb(tmp_path / "x.nwb", session="s1", bouts=bouts.drop(columns="truncated"))
    with pytest.raises(ValueError, match=r"fps=25\.0 disagrees"):
        write_session_nwb(tmp_path / "x.nwb", session="s1", bouts=bouts, poses=_poses(["mouse1", "mouse2"]), fps=25.0)
    with pytest.raises(ValueError, match="session_start_time"):
        write_session_nwb(tmp_path / "x.nwb", session="s1", bouts=bouts, metadata={"session_start_time": "soon"})
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "plain.nwb").write_text("not an NWB file")
    with pytest.raises(FileFormatError, match=r"plain\.nwb"):
        read_nwb_bouts(tmp_path / "plain.nwb")


def test_session_nwb_failed_write_keeps_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pynwb

    bouts = _bouts("s1", TWO_BOUTS)
    path = write_session_nwb(tmp_path / "s1.nwb", session="s1", bouts=bouts)
    previous = path.read_bytes()

    def fail(self: object, *args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(pynwb.NWBHDF5IO, "write", fail)
    with pytest.raises(OSError, match="disk full"):
        write_session_nwb(path, session="s1", bouts=bouts.iloc[:1])
    assert path.read_bytes() == previous
    assert list(tmp_path.iterdir()) == [path]


# --------------------------------------------------------------------------- SimBA
def _labels(values: np.ndarray, individuals: list[str], behaviors: list[str]) -> xr.DataArray:
    return xr.DataArray(
        values,
        dims=("time", "individual", "behavior"),
        coords={"individual": individuals, "behavior": behaviors},
        attrs={"fps": FPS},
    )


def test_simba_csv_two_individuals(tmp_path: Path) -> None:
    n = 20
    rng = np.random.default_rng(1)
    values = rng.integers(0, 2, size=(n, 2, 2)).astype(float)
    values[5, 1, 0] = np.nan  # unknown frame
    labels = _labels(values, ["mouse1", "mouse2"], ["grooming", "rearing"])
    probabilities = labels.copy(data=rng.uniform(0, 1, size=(n, 2, 2)))
    poses = _poses(["mouse1", "mouse2"], n_time=n)
    before = (labels.copy(deep=True), probabilities.copy(deep=True), poses.copy(deep=True))

    path = write_simba_csv(tmp_path / "s1.csv", labels=labels, poses=poses, probabilities=probabilities)
    back = pd.read_csv(path)
    pose_columns = [
        f"{individual}_{keypoint}_{axis}"
        for individual in ["mouse1", "mouse2"]
        for keypoint in ["nose", "ear/left", "tail"]
        for axis in "xyp"
    ]
    behavior_columns = [
        column
        for name in ["mouse1_grooming", "mouse1_rearing", "mouse2_grooming", "mouse2_rearing"]
        for column in (f"Probability_{name}", name)
    ]
    assert list(back.columns) == ["frame", *pose_columns, *behavior_columns]
    np.testing.assert_array_equal(back["frame"], np.arange(n))
    np.testing.assert_array_equal(
        back["mouse2_tail_x"], poses["position"].sel(individual="mouse2", keypoint="tail")[:, 0]
    )
    np.testing.assert_array_equal(back["mouse1_ear/left_p"], poses["confidence"].sel(individual="mouse1")[:, 1])
    assert np.isnan(back["mouse1_ear/left_y"][1])
    np.testing.assert_array_equal(back["Probability_mouse1_rearing"], probabilities[:, 0, 1])
    for i, individual in enumerate(["mouse1", "mouse2"]):
        for b, behavior in enumerate(["grooming", "rearing"]):
            np.testing.assert_array_equal(back[f"{individual}_{behavior}"], values[:, i, b])
    # 0/1 are written as integers and an unknown frame as an empty cell
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert raw["mouse2_grooming"][5] == ""
    assert set(raw["mouse1_grooming"]) <= {"0", "1"}
    for obj, original in zip((labels, probabilities, poses), before, strict=True):
        xr.testing.assert_identical(obj, original)


def test_simba_csv_one_individual_names(tmp_path: Path) -> None:
    labels = _labels(np.array([[[1.0]], [[0.0]], [[np.nan]]]), ["mouse1"], ["attack"])
    poses = _poses(["mouse1"], n_time=3)
    path = write_simba_csv(tmp_path / "one.csv", labels=labels.transpose("behavior", "time", "individual"), poses=poses)
    back = pd.read_csv(path)
    pose_columns = [f"{keypoint}_{axis}" for keypoint in ["nose", "ear/left", "tail"] for axis in "xyp"]
    assert list(back.columns) == ["frame", *pose_columns, "attack"]
    np.testing.assert_array_equal(back["attack"], [1.0, 0.0, np.nan])


def test_simba_csv_refuses_bad_input(tmp_path: Path) -> None:
    labels = _labels(np.zeros((4, 1, 2)), ["mouse1"], ["grooming", "rearing"])
    with pytest.raises(SchemaError, match=r"dims \(time, individual, behavior\)"):
        write_simba_csv(tmp_path / "x.csv", labels=labels.isel(individual=0))
    with pytest.raises(SchemaError, match="must be 1, 0 or NaN"):
        write_simba_csv(tmp_path / "x.csv", labels=labels + 0.5)
    with pytest.raises(SchemaError, match="poses have 3 frames but labels have 4"):
        write_simba_csv(tmp_path / "x.csv", labels=labels, poses=_poses(["mouse1"], n_time=3))
    with pytest.raises(SchemaError, match="probabilities have the behaviors"):
        write_simba_csv(tmp_path / "x.csv", labels=labels, probabilities=labels.assign_coords(behavior=["a", "b"]))
    with pytest.raises(SchemaError, match="clashing SimBA column names"):
        write_simba_csv(tmp_path / "x.csv", labels=labels.assign_coords(behavior=["frame", "rearing"]))
    assert list(tmp_path.iterdir()) == []
