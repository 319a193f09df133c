"""Autoregressive HMM ethograms on pose: keypoint-MoSeq's model, fitted by EM in minutes.

:class:`ARHMM` aligns every animal's keypoints to its own body (centroid at
the origin, tail-to-head axis along +x, lengths in body sizes), reduces the
aligned pose with PCA to a few latent dimensions and fits a *sticky*
autoregressive hidden Markov model: each state is a linear dynamical system
of order ``n_lags`` with Gaussian noise (see :mod:`behaviorlab.behavior.arhmm_core`).
That is keypoint-MoSeq's AR-HMM (Weinreb et al. 2024), fitted here by
expectation-maximization instead of Gibbs sampling.

* **Stickiness from a target duration.**  keypoint-MoSeq asks the user to
  scan its ``kappa`` until the median syllable lasts about 400 ms.  Here
  ``kappa="auto"`` does that scan inside the fit: with the current dynamics
  the stickiness is bisected until the median Viterbi syllable lasts
  ``target_duration_s``, then EM goes on with it (three phases, and once
  more after merging).
* **Jitter does not start syllables.**  Each state is a chain of
  ``min_frames`` sub-states (a hidden semi-Markov model), so no syllable
  inside a sequence is shorter than that; each frame's evidence is scaled
  by its mean keypoint confidence (a tempered likelihood), so a frame the
  tracker was unsure of cannot outvote the sticky prior; and every state's
  noise is at least the keypoints' measured jitter (a stand-in for
  keypoint-MoSeq's keypoint-noise model).
* **Many sessions at once.**  Every animal of every session is a sequence;
  a frame with a keypoint missing for longer than ``max_gap_s`` ends one
  sequence and starts the next.
* **Deterministic on new data.**  :meth:`predict` decodes each sequence on
  its own with the fitted parameters (Viterbi), so a session gets the same
  states alone or among others, before or after :meth:`save`/:meth:`load`.
* **Merged, canonical states.**  After EM, states used by fewer than
  ``min_usage`` of the frames are dropped and pairs of states whose
  dynamics are nearly the same (joining them loses less than
  ``merge_threshold`` nats per fit frame) are merged, like keypoint-MoSeq's
  syllable merging, then EM runs again; states are numbered by usage, 0 the
  most used.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import numpy as np
import xarray as xr
from sklearn.base import BaseEstimator, clone
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from threadpoolctl import threadpool_limits

from behaviorlab._persist import SavedEstimator
from behaviorlab.behavior import arhmm_core as core
from behaviorlab.behavior.arhmm_data import (
    MOTION_FEATURES,
    check_pose_session,
    jitter_variance,
    median_syllable,
    pose_rows,
    syllable_durations,
)
from behaviorlab.behavior.hmm_sequences import array_samples, is_session_data, label_sessions, pick_fit_rows
from behaviorlab.errors import SchemaError
from behaviorlab.features.samples import SessionData, SessionSamples, session_items, session_samples
from behaviorlab.schema import guess_body_axis, guess_tail_keypoints
from behaviorlab.trajectories.landmarks import split_static_keypoints

__all__ = ["ARHMM"]

log = logging.getLogger(__name__)

_FORMAT = "behaviorlab.ARHMM"
_VERSION_KEYS = ("behaviorlab", "numpy", "scipy", "scikit-learn", "numba")
_KMEANS_FRAMES = 20_000
_KAPPA_MAX = 1e8
_KAPPA_ROUNDS = 3  # EM phases, each preceded by a stickiness scan


class ARHMM(SavedEstimator, BaseEstimator):
    """Sticky autoregressive HMM of egocentric pose (keypoint-MoSeq's AR-HMM), fitted on many sessions.

    Parameters
    ----------
    n_states
        States EM starts with (k-means on pose and velocity); rarely used and
        redundant ones are removed after fitting (see ``min_usage`` and
        ``merge_threshold``).
    n_lags
        Order of each state's autoregression (1 to 3; keypoint-MoSeq uses 3).
    latent_dim
        PCA dimensions of the aligned pose: an int, or a fraction in (0, 1) of
        the variance to keep (at most ``max_latent_dim`` dimensions).
    max_latent_dim
        Upper bound on the latent dimensions (keypoint-MoSeq uses 10).
    kappa
        Stickiness: each state's self-transition gets ``kappa`` times its own
        frames as extra counts, so bouts last about ``1 + kappa`` times longer
        than the dynamics alone would say.  ``"auto"`` chooses it so that the
        median syllable lasts ``target_duration_s``.
    target_duration_s
        Median syllable duration ``kappa="auto"`` aims at (keypoint-MoSeq's
        advice: about 0.4 s for mice).
    merge_threshold
        States are merged, the cheapest pair first, while joining a pair loses
        less log-likelihood than this many nats per fit frame (of all the
        fit frames, so a rarely used pair merges more easily than two
        frequent ones).  The loss is that of the shared dynamics plus that of
        one Gaussian for both states' postures: dynamics close to ``x_t =
        x_t-1`` fit any still posture alike, and resting and rearing must
        not merge for that.  0 merges nothing; ``"bic"`` merges while the
        loss is below BIC's price of one state's parameters (on short
        recordings it leaves few states).
    min_frames
        Shortest syllable in frames: each state is a chain of ``min_frames``
        sub-states sharing its dynamics (a hidden semi-Markov model), so one
        jittered frame cannot make a syllable of its own; 1 is the plain
        AR-HMM.  Syllables cut by the start or end of a sequence can be shorter.
    noise_floor
        Each state's noise covariance is at least ``noise_floor`` times each
        latent dimension's standard deviation, squared, or the keypoints'
        measured jitter (from second differences), whichever is larger: a
        stand-in for keypoint-MoSeq's keypoint noise that keeps smooth,
        nonlinear movements in one state rather than cut into linear pieces.
    shrinkage
        Ridge penalty on the AR coefficients, as a share of each lag's variance per frame.
    body_motion
        Also model the body's forward, sideways and turning velocity (which
        keypoint-MoSeq's AR-HMM leaves out).  Off by default: on generated
        sessions it did not change the agreement with the behaviors (NMI
        0.650 against 0.651) and made the fit half as slow again.
    min_usage
        States with a smaller share of the frames are dropped.
    confidence_weighting
        Scale each frame's likelihood by its mean keypoint confidence (sessions only).
    min_confidence
        A keypoint estimated with less confidence is replaced by the
        interpolation between the confident frames around it, when they are
        at most ``max_gap_s`` apart (keypoint-MoSeq's ``conf_threshold``
        plays this part in its noise model), so that a jittered estimate
        does not start a syllable; 0 keeps every estimate (sessions only).
    keypoints
        Keypoints modeled: ``"auto"`` (every keypoint that moves, except
        the tail beyond its base: static arena landmarks are left out, and
        so is the tail, as keypoint-MoSeq advises for rodents, since its
        swing would take most of the pose's variance; kept when fewer than 3
        keypoints would be left) or a list of names.
    anterior, posterior
        Keypoints of the head and tail end of the body axis; ``None`` guesses
        them from the names (``nose``, ``tail_base``...).
    max_gap_s
        Gaps of a keypoint up to this long are interpolated; longer ones split the sequence.
    fps
        Frame rate of array input (sessions carry their own ``fps`` attr).
    n_iter
        Most EM iterations in each of the three phases.
    tol
        EM stops a phase when the log-likelihood gains less than this per frame.
    max_fit_frames
        At most this many frames are used for fitting (random whole chunks); every frame is decoded.
    random_state
        Seed of the subsample and of the k-means start.

    Attributes
    ----------
    n_states_
        States of the fitted model, numbered by usage (0 the most used).
    keypoints_, anterior_, posterior_
        What was modeled (sessions); ``None`` for array input.
    pca_
        The fitted :class:`~sklearn.decomposition.PCA` of the aligned pose.
    latent_dim_
        Latent dimensions the AR model sees.
    coefs_
        ``(n_states_, latent_dim_, latent_dim_ * n_lags + 1)`` dynamics of each state.
    covars_
        ``(n_states_, latent_dim_, latent_dim_)`` noise covariance of each state.
    startprob_, transmat_
        Initial and transition probabilities.
    kappa_
        Stickiness used.
    kappa_scan_
        One row per scan step: ``round, kappa, median_duration_s``.
    usage_
        ``(n_states_,)`` share of the fit frames decoded as each state.
    merged_from_
        For each state, the initial states merged into it.
    median_duration_s_, short_syllable_share_
        Median syllable duration and share of syllables shorter than 3 frames
        on the fit frames (with ``min_frames >= 3`` only syllables cut by a
        sequence's start or end can be that short).
    log_likelihood_
        Mean log-likelihood per fit frame at the end of EM.
    n_fit_frames_, fps_, timings_
        Frames fitted on, their frame rate, wall time of the steps.
    """

    _model_format = _FORMAT
    _model_versions = _VERSION_KEYS
    #: The per-frame variable :meth:`label` adds (the Gaussian HMM's is ``state``).
    label_variable = "syllable"

    def __init__(
        self,
        n_states: int = 20,
        n_lags: int = 3,
        latent_dim: int | float = 6,
        max_latent_dim: int = 10,
        kappa: float | str = "auto",
        target_duration_s: float = 0.4,
        merge_threshold: float | str = 0.1,
        min_usage: float = 0.005,
        confidence_weighting: bool = True,
        keypoints: str | list[str] = "auto",
        anterior: str | None = None,
        posterior: str | None = None,
        max_gap_s: float = 0.5,
        fps: float | None = None,
        n_iter: int = 30,
        tol: float = 1e-4,
        max_fit_frames: int | None = 60_000,
        random_state: int | None = 0,
        noise_floor: float = 0.2,
        body_motion: bool = False,
        shrinkage: float = 0.01,
        min_frames: int = 3,
        min_confidence: float = 0.5,
    ) -> None:
        self.n_states = n_states
        self.n_lags = n_lags
        self.latent_dim = latent_dim
        self.max_latent_dim = max_latent_dim
        self.kappa = kappa
        self.target_duration_s = target_duration_s
        self.merge_threshold = merge_threshold
        self.min_usage = min_usage
        self.confidence_weighting = confidence_weighting
        self.keypoints = keypoints
        self.anterior = anterior
        self.posterior = posterior
        self.max_gap_s = max_gap_s
        self.fps = fps
        self.n_iter = n_iter
        self.tol = tol
        self.max_fit_frames = max_fit_frames
        self.random_state = random_state
        self.noise_floor = noise_floor
        self.body_motion = body_motion
        self.shrinkage = shrinkage
        self.min_frames = min_frames
        self.min_confidence = min_confidence

    # ------------------------------------------------------------------ checks
    def _check_params(self) -> None:
        if isinstance(self.n_states, bool) or not isinstance(self.n_states, int | np.integer) or self.n_states < 1:
            raise SchemaError(f"ARHMM n_states must be a whole number >= 1, got {self.n_states!r}")
        if (
            isinstance(self.min_frames, bool)
            or not isinstance(self.min_frames, int | np.integer)
            or self.min_frames < 1
        ):
            raise SchemaError(f"ARHMM min_frames must be a whole number of frames >= 1, got {self.min_frames!r}")
        if self.n_lags not in (1, 2, 3):
            raise SchemaError(f"ARHMM n_lags must be 1, 2 or 3, got {self.n_lags!r}")
        if not (isinstance(self.kappa, str) and self.kappa == "auto") and not (
            isinstance(self.kappa, int | float) and self.kappa >= 0
        ):
            raise SchemaError(f"ARHMM kappa must be 'auto' or a number >= 0, got {self.kappa!r}")
        if not self.target_duration_s > 0:
            raise SchemaError(f"ARHMM target_duration_s must be > 0 seconds, got {self.target_duration_s!r}")
        if isinstance(self.latent_dim, float) and not 0 < self.latent_dim < 1:
            raise SchemaError(f"ARHMM latent_dim as a fraction must be in (0, 1), got {self.latent_dim!r}")
        if not 0 <= self.min_usage < 1:
            raise SchemaError(f"ARHMM min_usage must be in [0, 1), got {self.min_usage!r}")
        if not 0 <= self.min_confidence <= 1:
            raise SchemaError(f"ARHMM min_confidence must be in [0, 1], got {self.min_confidence!r}")
        if self.merge_threshold != "bic" and not (
            isinstance(self.merge_threshold, int | float) and self.merge_threshold >= 0
        ):
            raise SchemaError(
                f"ARHMM merge_threshold must be 'bic' or a number >= 0 (nats per frame), got {self.merge_threshold!r}"
            )

    def _check_saveable(self) -> None:
        self._check_fitted()

    def _check_fitted(self) -> None:
        if not hasattr(self, "coefs_"):
            raise NotFittedError("this ARHMM is not fitted yet: call fit first")

    # ------------------------------------------------------------------ data
    def _choose_keypoints(self, items: list[tuple[str, Any]]) -> tuple[list[str], str, str]:
        """Keypoints, posterior and anterior end for a fit on ``items`` (sessions)."""
        if isinstance(self.keypoints, str):
            if self.keypoints != "auto":
                raise SchemaError(f"ARHMM keypoints must be 'auto' or a list of names, got {self.keypoints!r}")
            names: list[str] | None = None
            for _, ds in items:
                body = [str(k) for k in split_static_keypoints(ds, "auto")["keypoint"].values]
                names = body if names is None else [k for k in names if k in body]
            if names and len(names) >= 3:  # keypoint-MoSeq's advice for rodents: leave the tail out
                tail = set(guess_tail_keypoints(names, self.posterior or guess_body_axis(names)[0]))
                if len(names) - len(tail) >= 3:
                    names = [k for k in names if k not in tail]
        else:
            names = [str(k) for k in self.keypoints]
        if not names or len(names) < 3:
            raise SchemaError(f"ARHMM needs at least 3 body keypoints common to every session, got {names}")
        guess_tail, guess_head = guess_body_axis(names)
        return names, self.posterior or guess_tail, self.anterior or guess_head

    def _pose_array(self, name: str, ds: Any) -> tuple[xr.DataArray, xr.DataArray]:
        """Aligned, size-normalized pose ``(time, individual, feature)`` and frame weights of one session."""
        return pose_rows(
            name,
            ds,
            self.keypoints_,
            (self.posterior_, self.anterior_),
            fps=float(ds.attrs.get("fps") or self.fps_),
            max_gap_s=self.max_gap_s,
            motion=self.body_motion,
            weighting=self.confidence_weighting,
            min_confidence=self.min_confidence,
        )

    def _samples(self, X: Any, lengths: Any) -> tuple[SessionSamples, np.ndarray]:
        """Rows to model and their weights: aligned poses of sessions, or the columns of an array."""
        if is_session_data(X):
            if lengths is not None:
                raise SchemaError("lengths is only for arrays: sessions are split by individual and at missing frames")
            poses, weights = {}, {}
            for name, ds in session_items(X):
                poses[name], weights[name] = self._pose_array(name, ds)
            samples = session_samples(poses)
            weight = session_samples(weights).X[:, 0]
            return samples, weight
        if self.keypoints_ is not None:
            raise SchemaError("this ARHMM was fitted on sessions: give it pose Datasets, not an array")
        samples = array_samples(X, lengths)
        if samples.X.shape[1] != self.n_features_in_:
            raise SchemaError(f"ARHMM was fitted on {self.n_features_in_} columns, got {samples.X.shape[1]}")
        return samples, np.ones(len(samples.X))

    # ------------------------------------------------------------------ fitting
    def fit(self, X: Any, y: Any = None, lengths: Any = None) -> ARHMM:
        """Fit the AR-HMM on one or many sessions' poses (or an array of latent frames).

        Parameters
        ----------
        X
            Pose Datasets (``position``, optionally ``confidence``; a features
            file has both): one, a list or a mapping of them; or an
            ``(n_frames, n_dims)`` array of frames (PCA then applies to its columns).
        y
            Ignored.
        lengths
            Lengths of the consecutive sequences of an array ``X``.

        Returns
        -------
        ARHMM
            ``self``.
        """
        self._check_params()
        work = clone(self)  # a failed fit leaves a fitted model as it was
        with threadpool_limits(limits=1):
            work._fit(X, lengths)
        for name in ("_state", "_gamma", "_counts", "_prior_cov", "_floor", "_ridge"):  # the fit's working state
            work.__dict__.pop(name, None)
        self.__dict__.update(work.__dict__)
        return self

    def _setup(self, X: Any) -> None:
        """Set what the data preparation needs: keypoints, body axis, frame rate."""
        if is_session_data(X):
            items = session_items(X)
            if not items:
                raise SchemaError("ARHMM.fit needs at least one session")
            for name, ds in items:
                check_pose_session(name, ds)
            self.keypoints_, self.posterior_, self.anterior_ = self._choose_keypoints(items)
            rates = {float(ds.attrs["fps"]) for _, ds in items if ds.attrs.get("fps")}
            if len(rates) > 1:
                raise SchemaError(f"the sessions have different frame rates {sorted(rates)}: fit one model per rate")
            self.fps_ = rates.pop() if rates else float(self.fps or 30.0)
        else:
            self.keypoints_ = self.posterior_ = self.anterior_ = None
            self.n_features_in_ = np.asarray(X).shape[1] if np.ndim(X) == 2 else 0
            if self.fps is None:
                raise SchemaError("ARHMM on an array needs fps (the frame rate) to turn target_duration_s into frames")
            self.fps_ = float(self.fps)

    def _fit(self, X: Any, lengths: Any) -> ARHMM:
        timings: dict[str, float] = {}
        start = time.perf_counter()
        self._setup(X)
        samples, weight = self._samples(X, lengths)
        valid = np.flatnonzero(samples.valid)
        seq_lengths = samples.lengths()
        min_frames = max(10 * self.n_states, 50)
        if len(valid) < min_frames:
            raise SchemaError(f"ARHMM needs at least {min_frames} complete frames for {self.n_states} states")
        rng = np.random.default_rng(self.random_state)
        rows, fit_lengths = pick_fit_rows(seq_lengths, self.max_fit_frames, rng)
        Xfit = samples.X[valid[rows]]
        w = core.lagged_min(weight[valid[rows]], fit_lengths, self.n_lags)
        self.n_motion_ = len(MOTION_FEATURES) if self.body_motion and self.keypoints_ is not None else 0
        n_pose = Xfit.shape[1] - self.n_motion_
        self.pca_ = self._fit_pca(Xfit[:, :n_pose])
        pcs = self.pca_.transform(Xfit[:, :n_pose])
        spread = np.std(Xfit[:, n_pose:], axis=0)
        self.motion_scale_ = np.sqrt(np.mean(np.var(pcs, axis=0))) / np.where(spread > 0, spread, 1.0)
        Z = self._latent(Xfit)
        phi = core.lagged_design(Z, fit_lengths, self.n_lags)
        timings["prepare"] = time.perf_counter() - start
        start = time.perf_counter()
        params, trans, start_p = self._initial(Z, phi, fit_lengths)
        timings["init"] = time.perf_counter() - start
        start = time.perf_counter()
        self._em_phases(Z, phi, w, fit_lengths, params, trans, start_p)
        timings["em"] = time.perf_counter() - start
        start = time.perf_counter()
        self._reduce_states(Z, phi, w, fit_lengths)
        timings["merge"] = time.perf_counter() - start
        self.n_fit_frames_ = len(Z)
        self.timings_ = timings
        log.info(
            "ARHMM: %d states (kappa %.3g, median syllable %.2f s) from %d frames; %s",
            self.n_states_,
            self.kappa_,
            self.median_duration_s_,
            len(Z),
            ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()),
        )
        return self

    def _latent(self, X: np.ndarray) -> np.ndarray:
        """Frames in the model's space: the pose's principal components, then the scaled body motion."""
        n_pose = X.shape[1] - self.n_motion_
        pcs = self.pca_.transform(X[:, :n_pose])
        return np.hstack([pcs, X[:, n_pose:] * self.motion_scale_]) if self.n_motion_ else pcs

    def _fit_pca(self, Xfit: np.ndarray) -> PCA:
        n = self.latent_dim
        cap = int(min(self.max_latent_dim, Xfit.shape[1]))
        if isinstance(n, float):
            full = PCA(svd_solver="covariance_eigh").fit(Xfit)
            n = int(np.searchsorted(np.cumsum(full.explained_variance_ratio_), n) + 1)
        n = int(np.clip(n, 1, cap))
        return PCA(n_components=n, svd_solver="covariance_eigh").fit(Xfit)

    def _initial(self, Z: np.ndarray, phi: np.ndarray, lengths: np.ndarray) -> tuple[core.ARParams, Any, Any]:
        """Dynamics, transitions and start probabilities from k-means on pose and velocity."""
        step = np.diff(Z, axis=0, prepend=Z[:1])
        starts, _ = core.sequence_bounds(lengths)
        step[starts] = 0.0
        both = np.hstack([Z, step * (Z.std() / max(step.std(), 1e-12))])
        stride = max(1, len(both) // _KMEANS_FRAMES)
        n_states = min(self.n_states, len(both) // 10)
        km = KMeans(n_states, n_init=3, random_state=self.random_state).fit(both[::stride])
        labels = km.predict(both)
        self._floor = np.diag(np.maximum((self.noise_floor * Z.std(axis=0)) ** 2, jitter_variance(Z, lengths)))
        self._ridge = np.append(self.shrinkage * np.var(phi[:, :-1], axis=0), 0.0)
        onehot = np.eye(n_states)[labels]
        self._prior_cov = np.cov(Z - phi @ np.linalg.lstsq(phi, Z, rcond=None)[0], rowvar=False).reshape(
            Z.shape[1], Z.shape[1]
        )
        params = self._solve(core.ar_stats(Z, phi, onehot))
        counts = np.zeros((n_states, n_states))
        for a, b in zip(*core.sequence_bounds(lengths), strict=True):
            np.add.at(counts, (labels[a : b - 1], labels[a + 1 : b]), 1.0)
        trans = core.sticky_transitions(counts, 0.0)
        return params, trans, np.full(n_states, 1.0 / n_states)

    def _solve(self, stats: core.ARStats) -> core.ARParams:
        """Dynamics of every state from its statistics, with the fit's priors."""
        return core.solve_ar(stats, self._ridge, self._prior_cov, self._prior_cov.shape[0] + 2.0, self._floor)

    def _scan_kappa(self, loglik: np.ndarray, counts: np.ndarray, lengths: np.ndarray, start_p: np.ndarray) -> float:
        """Stickiness whose Viterbi median syllable lasts ``target_duration_s`` with these emissions (bisection)."""
        target = self.target_duration_s * self.fps_

        def median(kappa: float) -> float:
            trans = core.sticky_transitions(counts, kappa)
            return median_syllable(core.viterbi(loglik, lengths, start_p, trans, self.min_frames), lengths)

        lo, hi = 0.0, math.log1p(_KAPPA_MAX)
        if median(0.0) >= target:
            return 0.0
        for _ in range(12):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if median(math.expm1(mid)) < target else (lo, mid)
        return float(math.expm1(hi))

    def _em(
        self, Z: np.ndarray, phi: np.ndarray, w: np.ndarray, lengths: np.ndarray, state: dict[str, Any], kappa: float
    ) -> tuple[np.ndarray, np.ndarray, float]:
        """Run EM from ``state`` (params, trans, start) with stickiness ``kappa``; update ``state`` in place."""
        previous = -np.inf
        for _ in range(self.n_iter):
            loglik = core.ar_loglik(Z, phi, state["params"]) * w[:, None]
            gamma, counts, first, total = core.forward_backward(
                loglik, lengths, state["start"], state["trans"], self.min_frames
            )
            state["params"] = self._solve(core.ar_stats(Z, phi, gamma))
            state["trans"] = core.sticky_transitions(counts, kappa)
            state["start"] = (first + 1e-3) / (first + 1e-3).sum()
            state["iterations"] = state.get("iterations", 0) + 1
            per_frame = total / len(Z)
            if per_frame - previous < self.tol:
                break
            previous = per_frame
        return gamma, counts, per_frame

    def _em_phases(
        self,
        Z: np.ndarray,
        phi: np.ndarray,
        w: np.ndarray,
        lengths: np.ndarray,
        params: core.ARParams,
        trans: np.ndarray,
        start_p: np.ndarray,
    ) -> None:
        """EM in phases, the stickiness re-scanned before each (``kappa="auto"``) or fixed."""
        kappa = float(self.kappa) if not isinstance(self.kappa, str) else 0.0
        state: dict[str, Any] = {"params": params, "trans": trans, "start": start_p, "kappa": kappa, "scan": []}
        counts = trans * len(Z) / len(trans)
        for round_ in range(_KAPPA_ROUNDS if isinstance(self.kappa, str) else 1):
            gamma, counts, per_frame = self._phase(Z, phi, w, lengths, state, counts, round_)
        self._state = state
        self._gamma = gamma
        self._counts = counts
        self.log_likelihood_ = per_frame

    def _phase(
        self,
        Z: np.ndarray,
        phi: np.ndarray,
        w: np.ndarray,
        lengths: np.ndarray,
        state: dict[str, Any],
        counts: np.ndarray,
        round_: int,
    ) -> tuple[np.ndarray, np.ndarray, float]:
        """One EM phase: with ``kappa="auto"`` the stickiness is first scanned with the current dynamics."""
        if isinstance(self.kappa, str):
            loglik = core.ar_loglik(Z, phi, state["params"]) * w[:, None]
            kappa = self._scan_kappa(loglik, counts, lengths, state["start"])
            state["trans"] = core.sticky_transitions(counts, kappa)
            decoded = core.viterbi(loglik, lengths, state["start"], state["trans"], self.min_frames)
            seconds = median_syllable(decoded, lengths) / self.fps_
            state["scan"].append({"round": round_, "kappa": kappa, "median_duration_s": seconds})
            state["kappa"] = kappa
        return self._em(Z, phi, w, lengths, state, state["kappa"])

    def _reduce_states(self, Z: np.ndarray, phi: np.ndarray, w: np.ndarray, lengths: np.ndarray) -> None:
        """Drop rarely used states, merge near-identical ones, refit, and number the states by usage."""
        state, gamma, counts = self._state, self._gamma, self._counts
        n = gamma.shape[1]
        groups = [[k] for k in range(n)]
        stats = core.ar_stats(Z, phi, gamma)
        mapping = self._merge_plan(stats)
        n_new = int(mapping.max()) + 1
        if n_new < n:
            groups = [[k for k in range(n) if mapping[k] == g] for g in range(n_new)]
            onehot = np.eye(n_new)[mapping]
            merged = stats.merged(mapping, n_new)
            state["params"] = self._solve(merged)
            merged_counts = onehot.T @ counts @ onehot
            state["trans"] = core.sticky_transitions(merged_counts, state["kappa"])
            state["start"] = state["start"] @ onehot
            state["start"] = (state["start"] + 1e-3) / (state["start"] + 1e-3).sum()
            _, _, self.log_likelihood_ = self._phase(Z, phi, w, lengths, state, merged_counts, len(state["scan"]))
        self.kappa_ = state["kappa"]
        self.kappa_scan_ = state["scan"]
        loglik = core.ar_loglik(Z, phi, state["params"]) * w[:, None]
        decoded = core.viterbi(loglik, lengths, state["start"], state["trans"], self.min_frames)
        usage = np.bincount(decoded, minlength=len(groups)) / len(decoded)
        order = np.lexsort((np.arange(len(usage)), -usage))
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        decoded = inverse[decoded]
        self.coefs_ = state["params"].coefs[order]
        self.covars_ = state["params"].covars[order]
        self.transmat_ = state["trans"][np.ix_(order, order)]
        self.startprob_ = state["start"][order]
        self.usage_ = usage[order]
        self.merged_from_ = [groups[k] for k in order]
        self.n_states_ = len(order)
        self.latent_dim_ = Z.shape[1]
        self.n_iter_ = int(state["iterations"])
        durations = syllable_durations(decoded, lengths)
        self.median_duration_s_ = float(np.median(durations)) / self.fps_
        self.short_syllable_share_ = float(np.mean(durations < 3))

    def _merge_limit(self, stats: core.ARStats) -> float:
        """Most log-likelihood (total nats) a merge may lose: ``merge_threshold`` per fit frame, or BIC's price."""
        if self.merge_threshold == "bic":
            d, p = stats.xp.shape[1:]
            n_params = d * p + d * (d + 1) + d + len(stats.n)  # dynamics, noise, posture, one row of transitions
            return 0.5 * n_params * math.log(max(float(stats.n.sum()), 2.0))
        return float(self.merge_threshold) * float(stats.n.sum())

    def _merge_plan(self, stats: core.ARStats) -> np.ndarray:
        """Map each state to its group: rare states join their closest state, then close pairs merge greedily.

        The pair whose shared dynamics lose the least log-likelihood in total
        merges first; merging stops when the cheapest merge loses more than
        :meth:`_merge_limit`.
        """
        mapping = np.arange(len(stats.n))
        current = stats
        total = float(stats.n.sum())
        limit = self._merge_limit(stats)
        while len(current.n) > 1:
            k = len(current.n)
            costs = np.full((k, k), np.inf)
            for i in range(k):
                for j in range(i + 1, k):
                    costs[i, j] = core.merge_cost(current, i, j, self._floor, posture=True) * (
                        current.n[i] + current.n[j]
                    )
            rare = np.flatnonzero(current.n / total < self.min_usage)
            if len(rare):
                r = int(rare[np.argmin(current.n[rare])])
                pair_costs = np.minimum(costs[r], costs[:, r])
                pair_costs[r] = np.inf
                i, j = sorted((r, int(np.argmin(pair_costs))))
            else:
                i, j = np.unravel_index(int(np.argmin(costs)), costs.shape)
                log.debug(
                    "ARHMM merge: %d states, closest pair %d, %d loses %.3g nats (limit %.3g)",
                    k,
                    i,
                    j,
                    costs[i, j],
                    limit,
                )
                if costs[i, j] >= limit:
                    break
            step = np.arange(k)
            step[j] = i
            step[step > j] -= 1
            mapping = step[mapping]
            current = current.merged(step, k - 1)
        return mapping

    # ------------------------------------------------------------------ applying
    def _decode_rows(self, samples: SessionSamples, weight: np.ndarray, posterior: bool = False) -> np.ndarray:
        """Viterbi states (or posteriors) of the valid rows of ``samples``, each sequence on its own."""
        valid = samples.valid
        lengths = samples.lengths()
        if not valid.any():
            return np.zeros((0, self.n_states_)) if posterior else np.zeros(0, dtype=np.int64)
        with threadpool_limits(limits=1):
            Z = self._latent(samples.X[valid])
            phi = core.lagged_design(Z, lengths, self.n_lags)
            params = core.ARParams(self.coefs_, self.covars_)
            w = core.lagged_min(weight[valid], lengths, self.n_lags)
            loglik = core.ar_loglik(Z, phi, params) * w[:, None]
            if posterior:
                return core.forward_backward(loglik, lengths, self.startprob_, self.transmat_, self.min_frames)[0]
            return core.viterbi(loglik, lengths, self.startprob_, self.transmat_, self.min_frames)

    def predict(self, X: Any, lengths: Any = None) -> np.ndarray:
        """Most likely state of every frame; -1 where the pose is incomplete.

        Each animal's sequence of frames is decoded on its own with the fitted
        parameters: the states of a session do not depend on the other
        sessions given with it.

        Returns
        -------
        numpy.ndarray
            ``(n_rows,)`` int64, rows ordered session, individual, time (use
            :meth:`label` to get them on the sessions).
        """
        self._check_fitted()
        samples, weight = self._samples(X, lengths)
        out = np.full(len(samples.X), -1, dtype=np.int64)
        out[samples.valid] = self._decode_rows(samples, weight)
        return out

    def predict_proba(self, X: Any, lengths: Any = None) -> np.ndarray:
        """Posterior probability of each state at every frame (forward-backward); NaN where the pose is incomplete."""
        self._check_fitted()
        samples, weight = self._samples(X, lengths)
        out = np.full((len(samples.X), self.n_states_), np.nan)
        out[samples.valid] = self._decode_rows(samples, weight, posterior=True)
        return out

    def label(self, data: SessionData) -> Any:
        """Add the per-frame ``syllable (time, individual)`` to one or many pose sessions (see :meth:`predict`).

        ``syllable`` is int64, -1 where the pose is incomplete, with attrs
        ``session``, ``n_states`` and the session's ``fps``; the inputs are
        not modified.
        """
        self._check_fitted()
        params = {k: v for k, v in self.get_params().items() if isinstance(v, int | float | str | type(None))}

        def decode(obj: Any) -> tuple[SessionSamples, np.ndarray]:
            samples, weight = self._samples(obj, None)
            return samples, self._decode_rows(samples, weight)

        return label_sessions(data, decode, self.n_states_, "ARHMM.label", params, self.label_variable)
