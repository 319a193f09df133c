"""DeepLabCut pose tables (``.csv`` and pandas ``.h5``) <-> plain arrays.

DeepLabCut writes one row per frame and a column MultiIndex of header rows:
``scorer / bodyparts / coords`` (single animal) or
``scorer / individuals / bodyparts / coords`` (multi-animal, where maDLC's
unique bodyparts belong to the pseudo-individual ``single``). ``coords`` is
``x, y, likelihood`` for predictions and ``x, y`` for human labels
(``CollectedData_*`` files, whose row index holds image paths).

This is the one DeepLabCut table parser and writer: pose time series
(:mod:`behaviorlab.io.load` / :mod:`behaviorlab.io.save`) and labeled training
frames (:mod:`behaviorlab.io.labeled_frames`) both go through it.  Tables are
parsed here rather than with ``sleap_io.load_dlc`` (sleap-io 0.9.5), which only
understands labeled-data projects, reads a CollectedData ``.h5`` as text and
sorts bodyparts alphabetically.  Parsing is vectorised with pandas and numpy
(no per-frame loops); bodyparts and individuals keep the order of the file.
"""

from __future__ import annotations

import csv
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import h5py
import numpy as np
import pandas as pd
import xarray as xr

from behaviorlab.errors import FileFormatError

__all__ = [
    "PoseArrays",
    "dlc_table",
    "is_dlc_h5",
    "pose_table",
    "read_dlc_csv",
    "read_dlc_h5",
    "write_dlc",
    "write_dlc_table",
]

logger = logging.getLogger(__name__)

_HEADER_LABELS = ("scorer", "individuals", "bodyparts", "coords")
_KNOWN_COORDS = ("x", "y", "z", "likelihood")
_INDEX_NAME_CELLS = {"", "frame", "frames", "index", "frame_idx", "frame_index", "image", "images"}
_SINGLE_ANIMAL_NAME = "individual_0"  # the name movement gives the animal of a single-animal DLC file
_HEAD_ROWS = 12

Rows = Literal["frames", "images"]


@dataclass
class PoseArrays:
    """Poses parsed from a file, before they become a Dataset.

    Attributes
    ----------
    position
        Shape ``(time, space, keypoint, individual)``.
    confidence
        Shape ``(time, keypoint, individual)``; NaN where the file has no score.
    keypoints, individuals
        Names along the keypoint and individual axes.
    fps
        Frames per second stored in the file, if any.
    time_coords
        Extra coordinates along ``time`` (e.g. ``image_path``), name -> values.
    attrs
        Extra attrs for the Dataset.
    """

    position: np.ndarray
    confidence: np.ndarray
    keypoints: list[str]
    individuals: list[str]
    fps: float | None = None
    time_coords: dict[str, np.ndarray] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- reading
def _arrays_from_columns(
    path: Path, columns: list[tuple[str | None, str, str]], values: np.ndarray, single_individual: str
) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """Scatter a ``(rows, columns)`` value table into position/confidence arrays.

    ``columns`` holds one ``(individual or None, bodypart, coord)`` triple per
    column of ``values``; ``None`` (a single-animal file) becomes
    ``single_individual``. Keypoints and individuals keep the order in which
    they first appear; (individual, keypoint) pairs with no column stay NaN,
    which is how maDLC's unique bodyparts (individual ``single``) fit the grid.
    """
    if not columns:
        raise FileFormatError(path, "the pose table has no data columns")
    coords = [str(c).strip().lower() for _, _, c in columns]
    unknown = sorted(set(coords) - set(_KNOWN_COORDS))
    if unknown:
        raise FileFormatError(
            path, f"unknown entries {unknown} in the 'coords' header row; expected only {list(_KNOWN_COORDS)}"
        )
    if "x" not in coords or "y" not in coords:
        raise FileFormatError(path, "the 'coords' header row has no 'x' and 'y' columns")
    inds = [single_individual if i is None else str(i) for i, _, _ in columns]
    bps = [str(b) for _, b, _ in columns]
    triples = list(zip(inds, bps, coords, strict=True))
    if len(set(triples)) != len(triples):
        seen: set[tuple[str, str, str]] = set()
        dupes = sorted({t for t in triples if t in seen or seen.add(t)})  # type: ignore[func-returns-value]
        raise FileFormatError(path, f"duplicate columns (individual, bodypart, coord) {dupes[:5]}")
    ind_codes, ind_names = pd.factorize(pd.Index(inds))
    kp_codes, kp_names = pd.factorize(pd.Index(bps))
    n_space = 3 if "z" in coords else 2
    n_rows = values.shape[0]
    position = np.full((n_rows, n_space, len(kp_names), len(ind_names)), np.nan)
    confidence = np.full((n_rows, len(kp_names), len(ind_names)), np.nan)
    coords_arr = np.asarray(coords)
    for axis, name in enumerate(("x", "y", "z")[:n_space]):
        cols = np.flatnonzero(coords_arr == name)
        position[:, axis, kp_codes[cols], ind_codes[cols]] = values[:, cols]
    cols = np.flatnonzero(coords_arr == "likelihood")
    if cols.size:
        confidence[:, kp_codes[cols], ind_codes[cols]] = values[:, cols]
    return position, confidence, [str(k) for k in kp_names], [str(i) for i in ind_names]


def _image_paths(index: pd.Index) -> np.ndarray:
    """Row labels as image paths, as written in the file (a 3-level index is joined with ``/``)."""
    if isinstance(index, pd.MultiIndex):  # DeepLabCut >= 2.2 labeled-data: (folder, video, image)
        return np.asarray(["/".join(str(p) for p in parts) for parts in index], dtype=str)
    return np.asarray([str(v) for v in index], dtype=str)


def _place_rows(
    path: Path, index: pd.Index, position: np.ndarray, confidence: np.ndarray, rows: Rows
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Put the table rows on a frame axis.

    With ``rows="images"`` the rows keep the file's order and their labels
    become an ``image_path`` coordinate along ``time``. With ``"frames"``,
    integer row labels are frame numbers: rows land at those frames and frames
    absent from the table become NaN; any other labels (image paths of
    labeled-data files) are treated as with ``"images"``.
    """
    if rows == "images" or isinstance(index, pd.MultiIndex):
        return position, confidence, {"image_path": _image_paths(index)}
    numeric = pd.to_numeric(pd.Series(index, dtype=object), errors="coerce").to_numpy(dtype=float)
    if len(index) and np.all(np.isfinite(numeric)) and np.all(numeric == np.round(numeric)):
        frames = numeric.astype(np.int64)
        if frames.min() >= 0 and len(np.unique(frames)) == len(frames):
            if np.array_equal(frames, np.arange(len(frames))):
                return position, confidence, {}
            n_frames = int(frames.max()) + 1
            if n_frames > 100 * len(frames) + 100_000:
                raise FileFormatError(
                    path, f"frame numbers in the first column reach {n_frames - 1} for only {len(frames)} rows"
                )
            pos = np.full((n_frames, *position.shape[1:]), np.nan)
            conf = np.full((n_frames, *confidence.shape[1:]), np.nan)
            pos[frames] = position
            conf[frames] = confidence
            return pos, conf, {}
        logger.warning("%s: frame numbers are negative or repeated; rows are kept in file order", path)
        return position, confidence, {}
    return position, confidence, {"image_path": _image_paths(index)}


def _read_head(path: Path) -> list[list[str]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            return [row for _, row in zip(range(_HEAD_ROWS), reader, strict=False)]
    except UnicodeDecodeError:
        raise FileFormatError(path, "is not a text CSV file (it could not be decoded as UTF-8)") from None
    except csv.Error as err:
        raise FileFormatError(path, f"is not a valid CSV file: {err}") from None


def _cell(row: list[str], col: int) -> str:
    return row[col].strip() if col < len(row) else ""


def _find_header(path: Path, head: list[list[str]]) -> tuple[int, dict[str, int], int]:
    """Locate the DLC header: the label column, the row of each header label and the first data row."""
    found: dict[tuple[int, int], str] = {}
    for r, row in enumerate(head[:8]):
        for c in range(min(3, len(row))):
            label = _cell(row, c).lower()
            if label in _HEADER_LABELS:
                found[(r, c)] = label
    if not found:
        raise FileFormatError(
            path,
            "is not a DeepLabCut pose table: not a DeepLabCut CSV, as its first column names none of the "
            "header rows 'scorer', 'bodyparts', 'coords' (read it with pandas, or pass source= for another format)",
        )
    label_col = min(c for _, c in found)
    rows = {label: r for (r, c), label in found.items() if c == label_col}
    for required in ("bodyparts", "coords"):
        if required not in rows:
            raise FileFormatError(
                path,
                f"the DeepLabCut header has no '{required}' row (found {sorted(rows, key=rows.get)}); "
                "a DLC CSV needs the header rows scorer, bodyparts, coords "
                "(and individuals for multi-animal files), each named in the first column",
            )
    order = [rows[label] for label in _HEADER_LABELS if label in rows]
    if order != sorted(order) or order != list(range(order[0], order[0] + len(order))):
        raise FileFormatError(
            path,
            f"the header rows {sorted(rows, key=rows.get)} are not consecutive rows in the order "
            "scorer, individuals, bodyparts, coords",
        )
    data_row = rows["coords"] + 1
    if data_row < len(head):
        row = head[data_row]
        if _cell(row, label_col).lower() in _INDEX_NAME_CELLS and not any(
            _cell(row, c) for c in range(label_col + 1, len(row))
        ):
            data_row += 1  # a pandas index-name row such as "frame,,,"
    return label_col, rows, data_row


def read_dlc_csv(path: Path, *, rows: Rows = "frames", single_individual: str = _SINGLE_ANIMAL_NAME) -> PoseArrays:
    """Read a DeepLabCut CSV (predictions or CollectedData, single- or multi-animal).

    Also reads tables that pandas re-saved with an extra leading index column
    (the header labels then sit in the second column and the scorer names
    carry pandas' ``.1, .2`` de-duplication suffixes), and CollectedData files
    whose image path is one index column or three (folder, video, image).

    Parameters
    ----------
    path
        The CSV file.
    rows
        ``"frames"``: integer row labels are frame numbers (prediction files);
        ``"images"``: rows stay in file order and their labels, image paths
        as written in the file, become ``time_coords["image_path"]``
        (``CollectedData`` files of labeled frames).
    single_individual
        Name of the individual of a single-animal file (no ``individuals`` row).

    Returns
    -------
    PoseArrays
        Position ``(time, space, keypoint, individual)`` and confidence.
    """
    head = _read_head(path)
    if not head or not any(any(cell.strip() for cell in row) for row in head):
        raise FileFormatError(path, "the file is empty")
    label_col, header_rows, data_row = _find_header(path, head)
    header = {label: head[r] for label, r in header_rows.items()}
    width = max(len(row) for row in header.values())
    # columns after the label column whose header cells are all empty hold more of the row index
    n_index = 1
    while label_col + n_index < width and not any(_cell(row, label_col + n_index) for row in header.values()):
        n_index += 1
    first_value = label_col + n_index
    last = width
    while last > first_value and not any(_cell(row, last - 1) for row in header.values()):
        last -= 1
    value_cols = list(range(first_value, last))
    if not value_cols:
        raise FileFormatError(path, "the DeepLabCut header names no data columns")
    missing = [label for label, row in header.items() if any(not _cell(row, c) for c in value_cols)]
    if missing:
        raise FileFormatError(path, f"the header row(s) {missing} have empty cells above data columns")

    scorers = [_cell(header["scorer"], c) for c in value_cols] if "scorer" in header else []
    if label_col > 0 and scorers:  # pandas re-save: "name", "name.1", "name.2", ...
        stripped = [re.sub(r"\.\d+$", "", s) for s in scorers]
        if len(set(stripped)) < len(set(scorers)):
            scorers = stripped
    _check_one_scorer(path, scorers)
    individuals = [_cell(header["individuals"], c) for c in value_cols] if "individuals" in header else None
    columns = [
        (None if individuals is None else individuals[k], _cell(header["bodyparts"], c), _cell(header["coords"], c))
        for k, c in enumerate(value_cols)
    ]

    index_cols = list(range(label_col, first_value))
    usecols = index_cols + value_cols
    dtypes: dict[int, Any] = {c: str for c in index_cols} | {c: np.float64 for c in value_cols}
    try:
        # all columns are read (not usecols) so that rows longer than the header are caught
        table = pd.read_csv(
            path, header=None, skiprows=data_row, dtype=dtypes, encoding="utf-8-sig", skip_blank_lines=True
        )
    except pd.errors.EmptyDataError:
        table = pd.DataFrame(columns=usecols)
    except pd.errors.ParserError as err:
        raise FileFormatError(path, f"malformed CSV data: {err}") from None
    except ValueError as err:
        raise FileFormatError(path, _locate_bad_cell(path, data_row, usecols, value_cols, header, err)) from None
    if len(table) == 0:
        raise FileFormatError(path, "has DeepLabCut header rows but no data rows")
    extra = [c for c in table.columns if c >= last and table[c].notna().any()]
    if extra:
        raise FileFormatError(
            path, f"malformed CSV data: rows have {table.shape[1]} fields but the header names only {last}"
        )
    values = table[value_cols].to_numpy(dtype=np.float64)
    position, confidence, keypoints, inds = _arrays_from_columns(path, columns, values, single_individual)
    if len(index_cols) > 1:
        index: pd.Index = pd.MultiIndex.from_frame(table[index_cols].fillna(""))
    else:
        index = pd.Index(table[index_cols[0]].fillna("").to_numpy(dtype=object))
    position, confidence, time_coords = _place_rows(path, index, position, confidence, rows)
    attrs = {"dlc_scorer": scorers[0]} if scorers else {}
    return PoseArrays(position, confidence, keypoints, inds, time_coords=time_coords, attrs=attrs)


def _check_one_scorer(path: Path, scorers: list[str]) -> None:
    several = list(dict.fromkeys(scorers))
    if len(several) > 1:
        raise FileFormatError(path, f"columns hold several scorers {several}; expected one")


def _locate_bad_cell(
    path: Path,
    data_row: int,
    usecols: list[int],
    value_cols: list[int],
    header: dict[str, list[str]],
    err: Exception,
) -> str:
    """Find the first non-numeric cell for a message that points at it."""
    try:
        raw = pd.read_csv(path, header=None, skiprows=data_row, usecols=usecols, dtype=str, encoding="utf-8-sig")
    except Exception:
        return f"the pose data are not all numbers ({err})"
    for c in value_cols:
        column = raw[c]
        bad = column.notna() & pd.to_numeric(column, errors="coerce").isna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            name = "/".join(_cell(h, c) for h in header.values())
            return (
                f"non-numeric value {column.iloc[row]!r} in column {name!r} on line {data_row + row + 1}; "
                "pose values must be numbers (leave a cell empty for a missing value)"
            )
    return f"the pose data are not all numbers ({err})"


def is_dlc_h5(path: Path) -> bool:
    """Whether ``path`` is an HDF5 file written by pandas (as DeepLabCut does)."""
    try:
        with h5py.File(path, "r") as f:
            return any("pandas_type" in f[key].attrs for key in f)
    except (OSError, KeyError):
        return False


def read_dlc_h5(path: Path, *, rows: Rows = "frames", single_individual: str = _SINGLE_ANIMAL_NAME) -> PoseArrays:
    """Read a DeepLabCut pandas HDF5 file (key ``df_with_missing`` or the first pose table).

    Parameters
    ----------
    path
        The ``.h5`` file.
    rows, single_individual
        As for :func:`read_dlc_csv`.

    Returns
    -------
    PoseArrays
        Position ``(time, space, keypoint, individual)`` and confidence.
    """
    try:
        with pd.HDFStore(path, mode="r") as store:
            keys = list(store.keys())
            ordered = sorted(keys, key=lambda k: k.strip("/") != "df_with_missing")
            df = None
            for key in ordered:
                obj = store.get(key)
                if isinstance(obj, pd.DataFrame) and obj.columns.nlevels in (3, 4):
                    df = obj
                    break
    except (OSError, ValueError, KeyError, TypeError, ImportError) as err:
        raise FileFormatError(path, f"could not read it as a pandas HDF5 file: {err}") from None
    if df is None:
        raise FileFormatError(
            path,
            f"no DeepLabCut pose table among its keys {keys}: expected a DataFrame whose columns have the "
            "levels scorer/bodyparts/coords or scorer/individuals/bodyparts/coords",
        )
    names = [str(n).lower() if n is not None else None for n in df.columns.names]
    nlev = df.columns.nlevels
    if names[-1] not in ("coords", None) or names[-2] not in ("bodyparts", None):
        raise FileFormatError(path, f"the table's column levels {df.columns.names} are not DeepLabCut's")
    tuples = list(df.columns)
    _check_one_scorer(path, [str(t[0]) for t in tuples])
    columns = [(str(t[1]) if nlev == 4 else None, str(t[-2]), str(t[-1])) for t in tuples]
    try:
        values = df.to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise FileFormatError(path, f"the pose data are not all numbers ({err})") from None
    if values.shape[0] == 0:
        raise FileFormatError(path, "the DeepLabCut table has no rows")
    position, confidence, keypoints, inds = _arrays_from_columns(path, columns, values, single_individual)
    position, confidence, time_coords = _place_rows(path, df.index, position, confidence, rows)
    return PoseArrays(
        position, confidence, keypoints, inds, time_coords=time_coords, attrs={"dlc_scorer": str(tuples[0][0])}
    )


# --------------------------------------------------------------------------- writing
def dlc_table(
    position: np.ndarray,
    confidence: np.ndarray | None,
    *,
    space: list[str],
    keypoints: list[str],
    individuals: list[str],
    index: pd.Index,
    scorer: str,
    single_animal: bool | None = None,
) -> pd.DataFrame:
    """Lay out pose arrays as a DeepLabCut table.

    One individual named ``individual_0`` (the name a single-animal file
    loads with) gives the single-animal layout (scorer/bodyparts/coords), so
    single-animal files convert back to the layout they came from; anything
    else gives the multi-animal layout with an ``individuals`` level, which
    keeps the individuals' names, and where
    an individual named ``single`` (maDLC's unique bodyparts) only gets the
    keypoints it has data for.

    Parameters
    ----------
    position
        Shape ``(time, space, keypoint, individual)``.
    confidence
        Shape ``(time, keypoint, individual)``, written as ``likelihood``
        columns; ``None`` for human labels, written as ``x, y`` only like
        DeepLabCut's ``CollectedData`` files.
    space, keypoints, individuals
        Names along the space, keypoint and individual axes.
    index
        One row label per time step: frame numbers, or image paths.
    scorer
        The ``scorer`` header.
    single_animal
        Force the single-animal layout (True, needs one individual) or the
        multi-animal one (False); ``None`` chooses by the rule above.

    Returns
    -------
    pandas.DataFrame
        ``(time, columns)`` with DeepLabCut's column MultiIndex.
    """
    coords = list(space) if confidence is None else [*space, "likelihood"]
    # (t, i, k, c)
    stack = [np.moveaxis(position, 1, -1).transpose(0, 2, 1, 3)]
    if confidence is not None:
        stack.append(confidence.transpose(0, 2, 1)[..., None])
    table = np.concatenate(stack, axis=-1)
    n_t, n_i, n_k, n_c = table.shape
    if single_animal is None:
        single_animal = n_i == 1 and individuals[0] == _SINGLE_ANIMAL_NAME
    if single_animal and n_i != 1:
        raise ValueError(f"the single-animal DeepLabCut layout holds one individual, got {n_i}")
    if single_animal:
        columns = pd.MultiIndex.from_product([[scorer], keypoints, coords], names=["scorer", "bodyparts", "coords"])
        values = table.reshape(n_t, n_k * n_c)
    else:
        columns = pd.MultiIndex.from_product(
            [[scorer], individuals, keypoints, coords], names=["scorer", "individuals", "bodyparts", "coords"]
        )
        values = table.reshape(n_t, n_i * n_k * n_c)
        if "single" in individuals:
            i = individuals.index("single")
            empty = np.all(np.isnan(table[:, i]), axis=(0, 2))  # keypoints "single" has no data for
            keep = np.ones((n_i, n_k, n_c), dtype=bool)
            keep[i, empty, :] = False
            keep = keep.reshape(-1)
            columns, values = columns[keep], values[:, keep]
    return pd.DataFrame(values, index=index, columns=columns)


def pose_table(ds: xr.Dataset, *, scorer: str) -> pd.DataFrame:
    """Build the DeepLabCut table of a valid pose Dataset (see :func:`dlc_table`).

    Coordinates are ``x, y[, z], likelihood``; human labels (an ``image_path``
    coordinate and no confidence at all) are written without likelihood, with
    the image paths as row labels.  Other rows are labelled by frame number.
    """
    conf = ds["confidence"].to_numpy()  # (t, k, i)
    labels_only = "image_path" in ds.coords and bool(np.all(np.isnan(conf)))
    if "image_path" in ds.coords:
        index = pd.Index([str(p) for p in ds["image_path"].values])
    elif ds.attrs.get("time_unit") == "seconds":
        index = pd.Index(np.round(ds["time"].to_numpy() * float(ds.attrs["fps"])).astype(np.int64))
    else:
        index = pd.Index(ds["time"].to_numpy().astype(np.int64))
    return dlc_table(
        ds["position"].to_numpy(),  # (t, s, k, i)
        None if labels_only else conf,
        space=[str(s) for s in ds["space"].values],
        keypoints=[str(k) for k in ds["keypoint"].values],
        individuals=[str(i) for i in ds["individual"].values],
        index=index,
        scorer=scorer,
    )


def write_dlc_table(df: pd.DataFrame, path: Path) -> None:
    """Write a DeepLabCut table as ``.csv``, or as pandas HDF5 (key ``df_with_missing``) for any other suffix."""
    if path.suffix.lower() == ".csv":
        df.to_csv(path)
    else:
        df.to_hdf(path, key="df_with_missing", format="table", mode="w")


def write_dlc(ds: xr.Dataset, path: Path, *, scorer: str) -> None:
    """Write ``ds`` as a DeepLabCut ``.csv`` or ``.h5`` (key ``df_with_missing``) at ``path``."""
    write_dlc_table(pose_table(ds, scorer=scorer), path)
