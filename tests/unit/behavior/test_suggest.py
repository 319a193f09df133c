"""Smoothing of probabilities and the active-learning suggestions, with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from behaviorlab.behavior.suggest import spread_picks, suggested_bouts, uncertainty_table
from behaviorlab.behavior.thresholds import best_smoothing, smooth_segments


def test_smoothing_averages_within_segments_and_keeps_missing_frames_missing():
    proba = np.array([0.0, 1.0, 0.0, 1.0, np.nan, 1.0, 0.0, 0.0])
    segments = np.array([1, 1, 1, 1, 1, 2, 2, 2])
    out = smooth_segments(proba, segments, 1)
    np.testing.assert_allclose(out[:4], [0.5, 1 / 3, 2 / 3, 0.5])  # the window is cut at the segment's start
    assert np.isnan(out[4])  # missing stays missing, and is left out of its neighbours' means
    np.testing.assert_allclose(out[5:], [0.5, 1 / 3, 0.0])  # segment 2 never sees segment 1
    np.testing.assert_array_equal(smooth_segments(proba, segments, 0), proba)


def test_best_smoothing_is_chosen_when_it_removes_flicker_and_not_otherwise():
    rng = np.random.default_rng(0)
    truth = np.zeros(2000, dtype=bool)
    for start in range(100, 2000, 400):
        truth[start : start + 150] = True
    flicker = np.clip(truth * 0.6 + 0.2 + rng.normal(scale=0.35, size=truth.size), 0, 1)
    segments = np.ones(truth.size, dtype=int)
    seconds, threshold, smoothed = best_smoothing(flicker, truth, segments, 25.0, 1, 0)
    assert seconds > 0  # frame noise around a slow truth: a window helps
    assert 0 < threshold < 1
    assert smoothed.shape == flicker.shape
    sharp = truth * 0.9 + 0.05
    assert best_smoothing(sharp, truth, segments, 25.0, 1, 0)[0] == 0.0  # already right: no smoothing


def _proba(values):
    return xr.DataArray(
        np.asarray(values, dtype=float)[:, None, None],
        dims=("time", "individual", "behavior"),
        coords={"time": np.arange(len(values)) / 10.0, "individual": ["m"], "behavior": ["rear"]},
    )


def test_suggestions_are_the_least_certain_frames_spread_in_time_and_widened_to_their_run():
    p = [0.0] * 10 + [0.45, 0.5, 0.55] + [1.0] * 10 + [0.48] + [0.0] * 10
    table = uncertainty_table({"s": _proba(p)}, {"rear": 0.5}, ["rear"])
    assert table["uncertainty"].max() == 1.0  # at the threshold
    np.testing.assert_allclose(table.set_index("frame").loc[0, "uncertainty"], 0.0)  # a sure 0
    picks = spread_picks(table, 2, 0.5)
    assert picks["frame"].tolist() == [11, 23]  # frame 12 (0.55) is too close to 11 at 0.5 s apart
    bouts = suggested_bouts(picks, table)
    assert bouts[["start_frame", "end_frame"]].values.tolist() == [[10, 12], [23, 23]]
    assert spread_picks(table.iloc[:0], 3, 1.0).empty
    assert isinstance(uncertainty_table({}, {"rear": 0.5}, ["rear"]), pd.DataFrame)


def test_bout_table_matches_bouts_one_to_one_and_counts_split_bouts():
    from behaviorlab.behavior.crossval import bout_table

    truth = np.zeros((20, 1), dtype=bool)
    truth[2:8] = True  # one true bout ...
    truth[12:16] = True  # ... and another
    pred = np.zeros_like(truth)
    pred[2:4] = pred[5:8] = True  # the first predicted as two pieces
    pred[17:19] = True  # a false alarm
    segments = np.ones(20, dtype=int)
    row = bout_table(pred, truth, segments, ["rear"]).iloc[0]
    assert (row["n_true_bouts"], row["n_predicted_bouts"]) == (2, 3)
    np.testing.assert_allclose(
        row["bout_f1"], 2 * 1 / (2 * 1 + 2 + 1)
    )  # one match, two unmatched predicted, one missed
    np.testing.assert_allclose(row["bout_count_error"], 0.5)
    np.testing.assert_allclose(row["duration_error"], (7 - 10) / 10)
    split = bout_table(truth, truth, np.repeat([1, 2], 10), ["rear"]).iloc[0]
    assert split["n_true_bouts"] == 2  # no bout crosses the end of a segment (another animal or session)
    assert split["bout_f1"] == 1.0
