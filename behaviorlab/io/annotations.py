"""Behavior annotations: per-frame labels, bouts and BORIS event files.

Three forms of the same information are used across the package:

- **per-frame labels**: one behavior name per frame and subject, an
  :class:`xarray.DataArray` with dims ``(time, individual)`` (or ``(time,)``),
  or a long table with columns ``frame, individual, behavior``; an empty
  string, ``None`` or NaN means "no behavior";
- **bouts**: a table with one row per uninterrupted run of a behavior,
  ``subject, behavior, start_frame, stop_frame`` (stop exclusive) and, when the
  frame rate is known, ``start_s, stop_s, duration_s``;
- **events**: BORIS rows ``time, subject, behavior, status`` with status
  ``START`` / ``STOP`` for state events and ``POINT`` for point events.

Frame ``f`` covers the time interval ``[f / fps, (f + 1) / fps)``.  A bout
over frames ``start_frame ... stop_frame - 1`` is therefore written as
``START`` at ``start_frame / fps`` and ``STOP`` at ``stop_frame / fps``, and a
frame belongs to a bout when ``START <= f / fps < STOP``.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from behaviorlab._atomic import atomic_path
from behaviorlab.errors import SchemaError

__all__ = ["BORIS_COLUMNS", "bouts_to_events", "labels_to_bouts", "write_boris_csv"]

#: Columns of the event table in a BORIS tabular export.
BORIS_COLUMNS: tuple[str, ...] = (
    "Time",
    "Media file path",
    "Total length",
    "FPS",
    "Subject",
    "Behavior",
    "Behavioral category",
    "Comment",
    "Status",
)
_STATUS_ORDER = {"STOP": 0, "POINT": 1, "START": 2}
_BOUT_COLUMNS = ("subject", "behavior", "start_frame", "stop_frame")


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and np.isnan(value):
        return True
    return isinstance(value, str) and value == ""


def _labels_by_subject(labels: Any) -> tuple[list[str], np.ndarray]:
    """Return subject names and a ``(frame, subject)`` object array of labels (``None`` = no behavior)."""
    if isinstance(labels, xr.DataArray):
        if labels.ndim == 1:
            if labels.dims[0] not in ("time", "frame"):
                raise SchemaError(f"1-D labels must have the dim 'time' (or 'frame'), got {labels.dims}")
            return [str(labels.name or "subject")], labels.values.astype(object)[:, None]
        if set(labels.dims) != {"time", "individual"}:
            raise SchemaError(f"per-frame labels must have dims ('time', 'individual'), got {labels.dims}")
        arr = labels.transpose("time", "individual").values.astype(object)
        return [str(v) for v in labels["individual"].values], arr
    if isinstance(labels, pd.DataFrame):
        missing = [c for c in ("frame", "behavior") if c not in labels.columns]
        if missing:
            raise SchemaError(f"a per-frame label table needs the columns 'frame' and 'behavior'; missing {missing}")
        table = labels if "individual" in labels.columns else labels.assign(individual="subject")
        subjects = list(dict.fromkeys(str(s) for s in table["individual"]))
        frames = table["frame"].to_numpy()
        if len(frames) and (frames.min() < 0 or not np.issubdtype(frames.dtype, np.integer)):
            raise SchemaError("the 'frame' column of per-frame labels must hold integers >= 0")
        n = int(frames.max()) + 1 if len(frames) else 0
        arr = np.full((n, len(subjects)), None, dtype=object)
        col = {s: j for j, s in enumerate(subjects)}
        for f, s, b in zip(frames, table["individual"], table["behavior"], strict=True):
            arr[int(f), col[str(s)]] = b
        return subjects, arr
    arr = np.asarray(labels, dtype=object)
    if arr.ndim == 1:
        return ["subject"], arr[:, None]
    if arr.ndim == 2:
        return [f"subject_{j}" for j in range(arr.shape[1])], arr
    raise SchemaError(f"per-frame labels must be 1-D or 2-D (frame, subject), got shape {arr.shape}")


def labels_to_bouts(labels: Any, *, fps: float | None = None) -> pd.DataFrame:
    """Turn per-frame labels into bouts: uninterrupted runs of one behavior per subject.

    Parameters
    ----------
    labels
        Per-frame behavior names: a DataArray ``(time, individual)`` or
        ``(time,)``, a table with columns ``frame, behavior`` and optionally
        ``individual``, or an array ``(n_frames,)`` / ``(n_frames, n_subjects)``.
        Empty strings, ``None`` and NaN mean "no behavior" and end a bout.
    fps
        Frames per second; adds ``start_s``, ``stop_s`` and ``duration_s``.
        Taken from ``labels.attrs["fps"]`` (DataArray) when omitted, if present.

    Returns
    -------
    pandas.DataFrame
        One row per bout, sorted by subject then start: ``subject``,
        ``behavior``, ``start_frame``, ``stop_frame`` (exclusive), ``n_frames``
        and, with ``fps``, ``start_s = start_frame / fps``,
        ``stop_s = stop_frame / fps``, ``duration_s``.

    Examples
    --------
    >>> labels_to_bouts(["rest", "rest", "walk", "", "walk"])[["behavior", "start_frame", "stop_frame"]].values.tolist()
    [['rest', 0, 2], ['walk', 2, 3], ['walk', 4, 5]]
    """
    if fps is None and isinstance(labels, xr.DataArray):
        fps = labels.attrs.get("fps")
    subjects, arr = _labels_by_subject(labels)
    rows: list[tuple[str, str, int, int]] = []
    for j, subject in enumerate(subjects):
        column = [None if _is_missing(v) else str(v) for v in arr[:, j]]
        start = 0
        for f in range(1, len(column) + 1):
            if f == len(column) or column[f] != column[start]:
                if column[start] is not None:
                    rows.append((subject, column[start], start, f))
                start = f
    bouts = pd.DataFrame(rows, columns=list(_BOUT_COLUMNS))
    bouts["start_frame"] = bouts["start_frame"].astype(np.int64)
    bouts["stop_frame"] = bouts["stop_frame"].astype(np.int64)
    bouts["n_frames"] = bouts["stop_frame"] - bouts["start_frame"]
    if fps is not None:
        fps = float(fps)
        if not fps > 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        bouts["start_s"] = bouts["start_frame"] / fps
        bouts["stop_s"] = bouts["stop_frame"] / fps
        bouts["duration_s"] = bouts["n_frames"] / fps
    return bouts


def bouts_to_events(bouts: pd.DataFrame) -> pd.DataFrame:
    """BORIS events (``time, subject, behavior, status``) from a bout table with ``start_s`` and ``stop_s``.

    Each bout gives a ``START`` and a ``STOP`` row; rows are sorted by time,
    with ``STOP`` before ``START`` at equal times.

    Parameters
    ----------
    bouts
        Table with columns ``subject``, ``behavior``, ``start_s``, ``stop_s``
        (as returned by :func:`labels_to_bouts` with ``fps``).

    Returns
    -------
    pandas.DataFrame
        Columns ``time``, ``subject``, ``behavior``, ``status``.
    """
    missing = [c for c in ("subject", "behavior", "start_s", "stop_s") if c not in bouts.columns]
    if missing:
        raise SchemaError(f"a bout table needs the columns subject, behavior, start_s and stop_s; missing {missing}")
    starts = bouts[["subject", "behavior"]].assign(time=bouts["start_s"].astype(float), status="START")
    stops = bouts[["subject", "behavior"]].assign(time=bouts["stop_s"].astype(float), status="STOP")
    return _sort_events(pd.concat([starts, stops], ignore_index=True)[["time", "subject", "behavior", "status"]])


def _sort_events(events: pd.DataFrame) -> pd.DataFrame:
    order = events["status"].map(_STATUS_ORDER)
    keyed = events.assign(_order=order.to_numpy())
    keyed = keyed.sort_values(["time", "_order", "subject", "behavior"], kind="mergesort")
    return keyed.drop(columns="_order").reset_index(drop=True)


def _as_events(events_or_labels: Any, fps: float) -> tuple[pd.DataFrame, float | None]:
    """Events table and the end time of the labels (if known) from any accepted input."""
    if isinstance(events_or_labels, pd.DataFrame):
        cols = set(events_or_labels.columns)
        if {"time", "status"} <= cols:
            events = events_or_labels.copy()
            bad = sorted(set(events["status"]) - set(_STATUS_ORDER))
            if bad:
                raise SchemaError(f"event status must be START, STOP or POINT, got {bad}")
            for c in ("subject", "behavior"):
                if c not in cols:
                    raise SchemaError(
                        f"an event table needs the columns time, subject, behavior, status; missing {c!r}"
                    )
            return _sort_events(events), None
        if {"start_frame", "stop_frame"} <= cols and not {"start_s", "stop_s"} <= cols:
            events_or_labels = events_or_labels.assign(
                start_s=events_or_labels["start_frame"] / fps, stop_s=events_or_labels["stop_frame"] / fps
            )
            cols = set(events_or_labels.columns)
        if {"start_s", "stop_s"} <= cols:
            return bouts_to_events(events_or_labels), None
    _, arr = _labels_by_subject(events_or_labels)
    bouts = labels_to_bouts(events_or_labels, fps=fps)
    return bouts_to_events(bouts), arr.shape[0] / fps


def _fmt_number(value: Any, digits: int = 3) -> str:
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{float(value):.{digits}f}"


def write_boris_csv(
    events_or_labels: Any,
    path: str | Path,
    *,
    fps: float,
    media_file: str | Path,
    observation_id: str,
    total_length_s: float | None = None,
    observation_date: str = "",
    description: str = "",
    independent_variables: Sequence[tuple[str, str]] = (),
) -> Path:
    """Write behavior events as a BORIS tabular event export (CSV), atomically.

    The file looks like BORIS's own "tabular events" CSV export: a metadata
    block (observation id, media file, date, description, time offset,
    independent variables), then the table
    ``Time, Media file path, Total length, FPS, Subject, Behavior, Behavioral
    category, Comment, Status`` with one ``START`` and one ``STOP`` row per
    bout (``POINT`` for point events), times in seconds with 3 decimals, rows
    sorted by time, CRLF line ends.

    Parameters
    ----------
    events_or_labels
        One of: per-frame labels (see :func:`labels_to_bouts`); a bout table
        with ``subject, behavior`` and ``start_s, stop_s`` (or
        ``start_frame, stop_frame``); or an event table with columns
        ``time, subject, behavior, status`` (status ``START``/``STOP``/``POINT``;
        optional ``category`` and ``comment``).
    path
        Destination ``.csv`` file.
    fps
        Frame rate of the media, written in the ``FPS`` column and used to turn
        frames into seconds (frame ``f`` starts at ``f / fps``).
    media_file
        Media file path written in the metadata and in every row.
    observation_id
        BORIS observation id.
    total_length_s
        Media duration in seconds (``Total length`` column); defaults to the
        length of the per-frame labels, else the last event time.
    observation_date
        Written as is (e.g. ``"2024-01-31 12:00:00"``); empty by default so
        the file depends only on its inputs.
    description
        Observation description.
    independent_variables
        ``(variable, value)`` pairs of the metadata block.

    Returns
    -------
    Path
        ``path``.
    """
    fps = float(fps)
    if not fps > 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    events, labels_end = _as_events(events_or_labels, fps)
    if total_length_s is None:
        total_length_s = labels_end if labels_end is not None else float(events["time"].max() if len(events) else 0.0)
    media = str(media_file)
    width = len(BORIS_COLUMNS)

    def row(*cells: Any) -> list[str]:
        cells_ = [str(c) for c in cells]
        return cells_ + [""] * (width - len(cells_))

    lines = [
        row("Observation id", observation_id),
        row(),
        row("Media file(s)"),
        row(),
        row("Player #1", media),
        row(),
        row("Observation date", observation_date),
        row(),
        row("Description", description),
        row(),
        row("Time offset (s)", "0.0"),
        row(),
        row("independent variables"),
        row("variable", "value"),
        *[row(name, value) for name, value in independent_variables],
        row(),
        list(BORIS_COLUMNS),
    ]
    total = _fmt_number(total_length_s)
    fps_text = str(fps)
    category = events["category"] if "category" in events.columns else [""] * len(events)
    comment = events["comment"] if "comment" in events.columns else [""] * len(events)
    for (time, subject, behavior, status), cat, com in zip(
        events[["time", "subject", "behavior", "status"]].itertuples(index=False, name=None),
        category,
        comment,
        strict=True,
    ):
        lines.append(
            [
                _fmt_number(time),
                media,
                total,
                fps_text,
                str(subject),
                str(behavior),
                "" if _is_missing(cat) else str(cat),
                "" if _is_missing(com) else str(com),
                str(status),
            ]
        )
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\r\n").writerows(lines)
    return path
