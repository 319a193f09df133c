"""Cleaning of pose trajectories: known answers for masking, interpolation, smoothing and jump removal."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from behaviorlab.errors import SchemaError
from behaviorlab.schema import from_numpy, get_log
from behaviorlab.trajectories.filtering import (
    CleaningConfig,
    clean_poses,
    cleaning_report,
    filter_by_confidence,
    filter_jumps,
    interpolate_over_time,
    median_filter,
    savgol_filter,
)

FPS = 10.0


def _walk(n_time=200, n_kp=3, n_ind=2, seed=0):
    rng = np.random.default_rng(seed)
    pos = 100 + np.cumsum(rng.normal(scale=0.5, size=(n_time, 2, n_kp, n_ind)), axis=0)
    conf = rng.uniform(0.5, 1.0, size=(n_time, n_kp, n_ind))
    return from_numpy(pos, conf, keypoints=["nose", "neck", "tail"][:n_kp], individuals=["a", "b"][:n_ind], fps=FPS)


def _line_ds(n_time=60):
    """x = 2 t, y = -t (px, t in frames) for 1 keypoint of 2 individuals."""
    t = np.arange(n_time, dtype=float)
    pos = np.zeros((n_time, 2, 1, 2))
    pos[:, 0] = 2 * t[:, None, None]
    pos[:, 1] = -t[:, None, None]
    return from_numpy(pos, fps=FPS)


def _ops(obj):
    return [entry["operation"] for entry in get_log(obj)]


def test_filter_by_confidence_masks_low_and_keeps_unknown():
    ds = _walk()
    conf = ds["confidence"].values.copy()
    conf[5, 0, 0] = 0.1
    conf[6, 1, 1] = np.nan
    ds["confidence"] = (ds["confidence"].dims, conf)
    before = ds.copy(deep=True)
    out = filter_by_confidence(ds, 0.3)
    xr.testing.assert_identical(ds, before)  # not mutated
    assert np.isnan(out["position"].values[5, :, 0, 0]).all()
    assert not np.isnan(out["position"].values[6, :, 1, 1]).any()  # unknown confidence kept
    assert np.isnan(out["position"].values).sum() == 2
    dropped = filter_by_confidence(ds, 0.3, drop_unknown=True)
    assert np.isnan(dropped["position"].values[6, :, 1, 1]).all()
    assert _ops(out) == ["filter_by_confidence"]
    assert get_log(out)[0]["threshold"] == 0.3


def test_filter_by_confidence_on_a_position_dataarray():
    ds = _walk()
    out = filter_by_confidence(ds["position"], 0.75, confidence=ds["confidence"])
    expected = ds["confidence"].values < 0.75
    np.testing.assert_array_equal(np.isnan(out.values[:, 0]), expected)
    with pytest.raises(SchemaError, match="needs confidence"):
        filter_by_confidence(ds["position"], 0.5)


def test_interpolation_fills_gaps_up_to_max_gap_only():
    ds = _line_ds()
    pos = ds["position"].values.copy()
    pos[10:13, :, 0, 0] = np.nan  # gap of 3
    pos[20:28, :, 0, 0] = np.nan  # gap of 8
    pos[:2, :, 0, 1] = np.nan  # leading
    pos[-3:, :, 0, 1] = np.nan  # trailing
    gappy = from_numpy(pos, fps=FPS)
    before = gappy.copy(deep=True)
    out = interpolate_over_time(gappy, max_gap=5)
    xr.testing.assert_identical(gappy, before)
    filled = out["position"].values
    np.testing.assert_allclose(filled[10:13, :, 0, 0], ds["position"].values[10:13, :, 0, 0])
    assert np.isnan(filled[20:28, :, 0, 0]).all()  # longer gap stays entirely NaN
    assert np.isnan(filled[:2, :, 0, 1]).all()
    assert np.isnan(filled[-3:, :, 0, 1]).all()
    assert np.isnan(filled).sum() == 2 * (8 + 2 + 3)  # nothing else is missing
    every = interpolate_over_time(gappy)
    np.testing.assert_allclose(every["position"].values[20:28, :, 0, 0], ds["position"].values[20:28, :, 0, 0])
    assert _ops(out) == ["interpolate_over_time"]
    assert get_log(out)[0]["max_gap"] == 5


def test_cubic_interpolation_is_exact_for_a_cubic():
    t = np.arange(40, dtype=float)
    series = xr.DataArray(0.01 * t**3 - 0.2 * t**2 + t, dims="time")
    gappy = series.where((t < 15) | (t > 18))
    out = interpolate_over_time(gappy, "cubic", max_gap=4)
    np.testing.assert_allclose(out.values, series.values, atol=1e-9)
    with pytest.raises(SchemaError, match="method"):
        interpolate_over_time(gappy, "quadratic")


def test_median_filter_removes_single_frame_spikes():
    ds = _line_ds()
    pos = ds["position"].values.copy()
    pos[[7, 30, 45], 0, 0, 0] += 500.0
    pos[50, :, 0, 1] = np.nan
    spiky = from_numpy(pos, fps=FPS)
    out = median_filter(spiky, 5)
    clean = ds["position"].values
    error = np.abs(out["position"].values[:, 0, 0, 0] - clean[:, 0, 0, 0])
    assert error.max() <= 2.0  # at most one frame's step (2 px) from the line; spikes were 500 px
    np.testing.assert_allclose(out["position"].values[2:47, :, :, 1], clean[2:47, :, :, 1])  # a line is kept
    still = xr.DataArray(np.full(30, 7.0), dims="time").copy(data=np.r_[np.full(10, 7.0), 99.0, np.full(19, 7.0)])
    np.testing.assert_array_equal(median_filter(still, 3).values, np.full(30, 7.0))
    assert np.isnan(out["position"].values[50, :, 0, 1]).all()  # NaN stays NaN, no filling
    assert np.isfinite(out["position"].values[49, :, 0, 1]).all()
    with pytest.raises(SchemaError, match="odd"):
        median_filter(spiky, 4)


def test_savgol_keeps_polynomials_and_never_smooths_across_nan():
    t = np.arange(100, dtype=float)
    series = xr.DataArray(0.5 * t**2 - 3 * t, dims="time", attrs={"log": "[]"})
    out = savgol_filter(series, 7, 2)
    np.testing.assert_allclose(out.values, series.values, atol=1e-6)
    gappy = series.where((t < 40) | (t > 42))
    out = savgol_filter(gappy, 7, 2)
    nan = np.flatnonzero(np.isnan(out.values))
    np.testing.assert_array_equal(nan, np.arange(37, 46))  # the gap plus half a window each side
    np.testing.assert_allclose(out.values[:37], series.values[:37], atol=1e-6)
    assert _ops(out) == ["savgol_filter"]


def test_filter_jumps_removes_a_planted_teleport_and_keeps_the_rest():
    ds = _line_ds(80)  # |v| = sqrt(5) px/frame = 22.4 px/s
    pos = ds["position"].values.copy()
    pos[30, :, 0, 0] += 300.0  # single-frame spike
    pos[50:54, :, 0, 0] += 300.0  # 4-frame excursion
    pos[0, :, 0, 1] += 300.0  # spike in the first frame
    jumpy = from_numpy(pos, fps=FPS)
    before = jumpy.copy(deep=True)
    out = filter_jumps(jumpy, max_speed=100.0)
    xr.testing.assert_identical(jumpy, before)
    missing = np.isnan(out["position"].values[:, 0, 0, :])
    np.testing.assert_array_equal(np.flatnonzero(missing[:, 0]), [30, 50, 51, 52, 53])
    np.testing.assert_array_equal(np.flatnonzero(missing[:, 1]), [0])
    assert _ops(out) == ["filter_jumps"]


def test_filter_jumps_in_cm_per_second():
    ds = _line_ds(40)  # 22.4 px/s = 2.24 cm/s at 10 px/cm
    pos = ds["position"].values.copy()
    pos[20, 0, 0, 0] += 20.0  # 200 px/s = 20 cm/s
    jumpy = from_numpy(pos, fps=FPS)
    assert np.isnan(filter_jumps(jumpy, 10.0, px_per_cm=10.0)["position"].values[20, 0, 0, 0])
    assert not np.isnan(filter_jumps(jumpy, 50.0, px_per_cm=10.0)["position"].values).any()


def test_clean_poses_chains_steps_and_reports():
    ds = _walk(n_time=100)
    pos = ds["position"].values.copy()
    conf = ds["confidence"].values.copy()
    pos[10:12, :, 0, 0] = np.nan  # missing in raw, filled (gap 2)
    conf[40, 1, 0] = 0.1  # masked, then filled
    pos[60:80, :, 2, 1] = np.nan  # long gap, stays missing
    raw = from_numpy(pos, conf, keypoints=["nose", "neck", "tail"], individuals=["a", "b"], fps=FPS)
    config = {"confidence_threshold": 0.3, "max_speed": 1000.0, "median_window": 3, "max_gap": 5}
    cleaned = clean_poses(raw, config)
    assert _ops(cleaned) == [
        "filter_by_confidence",
        "filter_jumps",
        "median_filter",
        "interpolate_over_time",
        "clean_poses",
    ]
    report = cleaning_report(raw, cleaned)
    assert list(report.columns) == ["share_nan_raw", "share_masked", "n_interpolated", "share_missing"]
    assert report.loc[("a", "nose"), "share_nan_raw"] == pytest.approx(0.02)
    assert report.loc[("a", "nose"), "n_interpolated"] == 2
    assert report.loc[("a", "neck"), "share_masked"] == pytest.approx(0.01)
    assert report.loc[("a", "neck"), "share_missing"] == 0.0
    assert report.loc[("b", "tail"), "share_missing"] == pytest.approx(0.2)
    assert report.loc[("b", "tail"), "n_interpolated"] == 0
    assert CleaningConfig.from_dict(config).to_dict()["median_window"] == 3
    with pytest.raises(SchemaError, match=r"unknown key.*cleaning"):
        clean_poses(raw, {"median": 3})


def test_functions_work_on_any_dataarray_with_time():
    features = xr.DataArray(np.random.default_rng(1).normal(size=(50, 3, 4)), dims=("time", "individual", "feature"))
    out = median_filter(features, 3)
    assert out.dims == features.dims
    assert out.shape == features.shape
    with pytest.raises(SchemaError, match="time"):
        median_filter(features.rename(time="frame"), 3)
