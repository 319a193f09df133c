"""Static keypoints (arena and maze landmarks) found, set apart and kept as geometry."""

from __future__ import annotations

import json

import numpy as np
import pytest

from behaviorlab.errors import SchemaError
from behaviorlab.io.load import load_poses
from behaviorlab.results.movement import movement_statistics
from behaviorlab.results.stats import session_tables
from behaviorlab.schema import from_numpy
from behaviorlab.trajectories.filtering import CleaningConfig, clean_poses, cleaning_report
from behaviorlab.trajectories.landmarks import (
    arena_landmarks,
    arena_zones,
    find_static_keypoints,
    split_static_keypoints,
)

OFT = "oft-rearing/12_01_A_190507144429DeepCut_resnet50_Blockcourse1May9shuffle1_1030000.csv"
OFT_8 = "oft-rearing/8_01_A_190507134142DeepCut_resnet50_Blockcourse1May9shuffle1_1030000.csv"
EPM = "dlc-epm-tracks/EPM_15DeepCut_resnet50_epmMay17shuffle1_1030000.csv"
EPM_MAZE = ["tl", "tr", "bl", "br", "lt", "lb", "rt", "rb", "ctl", "ctr", "cbl", "cbr"]


def _walker_with_corners(n=600, seed=0, moving=True):
    """A 3-keypoint animal walking a 400 px arena (or resting), and 4 corners with 1 px of tracking jitter."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 30
    centre = (
        np.stack([200 + 150 * np.cos(t / 3), 200 + 150 * np.sin(t / 2)], axis=1) if moving else np.full((n, 2), 200.0)
    )
    offset = np.array([15.0, 0.0])
    body = np.stack([centre + offset, centre, centre - offset], axis=2) + rng.normal(0, 1.5, (n, 2, 3))
    corners = np.array([[20, 20], [380, 20], [20, 380], [380, 380]], float).T[None] + rng.normal(0, 1.0, (n, 2, 4))
    pos = np.concatenate([body, corners], axis=2)[..., None]
    conf = np.ones((n, 7, 1))
    return from_numpy(pos, conf, keypoints=["nose", "mid", "tail", "tl", "tr", "bl", "br"], fps=30)


def test_corners_of_a_generated_arena_are_static_and_a_resting_animal_hides_nothing():
    table = find_static_keypoints(_walker_with_corners())
    assert table.index[table["static"]].tolist() == ["tl", "tr", "bl", "br"]
    assert table.loc["tl", "spread_px"] < 3 < 100 < table.loc["nose", "spread_px"]
    # an animal that does not move: its body parts cannot be told from landmarks, so none is called static
    resting = find_static_keypoints(_walker_with_corners(moving=False))
    assert not resting["static"].any()


def test_split_keeps_the_landmarks_as_geometry_and_never_changes_its_input():
    ds = _walker_with_corners()
    before = ds.copy(deep=True)
    body = split_static_keypoints(ds)
    assert body["keypoint"].values.tolist() == ["nose", "mid", "tail"]
    landmarks = arena_landmarks(body)
    assert list(landmarks) == ["tl", "tr", "bl", "br"]
    np.testing.assert_allclose(landmarks["br"], [380, 380], atol=0.5)  # the median of a 1 px jitter
    assert ds.identical(before)
    assert split_static_keypoints(ds, []) is ds  # switched off
    named = split_static_keypoints(ds, ["tl"])
    assert "tl" not in named["keypoint"].values
    assert "tr" in named["keypoint"].values
    with pytest.raises(SchemaError, match=r"cleaning.static_keypoints"):
        split_static_keypoints(ds, ["corner"])


def test_cleaning_sets_the_landmarks_apart_by_default_and_reports_the_body_only(caplog):
    ds = _walker_with_corners()
    with caplog.at_level("WARNING", logger="behaviorlab.trajectories.filtering"):
        cleaned = clean_poses(ds)
    assert cleaned["keypoint"].values.tolist() == ["nose", "mid", "tail"]
    assert "treated as arena landmarks" in caplog.text
    assert json.loads(cleaned.attrs["log"])[-1]["static_keypoints"] == ["tl", "tr", "bl", "br"]
    report = cleaning_report(ds, cleaned)
    assert sorted(report.index.get_level_values("keypoint")) == ["mid", "nose", "tail"]
    kept = clean_poses(ds, CleaningConfig(static_keypoints=[]))
    assert kept.sizes["keypoint"] == 7


def test_a_keypoint_missing_most_of_the_time_is_named(caplog):
    ds = _walker_with_corners().copy(deep=True)
    ds["position"].loc[{"keypoint": "tail"}] = np.where(np.arange(600)[:, None, None] % 4 == 0, 1.0, np.nan) * 5
    with caplog.at_level("WARNING", logger="behaviorlab.trajectories.filtering"):
        cleaned = clean_poses(ds, CleaningConfig(max_gap=0))
    assert json.loads(cleaned.attrs["mostly_missing_keypoints"]) == ["tail"]
    assert "tail 75%" in caplog.text


def test_arena_zones_are_the_hull_and_its_centre_quarter():
    square = {"tl": [20, 20], "tr": [380, 20], "bl": [20, 380], "br": [380, 380], "mid": [200, 200]}
    zones = arena_zones(square)
    assert sorted(map(tuple, zones["arena"])) == [(20, 20), (20, 380), (380, 20), (380, 380)]  # "mid" is inside
    assert sorted(map(tuple, zones["arena_centre"])) == [(110, 110), (110, 290), (290, 110), (290, 290)]
    assert arena_zones({"a": [0, 0], "b": [5, 5]}) == {}  # no area
    assert arena_zones({"a": [0, 0], "b": [5, 5], "c": [10, 10]}) == {}  # on one line
    assert arena_zones({}) == {}


def test_landmarks_give_zone_statistics_without_drawn_zones():
    cleaned = clean_poses(_walker_with_corners())
    zones = session_tables(cleaned, session="s")["zones"].set_index("zone")
    assert zones.loc["arena", "time_pct"].item() == pytest.approx(100.0)  # the walker never leaves the arena
    # its centroid circles 150 px around the middle of a 360 px arena: mostly outside the 180 px centre square
    assert 0 < zones.loc["arena_centre", "time_pct"].item() < 50
    drawn = session_tables(cleaned, session="s", zones={"left": [[0, 0], [200, 0], [200, 400], [0, 400]]})["zones"]
    assert drawn["zone"].tolist() == ["left"]  # zones that are given replace the landmarks' zones


@pytest.mark.shared_data
@pytest.mark.parametrize("name", [OFT, OFT_8])
def test_open_field_corners_and_centre_are_static_and_leave_the_centroid(shared_data, name):
    ds = load_poses(shared_data / name, fps=25)
    table = find_static_keypoints(ds)
    assert sorted(table.index[table["static"]]) == ["bl", "br", "centre", "tl", "tr"]
    cleaned = clean_poses(ds)  # the defaults
    assert "centre" not in cleaned["keypoint"].values
    assert sorted(arena_landmarks(cleaned)) == ["bl", "br", "centre", "tl", "tr"]
    centroid = movement_statistics(cleaned)["distance"].item()
    body = movement_statistics(cleaned, keypoint="bodycentre")["distance"].item()
    assert centroid == pytest.approx(body, rel=0.05)  # 5,641 px against 7,743 px before, with the corners in
    # the corners span the arena (295-381 px a side in this camera's perspective), not a 30 px mouse
    corners = np.array([arena_landmarks(cleaned)[k] for k in ("tl", "tr", "br", "bl")])
    sides = np.linalg.norm(np.diff(np.vstack([corners, corners[:1]]), axis=0), axis=1)
    assert sides.min() > 250


@pytest.mark.shared_data
def test_plus_maze_points_are_static(shared_data):
    ds = load_poses(shared_data / EPM, fps=25)
    table = find_static_keypoints(ds)
    assert sorted(table.index[table["static"]]) == sorted(EPM_MAZE)
    cleaned = clean_poses(ds)
    assert cleaned.sizes["keypoint"] == 13
    assert "tailtip" in cleaned["keypoint"].values


@pytest.mark.shared_data
@pytest.mark.parametrize("pattern", ["bsoid-openfield/*.csv", "ethome-interact/*.csv"])
def test_tracks_without_landmarks_keep_every_keypoint(shared_data, pattern):
    for path in sorted(shared_data.glob(pattern)):
        ds = load_poses(path, fps=30)
        assert not find_static_keypoints(ds)["static"].any(), path.name
