"""Supervised behavior classifiers: window features, one model per behavior, grouped validation, bouts.

:class:`BehaviorClassifier` follows SimBA and JAABA: every per-frame feature
is summarised over centred windows of several lengths (:func:`window_features`:
rolling mean, standard deviation, minimum and maximum), and one binary model
per behavior (histogram gradient boosting by default, or a random forest)
learns which frames show it.  Behaviors are independent problems, so several
may be on in one frame.  Each model weighs the two classes equally
(``class_weight="balanced"``), its decision threshold maximizes F1 on
validation frames that it did not see, and its per-frame decisions are cleaned
into bouts (:func:`postprocess_bouts`: short gaps closed, then short bouts
dropped).

Validation never splits frames at random: neighbouring frames are nearly
identical, so a random split measures memory, not generalization.
:meth:`BehaviorClassifier.cross_validate` leaves one session out (or, with a
single session, one contiguous time block out), and inside every fit the
threshold and the number of boosting iterations are chosen on contiguous
chunks of time held out from the training frames (see
:meth:`BehaviorClassifier.fit`), so the thresholds of a cross-validation fold
never see its test frames.

Labels are a boolean ``(time, individual, behavior)`` DataArray per session
(frames without any annotation are all False).

The estimator is made of four parts, each in its own module: the window-feature
rows of many sessions (:mod:`behaviorlab.behavior.classify_features`), the
fitting of the per-behavior models (:mod:`behaviorlab.behavior.classify_fit`),
thresholds and bout cleaning (:mod:`behaviorlab.behavior.thresholds`) and
cross-validation (:mod:`behaviorlab.behavior.crossval`).  This module keeps
the estimator and the classes pickled with it or with its folds.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import attrs
import numpy as np
import pandas as pd
import xarray as xr
from sklearn.base import BaseEstimator, clone

from behaviorlab._blocks import blocks
from behaviorlab._persist import SavedEstimator
from behaviorlab.behavior.bouts import postprocess_bouts
from behaviorlab.behavior.classify_blocks import fit_sessions
from behaviorlab.behavior.classify_features import (
    WindowDesign,
    base_features,
    build_design,
    check_keypoints,
    fingerprint,
    labels_behaviors,
    session_fingerprints,
    session_keypoints,
)
from behaviorlab.behavior.classify_fit import CHUNK_ROWS, MISSING_BIN, N_BINS, fit_behavior, proba_rows, split_rows
from behaviorlab.behavior.crossval import (
    CVPlan,
    CVResult,
    block_of,
    check_folds,
    cv_kind,
    fold_decisions,
    pool_folds,
)
from behaviorlab.behavior.suggest import spread_picks, uncertainty_table
from behaviorlab.behavior.thresholds import bout_frames, decide, frames, smooth_segments
from behaviorlab.errors import SchemaError
from behaviorlab.features.samples import SessionData, session_items
from behaviorlab.features.windows import STATS, check_windows, frame_rate, window_feature_names, window_features
from behaviorlab.schema import log_step

__all__ = [
    "STATS",
    "BehaviorClassifier",
    "CVFold",
    "postprocess_bouts",
    "window_feature_names",
    "window_features",
]

log = logging.getLogger(__name__)

_KIND = "behaviorlab.BehaviorClassifier"
# Packages whose version change can alter a loaded classifier's predictions.
_VERSION_KEYS = ("behaviorlab", "numpy", "scipy", "pandas", "scikit-learn")
#: Frames a session is predicted in at once (with the windows' reach on each side): ten hours need the window
#: features of this many frames in memory, not 2.6 GB of them.
PREDICT_BLOCK_FRAMES = 2**16


# --------------------------------------------------------------------------- pickled with the classifier and its folds
# These classes stay in this module: saved classifiers (binner_, models_) and the
# project runner's cached folds (CVFold) name them by their module path.
class _QuantileBins:
    """Quantile bins of every column, learned without weights: ``(n_rows, n_columns)`` -> uint8 bin numbers.

    NaN gets :data:`~behaviorlab.behavior.classify_fit.MISSING_BIN`, which the models read as missing.

    Gradient boosting bins its input anyway; binning here first keeps
    scikit-learn (>= 1.7) from computing weighted quantiles of every column
    in Python when sample weights are given, which takes longer than the fit.
    """

    def __init__(self, X: np.ndarray, rows: np.ndarray, n_bins: int = 63, max_rows: int = 20_000) -> None:
        sample = rows[:: max(1, len(rows) // max_rows)]
        q = np.linspace(0, 1, n_bins + 1)[1:-1]
        columns = np.ascontiguousarray(X[sample].T, dtype=np.float64)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a column never seen: all-NaN, edges 0
            edges = np.nanquantile(columns, q, axis=1).T
        self.edges = np.nan_to_num(edges, nan=0.0).astype(X.dtype)  # (n_columns, n_bins - 1)

    def transform(self, X: np.ndarray, rows: np.ndarray | None = None, chunk: int = CHUNK_ROWS) -> np.ndarray:
        """Bin numbers of ``X[rows]`` (default all rows), ``(n_rows, n_columns)`` uint8."""
        rows = np.arange(len(X)) if rows is None else rows
        out = np.empty((self.edges.shape[0], len(rows)), dtype=np.uint8)
        for start in range(0, len(rows), chunk):
            columns = np.ascontiguousarray(X[rows[start : start + chunk]].T)
            for j, edges in enumerate(self.edges):
                codes = np.searchsorted(edges, columns[j], side="left")
                out[j, start : start + chunk] = np.where(np.isnan(columns[j]), MISSING_BIN, codes)
        return out.T


class _ConstantModel:
    """A behavior that a fold's training frames show never (or always): probability 0 (or 1) everywhere."""

    classes_ = np.array([False, True])

    def __init__(self, present: bool) -> None:
        self.present = bool(present)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        out = np.zeros((len(X), 2))
        out[:, int(self.present)] = 1.0
        return out


@attrs.frozen(eq=False)
class CVFold:
    """One fold of :meth:`BehaviorClassifier.cross_validate_fold`, for :meth:`BehaviorClassifier.pool_folds`.

    Attributes
    ----------
    fold
        The fold's number.
    cv
        ``"sessions"`` or ``"blocks"``.
    sessions
        The sessions cross-validated, in order (``pool_folds`` checks them).
    n_rows
        Rows (frames x individuals) of all sessions together.
    rows
        ``(n_test,)`` the test part's rows among them.
    probabilities, predictions
        ``(n_test, behavior)`` out-of-fold probabilities and decisions.
    thresholds
        Behavior -> threshold chosen inside the fold's training part.
    parts
        ``(fold, session, start_s, stop_s, n_frames)`` of each session's test frames.
    """

    fold: int
    cv: str
    sessions: tuple[str, ...]
    n_rows: int
    rows: np.ndarray
    probabilities: np.ndarray
    predictions: np.ndarray
    thresholds: dict[str, float]
    parts: tuple[tuple[Any, ...], ...]


# --------------------------------------------------------------------------- estimator
class BehaviorClassifier(SavedEstimator, BaseEstimator):
    """One binary classifier per behavior on window features, with F1 thresholds and bout cleaning.

    Parameters
    ----------
    behaviors
        Behaviors to learn; default every behavior of the labels.
    model
        ``"hgb"`` (scikit-learn's histogram gradient boosting, 63 bins,
        early stopping on the validation chunks), ``"rf"`` (random forest of
        100 trees, each on a bootstrap half of the frames, ``max_features="sqrt"``,
        leaves of at least 3 frames), or
        an unfitted scikit-learn classifier with ``predict_proba`` and a
        ``sample_weight`` argument (cloned per behavior).
    windows_s, stats
        Window lengths in seconds and statistics of :func:`window_features`.
    class_weight
        ``"balanced"``: weigh each frame by ``n / (2 n_class)`` so both
        classes count equally; ``None``: every frame counts once.
    cv
        Folds of :meth:`cross_validate`: ``"sessions"`` (leave one session
        out), ``"blocks"`` (``n_blocks`` contiguous time blocks of every
        session; fold ``k`` tests block ``k`` of all of them) or ``"auto"``
        (sessions when there are at least two, else blocks).
    n_blocks
        Number of time blocks.
    threshold
        ``"f1"``: per behavior, the threshold (0.01 to 0.99 by 0.01) whose
        decisions, after bout cleaning, have the best F1 on the validation
        chunks; or a fixed probability for every behavior.
    smoothing_s
        Moving average of each behavior's probability before the threshold
        (seconds, centred): ``"f1"`` learns it per behavior from the
        training labels, keeping the window of
        :data:`~behaviorlab.behavior.thresholds.SMOOTHING_GRID_S` whose
        validation decisions have the best F1 (MARS smooths its classifiers'
        output the same way, with an HMM); a number fixes it; 0 turns it off.
    min_bout_s, max_gap_s
        Bout cleaning of :func:`postprocess_bouts`, in seconds (rounded to
        frames at each session's frame rate).
    max_train_frames
        Each model trains on at most this many frames, evenly spread in time,
        half of them positive where the behavior has enough frames; ``None``
        uses every frame.  Neighbouring frames are nearly identical, so a
        subsample loses little and saves much time.  Annotations of more than
        10 times this many rows are read as a random set of 60-s blocks holding
        that many (:mod:`~behaviorlab.behavior.classify_blocks`): memory stays bounded.
    variable
        Variable read from Datasets.
    random_state
        Seeds the validation chunks, the subsamples and the models.
    max_iter, learning_rate
        Boosting iterations (the most; early stopping picks fewer) and step size of ``"hgb"``.
    min_samples_leaf, l2_regularization
        Regularization of ``"hgb"``'s trees: the fewest frames in a leaf
        (neighbouring frames are near copies, so a leaf of 50 frames rests
        on about two seconds of behavior) and the L2 penalty on leaf values.
        Measured on the real sets (``benchmarks/classifier_quality.py``):
        scikit-learn's defaults (20, 0) gave held-out F1 0.62-0.75 where
        these gave 0.74-0.80.
    validation_fraction
        Share of each session's time held out, in contiguous chunks, to pick
        the thresholds, the number of iterations and the feature importances.
    importance_frames
        Validation frames used for the permutation importances (0: none).
    n_jobs
        Threads of the models; ``None`` is scikit-learn's default (all cores
        for ``"hgb"``, one for ``"rf"``), -1 all cores.  One by default: on a
        machine busy with other work, gradient boosting's OpenMP threads spin
        and a fit with two threads on two shared cores took 7 times longer
        than with one.  Raise it on a machine of your own.

    Attributes
    ----------
    behaviors_
        Learned behaviors, in output order.
    models_
        Behavior -> fitted scikit-learn classifier (trained on all frames).
    thresholds_
        Behavior -> decision threshold on the (smoothed) probability.
    smoothing_
        Behavior -> smoothing window in seconds (0: none).
    base_feature_names_, feature_names_in_, n_features_in_
        The per-frame features the classifier reads, and its window features.
    feature_spec_
        Dict with ``variable``, ``windows_s``, ``stats``, the feature names and
        ``fps``: what a session needs to be labeled.
    fps_
        Frame rate of the training sessions.
    keypoints_
        Keypoints of the training poses (None when fitted on bare features):
        a session to label must have them (under these names; see
        ``behaviorlab features --keypoint-map``).
    cv_
        How the validation chunks were made (kind, chunk length, frames).
    feature_importances_
        ``(behavior, base feature)`` DataFrame: drop in average precision on
        validation frames when all window features of a base feature are
        permuted together (NaN without validation positives).
    training_
        Per behavior: positives, frames fitted, iterations, threshold and the
        validation precision, recall and F1 at that threshold.
    n_train_frames_
        Labeled frames with complete features.
    """

    def __init__(
        self,
        behaviors: Sequence[str] | None = None,
        model: Any = "hgb",
        windows_s: Sequence[float] = (0.2, 0.5, 1.0),
        stats: Sequence[str] = STATS,
        class_weight: str | None = "balanced",
        cv: str = "auto",
        n_blocks: int = 5,
        threshold: str | float = "f1",
        smoothing_s: str | float = "f1",
        min_bout_s: float = 0.2,
        max_gap_s: float = 0.1,
        max_train_frames: int | None = 20_000,
        variable: str = "features",
        random_state: int | None = 0,
        max_iter: int = 200,
        learning_rate: float = 0.1,
        min_samples_leaf: int = 50,
        l2_regularization: float = 1.0,
        validation_fraction: float = 0.2,
        importance_frames: int = 2000,
        n_jobs: int | None = 1,
    ) -> None:
        self.behaviors = behaviors
        self.model = model
        self.windows_s = windows_s
        self.stats = stats
        self.class_weight = class_weight
        self.cv = cv
        self.n_blocks = n_blocks
        self.threshold = threshold
        self.smoothing_s = smoothing_s
        self.min_bout_s = min_bout_s
        self.max_gap_s = max_gap_s
        self.max_train_frames = max_train_frames
        self.variable = variable
        self.random_state = random_state
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.validation_fraction = validation_fraction
        self.importance_frames = importance_frames
        self.n_jobs = n_jobs

    #: Parameters added after models were first saved, with the value an older model was fitted with.
    _ADDED_PARAMS: ClassVar[dict[str, Any]] = {"smoothing_s": 0.0, "min_samples_leaf": 20, "l2_regularization": 0.0}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore a pickled classifier; one saved before a parameter existed gets the value it was fitted with."""
        super().__setstate__({**self._ADDED_PARAMS, **state})

    # ------------------------------------------------------------------ checks
    def _check_params(self) -> None:
        check_windows(self.windows_s, self.stats)
        if isinstance(self.model, str):
            if self.model not in ("hgb", "rf"):
                raise SchemaError(f"model must be 'hgb', 'rf' or a scikit-learn classifier, got {self.model!r}")
        elif not (hasattr(self.model, "fit") and hasattr(self.model, "predict_proba")):
            raise SchemaError(f"model {self.model!r} has no fit/predict_proba: pass 'hgb', 'rf' or a classifier")
        if self.class_weight not in ("balanced", None):
            raise SchemaError(f"class_weight must be 'balanced' or None, got {self.class_weight!r}")
        if self.cv not in ("auto", "sessions", "blocks"):
            raise SchemaError(f"cv must be 'auto', 'sessions' or 'blocks', got {self.cv!r}")
        if not (isinstance(self.n_blocks, int | np.integer) and self.n_blocks >= 2):
            raise SchemaError(f"n_blocks must be an integer >= 2, got {self.n_blocks!r}")
        if self.threshold != "f1" and not (
            isinstance(self.threshold, float | int) and not isinstance(self.threshold, bool) and 0 < self.threshold < 1
        ):
            raise SchemaError(f"threshold must be 'f1' or a probability in (0, 1), got {self.threshold!r}")
        if self.smoothing_s != "f1" and not (
            isinstance(self.smoothing_s, float | int)
            and not isinstance(self.smoothing_s, bool)
            and self.smoothing_s >= 0
        ):
            raise SchemaError(f"smoothing_s must be 'f1' or a window in seconds >= 0, got {self.smoothing_s!r}")
        if not (self.min_bout_s >= 0 and self.max_gap_s >= 0):
            raise SchemaError(f"min_bout_s and max_gap_s must be >= 0, got {self.min_bout_s}, {self.max_gap_s}")
        if self.max_train_frames is not None and not self.max_train_frames >= 20:
            raise SchemaError(f"max_train_frames must be None or at least 20, got {self.max_train_frames}")
        if not 0 < self.validation_fraction <= 0.5:
            raise SchemaError(f"validation_fraction must be in (0, 0.5], got {self.validation_fraction}")
        if not (self.max_iter >= 1 and self.learning_rate > 0 and self.importance_frames >= 0):
            raise SchemaError("max_iter must be >= 1, learning_rate > 0 and importance_frames >= 0")
        if not (self.min_samples_leaf >= 1 and self.l2_regularization >= 0):
            raise SchemaError("min_samples_leaf must be >= 1 and l2_regularization >= 0")

    _model_format = _KIND
    _model_versions = _VERSION_KEYS

    def _check_saveable(self) -> None:
        self._check_fitted()

    def _check_fitted(self) -> None:
        if not hasattr(self, "models_"):
            raise SchemaError("this BehaviorClassifier is not fitted yet: call fit first")

    # ------------------------------------------------------------------ rows
    def _design(self, features: Any, labels: Any = None, behaviors: Sequence[str] = ()) -> WindowDesign:
        return build_design(
            features,
            labels,
            behaviors,
            variable=self.variable,
            windows_s=self.windows_s,
            stats=self.stats,
            reference=getattr(self, "base_feature_names_", None),
            partial=isinstance(self.model, str),  # "hgb" and "rf" take missing features
        )

    def _matrix(self, X: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Model input for the window-feature rows ``X[rows]``: their bin numbers for ``"hgb"``."""
        if getattr(self, "binner_", None) is None:
            return X[rows]
        return self.binner_.transform(X, rows)

    # ------------------------------------------------------------------ models
    def _fit_design(self, design: WindowDesign, rows: np.ndarray, *, constant_ok: bool = False) -> BehaviorClassifier:
        """Fit every behavior on ``rows`` (positions into the design's rows, sorted).

        ``constant_ok`` (cross-validation folds): a behavior that the training
        rows show never (or always) gets a constant model, so the fold
        predicts it absent (present) on its test sessions and the pooled
        scores count those frames, instead of the fold failing.
        """
        rng = np.random.default_rng(self.random_state)
        # the importances draw from their own stream: fits without them (cross-validation folds) pick the same rows
        seed = self.random_state
        importance_rng = np.random.default_rng([seed, 1] if isinstance(seed, int | np.integer) else seed)
        fit_all = rows[design.valid[rows]]
        self.binner_ = _QuantileBins(design.X, fit_all, N_BINS) if self.model == "hgb" else None
        codes = self.binner_.transform(design.X, fit_all) if self.binner_ is not None else None

        def matrix(idx: np.ndarray) -> np.ndarray:  # model input of valid rows among `rows`
            return design.X[idx] if codes is None else codes[np.searchsorted(fit_all, idx)]

        self.fps_ = float(np.median(design.fps[np.unique(design.session[rows])]))
        split = split_rows(design, rows, rng, self.windows_s, self.validation_fraction)
        self.cv_ = {
            "kind": "contiguous chunks of session time",
            "validation_fraction": float(self.validation_fraction),
            "n_validation_frames": len(split.val_rows),
            "n_fit_frames": len(split.fit_rows),
        }
        self.models_, self.thresholds_, self.smoothing_, importances, summary = {}, {}, {}, {}, []
        n_valid = int(split.valid.sum())
        for b, behavior in enumerate(self.behaviors_):
            n_pos = int(design.Y[:, b][rows[split.valid]].sum())
            if n_pos == 0 or n_pos == n_valid:
                self.models_[behavior] = self._constant_model(behavior, n_pos, n_valid, constant_ok)
                self.thresholds_[behavior], self.smoothing_[behavior] = 0.5, 0.0
                importances[behavior] = np.full(len(self.base_feature_names_), np.nan)
                summary.append((behavior, n_pos, 0, None, 0.5, 0.0, np.nan, np.nan, np.nan))
                continue
            model, (threshold, smoothing), importances[behavior], row = fit_behavior(
                self, design, split, b, matrix, rng, importance_rng
            )
            self.models_[behavior], self.thresholds_[behavior] = model, threshold
            self.smoothing_[behavior] = smoothing
            summary.append(row)
        self._finish_fit(importances, summary, n_valid)
        return self

    @staticmethod
    def _constant_model(behavior: str, n_pos: int, n_valid: int, constant_ok: bool) -> _ConstantModel:
        """Return the constant model of a behavior never (``n_pos == 0``) or always on in a fold's training frames."""
        if not constant_ok:
            raise SchemaError(
                f"behavior {behavior!r} is {'never' if n_pos == 0 else 'always'} on in the "
                f"{n_valid} training frames: a classifier needs both kinds of frame"
            )
        log.warning(
            "%s: %s in this fold's training frames: predicted %s",
            behavior,
            "never on" if n_pos == 0 else "always on",
            "absent" if n_pos == 0 else "present",
        )
        return _ConstantModel(n_pos > 0)

    def _finish_fit(self, importances: dict[str, np.ndarray], summary: list[tuple[Any, ...]], n_valid: int) -> None:
        """Set the importances, the training summary and the frame count of a fit."""
        self.feature_importances_ = pd.DataFrame(importances, index=self.base_feature_names_).T
        self.feature_importances_.index.name = "behavior"
        self.feature_importances_.columns.name = "feature"
        columns = ["behavior", "n_positive", "n_fit_frames", "n_iter", "threshold", "smoothing_s"]
        self.training_ = pd.DataFrame(summary, columns=[*columns, "val_precision", "val_recall", "val_f1"]).set_index(
            "behavior"
        )
        self.n_train_frames_ = n_valid

    def _prepare(self, features: Any, labels: Any, *, read_blocks: bool = False) -> WindowDesign:
        self._check_params()
        for attr in ("base_feature_names_",):
            if hasattr(self, attr):
                delattr(self, attr)
        self.behaviors_ = labels_behaviors(labels, self.behaviors)
        if read_blocks:  # long annotations: a random set of blocks (classify_blocks)
            features, labels = fit_sessions(self, features, labels)
        design = self._design(features, labels, self.behaviors_)
        base = [str(f) for f in design.sources[0]["feature"].values]
        self.base_feature_names_ = np.array(base, dtype=object)
        self.feature_names_in_ = np.array(window_feature_names(base, *check_windows(self.windows_s, self.stats)))
        self.n_features_in_ = len(self.feature_names_in_)
        return design

    def _finish_spec(self) -> None:
        self.feature_spec_ = {
            "variable": self.variable,
            "windows_s": [float(w) for w in self.windows_s],
            "stats": [str(s) for s in self.stats],
            "base_feature_names": [str(f) for f in self.base_feature_names_],
            "feature_names": [str(f) for f in self.feature_names_in_],
            "fps": self.fps_,
        }

    # ------------------------------------------------------------------ fitting
    def fit(self, features: SessionData, labels: Any) -> BehaviorClassifier:
        """Fit one model per behavior on labeled sessions.

        Contiguous chunks of every session's time (``validation_fraction``
        of it, chunks of a tenth of the session, at most 30 s and at least
        twice the longest window, shared by the session's animals) are held
        out; a first model per behavior trains on
        the rest (early stopping on the chunks for ``"hgb"``), the chunks
        choose the F1 threshold (after bout cleaning) and the permutation
        importances, and the final model then trains on all frames with the
        first model's number of iterations.

        Parameters
        ----------
        features
            One session (a Dataset holding ``variable``, or a ``(time,
            individual, feature)`` DataArray), a list of them or a mapping of
            session name to them.  A frame with some NaN features still counts
            (``"hgb"`` and ``"rf"`` take missing values; another model skips it).
        labels
            Bool ``(time, individual, behavior)`` DataArray per session, in
            the same container as ``features`` (a mapping with the same
            session names, a list in the same order), on the same frames.

        Returns
        -------
        BehaviorClassifier
            ``self``.
        """
        design = self._prepare(features, labels, read_blocks=True)
        self.keypoints_ = session_keypoints(features)
        self._fit_design(design, np.arange(len(design.X)))
        self.training_fingerprints_ = session_fingerprints(features, self.variable, self.base_feature_names_)
        if len(set(np.round(design.fps, 6))) > 1:
            log.warning("sessions have different frame rates %s; fps_ = %g", sorted(set(design.fps)), self.fps_)
        self._finish_spec()
        log.info("BehaviorClassifier: %s", self.training_.to_dict("index"))
        return self

    # ------------------------------------------------------------------ applying
    def _proba_design(self, design: WindowDesign, rows: np.ndarray | None = None) -> np.ndarray:
        """``(n_rows, behavior)`` probabilities of ``rows`` (default every row), NaN on rows that are not valid."""
        rows = np.arange(len(design.X)) if rows is None else rows
        proba = np.full((len(rows), len(self.behaviors_)), np.nan)
        ok = design.valid[rows]
        if ok.any():
            X = self._matrix(design.X, rows[ok])
            for b, behavior in enumerate(self.behaviors_):
                proba[ok, b] = proba_rows(self.models_[behavior], X, self.n_jobs)
        smoothing = getattr(self, "smoothing_", {})  # a model saved before smoothing was learned has none
        if any(smoothing.get(b, 0.0) > 0 for b in self.behaviors_):
            segments = design.segments(rows)
            for b, behavior in enumerate(self.behaviors_):
                half = frames(smoothing.get(behavior, 0.0) / 2.0, self.fps_)
                proba[:, b] = smooth_segments(proba[:, b], segments, half)
        return proba

    def _apply(self, features: SessionData) -> tuple[list[str], dict[str, xr.DataArray], dict[str, xr.DataArray]]:
        self._check_fitted()
        probabilities, decisions, names = {}, {}, []
        thresholds = [self.thresholds_[b] for b in self.behaviors_]
        for name, obj in session_items(features):
            check_keypoints(name, obj, getattr(self, "keypoints_", None))  # None: saved before they were kept
            proba, fps = self._session_proba(name, obj)
            if abs(fps - self.fps_) > 0.01 * self.fps_:
                log.warning("session %r has %g fps, the training sessions %g", name, fps, self.fps_)
            probabilities[name] = proba.assign_coords(threshold=("behavior", thresholds))
            bouts = bout_frames(self.min_bout_s, self.max_gap_s, fps)
            decisions[name] = decide(probabilities[name], np.array(thresholds), *bouts)
            names.append(name)
        return names, probabilities, decisions

    def _session_proba(self, name: str, obj: Any) -> tuple[xr.DataArray, float]:
        """One session's probabilities in blocks read once each (a lazy file holds one), equal to all at once."""
        base = base_features(name, obj, self.variable)
        fps = frame_rate(base, None, f"session {name!r}")
        reach = max(self.windows_s, default=0.0) + max(getattr(self, "smoothing_", {}).values(), default=0.0)
        parts = []
        for block in blocks(base.sizes["time"], PREDICT_BLOCK_FRAMES, math.ceil(reach * fps) + 2):
            design = self._design({name: base.isel(time=slice(block.lo, block.hi)).compute()})
            proba = design.unstack(self._proba_design(design), "behavior_probability", self.behaviors_, np.nan)[name]
            parts.append(proba.isel(time=block.keep))
        return (parts[0] if len(parts) == 1 else xr.concat(parts, "time")), fps

    def training_sessions(self, features: SessionData) -> dict[str, bool | None]:
        """Whether each session was among the sessions this model was fitted on (its scores are then not held out).

        Sessions are recognised by a digest of their base features. ``None``
        for a model saved before the digests were kept.
        """
        self._check_fitted()
        known = getattr(self, "training_fingerprints_", None)
        out: dict[str, bool | None] = {}
        for name, obj in session_items(features):
            design = self._design({name: obj})
            out[name] = None if known is None else fingerprint(design.sources[0]) in set(known)
        return out

    @staticmethod
    def _shape_like(features: Any, values: dict[str, Any]) -> Any:
        if isinstance(features, xr.Dataset | xr.DataArray):
            return next(iter(values.values()))
        return values if isinstance(features, Mapping) else list(values.values())

    def predict_proba(self, features: SessionData) -> Any:
        """Probability of every behavior in every frame.

        Parameters
        ----------
        features
            One session, a list or a mapping of sessions, as in :meth:`fit`.

        Returns
        -------
        xarray.DataArray, list or dict
            In the container shape of ``features``: float ``behavior_probability
            (time, individual, behavior)`` in [0, 1], NaN where a frame has no
            feature at all (or, for a model other than ``"hgb"``/``"rf"``, any
            NaN feature), with a ``threshold (behavior)`` coordinate and attrs
            ``session`` and ``fps``.
        """
        return self._shape_like(features, self._apply(features)[1])

    def predict(self, features: SessionData) -> Any:
        """Decide every behavior in every frame: threshold, then bout cleaning.

        Returns
        -------
        xarray.DataArray, list or dict
            Bool ``behavior_prediction (time, individual, behavior)`` in the
            container shape of ``features``; False where the features are NaN
            (unless a closed gap spans them).
        """
        return self._shape_like(features, self._apply(features)[2])

    def label(self, data: SessionData) -> Any:
        """Add ``behavior_probability`` and ``behavior_prediction (time, individual, behavior)`` to sessions.

        (``behavior`` is the name of their dim, so the decisions cannot take that name.)

        Parameters
        ----------
        data
            A session Dataset holding ``variable``, a list or a mapping of them.

        Returns
        -------
        xarray.Dataset, list or dict
            New Datasets in the shape of ``data`` (the inputs are not
            modified), with a ``log`` entry naming the thresholds.
        """
        items = session_items(data)
        if any(not isinstance(obj, xr.Dataset) for _, obj in items):
            raise SchemaError("label needs Datasets to add variables to; use predict for DataArrays")
        _, probabilities, decisions = self._apply(data)
        params = {k: v for k, v in self.get_params().items() if isinstance(v, int | float | str | type(None))}
        thresholds = {b: float(t) for b, t in self.thresholds_.items()}
        out = {}
        for name, obj in items:
            new = obj.copy(deep=False)
            new["behavior_probability"] = probabilities[name]
            new["behavior_prediction"] = decisions[name]
            smoothing = {b: float(v) for b, v in getattr(self, "smoothing_", {}).items()}
            out[name] = log_step(
                new, "BehaviorClassifier.label", thresholds=thresholds, smoothing_s_learned=smoothing, **params
            )
        return self._shape_like(data, out)

    # ------------------------------------------------------------------ validation
    def cross_validate(self, features: SessionData, labels: Any) -> CVResult:
        """Out-of-fold probabilities, decisions and scores with session- or time-grouped folds.

        Each fold fits a clone of this classifier on the other folds; its
        thresholds (and iterations) come from validation chunks inside that
        training part (see :meth:`fit`), never from the test frames.  Window
        features are computed on whole sessions first, so a test block's
        edge frames see their neighbours' features, as at prediction time.
        The folds' models skip the feature importances, which a fold does
        not report.

        To run the folds in parallel (on Dask workers, say), call
        :meth:`cross_validate_fold` once per fold (``n_cv_folds`` of them)
        and :meth:`pool_folds` on the results: the same result as this.

        Parameters
        ----------
        features, labels
            As in :meth:`fit`.

        Returns
        -------
        CVResult
            Folds, out-of-fold probabilities and decisions per session,
            thresholds per fold, and frame-wise precision, recall and F1 per
            behavior per fold and pooled.  Scores count every labeled frame
            of the test parts, frames without features (never predicted) too.
        """
        plan = self._cv_plan(features, labels)
        return pool_folds(plan, [self._cv_fold(plan, k) for k in range(plan.n_folds)])

    def n_cv_folds(self, features: SessionData | int) -> int:
        """Return how many folds :meth:`cross_validate` makes for these sessions (one per session, or ``n_blocks``).

        ``features`` may also be the number of sessions.
        """
        self._check_params()
        n = features if isinstance(features, int | np.integer) else len(session_items(features))
        return cv_kind(self.cv, self.n_blocks, int(n))[1]

    def cross_validate_fold(self, features: SessionData, labels: Any, fold: int) -> CVFold:
        """Fit and test one fold of :meth:`cross_validate` (``0 <= fold < n_cv_folds``).

        Returns
        -------
        CVFold
            The fold's out-of-fold results, for :meth:`pool_folds` (picklable).
        """
        plan = self._cv_plan(features, labels)
        if not (isinstance(fold, int | np.integer) and 0 <= fold < plan.n_folds):
            raise SchemaError(f"fold must be an integer in [0, {plan.n_folds}), got {fold!r}")
        return self._cv_fold(plan, int(fold))

    def pool_folds(self, features: SessionData, labels: Any, folds: Sequence[CVFold]) -> CVResult:
        """Combine every fold of :meth:`cross_validate_fold` (for the same sessions) into a result.

        Returns
        -------
        CVResult
            As :meth:`cross_validate` (:class:`~behaviorlab.behavior.crossval.CVResult`).
        """
        plan = self._cv_plan(features, labels)
        check_folds(plan, folds)
        return pool_folds(plan, sorted(folds, key=lambda f: f.fold))

    def _cv_plan(self, features: SessionData, labels: Any) -> CVPlan:
        proto = clone(self)  # cross-validation leaves this estimator as it was
        design = proto._prepare(features, labels)
        kind, n_folds = cv_kind(self.cv, self.n_blocks, len(design.names))
        fold = design.session if kind == "sessions" else block_of(design, self.n_blocks)
        return CVPlan(design, kind, n_folds, fold, list(proto.behaviors_), proto.base_feature_names_)

    def _cv_fold(self, plan: CVPlan, k: int) -> CVFold:
        """Fit a clone on every fold but ``k`` and decide fold ``k``'s test rows with its thresholds."""
        test = np.flatnonzero(plan.fold == k)
        train = np.flatnonzero(plan.fold != k)
        est = clone(self).set_params(importance_frames=0)  # a fold's importances are never reported
        est.behaviors_, est.base_feature_names_ = plan.behaviors, plan.base_feature_names
        try:
            est._fit_design(plan.design, train, constant_ok=True)
        except SchemaError as err:
            raise SchemaError(f"cross-validation fold {k}: {err}") from None
        proba = est._proba_design(plan.design, test)
        pred, parts = fold_decisions(plan, k, test, proba, est.thresholds_, self.min_bout_s, self.max_gap_s)
        return CVFold(
            fold=k,
            cv=plan.kind,
            sessions=tuple(plan.design.names),
            n_rows=len(plan.design.X),
            rows=test,
            probabilities=proba,
            predictions=pred,
            thresholds={str(b): float(t) for b, t in est.thresholds_.items()},
            parts=tuple(parts),
        )

    # ------------------------------------------------------------------ active learning
    def uncertain_frames(self, features: SessionData, n: int = 50, min_separation_s: float = 1.0) -> pd.DataFrame:
        """Frames whose probability is nearest the threshold, spread in time: the ones to annotate next.

        Parameters
        ----------
        features
            Unlabeled sessions, as in :meth:`predict`.
        n
            Most frames returned.
        min_separation_s
            Two picked frames of one session and individual are at least this
            far apart (whatever their behaviors), so the picks cover many bouts.

        Returns
        -------
        pandas.DataFrame
            ``session, individual, time, frame, behavior, probability,
            threshold, uncertainty``, most uncertain first; ``frame`` is the
            position along the session's time (0 first), ``uncertainty`` is
            ``1 - |p - t| / t`` below the threshold ``t`` and ``1 - |p - t| /
            (1 - t)`` above it (1 at the threshold, 0 at a sure 0 or 1).
        """
        if not (int(n) == n and n >= 0 and min_separation_s >= 0):
            raise SchemaError(f"n must be a whole number >= 0 and min_separation_s >= 0, got {n}, {min_separation_s}")
        _, probabilities, _ = self._apply(features)
        table = uncertainty_table(probabilities, self.thresholds_, self.behaviors_)
        return spread_picks(table, int(n), min_separation_s)
