"""Exports of a results store reopen: CSV and Excel with pandas, NWB with pynwb, BORIS with our importer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from behaviorlab.io.annotations import load_annotations
from behaviorlab.results.export import export_store, session_frame_labels
from behaviorlab.results.stats import bout_table, frame_labels
from behaviorlab.results.store import ResultsStore

FPS = 30.0
BEHAVIORS = ["rest", "walk", "groom"]


def _session(seed: int, n: int = 300) -> xr.Dataset:
    """Two animals: poses of a moving point, HMM states with unknown frames, classifier decisions."""
    rng = np.random.default_rng(seed)
    pos = rng.normal(100, 20, size=(n, 2, 3, 2)).cumsum(axis=0) / 10
    states = np.repeat(rng.integers(-1, 4, size=(n // 15, 2)), 15, axis=0)
    shown = rng.random((n // 10, 2, 3)) < 0.3
    shown = np.repeat(shown, 10, axis=0)
    proba = np.where(shown, 0.8, 0.2)
    proba[40:50] = np.nan  # frames without features
    return xr.Dataset(
        {
            "position": (("time", "space", "keypoint", "individual"), pos),
            "confidence": (("time", "keypoint", "individual"), np.ones((n, 3, 2))),
            "state": (("time", "individual"), states, {"n_states": 4}),
            "behavior_prediction": (("time", "individual", "behavior"), shown),
            "behavior_probability": (("time", "individual", "behavior"), proba),
        },
        coords={
            "time": np.arange(n) / FPS,
            "space": ["x", "y"],
            "keypoint": ["nose", "body", "tail"],
            "individual": ["m1", "m2"],
            "behavior": BEHAVIORS,
        },
        attrs={"fps": FPS, "source_software": "test"},
    )


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    store = ResultsStore.create(root / "project", bin_s=5.0)
    sessions = {"s1": _session(1), "s2": _session(2)}
    for name, ds in sessions.items():
        store.add_session(name, ds)
    store.set_metadata(pd.DataFrame({"session": ["s1", "s2"], "group": ["control", "treated"]}))
    written = export_store(store, root / "out", ["csv", "excel", "parquet", "nwb", "boris", "simba"])
    return store, sessions, root / "out", written


def _sorted(table: pd.DataFrame) -> pd.DataFrame:
    keys = [c for c in ("session", "individual", "source", "behavior", "start_frame") if c in table.columns]
    return table.sort_values(keys).reset_index(drop=True)


def test_csv_and_parquet_reopen_with_pandas(exported):
    store, _, out, written = exported
    bouts = store.table("bouts")
    assert len(bouts) > 20
    csv = pd.read_csv(out / "csv" / "bouts.csv")
    pd.testing.assert_frame_equal(_sorted(csv), _sorted(bouts), check_dtype=False)
    parquet = pd.read_parquet(out / "parquet" / "behavior_stats.parquet")
    pd.testing.assert_frame_equal(_sorted(parquet), _sorted(store.table("behavior_stats")), check_dtype=False)
    assert {p.name for p in written["csv"]} >= {"bouts.csv", "sessions.csv", "metadata.csv", "frame_labels.csv"}
    assert not any(p.name.startswith("_") for p in written["csv"])


def test_excel_has_one_sheet_per_table(exported):
    store, _, _, written = exported
    (path,) = written["excel"]
    sheets = pd.read_excel(path, sheet_name=None)
    assert "frame_labels" not in sheets  # too long for a spreadsheet; in CSV and Parquet
    assert {"bouts", "behavior_stats", "transitions", "movement", "sessions", "metadata"} <= set(sheets)
    pd.testing.assert_frame_equal(_sorted(sheets["bouts"]), _sorted(store.table("bouts")), check_dtype=False)
    assert sheets["metadata"]["group"].tolist() == ["control", "treated"]


def test_nwb_holds_poses_and_bouts(exported):
    import pynwb

    from behaviorlab.io.exports import read_nwb_bouts
    from behaviorlab.io.load import load_poses

    store, sessions, out, _ = exported
    path = out / "nwb" / "s2.nwb"
    with pynwb.NWBHDF5IO(str(path), mode="r") as io:
        nwb = io.read()
        assert nwb.session_id == "s2"
        assert "behavior_bouts" in nwb.intervals
    poses = load_poses(path)
    np.testing.assert_allclose(
        poses["position"].transpose(*sessions["s2"]["position"].dims).values, sessions["s2"]["position"].values
    )
    bouts = read_nwb_bouts(path)
    expected = store.table("bouts", sessions=["s2"])
    pd.testing.assert_frame_equal(_sorted(bouts), _sorted(expected), check_dtype=False)


@pytest.mark.parametrize("source", ["state", "behavior_prediction"])
def test_boris_files_read_back_to_the_same_bouts(exported, source):
    store, sessions, out, _ = exported
    ds = sessions["s1"]
    labels = frame_labels(ds, source)
    behaviors = [str(b) for b in labels["behavior"].values]
    back = load_annotations(
        out / "boris" / f"s1.{source}.csv",
        fps=FPS,
        n_frames=ds.sizes["time"],
        individuals=["m1", "m2"],
        behaviors=behaviors,
    )
    got = bout_table(back.assign_attrs(fps=FPS), source, session="s1")
    expected = store.table("bouts", sessions=["s1"])
    expected = expected[expected["source"] == source]
    columns = ["individual", "behavior", "start_frame", "end_frame", "start_s", "duration_s"]
    pd.testing.assert_frame_equal(_sorted(got)[columns], _sorted(expected)[columns], check_dtype=False)


def test_simba_csv_has_pose_probability_and_label_columns(exported):
    _, sessions, out, _ = exported
    ds = sessions["s1"]
    table = pd.read_csv(out / "simba" / "s1.behavior_prediction.csv")
    assert len(table) == ds.sizes["time"]
    assert table["frame"].tolist() == list(range(ds.sizes["time"]))
    np.testing.assert_allclose(table["m2_tail_x"], ds["position"].sel(space="x", keypoint="tail", individual="m2"))
    expected = frame_labels(ds, "behavior_prediction").sel(individual="m1", behavior="walk").values
    np.testing.assert_array_equal(table["m1_walk"].to_numpy(), expected)  # NaN (empty cell) where unknown
    assert table["m1_walk"].isna().sum() == 10
    np.testing.assert_allclose(
        table["Probability_m1_groom"], ds["behavior_probability"].sel(individual="m1", behavior="groom").values
    )


def test_frame_labels_rebuilt_from_the_store_equal_the_originals(exported):
    store, sessions, _, _ = exported
    for source in ("state", "behavior_prediction"):
        rebuilt = session_frame_labels(store, "s2", source)
        original = frame_labels(sessions["s2"], source)
        np.testing.assert_array_equal(rebuilt.values, original.values)
        assert list(rebuilt["behavior"].values) == list(original["behavior"].values)


def test_export_errors(exported, tmp_path):
    store, _, _, _ = exported
    with pytest.raises(ValueError, match="unknown export formats"):
        export_store(store, tmp_path, ["pdf"])
    with pytest.raises(ValueError, match="no sessions"):
        export_store(store, tmp_path, ["csv"], sessions=["nope"])
    only = export_store(store, tmp_path / "one", ["csv"], sessions=["s1"])
    bouts = pd.read_csv(next(p for p in only["csv"] if p.name == "bouts.csv"))
    assert set(bouts["session"]) == {"s1"}
