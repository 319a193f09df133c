"""Frames of the sequence models (the Gaussian HMM and the AR-HMM) as sequences, and chunks of them.

An array's rows become :class:`~behaviorlab.features.samples.SessionSamples`
(split into sequences by hmmlearn-style ``lengths``); sequences are cut into
chunks of consecutive frames, from which come the seeded fit subsample of a
long recording (:func:`pick_fit_rows`) and the chunks held out to choose the
number of states (:func:`split_heldout`).  :func:`label_sessions` puts
decoded states back on the sessions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from behaviorlab.errors import SchemaError
from behaviorlab.features.samples import SessionData, SessionSamples, session_items
from behaviorlab.schema import log_step

__all__ = [
    "FIT_CHUNK_FRAMES",
    "array_samples",
    "is_session_data",
    "label_sessions",
    "merge_chunks",
    "pick_fit_rows",
    "split_chunks",
    "split_heldout",
]

#: Frames per chunk when a long recording is subsampled for fitting.
FIT_CHUNK_FRAMES = 1000


def is_session_data(X: Any) -> bool:
    """Whether ``X`` is sessions (DataArrays, Datasets, or a list or mapping of them) rather than an array."""
    if isinstance(X, xr.DataArray | xr.Dataset | Mapping):
        return True
    return isinstance(X, list | tuple) and len(X) > 0 and all(isinstance(x, xr.DataArray | xr.Dataset) for x in X)


def array_samples(X: Any, lengths: Any) -> SessionSamples:
    """Rows of a 2-D array as :class:`SessionSamples`: ``lengths`` (if given) splits it into sequences."""
    try:
        X = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise SchemaError(f"X must be a numeric (n_frames, n_features) array: {err}") from None
    if X.ndim != 2:
        raise SchemaError(
            f"X must be a 2-D (n_frames, n_features) array, got shape {X.shape}; "
            "use X.reshape(-1, 1) for a single feature"
        )
    n = len(X)
    if lengths is None:
        lengths = np.array([n], dtype=np.int64)
    else:
        lengths = np.asarray(lengths)
        if lengths.ndim != 1 or not np.issubdtype(lengths.dtype, np.integer) or (lengths < 0).any():
            raise SchemaError(f"lengths must be a 1-D array of non-negative integers, got {lengths!r:.80}")
        if int(lengths.sum()) != n:
            raise SchemaError(f"lengths sum to {int(lengths.sum())} but X has {n} rows")
    sequence = np.repeat(np.arange(len(lengths)), lengths)
    index = pd.MultiIndex.from_arrays(
        [
            pd.Categorical.from_codes(np.zeros(n, dtype=np.int64), categories=["array"]),
            pd.Categorical.from_codes(sequence, categories=[f"sequence_{i}" for i in range(len(lengths))]),
            np.arange(n),
        ],
        names=["session", "individual", "time"],
    )
    return SessionSamples(X, index, np.isfinite(X).all(axis=1))


def split_chunks(lengths: np.ndarray, chunk: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut consecutive sequences into chunks of at most ``chunk`` rows: ``(starts, stops, sequence)``."""
    starts, stops, seq = [], [], []
    offset = 0
    for i, length in enumerate(lengths):
        length = int(length)
        if length == 0:
            continue
        k = max(1, math.ceil(length / chunk))
        bounds = offset + np.round(np.linspace(0, length, k + 1)).astype(np.int64)
        starts.append(bounds[:-1])
        stops.append(bounds[1:])
        seq.append(np.full(k, i, dtype=np.int64))
        offset += length
    if not starts:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    return np.concatenate(starts), np.concatenate(stops), np.concatenate(seq)


def merge_chunks(starts: np.ndarray, stops: np.ndarray, seq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the chosen chunks (in order) and the lengths of their runs; touching chunks of a sequence join."""
    order = np.argsort(starts, kind="stable")
    starts, stops, seq = starts[order], stops[order], seq[order]
    keep = stops > starts
    starts, stops, seq = starts[keep], stops[keep], seq[keep]
    if len(starts) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    rows = np.concatenate([np.arange(a, b) for a, b in zip(starts, stops, strict=True)])
    new_run = np.ones(len(starts), dtype=bool)
    new_run[1:] = (starts[1:] != stops[:-1]) | (seq[1:] != seq[:-1])
    run = np.cumsum(new_run) - 1
    lengths = np.bincount(run, weights=stops - starts).astype(np.int64)
    return rows, lengths


def pick_fit_rows(
    lengths: np.ndarray, max_frames: int | None, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_frames`` rows as whole random chunks of the sequences: ``(rows, lengths)``, rows in order."""
    total = int(lengths.sum())
    if max_frames is None or total <= max_frames:
        return np.arange(total), np.asarray(lengths, dtype=np.int64)
    starts, stops, seq = split_chunks(lengths, FIT_CHUNK_FRAMES)
    order = rng.permutation(len(starts))
    cum = np.cumsum((stops - starts)[order])
    k = int(np.searchsorted(cum, max_frames)) + 1
    chosen = order[:k]
    stops = stops.copy()
    stops[chosen[-1]] -= int(cum[k - 1]) - max_frames  # trim the last chunk to hit max_frames exactly
    return merge_chunks(starts[chosen], stops[chosen], seq[chosen])


def split_heldout(
    lengths: np.ndarray, fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
    """Hold out whole chunks: ``(train_rows, train_lengths, [(start, stop) of each held-out chunk])``."""
    total = int(lengths.sum())
    chunk = int(np.clip(total // 20, 50, FIT_CHUNK_FRAMES))
    starts, stops, seq = split_chunks(lengths, chunk)
    if len(starts) < 2:
        raise SchemaError(
            f"criterion='heldout' needs at least two chunks of frames to hold one out, got {total} frames; "
            "use criterion='bic'"
        )
    order = rng.permutation(len(starts))
    cum = np.cumsum((stops - starts)[order])
    k = int(np.clip(np.searchsorted(cum, fraction * total) + 1, 1, len(starts) - 1))
    held, train = np.sort(order[:k]), order[k:]
    rows, train_lengths = merge_chunks(starts[train], stops[train], seq[train])
    return rows, train_lengths, [(int(starts[i]), int(stops[i])) for i in held]


def label_sessions(
    data: SessionData,
    decode: Callable[[Any], tuple[SessionSamples, np.ndarray]],
    n_states: int,
    operation: str,
    params: Mapping[str, Any],
    variable: str = "state",
) -> Any:
    """Add the per-frame states decoded by ``decode`` to one or many sessions as ``variable (time, individual)``.

    ``decode(session)`` returns the session's samples and one state per
    valid row.  The result has the shape of ``data``: a new Dataset with
    the int64 ``variable`` (-1 where the frame could not be decoded)
    and a ``log`` entry ``operation`` with ``params``; for a DataArray, the
    ``variable`` DataArray itself.  It carries attrs ``session``,
    ``n_states`` and, when the session has them, ``fps`` and ``time_unit``.
    The inputs are not modified.
    """
    items = session_items(data)
    if not items:
        raise SchemaError("label needs at least one session")
    out: dict[str, Any] = {}
    for name, obj in items:
        samples, states = decode(obj)
        per_session = samples.unstack(states, variable, fill_value=-1)
        if per_session:
            values = next(iter(per_session.values())).transpose("time", "individual").values
        else:  # no frame or no individual
            values = np.full((obj.sizes["time"], obj.sizes["individual"]), -1)
        attrs: dict[str, Any] = {"session": str(name), "n_states": int(n_states)}
        for key in ("fps", "time_unit"):
            if obj.attrs.get(key) is not None:
                attrs[key] = obj.attrs[key]
        state = xr.DataArray(
            values.astype(np.int64),
            dims=("time", "individual"),
            coords={"time": obj["time"].values, "individual": obj["individual"].values},
            name=variable,
            attrs=attrs,
        )
        if isinstance(obj, xr.Dataset):
            new = obj.copy(deep=False)
            new[variable] = state
            out[str(name)] = log_step(new, operation, n_states_=int(n_states), **params)
        else:
            state.attrs["log"] = obj.attrs.get("log", "[]")
            out[str(name)] = log_step(state, operation, n_states_=int(n_states), **params)
    if isinstance(data, xr.Dataset | xr.DataArray):
        return next(iter(out.values()))
    return out if isinstance(data, Mapping) else list(out.values())
