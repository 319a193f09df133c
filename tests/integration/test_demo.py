"""`behaviorlab demo` end to end on the committed sample data."""

from __future__ import annotations

import json

import pandas as pd
import pytest

SESSIONS = ("session_a", "session_b", "session_c", "session_d", "session_e", "session_f")


def test_demo_runs_every_stage_and_writes_outputs(demo_run, sample_data):
    out, result = demo_run
    assert result.exit_code == 0, result.output
    assert f"behaviorlab dashboard {out}" in result.output  # ends with the command that opens the dashboard on it
    summary = json.loads((out / "demo_summary.json").read_text())
    assert set(summary["sessions"]) == set(SESSIONS)
    assert summary["convert"]["session_b"]["individuals"] == ["mouse1", "mouse2"]
    for session in SESSIONS:
        for suffix in (".nc", ".csv", ".h5", ".slp", ".nwb"):
            assert (out / "poses" / f"{session}{suffix}").is_file()
            assert summary["convert"][session]["round_trips"][suffix]["max_abs_diff_px"] < 1e-3
    project = summary["project"]
    assert project["labeled_frames"]["labeled"] > 0
    assert (out / "labeled_frames.labels.h5").is_file()
    assert (out / "behaviorlab.yaml").is_file()
    assert (out / "sessions.csv").is_file()
    table = {row["session"]: row for row in project["sessions_table"]}
    assert table["session_a"]["poses"] == ""
    assert table["session_a"]["individual"] == "mouse1"
    assert table["session_a"]["annotations"] == ""  # new video: the classifiers label it
    for session in SESSIONS[1:]:  # tracked by another tool (named as DeepLabCut names its files), and annotated
        assert table[session]["poses"].endswith(f"{session}DLC_resnet50_demoDec6shuffle1_100000.csv")
        assert table[session]["annotations"].endswith(f"{session}_boris.csv")
        assert float(table[session]["fps"]) == 30.0
    assert "round trips ok" in result.output
    run = summary["run"]  # `behaviorlab run` on a local Dask cluster
    assert run["completed_sessions"] == list(SESSIONS)
    report = json.loads((out / "run_report.json").read_text())
    assert report["ok"]
    assert report["failures"] == []
    checks = summary["checks"]
    pose = checks["pose_model"]
    assert pose["training_frames"] == 61  # the frames with one labeled animal
    assert pose["validation"]["n"] > 0
    assert pose["validation"]["mean"] < 15.0  # px on 256x256 frames; 3.73 px measured (4.95 on whole frames)
    assert pose["path"] == "crop"  # one small animal per frame: a centroid model and a box at full resolution
    assert (out / "models" / "pose_model" / "topdown_config.json").is_file()
    predicted = checks["predict"]["session_a"]
    assert predicted["frames"] == 1800
    assert predicted["error_px_mean"] < 10.0  # against the true poses of the whole video; 3.97 px measured (5.1 before)
    # calibrated: most keypoints are within 8 px, and the confidence says so (0.96 measured; the raw peaks: 0.2-0.5)
    assert predicted["mean_confidence"] > 0.6
    assert set(checks["predict"]) == {"session_a"}  # session_b's two animals come tracked
    for session in ("session_a", "session_b"):  # the sessions with video
        assert (out / "labeled_videos" / f"{session}.mp4").stat().st_size > 10_000
    assert not (out / "labeled_videos" / "session_c.mp4").exists()
    for info in checks["features"].values():
        before, after = info["mean_abs_error_px_before_cleaning"], info["mean_abs_error_px_after_cleaning"]
        if info["input"].startswith("poses predicted"):  # model bias, not jitter: cleaning must not make it worse
            assert after <= before + 0.05
            assert info["share_missing_after_cleaning"] < 0.05
        else:
            assert after < before
        assert info["n_frequencies"] == 25
    bm, eth = checks["behavior_map"], checks["ethogram"]
    assert bm["n_regions"] >= 3
    assert bm["nmi_vs_generated_behaviors"] > 0.3  # 0.40 measured on these 7 animal-minutes; chance ~0.02
    assert eth["n_states"] >= 3
    assert eth["nmi_vs_generated_behaviors"] > 0.3  # 0.47 measured (8 states)
    syl = checks["syllables"]
    assert syl["n_syllables"] >= 3
    assert syl["nmi_vs_generated_behaviors"] > 0.3
    assert syl["short_syllable_share"] < 0.05  # the sticky prior: jitter does not cut syllables into single frames
    for name in ("map.pkl", "hmm.pkl", "arhmm.pkl", "classifier.pkl"):
        assert (out / "models" / name).is_file()
    f1 = checks["classify"]["heldout_f1"]
    assert set(f1) == {"rest", "walk", "run", "groom", "rear", "turn"}
    # leave-one-session-out over the 5 annotated sessions: 0.86 (turn) to 0.98 (groom) measured
    assert min(f1.values()) >= 0.8, f1
    assert checks["classify"]["annotated_sessions"] == list(SESSIONS[1:])
    assert set(checks["classify"]["applied_f1_vs_truth"]) == {"session_a"}  # reported, whatever it is
    _check_results_stage(summary, out, sample_data)


def _check_results_stage(summary, out, sample_data):
    from behaviorlab.results.store import ResultsStore

    res = summary["results"]
    store = ResultsStore(out / "results")
    assert store.sessions == list(SESSIONS) == sorted(res["rows"])
    sources = set(store.query("SELECT DISTINCT source FROM bouts")["source"])
    assert sources == {"labels", "behavior_prediction", "state", "syllable", "cluster"}
    # every region and state has its rows in every session, visited or not
    counts = store.query(
        "SELECT source, count(DISTINCT behavior) AS n FROM behavior_stats GROUP BY source, session ORDER BY source"
    )
    n_expected = {
        "cluster": summary["checks"]["behavior_map"]["n_regions"],
        "state": summary["checks"]["ethogram"]["n_states"],
        "syllable": summary["checks"]["syllables"]["n_syllables"],
    }
    for source, n in n_expected.items():
        assert counts.loc[counts["source"] == source, "n"].tolist() == [n] * len(SESSIONS)
    # the annotated time budget equals the generated behaviors' share of frames
    truth = pd.read_csv(sample_data / "session_b_labels.csv")
    share = (truth[truth["individual"] == "mouse2"]["behavior"] == "walk").mean() * 100
    got = store.query(
        "SELECT time_budget_pct FROM time_budget WHERE session = 'session_b' AND individual = 'mouse2' "
        "AND source = 'labels' AND behavior = 'walk'"
    )["time_budget_pct"].item()
    assert got == pytest.approx(share)
    groups = store.query(
        "SELECT DISTINCT individual, \"group\" FROM time_budget WHERE session = 'session_b' ORDER BY 1"
    )
    assert groups["group"].tolist() == ["treated", "control"]
    comparison = res["group_comparison_classifier"]
    assert {r["behavior"] for r in comparison} == {"rest", "walk", "run", "groom", "rear", "turn"}
    budgets = [r for r in comparison if r["measure"] == "time_budget_pct"]
    assert len(budgets) == 6
    assert all(r["groups"] == "control vs treated" and r["n"] == 7 for r in budgets)
    assert all(d["distance"] > 100 for d in res["distance_cm"])  # cm in one minute
    # the classifier's held-out decisions against the annotations, counted per session in the store
    counts = store.classifier_counts()
    assert set(counts["classifier_frames"]["session"]) == set(SESSIONS[1:])  # the annotated sessions
    assert counts["classifier_frames"]["with_probability"].all()
    table = counts["classifier_frames"].assign(frames=lambda t: t[["tp", "fp", "fn", "tn"]].sum(axis=1))
    assert (table.groupby("session")["frames"].nunique() == 1).all()  # each behavior counts every frame
    # 11 result tables and 3 classifier count tables (classifier_raters is empty: one rater)
    assert res["exports"] == {"csv": 14, "excel": 1, "nwb": 6, "boris": 29, "simba": 29}  # + AR-HMM syllables
    assert (out / "exports" / "nwb" / "session_b.nwb").is_file()


@pytest.mark.slow
def test_a_second_demo_from_scratch_is_identical_and_quiet(demo_run, sample_data, tmp_path):
    """The same inputs, config and seeds give the same results: a fresh run, as a user starts it, equals the first.

    It runs the console script in a new process (pose training, the Dask cluster and every fit again), so it also
    shows what a user's terminal shows: no TensorFlow C++ log line, no Dask nanny warning.
    """
    import re
    import subprocess
    import sys
    from pathlib import Path

    from behaviorlab.environment import NATIVE_LOG_LINE
    from behaviorlab.results.store import ResultsStore

    first, result = demo_run
    assert result.exit_code == 0, result.output
    second = tmp_path / "again"
    script = Path(sys.executable).with_name("behaviorlab")
    cli = [str(script)] if script.is_file() else [sys.executable, "-c", "from behaviorlab.cli.app import main; main()"]
    done = subprocess.run(
        [*cli, "demo", "--out", str(second), "--sample", str(sample_data)], capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stdout + done.stderr
    output = done.stdout + done.stderr
    noise = [line for line in output.splitlines() if NATIVE_LOG_LINE.match(line.encode())]
    assert noise == [], noise[:3]
    assert "Worker process still alive" not in output
    assert "Traceback" not in output

    def summary(out):
        text = (out / "demo_summary.json").read_text().replace(str(out), "<out>")
        data = json.loads(text)
        return {k: data[k] for k in ("sessions", "convert", "project", "checks", "results")}

    a, b = summary(first), summary(second)
    for key in a:
        assert a[key] == b[key], key
    one, two = ResultsStore(first / "results"), ResultsStore(second / "results")
    assert one.views() == two.views()
    for name in one.views():
        x, y = one.table(name, ordered=True), two.table(name, ordered=True)
        if name == "sessions":  # when each was written
            x, y = x.drop(columns=["version", "written_at"]), y.drop(columns=["version", "written_at"])
        pd.testing.assert_frame_equal(x, y, obj=name)
    assert re.search(r"held-out F1: rest 0\.\d\d", done.stdout)
