"""`behaviorlab dashboard`: localhost, a per-run secret passed privately, --host's note, --trust; labels file paths."""

from __future__ import annotations

import pickle
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

import behaviorlab.cli.results as cli_results
from behaviorlab import model_trust
from behaviorlab.cli.app import app
from behaviorlab.project import dashboard_access
from behaviorlab.project.dashboard_access import PASSWORD_ENV, SECRET_ENV, DashboardAccessError, writable_labels_file


@pytest.fixture
def launched(monkeypatch):
    """Run `behaviorlab dashboard` without starting Streamlit; the list gets ``(command, env)`` of each launch."""
    launches = []

    class Server:
        def __init__(self, command, env):
            launches.append((command, env))

    monkeypatch.setattr(subprocess, "Popen", Server)
    monkeypatch.setattr(cli_results, "_serve", lambda server: 0)
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    return launches


def _dashboard(project: Path, *args: str, **kwargs):
    return CliRunner().invoke(app, ["dashboard", str(project), "--no-browser", *args], **kwargs)


def test_the_dashboard_listens_on_localhost_with_a_new_token_in_the_link_only(tmp_path, launched):
    first = _dashboard(tmp_path)
    second = _dashboard(tmp_path)
    assert first.exit_code == 0, first.output
    (command, env), (_, env2) = launched
    token = env[SECRET_ENV]
    assert len(token) >= 32
    assert env2[SECRET_ENV] != token  # a new one each run
    assert command[command.index("--server.address") + 1] == "localhost"
    assert f"http://localhost:8501/?token={token}" in first.output
    assert env2[SECRET_ENV] in second.output
    assert not any(token in part for part in command)  # never on the command line, which every user can see
    assert "tunnel" not in first.output


def test_a_host_beyond_localhost_prints_one_line_about_tunnelling(tmp_path, launched):
    result = _dashboard(tmp_path, "--host", "0.0.0.0", "--port", "8600")
    assert result.exit_code == 0, result.output
    command, env = launched[0]
    assert command[command.index("--server.address") + 1] == "0.0.0.0"
    notes = [line for line in result.output.splitlines() if "tunnel" in line]
    assert len(notes) == 1
    assert "ssh -N -L 8600:localhost:8600" in notes[0]
    assert SECRET_ENV in env  # still asks for the secret
    for local in ("127.0.0.1", "::1", "localhost"):
        assert "tunnel" not in _dashboard(tmp_path, "--host", local).output


def test_a_password_instead_of_a_token(tmp_path, launched, monkeypatch):
    result = _dashboard(tmp_path, "--password", input="correct horse\ncorrect horse\n")
    assert result.exit_code == 0, result.output
    assert launched[-1][1][SECRET_ENV] == "correct horse"
    assert "?token=" not in result.output
    assert "asks for your password" in result.output

    result = _dashboard(tmp_path, "--password", input="short\nshort\n")
    assert result.exit_code == 1
    assert "at least 8 characters" in result.output

    monkeypatch.setenv(PASSWORD_ENV, "from-the-environment")
    assert _dashboard(tmp_path).exit_code == 0
    _, env = launched[-1]
    assert env[SECRET_ENV] == "from-the-environment"
    assert PASSWORD_ENV not in env


def test_dashboard_trust_records_the_model_files_before_the_server_starts(tmp_path, launched):
    model = tmp_path / "models" / "map.pkl"
    model.parent.mkdir()
    model.write_bytes(pickle.dumps({"from": "elsewhere"}))
    assert not model_trust.is_recorded(model)
    result = _dashboard(tmp_path, "--trust", str(model))
    assert result.exit_code == 0, result.output
    assert f"trusted {model}" in result.output
    assert model_trust.is_recorded(model)


def test_the_secret_is_compared_whole():
    assert dashboard_access.secret_matches("abc123456", "abc123456")
    for given in ("abc12345", "abc1234567", "", None, ["abc123456"]):
        assert not dashboard_access.secret_matches(given, "abc123456")
    assert not dashboard_access.secret_matches("", "")


def test_only_the_projects_own_labels_files_are_writable(tmp_path):
    project = tmp_path / "project"
    (project / "frames").mkdir(parents=True)
    own = project / "frames" / "a.labels.h5"
    own.write_bytes(b"")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "b.labels.h5").write_bytes(b"")
    (project / "linked").symlink_to(outside)  # a folder that leads out of the project
    linked = project / "linked" / "b.labels.h5"
    files = [str(own), str(linked)]
    assert writable_labels_file(project, files, str(own)) == own
    for chosen in (outside / "b.labels.h5", project / "frames" / ".." / ".." / "outside" / "b.labels.h5", linked):
        with pytest.raises(DashboardAccessError, match="nothing was written"):
            writable_labels_file(project, files, str(chosen))
    with pytest.raises(DashboardAccessError, match="not a labels file"):
        writable_labels_file(project, [str(project / "results.json")], str(project / "results.json"))
