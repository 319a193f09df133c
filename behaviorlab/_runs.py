"""The one run-length primitive: runs of True along time, with exclusive stops.

Bouts of behavior labels (statistics, scores, annotation files) and runs of
HMM states or map regions all come from :func:`runs`, so that a bout means the
same frames everywhere.  Tables that show bouts to users write an inclusive
``end_frame = stop - 1`` (:data:`behaviorlab.schema.BOUT_COLUMNS`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["runs", "value_runs"]


def runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return every run of True along the last axis of a bool array.

    Parameters
    ----------
    mask
        ``(time,)`` or ``(rows, time)`` array; nonzero counts as True.

    Returns
    -------
    rows, starts, stops
        int64 ``(runs,)`` each, sorted by row then start: the row of each run
        (0 for a 1-D ``mask``), its first frame and the frame after its last
        (exclusive stop).
    """
    m = np.asarray(mask)
    if m.ndim not in (1, 2):
        raise ValueError(f"runs: expected a (time,) or (rows, time) array, got shape {m.shape}")
    m = np.atleast_2d(m != 0)
    padded = np.zeros((m.shape[0], m.shape[1] + 2), dtype=np.int8)
    padded[:, 1:-1] = m
    edges = np.diff(padded, axis=1)
    rows, starts = np.nonzero(edges == 1)
    _, stops = np.nonzero(edges == -1)
    return rows.astype(np.int64), starts.astype(np.int64), stops.astype(np.int64)


def value_runs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the runs of equal values of a 1-D integer sequence, ``(starts, stops, values)``, in time order.

    Every frame belongs to one run (runs of -1, frames without a label, included).
    """
    v = np.asarray(values)
    if v.ndim != 1:
        raise ValueError(f"value_runs: expected a (time,) array, got shape {v.shape}")
    if len(v) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), v[:0]
    change = np.flatnonzero(v[1:] != v[:-1]) + 1  # one pass: fast however many distinct values there are
    starts = np.concatenate([[0], change]).astype(np.int64)
    stops = np.concatenate([change, [len(v)]]).astype(np.int64)
    return starts, stops, v[starts]
