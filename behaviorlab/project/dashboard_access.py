"""Who may use the dashboard, and where it may write: the parts of it that need no Streamlit.

- **A per-run secret.**  ``behaviorlab dashboard`` makes a random token for
  each run (or takes a password its owner sets) and hands it to the
  Streamlit server in the environment (:data:`SECRET_ENV`; another user of
  the machine can read neither the environment of the owner's processes nor
  the terminal, while any command line is visible to all).  Every page asks
  for it (``?token=`` in the link the command prints, or typed) before it
  shows anything of the project.
- **Localhost.**  The server listens on ``localhost`` unless ``--host`` says
  otherwise; then one line says how to use an SSH tunnel instead (the
  dashboard speaks plain HTTP, so the token would cross the network in the
  clear).
- **Writes stay in the project.**  The Label page writes only one of the
  project's own labels files (:func:`writable_labels_file`), atomically.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import socket
import threading
import time
import webbrowser
from collections.abc import Sequence
from pathlib import Path

from behaviorlab.errors import BehaviorlabError

__all__ = [
    "MIN_PASSWORD",
    "PASSWORD_ENV",
    "SECRET_ENV",
    "TOKEN_PARAM",
    "DashboardAccessError",
    "check_password",
    "dashboard_url",
    "is_local",
    "new_token",
    "open_browser_when_ready",
    "secret_matches",
    "tunnel_hint",
    "writable_labels_file",
]

#: Environment variable through which ``behaviorlab dashboard`` gives its Streamlit server the run's secret.
SECRET_ENV = "BEHAVIORLAB_DASHBOARD_SECRET"
#: Environment variable with a password the owner sets (instead of a new token each run).
PASSWORD_ENV = "BEHAVIORLAB_DASHBOARD_PASSWORD"
#: The query parameter of the dashboard's link that carries the token.
TOKEN_PARAM = "token"
#: The shortest password accepted.
MIN_PASSWORD = 8


class DashboardAccessError(BehaviorlabError, ValueError):
    """A dashboard setting or request that would let others in, or write outside the project."""


def new_token() -> str:
    """Return a new random token (192 bits, URL-safe)."""
    return secrets.token_urlsafe(24)


def check_password(password: str) -> str:
    """Return ``password`` when it is long enough to stand in for a token; raise otherwise."""
    if len(password) < MIN_PASSWORD:
        raise DashboardAccessError(
            f"the dashboard password must have at least {MIN_PASSWORD} characters (or set none: a new token each run)"
        )
    return password


def secret_matches(given: object, secret: str) -> bool:
    """Whether ``given`` is the secret (compared in constant time; never for an empty secret)."""
    if not secret or not isinstance(given, str) or not given:
        return False
    return hmac.compare_digest(given.encode(), secret.encode())


def is_local(host: str) -> bool:
    """Whether ``host`` is this machine's loopback address (only its users can reach it)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def tunnel_hint(host: str, port: int) -> str:
    """Return the one line printed when the dashboard listens beyond localhost."""
    return (
        f"note: --host {host} lets the whole network reach the dashboard over plain HTTP (the token or password "
        f"crosses it unencrypted); safer: keep localhost and tunnel from your computer, "
        f"`ssh -N -L {port}:localhost:{port} USER@THIS_SERVER`, then open http://localhost:{port}"
    )


def dashboard_url(host: str, port: int, token: str | None) -> str:
    """Return the link to the dashboard (with ``?token=`` when the secret is a token, not a password)."""
    shown = "localhost" if is_local(host) or host in ("0.0.0.0", "::", "") else host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/" + ("" if token is None else f"?{TOKEN_PARAM}={token}")


def open_browser_when_ready(url: str, host: str, port: int, timeout_s: float = 60.0) -> threading.Thread:
    """Open ``url`` in a web browser once the server at ``host:port`` accepts connections (in a thread)."""

    def wait_then_open() -> None:
        target = "localhost" if host in ("0.0.0.0", "::", "") else host.strip("[]")
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                socket.create_connection((target, port), timeout=1).close()
            except OSError:
                time.sleep(0.2)
                continue
            webbrowser.open(url)
            return

    thread = threading.Thread(target=wait_then_open, name="behaviorlab-open-browser", daemon=True)
    thread.start()
    return thread


def writable_labels_file(root: str | Path, labels_files: Sequence[str | Path], chosen: str | Path) -> Path:
    """Return ``chosen`` when it is one of the project's labels files and inside the project; raise otherwise.

    The Label page writes only what this returns, so a value in a request
    (a path elsewhere, ``..``, a link out of the project) cannot make it
    write anywhere else.

    Raises
    ------
    DashboardAccessError
        ``chosen`` is not one of ``labels_files``, is not a ``*.labels.h5``
        file, or lies (after resolving links) outside ``root``.
    """
    root = Path(root).resolve()
    path = Path(str(chosen))
    known = {Path(str(p)) for p in labels_files}
    if path not in known:
        raise DashboardAccessError(f"{path}: not one of the project's labels files; nothing was written")
    if not path.name.endswith(".labels.h5"):
        raise DashboardAccessError(f"{path}: not a labels file (*.labels.h5); nothing was written")
    for where in (path.resolve(), path.parent.resolve()):
        if not where.is_relative_to(root):
            raise DashboardAccessError(f"{path}: leads outside the project {root}; nothing was written")
    return path
