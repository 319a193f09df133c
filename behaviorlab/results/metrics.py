"""Scores of behavior labels: frame-wise and bout-wise precision, recall and F1, confusion matrices, rater agreement.

This module owns the scores of one set of labels against another and the
label handling they share (alignment, outcome counts, rater pairs);
:mod:`behaviorlab.results.scoring` turns the same counts into tables that
add up over sessions.  :func:`pool_sessions` stacks the frames of several
sessions for pooled scores.

Inputs are bool label arrays as returned by
:func:`behaviorlab.io.annotations.load_annotations` (dims ``(time,
individual, behavior)``; ``individual`` may be absent), or plain arrays
``(time,)``, ``(time, behavior)`` or ``(time, individual, behavior)`` of
bools or 0/1.  Two DataArrays are matched by their ``individual`` and
``behavior`` names (the order may differ) and must have the same ``time``
coordinate; anything else is a :class:`~behaviorlab.errors.SchemaError`.
Counts are summed over time and individuals, separately per behavior.

Undefined scores are NaN, never 0 or 1 by convention:

- ``precision = tp / (tp + fp)``, NaN when nothing is predicted;
- ``recall = tp / (tp + fn)``, NaN when the truth has no positives;
- ``f1 = 2 tp / (2 tp + fp + fn)``, NaN only when neither the prediction nor
  the truth has a positive. So F1 is 0 when the truth has positives and
  nothing is predicted (precision NaN, recall 0), and 0 when something is
  predicted but the truth has none (precision 0, recall NaN).

Bouts are runs of True frames per individual and behavior. A predicted bout
and a true bout match when their intersection over union (in frames) is at
least ``min_overlap`` and they share at least one frame; bouts are matched
one to one, greedily by decreasing IoU (ties: earlier predicted bout, then
earlier true bout). Matched pairs are bout true positives, unmatched
predicted bouts false positives, unmatched true bouts false negatives.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from behaviorlab._runs import runs
from behaviorlab.behavior.bouts import match_bouts
from behaviorlab.errors import SchemaError

__all__ = [
    "OUTCOMES",
    "bout_scores",
    "classifier_vs_raters",
    "confusion_matrix",
    "frame_scores",
    "pool_sessions",
    "rater_agreement",
]

_LABEL_DIMS = ("time", "individual", "behavior")
#: The frame outcomes counted per behavior (``outcome`` coordinate of
#: :func:`behaviorlab.results.scoring.score_counts`).
OUTCOMES = ("tp", "fp", "fn", "tn")


def as_labels(x: Any, name: str) -> xr.DataArray:
    """Return ``x`` as a bool DataArray with dims ``time``, [``individual``,] ``behavior``."""
    if isinstance(x, xr.DataArray):
        da = x
    else:
        arr = np.asarray(x)
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim not in (2, 3):
            raise SchemaError(f"{name} must be 1-D (time), 2-D (time, behavior) or 3-D (time, individual, behavior)")
        dims = ("time", "behavior") if arr.ndim == 2 else _LABEL_DIMS
        coords = {"behavior": [f"behavior_{k}" for k in range(arr.shape[-1])]}
        if arr.ndim == 3:
            coords["individual"] = [f"individual_{i}" for i in range(arr.shape[1])]
        da = xr.DataArray(arr, dims=dims, coords=coords)
    if "rater" in da.dims:
        raise SchemaError(
            f"{name} has a 'rater' dim: score against one rater (labels.sel(rater=...)), their consensus "
            "(behaviorlab.io.annotations.consensus), or use classifier_vs_raters / rater_agreement"
        )
    unknown = [d for d in da.dims if d not in _LABEL_DIMS]
    if unknown or "time" not in da.dims or "behavior" not in da.dims:
        raise SchemaError(f"{name} must have dims (time, [individual,] behavior), got {da.dims}")
    if da.dtype != bool:
        values = da.values
        if not np.issubdtype(values.dtype, np.number) or not np.isin(values, (0, 1)).all():
            raise SchemaError(f"{name} must hold bools or 0/1 (NaN and probabilities are not labels), got {da.dtype}")
        da = da.astype(bool)
    return da


def align_labels(pred: Any, truth: Any) -> tuple[xr.DataArray, xr.DataArray]:
    """Return ``pred`` and ``truth`` as bool DataArrays with the same dims, order and coords."""
    p, t = as_labels(pred, "pred"), as_labels(truth, "truth")
    if set(p.dims) != set(t.dims):
        raise SchemaError(f"pred has dims {p.dims} but truth has {t.dims}")
    p = p.transpose(*t.dims)
    for dim in ("individual", "behavior"):
        if dim not in t.dims:
            continue
        if dim in p.coords and dim in t.coords:
            pn, tn = [str(v) for v in p[dim].values], [str(v) for v in t[dim].values]
            if set(pn) != set(tn) or len(pn) != len(tn):
                raise SchemaError(
                    f"pred and truth have different {dim} names: only in pred {sorted(set(pn) - set(tn))}, "
                    f"only in truth {sorted(set(tn) - set(pn))}; select the common ones first"
                )
            if pn != tn:
                p = p.assign_coords({dim: pn}).sel({dim: tn})
        elif p.sizes[dim] != t.sizes[dim]:
            raise SchemaError(f"pred has {p.sizes[dim]} {dim} entries but truth has {t.sizes[dim]}")
    if p.sizes["time"] != t.sizes["time"]:
        raise SchemaError(f"pred has {p.sizes['time']} frames but truth has {t.sizes['time']}")
    if "time" in p.coords and "time" in t.coords:
        pt, tt = np.asarray(p["time"].values, float), np.asarray(t["time"].values, float)
        if not np.allclose(pt, tt, rtol=0, atol=1e-6):
            raise SchemaError("pred and truth have different time coordinates; align them to the same frames first")
    coords = {d: t[d].values for d in t.dims if d in t.coords}
    return xr.DataArray(p.values, dims=t.dims, coords=coords), t


def precision_recall_f1(tp: Any, fp: Any, fn: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return precision, recall and F1 with the NaN rules of the module docstring."""
    tp, fp, fn = (np.asarray(v, dtype=float) for v in (tp, fp, fn))
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), np.nan)
        recall = np.where(tp + fn > 0, tp / (tp + fn), np.nan)
        f1 = np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), np.nan)
    return precision, recall, f1


def frame_scores(pred: Any, truth: Any) -> pd.DataFrame:
    """Frame-wise precision, recall and F1 per behavior.

    Parameters
    ----------
    pred
        Predicted labels, bool ``(time, [individual,] behavior)`` (DataArray or array).
    truth
        True labels, same shape and names as ``pred``.

    Returns
    -------
    pandas.DataFrame
        One row per behavior (truth's order): ``behavior``, frame counts
        ``tp``, ``fp``, ``fn``, ``tn``, ``precision``, ``recall``, ``f1``
        (NaN rules in the module docstring) and ``support = tp + fn`` (true
        positive frames).

    Examples
    --------
    >>> frame_scores([0, 0, 1, 1, 1, 1, 0, 0], [0, 0, 0, 1, 1, 1, 1, 0])[["tp", "fp", "fn", "f1"]].values.tolist()
    [[3.0, 1.0, 1.0, 0.75]]
    """
    p, t = align_labels(pred, truth)
    return frame_score_table([str(b) for b in t["behavior"].values], outcome_counts(flat_frames(p), flat_frames(t)))


def flat_frames(labels: xr.DataArray) -> np.ndarray:
    """Return ``(frames, behavior)``: the frames of every individual (and rater) one after another."""
    other = [d for d in labels.dims if d != "behavior"]
    return labels.transpose(*other, "behavior").values.reshape(-1, labels.sizes["behavior"])


def outcome_counts(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Return int64 ``(behavior, 4)`` counts tp, fp, fn, tn of two bool ``(frames, behavior)`` arrays."""
    tp = (pred & truth).sum(axis=0)
    fp = (pred & ~truth).sum(axis=0)
    fn = (~pred & truth).sum(axis=0)
    return np.stack([tp, fp, fn, truth.shape[0] - tp - fp - fn], axis=-1).astype(np.int64)


def frame_score_table(behaviors: list[str], outcomes: np.ndarray) -> pd.DataFrame:
    """Return the table of :func:`frame_scores` from ``(behavior, 4)`` counts tp, fp, fn, tn."""
    counts = {name: outcomes[:, k].astype(np.int64) for k, name in enumerate(OUTCOMES)}
    precision, recall, f1 = precision_recall_f1(counts["tp"], counts["fp"], counts["fn"])
    table = pd.DataFrame({"behavior": behaviors, **counts})
    return table.assign(precision=precision, recall=recall, f1=f1, support=table["tp"] + table["fn"])


def bout_scores(pred: Any, truth: Any, *, min_overlap: float = 0.5) -> pd.DataFrame:
    """Bout-wise precision, recall and F1 per behavior.

    Parameters
    ----------
    pred
        Predicted labels, bool ``(time, [individual,] behavior)``.
    truth
        True labels, same shape and names as ``pred``.
    min_overlap
        Smallest intersection over union (in frames) for a predicted bout to
        match a true bout, in ``[0, 1]``; 0 matches any overlap. Matching is
        one to one, greedy by decreasing IoU (see the module docstring).

    Returns
    -------
    pandas.DataFrame
        One row per behavior: ``behavior``, ``tp`` (matched pairs), ``fp``
        (unmatched predicted bouts), ``fn`` (unmatched true bouts),
        ``n_pred``, ``n_true``, ``precision``, ``recall``, ``f1`` (NaN rules
        of the module docstring) and ``mean_iou`` of the matched pairs (NaN
        when none).
    """
    if not 0 <= min_overlap <= 1:
        raise ValueError(f"min_overlap must be in [0, 1], got {min_overlap}")
    p, t = align_labels(pred, truth)
    order = [*(d for d in t.dims if d not in ("time", "behavior")), "behavior", "time"]
    pv = p.transpose(*order).values.reshape(-1, p.sizes["behavior"], p.sizes["time"])
    tv = t.transpose(*order).values.reshape(pv.shape)
    rows = []
    for k, behavior in enumerate(t["behavior"].values):
        n_pred = sum(len(runs(pv[i, k])[1]) for i in range(pv.shape[0]))
        n_true = sum(len(runs(tv[i, k])[1]) for i in range(tv.shape[0]))
        ious = [iou for i in range(pv.shape[0]) for iou in match_bouts(pv[i, k], tv[i, k], min_overlap)]
        tp = len(ious)
        rows.append((str(behavior), tp, n_pred - tp, n_true - tp, n_pred, n_true, np.mean(ious) if ious else np.nan))
    table = pd.DataFrame(rows, columns=["behavior", "tp", "fp", "fn", "n_pred", "n_true", "mean_iou"])
    precision, recall, f1 = precision_recall_f1(table["tp"], table["fp"], table["fn"])
    return table.assign(precision=precision, recall=recall, f1=f1)[
        ["behavior", "tp", "fp", "fn", "n_pred", "n_true", "precision", "recall", "f1", "mean_iou"]
    ]


def _classes(values: np.ndarray, name: str) -> np.ndarray:
    """Return the index of the True behavior per frame of bool ``(frames, behavior)`` (``n_behaviors``: none)."""
    n_true = values.sum(axis=1)
    if (n_true > 1).any():
        raise SchemaError(
            f"{name} marks several behaviors on {int((n_true > 1).sum())} frame(s); a confusion matrix needs "
            "mutually exclusive behaviors (score them with frame_scores instead)"
        )
    return np.where(n_true == 1, values.argmax(axis=1), values.shape[1])


def confusion_counts(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Return the ``(behavior + 1, behavior + 1)`` frame counts of (true, predicted) class (last: none)."""
    n = truth.shape[1] + 1
    return np.bincount(_classes(truth, "truth") * n + _classes(pred, "pred"), minlength=n * n).reshape(n, n)


def confusion_matrix(pred: Any, truth: Any, *, none_label: str = "none") -> pd.DataFrame:
    """Frame counts of each (true behavior, predicted behavior) pair, for mutually exclusive behaviors.

    Parameters
    ----------
    pred
        Predicted labels, bool ``(time, [individual,] behavior)``, at most one
        behavior per frame.
    truth
        True labels, same shape and names as ``pred``, at most one behavior per frame.
    none_label
        Name of the class "no behavior" (frames where no behavior is True).

    Returns
    -------
    pandas.DataFrame
        Square table of int counts, rows = true class (index named ``truth``),
        columns = predicted class (named ``pred``), classes in truth's
        behavior order then ``none_label``; the diagonal holds the agreements.
    """
    p, t = align_labels(pred, truth)
    names = [str(b) for b in t["behavior"].values]
    if none_label in names:
        raise SchemaError(f"none_label {none_label!r} is also a behavior name; pass another none_label")
    classes = [*names, none_label]
    counts = confusion_counts(flat_frames(p), flat_frames(t))
    return pd.DataFrame(
        counts.astype(np.int64),
        index=pd.Index(classes, name="truth"),
        columns=pd.Index(classes, name="pred"),
    )


def _check_raters(labels: xr.DataArray) -> list[str]:
    if not isinstance(labels, xr.DataArray) or "rater" not in labels.dims:
        raise SchemaError("labels must be a DataArray with a 'rater' dim (e.g. an interval table with a rater column)")
    if "rater" not in labels.coords:
        return [str(r) for r in range(labels.sizes["rater"])]
    return [str(r) for r in labels["rater"].values]


def rater_pairs(n: int) -> list[tuple[int, int]]:
    """Return the index pairs ``(a, b)``, ``a < b``, of ``n`` raters in order."""
    return list(combinations(range(n), 2))


def rater_counts(labels: xr.DataArray, reference: xr.DataArray | None = None) -> tuple[list[str], np.ndarray, Any]:
    """Return the rater names, each rater's ``(frames, behavior)`` labels and ``(pair, behavior, 4)`` pair counts.

    Every rater is put in the frame and behavior order of ``reference`` (default: the first rater); in a pair
    (a, b), rater b is counted against rater a.
    """
    raters = _check_raters(labels)
    per_rater = [as_labels(labels.isel(rater=i, drop=True), f"rater {r}") for i, r in enumerate(raters)]
    reference = per_rater[0] if reference is None else reference
    flat = np.stack([flat_frames(align_labels(r, reference)[0]) for r in per_rater])
    pairs = (
        np.stack([outcome_counts(flat[j], flat[i]) for i, j in rater_pairs(len(raters))]) if len(raters) > 1 else None
    )
    return raters, flat, pairs


def _pair_table(raters: list[str], behaviors: list[str], pairs: np.ndarray | None) -> pd.DataFrame:
    rows = []
    for k, (i, j) in enumerate(rater_pairs(len(raters))):
        for b, behavior in enumerate(behaviors):
            tp, fp, fn, _ = (int(v) for v in pairs[k, b])
            f1 = 2 * tp / (2 * tp + fp + fn) if 2 * tp + fp + fn else np.nan
            rows.append((raters[i], raters[j], behavior, tp + fn, tp + fp, tp, f1))
    return pd.DataFrame(rows, columns=["rater_a", "rater_b", "behavior", "n_a", "n_b", "n_both", "f1"])


def rater_agreement(labels: xr.DataArray) -> pd.DataFrame:
    """Frame-wise F1 between every pair of raters, per behavior.

    F1 is symmetric in the pair (swapping the raters swaps precision and
    recall), so each unordered pair appears once.

    Parameters
    ----------
    labels
        Bool label array ``(rater, time, [individual,] behavior)``.

    Returns
    -------
    pandas.DataFrame
        One row per pair (in rater order) and behavior: ``rater_a``,
        ``rater_b``, ``behavior``, ``n_a`` and ``n_b`` (positive frames of
        each rater), ``n_both`` (frames both mark) and ``f1``
        (``2 n_both / (n_a + n_b)``, NaN when neither marks a frame).
    """
    raters, _, pairs = rater_counts(labels)
    return _pair_table(raters, [str(b) for b in labels["behavior"].values], pairs)


def rater_f1_table(raters: list[str], behaviors: list[str], vs: np.ndarray, pairs: np.ndarray | None) -> pd.DataFrame:
    """Return the table of :func:`classifier_vs_raters` from ``(rater | pair, behavior, 4)`` counts."""
    table = pd.DataFrame({"behavior": behaviors})
    for i, rater in enumerate(raters):
        table[f"f1_vs_{rater}"] = precision_recall_f1(vs[i, :, 0], vs[i, :, 1], vs[i, :, 2])[2]
    table["f1_vs_raters_mean"] = table[[f"f1_vs_{r}" for r in raters]].mean(axis=1, skipna=True)
    agreement = _pair_table(raters, behaviors, pairs).groupby("behavior", sort=False)["f1"]
    stats = pd.DataFrame({"rater_f1_mean": agreement.mean(), "rater_f1_min": agreement.min()})
    stats["rater_f1_max"] = agreement.max()
    table = table.merge(stats, left_on="behavior", right_index=True, how="left")
    for column in ("rater_f1_mean", "rater_f1_min", "rater_f1_max"):
        table[column] = table[column].astype(float)
    return table.reset_index(drop=True)


def classifier_vs_raters(pred: Any, labels: xr.DataArray) -> pd.DataFrame:
    """Frame-wise F1 of a prediction against each rater, beside the raters' agreement with each other.

    The mean rater-rater F1 is the human ceiling: a classifier that agrees
    with each rater as well as the raters agree with each other is as good
    as another human.

    Parameters
    ----------
    pred
        Predicted labels, bool ``(time, [individual,] behavior)``.
    labels
        Bool label array ``(rater, time, [individual,] behavior)``.

    Returns
    -------
    pandas.DataFrame
        One row per behavior (the raters' order): ``behavior``,
        ``f1_vs_<rater>`` for each rater, ``f1_vs_raters_mean`` (their
        mean, NaN ignored), and ``rater_f1_mean`` (the human ceiling),
        ``rater_f1_min``, ``rater_f1_max`` over rater pairs (NaN with a
        single rater).
    """
    raters, flat, pairs = rater_counts(labels)
    p = flat_frames(align_labels(pred, as_labels(labels.isel(rater=0, drop=True), "labels"))[0])
    vs = np.stack([outcome_counts(p, flat[i]) for i in range(len(raters))])
    return rater_f1_table(raters, [str(b) for b in labels["behavior"].values], vs, pairs)


def pool_sessions(arrays: Mapping[str, xr.DataArray]) -> xr.DataArray:
    """Stack the frames of every session and individual into one ``time`` axis, for pooled scores.

    Parameters
    ----------
    arrays
        Session name to a label or probability DataArray ``([rater,] time,
        [individual,] behavior)``; every session must have the same
        behaviors (in any order).

    Returns
    -------
    xarray.DataArray
        ``(time, [rater,] behavior)``: ``time`` numbers the pooled frames
        ``0 .. n - 1`` (session by session, within a session individual by
        individual, each in time order), so two arrays pooled from the same
        sessions line up for the scores of this module and of
        :mod:`behaviorlab.results.scoring`; behaviors in the first session's order.
    """
    parts: list[np.ndarray] = []
    other: list[str] = []
    coords: dict[str, Any] = {}
    for session, da in arrays.items():
        if "time" not in da.dims:
            raise SchemaError(f"session {session!r}: the labels have no 'time' dim (dims {da.dims})")
        if "individual" not in da.dims:
            da = da.expand_dims(individual=["individual_0"])
        dims = [d for d in da.dims if d not in ("time", "individual")]
        if not parts:
            other = dims
            coords = {d: [str(v) for v in da[d].values] if d in da.coords else None for d in other}
        elif set(dims) != set(other):
            raise SchemaError(f"session {session!r} has dims {da.dims}; the first session had {other}")
        if "behavior" in other:
            names = [str(b) for b in da["behavior"].values]
            if sorted(names) != sorted(coords["behavior"]):
                raise SchemaError(
                    f"session {session!r} has the behaviors {names}, the first session {coords['behavior']}: "
                    "select the common behaviors first"
                )
            da = da.assign_coords(behavior=names).sel(behavior=coords["behavior"])
        values = da.transpose("individual", "time", *other).values
        parts.append(values.reshape(-1, *values.shape[2:]))
    if not parts:
        raise SchemaError("pool_sessions needs at least one session")
    pooled = np.concatenate(parts, axis=0)
    return xr.DataArray(
        pooled,
        dims=("time", *other),
        coords={"time": np.arange(len(pooled)), **{d: v for d, v in coords.items() if v is not None}},
    )
