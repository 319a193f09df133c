"""Which way to pose a labeled set: a crop around the one animal, or the whole frame; and training that way.

Two paths (``behaviorlab train --path``):

- ``crop`` (SLEAP's centroid + centered-instance, DeepLabCut-Live's dynamic
  cropping): a small centroid model finds the animal on a shrunk frame, and
  the pose model sees a box around it at full resolution; keypoints map back
  to the frame exactly (:mod:`behaviorlab.pose.topdown`).  A 640 x 480 frame
  with a mouse in a 128 px box costs the pose model a twentieth of the
  pixels, and the pose model sees the animal at full resolution instead of
  shrunk;
- ``full-frame``: one pose model on the whole frame (:func:`~behaviorlab.pose.train.train_model`).

``auto`` (the default) takes the crop path when every labeled frame has one
animal and the box that holds the animal's keypoints
(:func:`~behaviorlab.pose.crops.choose_crop_size`, centred on the keypoint or
the keypoints' bounding-box middle that needs the smallest box) is at most
half the frame's shorter side; otherwise the full frame.  Keypoints that stay
put while the animal travels (arena corners labeled as keypoints, found by
:func:`behaviorlab.trajectories.landmarks.find_static_keypoints` as in pose
files) never centre a box, and a box must still hold them: labeled landmarks
far from the animal make the box large and the path full-frame.  The
choice and its reason are logged and written to ``training_path.json`` in
the model folder.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from behaviorlab.errors import OutputExistsError, SchemaError
from behaviorlab.io.labeled_frames import LabeledFrames
from behaviorlab.pose.crops import BOX_CENTRE, CENTROID_SIDE, choose_crop_size
from behaviorlab.pose.data import load_frames
from behaviorlab.pose.evaluate import EvaluationReport, evaluate_predictions
from behaviorlab.pose.folder import POSE_PATHS, TRAINING_PATH, write_json
from behaviorlab.pose.predict import evaluate_model
from behaviorlab.pose.topdown import POSE_DIR, TOPDOWN_CONFIG, TopDownModel, train_topdown
from behaviorlab.pose.train import TrainConfig, train_model
from behaviorlab.trajectories.landmarks import find_static_keypoints

__all__ = [
    "PathChoice",
    "PoseTrainSummary",
    "choose_anchor",
    "choose_path",
    "evaluate_pose",
    "planned_path",
    "train_pose",
]

log = logging.getLogger(__name__)

SMALL_SHARE = 0.5  # the animal's box, as a share of the frame's shorter side, below which the crop path pays
CENTROID_BUDGET_SHARE = 0.25  # share of a time budget given to the centroid model


@attrs.frozen
class PathChoice:
    """The path a labeled set is trained along, and why.

    Parameters
    ----------
    path
        ``"crop"`` or ``"full-frame"``.
    reason
        One sentence for the training log.
    anchor, crop_size, jitter, centroid_scale
        The crop path's settings (``None`` for the full frame).
    """

    path: str
    reason: str
    anchor: str | None = None
    crop_size: int | None = None
    jitter: int | None = None
    centroid_scale: float | None = None


@attrs.frozen
class PoseTrainSummary:
    """What :func:`train_pose` did, the same for both paths.

    Parameters
    ----------
    model_dir
        The model folder (a pose model, or a top-down model for the crop path).
    choice
        The path and why.
    epochs
        Epochs of the pose model (the crop model on the crop path).
    best_val_px_error
        Its best mean validation error in pixels (box pixels are frame pixels).
    training_seconds
        Wall time of the training (both models on the crop path).
    peak_rss_mib
        Peak resident memory of the training process, MiB.
    stopped_at_budget
        Whether the time budget ended a training.
    result
        The underlying :class:`~behaviorlab.pose.train.TrainResult` or
        :class:`~behaviorlab.pose.topdown.TopDownTrainResult`.
    """

    model_dir: Path
    choice: PathChoice
    epochs: int
    best_val_px_error: float
    training_seconds: float
    peak_rss_mib: float
    stopped_at_budget: bool
    result: Any = attrs.field(repr=False, eq=False)


def choose_anchor(frames: LabeledFrames, *, exclude: tuple[str, ...] = ()) -> str:
    """Choose the keypoint that best centres a box on the animal.

    Among the keypoints labeled in at least 90 % as many animals as the most
    often labeled one, the one with the smallest median distance to the mean
    of its animal's labeled keypoints (a body centre rather than a snout or
    a tail tip); ``exclude`` leaves keypoints out (static ones).
    """
    names = [n for n in frames.skeleton.keypoints if n not in exclude]
    if not names:
        raise SchemaError("no keypoint left to centre a box on")
    index = [frames.skeleton.keypoints.index(n) for n in names]
    keypoints = frames.keypoints[:, :, index]
    labeled = np.isfinite(keypoints).all(axis=-1)  # (n, I, K)
    animals = labeled.any(axis=-1)
    if not animals.any():
        raise SchemaError("no labeled keypoint in the labels: cannot choose a keypoint to centre boxes on")
    total = np.where(labeled[..., None], keypoints, 0.0).sum(axis=-2)
    centre = total / np.maximum(labeled.sum(axis=-1), 1)[..., None]
    distance = np.linalg.norm(keypoints - centre[..., None, :], axis=-1)[animals]  # (animals, K)
    counts = labeled[animals].sum(axis=0)
    eligible = counts >= 0.9 * counts.max()
    median = np.array([np.nanmedian(d) if np.isfinite(d).any() else np.inf for d in distance.T])
    median[~eligible] = np.inf
    return names[int(np.argmin(median))]


def choose_path(frames: LabeledFrames, path: str = "auto") -> PathChoice:
    """Decide between the crop path and the full frame for ``frames`` (see the module docstring).

    ``path`` ``"crop"`` or ``"full-frame"`` forces a path (the crop path
    still needs one animal per frame); ``"auto"`` decides.
    """
    if path not in POSE_PATHS:
        raise ValueError(f"the pose path must be one of {list(POSE_PATHS)}, got {path!r} (--path)")
    if path == "full-frame":
        return PathChoice("full-frame", "the full-frame path was asked for (--path full-frame)")
    animals = frames.is_labeled().any(axis=2).sum(axis=1)
    side = int(min(min(img.shape[:2]) for img in frames.images))
    if animals.max(initial=0) > 1:
        reason = f"frames hold up to {animals.max()} labeled animals"
        if path == "crop":
            raise SchemaError(f"the crop path trains one animal per frame, but {reason}; use behaviorlab train-topdown")
        return PathChoice("full-frame", f"{reason} (behaviorlab train-topdown poses several animals by crops)")
    table = find_static_keypoints(frames.to_poses())  # the landmark finder of pose files, on the labels
    static = [str(k) for k in table.index[table["static"]]]
    anchor = _best_anchor(frames, tuple(static))
    first = choose_crop_size(frames, anchor)
    jitter = max(2, round(first / 16))
    crop_size = choose_crop_size(frames, anchor, margin=4.0 + jitter)
    factor = max(1, round(side / CENTROID_SIDE))
    centred = "the middle of its keypoints" if anchor == BOX_CENTRE else repr(anchor)
    choice = PathChoice(
        "crop",
        f"one animal per frame in a {crop_size} px box, {crop_size / side:.0%} of the frames' {side} px side "
        f"(boxes centred on {centred} by a centroid model at 1/{factor} scale)",
        anchor=anchor,
        crop_size=int(crop_size),
        jitter=int(jitter),
        centroid_scale=1.0 / factor,
    )
    if path == "auto" and crop_size > SMALL_SHARE * side:
        box = choice.reason.split(" (")[0]
        if static:
            return PathChoice("full-frame", f"keypoints {static} stay put (landmarks) and a box must hold them: {box}")
        return PathChoice("full-frame", f"the animal is large in the frame: {box}")
    return choice


def _best_anchor(frames: LabeledFrames, static: tuple[str, ...]) -> str:
    """Pick the keypoint of :func:`choose_anchor` or :data:`BOX_CENTRE`, whichever needs the smaller box.

    Static keypoints (landmarks) are never the anchor, but the box must still hold them.
    """
    keypoint = choose_anchor(frames, exclude=static)
    return min((keypoint, BOX_CENTRE), key=lambda a: (choose_crop_size(frames, a), a == BOX_CENTRE))


def planned_path(frames: LabeledFrames, out_dir: str | Path, path: str = "auto", *, resume: bool = False) -> PathChoice:
    """Return the path :func:`train_pose` takes into ``out_dir``: a resumed one's saved path, else :func:`choose_path`.

    Raises :class:`~behaviorlab.errors.OutputExistsError` when ``out_dir``
    already holds a training and ``resume`` is False.
    """
    saved = Path(out_dir) / TRAINING_PATH
    if saved.is_file() and not resume:
        raise OutputExistsError(
            f"{out_dir} already holds a trained model; pass --resume or choose another --out folder"
        )
    if resume and saved.is_file():
        return PathChoice(**json.loads(saved.read_text()))
    return choose_path(frames, path)


def train_pose(
    labels: str | Path | LabeledFrames,
    out_dir: str | Path,
    config: TrainConfig | None = None,
    *,
    path: str = "auto",
    resume: bool = False,
    verbose: int | str = "auto",
) -> PoseTrainSummary:
    """Train a pose model along the path that suits the labels (:func:`choose_path`).

    Parameters
    ----------
    labels
        Labeled frames or a path :func:`~behaviorlab.io.labeled_frames.load_labeled_frames` reads.
    out_dir
        Model folder (created): a pose model folder, or a top-down model
        folder on the crop path; ``training_path.json`` says which and why.
    config
        Training of the pose model; on the crop path also of the centroid
        model (``multi_instance`` and no graph), which gets a quarter of a
        time budget.
    path
        ``"auto"``, ``"crop"`` or ``"full-frame"``; a resumed training keeps its path.
    resume, verbose
        As in :func:`~behaviorlab.pose.train.train_model`.
    """
    out_dir = Path(out_dir)
    frames = load_frames(labels)
    config = config or TrainConfig()
    saved = out_dir / TRAINING_PATH
    choice = planned_path(frames, out_dir, path, resume=resume)
    log.info("pose path: %s, because %s", choice.path, choice.reason)
    if choice.path == "full-frame":
        result = train_model(frames, out_dir, config, resume=resume, verbose=verbose)
        write_json(saved, attrs.asdict(choice))
        return PoseTrainSummary(
            out_dir,
            choice,
            result.epochs,
            result.best_val_px_error,
            result.training_seconds,
            result.peak_rss_mib,
            result.stopped_at_budget,
            result,
        )
    budget = config.time_budget
    centroid_config = attrs.evolve(config, time_budget=None if budget is None else CENTROID_BUDGET_SHARE * budget)
    pose_config = attrs.evolve(config, time_budget=None if budget is None else (1 - CENTROID_BUDGET_SHARE) * budget)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(saved, attrs.asdict(choice))
    result = train_topdown(
        frames,
        out_dir,
        anchor=str(choice.anchor),
        crop_size=choice.crop_size,
        centroid_scale=float(choice.centroid_scale or 1.0),
        centroid_config=centroid_config,
        pose_config=pose_config,
        max_animals=1,
        peak_threshold=-1.0,  # one animal in every frame: its box goes where the centroid map is highest
        jitter=float(choice.jitter or 0),
        resume=resume,
        verbose=verbose,
    )
    return PoseTrainSummary(
        out_dir,
        choice,
        result.pose.epochs,
        result.pose.best_val_px_error,
        result.training_seconds,
        max(result.centroid.peak_rss_mib, result.pose.peak_rss_mib),
        result.centroid.stopped_at_budget or result.pose.stopped_at_budget,
        result,
    )


def evaluate_pose(model_dir: str | Path, labels: str | Path | LabeledFrames) -> EvaluationReport:
    """Accuracy of a trained model on its validation frames, whichever path trained it.

    A full-frame model: :func:`~behaviorlab.pose.predict.evaluate_model`.  A
    crop-path model: the frames of its crop model's validation boxes, posed
    end to end (the centroid model finds the animal, the crop model poses the
    box), in frame pixels; ``labels`` must be the frames it was trained on.
    """
    model_dir = Path(model_dir)
    frames = load_frames(labels)
    if not (model_dir / TOPDOWN_CONFIG).is_file():
        return evaluate_model(model_dir, frames)
    model = TopDownModel.load(model_dir)
    box_sources = json.loads((model_dir / POSE_DIR / "pose_config.json").read_text())["split"]["validation_sources"]
    position = {source: i for i, source in enumerate(frames.sources)}
    try:
        indices = sorted({position[source.rsplit("#individual=", 1)[0]] for source in box_sources})
    except KeyError as err:
        raise SchemaError(
            f"these labels are not the ones the model in {model_dir} was trained on (no frame {err.args[0]!r})"
        ) from None
    if not indices:
        raise ValueError(f"the model in {model_dir} has no validation frames")
    selected = frames.select(indices)
    pred = model.predict(list(selected.images), batch_size=8)[:, 0]
    true = selected.keypoints[:, 0]
    return evaluate_predictions(pred[..., :2], true, frames.skeleton.keypoints)
