"""Read-only store queries: hostile SQL is refused through ``ResultsStore.query`` and ``behaviorlab query``."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from behaviorlab.cli.app import app
from behaviorlab.results.safe_query import ALLOWED, QueryRefusedError
from behaviorlab.results.store import ResultsStore, StoreError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from hostile_sql import SECRET, file_digests, hostile_statements, outside_folder, small_store


@pytest.fixture
def store(tmp_path, monkeypatch) -> ResultsStore:
    """A store of two sessions with metadata; the working folder is an empty folder beside it."""
    store = small_store(tmp_path / "project" / "results")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return store


def _world(store: ResultsStore, outside: Path) -> dict[str, object]:
    """What no query may change: the store's bytes, the outside folder, the working folder, /tmp's test file."""
    return {
        "store": file_digests(store.path),
        "outside": file_digests(outside),
        "cwd": sorted(p.name for p in Path.cwd().iterdir()),
        "tmp_file": Path("/tmp/anything_behaviorlab_test.csv").exists(),
    }


def test_hostile_statements_are_refused_by_the_store_and_touch_no_file(store, tmp_path):
    outside = outside_folder(tmp_path)
    statements = hostile_statements(store.path, outside)
    assert len(statements) >= 30
    before = _world(store, outside)
    assert not before["tmp_file"]
    answered = {}
    for sql in statements:
        try:
            answered[sql] = store.query(sql)
        except QueryRefusedError as err:
            message = str(err)
            assert "\n" not in message, (sql, message)
            assert message.endswith(ALLOWED), (sql, message)
            assert SECRET not in message, (sql, message)
    assert not answered, f"statements that ran: {list(answered)}"
    assert _world(store, outside) == before


def test_hostile_statements_are_refused_by_the_command_line(store, tmp_path):
    outside = outside_folder(tmp_path)
    before = _world(store, outside)
    runner = CliRunner()
    for sql in hostile_statements(store.path, outside):
        result = runner.invoke(app, ["query", str(store.path), sql])
        assert result.exit_code == 1, (sql, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), (sql, repr(result.exception))
        lines = result.output.strip().splitlines()
        assert len(lines) == 1, (sql, result.output)
        assert lines[0].startswith("error: "), (sql, result.output)
        assert ALLOWED in lines[0]
        assert SECRET not in result.output
    assert _world(store, outside) == before


def test_the_issue_examples_say_why_they_are_refused(store):
    with pytest.raises(QueryRefusedError, match=r"reaches outside the store: Permission Error.*/etc/passwd"):
        store.query("SELECT * FROM read_csv('/etc/passwd', sep=':', header=false) LIMIT 3")
    with pytest.raises(QueryRefusedError, match=r"query refused \(COPY statement\)"):
        store.query("COPY (SELECT 'x' AS x) TO '/tmp/anything.csv'")
    with pytest.raises(QueryRefusedError, match=r"query refused \(2 statements: SELECT, COPY\)"):
        store.query("SELECT 1; COPY (SELECT 1) TO 'x.csv'")
    with pytest.raises(QueryRefusedError, match=r"the query failed \(DuckDB cannot parse it"):
        store.query("SELEC 1")


def test_reading_statements_still_run(store):
    assert store.query("DESCRIBE bouts")["column_name"].tolist()[:3] == ["session", "individual", "source"]
    assert {"bouts", "time_budget", "sessions"} <= set(store.query("SHOW TABLES")["name"])
    assert "column_name" in store.query("SHOW bouts").columns
    assert len(store.query("SUMMARIZE bouts")) > 0
    assert store.query("FROM sessions SELECT session ORDER BY session")["session"].tolist() == ["a", "b"]
    assert store.query("VALUES (1, 'x')").shape == (1, 2)
    budget = store.query(
        "-- time budget by group\nWITH t AS (SELECT * FROM time_budget) "
        'SELECT "group", count(*) AS n FROM t GROUP BY ALL ORDER BY ALL; -- done'
    )
    assert budget["group"].tolist() == ["control", "treated"]
    # the store's own files may be read directly
    file = sorted(store.path.glob("sessions/*/*/bouts.parquet"))[0]
    direct = store.query(f"SELECT count(*) AS n FROM read_parquet('{file}')")["n"].item()
    assert direct == len(pd.read_parquet(file))
    # the library's own connection is not limited (exports and tables read through it)
    assert len(store.table("bouts")) > 0


def test_python_variables_are_not_scanned(store):
    secret_frame = pd.DataFrame({"a": [SECRET]})  # noqa: F841 - DuckDB would find it by name in this frame
    with pytest.raises(StoreError) as err:
        store.query("SELECT * FROM secret_frame")
    assert SECRET not in str(err.value)
