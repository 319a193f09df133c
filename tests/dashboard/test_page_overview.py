"""The Overview page and the app shell on a full, an empty and a store-without-sessions project."""

from __future__ import annotations


def test_overview_lists_sessions_metadata_and_stages(full_project, run_app):
    at = run_app(full_project)
    assert not at.exception
    assert at.title[0].value == "Overview"
    table = at.dataframe[0].value
    sessions = ["session_a", "session_b", "session_c", "session_d", "session_e", "session_f"]
    assert table["session"].tolist() == sessions
    assert table.loc[table["session"] == "session_b", "group"].item() == "treated, control"
    assert table[["behavior_prediction", "state", "cluster"]].all().all()
    assert table.set_index("session")["video"].tolist() == [True, True, False, False, False, False]  # c-f: tracked
    assert table.set_index("session")["labels"].tolist() == [False, True, True, True, True, True]  # a: not annotated
    assert at.metric[0].value == "6"
    parts = at.dataframe[1].value.set_index("part")["files"]
    assert parts["pose models"].endswith("pose_model")
    assert parts["behavior map"].endswith("map.pkl")


def test_overview_of_an_empty_folder_says_what_to_do(empty_project, run_app):
    at = run_app(empty_project)
    assert not at.exception
    assert "no results store" in at.info[0].value


def test_overview_of_a_store_without_sessions(store_without_sessions, run_app):
    at = run_app(store_without_sessions)
    assert not at.exception
    assert "no sessions yet" in at.info[0].value
