"""EthogramHMM, bouts and transitions: simulated hidden Markov models are recovered."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy.optimize import linear_sum_assignment
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from behaviorlab import model_trust
from behaviorlab.behavior.bouts import state_bouts, transition_matrix
from behaviorlab.behavior.ethogram import EthogramHMM
from behaviorlab.behavior.hmm_sequences import pick_fit_rows as _pick_fit_rows
from behaviorlab.environment import package_versions
from behaviorlab.errors import FileFormatError, SchemaError
from behaviorlab.results.plots import duration_histogram_figure, ethogram_raster_figure, transition_graph_figure
from behaviorlab.schema import BOUT_COLUMNS, get_log

MEANS = np.array(
    [
        [0.0, 0.0, 0.0, 0.0, 0.0],
        [3.0, 3.0, 0.0, 0.0, 0.0],
        [0.0, -3.0, 3.0, 0.0, 0.0],
    ]
)
SDS = np.array(
    [
        [1.0, 1.0, 1.0, 1.0, 1.0],
        [0.8, 1.2, 1.0, 1.0, 1.0],
        [1.0, 1.0, 0.7, 1.3, 1.0],
    ]
)
TRANSMAT = np.full((3, 3), 0.025) + np.eye(3) * (0.95 - 0.025)


def sample_hmm(lengths, seed, means=MEANS, sds=SDS, transmat=TRANSMAT):
    """Frames and true states of a Gaussian HMM with diagonal covariances, one sequence per length."""
    rng = np.random.default_rng(seed)
    n = len(means)
    cdf = np.cumsum(transmat, axis=1)
    xs, zs = [], []
    for length in lengths:
        z = np.empty(length, dtype=np.int64)
        z[0] = rng.integers(n)
        u = rng.random(length)
        for t in range(1, length):
            z[t] = min(np.searchsorted(cdf[z[t - 1]], u[t]), n - 1)
        xs.append(means[z] + sds[z] * rng.standard_normal((length, means.shape[1])))
        zs.append(z)
    return np.concatenate(xs), np.concatenate(zs), np.asarray(lengths)


def matched_accuracy(true, pred):
    """Accuracy after the best one-to-one matching of predicted to true labels (Hungarian)."""
    keep = pred >= 0
    true, pred = true[keep], pred[keep]
    counts = np.zeros((true.max() + 1, pred.max() + 1))
    np.add.at(counts, (true, pred), 1)
    rows, cols = linear_sum_assignment(-counts)
    return counts[rows, cols].sum() / len(true)


def mean_bout_frames(states):
    change = np.flatnonzero(np.diff(states) != 0)
    return len(states) / (len(change) + 1)


@pytest.fixture(scope="module")
def simulated():
    return sample_hmm([800, 1500, 1200, 600], seed=0)


@pytest.fixture(scope="module")
def fitted(simulated):
    X, _, lengths = simulated
    return EthogramHMM(n_states=3).fit(X, lengths=lengths)


def _session(n_time, individuals, seed, name, fps=30.0):
    rng_seeds = seed * 100 + np.arange(len(individuals))
    parts = [sample_hmm([n_time], seed=int(s)) for s in rng_seeds]
    features = np.stack([p[0] for p in parts], axis=1)  # (time, individual, feature)
    truth = np.stack([p[1] for p in parts], axis=1)
    ds = xr.Dataset(
        {"features": (("time", "individual", "feature"), features)},
        coords={
            "time": np.arange(n_time) / fps,
            "individual": list(individuals),
            "feature": [f"f{i}" for i in range(features.shape[2])],
        },
        attrs={"fps": fps, "time_unit": "seconds", "session": name, "log": "[]"},
    )
    return ds, truth


# --------------------------------------------------------------------------- recovery
def test_three_state_hmm_is_recovered(simulated, fitted):
    X, z, lengths = simulated
    pred = fitted.predict(X, lengths=lengths)
    assert pred.shape == (len(X),)
    assert matched_accuracy(z, pred) >= 0.95
    assert fitted.n_states_ == 3
    assert fitted.transmat_.shape == (3, 3)
    np.testing.assert_allclose(fitted.transmat_.sum(axis=1), 1.0)
    assert np.diag(fitted.transmat_).min() > 0.9  # true self-transitions are 0.95
    assert fitted.means_.shape == (3, fitted.n_components_)
    assert fitted.n_components_ == 5  # n_components=10 is capped at the 5 features
    assert fitted.n_features_in_ == 5
    assert fitted.feature_means_.shape == (3, 5)
    # the fitted states' mean features match the true means up to relabelling
    cost = ((fitted.feature_means_[:, None, :] - MEANS[None]) ** 2).sum(axis=2)
    rows, cols = linear_sum_assignment(cost)
    assert np.sqrt(cost[rows, cols]).max() < 0.3
    assert list(fitted.selection_.columns) == [
        "n_states",
        "n_params",
        "log_likelihood",
        "bic",
        "heldout_loglik",
        "heldout_se",
        "chosen",
    ]
    assert fitted.selection_["chosen"].tolist() == [True]
    proba = fitted.predict_proba(X, lengths=lengths)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.isfinite(fitted.score(X, lengths=lengths))


def test_states_are_sorted_along_the_main_axis(fitted):
    assert np.all(np.diff(fitted.order_key_) >= 0)
    np.testing.assert_allclose(fitted.occupancy_.sum(), 1.0)


def test_bic_picks_the_true_number_of_states(simulated):
    X, z, lengths = simulated
    model = EthogramHMM(n_states_range=(2, 5), n_components=None).fit(X, lengths=lengths)
    assert model.n_states_ == 3
    table = model.selection_
    assert table["n_states"].tolist() == [2, 3, 4, 5]
    assert table.loc[table["chosen"], "n_states"].item() == 3
    assert table["bic"].idxmin() == table.index[table["chosen"]][0]
    assert table["heldout_loglik"].isna().all()
    assert matched_accuracy(z, model.predict(X, lengths=lengths)) >= 0.95


def test_heldout_likelihood_picks_the_true_number_of_states(simulated):
    X, _, lengths = simulated
    model = EthogramHMM(n_states_range=(2, 5), n_components=None, criterion="heldout").fit(X, lengths=lengths)
    assert model.n_states_ == 3
    table = model.selection_
    assert table["heldout_loglik"].notna().all()
    # two states explain the held-out frames much worse than three
    assert table.loc[0, "heldout_loglik"] < table.loc[1, "heldout_loglik"] - 0.1


def test_two_seeds_give_the_same_labels_without_matching(simulated):
    X, _, lengths = simulated
    a = EthogramHMM(n_states=3, random_state=0).fit(X, lengths=lengths)
    b = EthogramHMM(n_states=3, random_state=123).fit(X, lengths=lengths)
    agree = np.mean(a.predict(X, lengths=lengths) == b.predict(X, lengths=lengths))
    assert agree >= 0.95
    np.testing.assert_allclose(a.transmat_, b.transmat_, atol=0.02)


def test_max_fit_frames_fits_on_whole_chunks_and_decodes_every_frame(simulated):
    X, z, lengths = simulated
    model = EthogramHMM(n_states=3, max_fit_frames=1500).fit(X, lengths=lengths)
    assert model.n_fit_frames_ == 1500
    pred = model.predict(X, lengths=lengths)
    assert (pred >= 0).all()
    assert matched_accuracy(z, pred) >= 0.95
    other = EthogramHMM(n_states=3, max_fit_frames=1500, random_state=5).fit(X, lengths=lengths)
    assert np.mean(other.predict(X, lengths=lengths) == pred) >= 0.95  # another subsample, same labels


def test_fit_rows_are_whole_chunks_of_the_sequences():
    lengths = np.array([2500, 300, 4000, 0, 1200])
    rows, run_lengths = _pick_fit_rows(lengths, 3000, np.random.default_rng(0))
    assert len(rows) == 3000
    assert run_lengths.sum() == 3000
    assert np.all(np.diff(rows) > 0)  # in order, no repeats
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    runs = np.split(rows, np.cumsum(run_lengths)[:-1])
    for run in runs:
        assert np.all(np.diff(run) == 1)  # each run is consecutive frames...
        assert len(set(np.searchsorted(bounds, run, side="right"))) == 1  # ...of one sequence
    assert all(len(run) >= 100 for run in runs[:-1])  # chunks, not scattered frames
    rows_again, _ = _pick_fit_rows(lengths, 3000, np.random.default_rng(0))
    np.testing.assert_array_equal(rows, rows_again)  # seeded
    everything, same = _pick_fit_rows(lengths, None, np.random.default_rng(0))
    assert len(everything) == lengths.sum()
    np.testing.assert_array_equal(same, lengths)


def test_nan_rows_get_minus_one_and_split_the_sequence(fitted):
    X, _, _ = sample_hmm([600], seed=7)
    X = X.copy()
    X[200] = np.nan
    X[350, 2] = np.nan
    pred = fitted.predict(X)
    assert pred[200] == -1
    assert pred[350] == -1
    assert (np.delete(pred, [200, 350]) >= 0).all()
    # decoding splits at the NaN rows: the same as decoding the three pieces alone
    pieces = [fitted.predict(X[:200]), fitted.predict(X[201:350]), fitted.predict(X[351:])]
    np.testing.assert_array_equal(np.delete(pred, [200, 350]), np.concatenate(pieces))
    proba = fitted.predict_proba(X)
    assert np.isnan(proba[200]).all()
    assert np.isfinite(proba[201]).all()


def test_nan_rows_are_skipped_when_fitting(simulated):
    X, z, lengths = simulated
    X = X.copy()
    X[::50, 1] = np.nan
    model = EthogramHMM(n_states=3).fit(X, lengths=lengths)
    pred = model.predict(X, lengths=lengths)
    assert (pred[::50] == -1).all()
    assert matched_accuracy(z, pred) >= 0.95


# --------------------------------------------------------------------------- sessions
def test_fit_on_sessions_and_label_them():
    s1, truth1 = _session(1200, ["b", "a"], seed=1, name="day1")
    s2, truth2 = _session(700, ["c"], seed=2, name="day2")
    s2["features"][100:110, 0, :] = np.nan
    before = {k: v.copy(deep=True) for k, v in {"day1": s1, "day2": s2}.items()}
    sessions = {"day1": s1, "day2": s2}
    model = EthogramHMM(n_states=3, variable="features").fit(sessions)
    assert list(model.feature_names_) == ["f0", "f1", "f2", "f3", "f4"]
    labelled = model.label(sessions)
    for name in sessions:
        xr.testing.assert_identical(sessions[name], before[name])  # inputs untouched
    assert set(labelled) == {"day1", "day2"}
    out1, out2 = labelled["day1"], labelled["day2"]
    assert out1 is not s1
    assert out1["state"].dims == ("time", "individual")
    assert out1["state"].dtype == np.int64
    assert list(out1["state"]["individual"].values) == ["b", "a"]
    assert out2["state"].shape == (700, 1)
    assert (out2["state"].values[100:110, 0] == -1).all()
    assert out2["state"].attrs["session"] == "day2"
    assert out2["state"].attrs["fps"] == 30.0
    assert [e["operation"] for e in get_log(out1)] == ["EthogramHMM.label"]
    assert get_log(out1)[0]["n_states_"] == 3
    truth = np.concatenate([truth1.T.ravel(), truth2.T.ravel()])
    states = np.concatenate([out1["state"].values.T.ravel(), out2["state"].values.T.ravel()])
    assert matched_accuracy(truth, states) >= 0.95
    # the per-session labels are the array predictions of each animal's frames
    array_pred = model.predict(s1["features"].sel(individual="a").values)
    np.testing.assert_array_equal(out1["state"].sel(individual="a").values, array_pred)
    # other containers keep their shape
    assert isinstance(model.label(s1), xr.Dataset)
    as_list = model.label([s1, s2])
    assert isinstance(as_list, list)
    assert len(as_list) == 2
    np.testing.assert_array_equal(as_list[0]["state"].values, out1["state"].values)
    state_da = model.label(s1["features"])
    assert isinstance(state_da, xr.DataArray)
    assert state_da.name == "state"
    np.testing.assert_array_equal(state_da.values, out1["state"].values)
    # predict on sessions: one row per session_samples row (session, individual, time)
    assert model.predict(sessions).shape == (1200 * 2 + 700,)
    # bouts of labelled sessions carry the session and times in seconds
    bouts = state_bouts(labelled)
    assert list(bouts.columns) == [*BOUT_COLUMNS, "state", "duration_frames"]  # the store's bout table
    assert set(bouts["source"]) == {"state"}
    assert set(bouts["session"]) == {"day1", "day2"}
    assert bouts["duration_frames"].sum() == 1200 * 2 + 700 - 10
    np.testing.assert_allclose(bouts["duration_s"], bouts["duration_frames"] / 30.0)


def test_sessions_with_other_features_are_refused():
    s1, _ = _session(300, ["a"], seed=1, name="day1")
    model = EthogramHMM(n_states=2, variable="features").fit(s1)
    renamed = s1.assign_coords(feature=["g0", "g1", "g2", "g3", "g4"])
    with pytest.raises(SchemaError, match="features differ"):
        model.label(renamed)
    with pytest.raises(SchemaError, match="lengths is only for arrays"):
        model.predict(s1, lengths=[300])


# --------------------------------------------------------------------------- persistence
def test_saved_model_reloads_with_identical_predictions(fitted, simulated, tmp_path):
    X, _, lengths = simulated
    path = fitted.save(tmp_path / "models" / "ethogram.pkl")
    assert path.is_file()
    loaded = EthogramHMM.load(path)
    np.testing.assert_array_equal(loaded.predict(X, lengths=lengths), fitted.predict(X, lengths=lengths))
    np.testing.assert_array_equal(loaded.transmat_, fitted.transmat_)
    assert loaded.get_params() == fitted.get_params()
    assert loaded.saved_versions_ == package_versions()
    assert not list((tmp_path / "models").glob(".*tmp"))  # atomic: no temporary file left


def test_loading_a_file_that_is_not_a_model_names_the_file(tmp_path, fitted):
    text = tmp_path / "notes.pkl"
    text.write_text("not a pickle at all")
    with pytest.raises(FileFormatError, match=r"notes\.pkl"):
        EthogramHMM.load(text)
    other = tmp_path / "other.pkl"
    other.write_bytes(pickle.dumps({"format": "something else", "estimator": 3}))
    model_trust.trust([other])  # past the digest check (as --trust), to the format check
    with pytest.raises(FileFormatError, match=r"other\.pkl.*not a behaviorlab\.EthogramHMM"):
        EthogramHMM.load(other)
    with pytest.raises(FileNotFoundError):
        EthogramHMM.load(tmp_path / "missing.pkl")
    with pytest.raises(NotFittedError):
        EthogramHMM().save(tmp_path / "unfitted.pkl")


def test_loading_a_model_from_other_versions_warns(tmp_path, fitted):
    path = fitted.save(tmp_path / "model.pkl")
    payload = pickle.loads(path.read_bytes())
    payload["versions"] = {**payload["versions"], "hmmlearn": "0.0.1"}
    path.write_bytes(pickle.dumps(payload))
    model_trust.trust([path])  # changed after it was written: loads once trusted
    with pytest.warns(UserWarning, match=r"hmmlearn 0\.0\.1 ->"):
        loaded = EthogramHMM.load(path)
    assert loaded.n_states_ == 3


# --------------------------------------------------------------------------- sticky prior
def test_sticky_prior_makes_longer_bouts_on_noisy_data():
    means = np.array([[0.0, 0.0, 0.0], [0.9, 0.9, 0.9]])
    sds = np.ones((2, 3))
    transmat = np.array([[0.9, 0.1], [0.1, 0.9]])  # true bouts of 10 frames, hard to see through the noise
    X, _, lengths = sample_hmm([1500, 1500], seed=3, means=means, sds=sds, transmat=transmat)
    plain = EthogramHMM(n_states=2, n_components=None).fit(X, lengths=lengths)
    sticky = EthogramHMM(n_states=2, n_components=None, sticky=2.0).fit(X, lengths=lengths)
    bout_plain = mean_bout_frames(plain.predict(X, lengths=lengths))
    bout_sticky = mean_bout_frames(sticky.predict(X, lengths=lengths))
    assert bout_sticky > 1.3 * bout_plain
    assert np.diag(sticky.transmat_).mean() > np.diag(plain.transmat_).mean()


# --------------------------------------------------------------------------- bouts and transitions
def test_state_bouts_of_a_hand_made_sequence():
    states = np.array([0, 0, 1, 1, 1, -1, 2, 2, 0])
    bouts = state_bouts(states, fps=10.0)
    assert list(bouts.columns) == [*BOUT_COLUMNS, "state", "duration_frames"]
    assert bouts["state"].tolist() == [0, 1, 2, 0]
    assert bouts["behavior"].tolist() == ["0", "1", "2", "0"]
    assert bouts["truncated"].tolist() == [True, True, True, True]  # each touches the edge or the unknown frame 5
    assert state_bouts(np.array([0, 0, 1, 1, 0]))["truncated"].tolist() == [True, False, True]
    assert bouts["start_frame"].tolist() == [0, 2, 6, 8]
    assert bouts["end_frame"].tolist() == [1, 4, 7, 8]  # inclusive: the bout's last frame
    assert bouts["duration_frames"].tolist() == [2, 3, 2, 1]
    np.testing.assert_allclose(bouts["start_s"], [0.0, 0.2, 0.6, 0.8])
    np.testing.assert_allclose(bouts["duration_s"], [0.2, 0.3, 0.2, 0.1])
    assert bouts["individual"].isna().all()
    no_fps = state_bouts(states)
    assert no_fps["duration_s"].isna().all()
    assert state_bouts(np.full(4, -1)).empty


def test_state_bouts_of_a_state_dataarray():
    values = np.array([[1, 0], [1, 0], [1, 1], [0, 1]])
    da = xr.DataArray(
        values,
        dims=("time", "individual"),
        coords={"time": 5.0 + np.arange(4) * 0.5, "individual": ["x", "y"]},
        attrs={"session": "s1"},
    )
    bouts = state_bouts(da)
    assert bouts["session"].tolist() == ["s1"] * 4
    assert bouts["individual"].tolist() == ["x", "x", "y", "y"]
    assert bouts["state"].tolist() == [1, 0, 0, 1]
    np.testing.assert_allclose(bouts["start_s"], [5.0, 6.5, 5.0, 6.0])  # from the time coordinate
    np.testing.assert_allclose(bouts["duration_s"], [1.5, 0.5, 1.0, 1.0])  # fps 2 inferred from it


def test_transition_matrix_by_bout_and_by_frame():
    states = np.array([0, 0, 1, 1, 1, 0, -1, 0, 2, 2])
    by_bout = transition_matrix(states, normalize=False)
    expected = np.zeros((3, 3))
    expected[0, 1] = 1  # 0 -> 1
    expected[1, 0] = 1  # 1 -> 0; nothing across the -1
    expected[0, 2] = 1  # 0 -> 2
    np.testing.assert_array_equal(by_bout, expected)
    np.testing.assert_allclose(transition_matrix(states), [[0, 0.5, 0.5], [1, 0, 0], [0, 0, 0]])
    by_frame = transition_matrix(states, by="frame", normalize=False)
    expected = np.array([[1, 1, 1], [1, 2, 0], [0, 0, 1]], dtype=float)
    np.testing.assert_array_equal(by_frame, expected)
    assert transition_matrix(states, n_states=5).shape == (5, 5)
    # two individuals are two sequences: no transition between their columns
    two = np.array([[0, 1], [0, 1], [1, 0]])
    np.testing.assert_array_equal(transition_matrix(two, normalize=False), [[0, 1], [1, 0]])
    with pytest.raises(ValueError, match="states go up to 2"):
        transition_matrix(states, n_states=2)
    with pytest.raises(ValueError, match="by must be"):
        transition_matrix(states, by="second")


def test_empirical_transitions_match_the_fitted_model(fitted, simulated):
    X, _, lengths = simulated
    pred = fitted.predict(X, lengths=lengths)
    sequences = np.split(pred, np.cumsum(lengths)[:-1])
    counts = sum(transition_matrix(s, n_states=3, by="frame", normalize=False) for s in sequences)
    empirical = counts / counts.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(empirical, fitted.transmat_, atol=0.03)


# --------------------------------------------------------------------------- bad input
def test_bad_input_raises_clear_errors(fitted):
    with pytest.raises(SchemaError, match="2-D"):
        EthogramHMM(n_states=2).fit(np.zeros(100))
    with pytest.raises(SchemaError, match="fitted on 5 features, got 4"):
        fitted.predict(np.zeros((10, 4)))
    with pytest.raises(ValueError, match="n_states must be an integer >= 1"):
        EthogramHMM(n_states=0).fit(np.zeros((100, 2)))
    with pytest.raises(ValueError, match="n_states_range"):
        EthogramHMM(n_states_range=(4, 2)).fit(np.zeros((100, 2)))
    with pytest.raises(ValueError, match="criterion"):
        EthogramHMM(criterion="aic").fit(np.zeros((100, 2)))
    with pytest.raises(ValueError, match="covariance_type"):
        EthogramHMM(covariance_type="banana").fit(np.zeros((100, 2)))
    with pytest.raises(ValueError, match="sticky"):
        EthogramHMM(sticky=-1).fit(np.zeros((100, 2)))
    with pytest.raises(SchemaError, match="lengths sum to 90"):
        EthogramHMM(n_states=2).fit(np.zeros((100, 2)), lengths=[50, 40])
    with pytest.raises(SchemaError, match="at least 10 frames without NaN"):
        EthogramHMM(n_states=2).fit(np.full((100, 2), np.nan))
    with pytest.raises(NotFittedError, match="not fitted"):
        EthogramHMM().predict(np.zeros((10, 2)))
    # a failed refit leaves the fitted model as it was
    refit = EthogramHMM(n_states=2).fit(np.random.default_rng(0).normal(size=(200, 5)))
    before = refit.predict(np.ones((20, 5)))
    with pytest.raises(SchemaError):
        refit.fit(np.full((100, 5), np.nan))
    assert refit.n_states_ == 2
    np.testing.assert_array_equal(refit.predict(np.ones((20, 5))), before)
    with pytest.raises(SchemaError, match="no 'spectrogram' variable"):
        EthogramHMM(n_states=2).fit(xr.Dataset({"other": (("time",), np.zeros(5))}))


def test_get_params_set_params_and_clone():
    model = EthogramHMM(n_states=4, sticky=0.5)
    params = model.get_params()
    assert params["n_states"] == 4
    assert params["sticky"] == 0.5
    assert params["random_state"] == 0
    copy = clone(model)
    assert copy.get_params() == params
    copy.set_params(n_states=None, criterion="heldout")
    assert copy.n_states is None
    assert model.n_states == 4
    assert not hasattr(copy, "hmm_")


# --------------------------------------------------------------------------- figures
def test_raster_figure_has_a_row_per_session_and_individual(fitted):
    s1, _ = _session(300, ["b", "a"], seed=1, name="day1")
    s2, _ = _session(200, ["c"], seed=2, name="day2")
    labelled = (
        EthogramHMM(n_states=3, variable="features").fit({"day1": s1, "day2": s2}).label({"day1": s1, "day2": s2})
    )
    fig = ethogram_raster_figure(labelled, names=["rest", "walk", "groom"])
    assert list(fig.layout.yaxis.categoryarray) == ["day1 / b", "day1 / a", "day2 / c"]
    present = sorted({int(s) for ds in labelled.values() for s in np.unique(ds["state"].values) if s >= 0})
    assert [trace.name for trace in fig.data] == [["rest", "walk", "groom"][s] for s in present]
    assert fig.layout.xaxis.title.text == "time (s)"
    total = sum(np.sum(trace.x) for trace in fig.data)
    assert total == pytest.approx((300 * 2 + 200) / 30.0)
    empty = ethogram_raster_figure({})
    assert len(empty.data) == 0


def test_transition_graph_figure(fitted):
    transmat = np.array([[0.9, 0.1, 0.0], [0.05, 0.9, 0.05], [0.5, 0.0, 0.5]])
    fig = transition_graph_figure(transmat, names=["a", "b", "c"])
    assert len(fig.layout.annotations) == 4  # off-diagonal entries >= 0.01
    widths = sorted(a.arrowwidth for a in fig.layout.annotations)
    assert widths[-1] == pytest.approx(8.0)  # the largest transition (0.5)
    assert widths[0] == pytest.approx(8.0 * 0.05 / 0.5)
    assert len(fig.data) == 2
    assert list(fig.data[-1].text) == ["a", "b", "c"]
    assert "0.900" in fig.data[-1].hovertext[0]
    assert len(transition_graph_figure(fitted.transmat_).data) == 2
    assert len(transition_graph_figure(np.zeros((0, 0))).data) == 0
    with pytest.raises(SchemaError, match="square"):
        transition_graph_figure(np.zeros((2, 3)))


def test_a_dense_transition_graph_prints_only_its_likeliest_edges():
    rng = np.random.default_rng(0)
    transmat = rng.dirichlet(np.ones(8), size=8)  # 56 edges, every one drawn
    fig = transition_graph_figure(transmat, min_probability=0.0)
    labels = fig.data[0]
    assert len(labels.hovertext) == 56  # every edge keeps its hover
    printed = [t for t in labels.text if t]
    assert len(printed) == 8  # one per state, not 56 overlapping numbers
    off = transmat[~np.eye(8, dtype=bool)]
    assert sorted(float(t) for t in printed) == pytest.approx(sorted(np.round(np.sort(off)[-8:], 2)))
    assert (
        len([t for t in transition_graph_figure(transmat, min_probability=0.0, max_labels=60).data[0].text if t]) == 56
    )


def test_raster_heights_show_every_row_and_every_legend_entry():
    from behaviorlab.results.plots import raster_height

    one_row = {"s": xr.DataArray(np.repeat(np.arange(8), 10)[:, None], dims=("time", "individual"), name="state")}
    fig = ethogram_raster_figure(one_row)
    assert len(fig.data) == 8
    assert fig.layout.height == raster_height(1, 8) >= 160 + 22 * 8  # the legend of 8 states is not clipped
    assert raster_height(20, 2) == 160 + 30 * 20  # many rows: the rows decide


def test_duration_histogram_figure():
    bouts = state_bouts(np.array([0, 0, 1, 1, 1, 0, 2, 2, 2, 2]), fps=5.0)
    fig = duration_histogram_figure(bouts)
    assert len(fig.data) == 3
    np.testing.assert_allclose(fig.data[0].x, [0.4, 0.2])  # state 0 bouts, in seconds
    frames = duration_histogram_figure(state_bouts(np.array([0, 0, 1])))  # no fps: durations in frames
    assert frames.layout.xaxis2.title.text == "duration (frames)"
    np.testing.assert_array_equal(frames.data[0].x, [2])
    empty = duration_histogram_figure(state_bouts(np.zeros(0, dtype=int)))
    assert len(empty.data) == 0
    with pytest.raises(SchemaError, match="duration_frames"):
        duration_histogram_figure(pd.DataFrame({"state": [0]}))
