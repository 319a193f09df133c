"""Only the owner can use the dashboard; its SQL box refuses hostile SQL; the Label page writes only in the project."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "dashboards"))
sys.path.insert(0, str(REPO / "tests"))
from _shared import PAGES  # noqa: E402
from hostile_sql import SECRET, file_digests, hostile_statements, outside_folder, small_store  # noqa: E402

from behaviorlab.project.dashboard_access import SECRET_ENV  # noqa: E402
from behaviorlab.results.safe_query import ALLOWED  # noqa: E402

#: Elements through which a page shows the project's data.
DATA_ELEMENTS = ("dataframe", "table", "plotly_chart", "imgs", "metric", "json", "selectbox", "download_button", "code")


def _texts(at) -> str:
    """Every text the app shows (headings, markdown, alerts, captions), joined."""
    parts = []
    for elements in (at.title, at.header, at.subheader, at.markdown, at.caption, at.info, at.warning, at.error):
        parts += [str(e.value) for e in elements]
    return "\n".join(parts + [str(e.value) for e in at.success])


def test_without_the_token_no_page_shows_anything_of_the_project(full_project, run_app):
    for file, _, _ in PAGES:
        page = file.removesuffix(".py")
        for token in (None, "not-the-token") if page != "overview" else (None, "not-the-token", ""):
            at = run_app(full_project, page, token=token)
            assert not at.exception, (page, token)
            assert [t.value for t in at.title] == ["behaviorlab"], (page, token)
            assert "only to its owner" in at.info[0].value
            shown = {kind: len(at.get(kind)) for kind in DATA_ELEMENTS if at.get(kind)}
            assert not shown, (page, token, shown)
            assert not at.sidebar.children, (page, token)
            assert str(full_project) not in _texts(at)
            assert ("not this dashboard's" in _texts(at)) == bool(token), (page, token)


def test_the_token_in_the_link_or_typed_opens_every_page(full_project, run_app):
    at = run_app(full_project, token=None)
    at.text_input(key="access_secret").input("wrong password")
    at.button[0].click().run()  # the form's Open button sends what was typed
    assert "not this dashboard's token or password" in at.error[0].value
    assert not at.dataframe
    at.text_input(key="access_secret").input(os.environ[SECRET_ENV])
    at.button[0].click().run()
    assert not at.exception
    assert at.title[0].value == "Overview"
    assert len(at.dataframe) > 0
    for file, title, _ in PAGES:  # the session stays open on every page
        at.switch_page(f"views/{file}").run()
        assert not at.exception, title
        assert at.title[0].value == title

    for file, title, _ in PAGES:  # and the link's token opens each page directly
        at = run_app(full_project, file.removesuffix(".py"))
        assert not at.exception, title
        assert at.title[0].value == title


def test_the_sql_box_refuses_hostile_sql_and_touches_no_file(tmp_path, run_app):
    store = small_store(tmp_path / "project" / "results")
    outside = outside_folder(tmp_path)
    before = file_digests(store.path), file_digests(outside)
    at = run_app(tmp_path / "project", "statistics")
    assert not at.exception
    statements = [s for s in hostile_statements(store.path, outside) if s.strip(" ;")]  # the box runs no blank text
    assert len(statements) >= 30
    for sql in statements:
        at.text_area(key="stats_sql").set_value(sql).run()
        assert not at.exception, sql
        errors = [e.value for e in at.error]
        assert len(errors) == 1, (sql, errors)
        assert ALLOWED in errors[0], (sql, errors)
        assert SECRET not in _texts(at)
        assert not [d for d in at.dataframe if d.key == "stats_sql_result"], sql
    assert (file_digests(store.path), file_digests(outside)) == before

    at.text_area(key="stats_sql").set_value('SELECT "group", count(*) AS n FROM time_budget GROUP BY ALL').run()
    assert not at.error
    assert sorted(at.dataframe[-1].value["group"]) == ["control", "treated"]


def test_the_label_page_writes_only_the_projects_labels_file(full_project, tmp_path, run_app):
    project = tmp_path / "project"
    shutil.copytree(full_project, project, ignore=shutil.ignore_patterns("cache", "labeled_videos", "exports"))
    labels = project / "labeled_frames.labels.h5"
    before = labels.read_bytes()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    shutil.copyfile(labels, outside / "other.labels.h5")
    (project / "linked").symlink_to(outside)  # a folder of the project that leads out of it
    linked = project / "linked" / "other.labels.h5"

    at = run_app(project, "label")
    assert not at.exception
    files = at.selectbox(key="label_file").options  # (a request can only pick one of these: Streamlit sends an index)
    assert len(files) == 2
    at.selectbox(key="label_file").select_index(1).run()
    assert not at.exception
    assert "leads outside the project" in at.error[0].value
    assert not at.button  # nothing to click: the page stops before its Set, Undo and Skip buttons

    at.selectbox(key="label_file").select_index(0).run()
    at.button(key="label_set").click().run()  # the project's own file: written
    assert not at.exception
    assert "Saved" in at.success[0].value
    assert labels.read_bytes() != before
    assert (outside / "other.labels.h5").read_bytes() == before  # the file outside was never written
    assert sorted(p.name for p in outside.iterdir()) == ["other.labels.h5"]
    assert linked.is_file()
