"""Pose tables in plain CSV: SLEAP's CSV export and generic one-column-per-coordinate files.

Two layouts besides DeepLabCut's multi-row header:

- **SLEAP's analysis CSV** (File > Export Analysis CSV, ``sleap-convert
  --format analysis.csv``): one row per instance, columns ``track``,
  ``frame_idx``, ``instance.score`` and ``<node>.x``, ``<node>.y``,
  ``<node>.score`` per node.
- **Generic tables** written by other trackers or by hand: one row per frame
  (or per frame and animal, with an ``individual``/``track``/``animal``/``id``
  column), columns such as ``snout_x, snout_y, snout_p`` or ``Nose.X,
  Nose.Y, Nose.likelihood``, an optional ``frame`` column. Column names are
  split into keypoint and coordinate by :data:`COLUMN_PATTERN` (or a
  pattern of the user's with the groups ``keypoint`` and ``coord``).

Neither stores a frame rate: give ``fps``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from behaviorlab.errors import FileFormatError
from behaviorlab.io._dlc import PoseArrays

__all__ = ["COLUMN_PATTERN", "read_pose_table", "read_sleap_csv", "sniff_csv"]

#: Keypoint and coordinate of a column: ``snout_x``, ``Nose.X``, ``tail base y``, ``ear_l_likelihood``.
COLUMN_PATTERN = r"^(?P<keypoint>.+?)[_. ](?P<coord>x|y|z|p|prob|likelihood|score|conf|confidence)$"
_CONFIDENCE = {"p", "prob", "likelihood", "score", "conf", "confidence"}
_FRAME_COLUMNS = ("frame", "frame_idx", "frame_index", "frames", "index")
_INDIVIDUAL_COLUMNS = ("individual", "track", "animal", "id", "identity", "instance")


def sniff_csv(path: Path) -> str:
    """Tell a CSV pose file's layout from its first line: ``"dlc"``, ``"sleap_csv"`` or ``"csv"``."""
    with open(path, encoding="utf-8", errors="replace") as f:
        header = f.readline().strip().lstrip("\ufeff")
    cells = [c.strip().strip('"') for c in header.split(",")]
    lowered = [c.lower() for c in cells]
    if "scorer" in lowered[:2]:
        return "dlc"
    if "frame_idx" in lowered and any(c.endswith(".x") for c in lowered):
        return "sleap_csv"
    pattern = re.compile(COLUMN_PATTERN, re.IGNORECASE)
    coords = [m.group("coord").lower() for c in cells if (m := pattern.match(c))]
    if coords.count("x") and coords.count("x") == coords.count("y"):
        return "csv"
    return "dlc"  # let the DeepLabCut reader say what it expected


def read_sleap_csv(path: Path) -> PoseArrays:
    """Read SLEAP's analysis CSV export (``track, frame_idx, instance.score, <node>.x, <node>.y, <node>.score``)."""
    table = _read(path)
    if "frame_idx" not in table.columns:
        raise FileFormatError(path, "is not a SLEAP CSV export: it has no 'frame_idx' column")
    table = table.rename(columns={"frame_idx": "frame"})
    if "track" in table.columns:
        table["track"] = [  # an untracked instance has an empty track
            "track_0" if pd.isna(v) or str(v) == "" else str(v) for v in table["track"]
        ]
    drop = [c for c in ("instance.score",) if c in table.columns]
    arrays = _from_table(path, table.drop(columns=drop), r"^(?P<keypoint>.+)\.(?P<coord>x|y|score)$")
    arrays.attrs["source_software"] = "SLEAP"
    return arrays


def read_pose_table(path: Path, pattern: str | None = None) -> PoseArrays:
    """Read a generic pose CSV: one column per keypoint and coordinate (see the module docstring).

    Parameters
    ----------
    path
        The CSV file.
    pattern
        Regular expression with the named groups ``keypoint`` and ``coord``
        (``x``, ``y``, optional ``z`` and a confidence: ``p``, ``likelihood``,
        ``score``, ...) matched against every column name; default
        :data:`COLUMN_PATTERN`. Columns that do not match are ignored, except
        the frame and individual columns.
    """
    return _from_table(path, _read(path), pattern or COLUMN_PATTERN)


def _read(path: Path) -> pd.DataFrame:
    try:
        table = pd.read_csv(path)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as err:
        raise FileFormatError(path, f"could not be read as CSV: {err}") from None
    table.columns = [str(c).strip().lstrip("\ufeff") for c in table.columns]
    if table.empty:
        raise FileFormatError(path, "has a header but no rows")
    return table


def _from_table(path: Path, table: pd.DataFrame, pattern: str) -> PoseArrays:
    regex = re.compile(pattern, re.IGNORECASE)
    lowered = {c.lower(): c for c in table.columns}
    frame_col = next((lowered[c] for c in _FRAME_COLUMNS if c in lowered), None)
    ind_col = next((lowered[c] for c in _INDIVIDUAL_COLUMNS if c in lowered), None)
    parts: dict[str, dict[str, str]] = {}
    for column in table.columns:
        if column in (frame_col, ind_col):
            continue
        match = regex.match(column)
        if match:
            coord = match.group("coord").lower()
            parts.setdefault(match.group("keypoint").strip(), {})["p" if coord in _CONFIDENCE else coord] = column
    keypoints = [k for k, cols in parts.items() if "x" in cols and "y" in cols]
    if not keypoints:
        raise FileFormatError(
            path,
            f"no keypoint columns found: expected pairs such as 'snout_x, snout_y' (columns {list(table.columns)[:8]}"
            "); give the column pattern (--csv-columns on the command line, poses.csv_columns in the project "
            "config), or use --source to name the file's format",
        )
    space = ["x", "y", "z"] if all("z" in parts[k] for k in keypoints) else ["x", "y"]
    frames = table[frame_col].to_numpy() if frame_col else np.arange(len(table))
    if not np.issubdtype(np.asarray(frames).dtype, np.number) or np.isnan(frames.astype(float)).any():
        raise FileFormatError(path, f"column {frame_col!r} must hold frame numbers")
    frames = frames.astype(np.int64)
    individuals = (
        list(dict.fromkeys(table[ind_col].astype(str))) if ind_col else ["individual_0"]
    )  # order of first appearance
    ind_index = (
        table[ind_col].astype(str).map({n: i for i, n in enumerate(individuals)}).to_numpy()
        if ind_col
        else (np.zeros(len(table), dtype=np.int64))
    )
    start = int(frames.min()) if frame_col else 0
    n_time = int(frames.max()) - start + 1
    if ind_col is None and len(np.unique(frames)) != len(frames):
        raise FileFormatError(path, f"frame numbers repeat in {frame_col!r} but no individual/track column says whose")
    position = np.full((n_time, len(space), len(keypoints), len(individuals)), np.nan)
    confidence = np.full((n_time, len(keypoints), len(individuals)), np.nan)
    rows = frames - start
    for k, name in enumerate(keypoints):
        for s, coord in enumerate(space):
            position[rows, s, k, ind_index] = pd.to_numeric(table[parts[name][coord]], errors="coerce").to_numpy()
        if "p" in parts[name]:
            confidence[rows, k, ind_index] = pd.to_numeric(table[parts[name]["p"]], errors="coerce").to_numpy()
    arrays = PoseArrays(position, confidence, keypoints, individuals)
    if start:
        arrays.time_coords["frame"] = np.arange(start, start + n_time)
    arrays.attrs["source_software"] = "unknown (CSV table)"
    return arrays
