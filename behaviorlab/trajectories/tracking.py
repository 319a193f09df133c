"""Identity tracking: per-frame detections of several animals -> tracks that keep each animal's identity.

A multi-animal pose model finds every animal in every frame but does not
know which is which: the order of the instances in a frame is meaningless,
and tracks written by other software may be broken into many short ids.
:class:`Tracker` links the instances over time:

1. each track predicts where its animal is in the next frame with a damped
   constant-velocity model on its last ``history`` observations;
2. the cost of giving a detection to a track is the NaN-aware mean keypoint
   distance between the detection and the predicted pose, blended with an
   instance-similarity term (an OKS-like share of matching keypoints, so a
   detection with only two keypoints fits worse than a complete one);
3. :func:`scipy.optimize.linear_sum_assignment` solves each frame, among
   the pairs cheaper than ``max_cost`` and maximising the summed margin
   ``max_cost - cost``, so one close pair beats two mediocre ones;
   detections of good quality are matched first and poor ones (false
   detections, fragments: low summed keypoint scores) only to the tracks
   left over, as ByteTrack does with low-score boxes;
4. a track that finds no detection is *lost* and keeps predicting for up
   to ``max_lost_frames`` frames, so the animal is re-identified when it
   reappears near the predicted place;
5. a good detection left over starts a new track, unless ``max_tracks``
   tracks exist: then it goes to the best-fitting track left without a
   detection (re-identification at any distance), or is dropped when there
   is none.  Poor detections never start tracks.

:func:`merge_fragments` joins tracks that never overlap in time, for
tracking without a limit first and capping afterwards.
``track_poses`` works on pose Datasets (input ``individual`` = unordered
instance slots, output ``individual`` = ``track_0, track_1, ...``);
``track_arrays`` on numpy arrays ``(time, instance, keypoint, space)``.
Tracks are scored in :mod:`behaviorlab.trajectories.track_scores`.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Any

import attrs
import numpy as np
import xarray as xr
from scipy.optimize import linear_sum_assignment

from behaviorlab.errors import SchemaError
from behaviorlab.schema import CONFIDENCE_DIMS, POSITION_DIMS, as_poses, log_step

__all__ = [
    "Tracker",
    "TrackingResult",
    "estimate_animal_size",
    "merge_fragments",
    "track_arrays",
    "track_poses",
]

log = logging.getLogger(__name__)

REFUSED_COST = 1e12  # stands in for a refused pair in linear_sum_assignment


# --------------------------------------------------------------------------- checks and helpers
def _non_negative(_inst: Any, attribute: attrs.Attribute, value: float) -> None:
    if not value >= 0:
        raise SchemaError(f"Tracker.{attribute.name} must be >= 0, got {value!r}")


def _positive_or_none(_inst: Any, attribute: attrs.Attribute, value: float | None) -> None:
    if value is not None and not value > 0:
        raise SchemaError(f"Tracker.{attribute.name} must be > 0 or None, got {value!r}")


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _check_positions(positions: Any, scores: Any, name: str = "positions") -> tuple[np.ndarray, np.ndarray]:
    """Validate ``(time, instance, keypoint, space)`` positions and ``(time, instance, keypoint)`` scores."""
    pos = np.asarray(positions)
    if pos.ndim != 4 or pos.shape[-1] not in (2, 3):
        raise SchemaError(
            f"{name} must have shape (time, instance, keypoint, space) with space 2 or 3, got {pos.shape}; "
            "for a pose Dataset use track_poses"
        )
    if not np.issubdtype(pos.dtype, np.number):
        raise SchemaError(f"{name} must be numeric, got dtype {pos.dtype}")
    pos = pos.astype(np.float64, copy=False)
    if scores is None:
        sc = np.where(np.isfinite(pos).all(axis=-1), 1.0, np.nan)
    else:
        sc = np.asarray(scores, dtype=np.float64)
        if sc.shape != pos.shape[:-1]:
            raise SchemaError(
                f"scores must have shape (time, instance, keypoint) = {pos.shape[:-1]} to match {name} "
                f"{pos.shape}, got {sc.shape}"
            )
    return pos, sc


def pairwise_mean_distance(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keypoint distances between poses ``a (n, K, S)`` and ``b (m, K, S)``.

    Returns
    -------
    dist : numpy.ndarray
        ``(n, m, K)`` distances, NaN where either keypoint is missing.
    mean : numpy.ndarray
        ``(n, m)`` mean over the keypoints present in both; ``inf`` when none are.
    """
    dist = np.sqrt(((a[:, None] - b[None, :]) ** 2).sum(axis=-1))
    valid = np.isfinite(dist)
    n_valid = valid.sum(axis=-1)
    total = np.where(valid, dist, 0.0).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n_valid > 0, total / np.maximum(n_valid, 1), np.inf)
    return dist, mean


def estimate_animal_size(positions: np.ndarray) -> float:
    """Typical animal size: the median bounding-box diagonal of the instances with at least 2 keypoints.

    Parameters
    ----------
    positions
        Keypoints, shape ``(..., keypoint, space)``; NaN marks a missing keypoint.

    Returns
    -------
    float
        Size in the units of ``positions`` (px); NaN when no instance has 2 keypoints.
    """
    pos = np.asarray(positions, dtype=np.float64)
    flat = pos.reshape(-1, *pos.shape[-2:])
    valid = np.isfinite(flat).all(axis=-1)
    keep = valid.sum(axis=-1) >= 2
    if not keep.any():
        return float("nan")
    flat = flat[keep]
    span = np.nanmax(flat, axis=1) - np.nanmin(flat, axis=1)
    return float(np.median(np.sqrt((span**2).sum(axis=-1))))


def identity_margins(cost: np.ndarray, det_of: np.ndarray) -> np.ndarray:
    """Per track, the smallest extra cost at which another assignment would have given it a different animal.

    Parameters
    ----------
    cost
        ``(n_tracks, n_detections)`` costs of one frame (px; ``inf`` = impossible).
    det_of
        ``(n_tracks,)`` the detection each track took, ``-1`` none.

    Returns
    -------
    numpy.ndarray
        ``(n_tracks,)``: for a track that took detection ``d``, the least of
        (a) taking another detection ``d2`` instead, and giving ``d`` to the
        track that had ``d2`` (a swap of two identities: both costs change),
        and (b) leaving ``d`` to a track that found nothing; ``inf`` when
        there is no alternative, ``0`` when the track's own cost is not
        finite, NaN for tracks without a detection.
    """
    n_tracks, n_det = cost.shape
    owner = np.full(n_det, -1, dtype=np.int64)
    for j, d in enumerate(det_of):
        if d >= 0:
            owner[d] = j
    out = np.full(n_tracks, np.nan)
    with np.errstate(invalid="ignore"):
        for j, d in enumerate(det_of):
            if d < 0:
                continue
            base = cost[j, d]
            if not np.isfinite(base):
                out[j] = 0.0
                continue
            best = np.inf
            for d2 in range(n_det):
                if d2 == d:
                    continue
                k = owner[d2]
                extra = cost[j, d2] - base
                if k >= 0:
                    extra += cost[k, d] - cost[k, d2]
                if np.isfinite(extra):
                    best = min(best, extra)
            for k in np.flatnonzero(det_of < 0):
                if np.isfinite(cost[k, d]):
                    best = min(best, cost[k, d] - base)
            out[j] = best
    return out


# --------------------------------------------------------------------------- tracks
class _Track:
    """One track's recent observations and its motion prediction."""

    __slots__ = ("history", "lost")

    def __init__(self, history: int) -> None:
        self.history: deque[tuple[int, np.ndarray]] = deque(maxlen=history)
        self.lost = 0  # frames since the last detection

    def observe(self, frame: int, pose: np.ndarray, *, reset: bool = False) -> None:
        if reset:
            self.history.clear()
        self.history.append((frame, pose))
        self.lost = 0

    def velocity(self) -> np.ndarray:
        """Mean velocity (space,) over the history, from the keypoints seen at both ends."""
        (f0, p0), (f1, p1) = self.history[0], self.history[-1]
        if f1 <= f0:
            return np.zeros(p1.shape[-1])
        step = p1 - p0
        ok = np.isfinite(step).all(axis=-1)
        if not ok.any():
            return np.zeros(p1.shape[-1])
        return step[ok].mean(axis=0) / (f1 - f0)

    def predict(self, frame: int, damping: float) -> np.ndarray:
        """Pose (keypoint, space) expected at ``frame``: last pose, gaps filled from older ones, moved on."""
        f_last, pose = self.history[-1]
        v = self.velocity()
        pose = pose.copy()
        missing = ~np.isfinite(pose).all(axis=-1)
        for f_old, old in reversed(list(self.history)[:-1]):
            if not missing.any():
                break
            fill = missing & np.isfinite(old).all(axis=-1)
            pose[fill] = old[fill] + v * (f_last - f_old)
            missing &= ~fill
        gap = frame - f_last
        steps = float(gap) if damping == 1.0 else (1.0 - damping**gap) / (1.0 - damping)
        return pose + v * steps


@attrs.frozen
class TrackingResult:
    """Tracks made by :class:`Tracker`.

    Parameters
    ----------
    positions
        Keypoints of each track, shape ``(time, track, keypoint, space)``; NaN where the track has no detection.
    scores
        Per-keypoint scores of the assigned detections, shape ``(time, track, keypoint)``.
    assignment
        Track index given to each input instance, shape ``(time, instance)``; ``-1`` for an instance
        that is absent or was dropped.
    animal_size
        The animal size (px) that scaled the gate and the similarity term.
    max_cost
        The gate that was used (px).
    identity_confidence
        Shape ``(time, track)``: how sure the tracker is that the detection
        given to the track is its animal and not a neighbour's, in ``[0, 1]``
        (:func:`identity_margins`, scaled by ``Tracker.identity_scale``); NaN where the track has no detection.
    """

    positions: np.ndarray
    scores: np.ndarray
    assignment: np.ndarray
    animal_size: float
    max_cost: float
    identity_confidence: np.ndarray | None = None

    @property
    def n_tracks(self) -> int:
        """Number of tracks."""
        return int(self.positions.shape[1])


@attrs.frozen
class Tracker:
    """Link per-frame detections of several animals into identity tracks.

    Parameters
    ----------
    max_tracks
        Never make more than this many tracks (the number of animals, when
        known).  Once reached, a detection no track wants within ``max_cost``
        is given to the best-fitting track without a detection in this frame,
        however far (re-identification), or dropped when every track has one.
        ``None``: no limit.
    max_cost
        Gate in px: a detection whose cost to a track's predicted pose is
        larger is not given to that track in the first, gated assignment.
        ``None``: one animal size.
    max_lost_frames
        Frames a track without detections keeps predicting and can take a
        detection within the gate; later it only takes detections through
        the ``max_tracks`` rule.
    history
        Observations kept per track; the velocity is the mean over them.
        1 disables the motion model (the prediction is the last pose).
    damping
        Velocity factor per frame while a track is lost: the predicted
        displacement after a gap of ``g`` frames is ``v * (1 + d + ... + d**(g-1))``.
    similarity_weight
        Weight ``w`` of the instance-similarity term: cost =
        ``(1 - w) * mean distance + w * animal_size * (1 - similarity)``,
        where similarity is the mean of ``exp(-d_k**2 / (2 * s**2))`` over the
        keypoints present in the detection or the prediction (a keypoint
        missing from either counts 0) and ``s = similarity_sigma * animal_size``.
    similarity_sigma
        Scale of the similarity term as a fraction of the animal size.
    min_keypoints
        Instances with fewer finite keypoints are ignored.
    low_quality_share
        A detection's quality is the sum of its keypoint scores (a missing
        score counts 1).  Detections below ``low_quality_share`` times the
        median quality of all detections are *poor* (false detections,
        fragments): they are matched only to tracks that found no good
        detection, within the gate, and never start a track or take one
        through the ``max_tracks`` rule (as ByteTrack treats low-score boxes).
        0 treats every detection as good.
    animal_size
        Typical animal size in px; ``None``: estimated from the detections
        (:func:`estimate_animal_size`).
    identity_scale
        Scale of the identity confidence as a fraction of the animal size:
        a track whose assignment would change only at ``m`` px of extra
        cost (:func:`identity_margins`) gets confidence
        ``1 - exp(-m / (identity_scale * animal_size))``; a track given a
        detection beyond the gate (re-identified far from its prediction) gets 0.
    """

    max_tracks: int | None = attrs.field(default=None, converter=_optional_int)
    max_cost: float | None = attrs.field(default=None, converter=_optional_float, validator=_positive_or_none)
    max_lost_frames: int = attrs.field(default=30, converter=int, validator=_non_negative)
    history: int = attrs.field(default=10, converter=int)
    damping: float = attrs.field(default=0.9, converter=float)
    similarity_weight: float = attrs.field(default=0.3, converter=float)
    similarity_sigma: float = attrs.field(default=0.1, converter=float)
    min_keypoints: int = attrs.field(default=1, converter=int)
    low_quality_share: float = attrs.field(default=0.5, converter=float)
    animal_size: float | None = attrs.field(default=None, converter=_optional_float, validator=_positive_or_none)
    identity_scale: float = attrs.field(default=0.1, converter=float)

    def __attrs_post_init__(self) -> None:
        """Check the hyperparameters."""
        if self.max_tracks is not None and self.max_tracks < 1:
            raise SchemaError(f"Tracker.max_tracks must be >= 1 or None, got {self.max_tracks}")
        if self.history < 1:
            raise SchemaError(f"Tracker.history must be >= 1 observation, got {self.history}")
        if not 0.0 < self.damping <= 1.0:
            raise SchemaError(f"Tracker.damping must be in (0, 1], got {self.damping}")
        if not 0.0 <= self.similarity_weight <= 1.0:
            raise SchemaError(f"Tracker.similarity_weight must be in [0, 1], got {self.similarity_weight}")
        if not self.similarity_sigma > 0:
            raise SchemaError(f"Tracker.similarity_sigma must be > 0, got {self.similarity_sigma}")
        if not 0.0 <= self.low_quality_share <= 1.0:
            raise SchemaError(f"Tracker.low_quality_share must be in [0, 1], got {self.low_quality_share}")
        if self.min_keypoints < 1:
            raise SchemaError(f"Tracker.min_keypoints must be >= 1, got {self.min_keypoints}")
        if not self.identity_scale > 0:
            raise SchemaError(f"Tracker.identity_scale must be > 0, got {self.identity_scale}")

    def _cost(self, predicted: np.ndarray, detections: np.ndarray, size: float) -> np.ndarray:
        """Cost ``(n_tracks, n_detections)`` in px; ``inf`` where they share no keypoint."""
        dist, mean = pairwise_mean_distance(predicted, detections)
        w = self.similarity_weight
        if w == 0.0:
            return mean
        sigma = self.similarity_sigma * size
        present = np.isfinite(predicted).all(axis=-1)[:, None, :] | np.isfinite(detections).all(axis=-1)[None, :, :]
        sim = np.where(np.isfinite(dist), np.exp(-(np.nan_to_num(dist) ** 2) / (2 * sigma**2)), 0.0).sum(axis=-1)
        sim = sim / np.maximum(present.sum(axis=-1), 1)
        return np.where(np.isfinite(mean), (1.0 - w) * mean + w * size * (1.0 - sim), np.inf)

    def track(self, positions: np.ndarray, scores: np.ndarray | None = None) -> TrackingResult:
        """Assign every detection to a track, frame by frame.

        Parameters
        ----------
        positions
            Detections, shape ``(time, instance, keypoint, space)`` in px; the
            instance order within a frame carries no meaning.  An instance with
            fewer than ``min_keypoints`` finite keypoints is absent.
        scores
            Per-keypoint scores, shape ``(time, instance, keypoint)``; they order
            the detections that start tracks (best first) and are carried to the
            output.  ``None``: 1 for every finite keypoint.

        Returns
        -------
        TrackingResult
            Tracks in order of their first detection.
        """
        pos, sc = _check_positions(positions, scores)
        n_time, n_inst, n_kp, n_space = pos.shape
        finite = np.isfinite(pos).all(axis=-1)
        pos = np.where(finite[..., None], pos, np.nan)  # a keypoint with one NaN coordinate is missing
        present = finite.sum(axis=-1) >= self.min_keypoints
        size = self.animal_size if self.animal_size is not None else estimate_animal_size(pos[present])
        if not np.isfinite(size) or size <= 0:
            if present.any():
                raise SchemaError(
                    "cannot estimate the animal size from the detections (no instance has 2 distinct keypoints); "
                    "pass animal_size= (px) or max_cost= to the tracker"
                )
            size = 1.0
        gate = self.max_cost if self.max_cost is not None else size
        quality = np.where(finite, np.nan_to_num(sc, nan=1.0), 0.0).sum(axis=-1)
        high = quality >= self.low_quality_share * (float(np.median(quality[present])) if present.any() else 0.0)

        tracks: list[_Track] = []
        assignment = np.full((n_time, n_inst), -1, dtype=np.int64)
        confidence: list[np.ndarray] = []

        def match(t: int, rows_j: list[int], cand: np.ndarray, dets: np.ndarray, det_idx: np.ndarray) -> None:
            """Gated Hungarian between tracks ``rows_j`` and detections ``cand``; marks the pairs taken."""
            if not rows_j or not cand.size:
                return
            predicted = np.stack([tracks[j].predict(t, self.damping) for j in rows_j])
            cost = self._cost(predicted, dets[cand], size)
            # maximise the sum of (gate - cost) over the pairs within the gate: one close pair beats two
            # mediocre ones, so a track whose prediction went wrong cannot pull its neighbour's detection away
            close = cost <= gate
            rows, cols = linear_sum_assignment(np.where(close, cost - gate, 0.0))
            for r, c in zip(rows, cols, strict=True):
                if close[r, c]:
                    j, d = rows_j[r], cand[c]
                    tracks[j].observe(t, dets[d])
                    assignment[t, det_idx[d]] = j
                    taken[j], free[d] = True, False

        for t in range(n_time):
            det_idx = np.flatnonzero(present[t])
            if det_idx.size:
                det_idx = det_idx[np.argsort(-quality[t, det_idx], kind="stable")]
            dets = pos[t, det_idx]
            good = high[t, det_idx]
            taken = np.zeros(len(tracks), dtype=bool)
            free = np.ones(det_idx.size, dtype=bool)
            n_start = len(tracks)
            cost_all = (
                self._cost(np.stack([tr.predict(t, self.damping) for tr in tracks]), dets, size)
                if n_start and det_idx.size
                else np.zeros((n_start, det_idx.size))
            )

            # 1. gated assignment of the good detections to the tracks seen within max_lost_frames,
            #    then of the poor ones to the tracks still without a detection
            alive = [j for j, tr in enumerate(tracks) if tr.lost <= self.max_lost_frames]
            match(t, alive, np.flatnonzero(good), dets, det_idx)
            match(t, [j for j in alive if not taken[j]], np.flatnonzero(~good), dets, det_idx)

            # 2. good leftovers: new tracks, or (at max_tracks) the best-fitting track without a detection;
            #    poor leftovers are dropped
            for c in np.flatnonzero(free & good):
                if self.max_tracks is None or len(tracks) < self.max_tracks:
                    tracks.append(_Track(self.history))
                    taken = np.append(taken, True)
                    tracks[-1].observe(t, dets[c])
                    assignment[t, det_idx[c]] = len(tracks) - 1
                    free[c] = False
            far = self._reidentify(t, tracks, dets, np.flatnonzero(free & good), taken, det_idx, assignment, size, gate)
            for j, tr in enumerate(tracks):
                if not taken[j]:
                    tr.lost += 1
            confidence.append(self._frame_confidence(assignment[t, det_idx], cost_all, len(tracks), far, size))

        n_tracks = len(tracks)
        out_pos = np.full((n_time, n_tracks, n_kp, n_space), np.nan)
        out_sc = np.full((n_time, n_tracks, n_kp), np.nan)
        t_idx, i_idx = np.nonzero(assignment >= 0)
        out_pos[t_idx, assignment[t_idx, i_idx]] = pos[t_idx, i_idx]
        out_sc[t_idx, assignment[t_idx, i_idx]] = sc[t_idx, i_idx]
        ident = np.full((n_time, n_tracks), np.nan)
        for t, row in enumerate(confidence):
            ident[t, : row.size] = row
        log.debug("tracked %d frames into %d tracks (animal size %.1f px, gate %.1f px)", n_time, n_tracks, size, gate)
        return TrackingResult(out_pos, out_sc, assignment, float(size), float(gate), ident)

    def _reidentify(
        self,
        t: int,
        tracks: list[_Track],
        dets: np.ndarray,
        rest: np.ndarray,
        taken: np.ndarray,
        det_idx: np.ndarray,
        assignment: np.ndarray,
        size: float,
        gate: float,
    ) -> list[int]:
        """Give good leftover detections to the best-fitting tracks without one, at any distance.

        Marks them taken; returns the tracks given a detection beyond the gate (their motion restarts).
        """
        far: list[int] = []
        idle = np.flatnonzero(~taken)
        if not (rest.size and idle.size):
            return far
        predicted = np.stack([tracks[j].predict(t, self.damping) for j in idle])
        cost = self._cost(predicted, dets[rest], size)
        # no shared keypoint: fall back on the distance between the centres
        centre = np.sqrt(((np.nanmean(predicted, axis=1)[:, None] - np.nanmean(dets[rest], axis=1)[None]) ** 2).sum(-1))
        cost = np.where(np.isfinite(cost), cost, size + np.nan_to_num(centre, nan=REFUSED_COST / 2))
        rows, cols = linear_sum_assignment(cost)
        for r, c in zip(rows, cols, strict=True):
            j = idle[r]
            # far from the prediction: restart the motion model instead of extrapolating a jump
            tracks[j].observe(t, dets[rest[c]], reset=cost[r, c] > gate)
            assignment[t, det_idx[rest[c]]] = j
            taken[j] = True
            if cost[r, c] > gate:
                far.append(j)
        return far

    def _frame_confidence(
        self, det_track: np.ndarray, cost_all: np.ndarray, n_tracks: int, far: list[int], size: float
    ) -> np.ndarray:
        """Identity confidence ``(n_tracks,)`` of one frame; ``det_track``: the track each detection went to."""
        n_start = cost_all.shape[0]
        det_of = np.full(n_tracks, -1, dtype=np.int64)
        for d, j in enumerate(det_track):
            if j >= 0:
                det_of[j] = d
        margin = identity_margins(cost_all, det_of[:n_start])
        with np.errstate(over="ignore"):
            conf = 1.0 - np.exp(-np.maximum(margin, 0.0) / (self.identity_scale * size))
        out = np.where(det_of >= 0, 1.0, np.nan)  # tracks started in this frame: nothing competed for them
        out[:n_start] = conf
        out[far] = 0.0
        return out


def merge_fragments(result: TrackingResult, max_tracks: int) -> TrackingResult:
    """Join tracks that never overlap in time until at most ``max_tracks`` remain.

    Greedy: of all pairs where one track ends before the other starts, the
    pair whose end and start poses are closest (NaN-aware mean keypoint
    distance, per frame of gap) is joined first.  Tracks that overlap every
    other track stay apart, so more than ``max_tracks`` may remain.

    Parameters
    ----------
    result
        Tracks from :meth:`Tracker.track`, usually made without ``max_tracks``.
    max_tracks
        The number of tracks wanted.

    Returns
    -------
    TrackingResult
        A new result; tracks renumbered in order of first detection.
    """
    if max_tracks < 1:
        raise SchemaError(f"max_tracks must be >= 1, got {max_tracks}")
    present = np.isfinite(result.positions).all(axis=-1).any(axis=-1)  # (time, track)
    members = {j: [j] for j in range(result.n_tracks) if present[:, j].any()}
    frames = {j: present[:, j].copy() for j in members}
    poses = {j: result.positions[:, j] for j in members}

    def join(a: int, b: int) -> None:
        poses[a] = np.where(frames[b][:, None, None], poses[b], poses[a])
        frames[a] |= frames.pop(b)
        members[a] += members.pop(b)
        del poses[b]

    while len(members) > max_tracks:
        best: tuple[float, int, int] | None = None
        span = {g: (int(np.argmax(f)), int(len(f) - 1 - np.argmax(f[::-1]))) for g, f in frames.items()}
        for a in members:
            for b in members:
                gap = span[b][0] - span[a][1]
                if a == b or gap <= 0 or (frames[a] & frames[b]).any():
                    continue
                _, mean = pairwise_mean_distance(poses[a][span[a][1]][None], poses[b][span[b][0]][None])
                cost = float(mean[0, 0]) / gap
                if best is None or cost < best[0]:
                    best = (cost, a, b)
        if best is None:
            break
        join(best[1], best[2])
    owner = {j: g for g, js in members.items() for j in js}
    order = sorted(members, key=lambda g: int(np.argmax(frames[g])))
    new_index = {g: k for k, g in enumerate(order)}
    remap = np.array([new_index[owner[j]] if j in owner else -1 for j in range(result.n_tracks)] + [-1])
    n_time, _, n_kp, n_space = result.positions.shape
    pos = np.full((n_time, len(order), n_kp, n_space), np.nan)
    sc = np.full((n_time, len(order), n_kp), np.nan)
    ident = None if result.identity_confidence is None else np.full((n_time, len(order)), np.nan)
    for j in owner:
        rows = present[:, j]
        pos[rows, remap[j]] = result.positions[rows, j]
        sc[rows, remap[j]] = result.scores[rows, j]
        if ident is not None:
            ident[rows, remap[j]] = result.identity_confidence[rows, j]
    assignment = remap[result.assignment]  # -1 indexes the appended -1
    return TrackingResult(pos, sc, assignment, result.animal_size, result.max_cost, ident)


def track_arrays(
    positions: np.ndarray,
    scores: np.ndarray | None = None,
    *,
    merge: bool = False,
    **params: Any,
) -> TrackingResult:
    """Track detections given as numpy arrays (functional form of :class:`Tracker`).

    Parameters
    ----------
    positions
        Detections, shape ``(time, instance, keypoint, space)`` in px, NaN = missing.
    scores
        Per-keypoint scores, shape ``(time, instance, keypoint)``, or ``None``.
    merge
        With ``max_tracks``: track without the limit, then join fragments that
        never overlap in time (:func:`merge_fragments`) instead of enforcing
        the limit frame by frame.
    **params
        Hyperparameters of :class:`Tracker` (``max_tracks``, ``max_cost``, ...).

    Returns
    -------
    TrackingResult
        ``positions (time, track, keypoint, space)``, ``scores``, ``assignment (time, instance)``.
    """
    if merge:
        max_tracks = params.pop("max_tracks", None)
        if max_tracks is None:
            raise SchemaError("merge=True needs max_tracks, the number of tracks to merge down to")
        return merge_fragments(Tracker(**params).track(positions, scores), int(max_tracks))
    return Tracker(**params).track(positions, scores)


def track_poses(
    ds: xr.Dataset,
    *,
    max_tracks: int | None = None,
    max_cost: float | None = None,
    max_lost_frames: int = 30,
    history: int = 10,
    damping: float = 0.9,
    similarity_weight: float = 0.3,
    similarity_sigma: float = 0.1,
    min_keypoints: int = 1,
    low_quality_share: float = 0.5,
    animal_size: float | None = None,
    identity_scale: float = 0.1,
    merge: bool = False,
    prefix: str = "track_",
) -> xr.Dataset:
    """Give each animal one identity across frames.

    Parameters
    ----------
    ds
        Pose Dataset whose ``individual`` dim holds untracked instance slots:
        per frame, the instances in any order (detector output, or tracks of
        another program with broken ids).  ``position (time, space, keypoint,
        individual)``, ``confidence (time, keypoint, individual)``.
    max_tracks, max_cost, max_lost_frames, history, damping, similarity_weight, similarity_sigma, min_keypoints, \
low_quality_share, animal_size, identity_scale
        Hyperparameters of :class:`Tracker`.
    merge
        See :func:`track_arrays`.
    prefix
        Track names are ``f"{prefix}{i}"``, in order of first detection.

    Returns
    -------
    xarray.Dataset
        A new pose Dataset with ``individual`` = track names and the instances
        re-ordered per frame, plus ``source_individual (time, individual)``:
        the index of the input slot each track took in each frame (``-1``
        when none), and ``identity_confidence (time, individual)`` (0-1, NaN
        when the track has no detection; see ``Tracker.identity_scale``).
        Variables of the input that have an ``individual`` dim but are not
        poses are dropped; attrs are kept and the step is logged.
        The input is not modified.
    """
    ds = as_poses(ds, source="track_poses input")
    pos = ds["position"].transpose(*POSITION_DIMS).values  # (time, space, keypoint, individual)
    conf = ds["confidence"].transpose(*CONFIDENCE_DIMS).values
    params = {
        "max_tracks": max_tracks,
        "max_cost": max_cost,
        "max_lost_frames": max_lost_frames,
        "history": history,
        "damping": damping,
        "similarity_weight": similarity_weight,
        "similarity_sigma": similarity_sigma,
        "min_keypoints": min_keypoints,
        "low_quality_share": low_quality_share,
        "animal_size": animal_size,
        "identity_scale": identity_scale,
    }
    result = track_arrays(pos.transpose(0, 3, 2, 1), conf.transpose(0, 2, 1), merge=merge, **params)
    names = [f"{prefix}{i}" for i in range(result.n_tracks)]
    source = np.full((pos.shape[0], result.n_tracks), -1, dtype=np.int64)
    t_idx, i_idx = np.nonzero(result.assignment >= 0)
    source[t_idx, result.assignment[t_idx, i_idx]] = i_idx
    keep = [v for v in ds.data_vars if v not in ("position", "confidence") and "individual" not in ds[v].dims]
    out = xr.Dataset(
        {
            "position": (POSITION_DIMS, result.positions.transpose(0, 3, 2, 1)),
            "confidence": (CONFIDENCE_DIMS, result.scores.transpose(0, 2, 1)),
            "source_individual": (("time", "individual"), source),
            "identity_confidence": (("time", "individual"), result.identity_confidence),
            **{v: ds[v] for v in keep},
        },
        coords={**{k: v for k, v in ds.coords.items() if "individual" not in v.dims}, "individual": names},
        attrs=dict(ds.attrs),
    )
    out["source_individual"].attrs["description"] = (
        "index of the input individual slot assigned to this track in this frame, -1 = none; input slots: "
        + ", ".join(str(v) for v in ds["individual"].values)
    )
    out["identity_confidence"].attrs["description"] = (
        "how sure the tracker is that this track's pose in this frame is its own animal's (0-1; low while animals "
        "touch or after a track was re-identified far from its predicted place); NaN = no detection. Skip frames "
        "below about 0.5 in statistics that need identities."
    )
    log.info("track_poses: %d instance slots -> %d tracks", ds.sizes["individual"], result.n_tracks)
    return log_step(
        out,
        "track_poses",
        **params,
        merge=merge,
        n_tracks=result.n_tracks,
        estimated_animal_size_px=round(result.animal_size, 3),
        gate_px=round(result.max_cost, 3),
    )
