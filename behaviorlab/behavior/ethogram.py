"""Ethograms from a hidden Markov model: per-frame states, bouts and transitions.

:class:`EthogramHMM` standardizes the per-frame features, reduces them with
PCA and fits a Gaussian hidden Markov model (hmmlearn's
:class:`~hmmlearn.hmm.GaussianHMM`) on many sessions and individuals at once:
the frames of one animal form a sequence, and a frame with NaN features ends
one sequence and starts the next (see
:meth:`behaviorlab.features.samples.SessionSamples.lengths`).  The number of states is
fixed or chosen over a range by BIC or by held-out log-likelihood; a
*sticky* prior on the self-transitions lengthens bouts; Viterbi decoding gives
every frame one state, and the states are put in a canonical order after each
fit so that two fits on the same data name the same behavior with the same
number.

Frames as sequences and chunks of them are in
:mod:`behaviorlab.behavior.hmm_sequences`, the choice of the number of states
in :mod:`behaviorlab.behavior.hmm_selection`.

Bouts and transitions of the decoded states are in :mod:`behaviorlab.behavior.bouts`,
their figures in :mod:`behaviorlab.results.plots`.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal

import numpy as np
import xarray as xr
from hmmlearn.hmm import GaussianHMM
from sklearn.base import BaseEstimator
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from behaviorlab._persist import SavedEstimator
from behaviorlab.behavior.hmm_selection import select_n_states
from behaviorlab.behavior.hmm_sequences import array_samples, is_session_data, label_sessions, pick_fit_rows
from behaviorlab.errors import SchemaError
from behaviorlab.features.samples import SessionData, SessionSamples, session_items, session_samples

__all__ = ["EthogramHMM"]

log = logging.getLogger(__name__)

_FORMAT = "behaviorlab.EthogramHMM"
_FORMAT_VERSION = 1
# Packages whose version change can alter a loaded model's predictions.
_VERSION_KEYS = ("behaviorlab", "numpy", "scipy", "scikit-learn", "hmmlearn")
_COVARIANCE_TYPES = ("diag", "full", "spherical", "tied")
_CRITERIA = ("bic", "heldout")
# Frames k-means sees when it starts the EM.
_KMEANS_FRAMES = 10_000
# Most frames (evenly strided) that define the axis the states are sorted along.
_ORDER_FRAMES = 20_000


# --------------------------------------------------------------------------- model parameters
def _typed_covars(model: Any) -> np.ndarray:
    """Return the covariances of a fitted GaussianHMM shaped as its ``covariance_type`` stores them."""
    full = model.covars_  # hmmlearn always returns full (n, d, d) matrices
    if model.covariance_type == "diag":
        return np.diagonal(full, axis1=1, axis2=2).copy()
    if model.covariance_type == "spherical":
        return full[:, 0, 0].copy()
    if model.covariance_type == "tied":
        return full[0].copy()
    return full.copy()


def _permute_states(model: Any, order: np.ndarray) -> None:
    """Renumber the states of a fitted GaussianHMM so that new state ``i`` is old state ``order[i]``."""
    covars = _typed_covars(model)
    model.startprob_ = model.startprob_[order]
    model.transmat_ = model.transmat_[np.ix_(order, order)]
    model.means_ = model.means_[order]
    if model.covariance_type != "tied":
        model.covars_ = covars[order]


def _axis_sign(loadings: np.ndarray) -> float:
    """Return a sign for a principal axis independent of the SVD: loadings sum positive (else the largest one)."""
    total = float(loadings.sum())
    if abs(total) > 0.1 * float(np.abs(loadings).sum()):
        return 1.0 if total > 0 else -1.0
    return 1.0 if loadings[np.argmax(np.abs(loadings))] >= 0 else -1.0


class _DropNotConverging(logging.Filter):
    """Hide hmmlearn's 'not converging' message, expected with a prior (EM then maximizes the posterior)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Model is not converging")


def _one_thread(method: Callable) -> Callable:
    """Run ``method`` with one BLAS and OpenMP thread.

    The matrices here are thin (frames x at most a few dozen columns), so
    threads gain little, and on a busy machine their spinning makes the SVD,
    k-means and matrix products several times slower.  The limit is lifted
    when the method returns.
    """

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with threadpool_limits(limits=1):
            return method(*args, **kwargs)

    return wrapper


@contextlib.contextmanager
def _quiet_map_em(active: bool) -> Iterator[None]:
    if not active:
        yield
        return
    logger, flt = logging.getLogger("hmmlearn.base"), _DropNotConverging()
    logger.addFilter(flt)
    try:
        yield
    finally:
        logger.removeFilter(flt)


def _seed(random_state: Any) -> int:
    if random_state is None:
        return int(np.random.SeedSequence().generate_state(1)[0] >> 1)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(2**31 - 1))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**31 - 1))
    return int(random_state)


# --------------------------------------------------------------------------- the estimator
class EthogramHMM(SavedEstimator, BaseEstimator):
    """Gaussian hidden Markov model of per-frame features, fitted on many sessions at once.

    Every frame's features are standardized and reduced with PCA, then a
    Gaussian HMM is fitted with EM on the sequences of frames of each session
    and individual (a frame with NaN ends a sequence) and Viterbi decoding
    gives each frame one state.

    Parameters
    ----------
    n_states
        Number of hidden states; ``None`` chooses it over ``n_states_range``
        with ``criterion`` (ignored when ``n_states`` is given).
    n_states_range
        ``(min, max)`` number of states tried when ``n_states`` is ``None``,
        both included.
    criterion
        ``"bic"``: the fit on all fit frames with the lowest
        ``-2 log L + k ln N`` (``k`` free parameters, ``N`` frames).
        ``"heldout"``: whole chunks of the fit frames (``heldout_fraction``
        of them) are held out, a model per candidate is fitted on the rest
        and scored on the held-out frames; the smallest number of states whose
        mean held-out log-likelihood per frame is within one standard error
        (of its paired difference over the held-out chunks) of the best is
        chosen, and refitted on all fit frames.
    n_components
        PCA dimensions after standardizing: an int (capped at the number of
        features), a fraction in (0, 1) of the variance to keep, or ``None``
        for no PCA (the HMM then sees the standardized features).
    covariance_type
        Covariance of each state: ``"diag"``, ``"full"``, ``"spherical"`` or
        ``"tied"`` (hmmlearn's).
    sticky
        Extra weight of the self-transitions in the transition prior, in units
        of the data: each self-transition gets ``sticky * N / n_states``
        pseudo-counts (``N`` fit frames, so ``N / n_states`` is the frames of
        an average state).  A state of average occupancy then has its
        self-transition probability moved from the likelihood's ``p`` to
        about ``(p + sticky) / (1 + sticky)``, so its expected bout duration
        ``1 / (1 - p)`` grows by about ``1 + sticky``.  ``0`` (default) is
        plain maximum likelihood; 0.1 to 1 gives visibly longer bouts on
        noisy features.
    n_iter
        Most EM iterations per fit.
    tol
        EM stops when the log-likelihood gains less than ``tol`` nats *per
        frame* in an iteration (hmmlearn's absolute ``tol`` is ``tol * N``).
    n_init
        EM runs per number of states, from different seeds; the run with the
        highest log-likelihood is kept.
    max_fit_frames
        At most this many frames are used for fitting (standardization, PCA
        and EM), taken as random whole chunks of up to 1000 consecutive frames
        of the sequences (seeded by ``random_state``); ``None`` fits on all.
        Every frame is decoded.
    heldout_fraction
        Share of the fit frames held out by ``criterion="heldout"``.
    variable
        Variable taken from session Datasets: ``"spectrogram"`` (default) or
        ``"features"``.  On generated sessions with known behaviors the
        states of the spectrogram agree better with the truth (NMI 0.54
        against 0.42 with 6 states; ``benchmarks/unsupervised_quality.py``):
        a frame's features are one instant, its spectrogram the movement
        around it.
    random_state
        Seed of the subsampling, the held-out split and hmmlearn's
        initialization.

    Attributes
    ----------
    n_states_
        Number of states of the fitted model.
    scaler_
        The fitted :class:`~sklearn.preprocessing.StandardScaler`.
    pca_
        The fitted :class:`~sklearn.decomposition.PCA`, or ``None``.
    n_components_
        Dimensions the HMM sees.
    hmm_
        The fitted :class:`hmmlearn.hmm.GaussianHMM`, states in canonical order.
    startprob_
        ``(n_states_,)`` initial state probabilities.
    transmat_
        ``(n_states_, n_states_)`` transition probabilities (row: from, column: to).
    means_
        ``(n_states_, n_components_)`` state means in the PCA space.
    feature_means_
        ``(n_states_, n_features_in_)`` mean features of each state (in the
        input's units, weighted by the state posteriors of the fit frames).
    order_axis_
        ``(n_features_in_,)`` the standardized-feature direction along which the states are sorted.
    order_key_
        ``(n_states_,)`` position of each state along ``order_axis_`` (increasing).
    occupancy_
        ``(n_states_,)`` expected share of the fit frames in each state.
    selection_
        :class:`pandas.DataFrame`, one row per number of states tried:
        ``n_states, n_params, log_likelihood`` (total over the frames the
        candidate was fitted on), ``bic``, ``heldout_loglik`` (mean per
        held-out frame; NaN unless ``criterion="heldout"``),
        ``heldout_se`` (standard error of its difference from the best) and
        ``chosen``.
    n_features_in_
        Columns of the training matrix.
    feature_names_
        Names of the ``feature`` coordinate of the training sessions, or ``None`` for arrays.
    n_fit_frames_
        Frames used for fitting.
    timings_
        Wall time of the fitting steps in seconds.

    Notes
    -----
    **State order.**  After fitting, the states are sorted by the projection
    of their mean features (:attr:`feature_means_`) on the first principal
    axis of all the valid frames, standardized (its sign fixed so that its
    loadings on the features sum to a positive number), in units of that
    axis' standard deviation rounded to 0.01; ties go to the more occupied
    state first.  The axis does not depend on the seed or the fit
    subsample, so state 0 is the state lowest on the main axis of
    variation of the data in every fit.

    **Subsampling.**  With more than ``max_fit_frames`` valid frames, the
    sequences are cut into chunks of up to 1000 frames and random chunks
    are taken until ``max_fit_frames`` is reached (the last one trimmed);
    chunks that touch join again, so the HMM sees long stretches of real
    dynamics.  The scaler, PCA, k-means start and EM use these frames only.
    """

    def __init__(
        self,
        n_states: int | None = None,
        n_states_range: tuple[int, int] = (2, 8),
        criterion: Literal["bic", "heldout"] = "bic",
        n_components: int | float | None = 20,
        covariance_type: str = "diag",
        sticky: float = 0.0,
        n_iter: int = 50,
        tol: float = 1e-3,
        n_init: int = 1,
        max_fit_frames: int | None = 30_000,
        heldout_fraction: float = 0.2,
        variable: str = "spectrogram",
        random_state: int | None = 0,
    ) -> None:
        self.n_states = n_states
        self.n_states_range = n_states_range
        self.criterion = criterion
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.sticky = sticky
        self.n_iter = n_iter
        self.tol = tol
        self.n_init = n_init
        self.max_fit_frames = max_fit_frames
        self.heldout_fraction = heldout_fraction
        self.variable = variable
        self.random_state = random_state

    # ------------------------------------------------------------------ checks
    def _candidates(self) -> list[int]:
        def is_int(v: Any) -> bool:
            return isinstance(v, int | np.integer) and not isinstance(v, bool)

        if self.n_states is not None:
            if not is_int(self.n_states) or self.n_states < 1:
                raise ValueError(f"n_states must be an integer >= 1 or None, got {self.n_states!r}")
            return [int(self.n_states)]
        rng = self.n_states_range
        if (
            not isinstance(rng, Sequence)
            or len(rng) != 2
            or not all(is_int(v) for v in rng)
            or not 1 <= rng[0] <= rng[1]
        ):
            raise ValueError(f"n_states_range must be a pair (min, max) of integers with 1 <= min <= max, got {rng!r}")
        return list(range(int(rng[0]), int(rng[1]) + 1))

    def _check_params(self) -> list[int]:
        candidates = self._candidates()
        if self.criterion not in _CRITERIA:
            raise ValueError(f"criterion must be one of {_CRITERIA}, got {self.criterion!r}")
        if self.covariance_type not in _COVARIANCE_TYPES:
            raise ValueError(f"covariance_type must be one of {_COVARIANCE_TYPES}, got {self.covariance_type!r}")
        n = self.n_components
        if n is not None and not (
            (isinstance(n, int | np.integer) and not isinstance(n, bool) and n >= 1)
            or (isinstance(n, float) and 0 < n < 1)
        ):
            raise ValueError(f"n_components must be an int >= 1, a fraction in (0, 1) or None, got {n!r}")
        if not (isinstance(self.sticky, int | float) and math.isfinite(self.sticky) and self.sticky >= 0):
            raise ValueError(f"sticky must be a finite number >= 0, got {self.sticky!r}")
        if not (isinstance(self.n_iter, int | np.integer) and self.n_iter >= 1):
            raise ValueError(f"n_iter must be an integer >= 1, got {self.n_iter!r}")
        if not (isinstance(self.n_init, int | np.integer) and self.n_init >= 1):
            raise ValueError(f"n_init must be an integer >= 1, got {self.n_init!r}")
        if not (isinstance(self.tol, int | float) and self.tol >= 0):
            raise ValueError(f"tol must be a number >= 0, got {self.tol!r}")
        if self.max_fit_frames is not None and not (
            isinstance(self.max_fit_frames, int | np.integer) and self.max_fit_frames >= 10
        ):
            raise ValueError(f"max_fit_frames must be an integer >= 10 or None, got {self.max_fit_frames!r}")
        if not 0 < self.heldout_fraction < 1:
            raise ValueError(f"heldout_fraction must be in (0, 1), got {self.heldout_fraction!r}")
        return candidates

    _model_format = _FORMAT
    _model_versions = _VERSION_KEYS
    #: The per-frame variable :meth:`label` adds (the AR-HMM's is ``syllable``).
    label_variable = "state"

    def _check_saveable(self) -> None:
        self._check_fitted()

    def _check_fitted(self) -> None:
        if not hasattr(self, "hmm_"):
            raise NotFittedError("this EthogramHMM is not fitted yet: call fit first")

    def _samples(self, X: Any, lengths: Any = None) -> SessionSamples:
        """Rows of ``X``: arrays (split by ``lengths``) or anything :func:`session_samples` takes."""
        if is_session_data(X):
            if lengths is not None:
                raise SchemaError(
                    "lengths is only for arrays: sessions are split into sequences by individual and at NaN frames"
                )
            return session_samples(X, self.variable)
        return array_samples(X, lengths)

    def _feature_names(self, X: Any) -> np.ndarray | None:
        if not is_session_data(X):
            return None
        _, first = session_items(X)[0]
        if isinstance(first, xr.Dataset):  # a spectrogram computed as it is read has the features' columns
            da = first[self.variable] if self.variable in first else first["features"]
        else:
            da = first
        return np.asarray(da["feature"].values).astype(str) if "feature" in da.coords else None

    def _fitted_samples(self, X: Any, lengths: Any) -> SessionSamples:
        self._check_fitted()
        samples = self._samples(X, lengths)
        if samples.X.shape[1] != self.n_features_in_:
            raise SchemaError(
                f"EthogramHMM was fitted on {self.n_features_in_} features, got {samples.X.shape[1]}: "
                "compute the features with the same config"
            )
        names = self._feature_names(X)
        if names is not None and self.feature_names_ is not None and not np.array_equal(names, self.feature_names_):
            raise SchemaError(
                f"the features differ from the fitted ones: got {list(names)[:5]}..., "
                f"fitted on {list(self.feature_names_)[:5]}...; compute them with the same config"
            )
        return samples

    def _reduce(self, X: np.ndarray) -> np.ndarray:
        Z = self.scaler_.transform(X)
        if self.pca_ is not None:
            Z = self.pca_.transform(Z)
        return Z

    # ------------------------------------------------------------------ fitting
    def _initial_model(self, Z: np.ndarray, lengths: np.ndarray, n_states: int, seed: int) -> Any:
        """Return a GaussianHMM started from k-means: cluster means and spreads, transitions counted from the clusters.

        hmmlearn's own start (random transition matrix, every state with the
        global covariance) often ends in a poor optimum that merges states;
        starting from the k-means partition does not.
        """
        rng = np.random.default_rng(seed)
        sub = Z if len(Z) <= _KMEANS_FRAMES else Z[np.sort(rng.choice(len(Z), _KMEANS_FRAMES, replace=False))]
        kmeans = KMeans(n_clusters=n_states, n_init=3, random_state=seed).fit(sub)
        labels = kmeans.predict(Z)
        d = Z.shape[1]
        min_covar = 1e-3
        overall = np.var(Z, axis=0) + min_covar
        covars = []
        for k in range(n_states):
            members = Z[labels == k]
            if self.covariance_type in ("diag", "spherical"):
                var = members.var(axis=0) + min_covar if len(members) > 1 else overall
                covars.append(var.mean() if self.covariance_type == "spherical" else var)
            else:
                cov = np.cov(members, rowvar=False) if len(members) > d else np.diag(overall - min_covar)
                covars.append(np.atleast_2d(cov) + min_covar * np.eye(d))
        if self.covariance_type == "tied":
            weights = np.bincount(labels, minlength=n_states) / len(labels)
            covars_init: np.ndarray = np.einsum("k,kij->ij", weights, np.asarray(covars))
        else:
            covars_init = np.asarray(covars)
        first = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        startprob = np.bincount(labels[first], minlength=n_states) + 1.0
        inside = np.ones(len(Z), dtype=bool)
        inside[first] = False  # a pair (t - 1, t) counts only within one sequence
        counts = np.ones((n_states, n_states))
        np.add.at(counts, (labels[:-1][inside[1:]], labels[1:][inside[1:]]), 1.0)
        kappa = self.sticky * len(Z) / n_states
        model = GaussianHMM(
            n_components=n_states,
            covariance_type=self.covariance_type,
            min_covar=min_covar,
            transmat_prior=1.0 + kappa * np.eye(n_states),
            n_iter=int(self.n_iter),
            tol=float(self.tol) * len(Z),
            random_state=seed,
            init_params="",
            implementation="log",
        )
        model.startprob_ = startprob / startprob.sum()
        model.transmat_ = counts / counts.sum(axis=1, keepdims=True)
        model.means_ = kmeans.cluster_centers_.copy()
        model.covars_ = covars_init
        return model

    def _fit_hmm(self, Z: np.ndarray, lengths: np.ndarray, n_states: int, seed: int) -> tuple[Any, float]:
        """Best of ``n_init`` EM runs with ``n_states`` states: ``(model, total log-likelihood)``."""
        best, best_ll = None, -np.inf
        for i in range(self.n_init):
            model = self._initial_model(Z, lengths, n_states, seed + 7919 * i)
            try:
                with _quiet_map_em(self.sticky > 0):
                    model.fit(Z, lengths)
                ll = float(model.score(Z, lengths))
            except (ValueError, np.linalg.LinAlgError) as err:  # a state lost all its frames
                log.warning("EthogramHMM: EM with %d states failed (%s)", n_states, err)
                continue
            if np.isfinite(ll) and ll > best_ll:
                best, best_ll = model, ll
        return best, best_ll

    @_one_thread
    def fit(self, X: Any, y: Any = None, lengths: Any = None) -> EthogramHMM:
        """Fit the model on the frames of one or many sessions.

        Parameters
        ----------
        X
            ``(n_frames, n_features)`` array (one sequence, or several given
            by ``lengths``), or one or many sessions as accepted by
            :func:`behaviorlab.features.samples.session_samples` (Datasets, whose
            ``variable`` is used, DataArrays ``(time, individual, feature)``,
            a list or a mapping of them).  Rows with NaN are skipped and end
            a sequence.
        y
            Ignored.
        lengths
            ``(n_sequences,)`` lengths of the consecutive sequences of an
            array ``X`` (hmmlearn's ``lengths``); must sum to ``len(X)``.

        Returns
        -------
        EthogramHMM
            ``self``.
        """
        candidates = self._check_params()
        samples = self._samples(X, lengths)
        valid_rows = np.flatnonzero(samples.valid)  # indices, not a copy of the (possibly huge) valid rows
        n_valid = len(valid_rows)
        seq_lengths = samples.lengths()
        needed = max(2 * max(candidates), 10)
        if n_valid < needed:
            raise SchemaError(
                f"EthogramHMM needs at least {needed} frames without NaN for {max(candidates)} states, got {n_valid}"
            )
        seed = _seed(self.random_state)
        rng = np.random.default_rng(seed)
        timings: dict[str, float] = {}
        start = time.perf_counter()
        rows, fit_lengths = pick_fit_rows(seq_lengths, self.max_fit_frames, rng)
        Xfit = np.asarray(samples.X[valid_rows[rows]], dtype=np.float64)
        scaler, pca, Z = self._fit_reduction(Xfit, seed)
        timings["pca"] = time.perf_counter() - start

        start = time.perf_counter()
        chosen, final, selection = select_n_states(
            Z,
            fit_lengths,
            candidates,
            functools.partial(self._fit_hmm, seed=seed),
            criterion=self.criterion,
            covariance_type=self.covariance_type,
            heldout_fraction=self.heldout_fraction,
            rng=rng,
        )
        timings["hmm"] = time.perf_counter() - start

        start = time.perf_counter()
        reference = np.asarray(samples.X[valid_rows[:: max(1, n_valid // _ORDER_FRAMES)]], dtype=np.float64)
        order = self._order_states(final, Z, fit_lengths, Xfit, reference)  # sets the order_* attributes
        # every fitted attribute is set only now, so a failed fit leaves a fitted model as it was
        self.n_features_in_ = samples.X.shape[1]
        self.feature_names_ = self._feature_names(X)
        self.scaler_, self.pca_, self.n_components_ = scaler, pca, Z.shape[1]
        self.selection_ = selection
        for name, value in order.items():
            setattr(self, name, value)
        self._set_model(final, chosen, len(Z))
        timings["order"] = time.perf_counter() - start
        self.timings_ = timings
        log.info(
            "EthogramHMM: %d states (%s over %s) from %d of %d frames; %s",
            chosen,
            self.criterion if len(candidates) > 1 else "fixed",
            candidates,
            len(Z),
            n_valid,
            ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()),
        )
        return self

    def _fit_reduction(self, Xfit: np.ndarray, seed: int) -> tuple[Any, Any, np.ndarray]:
        """Standardize the fit frames and reduce them with PCA: ``(scaler, pca or None, reduced frames)``."""
        scaler = StandardScaler().fit(Xfit)
        Z = scaler.transform(Xfit)
        pca = None
        if self.n_components is not None:
            n = self.n_components
            if not isinstance(n, float):
                n = int(min(n, Z.shape[1], Z.shape[0]))
            pca = PCA(n_components=n, svd_solver="covariance_eigh", random_state=seed).fit(Z)  # exact, fast for tall Z
            Z = pca.transform(Z)
        return scaler, pca, Z

    def _set_model(self, final: Any, chosen: int, n_fit_frames: int) -> None:
        """Set the fitted attributes that come from the chosen (and reordered) GaussianHMM."""
        self.hmm_ = final
        self.n_states_ = int(chosen)
        self.startprob_ = final.startprob_.copy()
        self.transmat_ = final.transmat_.copy()
        self.means_ = final.means_.copy()
        self.n_iter_ = int(final.monitor_.iter)
        self.converged_ = bool(final.monitor_.converged)
        self.n_fit_frames_ = n_fit_frames

    @staticmethod
    def _order_states(
        model: Any, Z: np.ndarray, lengths: np.ndarray, Xfit: np.ndarray, reference: np.ndarray
    ) -> dict[str, np.ndarray]:
        """Put the states of ``model`` in the canonical order (see the class notes), in place.

        The axis comes from ``reference``, every valid frame or an even
        stride of at most 20,000 of them (not the seeded fit subsample),
        so every fit on the same data sorts along the same axis.  Returns the
        fitted attributes that describe the order.
        """
        posteriors = model.predict_proba(Z, lengths)
        mass = posteriors.sum(axis=0)
        feature_means = posteriors.T @ Xfit / np.maximum(mass, 1e-12)[:, None]
        center, spread = reference.mean(axis=0), reference.std(axis=0)
        spread[spread == 0] = 1.0
        standardized = (reference - center) / spread
        _, vectors = np.linalg.eigh(np.atleast_2d(np.cov(standardized, rowvar=False)))
        axis = vectors[:, -1] * _axis_sign(vectors[:, -1])
        scale = float(np.std(standardized @ axis)) or 1.0
        key = np.round((feature_means - center) / spread @ axis / scale, 2)
        occupancy = mass / mass.sum()
        order = np.lexsort((-occupancy, key))
        _permute_states(model, order)
        return {
            "order_axis_": axis,
            "order_key_": key[order],
            "occupancy_": occupancy[order],
            "feature_means_": feature_means[order],
        }

    # ------------------------------------------------------------------ applying
    def predict(self, X: Any, lengths: Any = None) -> np.ndarray:
        """Most likely state of every frame (Viterbi decoding of each sequence).

        Parameters
        ----------
        X
            As in :meth:`fit`.
        lengths
            As in :meth:`fit`, for an array ``X``.

        Returns
        -------
        numpy.ndarray
            ``(n_rows,)`` int64 state per row of ``X`` (for sessions: per row of
            :func:`~behaviorlab.features.samples.session_samples`, ordered session,
            individual, time; use :meth:`label` to get them on the sessions),
            -1 for rows with NaN.
        """
        return self._decode(self._fitted_samples(X, lengths))

    @_one_thread
    def _decode(self, samples: SessionSamples) -> np.ndarray:
        out = np.full(len(samples.X), -1, dtype=np.int64)
        if samples.valid.any():
            rows = np.flatnonzero(samples.valid)
            Z = np.concatenate([self._reduce(samples.X[rows[i : i + 10_000]]) for i in range(0, len(rows), 10_000)])
            _, states = self.hmm_.decode(Z, samples.lengths(), algorithm="viterbi")
            out[samples.valid] = states
        return out

    @_one_thread
    def predict_proba(self, X: Any, lengths: Any = None) -> np.ndarray:
        """Posterior probability of each state at every frame (forward-backward).

        Returns
        -------
        numpy.ndarray
            ``(n_rows, n_states_)``, rows as in :meth:`predict`; NaN for rows with NaN.
        """
        samples = self._fitted_samples(X, lengths)
        out = np.full((len(samples.X), self.n_states_), np.nan)
        if samples.valid.any():
            out[samples.valid] = self.hmm_.predict_proba(self._reduce(samples.X[samples.valid]), samples.lengths())
        return out

    @_one_thread
    def score(self, X: Any, y: Any = None, lengths: Any = None) -> float:
        """Mean log-likelihood per frame (rows without NaN) of ``X`` under the model; higher is better.

        The features are scored in the PCA space the model sees.
        """
        samples = self._fitted_samples(X, lengths)
        n_valid = int(samples.valid.sum())
        if n_valid == 0:
            raise SchemaError("score needs at least one frame without NaN")
        total = self.hmm_.score(self._reduce(samples.X[samples.valid]), samples.lengths())
        return float(total) / n_valid

    def label(self, data: SessionData) -> Any:
        """Add the per-frame ``state (time, individual)`` to one or many sessions.

        Parameters
        ----------
        data
            A session Dataset holding ``variable``, a ``features`` DataArray,
            or a list or mapping of them.

        Returns
        -------
        xarray.Dataset, xarray.DataArray, list or dict
            In the shape of ``data``: a new Dataset with the int64 variable
            ``state (time, individual)`` (-1 where the features have NaN) and
            a ``log`` entry; for a DataArray, the ``state`` DataArray itself.
            ``state`` carries attrs ``session``, ``n_states`` and, when the
            Dataset has them, ``fps`` and ``time_unit``.  The inputs are not
            modified.
        """
        self._check_fitted()
        params = {k: v for k, v in self.get_params().items() if isinstance(v, int | float | str | type(None))}

        def decode(obj: Any) -> tuple[SessionSamples, np.ndarray]:
            samples = self._fitted_samples(obj, None)
            return samples, self._decode(samples)[samples.valid]

        return label_sessions(data, decode, self.n_states_, "EthogramHMM.label", params)
