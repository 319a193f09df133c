"""Read-only SQL over a results store: one reading statement, on a connection that cannot reach other files.

:meth:`behaviorlab.results.store.ResultsStore.query` (and so ``behaviorlab query``
and the dashboard's SQL box) runs the SQL a person typed through
:func:`run_read_only`.  Two guards, each enough on its own for files outside
the store:

- **The statement.**  DuckDB's own parser (the one that runs it, so comments,
  string literals, ``;`` and look-alike characters are read exactly as they
  would run) splits the text; exactly one statement of type ``SELECT`` is
  accepted (``WITH ... SELECT``, ``FROM ...``, ``VALUES``, ``DESCRIBE``,
  ``SHOW`` and ``SUMMARIZE`` parse as one), and the parsed statement itself is
  what runs.  ``COPY``, ``ATTACH``, ``INSTALL``, ``LOAD``, ``CREATE``,
  ``DROP``, ``SET``, ``PRAGMA``, ``CALL``, ``EXPORT`` and several statements at
  once are refused with one line that says what is allowed.
- **The connection.**  After the store's views are created (they read the
  store's Parquet files), the connection gets no temporary files, no scans of
  Python variables, ``allowed_directories`` = the store folder,
  ``enable_external_access = false`` and then ``lock_configuration = true``:
  a table function on another path (``read_csv('/etc/passwd')``,
  ``glob('/**')``, ``read_parquet('../..')``) fails with DuckDB's permission
  error, reported as a refusal, and no statement can turn these back on.

The library's own reads and writes use connections of their own
(:meth:`~behaviorlab.results.store.ResultsStore.connect`, Parquet writers); nothing
here limits them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from behaviorlab.errors import StoreError

__all__ = ["ALLOWED", "QueryRefusedError", "lock_to_folder", "read_only_statement", "run_read_only"]

#: What a refusal says is allowed (one line).
ALLOWED = (
    "a query runs one read-only statement over the store's views: SELECT (or WITH ... SELECT), DESCRIBE or SHOW; "
    "nothing that writes, attaches, installs, loads or changes settings, and no file outside the store"
)


class QueryRefusedError(StoreError):
    """A query that is not one read-only statement over the store, or that reaches for a file outside it."""


def _refuse(reason: str, prefix: str = "query refused") -> QueryRefusedError:
    return QueryRefusedError(f"{prefix} ({' '.join(reason.split())}): {ALLOWED}")


def _first_line(error: Exception) -> str:
    return str(error).strip().split("\n")[0]


def read_only_statement(con: Any, sql: str) -> Any:
    """Return the one read-only statement ``sql`` holds, as DuckDB parsed it.

    Parameters
    ----------
    con
        A DuckDB connection (its parser splits ``sql``).
    sql
        The text a person typed.

    Returns
    -------
    duckdb.Statement
        The statement to execute (exactly what was checked).

    Raises
    ------
    QueryRefusedError
        ``sql`` is not text, is empty, does not parse, holds more than one
        statement, or its statement is not a ``SELECT`` (which includes
        ``DESCRIBE``, ``SHOW``, ``SUMMARIZE``, ``VALUES`` and ``FROM ...``).
    """
    if not isinstance(sql, str):
        raise _refuse(f"not SQL text but a {type(sql).__name__}")
    if "\0" in sql:
        raise _refuse("a NUL character")
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise _refuse(f"DuckDB cannot parse it: {_first_line(exc)}", "the query failed") from None
    if not statements:
        raise _refuse("no statement")
    if len(statements) > 1:
        kinds = ", ".join(_kind(s) for s in statements)
        raise _refuse(f"{len(statements)} statements: {kinds}")
    statement = statements[0]
    if statement.type != duckdb.StatementType.SELECT:
        raise _refuse(f"{_kind(statement)} statement")
    return statement


def _kind(statement: Any) -> str:
    return str(statement.type).rsplit(".", 1)[-1]


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def lock_to_folder(con: Any, folder: str | Path) -> None:
    """Confine ``con`` to reading ``folder``: no other file, no temporary files, settings locked.

    Call it after the connection's views exist (creating them needs no
    permission; running them reads only files in ``folder``).  Afterwards a
    ``SET`` (of these or any other setting) fails.

    Parameters
    ----------
    con
        An in-memory DuckDB connection used for nothing else afterwards.
    folder
        The only folder whose files the connection may open.
    """
    folder = Path(folder)
    # the folder as given and as resolved; DuckDB compares prefixes, and a trailing separator keeps `store2/` out
    roots = dict.fromkeys(os.path.join(str(p), "") for p in (folder.absolute(), folder.resolve()))
    for setting in (
        "SET temp_directory = ''",  # no spilling into the working folder's .tmp/
        "SET python_enable_replacements = false",  # no scans of the caller's Python variables
        "SET autoinstall_known_extensions = false",
        "SET allowed_directories = [" + ", ".join(_sql_text(r) for r in roots) + "]",
        "SET enable_external_access = false",
        "SET lock_configuration = true",
    ):
        con.execute(setting)


def run_read_only(con: Any, sql: str, folder: str | Path) -> pd.DataFrame:
    """Run ``sql`` on ``con`` as one read-only statement confined to ``folder`` and return the result.

    ``con`` is locked first (:func:`lock_to_folder`), so it must not be
    used for anything else afterwards.

    Raises
    ------
    QueryRefusedError
        The statement is not allowed (:func:`read_only_statement`), or it
        tried to open a file outside ``folder``.
    duckdb.Error
        Any other failure of the query (a typo, an unknown column).
    """
    lock_to_folder(con, folder)
    statement = read_only_statement(con, sql)
    try:
        return con.execute(statement).df()
    except duckdb.PermissionException as exc:
        raise _refuse(f"it reaches outside the store: {_first_line(exc)}") from None
