"""Track repair after encounters: known answers where the frame-by-frame tracker must swap and the repair must not."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from behaviorlab.errors import SchemaError
from behaviorlab.schema import from_numpy, get_log
from behaviorlab.trajectories.identity import encounters, repair_identities
from behaviorlab.trajectories.track_scores import identity_switches
from behaviorlab.trajectories.tracking import track_poses


def bar(length: float, n: int = 5) -> np.ndarray:
    """A horizontal bar of ``n`` keypoints, ``length`` px long, centred on the origin: ``(n, 2)``."""
    return np.stack([np.linspace(-length / 2, length / 2, n), np.zeros(n)], axis=-1)


def bounce(n_time: int = 80, lengths: tuple[float, float] = (40.0, 28.0), speed: float = 4.0) -> np.ndarray:
    """Two bars run into each other and bounce straight back the way they came.

    The tracker's motion model expects each to carry on through the other, so it swaps them; only their
    different lengths tell who is who.  ``(time, animal, keypoint, 2)``.
    """
    t = np.arange(n_time, dtype=np.float64)
    meet = 40
    x_a = 100 - speed * np.abs(meet - t)
    x_b = 100 + speed * np.abs(meet - t)
    centre_a = np.stack([x_a, np.full(n_time, 80.0)], axis=-1)
    centre_b = np.stack([x_b, np.full(n_time, 80.0)], axis=-1)
    return np.stack([centre_a[:, None] + bar(lengths[0]), centre_b[:, None] + bar(lengths[1])], axis=1)


def tracked_of(truth: np.ndarray, noise: float = 0.5, seed: int = 0) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    det = truth + rng.normal(0.0, noise, truth.shape)
    ds = from_numpy(det.transpose(0, 3, 2, 1), fps=30)
    return track_poses(ds, max_tracks=2, animal_size=40.0)


def reference(truth: np.ndarray) -> xr.Dataset:
    return from_numpy(truth.transpose(0, 3, 2, 1), fps=30, individuals=["a", "b"])


def switches(ds: xr.Dataset, truth: np.ndarray) -> int:
    named = ds.drop_vars(["source_individual", "identity_confidence"])
    return identity_switches(named, reference(truth), max_distance=10, keep_distance=3)["switches"]


def test_encounters_are_runs_of_low_confidence_joined_across_short_breaks():
    conf = np.ones((30, 2))
    conf[5:8, 0] = 0.2
    conf[10:12, 1] = 0.1  # 2 confident frames after the first run: joined with join_frames 5
    conf[25, 0] = 0.4
    conf[20, :] = np.nan  # no detection: not an encounter by itself
    assert encounters(conf) == [(5, 12), (25, 26)]
    assert encounters(conf, join_frames=1) == [(5, 8), (10, 12), (25, 26)]
    with pytest.raises(SchemaError, match=r"\(time, track\)"):
        encounters(np.ones(5))


def test_animals_of_different_size_that_bounce_off_each_other_get_their_identities_back():
    truth = bounce()
    tracked = tracked_of(truth)
    assert switches(tracked, truth) >= 1  # motion alone carries each track through the other animal

    repaired = repair_identities(tracked)
    assert switches(repaired, truth) == 0
    step = get_log(repaired)[-1]
    assert step["operation"] == "repair_identities"
    assert len(step["swaps"]) == 1
    # every per-track variable moved together; the input is untouched
    src = repaired["source_individual"].values
    det = tracked["position"].transpose("time", "individual", "keypoint", "space").values
    rep = repaired["position"].transpose("time", "individual", "keypoint", "space").values
    for t in (10, 70):
        for k in range(2):
            j = int(np.flatnonzero(tracked["source_individual"].values[t] == src[t, k])[0])
            np.testing.assert_array_equal(rep[t, k], det[t, j])
    assert switches(tracked, truth) >= 1


def test_identical_animals_are_left_as_the_tracker_had_them():
    truth = bounce(lengths=(36.0, 36.0))
    tracked = tracked_of(truth, seed=1)
    repaired = repair_identities(tracked)
    xr.testing.assert_equal(repaired.drop_attrs(), tracked.drop_attrs())  # nothing tells them apart: no swap
    assert get_log(repaired)[-1]["swaps"] == []
    # ... unless their appearance differs: a per-frame feature that follows each animal
    fur = np.where(np.arange(2)[None, :] == 0, 0.2, 0.8)[:, :, None] * np.ones((truth.shape[0], 2, 1))
    # the tracker's columns hold the truth's animals in the order its source_individual says
    fur_of_track = np.take_along_axis(fur, tracked["source_individual"].values[:, :, None], axis=1)
    fur_of_track = fur_of_track + np.random.default_rng(2).normal(0, 0.02, fur_of_track.shape)
    fixed = repair_identities(tracked, appearance=fur_of_track)
    assert switches(fixed, truth) == 0
    with pytest.raises(SchemaError, match="appearance must have shape"):
        repair_identities(tracked, appearance=np.ones((3, 2, 1)))
    with pytest.raises(SchemaError, match="track_poses first"):
        repair_identities(tracked.drop_vars("identity_confidence"))
