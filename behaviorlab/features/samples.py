"""The one adapter between xarray and scikit-learn: samples and predictions.

:func:`to_samples` stacks ``(session,) time, individual`` into the rows of a
``(n_samples, n_features)`` matrix for scikit-learn, :func:`from_samples` puts
per-row predictions back on ``(session,) time, individual``, and
:func:`session_samples` stacks many sessions for the sequence models (with
spectrograms that are not stored computed as they are read,
:class:`behaviorlab.features.wavelets.SpectrogramRows`).  No other module
converts between the two.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import xarray as xr

from behaviorlab.errors import SchemaError
from behaviorlab.features.design import FEATURE_DIMS
from behaviorlab.features.wavelets import SPECTROGRAM_RECIPE, SpectrogramRows, spectrogram_rows
from behaviorlab.schema import check_dims, log_step

__all__ = [
    "Samples",
    "SessionData",
    "SessionSamples",
    "from_samples",
    "session_items",
    "session_samples",
    "to_samples",
]

log = logging.getLogger(__name__)

_ROW_DIMS = ("session", "time", "individual")


class Samples(NamedTuple):
    """Rows for scikit-learn: unpacks as ``X, index = to_samples(da)``.

    Attributes
    ----------
    X
        ``(n_samples, n_features)`` float matrix.
    index
        :class:`pandas.MultiIndex` with levels ``([session,] time, individual)``
        in the input's coordinate order, one entry per row of ``X``.
    """

    X: np.ndarray
    index: pd.MultiIndex

    @property
    def valid(self) -> np.ndarray:
        """Boolean ``(n_samples,)``: True for rows without NaN."""
        return ~np.isnan(self.X).any(axis=1)


def to_samples(da: xr.DataArray | xr.Dataset, *, dropna: bool = False) -> Samples:
    """Stack ``([session,] time, individual)`` into the rows of a 2-D matrix.

    Parameters
    ----------
    da
        ``features ([session,] time, individual, feature)`` (or a Dataset
        holding ``features``).  Any other dims (e.g. ``frequency`` of a
        spectrogram) are flattened into the columns, after ``feature``.
    dropna
        Drop rows with any NaN (the index then lists only the kept rows).  By
        default nothing is dropped: rows with NaN stay and
        :attr:`Samples.valid` is the mask of complete rows.

    Returns
    -------
    Samples
        ``(X (n_samples, n_features), index)``; rows in C order of
        ``([session,] time, individual)``.
    """
    if isinstance(da, xr.Dataset):
        if "features" not in da:
            raise SchemaError(f"to_samples needs a 'features' variable; the Dataset has {list(da.data_vars)}")
        da = da["features"]
    check_dims(da, ("time", "individual", "feature"), name="to_samples input")
    rows = [d for d in _ROW_DIMS if d in da.dims]
    cols = [d for d in da.dims if d not in rows]
    cols = ["feature", *[d for d in cols if d != "feature"]]
    ordered = da.transpose(*rows, *cols)
    n_rows = int(np.prod([da.sizes[d] for d in rows]))
    dtype = ordered.dtype if ordered.dtype.kind == "f" else np.float64
    X = np.array(ordered.values, dtype=dtype, copy=True).reshape(n_rows, -1)  # a copy: X never aliases da
    levels = [pd.Index(da[d].values, name=d) for d in rows]
    codes = [c.ravel() for c in np.indices([da.sizes[d] for d in rows])]
    index = pd.MultiIndex(levels=levels, codes=codes, names=rows, verify_integrity=False)
    samples = Samples(X, index)
    n_bad = int((~samples.valid).sum())
    if n_bad:
        log.info("to_samples: %d of %d rows have NaN%s", n_bad, n_rows, " (dropped)" if dropna else "")
    if dropna and n_bad:
        keep = samples.valid
        samples = Samples(X[keep], index[keep])
    return samples


def from_samples(
    y: np.ndarray | Sequence[Any], index: pd.MultiIndex, name: str = "prediction", *, fill_value: Any = None
) -> xr.DataArray:
    """Put one value (or vector) per row back on ``([session,] time, individual)``.

    Parameters
    ----------
    y
        ``(n_samples,)`` or ``(n_samples, n_components)`` predictions, one per
        entry of ``index`` (labels, probabilities, embeddings...).
    index
        The index from :func:`to_samples` (or a subset of its rows, e.g. the
        valid ones); its levels give the output coordinates.
    name
        Name of the result.
    fill_value
        Value for rows missing from ``index``; default NaN (integer ``y`` is
        then cast to float), ``None`` for object ``y``.

    Returns
    -------
    xarray.DataArray
        ``name ([session,] time, individual[, component])``.
    """
    if not isinstance(index, pd.MultiIndex):
        raise SchemaError(f"index must be the pandas.MultiIndex from to_samples, got {type(index).__name__}")
    y = np.asarray(y)
    if y.ndim not in (1, 2) or y.shape[0] != len(index):
        raise SchemaError(f"y must have one row per index entry ({len(index)}), got shape {y.shape}")
    shape = [len(level) for level in index.levels]
    n_full = int(np.prod(shape))
    codes = tuple(np.asarray(c) for c in index.codes)
    extra = y.shape[1:]
    if len(index) == n_full and len(np.unique(np.ravel_multi_index(codes, shape))) == n_full:
        out = np.empty((*shape, *extra), dtype=y.dtype)
    else:
        if fill_value is None:
            fill_value = None if y.dtype.kind in "OUS" else np.nan
        dtype = np.result_type(y.dtype, np.min_scalar_type(fill_value)) if y.dtype.kind not in "OUS" else object
        out = np.full((*shape, *extra), fill_value, dtype=dtype)
    out[codes] = y
    dims = [*index.names, *(["component"] if extra else [])]
    coords = {str(level.name): level.values for level in index.levels}
    result = xr.DataArray(out, dims=dims, coords=coords, name=name)
    return log_step(result, "from_samples", name=name, n_samples=len(index))


# --------------------------------------------------------------------------- many sessions at once
SessionData = xr.DataArray | xr.Dataset | Sequence[xr.DataArray | xr.Dataset] | Mapping[str, xr.DataArray | xr.Dataset]


class SessionSamples(NamedTuple):
    """Rows of many sessions for the sequence models: unpacks as ``X, index, valid = session_samples(...)``.

    Rows are ordered session, then individual, then time, so the frames of one
    animal in one session are consecutive (a hidden Markov model needs them so).

    Attributes
    ----------
    X
        ``(n_rows, n_columns)`` float matrix; a row with any NaN is invalid.
    index
        :class:`pandas.MultiIndex` with levels ``(session, individual, time)``,
        one entry per row of ``X``.
    valid
        Boolean ``(n_rows,)``: True for rows without NaN.
    """

    X: np.ndarray
    index: pd.MultiIndex
    valid: np.ndarray

    @property
    def groups(self) -> np.ndarray:
        """``(n_rows,)`` integer code of each row's (session, individual) pair, in row order."""
        session, individual = self.index.codes[0], self.index.codes[1]
        return np.asarray(session, dtype=np.int64) * len(self.index.levels[1]) + np.asarray(individual)

    def lengths(self) -> np.ndarray:
        """Lengths of the runs of consecutive valid rows of one (session, individual), in row order.

        ``X[valid]`` split by these lengths gives the uninterrupted sequences
        (hmmlearn's ``lengths``); a NaN row or a new animal starts a new run.
        """
        if not self.valid.any():
            return np.zeros(0, dtype=np.int64)
        groups = self.groups
        rows = np.flatnonzero(self.valid)
        breaks = (np.diff(rows) != 1) | (np.diff(groups[rows]) != 0)
        starts = np.concatenate([[0], np.flatnonzero(breaks) + 1, [len(rows)]])
        return np.diff(starts).astype(np.int64)

    def unstack(self, values: np.ndarray, name: str, *, fill_value: Any = np.nan) -> dict[str, xr.DataArray]:
        """Put per-valid-row ``values`` back on ``(time, individual[, component])``, one DataArray per session.

        Parameters
        ----------
        values
            ``(n_valid,)`` or ``(n_valid, n_components)``: one value per valid
            row, in row order.
        name
            Name of each result.
        fill_value
            Value of the invalid rows (NaN; use e.g. -1 for integer labels).

        Returns
        -------
        dict of str to xarray.DataArray
            ``name (time, individual[, component])`` per session name.
        """
        values = np.asarray(values)
        n_valid = int(self.valid.sum())
        if values.ndim not in (1, 2) or values.shape[0] != n_valid:
            raise SchemaError(f"values must have one row per valid sample ({n_valid}), got shape {values.shape}")
        dtype = np.result_type(values.dtype, np.min_scalar_type(fill_value))
        full = np.full((len(self.valid), *values.shape[1:]), fill_value, dtype=dtype)
        full[self.valid] = values
        out: dict[str, xr.DataArray] = {}
        session_codes = np.asarray(self.index.codes[0])
        for code, session in enumerate(self.index.levels[0]):
            rows = np.flatnonzero(session_codes == code)
            if len(rows) == 0:
                continue
            sub = self.index[rows]
            individuals = np.asarray(pd.unique(sub.get_level_values(1)).astype(str))
            times = pd.unique(sub.get_level_values(2))
            block = full[rows].reshape(len(individuals), len(times), *values.shape[1:])
            dims = ["individual", "time", *(["component"] if values.ndim == 2 else [])]
            da = xr.DataArray(block, dims=dims, coords={"individual": individuals, "time": times}, name=name)
            out[str(session)] = da.transpose("time", "individual", ...)
        return out


def session_items(data: SessionData) -> list[tuple[str, xr.DataArray | xr.Dataset]]:
    """``(name, session)`` pairs of one session, a list (named by ``session`` attrs) or a mapping of sessions."""
    if isinstance(data, xr.DataArray | xr.Dataset):
        return [(str(data.attrs.get("session", "session")), data)]
    if isinstance(data, Mapping):
        return [(str(k), v) for k, v in data.items()]
    items = list(data)
    names = [str(d.attrs.get("session", f"session_{i}")) for i, d in enumerate(items)]
    if len(set(names)) != len(names):  # attrs missing or repeated: number them
        names = [f"session_{i}" for i in range(len(items))]
    return list(zip(names, items, strict=True))


def _session_array(name: str, obj: xr.DataArray | xr.Dataset, variable: str) -> xr.DataArray:
    """Return the session's variable as ``(individual, time, feature, ...)`` (a view: nothing is copied yet)."""
    if isinstance(obj, xr.Dataset):
        if variable not in obj:
            raise SchemaError(
                f"session {name!r} has no {variable!r} variable (it has {sorted(map(str, obj.data_vars))}); "
                "compute it first (behaviorlab features)"
            )
        obj = obj[variable]
    if not isinstance(obj, xr.DataArray):
        raise SchemaError(f"session {name!r}: expected an xarray Dataset or DataArray, got {type(obj).__name__}")
    check_dims(obj, FEATURE_DIMS, name=f"session {name!r}")
    rest = [d for d in obj.dims if d not in ("individual", "time", "feature")]
    # a lazily read variable is read whole, in its stored order, before the transpose: read through a
    # transposed lazy view, 10 h of gzip-chunked features took 12 GB
    return obj.compute().transpose("individual", "time", "feature", *rest)


def _columns_differ(name: str, columns: dict[str, Any], reference: tuple[str, int, dict[str, Any]]) -> str:
    """Return the error for sessions whose feature columns differ, naming the difference (social features first)."""
    first, _, first_columns = reference
    mine = {str(f) for f in columns.get("feature", ())}
    theirs = {str(f) for f in first_columns.get("feature", ())}
    social = {f for f in mine ^ theirs if f.startswith("social_")}
    if social and social == mine ^ theirs:
        with_social, without = (name, first) if social <= mine else (first, name)
        return (
            f"session {with_social!r} has social features (two or more animals) and session {without!r} has not "
            "(one animal, or computed with features.social: false): every session needs the same columns; compute "
            "all of them with features.social: false, or true (NaN for a lone animal), in the config"
        )
    extra = sorted(mine - theirs)[:5] + [f"-{f}" for f in sorted(theirs - mine)[:5]]
    return (
        f"session {name!r} has different columns from session {first!r} ({extra or 'other frequencies'}): "
        "compute both with the same feature config"
    )


def session_samples(data: SessionData, variable: str = "features") -> SessionSamples:
    """Stack the frames of many sessions and individuals into rows, one animal's frames consecutive.

    Parameters
    ----------
    data
        One session or many: a Dataset (``variable`` is taken from it), a
        DataArray ``(time, individual, feature[, frequency])``, a list of them
        (named by their ``session`` attr, else ``session_0``, ``session_1``...)
        or a mapping of session name to either.  Sessions may differ in length
        and individuals; they must share the columns (same features and
        frequencies, in the same order).
    variable
        Variable taken from Datasets: ``"features"`` or ``"spectrogram"``.

    Returns
    -------
    SessionSamples
        ``(X, index, valid)`` with rows ordered session, individual, time.
    """
    items = session_items(data)
    if not items:
        raise SchemaError("session_samples needs at least one session")
    if variable == "spectrogram" and any(isinstance(o, xr.Dataset) and variable not in o for _, o in items):
        return _spectrogram_samples(items)
    ordered_all, reference = [], None
    for name, obj in items:
        ordered = _session_array(name, obj, variable)
        reference = _same_columns(name, ordered, reference)
        ordered_all.append(ordered)
    # one allocation, filled session by session (float32 spectrograms stay float32; no concatenated copies)
    dtype = np.result_type(*[o.dtype if o.dtype.kind == "f" else np.float64 for o in ordered_all])
    X = np.empty((sum(o.sizes["individual"] * o.sizes["time"] for o in ordered_all), reference[1]), dtype=dtype)
    start = 0
    for ordered in ordered_all:
        stop = start + ordered.sizes["individual"] * ordered.sizes["time"]
        X[start:stop].reshape(ordered.shape)[...] = ordered.values
        start = stop
    return SessionSamples(X, _row_index(items, ordered_all), np.isfinite(X).all(axis=1))


def _same_columns(
    name: str, ordered: xr.DataArray, reference: tuple[str, int, dict[str, Any]] | None
) -> tuple[str, int, dict[str, Any]]:
    """Return the reference columns (the first session's); raise when this session's differ."""
    n_cols = int(np.prod([ordered.sizes[d] for d in ordered.dims[2:]]))
    columns = {d: ordered[d].values for d in ordered.dims if d not in ("individual", "time") and d in ordered.coords}
    if reference is None:
        return (name, n_cols, columns)
    if n_cols != reference[1] or any(not np.array_equal(columns.get(d, ()), c) for d, c in reference[2].items()):
        raise SchemaError(_columns_differ(name, columns, reference))
    return reference


def _row_index(items: list[tuple[str, Any]], ordered_all: list[xr.DataArray]) -> pd.MultiIndex:
    """Return the ``(session, individual, time)`` index of the rows of ``(individual, time, ...)`` sessions."""
    session, individual, time_ = [], [], []
    for (name, _), ordered in zip(items, ordered_all, strict=True):
        n_ind, n_time = ordered.sizes["individual"], ordered.sizes["time"]
        session.append(np.full(n_ind * n_time, name, dtype=object))
        individual.append(np.repeat(ordered["individual"].values.astype(str), n_time))
        time_.append(np.tile(ordered["time"].values, n_ind))
    individuals = np.concatenate(individual)
    return pd.MultiIndex.from_arrays(
        [
            pd.Categorical(np.concatenate(session), categories=[n for n, _ in items]),
            pd.Categorical(individuals, categories=list(dict.fromkeys(individuals))),
            np.concatenate(time_),
        ],
        names=["session", "individual", "time"],
    )


def _spectrogram_samples(items: list[tuple[str, Any]]) -> SessionSamples:
    """Spectrogram rows of sessions whose features files keep its recipe instead of the spectrogram.

    ``X`` is a :class:`~behaviorlab.features.wavelets.SpectrogramRows`: the
    rows are computed when they are read, block by block, equal to the
    stored spectrogram's (the same columns, feature-major), so ten hours of
    one animal need its features in memory, not 11 GB of spectrogram.
    """
    ordered_all, recordings, recipes, rates, reference = [], [], set(), set(), None
    for name, obj in items:
        if not isinstance(obj, xr.Dataset) or SPECTROGRAM_RECIPE not in obj.attrs or "features" not in obj:
            held = sorted(map(str, obj.data_vars)) if isinstance(obj, xr.Dataset) else type(obj).__name__
            raise SchemaError(
                f"session {name!r} has no 'spectrogram' variable and no recipe to compute it (it has {held}): "
                "compute its features with a spectrogram (behaviorlab features, or the spectrogram: section "
                "of the project)"
            )
        ordered = _session_array(name, obj, "features")
        reference = _same_columns(name, ordered, reference)
        recipes.add(obj.attrs[SPECTROGRAM_RECIPE])
        rates.add(float(obj.attrs.get("fps", np.nan)))
        ordered_all.append(ordered)
        fps = {"fps": obj.attrs.get("fps")}
        recordings.extend(ordered.isel(individual=i).assign_attrs(fps) for i in range(ordered.sizes["individual"]))
    if len(recipes) > 1 or len(rates) > 1:
        raise SchemaError(
            "the sessions' spectrograms differ (their spectrogram settings or frame rates): compute every "
            "session's features with the same config"
        )
    rows: SpectrogramRows = spectrogram_rows(recordings, json.loads(recipes.pop()))
    return SessionSamples(rows, _row_index(items, ordered_all), rows.valid())
