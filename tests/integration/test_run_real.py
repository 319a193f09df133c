"""`behaviorlab init` + `behaviorlab run` on other labs' real files, as the README tells a user to."""

from __future__ import annotations

import pandas as pd
import pytest

from behaviorlab.runconfig import SESSIONS_FILE, init_project
from behaviorlab.runner import run_project

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
    summary = report.summary()
    assert "static keypoints, kept as arena landmarks" in summary
    assert "classifier held-out F1" in summary
