"""The dashboard's door: no page shows anything of the project before the run's token or password is given.

``behaviorlab dashboard`` hands the secret to this server in
``$BEHAVIORLAB_DASHBOARD_SECRET`` (see :mod:`behaviorlab.project.dashboard_access`);
a server started otherwise (``streamlit run dashboards/app.py``) makes a
token of its own and prints the link on its terminal.  A browser session
that gave the secret once (``?token=`` in the link, or typed) keeps it.
"""

from __future__ import annotations

import os
import sys
import time

import streamlit as st

from behaviorlab.project.dashboard_access import SECRET_ENV, TOKEN_PARAM, dashboard_url, new_token, secret_matches

_GRANTED = "_behaviorlab_access"  # session state: how this session got in ("token" or "password")


@st.cache_resource(show_spinner=False)
def _server_token() -> str:
    """A token for a server started without ``behaviorlab dashboard``, printed once on its terminal."""
    token = new_token()
    url = dashboard_url(str(st.get_option("server.address") or "localhost"), int(st.get_option("server.port")), token)
    print(f"behaviorlab dashboard: open {url}", file=sys.stderr, flush=True)
    return token


def _secret() -> str:
    return os.environ.get(SECRET_ENV) or _server_token()


def require_access() -> None:
    """Return when this session may see the project; else show the door and stop the script."""
    secret = _secret()
    given = st.query_params.get(TOKEN_PARAM) or None
    if st.session_state.get(_GRANTED):
        if st.session_state[_GRANTED] == "token" and given is None:
            st.query_params[TOKEN_PARAM] = secret  # the link keeps working when the page is reloaded
        return
    if secret_matches(given, secret):
        st.session_state[_GRANTED] = "token"
        return
    st.title("behaviorlab")
    st.info(
        "This dashboard shows its project only to its owner: open the link that `behaviorlab dashboard` printed "
        "(it ends in `?token=...`), or type the token or the password its owner set."
    )
    with st.form("access_form"):
        typed = st.text_input("Token or password", type="password", key="access_secret")
        opened = st.form_submit_button("Open")
    if opened:
        if secret_matches(typed, secret):
            st.session_state[_GRANTED] = "password"
            st.rerun()
        time.sleep(1.0)  # slows guessing down
        st.error("That is not this dashboard's token or password.")
    elif given is not None:
        time.sleep(1.0)
        st.error("The link's token is not this dashboard's (it changes each time `behaviorlab dashboard` starts).")
    st.stop()
