"""The results store's catalog: which version of each session (and of the metadata) is current, in SQLite.

One JSON manifest that every write reads and rewrites grows with the store:
at 10,000 sessions each add would read and write megabytes.  The catalog is
one SQLite file (Python's standard library, no server) with a row per session;
adding or replacing a session is one small transaction, the same at 10 sessions
as at 10,000, and atomic: an interrupted write leaves the catalog as it was
(SQLite's journal rolls it back on the next open).

Tables::

    sessions(name TEXT PRIMARY KEY, entry TEXT)   the session's entry as JSON
    properties(key TEXT PRIMARY KEY, value TEXT)  e.g. metadata -> its Parquet file
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from behaviorlab.errors import FileFormatError

__all__ = ["CATALOG", "Catalog", "store_lock"]

#: File name of the catalog in a store folder.
CATALOG = "catalog.sqlite"

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS sessions (name TEXT PRIMARY KEY, entry TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS properties (key TEXT PRIMARY KEY, value TEXT)",
)


@contextlib.contextmanager
def store_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``folder/.lock`` (several processes may write sessions at once)."""
    handle = open(folder / ".lock", "a+")  # noqa: SIM115 - held for the block
    try:
        try:
            import fcntl  # lazy: fcntl (POSIX only)
        except ImportError:  # Windows: msvcrt locks a byte range
            import msvcrt  # lazy: msvcrt (Windows only)

            msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
            yield
            msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
            return
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    finally:
        handle.close()


class Catalog:
    """Session entries and store properties of one results store, in ``folder/catalog.sqlite``.

    Parameters
    ----------
    folder
        The store folder.
    create
        Make the file and its tables when missing (else a missing file is an
        error, and opening writes nothing).
    """

    def __init__(self, folder: str | Path, *, create: bool = False) -> None:
        self.path = Path(folder) / CATALOG
        if not create:  # opening only reads: a store on a read-only share still opens
            if not self.path.is_file():
                raise FileFormatError(self.path, "the store's catalog is missing; the store is damaged or incomplete")
            return
        with self._transaction() as con:
            for statement in _SCHEMA:
                con.execute(statement)

    @contextlib.contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        try:
            con = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
        except sqlite3.Error as exc:
            raise FileFormatError(self.path, f"cannot open the store's catalog: {exc}") from exc
        try:
            yield con
        except sqlite3.DatabaseError as exc:
            raise FileFormatError(self.path, f"cannot read the store's catalog: {exc}") from exc
        finally:
            con.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed when the block ends, rolled back when it raises."""
        with self._connection() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    # ------------------------------------------------------------------ sessions
    def names(self) -> list[str]:
        """Return the session names, sorted."""
        with self._connection() as con:
            return [row[0] for row in con.execute("SELECT name FROM sessions ORDER BY name")]

    def entries(self) -> dict[str, dict[str, Any]]:
        """Return every session's entry, by name (sorted)."""
        with self._connection() as con:
            rows = con.execute("SELECT name, entry FROM sessions ORDER BY name").fetchall()
        return {name: json.loads(entry) for name, entry in rows}

    def get(self, name: str) -> dict[str, Any] | None:
        """Return one session's entry, or None."""
        with self._connection() as con:
            row = con.execute("SELECT entry FROM sessions WHERE name = ?", (name,)).fetchone()
        return None if row is None else json.loads(row[0])

    def put(self, name: str, entry: Mapping[str, Any]) -> dict[str, Any] | None:
        """Add or replace a session's entry in one transaction; return the entry it replaced (or None)."""
        text = json.dumps(entry, sort_keys=True)
        with self._transaction() as con:
            row = con.execute("SELECT entry FROM sessions WHERE name = ?", (name,)).fetchone()
            con.execute("INSERT OR REPLACE INTO sessions (name, entry) VALUES (?, ?)", (name, text))
        return None if row is None else json.loads(row[0])

    def pop(self, name: str) -> dict[str, Any] | None:
        """Remove a session's entry; return it (None when there was none)."""
        with self._transaction() as con:
            row = con.execute("SELECT entry FROM sessions WHERE name = ?", (name,)).fetchone()
            con.execute("DELETE FROM sessions WHERE name = ?", (name,))
        return None if row is None else json.loads(row[0])

    def put_many(self, entries: Mapping[str, Mapping[str, Any]], properties: Mapping[str, str | None]) -> None:
        """Write many entries and properties in one transaction (migrating an old manifest)."""
        with self._transaction() as con:
            con.executemany(
                "INSERT OR REPLACE INTO sessions (name, entry) VALUES (?, ?)",
                [(name, json.dumps(entry, sort_keys=True)) for name, entry in entries.items()],
            )
            con.executemany("INSERT OR REPLACE INTO properties (key, value) VALUES (?, ?)", list(properties.items()))

    # ------------------------------------------------------------------ properties
    def get_property(self, key: str) -> str | None:
        """Return a store property (e.g. ``metadata``), or None."""
        with self._connection() as con:
            row = con.execute("SELECT value FROM properties WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def set_property(self, key: str, value: str | None) -> str | None:
        """Set a store property in one transaction; return its previous value."""
        with self._transaction() as con:
            row = con.execute("SELECT value FROM properties WHERE key = ?", (key,)).fetchone()
            con.execute("INSERT OR REPLACE INTO properties (key, value) VALUES (?, ?)", (key, value))
        return None if row is None else row[0]
