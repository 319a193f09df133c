"""Figures and tables of the dashboard's Training, Behavior map, Ethogram and Classifiers pages, with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from behaviorlab.errors import SchemaError
from behaviorlab.pose.evaluate import evaluate_predictions
from behaviorlab.results.classifier_figures import confusion_figure, precision_recall_figure
from behaviorlab.results.metrics import confusion_matrix, pool_sessions
from behaviorlab.results.plots import budget_heatmap_figure, source_raster_figure
from behaviorlab.results.pose_figures import evaluation_table, keypoint_error_figure, training_curves_figure
from behaviorlab.results.scoring import top_decision
from behaviorlab.results.stats import bout_table, pooled_transition_matrix, transition_table

FPS = 10.0


def _session(states: list[int], labels: list[str | None], name: str = "s1") -> xr.Dataset:
    """A one-individual session with an HMM ``state`` and human ``labels`` (one behavior per frame or none)."""
    n = len(states)
    behaviors = ["rest", "walk"]
    shown = np.array([[b == lab for b in behaviors] for lab in labels])[:, None, :]
    return xr.Dataset(
        {
            "state": (("time", "individual"), np.array(states)[:, None]),
            "labels": (("time", "individual", "behavior"), shown),
        },
        coords={"time": np.arange(n) / FPS, "individual": ["mouse1"], "behavior": behaviors},
        attrs={"fps": FPS, "session": name},
    )


# --------------------------------------------------------------------------- training
def test_training_curve_traces_equal_the_log_columns():
    log = pd.DataFrame(
        {
            "epoch": [1, 2, 3],
            "loss": [0.3, 0.2, 0.1],
            "val_loss": [0.35, 0.25, 0.2],
            "val_px_error": [9.0, 6.0, 4.5],
            "lr": [1e-3] * 3,
        }
    )
    fig = training_curves_figure(log)
    traces = {t.name: t for t in fig.data}
    assert set(traces) == {"loss", "val_loss", "val_px_error"}  # lr is not a curve
    for name, trace in traces.items():
        np.testing.assert_array_equal(trace.y, log[name].to_numpy())
        np.testing.assert_array_equal(trace.x, log["epoch"].to_numpy())
    assert traces["val_px_error"].xaxis == "x2"  # the pixel error has its own panel
    assert fig.layout.yaxis.type == "log"


def test_training_curves_without_loss_columns_name_the_file():
    with pytest.raises(SchemaError, match=r"training_log\.csv"):
        training_curves_figure(pd.DataFrame({"epoch": [1], "accuracy": [0.5]}))


def test_evaluation_table_reads_the_json_of_evaluate():
    true = np.zeros((2, 1, 2, 2))
    pred = true.copy()
    pred[:, 0, 0] = [3.0, 4.0]  # nose 5 px off in both frames
    report = evaluate_predictions(pred, true, ["nose", "tail"], thresholds=(2, 10)).to_dict()
    table = evaluation_table(report)
    assert table["keypoint"].tolist() == ["nose", "tail", "all"]
    rows = table.set_index("keypoint")
    assert rows.at["nose", "mean"] == 5.0
    assert rows.at["tail", "mean"] == 0.0
    assert rows.at["all", "mean"] == 2.5
    assert rows.at["nose", "pck@2"] == 0.0
    assert rows.at["nose", "pck@10"] == 1.0
    fig = keypoint_error_figure(report)
    bars = next(t for t in fig.data if t.name == "mean")
    assert list(bars.x) == ["nose", "tail"]
    assert list(bars.y) == [5.0, 0.0]
    with pytest.raises(SchemaError, match="--json"):
        evaluation_table({"overall": {}})


# --------------------------------------------------------------------------- ethogram
def test_raster_has_one_bar_per_bout_and_rows_per_source():
    ds = _session([0, 0, 1, 1, 1, 0, -1, 0], ["rest", "rest", "walk", "walk", None, "rest", "rest", "rest"])
    fig = source_raster_figure({"s1": ds})
    n_bouts = len(bout_table(ds, "state")) + len(bout_table(ds, "labels"))
    assert n_bouts == 4 + 3  # states 0, 1, 0, 0 (the unknown frame splits); rest, walk, rest
    assert sum(len(t.x) for t in fig.data) == n_bouts
    assert list(fig.layout.yaxis.categoryarray) == ["s1 / mouse1 · human", "s1 / mouse1 · HMM"]
    walk = next(t for t in fig.data if t.legendgroup == "labels" and t.name == "walk")
    assert list(walk.base) == [0.2]
    assert list(walk.x) == pytest.approx([0.2])  # two frames at 10 fps
    # the human and the classifier labels of one behavior would share a colour; states get their own legend group
    assert {t.legendgroup for t in fig.data} == {"labels", "state"}


def test_raster_window_cuts_the_bouts():
    ds = _session([0] * 10 + [1] * 10, ["rest"] * 20)
    fig = source_raster_figure({"s1": ds}, ["state"], window_s=(0.5, 1.5))
    bars = {t.name: (list(t.base), list(t.x)) for t in fig.data}
    assert bars["state_0"][0] == [0.5]
    assert bars["state_0"][1] == pytest.approx([0.5])
    assert bars["state_1"][0] == [1.0]
    assert bars["state_1"][1] == pytest.approx([0.5])
    assert list(fig.layout.xaxis.range) == [0.5, 1.5]
    assert len(source_raster_figure({"s1": ds}, ["state"], window_s=(0.0, 0.5)).data) == 1  # state_1 outside


def test_raster_individual_filter():
    ds = _session([0, 1], ["rest", "walk"])
    two = xr.concat([ds, ds.assign_coords(individual=["mouse2"])], dim="individual")
    fig = source_raster_figure({"s1": two}, ["state"], individuals=["mouse2"])
    assert list(fig.layout.yaxis.categoryarray) == ["s1 / mouse2 · HMM"]


def test_pooled_transition_matrix_sums_counts_over_sessions():
    a = transition_table(_session([0, 0, 1, 0, 1], ["rest"] * 5, "a"), "state")  # 0->1, 1->0, 0->1
    b = transition_table(_session([1, 1, 0], ["rest"] * 3, "b"), "state")  # 1->0
    matrix = pooled_transition_matrix(pd.concat([a, b]), "state")
    assert list(matrix.index) == ["state_0", "state_1"]
    np.testing.assert_allclose(matrix.to_numpy(), [[0.0, 1.0], [1.0, 0.0]])
    only_a = pooled_transition_matrix(pd.concat([a, b]), "state", sessions=["a"])
    np.testing.assert_allclose(only_a.to_numpy(), [[0.0, 1.0], [1.0, 0.0]])


def test_budget_heatmap_rows_are_session_and_individual():
    stats = pd.DataFrame(
        {
            "session": ["a", "a", "b", "b"],
            "individual": ["m1", "m1", "m1", "m1"],
            "source": "cluster",
            "behavior": ["cluster_0", "cluster_1"] * 2,
            "time_budget_pct": [25.0, 75.0, 100.0, 0.0],
        }
    )
    trace = budget_heatmap_figure(stats, source="cluster").data[0]
    assert list(trace.y) == ["a / m1", "b / m1"]
    assert list(trace.x) == ["cluster_0", "cluster_1"]
    np.testing.assert_array_equal(trace.z, [[25.0, 75.0], [100.0, 0.0]])


# --------------------------------------------------------------------------- classifiers
def _labels(values: np.ndarray, behaviors: list[str]) -> xr.DataArray:
    return xr.DataArray(values, dims=("time", "individual", "behavior"), coords={"behavior": behaviors})


def test_pr_curve_of_separating_probabilities_reaches_precision_one_at_recall_one():
    truth = np.array([0, 0, 0, 1, 1, 0, 1, 0], dtype=bool)
    prob = np.where(truth, 0.9, 0.1)
    fig = precision_recall_figure(
        _labels(prob[:, None, None], ["walk"]), _labels(truth[:, None, None], ["walk"]), {"walk": 0.5}
    )
    curve, point = fig.data
    assert curve.name == "walk (AP 1.00)"
    assert any(r == 1.0 and p == 1.0 for r, p in zip(curve.x, curve.y, strict=True))
    assert (point.x[0], point.y[0]) == (1.0, 1.0)


def test_pr_curve_pools_sessions_and_marks_the_threshold():
    # session a: one positive found at 0.8; session b: a negative at 0.7 and a positive at 0.3
    a = {"prob": np.array([0.8, 0.2]), "truth": np.array([True, False])}
    b = {"prob": np.array([0.7, 0.3]), "truth": np.array([False, True])}
    probs = {s: _labels(d["prob"][:, None, None], ["run"]) for s, d in (("a", a), ("b", b))}
    truths = {s: _labels(d["truth"][:, None, None], ["run"]) for s, d in (("a", a), ("b", b))}
    fig = precision_recall_figure(probs, truths, {"run": 0.5})
    point = fig.data[1]
    assert (point.x[0], point.y[0]) == (0.5, 0.5)  # decided 0.8 and 0.7: one of two right, one of two found
    # behaviors without positive frames have no curve
    empty = precision_recall_figure(probs, {s: t & False for s, t in truths.items()})
    assert len(empty.data) == 0


def test_pool_sessions_lines_up_sessions_with_different_individuals():
    one = _labels(np.array([[[1, 0]], [[0, 1]]]), ["rest", "walk"])
    two = xr.DataArray(
        np.array([[[0, 1], [1, 0]]]),
        dims=("time", "individual", "behavior"),
        coords={"behavior": ["walk", "rest"]},  # another behavior order
    )
    pooled = pool_sessions({"a": one, "b": two})
    assert pooled.dims == ("time", "behavior")
    assert list(pooled["behavior"].values) == ["rest", "walk"]
    np.testing.assert_array_equal(pooled.values, [[1, 0], [0, 1], [1, 0], [0, 1]])
    with pytest.raises(SchemaError, match="common behaviors"):
        pool_sessions({"a": one, "b": one.assign_coords(behavior=["rest", "groom"])})


def test_top_decision_keeps_the_most_probable_decided_behavior():
    decided = _labels(np.array([[[True, True, False]], [[False, False, False]]]), ["a", "b", "c"])
    prob = _labels(np.array([[[0.6, 0.9, 0.95]], [[0.2, 0.1, 0.3]]]), ["a", "b", "c"])
    kept = top_decision(decided, prob)
    np.testing.assert_array_equal(kept.values[:, 0], [[False, True, False], [False, False, False]])


def test_confusion_figure_colours_row_shares_and_prints_counts():
    truth = _labels(np.array([[[1, 0]], [[1, 0]], [[0, 1]], [[0, 1]]], dtype=bool), ["rest", "walk"])
    pred = _labels(np.array([[[1, 0]], [[0, 1]], [[0, 1]], [[0, 0]]], dtype=bool), ["rest", "walk"])
    table = confusion_matrix(pred, truth)
    trace = confusion_figure(table).data[0]
    assert list(trace.x) == ["rest", "walk", "none"]
    np.testing.assert_array_equal(trace.text, [[1, 1, 0], [0, 1, 1], [0, 0, 0]])
    np.testing.assert_allclose(trace.z, [[0.5, 0.5, 0.0], [0.0, 0.5, 0.5], [0.0, 0.0, 0.0]])
    assert confusion_figure(table, normalize=False).data[0].z[0][0] == 1


def test_pr_curve_of_many_frames_has_one_point_per_threshold_of_the_grid():
    rng = np.random.default_rng(0)
    truth = rng.random(200_000) < 0.2
    prob = np.clip(truth * 0.3 + rng.random(200_000) * 0.7, 0, 1)  # ~200,000 distinct values
    fig = precision_recall_figure(_labels(prob[:, None, None], ["walk"]), _labels(truth[:, None, None], ["walk"]))
    (curve,) = fig.data
    assert 900 <= len(curve.x) <= 1002  # one point per reached multiple of 0.001, then (0, 1)
    assert curve.x[0] == 1.0  # the curve still runs from full recall ...
    assert curve.x[-1] == 0.0  # ... to none
