"""`behaviorlab run`: resumable, only what changed re-runs, a broken session does not stop the others."""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from behaviorlab.behavior.classify import BehaviorClassifier
from behaviorlab.io.load import load_netcdf
from behaviorlab.project.config import CONFIG_FILE, SESSIONS_FILE, ProjectConfig, init_project
from behaviorlab.project.runner import run_project
from behaviorlab.results.store import ResultsStore

#: Small models: the point is the orchestration, not the quality of the fits.
SMALL = {
    "features": {"axis_from": "tail_base", "axis_to": "neck"},
    "spectrogram": {"n_frequencies": 8},
    "behavior_map": {"n_components": 10, "n_neighbors": 10, "grid_size": 60, "max_fit_frames": 1500},
    "ethogram": {"n_states": 4, "n_components": 8, "n_iter": 20},
    "syllables": {"n_states": 6, "n_iter": 10},
    "classifier": {"windows_s": [0.5], "stats": ["mean"], "max_iter": 30, "behaviors": ["walk", "rest", "groom"]},
    "statistics": {"bin_s": 5.0},
    "exports": {"formats": ["csv"]},
}
TABLES = ("bouts", "behavior_stats", "transitions", "movement", "classifier_frames")


def _write_inputs(folder: Path, n_sessions: int = 3, duration_s: float = 12.0) -> dict[str, list[Path]]:
    """Generated sessions: a pose file and a per-frame label CSV each (ground truth from the simulator)."""
    from behaviorlab.synthetic.sample import write_pose_sessions

    return write_pose_sessions(folder, {f"s{i}": 10 + i for i in range(n_sessions)}, duration_s=duration_s)


def _project(root: Path, inputs: dict[str, list[Path]], config: dict | None = None) -> Path:
    init_project(root, poses=inputs["poses"], annotations=inputs["annotations"], config={**SMALL, **(config or {})})
    return root


def _tables(project: Path) -> dict[str, pd.DataFrame]:
    store = ResultsStore(project / "results")
    return {name: store.table(name, ordered=True) for name in TABLES}


def _status(report) -> dict[tuple[str, str], str]:
    return {(r["stage"], r["session"]): r["status"] for r in report.table().to_dict(orient="records")}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return _write_inputs(tmp_path_factory.mktemp("inputs"))


@pytest.fixture(scope="module")
def finished(tmp_path_factory, inputs):
    """A project run once without interruption: (folder, report)."""
    project = _project(tmp_path_factory.mktemp("done") / "project", inputs)
    return project, run_project(project, scheduler="sync")


def test_a_run_fills_the_store_and_a_second_run_only_reads_the_cache(finished):
    project, report = finished
    assert report.ok, report.summary()
    assert report.completed_sessions() == ["s0", "s1", "s2"]
    store = ResultsStore(project / "results")
    sources = set(store.query("SELECT DISTINCT source FROM bouts")["source"])
    assert sources == {"labels", "behavior_prediction", "state", "syllable", "cluster"}
    assert (project / "models" / "map.pkl").is_file()
    assert (project / "models" / "classifier.pkl").is_file()
    assert len(list((project / "exports" / "csv").glob("*.csv"))) >= 10
    saved = json.loads((project / "run_report.json").read_text())
    assert saved["ok"]
    assert saved["completed_sessions"] == ["s0", "s1", "s2"]
    # every annotated session was predicted out of fold: the classifier's scores are held-out ones
    cv = report.result("classifier").info
    assert cv["cv"] == "sessions"
    assert set(cv["heldout_f1"]) == {"walk", "rest", "groom"}
    # the folds ran as tasks of their own, and pooled they are the classifier's own cross-validation
    folds = [r for r in report.results if r.stage == "classifier_fold"]
    assert [(r.session, r.ran, r.info["fold"]) for r in folds] == [(f"_project_fold{k:03d}", True, k) for k in range(3)]
    assert report.result("classifier_model").ran
    x = {s: load_netcdf(report.result("features", s).path) for s in ("s0", "s1", "s2")}
    y = {s: load_netcdf(report.result("annotations", s).path)["labels"] for s in ("s0", "s1", "s2")}
    config = ProjectConfig.load(project)
    direct = BehaviorClassifier(**config.estimator_params("classifier")).cross_validate(x, y)
    scores = pd.read_csv(Path(report.result("classifier").path) / "cv_scores.csv")
    pd.testing.assert_frame_equal(scores, direct.scores, check_dtype=False)

    before = _tables(project)
    again = run_project(project, scheduler="sync")
    statuses = set(_status(again).values())
    assert statuses <= {"cached", "none"}, again.table()
    for name, table in _tables(project).items():
        pd.testing.assert_frame_equal(table, before[name])


def test_the_classifier_stage_computes_the_folds_no_task_did(tmp_path, finished):
    """Fewer fold tasks than folds (a session lost, so the folds changed): the stage computes the rest itself."""
    from behaviorlab.project.fits import stage_classifier

    done, report = finished
    project = tmp_path / "project"
    shutil.copytree(done, project, ignore=shutil.ignore_patterns("cache"))
    features = [report.result("features", s) for s in ("s0", "s1", "s2")]
    notes = [report.result("annotations", s) for s in ("s0", "s1", "s2")]
    one_fold = [r for r in report.results if r.stage == "classifier_fold"][1:2]
    result = stage_classifier(ProjectConfig.load(project), features, notes, None, one_fold)
    assert result.ran, result
    expected = pd.read_csv(Path(report.result("classifier").path) / "cv_scores.csv")
    pd.testing.assert_frame_equal(pd.read_csv(Path(result.path) / "cv_scores.csv"), expected)
    assert (Path(result.path) / "classifier.pkl").is_file()


def test_an_interrupted_run_resumes_to_the_same_results(tmp_path, inputs, finished, monkeypatch):
    import behaviorlab.project.runner as runner

    project = _project(tmp_path / "project", inputs)
    real = runner.stage_ethogram

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt  # Ctrl-C while the ethogram is being fitted

    monkeypatch.setattr(runner, "stage_ethogram", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_project(project, scheduler="sync")
    monkeypatch.setattr(runner, "stage_ethogram", real)
    assert not list((project / "cache").rglob(".*.tmp*")), "an interrupted run left temporary files"

    resumed = run_project(project, scheduler="sync")
    assert resumed.ok, resumed.summary()
    status = _status(resumed)
    for session in ("s0", "s1", "s2"):  # what finished before Ctrl-C is not computed again
        assert status[("poses", session)] == status[("features", session)] == "cached"
        assert status[("store", session)] == "ran"
    assert status[("behavior_map", "_project")] == "cached"
    assert status[("ethogram", "_project")] == "ran"
    expected = _tables(finished[0])
    for name, table in _tables(project).items():
        pd.testing.assert_frame_equal(table, expected[name], check_like=True)


def test_a_changed_feature_parameter_reruns_features_and_what_follows_only(tmp_path, finished):
    project = tmp_path / "project"
    shutil.copytree(finished[0], project)
    config = yaml.safe_load((project / CONFIG_FILE).read_text())
    config["features"]["heading_velocity"] = False
    (project / CONFIG_FILE).write_text(yaml.safe_dump(config))

    report = run_project(project, scheduler="sync")
    assert report.ok, report.summary()
    status = _status(report)
    for session in ("s0", "s1", "s2"):
        # the AR-HMM models the cleaned poses, not the features: its syllables stay
        for stage in ("poses", "clean", "annotations", "syllable_labels"):
            assert status[(stage, session)] == "cached", (stage, session)
        for stage in ("features", "map_labels", "states", "behaviors", "store"):
            assert status[(stage, session)] == "ran", (stage, session)
    assert status[("syllables", "_project")] == "cached"
    for stage in ("behavior_map", "ethogram", "classifier_model", "classifier", "exports"):
        assert status[(stage, "_project")] == "ran", stage
    for k in range(3):
        assert status[("classifier_fold", f"_project_fold{k:03d}")] == "ran"
        assert len(list((project / "cache" / "classifier_fold" / f"_project_fold{k:03d}").glob("*.pkl"))) == 1

    features = load_netcdf(report.result("features", "s0").path)["features"]
    assert "heading_velocity" not in " ".join(map(str, features["feature"].values))
    # the replaced outputs are gone: one file per stage and session
    assert len(list((project / "cache" / "features" / "s0").glob("*.nc"))) == 1


def _short_video(path: Path, n_frames: int) -> Path:
    from behaviorlab.io.video_write import write_video

    frames = np.zeros((n_frames, 32, 32, 3), np.uint8)
    frames[:, 8:24, 8:24] = np.arange(n_frames, dtype=np.uint8)[:, None, None, None] * 5
    return write_video(path, frames, fps=30.0)


def test_broken_sessions_are_reported_and_the_others_finish(tmp_path, inputs, monkeypatch):
    from behaviorlab.io.load import load_poses
    from behaviorlab.io.save import save_poses
    from behaviorlab.project import stages as stages_module  # the stages write their outputs with save_netcdf

    data = tmp_path / "data"
    data.mkdir()
    good = load_poses(inputs["poses"][0])
    broken = {}
    # a corrupt video: random bytes with a video's name
    (data / "corrupt.mp4").write_bytes(np.random.default_rng(0).bytes(5000))
    broken["corrupt"] = {"video": data / "corrupt.mp4", "poses": inputs["poses"][0]}
    # a truncated video: the second half of the file is missing
    whole = _short_video(data / "whole.mp4", 90).read_bytes()
    (data / "truncated.mp4").write_bytes(whole[: len(whole) // 2])
    broken["truncated"] = {
        "video": data / "truncated.mp4",
        "poses": save_poses(good.isel(time=slice(0, 90)), data / "p90.nc"),
    }
    # a pose file with fewer frames than its video
    broken["short"] = {"video": _short_video(data / "v120.mp4", 120), "poses": data / "p90.nc"}
    # a keypoint that is never seen
    never = good.copy(deep=True)
    never["position"].loc[{"keypoint": "nose"}] = np.nan
    broken["nan_nose"] = {"poses": save_poses(never, data / "never.nc")}
    # a keypoint set that does not match the project's skeleton
    renamed = good.assign_coords(keypoint=[f"k{i}" for i in range(good.sizes["keypoint"])])
    renamed.attrs = {k: v for k, v in renamed.attrs.items() if k != "skeleton"}
    broken["renamed"] = {"poses": save_poses(renamed, data / "renamed.nc")}
    # a full disk while writing the features of one session
    broken["full_disk"] = {"poses": save_poses(good, data / "full_disk.nc")}

    project = _project(
        tmp_path / "project", inputs, {"poses": {"keypoints": [str(k) for k in good["keypoint"].values]}}
    )
    table = pd.read_csv(project / SESSIONS_FILE, dtype=str, keep_default_na=False)
    extra = pd.DataFrame(
        [{"session": name, "video": str(p.get("video", "")), "poses": str(p["poses"])} for name, p in broken.items()]
    )
    pd.concat([table, extra]).fillna("").to_csv(project / SESSIONS_FILE, index=False)

    real_save = stages_module.save_netcdf

    def disk_full(ds, path):
        if "/features/full_disk/" in str(path):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_save(ds, path)

    monkeypatch.setattr(stages_module, "save_netcdf", disk_full)
    report = run_project(project, scheduler="sync")
    assert not report.ok
    assert report.completed_sessions() == ["s0", "s1", "s2"]
    failures = report.failures().set_index("session")
    assert sorted(failures.index) == sorted(broken)
    assert failures.loc["corrupt", "stage"] == "poses"
    assert "corrupt.mp4" in failures.loc["corrupt", "error"]
    assert "truncated.mp4" in failures.loc["truncated", "error"]
    assert "90 frames of poses, fewer than the video's 120" in failures.loc["short", "error"]
    assert "NaN) in every frame" in failures.loc["nan_nose", "error"]
    assert "nose of mouse1" in failures.loc["nan_nose", "error"]
    assert "do not match the project's skeleton" in failures.loc["renamed", "error"]
    assert failures.loc["full_disk", "stage"] == "features"
    assert failures.loc["full_disk", "error"].startswith("no space left on the disk while writing")
    # the failed sessions' later stages are skipped, naming the stage that failed
    later = report.table().query("session == 'full_disk' and stage == 'store'")
    assert later["error"].item() == "skipped: features failed"
    assert ResultsStore(project / "results").sessions == ["s0", "s1", "s2"]
    saved = json.loads((project / "run_report.json").read_text())
    assert {f["session"] for f in saved["failures"]} == set(broken)
