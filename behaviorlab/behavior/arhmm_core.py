"""The numerics of the autoregressive HMM: lagged designs, emissions, forward-backward, Viterbi and the M-step.

Each state ``k`` of the model is a linear dynamical system of order ``L``
on a ``d``-dimensional latent pose::

    x_t = A_k [x_{t-1}, ..., x_{t-L}, 1] + e_t,    e_t ~ N(0, Q_k)

(keypoint-MoSeq's AR-HMM, Wiltschko et al. 2015, Weinreb et al. 2024).
The functions here work on plain arrays of many sequences at once: rows
``X (n, d)`` with ``lengths`` that cut them into uninterrupted sequences.
The first ``L`` frames of a sequence have no full history: their lags repeat
the sequence's first frame, so every frame gets a state and a sequence is
decoded the same wherever it sits among others.

Forward-backward and Viterbi are compiled with numba (a dependency of
umap-learn, named in ``pyproject.toml``): they loop over frames, ``O(n K^2)``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba
import numpy as np

__all__ = [
    "ARParams",
    "ARStats",
    "ar_loglik",
    "ar_stats",
    "forward_backward",
    "lagged_design",
    "lagged_min",
    "merge_cost",
    "sequence_bounds",
    "solve_ar",
    "sticky_transitions",
    "viterbi",
]

_LOG_2PI = math.log(2.0 * math.pi)
#: Most evidence (nats) one frame can give against a state, relative to the frame's best state.
OUTLIER_NATS = 50.0


class ARParams(NamedTuple):
    """Dynamics of every state: ``coefs (K, d, d*L + 1)`` (lags then bias) and noise ``covars (K, d, d)``."""

    coefs: np.ndarray
    covars: np.ndarray


class ARStats(NamedTuple):
    """Weighted sufficient statistics of each state's regression of ``x_t`` on its lagged design ``phi_t``.

    ``n (K,)`` weights, ``pp (K, p, p)`` = sum w phi phi', ``xp (K, d, p)`` =
    sum w x phi', ``xx (K, d, d)`` = sum w x x'.
    """

    n: np.ndarray
    pp: np.ndarray
    xp: np.ndarray
    xx: np.ndarray

    def merged(self, mapping: np.ndarray, n_new: int) -> ARStats:
        """Return the statistics of states grouped by ``mapping`` (old state -> new state)."""
        out = [np.zeros((n_new, *a.shape[1:])) for a in self]
        for old, new in enumerate(mapping):
            for acc, a in zip(out, self, strict=True):
                acc[new] += a[old]
        return ARStats(*out)


def sequence_bounds(lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the start and stop row of each sequence of ``lengths`` (empty sequences dropped)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    stops = np.cumsum(lengths)
    starts = stops - lengths
    keep = lengths > 0
    return starts[keep], stops[keep]


def lagged_design(X: np.ndarray, lengths: np.ndarray, n_lags: int) -> np.ndarray:
    """Return ``phi (n, d * n_lags + 1)``: the previous ``n_lags`` frames of each row (most recent first) and a 1.

    Lags never cross a sequence boundary: before a sequence's first frame,
    the first frame is repeated.
    """
    n, d = X.shape
    phi = np.empty((n, d * n_lags + 1))
    phi[:, -1] = 1.0
    starts, stops = sequence_bounds(lengths)
    for a, b in zip(starts, stops, strict=True):
        seq = X[a:b]
        padded = np.concatenate([np.repeat(seq[:1], n_lags, axis=0), seq])
        for lag in range(1, n_lags + 1):
            phi[a:b, (lag - 1) * d : lag * d] = padded[n_lags - lag : n_lags - lag + (b - a)]
    return phi


def lagged_min(w: np.ndarray, lengths: np.ndarray, n_lags: int) -> np.ndarray:
    """Return each row's smallest weight over itself and its ``n_lags`` previous rows of the same sequence.

    A step's evidence is only as good as the least reliable frame it uses:
    a jittered frame also corrupts the ``n_lags`` steps that take it as history.
    """
    out = np.asarray(w, dtype=np.float64).copy()
    starts, stops = sequence_bounds(lengths)
    for a, b in zip(starts, stops, strict=True):
        seq = w[a:b]
        for lag in range(1, min(n_lags, b - a - 1) + 1):
            out[a + lag : b] = np.minimum(out[a + lag : b], seq[: b - a - lag])
    return out


def ar_loglik(X: np.ndarray, phi: np.ndarray, params: ARParams) -> np.ndarray:
    """Return ``(n, K)`` log densities of each frame's step under each state's dynamics."""
    n, d = X.shape
    out = np.empty((n, len(params.coefs)))
    for k, (coef, cov) in enumerate(zip(params.coefs, params.covars, strict=True)):
        chol = np.linalg.cholesky(cov)
        resid = X - phi @ coef.T
        white = np.linalg.solve(chol, resid.T)  # (d, n)
        logdet = 2.0 * np.log(np.diag(chol)).sum()
        out[:, k] = -0.5 * (np.einsum("ij,ij->j", white, white) + logdet + d * _LOG_2PI)
    return out


def ar_stats(X: np.ndarray, phi: np.ndarray, weights: np.ndarray) -> ARStats:
    """Return the sufficient statistics of each state's regression, frames weighted by ``weights (n, K)``."""
    n_states = weights.shape[1]
    p, d = phi.shape[1], X.shape[1]
    pp = np.empty((n_states, p, p))
    xp = np.empty((n_states, d, p))
    xx = np.empty((n_states, d, d))
    for k in range(n_states):
        w = weights[:, k]
        wphi = phi * w[:, None]
        pp[k] = wphi.T @ phi
        xp[k] = (X * w[:, None]).T @ phi
        xx[k] = (X * w[:, None]).T @ X
    return ARStats(weights.sum(axis=0), pp, xp, xx)


def solve_ar(
    stats: ARStats, ridge: np.ndarray, prior_cov: np.ndarray, prior_weight: float, floor: np.ndarray | None = None
) -> ARParams:
    """Maximum a posteriori dynamics of each state from its statistics.

    The coefficients get a ridge penalty ``ridge (p,)`` per design column
    and per frame of the state (0 for the bias: the penalty pulls the
    dynamics towards a fixed posture, not towards the origin); the noise covariance a conjugate prior worth
    ``prior_weight`` frames of ``prior_cov``, so that a rarely visited
    state keeps a sane covariance, plus ``floor`` (a covariance every
    state's noise has at least: the measurement noise of the keypoints).
    """
    n_states, d, p = stats.xp.shape
    coefs = np.empty((n_states, d, p))
    covars = np.empty((n_states, d, d))
    penalty = np.diag(np.asarray(ridge, dtype=np.float64))
    for k in range(n_states):
        n = stats.n[k]
        gram = stats.pp[k] + max(n, 1.0) * penalty + 1e-9 * np.eye(p)
        coef = np.linalg.solve(gram, stats.xp[k].T).T
        # sum w (x - C phi)(x - C phi)' = xx - C xp' - xp C' + C pp C'
        resid = stats.xx[k] - coef @ stats.xp[k].T - stats.xp[k] @ coef.T + coef @ stats.pp[k] @ coef.T
        cov = (resid + prior_weight * prior_cov) / (n + prior_weight)
        coefs[k] = coef
        covars[k] = 0.5 * (cov + cov.T) + (0.0 if floor is None else floor)
    return ARParams(coefs, covars)


def merge_cost(stats: ARStats, i: int, j: int, floor: np.ndarray | None = None, posture: bool = False) -> float:
    """Loss of log-likelihood per frame when states ``i`` and ``j`` share one set of dynamics.

    From the statistics alone: a Gaussian regression fitted on ``n`` frames
    with residual covariance ``S`` and noise ``C = S + floor`` has
    log-likelihood ``-n/2 (log det C + tr(C^-1 S) + d log 2 pi)``; the cost
    is the separate fits' total minus the joint fit's, divided by the joint
    frames (nats per frame, >= 0).  With ``posture``, the same loss for a
    Gaussian of the frames themselves (their mean posture and its spread) is
    added: dynamics near ``x_t = x_t-1`` fit any still posture alike, so two
    states still in different postures (resting and rearing) would otherwise
    cost nothing to merge.
    """

    def gaussian(n: float, resid: np.ndarray) -> float:
        d = resid.shape[0]
        resid = 0.5 * (resid + resid.T)
        cov = resid + (1e-9 * np.eye(d) if floor is None else floor)
        sign, logdet = np.linalg.slogdet(cov)
        return -0.5 * n * ((logdet if sign > 0 else 0.0) + np.trace(np.linalg.solve(cov, resid)) + d * _LOG_2PI)

    def best(n: float, pp: np.ndarray, xp: np.ndarray, xx: np.ndarray) -> float:
        coef = np.linalg.lstsq(pp + 1e-9 * np.eye(len(pp)), xp.T, rcond=None)[0].T
        total = gaussian(n, (xx - coef @ xp.T) / max(n, 1.0))
        if posture:  # the design's last column is 1, so xp[:, -1] sums the frames
            mean = xp[:, -1] / max(n, 1.0)
            total += gaussian(n, xx / max(n, 1.0) - np.outer(mean, mean))
        return total

    parts = [best(stats.n[k], stats.pp[k], stats.xp[k], stats.xx[k]) for k in (i, j)]
    joint = best(*(a[i] + a[j] for a in stats))
    return max(0.0, (sum(parts) - joint) / max(stats.n[i] + stats.n[j], 1.0))


def sticky_transitions(counts: np.ndarray, kappa: float, pseudo: float = 1e-3) -> np.ndarray:
    """Transition matrix from expected counts with a sticky prior of ``kappa`` times each state's own frames.

    A state left after ``1 / (1 - p)`` frames on average by the counts alone
    is left after about ``(1 + kappa) / (1 - p)``: ``kappa`` multiplies
    bout durations, whatever the number of frames.
    """
    out = counts + kappa * np.diag(counts.sum(axis=1)) + pseudo
    return out / out.sum(axis=1, keepdims=True)


@numba.njit(cache=True)
def _forward_backward(lik, starts, stops, start_p, trans, m):  # pragma: no cover - compiled
    # states are chains of m sub-states (k, 0) .. (k, m-1): a syllable lasts at least m frames
    n, k = lik.shape
    ns = k * m
    gamma = np.zeros((n, k))
    alpha = np.empty((n, ns))
    scale = np.empty(n)
    counts = np.zeros((k, k))
    first = np.zeros(k)
    beta = np.empty(ns)
    nxt = np.empty(ns)
    post = np.empty(ns)
    for s in range(len(starts)):
        a, b = starts[s], stops[s]
        total = 0.0
        for q in range(ns):
            alpha[a, q] = start_p[q // m] / m * lik[a, q // m]
            total += alpha[a, q]
        scale[a] = total
        for q in range(ns):
            alpha[a, q] /= total
        for t in range(a + 1, b):
            total = 0.0
            for j in range(k):
                enter = 0.0
                for i in range(k):
                    if i != j:
                        enter += alpha[t - 1, i * m + m - 1] * trans[i, j]
                base = j * m
                alpha[t, base] = enter
                for i in range(1, m):
                    alpha[t, base + i] = alpha[t - 1, base + i - 1]
                alpha[t, base + m - 1] += alpha[t - 1, base + m - 1] * trans[j, j]
                for i in range(m):
                    alpha[t, base + i] *= lik[t, j]
                    total += alpha[t, base + i]
            scale[t] = total
            for q in range(ns):
                alpha[t, q] /= total
        for q in range(ns):
            beta[q] = 1.0
            gamma[b - 1, q // m] += alpha[b - 1, q]
        for t in range(b - 2, a - 1, -1):
            for q in range(ns):
                nxt[q] = lik[t + 1, q // m] * beta[q] / scale[t + 1]
            norm = 0.0
            for i in range(k):
                last = i * m + m - 1
                acc = trans[i, i] * nxt[last]
                counts[i, i] += alpha[t, last] * trans[i, i] * nxt[last]
                for j in range(k):
                    if j != i:
                        term = trans[i, j] * nxt[j * m]
                        counts[i, j] += alpha[t, last] * term
                        acc += term
                for r in range(m - 1):
                    post[i * m + r] = nxt[i * m + r + 1]
                post[last] = acc
            for q in range(ns):
                beta[q] = post[q]
                norm += alpha[t, q] * beta[q]
            for q in range(ns):
                gamma[t, q // m] += alpha[t, q] * beta[q] / norm
        for j in range(k):
            first[j] += gamma[a, j]
    return gamma, counts, first, np.log(scale).sum()


@numba.njit(cache=True)
def _viterbi(loglik, starts, stops, log_start, log_trans, m):  # pragma: no cover - compiled
    n, k = loglik.shape
    ns = k * m
    out = np.empty(n, dtype=np.int64)
    back = np.empty((n, ns), dtype=np.int32)
    delta = np.empty(ns)
    new = np.empty(ns)
    log_m = np.log(m)
    for s in range(len(starts)):
        a, b = starts[s], stops[s]
        for q in range(ns):
            delta[q] = log_start[q // m] - log_m + loglik[a, q // m]
        for t in range(a + 1, b):
            for j in range(k):
                base = j * m
                best, arg = -np.inf, 0
                for i in range(k):
                    if i != j:
                        v = delta[i * m + m - 1] + log_trans[i, j]
                        if v > best:
                            best, arg = v, i * m + m - 1
                new[base] = best
                back[t, base] = arg
                for i in range(1, m):
                    new[base + i] = delta[base + i - 1]
                    back[t, base + i] = base + i - 1
                stay = delta[base + m - 1] + log_trans[j, j]
                if stay > new[base + m - 1]:
                    new[base + m - 1] = stay
                    back[t, base + m - 1] = base + m - 1
                for i in range(m):
                    new[base + i] += loglik[t, j]
            for q in range(ns):
                delta[q] = new[q]
        state = 0
        for q in range(1, ns):
            if delta[q] > delta[state]:
                state = q
        out[b - 1] = state // m
        for t in range(b - 1, a, -1):
            state = back[t, state]
            out[t - 1] = state // m
    return out


def _capped(loglik: np.ndarray) -> np.ndarray:
    """Log densities with each frame's evidence against a state capped at :data:`OUTLIER_NATS`.

    A robust emission: as if every state also explained any frame with a
    tiny probability (a tracking outlier).  Without it, one frame that no
    state but a far one explains can make every path through a
    minimum-duration chain impossible in floating point (all forward
    probabilities underflow to zero).
    """
    return np.maximum(loglik, loglik.max(axis=1, keepdims=True) - OUTLIER_NATS)


def forward_backward(
    loglik: np.ndarray, lengths: np.ndarray, start_p: np.ndarray, trans: np.ndarray, min_duration: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Posteriors of every sequence: ``gamma (n, K)``, expected transition counts, first-frame posteriors, log L.

    The log densities are capped as in :func:`_capped` (here and in :func:`viterbi`).

    With ``min_duration`` m > 1 each state is a chain of m sub-states that
    share its emissions (a hidden semi-Markov model whose durations are
    ``m - 1`` plus a geometric number of frames): a state once entered lasts
    at least m frames, except where a sequence starts or ends.  The counts
    are of the transitions between states and of the self-transitions at the
    chain's last sub-state.
    """
    starts, stops = sequence_bounds(lengths)
    peak = loglik.max(axis=1, keepdims=True)
    lik = np.exp(_capped(loglik) - peak)
    gamma, counts, first, log_scale = _forward_backward(lik, starts, stops, start_p, trans, int(min_duration))
    return gamma, counts, first, float(log_scale + peak.sum())


def viterbi(
    loglik: np.ndarray, lengths: np.ndarray, start_p: np.ndarray, trans: np.ndarray, min_duration: int = 1
) -> np.ndarray:
    """Most likely state of every frame, each sequence on its own (``min_duration``: see :func:`forward_backward`)."""
    starts, stops = sequence_bounds(lengths)
    with np.errstate(divide="ignore"):
        return _viterbi(_capped(loglik), starts, stops, np.log(start_p), np.log(trans), int(min_duration))
