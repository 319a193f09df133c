"""The behaviorlab dashboard: ``behaviorlab dashboard PROJECT`` (or ``streamlit run dashboards/app.py -- PROJECT``).

Pages live in ``views/`` (not ``pages/``, which Streamlit would also list as pages
of its own); each reads the project through the cached loaders of ``_shared.py``
and draws what library functions return.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # `_shared` for the pages, however Streamlit was started

import streamlit as st
from _access import require_access
from _shared import PAGES, project_path, warm_up

st.set_page_config(page_title="behaviorlab", layout="wide")
require_access()  # nothing of the project before the run's token or password
pages = [st.Page(f"views/{file}", title=title, url_path=url, default=url == "overview") for file, title, url in PAGES]
navigation = st.navigation(pages)
st.sidebar.caption(f"project: `{project_path()}`")
try:
    navigation.run()
finally:
    warm_up()  # after the first page is drawn, so that it does not wait for the imports
