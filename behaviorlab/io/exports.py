"""Export results for other tools: Excel workbooks, one NWB file per session, SimBA CSV.

Every writer writes through :func:`behaviorlab._atomic.atomic_path`, so a
failed write leaves no half-written file behind and an existing file is only
replaced by a complete one.  Inputs are never modified.

- :func:`write_excel`: tables (bouts, statistics) as the sheets of one
  ``.xlsx`` workbook.
- :func:`write_session_nwb` / :func:`read_nwb_bouts`: a session's poses
  (ndx-pose, as :func:`~behaviorlab.io.save.save_poses` writes them) and its
  behavior bouts (a ``TimeIntervals`` table) in one NWB file, and the bouts
  read back.
- :func:`write_simba_csv`: per-frame labels (and poses, probabilities) in the
  layout of SimBA's machine-results CSV files.

A *bout table* has the columns :data:`BOUT_TABLE_COLUMNS` (as
:func:`behaviorlab.results.stats.bout_table` returns): ``end_frame`` is the last frame
of the bout (inclusive) and ``duration_s = (end_frame - start_frame + 1) / fps``.
Per-frame labels are a float DataArray ``(time, individual, behavior)`` with
1 where the behavior is shown, 0 where it is not and NaN where the frame's
label is unknown.
"""

from __future__ import annotations

import json
import logging
import math
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from hdmf.common import VectorData
from openpyxl.utils.exceptions import IllegalCharacterError

from behaviorlab._atomic import atomic_path
from behaviorlab.errors import FileFormatError, SchemaError
from behaviorlab.io.save import nwb_file
from behaviorlab.schema import BOUT_COLUMNS, as_poses

__all__ = [
    "BOUT_TABLE_COLUMNS",
    "EXCEL_MAX_COLUMNS",
    "EXCEL_MAX_ROWS",
    "NWB_BOUTS_TABLE",
    "read_nwb_bouts",
    "write_excel",
    "write_session_nwb",
    "write_simba_csv",
]

logger = logging.getLogger(__name__)

#: Columns of a bout table, in order (:func:`behaviorlab.results.stats.bout_table`).
BOUT_TABLE_COLUMNS: tuple[str, ...] = tuple(BOUT_COLUMNS)
_BOUT_TEXT = ("individual", "source", "behavior")
_BOUT_FRAMES = ("start_frame", "end_frame")

#: Data rows an Excel sheet holds below its header row (1,048,576 rows in all).
EXCEL_MAX_ROWS = 1_048_575
#: Columns an Excel sheet holds.
EXCEL_MAX_COLUMNS = 16_384
_EXCEL_MAX_SHEET_NAME = 31
_EXCEL_BAD_CHARS = re.compile(r"[\[\]:*?/\\]")

#: Name of the ``TimeIntervals`` table that holds the bouts in a session NWB file.
NWB_BOUTS_TABLE = "behavior_bouts"
_NWB_BOUT_DESCRIPTIONS = {
    "individual": "the animal showing the behavior",
    "source": "what labeled the frames (classifier, annotation, HMM state, map region)",
    "behavior": "behavior name",
    "start_frame": "first frame of the bout, 0-based",
    "end_frame": "last frame of the bout, 0-based and inclusive",
    "truncated": "the bout touches the start or end of the recording or a frame of unknown label",
}
_NWB_FILE_FIELDS = (
    "experimenter",
    "experiment_description",
    "institution",
    "lab",
    "protocol",
    "keywords",
    "related_publications",
    "pharmacology",
    "surgery",
    "virus",
    "stimulus_notes",
    "data_collection",
)
_NWB_SUBJECT_FIELDS = (
    "subject_id",
    "species",
    "sex",
    "age",
    "genotype",
    "strain",
    "weight",
    "date_of_birth",
    "description",
)
_NWB_SCORER = "behaviorlab"


# --------------------------------------------------------------------------- Excel
def _excel_sheet_names(names: Sequence[Any]) -> list[str]:
    """Excel-safe, unique (ignoring case, as Excel does) sheet names for ``names``, in order."""
    used: set[str] = set()
    out = []
    for raw in names:
        base = _EXCEL_BAD_CHARS.sub("_", str(raw)).strip("'") or "Sheet"
        if base.casefold() == "history":  # reserved by Excel
            base += "_"
        candidate = base[:_EXCEL_MAX_SHEET_NAME].rstrip("'") or "Sheet"
        n = 1
        while candidate.casefold() in used:
            n += 1
            tag = f"~{n}"
            candidate = base[: _EXCEL_MAX_SHEET_NAME - len(tag)] + tag
        used.add(candidate.casefold())
        out.append(candidate)
    return out


def _naive_utc(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:  # pandas.Timestamp is a datetime too
        return pd.Timestamp(value).tz_convert("UTC").tz_localize(None)
    return value


def _excel_frame(path: Path, name: str, table: pd.DataFrame) -> pd.DataFrame:
    """Check one table fits a sheet and return it with what Excel cannot hold converted."""
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"{path}: table {name!r} must be a pandas DataFrame, got {type(table).__name__}")
    if isinstance(table.columns, pd.MultiIndex):
        raise FileFormatError(
            path,
            f"table {name!r} has MultiIndex columns, which cannot be written without the index; "
            "flatten them first, e.g. df.columns = ['_'.join(map(str, c)) for c in df.columns]",
        )
    out = table.reset_index() if any(n is not None for n in table.index.names) else table.copy(deep=False)
    if len(out) > EXCEL_MAX_ROWS:
        raise FileFormatError(
            path,
            f"table {name!r} has {len(out):,} rows, more than an Excel sheet holds ({EXCEL_MAX_ROWS:,} "
            "below the header); export it as CSV or Parquet instead",
        )
    if out.shape[1] > EXCEL_MAX_COLUMNS:
        raise FileFormatError(
            path,
            f"table {name!r} has {out.shape[1]:,} columns, more than an Excel sheet holds "
            f"({EXCEL_MAX_COLUMNS:,}); export it as CSV or Parquet instead",
        )
    for i in range(out.shape[1]):
        column = out.iloc[:, i]
        if isinstance(column.dtype, pd.DatetimeTZDtype):
            out.isetitem(i, column.dt.tz_convert("UTC").dt.tz_localize(None))
        elif column.dtype == object:
            out.isetitem(i, column.map(_naive_utc))
    return out


def write_excel(tables: Mapping[str, pd.DataFrame], path: str | Path) -> Path:
    """Write tables as the sheets of one Excel workbook (``.xlsx``), atomically.

    Parameters
    ----------
    tables
        Sheet name -> table, written in this order.  Names are made
        Excel-safe: the characters ``[]:*?/`` and backslash become ``_``, names are cut to
        31 characters and names that then clash (Excel ignores case) get a
        ``~2``, ``~3``, ... suffix.  The row index is not written, unless it
        is named (then its levels become the first columns).  An empty table
        gives a sheet with only the header row.  Timezone-aware datetimes
        are written as naive UTC, because Excel cannot hold a timezone.
    path
        Destination ``.xlsx`` file; replaced only when the whole workbook is
        written.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    FileFormatError
        ``path`` does not end in ``.xlsx``; ``tables`` is empty; a table has
        more than :data:`EXCEL_MAX_ROWS` rows (export it as CSV or Parquet),
        too many columns or MultiIndex columns; or a value cannot be written
        (such as a control character in a string).  Nothing is written.
    """
    path = Path(path)
    if path.suffix.lower() != ".xlsx":
        raise FileFormatError(path, f"Excel workbooks are written as .xlsx, not {path.suffix!r}; rename the file")
    if not tables:
        raise FileFormatError(path, "no tables to write; an Excel workbook needs at least one sheet")
    names = [str(n) for n in tables]
    frames = [_excel_frame(path, name, table) for name, table in zip(names, tables.values(), strict=True)]
    sheets = _excel_sheet_names(names)

    with atomic_path(path) as tmp, pd.ExcelWriter(tmp, engine="openpyxl") as writer:
        for name, sheet, frame in zip(names, sheets, frames, strict=True):
            try:
                frame.to_excel(writer, sheet_name=sheet, index=False)
            except (ValueError, TypeError, IllegalCharacterError) as exc:
                raise FileFormatError(
                    path, f"table {name!r} (sheet {sheet!r}) cannot be written to Excel: {exc}"
                ) from exc
    logger.info("wrote %d tables to %s", len(frames), path)
    return path


# --------------------------------------------------------------------------- NWB
def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _checked_bouts(path: Path, bouts: pd.DataFrame, session: str, fps: float | None) -> dict[str, np.ndarray]:
    """Check a bout table and return the columns of its NWB table (start_time, stop_time, extras)."""
    if not isinstance(bouts, pd.DataFrame):
        raise TypeError(f"{path}: bouts must be a pandas DataFrame, got {type(bouts).__name__}")
    missing = [c for c in BOUT_TABLE_COLUMNS if c != "session" and c not in bouts.columns]
    if missing:
        raise SchemaError(
            f"{path}: the bout table lacks the column(s) {missing}; it needs {list(BOUT_TABLE_COLUMNS)} "
            "(behaviorlab.results.stats.bout_table makes one)"
        )
    if "session" in bouts.columns:
        others = sorted({str(s) for s in bouts["session"] if not _is_missing(s) and str(s) != session})
        if others:
            raise ValueError(
                f"{path}: the bout table holds session(s) {others} besides {session!r}; "
                f"write one file per session, e.g. bouts[bouts['session'] == {session!r}]"
            )
    columns: dict[str, np.ndarray] = {}
    for name in _BOUT_TEXT:
        values = bouts[name].tolist()
        if any(_is_missing(v) for v in values):
            raise SchemaError(f"{path}: the bout table's {name!r} column has missing values; fill them in first")
        columns[name] = np.array([str(v) for v in values], dtype=str)
    for name in _BOUT_FRAMES:
        values = pd.to_numeric(bouts[name], errors="coerce").to_numpy(dtype=float)
        if not np.all(np.isfinite(values)) or not np.all(values == np.round(values)):
            raise SchemaError(f"{path}: the bout table's {name!r} column must hold whole frame numbers")
        columns[name] = values.astype(np.int64)
    if np.any(columns["end_frame"] < columns["start_frame"]):
        raise SchemaError(f"{path}: some bouts end before they start (end_frame < start_frame)")
    truncated = bouts["truncated"].tolist()
    if not all(isinstance(v, bool | np.bool_ | int | np.integer) and v in (0, 1) for v in truncated):
        raise SchemaError(f"{path}: the bout table's 'truncated' column must hold True/False (no missing values)")
    columns["truncated"] = np.array([bool(v) for v in truncated], dtype=bool)
    start = pd.to_numeric(bouts["start_s"], errors="coerce").to_numpy(dtype=float)
    duration = pd.to_numeric(bouts["duration_s"], errors="coerce").to_numpy(dtype=float)
    unknown = ~np.isfinite(start) | ~np.isfinite(duration)
    if unknown.any():
        if fps is None:
            raise SchemaError(
                f"{path}: {int(unknown.sum())} bouts have no start_s/duration_s and the frame rate is "
                "unknown; NWB intervals are in seconds, so pass fps="
            )
        start = np.where(unknown, columns["start_frame"] / fps, start)
        duration = np.where(unknown, (columns["end_frame"] - columns["start_frame"] + 1) / fps, duration)
    return {"start_time": start, "stop_time": start + duration, **columns}


def _timestamp(path: Path, key: str, value: Any) -> datetime | None:
    """Parse a metadata date to a timezone-aware datetime (naive times are UTC); None when missing."""
    if _is_missing(value):
        return None
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{path}: metadata[{key!r}] = {value!r} is not a date and time; use ISO 8601, "
            "e.g. '2024-05-01T10:30:00+02:00'"
        ) from exc
    if stamp is pd.NaT:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return stamp.to_pydatetime()


def _subject_fields(path: Path, metadata: Mapping[str, Any]) -> dict[str, Any]:
    """Subject fields from ``metadata``: a ``subject`` mapping, or ids and top-level fields."""
    given = metadata.get("subject")
    if isinstance(given, Mapping):
        unknown = sorted(set(map(str, given)) - set(_NWB_SUBJECT_FIELDS))
        if unknown:
            raise ValueError(
                f"{path}: metadata['subject'] has unknown field(s) {unknown}; "
                f"an NWB subject takes {list(_NWB_SUBJECT_FIELDS)}"
            )
        fields = {str(k): v for k, v in given.items() if not _is_missing(v)}
    else:
        fields = {k: metadata[k] for k in _NWB_SUBJECT_FIELDS[1:-1] if not _is_missing(metadata.get(k))}
        subject_id = given if not _is_missing(given) else metadata.get("individual")
        if not _is_missing(subject_id):
            fields["subject_id"] = subject_id
    if "date_of_birth" in fields:
        fields["date_of_birth"] = _timestamp(path, "date_of_birth", fields["date_of_birth"])
    return {k: v if k in ("weight", "date_of_birth") else str(v) for k, v in fields.items()}


def _json_safe(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


def _checked_poses_and_fps(
    path: Path, poses: xr.Dataset | None, fps: float | None
) -> tuple[xr.Dataset | None, list[str], float | None]:
    """Check the poses and the frame rate of a session: the checked poses, their individuals and the fps."""
    pose_individuals: list[str] = []
    if poses is not None:
        poses = as_poses(poses, source=f"refusing to write {path}")
        if poses.sizes["time"] == 0:
            raise FileFormatError(path, "the pose Dataset has no frames; pass poses=None to write the bouts alone")
        pose_individuals = [str(i) for i in poses["individual"].values]
        pose_fps = poses.attrs.get("fps")
        if fps is None:
            fps = pose_fps
        elif pose_fps is not None and not math.isclose(float(fps), float(pose_fps)):
            raise ValueError(f"{path}: fps={fps} disagrees with the poses' fps attr {pose_fps}")
    if fps is not None and not float(fps) > 0:
        raise ValueError(f"{path}: fps must be > 0, got {fps!r}")
    return poses, pose_individuals, float(fps) if fps is not None else None


def _nwb_subject(
    path: Path, session: str, metadata: Mapping[str, Any], individuals: list[str], pose_individuals: list[str]
) -> Any:
    """Build the NWB ``Subject`` of a one-animal session (None when nothing describes it).

    With several individuals the subject metadata is only logged as kept in the notes.
    """
    from pynwb.file import Subject  # lazy: pynwb (a second to import)

    fields = _subject_fields(path, metadata)
    subject = None
    if len(individuals) <= 1:
        only = pose_individuals[0] if len(pose_individuals) == 1 else None
        if only is not None and fields.get("subject_id", only) != only:
            raise ValueError(
                f"{path}: metadata names the subject {fields['subject_id']!r} but the poses' individual is "
                f"{only!r}; NWB readers name the individual after the subject, so make them the same"
            )
        fields.setdefault("subject_id", only or (individuals[0] if individuals else None))
        if fields["subject_id"] is None:
            del fields["subject_id"]
        subject = Subject(**fields) if fields else None
    elif fields:
        logger.warning(
            "%s: session %r has %d individuals; an NWB subject describes one animal, so the subject "
            "metadata is kept in the notes only",
            path,
            session,
            len(individuals),
        )
    return subject


def write_session_nwb(
    path: str | Path,
    *,
    session: str,
    bouts: pd.DataFrame,
    poses: xr.Dataset | None = None,
    metadata: Mapping[str, Any] | None = None,
    fps: float | None = None,
) -> Path:
    """Write one session's behavior bouts (and poses) to an NWB file, atomically.

    The bouts go into a ``pynwb.epoch.TimeIntervals`` table named
    :data:`NWB_BOUTS_TABLE` (``nwbfile.intervals["behavior_bouts"]``), one row
    per bout: ``start_time = start_s``, ``stop_time = start_s + duration_s``
    and the columns ``individual, source, behavior, start_frame, end_frame,
    truncated``.  Poses, when given, go into the ``behavior`` processing
    module through ndx-pose exactly as :func:`~behaviorlab.io.save.save_poses`
    writes them, so :func:`~behaviorlab.io.load.load_poses` reads them back.

    Parameters
    ----------
    path
        Destination ``.nwb`` file; replaced only when the write succeeds.
    session
        Session name, stored as the file's ``session_id`` and in its
        description.
    bouts
        A bout table with the columns :data:`BOUT_TABLE_COLUMNS` (``session``
        may be absent; where present it must be ``session`` or missing).
        Bouts without ``start_s``/``duration_s`` get them from the frame
        numbers and ``fps``.
    poses
        Pose Dataset of the session, ``position (time, space, keypoint,
        individual)`` and ``confidence (time, keypoint, individual)``.
    metadata
        Optional session facts.  ``session_start_time`` (a datetime or ISO
        8601 string; naive times are taken as UTC; default now, UTC); the
        subject, written when the session has one individual: ``subject`` (a
        mapping of NWB subject fields, or the subject id) or ``individual``
        (the id), and ``species``, ``sex``, ``age``, ``genotype``, ``strain``,
        ``weight``, ``date_of_birth``; the NWB file fields ``experimenter``,
        ``lab``, ``institution``, ``experiment_description``, ``protocol``,
        ``keywords`` (and a few more).  Other entries are kept as JSON in the
        file's ``notes``.
    fps
        Frames per second; default the ``fps`` attr of ``poses``.  Must agree
        with it when both are given.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    SchemaError
        ``poses`` is not a valid pose Dataset, or the bout table lacks
        columns, has missing names or non-integer frames, or has bouts without
        seconds and no ``fps``.
    FileFormatError
        ``path`` does not end in ``.nwb``, or ``poses`` has no frames.
    ValueError
        The bout table holds another session, ``fps`` disagrees with the
        poses, the start time cannot be parsed or the metadata subject id
        is not the poses' one individual.
    """
    import pynwb  # lazy: pynwb (a second to import)
    from pynwb.epoch import TimeIntervals  # lazy: pynwb (a second to import)

    path = Path(path)
    if path.suffix.lower() != ".nwb":
        raise FileFormatError(path, f"NWB files end in .nwb, not {path.suffix!r}; rename the file")
    session = str(session)
    metadata = dict(metadata or {})
    poses, pose_individuals, fps = _checked_poses_and_fps(path, poses, fps)
    columns = _checked_bouts(path, bouts, session, fps)

    individuals = sorted(set(pose_individuals) | set(columns["individual"].tolist()))
    subject = _nwb_subject(path, session, metadata, individuals, pose_individuals)
    used = {"session_start_time", "subject", "individual", *_NWB_SUBJECT_FIELDS[1:-1]} if subject else set()
    used |= {"session_start_time", *_NWB_FILE_FIELDS}
    file_fields = {k: metadata[k] for k in _NWB_FILE_FIELDS if not _is_missing(metadata.get(k))}
    notes = {"session": session, "fps": fps}
    if pose_individuals:
        notes["individuals"] = pose_individuals  # load_poses restores the individual order from these
    rest = {str(k): _json_safe(v) for k, v in metadata.items() if k not in used and not _is_missing(v)}
    if rest:
        notes["metadata"] = rest
    what = "poses and behavior bouts" if poses is not None else "behavior bouts"
    description = f"session {session}: {what} of {', '.join(individuals) or 'no individual'}, written by behaviorlab"
    header = {
        "session_description": description,
        "session_start_time": _timestamp(path, "session_start_time", metadata.get("session_start_time"))
        or datetime.now(UTC),
        "session_id": session,
        "subject": subject,
        "notes": json.dumps({"behaviorlab": notes}, default=str),
        **file_fields,
    }
    if poses is not None:
        nwbfile = nwb_file(poses, scorer=_NWB_SCORER, **header)
    else:
        nwbfile = pynwb.NWBFile(identifier=str(uuid.uuid4()), **header)
    nwbfile.add_time_intervals(
        TimeIntervals(
            name=NWB_BOUTS_TABLE,
            description=f"behavior bouts of session {session}, one row per bout; times in seconds",
            columns=[
                VectorData(name=name, description=_NWB_BOUT_DESCRIPTIONS.get(name, name), data=values)
                for name, values in columns.items()
            ],
        )
    )
    with atomic_path(path) as tmp, pynwb.NWBHDF5IO(str(tmp), mode="w") as io:
        io.write(nwbfile)
    logger.info("wrote %d bouts of session %r to %s", len(columns["start_time"]), session, path)
    return path


def read_nwb_bouts(path: str | Path) -> pd.DataFrame:
    """Read the bout table of an NWB file written by :func:`write_session_nwb`.

    Parameters
    ----------
    path
        An NWB file with a :data:`NWB_BOUTS_TABLE` time-intervals table.

    Returns
    -------
    pandas.DataFrame
        The columns :data:`BOUT_TABLE_COLUMNS`: ``session`` (the file's
        ``session_id``), ``individual``, ``source``, ``behavior`` (strings),
        ``start_frame``, ``end_frame`` (int64), ``start_s`` (= ``start_time``),
        ``duration_s`` (= ``stop_time - start_time``; float64) and
        ``truncated`` (bool).

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    FileFormatError
        ``path`` is not an NWB file or has no bouts table.
    """
    import pynwb  # lazy: pynwb (a second to import)

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such NWB file")
    try:
        with pynwb.NWBHDF5IO(str(path), mode="r", load_namespaces=True) as io:
            nwbfile = io.read()
            intervals = nwbfile.intervals or {}
            if NWB_BOUTS_TABLE not in intervals:
                raise FileFormatError(
                    path,
                    f"the NWB file has no {NWB_BOUTS_TABLE!r} time intervals table "
                    f"(it has {sorted(intervals)}); write one with write_session_nwb",
                )
            table = intervals[NWB_BOUTS_TABLE]
            missing = [c for c in ("start_time", "stop_time", *_NWB_BOUT_DESCRIPTIONS) if c not in table.colnames]
            if missing:
                raise FileFormatError(path, f"the {NWB_BOUTS_TABLE!r} table lacks the column(s) {missing}")
            names = ("start_time", "stop_time", *_NWB_BOUT_DESCRIPTIONS)
            data = {name: np.asarray(table[name].data[:]) for name in names}
            session = nwbfile.session_id or _notes_session(nwbfile.notes) or nwbfile.session_description
    except FileFormatError:
        raise
    except (OSError, ValueError, KeyError) as exc:
        raise FileFormatError(path, f"could not be read as an NWB file: {exc}") from exc
    n = len(data["start_time"])
    start = data["start_time"].astype(np.float64)
    return pd.DataFrame(
        {
            "session": pd.array([str(session)] * n, dtype="str"),
            **{name: pd.array([str(v) for v in data[name]], dtype="str") for name in _BOUT_TEXT},
            **{name: data[name].astype(np.int64) for name in _BOUT_FRAMES},
            "start_s": start,
            "duration_s": data["stop_time"].astype(np.float64) - start,
            "truncated": data["truncated"].astype(bool),
        },
        columns=list(BOUT_TABLE_COLUMNS),
    )


def _notes_session(notes: str | None) -> str | None:
    try:
        return str(json.loads(notes or "")["behaviorlab"]["session"])
    except (json.JSONDecodeError, KeyError, TypeError):
        return None


# --------------------------------------------------------------------------- SimBA
def _label_array(values: Any, name: str) -> xr.DataArray:
    if not isinstance(values, xr.DataArray):
        raise SchemaError(
            f"{name} must be an xarray DataArray (time, individual, behavior), got {type(values).__name__}"
        )
    if values.ndim != 3 or set(values.dims) != {"time", "individual", "behavior"}:
        raise SchemaError(f"{name} must have the dims (time, individual, behavior), got {values.dims}")
    return values.transpose("time", "individual", "behavior")


def _names(da: xr.DataArray | xr.Dataset, dim: str) -> list[str]:
    return [str(v) for v in da[dim].values]


def _prefixed(prefix: str | None, name: str) -> str:
    return f"{prefix}_{name}" if prefix is not None else name


def write_simba_csv(
    path: str | Path,
    *,
    labels: xr.DataArray,
    poses: xr.Dataset | None = None,
    probabilities: xr.DataArray | None = None,
) -> Path:
    """Write per-frame labels as a SimBA-style machine-results CSV, atomically.

    One row per frame.  Columns, in order: ``frame`` (0-based); with
    ``poses``, ``<keypoint>_x``, ``<keypoint>_y``, ``<keypoint>_p`` for each
    keypoint (``<individual>_<keypoint>_x`` ... when there are several
    individuals; ``_z`` too for 3-D poses); then for each individual and
    behavior ``Probability_<name>`` (with ``probabilities``) and ``<name>``
    (0 or 1), where ``<name>`` is the behavior, or ``<individual>_<behavior>``
    when the labels have several individuals.  Unknown values (NaN) are
    empty cells.

    Parameters
    ----------
    path
        Destination ``.csv`` file; replaced only when the write succeeds.
    labels
        Per-frame labels, dims ``(time, individual, behavior)`` in any order:
        1 (shown), 0 (not shown) or NaN (unknown).
    poses
        Pose Dataset with the same number of frames,
        ``position (time, space, keypoint, individual)`` and
        ``confidence (time, keypoint, individual)`` (written as ``_p``).
    probabilities
        Behavior probabilities, same dims, sizes and names as ``labels``.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    SchemaError
        Wrong dims, labels other than 0/1/NaN, frame counts or names that
        disagree, or column names that would clash.
    FileFormatError
        ``path`` does not end in ``.csv``.
    """
    path = Path(path)
    if path.suffix.lower() != ".csv":
        raise FileFormatError(path, f"SimBA files are CSV; use a .csv file name, not {path.suffix!r}")
    da = _label_array(labels, "labels")
    values = da.to_numpy().astype(float)
    bad = np.isfinite(values) & (values != 0) & (values != 1)
    if bad.any():
        raise SchemaError(
            f"labels must be 1, 0 or NaN (unknown); found {np.unique(values[bad])[:5].tolist()}; "
            "threshold probabilities before writing them as labels"
        )
    n_time = da.sizes["time"]
    individuals, behaviors = _names(da, "individual"), _names(da, "behavior")
    prob = None
    if probabilities is not None:
        pa = _label_array(probabilities, "probabilities")
        if pa.shape != da.shape:
            raise SchemaError(f"probabilities have sizes {dict(pa.sizes)} but labels have {dict(da.sizes)}")
        for dim, names in (("individual", individuals), ("behavior", behaviors)):
            if _names(pa, dim) != names:
                raise SchemaError(f"probabilities have the {dim}s {_names(pa, dim)} but labels have {names}")
        prob = pa.to_numpy().astype(float)

    columns: dict[str, Any] = {"frame": np.arange(n_time, dtype=np.int64)}
    if poses is not None:
        ds = as_poses(poses, source="write_simba_csv poses")
        if ds.sizes["time"] != n_time:
            raise SchemaError(f"poses have {ds.sizes['time']} frames but labels have {n_time}; they must match")
        pose_individuals = _names(ds, "individual")
        axes = [str(s) for s in ds["space"].values]
        pos = ds["position"].to_numpy()
        conf = ds["confidence"].to_numpy()
        for i, individual in enumerate(pose_individuals):
            prefix = individual if len(pose_individuals) > 1 else None
            for k, keypoint in enumerate(_names(ds, "keypoint")):
                for s, axis in enumerate(axes):
                    columns[_prefixed(prefix, f"{keypoint}_{axis}")] = pos[:, s, k, i]
                columns[_prefixed(prefix, f"{keypoint}_p")] = conf[:, k, i]
    n_before = len(columns)
    names = []
    for i, individual in enumerate(individuals):
        prefix = individual if len(individuals) > 1 else None
        for b, behavior in enumerate(behaviors):
            name = _prefixed(prefix, behavior)
            names.append(name)
            if prob is not None:
                columns[f"Probability_{name}"] = prob[:, i, b]
            columns[name] = pd.array(np.where(np.isfinite(values[:, i, b]), values[:, i, b], np.nan), dtype="Int8")
    expected = n_before + len(names) * (2 if prob is not None else 1)
    if len(columns) != expected or len(set(names)) != len(names):
        raise SchemaError(
            f"{path}: the keypoint, individual and behavior names give clashing SimBA column names "
            f"(behavior columns {names}); rename them so each column is unique"
        )
    table = pd.DataFrame(columns)
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)
    logger.info("wrote %d frames x %d columns to %s", n_time, table.shape[1], path)
    return path
