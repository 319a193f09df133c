"""`behaviorlab init` + `behaviorlab run` on other labs' real files, as the README tells a user to."""

from __future__ import annotations

import pandas as pd
import pytest

from behaviorlab.project.config import SESSIONS_FILE, init_project
from behaviorlab.project.runner import run_project
from behaviorlab.results.store import ResultsStore

SESSIONS = ["12_01_A_190507144429", "8_01_A_190507134142"]


@pytest.mark.slow
@pytest.mark.shared_data
def test_the_oft_rearing_project_with_three_raters_stores_every_session(shared_data, tmp_path):
    folder = shared_data / "oft-rearing"
    poses = sorted(folder.glob("*DeepCut*.csv"))
    labels = sorted(p for p in folder.glob("*.csv") if "DeepCut" not in p.name)
    config = {  # the labels cover 10 minutes, the tracks the first 80 s: clip; small fits for a test
        "annotations": {"clip": True},
        "classifier": {"windows_s": [0.5], "stats": ["mean"], "max_iter": 30},
        "behavior_map": {"max_fit_frames": 2000},
    }
    project = tmp_path / "oft"
    init_project(project, poses=poses, annotations=labels, config=config, fps=25)
    table = pd.read_csv(project / SESSIONS_FILE, dtype=str, keep_default_na=False).set_index("session")
    assert sorted(table.index) == sorted(SESSIONS)  # DeepLabCut's scorer suffix dropped: the labels' names match
    assert all(table.loc[s, "annotations"].endswith(f"{s}.csv") for s in SESSIONS)
    report = run_project(project, scheduler="sync")
    assert report.completed_sessions() == sorted(SESSIONS), report.summary()
    assert report.ok, report.summary()
    for s in SESSIONS:  # the arena's corners and centre are landmarks, not body parts
        assert report.result("clean", s).info["static_keypoints"] == ["bl", "br", "centre", "tl", "tr"]
    classifier = report.result("classifier").info
    assert "Supported" in classifier["behaviors"]
    # three raters, a frame positive when two agree: no groomed frame is left in these 80 s
    assert "Grooming" in classifier["skipped_behaviors"]
    # the corners give the arena and its centre as zones, with no polygon drawn by hand
    zones = ResultsStore(project / "results").query("SELECT session, zone, time_pct FROM zones ORDER BY session, zone")
    assert sorted(set(zones["zone"])) == ["arena", "arena_centre"]
    assert sorted(set(zones["session"])) == sorted(SESSIONS)
    arena = zones[zones["zone"] == "arena"]["time_pct"]
    assert (arena > 90).all()  # the mouse stays in the open field (the hull of its corners)
    summary = report.summary()
    assert "static keypoints, kept as arena landmarks" in summary
    assert "classifier held-out F1" in summary


@pytest.mark.slow
@pytest.mark.shared_data
def test_ethome_two_mice_get_social_features_and_the_unnamed_mouse_is_unknown(shared_data, tmp_path):
    import json

    import numpy as np
    import xarray as xr

    from behaviorlab.io.annotations import load_annotations

    folder = shared_data / "ethome-interact"
    poses = next(folder.glob("*DLC_*.csv"))
    boris = folder / "boris" / "e3v813a-20210610T122332-122642_reencode.csv"
    labels = load_annotations(boris, fps=30.0, n_frames=5700, individuals=["adult", "juvenile"])
    assert json.loads(labels.attrs["annotated_individuals"]) == ["adult"]  # the file speaks of the adult only
    config = {  # no social key: two mice in every session turn them on; the map and HMMs are not needed here
        "behavior_map": {"enabled": False},
        "ethogram": {"enabled": False},
        "syllables": {"enabled": False},
        "classifier": {"windows_s": [0.5], "stats": ["mean"], "max_iter": 30},
    }
    project = tmp_path / "ethome"
    init_project(project, poses=[poses], annotations=[boris], config=config, fps=30)
    report = run_project(project, scheduler="sync")
    assert report.ok, report.summary()
    session = "e3v813a-20210610T122332-122642"
    features = xr.load_dataset(report.result("features", session).path)
    names = {str(f) for f in features["feature"].values}
    assert {"social_distance", "social_nose_to_other", "social_facing"} <= names
    stored = xr.load_dataset(report.result("annotations", session).path)["labels"]
    assert np.isnan(stored.sel(individual="juvenile").values).all()  # unknown, not "never interacting"
    assert int(stored.sel(individual="adult").sum()) > 600  # the 10 bouts, 663 frames
    assert report.result("classifier").info["heldout_f1"]["interact"] > 0.3


@pytest.mark.shared_data
def test_a_pose_file_without_a_frame_rate_is_one_line_naming_the_fps_column(shared_data, tmp_path):
    poses = next((shared_data / "ethome-interact").glob("*DLC_*.csv"))
    project = tmp_path / "nofps"
    init_project(project, poses=[poses])  # DeepLabCut CSVs store no frame rate, and no --fps was given
    table = pd.read_csv(project / SESSIONS_FILE, dtype=str, keep_default_na=False)
    assert table["fps"].tolist() == [""]
    report = run_project(project, scheduler="sync")
    failure = report.failures().iloc[0]
    assert failure["stage"] == "poses"
    assert "stores no frame rate" in failure["error"]
    assert "fill its fps column in sessions.csv" in failure["error"]
    assert "\n" not in failure["error"]
