"""Multi-animal pose estimation, top-down: find every animal, crop a box around each, pose each crop.

The approach of DeepPoseKit and SLEAP's top-down mode, with two trained models:

1. a **centroid model**: a pose model with a single keypoint, the *anchor*
   (e.g. ``spine``), trained on whole frames shrunk by ``centroid_scale``
   whose maps hold one Gaussian per labeled animal
   (:func:`~behaviorlab.pose.crops.centroid_training_frames`, trained with
   ``TrainConfig(multi_instance=True)``).  The local maxima of its map above
   ``peak_threshold`` (:func:`behaviorlab.pose.peaks.find_local_peaks`) are
   the animals;
2. a **crop model**: an ordinary single-animal pose model trained on
   ``crop_size`` boxes centred on each labeled animal's anchor
   (:func:`~behaviorlab.pose.crops.crop_training_frames`); the other animals in a box are not labels.

:class:`TopDownModel` runs both: anchors -> boxes (:func:`~behaviorlab.pose.crops.crop_images`) ->
keypoints in box pixels -> frame pixels (:func:`~behaviorlab.pose.crops.uncrop_keypoints`).  Boxes
start at integer pixels, so the mapping back is exact.
:func:`predict_video_topdown` streams a video through the model (the
resumable chunks of :func:`behaviorlab.pose.inference.predict_video`) and
gives every animal an identity with :func:`behaviorlab.trajectories.tracking.track_poses`;
:mod:`behaviorlab.pose.contacts` then looks again for animals the centroid
model merged while they touched and checks identities after each encounter.

Coordinates are ``(x, y)`` frame pixels, pixel centres at integers; the box
geometry and the training sets live in :mod:`behaviorlab.pose.crops`.

Model folder (:meth:`TopDownModel.save`, :func:`train_topdown`)::

    MODEL_DIR/
      topdown_config.json   anchor, crop_size, centroid_scale, peak_threshold, min_distance, max_animals,
                            exclusive_keypoints
      centroid/             pose model folder of the centroid model (pose_config.json, model.keras, ...)
      pose/                 pose model folder of the crop model
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import xarray as xr

from behaviorlab.errors import FileFormatError, OutputExistsError, SchemaError
from behaviorlab.io.labeled_frames import LabeledFrames
from behaviorlab.pose.backend import compiled_predict
from behaviorlab.pose.calibration import calibration_radius
from behaviorlab.pose.contacts import resolve_contacts
from behaviorlab.pose.crops import (
    anchor_index,
    centroid_training_frames,
    choose_centroid_scale,
    choose_crop_size,
    crop_images,
    crop_training_frames,
    downsample_images,
    scale_factor,
    uncrop_keypoints,
)
from behaviorlab.pose.data import load_frames
from behaviorlab.pose.folder import BEST_MODEL, POSE_CONFIG, TOPDOWN_CONFIG, save_model, write_json, write_pose_config
from behaviorlab.pose.inference import model_fingerprint, predict_stream, write_result
from behaviorlab.pose.instances import exclusive_keypoints, instances_to_poses
from behaviorlab.pose.models import build_candidates_model, build_local_peaks_model
from behaviorlab.pose.predict import PoseModel
from behaviorlab.pose.train import TrainConfig, TrainResult, train_model
from behaviorlab.schema import Skeleton, log_step

__all__ = [
    "TOPDOWN_CONFIG",
    "TopDownModel",
    "TopDownTrainResult",
    "instances_to_poses",
    "load_any_model",
    "predict_video_topdown",
    "train_topdown",
]

log = logging.getLogger(__name__)

CENTROID_DIR = "centroid"
POSE_DIR = "pose"
#: Peaks per keypoint map the crop model gives :func:`exclusive_keypoints` (the best and two more)
CANDIDATE_PEAKS = 3


# --------------------------------------------------------------------------- the model
def _predict_fixed(predict: Callable[[np.ndarray], np.ndarray], images: np.ndarray, batch_size: int) -> np.ndarray:
    """``predict`` over ``images`` in batches of exactly ``batch_size`` (the last padded with zeros)."""
    parts = []
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size]
        n = len(batch)
        if n < batch_size:
            batch = np.concatenate([batch, np.zeros((batch_size - n, *batch.shape[1:]), batch.dtype)])
        parts.append(np.asarray(predict(batch))[:n])
    return np.concatenate(parts) if parts else np.zeros((0,), np.float32)


class TopDownModel:
    """A centroid model and a crop pose model that together find and pose every animal in a frame.

    Parameters
    ----------
    centroid
        Pose model whose first keypoint map marks every animal (trained on
        :func:`centroid_training_frames` with ``multi_instance=True``).
    pose
        Single-animal pose model of the boxes (trained on :func:`crop_training_frames`).
    anchor
        Keypoint the boxes are centred on (a keypoint of ``pose``).
    crop_size
        Side of the boxes in frame pixels (at most the crop model's input size).
    centroid_scale
        The centroid model sees frames shrunk by this factor (1 / an integer).
    peak_threshold
        Smallest centroid-map value that counts as an animal.
    min_distance
        Centroid peaks at most this many map pixels apart (each map pixel is
        ``output_stride / centroid_scale`` frame pixels) merge into one animal.
    max_animals
        Animals looked for per frame (instance slots of :meth:`predict`).
    exclusive_keypoints
        Give each spot in a frame to one animal
        (:func:`~behaviorlab.pose.instances.exclusive_keypoints`, spots of the
        crop model's calibration radius): where the crop models of two
        touching animals put the same keypoint on one spot, the weaker takes
        its next peak or none (the anchor excepted).  Applies when a frame has
        several boxes.  ``False`` keeps every box's best peaks, also where two
        animals' same body parts truly touch (see the function for the trade).
    model_dir
        Folder it was loaded from, if any.
    """

    def __init__(
        self,
        centroid: PoseModel,
        pose: PoseModel,
        *,
        anchor: str,
        crop_size: int,
        centroid_scale: float = 0.5,
        peak_threshold: float = 0.2,
        min_distance: int = 1,
        max_animals: int = 2,
        exclusive_keypoints: bool = True,
        model_dir: Path | None = None,
    ) -> None:
        self.centroid = centroid
        self.pose = pose
        self.anchor = str(anchor)
        self.crop_size = int(crop_size)
        self.centroid_scale = float(centroid_scale)
        self.factor = scale_factor(centroid_scale)
        self.peak_threshold = float(peak_threshold)
        self.min_distance = int(min_distance)
        self.max_animals = int(max_animals)
        self.exclusive_keypoints = bool(exclusive_keypoints)
        self.model_dir = model_dir
        anchor_index(pose.skeleton, self.anchor)
        if self.max_animals < 1:
            raise ValueError(f"max_animals must be >= 1, got {max_animals}")
        if self.min_distance < 1:
            raise ValueError(f"min_distance must be >= 1 map pixel, got {min_distance}")
        if self.crop_size > min(pose.input_shape[:2]):
            raise SchemaError(
                f"crop_size {self.crop_size} is larger than the crop model's input {pose.input_shape[:2]}; "
                "train the crop model on boxes of this size"
            )
        if centroid.channels != pose.channels:
            raise SchemaError(
                f"the centroid model takes {centroid.channels} channels but the crop model {pose.channels}; "
                "train both with the same grayscale setting"
            )
        self._centroid_predict: Callable[[np.ndarray], np.ndarray] | None = None
        self._candidates_predict: Callable[[np.ndarray], np.ndarray] | None = None

    def __repr__(self) -> str:
        return (
            f"TopDownModel(anchor={self.anchor!r}, crop_size={self.crop_size}, centroid_scale={self.centroid_scale}, "
            f"max_animals={self.max_animals}, keypoints={list(self.skeleton.keypoints)}, dir={self.model_dir})"
        )

    @property
    def skeleton(self) -> Skeleton:
        """Keypoints and edges of the predicted poses (the crop model's)."""
        return self.pose.skeleton

    @property
    def grayscale(self) -> bool:
        """Whether frames are converted to one channel."""
        return self.pose.grayscale or self.pose.channels == 1

    def config(self) -> dict[str, Any]:
        """Contents of ``topdown_config.json``."""
        return {
            "format": "behaviorlab.topdown_model",
            "format_version": 1,
            "anchor": self.anchor,
            "crop_size": self.crop_size,
            "centroid_scale": self.centroid_scale,
            "peak_threshold": self.peak_threshold,
            "min_distance": self.min_distance,
            "max_animals": self.max_animals,
            "exclusive_keypoints": self.exclusive_keypoints,
            "centroid_dir": CENTROID_DIR,
            "pose_dir": POSE_DIR,
            "keypoints": list(self.skeleton.keypoints),
        }

    def replace(self, **changes: Any) -> TopDownModel:
        """Return a new model with the same networks and some settings changed (``max_animals``...)."""
        settings = {k: v for k, v in self.config().items() if k not in ("format", "format_version", "keypoints")}
        settings = {k: v for k, v in settings.items() if not k.endswith("_dir")}
        unknown = sorted(set(changes) - set(settings))
        if unknown:
            raise ValueError(f"unknown TopDownModel settings {unknown}; known: {sorted(settings)}")
        return TopDownModel(self.centroid, self.pose, **{**settings, **changes}, model_dir=self.model_dir)

    # ------------------------------------------------------------------ files
    def save(self, model_dir: str | Path) -> Path:
        """Write the model folder (see the module docstring); ``topdown_config.json`` is written last.

        Parameters
        ----------
        model_dir
            Folder to write (created); an existing top-down model there is an error.

        Returns
        -------
        pathlib.Path
            The folder.
        """
        model_dir = Path(model_dir)
        if (model_dir / TOPDOWN_CONFIG).exists():
            raise OutputExistsError(f"{model_dir} already holds a top-down model; choose another folder")
        for sub, model in ((CENTROID_DIR, self.centroid), (POSE_DIR, self.pose)):
            folder = model_dir / sub
            folder.mkdir(parents=True, exist_ok=True)
            save_model(model.train_model, folder / BEST_MODEL)
            write_pose_config(folder, model.config)
        write_json(model_dir / TOPDOWN_CONFIG, self.config())
        return model_dir

    @classmethod
    def load(cls, model_dir: str | Path, *, checkpoint: str = "model.keras") -> TopDownModel:
        """Load a folder written by :meth:`save` or :func:`train_topdown`.

        Parameters
        ----------
        model_dir
            The folder.
        checkpoint
            ``"model.keras"`` (best epoch) or ``"last.keras"`` of both networks.

        Returns
        -------
        TopDownModel
            The model, ready to predict.
        """
        model_dir = Path(model_dir)
        path = model_dir / TOPDOWN_CONFIG
        if not path.is_file():
            raise FileFormatError(path, f"not found: {model_dir} is not a top-down model folder")
        try:
            config = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise FileFormatError(path, f"is not valid JSON ({err})") from None
        if config.get("format") != "behaviorlab.topdown_model":
            raise FileFormatError(path, f"format is {config.get('format')!r}, expected 'behaviorlab.topdown_model'")
        centroid = PoseModel.load(model_dir / config["centroid_dir"], checkpoint=checkpoint)
        pose = PoseModel.load(model_dir / config["pose_dir"], checkpoint=checkpoint)
        settings = ("anchor", "crop_size", "centroid_scale", "peak_threshold", "min_distance", "max_animals")
        exclusive = bool(config.get("exclusive_keypoints", True))  # models saved before it existed get the default
        return cls(
            centroid, pose, **{k: config[k] for k in settings}, exclusive_keypoints=exclusive, model_dir=model_dir
        )

    def fingerprint(self) -> str:
        """SHA-256 over both networks' weights and configs and the top-down settings (for resuming)."""
        digest = hashlib.sha256(json.dumps(self.config(), sort_keys=True).encode())
        digest.update(model_fingerprint(self.centroid).encode())
        digest.update(model_fingerprint(self.pose).encode())
        return digest.hexdigest()

    # ------------------------------------------------------------------ prediction
    def centroid_input(self, frames: Sequence[np.ndarray] | np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """Frames -> centroid model input: shrunk, channels converted, padded; float32 ``(n, H, W, C)``.

        With ``batch_size``, zero images are appended up to that many.
        """
        images = self.centroid.preprocess(downsample_images(frames, self.factor))
        if batch_size is not None and len(images) < batch_size:
            images = np.concatenate([images, np.zeros((batch_size - len(images), *images.shape[1:]), images.dtype)])
        return images

    def _centroid_fn(self) -> Callable[[np.ndarray], np.ndarray]:
        if self._centroid_predict is None:
            network = build_local_peaks_model(
                self.centroid.train_model,
                output_stride=self.centroid.output_stride,
                sigma=self.centroid.sigma,
                max_peaks=self.max_animals,
                threshold=self.peak_threshold,
                min_distance=self.min_distance,
                n_keypoints=1,
                image_scale=1.0 / self.factor,
            )
            self._centroid_predict = compiled_predict(network)
        return self._centroid_predict

    def find_anchors(self, frames: Sequence[np.ndarray] | np.ndarray, *, batch_size: int = 16) -> np.ndarray:
        """Every animal's anchor in each frame, from the centroid model.

        Parameters
        ----------
        frames
            uint8 ``(n, height, width, channels)`` or a list of such images.
        batch_size
            Frames per forward pass.

        Returns
        -------
        numpy.ndarray
            Shape ``(n, max_animals, 3)``, float32: ``(x, y, peak value)`` in
            frame pixels, highest peak first; NaN rows where fewer animals were found.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        frames = list(frames)
        out = np.full((len(frames), self.max_animals, 3), np.nan, np.float32)
        for start in range(0, len(frames), batch_size):
            batch = frames[start : start + batch_size]
            out[start : start + len(batch)] = self._anchors_of(self.centroid_input(batch, batch_size), len(batch))
        return out

    def _candidates_fn(self) -> Callable[[np.ndarray], np.ndarray]:
        if self._candidates_predict is None:
            network = build_candidates_model(
                self.pose.train_model,
                output_stride=self.pose.output_stride,
                sigma=self.pose.sigma,
                n_keypoints=self.skeleton.n_keypoints,
                max_peaks=CANDIDATE_PEAKS,
            )
            self._candidates_predict = compiled_predict(network)
        return self._candidates_predict

    def _anchors_of(self, centroid_input: np.ndarray, n: int) -> np.ndarray:
        return np.asarray(self._centroid_fn()(centroid_input))[:n, 0]

    def predict_instances(
        self,
        frames: Sequence[np.ndarray] | np.ndarray,
        *,
        anchors: np.ndarray | None = None,
        batch_size: int = 16,
    ) -> np.ndarray:
        """Keypoints of every animal in each frame; the instance order carries no identity.

        Parameters
        ----------
        frames
            uint8 ``(n, height, width, channels)`` or a list of such images.
        anchors
            ``None``: found by the centroid model.  Else ``(n, n_slots, 2 or 3)``
            box centres ``(x, y)`` in frame pixels, NaN rows for absent
            animals: the centroid model is bypassed (an oracle or another detector).
        batch_size
            Frames per forward pass; the boxes of a batch go through the crop
            model together, padded to ``batch_size * n_slots``.

        Returns
        -------
        numpy.ndarray
            Shape ``(n, n_slots, n_keypoints, 3)``, float32 ``(x, y, confidence)``
            in frame pixels; ``n_slots`` is ``max_animals`` (or that of
            ``anchors``); NaN rows for absent animals.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        frames = list(frames)
        if anchors is not None:
            anchors = np.asarray(anchors, dtype=np.float64)
            if anchors.ndim != 3 or anchors.shape[0] != len(frames) or anchors.shape[2] not in (2, 3):
                raise SchemaError(
                    f"anchors must have shape (n_frames={len(frames)}, n_slots, 2 or 3), got {anchors.shape}"
                )
        n_slots = self.max_animals if anchors is None else anchors.shape[1]
        out = np.full((len(frames), n_slots, self.skeleton.n_keypoints, 3), np.nan, np.float32)
        for start in range(0, len(frames), batch_size):
            batch = frames[start : start + batch_size]
            given = None if anchors is None else anchors[start : start + len(batch)]
            out[start : start + len(batch)] = self._predict_batch(batch, batch_size, anchors=given)
        return out

    def _predict_batch(
        self,
        frames: list[np.ndarray],
        batch_size: int,
        *,
        anchors: np.ndarray | None = None,
        centroid_input: np.ndarray | None = None,
    ) -> np.ndarray:
        """Instances ``(len(frames), n_slots, K, 3)`` of one batch of frames (``centroid_input`` precomputed or not)."""
        if anchors is None:
            if centroid_input is None:
                centroid_input = self.centroid_input(frames, batch_size)
            anchors = self._anchors_of(centroid_input, len(frames))
        n_slots = anchors.shape[1]
        out = np.full((len(frames), n_slots, self.skeleton.n_keypoints, 3), np.nan, np.float32)
        frame_index, slot = np.nonzero(np.isfinite(anchors[..., :2]).all(axis=-1))
        if frame_index.size == 0:
            return out
        crops, offsets = crop_images(frames, frame_index, anchors[frame_index, slot, :2], self.crop_size)
        images = self.pose.preprocess(crops)
        if n_slots > 1 and self.exclusive_keypoints:
            peaks = np.array(_predict_fixed(self._candidates_fn(), images, batch_size * n_slots))  # (m, K, P, 3)
            found = uncrop_keypoints(peaks.reshape(len(peaks), -1, 3), offsets).reshape(peaks.shape)
            grid = np.full((len(frames), n_slots, *found.shape[1:]), np.nan)
            grid[frame_index, slot] = found
            radius = calibration_radius(self.pose.sigma, self.pose.output_stride)
            out, _ = exclusive_keypoints(grid, radius, exempt=[anchor_index(self.skeleton, self.anchor)])
            out[..., 2] = self.pose.calibrated(out[..., 2])
            return out
        found = np.array(_predict_fixed(self.pose.predict_function(), images, batch_size * n_slots))
        found[..., 2] = self.pose.calibrated(found[..., 2])
        out[frame_index, slot] = uncrop_keypoints(found, offsets)
        return out

    def predict(self, frames: Sequence[np.ndarray] | np.ndarray, *, batch_size: int = 16) -> np.ndarray:
        """Keypoints of every animal found in each frame (:meth:`predict_instances` with the centroid model).

        ``frames`` and ``batch_size`` are as in :meth:`find_anchors`.

        Returns
        -------
        numpy.ndarray
            Shape ``(n, max_animals, n_keypoints, 3)``, float32 ``(x, y,
            confidence)`` in frame pixels; NaN rows for absent animals.
        """
        return self.predict_instances(frames, batch_size=batch_size)


def load_any_model(model_dir: str | Path) -> Any:
    """Load a single-animal :class:`PoseModel` or a top-down model, whichever the folder holds.

    Parameters
    ----------
    model_dir
        A folder written by :func:`~behaviorlab.pose.train.train_model`
        (``pose_config.json``) or by :func:`train_topdown` / :meth:`TopDownModel.save`
        (``topdown_config.json``).

    Returns
    -------
    PoseModel or TopDownModel
        The loaded model; predict videos with
        :func:`~behaviorlab.pose.inference.predict_video` or
        :func:`predict_video_topdown` respectively.
    """
    model_dir = Path(model_dir)
    if (model_dir / TOPDOWN_CONFIG).is_file():
        return TopDownModel.load(model_dir)
    if (model_dir / POSE_CONFIG).is_file():
        return PoseModel.load(model_dir)
    raise FileFormatError(
        model_dir,
        f"is not a behaviorlab model folder (neither {POSE_CONFIG} nor {TOPDOWN_CONFIG}); "
        "train one with `behaviorlab train` or `behaviorlab train-topdown`",
    )


# --------------------------------------------------------------------------- poses and video
def predict_video_topdown(
    model: TopDownModel | str | Path,
    video: str | Path,
    out: str | Path | None = None,
    *,
    max_animals: int | None = None,
    batch_size: int = 16,
    chunk_size: int | None = None,
    start: int = 0,
    stop: int | None = None,
    progress: bool = False,
    prefetch: int = 3,
    individual: str | None = None,
    fill_gaps: int = 30,
    repair: bool = True,
    **tracker_options: Any,
) -> xr.Dataset:
    """Find, pose and track every animal in a video.

    Frames are decoded in a background thread and predicted in batches
    (centroid model, then the boxes through the crop model); with ``out`` the
    untracked instances are kept in chunks and an interrupted call resumes
    (as :func:`behaviorlab.pose.inference.predict_video`).  The tracker then
    links the instances of all frames into identities.

    Parameters
    ----------
    model
        A :class:`TopDownModel` or its folder.
    video
        Any video PyAV decodes.
    out
        netCDF file to write (atomically), or ``None`` to write nothing.
    max_animals
        Animals looked for per frame and most tracks; default the model's.
    batch_size
        Frames per forward pass.
    chunk_size
        Frames per saved chunk (rounded up to a multiple of ``batch_size``).
    start, stop
        Frame range (``stop=None``: to the end).
    progress
        Show a progress bar (rich).
    prefetch
        Batches decoded ahead of the networks.
    individual
        For a one-animal model (``max_animals`` 1, the crop-centred path of
        :mod:`behaviorlab.pose.strategy`): the animal's name; there is nothing
        to track.  ``None``: ``individual_0`` for one animal.
    fill_gaps
        Track gaps up to this many frames are looked into again
        (:func:`behaviorlab.pose.contacts.fill_track_gaps`): a box at the
        track's interpolated anchor finds the animal the centroid model
        merged with a neighbour while they touched, and the instances are
        tracked a second time.  0 turns it off.
    repair
        After tracking, check who is who after every encounter from body
        shape, appearance and motion, and swap tracks back where the
        frame-by-frame tracker got them wrong
        (:func:`behaviorlab.pose.contacts.resolve_contacts`).
    **tracker_options
        Keywords of :func:`behaviorlab.trajectories.tracking.track_poses` (``max_cost``,
        ``max_lost_frames``, ``history``, ``animal_size``, ``merge``...);
        ``max_tracks`` defaults to ``max_animals``.

    Returns
    -------
    xarray.Dataset
        Poses ``position (time, space, keypoint, individual)``, ``confidence
        (time, keypoint, individual)`` with ``individual`` the tracks
        (``track_0, ...``; ``individual`` for a one-animal model, untracked),
        ``source_individual (time, individual)`` (the
        instance slot each track took, -1 none) and the ``frame`` coordinate;
        attrs ``fps``, ``source_software``, ``video``, ``model``; the log
        records the prediction and the tracking.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    topdown = model if isinstance(model, TopDownModel) else TopDownModel.load(model)
    if max_animals is not None and max_animals != topdown.max_animals:
        topdown = topdown.replace(max_animals=max_animals)
    n_slots, n_keypoints = topdown.max_animals, topdown.skeleton.n_keypoints

    def preprocess(frames: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        return list(frames), topdown.centroid_input(frames, batch_size)

    def make_predict() -> Callable[[tuple[list[np.ndarray], np.ndarray]], np.ndarray]:
        def predict(batch: tuple[list[np.ndarray], np.ndarray]) -> np.ndarray:
            frames, centroid_input = batch
            return topdown._predict_batch(frames, batch_size, centroid_input=centroid_input)

        return predict

    stream = predict_stream(
        video,
        out,
        fingerprint=topdown.fingerprint,
        frame_shape=(n_slots, n_keypoints, 3),
        preprocess=preprocess,
        make_predict=make_predict,
        grayscale=topdown.grayscale,
        batch_size=batch_size,
        chunk_size=chunk_size,
        start=start,
        stop=stop,
        progress=progress,
        prefetch=prefetch,
    )
    attrs_ = {
        "video": str(stream.video),
        "model": "topdown:" + str(topdown.pose.config.get("model")),
        "damaged_frames": len(stream.damaged),
    }
    ds = instances_to_poses(stream.results, topdown.skeleton, fps=stream.fps, first_frame=stream.start, attrs_=attrs_)
    ds = log_step(
        ds,
        "predict_video_topdown",
        video=str(stream.video),
        model_dir=str(topdown.model_dir),
        batch_size=batch_size,
        frames=[stream.start, stream.start + len(stream.results)],
        started=stream.started,
        damaged_frames=list(stream.damaged),
        **{k: v for k, v in topdown.config().items() if k not in ("format", "format_version", "keypoints")},
    )
    if n_slots == 1:  # one animal: its instance is the animal
        ds = ds.assign_coords(individual=[individual or "individual_0"])
        write_result(ds, out, stream)
        return ds
    tracker_options.setdefault("max_tracks", n_slots)
    tracked = resolve_contacts(
        topdown,
        stream.video,
        ds,
        stream.results,
        first_frame=stream.start,
        fill_gaps=fill_gaps,
        repair=repair,
        batch_size=batch_size,
        **tracker_options,
    )
    write_result(tracked, out, stream)
    return tracked


# --------------------------------------------------------------------------- training
@attrs.frozen
class TopDownTrainResult:
    """What :func:`train_topdown` did.

    Parameters
    ----------
    model_dir
        The top-down model folder.
    centroid
        Training result of the centroid model.
    pose
        Training result of the crop model.
    crop_size
        Side of the boxes in pixels.
    n_crops
        Boxes (labeled animals) the crop model was trained on.
    """

    model_dir: Path
    centroid: TrainResult = attrs.field(repr=False)
    pose: TrainResult = attrs.field(repr=False)
    crop_size: int
    n_crops: int

    @property
    def training_seconds(self) -> float:
        """Wall time of both trainings."""
        return self.centroid.training_seconds + self.pose.training_seconds


def train_topdown(
    labels: str | Path | LabeledFrames,
    out_dir: str | Path,
    *,
    anchor: str,
    crop_size: int | None = None,
    centroid_scale: float | None = None,
    centroid_config: TrainConfig | None = None,
    pose_config: TrainConfig | None = None,
    peak_threshold: float = 0.2,
    min_distance: int = 1,
    max_animals: int | None = None,
    jitter: float = 0.0,
    resume: bool = False,
    verbose: int | str = "auto",
    run_eagerly: bool = False,
) -> TopDownTrainResult:
    """Train the centroid and the crop model of a top-down model on multi-animal labels.

    Parameters
    ----------
    labels
        Labeled frames with one or several labeled animals per frame (or a path).
    out_dir
        Model folder (created): ``centroid/`` and ``pose/`` are ordinary
        training folders of :func:`~behaviorlab.pose.train.train_model`;
        ``topdown_config.json`` is written when both are trained.
    anchor
        Keypoint that marks each animal and centres its box; a central,
        rarely occluded keypoint works best.
    crop_size
        Side of the boxes; ``None``: :func:`choose_crop_size`.
    centroid_scale
        The centroid model sees frames shrunk by this factor (1 / an integer);
        ``None``: :func:`~behaviorlab.pose.crops.choose_centroid_scale` (as
        small as speed asks, as large as keeps touching animals apart).
    centroid_config
        Training of the centroid model; ``multi_instance=True`` and
        ``graph=False`` are always set.  Default :class:`TrainConfig` otherwise.
    pose_config
        Training of the crop model; default :class:`TrainConfig`.
    peak_threshold, min_distance
        Detection settings saved with the model (see :class:`TopDownModel`).
    max_animals
        Animals looked for per frame; default the most labeled animals in one frame.
    jitter
        Training boxes are centred up to this many pixels off the anchor
        (:func:`~behaviorlab.pose.crops.crop_training_frames`), as the centroid
        model's boxes will be.
    resume
        Continue interrupted trainings in ``out_dir`` (see :func:`train_model`).
    verbose, run_eagerly
        As in :func:`~behaviorlab.pose.train.train_model`.

    Returns
    -------
    TopDownTrainResult
        Both training results and the box size.
    """
    out_dir = Path(out_dir)
    if (out_dir / TOPDOWN_CONFIG).is_file() and not resume:
        raise OutputExistsError(f"{out_dir} already holds a top-down model; pass resume=True or choose another folder")
    frames = load_frames(labels)
    anchor_index(frames.skeleton, anchor)
    if crop_size is None:
        crop_size = choose_crop_size(frames, anchor)
        log.info("crop size %d px", crop_size)
    if centroid_scale is None:
        centroid_scale = choose_centroid_scale(frames)
    if max_animals is None:
        labeled = np.isfinite(frames.keypoints).all(axis=-1).any(axis=-1)
        max_animals = max(1, int(labeled.sum(axis=1).max()))
    centroid_config = attrs.evolve(centroid_config or TrainConfig(), multi_instance=True, graph=False)
    pose_config = pose_config or TrainConfig()

    started = time.perf_counter()
    centroid_frames = centroid_training_frames(frames, anchor, centroid_scale=centroid_scale)
    centroid = train_model(
        centroid_frames,
        out_dir / CENTROID_DIR,
        centroid_config,
        resume=resume,
        verbose=verbose,
        run_eagerly=run_eagerly,
    )
    crops = crop_training_frames(frames, anchor, crop_size, jitter=jitter, seed=pose_config.seed)
    pose = train_model(crops, out_dir / POSE_DIR, pose_config, resume=resume, verbose=verbose, run_eagerly=run_eagerly)
    model = TopDownModel(
        PoseModel.load(out_dir / CENTROID_DIR),
        PoseModel.load(out_dir / POSE_DIR),
        anchor=anchor,
        crop_size=crop_size,
        centroid_scale=centroid_scale,
        peak_threshold=peak_threshold,
        min_distance=min_distance,
        max_animals=max_animals,
    )
    config = {
        **model.config(),
        "n_crops": len(crops),
        "jitter": float(jitter),
        "seconds": round(time.perf_counter() - started, 1),
    }
    write_json(out_dir / TOPDOWN_CONFIG, config)
    return TopDownTrainResult(out_dir, centroid, pose, int(crop_size), len(crops))
