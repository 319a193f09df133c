"""ARHMM: autoregressive states with one mean posture are recovered, and new sessions are decoded deterministically."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from behaviorlab.behavior import arhmm_core as core
from behaviorlab.behavior.arhmm import ARHMM
from behaviorlab.behavior.ethogram import EthogramHMM
from behaviorlab.errors import SchemaError
from behaviorlab.synthetic.simulate import SyntheticConfig, simulate_poses


def rotation(angle: float, radius: float) -> np.ndarray:
    return radius * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])


# three linear dynamical systems around the same mean (0, 0): turning one way, the other way, and jitter
DYNAMICS = [rotation(0.3, 0.95), rotation(-0.3, 0.95), rotation(0.0, 0.5)]


def sample_ar(n_frames: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Frames of a 3-state AR(1) process whose states share their mean, and the true states (bouts of 30-120)."""
    rng = np.random.default_rng(seed)
    z = np.empty(n_frames, dtype=np.int64)
    t, state = 0, 0
    while t < n_frames:
        dur = int(rng.integers(30, 120))
        z[t : t + dur] = state
        state = (state + int(rng.integers(1, 3))) % 3
        t += dur
    x = np.zeros((n_frames, 2))
    for t in range(1, n_frames):
        x[t] = DYNAMICS[z[t]] @ x[t - 1] + rng.standard_normal(2)
    return x, z


def matched_accuracy(true: np.ndarray, pred: np.ndarray) -> float:
    table = np.zeros((true.max() + 1, pred.max() + 1))
    np.add.at(table, (true, pred), 1)
    rows, cols = linear_sum_assignment(-table)
    return float(table[rows, cols].sum() / len(true))


@pytest.fixture(scope="module")
def ar_data():
    parts = [sample_ar(3000, seed) for seed in (0, 1, 2)]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), [3000, 3000, 3000]


def test_three_ar_states_with_one_mean_are_recovered_where_the_gaussian_hmm_fails(ar_data):
    x, z, lengths = ar_data
    model = ARHMM(fps=30.0, n_lags=1, latent_dim=2, random_state=0).fit(x, lengths=lengths)
    states = model.predict(x, lengths=lengths)
    assert model.n_states_ == 3
    assert matched_accuracy(z, states) >= 0.95  # 0.962 measured
    gaussian = EthogramHMM(n_states=3, n_components=None, random_state=0).fit(x, lengths=lengths)
    assert matched_accuracy(z, gaussian.predict(x, lengths=lengths)) < 0.7  # same mean: nothing to tell apart


def test_states_are_numbered_by_usage_and_record_their_merges(ar_data):
    x, _, lengths = ar_data
    model = ARHMM(fps=30.0, n_lags=1, latent_dim=2, random_state=0).fit(x, lengths=lengths)
    assert np.all(np.diff(model.usage_) <= 0)
    assert sorted(k for group in model.merged_from_ for k in group) == list(range(20))
    assert np.allclose(model.transmat_.sum(axis=1), 1.0)


def test_forward_backward_and_viterbi_match_brute_force():
    rng = np.random.default_rng(3)
    loglik = rng.normal(size=(5, 2))
    start = np.array([0.6, 0.4])
    trans = np.array([[0.8, 0.2], [0.3, 0.7]])
    paths = list(itertools.product(range(2), repeat=5))
    scores = []
    for path in paths:
        s = np.log(start[path[0]]) + sum(np.log(trans[a, b]) for a, b in itertools.pairwise(path))
        scores.append(s + sum(loglik[t, k] for t, k in enumerate(path)))
    scores = np.array(scores)
    gamma, counts, _, total = core.forward_backward(loglik, np.array([5]), start, trans)
    assert total == pytest.approx(np.logaddexp.reduce(scores))
    weights = np.exp(scores - np.logaddexp.reduce(scores))
    expected = np.array([[weights[[p[t] == k for p in paths]].sum() for k in range(2)] for t in range(5)])
    np.testing.assert_allclose(gamma, expected, atol=1e-10)
    assert counts.sum() == pytest.approx(4.0)
    assert tuple(core.viterbi(loglik, np.array([5]), start, trans)) == paths[int(np.argmax(scores))]


def test_the_minimum_duration_chain_equals_the_expanded_hmm():
    rng = np.random.default_rng(5)
    n_states, m, lengths = 3, 3, np.array([7, 9])
    loglik = rng.normal(size=(lengths.sum(), n_states))
    start = np.array([0.5, 0.3, 0.2])
    trans = np.array([[0.8, 0.15, 0.05], [0.1, 0.7, 0.2], [0.3, 0.3, 0.4]])
    # the same model written out: m sub-states per state, only the last one may stay or leave
    dense = np.zeros((n_states * m, n_states * m))
    for k in range(n_states):
        for i in range(m - 1):
            dense[k * m + i, k * m + i + 1] = 1.0
        for j in range(n_states):
            dense[k * m + m - 1, j * m + (m - 1 if j == k else 0)] = trans[k, j]
    expanded = np.repeat(loglik, m, axis=1)
    dense_start = np.repeat(start / m, m)
    gamma, counts, _, total = core.forward_backward(loglik, lengths, start, trans, m)
    d_gamma, d_counts, _, d_total = core.forward_backward(expanded, lengths, dense_start, dense)
    assert total == pytest.approx(d_total)
    np.testing.assert_allclose(gamma, d_gamma.reshape(-1, n_states, m).sum(axis=2), atol=1e-10)
    last = [k * m + m - 1 for k in range(n_states)]
    for k in range(n_states):
        for j in range(n_states):
            np.testing.assert_allclose(counts[k, j], d_counts[last[k], j * m + (m - 1 if j == k else 0)], atol=1e-10)
    np.testing.assert_array_equal(
        core.viterbi(loglik, lengths, start, trans, m), core.viterbi(expanded, lengths, dense_start, dense) // m
    )


def test_one_outlying_frame_does_not_make_every_path_impossible():
    # a state just entered must last 3 frames; frame 3 is explained by another state only, by 10,000 nats
    loglik = np.zeros((8, 2))
    loglik[:3, 1] = loglik[3, 0] = -1e4
    loglik[4:, 1] = -1e4
    start, trans = np.array([0.5, 0.5]), np.array([[0.9, 0.1], [0.1, 0.9]])
    gamma, _, _, total = core.forward_backward(loglik, np.array([8]), start, trans, 3)
    assert np.isfinite(total)
    np.testing.assert_allclose(gamma.sum(axis=1), 1.0)
    assert len(core.viterbi(loglik, np.array([8]), start, trans, 3)) == 8


def test_lags_never_cross_a_sequence_boundary():
    x = np.arange(10.0).reshape(5, 2)
    phi = core.lagged_design(x, np.array([2, 3]), 2)
    np.testing.assert_array_equal(phi[2, :4], [4, 5, 4, 5])  # a new sequence repeats its first frame
    np.testing.assert_array_equal(phi[4, :4], [6, 7, 4, 5])
    assert (phi[:, -1] == 1).all()


@pytest.fixture(scope="module")
def pose_sessions():
    out = {}
    for i in range(3):
        ds, _ = simulate_poses(SyntheticConfig(duration_s=40.0, seed=40 + i))
        out[f"s{i}"] = ds
    return out


@pytest.fixture(scope="module")
def pose_model(pose_sessions):
    return ARHMM(n_states=8, random_state=0).fit(pose_sessions)


def test_a_session_gets_the_same_states_alone_among_others_and_after_reloading(pose_model, pose_sessions, tmp_path):
    among = pose_model.label(pose_sessions)
    alone = pose_model.label(pose_sessions["s1"])
    np.testing.assert_array_equal(alone["syllable"].values, among["s1"]["syllable"].values)
    path = pose_model.save(tmp_path / "arhmm.pkl")
    reloaded = ARHMM.load(path)
    np.testing.assert_array_equal(reloaded.predict(pose_sessions), pose_model.predict(pose_sessions))
    assert (alone["syllable"].values >= 0).all()
    assert alone["syllable"].attrs["n_states"] == pose_model.n_states_


def test_the_same_seed_gives_the_same_model(pose_model, pose_sessions):
    again = clone(pose_model).fit(pose_sessions)
    np.testing.assert_array_equal(again.coefs_, pose_model.coefs_)
    np.testing.assert_array_equal(again.predict(pose_sessions), pose_model.predict(pose_sessions))
    assert not [k for k in vars(again) if k.startswith("_")]  # no working state of the fit is kept (or pickled)
    with pytest.raises(SchemaError):
        again.fit({"short": pose_sessions["s0"].isel(time=slice(0, 20))})
    np.testing.assert_array_equal(again.coefs_, pose_model.coefs_)  # a failed refit leaves the model as it was


def test_the_arena_is_left_out_and_the_body_axis_found(pose_model, pose_sessions):
    assert pose_model.posterior_ == "tail_base"
    assert pose_model.anterior_ == "nose"
    assert set(pose_model.keypoints_) <= set(map(str, pose_sessions["s0"]["keypoint"].values))


def test_stickiness_follows_the_target_duration(pose_sessions):
    short = ARHMM(n_states=8, target_duration_s=0.2, merge_threshold=0.0, min_usage=0.0).fit(pose_sessions)
    long = ARHMM(n_states=8, target_duration_s=1.5, merge_threshold=0.0, min_usage=0.0).fit(pose_sessions)
    assert long.kappa_ > short.kappa_
    assert long.kappa_scan_[-1]["median_duration_s"] > short.kappa_scan_[-1]["median_duration_s"]


def test_low_confidence_jitter_does_not_start_syllables(pose_sessions):
    rng = np.random.default_rng(0)
    noisy = {}
    for name, ds in pose_sessions.items():
        ds = ds.copy(deep=True)
        frames = rng.choice(ds.sizes["time"], size=ds.sizes["time"] // 25, replace=False)
        ds["position"][dict(time=frames)] += rng.normal(0, 6.0, size=ds["position"][dict(time=frames)].shape)
        ds["confidence"][dict(time=frames)] = 0.05
        noisy[name] = ds

    def short_share(data: dict, confidence: bool, min_frames: int) -> float:
        model = ARHMM(
            n_states=8,
            confidence_weighting=confidence,
            min_confidence=0.5 if confidence else 0.0,
            kappa=1.0,
            min_frames=min_frames,
        ).fit(data)
        states = model.label(data)
        lengths = [np.diff(np.flatnonzero(np.diff(ds["syllable"].values[:, 0]) != 0)) for ds in states.values()]
        return float(np.mean(np.concatenate(lengths) < 3))

    # the plain AR-HMM: using the confidence (frame weights, low-confidence keypoints interpolated), the
    # jittered sessions have hardly more short syllables than the clean ones; without it, several times more
    with_confidence = short_share(noisy, True, 1)
    assert with_confidence < 0.5 * short_share(noisy, False, 1)
    assert with_confidence < short_share(pose_sessions, True, 1) + 0.05
    # the minimum duration: none at all inside a sequence, whatever the confidence says
    assert short_share(noisy, False, 3) == 0.0


def test_missing_frames_split_the_sequences(pose_model, pose_sessions):
    ds = pose_sessions["s0"].copy(deep=True)
    ds["position"][dict(time=slice(100, 160))] = np.nan  # 2 s: longer than max_gap_s
    states = pose_model.label(ds)["syllable"].values[:, 0]
    assert (states[100:160] == -1).all()
    assert (states[:100] >= 0).all()
    assert (states[160:] >= 0).all()


def test_bad_input_gets_a_clear_message(pose_model, pose_sessions):
    with pytest.raises(NotFittedError):
        ARHMM().predict(pose_sessions)
    n_keypoints = pose_sessions["s0"].sizes["keypoint"]
    renamed = pose_sessions["s0"].assign_coords(keypoint=[f"k{i}" for i in range(n_keypoints)])
    with pytest.raises(SchemaError, match="keypoint-map"):
        pose_model.predict(renamed)
    with pytest.raises(SchemaError, match="'position' variable"):
        ARHMM().fit(pose_sessions["s0"]["position"].isel(space=0).rename(keypoint="feature"))
    with pytest.raises(SchemaError, match="fps"):
        ARHMM().fit(np.zeros((500, 2)))
    with pytest.raises(SchemaError, match="n_lags"):
        ARHMM(n_lags=5).fit(pose_sessions)


def test_body_motion_is_measured_in_the_animals_own_frame():
    from behaviorlab.behavior.arhmm_data import body_motion

    t = np.arange(30) / 30.0
    heading = 0.7  # walking straight along a diagonal at 60 px/s, body 20 px long
    tail = np.stack([60 * t * np.cos(heading), 60 * t * np.sin(heading)], axis=-1)
    head = tail + 20 * np.array([np.cos(heading), np.sin(heading)])
    xy = np.stack([tail, head], axis=1)[:, None]  # (time, individual, keypoint, 2)
    motion = body_motion(xy, 0, 1, np.array([20.0]), 30.0)[:, 0]
    np.testing.assert_allclose(motion[:, 0], 3.0)  # body lengths per second, forwards
    np.testing.assert_allclose(motion[:, 1:], 0.0, atol=1e-9)  # no sideways drift, no turning
    angle = 2.0 * t  # turning on the spot at 2 rad/s
    spin = np.stack([-np.stack([np.cos(angle), np.sin(angle)], -1), np.stack([np.cos(angle), np.sin(angle)], -1)], 1)
    np.testing.assert_allclose(body_motion(spin[:, None], 0, 1, np.array([2.0]), 30.0)[:, 0, 2], 2.0, rtol=1e-3)


def test_two_still_postures_cost_something_to_merge_only_with_the_posture_term():
    """Slow drifts around two postures: dynamics near x_t = x_t-1 fit both alike; their postures do not."""
    rng = np.random.default_rng(3)
    n = 2000

    def drift(posture: list[float]) -> np.ndarray:
        u = np.zeros((n, 2))
        for t in range(1, n):
            u[t] = 0.98 * u[t - 1] + 0.01 * rng.standard_normal(2)
        return np.asarray(posture) + u  # about 0.05 around the posture

    X = np.concatenate([drift([0.0, 0.0]), drift([0.35, 0.0])])
    lengths = np.array([n, n])
    weights = np.zeros((2 * n, 2))
    weights[:n, 0] = weights[n:, 1] = 1.0
    stats = core.ar_stats(X, core.lagged_design(X, lengths, 1), weights)
    assert core.merge_cost(stats, 0, 1) < 0.01
    assert core.merge_cost(stats, 0, 1, posture=True) > 0.5


def test_auto_keypoints_leave_the_tail_out(pose_model, pose_sessions):
    assert "tail_base" in pose_model.keypoints_
    assert not {"tail_mid", "tail_tip"} & set(pose_model.keypoints_)
    assert pose_model.posterior_ == "tail_base"
    # without the tail fewer than 3 keypoints would be left: the tail stays
    few = pose_sessions["s0"].sel(keypoint=["nose", "tail_base", "tail_mid", "tail_tip"])
    assert ARHMM(n_states=3).fit(few).keypoints_ == ["nose", "tail_base", "tail_mid", "tail_tip"]
