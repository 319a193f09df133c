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
"""

from __future__ import annotations

import bisect
import inspect
import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import pandas as pd
import xarray as xr
from sklearn.base import BaseEstimator, clone

from behaviorlab._persist import SavedEstimator
from behaviorlab.behavior.bouts import postprocess_bouts, postprocess_segments
from behaviorlab.errors import SchemaError
from behaviorlab.features.design import SessionData, SessionSamples, session_items, session_samples
from behaviorlab.features.windows import STATS, check_windows, frame_rate, window_feature_names, window_features
from behaviorlab.schema import check_dims, log_step

__all__ = [
    "STATS",
    "BehaviorClassifier",
    "CVFold",
    "CVResult",
    "postprocess_bouts",
    "window_feature_names",
    "window_features",
]

log = logging.getLogger(__name__)

_FEATURE_DIMS = ("time", "individual", "feature")
_LABEL_DIMS = ("time", "individual", "behavior")
_KIND = "behaviorlab.BehaviorClassifier"
# Packages whose version change can alter a loaded classifier's predictions.
_VERSION_KEYS = ("behaviorlab", "numpy", "scipy", "pandas", "scikit-learn")
_THRESHOLD_GRID = np.round(np.linspace(0.01, 0.99, 99), 2)
# Longest validation chunk in seconds, and the most chunk draws tried to give every behavior validation positives.
_CHUNK_S = 30.0
_SPLIT_DRAWS = 10
# Quantile bins of every window feature for gradient boosting.
_N_BINS = 63
# Rows binned or predicted at once (bounds the float64 copies the models make).
_CHUNK_ROWS = 20_000


def _frames(seconds: float, fps: float) -> int:
    return math.floor(seconds * fps + 0.5)


def _counts(pred: np.ndarray, truth: np.ndarray) -> tuple[int, int, int]:
    """Count true positives, false positives and false negatives (along axis 0)."""
    tp = np.sum(pred & truth, axis=0)
    return tp, np.sum(pred & ~truth, axis=0), np.sum(~pred & truth, axis=0)


def _scores(tp: Any, fp: Any, fn: Any) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else float("nan")
    recall = tp / (tp + fn) if tp + fn else float("nan")
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan")
    return float(precision), float(recall), float(f1)


# --------------------------------------------------------------------------- rows of many sessions
class _QuantileBins:
    """Quantile bins of every column, learned without weights: ``(n_rows, n_columns)`` -> uint8 bin numbers.

    Gradient boosting bins its input anyway; binning here first keeps
    scikit-learn (>= 1.7) from computing weighted quantiles of every column
    in Python when sample weights are given, which takes longer than the fit.
    """

    def __init__(self, X: np.ndarray, rows: np.ndarray, n_bins: int = 63, max_rows: int = 20_000) -> None:
        sample = rows[:: max(1, len(rows) // max_rows)]
        q = np.linspace(0, 1, n_bins + 1)[1:-1]
        columns = np.ascontiguousarray(X[sample].T, dtype=np.float64)
        self.edges = np.quantile(columns, q, axis=1).T.astype(X.dtype)  # (n_columns, n_bins - 1)

    def transform(self, X: np.ndarray, rows: np.ndarray | None = None, chunk: int = _CHUNK_ROWS) -> np.ndarray:
        """Bin numbers of ``X[rows]`` (default all rows), ``(n_rows, n_columns)`` uint8."""
        rows = np.arange(len(X)) if rows is None else rows
        out = np.empty((self.edges.shape[0], len(rows)), dtype=np.uint8)
        for start in range(0, len(rows), chunk):
            columns = np.ascontiguousarray(X[rows[start : start + chunk]].T)
            for j, edges in enumerate(self.edges):
                out[j, start : start + chunk] = np.searchsorted(edges, columns[j], side="left")
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


def _fingerprint(source: xr.DataArray) -> str:
    """SHA-256 of a session's base features (values and shape): the same session is recognised after a reload."""
    import hashlib

    values = np.ascontiguousarray(source.transpose(*source.dims).values, dtype=np.float64)
    digest = hashlib.sha256(repr((source.dims, values.shape)).encode())
    digest.update(values.tobytes())
    return digest.hexdigest()


@attrs.define
class _Design:
    """Window features of many sessions as rows (session, individual, time), with labels when fitting."""

    samples: SessionSamples
    names: list[str]  # session names, in order
    sources: list[xr.DataArray]  # each session's base features (for output coordinates)
    fps: np.ndarray  # (n_sessions,)
    session: np.ndarray  # (n_rows,) session position
    frame: np.ndarray  # (n_rows,) frame position along the session's time
    n_time: np.ndarray  # (n_sessions,)
    Y: np.ndarray | None = None  # (n_rows, n_behaviors) bool

    @property
    def X(self) -> np.ndarray:
        return self.samples.X

    @property
    def valid(self) -> np.ndarray:
        return self.samples.valid

    def segments(self, rows: np.ndarray) -> np.ndarray:
        """Segment id of each of the sorted ``rows``: a new segment at a new animal or a skipped row."""
        groups = self.samples.groups[rows]
        new = np.ones(len(rows), dtype=bool)
        new[1:] = (np.diff(rows) != 1) | (np.diff(groups) != 0)
        return np.cumsum(new)

    def unstack(self, values: np.ndarray, name: str, behaviors: Sequence[str], fill: Any) -> dict[str, xr.DataArray]:
        """Per-row ``(n_rows, n_behaviors)`` values as ``(time, individual, behavior)`` DataArrays per session."""
        every = SessionSamples(self.X, self.samples.index, np.ones(len(self.X), dtype=bool))
        per_session = every.unstack(values, name, fill_value=fill)
        out = {}
        for i, session in enumerate(self.names):
            source = self.sources[i]
            da = per_session.get(session)
            if da is None:  # no frame or no individual
                shape = (source.sizes["time"], source.sizes["individual"], len(behaviors))
                da = xr.DataArray(np.full(shape, fill, dtype=values.dtype), dims=(*_LABEL_DIMS[:2], "component"))
            da = da.rename(component="behavior").assign_coords(
                time=source["time"].values, individual=source["individual"].values, behavior=list(behaviors)
            )
            da.attrs = {"session": session, "fps": float(self.fps[i])}
            out[session] = da.rename(name)
        return out


def _base_features(name: str, obj: Any, variable: str) -> xr.DataArray:
    if isinstance(obj, xr.Dataset):
        if variable not in obj:
            raise SchemaError(
                f"session {name!r} has no {variable!r} variable (it has {sorted(map(str, obj.data_vars))}); "
                "compute the features first (behaviorlab features)"
            )
        da = obj[variable].copy(deep=False)
        da.attrs = {**{k: obj.attrs[k] for k in ("fps", "time_unit") if k in obj.attrs}, **da.attrs}
        return da
    if not isinstance(obj, xr.DataArray):
        raise SchemaError(f"session {name!r}: expected an xarray Dataset or DataArray, got {type(obj).__name__}")
    return obj


def _align_labels(name: str, labels: Any, source: xr.DataArray, fps: float, behaviors: Sequence[str]) -> xr.DataArray:
    """Labels of one session on the features' time and individuals, as float ``(time, individual, behavior)``."""
    if not isinstance(labels, xr.DataArray):
        raise SchemaError(
            f"labels of session {name!r} must be a bool (time, individual, behavior) DataArray, "
            f"got {type(labels).__name__}"
        )
    if "rater" in labels.dims:
        raise SchemaError(
            f"labels of session {name!r} have a 'rater' dim ({labels.sizes['rater']} raters): pick one rater "
            "(labels.sel(rater=...)) or make a consensus (e.g. labels.mean('rater') >= 0.5) before fitting"
        )
    if set(labels.dims) != set(_LABEL_DIMS):
        raise SchemaError(f"labels of session {name!r} must have dims {_LABEL_DIMS}, got {labels.dims}")
    values = np.asarray(labels.values)
    known = values if values.dtype.kind != "f" else values[np.isfinite(values)]
    if values.dtype != bool and (values.dtype.kind not in "iuf" or not np.isin(known, (0, 1)).all()):
        raise SchemaError(
            f"labels of session {name!r} must be True/False (frames without annotation are False; NaN where "
            f"nobody annotated the animal), got dtype {values.dtype} with other values"
        )
    present = [str(b) for b in labels["behavior"].values]
    missing = [b for b in behaviors if b not in present]
    if missing:
        raise SchemaError(f"labels of session {name!r} lack the behavior(s) {missing}; they have {present}")
    feat_ind = [str(i) for i in source["individual"].values]
    lab_ind = [str(i) for i in labels["individual"].values]
    if sorted(feat_ind) != sorted(lab_ind):
        raise SchemaError(f"labels of session {name!r} are for the individuals {lab_ind}, the features for {feat_ind}")
    feat_t, lab_t = np.asarray(source["time"].values, float), np.asarray(labels["time"].values, float)
    if len(feat_t) != len(lab_t) or not np.allclose(feat_t, lab_t, rtol=0, atol=0.25 / fps):
        raise SchemaError(
            f"labels of session {name!r} do not match its feature times: {len(lab_t)} label frames "
            f"({lab_t[:1].tolist()}..{lab_t[-1:].tolist()} s) against {len(feat_t)} feature frames "
            f"({feat_t[:1].tolist()}..{feat_t[-1:].tolist()} s); make the labels on the same frames"
        )
    out = labels.assign_coords(individual=lab_ind, behavior=present).sel(individual=feat_ind, behavior=list(behaviors))
    out = out.transpose(*_LABEL_DIMS).astype(np.float32).rename(behavior="feature")
    return out.assign_coords(time=source["time"].values, individual=source["individual"].values)


def _pair_sessions(features: Any, labels: Any) -> list[tuple[str, Any, Any]]:
    """Return ``(name, features, labels)`` of each session; the two containers must have the same shape."""
    items = session_items(features)
    if isinstance(features, xr.Dataset | xr.DataArray):
        if isinstance(labels, Mapping):
            raise SchemaError("features are one session but labels a mapping of sessions: pass both as mappings")
        return [(items[0][0], items[0][1], labels)]
    if isinstance(features, Mapping):
        if not isinstance(labels, Mapping):
            raise SchemaError("features are a mapping of sessions: pass the labels as a mapping with the same names")
        names = [str(k) for k in labels]
        missing = [n for n, _ in items if n not in names]
        if missing:
            raise SchemaError(f"no labels for session(s) {missing}; labels are given for {names}")
        extra = sorted(set(names) - {n for n, _ in items})
        if extra:
            raise SchemaError(f"labels for session(s) {extra} that have no features")
        lab = {str(k): v for k, v in labels.items()}
        return [(n, obj, lab[n]) for n, obj in items]
    if isinstance(labels, Mapping | xr.DataArray) or len(labels) != len(items):
        raise SchemaError("features are a list of sessions: pass the labels as a list of the same length")
    return [(n, obj, lab) for (n, obj), lab in zip(items, labels, strict=True)]


# --------------------------------------------------------------------------- results
@attrs.frozen(eq=False)
class CVResult:
    """What :meth:`BehaviorClassifier.cross_validate` found.

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
        recall, f1, n_true, n_predicted, n_frames``, one row per behavior.
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


@attrs.frozen(eq=False)
class _CVPlan:
    """The design and folds shared by every fold of one cross-validation."""

    design: _Design
    kind: str
    n_folds: int
    fold: np.ndarray  # (n_rows,) fold of every row
    behaviors: list[str]
    base_feature_names: np.ndarray


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
    min_bout_s, max_gap_s
        Bout cleaning of :func:`postprocess_bouts`, in seconds (rounded to
        frames at each session's frame rate).
    max_train_frames
        Each model trains on at most this many frames, evenly spread in time,
        half of them positive where the behavior has enough frames; ``None``
        uses every frame.  Neighbouring frames are nearly identical, so a
        subsample loses little and saves much time.
    variable
        Variable read from Datasets.
    random_state
        Seeds the validation chunks, the subsamples and the models.
    max_iter, learning_rate
        Boosting iterations (the most; early stopping picks fewer) and step size of ``"hgb"``.
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
        Behavior -> decision threshold on the probability.
    base_feature_names_, feature_names_in_, n_features_in_
        The per-frame features the classifier reads, and its window features.
    feature_spec_
        Dict with ``variable``, ``windows_s``, ``stats``, the feature names and
        ``fps``: what a session needs to be labeled.
    fps_
        Frame rate of the training sessions.
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
        min_bout_s: float = 0.2,
        max_gap_s: float = 0.1,
        max_train_frames: int | None = 20_000,
        variable: str = "features",
        random_state: int | None = 0,
        max_iter: int = 200,
        learning_rate: float = 0.1,
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
        self.min_bout_s = min_bout_s
        self.max_gap_s = max_gap_s
        self.max_train_frames = max_train_frames
        self.variable = variable
        self.random_state = random_state
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.validation_fraction = validation_fraction
        self.importance_frames = importance_frames
        self.n_jobs = n_jobs

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
        if not (self.min_bout_s >= 0 and self.max_gap_s >= 0):
            raise SchemaError(f"min_bout_s and max_gap_s must be >= 0, got {self.min_bout_s}, {self.max_gap_s}")
        if self.max_train_frames is not None and not self.max_train_frames >= 20:
            raise SchemaError(f"max_train_frames must be None or at least 20, got {self.max_train_frames}")
        if not 0 < self.validation_fraction <= 0.5:
            raise SchemaError(f"validation_fraction must be in (0, 0.5], got {self.validation_fraction}")
        if not (self.max_iter >= 1 and self.learning_rate > 0 and self.importance_frames >= 0):
            raise SchemaError("max_iter must be >= 1, learning_rate > 0 and importance_frames >= 0")

    _model_format = _KIND
    _model_versions = _VERSION_KEYS

    def _check_saveable(self) -> None:
        self._check_fitted()

    def _check_fitted(self) -> None:
        if not hasattr(self, "models_"):
            raise SchemaError("this BehaviorClassifier is not fitted yet: call fit first")

    # ------------------------------------------------------------------ rows
    def _design(self, features: Any, labels: Any = None, behaviors: Sequence[str] = ()) -> _Design:
        if labels is None:
            triples = [(n, obj, None) for n, obj in session_items(features)]
        else:
            triples = _pair_sessions(features, labels)
        if not triples:
            raise SchemaError("no session given")
        names, sources, rates, windowed, stacked_labels = [], [], [], {}, {}
        reference = getattr(self, "base_feature_names_", None)
        for name, obj, lab in triples:
            base = _base_features(name, obj, self.variable)
            check_dims(base, _FEATURE_DIMS, name=f"session {name!r}")
            present = [str(f) for f in base["feature"].values]
            if reference is None:
                reference = present
            elif present != list(reference):
                missing = [f for f in reference if f not in present]
                if missing:
                    raise SchemaError(
                        f"session {name!r} lacks the feature(s) {missing[:10]} the classifier uses; "
                        "compute its features with the same config"
                    )
                base = base.assign_coords(feature=present).sel(feature=list(reference))
            rate = frame_rate(base, None, f"session {name!r}")
            windowed[name] = window_features(base, self.windows_s, self.stats, fps=rate, dtype=np.float32)
            if lab is not None:
                stacked_labels[name] = _align_labels(name, lab, base, rate, behaviors)
            names.append(name)
            sources.append(base)
            rates.append(rate)
        samples = session_samples(windowed)
        n_time = np.array([s.sizes["time"] for s in sources])
        n_ind = np.array([s.sizes["individual"] for s in sources])
        session = np.repeat(np.arange(len(names)), n_time * n_ind)
        frame = np.concatenate([np.tile(np.arange(t), i) for t, i in zip(n_time, n_ind, strict=True)])
        Y = None
        if labels is not None:
            stacked = session_samples(stacked_labels).X
            Y = stacked > 0.5
            unknown = ~np.isfinite(stacked).all(axis=1)  # an animal nobody annotated: neither learned nor scored
            if unknown.any():
                samples = samples._replace(valid=samples.valid & ~unknown)
        return _Design(samples, names, sources, np.array(rates), session, frame, n_time, Y)

    def _block_of(self, design: _Design, n_blocks: int) -> np.ndarray:
        """``(n_rows,)`` contiguous time block of every row: block ``k`` is the k-th n_blocks-th of its session."""
        return (design.frame * n_blocks // design.n_time[design.session]).astype(np.int64)

    def _validation_rows(self, design: _Design, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Bool over ``rows``: held out in contiguous chunks of session time (shared by a session's animals)."""
        longest = max(float(w) for w in self.windows_s) if len(self.windows_s) else 0.0
        session, frame = design.session[rows], design.frame[rows]
        chunk_of = np.zeros(len(rows), dtype=np.int64)
        chunk_ids = []
        for s in np.unique(session):
            fps, here = design.fps[s], session == s
            present = np.unique(frame[here])
            span = int(present[-1] - present[0] + 1)
            low = max(2 * _frames(longest, fps), 10)
            length = int(np.clip(span // 10, low, max(low, _frames(_CHUNK_S, fps))))
            local = (frame[here] - present[0]) // length
            chunk_of[here] = local + (max(chunk_ids) + 1 if chunk_ids else 0)
            chunk_ids.extend(np.unique(chunk_of[here]).tolist())
        by_session = {s: np.unique(chunk_of[session == s]) for s in np.unique(session)}
        best, best_cover = None, -1
        y = design.Y[rows] if design.Y is not None else None
        for _ in range(_SPLIT_DRAWS):
            held = []
            for chunks in by_session.values():
                k = min(max(1, round(self.validation_fraction * len(chunks))), len(chunks) - 1)
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

    # ------------------------------------------------------------------ models
    def _new_model(self, n_iter: int | None = None) -> Any:
        if not isinstance(self.model, str):
            return clone(self.model)
        if self.model == "rf":
            from sklearn.ensemble import RandomForestClassifier

            return RandomForestClassifier(
                n_estimators=100,
                max_features="sqrt",
                min_samples_leaf=3,
                max_samples=0.5,  # each tree sees half the frames: twice as fast, and neighbours are redundant
                n_jobs=self.n_jobs,
                random_state=self.random_state,
            )
        from sklearn.ensemble import HistGradientBoostingClassifier

        return HistGradientBoostingClassifier(
            learning_rate=self.learning_rate,
            max_iter=n_iter or self.max_iter,
            early_stopping=False,  # switched on, with our validation chunks, by _fit_rows
            max_bins=_N_BINS,  # on inputs already binned by _QuantileBins: one bin per bin number
            n_iter_no_change=10,
            tol=1e-4,  # stop when 10 iterations gain less than 1e-4 of validation log-loss
            random_state=self.random_state,
        )

    def _threads(self) -> Any:
        from threadpoolctl import threadpool_limits

        return threadpool_limits(limits=self.n_jobs, user_api="openmp")

    def _weights(self, y: np.ndarray) -> np.ndarray | None:
        if self.class_weight is None:
            return None
        n_pos = int(y.sum())
        return np.where(y, len(y) / (2.0 * n_pos), len(y) / (2.0 * (len(y) - n_pos)))

    def _fit_rows(
        self, X: np.ndarray, y: np.ndarray, *, X_val: Any = None, y_val: Any = None, n_iter: Any = None
    ) -> Any:
        """Fit one behavior's model; with validation rows, ``"hgb"`` stops early on them."""
        model = self._new_model(n_iter)
        weight = self._weights(y)
        kwargs: dict[str, Any] = {} if weight is None else {"sample_weight": weight}
        early = self.model == "hgb" and X_val is not None and y_val.any() and (~y_val).any()
        if early and "X_val" in inspect.signature(model.fit).parameters:  # scikit-learn >= 1.7
            model.set_params(early_stopping=True)
            kwargs.update(X_val=X_val, y_val=y_val)
            if weight is not None:
                kwargs["sample_weight_val"] = self._weights(y_val)
        with self._threads():
            return model.fit(X, y, **kwargs)

    def _matrix(self, X: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Model input for the window-feature rows ``X[rows]``: their bin numbers for ``"hgb"``."""
        if getattr(self, "binner_", None) is None:
            return X[rows]
        return self.binner_.transform(X, rows)

    def _proba_rows(self, model: Any, X: np.ndarray) -> np.ndarray:
        """Probability of the behavior for every row, in chunks (models copy their input to float64)."""
        column = list(model.classes_).index(True)
        out = np.empty(len(X))
        with self._threads():
            for start in range(0, len(X), _CHUNK_ROWS):
                out[start : start + _CHUNK_ROWS] = model.predict_proba(X[start : start + _CHUNK_ROWS])[:, column]
        return out

    def _pick_rows(self, rows: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """At most ``max_train_frames`` of ``rows``, evenly spread, half positive where there are enough."""
        n = self.max_train_frames
        if n is None or len(rows) <= n:
            return rows
        pos, neg = rows[y], rows[~y]
        k_pos = min(len(pos), max(n // 2, n - len(neg)))
        picks = []
        for part, k in ((pos, k_pos), (neg, n - k_pos)):
            step = len(part) / max(k, 1)
            picks.append(part[np.minimum((rng.uniform(0, step) + step * np.arange(k)).astype(np.int64), len(part) - 1)])
        return np.sort(np.concatenate(picks))

    def _importance(self, model: Any, X: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Drop in average precision when each base feature's window columns are permuted together."""
        from sklearn.metrics import average_precision_score

        n_base = len(self.base_feature_names_)
        out = np.full(n_base, np.nan)
        if self.importance_frames == 0 or not y.any() or y.all():
            return out
        k = min(len(y), self.importance_frames)
        pick = np.sort(rng.choice(len(y), size=k, replace=False))
        Xs, ys = np.array(X[pick]), y[pick]
        if not ys.any():
            return out
        base = average_precision_score(ys, self._proba_rows(model, Xs))
        column_base = np.arange(Xs.shape[1]) % n_base
        order = rng.permutation(k)
        for j in range(n_base):
            cols = np.flatnonzero(column_base == j)
            kept = Xs[:, cols].copy()
            Xs[:, cols] = kept[order]
            out[j] = base - average_precision_score(ys, self._proba_rows(model, Xs))
            Xs[:, cols] = kept
        return out

    def _best_threshold(self, proba: np.ndarray, y: np.ndarray, segments: np.ndarray) -> float:
        """Return the threshold with the best F1 after bout cleaning, from the middle of the near-best plateau.

        The F1 of every grid threshold is smoothed over five neighbours; the
        threshold is the centre of the contiguous run of thresholds within
        0.005 of the smoothed maximum, so a flat optimum gives a central
        threshold rather than an extreme one that a new session would not bear.
        """
        from scipy.ndimage import uniform_filter1d

        min_bout, max_gap = max(1, _frames(self.min_bout_s, self.fps_)), _frames(self.max_gap_s, self.fps_)
        f1 = np.zeros(len(_THRESHOLD_GRID))
        for i, t in enumerate(_THRESHOLD_GRID):
            pred = postprocess_segments(proba >= t, segments, min_bout, max_gap)
            f1[i] = np.nan_to_num(_scores(*_counts(pred, y))[2])
        smooth = uniform_filter1d(f1, 5, mode="nearest")
        best = int(np.argmax(smooth))
        near = smooth >= smooth[best] - 0.005
        lo, hi = best, best
        while lo > 0 and near[lo - 1]:
            lo -= 1
        while hi < len(near) - 1 and near[hi + 1]:
            hi += 1
        return float(_THRESHOLD_GRID[(lo + hi) // 2])

    def _fit_design(self, design: _Design, rows: np.ndarray, *, constant_ok: bool = False) -> BehaviorClassifier:
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
        self.binner_ = _QuantileBins(design.X, fit_all, _N_BINS) if self.model == "hgb" else None
        codes = self.binner_.transform(design.X, fit_all) if self.binner_ is not None else None

        def matrix(idx: np.ndarray) -> np.ndarray:  # model input of valid rows among `rows`
            return design.X[idx] if codes is None else codes[np.searchsorted(fit_all, idx)]

        self.fps_ = float(np.median(design.fps[np.unique(design.session[rows])]))
        is_val = self._validation_rows(design, rows, rng)
        val_all = rows[is_val]  # contiguous chunks, NaN rows included, for the bout cleaning
        valid = design.valid[rows]
        fit_rows, val_rows = rows[valid & ~is_val], rows[valid & is_val]
        segments = design.segments(val_all)
        self.cv_ = {
            "kind": "contiguous chunks of session time",
            "validation_fraction": float(self.validation_fraction),
            "n_validation_frames": len(val_rows),
            "n_fit_frames": len(fit_rows),
        }
        self.models_, self.thresholds_, importances, summary = {}, {}, {}, []
        for b, behavior in enumerate(self.behaviors_):
            y_all = design.Y[:, b]
            n_pos = int(y_all[rows[valid]].sum())
            if (n_pos == 0 or n_pos == int(valid.sum())) and constant_ok:
                self.models_[behavior] = _ConstantModel(n_pos > 0)
                self.thresholds_[behavior] = 0.5
                importances[behavior] = np.full(len(self.base_feature_names_), np.nan)
                summary.append((behavior, n_pos, 0, None, 0.5, np.nan, np.nan, np.nan))
                log.warning(
                    "%s: %s in this fold's training frames: predicted %s",
                    behavior,
                    "never on" if n_pos == 0 else "always on",
                    "absent" if n_pos == 0 else "present",
                )
                continue
            if n_pos == 0 or n_pos == int(valid.sum()):
                raise SchemaError(
                    f"behavior {behavior!r} is {'never' if n_pos == 0 else 'always'} on in the "
                    f"{int(valid.sum())} training frames: a classifier needs both kinds of frame"
                )
            train = self._pick_rows(fit_rows, y_all[fit_rows], rng)
            if not y_all[train].any() or y_all[train].all():
                train = self._pick_rows(rows[valid], y_all[rows[valid]], rng)  # all positives in validation chunks
            first = self._fit_rows(matrix(train), y_all[train], X_val=matrix(val_rows), y_val=y_all[val_rows])
            proba = np.full(len(val_all), np.nan)
            ok = design.valid[val_all]
            if ok.any():
                proba[ok] = self._proba_rows(first, matrix(val_all[ok]))
            if self.threshold == "f1":
                if y_all[val_all].any():
                    threshold = self._best_threshold(proba, y_all[val_all], segments)
                else:
                    log.warning("%s: no positive frame in the validation chunks; threshold 0.5", behavior)
                    threshold = 0.5
            else:
                threshold = float(self.threshold)
            min_bout, max_gap = max(1, _frames(self.min_bout_s, self.fps_)), _frames(self.max_gap_s, self.fps_)
            pred = postprocess_segments(proba >= threshold, segments, min_bout, max_gap)
            precision, recall, f1 = _scores(*_counts(pred, y_all[val_all]))
            importances[behavior] = self._importance(first, matrix(val_rows), y_all[val_rows], importance_rng)
            n_iter = getattr(first, "n_iter_", None)
            final_rows = self._pick_rows(rows[valid], y_all[rows[valid]], rng)
            self.models_[behavior] = self._fit_rows(matrix(final_rows), y_all[final_rows], n_iter=n_iter)
            self.thresholds_[behavior] = threshold
            summary.append((behavior, n_pos, len(final_rows), n_iter, threshold, precision, recall, f1))
        self.feature_importances_ = pd.DataFrame(importances, index=self.base_feature_names_).T
        self.feature_importances_.index.name = "behavior"
        self.feature_importances_.columns.name = "feature"
        columns = ["behavior", "n_positive", "n_fit_frames", "n_iter", "threshold"]
        self.training_ = pd.DataFrame(summary, columns=[*columns, "val_precision", "val_recall", "val_f1"]).set_index(
            "behavior"
        )
        self.n_train_frames_ = int(valid.sum())
        return self

    def _labels_behaviors(self, labels: Any) -> list[str]:
        first = next(iter(labels.values())) if isinstance(labels, Mapping) else labels
        if isinstance(first, list | tuple):
            first = first[0] if first else None
        if not isinstance(first, xr.DataArray) or "behavior" not in first.dims:
            raise SchemaError("labels must be bool (time, individual, behavior) DataArrays, one per session")
        present = [str(b) for b in first["behavior"].values]
        if self.behaviors is None:
            return present
        wanted = [self.behaviors] if isinstance(self.behaviors, str) else [str(b) for b in self.behaviors]
        if not wanted or len(set(wanted)) != len(wanted):
            raise SchemaError(f"behaviors must be distinct names, got {self.behaviors!r}")
        return wanted

    def _prepare(self, features: Any, labels: Any) -> _Design:
        self._check_params()
        for attr in ("base_feature_names_",):
            if hasattr(self, attr):
                delattr(self, attr)
        self.behaviors_ = self._labels_behaviors(labels)
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
            session name to them.  Frames with any NaN feature are skipped.
        labels
            Bool ``(time, individual, behavior)`` DataArray per session, in
            the same container as ``features`` (a mapping with the same
            session names, a list in the same order), on the same frames.

        Returns
        -------
        BehaviorClassifier
            ``self``.
        """
        design = self._prepare(features, labels)
        self._fit_design(design, np.arange(len(design.X)))
        self.training_fingerprints_ = sorted({_fingerprint(source) for source in design.sources})
        if len(set(np.round(design.fps, 6))) > 1:
            log.warning("sessions have different frame rates %s; fps_ = %g", sorted(set(design.fps)), self.fps_)
        self._finish_spec()
        log.info("BehaviorClassifier: %s", self.training_.to_dict("index"))
        return self

    # ------------------------------------------------------------------ applying
    def _proba_design(self, design: _Design) -> np.ndarray:
        proba = np.full((len(design.X), len(self.behaviors_)), np.nan)
        rows = np.flatnonzero(design.valid)
        if len(rows):
            X = self._matrix(design.X, rows)
            for b, behavior in enumerate(self.behaviors_):
                proba[rows, b] = self._proba_rows(self.models_[behavior], X)
        return proba

    def _decide(self, proba: xr.DataArray, fps: float) -> xr.DataArray:
        """Threshold and bout cleaning of one session's ``(time, individual, behavior)`` probabilities."""
        thresholds = np.array([self.thresholds_[b] for b in self.behaviors_])
        mask = np.asarray(proba.transpose(*_LABEL_DIMS).values) >= thresholds  # NaN: False
        mask = postprocess_bouts(mask, max(1, _frames(self.min_bout_s, fps)), _frames(self.max_gap_s, fps))
        return proba.transpose(*_LABEL_DIMS).copy(data=mask).rename("behavior_prediction")

    def _apply(self, features: SessionData) -> tuple[list[str], dict[str, xr.DataArray], dict[str, xr.DataArray]]:
        self._check_fitted()
        probabilities, decisions, names = {}, {}, []
        for name, obj in session_items(features):
            design = self._design({name: obj})
            proba = design.unstack(self._proba_design(design), "behavior_probability", self.behaviors_, np.nan)[name]
            if abs(design.fps[0] - self.fps_) > 0.01 * self.fps_:
                log.warning("session %r has %g fps, the training sessions %g", name, design.fps[0], self.fps_)
            thresholds = ("behavior", [self.thresholds_[b] for b in self.behaviors_])
            proba = proba.assign_coords(threshold=thresholds)
            probabilities[name] = proba
            decisions[name] = self._decide(proba, float(design.fps[0]))
            names.append(name)
        return names, probabilities, decisions

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
            out[name] = None if known is None else _fingerprint(design.sources[0]) in set(known)
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
            (time, individual, behavior)`` in [0, 1], NaN where a frame has a
            NaN feature, with a ``threshold (behavior)`` coordinate and attrs
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
            out[name] = log_step(new, "BehaviorClassifier.label", thresholds=thresholds, **params)
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
            of the test parts, frames with NaN features (never predicted) too.
        """
        plan = self._cv_plan(features, labels)
        return self._cv_pool(plan, [self._cv_fold(plan, k) for k in range(plan.n_folds)])

    def n_cv_folds(self, features: SessionData | int) -> int:
        """Return how many folds :meth:`cross_validate` makes for these sessions (one per session, or ``n_blocks``).

        ``features`` may also be the number of sessions.
        """
        self._check_params()
        n = features if isinstance(features, int | np.integer) else len(session_items(features))
        return self._cv_kind_folds(int(n))[1]

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
        """Combine every fold of :meth:`cross_validate_fold` (for the same sessions) into a :class:`CVResult`."""
        plan = self._cv_plan(features, labels)
        found = sorted(int(f.fold) for f in folds)
        if found != list(range(plan.n_folds)):
            raise SchemaError(f"pool_folds needs each of the {plan.n_folds} folds once, got folds {found}")
        for f in folds:
            if f.cv != plan.kind or f.sessions != tuple(plan.design.names) or f.n_rows != len(plan.design.X):
                raise SchemaError(
                    f"fold {f.fold} was computed on other sessions ({list(f.sessions)}, {f.cv}) than these "
                    f"({plan.design.names}, {plan.kind})"
                )
        return self._cv_pool(plan, sorted(folds, key=lambda f: f.fold))

    def _cv_kind_folds(self, n_sessions: int) -> tuple[str, int]:
        kind = ("sessions" if n_sessions >= 2 else "blocks") if self.cv == "auto" else self.cv
        if kind == "sessions" and n_sessions < 2:
            raise SchemaError("cv='sessions' needs at least two sessions; use cv='blocks' for one session")
        return kind, (n_sessions if kind == "sessions" else self.n_blocks)

    def _cv_plan(self, features: SessionData, labels: Any) -> _CVPlan:
        proto = clone(self)  # cross-validation leaves this estimator as it was
        design = proto._prepare(features, labels)
        kind, n_folds = self._cv_kind_folds(len(design.names))
        fold = design.session if kind == "sessions" else self._block_of(design, self.n_blocks)
        return _CVPlan(design, kind, n_folds, fold, list(proto.behaviors_), proto.base_feature_names_)

    def _cv_fold(self, plan: _CVPlan, k: int) -> CVFold:
        design = plan.design
        test = np.flatnonzero(plan.fold == k)
        train = np.flatnonzero(plan.fold != k)
        est = clone(self).set_params(importance_frames=0)  # a fold's importances are never reported
        est.behaviors_, est.base_feature_names_ = plan.behaviors, plan.base_feature_names
        try:
            est._fit_design(design, train, constant_ok=True)
        except SchemaError as err:
            raise SchemaError(f"cross-validation fold {k}: {err}") from None
        proba = np.full((len(test), len(plan.behaviors)), np.nan)
        pred = np.zeros((len(test), len(plan.behaviors)), dtype=bool)
        ok = design.valid[test]
        if ok.any():
            X = est._matrix(design.X, test[ok])
            for b, behavior in enumerate(plan.behaviors):
                proba[ok, b] = est._proba_rows(est.models_[behavior], X)
        parts = []
        for s in np.unique(design.session[test]):
            here = design.session[test] == s
            rows = test[here]
            min_bout = max(1, _frames(self.min_bout_s, design.fps[s]))
            max_gap = _frames(self.max_gap_s, design.fps[s])
            segments = design.segments(rows)
            for b, behavior in enumerate(plan.behaviors):
                mask = proba[here, b] >= est.thresholds_[behavior]
                pred[here, b] = postprocess_segments(mask, segments, min_bout, max_gap)
            times = design.sources[s]["time"].values[np.unique(design.frame[rows])]
            parts.append((k, design.names[s], float(times[0]), float(times[-1]), len(times)))
        return CVFold(
            fold=k,
            cv=plan.kind,
            sessions=tuple(design.names),
            n_rows=len(design.X),
            rows=test,
            probabilities=proba,
            predictions=pred,
            thresholds={str(b): float(t) for b, t in est.thresholds_.items()},
            parts=tuple(parts),
        )

    def _cv_pool(self, plan: _CVPlan, folds: Sequence[CVFold]) -> CVResult:
        design, behaviors = plan.design, plan.behaviors
        proba = np.full(design.Y.shape, np.nan)
        pred = np.zeros(design.Y.shape, dtype=bool)
        thresholds, fold_scores, fold_rows = [], [], []
        for f in folds:
            proba[f.rows], pred[f.rows] = f.probabilities, f.predictions
            fold_rows.extend(f.parts)
            thresholds.append({"fold": f.fold, **f.thresholds})
            tp, fp, fn = _counts(f.predictions, design.Y[f.rows])
            for b, behavior in enumerate(behaviors):
                n_true, n_pred = int(tp[b] + fn[b]), int(tp[b] + fp[b])
                fold_scores.append((f.fold, behavior, *_scores(tp[b], fp[b], fn[b]), n_true, n_pred, len(f.rows)))
        columns = ["fold", "behavior", "precision", "recall", "f1", "n_true", "n_predicted", "n_frames"]
        fold_table = pd.DataFrame(fold_scores, columns=columns)
        tp, fp, fn = _counts(pred, design.Y)
        pooled = [
            (b, *_scores(tp[i], fp[i], fn[i]), int(tp[i] + fn[i]), int(tp[i] + fp[i]), len(pred))
            for i, b in enumerate(behaviors)
        ]
        fold_of = {}
        for s, name in enumerate(design.names):
            rows = np.flatnonzero(design.session == s)
            per_frame = np.full(design.n_time[s], -1, dtype=np.int64)
            per_frame[design.frame[rows]] = plan.fold[rows]
            fold_of[name] = xr.DataArray(
                per_frame, dims=("time",), coords={"time": design.sources[s]["time"].values}, name="fold"
            )
        log.info(
            "cross_validate (%s, %d folds): F1 %s", plan.kind, plan.n_folds, {p[0]: round(p[3], 3) for p in pooled}
        )
        return CVResult(
            cv=plan.kind,
            folds=pd.DataFrame(fold_rows, columns=["fold", "session", "start_s", "stop_s", "n_frames"]),
            test_fold=fold_of,
            probabilities=design.unstack(proba, "behavior_probability", behaviors, np.nan),
            predictions=design.unstack(pred, "behavior_prediction", behaviors, False),
            thresholds=pd.DataFrame(thresholds).set_index("fold"),
            fold_scores=fold_table,
            scores=pd.DataFrame(pooled, columns=columns[1:]),
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
        names, probabilities, _ = self._apply(features)
        tables = []
        for name in names:
            da = probabilities[name].transpose(*_LABEL_DIMS)
            p = np.asarray(da.values)
            t = np.array([self.thresholds_[b] for b in self.behaviors_])
            scale = np.where(p < t, t, 1 - t)
            unc = 1 - np.abs(p - t) / scale
            ti, ii, bi = np.nonzero(np.isfinite(unc))
            tables.append(
                pd.DataFrame(
                    {
                        "session": name,
                        "individual": da["individual"].values[ii].astype(str),
                        "time": np.asarray(da["time"].values, float)[ti],
                        "frame": ti,
                        "behavior": np.asarray(self.behaviors_, dtype=object)[bi],
                        "probability": p[ti, ii, bi],
                        "threshold": t[bi],
                        "uncertainty": unc[ti, ii, bi],
                    }
                )
            )
        table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
        if table.empty:
            return table
        order = np.argsort(-table["uncertainty"].to_numpy(), kind="stable")
        picked: list[int] = []
        taken: dict[tuple[str, str], list[float]] = {}
        sessions, individuals = table["session"].to_numpy(), table["individual"].to_numpy()
        times = table["time"].to_numpy()
        for i in order:
            if len(picked) >= n:
                break
            near = taken.setdefault((sessions[i], individuals[i]), [])
            j = bisect.bisect_left(near, times[i])
            if (j < len(near) and near[j] - times[i] < min_separation_s) or (
                j > 0 and times[i] - near[j - 1] < min_separation_s
            ):
                continue
            near.insert(j, times[i])
            picked.append(i)
        return table.iloc[picked].reset_index(drop=True)
