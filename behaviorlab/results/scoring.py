"""Classifier scores as frame counts that add up over sessions, and the count tables the results store keeps.

:func:`score_counts` (one session's decisions against its labels) and
:func:`probability_counts` (frames per probability bin) count what the
scores of :mod:`behaviorlab.results.metrics` need; :func:`add_counts` sums
the counts of several sessions, and :func:`scores_table`,
:func:`confusion_table`, :func:`rater_table`, :func:`precision_recall_curves`,
:func:`average_precision` and :func:`operating_points` read the pooled
scores from them.  :func:`counts_tables` writes one session's counts as the
store's ``classifier_*`` tables and :func:`counts_from_tables` sums those
rows back into counts.  Labels, alignment and the NaN rules of the scores
are those of :mod:`behaviorlab.results.metrics`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from behaviorlab.errors import SchemaError
from behaviorlab.io.annotations import consensus
from behaviorlab.results.metrics import (
    OUTCOMES,
    align_labels,
    as_labels,
    confusion_counts,
    flat_frames,
    frame_score_table,
    outcome_counts,
    precision_recall_f1,
    rater_counts,
    rater_f1_table,
    rater_pairs,
)

__all__ = [
    "CLASSIFIER",
    "COUNT_TABLES",
    "N_THRESHOLDS",
    "add_counts",
    "average_precision",
    "confusion_table",
    "counts_from_tables",
    "counts_tables",
    "dataset_counts",
    "operating_points",
    "precision_recall_curves",
    "probability_counts",
    "rater_table",
    "score_counts",
    "scores_table",
    "top_decision",
]

#: Precision-recall thresholds of :func:`probability_counts`: the multiples of 1 / N_THRESHOLDS in [0, 1].
N_THRESHOLDS = 1000


# --------------------------------------------------------------------------- counts that add over sessions
def top_decision(decisions: xr.DataArray, probability: xr.DataArray) -> xr.DataArray:
    """Keep, on every frame, only the decided behavior with the highest probability (for a confusion matrix).

    Parameters
    ----------
    decisions
        Bool ``(..., behavior)`` decisions of a multi-label classifier
        (``behavior_prediction``).
    probability
        Its probabilities, the same dims (``behavior_probability``).

    Returns
    -------
    xarray.DataArray
        Bool, like ``decisions``, with at most one True per frame (ties: the
        first behavior); frames without a decision stay all False.
    """
    if "behavior" not in decisions.dims:
        raise SchemaError(f"decisions need a 'behavior' dim, got {decisions.dims}")
    p = probability.transpose(*decisions.dims)
    if "behavior" in decisions.coords and "behavior" in p.coords:
        p = p.sel(behavior=decisions["behavior"].values)  # the same behaviors, in the decisions' order
    if p.shape != decisions.shape:
        raise SchemaError(f"probability has shape {p.shape} but the decisions {decisions.shape}")
    d = decisions.values.astype(bool)
    score = np.where(d, np.nan_to_num(np.asarray(p.values, dtype=np.float64), nan=0.0), -np.inf)
    axis = decisions.dims.index("behavior")
    best = np.expand_dims(np.argmax(score, axis=axis), axis)
    keep = np.zeros_like(d)
    np.put_along_axis(keep, best, True, axis=axis)
    return decisions.copy(data=keep & d)


def _top_flat(decided: np.ndarray, prob: np.ndarray) -> np.ndarray:
    """:func:`top_decision` of flat ``(frames, behavior)`` decisions and probabilities."""
    score = np.where(decided, np.nan_to_num(prob, nan=0.0), -np.inf)
    keep = np.zeros_like(decided)
    keep[np.arange(len(keep)), np.argmax(score, axis=1)] = True
    return keep & decided


def _probabilities(probability: Any, truth: xr.DataArray) -> np.ndarray:
    """Return ``probability`` as float ``(frames, behavior)`` in the frame and behavior order of ``truth``."""
    if not isinstance(probability, xr.DataArray):
        probability = xr.DataArray(np.asarray(probability, dtype=np.float64), dims=truth.dims, coords=truth.coords)
    if set(probability.dims) != set(truth.dims):
        raise SchemaError(f"probability has dims {probability.dims} but the labels {truth.dims}")
    prob = probability.transpose(*truth.dims)
    for dim in ("individual", "behavior"):
        if dim in truth.dims and dim in truth.coords and dim in prob.coords:
            wanted = [str(v) for v in truth[dim].values]
            have = [str(v) for v in prob[dim].values]
            if set(wanted) - set(have):
                raise SchemaError(f"probability lacks the {dim} {sorted(set(wanted) - set(have))} of the labels")
            if have != wanted:
                prob = prob.assign_coords({dim: have}).sel({dim: wanted})
    if prob.shape != truth.shape:
        raise SchemaError(f"probability has shape {prob.shape} but the labels {truth.shape}")
    values = flat_frames(prob).astype(np.float64)
    finite = values[np.isfinite(values)]
    if finite.size and (finite.min() < 0 or finite.max() > 1):
        raise SchemaError(f"probabilities must lie in [0, 1], got {finite.min():g} to {finite.max():g}")
    return values


def probability_counts(
    probability: Any,
    truth: Any,
    *,
    thresholds: dict[str, float] | None = None,
    n_thresholds: int = N_THRESHOLDS,
) -> xr.Dataset:
    """Frames of positive and negative truth per probability bin: precision-recall curves that add over sessions.

    Sorting every frame's probability (what
    :func:`sklearn.metrics.precision_recall_curve` does) costs seconds over
    a hundred long sessions and cannot be pooled afterwards; counts on a
    fixed grid of thresholds (as Keras' ``AUC(curve="PR")`` and
    TensorBoard's curves keep them) are small, add up across sessions and
    give the curve in microseconds.  With probabilities that are multiples
    of ``1 / n_thresholds`` the curve and the average precision equal
    scikit-learn's exactly; otherwise frames within one bin count as ties.

    Parameters
    ----------
    probability
        ``behavior_probability (time, [individual,] behavior)`` in [0, 1];
        NaN frames (no features) are left out.
    truth
        Bool labels of the same frames and behaviors.
    thresholds
        Behavior to decision threshold (the classifier's ``thresholds_``):
        the exact counts of ``probability >= threshold`` are kept as
        ``operating`` (behaviors without one count nothing there).
    n_thresholds
        The grid: thresholds ``k / n_thresholds``, ``k = 0 .. n_thresholds``.

    Returns
    -------
    xarray.Dataset
        ``positives`` and ``negatives`` ``(behavior, threshold)``: frames
        whose probability lies in ``[threshold, next threshold)`` (the last
        bin holds probability 1), by truth; with ``thresholds`` also
        ``decision_threshold (behavior)`` (NaN where none) and ``operating
        (behavior, outcome)`` (tp, fp, fn, tn of ``probability >=
        threshold`` over the frames with a probability).  Sum sessions with :func:`add_counts`; read with
        :func:`precision_recall_curves` and :func:`average_precision`.
    """
    t = as_labels(truth, "truth")
    behaviors = [str(b) for b in t["behavior"].values]
    data_vars, coords = _probability_vars(
        _probabilities(probability, t), flat_frames(t), behaviors, thresholds, n_thresholds
    )
    return xr.Dataset(data_vars, coords={"behavior": behaviors, **coords})


def _probability_vars(
    prob: np.ndarray,
    labels: np.ndarray,
    behaviors: list[str],
    thresholds: dict[str, float] | None,
    n_thresholds: int,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return the variables and coords of :func:`probability_counts` from flat ``(frames, behavior)`` arrays."""
    if n_thresholds < 1:
        raise ValueError(f"n_thresholds must be >= 1, got {n_thresholds}")
    edges = np.arange(n_thresholds + 1) / n_thresholds
    positives = np.zeros((len(behaviors), n_thresholds + 1), dtype=np.int64)
    negatives = np.zeros_like(positives)
    for b in range(len(behaviors)):
        ok = np.isfinite(prob[:, b])
        p = prob[ok, b]
        # the bin k with edges[k] <= p < edges[k + 1], compared as floats (p >= k / n exactly, as a threshold would)
        k = np.minimum(np.floor(p * n_thresholds).astype(np.int64), n_thresholds)
        k -= edges[k] > p
        k += (k < n_thresholds) & (edges[np.minimum(k + 1, n_thresholds)] <= p)
        positives[b] = np.bincount(k[labels[ok, b]], minlength=n_thresholds + 1)
        negatives[b] = np.bincount(k[~labels[ok, b]], minlength=n_thresholds + 1)
    data_vars: dict[str, Any] = {
        "positives": (("behavior", "threshold"), positives),
        "negatives": (("behavior", "threshold"), negatives),
    }
    coords: dict[str, Any] = {"threshold": edges}
    if thresholds is not None:
        chosen = np.array([float(thresholds.get(b, np.nan)) for b in behaviors])
        finite = np.isfinite(prob)  # as the curve: frames without a probability are left out
        decided = finite & (np.nan_to_num(prob) >= np.where(np.isnan(chosen), np.inf, chosen))
        operating = outcome_counts(decided, labels & finite)
        operating[:, 3] -= (~finite).sum(axis=0)  # the left-out frames are no true negatives either
        data_vars["decision_threshold"] = ("behavior", chosen)
        data_vars["operating"] = (("behavior", "outcome"), operating)
        coords["outcome"] = list(OUTCOMES)
    return data_vars, coords


def score_counts(
    pred: Any,
    truth: Any,
    probability: Any = None,
    *,
    raters: xr.DataArray | None = None,
    thresholds: dict[str, float] | None = None,
    n_thresholds: int = N_THRESHOLDS,
) -> xr.Dataset:
    """Everything the classifier scores need, as frame counts that add up over sessions.

    Scores of many long sessions pooled (the dashboard's Classifiers page)
    are computed from these counts, summed with :func:`add_counts`, without
    holding every frame of every session at once; each table equals the
    one computed from the pooled frames.

    Parameters
    ----------
    pred
        Decisions, bool ``(time, [individual,] behavior)`` (``behavior_prediction``).
    truth
        Labels of the same frames (one rater or the raters' consensus).
    probability
        The decisions' probabilities: precision-recall counts (see
        :func:`probability_counts`), and the confusion matrix keeps the most
        probable decided behavior of a frame (:func:`top_decision`).
    raters
        Labels of each rater ``(rater, time, [individual,] behavior)``: the
        decisions against each rater, and every rater pair.
    thresholds, n_thresholds
        As in :func:`probability_counts`.

    Returns
    -------
    xarray.Dataset
        ``frames (behavior, outcome)`` (tp, fp, fn, tn);  ``confusion
        (truth, pred)`` over the behaviors and ``"none"`` when both are
        exclusive per frame (else attr ``confusion_error`` says why);
        with ``probability`` the variables of :func:`probability_counts`;
        with ``raters`` ``rater_frames (rater, behavior, outcome)`` and
        ``rater_pairs (pair, behavior, outcome)`` (rater b counted against
        rater a, coords ``rater_a``, ``rater_b``).  Attr ``n_frames``:
        frames counted (times individuals).  Read with :func:`scores_table`,
        :func:`confusion_table`, :func:`rater_table`.
    """
    p, t = align_labels(pred, truth)
    behaviors = [str(b) for b in t["behavior"].values]
    flat_p, flat_t = flat_frames(p), flat_frames(t)
    data_vars: dict[str, Any] = {"frames": (("behavior", "outcome"), outcome_counts(flat_p, flat_t))}
    coords: dict[str, Any] = {"behavior": behaviors, "outcome": list(OUTCOMES)}
    attrs: dict[str, Any] = {"n_frames": int(flat_t.shape[0])}
    decided = flat_p
    if probability is not None:
        prob = _probabilities(probability, t)
        more_vars, more_coords = _probability_vars(prob, flat_t, behaviors, thresholds, n_thresholds)
        data_vars.update(more_vars)
        coords.update(more_coords)
        decided = _top_flat(flat_p, prob)
    try:
        data_vars["confusion"] = (("truth", "pred"), confusion_counts(decided, flat_t).astype(np.int64))
        coords["truth"] = coords["pred"] = [*behaviors, "none"]
    except SchemaError as err:
        attrs["confusion_error"] = str(err)
    out = xr.Dataset(data_vars, coords=coords, attrs=attrs)
    if raters is not None:
        names, flat, pairs = rater_counts(raters, reference=t)
        pair_index = rater_pairs(len(names))
        out["rater_frames"] = (("rater", "behavior", "outcome"), np.stack([outcome_counts(flat_p, r) for r in flat]))
        out["rater_pairs"] = (
            ("pair", "behavior", "outcome"),
            np.zeros((0, len(behaviors), len(OUTCOMES)), np.int64) if pairs is None else pairs,
        )
        out = out.assign_coords(
            rater=names,
            rater_a=("pair", [names[i] for i, _ in pair_index]),
            rater_b=("pair", [names[j] for _, j in pair_index]),
        )
    return out


def add_counts(counts: Any) -> xr.Dataset:
    """Sum the counts of :func:`score_counts` (or :func:`probability_counts`) of several sessions.

    Parameters
    ----------
    counts
        An iterable of count Datasets with the same behaviors (in any order),
        thresholds and raters.

    Returns
    -------
    xarray.Dataset
        The summed counts; a variable only some sessions have (probabilities,
        raters, a confusion matrix) is dropped, and ``confusion_error`` then
        says which session lacked it.
    """
    parts = list(counts)
    if not parts:
        raise SchemaError("add_counts needs at least one session's counts")
    first = parts[0]
    behaviors = [str(b) for b in first["behavior"].values]
    shared = set(first.data_vars)
    for k, part in enumerate(parts[1:], start=1):
        if sorted(str(b) for b in part["behavior"].values) != sorted(behaviors):
            raise SchemaError(f"counts {k} have other behaviors than the first: select the common ones first")
        for coord in ("threshold", "rater", "rater_a", "rater_b"):
            if coord in first.coords and coord in part.coords and not np.array_equal(first[coord], part[coord]):
                raise SchemaError(f"counts {k} have another {coord!r} coordinate than the first")
        shared &= set(part.data_vars)
    lacking = [k for k, p in enumerate(parts) if "confusion" not in p]
    confusion_error = parts[lacking[0]].attrs.get("confusion_error", "no confusion counts") if lacking else None
    if not lacking and any(set(p["truth"].values) != set(first["truth"].values) for p in parts):
        lacking, confusion_error = [0], "the sessions' confusion matrices have other classes"
        shared.discard("confusion")
    keep = [v for v in first.data_vars if v in shared]
    total = first[keep].copy(deep=True)
    for k, part in enumerate(parts[1:], start=1):
        aligned = part[keep].sel(behavior=behaviors)
        if "decision_threshold" in keep and not np.array_equal(
            aligned["decision_threshold"].values, total["decision_threshold"].values, equal_nan=True
        ):
            raise SchemaError(f"counts {k} were made with other decision thresholds than the first")
        if "confusion" in keep:
            aligned = aligned.sel(truth=total["truth"].values, pred=total["pred"].values)
        for name in keep:
            if name == "decision_threshold":
                continue
            total[name] = total[name] + aligned[name].values
    total.attrs = {"n_frames": int(sum(int(p.attrs.get("n_frames", 0)) for p in parts))}
    if lacking:
        total.attrs["confusion_error"] = f"session {lacking[0]} of {len(parts)}: {confusion_error}"
    return total


def dataset_counts(
    data: xr.Dataset, *, thresholds: dict[str, float] | None = None, n_thresholds: int = N_THRESHOLDS
) -> xr.Dataset:
    """Score a session's stored classifier decisions against its human labels, as counts that add over sessions.

    Parameters
    ----------
    data
        A session Dataset with ``behavior_prediction`` and ``labels`` (and
        ``behavior_probability`` when there is one), as the results store
        keeps it.  The behaviors both have are scored; labels with a
        ``rater`` dim are scored against the raters' majority
        (:func:`behaviorlab.io.annotations.consensus`) and each rater.
    thresholds, n_thresholds
        As in :func:`probability_counts`.

    Returns
    -------
    xarray.Dataset
        The counts of :func:`score_counts`.
    """
    missing = [v for v in ("behavior_prediction", "labels") if v not in data]
    if missing:
        raise SchemaError(f"the Dataset has no {' or '.join(missing)} to score (it holds {sorted(data.data_vars)})")
    decided = {str(b) for b in data["behavior_prediction"]["behavior"].values}
    behaviors = [str(b) for b in data["labels"]["behavior"].values if str(b) in decided]
    if not behaviors:
        raise SchemaError("the classifier decisions and the human labels share no behavior name")
    labels = data["labels"].sel(behavior=behaviors)
    pred = data["behavior_prediction"].sel(behavior=behaviors).astype(bool)
    prob = data["behavior_probability"].sel(behavior=behaviors) if "behavior_probability" in data else None
    if labels.dtype.kind == "f" and "individual" in labels.dims:  # NaN: an animal nobody annotated, not scored
        known = [str(i) for i in labels["individual"].values if bool(np.isfinite(labels.sel(individual=i)).all())]
        if not known:
            raise SchemaError("no animal of the session is annotated: nothing to score the classifier against")
        labels, pred = labels.sel(individual=known), pred.sel(individual=known)
        prob = None if prob is None else prob.sel(individual=known)
    labels = labels.astype(bool)
    raters = None
    if "rater" in labels.dims:
        raters, labels = labels, consensus(labels, labels.sizes["rater"] // 2 + 1)
    return score_counts(pred, labels, prob, raters=raters, thresholds=thresholds, n_thresholds=n_thresholds)


def scores_table(counts: xr.Dataset) -> pd.DataFrame:
    """Return the table of :func:`~behaviorlab.results.metrics.frame_scores` from (summed) :func:`score_counts`."""
    return frame_score_table(
        [str(b) for b in counts["behavior"].values], counts["frames"].transpose(..., "outcome").values
    )


def confusion_table(counts: xr.Dataset) -> pd.DataFrame:
    """Return the table of :func:`~behaviorlab.results.metrics.confusion_matrix` from (summed) :func:`score_counts`.

    An error when the counts have none.
    """
    if "confusion" not in counts:
        raise SchemaError(counts.attrs.get("confusion_error", "the counts hold no confusion matrix"))
    return pd.DataFrame(
        counts["confusion"].values.astype(np.int64),
        index=pd.Index([str(c) for c in counts["truth"].values], name="truth"),
        columns=pd.Index([str(c) for c in counts["pred"].values], name="pred"),
    )


def rater_table(counts: xr.Dataset) -> pd.DataFrame:
    """Return the table of :func:`~behaviorlab.results.metrics.classifier_vs_raters` from (summed) counts.

    The counts of :func:`score_counts` made with ``raters``.
    """
    if "rater_frames" not in counts:
        raise SchemaError("the counts were made without raters (score_counts(..., raters=labels))")
    raters = [str(r) for r in counts["rater"].values]
    behaviors = [str(b) for b in counts["behavior"].values]
    pairs = counts["rater_pairs"].values if counts.sizes.get("pair", 0) else None
    return rater_f1_table(raters, behaviors, counts["rater_frames"].values, pairs)


def _cumulative(counts: xr.Dataset, behavior: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Thresholds (descending, only those with frames) and the tp, fp of ``probability >= threshold``."""
    pos = counts["positives"].sel(behavior=behavior).values
    neg = counts["negatives"].sel(behavior=behavior).values
    used = np.flatnonzero(pos + neg)[::-1]
    tp = np.cumsum(pos[::-1])[::-1][used]
    fp = np.cumsum(neg[::-1])[::-1][used]
    return counts["threshold"].values[used], tp, fp


def precision_recall_curves(counts: xr.Dataset) -> pd.DataFrame:
    """Precision-recall curve of each behavior from (summed) :func:`probability_counts`.

    Returns
    -------
    pandas.DataFrame
        ``behavior``, ``threshold``, ``precision``, ``recall``: one row per
        threshold that some frame reaches, highest threshold first (as
        scikit-learn's curve read backwards, without its final
        ``(recall 0, precision 1)`` point); behaviors without positive
        frames are left out.
    """
    parts = []
    for behavior in (str(b) for b in counts["behavior"].values):
        threshold, tp, fp = _cumulative(counts, behavior)
        if not len(tp) or tp[-1] == 0:
            continue
        parts.append(
            pd.DataFrame(
                {"behavior": behavior, "threshold": threshold, "precision": tp / (tp + fp), "recall": tp / tp[-1]}
            )
        )
    columns = ["behavior", "threshold", "precision", "recall"]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


def average_precision(counts: xr.Dataset) -> pd.Series:
    """Average precision per behavior (scikit-learn's step-wise definition) from (summed) :func:`probability_counts`.

    NaN for behaviors without positive frames.
    """
    values = {}
    for behavior in (str(b) for b in counts["behavior"].values):
        _, tp, fp = _cumulative(counts, behavior)
        if not len(tp) or tp[-1] == 0:
            values[behavior] = np.nan
            continue
        recall = tp / tp[-1]
        values[behavior] = float(np.sum(np.diff(np.concatenate([[0.0], recall])) * tp / (tp + fp)))
    return pd.Series(values, name="average_precision", dtype=float)


def operating_points(counts: xr.Dataset, thresholds: dict[str, float] | None = None) -> pd.DataFrame:
    """Precision and recall at each behavior's decision threshold.

    Parameters
    ----------
    counts
        Counts made with ``thresholds`` (exact: ``operating``), or any
        counts with probabilities and ``thresholds`` given here: then each
        threshold is rounded up to the grid (frames between it and the next
        multiple of 1 / n_thresholds are not counted as decided).
    thresholds
        Behavior to threshold, for counts without ``operating``.

    Returns
    -------
    pandas.DataFrame
        ``behavior``, ``threshold``, ``precision``, ``recall`` for the
        behaviors with a threshold (NaN rules of :mod:`behaviorlab.results.metrics`).
    """
    columns = ["behavior", "threshold", "precision", "recall"]
    behaviors = [str(b) for b in counts["behavior"].values]
    if "operating" in counts and thresholds is None:
        ops = counts["operating"].transpose("behavior", "outcome").values
        chosen = counts["decision_threshold"].values.astype(float)
    elif thresholds is not None and "positives" in counts:
        chosen = np.array([float(thresholds.get(b, np.nan)) for b in behaviors])
        grid = counts["threshold"].values
        ops = np.zeros((len(behaviors), len(OUTCOMES)), dtype=np.int64)
        for b, t in enumerate(chosen):
            if np.isnan(t):
                continue
            k = int(np.searchsorted(grid, t, side="left"))  # the first grid threshold >= t
            pos, neg = counts["positives"].values[b], counts["negatives"].values[b]
            ops[b, :3] = (pos[k:].sum(), neg[k:].sum(), pos[:k].sum())
    else:
        return pd.DataFrame(columns=columns)
    precision, recall, _ = precision_recall_f1(ops[:, 0], ops[:, 1], ops[:, 2])
    table = pd.DataFrame({"behavior": behaviors, "threshold": chosen, "precision": precision, "recall": recall})
    return table[table["threshold"].notna()].reset_index(drop=True)


# --------------------------------------------------------------------------- counts as store tables
#: The tables of :func:`counts_tables` (the results store keeps them per session) and their count columns.
COUNT_TABLES: dict[str, tuple[str, ...]] = {
    "classifier_frames": ("behavior", *OUTCOMES),
    "classifier_pr": ("behavior", "threshold", "positives", "negatives"),
    "classifier_confusion": ("truth", "pred", "frames"),
    "classifier_raters": ("rater_a", "rater_b", "behavior", *OUTCOMES),
}
#: ``rater_b`` of the :data:`COUNT_TABLES` ``classifier_raters`` rows that count the classifier against a rater.
CLASSIFIER = "classifier"


def counts_tables(counts: xr.Dataset, *, session: str) -> dict[str, pd.DataFrame]:
    """Write the counts of :func:`score_counts` as tidy tables (what the results store keeps per session).

    Parameters
    ----------
    counts
        One session's counts (:func:`dataset_counts`).
    session
        Session name written in every row.

    Returns
    -------
    dict of str to pandas.DataFrame
        ``classifier_frames`` (session, behavior, tp, fp, fn, tn);
        ``classifier_pr`` (session, behavior, threshold, positives,
        negatives; bins without frames left out) with probabilities;
        ``classifier_confusion`` (session, truth, pred, frames; zero cells
        left out) when the labels are exclusive; ``classifier_raters``
        (session, rater_a, rater_b, behavior, tp, fp, fn, tn: rater b's
        labels counted against rater a's, with ``rater_b =``
        :data:`CLASSIFIER` for the classifier's decisions) with raters.
        Read them back, any number of sessions at once, with
        :func:`counts_from_tables`.
    """
    behaviors = [str(b) for b in counts["behavior"].values]
    frames = counts["frames"].transpose("behavior", "outcome").values
    out = {"classifier_frames": pd.DataFrame({"behavior": behaviors, **dict(zip(OUTCOMES, frames.T, strict=True))})}
    if "positives" in counts:
        pos = counts["positives"].transpose("behavior", "threshold").values
        neg = counts["negatives"].transpose("behavior", "threshold").values
        b, k = np.nonzero(pos + neg)
        out["classifier_pr"] = pd.DataFrame(
            {
                "behavior": np.asarray(behaviors, dtype=object)[b],
                "threshold": counts["threshold"].values[k],
                "positives": pos[b, k],
                "negatives": neg[b, k],
            }
        )
    if "confusion" in counts:
        table = counts["confusion"].transpose("truth", "pred").values
        i, j = np.nonzero(table)
        out["classifier_confusion"] = pd.DataFrame(
            {
                "truth": counts["truth"].values.astype(str)[i],
                "pred": counts["pred"].values.astype(str)[j],
                "frames": table[i, j],
            }
        )
    if "rater_frames" in counts:
        rows = []
        for r, rater in enumerate(str(x) for x in counts["rater"].values):
            for b, behavior in enumerate(behaviors):
                rows.append((rater, CLASSIFIER, behavior, *counts["rater_frames"].values[r, b]))
        for k in range(counts.sizes.get("pair", 0)):
            a, bb = str(counts["rater_a"].values[k]), str(counts["rater_b"].values[k])
            for b, behavior in enumerate(behaviors):
                rows.append((a, bb, behavior, *counts["rater_pairs"].values[k, b]))
        out["classifier_raters"] = pd.DataFrame(rows, columns=list(COUNT_TABLES["classifier_raters"]))
    for name, table in out.items():
        table.insert(0, "session", session)
        out[name] = table.astype({c: np.int64 for c in (*OUTCOMES, "positives", "negatives", "frames") if c in table})
    return out


def counts_from_tables(
    tables: dict[str, pd.DataFrame], *, behaviors: list[str] | None = None, n_thresholds: int = N_THRESHOLDS
) -> xr.Dataset:
    """Sum the :func:`counts_tables` rows of any number of sessions into counts (the pooled scores).

    Parameters
    ----------
    tables
        ``classifier_frames`` and, when kept, ``classifier_pr``,
        ``classifier_confusion``, ``classifier_raters`` (rows of the
        sessions to pool; a ``session`` column is ignored).
    behaviors
        The behaviors to score, in this order (default: those of
        ``classifier_frames`` in order of appearance).
    n_thresholds
        The grid the ``classifier_pr`` thresholds lie on.

    Returns
    -------
    xarray.Dataset
        The counts of :func:`score_counts` summed over the rows' sessions,
        ``n_frames`` in its attrs, without ``operating`` (thresholds are
        not stored): read with :func:`scores_table` and the others.
    """
    frames = tables.get("classifier_frames")
    if frames is None or frames.empty:
        raise SchemaError("no classifier_frames rows: nothing to score")
    behaviors = list(dict.fromkeys(frames["behavior"].astype(str))) if behaviors is None else list(behaviors)
    per_behavior = frames.groupby("behavior")[list(OUTCOMES)].sum().reindex(behaviors, fill_value=0)
    n_frames = int(per_behavior.iloc[0].sum()) if len(per_behavior) else 0
    out = xr.Dataset(
        {"frames": (("behavior", "outcome"), per_behavior.to_numpy(np.int64))},
        coords={"behavior": behaviors, "outcome": list(OUTCOMES)},
        attrs={"n_frames": n_frames},
    )
    pr = tables.get("classifier_pr")
    if pr is not None and not pr.empty:
        edges = np.arange(n_thresholds + 1) / n_thresholds
        k = np.rint(pr["threshold"].to_numpy(np.float64) * n_thresholds).astype(np.int64)
        if not np.allclose(edges[np.clip(k, 0, n_thresholds)], pr["threshold"], rtol=0, atol=1e-12):
            raise SchemaError(f"classifier_pr thresholds are not on a grid of 1/{n_thresholds}")
        b = pd.Index(behaviors).get_indexer(pr["behavior"].astype(str))
        ok = b >= 0
        for name in ("positives", "negatives"):
            grid = np.zeros((len(behaviors), n_thresholds + 1), dtype=np.int64)
            np.add.at(grid, (b[ok], k[ok]), pr[name].to_numpy(np.int64)[ok])
            out[name] = (("behavior", "threshold"), grid)
        out = out.assign_coords(threshold=edges)
    confusion = tables.get("classifier_confusion")
    if confusion is not None and not confusion.empty:
        classes = [*behaviors, "none"]
        table = confusion.groupby(["truth", "pred"])["frames"].sum().unstack(fill_value=0)
        extra = (set(table.index) | set(table.columns)) - set(classes)
        if extra:
            out.attrs["confusion_error"] = f"the sessions' confusion matrices have other classes {sorted(extra)}"
        else:
            table = table.reindex(index=classes, columns=classes, fill_value=0)
            out["confusion"] = (("truth", "pred"), table.to_numpy(np.int64))
            out = out.assign_coords(truth=classes, pred=classes)
    else:
        out.attrs["confusion_error"] = "no classifier_confusion rows (labels with several behaviors on a frame)"
    raters = tables.get("classifier_raters")
    if raters is not None and not raters.empty:
        names = list(dict.fromkeys(raters.loc[raters["rater_b"] == CLASSIFIER, "rater_a"].astype(str)))
        summed = raters.groupby(["rater_a", "rater_b", "behavior"])[list(OUTCOMES)].sum()
        vs = summed.xs(CLASSIFIER, level="rater_b")
        rater_frames = np.stack([vs.loc[r].reindex(behaviors, fill_value=0).to_numpy(np.int64) for r in names])
        pair_index = rater_pairs(len(names))
        pairs = np.zeros((len(pair_index), len(behaviors), len(OUTCOMES)), dtype=np.int64)
        for p, (i, j) in enumerate(pair_index):
            if (names[i], names[j]) in summed.droplevel("behavior").index:
                pairs[p] = summed.loc[(names[i], names[j])].reindex(behaviors, fill_value=0).to_numpy(np.int64)
        out["rater_frames"] = (("rater", "behavior", "outcome"), rater_frames)
        out["rater_pairs"] = (("pair", "behavior", "outcome"), pairs)
        out = out.assign_coords(
            rater=names,
            rater_a=("pair", [names[i] for i, _ in pair_index]),
            rater_b=("pair", [names[j] for _, j in pair_index]),
        )
    return out
