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

:func:`load_annotations` reads annotation files into the **label array**: a
bool DataArray named ``labels`` with dims ``(time, individual, behavior)``,
and a leading ``rater`` dim when the source format has a rater column
(interval tables with a ``rater`` / ``observer`` / ``Experimenter`` column,
per-frame tables with a ``rater`` column), however many raters appear.
Conventions of the reader:

- times are compared with frame starts up to ``time_tolerance`` (0.5 ms by
  default, half the 1 ms resolution of BORIS exports), so a time written as
  ``4.967`` for ``149 / 30 = 4.96667`` still starts frame 149 and
  :func:`write_boris_csv` followed by :func:`load_annotations` gives back the
  same frames;
- a bout shorter than one frame that contains no frame start marks no frame;
- a ``POINT`` event at time ``t`` has no duration: it marks the one frame that
  contains ``t`` (``f / fps <= t < (f + 1) / fps``) and is also listed in the
  ``point_events`` attr (JSON);
- an event without subject (empty, or BORIS's ``"No focal subject"``) belongs
  to ``no_focal_subject`` if given, else to the only individual when there is
  exactly one (``individuals`` of length 1, or one named subject in the file,
  or ``individual_0`` when the file names none); with several it is an error;
- without ``n_frames`` the video length is the end of the last label (the
  number of rows for per-frame tables); with ``n_frames`` a label past the end
  is an error, or with ``clip=True`` labels starting at or after the end are
  dropped and labels crossing it are cut at the end.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from behaviorlab._atomic import atomic_path
from behaviorlab.errors import BehaviorlabError, FileFormatError, SchemaError
from behaviorlab.io._annotation_readers import (
    ANNOTATION_FORMATS,
    DEFAULT_INDIVIDUAL,
    Bout,
    Clock,
    Parsed,
    detect_annotation_format,
    list_boris_observations,
    parse_boris_csv,
    parse_boris_project,
    parse_frame_table,
    parse_intervals,
    unique,
    who,
)
from behaviorlab.schema import check_dims, check_fps, is_missing_label, log_step

__all__ = [
    "ANNOTATION_FORMATS",
    "BORIS_COLUMNS",
    "DEFAULT_INDIVIDUAL",
    "bouts_to_events",
    "consensus",
    "detect_annotation_format",
    "labels_to_bouts",
    "labels_to_frame_table",
    "list_boris_observations",
    "load_annotations",
    "write_boris_csv",
]

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
        column = [None if is_missing_label(v) else str(v) for v in arr[:, j]]
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
                "" if is_missing_label(cat) else str(cat),
                "" if is_missing_label(com) else str(com),
                str(status),
            ]
        )
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\r\n").writerows(lines)
    return path


# ----------------------------------------------------------------- the label array
def _names(values: Sequence[str] | None, what: str) -> list[str] | None:
    if values is None:
        return None
    if isinstance(values, str):
        raise SchemaError(f"{what} must be a sequence of names, got the single string {values!r}")
    names = [str(v) for v in np.asarray(values, dtype=object).ravel().tolist()]
    if len(set(names)) != len(names):
        raise SchemaError(f"{what} must be unique, got {names}")
    return names


def _resolve_subjects(
    parsed: Parsed, path: Path, individuals: list[str] | None, no_focal_subject: str | None
) -> tuple[list[Bout], list[str]]:
    bouts = parsed.bouts
    if individuals is not None:
        known = individuals
        unknown = [s for s in parsed.subjects if s not in known]
        if unknown:
            first = next((f" ({b.where})" for b in bouts if b.subject == unknown[0]), "")
            raise FileFormatError(
                path,
                f"unknown subject {unknown[0]!r}{first}; the individuals are {known}: "
                "pass individuals= naming every subject of the file (e.g. the pose file's individuals)",
            )
    else:
        known = unique([*parsed.configured_subjects, *parsed.subjects])
        if no_focal_subject is not None and no_focal_subject not in known:
            known.append(no_focal_subject)
    unassigned = [b for b in bouts if b.subject is None]
    if unassigned:
        if no_focal_subject is not None:
            if no_focal_subject not in known:
                raise SchemaError(f"no_focal_subject={no_focal_subject!r} is not one of the individuals {known}")
            target = no_focal_subject
        elif len(known) == 1:
            target = known[0]
        elif not known:
            target = DEFAULT_INDIVIDUAL
        else:
            b = unassigned[0]
            raise FileFormatError(
                path,
                f"{b.where}: {b.behavior!r} has no focal subject and there are several individuals {known}; "
                "pass no_focal_subject= to say whose behavior it is",
            )
        bouts = [b._replace(subject=target) if b.subject is None else b for b in bouts]
        known = known or [target]
    return bouts, known or [DEFAULT_INDIVIDUAL]


def _resolve_behaviors(
    parsed: Parsed, bouts: list[Bout], path: Path, behaviors: list[str] | None, unknown: str
) -> tuple[list[Bout], list[str]]:
    if behaviors is None:
        return bouts, unique([*parsed.behaviors, *(b.behavior for b in bouts)])
    extra = [b for b in unique(b.behavior for b in bouts) if b not in behaviors]
    if not extra or unknown == "keep":
        return bouts, behaviors + extra
    if unknown == "drop":
        return [b for b in bouts if b.behavior in behaviors], behaviors
    first = next(b for b in bouts if b.behavior == extra[0])
    raise FileFormatError(
        path,
        f"behavior(s) {extra} are not in behaviors={behaviors} (first at {first.where}); "
        "pass unknown_behaviors='keep' to add them or 'drop' to ignore them",
    )


def _fit_length(bouts: list[Bout], path: Path, n: int, fps: float, clip: bool) -> list[Bout]:
    kept = []
    for b in bouts:
        rater = "" if b.rater is None else f" (rater {b.rater!r})"
        if b.start < 0:
            raise FileFormatError(
                path, f"{b.where}: {b.behavior!r} for {who(b.subject)}{rater} starts at {b.start_s:.3f} s, before 0"
            )
        if b.stop > n:
            if not clip:
                when = f"at {b.start_s:.3f} s" if b.point else f"from {b.start_s:.3f} s to {b.stop_s:.3f} s"
                raise FileFormatError(
                    path,
                    f"{b.where}: {b.behavior!r} for {who(b.subject)}{rater} {when} is past the end of the video "
                    f"({n} frames = {n / fps:.3f} s at {fps:g} fps); check the frame rate (--fps, or the sessions "
                    "table's fps column), or clip the labels to the video (--clip on the command line, "
                    "annotations.clip: true in a project config)",
                )
            if b.start >= n:
                continue
            b = b._replace(stop=n)
        kept.append(b)
    return kept


def _build_labels(
    parsed: Parsed,
    path: Path,
    fmt: str,
    *,
    fps: float,
    n_frames: int | None,
    individuals: list[str] | None,
    behaviors: list[str] | None,
    unknown_behaviors: str,
    clip: bool,
    no_focal_subject: str | None,
) -> xr.DataArray:
    bouts, subjects = _resolve_subjects(parsed, path, individuals, no_focal_subject)
    bouts, names = _resolve_behaviors(parsed, bouts, path, behaviors, unknown_behaviors)
    if n_frames is None:
        n_frames = parsed.n_frames if parsed.n_frames is not None else max((b.stop for b in bouts), default=0)
    bouts = _fit_length(bouts, path, n_frames, fps, clip)
    raters = parsed.raters if parsed.has_rater else []
    lead = (len(raters),) if parsed.has_rater else ()
    data = np.zeros((*lead, n_frames, len(subjects), len(names)), dtype=bool)
    s_index, b_index, r_index = ({v: i for i, v in enumerate(x)} for x in (subjects, names, raters))
    points = []
    for b in bouts:
        where = (r_index[b.rater],) if parsed.has_rater else ()
        data[(*where, slice(b.start, b.stop), s_index[b.subject], b_index[b.behavior])] = True
        if b.point:
            point = {"time_s": b.start_s, "frame": b.start, "individual": b.subject, "behavior": b.behavior}
            points.append(point if b.rater is None else {**point, "rater": b.rater})
    coords: dict[str, Any] = {
        "time": np.arange(n_frames, dtype=np.float64) / fps,
        "individual": subjects,
        "behavior": names,
    }
    dims = ("time", "individual", "behavior")
    if parsed.has_rater:
        coords["rater"] = raters
        dims = ("rater", *dims)
    attrs: dict[str, Any] = {
        "fps": fps,
        "time_unit": "seconds",
        "source_file": str(path),
        "source_format": fmt,
        **{k: v for k, v in parsed.attrs.items() if v is not None},
        "log": "[]",
    }
    if points:
        attrs["point_events"] = json.dumps(points)
    # the animals the file speaks of (its events' subjects, the subjects a BORIS project lists); another
    # individual of the session was not annotated: its frames are unknown, not "never did it"
    named = unique([*parsed.configured_subjects, *(b.subject for b in parsed.bouts if b.subject is not None)])
    attrs["annotated_individuals"] = json.dumps(named)
    return xr.DataArray(data, dims=dims, coords=coords, name="labels", attrs=attrs)


def _parse(
    path: Path,
    format: str | None,
    fps_: float,
    time_tolerance: float,
    media: Any,
    time_unit: str | None,
    behaviors: Sequence[str] | None,
) -> tuple[str, Any]:
    """Detect the format of an annotation file and parse its events (the part that reads the file)."""
    fmt = format or detect_annotation_format(path)
    clock = Clock(fps_, time_tolerance)
    behavior_names = _names(behaviors, "behaviors")
    if fmt in ("boris_tabular", "boris_aggregated"):
        parsed = parse_boris_csv(path, fmt, clock, media)
    elif fmt == "boris_project":
        parsed = parse_boris_project(path, clock, media)
    elif fmt == "intervals":
        parsed = parse_intervals(path, clock, time_unit)
    else:
        parsed = parse_frame_table(path, clock, behavior_names, simba=fmt == "simba")
    return fmt, parsed


def load_annotations(
    path: str | Path,
    *,
    fps: float,
    n_frames: int | None = None,
    individuals: Sequence[str] | None = None,
    behaviors: Sequence[str] | None = None,
    format: str | None = None,
    media: str | Path | None = None,
    clip: bool = False,
    unknown_behaviors: str = "keep",
    no_focal_subject: str | None = None,
    time_unit: str | None = None,
    time_tolerance: float = 5e-4,
) -> xr.DataArray:
    """Read behavior annotations into a per-frame label array aligned to the video's frames.

    Supported formats (``format``, detected by :func:`detect_annotation_format`
    when omitted):

    - ``"boris_tabular"``: BORIS "tabular events" export (CSV or TSV; the
      metadata block before the header row is skipped, observation id and
      ``Time offset (s)`` are read from it; event times minus the offset are
      media times), one ``START`` / ``STOP`` /
      ``POINT`` row per event, column ``Status`` (BORIS 7) or
      ``Behavior type`` (BORIS 8); rows need not be sorted. START/STOP are
      paired per subject, behavior and modifier columns, as BORIS does;
    - ``"boris_aggregated"``: BORIS "aggregated events" export, one row per
      bout with ``Start (s)``, ``Stop (s)`` and ``Behavior type``
      (``STATE`` / ``POINT``);
    - ``"boris_project"``: a BORIS project file (``.boris``, JSON); behaviors
      are the ethogram codes, in ethogram order, each state event toggles
      START/STOP, and ethogram "Point event" types are POINT events;
    - ``"intervals"``: one row per bout with a behavior column (``behavior``,
      ``type``, ``label``, ...), start and stop columns (``from``/``to``,
      ``start``/``stop``, ``start_frame``/``stop_frame``, ...), optionally a
      subject column (``subject``, ``individual``, ``animal``) and a rater
      column (``rater``, ``observer``, ``experimenter``, ``annotator``,
      ``scorer``, ``coder``). Times are in seconds unless the start column
      name holds ``frame`` or ``time_unit="frames"``; frame intervals are
      ``[start, stop)`` (stop exclusive, as :func:`labels_to_bouts`).
      Overlapping bouts of one behavior are merged;
    - ``"frame_labels"``: one row per frame (and subject / rater), either with
      one label column (``behavior``, ``label``, ...; one name per row, empty =
      none; several rows for one frame are allowed) or one 0/1 column per
      behavior; the frame is the ``frame`` column, else ``round(time_s * fps)``,
      else the row order; optional ``individual`` and ``rater`` columns;
    - ``"simba"``: a SimBA targets / machine-results table: the first
      (unnamed) column is the frame, each classifier is a 0/1 column. The
      classifier columns are ``behaviors`` when given (other columns are
      features and ignored), else the columns ``X`` that have a
      ``Probability_X`` partner, else every 0/1 column that is not a pose
      column (``*_x``, ``*_y``, ``*_p``). SimBA labels have no subject: they
      go to the one individual (see ``no_focal_subject``).

    Parameters
    ----------
    path
        Annotation file.
    fps
        Frame rate of the video (and of the pose data the labels go with).
        Frame ``f`` covers ``[f / fps, (f + 1) / fps)``; a state event from
        ``START`` to ``STOP`` marks the frames with ``START <= f / fps < STOP``.
    n_frames
        Number of frames of the video. A label past the end raises
        :class:`~behaviorlab.errors.FileFormatError` naming the row, subject,
        behavior and time (see ``clip``). Default: the end of the last label
        (the number of frames for per-frame tables).
    individuals
        The expected subjects, in order (e.g. the pose file's individuals); a
        subject of the file not among them is an error. Default: the subjects
        of the file in order of appearance (a BORIS project's subject list
        first), or ``["individual_0"]`` when the file names none.
    behaviors
        Order of the behavior axis; behaviors absent from the file are all-False
        columns. Behaviors of the file not listed are handled by
        ``unknown_behaviors``. Default: the behaviors of the file in order of
        appearance (ethogram or column order where the file has one).
    format
        Force a format (one of :data:`ANNOTATION_FORMATS`).
    media
        Choose one observation of a BORIS file with several (observation id,
        or media file path, name or stem); required when there are several.
    clip
        With ``n_frames``: drop labels that start at or after the end, cut those
        that cross it, instead of raising.
    unknown_behaviors
        ``"keep"`` (append, after ``behaviors``, the other behaviors that label
        at least one frame), ``"drop"`` or ``"error"``.
    no_focal_subject
        Individual that gets events without subject (BORIS "No focal subject"
        or an empty subject, files without subject column). Default: the only
        individual, if there is exactly one.
    time_unit
        ``"s"`` or ``"frames"`` for interval tables; detected from the column
        names when omitted.
    time_tolerance
        Seconds within which a time counts as equal to a frame start (default
        0.5 ms, the rounding of 3-decimal exports); must be below half a frame.

    Returns
    -------
    xarray.DataArray
        Bool array named ``labels``, dims ``(time, individual, behavior)``, or
        ``(rater, time, individual, behavior)`` when the format has a rater
        column (whatever the number of raters); ``time`` in seconds
        (``frame / fps``); attrs ``fps``, ``time_unit``, ``source_file``,
        ``source_format``, ``observation_id`` (BORIS), ``point_events`` (JSON
        list of ``time_s, frame, individual, behavior[, rater]``, only when
        there are POINT events) and ``log``.

    Raises
    ------
    FileFormatError
        Unreadable file, START without STOP, a second START before the STOP,
        STOP without START, an unknown subject, a label outside the video, an
        ambiguous BORIS observation.
    """
    path = Path(path)
    fps_ = check_fps(fps)
    if fps_ is None:
        raise SchemaError("fps is required to align annotations with video frames")
    if not 0 <= time_tolerance * fps_ < 0.5:
        raise ValueError(f"time_tolerance must be >= 0 and below half a frame (0.5 / fps), got {time_tolerance}")
    if unknown_behaviors not in ("keep", "drop", "error"):
        raise ValueError(f"unknown_behaviors must be 'keep', 'drop' or 'error', got {unknown_behaviors!r}")
    if n_frames is not None and (int(n_frames) != n_frames or n_frames < 0):
        raise ValueError(f"n_frames must be an integer >= 0, got {n_frames!r}")
    if not path.is_file():
        raise FileFormatError(path, "annotation file not found")
    if format is not None and format not in ANNOTATION_FORMATS:
        raise ValueError(f"format must be one of {ANNOTATION_FORMATS}, got {format!r}")
    try:
        fmt, parsed = _parse(path, format, fps_, float(time_tolerance), media, time_unit, behaviors)
    except BehaviorlabError:
        raise
    except (csv.Error, KeyError, IndexError, ValueError, TypeError, OverflowError) as err:  # a damaged file
        raise FileFormatError(path, f"cannot parse it ({type(err).__name__}: {err})") from None
    behavior_names = _names(behaviors, "behaviors")
    labels = _build_labels(
        parsed,
        path,
        fmt,
        fps=fps_,
        n_frames=None if n_frames is None else int(n_frames),
        individuals=_names(individuals, "individuals"),
        behaviors=behavior_names,
        unknown_behaviors=unknown_behaviors,
        clip=clip,
        no_focal_subject=no_focal_subject,
    )
    return log_step(
        labels,
        "load_annotations",
        path=str(path),
        format=fmt,
        fps=fps_,
        n_frames=n_frames,
        media=None if media is None else str(media),
        clip=clip,
    )


def consensus(labels: xr.DataArray, min_raters: int) -> xr.DataArray:
    """Labels that at least ``min_raters`` raters agree on.

    Parameters
    ----------
    labels
        Bool label array with a ``rater`` dim, e.g. ``(rater, time, individual, behavior)``.
    min_raters
        How many raters must mark a frame (1 = union, the number of raters =
        intersection, ``n // 2 + 1`` = majority).

    Returns
    -------
    xarray.DataArray
        Bool array without the ``rater`` dim, named ``labels``, same attrs
        plus the step in ``log``.
    """
    check_dims(labels, ["rater"], name="labels")
    n = labels.sizes["rater"]
    if int(min_raters) != min_raters or not 1 <= min_raters <= n:
        raise ValueError(f"min_raters must be an integer from 1 to the number of raters ({n}), got {min_raters!r}")
    out = labels.astype(np.int64).sum("rater") >= int(min_raters)
    out.name = "labels"
    out.attrs = dict(labels.attrs)
    return log_step(out, "consensus", min_raters=int(min_raters), raters=[str(r) for r in labels["rater"].values])


def labels_to_frame_table(labels: xr.DataArray) -> pd.DataFrame:
    """Per-frame table of a label array: one row per frame and individual (and rater), one 0/1 column per behavior.

    ``load_annotations`` reads the table back (format ``"frame_labels"``)
    after ``table.to_csv(path, index=False)``.

    Parameters
    ----------
    labels
        Bool label array ``(time, individual, behavior)`` or
        ``(rater, time, individual, behavior)``.

    Returns
    -------
    pandas.DataFrame
        Columns ``[rater,] frame, time_s, individual``, then one int 0/1 column
        per behavior; rows sorted by rater, individual, frame.
    """
    check_dims(labels, ["time", "individual", "behavior"], name="labels")
    lead = ["rater"] if "rater" in labels.dims else []
    extra = set(labels.dims) - {"time", "individual", "behavior", *lead}
    if extra:
        raise SchemaError(f"labels has unexpected dims {sorted(extra)}; expected [rater,] time, individual, behavior")
    arr = labels.transpose(*lead, "individual", "time", "behavior")
    n_time, n_ind = labels.sizes["time"], labels.sizes["individual"]
    n_rows = int(np.prod([labels.sizes[d] for d in (*lead, "individual", "time")]))
    columns: dict[str, Any] = {}
    if lead:
        columns["rater"] = np.repeat([str(r) for r in labels["rater"].values], n_ind * n_time)
    columns["frame"] = np.tile(np.arange(n_time), n_rows // max(n_time, 1))
    columns["time_s"] = np.tile(labels["time"].values.astype(float), n_rows // max(n_time, 1))
    n_raters = labels.sizes["rater"] if lead else 1
    columns["individual"] = np.tile(np.repeat([str(i) for i in labels["individual"].values], n_time), n_raters)
    values = arr.values.reshape(n_rows, -1).astype(np.int64)
    for k, name in enumerate(labels["behavior"].values):
        columns[str(name)] = values[:, k]
    return pd.DataFrame(columns)
