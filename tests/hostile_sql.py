"""Hostile SQL for the tests of read-only store queries (``ResultsStore.query``, ``behaviorlab query``, the SQL box).

Not a test module: the tests put this folder on ``sys.path`` and import it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

#: The content of the file outside the store that no query may read.
SECRET = "TOP-SECRET-7f3a9c"


def small_store(folder: Path):
    """Create a results store of two short one-animal sessions (HMM states) with a group each; return it."""
    import numpy as np
    import pandas as pd
    import xarray as xr

    from behaviorlab.results.store import ResultsStore

    store = ResultsStore.create(folder)
    for seed, name in enumerate(("a", "b")):
        rng = np.random.default_rng(seed)
        n = 120
        data = xr.Dataset(
            {
                "position": (("time", "space", "keypoint", "individual"), np.cumsum(rng.normal(size=(n, 2, 1, 1)), 0)),
                "state": (("time", "individual"), np.repeat(rng.integers(0, 3, (n // 10, 1)), 10, 0), {"n_states": 3}),
            },
            coords={"time": np.arange(n) / 10.0, "space": ["x", "y"], "keypoint": ["body"], "individual": ["m1"]},
            attrs={"fps": 10.0},
        )
        store.add_session(name, data)
    store.set_metadata(pd.DataFrame({"session": ["a", "b"], "group": ["control", "treated"]}))
    return store


def outside_folder(root: Path) -> Path:
    """Make ``root/outside`` with a secret text file, a CSV and a Parquet file in it; return the folder."""
    import pandas as pd

    folder = root / "outside"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "secret.txt").write_text(SECRET + "\n")
    (folder / "secret.csv").write_text(f"a,b\n{SECRET},1\n")
    pd.DataFrame({"a": [SECRET]}).to_parquet(folder / "secret.parquet")
    return folder


def hostile_statements(store: Path, outside: Path) -> list[str]:
    """Return statements that must all be refused on ``store``, aimed at ``outside`` and at the store's own files."""
    store, outside = store.resolve(), outside.resolve()
    parquet = sorted(store.glob("sessions/*/*/bouts.parquet"))[0]  # one of the store's own files
    secret = outside / "secret.csv"
    relative_up = Path("..") / ".." / outside.name  # ../.. from wherever
    q = "'"
    return [
        # the two from the issue
        "SELECT * FROM read_csv('/etc/passwd', sep=':', header=false) LIMIT 3",
        "COPY (SELECT 'x' AS x) TO '/tmp/anything_behaviorlab_test.csv'",
        # reading files outside the store, however named
        f"SELECT * FROM read_csv('{secret}')",
        f"SELECT * FROM read_text('{outside / 'secret.txt'}')",
        f"SELECT * FROM read_blob('{outside / 'secret.txt'}')",
        f"SELECT * FROM '{secret}'",
        f"SELECT * FROM read_parquet('{outside / 'secret.parquet'}')",
        f"SELECT * FROM parquet_metadata('{outside / 'secret.parquet'}')",
        f"SELECT * FROM read_csv('{store}/../outside/secret.csv')",
        "SELECT * FROM read_parquet('../..')",
        f"SELECT * FROM read_parquet('{relative_up}/**/*.parquet')",
        "SELECT * FROM glob('/**')",
        f"SELECT * FROM glob('{outside}/*')",
        f"SELECT * FROM sniff_csv('{secret}')",
        f"WITH x AS (SELECT 1) SELECT * FROM read_csv('{secret}')",
        f"SELECT * FROM query('SELECT * FROM read_csv({q}{q}{secret}{q}{q})')",
        # writing, inside the store or outside it
        f"COPY (SELECT 'x' AS x) TO '{outside / 'written.csv'}'",
        f"COPY (SELECT * FROM bouts LIMIT 0) TO '{parquet}' (FORMAT parquet)",
        f"COPY bouts TO '{store / 'copied.parquet'}' (FORMAT parquet)",
        f"EXPORT DATABASE '{outside / 'exported'}'",
        f"ATTACH '{outside / 'evil.duckdb'}' AS evil",
        "ATTACH ':memory:' AS scratch",
        "INSTALL httpfs",
        "LOAD httpfs",
        f"LOAD '{outside / 'evil.duckdb_extension'}'",
        "CREATE TABLE t AS SELECT 1 AS x",
        f"CREATE VIEW bouts2 AS SELECT * FROM read_csv('{secret}')",
        "CREATE SECRET s (TYPE s3, KEY_ID 'k', SECRET 'v')",
        "DROP VIEW bouts",
        "INSERT INTO bouts SELECT * FROM bouts",
        "DELETE FROM bouts",
        # settings
        "SET enable_external_access = true",
        "SET allowed_directories = ['/']",
        "RESET lock_configuration",
        "SET VARIABLE x = 1",
        f"PRAGMA profiling_output = '{outside / 'profile.json'}'",
        "PRAGMA show_tables",
        "CALL pragma_version()",
        "USE memory",
        "CHECKPOINT",
        "EXPLAIN SELECT 1",
        # several statements, and statements hidden behind comments, NUL and look-alike characters
        f"SELECT 1; COPY (SELECT 1) TO '{outside / 'multi.csv'}'",
        "SELECT 1; SELECT 2",
        f"SELECT 1 /* a comment; */ ; /**/ COPY (SELECT 1) TO '{outside / 'comment.csv'}'",
        f"SELECT 1 -- a comment\n; COPY (SELECT 1) TO '{outside / 'line_comment.csv'}'",
        f"SELECT 1\x00; COPY (SELECT 1) TO '{outside / 'nul.csv'}'",
        f"SELECT 1\u037e COPY (SELECT 1) TO '{outside / 'greek_question_mark.csv'}'",  # looks like ;
        f"SELECT 1\u2028; COPY (SELECT 1) TO '{outside / 'line_separator.csv'}'",
        f"\uff23\uff2f\uff30\uff39 (SELECT 1) TO '{outside / 'fullwidth.csv'}'",  # fullwidth COPY
        f"S\u0415LECT * FROM read_csv('{secret}')",  # a Cyrillic Е
        "",
        "   ;  ",
    ]


def file_digests(folder: Path) -> dict[str, str]:
    """Return the SHA-256 of every file under ``folder`` by relative path."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }
