"""Readers behind :func:`behaviorlab.io.annotations.load_annotations`: format detection and per-format parsing.

Each ``_parse_*`` function turns one annotation file into a :class:`Parsed`
list of bouts ``(rater, subject, behavior, start_frame, stop_frame)``;
:mod:`behaviorlab.io.annotations` resolves subjects and behaviors and builds
the label array.  Frame ``f`` covers ``[f / fps, (f + 1) / fps)`` (see that
module's docstring for every convention).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from behaviorlab._runs import runs
from behaviorlab.errors import FileFormatError
from behaviorlab.schema import is_missing_label

# --------------------------------------------------------------------------- reading annotation files
#: Formats understood by :func:`load_annotations` (see :func:`detect_annotation_format`).
ANNOTATION_FORMATS: tuple[str, ...] = (
    "boris_tabular",
    "boris_aggregated",
    "boris_project",
    "intervals",
    "frame_labels",
    "simba",
)
#: Name of the one individual when a file names no subject (as the pose loaders name an unnamed animal).
DEFAULT_INDIVIDUAL = "individual_0"

_NO_FOCAL = ("", "no focal subject", "nan")
_RATER_COLUMNS = ("rater", "observer", "experimenter", "annotator", "scorer", "coder")
_SUBJECT_COLUMNS = ("subject", "individual", "animal")
_INTERVAL_BEHAVIOR_COLUMNS = ("behavior", "behaviour", "type", "label", "class", "event")
_LABEL_COLUMNS = ("behavior", "behaviour", "label", "class", "annotation")
_START_COLUMNS = ("from", "start", "start_s", "start (s)", "start_time", "onset", "begin", "start_frame")
_STOP_COLUMNS = ("to", "stop", "end", "stop_s", "stop (s)", "end_s", "stop_time", "end_time", "offset", "stop_frame")
_FRAME_COLUMNS = ("frame", "frame_index", "frame_idx", "unnamed: 0")
_TIME_COLUMNS = ("time", "time_s", "time (s)")
_BORIS_MEDIA_COLUMNS = ("Media file path", "Media file name", "Media file", "Source")


class Bout(NamedTuple):
    """One labeled run of frames ``[start, stop)``; a point event has ``stop = start + 1``."""

    rater: str | None
    subject: str | None  # None: no focal subject
    behavior: str
    start: int
    stop: int
    start_s: float
    stop_s: float
    point: bool
    where: str


@dataclass
class Parsed:
    bouts: list[Bout]
    has_rater: bool = False
    behaviors: list[str] = field(default_factory=list)  # declared behaviors, in order (some may have no bout)
    subjects: list[str] = field(default_factory=list)  # subjects of the data rows, in order
    configured_subjects: list[str] = field(default_factory=list)  # listed by the file but maybe unused (BORIS project)
    raters: list[str] = field(default_factory=list)  # raters of the data rows, in order
    n_frames: int | None = None  # length of a per-frame table
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Clock:
    fps: float
    tol: float

    def boundary(self, t: float) -> int:
        """Return the first frame ``f`` with ``f / fps >= t`` (up to the tolerance): where a START/STOP falls."""
        return math.ceil((t - self.tol) * self.fps)

    def frame_at(self, t: float) -> int:
        """Return the frame that contains time ``t`` (up to the tolerance): where a POINT event at ``t`` falls."""
        return math.floor((t + self.tol) * self.fps)


def _subject(value: Any) -> str | None:
    if is_missing_label(value) or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    return None if text.lower() in _NO_FOCAL else text


def unique(values: Any) -> list[Any]:
    return list(dict.fromkeys(v for v in values if v is not None))


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise FileFormatError(path, "is not a UTF-8 text file; annotation files are CSV/TSV tables or JSON") from None


def _read_head(path: Path, n_lines: int = 100) -> str:
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            return "".join(islice(fh, n_lines))
    except UnicodeDecodeError:
        raise FileFormatError(path, "is not a UTF-8 text file; annotation files are CSV/TSV tables or JSON") from None


def _delimiter(text: str) -> str:
    first = text.split("\n", 1)[0]
    return "\t" if first.count("\t") > first.count(",") else ","


def _csv_rows(text: str) -> list[tuple[int, list[str]]]:
    """``(line number, cells)`` of every row of CSV/TSV text."""
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(text))
    return [(reader.line_num, [c.strip() for c in row]) for row in reader]


def _boris_header(rows: list[tuple[int, list[str]]]) -> tuple[int, str] | None:
    """Index of the BORIS event table header and the export kind, or ``None``."""
    for i, (_, cells) in enumerate(rows):
        names = set(cells)
        if {"Subject", "Behavior"} <= names:
            if {"Start (s)", "Stop (s)"} <= names:
                return i, "boris_aggregated"
            if "Time" in names and names & {"Status", "Behavior type"}:
                return i, "boris_tabular"
    return None


def _column(columns: Sequence[Any], candidates: Sequence[str]) -> Any | None:
    """Return the first column whose lower-cased, stripped name is in ``candidates``."""
    lowered = {str(c).strip().lower(): c for c in reversed(list(columns))}
    for name in candidates:
        if name in lowered:
            return lowered[name]
    return None


def _pose_columns(columns: Sequence[Any]) -> set[Any]:
    names = {str(c) for c in columns}
    pose = set()
    for c in columns:
        text = str(c)
        if text.endswith("_x") and text[:-2] + "_y" in names:
            pose |= {c, text[:-2] + "_y", text[:-2] + "_p", text[:-2] + "_likelihood"}
    return pose & set(columns)


def detect_annotation_format(path: str | Path) -> str:
    """Guess the format of an annotation file from its name and first lines.

    Rules, in order:

    1. ``.boris`` extension, or content starting with ``{`` → ``"boris_project"``
       (BORIS project, JSON);
    2. a row holding ``Subject``, ``Behavior``, ``Start (s)`` and ``Stop (s)``
       → ``"boris_aggregated"``; a row holding ``Subject``, ``Behavior``,
       ``Time`` and ``Status`` (or ``Behavior type``) → ``"boris_tabular"``
       (the metadata block above it is skipped);
    3. a header with a start column (``from``, ``start``, ``start_s``,
       ``onset``, ``start_frame``, ...), a stop column (``to``, ``stop``,
       ``end``, ``offset``, ``stop_frame``, ...) and a behavior column
       (``behavior``, ``type``, ``label``, ``class``, ``event``) →
       ``"intervals"``;
    4. ``Probability_<name>`` columns, or pose columns ``<bodypart>_x`` /
       ``<bodypart>_y`` → ``"simba"``;
    5. any other table with a header → ``"frame_labels"``.

    Parameters
    ----------
    path
        Annotation file.

    Returns
    -------
    str
        One of :data:`ANNOTATION_FORMATS`.
    """
    path = Path(path)
    if not path.is_file():
        raise FileFormatError(path, "annotation file not found")
    if path.suffix.lower() == ".boris":
        return "boris_project"
    head = _read_head(path)
    if head.lstrip().startswith("{"):
        return "boris_project"
    rows = [r for r in _csv_rows(head) if any(r[1])]
    if not rows:
        raise FileFormatError(path, "is empty; expected a BORIS export, an interval table or a per-frame label table")
    found = _boris_header(rows)
    if found is not None:
        return found[1]
    columns = rows[0][1]
    if all(_column(columns, c) is not None for c in (_START_COLUMNS, _STOP_COLUMNS, _INTERVAL_BEHAVIOR_COLUMNS)):
        return "intervals"
    if any(c.lower().startswith("probability_") for c in columns) or _pose_columns(columns):
        return "simba"
    return "frame_labels"


# ----------------------------------------------------------------- BORIS
def _basename(p: str) -> str:
    return re.split(r"[\\/]", p)[-1]


def _media_matches(media: str | Path, observation_id: str, paths: Sequence[str]) -> bool:
    """``media`` names the observation, one of its media files (full path, file name or stem)."""
    m = str(media)
    if m == observation_id:
        return True
    name = _basename(m)
    for p in paths:
        if m == p or name == _basename(p) or name.rsplit(".", 1)[0] == _basename(p).rsplit(".", 1)[0]:
            return True
    return False


def _select_observation(path: Path, available: dict[str, list[str]], media: str | Path | None) -> str:
    """Pick one observation id from ``{id: media paths}``; errors list what is available."""
    listing = "; ".join(f"{oid!r} (media: {', '.join(map(_basename, ps)) or 'none'})" for oid, ps in available.items())
    if media is None:
        if len(available) == 1:
            return next(iter(available))
        raise FileFormatError(
            path, f"holds {len(available)} observations: {listing}; pass media= (observation id or media file name)"
        )
    matches = [oid for oid, ps in available.items() if _media_matches(media, oid, ps)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise FileFormatError(path, f"no observation matches media={str(media)!r}; available: {listing}")
    raise FileFormatError(path, f"media={str(media)!r} matches several observations {matches}; pass an observation id")


class _Event(NamedTuple):
    time: float
    subject: str | None
    behavior: str
    status: str | None  # START, STOP, POINT; None: state event toggled (BORIS project)
    key: tuple[str, ...]  # modifiers: BORIS pairs START/STOP per subject, behavior and modifiers
    where: str


def who(subject: str | None) -> str:
    return "no focal subject" if subject is None else f"subject {subject!r}"


def _pair_events(events: list[_Event], path: Path, clock: Clock) -> list[Bout]:
    """Pair START/STOP events into bouts (stable sort by time, ties in file order); POINT events mark 1 frame."""
    bouts: list[Bout] = []
    open_: dict[tuple[Any, ...], _Event] = {}
    for ev in sorted(events, key=lambda e: e.time):
        key = (ev.subject, ev.behavior, *ev.key)
        if ev.status == "POINT":
            f = clock.frame_at(ev.time)
            bouts.append(Bout(None, ev.subject, ev.behavior, f, f + 1, ev.time, ev.time, True, ev.where))
            continue
        status = ev.status or ("STOP" if key in open_ else "START")
        if status == "START":
            if key in open_:
                first = open_[key]
                raise FileFormatError(
                    path,
                    f"second START of {ev.behavior!r} for {who(ev.subject)} at {ev.time:.3f} s ({ev.where}) "
                    f"before the STOP of the START at {first.time:.3f} s ({first.where}); add the missing STOP",
                )
            open_[key] = ev
        elif status == "STOP":
            start = open_.pop(key, None)
            if start is None:
                raise FileFormatError(
                    path,
                    f"STOP of {ev.behavior!r} for {who(ev.subject)} at {ev.time:.3f} s ({ev.where}) has no START",
                )
            bouts.append(
                Bout(
                    None,
                    ev.subject,
                    ev.behavior,
                    clock.boundary(start.time),
                    clock.boundary(ev.time),
                    start.time,
                    ev.time,
                    False,
                    f"{start.where} to {ev.where}",
                )
            )
        else:
            raise FileFormatError(path, f"{ev.where}: event status must be START, STOP or POINT, got {status!r}")
    if open_:
        ev = min(open_.values(), key=lambda e: e.time)
        raise FileFormatError(
            path,
            f"START of {ev.behavior!r} for {who(ev.subject)} at {ev.time:.3f} s ({ev.where}) has no STOP; "
            "add the STOP event (BORIS: fix unpaired events) or remove the START",
        )
    return bouts


def _float(path: Path, text: Any, where: str, what: str) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value):
        raise FileFormatError(path, f"{where}: {what} must be a number, got {text!r}")
    return value


def parse_boris_csv(path: Path, fmt: str, clock: Clock, media: str | Path | None) -> Parsed:
    rows = _csv_rows(_read_text(path))
    found = _boris_header(rows)
    if found is None or found[1] != fmt:
        raise FileFormatError(path, f"no {fmt} header row (Subject, Behavior, Time/Status or Start (s)/Stop (s))")
    head, _ = found
    meta = {cells[0]: cells[1] for _, cells in rows[:head] if len(cells) >= 2 and cells[0]}
    header = rows[head][1]
    col = {name: k for k, name in reversed(list(enumerate(header)))}
    body = [(n, cells) for n, cells in rows[head + 1 :] if any(cells)]

    def cell(cells: list[str], name: str | None) -> str:
        k = col.get(name) if name is not None else None
        return cells[k] if k is not None and k < len(cells) else ""

    media_col = next((c for c in _BORIS_MEDIA_COLUMNS if c in col), None)
    obs_col = "Observation id" if "Observation id" in col else None
    default_obs = meta.get("Observation id", "")
    obs_of = [cell(cells, obs_col) or default_obs for _, cells in body]
    available: dict[str, list[str]] = {}
    for (_, cells), oid in zip(body, obs_of, strict=True):
        paths = available.setdefault(oid, [])
        p = cell(cells, media_col) or meta.get("Player #1", "")
        if p and p not in paths:
            paths.append(p)
    if not available:
        available[default_obs] = [meta["Player #1"]] if meta.get("Player #1") else []
    chosen = _select_observation(path, available, media)
    body = [row for row, oid in zip(body, obs_of, strict=True) if oid == chosen]
    offset = _float(path, meta.get("Time offset (s)") or "0", "metadata", "Time offset (s)")
    modifier_cols = [name for name in col if name.lower().startswith("modifier")]

    def where(n: int) -> str:
        return f"line {n}"

    bouts: list[Bout] = []
    behaviors = unique(cell(cells, "Behavior") for _, cells in body)
    subjects = unique(_subject(cell(cells, "Subject")) for _, cells in body)
    if fmt == "boris_tabular":
        status_col = "Status" if "Status" in col else "Behavior type"
        events = [
            _Event(
                _float(path, cell(cells, "Time"), where(n), "Time") - offset,
                _subject(cell(cells, "Subject")),
                cell(cells, "Behavior"),
                cell(cells, status_col).upper(),
                tuple(cell(cells, m) for m in modifier_cols),
                where(n),
            )
            for n, cells in body
        ]
        bouts = _pair_events(events, path, clock)
    else:
        for n, cells in body:
            subject, behavior = _subject(cell(cells, "Subject")), cell(cells, "Behavior")
            start = _float(path, cell(cells, "Start (s)"), where(n), "Start (s)") - offset
            kind = cell(cells, "Behavior type").upper()
            if kind == "POINT":
                f = clock.frame_at(start)
                bouts.append(Bout(None, subject, behavior, f, f + 1, start, start, True, where(n)))
                continue
            stop_text = cell(cells, "Stop (s)")
            if stop_text.upper() in ("", "NA", "NAN"):
                raise FileFormatError(
                    path, f"START of {behavior!r} for {who(subject)} at {start:.3f} s ({where(n)}) has no STOP"
                )
            stop = _float(path, stop_text, where(n), "Stop (s)") - offset
            if stop < start:
                raise FileFormatError(path, f"{where(n)}: Stop (s) {stop:.3f} is before Start (s) {start:.3f}")
            bouts.append(
                Bout(None, subject, behavior, clock.boundary(start), clock.boundary(stop), start, stop, False, where(n))
            )
    return Parsed(bouts, behaviors=behaviors, subjects=subjects, attrs={"observation_id": chosen})


def _load_project_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(_read_text(path))
    except json.JSONDecodeError as err:
        raise FileFormatError(path, f"is not a BORIS project (JSON): {err}") from None
    if not isinstance(data, dict) or not isinstance(data.get("observations"), dict):
        raise FileFormatError(path, "is not a BORIS project: no 'observations' object")
    return data


def _observation_media(obs: Any) -> list[str]:
    files = obs.get("file", {}) if isinstance(obs, dict) else {}
    if not isinstance(files, dict):
        return []
    return [str(p) for player in files.values() if isinstance(player, list) for p in player]


def list_boris_observations(path: str | Path) -> pd.DataFrame:
    """List the observations of a BORIS project file (``.boris``, JSON).

    Parameters
    ----------
    path
        BORIS project file.

    Returns
    -------
    pandas.DataFrame
        One row per observation: ``observation_id``, ``media`` (media file
        paths joined by ``";"``), ``n_events``, ``date``, ``description``.
    """
    path = Path(path)
    data = _load_project_json(path)
    rows = [
        (
            str(oid),
            ";".join(_observation_media(obs)),
            len(obs.get("events", [])),
            str(obs.get("date", "")),
            str(obs.get("description", "")),
        )
        for oid, obs in data["observations"].items()
    ]
    return pd.DataFrame(rows, columns=["observation_id", "media", "n_events", "date", "description"])


def parse_boris_project(path: Path, clock: Clock, media: str | Path | None) -> Parsed:
    data = _load_project_json(path)
    observations = data["observations"]
    if not observations:
        raise FileFormatError(path, "the BORIS project has no observations")
    chosen = _select_observation(path, {str(k): _observation_media(v) for k, v in observations.items()}, media)
    obs = observations[chosen]

    def ordered(conf: Any) -> list[dict[str, Any]]:
        if not isinstance(conf, dict):
            return []
        keys = sorted(conf, key=lambda k: (0, int(k)) if str(k).isdigit() else (1, str(k)))
        return [conf[k] for k in keys if isinstance(conf[k], dict)]

    ethogram = ordered(data.get("behaviors_conf"))
    point_codes = {str(b.get("code")) for b in ethogram if "point" in str(b.get("type", "")).lower()}
    subjects = [str(s["name"]) for s in ordered(data.get("subjects_conf")) if _subject(s.get("name")) is not None]
    offset = _float(path, obs.get("time offset", 0) or 0, f"observation {chosen!r}", "time offset")
    events = []
    for i, ev in enumerate(obs.get("events", [])):
        where = f"observation {chosen!r}, event {i}"
        if not isinstance(ev, list) or len(ev) < 3:
            raise FileFormatError(path, f"{where}: expected [time, subject, behavior, modifiers, ...], got {ev!r}")
        code = str(ev[2])
        modifiers = (str(ev[3]),) if len(ev) > 3 else ()
        status = "POINT" if code in point_codes else None
        events.append(
            _Event(_float(path, ev[0], where, "time") - offset, _subject(ev[1]), code, status, modifiers, where)
        )
    behaviors = unique([str(b.get("code")) for b in ethogram] + [e.behavior for e in events])
    return Parsed(
        _pair_events(events, path, clock),
        behaviors=behaviors,
        subjects=unique(e.subject for e in events),
        configured_subjects=subjects,
        attrs={"observation_id": chosen},
    )


# ----------------------------------------------------------------- tables
def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, sep=_delimiter(_read_head(path, 1)), encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise FileFormatError(path, f"cannot be read as a CSV table: {err}") from None


def _text_values(series: pd.Series | None, n: int) -> list[str | None]:
    if series is None:
        return [None] * n
    return [None if is_missing_label(v) else str(v).strip() for v in series.astype(object)]


def parse_intervals(path: Path, clock: Clock, time_unit: str | None) -> Parsed:
    table = _read_csv(path)
    start_col, stop_col = _column(table.columns, _START_COLUMNS), _column(table.columns, _STOP_COLUMNS)
    behavior_col = _column(table.columns, _INTERVAL_BEHAVIOR_COLUMNS)
    if start_col is None or stop_col is None or behavior_col is None:
        raise FileFormatError(
            path,
            f"an interval table needs start ({'/'.join(_START_COLUMNS)}), stop ({'/'.join(_STOP_COLUMNS)}) and "
            f"behavior ({'/'.join(_INTERVAL_BEHAVIOR_COLUMNS)}) columns; found {list(table.columns)}",
        )
    unit = time_unit or ("frames" if "frame" in str(start_col).lower() else "s")
    if unit not in ("s", "frames"):
        raise ValueError(f"time_unit must be 's', 'frames' or None, got {time_unit!r}")
    rater_col = _column(table.columns, _RATER_COLUMNS)
    n = len(table)
    raters = _text_values(table[rater_col] if rater_col is not None else None, n)
    subjects = [_subject(v) for v in _text_values(_optional(table, _SUBJECT_COLUMNS), n)]
    behaviors = _text_values(table[behavior_col], n)
    bouts = []
    for i, (t0, t1) in enumerate(zip(table[start_col], table[stop_col], strict=True)):
        where = f"line {i + 2}"
        t0, t1 = _float(path, t0, where, str(start_col)), _float(path, t1, where, str(stop_col))
        if behaviors[i] is None:
            raise FileFormatError(path, f"{where}: empty behavior in column {behavior_col!r}")
        if rater_col is not None and raters[i] is None:
            raise FileFormatError(path, f"{where}: empty rater in column {rater_col!r}")
        if t1 < t0:
            raise FileFormatError(path, f"{where}: the interval ends ({t1}) before it starts ({t0})")
        if unit == "frames":
            if t0 != int(t0) or t1 != int(t1):
                raise FileFormatError(path, f"{where}: frame numbers must be integers, got {t0} and {t1}")
            a, b = int(t0), int(t1)
            t0, t1 = a / clock.fps, b / clock.fps
        else:
            a, b = clock.boundary(t0), clock.boundary(t1)
        bouts.append(Bout(raters[i], subjects[i], str(behaviors[i]), a, b, t0, t1, False, where))
    return Parsed(
        bouts,
        has_rater=rater_col is not None,
        behaviors=unique(behaviors),
        subjects=unique(subjects),
        raters=unique(raters),
        attrs={"time_unit_in_file": unit},
    )


def _optional(table: pd.DataFrame, candidates: Sequence[str]) -> pd.Series | None:
    name = _column(table.columns, candidates)
    return None if name is None else table[name]


def _binary(path: Path, values: pd.Series, name: Any) -> np.ndarray:
    """Convert a 0/1 (or bool) column to bool; empty cells are 0."""
    numeric = pd.to_numeric(values.astype(object).map(_bool_text), errors="coerce").fillna(0)
    bad = ~numeric.isin([0, 1])
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise FileFormatError(
            path,
            f"line {i + 2}: column {name!r} must hold 0/1 labels, got {values.iloc[i]!r}; pass behaviors= "
            "to name the label columns",
        )
    return numeric.to_numpy() == 1


def _bool_text(v: Any) -> Any:
    if isinstance(v, str):
        return {"true": 1, "false": 0, "": np.nan}.get(v.strip().lower(), v)
    return v


def _frame_numbers(path: Path, table: pd.DataFrame, fps: float, keys: list[tuple[Any, ...]]) -> np.ndarray:
    frame_col = _column(table.columns, _FRAME_COLUMNS)
    time_col = _column(table.columns, _TIME_COLUMNS)
    if frame_col is not None:
        frames = pd.to_numeric(table[frame_col], errors="coerce").to_numpy(dtype=float)
        what = f"column {frame_col!r}"
    elif time_col is not None:
        frames = np.round(pd.to_numeric(table[time_col], errors="coerce").to_numpy(dtype=float) * fps)
        what = f"column {time_col!r} x fps"
    else:  # row order within each (rater, subject)
        seen: dict[tuple[Any, ...], int] = {}
        order = np.zeros(len(keys), dtype=np.int64)
        for i, key in enumerate(keys):
            order[i] = seen[key] = seen.get(key, -1) + 1
        return order
    bad = ~np.isfinite(frames) | (frames < 0) | (frames != np.round(frames))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise FileFormatError(path, f"line {i + 2}: frame numbers ({what}) must be integers >= 0")
    return frames.astype(np.int64)


def parse_frame_table(path: Path, clock: Clock, behaviors: Sequence[str] | None, *, simba: bool) -> Parsed:
    table = _read_csv(path)
    n = len(table)
    rater_col = None if simba else _column(table.columns, _RATER_COLUMNS)
    subject_col = None if simba else _column(table.columns, _SUBJECT_COLUMNS)
    label_col = None if simba else _column(table.columns, _LABEL_COLUMNS)
    frame_col, time_col = _column(table.columns, _FRAME_COLUMNS), _column(table.columns, _TIME_COLUMNS)
    raters = _text_values(table[rater_col] if rater_col is not None else None, n)
    if rater_col is not None and None in raters:
        raise FileFormatError(path, f"line {raters.index(None) + 2}: empty rater in column {rater_col!r}")
    subjects = [_subject(v) for v in _text_values(table[subject_col] if subject_col is not None else None, n)]
    keys = list(zip(raters, subjects, strict=True))
    frames = _frame_numbers(path, table, clock.fps, keys)
    length = int(frames.max()) + 1 if n else 0
    meta = {rater_col, subject_col, label_col, frame_col, time_col} - {None}
    if label_col is not None:  # one label column: one behavior name per row (empty = none)
        names = _text_values(table[label_col], n)
        as_array = np.array(names, dtype=object)
        columns = {b: as_array == b for b in unique(names)}
    else:
        label_cols = _simba_columns(path, table, behaviors) if simba else [c for c in table.columns if c not in meta]
        if not label_cols:
            expected = (
                "0/1 classifier columns (pass behaviors= to name them)"
                if simba
                else ("a 'behavior' column or one 0/1 column per behavior")
            )
            raise FileFormatError(path, f"no label columns: expected {expected}; found {list(table.columns)[:20]}")
        columns = {str(c): _binary(path, table[c], c) for c in label_cols}
    bouts = []
    key_index = {key: i for i, key in enumerate(dict.fromkeys(keys))}
    key_ids = np.array([key_index[k] for k in keys], dtype=np.int64)
    for key, i in key_index.items():
        rows = key_ids == i
        for behavior, values in columns.items():
            mask = np.zeros(length, dtype=bool)
            mask[frames[rows & values]] = True
            for a, b in zip(*runs(mask)[1:], strict=True):
                where = f"column {behavior!r}, frames {a}-{b - 1}" if label_col is None else f"frames {a}-{b - 1}"
                bouts.append(Bout(key[0], key[1], behavior, int(a), int(b), a / clock.fps, b / clock.fps, False, where))
    return Parsed(
        bouts,
        has_rater=rater_col is not None,
        behaviors=list(columns),
        subjects=unique(subjects),
        raters=unique(raters),
        n_frames=length,
    )


def _simba_columns(path: Path, table: pd.DataFrame, behaviors: Sequence[str] | None) -> list[Any]:
    """Classifier columns of a SimBA table (see :func:`load_annotations`)."""
    names = {str(c): c for c in table.columns}
    if behaviors is not None:
        return [names[b] for b in behaviors if b in names]
    prefix = "Probability_"
    partners = [names[s[len(prefix) :]] for s in names if s.startswith(prefix) and s[len(prefix) :] in names]
    if partners:
        return partners
    skip = _pose_columns(table.columns) | {table.columns[0]}
    return [c for c in table.columns if c not in skip and table[c].isin([0, 1]).all()]
