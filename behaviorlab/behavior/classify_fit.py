"""Fitting the per-behavior models of :class:`~behaviorlab.behavior.classify.BehaviorClassifier`.

The steps of one fit, as functions of the classifier's parameters: contiguous
validation chunks of session time (:func:`validation_rows`), evenly spread
training subsamples (:func:`pick_rows`), the scikit-learn model with its class
weights and early stopping (:func:`new_model`, :func:`fit_model`), its
probabilities in chunks (:func:`proba_rows`), permutation importances
(:func:`permutation_importance`), and one behavior's whole fit: first model,
threshold, validation scores, final model (:func:`fit_behavior`).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.metrics import average_precision_score
from threadpoolctl import threadpool_limits

from behaviorlab.behavior.bouts import postprocess_segments
from behaviorlab.behavior.classify_features import WindowDesign
from behaviorlab.behavior.thresholds import (
    best_smoothing,
    best_threshold,
    bout_frames,
    counts,
    frames,
    scores,
    smooth_segments,
)
from behaviorlab.errors import SchemaError

if TYPE_CHECKING:
    from behaviorlab.behavior.classify import BehaviorClassifier

__all__ = [
    "CHUNK_ROWS",
    "MISSING_BIN",
    "N_BINS",
    "FitSplit",
    "class_weights",
    "fit_behavior",
    "fit_model",
    "model_threads",
    "new_model",
    "permutation_importance",
    "pick_rows",
    "proba_rows",
    "split_rows",
    "validation_rows",
]

log = logging.getLogger(__name__)

# Longest validation chunk in seconds, and the most chunk draws tried to give every behavior validation positives.
_CHUNK_S = 30.0
_SPLIT_DRAWS = 10
#: Quantile bins of every window feature for gradient boosting.
N_BINS = 63
#: Rows binned or predicted at once (bounds the float64 copies the models make).
CHUNK_ROWS = 20_000
#: Bin number of a missing (NaN) feature; the models get NaN there, which gradient boosting and random forests
#: send down the branch that fits best.
MISSING_BIN = 255


def model_input(X: np.ndarray) -> np.ndarray:
    """Rows as the model reads them: bin numbers (uint8) become float32 with NaN at :data:`MISSING_BIN`."""
    if X.dtype != np.uint8:
        return X
    out = X.astype(np.float32)
    out[X == MISSING_BIN] = np.nan
    return out


@attrs.frozen(eq=False)
class FitSplit:
    """The rows of one fit (positions into the design's rows, sorted) and their validation chunks."""

    rows: np.ndarray  # every row of the fit
    valid: np.ndarray  # bool over rows: complete features
    fit_rows: np.ndarray  # valid rows outside the validation chunks
    val_rows: np.ndarray  # valid rows inside them
    val_all: np.ndarray  # every row inside them, NaN rows included, for the bout cleaning
    segments: np.ndarray  # segment id of each of val_all


def validation_rows(
    design: WindowDesign,
    rows: np.ndarray,
    rng: np.random.Generator,
    windows_s: Any,
    validation_fraction: float,
) -> np.ndarray:
    """Bool over ``rows``: held out in contiguous chunks of session time (shared by a session's animals)."""
    longest = max(float(w) for w in windows_s) if len(windows_s) else 0.0
    session, frame = design.session[rows], design.frame[rows]
    chunk_of = np.zeros(len(rows), dtype=np.int64)
    chunk_ids = []
    for s in np.unique(session):
        fps, here = design.fps[s], session == s
        present = np.unique(frame[here])
        span = int(present[-1] - present[0] + 1)
        low = max(2 * frames(longest, fps), 10)
        length = int(np.clip(span // 10, low, max(low, frames(_CHUNK_S, fps))))
        local = (frame[here] - present[0]) // length
        chunk_of[here] = local + (max(chunk_ids) + 1 if chunk_ids else 0)
        chunk_ids.extend(np.unique(chunk_of[here]).tolist())
    by_session = {s: np.unique(chunk_of[session == s]) for s in np.unique(session)}
    best, best_cover = None, -1
    y = design.Y[rows] if design.Y is not None else None
    for _ in range(_SPLIT_DRAWS):
        held = []
        for chunks in by_session.values():
            k = min(max(1, round(validation_fraction * len(chunks))), len(chunks) - 1)
            if k > 0:
                held.extend(rng.choice(chunks, size=k, replace=False).tolist())
        is_val = np.isin(chunk_of, held)
        if not is_val.any() or is_val.all():
            raise SchemaError(
                f"too few frames to hold out validation chunks ({len(rows)} training frames): a session "
                "needs at least two chunks of twice the longest window (and 10 frames); give longer recordings"
            )
        cover = 0 if y is None else int(((y[is_val].any(0)) & (y[~is_val].any(0))).sum())
        if cover > best_cover:
            best, best_cover = is_val, cover
        if y is None or cover == y.shape[1]:
            break
    return best


def split_rows(
    design: WindowDesign, rows: np.ndarray, rng: np.random.Generator, windows_s: Any, validation_fraction: float
) -> FitSplit:
    """Hold out validation chunks of ``rows`` (see :func:`validation_rows`) and sort the rows into a split."""
    is_val = validation_rows(design, rows, rng, windows_s, validation_fraction)
    val_all = rows[is_val]
    valid = design.valid[rows]
    return FitSplit(rows, valid, rows[valid & ~is_val], rows[valid & is_val], val_all, design.segments(val_all))


def new_model(clf: BehaviorClassifier, n_iter: int | None = None) -> Any:
    """Return an unfitted model of ``clf.model`` (with at most ``n_iter`` boosting iterations for ``"hgb"``)."""
    if not isinstance(clf.model, str):
        return clone(clf.model)
    if clf.model == "rf":
        return RandomForestClassifier(
            n_estimators=100,
            max_features="sqrt",
            min_samples_leaf=3,
            max_samples=0.5,  # each tree sees half the frames: twice as fast, and neighbours are redundant
            n_jobs=clf.n_jobs,
            random_state=clf.random_state,
        )

    return HistGradientBoostingClassifier(
        learning_rate=clf.learning_rate,
        max_iter=n_iter or clf.max_iter,
        early_stopping=False,  # switched on, with our validation chunks, by fit_model
        max_bins=N_BINS,  # on inputs already binned by _QuantileBins: one bin per bin number
        n_iter_no_change=10,
        tol=1e-4,  # stop when 10 iterations gain less than 1e-4 of validation log-loss
        min_samples_leaf=clf.min_samples_leaf,
        l2_regularization=clf.l2_regularization,
        random_state=clf.random_state,
    )


def model_threads(n_jobs: int | None) -> Any:
    """Return a context that limits the models' OpenMP threads to ``n_jobs``."""
    return threadpool_limits(limits=n_jobs, user_api="openmp")


def class_weights(y: np.ndarray, class_weight: str | None) -> np.ndarray | None:
    """Return per-frame weights that make both classes count equally (``"balanced"``), or None."""
    if class_weight is None:
        return None
    n_pos = int(y.sum())
    return np.where(y, len(y) / (2.0 * n_pos), len(y) / (2.0 * (len(y) - n_pos)))


def fit_model(
    clf: BehaviorClassifier, X: np.ndarray, y: np.ndarray, *, X_val: Any = None, y_val: Any = None, n_iter: Any = None
) -> Any:
    """Fit one behavior's model; with validation rows, ``"hgb"`` stops early on them."""
    model = new_model(clf, n_iter)
    weight = class_weights(y, clf.class_weight)
    kwargs: dict[str, Any] = {} if weight is None else {"sample_weight": weight}
    early = clf.model == "hgb" and X_val is not None and y_val.any() and (~y_val).any()
    if early and "X_val" in inspect.signature(model.fit).parameters:  # scikit-learn >= 1.7
        model.set_params(early_stopping=True)
        kwargs.update(X_val=X_val, y_val=y_val)
        if weight is not None:
            kwargs["sample_weight_val"] = class_weights(y_val, clf.class_weight)
    if "X_val" in kwargs:
        kwargs["X_val"] = model_input(kwargs["X_val"])
    with model_threads(clf.n_jobs):
        return model.fit(model_input(X), y, **kwargs)


def proba_rows(model: Any, X: np.ndarray, n_jobs: int | None) -> np.ndarray:
    """Probability of the behavior for every row, in chunks (models copy their input to float64)."""
    column = list(model.classes_).index(True)
    out = np.empty(len(X))
    with model_threads(n_jobs):
        for start in range(0, len(X), CHUNK_ROWS):
            chunk = model_input(X[start : start + CHUNK_ROWS])
            out[start : start + CHUNK_ROWS] = model.predict_proba(chunk)[:, column]
    return out


def pick_rows(rows: np.ndarray, y: np.ndarray, rng: np.random.Generator, max_frames: int | None) -> np.ndarray:
    """At most ``max_frames`` of ``rows``, evenly spread, half positive where there are enough."""
    n = max_frames
    if n is None or len(rows) <= n:
        return rows
    pos, neg = rows[y], rows[~y]
    k_pos = min(len(pos), max(n // 2, n - len(neg)))
    picks = []
    for part, k in ((pos, k_pos), (neg, n - k_pos)):
        step = len(part) / max(k, 1)
        picks.append(part[np.minimum((rng.uniform(0, step) + step * np.arange(k)).astype(np.int64), len(part) - 1)])
    return np.sort(np.concatenate(picks))


def permutation_importance(
    clf: BehaviorClassifier, model: Any, X: np.ndarray, y: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Drop in average precision when each base feature's window columns are permuted together."""
    n_base = len(clf.base_feature_names_)
    out = np.full(n_base, np.nan)
    if clf.importance_frames == 0 or not y.any() or y.all():
        return out
    k = min(len(y), clf.importance_frames)
    pick = np.sort(rng.choice(len(y), size=k, replace=False))
    Xs, ys = np.array(X[pick]), y[pick]
    if not ys.any():
        return out
    base = average_precision_score(ys, proba_rows(model, Xs, clf.n_jobs))
    column_base = np.arange(Xs.shape[1]) % n_base
    order = rng.permutation(k)
    for j in range(n_base):
        cols = np.flatnonzero(column_base == j)
        kept = Xs[:, cols].copy()
        Xs[:, cols] = kept[order]
        out[j] = base - average_precision_score(ys, proba_rows(model, Xs, clf.n_jobs))
        Xs[:, cols] = kept
    return out


def fit_behavior(
    clf: BehaviorClassifier,
    design: WindowDesign,
    split: FitSplit,
    b: int,
    matrix: Callable[[np.ndarray], np.ndarray],
    rng: np.random.Generator,
    importance_rng: np.random.Generator,
) -> tuple[Any, float, np.ndarray, tuple[Any, ...]]:
    """Fit behavior ``b`` (seen in the fit rows, but not in all of them).

    A first model trains outside the validation chunks (stopping early on
    them), the chunks choose the threshold and the importances, and the
    final model trains on every valid row with the first model's iterations.

    Returns
    -------
    tuple
        ``(model, (threshold, smoothing_s), importances, summary)``, ``summary`` a row of
        :attr:`BehaviorClassifier.training_` (with the behavior first).
    """
    behavior = clf.behaviors_[b]
    y_all = design.Y[:, b]
    fit_rows, val_rows, val_all, every = split.fit_rows, split.val_rows, split.val_all, split.rows[split.valid]
    train = pick_rows(fit_rows, y_all[fit_rows], rng, clf.max_train_frames)
    if not y_all[train].any() or y_all[train].all():
        train = pick_rows(every, y_all[every], rng, clf.max_train_frames)  # all positives in validation chunks
    first = fit_model(clf, matrix(train), y_all[train], X_val=matrix(val_rows), y_val=y_all[val_rows])
    proba = np.full(len(val_all), np.nan)
    ok = design.valid[val_all]
    if ok.any():
        proba[ok] = proba_rows(first, matrix(val_all[ok]), clf.n_jobs)
    min_bout, max_gap = bout_frames(clf.min_bout_s, clf.max_gap_s, clf.fps_)
    smoothing, threshold, proba = choose_decision(clf, behavior, proba, y_all[val_all], split.segments)
    pred = postprocess_segments(proba >= threshold, split.segments, min_bout, max_gap)
    precision, recall, f1 = scores(*counts(pred, y_all[val_all]))
    importance = permutation_importance(clf, first, matrix(val_rows), y_all[val_rows], importance_rng)
    n_iter = getattr(first, "n_iter_", None)
    final_rows = pick_rows(every, y_all[every], rng, clf.max_train_frames)
    model = fit_model(clf, matrix(final_rows), y_all[final_rows], n_iter=n_iter)
    summary = (behavior, int(y_all[every].sum()), len(final_rows), n_iter, threshold, smoothing, precision, recall, f1)
    return model, (threshold, smoothing), importance, summary


def choose_decision(
    clf: BehaviorClassifier, behavior: str, proba: np.ndarray, y: np.ndarray, segments: np.ndarray
) -> tuple[float, float, np.ndarray]:
    """Return the smoothing window (s), the threshold and the smoothed validation probabilities of one behavior.

    ``clf.smoothing_s == "f1"`` tries :data:`~behaviorlab.behavior.thresholds.SMOOTHING_GRID_S`
    and keeps the window whose decisions have the best validation F1 (with
    its best threshold when ``clf.threshold == "f1"``); a number fixes it.
    """
    min_bout, max_gap = bout_frames(clf.min_bout_s, clf.max_gap_s, clf.fps_)
    if not y.any():
        log.warning("%s: no positive frame in the validation chunks; threshold 0.5, no smoothing", behavior)
        return 0.0, 0.5 if clf.threshold == "f1" else float(clf.threshold), proba
    if clf.smoothing_s == "f1" and clf.threshold == "f1":
        return best_smoothing(proba, y, segments, clf.fps_, min_bout, max_gap)
    seconds = 0.0 if clf.smoothing_s == "f1" else float(clf.smoothing_s)
    smoothed = smooth_segments(proba, segments, frames(seconds / 2.0, clf.fps_))
    if clf.threshold == "f1":
        return seconds, best_threshold(smoothed, y, segments, min_bout, max_gap), smoothed
    return seconds, float(clf.threshold), smoothed
