"""The results store: a project folder of per-session Parquet tables, queried with DuckDB.

Layout of a store folder::

    PROJECT/
      behaviorlab_store.json          manifest: format and settings (written once, when the store is made)
      catalog.sqlite                  catalog: each session's current version, the metadata's (SQLite)
      sessions/<session>/<version>/   one folder per written version of a session
          bouts.parquet  behavior_stats.parquet  transitions.parquet  frame_labels.parquet
          movement.parquet  zones.parquet  *_by_bin.parquet  dataset.nc
      metadata/<version>.parquet      the session metadata table (subject, group, ...)

Each session's tables are written into a new version folder; only when every
file is complete does the catalog (:class:`~behaviorlab.results.catalog.Catalog`,
one SQLite transaction under a lock) point to it, and only then is the
previous version deleted.  A write that fails or is interrupted at any point
leaves the previous store as it was: readers only ever see the files the
catalog names.  Re-running a session replaces that session's rows and nothing
else, and costs the same in a store of 10,000 sessions as in one of 10.
Stores written before the catalog (sessions listed in the JSON manifest,
format version 1) are migrated when first opened; the old manifest is kept
as ``behaviorlab_store.v1.json``.

:meth:`ResultsStore.connect` opens an in-memory DuckDB database with one view
per table over the Parquet files of all sessions (see :data:`TABLES`), plus
``sessions`` (one row per session), ``metadata`` and views joining them for
the common questions (:data:`QUESTION_VIEWS`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import shutil
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import xarray as xr

from behaviorlab._atomic import atomic_path
from behaviorlab.errors import FileFormatError, SchemaError, StoreError
from behaviorlab.io.load import load_netcdf
from behaviorlab.io.save import save_netcdf
from behaviorlab.results.catalog import CATALOG, Catalog, store_lock
from behaviorlab.results.groups import read_metadata
from behaviorlab.results.safe_query import run_read_only
from behaviorlab.results.stats import label_sources, session_tables

__all__ = ["MANIFEST", "QUESTION_VIEWS", "TABLES", "ResultsStore", "StoreError"]

log = logging.getLogger(__name__)

#: File name of the manifest in a store folder.
MANIFEST = "behaviorlab_store.json"
_FORMAT = "behaviorlab-results-store"
_FORMAT_VERSION = 2  # 1: sessions and metadata in the JSON manifest; 2: in catalog.sqlite

_KEYS = {"session": "VARCHAR", "individual": "VARCHAR", "source": "VARCHAR"}
_OUTCOMES = {"tp": "BIGINT", "fp": "BIGINT", "fn": "BIGINT", "tn": "BIGINT"}
_BINS = {"bin": "BIGINT", "bin_start_s": "DOUBLE", "bin_end_s": "DOUBLE"}
_STATS = {
    **_KEYS,
    "behavior": "VARCHAR",
    **_BINS,
    "labeled_s": "DOUBLE",
    "time_s": "DOUBLE",
    "time_budget_pct": "DOUBLE",
    "bout_count": "BIGINT",
    "mean_bout_s": "DOUBLE",
    "median_bout_s": "DOUBLE",
    "latency_s": "DOUBLE",
    "bouts_per_min": "DOUBLE",
}
_MOVEMENT = {
    "session": "VARCHAR",
    "individual": "VARCHAR",
    **_BINS,
    "tracked_s": "DOUBLE",
    "distance": "DOUBLE",
    "mean_speed": "DOUBLE",
    "length_unit": "VARCHAR",
}
_ZONES = {
    "session": "VARCHAR",
    "individual": "VARCHAR",
    "zone": "VARCHAR",
    **_BINS,
    "tracked_s": "DOUBLE",
    "time_s": "DOUBLE",
    "time_pct": "DOUBLE",
    "entries": "BIGINT",
    "latency_s": "DOUBLE",
}

#: The tables of a store and their columns (DuckDB types); see :func:`behaviorlab.results.stats.session_tables`.
TABLES: dict[str, dict[str, str]] = {
    "frame_labels": {**_KEYS, "frame": "BIGINT", "time_s": "DOUBLE", "behavior": "VARCHAR"},
    "bouts": {
        **_KEYS,
        "behavior": "VARCHAR",
        "start_frame": "BIGINT",
        "end_frame": "BIGINT",
        "start_s": "DOUBLE",
        "duration_s": "DOUBLE",
        "truncated": "BOOLEAN",
    },
    "behavior_stats": _STATS,
    "behavior_stats_by_bin": _STATS,
    "transitions": {
        **_KEYS,
        **_BINS,
        "from_behavior": "VARCHAR",
        "to_behavior": "VARCHAR",
        "count": "BIGINT",
        "probability": "DOUBLE",
    },
    "movement": _MOVEMENT,
    "movement_by_bin": _MOVEMENT,
    "zones": _ZONES,
    "zones_by_bin": _ZONES,
    # the classifier's decisions against the human labels, as counts that add over sessions (results.scoring)
    "classifier_frames": {"session": "VARCHAR", "behavior": "VARCHAR", **_OUTCOMES},
    "classifier_pr": {
        "session": "VARCHAR",
        "behavior": "VARCHAR",
        "threshold": "DOUBLE",
        "positives": "BIGINT",
        "negatives": "BIGINT",
    },
    "classifier_confusion": {"session": "VARCHAR", "truth": "VARCHAR", "pred": "VARCHAR", "frames": "BIGINT"},
    "classifier_raters": {
        "session": "VARCHAR",
        "rater_a": "VARCHAR",
        "rater_b": "VARCHAR",
        "behavior": "VARCHAR",
        **_OUTCOMES,
    },
}

#: Views for the common questions, on top of the tables (``{meta}`` is the metadata join).
QUESTION_VIEWS: dict[str, str] = {
    "time_budget": (
        "SELECT s.session, s.individual, s.source, s.behavior, s.time_budget_pct, s.time_s, s.labeled_s, "
        "s.bout_count, s.mean_bout_s, s.latency_s{meta_columns} FROM behavior_stats s{meta_join}"
    ),
    "bout_durations": (
        "SELECT s.session, s.individual, s.source, s.behavior, s.start_s, s.duration_s, s.truncated{meta_columns} "
        "FROM bouts s{meta_join}"
    ),
    "distance_travelled": (
        "SELECT s.session, s.individual, s.distance, s.length_unit, s.tracked_s, s.mean_speed{meta_columns} "
        "FROM movement s{meta_join}"
    ),
}


def _version_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f") + "-" + uuid.uuid4().hex[:8]


def _folder_name(session: str) -> str:
    """Return a file-system-safe folder name for a session name (reversible percent-encoding)."""
    return quote(session, safe="-_.=+,@") if session not in (".", "..") else quote(session, safe="")


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _arrow_table(name: str, table: pd.DataFrame) -> Any:
    """Convert a table to Arrow: fixed column types for a known table, pandas' types for any other."""
    columns = TABLES.get(name)
    if columns is None:
        return pa.Table.from_pandas(table, preserve_index=False)
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise SchemaError(f"table {name!r} lacks the columns {missing}; it needs {list(columns)}")
    types = {"VARCHAR": pa.string(), "BIGINT": pa.int64(), "DOUBLE": pa.float64(), "BOOLEAN": pa.bool_()}
    extra = [c for c in table.columns if c not in columns]
    arrow = pa.Table.from_pandas(table[[*columns, *extra]], preserve_index=False)
    fixed = [arrow.column(c).cast(types[t]) for c, t in columns.items()]
    return pa.Table.from_arrays([*fixed, *(arrow.column(c) for c in extra)], names=[*columns, *extra])


def _write_parquet(name: str, table: pd.DataFrame, path: Path) -> None:
    """Write zstd Parquet: strings dictionary-, integers delta-encoded, floats byte-stream-split (15x less)."""
    arrow = _arrow_table(name, table)
    strings, encodings = [], {}
    for field in arrow.schema:
        if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
            strings.append(field.name)
        elif pa.types.is_integer(field.type):
            encodings[field.name] = "DELTA_BINARY_PACKED"
        elif pa.types.is_floating(field.type):
            encodings[field.name] = "BYTE_STREAM_SPLIT"
    with atomic_path(path) as tmp:
        pq.write_table(arrow, tmp, compression="zstd", use_dictionary=strings, column_encoding=encodings)


def _write_version(
    folder: Path, version: str, session: str, out: Mapping[str, pd.DataFrame], data: xr.Dataset | None
) -> tuple[dict[str, str], str | None]:
    """Write a session's tables (and ``data``) as the version folder ``folder/version``: its table and Dataset files.

    The files go to ``<version>.partial``, renamed to ``version`` only once all are complete; a failure leaves nothing.
    """
    partial = folder / f"{version}.partial"
    partial.mkdir(parents=True)
    try:
        table_files = {}
        for name, table in out.items():
            table = table.assign(session=session) if "session" in table.columns else table
            if "session" not in table.columns:
                table = table.assign(session=session)[["session", *table.columns]]
            _write_parquet(name, table, partial / f"{name}.parquet")
            table_files[name] = f"{name}.parquet"
        dataset_file = None
        if data is not None:
            save_netcdf(data.assign_attrs(session=session), partial / "dataset.nc")
            dataset_file = "dataset.nc"
        partial.rename(folder / version)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return table_files, dataset_file


#: The store's folder inside a project folder (``behaviorlab run`` writes it): a project folder opens as its store.
PROJECT_STORE = "results"


# --------------------------------------------------------------------------- the store
class ResultsStore:
    """A project folder holding every session's results as Parquet tables, queried with DuckDB.

    Parameters
    ----------
    path
        The store folder (it holds :data:`MANIFEST`).  Use :meth:`create` for
        a new store.

    Examples
    --------
    >>> store = ResultsStore.create("project")                      # doctest: +SKIP
    >>> store.add_session("mouse1_day1", labeled_dataset)           # doctest: +SKIP
    >>> store.set_metadata("metadata.csv")                          # doctest: +SKIP
    >>> store.query("SELECT source, behavior, avg(time_budget_pct) FROM time_budget GROUP BY ALL")  # doctest: +SKIP
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not (self.path / MANIFEST).is_file() and (self.path / PROJECT_STORE / MANIFEST).is_file():
            self.path = self.path / PROJECT_STORE  # a project folder: its store
        manifest = self.path / MANIFEST
        if not manifest.is_file():
            raise StoreError(
                f"{self.path}: neither a behaviorlab results store (no {MANIFEST}) nor a project with one (no "
                f"{PROJECT_STORE}/{MANIFEST}); `behaviorlab run` makes a project's store, `behaviorlab store create` "
                "an empty one"
            )
        manifest = self._read_manifest()  # fails early on a damaged manifest
        self._settings = dict(manifest["settings"])  # fixed at creation
        if "sessions" in manifest:
            self._migrate(manifest)
        self._catalog = Catalog(self.path)

    def _migrate(self, manifest: dict[str, Any]) -> None:
        """Move a version-1 manifest's sessions and metadata into the catalog; keep the old file beside it."""
        with store_lock(self.path):
            current = self._read_manifest()
            if "sessions" not in current:
                return  # another process migrated it meanwhile
            backup = self.path / "behaviorlab_store.v1.json"
            if not backup.exists():
                with atomic_path(backup) as tmp:
                    tmp.write_text(json.dumps(current, indent=1, sort_keys=True), encoding="utf-8")
            Catalog(self.path, create=True).put_many(current["sessions"], {"metadata": current.get("metadata")})
            slim = {"format": _FORMAT, "version": _FORMAT_VERSION, "settings": current["settings"]}
            self._write_manifest_to(self.path, slim)
        log.info(
            "store %s: %d sessions moved from the JSON manifest to %s", self.path, len(manifest["sessions"]), CATALOG
        )

    # ------------------------------------------------------------------ creation and manifest
    @classmethod
    def create(
        cls,
        path: str | Path,
        *,
        bin_s: float | None = 60.0,
        zones: Mapping[str, Any] | None = None,
        px_per_cm: float | None = None,
        keypoint: str = "centroid",
        exist_ok: bool = False,
    ) -> ResultsStore:
        """Create a store folder with its settings (used for every session added).

        Parameters
        ----------
        path
            New (or empty) folder.
        bin_s
            Time bins of the ``*_by_bin`` tables, in seconds (None: no bins).
        zones
            Zone name to polygon vertices in pixels, for the ``zones`` tables.
        px_per_cm
            Spatial calibration for distances (pixels otherwise).
        keypoint
            Point whose movement and zone visits are measured.
        exist_ok
            Open an existing store instead of failing.
        """
        path = Path(path)
        if (path / MANIFEST).is_file():
            if exist_ok:
                return cls(path)
            raise StoreError(f"{path}: a results store exists already (pass exist_ok=True to open it)")
        if path.exists() and any(path.iterdir()):
            raise StoreError(f"{path}: the folder is not empty; choose a new folder for the results store")
        if bin_s is not None and not bin_s > 0:
            raise StoreError(f"bin_s must be > 0 seconds or None, got {bin_s!r}")
        if px_per_cm is not None and not px_per_cm > 0:
            raise StoreError(f"px_per_cm must be > 0 or None, got {px_per_cm!r}")
        path.mkdir(parents=True, exist_ok=True)
        settings = {
            "bin_s": None if bin_s is None else float(bin_s),
            "zones": _jsonable(dict(zones or {})),
            "px_per_cm": None if px_per_cm is None else float(px_per_cm),
            "keypoint": keypoint,
        }
        Catalog(path, create=True)
        cls._write_manifest_to(path, {"format": _FORMAT, "version": _FORMAT_VERSION, "settings": settings})
        return cls(path)

    @staticmethod
    def _write_manifest_to(path: Path, manifest: dict[str, Any]) -> None:
        with atomic_path(path / MANIFEST) as tmp:
            tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")

    def _read_manifest(self) -> dict[str, Any]:
        path = self.path / MANIFEST
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise FileFormatError(path, f"cannot read the store manifest: {exc}") from exc
        if manifest.get("format") != _FORMAT:
            raise FileFormatError(path, f"not a behaviorlab results store manifest (format {manifest.get('format')!r})")
        if int(manifest.get("version", 0)) > _FORMAT_VERSION:
            raise FileFormatError(
                path,
                f"store format version {manifest['version']} is newer than this behaviorlab reads "
                f"({_FORMAT_VERSION}); upgrade behaviorlab",
            )
        return manifest

    def _contents(self) -> dict[str, Any]:
        """Every session's entry and the metadata file, from the catalog."""
        return {"sessions": self._catalog.entries(), "metadata": self._catalog.get_property("metadata")}

    @property
    def settings(self) -> dict[str, Any]:
        """The store's settings (bin_s, zones, px_per_cm, keypoint), fixed when it was created."""
        return dict(self._settings)

    @property
    def sessions(self) -> list[str]:
        """Names of the sessions in the store, sorted."""
        return self._catalog.names()

    def session_infos(self) -> dict[str, dict[str, Any]]:
        """Return the catalog entry of every session."""
        return self._catalog.entries()

    def session_info(self, session: str) -> dict[str, Any]:
        """Return the catalog entry of one session (version, tables, fps, frames, sources, written_at)."""
        entry = self._catalog.get(session)
        if entry is None:
            raise StoreError(f"{self.path}: no session {session!r} in the store (it has {self.sessions[:10]}...)")
        return entry

    # ------------------------------------------------------------------ writing
    def add_session(
        self,
        session: str,
        data: xr.Dataset | None = None,
        *,
        tables: Mapping[str, pd.DataFrame] | None = None,
        sources: Sequence[str] | None = None,
        behaviors: Mapping[str, Sequence[str] | int] | None = None,
        save_dataset: bool = True,
        files: Mapping[str, str | Path] | None = None,
    ) -> dict[str, Any]:
        """Write (or replace) one session's results.

        Parameters
        ----------
        session
            Session name; rows of every table get it in their ``session``
            column.
        data
            Session Dataset with label variables (``state``, ``cluster``,
            ``behavior_prediction``, ``labels``) and/or poses; its tables are
            computed with :func:`behaviorlab.results.stats.session_tables` and the
            store's settings.
        tables
            Further (or precomputed) tables by name; a known table
            (:data:`TABLES`) must have its columns.
        sources, behaviors
            As in :func:`~behaviorlab.results.stats.session_tables`.
        save_dataset
            Also keep ``data`` as netCDF (:meth:`dataset` reads it back).
        files
            Links to the session's source files, e.g. ``{"video": ..., "poses":
            ...}`` (kept as absolute paths in the manifest; the dashboard shows
            the video).

        Returns
        -------
        dict
            The session's manifest entry.
        """
        if not isinstance(session, str) or not session:
            raise ValueError(f"a session name must be a non-empty string, got {session!r}")
        settings = self.settings
        out: dict[str, pd.DataFrame] = {}
        if data is not None:
            if not isinstance(data, xr.Dataset):
                raise SchemaError(f"session {session!r}: data must be an xarray Dataset, got {type(data).__name__}")
            out.update(
                session_tables(
                    data,
                    session=session,
                    sources=sources,
                    bin_s=settings["bin_s"],
                    zones=settings["zones"] or None,
                    px_per_cm=settings["px_per_cm"],
                    keypoint=settings["keypoint"],
                    behaviors=behaviors,
                )
            )
        for name, table in (tables or {}).items():
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise ValueError(f"table names must be SQL identifiers (letters, digits, _), got {name!r}")
            out[name] = table
        if not out:
            raise ValueError(f"session {session!r}: nothing to write (give data or tables)")
        version = _version_id()
        folder = self.path / "sessions" / _folder_name(session)
        table_files, dataset_file = _write_version(folder, version, session, out, data if save_dataset else None)
        extra = {
            name: [c for c in t.columns if c not in TABLES[name] and c != "session"]
            for name, t in out.items()
            if name in TABLES
        }
        entry = {
            "extra_columns": {name: cols for name, cols in extra.items() if cols},
            "version": version,
            "folder": f"sessions/{_folder_name(session)}/{version}",
            "tables": table_files,
            "rows": {name: len(t) for name, t in out.items()},
            "dataset": dataset_file,
            "files": {str(k): str(Path(v).resolve()) for k, v in (files or {}).items()},
            "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        if data is not None:
            entry["fps"] = data.attrs.get("fps")
            entry["n_frames"] = int(data.sizes.get("time", 0))
            entry["individuals"] = [str(i) for i in data["individual"].values] if "individual" in data.coords else []
            entry["sources"] = list(sources) if sources is not None else _sources(data)
        try:
            with store_lock(self.path):
                old = self._catalog.put(session, _jsonable(entry))
        except BaseException:
            shutil.rmtree(folder / version, ignore_errors=True)
            raise
        if old is not None and old.get("folder") != entry["folder"]:
            shutil.rmtree(self.path / old["folder"], ignore_errors=True)
        log.info(
            "store %s: wrote session %r (%s)",
            self.path,
            session,
            ", ".join(f"{k} {v}" for k, v in entry["rows"].items()),
        )
        return entry

    def remove_session(self, session: str) -> None:
        """Remove a session and its files."""
        with store_lock(self.path):
            old = self._catalog.pop(session)
        if old is None:
            raise StoreError(f"{self.path}: no session {session!r} to remove")
        shutil.rmtree(self.path / old["folder"], ignore_errors=True)

    def set_metadata(self, metadata: pd.DataFrame | str | Path) -> pd.DataFrame:
        """Set the session metadata table (subject, group, condition, ...): a DataFrame or a CSV path.

        The table needs a ``session`` column; a ``subject`` column is taken as
        ``individual`` (see :func:`behaviorlab.results.groups.read_metadata`).
        """
        table = read_metadata(metadata) if not isinstance(metadata, pd.DataFrame) else metadata.copy()
        if "session" not in table.columns:
            raise SchemaError(f"the metadata table needs a 'session' column; it has {list(table.columns)}")
        if "subject" in table.columns and "individual" not in table.columns:
            table = table.rename(columns={"subject": "individual"})
        for key in ("session", "individual"):
            if key in table.columns:
                table[key] = table[key].astype(str)
        if "individual" in table.columns:
            table = self._match_individuals(table)
        current = self.metadata_version
        if current is not None and (self.path / current).is_file():
            stored = pd.read_parquet(self.path / current)
            if stored.reset_index(drop=True).equals(_arrow_table("metadata", table).to_pandas()):
                return table  # unchanged: no new version, so the store's stamp and what depends on it stay
        version = _version_id()
        relative = f"metadata/{version}.parquet"
        _write_parquet("metadata", table, self.path / relative)
        with store_lock(self.path):
            old = self._catalog.set_property("metadata", relative)
        if old:
            with contextlib.suppress(FileNotFoundError):
                (self.path / old).unlink()
        return table

    def _match_individuals(self, table: pd.DataFrame) -> pd.DataFrame:
        """Match the metadata's ``individual`` (or ``subject``) names to the stored sessions' individuals.

        A one-animal session whose metadata has one row naming another animal
        (``mouse12`` for a pose file's ``individual_0``) takes the row as that
        animal's: the name is kept in a ``subject`` column. Any other row whose
        animal a stored session does not have is refused, the mismatch shown.
        """
        infos = self.session_infos()
        table = table.copy()
        unmatched = []
        for session, rows in table.groupby("session", sort=False):
            if session not in infos:
                continue  # metadata may come before the session
            known = [str(i) for i in infos[session].get("individuals", [])]
            if set(rows["individual"]) <= set(known):
                continue
            if len(known) == 1 and len(rows) == 1:
                if "subject" not in table.columns:
                    table.insert(table.columns.get_loc("individual") + 1, "subject", table["individual"])
                table.loc[rows.index, "individual"] = known[0]
                continue
            unmatched.append(f"{session}: {sorted(set(rows['individual']) - set(known))} (its animals: {known})")
        if unmatched:
            raise SchemaError(
                f"the metadata's subject/individual names do not match the animals of {len(unmatched)} sessions: "
                f"{'; '.join(unmatched[:5])}{' ...' if len(unmatched) > 5 else ''}. Name each animal as the pose "
                "file does in the subject column, or give one row per one-animal session"
            )
        return table

    @property
    def metadata_version(self) -> str | None:
        """The stored metadata table's file, relative to the store (None before :meth:`set_metadata`)."""
        return self._catalog.get_property("metadata")

    def vacuum(self) -> list[Path]:
        """Delete folders and files that no session references (left by interrupted writes); return them."""
        manifest = self._contents()
        keep = {self.path / e["folder"] for e in manifest["sessions"].values()}
        removed = []
        for folder in sorted((self.path / "sessions").glob("*/*")):
            if folder not in keep:
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder)
        meta = manifest.get("metadata")
        for file in sorted((self.path / "metadata").glob("*")):
            if meta is None or file != self.path / meta:
                file.unlink()
                removed.append(file)
        for folder in sorted((self.path / "sessions").glob("*")):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        return removed

    # ------------------------------------------------------------------ reading
    def _files(self, manifest: dict[str, Any]) -> dict[str, list[str]]:
        files: dict[str, list[str]] = {}
        for entry in manifest["sessions"].values():
            for name, file in entry["tables"].items():
                files.setdefault(name, []).append(str(self.path / entry["folder"] / file))
        return files

    def connect(self) -> Any:
        """Open an in-memory DuckDB connection with a view per table and the question views.

        Views: every table in :data:`TABLES` (empty with its columns when no
        session has it) and any other table the sessions hold; ``sessions``
        (one row per session: fps, frames, duration, sources, written_at);
        ``metadata`` (when set); and :data:`QUESTION_VIEWS` (``time_budget``,
        ``bout_durations``, ``distance_travelled``) with the metadata columns
        joined on ``session`` (and ``individual`` when the metadata has it).
        The views read the files the catalog names when ``connect`` runs.
        """
        manifest = self._contents()
        con = duckdb.connect(":memory:")
        files = self._files(manifest)
        for name in sorted(set(TABLES) | set(files)):
            if name in files:
                paths = ", ".join("'" + p.replace("'", "''") + "'" for p in files[name])
                # a known table has the same columns in every file, so the view binds from the first file; other
                # tables may differ between sessions, and union_by_name reads every file's schema to merge them
                union = "" if name in TABLES and not _extra_columns(manifest, name) else ", union_by_name = true"
                con.execute(f'CREATE VIEW "{name}" AS SELECT * FROM read_parquet([{paths}]{union})')
            else:
                columns = ", ".join(f'CAST(NULL AS {t}) AS "{c}"' for c, t in TABLES[name].items())
                con.execute(f'CREATE VIEW "{name}" AS SELECT {columns} WHERE false')
        rows = [
            {
                "session": name,
                "fps": e.get("fps"),
                "n_frames": e.get("n_frames"),
                "duration_s": (e["n_frames"] / e["fps"]) if e.get("fps") and e.get("n_frames") is not None else None,
                "n_individuals": len(e.get("individuals", [])),
                "sources": ",".join(e.get("sources", [])),
                "version": e["version"],
                "written_at": e["written_at"],
            }
            for name, e in sorted(manifest["sessions"].items())
        ]
        sessions = pd.DataFrame(
            rows,
            columns=["session", "fps", "n_frames", "duration_s", "n_individuals", "sources", "version", "written_at"],
        ).astype({"fps": float, "duration_s": float, "n_frames": "Int64"})
        con.register("_sessions", sessions)
        con.execute("CREATE VIEW sessions AS SELECT * FROM _sessions")
        meta_columns, meta_join = "", ""
        if manifest.get("metadata"):
            meta_path = str(self.path / manifest["metadata"]).replace("'", "''")
            con.execute(f"CREATE VIEW metadata AS SELECT * FROM read_parquet('{meta_path}')")
            columns = [r[0] for r in con.execute("DESCRIBE metadata").fetchall()]
            keys = ["session", "individual"] if "individual" in columns else ["session"]
            extra = [c for c in columns if c not in keys]
            meta_columns = "".join(f', m."{c}"' for c in extra)
            meta_join = " LEFT JOIN metadata m ON " + " AND ".join(f"s.{k} = m.{k}" for k in keys)
        for name, sql in QUESTION_VIEWS.items():
            con.execute(f'CREATE VIEW "{name}" AS ' + sql.format(meta_columns=meta_columns, meta_join=meta_join))
        return con

    def views(self) -> list[str]:
        """Names of the tables and views a query can use."""
        con = self.connect()
        try:
            return _view_names(con)
        finally:
            con.close()

    def query(self, sql: str) -> pd.DataFrame:
        """Run one read-only SQL query over the store (see :meth:`connect` for the views) and return the result.

        Only one statement that reads runs (``SELECT``, ``WITH ... SELECT``,
        ``DESCRIBE``, ``SHOW``), on a connection that cannot open files
        outside the store folder (:mod:`behaviorlab.results.safe_query`); anything
        else raises :class:`~behaviorlab.results.safe_query.QueryRefusedError` (a
        :class:`StoreError`).
        """
        con = self.connect()
        try:
            return run_read_only(con, sql, self.path)
        except duckdb.Error as exc:
            raise StoreError(f"{self.path}: the query failed: {exc}") from exc
        finally:
            con.close()

    def table(self, name: str, sessions: Sequence[str] | None = None, *, ordered: bool = False) -> pd.DataFrame:
        """One table of all (or some) sessions as a DataFrame.

        ``ordered`` sorts the rows by every column, first to last: the same
        rows then come back in the same order whatever the order the
        sessions were stored in (to compare two runs, say).
        """
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ValueError(f"unknown table {name!r}")
        con = self.connect()
        try:
            views = set(_view_names(con))
            if name not in views:
                raise StoreError(f"{self.path}: no table {name!r}; tables: {sorted(views)}")
            sql = f'SELECT * FROM "{name}"'
            if sessions is not None:
                con.register("_wanted", pd.DataFrame({"session": [str(s) for s in sessions]}))
                sql += " WHERE session IN (SELECT session FROM _wanted)"
            if ordered:
                sql += " ORDER BY ALL"
            return con.execute(sql).df()
        finally:
            con.close()

    def classifier_quality(self, floor: float = 0.5) -> pd.DataFrame:
        """Each classifier behavior's F1 on the stored held-out decisions, pooled over sessions, against ``floor``.

        ``behaviorlab run`` stores the out-of-fold decisions of the annotated
        sessions (a model that never saw the session made them), so these are
        held-out scores.

        Returns
        -------
        pandas.DataFrame
            ``behavior, f1, precision, recall, sessions, below_floor``; empty
            when no session has classifier counts.
        """
        frames = self.classifier_counts()["classifier_frames"]
        columns = ["behavior", "f1", "precision", "recall", "sessions", "below_floor"]
        if frames.empty:
            return pd.DataFrame(columns=columns)
        pooled = frames.groupby("behavior", sort=True).agg(
            tp=("tp", "sum"), fp=("fp", "sum"), fn=("fn", "sum"), sessions=("session", "nunique")
        )
        with np.errstate(invalid="ignore", divide="ignore"):
            pooled["precision"] = pooled["tp"] / (pooled["tp"] + pooled["fp"])
            pooled["recall"] = pooled["tp"] / (pooled["tp"] + pooled["fn"])
            pooled["f1"] = 2 * pooled["tp"] / (2 * pooled["tp"] + pooled["fp"] + pooled["fn"])
        pooled["below_floor"] = ~(pooled["f1"] >= floor)  # NaN (never seen): below
        return pooled.reset_index()[columns]

    def classifier_counts(self, sessions: Sequence[str] | None = None) -> dict[str, pd.DataFrame]:
        """Return the classifier count tables of some (or all) sessions, summed over them in DuckDB.

        What :func:`behaviorlab.results.scoring.counts_from_tables` needs for pooled
        scores, without reading every session's rows into memory.

        Returns
        -------
        dict of str to pandas.DataFrame
            ``classifier_frames`` per session (with ``with_probability``:
            whether the session has ``classifier_pr`` rows), and
            ``classifier_pr``, ``classifier_confusion``,
            ``classifier_raters`` summed over the sessions (no ``session``
            column); empty tables when no session has them.
        """
        con = self.connect()
        try:
            where = ""
            if sessions is not None:
                con.register("_wanted", pd.DataFrame({"session": [str(s) for s in sessions]}))
                where = " WHERE session IN (SELECT session FROM _wanted)"
            sums = {
                "classifier_pr": ("behavior, threshold", "positives, negatives"),
                "classifier_confusion": ("truth, pred", "frames"),
                "classifier_raters": ("rater_a, rater_b, behavior", "tp, fp, fn, tn"),
            }
            out = {
                "classifier_frames": con.execute(
                    "SELECT f.*, f.session IN (SELECT DISTINCT session FROM classifier_pr) AS with_probability "
                    f"FROM classifier_frames f{where}"
                ).df()
            }
            for name, (keys, values) in sums.items():
                summed = ", ".join(f"CAST(sum({v}) AS BIGINT) AS {v}" for v in values.split(", "))
                out[name] = con.execute(f"SELECT {keys}, {summed} FROM {name}{where} GROUP BY ALL ORDER BY ALL").df()
            return out
        finally:
            con.close()

    def dataset(self, session: str, variables: Sequence[str] | None = None) -> xr.Dataset:
        """Read the netCDF Dataset kept for a session (only ``variables`` of it, with its coords, when given)."""
        entry = self.session_info(session)
        if not entry.get("dataset"):
            raise StoreError(f"{self.path}: session {session!r} was stored without its Dataset")
        return load_netcdf(self.path / entry["folder"] / entry["dataset"], select=variables)

    def __repr__(self) -> str:
        return f"ResultsStore({str(self.path)!r}, sessions={len(self.sessions)})"


def _sources(data: xr.Dataset) -> list[str]:
    return label_sources(data)


def _view_names(con: Any) -> list[str]:
    """Return the store views of a connection from :meth:`ResultsStore.connect` (internal relations left out)."""
    rows = con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY view_name").fetchall()
    return [r[0] for r in rows if not r[0].startswith("_")]


def _extra_columns(manifest: dict[str, Any], name: str) -> bool:
    """Whether some session wrote ``name`` with columns beyond its fixed ones (recorded at write time)."""
    return any(name in e.get("extra_columns", {}) for e in manifest["sessions"].values())
