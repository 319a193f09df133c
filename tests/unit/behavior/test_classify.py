"""BehaviorClassifier: window features and bouts by hand, known behaviors recovered, honest folds, round trips."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy.ndimage import uniform_filter1d
from sklearn.base import clone

from behaviorlab import _persist
from behaviorlab.behavior.classify import BehaviorClassifier, CVFold, postprocess_bouts, window_features
from behaviorlab.behavior.crossval import CVResult
from behaviorlab.errors import FileFormatError, SchemaError

FPS = 30.0
FAST = {"max_iter": 50}


# ------------------------------------------------------------------ synthetic sessions with a known answer
def _bouts(rng: np.random.Generator, n: int, n_ind: int) -> np.ndarray:
    """Alternating on/off bouts of 0.5 to 3 s for each individual."""
    out = np.zeros((n, n_ind), dtype=bool)
    for j in range(n_ind):
        t, on = 0, bool(rng.integers(2))
        while t < n:
            d = int(rng.uniform(0.5, 3.0) * FPS)
            out[t : t + d, j] = on
            t, on = t + d, not on
    return out


def _session(seed: int, n: int = 1800, individuals: tuple[str, ...] = ("m1",)) -> tuple[xr.Dataset, xr.DataArray]:
    """Behavior A is on when f0 > 1 (f0 = 2 A + noise), B when f1 < -1 (f1 = -2 B + noise); f2, f3 are noise."""
    rng = np.random.default_rng(seed)
    n_ind = len(individuals)
    truth = np.stack([_bouts(rng, n, n_ind), _bouts(rng, n, n_ind)], axis=-1)
    smooth = uniform_filter1d(rng.normal(size=(n + 15, n_ind, 4)), 15, axis=0)[7 : 7 + n] * np.sqrt(15)
    obs = 0.4 * smooth + rng.normal(0, 0.1, smooth.shape)
    obs[..., 0] += 2.0 * truth[..., 0]
    obs[..., 1] -= 2.0 * truth[..., 1]
    time_ = np.arange(n) / FPS
    coords = {"time": time_, "individual": list(individuals)}
    features = xr.DataArray(
        obs,
        dims=("time", "individual", "feature"),
        coords={**coords, "feature": ["f0", "f1", "f2", "f3"], "units": ("feature", ["cm"] * 4)},
    )
    ds = xr.Dataset({"features": features}, attrs={"fps": FPS, "session": f"s{seed}"})
    labels = xr.DataArray(truth, dims=("time", "individual", "behavior"), coords={**coords, "behavior": ["A", "B"]})
    return ds, labels


@pytest.fixture(scope="module")
def sessions() -> tuple[dict[str, xr.Dataset], dict[str, xr.DataArray]]:
    feats, labels = {}, {}
    for seed in range(3):
        feats[f"s{seed}"], labels[f"s{seed}"] = _session(seed)
    return feats, labels


@pytest.fixture(scope="module")
def fitted(sessions) -> BehaviorClassifier:
    feats, labels = sessions
    return BehaviorClassifier(**FAST).fit({k: feats[k] for k in ("s0", "s1")}, {k: labels[k] for k in ("s0", "s1")})


def _series(values: np.ndarray, fps: float = 10.0) -> xr.DataArray:
    values = np.asarray(values, dtype=float)
    return xr.DataArray(
        values.reshape(len(values), 1, 1),
        dims=("time", "individual", "feature"),
        coords={"time": np.arange(len(values)) / fps, "individual": ["m"], "feature": ["x"]},
        attrs={"fps": fps},
    )


# ------------------------------------------------------------------ window features
def test_window_features_of_a_ramp_match_hand_computed_values():
    # at 10 fps, 0.2 s is 3 frames (t-1..t+1), 0.4 s is 5 frames (t-2..t+2); windows are cut at the ends
    out = window_features(_series(np.arange(10)), windows_s=(0.2, 0.4), stats=("mean", "std", "min", "max"))
    assert out.dims == ("time", "individual", "feature")
    assert out.sizes["feature"] == 1 + 2 * 4
    v = out.sel(individual="m")
    expected = {
        ("x__mean_0.2s", 5): 5.0,
        ("x__std_0.2s", 5): np.sqrt(2 / 3),
        ("x__min_0.2s", 5): 4.0,
        ("x__max_0.2s", 5): 6.0,
        ("x__mean_0.2s", 0): 0.5,  # {0, 1}
        ("x__std_0.2s", 0): 0.5,
        ("x__max_0.2s", 9): 9.0,
        ("x__mean_0.4s", 5): 5.0,
        ("x__std_0.4s", 5): np.sqrt(2.0),  # {3..7}
        ("x__mean_0.4s", 1): 1.5,  # {0, 1, 2, 3}
        ("x__std_0.4s", 1): np.sqrt(1.25),
        ("x__min_0.4s", 9): 7.0,
        ("x", 7): 7.0,
    }
    for (name, t), value in expected.items():
        assert float(v.sel(feature=name).isel(time=t)) == pytest.approx(value), (name, t)


def test_window_features_of_a_step_and_the_frame_rate_rounding():
    step = np.r_[np.zeros(5), np.ones(5)]
    v = window_features(_series(step), windows_s=(0.2,), stats=("mean", "max", "min")).sel(individual="m")
    assert float(v.sel(feature="x__mean_0.2s").isel(time=4)) == pytest.approx(1 / 3)
    assert float(v.sel(feature="x__max_0.2s").isel(time=4)) == 1.0
    assert float(v.sel(feature="x__min_0.2s").isel(time=5)) == 0.0
    assert float(v.sel(feature="x__min_0.2s").isel(time=6)) == 1.0
    # 0.5 s at 30 fps: half-width floor(7.5 + 0.5) = 8 frames, 17 in all
    ramp = window_features(_series(np.arange(60), fps=30.0), windows_s=(0.5,), stats=("min", "max"))
    assert float(ramp.sel(feature="x__min_0.5s").isel(time=30, individual=0)) == 22.0
    assert float(ramp.sel(feature="x__max_0.5s").isel(time=30, individual=0)) == 38.0


def test_window_features_names_order_units_and_nan_handling():
    values = np.arange(10, dtype=float)
    values[5] = np.nan
    values[7:10] = np.nan
    da = _series(values)
    da = xr.concat([da, da.assign_coords(feature=["y"]) * 10], dim="feature").assign_coords(
        units=("feature", ["cm", "cm/s"])
    )
    before = da.copy(deep=True)
    out = window_features(da, windows_s=(0.2,), stats=("mean", "std"))
    assert list(out["feature"].values) == ["x", "y", "x__mean_0.2s", "y__mean_0.2s", "x__std_0.2s", "y__std_0.2s"]
    assert list(out["units"].values) == ["cm", "cm/s"] * 3
    x = out.sel(individual="m", feature="x__mean_0.2s").values
    assert x[4] == pytest.approx(3.5)  # {3, 4, NaN}
    assert x[5] == pytest.approx(5.0)  # {4, NaN, 6}
    assert np.isnan(x[8])  # {NaN, NaN, NaN}
    assert x[9] != x[9]  # the truncated last window {NaN, NaN} too
    assert np.isnan(out.sel(individual="m", feature="x").values[5])  # the raw value stays NaN
    xr.testing.assert_identical(da, before)
    assert json.loads(out.attrs["log"])[-1]["operation"] == "window_features"


def test_window_features_keeps_individuals_apart_and_checks_its_input():
    da = xr.concat([_series(np.zeros(6)), _series(np.full(6, 100.0)).assign_coords(individual=["n"])], "individual")
    out = window_features(da, windows_s=(1.0,), stats=("max",))
    assert float(out.sel(individual="m", feature="x__max_1s").max()) == 0.0
    with pytest.raises(SchemaError, match="unknown window statistic"):
        window_features(da, stats=("median",))
    with pytest.raises(SchemaError, match="frame rate"):
        window_features(da.assign_coords(time=np.arange(6)).drop_attrs())
    ds = xr.Dataset({"features": da.drop_attrs()}, attrs={"fps": 10.0})
    assert window_features(ds, windows_s=(0.2,)).attrs["fps"] == 10.0


# ------------------------------------------------------------------ bouts
def test_postprocess_bouts_closes_gaps_and_drops_short_bouts():
    closed = postprocess_bouts(np.array([1, 1, 0, 0, 1, 1, 0, 0, 0, 1], bool), min_bout=1, max_gap=2)
    np.testing.assert_array_equal(closed, np.array([1, 1, 1, 1, 1, 1, 0, 0, 0, 1], bool))
    dropped = postprocess_bouts(np.array([0, 1, 0, 1, 1, 1, 0], bool), min_bout=2, max_gap=0)
    np.testing.assert_array_equal(dropped, np.array([0, 0, 0, 1, 1, 1, 0], bool))
    # runs of False at the ends are not gaps
    edges = np.array([0, 1, 1, 0], bool)
    np.testing.assert_array_equal(postprocess_bouts(edges, min_bout=1, max_gap=5), edges)


def test_postprocess_bouts_closes_gaps_before_dropping_bouts():
    mask = np.array([1, 0, 1, 0, 0, 0, 0], bool)
    # gaps first: 1 0 1 -> one bout of 3 frames, which survives min_bout=3 (the other order would drop both)
    np.testing.assert_array_equal(postprocess_bouts(mask, min_bout=3, max_gap=1), np.array([1, 1, 1, 0, 0, 0, 0], bool))
    np.testing.assert_array_equal(postprocess_bouts(mask, min_bout=4, max_gap=1), np.zeros(7, bool))


def test_postprocess_bouts_treats_columns_apart_and_leaves_its_input():
    mask = np.zeros((8, 2), bool)
    mask[[1, 2, 4, 5], 0] = True  # a one-frame gap at 3
    mask[6, 1] = True  # a one-frame bout
    before = mask.copy()
    out = postprocess_bouts(mask, min_bout=2, max_gap=1)
    np.testing.assert_array_equal(out[:, 0], [0, 1, 1, 1, 1, 1, 0, 0])
    np.testing.assert_array_equal(out[:, 1], np.zeros(8, bool))
    np.testing.assert_array_equal(mask, before)
    with pytest.raises(SchemaError, match="bool"):
        postprocess_bouts(np.array([0, 1, 1]), 1, 1)


# ------------------------------------------------------------------ known answers
def test_leave_one_session_out_recovers_the_planted_behaviors(sessions):
    feats, labels = sessions
    clf = BehaviorClassifier(**FAST)
    result = clf.cross_validate(feats, labels)
    assert isinstance(result, CVResult)
    assert result.cv == "sessions"
    assert sorted(result.folds["session"]) == ["s0", "s1", "s2"]
    assert (result.scores["f1"] >= 0.95).all(), result.scores
    assert list(result.scores["behavior"]) == ["A", "B"]
    assert (result.scores["n_frames"] == 3 * 1800).all()
    assert result.thresholds.shape == (3, 2)
    assert result.fold_scores.shape[0] == 3 * 2
    proba = result.probabilities["s1"]
    assert proba.dims == ("time", "individual", "behavior")
    assert float(proba.min()) >= 0
    assert float(proba.max()) <= 1
    assert result.predictions["s1"].dtype == bool
    assert not hasattr(clf, "models_")  # cross-validation leaves the estimator unfitted


def test_folds_run_apart_and_pooled_equal_cross_validate(sessions):
    """cross_validate_fold in any order (as Dask workers would, through pickle) + pool_folds == cross_validate."""
    feats, labels = sessions
    clf = BehaviorClassifier(**FAST)
    whole = clf.cross_validate(feats, labels)
    assert clf.n_cv_folds(feats) == 3
    assert BehaviorClassifier(cv="blocks", n_blocks=4).n_cv_folds(feats) == 4
    folds = [pickle.loads(pickle.dumps(clf.cross_validate_fold(feats, labels, k))) for k in (2, 0, 1)]
    assert all(isinstance(f, CVFold) for f in folds)
    assert folds[0].parts[0][1] == "s2"  # fold k holds out the k-th session
    pooled = clf.pool_folds(feats, labels, folds)
    pd.testing.assert_frame_equal(pooled.scores, whole.scores)
    pd.testing.assert_frame_equal(pooled.fold_scores, whole.fold_scores)
    pd.testing.assert_frame_equal(pooled.thresholds, whole.thresholds)
    pd.testing.assert_frame_equal(pooled.folds, whole.folds)
    for name in feats:
        xr.testing.assert_identical(pooled.probabilities[name], whole.probabilities[name])
        xr.testing.assert_identical(pooled.predictions[name], whole.predictions[name])
    with pytest.raises(SchemaError, match=r"each of the 3 folds once, got folds \[0, 2\]"):
        clf.pool_folds(feats, labels, [folds[0], folds[1]])
    with pytest.raises(SchemaError, match="fold must be an integer in"):
        clf.cross_validate_fold(feats, labels, 3)
    two = {k: feats[k] for k in ("s0", "s1")}, {k: labels[k] for k in ("s0", "s1")}
    with pytest.raises(SchemaError, match="computed on other sessions"):
        clf.pool_folds(*two, [folds[1], folds[2]])


def test_a_fold_model_is_the_fit_on_its_training_sessions(sessions):
    """Skipping the importances in a fold changes nothing else: its thresholds are a plain fit's on the rest."""
    feats, labels = sessions
    params = {**FAST, "max_train_frames": 1000}  # the final models train on drawn frames
    fold = BehaviorClassifier(**params).cross_validate_fold(feats, labels, 1)
    rest = BehaviorClassifier(**params).fit({k: feats[k] for k in ("s0", "s2")}, {k: labels[k] for k in ("s0", "s2")})
    assert fold.thresholds == rest.thresholds_
    proba = rest.predict_proba(feats["s1"]).transpose("time", "individual", "behavior").values.reshape(-1, 2)
    np.testing.assert_allclose(fold.probabilities, proba)


def test_one_session_is_cross_validated_by_contiguous_time_blocks(sessions):
    feats, labels = sessions
    result = BehaviorClassifier(n_blocks=4, **FAST).cross_validate(feats["s0"], labels["s0"])
    assert result.cv == "blocks"
    fold = result.test_fold["s0"].values
    assert np.all(np.diff(fold) >= 0)  # each block is one contiguous stretch of time
    assert sorted(np.unique(fold)) == [0, 1, 2, 3]
    assert np.allclose(np.bincount(fold), len(fold) / 4, atol=1)
    assert result.folds["start_s"].is_monotonic_increasing
    assert (result.scores["f1"] >= 0.9).all(), result.scores


def test_two_animals_share_their_time_blocks():
    feats, labels = _session(11, n=1200, individuals=("a", "b"))
    result = BehaviorClassifier(n_blocks=3, **FAST).cross_validate(feats, labels)
    assert result.test_fold["s11"].dims == ("time",)
    assert (result.scores["f1"] >= 0.9).all(), result.scores


def test_the_planted_feature_is_the_most_important(fitted):
    imp = fitted.feature_importances_
    assert list(imp.index) == ["A", "B"]
    assert list(imp.columns) == ["f0", "f1", "f2", "f3"]
    assert imp.loc["A"].idxmax() == "f0"
    assert imp.loc["B"].idxmax() == "f1"
    assert imp.loc["A", "f0"] > 0.1 > abs(imp.loc["A", "f2"])


def test_fitted_attributes_describe_the_model(fitted):
    assert fitted.behaviors_ == ["A", "B"]
    assert set(fitted.models_) == set(fitted.thresholds_) == {"A", "B"}
    assert all(0 < t < 1 for t in fitted.thresholds_.values())
    assert fitted.fps_ == FPS
    assert list(fitted.base_feature_names_) == ["f0", "f1", "f2", "f3"]
    assert fitted.n_features_in_ == len(fitted.feature_names_in_) == 4 * (1 + 3 * 4)
    assert "f0__mean_0.5s" in fitted.feature_names_in_
    assert fitted.feature_spec_["windows_s"] == [0.2, 0.5, 1.0]
    assert fitted.n_train_frames_ == 2 * 1800
    assert fitted.cv_["n_validation_frames"] > 0
    assert (fitted.training_["val_f1"] > 0.9).all()


def test_generated_poses_are_classified_well_above_chance():
    from behaviorlab.features.pipeline import compute_session_features
    from behaviorlab.synthetic.simulate import BEHAVIORS, SyntheticConfig, simulate_poses

    feats, labels = {}, {}
    for seed in (1, 2):
        poses, behavior = simulate_poses(SyntheticConfig(duration_s=90, seed=seed))
        feats[f"g{seed}"] = compute_session_features(poses, {"spectrogram": False})
        onehot = xr.concat([behavior == b for b in BEHAVIORS], dim="behavior").assign_coords(behavior=list(BEHAVIORS))
        labels[f"g{seed}"] = onehot.transpose("time", "individual", "behavior")
    clf = BehaviorClassifier(behaviors=["rest", "walk", "run"], windows_s=(0.5,), stats=("mean", "std"), **FAST)
    result = clf.cross_validate(feats, labels)
    # measured 0.83 (rest), 0.95 (walk), 0.92 (run); chance is about the prevalence, 0.05 to 0.3
    assert (result.scores["f1"] >= 0.7).all(), result.scores


# ------------------------------------------------------------------ applying
def test_predict_proba_and_predict_keep_the_container_and_mark_nan_frames(fitted, sessions):
    feats, _ = sessions
    ds = feats["s2"].copy(deep=True)
    ds["features"][100:110, 0, 2] = np.nan  # one feature missing: still predicted (gradient boosting takes NaN)
    ds["features"][300:340, 0, :] = np.nan  # the animal lost for 40 frames: nothing to predict from in the middle
    proba = fitted.predict_proba(ds)
    assert isinstance(proba, xr.DataArray)
    assert proba.dims == ("time", "individual", "behavior")
    assert proba.shape == (1800, 1, 2)
    np.testing.assert_array_equal(proba["time"].values, ds["time"].values)
    assert list(proba["behavior"].values) == ["A", "B"]
    assert np.isfinite(proba.values[100:110]).all()
    assert np.isnan(proba.values[320]).all()  # no feature in a whole second around it
    assert np.isfinite(proba.values[:300]).all()
    assert np.isfinite(proba.values[360:]).all()
    assert proba["threshold"].values.tolist() == [fitted.thresholds_["A"], fitted.thresholds_["B"]]
    pred = fitted.predict(ds)
    assert pred.dtype == bool
    assert pred.shape == proba.shape
    several = fitted.predict({"x": ds, "y": feats["s1"]})
    assert isinstance(several, dict)
    assert list(several) == ["x", "y"]
    as_list = fitted.predict_proba([feats["s1"]["features"].assign_attrs(fps=FPS)])
    assert isinstance(as_list, list)
    assert as_list[0].shape == (1800, 1, 2)


def test_predictions_are_thresholded_and_bout_cleaned_probabilities(fitted, sessions):
    feats, labels = sessions
    proba = fitted.predict_proba(feats["s2"]).sel(individual="m1", behavior="A").values
    pred = fitted.predict(feats["s2"]).sel(individual="m1", behavior="A").values
    min_bout, max_gap = round(fitted.min_bout_s * FPS), round(fitted.max_gap_s * FPS)
    np.testing.assert_array_equal(pred, postprocess_bouts(proba >= fitted.thresholds_["A"], min_bout, max_gap))
    truth = labels["s2"].sel(individual="m1", behavior="A").values
    f1 = 2 * (pred & truth).sum() / (pred.sum() + truth.sum())
    assert f1 >= 0.95


def test_label_adds_variables_to_new_datasets(fitted, sessions):
    feats, _ = sessions
    ds = feats["s2"]
    before = ds.copy(deep=True)
    out = fitted.label(ds)
    assert out is not ds
    assert out["behavior_probability"].dims == ("time", "individual", "behavior")
    assert out["behavior_prediction"].dtype == bool
    assert json.loads(out.attrs["log"])[-1]["operation"] == "BehaviorClassifier.label"
    xr.testing.assert_identical(ds, before)
    both = fitted.label({"a": ds, "b": feats["s1"]})
    assert set(both) == {"a", "b"}
    with pytest.raises(SchemaError, match="Datasets"):
        fitted.label(ds["features"])


def test_features_are_matched_by_name(fitted, sessions):
    feats, _ = sessions
    ds = feats["s2"]
    shuffled = ds.isel(feature=[3, 1, 0, 2])
    xr.testing.assert_allclose(fitted.predict_proba(shuffled), fitted.predict_proba(ds))
    with pytest.raises(SchemaError, match="f3"):
        fitted.predict_proba(ds.isel(feature=[0, 1, 2]))


# ------------------------------------------------------------------ active learning
def test_uncertain_frames_are_nearest_the_threshold_and_spread_out(fitted, sessions):
    feats, _ = sessions
    table = fitted.uncertain_frames({"s2": feats["s2"]}, n=20, min_separation_s=2.0)
    assert list(table.columns) == [
        "session",
        "individual",
        "time",
        "frame",
        "behavior",
        "probability",
        "threshold",
        "uncertainty",
    ]
    assert len(table) == 20
    assert table["uncertainty"].is_monotonic_decreasing
    proba = fitted.predict_proba(feats["s2"])
    p = proba.sel(individual="m1").values
    t = np.array([fitted.thresholds_["A"], fitted.thresholds_["B"]])
    uncertainty = 1 - np.abs(p - t) / np.where(p < t, t, 1 - t)
    assert table["uncertainty"].iloc[0] == pytest.approx(uncertainty.max())
    for row in table.itertuples():
        b = ["A", "B"].index(row.behavior)
        assert row.probability == pytest.approx(p[row.frame, b])
        assert row.time == pytest.approx(row.frame / FPS)
    times = np.sort(table["time"].to_numpy())
    assert np.diff(times).min() >= 2.0
    assert len(fitted.uncertain_frames(feats["s2"], n=5, min_separation_s=0.0)) == 5


# ------------------------------------------------------------------ persistence
def test_save_and_load_give_identical_probabilities(fitted, sessions, tmp_path):
    feats, _ = sessions
    path = fitted.save(tmp_path / "classifier.pkl")
    loaded = BehaviorClassifier.load(path)
    xr.testing.assert_identical(loaded.predict_proba(feats["s2"]), fitted.predict_proba(feats["s2"]))
    assert loaded.thresholds_ == fitted.thresholds_
    assert loaded.feature_spec_ == fitted.feature_spec_
    assert loaded.saved_versions_["scikit-learn"] != "not installed"


def test_loading_warns_when_versions_differ(fitted, tmp_path, monkeypatch):
    path = fitted.save(tmp_path / "classifier.pkl")
    real = _persist.package_versions()
    monkeypatch.setattr(_persist, "package_versions", lambda: {**real, "scikit-learn": "0.0.1"})
    with pytest.warns(_persist.ModelVersionWarning, match="scikit-learn"):
        BehaviorClassifier.load(path)


def test_loading_another_file_names_it(tmp_path):
    other = tmp_path / "other.pkl"
    other.write_bytes(pickle.dumps({"format": "behaviorlab.EthogramHMM", "estimator": None}))
    with pytest.raises(FileFormatError, match=r"other\.pkl"):
        BehaviorClassifier.load(other)


# ------------------------------------------------------------------ input errors
def test_labels_with_a_rater_dim_are_rejected(sessions):
    feats, labels = sessions
    two = xr.concat([labels["s0"], labels["s0"]], dim=pd.Index(["r1", "r2"], name="rater"))
    with pytest.raises(SchemaError, match=r"'s0'.*rater.*consensus"):
        BehaviorClassifier(**FAST).fit(feats["s0"], two)


def test_missing_or_misaligned_labels_name_the_session(sessions):
    feats, labels = sessions
    with pytest.raises(SchemaError, match=r"no labels for session\(s\) \['s1'\]"):
        BehaviorClassifier(**FAST).fit({"s0": feats["s0"], "s1": feats["s1"]}, {"s0": labels["s0"]})
    shifted = labels["s1"].assign_coords(time=labels["s1"]["time"] + 1.0)
    with pytest.raises(SchemaError, match=r"session 's1' do not match its feature times"):
        BehaviorClassifier(**FAST).fit({"s0": feats["s0"], "s1": feats["s1"]}, {"s0": labels["s0"], "s1": shifted})
    with pytest.raises(SchemaError, match=r"'s0' lack the behavior\(s\) \['C'\]"):
        BehaviorClassifier(behaviors=["A", "C"], **FAST).fit({"s0": feats["s0"]}, {"s0": labels["s0"]})
    with pytest.raises(SchemaError, match="individuals"):
        BehaviorClassifier(**FAST).fit(feats["s0"], labels["s0"].assign_coords(individual=["zz"]))


def test_a_behavior_never_seen_in_training_is_an_error(sessions):
    feats, labels = sessions
    empty = labels["s0"].copy(data=np.zeros(labels["s0"].shape, bool))
    with pytest.raises(SchemaError, match="'A' is never on"):
        BehaviorClassifier(**FAST).fit(feats["s0"], empty)


# ------------------------------------------------------------------ options and the estimator API
def test_random_forest_option_and_fixed_threshold(sessions):
    feats, labels = sessions
    train = {k: feats[k] for k in ("s0", "s1")}
    clf = BehaviorClassifier(model="rf", threshold=0.5, behaviors=["A"])
    clf.fit(train, {k: labels[k] for k in ("s0", "s1")})
    assert type(clf.models_["A"]).__name__ == "RandomForestClassifier"
    assert clf.thresholds_ == {"A": 0.5}
    pred = clf.predict(feats["s2"]).sel(individual="m1", behavior="A").values
    truth = labels["s2"].sel(individual="m1", behavior="A").values
    assert 2 * (pred & truth).sum() / (pred.sum() + truth.sum()) >= 0.95


def test_get_params_clone_and_unfitted_errors():
    clf = BehaviorClassifier(behaviors=["A"], windows_s=(0.5,), max_train_frames=None)
    params = clf.get_params()
    assert params["windows_s"] == (0.5,)
    assert params["model"] == "hgb"
    copy = clone(clf)
    assert copy.get_params() == params
    copy.set_params(n_blocks=3)
    assert copy.n_blocks == 3
    assert clf.n_blocks == 5
    with pytest.raises(SchemaError, match="not fitted"):
        clf.predict(_series(np.arange(10)))
    with pytest.raises(SchemaError, match="cv must be"):
        BehaviorClassifier(cv="random").fit(*_session(0, n=300))
    with pytest.raises(SchemaError, match="cv='sessions' needs at least two sessions"):
        BehaviorClassifier(cv="sessions", **FAST).cross_validate(*_session(0, n=300))


def test_a_keypoint_hidden_for_ten_frames_still_gets_a_prediction_on_every_frame():
    from behaviorlab.features.pipeline import compute_session_features
    from behaviorlab.synthetic.simulate import BEHAVIORS, SyntheticConfig, simulate_poses

    poses, behavior = simulate_poses(SyntheticConfig(duration_s=40, seed=5))
    feats = compute_session_features(poses, {"spectrogram": False})
    onehot = xr.concat([behavior == b for b in BEHAVIORS], dim="behavior").assign_coords(behavior=list(BEHAVIORS))
    clf = BehaviorClassifier(behaviors=["walk"], windows_s=(0.5,), stats=("mean",), **FAST)
    clf.fit(feats, onehot.transpose("time", "individual", "behavior"))
    hidden = poses.copy(deep=True)
    hidden["position"].loc[{"keypoint": "nose"}][200:210] = np.nan
    assert np.isnan(hidden["position"].sel(keypoint="nose").values[200:210]).all()
    config = {"spectrogram": False, "cleaning": {"max_gap": 0}}  # no interpolation: the nose's features stay NaN
    hidden_features = compute_session_features(hidden, config)
    assert np.isnan(hidden_features["features"].values[200:210]).any()
    proba = clf.predict_proba(hidden_features)
    assert np.isfinite(proba.values).all()
    assert clf.predict(hidden_features).shape == proba.shape


def test_a_session_predicted_in_blocks_equals_it_predicted_at_once(fitted, sessions, monkeypatch):
    import behaviorlab.behavior.classify as classify

    feats, _ = sessions
    session = xr.concat([feats["s2"], feats["s0"].assign_coords(time=feats["s0"]["time"] + 180.0)], "time")
    session["features"][1000:1040, 0, 2] = np.nan  # a gap across a block boundary
    smoothed = clone(fitted)
    smoothed.__dict__.update(fitted.__dict__)
    smoothed.smoothing_ = {"A": 1.0, "B": 0.0}  # probabilities smoothed over 1 s: their reach counts too
    whole = {m: (m.predict_proba(session), m.predict(session)) for m in (fitted, smoothed)}
    monkeypatch.setattr(classify, "PREDICT_BLOCK_FRAMES", 1024)  # 3,600 frames: four blocks
    for model, (proba, decided) in whole.items():
        xr.testing.assert_allclose(model.predict_proba(session), proba, rtol=1e-12, atol=1e-12)
        xr.testing.assert_equal(model.predict(session), decided)
