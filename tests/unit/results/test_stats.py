"""Behavior statistics against values computed by hand on small label sequences."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from behaviorlab.errors import SchemaError
from behaviorlab.results.movement import movement_statistics, zone_statistics
from behaviorlab.results.stats import (
    BOUT_COLUMNS,
    STAT_COLUMNS,
    behavior_statistics,
    bout_table,
    frame_label_rows,
    frame_labels,
    session_tables,
    transition_table,
)

# one individual, 1 frame per second, states 0..2 (state 2 never shown), frame 4 unknown
SEQ = [0, 0, 1, 0, -1, 1, 1, 0, 0]


def _states(values=SEQ, n_states=3, fps=1.0):
    arr = np.asarray(values)
    arr = arr[:, None] if arr.ndim == 1 else arr
    return xr.DataArray(
        arr,
        dims=("time", "individual"),
        coords={"individual": [f"m{i + 1}" for i in range(arr.shape[1])]},
        attrs={"fps": fps, "n_states": n_states},
        name="state",
    )


def _stat(table, behavior, column, bin_=0):
    row = table[(table["behavior"] == behavior) & (table["bin"] == bin_)]
    assert len(row) == 1
    return row[column].iloc[0]


def test_frame_labels_one_hot_with_unknown_frames():
    labels = frame_labels(_states())
    assert labels.dims == ("time", "individual", "behavior")
    assert list(labels["behavior"].values) == ["state_0", "state_1", "state_2"]
    np.testing.assert_array_equal(labels.sel(behavior="state_0").values[:, 0], [1, 1, 0, 1, np.nan, 0, 0, 1, 1])
    assert labels.attrs["source"] == "state"
    assert labels.attrs["exclusive"] == 1
    assert labels.attrs["fps"] == 1.0


def test_bouts_at_start_end_single_frame_and_around_unknown_frames():
    bouts = bout_table(_states(), session="S")
    assert list(bouts.columns) == BOUT_COLUMNS
    got = [tuple(r) for r in bouts[["behavior", "start_frame", "end_frame", "duration_s", "truncated"]].to_numpy()]
    assert got == [
        ("state_0", 0, 1, 2.0, True),  # starts the recording
        ("state_0", 3, 3, 1.0, True),  # single frame, ended by the unknown frame 4
        ("state_0", 7, 8, 2.0, True),  # ends the recording
        ("state_1", 2, 2, 1.0, False),  # single frame between known frames
        ("state_1", 5, 6, 2.0, True),  # starts after the unknown frame
    ]
    assert set(bouts["session"]) == {"S"}
    assert set(bouts["source"]) == {"state"}
    assert bouts["start_s"].tolist() == [0.0, 3.0, 7.0, 2.0, 5.0]


def test_statistics_whole_session_match_hand_computed():
    stats = behavior_statistics(_states())
    assert list(stats.columns) == STAT_COLUMNS
    assert len(stats) == 3  # the never-shown state has its row
    # 8 known frames: state_0 on 5, state_1 on 3
    assert _stat(stats, "state_0", "labeled_s") == 8.0
    assert _stat(stats, "state_0", "time_budget_pct") == pytest.approx(62.5)
    assert _stat(stats, "state_1", "time_budget_pct") == pytest.approx(37.5)
    assert _stat(stats, "state_2", "time_budget_pct") == 0.0
    assert _stat(stats, "state_0", "bout_count") == 3
    assert _stat(stats, "state_0", "mean_bout_s") == pytest.approx(5 / 3)
    assert _stat(stats, "state_0", "median_bout_s") == 2.0
    assert _stat(stats, "state_1", "median_bout_s") == 1.5
    assert _stat(stats, "state_1", "latency_s") == 2.0
    assert _stat(stats, "state_0", "latency_s") == 0.0
    assert _stat(stats, "state_0", "bouts_per_min") == pytest.approx(3 / (8 / 60))
    assert _stat(stats, "state_2", "bout_count") == 0
    assert np.isnan(_stat(stats, "state_2", "mean_bout_s"))
    assert np.isnan(_stat(stats, "state_2", "median_bout_s"))
    assert np.isnan(_stat(stats, "state_2", "latency_s"))
    assert _stat(stats, "state_2", "bouts_per_min") == 0.0


def test_statistics_per_bin_match_hand_computed():
    stats = behavior_statistics(_states(), bin_s=4)
    assert sorted(set(stats["bin"])) == [0, 1, 2]
    assert _stat(stats, "state_0", "bin_end_s", 2) == 9.0  # the last bin ends with the recording
    # bin 0 = frames 0-3: state_0 on 0, 1, 3 (bouts 0-1 and 3)
    assert _stat(stats, "state_0", "time_budget_pct", 0) == 75.0
    assert _stat(stats, "state_0", "bout_count", 0) == 2
    assert _stat(stats, "state_0", "mean_bout_s", 0) == 1.5
    # bin 1 = frames 4-7, frame 4 unknown: state_1 on 5, 6; state_0 on 7 (its bout runs into bin 2)
    assert _stat(stats, "state_1", "labeled_s", 1) == 3.0
    assert _stat(stats, "state_1", "time_budget_pct", 1) == pytest.approx(200 / 3)
    assert _stat(stats, "state_1", "latency_s", 1) == 1.0
    assert _stat(stats, "state_0", "latency_s", 1) == 3.0
    assert _stat(stats, "state_0", "mean_bout_s", 1) == 2.0  # the whole bout, not cut at the bin end
    # bin 2 = frame 8: state_0 under way (latency 0), no bout starts
    assert _stat(stats, "state_0", "latency_s", 2) == 0.0
    assert _stat(stats, "state_0", "bout_count", 2) == 0
    assert np.isnan(_stat(stats, "state_0", "mean_bout_s", 2))


def test_all_unknown_frames_give_nan_shares_not_errors():
    stats = behavior_statistics(_states([-1, -1, -1], n_states=2))
    assert stats["labeled_s"].tolist() == [0.0, 0.0]
    assert stats["time_budget_pct"].isna().all()
    assert stats["bouts_per_min"].isna().all()
    assert len(bout_table(_states([-1, -1, -1], n_states=2))) == 0


def test_transitions_skip_unknown_gaps():
    table = transition_table(_states())
    counts = table.pivot(index="from_behavior", columns="to_behavior", values="count")
    # bouts in order: 0, 1, 0, | unknown |, 1, 0
    np.testing.assert_array_equal(counts.to_numpy(), [[0, 1, 0], [2, 0, 0], [0, 0, 0]])
    prob = table.pivot(index="from_behavior", columns="to_behavior", values="probability")
    assert prob.loc["state_0", "state_1"] == 1.0
    assert prob.loc["state_1", "state_0"] == 1.0
    assert prob.loc["state_2"].isna().all()


def test_multilabel_predictions_unknown_where_probability_is_nan():
    shown = np.zeros((6, 1, 2), dtype=bool)
    shown[0:2, 0, 0] = True  # groom 0-1
    shown[1:4, 0, 1] = True  # rear 1-3, overlapping
    shown[5, 0, 0] = True  # groom again after a frame with nothing
    proba = np.where(shown, 0.9, 0.1)
    proba[4] = np.nan  # no features in frame 4
    coords = {"individual": ["m1"], "behavior": ["groom", "rear"]}
    ds = xr.Dataset(
        {
            "behavior_prediction": (("time", "individual", "behavior"), shown),
            "behavior_probability": (("time", "individual", "behavior"), proba),
        },
        coords=coords,
        attrs={"fps": 2.0, "session": "s1"},
    )
    labels = frame_labels(ds)
    assert labels.attrs["source"] == "behavior_prediction"
    assert labels.attrs["exclusive"] == 0
    assert np.isnan(labels.values[4]).all()
    stats = behavior_statistics(ds)
    # 5 known frames of 0.5 s: groom on 3, rear on 3
    assert _stat(stats, "groom", "time_s") == 1.5
    assert _stat(stats, "groom", "time_budget_pct") == 60.0
    assert _stat(stats, "rear", "latency_s") == 0.5
    assert set(stats["session"]) == {"s1"}
    bouts = bout_table(ds)
    assert bouts[["behavior", "start_frame", "end_frame", "truncated"]].values.tolist() == [
        ["groom", 0, 1, True],
        ["groom", 5, 5, True],
        ["rear", 1, 3, True],
    ]
    table = transition_table(ds)
    got = table[table["count"] > 0][["from_behavior", "to_behavior", "count"]].values.tolist()
    assert got == [["groom", "rear", 1]]  # rear -> groom crosses the unknown frame 4


def test_named_labels_and_explicit_behaviors():
    names = xr.DataArray(
        np.array([["rest"], ["rest"], [""], ["walk"]], dtype=object), dims=("time", "individual"), attrs={"fps": 1.0}
    )
    stats = behavior_statistics(names, behaviors=["rest", "walk", "rear"])
    assert stats["behavior"].tolist() == ["rest", "walk", "rear"]
    assert stats["time_budget_pct"].tolist() == [50.0, 25.0, 0.0]  # the empty frame is known: no behavior
    with pytest.raises(SchemaError, match="not in behaviors"):
        frame_labels(names, behaviors=["rest"])


def test_time_coordinate_in_seconds_gives_start_times():
    states = _states([0, 1, 1]).assign_coords(time=[10.0, 10.5, 11.0])
    states.attrs["fps"] = 2.0
    bouts = bout_table(states)
    assert bouts["start_s"].tolist() == [10.0, 10.5]
    assert bouts["duration_s"].tolist() == [0.5, 1.0]


def test_errors_name_the_problem():
    with pytest.raises(SchemaError, match="frame rate"):
        bout_table(_states(fps=None).assign_attrs(fps=None))
    with pytest.raises(SchemaError, match="rater"):
        frame_labels(xr.DataArray(np.zeros((2, 3, 1, 1), bool), dims=("rater", "time", "individual", "behavior")))
    with pytest.raises(SchemaError, match="only 2 behaviors"):
        frame_labels(_states([0, 2], n_states=2))
    with pytest.raises(SchemaError, match="no per-frame labels"):
        frame_labels(xr.Dataset({"x": ("time", [1.0])}))


def test_inputs_are_not_modified():
    states = _states()
    before = states.copy(deep=True)
    behavior_statistics(states, bin_s=3)
    transition_table(states)
    xr.testing.assert_identical(states, before)


def _track(xy, fps=1.0):
    """Poses of one individual with a single keypoint moving along ``xy`` (time, 2)."""
    pos = np.asarray(xy, dtype=float)[:, :, None, None]
    return xr.Dataset(
        {"position": (("time", "space", "keypoint", "individual"), pos)},
        coords={"space": ["x", "y"], "keypoint": ["body"], "individual": ["m1"]},
        attrs={"fps": fps},
    )


def test_distance_skips_missing_frames_and_calibrates():
    poses = _track([[0, 0], [3, 4], [3, 4], [np.nan, np.nan], [6, 8], [6, 11]])
    table = movement_statistics(poses, keypoint="body")
    assert table["distance"].iloc[0] == 8.0  # 5 + 0 + (gap not bridged) + 3
    assert table["tracked_s"].iloc[0] == 5.0
    assert table["mean_speed"].iloc[0] == pytest.approx(8 / 5)
    cm = movement_statistics(poses, keypoint="body", px_per_cm=2.0, bin_s=3)
    assert cm["length_unit"].iloc[0] == "cm"
    assert cm["distance"].tolist() == [2.5, 1.5]  # steps into frames 1, 2 | frames 4, 5 (the step into 4 is missing)


def test_zone_time_entries_and_latency():
    square = [[0, 0], [10, 0], [10, 10], [0, 10]]
    x = [20, 5, 5, 20, 20, 5, np.nan, 5]
    poses = _track(np.column_stack([x, [5.0] * len(x)]))
    table = zone_statistics(poses, {"box": square}, keypoint="body")
    row = table.iloc[0]
    assert row["time_s"] == 4.0
    assert row["tracked_s"] == 7.0
    assert row["time_pct"] == pytest.approx(400 / 7)
    assert row["entries"] == 2  # frames 1 and 5; frame 7 follows a missing frame
    assert row["latency_s"] == 1.0


def test_session_tables_cover_every_source_and_poses():
    poses = _track(np.column_stack([np.arange(9.0), np.zeros(9)]))
    ds = poses.assign(state=_states().isel(individual=0, drop=True).expand_dims(individual=["m1"], axis=1))
    ds["state"].attrs["n_states"] = 3
    tables = session_tables(ds, session="S", bin_s=4, zones={"left": [[-1, -1], [3.5, -1], [3.5, 1], [-1, 1]]})
    assert set(tables) == {
        "frame_labels",
        "bouts",
        "behavior_stats",
        "behavior_stats_by_bin",
        "transitions",
        "movement",
        "movement_by_bin",
        "zones",
        "zones_by_bin",
    }
    assert tables["movement"]["distance"].iloc[0] == 8.0
    assert tables["zones"]["time_s"].iloc[0] == 4.0
    rows = tables["frame_labels"]
    assert len(rows) == 9  # one row per known frame, one (behavior None) for the unknown frame
    assert rows["behavior"].isna().sum() == 1
    assert rows.loc[rows["frame"] == 2, "behavior"].item() == "state_1"
    assert set(pd.concat(tables.values())["session"]) == {"S"}


def test_frame_label_rows_of_multilabel_frames():
    shown = np.zeros((3, 1, 2), dtype=bool)
    shown[1] = True
    da = xr.DataArray(
        shown,
        dims=("time", "individual", "behavior"),
        coords={"individual": ["m1"], "behavior": ["groom", "rear"]},
        attrs={"fps": 1.0},
        name="labels",
    )
    rows = frame_label_rows(da, session="S")
    assert rows[["frame", "behavior"]].values.tolist() == [[1, "groom"], [1, "rear"]]
    assert rows["source"].tolist() == ["labels", "labels"]
