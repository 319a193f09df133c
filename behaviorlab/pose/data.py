"""Input pipeline for training pose models: single-animal frames, padding, splits and batches.

The steps, in order:

1. :func:`single_animal_keypoints` keeps the frames with exactly one labeled
   individual and returns their keypoints ``(n, n_keypoints, 2)``; a frame
   with several labeled individuals is an error (multi-animal training goes
   through top-down crops, :mod:`behaviorlab.pose.topdown`).  For models
   whose maps hold every animal at once (the top-down centroid model),
   :func:`multi_animal_keypoints` keeps every frame with a labeled
   individual and returns ``(n, n_individuals, n_keypoints, 2)``.
2. :func:`prepare_images` gives every image the model's channel count
   (optionally converting to grayscale) and :func:`input_multiple` /
   :func:`padded_input_shape` choose one input size for all frames.
3. :func:`pad_image` pads each image at the bottom and right with zeros, so
   keypoint coordinates are unchanged.
4. :func:`split_frames` draws a seeded train/validation split.
5. :class:`PoseSequence` (a :class:`keras.utils.PyDataset`) yields
   ``(images, targets)`` batches: images float32 ``(batch, H, W, C)`` in
   ``[0, 255]`` (the models normalise internally with
   :class:`behaviorlab.pose.layers.ImageNormalization`), targets
   ``(batch, H / s, W / s, n_maps)`` float32, repeated once per model output,
   with channels of missing keypoints (or incomplete graph maps) set to NaN
   so that :func:`behaviorlab.pose.losses.masked_mse` ignores them.  Given
   keypoints ``(n, n_individuals, n_keypoints, 2)``, the targets hold every
   individual (:func:`behaviorlab.pose.targets.multi_instance_targets`).

Augmentation (:class:`behaviorlab.pose.augment.Augmenter`) runs on the
unpadded image; each batch draws from a generator seeded by
``(seed, epoch, batch index)``, so an epoch is the same on every run whatever
the order in which batches are requested.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np

from behaviorlab.errors import SchemaError
from behaviorlab.io.labeled_frames import LabeledFrames, load_labeled_frames, to_grayscale
from behaviorlab.pose.augment import Augmenter
from behaviorlab.pose.targets import multi_instance_targets, training_targets
from behaviorlab.schema import Skeleton

__all__ = [
    "PoseSequence",
    "input_multiple",
    "load_frames",
    "multi_animal_keypoints",
    "pad_image",
    "padded_input_shape",
    "prepare_images",
    "single_animal_keypoints",
    "split_frames",
]

log = logging.getLogger(__name__)

# Input pixels per output pixel of each builder when it takes no ``output_stride``.
_FIXED_STRIDE = {"leap": 1}
# Multiple of the input size needed by builders whose multiple does not depend on a depth.
_FIXED_MULTIPLE = {"leap": 4, "deeplabcut": 32}
# Keyword that sets the number of 2x poolings per hourglass.
_DEPTH_KEYWORD = {"stacked_densenet": "pooling_depth", "stacked_hourglass": "depth"}


# --------------------------------------------------------------------------- frames
def load_frames(labels: str | Path | LabeledFrames) -> LabeledFrames:
    """``labels`` itself when it is a :class:`LabeledFrames`, else :func:`load_labeled_frames` of the path."""
    if isinstance(labels, LabeledFrames):
        return labels
    if not isinstance(labels, str | Path):
        raise TypeError(f"labels must be a LabeledFrames or a path, got {type(labels).__name__}")
    return load_labeled_frames(labels)


def single_animal_keypoints(
    keypoints: np.ndarray, sources: Sequence[str] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints of the one labeled individual in each frame.

    Parameters
    ----------
    keypoints
        Shape ``(n_frames, n_individuals, n_keypoints, 2)``, NaN = missing.
    sources
        Names of the frames, for error messages.

    Returns
    -------
    keypoints : numpy.ndarray
        Shape ``(n_used, n_keypoints, 2)``, float64: the labeled individual's
        keypoints of every frame that has one.
    frame_indices : numpy.ndarray
        Shape ``(n_used,)``, int64: the frames used, indices into ``keypoints``.
        Frames with no labeled keypoint are left out.

    Raises
    ------
    SchemaError
        When a frame has labeled keypoints for more than one individual.
    """
    keypoints = np.asarray(keypoints, dtype=np.float64)
    if keypoints.ndim != 4 or keypoints.shape[-1] != 2:
        raise SchemaError(f"keypoints must have shape (n_frames, n_individuals, n_keypoints, 2), got {keypoints.shape}")
    labeled = np.isfinite(keypoints).all(axis=-1).any(axis=-1)  # (n_frames, n_individuals)
    counts = labeled.sum(axis=1)
    crowded = np.flatnonzero(counts > 1)
    if crowded.size:
        first = int(crowded[0])
        name = sources[first] if sources is not None else f"frame {first}"
        raise SchemaError(
            f"{crowded.size} labeled frames have more than one labeled individual (first: {name}, "
            f"{int(counts[first])} individuals); single-animal training needs one individual per frame. "
            "Train on top-down crops around each animal instead (one animal per crop), or keep one "
            "individual with LabeledFrames.select / attrs.evolve"
        )
    frame_indices = np.flatnonzero(counts == 1).astype(np.int64)
    n_empty = int((counts == 0).sum())
    if n_empty:
        log.info("left out %d frames with no labeled keypoint", n_empty)
    which = labeled[frame_indices].argmax(axis=1)
    return keypoints[frame_indices, which], frame_indices


def multi_animal_keypoints(
    keypoints: np.ndarray, sources: Sequence[str] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints of every individual in the frames that have at least one labeled individual.

    ``keypoints`` is as in :func:`single_animal_keypoints`; ``sources`` is unused (the same signature).

    Returns
    -------
    keypoints : numpy.ndarray
        Shape ``(n_used, n_individuals, n_keypoints, 2)``, float64.
    frame_indices : numpy.ndarray
        Shape ``(n_used,)``, int64: the frames used; frames with no labeled keypoint are left out.
    """
    keypoints = np.asarray(keypoints, dtype=np.float64)
    if keypoints.ndim != 4 or keypoints.shape[-1] != 2:
        raise SchemaError(f"keypoints must have shape (n_frames, n_individuals, n_keypoints, 2), got {keypoints.shape}")
    labeled = np.isfinite(keypoints).all(axis=-1).any(axis=(1, 2))
    n_empty = int((~labeled).sum())
    if n_empty:
        log.info("left out %d frames with no labeled keypoint", n_empty)
    frame_indices = np.flatnonzero(labeled).astype(np.int64)
    return keypoints[frame_indices], frame_indices


def image_hwc(image: Any, index: int) -> np.ndarray:
    """Return image number ``index`` as an array ``(height, width, channels)``; a 2-D image gets one channel.

    Raises
    ------
    SchemaError
        The image is neither 2-D nor 3-D.
    """
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3:
        raise SchemaError(f"image {index} must have shape (height, width[, channels]), got {image.shape}")
    return image


def split_frames(n_frames: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded random split of ``range(n_frames)`` into training and validation indices.

    Parameters
    ----------
    n_frames
        Number of frames to split.
    val_fraction
        Share of frames for validation, in ``[0, 1)``; at least one
        validation frame when it is above 0 (and at least one training frame).
    seed
        Seed of the permutation.

    Returns
    -------
    train, validation : numpy.ndarray
        Sorted int64 indices into ``range(n_frames)``; together they cover it once.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must lie in [0, 1), got {val_fraction}")
    if n_frames < 1 or (val_fraction > 0 and n_frames < 2):
        raise SchemaError(
            f"need at least {2 if val_fraction > 0 else 1} labeled frames to train with val_fraction={val_fraction}, "
            f"got {n_frames}"
        )
    n_val = 0 if val_fraction == 0 else min(n_frames - 1, max(1, round(val_fraction * n_frames)))
    order = np.random.default_rng(seed).permutation(n_frames)
    return np.sort(order[n_val:]).astype(np.int64), np.sort(order[:n_val]).astype(np.int64)


# --------------------------------------------------------------------------- images
def prepare_images(images: Sequence[np.ndarray] | np.ndarray, channels: int, *, grayscale: bool) -> list[np.ndarray]:
    """Check images and give them the model's channel count.

    Parameters
    ----------
    images
        ``n`` uint8 arrays ``(height, width, channels)`` (or ``(height, width)``
        for grayscale), or one array ``(n, height, width, channels)``.
    channels
        Channels the model expects.
    grayscale
        Convert colour images to one channel first (as in training).

    Returns
    -------
    list of numpy.ndarray
        ``n`` uint8 arrays ``(height, width, channels)``.
    """
    out = []
    for i, image in enumerate(images):
        image = image_hwc(image, i)
        if image.dtype != np.uint8:
            raise SchemaError(f"image {i} must be uint8 (0-255), got {image.dtype}; rescale and convert it first")
        if grayscale:
            image = to_grayscale(image)
        if image.shape[2] != channels:
            raise SchemaError(
                f"image {i} has {image.shape[2]} channels but the model expects {channels}"
                + ("" if grayscale else "; convert the images or train with grayscale=True")
            )
        out.append(image)
    return out


def _stride_and_multiple(model: str, model_kwargs: dict, output_stride: int) -> tuple[int, int | None]:
    if model in _FIXED_MULTIPLE:
        return output_stride, _FIXED_MULTIPLE[model]
    depth = model_kwargs.get(_DEPTH_KEYWORD.get(model, ""))
    return output_stride, None if depth is None else output_stride * 2 ** int(depth)


def input_multiple(
    model: str,
    model_kwargs: dict,
    output_stride: int,
    image_shape: Sequence[int],
    *,
    max_depth: int = 6,
    max_area_overhead: float = 0.15,
) -> int:
    """Multiple of the input height and width that ``model`` needs.

    Stacked DenseNet and Stacked Hourglass need ``output_stride * 2**depth``
    (``depth`` the poolings per hourglass); LEAP needs 4 and DeepLabCut 32.
    When the depth is automatic (``None``), the deepest one (at most
    ``max_depth``, keeping the deepest maps at least 2 pixels) whose padding
    adds at most ``max_area_overhead`` of the image area is chosen, and at
    least 1.

    Parameters
    ----------
    model
        Key of :data:`behaviorlab.pose.models.MODEL_BUILDERS`.
    model_kwargs
        Builder keyword arguments (``pooling_depth`` / ``depth`` are read).
    output_stride
        Input pixels per output pixel.
    image_shape
        Largest ``(height, width, ...)`` of the images.
    max_depth, max_area_overhead
        Limits of the automatic depth.

    Returns
    -------
    int
        The multiple.
    """
    stride, fixed = _stride_and_multiple(model, model_kwargs, output_stride)
    if fixed is not None:
        return fixed
    height, width = int(image_shape[0]), int(image_shape[1])
    for depth in range(max_depth, 1, -1):
        multiple = stride * 2**depth
        padded_h, padded_w = math.ceil(height / multiple) * multiple, math.ceil(width / multiple) * multiple
        deep_enough = min(padded_h, padded_w) // multiple >= 2
        if deep_enough and padded_h * padded_w <= (1.0 + max_area_overhead) * height * width:
            return multiple
    return stride * 2


def padded_input_shape(image_shapes: Sequence[Sequence[int]], multiple: int) -> tuple[int, int, int]:
    """Smallest ``(height, width, channels)`` that holds every image and is a multiple of ``multiple``."""
    shapes = np.asarray(image_shapes, dtype=np.int64).reshape(-1, 3)
    height = math.ceil(int(shapes[:, 0].max()) / multiple) * multiple
    width = math.ceil(int(shapes[:, 1].max()) / multiple) * multiple
    return int(height), int(width), int(shapes[0, 2])


def pad_image(image: np.ndarray, input_shape: Sequence[int]) -> np.ndarray:
    """Pad ``image`` ``(h, w, c)`` with zeros at the bottom and right to ``input_shape`` ``(H, W, c)``.

    Keypoint coordinates are unchanged by this padding.
    """
    height, width = int(input_shape[0]), int(input_shape[1])
    h, w = image.shape[:2]
    if h > height or w > width:
        raise SchemaError(
            f"image of size {h}x{w} is larger than the model input {height}x{width}; crop or resize it "
            "(the model was trained on images up to that size)"
        )
    if (h, w) == (height, width):
        return image
    return np.pad(image, ((0, height - h), (0, width - w), (0, 0)))


# --------------------------------------------------------------------------- batches
class PoseSequence(keras.utils.PyDataset):
    """Batches of padded images and their target maps, augmented on the fly.

    Parameters
    ----------
    images
        ``n`` uint8 images ``(h, w, channels)``, any sizes up to ``input_shape``.
    keypoints
        Shape ``(n, n_keypoints, 2)`` in image pixels, NaN = missing; or
        ``(n, n_individuals, n_keypoints, 2)`` for targets that hold every
        individual of a frame (:func:`~behaviorlab.pose.targets.multi_instance_targets`).
    skeleton
        Skeleton of the keypoints (edges for the graph maps, symmetry for flips).
    input_shape
        ``(H, W, channels)`` of the model input.
    output_stride
        Input pixels per output pixel.
    sigma
        Target Gaussian standard deviation in input pixels.
    n_outputs
        Number of model outputs (intermediate supervision): the targets are repeated that often.
    batch_size
        Images per batch.
    graph
        Posture-graph maps besides the keypoint maps.
    augmenter
        Applied to every image before padding; ``None`` for none (validation).
    shuffle
        Draw a new seeded order every epoch (else frames in order).
    seed
        Seed of the order and the augmentation.
    steps_per_epoch
        Batches per epoch; ``None`` for one pass over the frames.
    **kwargs
        ``workers``, ``use_multiprocessing``, ``max_queue_size`` of :class:`keras.utils.PyDataset`.

    Notes
    -----
    Batch ``b`` of epoch ``e`` depends only on ``(seed, e, b)``; :attr:`epoch`
    is set by the training loop (:meth:`set_epoch`).
    """

    def __init__(
        self,
        images: Sequence[np.ndarray],
        keypoints: np.ndarray,
        skeleton: Skeleton,
        input_shape: Sequence[int],
        output_stride: int,
        sigma: float,
        n_outputs: int,
        batch_size: int,
        *,
        graph: bool = True,
        augmenter: Augmenter | None = None,
        shuffle: bool = False,
        seed: int = 0,
        steps_per_epoch: int | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        keypoints = np.asarray(keypoints, dtype=np.float64)
        if keypoints.ndim not in (3, 4) or keypoints.shape[-1] != 2:
            raise SchemaError(
                "keypoints must have shape (n, n_keypoints, 2) or (n, n_individuals, n_keypoints, 2), "
                f"got {keypoints.shape}"
            )
        if len(images) != keypoints.shape[0] or len(images) == 0:
            raise SchemaError(
                f"need as many images as keypoint rows (and at least one); got {len(images)} images "
                f"and keypoints {keypoints.shape}"
            )
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.images = list(images)
        self.keypoints = keypoints
        self.skeleton = skeleton
        self.input_shape = tuple(int(d) for d in input_shape)
        self.output_stride = int(output_stride)
        self.sigma = float(sigma)
        self.n_outputs = int(n_outputs)
        self.batch_size = int(batch_size)
        self.graph = bool(graph)
        self.augmenter = augmenter
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.steps_per_epoch = None if steps_per_epoch is None else int(steps_per_epoch)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose order and augmentation the next batches use."""
        self.epoch = int(epoch)

    @property
    def num_batches(self) -> int:
        """Batches per epoch."""
        if self.steps_per_epoch is not None:
            return self.steps_per_epoch
        return math.ceil(len(self.images) / self.batch_size)

    def __len__(self) -> int:
        return self.num_batches

    def _indices(self, index: int) -> np.ndarray:
        n = len(self.images)
        start, stop = index * self.batch_size, (index + 1) * self.batch_size
        if self.steps_per_epoch is None:
            stop = min(stop, n)
        if not self.shuffle:
            return np.arange(start, stop) % n
        passes = math.ceil(stop / n)
        order = np.concatenate(
            [np.random.default_rng([self.seed, self.epoch, p]).permutation(n) for p in range(passes)]
        )
        return order[start:stop]

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray | tuple[np.ndarray, ...]]:
        """Batch ``index``: images ``(b, H, W, C)`` float32 in [0, 255] and targets, NaN-masked."""
        if not 0 <= index < self.num_batches:
            raise IndexError(f"batch {index} out of range for {self.num_batches} batches")
        indices = self._indices(index)
        rng = np.random.default_rng([self.seed, self.epoch, index, 1])
        batch_images, batch_maps = [], []
        for i in indices:
            image, keypoints = self.images[i], self.keypoints[i]
            if self.augmenter is not None:
                image, keypoints = self.augmenter(image, keypoints, rng)
            image = pad_image(image, self.input_shape)
            targets = multi_instance_targets if keypoints.ndim == 3 else training_targets
            maps, mask = targets(
                keypoints, self.skeleton, self.input_shape, self.output_stride, self.sigma, graph=self.graph
            )
            maps[..., ~mask] = np.nan
            batch_images.append(image)
            batch_maps.append(maps)
        x = np.stack(batch_images).astype(np.float32)
        y = np.stack(batch_maps).astype(np.float32)
        return x, (y if self.n_outputs == 1 else tuple(y for _ in range(self.n_outputs)))
