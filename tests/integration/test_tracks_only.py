"""A lab with DeepLabCut tracks and no deep-learning stack: the core install analyses them end to end (issue 20).

Each command runs in a fresh process where ``import tensorflow`` and ``import keras`` fail, as on a
``pip install behaviorlab`` without the ``pose`` extra.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.shared_data]

SESSIONS = ("12_01_A_190507144429", "8_01_A_190507134142")
SUFFIX = "DeepCut_resnet50_Blockcourse1May9shuffle1_1030000.csv"

#: Runs the command line with Keras and TensorFlow unimportable (None in sys.modules: import raises ImportError).
WITHOUT_POSE = """
import sys
for name in ("tensorflow", "keras"):
    sys.modules[name] = None
from behaviorlab.cli.app import main
sys.argv = ["behaviorlab", *sys.argv[1:]]
try:
    main()
finally:
    loaded = [m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras") and sys.modules[m] is not None]
    assert not loaded, loaded
"""


def _run(tmp_path: Path, *args: object) -> subprocess.CompletedProcess:
    script = tmp_path / "without_pose.py"
    if not script.is_file():
        script.write_text(WITHOUT_POSE)
    return subprocess.run(
        [sys.executable, str(script), *map(str, args)], capture_output=True, text=True, cwd=tmp_path, timeout=600
    )


def test_features_map_classifier_store_and_query_run_without_tensorflow(shared_data, tmp_path):
    folder = shared_data / "oft-rearing"
    features = []
    for s in SESSIONS:
        out = tmp_path / f"{s}.nc"
        result = _run(tmp_path, "features", folder / f"{s}{SUFFIX}", "--fps", 25, "--out", out)
        assert result.returncode == 0, result.stderr
        assert "static keypoints (arena landmarks, not body parts): tl, tr, bl, br, centre" in result.stdout
        features.append(out)
    (tmp_path / "map.yaml").write_text("max_fit_frames: 1000\n")
    result = _run(tmp_path, "map", "fit", *features, "--out", tmp_path / "map.pkl", "--config", tmp_path / "map.yaml")
    assert result.returncode == 0, result.stderr
    assert "regions from" in result.stdout
    (tmp_path / "clf.yaml").write_text("windows_s: [0.5]\nstats: [mean]\nmax_iter: 30\n")
    args = ["classify", "train", "--out", tmp_path / "clf.pkl", "--behaviors", "Supported", "--min-raters", "2"]
    for s, f in zip(SESSIONS, features, strict=True):
        args += ["--features", f, "--labels", folder / f"{s}.csv"]
    result = _run(tmp_path, *args, "--clip", "--config", tmp_path / "clf.yaml")  # labels run past the 80 s of tracks
    assert result.returncode == 0, result.stderr
    held_out = result.stdout.split("held-out frames:")[1]
    assert "Supported" in held_out
    result = _run(tmp_path, "classify", "predict", tmp_path / "clf.pkl", *features, "--out-dir", tmp_path / "pred")
    assert result.returncode == 0, result.stderr
    assert _run(tmp_path, "store", "create", tmp_path / "store").returncode == 0
    files = [p for s, f in zip(SESSIONS, features, strict=True) for p in (f, tmp_path / "pred" / f"{s}.behavior.nc")]
    result = _run(tmp_path, "store", "add", tmp_path / "store", *files)
    assert result.returncode == 0, result.stderr
    sql = "SELECT session, behavior, time_budget_pct FROM time_budget ORDER BY session"
    result = _run(tmp_path, "query", tmp_path / "store", sql, "--csv", tmp_path / "budget.csv")
    assert result.returncode == 0, result.stderr
    budget = pd.read_csv(tmp_path / "budget.csv", dtype={"session": str})
    assert sorted(budget["session"]) == sorted(SESSIONS)
    assert budget["time_budget_pct"].between(0, 100).all()


def test_a_pose_command_without_the_pose_extra_says_which_extra_to_install(tmp_path):
    result = _run(tmp_path, "train", tmp_path / "frames.h5", "--out", tmp_path / "model")
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [
        "error: this needs behaviorlab's 'pose' extra (keras is not installed): "
        'pip install "behaviorlab[pose]" (or "behaviorlab[all]")'
    ]
