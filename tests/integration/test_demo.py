"""`behaviorlab demo` end to end on the committed sample data."""

from __future__ import annotations

import json

import pytest


def test_demo_runs_every_stage_and_writes_outputs(demo_run, sample_data):
    out, result = demo_run
    assert result.exit_code == 0, result.output
    assert f"behaviorlab dashboard {out}" in result.output  # ends with the command that opens the dashboard on it
    summary = json.loads((out / "demo_summary.json").read_text())
    assert set(summary["sessions"]) == {"session_a", "session_b"}
    assert summary["convert"]["session_b"]["individuals"] == ["mouse1", "mouse2"]
    for session in ("session_a", "session_b"):
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
    assert table["session_b"]["poses"].endswith("session_b_dlc.csv")  # tracked by another tool
    assert "round trips ok" in result.output
    run = summary["run"]  # `behaviorlab run` on a local Dask cluster
    assert run["completed_sessions"] == ["session_a", "session_b"]
    report = json.loads((out / "run_report.json").read_text())
    assert report["ok"]
    assert report["failures"] == []
    checks = summary["checks"]
    pose = checks["pose_model"]
    assert pose["training_frames"] == 61  # the frames with one labeled animal
    assert pose["validation"]["n"] > 0
    assert pose["validation"]["mean"] < 15.0  # px on 256x256 frames; 4.95 px measured, random guessing ~100 px
    assert (out / "models" / "pose_model" / "model.keras").is_file()
    predicted = checks["predict"]["session_a"]
    assert predicted["frames"] == 1800
    assert predicted["error_px_mean"] < 10.0  # against the true poses of the whole video; 5.1 px measured
    assert set(checks["predict"]) == {"session_a"}  # session_b's two animals come tracked
    for session in ("session_a", "session_b"):
        assert (out / "labeled_videos" / f"{session}.mp4").stat().st_size > 10_000
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
    assert bm["nmi_vs_generated_behaviors"] > 0.25  # 0.35 measured on these 3 minutes; chance ~0.02
    assert eth["n_states"] >= 3
    assert eth["nmi_vs_generated_behaviors"] > 0.2  # 0.39 measured (7 states)
    for name in ("map.pkl", "hmm.pkl", "classifier.pkl"):
        assert (out / "models" / name).is_file()
    f1 = checks["classify"]["heldout_f1"]
    assert set(f1) == {"rest", "walk", "run", "groom", "rear", "turn"}
    assert max(f1.values()) > 0.4  # 0.79 (run) measured; a base rate of 5-30 % gives chance F1 below 0.35
    _check_results_stage(summary, out, sample_data)


def _check_results_stage(summary, out, sample_data):
    import pandas as pd

    from behaviorlab.store import ResultsStore

    res = summary["results"]
    store = ResultsStore(out / "results")
    assert store.sessions == ["session_a", "session_b"] == sorted(res["rows"])
    sources = set(store.query("SELECT DISTINCT source FROM bouts")["source"])
    assert sources == {"labels", "behavior_prediction", "state", "cluster"}
    # every region and state has its rows in every session, visited or not
    counts = store.query(
        "SELECT source, count(DISTINCT behavior) AS n FROM behavior_stats GROUP BY source, session ORDER BY source"
    )
    n_expected = {
        "cluster": summary["checks"]["behavior_map"]["n_regions"],
        "state": summary["checks"]["ethogram"]["n_states"],
    }
    for source, n in n_expected.items():
        assert counts.loc[counts["source"] == source, "n"].tolist() == [n, n]
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
    assert all(r["groups"] == "control vs treated" and r["n"] == 3 for r in budgets)
    assert all(d["distance"] > 100 for d in res["distance_cm"])  # cm in one minute
    # the classifier's held-out decisions against the annotations, counted per session in the store
    counts = store.classifier_counts()
    assert set(counts["classifier_frames"]["session"]) == {"session_a", "session_b"}
    assert counts["classifier_frames"]["with_probability"].all()
    table = counts["classifier_frames"].assign(frames=lambda t: t[["tp", "fp", "fn", "tn"]].sum(axis=1))
    assert (table.groupby("session")["frames"].nunique() == 1).all()  # each behavior counts every frame
    # 11 result tables and 3 classifier count tables (classifier_raters is empty: one rater)
    assert res["exports"] == {"csv": 14, "excel": 1, "nwb": 2, "boris": 8, "simba": 8}
    assert (out / "exports" / "nwb" / "session_b.nwb").is_file()
