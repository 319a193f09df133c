"""What every dashboard page shares: the project path, cached loaders, and messages for missing parts.

Pages stay thin: they call these loaders (cached by Streamlit, keyed by the
project path and a stamp of its catalog so a re-run session shows up) and
library functions that return figures and tables.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import streamlit as st

#: (file in views/, title, url path) of every page, in menu order.
PAGES: list[tuple[str, str, str]] = [
    ("overview.py", "Overview", "overview"),
    ("poses.py", "Poses", "poses"),
    ("label.py", "Label", "label"),
    ("training.py", "Training", "training"),
    ("behavior_map.py", "Behavior map", "behavior_map"),
    ("ethogram.py", "Ethogram", "ethogram"),
    ("classifiers.py", "Classifiers", "classifiers"),
    ("statistics.py", "Statistics", "statistics"),
]

ENV_VAR = "BEHAVIORLAB_PROJECT"

#: Imported in the background when the server starts (see :func:`warm_up`): the pages' heavy libraries.
WARM_IMPORTS = (
    "plotly.graph_objects",
    "sklearn.base",
    "skimage.segmentation",
    "duckdb",
    "behaviorlab.results.plots",
    "behaviorlab.results.scoring",
    "behaviorlab.behavior.maps",
    "behaviorlab.behavior.ethogram",
)


@st.cache_resource(show_spinner=False)
def warm_up() -> Any:
    """Import the pages' heavy libraries in a background thread, once per server (about 2 s of work).

    The first visit of a page otherwise pays for them (scikit-learn, scikit-image and the behavior
    map's code cost 1.5 s before the Behavior map page can draw anything); while a person reads the
    first page, they are already there.
    """
    import importlib
    import threading

    def run() -> None:
        for name in WARM_IMPORTS:
            try:
                importlib.import_module(name)
            except Exception:  # a page that needs it reports the error
                return

    thread = threading.Thread(target=run, name="behaviorlab-warm-up", daemon=True)
    thread.start()
    return thread


def project_path() -> Path:
    """Return the project folder: $BEHAVIORLAB_PROJECT (set by ``behaviorlab dashboard``), else ``-- PROJECT``.

    ``streamlit run dashboards/app.py -- PROJECT`` passes the folder as the
    script's argument; the environment variable wins so that a test runner's
    own arguments are never taken for a project.
    """
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).resolve()
    args = [a for a in sys.argv[1:] if not a.startswith("-")]
    if args and Path(args[-1]).is_dir():
        return Path(args[-1]).resolve()
    return Path.cwd()


def _stamp(path: Path) -> float:
    """Changes whenever the store's catalog changes (a session added or re-run, metadata set)."""
    from behaviorlab.results.catalog import CATALOG
    from behaviorlab.results.store import MANIFEST

    for folder in (path, path / "results"):
        if (folder / MANIFEST).is_file():
            files = [folder / MANIFEST, folder / CATALOG]
            return max(f.stat().st_mtime_ns for f in files if f.is_file()) / 1e9
    return 0.0


@st.cache_resource(show_spinner=False)
def _project(path: str, stamp: float) -> Any:
    from behaviorlab.project.view import Project

    return Project.open(path)


def project() -> Any:
    """The :class:`behaviorlab.project.view.Project` of the dashboard (cached until the store changes)."""
    path = project_path()
    return _project(str(path), _stamp(path))


@st.cache_data(show_spinner=False, max_entries=16)
def session_dataset(path: str, stamp: float, session: str, variables: tuple[str, ...] | None = None) -> Any:
    """A session's stored Dataset (cached), or only ``variables`` of it."""
    return _project(path, stamp).dataset(session, None if variables is None else list(variables))


def dataset(session: str, variables: tuple[str, ...] | None = None) -> Any:
    """The stored Dataset of ``session`` of the dashboard's project (only ``variables`` of it, when given)."""
    path = project_path()
    return session_dataset(str(path), _stamp(path), session, variables)


def project_key() -> tuple[str, float]:
    """``(project folder, store stamp)``: the key of a page's own cached loaders."""
    path = project_path()
    return str(path), _stamp(path)


def cached_project(path: str, stamp: float) -> Any:
    """The :class:`behaviorlab.project.view.Project` of ``project_key()`` (for a page's own cached loaders)."""
    return _project(path, stamp)


@st.cache_data(show_spinner=False, max_entries=4)
def _views(path: str, stamp: float) -> list[str]:
    proj = _project(path, stamp)
    return [] if proj.store is None else proj.store.views()


def views() -> list[str]:
    """The store's tables and views (cached until the store changes; none without a store)."""
    path = project_path()
    return _views(str(path), _stamp(path))


@st.cache_data(show_spinner=False, max_entries=4)
def _overview(path: str, stamp: float) -> Any:
    return _project(path, stamp).overview()


def overview() -> Any:
    """:meth:`behaviorlab.project.view.Project.overview` of the dashboard's project (cached until the store changes)."""
    path = project_path()
    return _overview(str(path), _stamp(path))


@st.cache_data(show_spinner=False, max_entries=32)
def store_table(path: str, stamp: float, name: str) -> Any:
    """One table of the project's store, all sessions (cached)."""
    return _project(path, stamp).store.table(name)


def table(name: str) -> Any:
    """A table of the dashboard project's store."""
    path = project_path()
    return store_table(str(path), _stamp(path), name)


def need_store() -> Any:
    """The project, after stopping the page with a clear message when it has no results store or no sessions."""
    proj = project()
    if proj.store is None:
        st.info(
            f"No results store in `{proj.root}` yet. Run `behaviorlab demo --out DIR` for an example project, or "
            "create one with `behaviorlab store create` and add sessions with `behaviorlab store add`."
        )
        st.stop()
    if not proj.sessions:
        st.info(f"The results store in `{proj.store.path}` has no sessions yet: add some with `behaviorlab store add`.")
        st.stop()
    return proj


def pick_session(key: str = "session", need: str | None = None) -> str:
    """A session chosen in the sidebar (only sessions with ``need`` — a label source or 'video' — when given)."""
    table = overview()
    names = table["session"].tolist() if need is None else table.loc[table[need], "session"].tolist()
    if not names:
        st.info(f"No session has {need} results yet.")
        st.stop()
    return st.sidebar.selectbox("Session", names, key=key)
