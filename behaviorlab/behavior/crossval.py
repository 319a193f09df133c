"""Grouped cross-validation of :class:`~behaviorlab.behavior.classify.BehaviorClassifier`: folds, decisions, pooling.

Folds never split frames at random: they leave one session out
(``"sessions"``) or one contiguous time block of every session out
(``"blocks"``, :func:`block_of`).  A :class:`CVPlan` holds what every fold
shares; :func:`fold_decisions` turns a fold's out-of-fold probabilities into
decisions with its thresholds and bout cleaning; :func:`pool_folds` combines
the folds (:class:`~behaviorlab.behavior.classify.CVFold`, which stays beside
the classifier because the project runner pickles it) into a :class:`CVResult`
with per-fold and pooled scores.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
import pandas as pd
import xarray as xr

from behaviorlab._runs import runs, value_runs
from behaviorlab.behavior.bouts import match_bouts, postprocess_segments
from behaviorlab.behavior.classify_features import WindowDesign
from behaviorlab.behavior.thresholds import bout_frames, counts, scores
from behaviorlab.errors import SchemaError

if TYPE_CHECKING:
    from behaviorlab.behavior.classify import CVFold

__all__ = ["CVPlan", "CVResult", "block_of", "check_folds", "cv_kind", "fold_decisions", "pool_folds"]

log = logging.getLogger(__name__)


@attrs.frozen(eq=False)
class CVResult:
    """What :meth:`~behaviorlab.behavior.classify.BehaviorClassifier.cross_validate` found.

    Attributes
    ----------
    cv
        ``"sessions"`` (leave one session out) or ``"blocks"`` (contiguous time blocks).
    folds
        One row per fold and session: ``fold, session, start_s, stop_s, n_frames`` of its test frames.
    test_fold
        Per session, ``(time,)`` int: the fold whose test part holds each frame.
    probabilities
        Per session, out-of-fold ``behavior_probability (time, individual, behavior)``.
    predictions
        Per session, out-of-fold ``behavior_prediction (time, individual, behavior)``
        (each fold's threshold and bout cleaning).
    thresholds
        ``(fold, behavior)`` table of the thresholds chosen inside each fold's training part.
    fold_scores
        ``fold, behavior, precision, recall, f1, n_true, n_predicted, n_frames`` per fold.
    scores
        The same pooled over every fold's test frames: ``behavior, precision,
        recall, f1, n_true, n_predicted, n_frames``, one row per behavior,
        and the bout-wise measures of :func:`bout_table` (``bout_f1``,
        ``n_true_bouts``, ``n_predicted_bouts``, ``bout_count_error``,
        ``duration_error``).
    """

    cv: str
    folds: pd.DataFrame
    test_fold: dict[str, xr.DataArray]
    probabilities: dict[str, xr.DataArray]
    predictions: dict[str, xr.DataArray]
    thresholds: pd.DataFrame
    fold_scores: pd.DataFrame
    scores: pd.DataFrame


@attrs.frozen(eq=False)
class CVPlan:
    """The design and folds shared by every fold of one cross-validation."""

    design: WindowDesign
    kind: str
    n_folds: int
    fold: np.ndarray  # (n_rows,) fold of every row
    behaviors: list[str]
    base_feature_names: np.ndarray


def cv_kind(cv: str, n_blocks: int, n_sessions: int) -> tuple[str, int]:
    """Return the kind of folds (``"sessions"`` or ``"blocks"``) of ``cv`` for ``n_sessions``, and their number."""
    kind = ("sessions" if n_sessions >= 2 else "blocks") if cv == "auto" else cv
    if kind == "sessions" and n_sessions < 2:
        raise SchemaError("cv='sessions' needs at least two sessions; use cv='blocks' for one session")
    return kind, (n_sessions if kind == "sessions" else n_blocks)


def block_of(design: WindowDesign, n_blocks: int) -> np.ndarray:
    """``(n_rows,)`` contiguous time block of every row: block ``k`` is the k-th n_blocks-th of its session."""
    return (design.frame * n_blocks // design.n_time[design.session]).astype(np.int64)


def fold_decisions(
    plan: CVPlan,
    k: int,
    test: np.ndarray,
    proba: np.ndarray,
    thresholds: Mapping[str, float],
    min_bout_s: float,
    max_gap_s: float,
) -> tuple[np.ndarray, list[tuple[Any, ...]]]:
    """Decide fold ``k``'s test rows: threshold and bout cleaning per session, at its frame rate.

    Returns
    -------
    tuple
        ``(n_test, behavior)`` bool decisions, and ``(fold, session, start_s,
        stop_s, n_frames)`` of each session's test frames.
    """
    design = plan.design
    pred = np.zeros((len(test), len(plan.behaviors)), dtype=bool)
    parts = []
    for s in np.unique(design.session[test]):
        here = design.session[test] == s
        rows = test[here]
        min_bout, max_gap = bout_frames(min_bout_s, max_gap_s, design.fps[s])
        segments = design.segments(rows)
        for b, behavior in enumerate(plan.behaviors):
            mask = proba[here, b] >= thresholds[behavior]
            pred[here, b] = postprocess_segments(mask, segments, min_bout, max_gap)
        times = design.sources[s]["time"].values[np.unique(design.frame[rows])]
        parts.append((k, design.names[s], float(times[0]), float(times[-1]), len(times)))
    return pred, parts


def check_folds(plan: CVPlan, folds: Sequence[CVFold]) -> None:
    """Check that ``folds`` are every fold of ``plan`` once, computed on its sessions."""
    found = sorted(int(f.fold) for f in folds)
    if found != list(range(plan.n_folds)):
        raise SchemaError(f"pool_folds needs each of the {plan.n_folds} folds once, got folds {found}")
    for f in folds:
        if f.cv != plan.kind or f.sessions != tuple(plan.design.names) or f.n_rows != len(plan.design.X):
            raise SchemaError(
                f"fold {f.fold} was computed on other sessions ({list(f.sessions)}, {f.cv}) than these "
                f"({plan.design.names}, {plan.kind})"
            )


def _test_folds(plan: CVPlan) -> dict[str, xr.DataArray]:
    """Per session, ``(time,)`` int: the fold whose test part holds each frame (-1: none)."""
    design = plan.design
    fold_of = {}
    for s, name in enumerate(design.names):
        rows = np.flatnonzero(design.session == s)
        per_frame = np.full(design.n_time[s], -1, dtype=np.int64)
        per_frame[design.frame[rows]] = plan.fold[rows]
        fold_of[name] = xr.DataArray(
            per_frame, dims=("time",), coords={"time": design.sources[s]["time"].values}, name="fold"
        )
    return fold_of


def pool_folds(plan: CVPlan, folds: Sequence[CVFold]) -> CVResult:
    """Combine the folds of ``plan`` (in fold order) into out-of-fold results and per-fold and pooled scores."""
    design, behaviors = plan.design, plan.behaviors
    proba = np.full(design.Y.shape, np.nan)
    pred = np.zeros(design.Y.shape, dtype=bool)
    thresholds, fold_scores, fold_rows = [], [], []
    for f in folds:
        proba[f.rows], pred[f.rows] = f.probabilities, f.predictions
        fold_rows.extend(f.parts)
        thresholds.append({"fold": f.fold, **f.thresholds})
        tp, fp, fn = counts(f.predictions, design.Y[f.rows])
        for b, behavior in enumerate(behaviors):
            n_true, n_pred = int(tp[b] + fn[b]), int(tp[b] + fp[b])
            fold_scores.append((f.fold, behavior, *scores(tp[b], fp[b], fn[b]), n_true, n_pred, len(f.rows)))
    columns = ["fold", "behavior", "precision", "recall", "f1", "n_true", "n_predicted", "n_frames"]
    fold_table = pd.DataFrame(fold_scores, columns=columns)
    tp, fp, fn = counts(pred, design.Y)
    pooled = [
        (b, *scores(tp[i], fp[i], fn[i]), int(tp[i] + fn[i]), int(tp[i] + fp[i]), len(pred))
        for i, b in enumerate(behaviors)
    ]
    bouts = bout_table(pred, design.Y, design.segments(np.arange(len(pred))), behaviors)
    log.info("cross_validate (%s, %d folds): F1 %s", plan.kind, plan.n_folds, {p[0]: round(p[3], 3) for p in pooled})
    return CVResult(
        cv=plan.kind,
        folds=pd.DataFrame(fold_rows, columns=["fold", "session", "start_s", "stop_s", "n_frames"]),
        test_fold=_test_folds(plan),
        probabilities=design.unstack(proba, "behavior_probability", behaviors, np.nan),
        predictions=design.unstack(pred, "behavior_prediction", behaviors, False),
        thresholds=pd.DataFrame(thresholds).set_index("fold"),
        fold_scores=fold_table,
        scores=pd.DataFrame(pooled, columns=columns[1:]).merge(bouts, on="behavior"),
    )


#: Bout-wise columns of :attr:`CVResult.scores`, beside the frame-wise ones.
BOUT_SCORE_COLUMNS = ["bout_f1", "n_true_bouts", "n_predicted_bouts", "bout_count_error", "duration_error"]


def bout_table(pred: np.ndarray, truth: np.ndarray, segments: np.ndarray, behaviors: Sequence[str]) -> pd.DataFrame:
    """Bout-wise F1 (bouts matched one to one by any overlap), and the errors in bout count and total duration.

    ``pred`` and ``truth`` are bool ``(rows, behavior)``; a bout never spans
    two ``segments`` (animals or sessions).  ``bout_count_error`` is
    ``(predicted - true bouts) / true bouts`` and ``duration_error`` the same
    for frames: signed, so a classifier that splits bouts shows a positive count error.
    """
    cuts = value_runs(np.asarray(segments))[0][1:]  # where each segment after the first starts
    rows = []
    for b, behavior in enumerate(behaviors):
        n_pred = n_true = matched = 0
        for p, t in zip(np.split(pred[:, b], cuts), np.split(truth[:, b], cuts), strict=True):
            n_pred += len(runs(p)[1])
            n_true += len(runs(t)[1])
            matched += len(match_bouts(p, t, 0.0))
        f1 = scores(matched, n_pred - matched, n_true - matched)[2]
        frames_true, frames_pred = int(truth[:, b].sum()), int(pred[:, b].sum())
        with np.errstate(invalid="ignore", divide="ignore"):
            count_error = (n_pred - n_true) / n_true if n_true else np.nan
            duration_error = (frames_pred - frames_true) / frames_true if frames_true else np.nan
        rows.append((behavior, f1, n_true, n_pred, count_error, duration_error))
    return pd.DataFrame(rows, columns=["behavior", *BOUT_SCORE_COLUMNS])
