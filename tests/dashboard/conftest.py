"""Fixtures of the dashboard tests: a small generated project and an empty one, and AppTest helpers."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "dashboards" / "app.py"


@pytest.fixture(scope="session")
def full_project(demo_run) -> Path:
    """The project ``behaviorlab demo`` built (store with videos linked, pose model, map, HMM, classifier, labels file).

    Session-scoped and shared with the demo test: a test that writes into it must copy it first.
    """
    out, result = demo_run
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def empty_project(tmp_path) -> Path:
    """A folder without a results store."""
    folder = tmp_path / "empty_project"
    folder.mkdir()
    return folder


@pytest.fixture
def store_without_sessions(tmp_path) -> Path:
    """A project whose results store has no sessions yet."""
    from behaviorlab.results.store import ResultsStore

    ResultsStore.create(tmp_path / "project" / "results")
    return tmp_path / "project"


#: The dashboard's secret in the AppTest tests (``behaviorlab dashboard`` makes a new one for each run).
TOKEN = "test-token-0123456789"


@pytest.fixture
def run_app(monkeypatch):
    """``run_app(project, page=None, token=TOKEN)``: the dashboard on ``project`` (AppTest), on ``views/<page>.py``.

    The link's token is ``token`` (None: no token in the link); the server's is :data:`TOKEN`.
    """

    def run(project: Path, page: str | None = None, token: str | None = TOKEN):
        from streamlit.testing.v1 import AppTest

        from behaviorlab.project.dashboard_access import SECRET_ENV

        monkeypatch.setenv("BEHAVIORLAB_PROJECT", str(project))
        monkeypatch.setenv(SECRET_ENV, TOKEN)
        at = AppTest.from_file(str(APP), default_timeout=120)
        if token is not None:
            at.query_params["token"] = token
        at.run()
        if page is not None:
            at.switch_page(f"views/{page}.py")
            at.run()
        return at

    return run
