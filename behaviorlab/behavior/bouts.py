"""Bouts and transitions of any per-frame label: HMM states, map regions, classifier behaviors.

A label sequence is integers per frame with -1 for frames without a label
(missing features).  :func:`state_bouts` cuts it into bouts (runs of one
label) in a tidy table; :func:`transition_matrix` counts the changes between
bouts (or frames).  Inputs are arrays, ``(time, individual)`` DataArrays,
Datasets holding ``state`` (or ``cluster``/``behavior``), or a mapping of
session name to either.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd
import xarray as xr

from behaviorlab._runs import runs, value_runs
from behaviorlab.errors import SchemaError
from behaviorlab.schema import BOUT_COLUMNS

__all__ = [
    "STATE_BOUT_COLUMNS",
    "StateData",
    "iter_sequences",
    "match_bouts",
    "postprocess_bouts",
    "row_probabilities",
    "state_bouts",
    "transition_matrix",
]

#: Columns of :func:`state_bouts`: :data:`behaviorlab.schema.BOUT_COLUMNS` (the store's bout table, ``end_frame``
#: inclusive; ``behavior`` the state's number as text), then the integer ``state`` and the duration in frames.
STATE_BOUT_COLUMNS = [*BOUT_COLUMNS, "state", "duration_frames"]

StateData = xr.DataArray | xr.Dataset | Mapping[str, xr.DataArray | xr.Dataset] | np.ndarray


def _as_states(values: Any) -> np.ndarray:
    """Integer states with -1 for missing (NaN in a float array)."""
    values = np.asarray(values)
    if values.dtype.kind == "f":
        values = np.where(np.isfinite(values), values, -1)
    elif values.dtype.kind not in "iub":
        raise SchemaError(f"states must be integers (-1 for none), got dtype {values.dtype}")
    return values.astype(np.int64)


class LabelSequence(NamedTuple):
    """One individual's state sequence in one session."""

    session: str | None
    individual: str | None
    states: np.ndarray  # (time,) int64, -1 for none
    start_s: np.ndarray  # (time,) start of each frame in seconds (NaN when unknown)
    fps: float | None


def iter_sequences(states: Any, fps: float | None = None, session: str | None = None) -> Iterator[LabelSequence]:
    """Every (session, individual) state sequence of ``states``, with each frame's start time in seconds."""
    if isinstance(states, Mapping) and not isinstance(states, xr.Dataset):  # a Dataset is a Mapping too
        for name, value in states.items():
            yield from iter_sequences(value, fps, str(name))
        return
    if isinstance(states, xr.Dataset):
        if "state" not in states:
            raise SchemaError(f"the Dataset has no 'state' variable (it has {sorted(map(str, states.data_vars))})")
        da = states["state"].copy(deep=False)
        inherited = {k: states.attrs[k] for k in ("fps", "time_unit", "session") if k in states.attrs}
        da.attrs = {**inherited, **states["state"].attrs}
        yield from iter_sequences(da, fps, session)
        return
    if isinstance(states, xr.DataArray):
        extra = [d for d in states.dims if d not in ("time", "individual")]
        if "time" not in states.dims or extra:
            raise SchemaError(f"states must have dims (time[, individual]), got {states.dims}")
        if session is None and states.attrs.get("session") is not None:
            session = str(states.attrs["session"])
        rate = fps if fps is not None else states.attrs.get("fps")
        unit = states.attrs.get("time_unit")
        time_ = np.asarray(states["time"].values) if "time" in states.coords else None
        floating = time_ is not None and np.issubdtype(time_.dtype, np.floating)
        in_seconds = time_ is not None and (unit == "seconds" or (unit is None and floating))
        if rate is None and in_seconds and len(time_) > 1:
            step = float(np.median(np.diff(time_)))
            rate = 1.0 / step if step > 0 else None
        n = states.sizes["time"]
        if in_seconds:
            start_s = time_.astype(np.float64)
        elif rate and time_ is not None and np.issubdtype(time_.dtype, np.number):
            start_s = time_.astype(np.float64) / float(rate)  # frame numbers
        elif rate:
            start_s = np.arange(n) / float(rate)
        else:
            start_s = np.full(n, np.nan)
        da = states.transpose("time", ...)
        values = _as_states(da.values)
        if "individual" in da.dims:
            individuals = [str(v) for v in da["individual"].values] if "individual" in da.coords else None
            for j in range(values.shape[1]):
                name = individuals[j] if individuals else str(j)
                yield LabelSequence(session, name, values[:, j], start_s, None if rate is None else float(rate))
        else:
            yield LabelSequence(session, None, values, start_s, None if rate is None else float(rate))
        return
    values = _as_states(states)
    if values.ndim not in (1, 2):
        raise SchemaError(f"a states array must be (time,) or (time, individual), got shape {values.shape}")
    start_s = np.arange(len(values)) / float(fps) if fps else np.full(len(values), np.nan)
    rate = float(fps) if fps else None
    if values.ndim == 1:
        yield LabelSequence(session, None, values, start_s, rate)
    else:
        for j in range(values.shape[1]):
            yield LabelSequence(session, str(j), values[:, j], start_s, rate)


def state_bouts(states: StateData, fps: float | None = None, *, source: str = "state") -> pd.DataFrame:
    """Bouts (runs of one state) of every individual, as a tidy table in the store's bout columns.

    Parameters
    ----------
    states
        ``state (time[, individual])`` DataArray (a time coordinate in
        seconds, or ``fps`` / ``time_unit`` attrs, give the times), a
        Dataset holding ``state`` (as :meth:`EthogramHMM.label` returns), a
        mapping of session name to either, or a ``(time,)`` or ``(time,
        individual)`` integer array.  -1 (or NaN) marks frames without a
        state; it ends a bout and starts none.
    fps
        Frames per second; overrides the attrs.  Without it (and without
        times in seconds) the columns in seconds are NaN.
    source
        The ``source`` column (the label source: ``state``, ``cluster``, ...).

    Returns
    -------
    pandas.DataFrame
        :data:`STATE_BOUT_COLUMNS`, one row per bout in input order:
        ``session`` (a mapping key or a ``session`` attr; None when unnamed),
        ``individual`` (None for a 1-D array), ``source``, ``behavior`` (the
        state's number as text), ``start_frame`` and ``end_frame`` (positions
        along ``time``, 0 for the first frame; ``end_frame`` inclusive, the
        bout's last frame), ``start_s`` (from the time coordinate),
        ``duration_s``, ``truncated`` (the bout touches the recording's edge
        or a frame without a state, so its true length is unknown), ``state``
        and ``duration_frames``.
    """
    frames = []
    for seq in iter_sequences(states, fps):
        starts, stops, values = value_runs(seq.states)
        keep = values >= 0
        n = len(seq.states)
        before = np.r_[True, seq.states[:-1] < 0] if n else np.zeros(0, dtype=bool)  # edge or no state before
        after = np.r_[seq.states[1:] < 0, True] if n else np.zeros(0, dtype=bool)
        starts, stops, values = starts[keep], stops[keep], values[keep]
        duration = stops - starts
        frames.append(
            pd.DataFrame(
                {
                    "session": pd.Series([seq.session] * len(starts), dtype=object),
                    "individual": pd.Series([seq.individual] * len(starts), dtype=object),
                    "source": source,
                    "behavior": values.astype(str).astype(object),
                    "start_frame": starts,
                    "end_frame": stops - 1,
                    "start_s": seq.start_s[starts] if len(starts) else np.zeros(0),
                    "duration_s": duration / seq.fps if seq.fps else np.full(len(starts), np.nan),
                    "truncated": before[starts] | after[stops - 1] if len(starts) else np.zeros(0, dtype=bool),
                    "state": values,
                    "duration_frames": duration,
                }
            )
        )
    if not frames:
        return pd.DataFrame(
            {c: pd.Series(dtype=np.int64 if "frame" in c or c == "state" else object) for c in STATE_BOUT_COLUMNS}
        )
    out = pd.concat(frames, ignore_index=True)[STATE_BOUT_COLUMNS]
    for col in ("state", "start_frame", "end_frame", "duration_frames"):
        out[col] = out[col].astype(np.int64)
    for col in ("start_s", "duration_s"):
        out[col] = out[col].astype(np.float64)
    out["truncated"] = out["truncated"].astype(bool)
    return out


def transition_matrix(
    states: StateData,
    n_states: int | None = None,
    *,
    by: Literal["bout", "frame"] = "bout",
    normalize: bool = True,
) -> np.ndarray:
    """Empirical transition matrix of decoded states.

    Parameters
    ----------
    states
        As in :func:`state_bouts`; each individual's frames are one sequence.
    n_states
        Size of the matrix; default the largest state + 1.
    by
        ``"bout"`` (default): counts changes from one bout to the next, so
        the diagonal is 0 and row ``i`` says what follows a bout of ``i``.
        ``"frame"``: counts pairs of consecutive frames, self-transitions
        included (comparable to :attr:`EthogramHMM.transmat_`).  A frame
        of -1 breaks the sequence: no transition is counted across it.
    normalize
        Divide each row by its sum (rows without transitions stay 0);
        ``False`` returns the counts.

    Returns
    -------
    numpy.ndarray
        ``(n_states, n_states)`` float; row: from, column: to.
    """
    if by not in ("bout", "frame"):
        raise ValueError(f"by must be 'bout' or 'frame', got {by!r}")
    pairs = []
    largest = -1
    for seq in iter_sequences(states):
        s = seq.states
        if len(s):
            largest = max(largest, int(s.max()))
        if by == "frame":
            a, b = s[:-1], s[1:]
        else:
            values = value_runs(s)[2]
            a, b = values[:-1], values[1:]
        ok = (a >= 0) & (b >= 0)
        pairs.append((a[ok], b[ok]))
    size = largest + 1 if n_states is None else int(n_states)
    if size <= largest:
        raise ValueError(f"n_states={n_states} but the states go up to {largest}")
    counts = np.zeros((size, size))
    for a, b in pairs:
        np.add.at(counts, (a, b), 1.0)
    return row_probabilities(counts) if normalize else counts


def row_probabilities(counts: np.ndarray) -> np.ndarray:
    """Transition counts ``(from, to)`` divided by each row's total; a row without transitions stays 0."""
    counts = np.asarray(counts, dtype=np.float64)
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)


# --------------------------------------------------------------------------- bouts
def postprocess_segments(mask: np.ndarray, segment: np.ndarray, min_bout: int, max_gap: int) -> np.ndarray:
    """:func:`postprocess_bouts` on consecutive segments of one 1-D array (a segment change ends every run)."""
    out = np.array(mask, dtype=bool, copy=True)
    n = len(out)
    if n == 0 or (max_gap <= 0 and min_bout <= 1):
        return out
    segment = np.asarray(segment)
    seg_break = segment[1:] != segment[:-1]
    for step in ("gaps", "bouts"):
        if (step == "gaps" and max_gap <= 0) or (step == "bouts" and min_bout <= 1):
            continue
        change = np.flatnonzero((out[1:] != out[:-1]) | seg_break) + 1
        starts = np.concatenate([[0], change])
        stops = np.concatenate([change, [n]])
        lengths = stops - starts
        values = out[starts]
        if step == "gaps":  # a False run that neither starts nor ends its segment lies between two bouts
            first = np.ones(len(starts), dtype=bool)
            first[1:] = seg_break[starts[1:] - 1]
            last = np.ones(len(starts), dtype=bool)
            last[:-1] = seg_break[stops[:-1] - 1]
            flip = ~values & ~first & ~last & (lengths <= max_gap)
        else:
            flip = values & (lengths < min_bout)
        if flip.any():
            out ^= np.repeat(flip, lengths)
    return out


def postprocess_bouts(mask: np.ndarray, min_bout: int, max_gap: int) -> np.ndarray:
    """Clean per-frame decisions into bouts: close short gaps, then drop short bouts.

    Parameters
    ----------
    mask
        ``(time,)`` bool decisions of one individual and behavior, or ``(time,
        ...)``: every column along axis 0 is cleaned on its own.
    min_bout
        Bouts (runs of True) shorter than this many frames become False;
        ``<= 1`` keeps every bout.
    max_gap
        Gaps (runs of False between two bouts) of at most this many frames
        become True; ``0`` closes none.  A run of False at the start or end
        of the recording is not a gap.

    Returns
    -------
    numpy.ndarray
        New bool array of the shape of ``mask`` (which is not modified).

    Notes
    -----
    Gaps are closed first, so two short bouts separated by a short gap are
    joined and kept when together they reach ``min_bout``; a bout dropped in
    the second step does not reopen a gap it closed.
    """
    mask = np.asarray(mask)
    if mask.ndim == 0:
        raise SchemaError("postprocess_bouts needs a (time,) or (time, ...) array, got a scalar")
    if mask.dtype != bool:
        raise SchemaError(f"postprocess_bouts needs a bool array, got dtype {mask.dtype}")
    if int(min_bout) != min_bout or int(max_gap) != max_gap or max_gap < 0:
        raise SchemaError(f"min_bout and max_gap must be whole numbers of frames >= 0, got {min_bout}, {max_gap}")
    columns = np.moveaxis(mask, 0, -1).reshape(-1, mask.shape[0])  # (n_series, time)
    segment = np.repeat(np.arange(len(columns)), mask.shape[0])
    flat = postprocess_segments(columns.ravel(), segment, int(min_bout), int(max_gap))
    return np.moveaxis(flat.reshape(*np.moveaxis(mask, 0, -1).shape), -1, 0)


def match_bouts(pred: np.ndarray, truth: np.ndarray, min_overlap: float) -> list[float]:
    """Return the IoUs of the one-to-one greedy matches between the bouts of two 1-D bool arrays.

    A predicted and a true bout are a candidate pair when they overlap with an
    intersection over union of at least ``min_overlap`` (any overlap for 0);
    pairs are taken greedily by decreasing IoU, each bout in one pair at most.
    """
    _, ps, pe = runs(pred)
    _, ts, te = runs(truth)
    candidates = []
    for j, (a, b) in enumerate(zip(ps, pe, strict=True)):
        lo = np.searchsorted(te, a, side="right")  # first true bout ending after a
        hi = np.searchsorted(ts, b, side="left")  # true bouts starting before b
        for k in range(lo, hi):
            inter = min(b, te[k]) - max(a, ts[k])
            iou = inter / (max(b, te[k]) - min(a, ts[k]))
            if inter > 0 and iou >= min_overlap:
                candidates.append((-iou, j, k))
    used_p, used_t, ious = set(), set(), []
    for neg_iou, j, k in sorted(candidates):
        if j not in used_p and k not in used_t:
            used_p.add(j)
            used_t.add(k)
            ious.append(-neg_iou)
    return ious
