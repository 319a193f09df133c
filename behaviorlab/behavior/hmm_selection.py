"""Choose the number of states of :class:`~behaviorlab.behavior.ethogram.EthogramHMM`.

Every candidate number of states is fitted, then one is chosen by BIC
(:func:`select_by_bic`) or, with ``criterion="heldout"``, by the mean
log-likelihood per frame of chunks held out from the fit: the fewest states
within one standard error of the best (:func:`select_by_heldout`).
:func:`select_n_states` runs either and returns the selection table that
becomes ``EthogramHMM.selection_``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from behaviorlab.behavior.hmm_sequences import split_heldout
from behaviorlab.errors import SchemaError

__all__ = [
    "FitHMM",
    "check_any_fit",
    "n_parameters",
    "select_by_bic",
    "select_by_heldout",
    "select_n_states",
    "selection_record",
]

log = logging.getLogger(__name__)

#: Fits a model: ``(Z, lengths, n_states) -> (model or None, total log-likelihood)``.
FitHMM = Callable[[np.ndarray, np.ndarray, int], tuple[Any, float]]

_COLUMNS = ["n_states", "n_params", "log_likelihood", "bic", "heldout_loglik", "heldout_se", "chosen"]


def n_parameters(n_states: int, n_dims: int, covariance_type: str) -> int:
    """Free parameters of a Gaussian HMM: start probabilities, transitions, means and covariances."""
    k = (n_states - 1) + n_states * (n_states - 1) + n_states * n_dims
    k += {
        "diag": n_states * n_dims,
        "spherical": n_states,
        "full": n_states * n_dims * (n_dims + 1) // 2,
        "tied": n_dims * (n_dims + 1) // 2,
    }[covariance_type]
    return k


def selection_record(n: int, ll: float, n_frames: int, n_dims: int, covariance_type: str) -> dict[str, Any]:
    """Return the selection table's row of a fit with ``n`` states and total log-likelihood ``ll``."""
    k = n_parameters(n, n_dims, covariance_type)
    ok = np.isfinite(ll)
    return {
        "n_states": n,
        "n_params": k,
        "log_likelihood": ll if ok else np.nan,
        "bic": -2.0 * ll + k * math.log(n_frames) if ok else np.nan,
        "heldout_loglik": np.nan,
        "heldout_se": np.nan,
    }


def check_any_fit(goodness: np.ndarray, candidates: list[int]) -> None:
    """Raise when no candidate number of states got a fit (every ``goodness`` is NaN or infinite)."""
    if not np.isfinite(goodness).any():
        raise SchemaError(
            f"EthogramHMM: EM failed for every number of states in {candidates}; "
            "check the features for constant or duplicated columns, or try fewer states"
        )


def select_by_heldout(
    Z: np.ndarray,
    lengths: np.ndarray,
    candidates: list[int],
    fit_hmm: FitHMM,
    covariance_type: str,
    heldout_fraction: float,
    rng: np.random.Generator,
) -> tuple[int, Any, list[dict[str, Any]]]:
    """Choose by held-out log-likelihood: ``(n_states, model refitted on every fit frame, records)``."""
    train_rows, train_lengths, held = split_heldout(lengths, heldout_fraction, rng)
    Ztrain = Z[train_rows]
    records, chunk_scores = [], []
    for n in candidates:
        model, ll = fit_hmm(Ztrain, train_lengths, n)
        if model is None:
            chunk_scores.append([np.nan] * len(held))
        else:
            chunk_scores.append([model.score(Z[a:b]) / (b - a) for a, b in held])
        records.append(selection_record(n, ll, len(Ztrain), Z.shape[1], covariance_type))
    scores = np.asarray(chunk_scores)  # (candidates, held-out chunks), per frame
    scores[~np.isfinite(scores).all(axis=1)] = -np.inf
    weights = np.array([b - a for a, b in held], dtype=np.float64)
    with np.errstate(invalid="ignore"):
        mean = scores @ weights / weights.sum()
        best = int(np.argmax(mean))
        diffs = scores - scores[best]
        se = diffs.std(axis=1, ddof=1) / np.sqrt(len(held)) if len(held) > 1 else np.zeros(len(candidates))
    check_any_fit(mean, candidates)
    chosen_i = int(np.flatnonzero(mean >= mean[best] - np.nan_to_num(se))[0])
    for record, m, s in zip(records, mean, se, strict=True):
        record["heldout_loglik"], record["heldout_se"] = float(m), float(s)
    chosen = candidates[chosen_i]
    final, _ = fit_hmm(Z, lengths, chosen)
    if final is None:
        raise SchemaError(f"EthogramHMM: EM with {chosen} states failed on the fit frames")
    return chosen, final, records


def select_by_bic(
    Z: np.ndarray, lengths: np.ndarray, candidates: list[int], fit_hmm: FitHMM, covariance_type: str
) -> tuple[int, Any, list[dict[str, Any]]]:
    """Choose by the lowest BIC: ``(n_states, its model, records)``."""
    records, models = [], {}
    for n in candidates:
        models[n], ll = fit_hmm(Z, lengths, n)
        records.append(selection_record(n, ll, len(Z), Z.shape[1], covariance_type))
    bics = np.array([r["bic"] for r in records])
    check_any_fit(-bics, candidates)
    chosen = candidates[int(np.nanargmin(bics))]
    return chosen, models[chosen], records


def select_n_states(
    Z: np.ndarray,
    lengths: np.ndarray,
    candidates: list[int],
    fit_hmm: FitHMM,
    *,
    criterion: str,
    covariance_type: str,
    heldout_fraction: float,
    rng: np.random.Generator,
) -> tuple[int, Any, pd.DataFrame]:
    """Fit every candidate and choose one: ``(n_states, its fitted model, selection table)``.

    Parameters
    ----------
    Z, lengths
        The reduced fit frames and the lengths of their sequences.
    candidates
        Numbers of states to try; with one, it is fitted and taken.
    fit_hmm
        Fits one number of states (the best of several EM runs).
    criterion, covariance_type, heldout_fraction
        As in :class:`~behaviorlab.behavior.ethogram.EthogramHMM`.
    rng
        Draws the held-out chunks.
    """
    if criterion == "heldout" and len(candidates) > 1:
        chosen, final, records = select_by_heldout(
            Z, lengths, candidates, fit_hmm, covariance_type, heldout_fraction, rng
        )
    else:
        chosen, final, records = select_by_bic(Z, lengths, candidates, fit_hmm, covariance_type)
    for record in records:
        record["chosen"] = record["n_states"] == chosen
    selection = pd.DataFrame.from_records(records, columns=_COLUMNS)
    if len(candidates) > 1 and chosen == candidates[-1]:
        log.warning(
            "EthogramHMM: %s chose %d states, the most tried; widen n_states_range to see if more fit better",
            criterion,
            chosen,
        )
    return chosen, final, selection
