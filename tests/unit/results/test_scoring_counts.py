"""Counts that add over sessions: every table from summed counts equals the one computed on the pooled frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from sklearn.metrics import average_precision_score, precision_recall_curve

from behaviorlab.errors import SchemaError
from behaviorlab.results.metrics import classifier_vs_raters, confusion_matrix, frame_scores, pool_sessions
from behaviorlab.results.scoring import (
    COUNT_TABLES,
    add_counts,
    average_precision,
    confusion_table,
    counts_from_tables,
    counts_tables,
    dataset_counts,
    operating_points,
    precision_recall_curves,
    probability_counts,
    rater_table,
    score_counts,
    scores_table,
    top_decision,
)

BEHAVIORS = ["rest", "walk", "groom"]


def _session(rng: np.random.Generator, n: int, individuals: list[str], order: list[str]) -> dict[str, xr.DataArray]:
    """Exclusive truth (or nothing), noisy multi-label decisions and grid probabilities of one session."""
    dims = ("time", "individual", "behavior")
    coords = {"time": np.arange(n) / 30.0, "individual": individuals, "behavior": order}
    shape = (n, len(individuals), len(order))
    cls = rng.integers(0, len(order) + 1, size=shape[:2])  # len(order): no behavior
    truth = np.stack([cls == k for k in range(len(order))], axis=-1)
    prob = np.clip(truth * 0.5 + rng.integers(0, 600, size=shape) / 1000, 0, 1)
    prob = np.round(prob * 1000) / 1000  # on the grid of thresholds
    prob[rng.random(shape) < 0.05] = np.nan  # frames without features
    raters = np.stack([truth ^ (rng.random(shape) < flip) for flip in (0.0, 0.1, 0.2)])
    return {
        "truth": xr.DataArray(truth, dims=dims, coords=coords),
        "pred": xr.DataArray(np.nan_to_num(prob) >= 0.5, dims=dims, coords=coords),
        "prob": xr.DataArray(prob, dims=dims, coords=coords),
        "raters": xr.DataArray(raters, dims=("rater", *dims), coords={**coords, "rater": ["ann", "bob", "cy"]}),
    }


@pytest.fixture(scope="module")
def sessions() -> dict[str, dict[str, xr.DataArray]]:
    rng = np.random.default_rng(7)
    return {
        "a": _session(rng, 400, ["m1"], BEHAVIORS),
        "b": _session(rng, 300, ["m1", "m2"], BEHAVIORS[::-1]),  # another behavior order
        "c": _session(rng, 250, ["x"], [BEHAVIORS[1], BEHAVIORS[0], BEHAVIORS[2]]),
    }


@pytest.fixture(scope="module")
def summed(sessions: dict[str, dict[str, xr.DataArray]]) -> xr.Dataset:
    return add_counts(
        score_counts(d["pred"], d["truth"], d["prob"], raters=d["raters"], thresholds={"rest": 0.5, "walk": 0.4555})
        for d in sessions.values()
    )


def _pooled(sessions: dict[str, dict[str, xr.DataArray]], key: str) -> xr.DataArray:
    return pool_sessions({s: d[key].sel(behavior=BEHAVIORS) for s, d in sessions.items()})


def test_summed_frame_counts_equal_frame_scores_of_the_pooled_frames(sessions, summed):
    expected = frame_scores(_pooled(sessions, "pred"), _pooled(sessions, "truth"))
    pd.testing.assert_frame_equal(scores_table(summed), expected)
    assert summed.attrs["n_frames"] == 400 + 2 * 300 + 250


def test_summed_confusion_equals_the_pooled_confusion_of_the_most_probable_decisions(sessions, summed):
    decisions = {s: top_decision(d["pred"], d["prob"]).sel(behavior=BEHAVIORS) for s, d in sessions.items()}
    expected = confusion_matrix(pool_sessions(decisions), _pooled(sessions, "truth"))
    pd.testing.assert_frame_equal(confusion_table(summed), expected)


def test_precision_recall_on_the_grid_equals_scikit_learn(sessions, summed):
    prob, truth = _pooled(sessions, "prob"), _pooled(sessions, "truth")
    curves = precision_recall_curves(summed)
    ap = average_precision(summed)
    for behavior in BEHAVIORS:
        p = prob.sel(behavior=behavior).values
        y = truth.sel(behavior=behavior).values
        ok = np.isfinite(p)
        precision, recall, thresholds = precision_recall_curve(y[ok], p[ok])
        mine = curves[curves["behavior"] == behavior]
        # scikit-learn: thresholds ascending, then the final (recall 0, precision 1) point
        np.testing.assert_allclose(mine["threshold"].to_numpy()[::-1], thresholds)
        np.testing.assert_allclose(mine["precision"].to_numpy()[::-1], precision[:-1])
        np.testing.assert_allclose(mine["recall"].to_numpy()[::-1], recall[:-1])
        assert ap[behavior] == pytest.approx(average_precision_score(y[ok], p[ok]), abs=1e-12)


def test_average_precision_off_the_grid_differs_only_by_ties_within_a_bin():
    rng = np.random.default_rng(3)
    y = rng.random(20_000) < 0.3
    p = np.clip(y * 0.25 + rng.random(20_000) * 0.75, 0, 1)  # every value distinct, off the grid
    truth = xr.DataArray(y[:, None], dims=("time", "behavior"), coords={"behavior": ["walk"]})
    counts = probability_counts(xr.DataArray(p[:, None], dims=truth.dims, coords=truth.coords), truth)
    assert average_precision(counts)["walk"] == pytest.approx(average_precision_score(y, p), abs=2e-3)


def test_operating_point_is_exact_for_a_threshold_off_the_grid(summed, sessions):
    points = operating_points(summed).set_index("behavior")
    assert list(points.index) == ["rest", "walk"]  # groom has no threshold
    prob, truth = _pooled(sessions, "prob"), _pooled(sessions, "truth")
    p, y = prob.sel(behavior="walk").values, truth.sel(behavior="walk").values
    decided = np.nan_to_num(p, nan=-1) >= 0.4555
    tp = int((decided & y).sum())
    assert points.loc["walk", "precision"] == pytest.approx(tp / decided.sum())
    # frames without a probability are left out, as from the curve
    assert points.loc["walk", "recall"] == pytest.approx(tp / y[np.isfinite(p)].sum())


def test_summed_rater_counts_equal_classifier_vs_raters_of_the_pooled_frames(sessions, summed):
    pooled_raters = pool_sessions({s: d["raters"].sel(behavior=BEHAVIORS) for s, d in sessions.items()})
    pooled_raters = pooled_raters.transpose("rater", "time", "behavior")
    expected = classifier_vs_raters(_pooled(sessions, "pred"), pooled_raters)
    pd.testing.assert_frame_equal(rater_table(summed), expected)
    # rater ann is the truth itself: the decisions' F1 against ann is their F1
    assert expected["f1_vs_ann"].tolist() == pytest.approx(scores_table(summed)["f1"].tolist())


def test_a_hand_counted_session():
    truth = xr.DataArray([[1, 0], [1, 0], [0, 1], [0, 0]], dims=("time", "behavior"), coords={"behavior": ["a", "b"]})
    pred = truth.copy(data=[[1, 1], [0, 0], [0, 1], [1, 0]])
    prob = truth.copy(data=[[0.9, 0.6], [0.2, 0.1], [0.3, 0.8], [0.7, 0.0]])
    counts = score_counts(pred.astype(bool), truth.astype(bool), prob)
    # a: tp 1 (t0), fp 1 (t3), fn 1 (t1), tn 1; b: tp 1 (t2), fp 1 (t0), fn 0, tn 2
    np.testing.assert_array_equal(counts["frames"].values, [[1, 1, 1, 1], [1, 1, 0, 2]])
    # t0 decides a and b, a more probable: counted as a; t3 decides a with no truth
    table = confusion_table(counts)
    assert (table.loc["a", "a"], table.loc["a", "none"]) == (1, 1)
    assert (table.loc["b", "b"], table.loc["none", "a"]) == (1, 1)
    assert int(table.to_numpy().sum()) == 4
    assert counts["positives"].sel(behavior="a", threshold=0.9).item() == 1
    assert counts["negatives"].sel(behavior="a", threshold=0.7).item() == 1


def test_several_true_behaviors_on_a_frame_leave_the_confusion_out_with_the_reason():
    truth = xr.DataArray([[1, 1], [0, 1]], dims=("time", "behavior"), coords={"behavior": ["a", "b"]}).astype(bool)
    counts = score_counts(truth, truth)
    assert "confusion" not in counts
    with pytest.raises(SchemaError, match="several behaviors on 1 frame"):
        confusion_table(counts)
    fine = score_counts(truth[1:], truth[1:])
    total = add_counts([fine, counts])
    assert "confusion" not in total
    assert "session 1 of 2" in total.attrs["confusion_error"]
    np.testing.assert_array_equal(total["frames"].values, counts["frames"].values + fine["frames"].values)


def test_add_counts_refuses_other_behaviors_and_grids():
    truth = xr.DataArray([[1, 0]], dims=("time", "behavior"), coords={"behavior": ["a", "b"]}).astype(bool)
    prob = truth.astype(float)
    one = score_counts(truth, truth, prob)
    with pytest.raises(SchemaError, match="other behaviors"):
        add_counts(
            [one, score_counts(truth.assign_coords(behavior=["a", "c"]), truth.assign_coords(behavior=["a", "c"]))]
        )
    with pytest.raises(SchemaError, match="'threshold'"):
        add_counts([one, score_counts(truth, truth, prob, n_thresholds=10)])
    with pytest.raises(SchemaError, match="at least one"):
        add_counts([])
    with pytest.raises(SchemaError, match="other decision thresholds"):
        add_counts(
            [
                score_counts(truth, truth, prob, thresholds={"a": 0.5}),
                score_counts(truth, truth, prob, thresholds={"a": 0.6}),
            ]
        )


def test_probabilities_outside_zero_one_are_refused():
    truth = xr.DataArray([[True]], dims=("time", "behavior"), coords={"behavior": ["a"]})
    with pytest.raises(SchemaError, match=r"\[0, 1\]"):
        probability_counts(truth.astype(float) * 3, truth)


def test_inputs_are_not_modified(sessions):
    d = sessions["b"]
    before = {k: v.copy(deep=True) for k, v in d.items()}
    score_counts(d["pred"], d["truth"], d["prob"], raters=d["raters"], thresholds={"walk": 0.3})
    for key, value in before.items():
        xr.testing.assert_identical(d[key], value)


def test_counts_tables_of_several_sessions_sum_back_to_the_added_counts(sessions):
    per_session = {
        s: score_counts(d["pred"], d["truth"], d["prob"], raters=d["raters"]).sel(behavior=BEHAVIORS)
        for s, d in sessions.items()
    }
    tables: dict[str, list[pd.DataFrame]] = {}
    for s, counts in per_session.items():
        for name, table in counts_tables(counts, session=s).items():
            assert list(table.columns) == ["session", *COUNT_TABLES[name]]
            tables.setdefault(name, []).append(table)
    assert set(tables) == set(COUNT_TABLES)
    back = counts_from_tables({name: pd.concat(parts) for name, parts in tables.items()}, behaviors=BEHAVIORS)
    expected = add_counts(per_session.values())
    for name in ("frames", "positives", "negatives", "confusion", "rater_frames", "rater_pairs"):
        np.testing.assert_array_equal(back[name].values, expected[name].values, err_msg=name)
    assert back.attrs["n_frames"] == expected.attrs["n_frames"]
    pd.testing.assert_frame_equal(rater_table(back), rater_table(expected))
    pd.testing.assert_frame_equal(confusion_table(back), confusion_table(expected))
    # bins without frames are not written
    assert (tables["classifier_pr"][0][["positives", "negatives"]].sum(axis=1) > 0).all()


def test_dataset_counts_scores_a_stored_session_against_the_raters_majority(sessions):
    d = sessions["a"]
    data = xr.Dataset(
        {
            "behavior_prediction": d["pred"],
            "behavior_probability": d["prob"],
            "labels": d["raters"].assign_coords(behavior=BEHAVIORS),
        }
    ).assign(extra=d["pred"].sel(behavior=["rest"]).rename(behavior="other"))
    counts = dataset_counts(data)
    majority = d["raters"].sum("rater") >= 2
    np.testing.assert_array_equal(
        counts["frames"].values, score_counts(d["pred"], majority, d["prob"])["frames"].values
    )
    assert list(counts["rater"].values) == ["ann", "bob", "cy"]
    with pytest.raises(SchemaError, match="no behavior_prediction"):
        dataset_counts(data.drop_vars("behavior_prediction"))


def test_operating_point_from_counts_without_thresholds_rounds_up_to_the_grid(sessions, summed):
    plain = add_counts(score_counts(d["pred"], d["truth"], d["prob"]) for d in sessions.values())
    rounded = operating_points(plain, {"walk": 0.4555, "rest": 0.5})
    # the probabilities are multiples of 0.001, so p >= 0.4555 is p >= 0.456: the exact point
    pd.testing.assert_frame_equal(rounded, operating_points(summed))
    assert operating_points(plain).empty
