"""Export a results store: CSV, Excel, Parquet, NWB, BORIS and SimBA files.

:func:`export_store` writes, under one output folder:

- ``csv/<table>.csv`` and ``parquet/<table>.parquet``: every table of the
  store over all sessions, plus ``sessions`` and ``metadata``;
- ``<store>.xlsx``: the same tables, one sheet each, except the per-frame
  ``frame_labels`` (too long for a spreadsheet: use CSV or Parquet);
- ``nwb/<session>.nwb``: the session's poses (ndx-pose) and its behavior
  bouts as a ``behavior_bouts`` time-interval table;
- ``boris/<session>.<source>.csv``: a BORIS tabular event export per session
  and label source (subjects are the individuals), which BORIS and
  :func:`behaviorlab.io.annotations.load_annotations` read;
- ``simba/<session>.<source>.csv``: SimBA-style per-frame files, pose columns
  then one 0/1 column (and ``Probability_`` column for classifier
  decisions) per behavior.

Every file is written atomically; an export that fails leaves the files it
had not yet replaced as they were.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd
import xarray as xr

from behaviorlab._atomic import atomic_path
from behaviorlab.io.annotations import write_boris_csv
from behaviorlab.io.exports import write_excel, write_session_nwb, write_simba_csv
from behaviorlab.results.store import QUESTION_VIEWS, ResultsStore, StoreError

__all__ = ["EXPORT_FORMATS", "export_store", "session_frame_labels"]

log = logging.getLogger(__name__)

#: Formats :func:`export_store` writes.
EXPORT_FORMATS: tuple[str, ...] = ("csv", "excel", "parquet", "nwb", "boris", "simba")

_NOT_IN_EXCEL = ("frame_labels",)


def _file_stem(name: str) -> str:
    return quote(name, safe="-_.=+,@ ")


def _tables(store: ResultsStore, con: Any, sessions: Sequence[str] | None) -> dict[str, pd.DataFrame]:
    """Every non-empty table (and sessions, metadata) of the store, optionally for some sessions only."""
    views = [r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()]
    wanted = None if sessions is None else {str(s) for s in sessions}
    out = {}
    for name in sorted(views):
        if name.startswith("_") or name in QUESTION_VIEWS:
            continue  # internal, or joins of the tables
        table = con.execute(f'SELECT * FROM "{name}"').df()
        if wanted is not None and "session" in table.columns:
            table = table[table["session"].isin(wanted)].reset_index(drop=True)
        if len(table) or name in ("sessions",):
            out[name] = table
    return out


def session_frame_labels(
    store: ResultsStore, session: str, source: str, con: Any | None = None, info: dict[str, Any] | None = None
) -> xr.DataArray:
    """Rebuild a session's per-frame labels of one source from the store's tables.

    Returns
    -------
    xarray.DataArray
        float ``(time, individual, behavior)``: 1 shown, 0 not, NaN unknown,
        with the behaviors of the ``behavior_stats`` table (never-shown ones
        included), attrs ``fps``, ``source`` and ``session``.
    """
    info = info if info is not None else store.session_info(session)
    own = con is None
    con = con or store.connect()
    try:
        params = [session, source]
        rows = con.execute(
            "SELECT individual, frame, behavior FROM frame_labels WHERE session = ? AND source = ?", params
        ).df()
        # no DISTINCT: it loses the order; a plain scan of one session's file keeps it
        names = con.execute("SELECT behavior FROM behavior_stats WHERE session = ? AND source = ?", params).df()[
            "behavior"
        ]
    finally:
        if own:
            con.close()
    behaviors = [b for b in dict.fromkeys(names.tolist())]
    individuals = info.get("individuals") or sorted(set(rows["individual"]))
    n = int(info.get("n_frames") or (rows["frame"].max() + 1 if len(rows) else 0))
    values = np.zeros((n, len(individuals), len(behaviors)), dtype=np.float32)
    ind = rows["individual"].map({v: i for i, v in enumerate(individuals)}).to_numpy()
    frame = rows["frame"].to_numpy()
    unknown = rows["behavior"].isna().to_numpy()
    values[frame[unknown], ind[unknown], :] = np.nan
    beh = rows["behavior"][~unknown].map({v: i for i, v in enumerate(behaviors)}).to_numpy()
    values[frame[~unknown], ind[~unknown], beh] = 1.0
    return xr.DataArray(
        values,
        dims=("time", "individual", "behavior"),
        coords={"individual": individuals, "behavior": behaviors},
        attrs={"fps": info.get("fps"), "source": source, "session": session},
        name="frame_labels",
    )


def _write_csv(table: pd.DataFrame, path: Path) -> Path:
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)
    return path


def _write_parquet(con: Any, name: str, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        target = str(tmp).replace("'", "''")
        con.execute(f"COPY (SELECT * FROM \"{name}\") TO '{target}' (FORMAT parquet, COMPRESSION zstd)")
    return path


def _session_metadata(tables: dict[str, pd.DataFrame], session: str) -> dict[str, Any]:
    meta = tables.get("metadata")
    if meta is None or "session" not in meta.columns:
        return {}
    rows = meta[meta["session"] == session]
    if len(rows) != 1:
        return {}
    return {k: v for k, v in rows.iloc[0].items() if not (isinstance(v, float) and np.isnan(v))}


def export_store(
    store: ResultsStore | str | Path,
    out: str | Path,
    formats: Sequence[str] = ("csv",),
    *,
    sessions: Sequence[str] | None = None,
    sources: Sequence[str] | None = None,
) -> dict[str, list[Path]]:
    """Export a results store to files other tools read.

    Parameters
    ----------
    store
        The store (or its folder).
    out
        Output folder (created).
    formats
        Any of :data:`EXPORT_FORMATS`.
    sessions
        Export these sessions only (default all).
    sources
        Label sources for the per-session BORIS and SimBA files (default
        every source of each session).

    Returns
    -------
    dict of str to list of Path
        The files written, by format.
    """
    store = store if isinstance(store, ResultsStore) else ResultsStore(store)
    unknown = sorted(set(formats) - set(EXPORT_FORMATS))
    if unknown:
        raise StoreError(f"unknown export formats {unknown}; choose from {list(EXPORT_FORMATS)}")
    infos = store.session_infos()  # one manifest read for the whole export
    names = sorted(infos) if sessions is None else [str(s) for s in sessions]
    missing = sorted(set(names) - set(infos))
    if missing:
        raise StoreError(f"{store.path}: no sessions {missing} in the store")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, list[Path]] = {f: [] for f in formats}
    con = store.connect()
    try:
        tables = _tables(store, con, sessions)
        _export_tables(store, con, tables, formats, out, sessions, written)
        bouts = tables.get("bouts", pd.DataFrame(columns=["session", "source"]))
        for session in names:
            _export_session(store, con, session, infos[session], tables, bouts, formats, sources, out, written)
    finally:
        con.close()
    log.info("exported %s to %s", {k: len(v) for k, v in written.items()}, out)
    return written


def _export_tables(
    store: ResultsStore,
    con: Any,
    tables: dict[str, pd.DataFrame],
    formats: Sequence[str],
    out: Path,
    sessions: Sequence[str] | None,
    written: dict[str, list[Path]],
) -> None:
    """Write the tables over all sessions: ``csv/``, ``parquet/`` and the Excel workbook, as ``formats`` ask."""
    if "csv" in formats:
        for name, table in tables.items():
            written["csv"].append(_write_csv(table, out / "csv" / f"{name}.csv"))
    if "parquet" in formats:
        for name, table in tables.items():
            if sessions is None:
                written["parquet"].append(_write_parquet(con, name, out / "parquet" / f"{name}.parquet"))
            else:
                path = out / "parquet" / f"{name}.parquet"
                path.parent.mkdir(parents=True, exist_ok=True)
                with atomic_path(path) as tmp:
                    table.to_parquet(tmp, index=False)
                written["parquet"].append(path)
    if "excel" in formats:
        sheets = {k: v for k, v in tables.items() if k not in _NOT_IN_EXCEL}
        written["excel"].append(write_excel(sheets, out / f"{_file_stem(store.path.name) or 'results'}.xlsx"))


def _export_session(
    store: ResultsStore,
    con: Any,
    session: str,
    info: dict[str, Any],
    tables: dict[str, pd.DataFrame],
    bouts: pd.DataFrame,
    formats: Sequence[str],
    sources: Sequence[str] | None,
    out: Path,
    written: dict[str, list[Path]],
) -> None:
    """Write one session's files: its NWB file, then the BORIS and SimBA files of each label source."""
    fps = info.get("fps")
    session_sources = info.get("sources") or sorted(set(bouts.loc[bouts["session"] == session, "source"]))
    if sources is not None:
        session_sources = [s for s in session_sources if s in set(sources)]
    dataset = store.dataset(session) if info.get("dataset") else None
    poses = dataset if dataset is not None and "position" in dataset.data_vars else None
    own_bouts = bouts[bouts["session"] == session].reset_index(drop=True)
    stem = _file_stem(session)
    if "nwb" in formats:
        path = out / "nwb" / f"{stem}.nwb"
        path.parent.mkdir(parents=True, exist_ok=True)
        metadata = _session_metadata(tables, session)
        written["nwb"].append(
            write_session_nwb(path, session=session, bouts=own_bouts, poses=poses, metadata=metadata, fps=fps)
        )
    for source in session_sources:
        if "boris" in formats:
            written["boris"].append(
                _write_boris(own_bouts, session, source, info, out / "boris" / f"{stem}.{source}.csv")
            )
        if "simba" in formats:
            labels = session_frame_labels(store, session, source, con, info)
            path = out / "simba" / f"{stem}.{source}.csv"
            written["simba"].append(_write_simba(labels, source, dataset, poses, path))


def _write_boris(own_bouts: pd.DataFrame, session: str, source: str, info: dict[str, Any], path: Path) -> Path:
    """Write the bouts of one session and label source as a BORIS tabular event export."""
    fps = info.get("fps")
    mine = own_bouts[own_bouts["source"] == source]
    events = pd.DataFrame(
        {
            "subject": mine["individual"],
            "behavior": mine["behavior"],
            "start_frame": mine["start_frame"],
            "stop_frame": mine["end_frame"] + 1,
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_boris_csv(
        events,
        path,
        fps=float(fps),
        media_file=f"{session}.mp4",
        observation_id=f"{session} ({source})",
        total_length_s=(info["n_frames"] / fps) if info.get("n_frames") else None,
        description=f"behaviorlab export of {source} bouts",
    )


def _write_simba(
    labels: xr.DataArray, source: str, dataset: xr.Dataset | None, poses: xr.Dataset | None, path: Path
) -> Path:
    """Write one session's labels of one source as a SimBA-style per-frame file (with classifier probabilities)."""
    probabilities = None
    if source == "behavior_prediction" and dataset is not None and "behavior_probability" in dataset.data_vars:
        probabilities = dataset["behavior_probability"].transpose("time", "individual", "behavior")
        probabilities = probabilities.assign_coords(time=np.arange(probabilities.sizes["time"]))
        probabilities = probabilities.sel(behavior=[str(b) for b in labels["behavior"].values])
    labels = labels.assign_coords(time=np.arange(labels.sizes["time"]))
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_simba_csv(path, labels=labels, poses=poses, probabilities=probabilities)
