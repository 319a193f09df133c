"""Scores of behavior labels on hand-made sequences, with the expected numbers worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from behaviorlab.errors import SchemaError
from behaviorlab.results.metrics import (
    bout_scores,
    classifier_vs_raters,
    confusion_matrix,
    frame_scores,
    rater_agreement,
)


def seq(text: str) -> np.ndarray:
    """'0011' -> [False, False, True, True]."""
    return np.array([c == "1" for c in text])


def labels(columns: dict[str, str | list[str]], individuals: list[str] | None = None, fps: float = 10) -> xr.DataArray:
    """Bool (time, individual, behavior) array from one string per behavior (or one per individual)."""
    individuals = individuals or ["m"]
    per_beh = {b: v if isinstance(v, list) else [v] for b, v in columns.items()}
    data = np.stack([np.stack([seq(s) for s in v], axis=1) for v in per_beh.values()], axis=2)
    return xr.DataArray(
        data,
        dims=("time", "individual", "behavior"),
        coords={"time": np.arange(data.shape[0]) / fps, "individual": individuals, "behavior": list(per_beh)},
    )


def row(table: pd.DataFrame, behavior: str) -> pd.Series:
    return table.set_index("behavior").loc[behavior]


# --------------------------------------------------------------------------- frame scores
def test_frame_scores_hand_computed():
    # truth 0011110000, pred 0001111000: tp = frames 3,4,5 (3); fp = frame 6 (1); fn = frame 2 (1); tn = 5
    # precision = 3/4, recall = 3/4, F1 = 2*3 / (2*3 + 1 + 1) = 0.75
    table = frame_scores(seq("0001111000"), seq("0011110000"))
    r = table.iloc[0]
    assert (r.tp, r.fp, r.fn, r.tn, r.support) == (3, 1, 1, 5, 4)
    assert (r.precision, r.recall, r.f1) == (0.75, 0.75, 0.75)
    assert list(table.columns) == ["behavior", "tp", "fp", "fn", "tn", "precision", "recall", "f1", "support"]


def test_frame_scores_sum_over_individuals_per_behavior():
    truth = labels({"walk": ["1100", "0011"], "rest": ["0011", "1100"]}, individuals=["a", "b"])
    pred = labels({"walk": ["1000", "0111"], "rest": ["0000", "1100"]}, individuals=["a", "b"])
    table = frame_scores(pred, truth)
    # walk: a tp 1 fn 1; b tp 2 fp 1 -> tp 3, fp 1, fn 1: P = R = 3/4, F1 = 6/8
    walk = row(table, "walk")
    assert (walk.tp, walk.fp, walk.fn, walk.tn) == (3, 1, 1, 3)
    assert walk.f1 == 0.75
    # rest: a tp 0 fn 2; b tp 2 -> tp 2, fp 0, fn 2: P = 1, R = 1/2, F1 = 4/6
    rest = row(table, "rest")
    assert (rest.precision, rest.recall) == (1.0, 0.5)
    assert math.isclose(rest.f1, 2 / 3)


def test_frame_scores_nan_rules():
    truth = labels({"none": "0000", "missed": "0110", "invented": "0000"})
    pred = labels({"none": "0000", "missed": "0000", "invented": "1100"})
    table = frame_scores(pred, truth)
    # no positive anywhere: everything undefined
    assert row(table, "none")[["precision", "recall", "f1"]].isna().all()
    # truth has positives, nothing predicted: precision NaN (0/0), recall 0, F1 0
    missed = row(table, "missed")
    assert math.isnan(missed.precision)
    assert (missed.recall, missed.f1) == (0.0, 0.0)
    # predicted positives, none true: precision 0, recall NaN, F1 0
    invented = row(table, "invented")
    assert math.isnan(invented.recall)
    assert (invented.precision, invented.f1) == (0.0, 0.0)


def test_frame_scores_align_by_names_and_reject_mismatches():
    truth = labels({"walk": "0110", "rest": "1001"}, individuals=["a"])
    pred = labels({"rest": "1000", "walk": "0110"}, individuals=["a"])  # other behavior order
    table = frame_scores(pred, truth)
    assert table["behavior"].tolist() == ["walk", "rest"]  # truth's order
    assert table["f1"].tolist() == [1.0, 2 / 3]
    with pytest.raises(SchemaError, match=r"only in pred \['run'\]"):
        frame_scores(labels({"run": "0110", "rest": "1001"}, individuals=["a"]), truth)
    with pytest.raises(SchemaError, match="frames"):
        frame_scores(truth.isel(time=slice(0, 3)), truth)
    with pytest.raises(SchemaError, match="time coordinates"):
        frame_scores(truth.assign_coords(time=truth["time"] + 1), truth)
    with pytest.raises(SchemaError, match="rater"):
        frame_scores(truth, truth.expand_dims(rater=["x"]))
    with pytest.raises(SchemaError, match="0/1"):
        frame_scores(truth.astype(float) * 0.5, truth)
    # 0/1 integers and plain arrays are accepted
    assert frame_scores(truth.astype(int), truth)["f1"].tolist() == [1.0, 1.0]
    assert frame_scores(np.array([[1, 0], [0, 1]]), np.array([[1, 0], [1, 1]]))["behavior"].tolist() == [
        "behavior_0",
        "behavior_1",
    ]


# --------------------------------------------------------------------------- bout scores
def test_bout_scores_exact_and_shifted():
    # truth bouts [2,6) and [8,10); pred [3,7) (IoU 3/5 = 0.6) and [8,10) (IoU 1): both match at 0.5
    table = bout_scores(seq("0001111011"), seq("0011110011"))
    r = table.iloc[0]
    assert (r.tp, r.fp, r.fn, r.n_pred, r.n_true) == (2, 0, 0, 2, 2)
    assert r.f1 == 1.0
    assert math.isclose(r.mean_iou, (0.6 + 1.0) / 2)
    # at min_overlap 0.7 the shifted bout no longer matches: tp 1, fp 1, fn 1, F1 = 2/(2+1+1) = 0.5
    assert bout_scores(seq("0001111011"), seq("0011110011"), min_overlap=0.7)["f1"].item() == 0.5


def test_bout_scores_split_bout():
    # truth one bout [1,9) (8 frames); pred split into [1,5) (IoU 4/8 = 0.5) and [6,9) (IoU 3/8)
    # one to one: [1,5) matches, [6,9) is a false positive: tp 1, fp 1, fn 0 -> P 1/2, R 1, F1 2/3
    for min_overlap in (0.5, 0.0):
        r = bout_scores(seq("0111101110"), seq("0111111110"), min_overlap=min_overlap).iloc[0]
        assert (r.tp, r.fp, r.fn) == (1, 1, 0)
        assert (r.precision, r.recall) == (0.5, 1.0)
        assert math.isclose(r.f1, 2 / 3)
        assert r.mean_iou == 0.5


def test_bout_scores_merged_bout():
    # truth [1,3) and [5,7); pred one bout [1,7): IoU 2/6 with each
    # min_overlap 0.5: no match: tp 0, fp 1, fn 2, F1 0
    r = bout_scores(seq("0111111000"), seq("0110011000")).iloc[0]
    assert (r.tp, r.fp, r.fn, r.f1) == (0, 1, 2, 0.0)
    assert math.isnan(r.mean_iou)
    # any overlap: the pred bout matches one true bout (the earlier, on a tie): tp 1, fp 0, fn 1 -> F1 2/3
    r = bout_scores(seq("0111111000"), seq("0110011000"), min_overlap=0).iloc[0]
    assert (r.tp, r.fp, r.fn) == (1, 0, 1)
    assert math.isclose(r.f1, 2 / 3)


def test_bout_scores_no_overlap_and_greedy_by_iou():
    # touching is not overlapping: truth [0,2), pred [2,4): tp 0, fp 1, fn 1 even with min_overlap 0
    r = bout_scores(seq("0011000000"), seq("1100000000"), min_overlap=0).iloc[0]
    assert (r.tp, r.fp, r.fn, r.f1) == (0, 1, 1, 0.0)
    # truth [0,10); pred [0,2) (IoU 0.2) and [3,10) (IoU 0.7): the better one is matched first
    r = bout_scores(seq("1101111111"), seq("1111111111"), min_overlap=0).iloc[0]
    assert (r.tp, r.fp, r.fn) == (1, 1, 0)
    assert math.isclose(r.mean_iou, 0.7)


def test_bout_scores_per_individual_and_nan():
    # a bout of individual a never matches a bout of individual b
    truth = labels({"walk": ["1100", "0000"], "rest": ["0000", "0000"]}, individuals=["a", "b"])
    pred = labels({"walk": ["0000", "1100"], "rest": ["0000", "0000"]}, individuals=["a", "b"])
    table = bout_scores(pred, truth)
    walk = row(table, "walk")
    assert (walk.tp, walk.fp, walk.fn) == (0, 1, 1)
    assert row(table, "rest")[["precision", "recall", "f1"]].isna().all()
    with pytest.raises(ValueError, match="min_overlap"):
        bout_scores(pred, truth, min_overlap=1.5)


# --------------------------------------------------------------------------- confusion matrix
def test_confusion_matrix_hand_counted():
    truth = labels({"walk": "1100000", "rest": "0011100"})
    pred = labels({"walk": "1000010", "rest": "0111000"})
    # frame: 0 walk/walk, 1 walk/rest, 2 rest/rest, 3 rest/rest, 4 rest/none, 5 none/walk, 6 none/none
    cm = confusion_matrix(pred, truth)
    assert cm.index.name == "truth"
    assert cm.columns.name == "pred"
    assert cm.index.tolist() == cm.columns.tolist() == ["walk", "rest", "none"]
    assert cm.to_numpy().tolist() == [[1, 1, 0], [0, 2, 1], [1, 0, 1]]
    assert cm.to_numpy().sum() == 7
    with pytest.raises(SchemaError, match="several behaviors on 1 frame"):
        confusion_matrix(labels({"walk": "1100000", "rest": "1011100"}), truth)
    with pytest.raises(SchemaError, match="none_label"):
        confusion_matrix(pred, truth, none_label="walk")


# --------------------------------------------------------------------------- raters
def three_raters() -> xr.DataArray:
    per_rater = {
        "ann": labels({"rear": "0111100000", "groom": "0000000111"}),
        "bob": labels({"rear": "0011110000", "groom": "0000000011"}),
        "cid": labels({"rear": "0111000000", "groom": "0000000000"}),
    }
    return xr.concat(list(per_rater.values()), dim=pd.Index(list(per_rater), name="rater"))


def test_rater_agreement_hand_computed_and_symmetric():
    raters = three_raters()
    table = rater_agreement(raters)
    assert table[["rater_a", "rater_b"]].drop_duplicates().values.tolist() == [
        ["ann", "bob"],
        ["ann", "cid"],
        ["bob", "cid"],
    ]
    rear = table[table["behavior"] == "rear"].set_index(["rater_a", "rater_b"])
    # rear: ann frames 1-4, bob 2-5, cid 1-3
    # ann/bob: both 2-4 (3): F1 = 2*3 / (4 + 4) = 0.75; ann/cid: both 1-3 (3): 6/7; bob/cid: both 2-3 (2): 4/7
    assert rear.loc[("ann", "bob"), ["n_a", "n_b", "n_both"]].tolist() == [4, 4, 3]
    np.testing.assert_allclose(rear["f1"].to_numpy(), [0.75, 6 / 7, 4 / 7])
    groom = table[table["behavior"] == "groom"]["f1"].to_numpy()
    # groom: ann 7-9, bob 8-9, cid none: ann/bob 2*2/(3+2) = 0.8; with cid: F1 0 (one side has positives)
    np.testing.assert_allclose(groom, [0.8, 0.0, 0.0])
    # symmetric: reversing the raters gives the same F1 for every unordered pair
    reverse = rater_agreement(raters.isel(rater=[2, 1, 0]))
    assert reverse[["rater_a", "rater_b"]].drop_duplicates().values.tolist()[0] == ["cid", "bob"]
    key = lambda t: t.assign(pair=[frozenset(p) for p in zip(t.rater_a, t.rater_b, strict=True)])  # noqa: E731
    merged = key(table).merge(key(reverse), on=["pair", "behavior"])
    np.testing.assert_allclose(merged["f1_x"], merged["f1_y"])
    np.testing.assert_array_equal(merged["n_a_x"], merged["n_b_y"])


def test_classifier_vs_raters_and_human_ceiling():
    raters = three_raters()
    pred = labels({"rear": "0111100000", "groom": "0000000111"})  # = ann
    table = classifier_vs_raters(pred, raters).set_index("behavior")
    rear = table.loc["rear"]
    # vs ann 1; vs bob 0.75; vs cid 6/7; human ceiling = mean(0.75, 6/7, 4/7)
    assert rear["f1_vs_ann"] == 1.0
    assert rear["f1_vs_bob"] == 0.75
    assert math.isclose(rear["f1_vs_cid"], 6 / 7)
    assert math.isclose(rear["f1_vs_raters_mean"], (1 + 0.75 + 6 / 7) / 3)
    assert math.isclose(rear["rater_f1_mean"], (0.75 + 6 / 7 + 4 / 7) / 3)
    assert (rear["rater_f1_min"], rear["rater_f1_max"]) == (4 / 7, 6 / 7)
    assert math.isclose(table.loc["groom", "rater_f1_mean"], 0.8 / 3)
    with pytest.raises(SchemaError, match="rater"):
        classifier_vs_raters(pred, pred)
    single = classifier_vs_raters(pred, raters.isel(rater=[0]))
    assert single["rater_f1_mean"].isna().all()  # one rater: no pair, no ceiling
