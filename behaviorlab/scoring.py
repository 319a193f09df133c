"""Scores of behavior labels: frame-wise and bout-wise precision, recall and F1, confusion matrices, rater agreement.

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

from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from behaviorlab.errors import SchemaError

__all__ = ["bout_scores", "classifier_vs_raters", "confusion_matrix", "frame_scores", "rater_agreement"]

_LABEL_DIMS = ("time", "individual", "behavior")


def _as_labels(x: Any, name: str) -> xr.DataArray:
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


def _align(pred: Any, truth: Any) -> tuple[xr.DataArray, xr.DataArray]:
    """Return ``pred`` and ``truth`` as bool DataArrays with the same dims, order and coords."""
    p, t = _as_labels(pred, "pred"), _as_labels(truth, "truth")
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


def _prf(tp: Any, fp: Any, fn: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
    p, t = _align(pred, truth)
    other = [d for d in t.dims if d != "behavior"]
    counts = {
        "tp": (p & t).sum(other).values,
        "fp": (p & ~t).sum(other).values,
        "fn": (~p & t).sum(other).values,
        "tn": (~p & ~t).sum(other).values,
    }
    precision, recall, f1 = _prf(counts["tp"], counts["fp"], counts["fn"])
    table = pd.DataFrame({"behavior": [str(b) for b in t["behavior"].values], **counts})
    table = table.astype({k: np.int64 for k in counts})
    return table.assign(precision=precision, recall=recall, f1=f1, support=table["tp"] + table["fn"])


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return starts and (exclusive) stops of the runs of True in a 1-D bool array."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def _match_bouts(pred: np.ndarray, truth: np.ndarray, min_overlap: float) -> list[float]:
    """Return the IoUs of the one-to-one greedy matches between the bouts of two 1-D bool arrays."""
    ps, pe = _runs(pred)
    ts, te = _runs(truth)
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
    p, t = _align(pred, truth)
    order = [*(d for d in t.dims if d not in ("time", "behavior")), "behavior", "time"]
    pv = p.transpose(*order).values.reshape(-1, p.sizes["behavior"], p.sizes["time"])
    tv = t.transpose(*order).values.reshape(pv.shape)
    rows = []
    for k, behavior in enumerate(t["behavior"].values):
        n_pred = sum(len(_runs(pv[i, k])[0]) for i in range(pv.shape[0]))
        n_true = sum(len(_runs(tv[i, k])[0]) for i in range(tv.shape[0]))
        ious = [iou for i in range(pv.shape[0]) for iou in _match_bouts(pv[i, k], tv[i, k], min_overlap)]
        tp = len(ious)
        rows.append((str(behavior), tp, n_pred - tp, n_true - tp, n_pred, n_true, np.mean(ious) if ious else np.nan))
    table = pd.DataFrame(rows, columns=["behavior", "tp", "fp", "fn", "n_pred", "n_true", "mean_iou"])
    precision, recall, f1 = _prf(table["tp"], table["fp"], table["fn"])
    return table.assign(precision=precision, recall=recall, f1=f1)[
        ["behavior", "tp", "fp", "fn", "n_pred", "n_true", "precision", "recall", "f1", "mean_iou"]
    ]


def _classes(labels: xr.DataArray, name: str) -> np.ndarray:
    """Return the index of the True behavior per frame (``n_behaviors``: none), flat over time and individuals."""
    other = [d for d in labels.dims if d != "behavior"]
    values = labels.transpose(*other, "behavior").values.reshape(-1, labels.sizes["behavior"])
    n_true = values.sum(axis=1)
    if (n_true > 1).any():
        raise SchemaError(
            f"{name} marks several behaviors on {int((n_true > 1).sum())} frame(s); a confusion matrix needs "
            "mutually exclusive behaviors (score them with frame_scores instead)"
        )
    return np.where(n_true == 1, values.argmax(axis=1), values.shape[1])


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
    p, t = _align(pred, truth)
    names = [str(b) for b in t["behavior"].values]
    if none_label in names:
        raise SchemaError(f"none_label {none_label!r} is also a behavior name; pass another none_label")
    classes = [*names, none_label]
    n = len(classes)
    counts = np.bincount(_classes(t, "truth") * n + _classes(p, "pred"), minlength=n * n).reshape(n, n)
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
    raters = _check_raters(labels)
    rows = []
    for i, j in combinations(range(len(raters)), 2):
        scores = frame_scores(labels.isel(rater=j, drop=True), labels.isel(rater=i, drop=True))
        for r in scores.itertuples(index=False):
            rows.append((raters[i], raters[j], r.behavior, r.tp + r.fn, r.tp + r.fp, r.tp, r.f1))
    return pd.DataFrame(rows, columns=["rater_a", "rater_b", "behavior", "n_a", "n_b", "n_both", "f1"])


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
        One row per behavior: ``behavior``, ``f1_vs_<rater>`` for each rater,
        ``f1_vs_raters_mean`` (their mean, NaN ignored), and ``rater_f1_mean``
        (the human ceiling), ``rater_f1_min``, ``rater_f1_max`` over rater
        pairs (NaN with a single rater).
    """
    raters = _check_raters(labels)
    table = None
    for i, rater in enumerate(raters):
        scores = frame_scores(pred, labels.isel(rater=i, drop=True))
        column = scores[["behavior", "f1"]].rename(columns={"f1": f"f1_vs_{rater}"})
        table = column if table is None else table.merge(column, on="behavior", how="left")
    if table is None:
        raise SchemaError("labels has no raters")
    vs = [f"f1_vs_{r}" for r in raters]
    table["f1_vs_raters_mean"] = table[vs].mean(axis=1, skipna=True)
    pairs = rater_agreement(labels).groupby("behavior", sort=False)["f1"]
    stats = pd.DataFrame({"rater_f1_mean": pairs.mean(), "rater_f1_min": pairs.min(), "rater_f1_max": pairs.max()})
    table = table.merge(stats, left_on="behavior", right_index=True, how="left")
    return table.reset_index(drop=True)
