"""Run the dashboard as users do and drive it in a headless Chromium: for the browser test and the load benchmark.

Nothing here imports Streamlit: the server is ``behaviorlab dashboard PROJECT
--no-browser`` in a process group of its own, stopped with it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

#: Flags of the headless Chromium that drives the dashboard (no sandbox as root in CI, no GPU, nothing fetched).
BROWSER_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Seconds a server may take to accept connections.
SERVER_START_S = 60


def free_port() -> int:
    """Return a TCP port on localhost that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        return sock.getsockname()[1]


def dashboard_command(project: Path, port: int) -> list[str]:
    """Return the command line of ``behaviorlab dashboard PROJECT --port PORT --no-browser`` in this Python."""
    script = Path(sys.executable).with_name("behaviorlab")
    cli = [str(script)] if script.is_file() else [sys.executable, "-c", "from behaviorlab.cli.app import app; app()"]
    return [*cli, "dashboard", str(project), "--port", str(port), "--no-browser"]


def page_url(port: int, path: str = "", token: str | None = None) -> str:
    """Return the address of a dashboard page on localhost, with the server's token when given."""
    return f"http://localhost:{port}/{path}" + ("" if token is None else f"?token={token}")


def _password_env(password: str | None) -> dict[str, str]:
    return {} if password is None else {"BEHAVIORLAB_DASHBOARD_PASSWORD": password}


def stop(server: subprocess.Popen) -> None:
    """Stop the server's process group (the CLI and the Streamlit server it started): TERM, then KILL after 10 s."""
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


@contextlib.contextmanager
def running_dashboard(
    project: Path,
    log: Path,
    *,
    env: Mapping[str, str] | None = None,
    timeout_s: float = SERVER_START_S,
    password: str | None = None,
) -> Iterator[tuple[int, float]]:
    """Start a dashboard server on ``project`` and yield ``(port, seconds it took to accept connections)``.

    The server's output goes to ``log``; it is stopped when the block ends.
    ``password`` is its secret (``?token=PASSWORD`` in a page's address, see
    :func:`page_url`); without one, the server makes a token of its own.

    Raises
    ------
    RuntimeError
        The server exited or did not accept connections within ``timeout_s``
        (the message holds its log).
    """
    port = free_port()
    with open(log, "w") as out:
        start = time.perf_counter()
        server = subprocess.Popen(
            dashboard_command(project, port),
            stdout=out,
            stderr=subprocess.STDOUT,
            env=None if env is None and password is None else {**os.environ, **(env or {}), **_password_env(password)},
            start_new_session=True,  # its own process group: the CLI and the Streamlit server stop together
        )
        try:
            while True:
                try:
                    socket.create_connection(("localhost", port), timeout=1).close()
                    break
                except OSError:
                    if server.poll() is not None or time.perf_counter() - start > timeout_s:
                        out.flush()
                        raise RuntimeError(f"the dashboard server did not start:\n{log.read_text()}") from None
                    time.sleep(0.1)
            yield port, time.perf_counter() - start
        finally:
            stop(server)
