"""Identity tracking: known crossings, re-identification, the track limit and the evaluation helpers."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from behaviorlab.errors import SchemaError
from behaviorlab.schema import from_numpy, get_log
from behaviorlab.synthetic.simulate import SyntheticConfig, simulate_poses
from behaviorlab.trajectories.track_scores import identity_switches, keypoint_error, match_identities, summarize_tracks
from behaviorlab.trajectories.tracking import Tracker, identity_margins, merge_fragments, track_arrays, track_poses


def shuffle_instances(pos: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Shuffle the instance axis of ``(time, instance, keypoint, 2)`` in every frame; returns the permutations too."""
    perm = np.array([rng.permutation(pos.shape[1]) for _ in range(pos.shape[0])])
    return np.take_along_axis(pos, perm[:, :, None, None], axis=1), perm


def to_dataset(pos: np.ndarray, **kwargs) -> xr.Dataset:
    """``(time, instance, keypoint, 2)`` -> pose Dataset."""
    return from_numpy(pos.transpose(0, 3, 2, 1), **kwargs)


def crossing_pair(n_time: int = 40, speed: float = 4.0, offset: float = 2.0) -> np.ndarray:
    """Two identical 5-keypoint bars (vertical, 30 px) moving towards each other along x and passing ``offset`` apart.

    The offset is smaller than the step per frame, so the nearest detection in the previous frame is the other
    animal at the crossing: only a motion model keeps the identities.
    """
    t = np.arange(n_time)[:, None]
    bar = np.stack([np.zeros(5), np.linspace(-15, 15, 5)], axis=-1)  # (keypoint, 2)
    centre_a = np.concatenate([100 - speed * n_time / 2 + speed * t, np.full_like(t, 100.0)], axis=1)
    # half a step out of phase: at the crossing, each animal's previous position is nearer the other's new one
    centre_b = np.concatenate([100 + speed * (n_time + 1) / 2 - speed * t, np.full_like(t, 100.0 + offset)], axis=1)
    return np.stack([centre_a[:, None] + bar, centre_b[:, None] + bar], axis=1).astype(np.float64)


def assert_identities_kept(result_assignment: np.ndarray, perm: np.ndarray) -> None:
    """Every true animal stays on one track: the track of slot ``s`` is the track of animal ``perm[t, s]``."""
    n_animals = perm.shape[1]
    track_of_animal = np.full((perm.shape[0], n_animals), -1)
    np.put_along_axis(track_of_animal, perm, result_assignment, axis=1)
    for a in range(n_animals):
        seen = track_of_animal[:, a][track_of_animal[:, a] >= 0]
        assert len(set(seen.tolist())) == 1, f"animal {a} was given tracks {sorted(set(seen.tolist()))}"


# --------------------------------------------------------------------------- crossings
def test_crossing_bars_keep_identities_only_with_motion_model():
    rng = np.random.default_rng(0)
    truth = crossing_pair()
    noisy = truth + rng.normal(0.0, 0.2, truth.shape)
    det, perm = shuffle_instances(noisy, rng)

    result = track_arrays(det, max_tracks=2)
    assert result.n_tracks == 2
    assert_identities_kept(result.assignment, perm)

    # without the motion model the nearest previous detection is the other animal at the crossing
    static = track_arrays(det, max_tracks=2, history=1)
    with pytest.raises(AssertionError, match="was given tracks"):
        assert_identities_kept(static.assignment, perm)


def test_crossing_generated_animals_zero_switches():
    poses, _ = simulate_poses(SyntheticConfig(n_animals=2, duration_s=10, seed=9))
    true = poses["position"].transpose("time", "individual", "keypoint", "space").values
    centre = np.nanmean(true, axis=2)
    assert np.linalg.norm(centre[:, 0] - centre[:, 1], axis=-1).min() < 5.0  # they do cross
    rng = np.random.default_rng(1)
    det, perm = shuffle_instances(true + rng.normal(0.0, 1.0, true.shape), rng)
    ds = to_dataset(det, keypoints=poses["keypoint"].values, fps=30)

    tracked = track_poses(ds, max_tracks=2)
    report = identity_switches(tracked, poses)
    assert report["switches"] == 0
    assert report["matched_share"] == 1.0
    assert list(tracked["individual"].values) == ["track_0", "track_1"]
    err = keypoint_error(tracked, poses)  # one identity per track for the session: swaps would show here
    assert np.nanmedian(err.values) < 2.0  # np, not xarray: its median JIT-compiles numbagg (~20 s)
    assert_identities_kept(tracked["source_individual"].values, perm)


# --------------------------------------------------------------------------- identity confidence
def test_identity_margins_known_answers():
    # two tracks, two detections: each track took its own (cost 1); a swap would cost 5 + 7 instead of 1 + 1
    cost = np.array([[1.0, 5.0], [7.0, 1.0]])
    np.testing.assert_allclose(identity_margins(cost, np.array([0, 1])), [10.0, 10.0])
    # a third track that found nothing could have had detection 0 at cost 2: track 0's margin is 2 - 1
    cost3 = np.vstack([cost, [2.0, 40.0]])
    np.testing.assert_allclose(identity_margins(cost3, np.array([0, 1, -1])), [1.0, 10.0, np.nan])
    # a lone detection with no competitor: no alternative at all; an impossible own cost: no confidence
    assert identity_margins(np.array([[3.0]]), np.array([0]))[0] == np.inf
    assert identity_margins(np.array([[np.inf, 1.0], [1.0, 2.0]]), np.array([0, 1]))[0] == 0.0


def test_identity_confidence_drops_where_animals_cross_and_is_written_beside_the_poses():
    # two bars meet, lie on top of each other for 10 frames and part: during the overlap either
    # assignment fits exactly as well, far apart only one does
    truth = crossing_pair(n_time=60, speed=2.0, offset=0.0)
    truth[25:35, 1] = truth[25:35, 0]
    ds = to_dataset(truth, fps=30)
    tracked = track_poses(ds, max_tracks=2)
    conf = tracked["identity_confidence"].transpose("time", "individual").values
    assert conf.shape == (60, 2)
    assert np.all((conf >= 0) & (conf <= 1))
    gap = np.linalg.norm(truth[:, 0].mean(axis=1) - truth[:, 1].mean(axis=1), axis=-1)
    assert conf[25:35].max() < 0.05
    assert conf[gap > 40.0].min() > 0.95
    assert "Skip frames" in tracked["identity_confidence"].attrs["description"]
    # a missing detection has no confidence; fragments merged keep theirs
    holes = truth.copy()
    holes[10:14, 1] = np.nan
    result = track_arrays(holes, max_tracks=2)
    track_of_b = result.assignment[0, 1]
    assert np.isnan(result.identity_confidence[10:14, track_of_b]).all()
    assert np.isfinite(result.identity_confidence[:10]).all()
    merged = merge_fragments(track_arrays(holes, max_lost_frames=0), max_tracks=2)
    assert merged.identity_confidence.shape == (60, 2)
    assert np.isfinite(merged.identity_confidence[:10]).all()


# --------------------------------------------------------------------------- losses and the track limit
def parallel_walkers(n_time: int = 60) -> np.ndarray:
    """Two 3-keypoint animals walking right at 2 px/frame, 60 px apart."""
    t = np.arange(n_time, dtype=np.float64)[:, None, None]
    body = np.array([[0.0, 0.0], [10.0, 0.0], [20.0, 0.0]])
    a = body + np.array([20.0, 50.0]) + t * np.array([2.0, 0.0])
    b = body + np.array([20.0, 110.0]) + t * np.array([2.0, 0.0])
    return np.stack([a, b], axis=1)


def test_animal_missing_for_a_few_frames_is_reidentified():
    rng = np.random.default_rng(2)
    truth = parallel_walkers()
    truth[20:26, 1] = np.nan  # animal 1 vanishes for 6 frames and comes back where its motion predicts
    det, perm = shuffle_instances(truth, rng)
    result = track_arrays(det)  # no max_tracks: a new track would appear if re-identification failed
    assert result.n_tracks == 2
    assert_identities_kept(result.assignment, perm)


def test_long_loss_starts_a_new_track_unless_capped():
    truth = parallel_walkers()
    truth[10:40, 1] = np.nan
    uncapped = track_arrays(truth, max_lost_frames=5)
    assert uncapped.n_tracks == 3
    assert (uncapped.assignment[40:, 1] == 2).all()
    capped = track_arrays(truth, max_lost_frames=5, max_tracks=2)
    assert capped.n_tracks == 2
    assert (capped.assignment[40:, 1] == capped.assignment[0, 1]).all()
    merged = merge_fragments(uncapped, 2)
    assert merged.n_tracks == 2
    assert (merged.assignment[40:, 1] == merged.assignment[0, 1]).all()
    np.testing.assert_array_equal(merged.positions, capped.positions)


def test_max_tracks_caps_the_track_count_and_drops_spurious_detections():
    rng = np.random.default_rng(3)
    truth = parallel_walkers()
    spurious = np.full((truth.shape[0], 1, 3, 2), np.nan)
    frames = rng.choice(truth.shape[0], size=12, replace=False)
    spurious[frames, 0, :2] = rng.uniform(0, 200, size=(12, 2, 2))  # two-keypoint false detections anywhere
    det = np.concatenate([truth, spurious], axis=1)
    assert track_arrays(det).n_tracks > 2
    capped = track_arrays(det, max_tracks=2)
    assert capped.n_tracks == 2
    assert (capped.assignment[:, 2] == -1).all()  # the spurious ones were dropped ...
    assert (capped.assignment[:, 0] == 0).all()  # ... and stole nothing
    assert (capped.assignment[:, 1] == 1).all()
    one = track_arrays(det, max_tracks=1)
    assert one.n_tracks == 1

    # with scores, the spurious detections are poor (low summed score): they never start a track
    scores = np.where(np.isfinite(det).all(axis=-1), 1.0, np.nan)
    scores[:, 2] *= 0.1
    unlimited = track_arrays(det, scores)
    assert unlimited.n_tracks == 2
    assert (unlimited.assignment[:, 2] == -1).all()
    assert track_arrays(det, scores, low_quality_share=0.0).n_tracks > 2


# --------------------------------------------------------------------------- data model
def test_track_poses_keeps_input_logs_and_reorders():
    rng = np.random.default_rng(4)
    truth = parallel_walkers(30)
    det, perm = shuffle_instances(truth, rng)
    conf = np.broadcast_to(perm[:, :, None] + 1.0, det.shape[:3]).copy()  # confidence tags each animal
    ds = from_numpy(det.transpose(0, 3, 2, 1), conf.transpose(0, 2, 1), fps=30, individuals=["a", "b"])
    before = ds.copy(deep=True)

    out = track_poses(ds, max_tracks=2)

    xr.testing.assert_identical(ds, before)
    assert out.sizes["individual"] == 2
    assert out.attrs["fps"] == 30
    np.testing.assert_array_equal(out["time"].values, ds["time"].values)
    for track in range(2):
        tags = out["confidence"].isel(individual=track).values
        assert np.unique(tags).size == 1  # each track holds one animal throughout
    step = get_log(out)[-1]
    assert step["operation"] == "track_poses"
    assert step["max_tracks"] == 2
    assert step["n_tracks"] == 2
    assert json.loads(out.attrs["log"])[:-1] == json.loads(ds.attrs["log"])
    src = out["source_individual"].values
    np.testing.assert_array_equal(
        np.take_along_axis(det, src[:, :, None, None], axis=1),
        out["position"].transpose("time", "individual", "keypoint", "space").values,
    )


def test_wrong_dims_and_bad_parameters_fail_clearly():
    ds = to_dataset(parallel_walkers(10))
    with pytest.raises(SchemaError, match="position must have dims"):
        track_poses(ds.rename({"individual": "animal"}))
    with pytest.raises(SchemaError, match=r"\(time, instance, keypoint, space\)"):
        track_arrays(np.zeros((10, 3, 2)))
    with pytest.raises(SchemaError, match="scores must have shape"):
        track_arrays(parallel_walkers(10), np.ones((10, 2)))
    with pytest.raises(SchemaError, match="max_tracks"):
        Tracker(max_tracks=0)
    with pytest.raises(SchemaError, match="damping"):
        Tracker(damping=1.5)
    single_keypoint = parallel_walkers(10)[:, :, :1]
    with pytest.raises(SchemaError, match="animal_size"):
        track_arrays(single_keypoint)
    assert track_arrays(single_keypoint, animal_size=20.0).n_tracks == 2


def test_empty_frames_are_fine():
    det = parallel_walkers(20)
    det[5:8] = np.nan
    result = track_arrays(det, max_tracks=2)
    assert result.n_tracks == 2
    assert (result.assignment[5:8] == -1).all()
    assert (result.assignment[8:] == result.assignment[0]).all()


# --------------------------------------------------------------------------- evaluation
def test_identity_switches_and_keypoint_error_known_answers():
    truth = parallel_walkers(100)
    true_ds = to_dataset(truth, individuals=["m1", "m2"])
    swapped = truth.copy()
    swapped[50:] = swapped[50:, ::-1]  # the tracks swap animals at frame 50
    pred_ds = to_dataset(swapped, individuals=["track_0", "track_1"])

    report = identity_switches(pred_ds, true_ds)
    assert report["switches"] == 1
    assert report["switch_events"] == 2
    assert report["switches_per_1000_frames"] == pytest.approx(10.0)
    assert identity_switches(true_ds, true_ds)["switches"] == 0

    matched = match_identities(pred_ds, true_ds)
    assert matched.sel(individual="m1").values[0] == "track_0"
    assert matched.sel(individual="m1").values[-1] == "track_1"

    per_frame = keypoint_error(pred_ds, true_ds, matching="frame")
    assert np.nanmax(per_frame.values) == 0.0
    session = keypoint_error(pred_ds, true_ds, matching="session")
    assert session.dims == ("time", "keypoint", "individual")
    np.testing.assert_allclose(session.isel(time=slice(0, 50)).values, 0.0)
    np.testing.assert_allclose(session.isel(time=slice(50, None)).values, 60.0)

    no_tracks = pred_ds.isel(individual=[])  # a tracker that found nothing: every error is NaN, not a crash
    for how in ("frame", "session"):
        assert np.isnan(keypoint_error(no_tracks, true_ds, matching=how).values).all()

    summary = summarize_tracks(pred_ds)
    assert summary["suspected_swaps"] == 1
    assert summary["large_jumps"] == 2
    assert summary["n_tracks"] == 2
    assert summary["new_track_starts"] == 0
    assert summarize_tracks(true_ds)["suspected_swaps"] == 0


def test_identity_switches_do_not_flicker_when_animals_overlap():
    rng = np.random.default_rng(0)
    truth = crossing_pair(n_time=60, speed=0.25, offset=0.0)  # within the noise of each other for several frames
    true_ds = to_dataset(truth)
    pred_ds = to_dataset(truth + rng.normal(0.0, 1.0, truth.shape))  # right identities, noisy keypoints
    assert identity_switches(pred_ds, true_ds)["switches"] == 0
    # re-matching every frame flips between the two equally good matchings while they overlap
    assert identity_switches(pred_ds, true_ds, keep_distance=0.0)["switches"] > 0


def test_evaluation_checks_its_inputs():
    true_ds = to_dataset(parallel_walkers(10))
    with pytest.raises(SchemaError, match="frames"):
        identity_switches(true_ds.isel(time=slice(0, 5)), true_ds)
    with pytest.raises(SchemaError, match="matching"):
        keypoint_error(true_ds, true_ds, matching="nearest")
    with pytest.raises(SchemaError, match="pose Dataset"):
        identity_switches(true_ds["position"], true_ds)
