"""The Statistics page: group comparisons, the SQL box and the download buttons, on full and partial projects."""

from __future__ import annotations

import numpy as np
import xarray as xr

PAGE = "statistics"


def _comparison(at):
    return at.dataframe[0].value


def test_statistics_compares_groups_and_runs_the_default_query(full_project, run_app):
    at = run_app(full_project, PAGE)
    assert not at.exception
    assert at.title[0].value == "Statistics"
    result = _comparison(at)
    assert {"source", "behavior", "measure", "p_value", "p_adjusted", "effect_size"} <= set(result.columns)
    assert set(result["measure"]) == {"time_budget_pct", "bout_count", "mean_bout_s", "latency_s", "bouts_per_min"}
    assert result["source"].unique().tolist() == ["labels"]  # one source at a time; the annotations first
    assert at.get("plotly_chart")  # the group figure
    answer = at.dataframe[1].value  # the SQL box's default query: time budget by group
    assert {"group", "source", "behavior", "animals", "mean_time_budget_pct"} <= set(answer.columns)
    assert set(answer["group"]) == {"control", "treated"}
    assert len(at.get("download_button")) == 5  # the query result, CSV, Excel, Parquet, NWB

    # the classifier's labels carry their held-out F1 (every behavior of the demo is above the 0.5 floor)
    at.selectbox(key="stats_source").set_value("behavior_prediction").run()
    assert not at.exception
    result = _comparison(at)
    assert result["classifier_f1"].between(0.8, 1.0).all()
    assert not result["below_quality_floor"].any()
    assert any("Held-out F1 of the classifiers: groom" in c.value for c in at.caption)
    assert not at.warning

    at.selectbox(key="stats_table").set_value("movement").run()
    assert not at.exception
    assert set(_comparison(at)["measure"]) == {"distance", "mean_speed"}


def test_the_sql_box_shows_a_table_or_the_error(full_project, run_app):
    at = run_app(full_project, PAGE)
    at.text_area(key="stats_sql").set_value("SELECT session, n_frames FROM sessions ORDER BY session").run()
    assert not at.exception
    answer = at.dataframe[1].value
    assert answer.columns.tolist() == ["session", "n_frames"]
    assert len(answer) == 6
    assert not at.error

    at.text_area(key="stats_sql").set_value("SELECT nonsense FROM nowhere").run()
    assert not at.exception
    assert "the query failed" in at.error[0].value
    assert "nowhere" in at.error[0].value


def test_statistics_of_an_empty_folder_and_an_empty_store(empty_project, store_without_sessions, run_app):
    at = run_app(empty_project, PAGE)
    assert not at.exception
    assert "No results store" in at.info[0].value
    at = run_app(store_without_sessions, PAGE)
    assert not at.exception
    assert "no sessions yet" in at.info[0].value


def test_a_store_without_metadata_says_how_to_add_it(tmp_path, run_app):
    from behaviorlab.results.store import ResultsStore

    n = 90
    rng = np.random.default_rng(0)
    ds = xr.Dataset(
        {
            "position": (("time", "space", "keypoint", "individual"), rng.normal(size=(n, 2, 2, 1)).cumsum(axis=0)),
            "confidence": (("time", "keypoint", "individual"), np.ones((n, 2, 1))),
            "state": (("time", "individual"), np.repeat([[0], [1], [2]], n // 3, axis=0), {"n_states": 3}),
        },
        coords={"time": np.arange(n) / 30.0, "space": ["x", "y"], "keypoint": ["nose", "tail"], "individual": ["m"]},
        attrs={"fps": 30.0, "source_software": "test"},
    )
    store = ResultsStore.create(tmp_path / "project" / "results")
    store.add_session("s1", ds)
    at = run_app(tmp_path / "project", PAGE)
    assert not at.exception
    assert "behaviorlab store metadata" in at.info[0].value
    assert not at.get("plotly_chart")
    answer = at.dataframe[0].value  # the SQL box still works, without groups
    assert {"source", "behavior", "animals"} <= set(answer.columns)
    assert "group" not in answer.columns


def test_classifier_statistics_below_the_quality_floor_are_flagged(full_project, tmp_path, run_app):
    import shutil

    import yaml

    project = tmp_path / "project"
    shutil.copytree(full_project / "results", project / "results")
    config = yaml.safe_load((full_project / "behaviorlab.yaml").read_text())
    config["classifier"]["quality_floor"] = 0.97  # above most of the demo's held-out F1s (0.86-0.98)
    (project / "behaviorlab.yaml").write_text(yaml.safe_dump(config))
    at = run_app(project, PAGE)
    at.selectbox(key="stats_source").set_value("behavior_prediction").run()
    assert not at.exception
    warning = at.warning[0].value
    assert "Below the quality floor (0.97)" in warning
    assert "turn" in warning.split("Below the quality floor")[1]
    result = _comparison(at)
    flagged = result.groupby("behavior")["below_quality_floor"].first()
    f1 = result.groupby("behavior")["classifier_f1"].first()
    assert (flagged == (f1 < 0.97)).all()
    assert flagged.any()
