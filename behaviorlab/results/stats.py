"""Behavior statistics: bouts, time budgets, latencies, transitions, as tidy tables; every table of a session.

Every per-frame label source ends up in the same tables: HMM states
(``state``), behavior-map regions (``cluster``), classifier decisions
(``behavior_prediction``) and human annotations (``labels``, or per-frame
behavior names).  :func:`frame_labels` turns any of them into one form, a
float DataArray ``(time, individual, behavior)`` holding 1 where the behavior
is shown, 0 where it is not and NaN where the frame's label is unknown
(features missing, frame not annotated); the other functions take that form
(or anything :func:`frame_labels` accepts) and return pandas tables with one
row per session, individual, source, behavior (and time bin).
:func:`pooled_transition_matrix` pools the transition counts of many
sessions into one matrix.  The distance travelled and the zone statistics of
the poses are :mod:`behaviorlab.results.movement`'s; :func:`session_tables`
gathers every table of a session.

Conventions
-----------
- Frame ``f`` covers ``[t_f, t_f + 1/fps)``; a bout of frames ``start_frame
  ... end_frame`` (``end_frame`` inclusive, as SimBA and spreadsheets count)
  lasts ``(end_frame - start_frame + 1) / fps`` seconds.  Frame numbers are
  positions along ``time`` (0 for the first frame).
- An unknown frame ends a bout.  A bout that touches the start or end of the
  recording or an unknown frame is ``truncated``: its true duration is not
  known (it is still counted, with the part that was seen).
- The time budget is the share of *known* frames, so missing features do not
  dilute it; ``labeled_s`` says how much time that share is of.
- With ``bin_s`` every frame belongs to the bin ``floor(t / bin_s)``; a bout
  belongs to the bin of its first frame (its duration is not cut at the
  bin's end) and a transition to the bin of the bout it leads to.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from behaviorlab._runs import runs
from behaviorlab.behavior.bouts import row_probabilities
from behaviorlab.errors import SchemaError
from behaviorlab.results.movement import movement_statistics, zone_statistics
from behaviorlab.results.scoring import counts_tables, dataset_counts
from behaviorlab.results.time_bins import frame_rate, frame_times, time_bins
from behaviorlab.schema import BOUT_COLUMNS, check_dims, is_missing_label
from behaviorlab.trajectories.kinematics import CENTROID
from behaviorlab.trajectories.landmarks import arena_landmarks, arena_zones

__all__ = [
    "BOUT_COLUMNS",
    "FRAME_LABEL_COLUMNS",
    "LABEL_SOURCES",
    "STAT_COLUMNS",
    "TRANSITION_COLUMNS",
    "behavior_statistics",
    "bout_table",
    "frame_label_rows",
    "frame_labels",
    "label_sources",
    "pooled_transition_matrix",
    "session_tables",
    "transition_table",
]

log = logging.getLogger(__name__)

#: Dataset variables that hold per-frame labels, in the order :func:`label_sources` lists them.
LABEL_SOURCES: tuple[str, ...] = ("behavior_prediction", "labels", "state", "syllable", "cluster")


_BIN_COLUMNS = ["bin", "bin_start_s", "bin_end_s"]

#: Columns of :func:`behavior_statistics`.
STAT_COLUMNS: list[str] = [
    "session",
    "individual",
    "source",
    "behavior",
    *_BIN_COLUMNS,
    "labeled_s",
    "time_s",
    "time_budget_pct",
    "bout_count",
    "mean_bout_s",
    "median_bout_s",
    "latency_s",
    "bouts_per_min",
]

#: Columns of :func:`transition_table`.
TRANSITION_COLUMNS: list[str] = [
    "session",
    "individual",
    "source",
    *_BIN_COLUMNS,
    "from_behavior",
    "to_behavior",
    "count",
    "probability",
]

_EXCLUSIVE_PREFIX = {"state": "state", "syllable": "syllable", "cluster": "cluster"}
_COUNT_ATTRS = ("n_states", "n_regions", "n_behaviors")


# --------------------------------------------------------------------------- one label form
def label_sources(ds: xr.Dataset) -> list[str]:
    """Per-frame label variables of a session Dataset, in :data:`LABEL_SOURCES` order."""
    return [name for name in LABEL_SOURCES if name in ds.data_vars]


def _with_individual(da: xr.DataArray) -> xr.DataArray:
    if "individual" in da.dims:
        return da
    return da.expand_dims(individual=["individual_0"], axis=1)


def _exclusive(da: xr.DataArray, source: str, behaviors: Sequence[str] | int | None) -> xr.DataArray:
    """One-hot ``(time, individual, behavior)`` of integer labels (-1 or NaN: unknown)."""
    values = np.asarray(da.transpose("time", "individual").values)
    if values.dtype.kind == "f":
        unknown = ~np.isfinite(values)
        codes = np.where(unknown, -1, values).astype(np.int64)
    else:
        codes = values.astype(np.int64)
        unknown = codes < 0
    if isinstance(behaviors, int):
        names = [f"{_EXCLUSIVE_PREFIX.get(source, source)}_{k}" for k in range(behaviors)]
    elif behaviors is not None:
        names = [str(b) for b in behaviors]
    else:
        count = next((int(da.attrs[a]) for a in _COUNT_ATTRS if a in da.attrs), None)
        if count is None:
            count = int(codes.max()) + 1 if codes.size else 0
        names = [f"{_EXCLUSIVE_PREFIX.get(source, source)}_{k}" for k in range(count)]
    if codes.size and codes.max() >= len(names):
        raise SchemaError(
            f"{source!r} holds label {int(codes.max())} but only {len(names)} behaviors are named ({names[:5]}...)"
        )
    onehot = (codes[..., None] == np.arange(len(names))).astype(np.float32)
    onehot[unknown] = np.nan
    return xr.DataArray(
        onehot,
        dims=("time", "individual", "behavior"),
        coords={"time": da["time"].values, "individual": da["individual"].values, "behavior": names},
    )


def _named(da: xr.DataArray, behaviors: Sequence[str] | None) -> xr.DataArray:
    """One-hot of per-frame behavior names (missing: no behavior shown; the frame is known)."""
    values = np.asarray(da.transpose("time", "individual").values, dtype=object)
    missing = np.vectorize(is_missing_label, otypes=[bool])(values) if values.size else np.zeros(values.shape, bool)
    text = np.where(missing, "", values.astype(str))
    seen = sorted(set(text[~missing].tolist()))
    names = [str(b) for b in behaviors] if behaviors is not None else seen
    unknown_names = sorted(set(seen) - set(names))
    if unknown_names:
        raise SchemaError(f"the labels hold behaviors {unknown_names} that are not in behaviors={names}")
    onehot = (text[..., None] == np.asarray(names, dtype=object)).astype(np.float32)
    return xr.DataArray(
        onehot,
        dims=("time", "individual", "behavior"),
        coords={"time": da["time"].values, "individual": da["individual"].values, "behavior": names},
    )


def frame_labels(
    data: xr.Dataset | xr.DataArray,
    source: str | None = None,
    *,
    behaviors: Sequence[str] | int | None = None,
    fps: float | None = None,
) -> xr.DataArray:
    """Any per-frame label source as ``(time, individual, behavior)``: 1 shown, 0 not shown, NaN unknown.

    Parameters
    ----------
    data
        A session Dataset holding one of :data:`LABEL_SOURCES`, or the label
        DataArray itself:

        - integer ``(time[, individual])`` labels such as ``state`` or
          ``cluster``, -1 (or NaN) for unknown frames: one behavior per value,
          named ``state_0``, ``state_1``, ... (as many as the ``n_states`` /
          ``n_regions`` attr says, so a state a session never shows still gets
          its rows);
        - bool or float ``(time, individual, behavior)`` decisions or
          annotations (NaN unknown).  For ``behavior_prediction`` in a Dataset
          that also holds ``behavior_probability``, frames whose probability
          is NaN (no features) are unknown;
        - per-frame behavior names ``(time[, individual])`` (strings; empty or
          None means no behavior, a known frame).
    source
        The variable of a Dataset to use; default the first of
        :data:`LABEL_SOURCES` it holds.  For a DataArray it only names the
        source (default the DataArray's name).
    behaviors
        Behavior names for integer or string labels (the integer ``k`` is
        ``behaviors[k]``), or for integer labels the number of values.
    fps
        Frames per second, when the data have no ``fps`` attr.

    Returns
    -------
    xarray.DataArray
        float32 ``frame_labels (time, individual, behavior)``, attrs ``fps``,
        ``source``, ``exclusive`` (1 when at most one behavior holds per
        frame) and ``session`` when the input names one.  A missing
        ``individual`` dim becomes ``individual_0``.
    """
    attrs: dict[str, Any] = dict(data.attrs)
    if isinstance(data, xr.Dataset):
        available = label_sources(data)
        if source is None:
            if not available:
                raise SchemaError(
                    f"the Dataset holds no per-frame labels (one of {list(LABEL_SOURCES)}); "
                    f"it has {sorted(map(str, data.data_vars))}"
                )
            source = available[0]
        if source not in data.data_vars:
            raise SchemaError(f"the Dataset has no variable {source!r}; its label variables: {available}")
        da = data[source]
        probability = data.get("behavior_probability") if source == "behavior_prediction" else None
        attrs.update(da.attrs)
    else:
        da, probability = data, None
        source = source or str(data.attrs.get("source") or data.name or "labels")
    if da.dims == ("time", "individual", "behavior") and da.name == "frame_labels" and "exclusive" in da.attrs:
        out = da.copy()  # already in this form
    else:
        if "rater" in da.dims:
            raise SchemaError(
                f"{source!r} has a 'rater' dim: combine the raters first (behaviorlab.io.annotations.consensus)"
            )
        check_dims(da, ["time"], name=f"labels {source!r}")
        da = _with_individual(da)
        extra = set(da.dims) - {"time", "individual", "behavior"}
        if extra:
            raise SchemaError(f"labels {source!r} have unexpected dims {sorted(extra)}")
        if "behavior" in da.dims:
            da = da.transpose("time", "individual", "behavior")
            values = np.asarray(da.values, dtype=np.float32)
            if probability is not None:
                known = np.isfinite(np.asarray(probability.transpose(*da.dims).values))
                values = np.where(known, values, np.float32(np.nan))
            out = da.copy(data=values)
            attrs["exclusive"] = 0
        elif da.dtype.kind in "OUS":
            out = _named(da, None if isinstance(behaviors, int) else behaviors)
            attrs["exclusive"] = 1
        elif da.dtype.kind in "iuf":
            out = _exclusive(da, source, behaviors)
            attrs["exclusive"] = 1
        else:
            raise SchemaError(f"labels {source!r} have dtype {da.dtype}; expected integers, bools, floats or names")
    out.name = "frame_labels"
    out.attrs = {k: v for k, v in attrs.items() if k in ("fps", "session", "time_unit", "exclusive")}
    out.attrs["fps"] = frame_rate(out if "fps" in out.attrs else data, fps)
    out.attrs["source"] = source
    out.attrs.setdefault("exclusive", 0)
    return out


# --------------------------------------------------------------------------- runs
class _LabelBouts:
    """Runs of 1 along time of every (individual, behavior) column of one label array, with its frames' bins."""

    def __init__(self, labels: xr.DataArray, session: str | None = None, bin_s: float | None = None) -> None:
        values = np.asarray(labels.transpose("time", "individual", "behavior").values)
        self.n_time, self.n_ind, self.n_beh = values.shape
        flat = values.reshape(self.n_time, -1)
        on = flat == 1
        unknown = np.isnan(flat)
        # runs of 1 of every (individual, behavior) column, sorted by column, then time
        self.column, self.start, stop = runs(on.T)
        self.end = stop - 1  # inclusive
        # unknown before / after a run (or the recording's edge): truncated
        unk = np.ones((flat.shape[1], self.n_time + 2), dtype=bool)
        unk[:, 1:-1] = unknown.T
        self.truncated = unk[self.column, self.start] | unk[self.column, self.end + 2]
        self.individual = self.column // self.n_beh
        self.behavior = self.column % self.n_beh
        self.on = on
        self.known = ~unknown.reshape(self.n_time, self.n_ind, self.n_beh)
        self.unknown_any = ~self.known.all(axis=2)
        self.fps = float(labels.attrs["fps"])
        self.times = frame_times(labels)
        self.frame_bin, self.bin_start, self.bin_end = time_bins(self.times, self.fps, bin_s)
        self.individuals = np.asarray([str(v) for v in labels["individual"].values], dtype=object)
        self.names = np.asarray([str(v) for v in labels["behavior"].values], dtype=object)
        self.session = session or labels.attrs.get("session")
        self.source = labels.attrs["source"]

    @classmethod
    def of(
        cls,
        data: xr.Dataset | xr.DataArray,
        source: str | None,
        behaviors: Sequence[str] | int | None,
        fps: float | None,
        session: str | None,
        bin_s: float | None = None,
    ) -> _LabelBouts:
        """Build the runs of :func:`frame_labels` of ``data``."""
        return cls(frame_labels(data, source, behaviors=behaviors, fps=fps), session, bin_s)

    def keys(self, individual: np.ndarray, behavior: np.ndarray | None = None) -> dict[str, Any]:
        """Return the leading columns ``session, individual, source[, behavior]`` of a table."""
        n = len(individual)
        out: dict[str, Any] = {
            "session": pd.Series([self.session] * n, dtype=object),
            "individual": self.individuals[individual] if n else np.zeros(0, dtype=object),
            "source": pd.Series([self.source] * n, dtype=object),
        }
        if behavior is not None:
            out["behavior"] = self.names[behavior] if n else np.zeros(0, dtype=object)
        return out

    def bin_columns(self, bin_: np.ndarray) -> dict[str, Any]:
        """Return the columns ``bin, bin_start_s, bin_end_s`` for bin indices ``bin_``."""
        return {"bin": bin_.astype(np.int64), "bin_start_s": self.bin_start[bin_], "bin_end_s": self.bin_end[bin_]}


def bout_table(
    data: xr.Dataset | xr.DataArray,
    source: str | None = None,
    *,
    session: str | None = None,
    behaviors: Sequence[str] | int | None = None,
    fps: float | None = None,
) -> pd.DataFrame:
    """Bouts of every behavior and individual: uninterrupted runs of frames showing it.

    Parameters
    ----------
    data, source, behaviors, fps
        As in :func:`frame_labels`.
    session
        Session name for the ``session`` column; default the data's
        ``session`` attr (else None).

    Returns
    -------
    pandas.DataFrame
        :data:`BOUT_COLUMNS`: ``session, individual, source, behavior,
        start_frame, end_frame`` (inclusive), ``start_s``, ``duration_s``,
        ``truncated``; sorted by individual, behavior, start.
    """
    runs = _LabelBouts.of(data, source, behaviors, fps, session)
    n = len(runs.start)
    return pd.DataFrame(
        {
            **runs.keys(runs.individual, runs.behavior),
            "start_frame": runs.start.astype(np.int64),
            "end_frame": runs.end.astype(np.int64),
            "start_s": runs.times[runs.start] if n else np.zeros(0),
            "duration_s": (runs.end - runs.start + 1) / runs.fps,
            "truncated": runs.truncated.astype(bool),
        },
        columns=BOUT_COLUMNS,
    )


# --------------------------------------------------------------------------- statistics
def behavior_statistics(
    data: xr.Dataset | xr.DataArray,
    source: str | None = None,
    *,
    session: str | None = None,
    bin_s: float | None = None,
    behaviors: Sequence[str] | int | None = None,
    fps: float | None = None,
) -> pd.DataFrame:
    """Time budget, bouts and latency of every behavior, per individual (and time bin).

    Parameters
    ----------
    data, source, behaviors, fps
        As in :func:`frame_labels`.
    session
        As in :func:`bout_table`.
    bin_s
        Length of the time bins in seconds (e.g. 60 for per-minute
        statistics); ``None`` gives one row per behavior for the whole
        recording.

    Returns
    -------
    pandas.DataFrame
        :data:`STAT_COLUMNS`, one row per individual, behavior and bin,
        behaviors never shown included:

        - ``labeled_s``: seconds of known frames in the bin;
        - ``time_s``, ``time_budget_pct``: seconds showing the behavior and
          their share of ``labeled_s`` (NaN when nothing is known);
        - ``bout_count``: bouts starting in the bin; ``mean_bout_s``,
          ``median_bout_s`` their durations (NaN without bouts);
        - ``latency_s``: from the start of the bin to the first frame showing
          the behavior in it (0 when a bout is under way; NaN when the behavior
          is not shown in the bin);
        - ``bouts_per_min``: ``bout_count`` per minute of ``labeled_s``.
    """
    runs = _LabelBouts.of(data, source, behaviors, fps, session, bin_s)
    fps_, times, frame_bin, bin_start = runs.fps, runs.times, runs.frame_bin, runs.bin_start
    n_bins, n_ind, n_beh = len(bin_start), runs.n_ind, runs.n_beh
    known = runs.known
    shape = (n_bins, n_ind, n_beh)
    # frames per bin: labeled and shown
    labeled = np.zeros(shape)
    shown = np.zeros(shape)
    np.add.at(labeled, frame_bin, known.astype(np.float64))
    np.add.at(shown, frame_bin, runs.on.reshape(known.shape).astype(np.float64))
    # first frame showing the behavior in each bin
    first = np.full(shape, np.inf)
    t_on, c_on = np.nonzero(runs.on)
    if len(t_on):
        np.minimum.at(first, (frame_bin[t_on], c_on // n_beh, c_on % n_beh), times[t_on])
    # bouts by the bin of their first frame
    duration = (runs.end - runs.start + 1) / fps_
    b_bin = frame_bin[runs.start] if len(runs.start) else np.zeros(0, dtype=np.int64)
    key = (b_bin * n_ind + runs.individual) * n_beh + runs.behavior
    count = np.bincount(key, minlength=n_bins * n_ind * n_beh).reshape(shape).astype(np.int64)
    total = np.bincount(key, weights=duration, minlength=n_bins * n_ind * n_beh).reshape(shape)
    median = np.full(shape, np.nan)
    if len(key):
        order = np.lexsort((duration, key))
        sk, sd = key[order], duration[order]
        uniq, first_idx, counts = np.unique(sk, return_index=True, return_counts=True)
        lo = sd[first_idx + (counts - 1) // 2]
        hi = sd[first_idx + counts // 2]
        median.reshape(-1)[uniq] = (lo + hi) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        labeled_s = labeled / fps_
        time_s = shown / fps_
        pct = np.where(labeled > 0, 100.0 * shown / labeled, np.nan)
        mean = np.where(count > 0, total / count, np.nan)
        per_min = np.where(labeled > 0, count / (labeled_s / 60.0), np.nan)
    latency = np.where(np.isfinite(first), first - bin_start[:, None, None], np.nan)
    b, i, k = (a.ravel() for a in np.indices(shape))
    return pd.DataFrame(
        {
            **runs.keys(i, k),
            **runs.bin_columns(b),
            "labeled_s": labeled_s.ravel(),
            "time_s": time_s.ravel(),
            "time_budget_pct": pct.ravel(),
            "bout_count": count.ravel(),
            "mean_bout_s": mean.ravel(),
            "median_bout_s": median.ravel(),
            "latency_s": latency.ravel(),
            "bouts_per_min": per_min.ravel(),
        },
        columns=STAT_COLUMNS,
    )


def transition_table(
    data: xr.Dataset | xr.DataArray,
    source: str | None = None,
    *,
    session: str | None = None,
    bin_s: float | None = None,
    behaviors: Sequence[str] | int | None = None,
    fps: float | None = None,
) -> pd.DataFrame:
    """Transitions between consecutive bouts of each individual: counts and probabilities.

    The bouts of an individual are taken in order of their start (then
    behavior order); each bout and the next form a transition unless unknown
    frames lie between them.  For exclusive labels (states, regions, one
    behavior per frame) this is the bout-to-bout transition matrix; for
    multi-label decisions a behavior shown again after frames without any
    behavior counts as a transition to itself.

    Parameters
    ----------
    data, source, behaviors, fps, session, bin_s
        As in :func:`behavior_statistics`; a transition belongs to the bin
        where the bout it leads to starts.

    Returns
    -------
    pandas.DataFrame
        :data:`TRANSITION_COLUMNS`: one row per individual, bin and
        (from, to) pair of behaviors, zero counts included; ``probability`` is
        the count over all transitions from ``from_behavior`` in that bin
        (NaN when there are none).
    """
    runs = _LabelBouts.of(data, source, behaviors, fps, session, bin_s)
    frame_bin = runs.frame_bin
    n_bins, n_ind, n_beh = len(runs.bin_start), runs.n_ind, runs.n_beh
    counts = np.zeros((n_bins, n_ind, n_beh, n_beh), dtype=np.int64)
    order = np.lexsort((runs.behavior, runs.start, runs.individual))
    ind, beh, start, end = runs.individual[order], runs.behavior[order], runs.start[order], runs.end[order]
    if len(ind) > 1:
        # unknown frames of each individual, cumulated, to test the frames between two bouts
        cum = np.zeros((runs.n_time + 1, n_ind), dtype=np.int64)
        cum[1:] = np.cumsum(runs.unknown_any, axis=0)
        a, b = np.arange(len(ind) - 1), np.arange(1, len(ind))
        same = ind[a] == ind[b]
        gap_from = np.minimum(end[a] + 1, start[b])  # overlapping bouts: nothing between them
        gap_unknown = cum[start[b], ind[b]] - cum[gap_from, ind[b]]
        ok = same & (gap_unknown == 0)
        np.add.at(counts, (frame_bin[start[b][ok]], ind[b][ok], beh[a][ok], beh[b][ok]), 1)
    totals = counts.sum(axis=3, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        prob = np.where(totals > 0, counts / totals, np.nan)
    bb, i, f, t = (x.ravel() for x in np.indices(counts.shape))
    return pd.DataFrame(
        {
            **runs.keys(i),
            **runs.bin_columns(bb),
            "from_behavior": runs.names[f],
            "to_behavior": runs.names[t],
            "count": counts.ravel(),
            "probability": prob.ravel(),
        },
        columns=TRANSITION_COLUMNS,
    )


def pooled_transition_matrix(
    transitions: pd.DataFrame, source: str, *, sessions: Sequence[str] | None = None
) -> pd.DataFrame:
    """Bout-to-bout transition probabilities of one label source, pooled over sessions, individuals and bins.

    Parameters
    ----------
    transitions
        Table of :func:`transition_table` (the store's
        ``transitions``).
    source
        The label source (``state``, ``cluster``, ``labels``, ``behavior_prediction``).
    sessions
        Pool only these sessions (default all).

    Returns
    -------
    pandas.DataFrame
        Square table, rows ``from_behavior``, columns ``to_behavior``
        (behaviors in table order): summed counts divided by each row's total
        (0 for a behavior never left); what
        :func:`behaviorlab.results.plots.transition_graph_figure` draws.
    """
    needed = {"source", "from_behavior", "to_behavior", "count"}
    if not needed <= set(transitions.columns):
        raise SchemaError(f"transitions lacks the column(s) {sorted(needed - set(transitions.columns))}")
    rows = transitions[transitions["source"] == source]
    if sessions is not None:
        rows = rows[rows["session"].isin([str(s) for s in sessions])]
    names = list(pd.unique(pd.concat([rows["from_behavior"], rows["to_behavior"]], ignore_index=True)))
    counts = rows.pivot_table(index="from_behavior", columns="to_behavior", values="count", aggfunc="sum")
    counts = counts.reindex(index=names, columns=names).fillna(0.0)
    values = row_probabilities(counts.to_numpy())
    return pd.DataFrame(
        values, index=pd.Index(names, name="from_behavior"), columns=pd.Index(names, name="to_behavior")
    )


# --------------------------------------------------------------------------- all tables of a session
#: Columns of :func:`frame_label_rows`.
FRAME_LABEL_COLUMNS: list[str] = ["session", "individual", "source", "frame", "time_s", "behavior"]


def frame_label_rows(
    data: xr.Dataset | xr.DataArray,
    source: str | None = None,
    *,
    session: str | None = None,
    behaviors: Sequence[str] | int | None = None,
    fps: float | None = None,
) -> pd.DataFrame:
    """Per-frame labels as a long table: one row per frame, individual and behavior shown.

    Frames where no behavior is shown have no row; frames whose label is
    unknown have one row with ``behavior`` None.  Exclusive sources (states,
    regions) therefore give one row per known frame, and joining two sources
    on ``(session, individual, frame)`` lines them up.

    Returns
    -------
    pandas.DataFrame
        :data:`FRAME_LABEL_COLUMNS`, sorted by individual, frame, behavior.
    """
    labels = frame_labels(data, source, behaviors=behaviors, fps=fps)
    values = np.asarray(labels.transpose("individual", "time", "behavior").values)
    times = frame_times(labels)
    i_on, t_on, b_on = np.nonzero(values == 1)
    unknown = np.isnan(values).any(axis=2)
    i_unk, t_unk = np.nonzero(unknown)
    individuals = np.asarray([str(v) for v in labels["individual"].values], dtype=object)
    names = np.asarray([str(v) for v in labels["behavior"].values] + [None], dtype=object)
    ind = np.concatenate([i_on, i_unk])
    frame = np.concatenate([t_on, t_unk]).astype(np.int64)
    beh = np.concatenate([b_on, np.full(len(i_unk), len(names) - 1)])
    order = np.lexsort((beh, frame, ind))
    n = len(order)
    return pd.DataFrame(
        {
            "session": pd.Series([session or labels.attrs.get("session")] * n, dtype=object),
            "individual": individuals[ind[order]] if n else np.zeros(0, dtype=object),
            "source": pd.Series([labels.attrs["source"]] * n, dtype=object),
            "frame": frame[order],
            "time_s": times[frame[order]] if n else np.zeros(0),
            "behavior": names[beh[order]] if n else np.zeros(0, dtype=object),
        },
        columns=FRAME_LABEL_COLUMNS,
    )


def session_tables(
    ds: xr.Dataset,
    *,
    session: str,
    sources: Sequence[str] | None = None,
    bin_s: float | None = None,
    zones: Mapping[str, Any] | None = None,
    px_per_cm: float | None = None,
    keypoint: str = CENTROID,
    behaviors: Mapping[str, Sequence[str] | int] | None = None,
) -> dict[str, pd.DataFrame]:
    """Every table of one session: per-frame labels, bouts, statistics, transitions, movement, zones.

    Parameters
    ----------
    ds
        Session Dataset holding label variables (:data:`LABEL_SOURCES`)
        and/or poses (``position``).
    session
        Session name written in every table.
    sources
        Label variables to use; default all that ``ds`` holds.
    bin_s
        Adds the ``*_by_bin`` tables with bins of this many seconds.
    zones, px_per_cm, keypoint
        As in :func:`behaviorlab.results.movement.zone_statistics` and
        :func:`~behaviorlab.results.movement.movement_statistics`.  Without
        zones, poses that carry arena landmarks (static keypoints, see
        :mod:`behaviorlab.trajectories.landmarks`) get the zones ``arena`` and
        ``arena_centre`` from them (:func:`~behaviorlab.trajectories.landmarks.arena_zones`).
    behaviors
        Per source, as in :func:`frame_labels`.

    Returns
    -------
    dict of str to pandas.DataFrame
        ``frame_labels``, ``bouts``, ``behavior_stats``, ``transitions`` (when
        there are labels), the ``classifier_*`` counts of
        :func:`behaviorlab.results.scoring.counts_tables` (when the sources include
        both ``behavior_prediction`` and ``labels``), ``movement`` and
        ``zones`` (when there are poses, and zones), and ``behavior_stats_by_bin``, ``movement_by_bin``,
        ``zones_by_bin`` with ``bin_s``; empty tables are left out.
    """
    sources = list(sources) if sources is not None else label_sources(ds)
    behaviors = dict(behaviors or {})
    parts: dict[str, list[pd.DataFrame]] = {}

    def add(name: str, table: pd.DataFrame) -> None:
        parts.setdefault(name, []).append(table)

    for source in sources:
        labels = frame_labels(ds, source, behaviors=behaviors.get(source))
        add("frame_labels", frame_label_rows(labels, session=session))
        add("bouts", bout_table(labels, session=session))
        add("behavior_stats", behavior_statistics(labels, session=session))
        add("transitions", transition_table(labels, session=session))
        if bin_s is not None:
            add("behavior_stats_by_bin", behavior_statistics(labels, session=session, bin_s=bin_s))
    scored = ("behavior_prediction", "labels")
    annotated = "labels" not in ds or bool(ds["labels"].notnull().any())  # NaN throughout: nobody annotated
    if set(scored) <= set(sources) and all("behavior" in ds[v].dims for v in scored) and annotated:
        for name, table in counts_tables(dataset_counts(ds), session=session).items():
            add(name, table)
    if "position" in ds.data_vars:
        add("movement", movement_statistics(ds, keypoint=keypoint, px_per_cm=px_per_cm, session=session))
        if bin_s is not None:
            add(
                "movement_by_bin",
                movement_statistics(ds, keypoint=keypoint, px_per_cm=px_per_cm, session=session, bin_s=bin_s),
            )
        zones = zones or arena_zones(arena_landmarks(ds))
        if zones:
            add("zones", zone_statistics(ds, zones, keypoint=keypoint, session=session))
            if bin_s is not None:
                add("zones_by_bin", zone_statistics(ds, zones, keypoint=keypoint, session=session, bin_s=bin_s))
    if not parts:
        raise SchemaError(
            f"session {session!r} has neither per-frame labels ({list(LABEL_SOURCES)}) nor poses ('position'); "
            f"its variables: {sorted(map(str, ds.data_vars))}"
        )
    return {name: pd.concat(tables, ignore_index=True) for name, tables in parts.items()}
