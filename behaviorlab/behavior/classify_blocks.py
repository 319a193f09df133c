"""Long annotations read in blocks for a classifier's fit: memory bounded whatever the hours annotated.

:meth:`BehaviorClassifier.fit <behaviorlab.behavior.classify.BehaviorClassifier.fit>`
builds window features for every labeled row (frame x individual) it reads.
A few minutes of annotation make a few hundred thousand rows at most; ten
annotated hours would make 1 million rows of some 700 window features
(3 GB).  Each model trains on ``max_train_frames`` rows anyway, so past
:data:`FIT_ROWS_PER_TRAIN_FRAME` times that many rows the fit reads a seeded
random set of :data:`FIT_BLOCK_S`-second blocks holding that many rows
(:func:`fit_blocks`).  Each block is read with its session's frames around it
as context, unlabeled, so its window features equal the whole session's.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from behaviorlab._blocks import blocks
from behaviorlab.behavior.classify_features import LABEL_DIMS, align_labels, base_features, pair_sessions
from behaviorlab.features.windows import frame_rate

__all__ = ["FIT_BLOCK_S", "FIT_ROWS_PER_TRAIN_FRAME", "fit_blocks", "fit_sessions"]

log = logging.getLogger(__name__)

#: A fit reads at most this many times ``max_train_frames`` labeled rows (frame x individual).
FIT_ROWS_PER_TRAIN_FRAME = 10
#: Length of the blocks a long annotation is read in, in seconds.
FIT_BLOCK_S = 60.0


def fit_sessions(clf: Any, features: Any, labels: Any) -> tuple[Any, Any]:
    """Return what ``clf.fit`` reads: the sessions as given, or a random set of blocks of long annotations.

    ``clf`` is a :class:`~behaviorlab.behavior.classify.BehaviorClassifier`
    whose ``behaviors_`` are set; it reads at most :data:`FIT_ROWS_PER_TRAIN_FRAME`
    times its ``max_train_frames`` rows, the blocks drawn with its ``random_state``.
    """
    max_rows = None if clf.max_train_frames is None else FIT_ROWS_PER_TRAIN_FRAME * int(clf.max_train_frames)
    seed = clf.random_state
    rng = np.random.default_rng([seed, 2] if isinstance(seed, int | np.integer) else seed)
    found = fit_blocks(
        pair_sessions(features, labels),
        variable=clf.variable,
        behaviors=clf.behaviors_,
        max_rows=max_rows,
        context_s=max(clf.windows_s, default=0.0),
        rng=rng,
    )
    return (features, labels) if found is None else found


def fit_blocks(
    triples: Sequence[tuple[str, Any, Any]],
    *,
    variable: str,
    behaviors: Sequence[str],
    max_rows: int | None,
    context_s: float,
    rng: np.random.Generator,
) -> tuple[dict[str, xr.DataArray], dict[str, xr.DataArray]] | None:
    """Return the blocks a fit reads (features and labels by block name), or None when it reads every session whole.

    Parameters
    ----------
    triples
        ``(name, features, labels)`` of each labeled session
        (:func:`~behaviorlab.behavior.classify_features.pair_sessions`).
    variable, behaviors
        The classifier's feature variable and the behaviors it learns.
    max_rows
        The most labeled rows (frames x individuals) to read; None: every row.
    context_s
        The window features' reach on each side, in seconds: each block is read
        with this much of its session around it, and those frames are unlabeled
        (NaN: neither learned nor scored).
    rng
        Draws the blocks.

    Returns
    -------
    tuple or None
        ``(features, labels)``: mappings ``"<session>[<start>:<stop>]"`` ->
        the block's ``(time, individual, feature)`` base features (read into
        memory) and float ``(time, individual, behavior)`` labels. Blocks next
        to each other in a session are read as one. None when the sessions
        hold at most ``max_rows`` rows.
    """
    bases = [base_features(name, obj, variable) for name, obj, _ in triples]
    sizes = [(base.sizes["time"], base.sizes["individual"]) for base in bases]
    if max_rows is None or sum(t * i for t, i in sizes) <= max_rows:
        return None
    rates = []
    for base, (name, _, lab) in zip(bases, triples, strict=True):
        rates.append(frame_rate(base, None, f"session {name!r}"))
        align_labels(name, lab, base, rates[-1], behaviors)  # every session's labels checked, as a whole fit would
    candidates = []  # (session position, start, stop)
    for s, fps in enumerate(rates):
        size = max(1, math.floor(FIT_BLOCK_S * fps + 0.5))
        candidates.extend((s, block.start, block.stop) for block in blocks(sizes[s][0], size, 0))
    chosen, rows = [], 0
    for k in rng.permutation(len(candidates)):
        if rows >= max_rows:
            break
        s, start, stop = candidates[k]
        chosen.append((s, start, stop))
        rows += (stop - start) * sizes[s][1]
    features: dict[str, xr.DataArray] = {}
    labels: dict[str, xr.DataArray] = {}
    for s, start, stop in _merged(sorted(chosen)):
        name, _, lab = triples[s]
        base, fps = bases[s], rates[s]
        context = math.ceil(context_s * fps) + 2
        lo, hi = max(0, start - context), min(sizes[s][0], stop + context)
        key = f"{name}[{start}:{stop}]"
        features[key] = base.isel(time=slice(lo, hi)).compute()
        part = lab.transpose(*LABEL_DIMS).isel(time=slice(lo, hi)).astype(np.float32).compute()
        part[: start - lo] = np.nan  # context frames: read for the windows, not learned from
        part[stop - lo :] = np.nan
        labels[key] = part
    log.info(
        "the annotations hold %d rows: the fit reads %d of them, in %d blocks of %g s or runs of them",
        sum(t * i for t, i in sizes),
        rows,
        len(chosen),
        FIT_BLOCK_S,
    )
    return features, labels


def _merged(chosen: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Join sorted ``(session, start, stop)`` blocks that touch into one."""
    out: list[tuple[int, int, int]] = []
    for s, start, stop in chosen:
        if out and out[-1][0] == s and out[-1][2] == start:
            out[-1] = (s, out[-1][1], stop)
        else:
            out.append((s, start, stop))
    return out
