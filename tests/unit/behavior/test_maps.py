"""BehaviorMap: known clusters are found, predictions are reproducible, models round-trip."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import xarray as xr
from sklearn.base import clone
from sklearn.metrics import adjusted_rand_score

from behaviorlab import _persist, model_trust
from behaviorlab.behavior.maps import BehaviorMap, density_regions, stratified_subsample
from behaviorlab.errors import FileFormatError, SchemaError
from behaviorlab.results.plots import region_examples_figure

N_BLOBS, PER_BLOB, DIM = 4, 400, 12


def _blobs(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Four well-separated Gaussian blobs in 12-D (centres 20 sd apart), shuffled."""
    rng = np.random.default_rng(seed)
    centres = np.eye(N_BLOBS, DIM) * 20.0
    y = np.repeat(np.arange(N_BLOBS), PER_BLOB)
    rng.shuffle(y)
    return centres[y] + rng.normal(0, 1, (len(y), DIM)), y


def _features(X: np.ndarray, n_time: int, individuals: list[str], session: str) -> xr.Dataset:
    n_ind = len(individuals)
    values = X[: n_time * n_ind].reshape(n_ind, n_time, DIM).transpose(1, 0, 2)
    da = xr.DataArray(
        values,
        dims=("time", "individual", "feature"),
        coords={"time": np.arange(n_time) / 30.0, "individual": individuals, "feature": [f"f{i}" for i in range(DIM)]},
    )
    return xr.Dataset({"features": da}, attrs={"session": session, "fps": 30.0})


@pytest.fixture(scope="module")
def blobs() -> tuple[np.ndarray, np.ndarray]:
    return _blobs()


@pytest.fixture(scope="module")
def fitted(blobs) -> BehaviorMap:
    X, _ = blobs
    return BehaviorMap(n_components=None, max_fit_frames=800, random_state=0).fit(X)


# ------------------------------------------------------------------ pure functions
def test_stratified_subsample_gives_equal_shares_and_small_groups_whole():
    groups = np.repeat([0, 1, 2], [1000, 500, 30])
    picked = stratified_subsample(groups, 330, seed=1)
    counts = np.bincount(groups[picked], minlength=3)
    assert counts.tolist() == [150, 150, 30]
    assert np.all(np.diff(picked) > 0)
    # spread over the whole group, not its start
    first = picked[groups[picked] == 0]
    assert first.min() < 50
    assert first.max() > 950


def test_stratified_subsample_returns_everything_when_n_is_large():
    groups = np.array([0, 0, 1])
    np.testing.assert_array_equal(stratified_subsample(groups, 10), [0, 1, 2])


def test_density_regions_gives_one_region_per_blob():
    rng = np.random.default_rng(3)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [5.0, 9.0]])
    y = np.repeat(np.arange(3), 300)
    points = centres[y] + rng.normal(0, 0.7, (len(y), 2))
    grid = density_regions(points, grid_size=120)
    assert len(grid["peaks"]) == 3
    # each peak sits on its blob centre (within a bandwidth), every blob maps to its own region
    nearest = np.argmin(np.linalg.norm(grid["peaks"][:, None] - centres[None], axis=2), axis=1)
    assert sorted(nearest.tolist()) == [0, 1, 2]
    np.testing.assert_allclose(grid["peaks"], centres[nearest], atol=float(grid["bandwidth"]) * 1.5)
    dx = grid["x"][1] - grid["x"][0]
    col = np.clip(((points[:, 0] - grid["x"][0] + dx / 2) // dx).astype(int), 0, 119)
    row = np.clip(((points[:, 1] - grid["y"][0] + dx / 2) // (grid["y"][1] - grid["y"][0])).astype(int), 0, 119)
    assert adjusted_rand_score(y, grid["regions"][row, col]) == 1.0
    # the density integrates to one
    area = dx * (grid["y"][1] - grid["y"][0])
    assert grid["density"].sum() * area == pytest.approx(1.0)


def test_density_regions_rejects_bad_points():
    with pytest.raises(SchemaError, match=r"\(n_points, 2\)"):
        density_regions(np.zeros((5, 3)))


# ------------------------------------------------------------------ estimator
def test_well_separated_blobs_give_one_region_each(fitted, blobs):
    _, y = blobs
    assert fitted.n_regions_ == N_BLOBS
    assert adjusted_rand_score(y, fitted.labels_) == 1.0
    assert fitted.region_fraction_.sum() == pytest.approx(1.0)
    # regions are numbered by decreasing peak density
    peak_density = [
        fitted.density_[np.argmin(abs(fitted.grid_y_ - py)), np.argmin(abs(fitted.grid_x_ - px))]
        for px, py in fitted.peaks_
    ]
    assert peak_density == sorted(peak_density, reverse=True)


def test_predict_on_training_data_reproduces_fit_labels(fitted, blobs):
    X, _ = blobs
    np.testing.assert_array_equal(fitted.predict(X), fitted.labels_)


def test_rows_with_nan_get_minus_one_and_do_not_shift_the_others(fitted, blobs):
    X, _ = blobs
    Xn = X[:50].copy()
    Xn[[3, 10], 2] = np.nan
    labels = fitted.predict(Xn)
    assert labels[3] == -1
    assert labels[10] == -1
    keep = np.setdiff1d(np.arange(50), [3, 10])
    np.testing.assert_array_equal(labels[keep], fitted.labels_[keep])
    assert np.isnan(fitted.transform(Xn)[3]).all()


def test_wrong_number_of_columns_is_refused(fitted, blobs):
    X, _ = blobs
    with pytest.raises(SchemaError, match="fitted on 12 columns"):
        fitted.predict(X[:, :5])


def test_unfitted_map_says_so():
    with pytest.raises(SchemaError, match="not fitted"):
        BehaviorMap().predict(np.zeros((20, 3)))


def test_parameters_are_checked_at_fit():
    with pytest.raises(SchemaError, match="min_peak_fraction"):
        BehaviorMap(min_peak_fraction=1.5).fit(np.zeros((50, 3)))


def test_clone_keeps_parameters():
    bm = BehaviorMap(n_neighbors=7, bandwidth=0.5)
    assert clone(bm).get_params() == bm.get_params()


def test_save_and_load_give_identical_predictions(fitted, blobs, tmp_path):
    X, _ = blobs
    path = fitted.save(tmp_path / "map.pkl")
    loaded = BehaviorMap.load(path)
    np.testing.assert_array_equal(loaded.predict(X[:200]), fitted.predict(X[:200]))
    assert loaded.saved_versions_["umap-learn"] != "not installed"


def test_a_loaded_map_imports_umap_only_when_it_embeds(fitted, blobs, tmp_path):
    import subprocess
    import sys

    X, _ = blobs
    path = fitted.save(tmp_path / "map.pkl")
    np.save(tmp_path / "x.npy", X[:50])
    expected = fitted.predict(X[:50])
    script = f"""
import sys, numpy as np
from behaviorlab.behavior.maps import BehaviorMap
m = BehaviorMap.load({str(path)!r})
m.density_figure(); m.region_examples(2)
assert m.n_regions_ == {fitted.n_regions_}
print("umap" in sys.modules, "numba" in sys.modules)
print(m.predict(np.load({str(tmp_path / "x.npy")!r})).tolist())
print("umap" in sys.modules)
m.save({str(tmp_path / "again.pkl")!r})
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "False False"  # the density, regions and examples need neither
    assert out[1] == str(expected.tolist())
    assert out[2] == "True"
    again = BehaviorMap.load(tmp_path / "again.pkl")
    np.testing.assert_array_equal(again.predict(X[:50]), expected)


def test_loading_warns_when_versions_differ(fitted, tmp_path, monkeypatch):
    path = fitted.save(tmp_path / "map.pkl")
    real = _persist.package_versions()
    monkeypatch.setattr(_persist, "package_versions", lambda: {**real, "umap-learn": "0.0.1"})
    with pytest.warns(_persist.ModelVersionWarning, match="umap-learn"):
        BehaviorMap.load(path)


def test_loading_a_file_that_is_not_a_map_names_it(tmp_path):
    junk = tmp_path / "junk.pkl"
    junk.write_bytes(b"not a pickle")
    with pytest.raises(FileFormatError, match=r"junk\.pkl"):
        BehaviorMap.load(junk)
    other = tmp_path / "other.pkl"
    other.write_bytes(pickle.dumps({"format": "behaviorlab.EthogramHMM", "estimator": None}))
    model_trust.trust([other])  # past the digest check (as --trust), to the format check
    with pytest.raises(FileFormatError, match=r"not a behaviorlab\.BehaviorMap"):
        BehaviorMap.load(other)


def test_sessions_as_datasets_are_labeled_without_touching_the_input(blobs):
    X, y = blobs
    a = _features(X[:800], 400, ["m1", "m2"], "a")
    b = _features(X[800:], 300, ["m1"], "b")
    b["features"][5, 0, 0] = np.nan
    before = b["features"].copy(deep=True)
    bm = BehaviorMap(n_components=5, max_fit_frames=600, variable="features", random_state=1)
    out = bm.fit({"a": a, "b": b}).label({"a": a, "b": b})
    assert set(out) == {"a", "b"}
    xr.testing.assert_identical(b["features"], before)
    assert "cluster" not in b
    assert out["b"]["cluster"].dims == ("time", "individual")
    assert out["b"]["embedding"].dims == ("time", "individual", "component")
    assert int(out["b"]["cluster"][5, 0]) == -1
    # the labels of session a follow the blob identity of its frames (m1's frames are rows 0..399 of X)
    truth_a = y[:800].reshape(2, 400).T
    assert adjusted_rand_score(truth_a.ravel(), out["a"]["cluster"].values.ravel()) == 1.0
    assert "BehaviorMap.label" in out["a"].attrs["log"]


def test_sessions_with_different_features_are_refused(blobs):
    X, _ = blobs
    a = _features(X[:800], 400, ["m1", "m2"], "a")
    b = _features(X[800:], 300, ["m1"], "b").assign_coords(feature=[f"g{i}" for i in range(DIM)])
    with pytest.raises(SchemaError, match="different columns"):
        BehaviorMap(variable="features").fit([a, b])


def test_missing_variable_names_the_session(blobs):
    X, _ = blobs
    a = _features(X[:800], 400, ["m1", "m2"], "a")
    with pytest.raises(SchemaError, match="'a' has no 'spectrogram'"):
        BehaviorMap().fit([a])


# ------------------------------------------------------------------ reports
def test_region_examples_are_the_frames_nearest_each_peak(fitted):
    table = fitted.region_examples(n_examples=3)
    assert list(table.columns) == ["region", "rank", "session", "individual", "time", "distance"]
    assert sorted(table["region"].unique()) == list(range(N_BLOBS))
    assert (table.groupby("region").size() == 3).all()
    assert (table.groupby("region")["distance"].apply(lambda d: d.is_monotonic_increasing)).all()


def test_density_figure_has_density_borders_and_labels(fitted):
    fig = fitted.density_figure(show_points=True, max_points=100)
    names = [t.name for t in fig.data]
    assert names == ["density", "region borders", "frames", "regions"]
    assert list(fig.data[-1].text) == [str(i) for i in range(N_BLOBS)]


def test_region_examples_figure_draws_one_panel_per_region():
    from behaviorlab.synthetic.simulate import SyntheticConfig, simulate_poses

    poses, _ = simulate_poses(SyntheticConfig(duration_s=2, seed=1))
    import pandas as pd

    examples = pd.DataFrame(
        {
            "region": [0, 0, 1],
            "rank": [0, 1, 0],
            "session": ["s"] * 3,
            "individual": [str(poses["individual"].values[0])] * 3,
            "time": [0.1, 0.5, 1.0],
            "distance": [0.0, 0.1, 0.0],
        }
    )
    fig = region_examples_figure(examples, {"s": poses})
    assert [a.text for a in fig.layout.annotations] == ["region 0", "region 1"]
    assert len(fig.data) == 6  # skeleton lines and keypoints per example
    with pytest.raises(SchemaError, match="no poses for session 's'"):
        region_examples_figure(examples, {"other": poses})


def test_fit_label_gives_the_labels_of_fit_then_label(blobs):
    X, _ = blobs
    sessions = {"a": _features(X[:800], 400, ["m1", "m2"], "a"), "b": _features(X[800:], 300, ["m1"], "b")}
    params = {"n_components": 5, "max_fit_frames": 600, "variable": "features", "random_state": 1}
    once = BehaviorMap(**params).fit_label(sessions)
    twice = BehaviorMap(**params).fit(sessions).label(sessions)
    for name in sessions:
        xr.testing.assert_equal(once[name]["cluster"], twice[name]["cluster"])
        np.testing.assert_allclose(once[name]["embedding"].values, twice[name]["embedding"].values)


def test_region_examples_figure_with_two_animals_draws_the_named_one():
    import pandas as pd

    from behaviorlab.synthetic.simulate import SyntheticConfig, simulate_poses

    poses, _ = simulate_poses(SyntheticConfig(duration_s=2, seed=3, n_animals=2, individuals=("a", "b")))
    examples = pd.DataFrame(
        {"region": [0, 1], "rank": [0, 0], "session": ["s", "s"], "individual": ["a", "b"], "time": [0.5, 0.52]}
    )
    fig = region_examples_figure(examples, {"s": poses})
    assert [a.text for a in fig.layout.annotations] == ["region 0", "region 1"]
    assert len(fig.data) == 4
    # the two panels draw different animals: their keypoints differ
    assert not np.allclose(np.asarray(fig.data[1].x, float), np.asarray(fig.data[3].x, float), equal_nan=True)
