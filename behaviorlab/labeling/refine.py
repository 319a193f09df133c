"""The refinement loop: find untrustworthy predictions, correct them, merge them into the training set.

One round (as DeepLabCut's outlier extraction and SLEAP's label suggestions do):

1. :func:`score_frames` rates every frame of a predicted pose Dataset on three
   robust z-scores: low keypoint **confidence**, **jumps** (a keypoint far from
   the midpoint of its neighbours in time, which smooth motion keeps small),
   and improbable **limb lengths** (skeleton edges far from their median
   length).  Each is measured against its own typical spread over the
   session, so the scores are comparable and 0 means "typical".
2. :func:`select_outlier_frames` picks the ``n`` worst frames, at least
   ``min_separation`` frames apart.
3. :func:`export_for_correction` writes them as labeled frames pre-filled with
   the predictions (optionally for DeepLabCut's or SLEAP's GUI).
4. :func:`merge_corrections` merges the corrected frames into the training
   set (same frame: replaced; new frame: appended), and ``behaviorlab train``
   retrains on the result.

No function here needs Keras: predicted poses come in as a pose Dataset.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import attrs
import numpy as np
import xarray as xr

from behaviorlab.errors import FileFormatError, SchemaError
from behaviorlab.io.labeled_frames import LabeledFrames, load_labeled_frames, to_grayscale
from behaviorlab.io.video import VideoReader
from behaviorlab.labeling.select import frame_source, parse_frame_source, write_labeling_set
from behaviorlab.schema import POSITION_DIMS, Skeleton, as_poses, check_dims, get_skeleton, log_step, pose_frame_numbers

__all__ = [
    "COMPONENTS",
    "export_for_correction",
    "merge_corrections",
    "score_frames",
    "select_outlier_frames",
]

log = logging.getLogger(__name__)

#: The per-frame scores combined by :func:`score_frames`.
COMPONENTS = ("confidence", "jump", "limb")
_MAD_TO_SD = 1.4826


# --------------------------------------------------------------------------- scoring
@contextlib.contextmanager
def _quiet_nan_warnings() -> Iterator[None]:
    """Silence numpy's 'All-NaN slice' warnings: an all-missing keypoint simply scores 0."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="All-NaN slice", category=RuntimeWarning)
        warnings.filterwarnings("ignore", message="Mean of empty slice", category=RuntimeWarning)
        yield


def _robust_z(values: np.ndarray, floor: np.ndarray | float) -> np.ndarray:
    """``(x - median) / max(1.4826 MAD, floor)`` along axis 0, clipped at 0 (only the bad side counts)."""
    with np.errstate(invalid="ignore"), _quiet_nan_warnings():
        median = np.nanmedian(values, axis=0)
        mad = np.nanmedian(np.abs(values - median), axis=0)
    scale = np.maximum(_MAD_TO_SD * np.nan_to_num(mad), floor)
    return np.clip((values - median) / scale, 0.0, None)


def _max_over(values: np.ndarray, axis: int) -> np.ndarray:
    """``nanmax`` that gives 0 where everything is NaN."""
    with _quiet_nan_warnings():
        return np.nan_to_num(np.nanmax(values, axis=axis), nan=0.0)


def _jump_residual(xy: np.ndarray) -> np.ndarray:
    """Distance of each point from the midpoint of its neighbours in time.

    ``xy`` is ``(time, space, keypoint, individual)``; the result
    ``(time, keypoint, individual)`` is NaN at the ends and where a neighbour is missing.
    """
    out = np.full((xy.shape[0], *xy.shape[2:]), np.nan)
    if xy.shape[0] >= 3:
        mid = 0.5 * (xy[:-2] + xy[2:])
        out[1:-1] = np.sqrt(((xy[1:-1] - mid) ** 2).sum(axis=1))
    return out


def score_frames(
    poses: xr.Dataset,
    skeleton: Skeleton | None = None,
    *,
    min_confidence_scale: float = 0.05,
    min_jump_scale: float = 1.0,
    min_limb_scale: float = 0.05,
    weights: dict[str, float] | None = None,
) -> xr.Dataset:
    """Rate how untrustworthy each frame's predicted poses are.

    Every component is a robust z-score, ``(x - median) / max(1.4826 MAD, floor)``
    per keypoint (or edge) and individual over the whole session, clipped at 0,
    then the worst keypoint (edge) of the frame:

    - ``confidence_z``: how far a keypoint's confidence falls below its
      median (also where the position was masked as missing; NaN confidence,
      e.g. hand labels, counts as typical);
    - ``jump_z``: how far a keypoint lies from the midpoint of its positions
      in the previous and next frame (smooth motion, even fast, keeps this
      small; a one-frame jump or a left/right swap makes it large); 0 at the
      first and last frame and next to missing points;
    - ``limb_z``: how far a skeleton edge's length lies from its median
      length, in either direction (0 without edges).

    Parameters
    ----------
    poses
        Predicted pose Dataset, ``position (time, space, keypoint, individual)``
        and ``confidence (time, keypoint, individual)``; consecutive rows are
        consecutive video frames.  Not modified.
    skeleton
        Edges for the limb score; the poses' ``skeleton`` attr when omitted.
    min_confidence_scale
        Smallest spread of confidence (confidence units), so that a model that
        is always sure does not turn tiny dips into large scores.
    min_jump_scale
        Smallest spread of the jump distance, in pixels.
    min_limb_scale
        Smallest spread of a limb length, as a fraction of its median length.
    weights
        Multipliers of the components in the combined score, keys among
        :data:`COMPONENTS` (default 1 each; 0 switches one off).

    Returns
    -------
    xarray.Dataset
        With the poses' ``time`` and ``individual`` coords and a ``frame``
        coord (video frame index, see :func:`~behaviorlab.schema.pose_frame_numbers`):
        ``min_confidence``, ``jump_px`` (largest jump distance),
        ``confidence_z``, ``jump_z``, ``limb_z`` (all ``(time, individual)``)
        and ``score`` ``(time,)``: the largest weighted component over
        components and individuals.  Higher is worse.
    """
    poses = as_poses(poses)
    check_dims(poses, POSITION_DIMS, name="poses")
    weights = {c: 1.0 for c in COMPONENTS} | dict(weights or {})
    unknown = sorted(set(weights) - set(COMPONENTS))
    if unknown:
        raise ValueError(f"unknown score components {unknown}; known: {list(COMPONENTS)}")
    skeleton = skeleton if skeleton is not None else get_skeleton(poses)
    keypoints = [str(k) for k in poses["keypoint"].values]
    if skeleton is not None:
        skeleton.check_keypoints(keypoints, source="the poses")
    frames = pose_frame_numbers(poses)

    xy = poses["position"].sel(space=["x", "y"]).values.astype(np.float64)  # (time, 2, keypoint, individual)
    conf = poses["confidence"].values.astype(np.float64)  # (time, keypoint, individual)
    conf_z = _robust_z(-conf, min_confidence_scale)
    residual = _jump_residual(xy)
    jump_z = _robust_z(residual, min_jump_scale)
    if skeleton is not None and skeleton.edges:
        edges = skeleton.edge_indices()
        lengths = np.sqrt(((xy[:, :, edges[:, 0]] - xy[:, :, edges[:, 1]]) ** 2).sum(axis=1))  # (time, edge, ind)
        with _quiet_nan_warnings():
            floor = np.nan_to_num(min_limb_scale * np.nanmedian(lengths, axis=0), nan=1.0)
        limb_z = _robust_z(lengths, np.maximum(floor, 1e-6))
        # too short is as suspicious as too long
        short = _robust_z(-lengths, np.maximum(floor, 1e-6))
        limb_z = np.fmax(limb_z, short)
    else:
        limb_z = np.zeros((len(frames), 1, poses.sizes["individual"]))
    with _quiet_nan_warnings():
        min_conf = np.nanmin(conf, axis=1)
    parts = {
        "confidence": _max_over(conf_z, 1),
        "jump": _max_over(jump_z, 1),
        "limb": _max_over(limb_z, 1),
    }
    score = _max_over(np.stack([weights[c] * parts[c] for c in COMPONENTS]), 0).max(axis=1)
    dims = ("time", "individual")
    out = xr.Dataset(
        {
            "min_confidence": (dims, min_conf),
            "jump_px": (dims, _max_over(residual, 1)),
            "confidence_z": (dims, parts["confidence"]),
            "jump_z": (dims, parts["jump"]),
            "limb_z": (dims, parts["limb"]),
            "score": (("time",), score),
        },
        coords={"time": poses["time"].values, "individual": poses["individual"].values, "frame": ("time", frames)},
        attrs={k: v for k, v in poses.attrs.items() if k in ("fps", "time_unit", "source_file", "log")},
    )
    return log_step(
        out,
        "score_frames",
        min_confidence_scale=min_confidence_scale,
        min_jump_scale=min_jump_scale,
        min_limb_scale=min_limb_scale,
        weights=weights,
    )


def select_outlier_frames(
    poses: xr.Dataset,
    n: int,
    *,
    min_separation: int = 10,
    exclude: Iterable[int] = (),
    min_score: float = 0.0,
    **score_kwargs: object,
) -> np.ndarray:
    """Pick the ``n`` least trustworthy frames, worst first, spread out in time.

    Frames are taken greedily by decreasing :func:`score_frames` score,
    skipping any frame closer than ``min_separation`` to one already taken
    (neighbours of a bad frame are often bad for the same reason).

    Parameters
    ----------
    poses
        Predicted pose Dataset, or the result of :func:`score_frames`.
    n
        Number of frames wanted; fewer come back when not enough frames
        score above ``min_score`` or the spacing leaves no room.
    min_separation
        Smallest distance in frames between two chosen frames (1: any).
    exclude
        Video frame indices never to choose (e.g. frames already labeled).
    min_score
        Only frames scoring strictly above this are chosen.
    **score_kwargs
        Passed to :func:`score_frames` (``skeleton``, ``weights``, ...).

    Returns
    -------
    numpy.ndarray
        int64 video frame indices (the ``frame`` coord), worst first.
    """
    if int(n) < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if int(min_separation) < 1:
        raise ValueError(f"min_separation must be at least 1 frame, got {min_separation}")
    if "score" in poses.data_vars and "frame" in poses.coords:
        if score_kwargs:
            raise TypeError(f"{sorted(score_kwargs)} apply to poses, but scores were given; pass them to score_frames")
        scores = poses
    else:
        scores = score_frames(poses, **score_kwargs)
    frames = scores["frame"].values.astype(np.int64)
    values = np.nan_to_num(scores["score"].values.astype(np.float64), nan=-np.inf)
    order = np.lexsort((frames, -values))  # worst first, earlier frame on ties
    blocked = set(int(f) for f in exclude)
    chosen: list[int] = []
    for i in order:
        if len(chosen) >= n or values[i] <= min_score:
            break
        frame = int(frames[i])
        if frame in blocked or any(abs(frame - c) < min_separation for c in chosen):
            continue
        chosen.append(frame)
    return np.asarray(chosen, dtype=np.int64)


# --------------------------------------------------------------------------- export
def export_for_correction(
    poses: xr.Dataset,
    video: str | Path,
    frames: Sequence[int] | np.ndarray,
    out: str | Path | None = None,
    *,
    min_confidence: float | None = None,
    skeleton: Skeleton | None = None,
    grayscale: bool = False,
    export: str | Sequence[str] | None = None,
) -> LabeledFrames:
    """Frames of ``video`` pre-filled with the predicted keypoints, ready to be corrected.

    Parameters
    ----------
    poses
        Predicted pose Dataset of ``video`` (not modified).
    video
        The video the poses were predicted on.
    frames
        Video frame indices to export (e.g. from :func:`select_outlier_frames`).
    out
        When given, the frames are saved there (``*.labels.h5``, atomically),
        plus the ``export`` formats beside it (see
        :func:`~behaviorlab.labeling.select.write_labeling_set`).
    min_confidence
        Leave keypoints predicted with a lower confidence unlabeled (NaN), so
        the labeler places them from scratch.
    skeleton
        Skeleton of the labels; the poses' ``skeleton`` attr, else their
        keypoints without edges.
    grayscale
        Store one-channel images (match the training set).
    export
        ``"dlc"`` and/or ``"sleap"`` (needs ``out``).

    Returns
    -------
    LabeledFrames
        Keypoints ``(n, n_individuals, n_keypoints, 2)`` from the predictions,
        individuals from the poses, sources ``"<video name>#frame=N"``.
    """
    poses = as_poses(poses)
    video = Path(video)
    frames = np.asarray(frames, dtype=np.int64).reshape(-1)
    if export and out is None:
        raise ValueError("export needs out: the path of the labels file to write beside")
    keypoints = [str(k) for k in poses["keypoint"].values]
    skeleton = skeleton if skeleton is not None else get_skeleton(poses) or Skeleton(keypoints)
    skeleton.check_keypoints(keypoints, source="the poses")
    where = poses.attrs.get("source_file", "the poses")
    rows = {int(f): i for i, f in enumerate(pose_frame_numbers(poses))}
    absent = [int(f) for f in frames if int(f) not in rows]
    if absent:
        raise SchemaError(f"{where} hold no poses for frame(s) {absent[:10]} of {video}")
    idx = np.array([rows[int(f)] for f in frames], dtype=np.int64)
    xy = poses["position"].sel(space=["x", "y"]).values[idx].transpose(0, 3, 2, 1).astype(np.float64)
    if min_confidence is not None:
        conf = poses["confidence"].values[idx].transpose(0, 2, 1)  # (n, individual, keypoint)
        xy = np.where((conf < float(min_confidence))[..., None], np.nan, xy)
    with VideoReader(video, grayscale=grayscale) as reader:
        beyond = frames[frames >= reader.n_frames]
        if beyond.size:
            raise FileFormatError(
                video, f"has {reader.n_frames} frames but frame(s) {beyond[:10].tolist()} of {where} were asked for"
            )
        images = list(reader[frames]) if len(frames) else []
    result = LabeledFrames(
        images,
        xy,
        skeleton,
        [str(i) for i in poses["individual"].values],
        [frame_source(video, f) for f in frames],
    )
    if out is not None:
        write_labeling_set(result, out, export=export)
    return result


# --------------------------------------------------------------------------- merge
def _load(frames: LabeledFrames | str | Path) -> LabeledFrames:
    return frames if isinstance(frames, LabeledFrames) else load_labeled_frames(frames)


def _align_individuals(training: LabeledFrames, corrected: LabeledFrames, individual: str | None) -> LabeledFrames:
    """``corrected`` with ``training``'s individuals: by name, or a single one renamed."""
    if corrected.individuals == training.individuals:
        return corrected
    if individual is not None or (
        corrected.n_individuals == 1 and corrected.individuals[0] not in training.individuals
    ):
        if corrected.n_individuals != 1:
            raise SchemaError(
                f"individual={individual!r} needs corrected frames of one individual, got {list(corrected.individuals)}"
            )
        target = training.individuals[0] if individual is None else str(individual)
        if target not in training.individuals:
            raise SchemaError(f"individual {target!r} is not in the training set {list(training.individuals)}")
        log.info("corrected individual %r becomes the training set's %r", corrected.individuals[0], target)
        corrected = attrs.evolve(corrected, individuals=(target,))
    if set(corrected.individuals) <= set(training.individuals):
        position = {name: i for i, name in enumerate(corrected.individuals)}
        keypoints = np.full((len(corrected), training.n_individuals, training.n_keypoints, 2), np.nan)
        for j, name in enumerate(training.individuals):
            if name in position:
                keypoints[:, j] = corrected.keypoints[:, position[name]]
        return attrs.evolve(corrected, keypoints=keypoints, individuals=training.individuals)
    raise SchemaError(
        f"the corrected frames' individuals {list(corrected.individuals)} do not match the training set's "
        f"{list(training.individuals)}; rename them with attrs.evolve(frames, individuals=...)"
    )


def _align_channels(training: LabeledFrames, corrected: LabeledFrames) -> LabeledFrames:
    want = training.images[0].shape[2] if len(training) else None
    have = corrected.images[0].shape[2] if len(corrected) else None
    if want is None or have is None or want == have:
        return corrected
    if want == 1:
        return attrs.evolve(corrected, images=[to_grayscale(img) for img in corrected.images])
    if have == 1 and want == 3:
        return attrs.evolve(corrected, images=[np.repeat(img, 3, axis=2) for img in corrected.images])
    raise SchemaError(f"the corrected frames have {have}-channel images, the training set {want}-channel ones")


def _align_sources(training: LabeledFrames, corrected: LabeledFrames) -> LabeledFrames:
    """Rename corrected sources that name the same video frame as a training source (e.g. after DeepLabCut)."""
    by_frame = {}
    for source in training.sources:
        key = parse_frame_source(source)
        if key is not None:
            by_frame.setdefault(key, source)
    renamed = []
    for source in corrected.sources:
        key = parse_frame_source(source)
        renamed.append(by_frame.get(key, source) if source not in training.sources and key else source)
    if tuple(renamed) == corrected.sources:
        return corrected
    return attrs.evolve(corrected, sources=renamed)


def merge_corrections(
    training: LabeledFrames | str | Path,
    corrected: LabeledFrames | str | Path,
    *,
    individual: str | None = None,
) -> LabeledFrames:
    """Merge corrected frames into a training set.

    A corrected frame that shows the same video frame as a training frame
    replaces it in place (image and keypoints); other corrected frames are
    appended.  Frames are matched by source, also across naming schemes
    (``"video.mp4#frame=12"`` and DeepLabCut's ``"labeled-data/video/img00012.png"``).
    The training set's skeleton, keypoint order, individuals and channel count
    are kept: the corrected frames are reordered and converted to match, and
    their individuals are matched by name, except that a single individual
    the training set does not know (predictions of a single-animal model are
    named ``individual_0``) becomes ``individual``.

    Parameters
    ----------
    training
        The training set, or a path that
        :func:`~behaviorlab.io.labeled_frames.load_labeled_frames` reads.
    corrected
        The corrected frames (e.g. written by :func:`export_for_correction` and
        edited), or a path (``*.labels.h5``, the DeepLabCut project or SLEAP
        package after correction).
    individual
        The training individual that the corrected frames' single individual
        stands for; by default the same name, else the training set's first.

    Returns
    -------
    LabeledFrames
        The merged set (inputs are not modified).
    """
    training, corrected = _load(training), _load(corrected)
    if set(corrected.skeleton.keypoints) != set(training.skeleton.keypoints):
        training.skeleton.check_keypoints(corrected.skeleton.keypoints, source="the corrected frames")
    order = [corrected.skeleton.keypoints.index(k) for k in training.skeleton.keypoints]
    corrected = attrs.evolve(corrected, keypoints=corrected.keypoints[:, :, order], skeleton=training.skeleton)
    corrected = _align_individuals(training, corrected, individual)
    corrected = _align_channels(training, corrected)
    corrected = _align_sources(training, corrected)
    replaced = len(set(corrected.sources) & set(training.sources))
    log.info("merging %d corrected frames: %d replaced, %d new", len(corrected), replaced, len(corrected) - replaced)
    return training.merge(corrected)
