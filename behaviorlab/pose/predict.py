"""Load a trained pose model and predict keypoints on images (video inference comes later).

A model folder (:mod:`behaviorlab.pose.folder`) written by
:func:`behaviorlab.pose.train.train_model` holds the Keras model and
``pose_config.json`` with everything its inputs need
(channels, grayscale conversion, padding to the input size, output stride,
sigma, skeleton).  :class:`PoseModel` applies that preprocessing and runs the
training model's last output through
:func:`behaviorlab.pose.models.build_inference_model`, so the subpixel maxima
are computed inside the model, on the accelerator.

Coordinates are ``(x, y)`` in the pixels of the original (unpadded) image,
pixel centres at integers.  Images are padded only at the bottom and right,
so no coordinate shift is needed to undo the padding; a peak found in the
padding lies outside the original image.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np

import behaviorlab.pose.losses  # noqa: F401  (registers masked_mse for saved models; models registers the layers)
from behaviorlab.errors import SchemaError
from behaviorlab.io.labeled_frames import LabeledFrames
from behaviorlab.pose import backend
from behaviorlab.pose.calibration import calibrate
from behaviorlab.pose.data import load_frames, pad_image, prepare_images, single_animal_keypoints
from behaviorlab.pose.evaluate import EvaluationReport, evaluate_predictions
from behaviorlab.pose.folder import POSE_CONFIG, read_pose_config
from behaviorlab.pose.models import build_inference_model
from behaviorlab.schema import Skeleton

__all__ = ["PoseModel", "evaluate_model", "frame_predictions"]


class PoseModel:
    """A trained single-animal pose model with its preprocessing.

    Parameters
    ----------
    train_model
        The training model (confidence maps out).
    pose_config
        Contents of ``pose_config.json``.
    model_dir
        Folder it was loaded from, if any.

    Attributes
    ----------
    skeleton : Skeleton
        Keypoints, edges and symmetry of the predictions.
    input_shape : tuple of int
        ``(height, width, channels)`` of the model input; images up to that size are accepted.
    inference_model : keras.Model
        Images ``(batch, height, width, channels)`` -> ``(batch, n_keypoints, 3)``.
    """

    def __init__(self, train_model: keras.Model, pose_config: dict[str, Any], model_dir: Path | None = None) -> None:
        self.train_model = train_model
        self.config = pose_config
        self.model_dir = model_dir
        self.skeleton = Skeleton.from_dict(pose_config["skeleton"])
        self.input_shape = tuple(int(d) for d in pose_config["input_shape"])
        self.channels = int(pose_config["channels"])
        self.grayscale = bool(pose_config["grayscale"])
        self.output_stride = int(pose_config["output_stride"])
        self.sigma = float(pose_config["sigma"])
        #: The map from raw peak height to calibrated confidence (None: raw; see behaviorlab.pose.calibration)
        self.calibration: dict[str, Any] | None = pose_config.get("confidence_calibration")
        self._compiled_predict: Any = None
        self.inference_model = build_inference_model(
            train_model, output_stride=self.output_stride, sigma=self.sigma, n_keypoints=self.skeleton.n_keypoints
        )

    def __repr__(self) -> str:
        return (
            f"PoseModel({self.config.get('model')!r}, keypoints={list(self.skeleton.keypoints)}, "
            f"input_shape={self.input_shape}, output_stride={self.output_stride}, dir={self.model_dir})"
        )

    def predict_function(self) -> Any:
        """Return the inference model compiled for repeated calls (:func:`~behaviorlab.pose.backend.compiled_predict`).

        Cached on this object, so that predicting many videos with one loaded
        model traces and compiles the network once.
        """
        if self._compiled_predict is None:
            # looked up on the module at call time, so a replaced backend.compiled_predict takes effect
            self._compiled_predict = backend.compiled_predict(self.inference_model)
        return self._compiled_predict

    @classmethod
    def load(cls, model_dir: str | Path, *, checkpoint: str = "model.keras") -> PoseModel:
        """Load a model folder written by :func:`~behaviorlab.pose.train.train_model`.

        Parameters
        ----------
        model_dir
            The folder.
        checkpoint
            ``"model.keras"`` (best epoch) or ``"last.keras"``.

        Returns
        -------
        PoseModel
            The model, ready to predict.
        """
        model_dir = Path(model_dir)
        config_path = model_dir / POSE_CONFIG
        if not config_path.is_file():
            raise FileNotFoundError(f"{config_path} not found: {model_dir} is not a behaviorlab model folder")
        model_path = model_dir / checkpoint
        if not model_path.is_file():
            raise FileNotFoundError(f"{model_path} not found; has the training completed an epoch?")
        pose_config = read_pose_config(model_dir)
        train_model = keras.saving.load_model(model_path, compile=False)
        return cls(train_model, pose_config, model_dir)

    @property
    def validation_indices(self) -> np.ndarray:
        """Frames of the training labels held out for validation, int64 ``(n_val,)``."""
        return np.asarray(self.config["split"]["validation"], dtype=np.int64)

    def preprocess(self, images: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
        """Images -> model input: channels, grayscale and zero padding; float32 ``(n, H, W, C)`` in [0, 255].

        Colour images given to a one-channel model are converted to grayscale
        (video frames usually decode as RGB even when the scene is gray).
        """
        prepared = prepare_images(images, self.channels, grayscale=self.grayscale or self.channels == 1)
        if not prepared:
            return np.zeros((0, *self.input_shape), dtype=np.float32)
        return np.stack([pad_image(image, self.input_shape) for image in prepared]).astype(np.float32)

    def calibrated(self, raw: np.ndarray) -> np.ndarray:
        """Calibrated confidences of raw peak heights (unchanged for a model trained without a calibration)."""
        return calibrate(raw, self.calibration)

    def predict(
        self, images: Sequence[np.ndarray] | np.ndarray, *, batch_size: int = 16, raw_confidence: bool = False
    ) -> np.ndarray:
        """Keypoints of every image.

        Parameters
        ----------
        images
            uint8 ``(n, height, width, channels)``, or a list of ``(h, w, c)``
            images of any sizes up to :attr:`input_shape`.
        batch_size
            Images per forward pass.
        raw_confidence
            Give the map's value at the peak instead of the calibrated confidence.

        Returns
        -------
        numpy.ndarray
            Shape ``(n, n_keypoints, 3)``, float32: ``(x, y, confidence)`` in
            the original image pixels; confidence is the calibrated chance
            that the keypoint lies within ``calibration["radius_px"]`` of the
            truth (:mod:`behaviorlab.pose.calibration`), or the map's value at
            the peak for a model without a calibration.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        images = list(images)
        out = np.zeros((len(images), self.skeleton.n_keypoints, 3), dtype=np.float32)
        for start in range(0, len(images), batch_size):
            batch = self.preprocess(images[start : start + batch_size])
            out[start : start + len(batch)] = np.asarray(self.inference_model.predict_on_batch(batch))
        if not raw_confidence:
            out[..., 2] = self.calibrated(out[..., 2])
        return out

    def predict_labeled_frames(self, frames: LabeledFrames, *, batch_size: int = 16) -> np.ndarray:
        """Keypoints of every frame, shaped like :attr:`LabeledFrames.keypoints` for one individual.

        Parameters
        ----------
        frames
            Frames with the model's keypoints (their labels are not used).
        batch_size
            Images per forward pass.

        Returns
        -------
        numpy.ndarray
            Shape ``(n_frames, 1, n_keypoints, 2)``, float64 ``(x, y)``.
        """
        return self.predict(frames.images, batch_size=batch_size)[:, None, :, :2].astype(np.float64)


def _reorder_keypoints(frames: LabeledFrames, skeleton: Skeleton) -> np.ndarray:
    """``frames.keypoints`` in the order of ``skeleton``; the names must match."""
    found = frames.skeleton.keypoints
    if sorted(found) != sorted(skeleton.keypoints):
        raise SchemaError(f"the labels have keypoints {list(found)} but the model predicts {list(skeleton.keypoints)}")
    return frames.keypoints[:, :, [found.index(k) for k in skeleton.keypoints]]


def evaluate_model(
    model_dir: str | Path | PoseModel,
    labels: str | Path | LabeledFrames,
    *,
    indices: Sequence[int] | np.ndarray | None = None,
    batch_size: int = 16,
    thresholds: Sequence[float] = (2, 5, 10),
) -> EvaluationReport:
    """Accuracy of a trained model on labeled frames.

    Parameters
    ----------
    model_dir
        Model folder (or a loaded :class:`PoseModel`).
    labels
        Labeled frames or a path :func:`~behaviorlab.io.labeled_frames.load_labeled_frames` reads.
    indices
        Frames to evaluate; ``None`` for the validation split saved with the
        model (then ``labels`` must be the training labels).
    batch_size
        Images per forward pass.
    thresholds
        PCK distances in pixels.

    Returns
    -------
    EvaluationReport
        Per-keypoint mean, median, p90, p99 and max errors in pixels, and PCK.
    """
    model = model_dir if isinstance(model_dir, PoseModel) else PoseModel.load(model_dir)
    frames = load_frames(labels)
    if indices is None:
        split = model.config["split"]
        indices = model.validation_indices
        if len(indices) == 0:
            raise ValueError(f"the model in {model.model_dir} has no validation split; pass indices")
        if len(frames) != split["n_frames"] or [frames.sources[i] for i in indices] != split["validation_sources"]:
            raise SchemaError(
                f"these labels ({len(frames)} frames) are not the ones the model was trained on "
                f"({split['n_frames']} frames): the saved validation split does not apply; pass indices"
            )
    pred, true = frame_predictions(model, frames, indices, batch_size=batch_size)
    return evaluate_predictions(pred[..., :2], true, model.skeleton.keypoints, thresholds=thresholds)


def frame_predictions(
    model: PoseModel,
    frames: LabeledFrames,
    indices: Sequence[int] | np.ndarray,
    *,
    batch_size: int = 16,
    raw_confidence: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Predictions ``(n, n_keypoints, 3)`` on labeled frames ``indices`` and their labels ``(n, n_keypoints, 2)``.

    Frames without a labeled animal are left out of both.
    """
    selected = frames.select(np.asarray(indices, dtype=np.int64))
    true, used = single_animal_keypoints(_reorder_keypoints(selected, model.skeleton), selected.sources)
    pred = model.predict([selected.images[i] for i in used], batch_size=batch_size, raw_confidence=raw_confidence)
    return pred, true
