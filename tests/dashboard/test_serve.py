"""`behaviorlab dashboard` takes its Streamlit server down with it when it is stopped."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "dashboards"))
from serve import dashboard_command, free_port  # noqa: E402


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.is_file() else []


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads child processes from /proc (Linux)")
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGHUP])
def test_stopping_the_command_stops_its_server(tmp_path, how):
    port = free_port()
    cli = subprocess.Popen(
        dashboard_command(tmp_path, port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("localhost", port), timeout=1).close()
                break
            except OSError:
                assert cli.poll() is None, "the dashboard command exited"
                assert time.monotonic() < deadline, "the server did not start within 60 s"
                time.sleep(0.2)
        servers = _children(cli.pid)
        assert servers, "the command runs no Streamlit process"
        cli.send_signal(how)  # to the command only, as a closed terminal or `kill` would
        cli.wait(timeout=30)
        for pid in servers:
            deadline = time.monotonic() + 15
            while Path(f"/proc/{pid}").exists() and "zombie" not in _state(pid):
                assert time.monotonic() < deadline, f"the Streamlit server {pid} still runs after its command stopped"
                time.sleep(0.2)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("localhost", port), timeout=1).close()
    finally:
        if _group_alive(cli.pid):  # whatever is left of the command's process group
            os.killpg(cli.pid, signal.SIGKILL)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split("\n")[0].lower()
    except (OSError, IndexError):
        return "gone"


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True
