"""Known-answer tests of pose evaluation."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest

from behaviorlab.errors import SchemaError
from behaviorlab.pose.evaluate import EvaluationReport, error_summary, evaluate_predictions, keypoint_errors, pck

NAMES = ["nose", "tail"]


def _triangles() -> tuple[np.ndarray, np.ndarray]:
    """Errors 5, 10, 15 on the nose, 13 and missing on the tail (3-4-5, 6-8-10, 9-12-15, 5-12-13)."""
    true = np.zeros((3, 1, 2, 2))
    pred = np.zeros((3, 1, 2, 2))
    pred[:, 0, 0] = [[3.0, 4.0], [6.0, 8.0], [9.0, 12.0]]
    true[:, 0, 1] = [[1.0, 1.0], [2.0, 2.0], [np.nan, np.nan]]
    pred[:, 0, 1] = [[6.0, 13.0], [2.0, 2.0], [1.0, 1.0]]
    return pred, true


def test_keypoint_errors_by_hand():
    pred, true = _triangles()
    errors = keypoint_errors(pred, true)
    assert errors.shape == (3, 1, 2)
    np.testing.assert_allclose(errors[:, 0, 0], [5.0, 10.0, 15.0])
    np.testing.assert_allclose(errors[:2, 0, 1], [13.0, 0.0])
    assert np.isnan(errors[2, 0, 1])


def test_keypoint_errors_without_individual_axis_and_nan_in_prediction():
    true = np.array([[[0.0, 0.0], [1.0, 1.0]]])
    pred = np.array([[[3.0, -4.0], [np.nan, 1.0]]])
    errors = keypoint_errors(pred, true)
    assert errors.shape == (1, 2)
    assert errors[0, 0] == 5.0
    assert np.isnan(errors[0, 1])


def test_keypoint_errors_shape_mismatch():
    with pytest.raises(SchemaError, match="shape"):
        keypoint_errors(np.zeros((2, 3, 2)), np.zeros((2, 4, 2)))


def test_error_summary_matches_numpy():
    rng = np.random.default_rng(0)
    errors = rng.gamma(2.0, 2.0, size=(50, 2, 3))
    errors[rng.random(errors.shape) < 0.2] = np.nan
    table = error_summary(errors, ["a", "b", "c"])
    assert list(table.index) == ["a", "b", "c", "all"]
    assert list(table.columns) == ["n", "mean", "median", "p90", "p99", "max"]
    for k, name in enumerate(["a", "b", "c"]):
        values = errors[..., k][~np.isnan(errors[..., k])]
        row = table.loc[name]
        assert row["n"] == values.size
        assert row["mean"] == pytest.approx(values.mean())
        assert row["median"] == pytest.approx(np.median(values))
        assert row["p90"] == pytest.approx(np.percentile(values, 90))
        assert row["p99"] == pytest.approx(np.percentile(values, 99))
        assert row["max"] == pytest.approx(values.max())
    pooled = errors[~np.isnan(errors)]
    assert table.loc["all", "n"] == pooled.size
    assert table.loc["all", "median"] == pytest.approx(np.median(pooled))
    assert table["n"].dtype == np.int64


def test_error_summary_all_nan_keypoint_gives_nan_row_without_warning():
    errors = np.array([[1.0, np.nan], [3.0, np.nan]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = error_summary(errors, ["seen", "never"])
    assert table.loc["never", "n"] == 0
    assert table.loc["never", ["mean", "median", "p90", "p99", "max"]].isna().all()
    assert table.loc["all", "mean"] == 2.0


def test_error_summary_empty_input():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = error_summary(np.empty((0, 2)), NAMES)
        shares = pck(np.empty((0, 2)), [5], NAMES)
    assert (table["n"] == 0).all()
    assert table["mean"].isna().all()
    assert shares.isna().all().all()


def test_pck_by_hand():
    pred, true = _triangles()
    errors = keypoint_errors(pred, true)  # nose 5, 10, 15; tail 13, 0, missing
    table = pck(errors, [5, 12.5], NAMES)
    assert list(table.columns) == ["pck@5", "pck@12.5"]
    assert table.loc["nose", "pck@5"] == pytest.approx(1 / 3)  # error == threshold counts as correct
    assert table.loc["nose", "pck@12.5"] == pytest.approx(2 / 3)
    assert table.loc["tail", "pck@5"] == pytest.approx(1 / 2)
    assert table.loc["tail", "pck@12.5"] == pytest.approx(1 / 2)
    assert table.loc["all", "pck@5"] == pytest.approx(2 / 5)
    assert table.loc["all", "pck@12.5"] == pytest.approx(3 / 5)


def test_pck_rejects_bad_thresholds():
    with pytest.raises(ValueError, match="thresholds"):
        pck(np.zeros((2, 2)), [-1])
    with pytest.raises(SchemaError, match="keypoint names"):
        pck(np.zeros((2, 2)), [1], ["only_one"])


def test_evaluate_predictions_report():
    pred, true = _triangles()
    report = evaluate_predictions(pred, true, NAMES, thresholds=(5, 10))
    assert isinstance(report, EvaluationReport)
    assert report.overall["n"] == 5
    assert report.overall["mean"] == pytest.approx((5 + 10 + 15 + 13 + 0) / 5)
    assert report.overall["median"] == 10.0
    assert report.overall["max"] == 15.0
    assert report.overall["pck@10"] == pytest.approx(3 / 5)
    assert report.per_keypoint.loc["tail", "n"] == 2


def test_report_to_dict_is_json_with_none_for_nan():
    true = np.zeros((2, 2, 2))
    pred = np.ones((2, 2, 2))
    true[:, 1] = np.nan  # the second keypoint is never labelled
    report = evaluate_predictions(pred, true, NAMES)
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data["per_keypoint"]["tail"]["mean"] is None
    assert data["per_keypoint"]["tail"]["n"] == 0
    assert data["pck"]["tail"]["pck@2"] is None
    assert data["per_keypoint"]["nose"]["mean"] == pytest.approx(math.sqrt(2))
    assert data["overall"]["pck@2"] == 1.0
    assert set(data["overall"]) == {"n", "mean", "median", "p90", "p99", "max", "pck@2", "pck@5", "pck@10"}


def test_report_markdown():
    pred, true = _triangles()
    text = evaluate_predictions(pred, true, NAMES).to_markdown()
    lines = text.strip().splitlines()
    header = next(line for line in lines if line.startswith("| keypoint"))
    for column in ["n", "mean", "median", "p90", "p99", "max", "pck@2", "pck@5", "pck@10"]:
        assert column in header
    assert any(line.startswith("| all") and "10.000" in line for line in lines)
    assert any(line.startswith("| tail") for line in lines)


def test_default_keypoint_names_and_reserved_name():
    table = error_summary(np.ones((3, 2)))
    assert list(table.index) == ["keypoint_0", "keypoint_1", "all"]
    with pytest.raises(SchemaError, match="reserved"):
        error_summary(np.ones((3, 2)), ["all", "x"])
