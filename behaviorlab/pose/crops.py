"""Boxes around animals for top-down pose estimation: cropping, mapping back, and the two training sets.

Coordinates are ``(x, y)`` pixels, pixel centres at integers.  A box of side
``S`` centred on ``(x, y)`` starts at ``offset = floor((x, y) + 0.5) - S // 2``
(:func:`crop_offsets`) and box pixel ``(i, j)`` is image pixel ``(i, j) +
offset``; pixels outside the image are zero (:func:`crop_images`).  Offsets
are integers, so :func:`uncrop_keypoints` maps box keypoints back exactly.

A frame shrunk by an integer factor ``f`` (``centroid_scale = 1 / f``,
:func:`downsample_images`) averages ``f x f`` blocks, so ``x_small = (x +
0.5) / f - 0.5``, the pixel-centre convention of the confidence maps.

:func:`centroid_training_frames` and :func:`crop_training_frames` turn
multi-animal labels into the training sets of
:mod:`behaviorlab.pose.topdown`'s two models; both are
:class:`~behaviorlab.io.labeled_frames.LabeledFrames`, so
:func:`~behaviorlab.pose.train.train_model` trains them.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from behaviorlab.errors import SchemaError
from behaviorlab.io.labeled_frames import LabeledFrames
from behaviorlab.pose.data import image_hwc, load_frames
from behaviorlab.schema import Skeleton

__all__ = [
    "BOX_CENTRE",
    "BOX_CENTRE_INDEX",
    "CENTROID_ANIMAL_PX",
    "CENTROID_SIDE",
    "anchor_index",
    "centroid_training_frames",
    "choose_centroid_scale",
    "choose_crop_size",
    "crop_images",
    "crop_offsets",
    "crop_training_frames",
    "downsample_images",
    "instance_anchors",
    "scale_factor",
    "uncrop_keypoints",
]

log = logging.getLogger(__name__)

#: The centroid model sees frames shrunk to about this many pixels on the shorter side (compute) ...
CENTROID_SIDE = 160
#: ... but never so far that a typical animal is under this many pixels across in them: two animals that touch
#: then merge into one peak.  Measured on generated two- and three-mouse sessions with frequent contact (mice
#: ~80 px across with the tail in 256 px frames): full scale found 90 % of the animals, half scale 81 %.
CENTROID_ANIMAL_PX = 64

#: Anchor name of the middle of the bounding box of an animal's labeled keypoints (no keypoint of its own).
BOX_CENTRE = "box_centre"
BOX_CENTRE_INDEX = -1


# --------------------------------------------------------------------------- geometry
def scale_factor(centroid_scale: float) -> int:
    """Integer shrink factor ``f = 1 / centroid_scale``; ``centroid_scale`` must be 1, 1/2, 1/3, ..."""
    scale = float(centroid_scale)
    if not 0 < scale <= 1:
        raise ValueError(f"centroid_scale must lie in (0, 1], got {centroid_scale}")
    factor = round(1.0 / scale)
    if abs(factor * scale - 1.0) > 1e-6:
        raise ValueError(f"centroid_scale must be 1 / an integer (1, 0.5, 0.25, ...), got {centroid_scale}")
    return int(factor)


def downsample_images(images: Sequence[np.ndarray] | np.ndarray, factor: int) -> list[np.ndarray]:
    """Shrink images by an integer factor, averaging ``factor x factor`` blocks.

    Images are first padded with zeros at the bottom and right to a multiple
    of ``factor`` (coordinates unchanged), so pixel ``j`` of the result covers
    pixels ``[j * f, (j + 1) * f)`` and ``x_small = (x + 0.5) / f - 0.5``.

    Parameters
    ----------
    images
        ``n`` uint8 images ``(height, width)`` or ``(height, width, channels)``,
        or one array ``(n, height, width, channels)``.
    factor
        Shrink factor ``f >= 1``.

    Returns
    -------
    list of numpy.ndarray
        ``n`` uint8 images ``(ceil(height / f), ceil(width / f), channels)``
        (the inputs themselves when ``f == 1``).
    """
    factor = int(factor)
    if factor < 1:
        raise ValueError(f"factor must be an integer >= 1, got {factor}")
    out = []
    for i, image in enumerate(images):
        image = image_hwc(image, i)
        if factor == 1:
            out.append(image)
            continue
        h, w, c = image.shape
        hh, ww = math.ceil(h / factor), math.ceil(w / factor)
        padded = np.zeros((hh * factor, ww * factor, c), np.float32)
        padded[:h, :w] = image
        small = padded.reshape(hh, factor, ww, factor, c).mean(axis=(1, 3))
        out.append(np.clip(np.rint(small), 0, 255).astype(np.uint8))
    return out


def instance_anchors(keypoints: np.ndarray, anchor_index: int) -> np.ndarray:
    """Where each labeled animal's box is centred: its anchor keypoint, or the centre of its keypoints' box.

    Parameters
    ----------
    keypoints
        Shape ``(..., n_keypoints, 2)``, e.g. ``(n_frames, n_individuals, n_keypoints, 2)``; NaN = missing.
    anchor_index
        Index of the anchor keypoint; an animal without it is centred on the
        mean of its labeled keypoints.  :data:`BOX_CENTRE_INDEX` (``-1``)
        centres every animal on the middle of the bounding box of its labeled
        keypoints (SLEAP's centroid when no anchor part is given).

    Returns
    -------
    numpy.ndarray
        Shape ``(..., 2)``, float64; NaN for an animal with no labeled keypoint.
    """
    keypoints = np.asarray(keypoints, dtype=np.float64)
    if keypoints.ndim < 2 or keypoints.shape[-1] != 2:
        raise SchemaError(f"keypoints must have shape (..., n_keypoints, 2), got {keypoints.shape}")
    if not (0 <= anchor_index < keypoints.shape[-2] or anchor_index == BOX_CENTRE_INDEX):
        raise SchemaError(f"anchor_index {anchor_index} is out of range for {keypoints.shape[-2]} keypoints")
    present = np.isfinite(keypoints).all(axis=-1)
    any_present = present.any(axis=-1)[..., None]
    if anchor_index == BOX_CENTRE_INDEX:
        low = np.where(present[..., None], keypoints, np.inf).min(axis=-2)
        high = np.where(present[..., None], keypoints, -np.inf).max(axis=-2)
        with np.errstate(invalid="ignore"):  # inf - inf for an animal with no labeled keypoint
            return np.where(any_present, (low + high) / 2, np.nan)
    count = present.sum(axis=-1)[..., None]
    total = np.where(present[..., None], keypoints, 0.0).sum(axis=-2)
    centre = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    anchor = keypoints[..., anchor_index, :]
    return np.where(present[..., anchor_index, None], anchor, centre)


def crop_offsets(centres: np.ndarray, crop_size: int) -> np.ndarray:
    """Top-left pixel ``(x, y)`` of the box of side ``crop_size`` centred on each centre.

    Parameters
    ----------
    centres
        Shape ``(..., 2)``, finite ``(x, y)`` pixels.
    crop_size
        Side of the box in pixels.

    Returns
    -------
    numpy.ndarray
        Shape ``(..., 2)``, int64: ``floor(centre + 0.5) - crop_size // 2``, so
        the centre falls within half a pixel of box pixel ``crop_size // 2``.
    """
    centres = np.asarray(centres, dtype=np.float64)
    if not np.isfinite(centres).all():
        raise SchemaError("box centres must be finite; leave absent animals out before cropping")
    return np.floor(centres + 0.5).astype(np.int64) - int(crop_size) // 2


def crop_images(
    images: Sequence[np.ndarray] | np.ndarray,
    frame_index: np.ndarray,
    centres: np.ndarray,
    crop_size: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Cut a box of side ``crop_size`` around each centre, zero outside the image.

    Parameters
    ----------
    images
        ``n`` uint8 images ``(height, width, channels)`` or ``(height, width)``,
        or one array ``(n, height, width, channels)``.
    frame_index
        Shape ``(m,)``: the image each box is cut from.
    centres
        Shape ``(m, 2)``: ``(x, y)`` box centres in image pixels, finite.
    crop_size
        Side of every box in pixels.

    Returns
    -------
    crops : numpy.ndarray
        Shape ``(m, crop_size, crop_size, channels)``, the images' dtype.
    offsets : numpy.ndarray
        Shape ``(m, 2)``, int64 ``(x, y)`` of box pixel ``(0, 0)`` in the image
        (:func:`crop_offsets`); :func:`uncrop_keypoints` adds them back.
    """
    size = int(crop_size)
    if size < 1:
        raise ValueError(f"crop_size must be >= 1 pixel, got {crop_size}")
    frame_index = np.asarray(frame_index, dtype=np.int64).reshape(-1)
    centres = np.asarray(centres, dtype=np.float64).reshape(-1, 2)
    if len(frame_index) != len(centres):
        raise SchemaError(f"got {len(frame_index)} frame indices for {len(centres)} box centres")
    offsets = crop_offsets(centres, size)
    first = np.asarray(images[0]) if len(images) else np.zeros((1, 1, 1), np.uint8)
    channels = first.shape[2] if first.ndim == 3 else 1
    crops = np.zeros((len(centres), size, size, channels), first.dtype)
    for m, (f, (x0, y0)) in enumerate(zip(frame_index, offsets, strict=True)):
        image = np.asarray(images[f])
        if image.ndim == 2:
            image = image[..., None]
        h, w = image.shape[:2]
        top, left = max(0, y0), max(0, x0)
        bottom, right = min(h, y0 + size), min(w, x0 + size)
        if bottom > top and right > left:
            crops[m, top - y0 : bottom - y0, left - x0 : right - x0] = image[top:bottom, left:right]
    return crops, offsets


def uncrop_keypoints(keypoints: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Box-pixel keypoints -> image pixels: add each box's offset to ``x`` and ``y``.

    Parameters
    ----------
    keypoints
        Shape ``(m, n_keypoints, 2 or 3)``: ``(x, y[, confidence])`` in box pixels.
    offsets
        Shape ``(m, 2)``: the offsets returned by :func:`crop_images`.

    Returns
    -------
    numpy.ndarray
        A new array of the same shape, float64, in image pixels; further columns unchanged.
    """
    keypoints = np.array(keypoints, dtype=np.float64)
    offsets = np.asarray(offsets)
    if keypoints.ndim != 3 or keypoints.shape[2] < 2 or offsets.shape != (keypoints.shape[0], 2):
        raise SchemaError(
            f"keypoints must be (m, n_keypoints, 2 or 3) and offsets (m, 2); got {keypoints.shape} and {offsets.shape}"
        )
    keypoints[..., :2] += offsets[:, None, :]
    return keypoints


# --------------------------------------------------------------------------- training sets
def anchor_index(skeleton: Skeleton, anchor: str) -> int:
    """Index of the keypoint ``anchor`` in ``skeleton``; a clear error when it is not there.

    ``anchor`` :data:`BOX_CENTRE` (``"box_centre"``, unless the skeleton has a
    keypoint of that name) gives :data:`BOX_CENTRE_INDEX`: the middle of the
    bounding box of each animal's labeled keypoints.
    """
    if anchor in skeleton.keypoints:
        return skeleton.keypoints.index(anchor)
    if anchor == BOX_CENTRE:
        return BOX_CENTRE_INDEX
    raise SchemaError(
        f"anchor {anchor!r} is not a keypoint of the skeleton {list(skeleton.keypoints)} (nor {BOX_CENTRE!r})"
    )


def centroid_training_frames(
    labels: str | Path | LabeledFrames, anchor: str, *, centroid_scale: float = 0.5
) -> LabeledFrames:
    """Training set of the centroid model: shrunk whole frames, the anchor of every labeled animal.

    Parameters
    ----------
    labels
        Multi-animal labeled frames (or a path :func:`~behaviorlab.io.labeled_frames.load_labeled_frames` reads).
    anchor
        Keypoint that marks each animal; an animal without it is marked by
        the mean of its labeled keypoints.
    centroid_scale
        Frames are shrunk by this factor (1 / an integer; block averages).

    Returns
    -------
    LabeledFrames
        The frames with at least one labeled animal, shrunk; skeleton with the
        single keypoint ``anchor``; keypoints ``(n, n_individuals, 1, 2)`` in
        shrunk pixels, NaN for unlabeled animals.  Train it with
        ``TrainConfig(multi_instance=True, graph=False)``.
    """
    frames = load_frames(labels)
    factor = scale_factor(centroid_scale)
    anchors = instance_anchors(frames.keypoints, anchor_index(frames.skeleton, anchor))  # (n, I, 2)
    used = np.flatnonzero(np.isfinite(anchors).all(axis=-1).any(axis=-1))
    if used.size == 0:
        raise SchemaError("no labeled animal in the labels: the centroid model needs labeled frames")
    small = (anchors[used] + 0.5) / factor - 0.5
    return LabeledFrames(
        downsample_images([frames.images[i] for i in used], factor),
        small[:, :, None, :],
        Skeleton((anchor,)),
        frames.individuals,
        tuple(frames.sources[i] for i in used),
    )


def crop_training_frames(
    labels: str | Path | LabeledFrames, anchor: str, crop_size: int, *, jitter: float = 0.0, seed: int = 0
) -> LabeledFrames:
    """Training set of the crop model: one box per labeled animal, centred on its anchor (give or take ``jitter``).

    Parameters
    ----------
    labels
        Multi-animal labeled frames (or a path).
    anchor
        Keypoint the boxes are centred on (the mean of the labeled keypoints
        when an animal lacks it).
    crop_size
        Side of the boxes in pixels; a multiple of the crop model's input
        multiple (32 suits every architecture) avoids padding.
    jitter
        Each box centre moves by a whole number of pixels drawn uniformly from
        ``[-jitter, jitter]`` in x and y (seeded by ``seed``): at prediction
        time the boxes are centred where the centroid model puts the anchor,
        which is off by a few pixels, and a crop model trained on perfectly
        centred boxes would meet those offsets for the first time there.  The
        labels move with the box, so they stay exact.
    seed
        Seed of the jitter.

    Returns
    -------
    LabeledFrames
        One frame per labeled animal, the box cut from its frame (zero outside
        the image); one individual, ``"instance"``, with that animal's
        keypoints in box pixels (keypoints outside the box are NaN; the other
        animals in the box are not labels); sources ``"<source>#individual=<name>"``.
        :func:`~behaviorlab.pose.train.train_model` trains it as is.
    """
    frames = load_frames(labels)
    size = int(crop_size)
    if size < 8:
        raise ValueError(f"crop_size must be at least 8 pixels, got {crop_size}")
    anchors = instance_anchors(frames.keypoints, anchor_index(frames.skeleton, anchor))
    frame_index, individual = np.nonzero(np.isfinite(anchors).all(axis=-1))
    if frame_index.size == 0:
        raise SchemaError("no labeled animal in the labels: the crop model needs labeled frames")
    centres = anchors[frame_index, individual]
    if jitter > 0:
        shift = np.random.default_rng(seed).integers(-int(jitter), int(jitter) + 1, size=centres.shape)
        centres = centres + shift
    crops, offsets = crop_images(frames.images, frame_index, centres, size)
    keypoints = frames.keypoints[frame_index, individual] - offsets[:, None, :]
    inside = ((keypoints >= -0.5) & (keypoints <= size - 0.5)).all(axis=-1)
    keypoints = np.where(inside[..., None], keypoints, np.nan)
    n_outside = int((np.isfinite(frames.keypoints[frame_index, individual]).all(axis=-1) & ~inside).sum())
    if n_outside:
        log.info("%d labeled keypoints fall outside their %d px box and are left out", n_outside, size)
    sources = tuple(
        f"{frames.sources[f]}#individual={frames.individuals[i]}" for f, i in zip(frame_index, individual, strict=True)
    )
    return LabeledFrames(list(crops), keypoints[:, None], frames.skeleton, ("instance",), sources)


def choose_crop_size(
    labels: str | Path | LabeledFrames,
    anchor: str,
    *,
    coverage: float = 0.95,
    margin: float = 4.0,
    multiple: int = 32,
) -> int:
    """Smallest box side, a multiple of ``multiple``, that holds ``coverage`` of the labeled keypoints.

    Parameters
    ----------
    labels
        Multi-animal labeled frames (or a path).
    anchor
        Keypoint the boxes are centred on.
    coverage
        Share of labeled keypoints whose distance from their animal's anchor
        (the larger of ``|dx|`` and ``|dy|``) plus ``margin`` fits in half the box.
    margin
        Pixels kept between those keypoints and the box edge.
    multiple
        The side is rounded up to a multiple of this.

    Returns
    -------
    int
        The box side in pixels.
    """
    frames = load_frames(labels)
    if not 0 < coverage <= 1:
        raise ValueError(f"coverage must lie in (0, 1], got {coverage}")
    anchors = instance_anchors(frames.keypoints, anchor_index(frames.skeleton, anchor))
    reach = np.abs(frames.keypoints - anchors[..., None, :]).max(axis=-1)
    reach = reach[np.isfinite(reach)]
    if reach.size == 0:
        raise SchemaError("no labeled keypoint in the labels: cannot choose a crop size")
    half = float(np.quantile(reach, coverage)) + float(margin)
    return int(multiple * max(1, math.ceil(2 * half / multiple)))


def choose_centroid_scale(labels: str | Path | LabeledFrames) -> float:
    """Shrink of the frames for a top-down centroid model: ``1 / f`` for the largest sensible integer ``f``.

    ``f`` brings the shorter frame side to about :data:`CENTROID_SIDE` pixels
    (speed), but no further than keeps the median labeled animal (bounding-box
    diagonal of its keypoints) :data:`CENTROID_ANIMAL_PX` pixels across, so that
    animals in contact stay two peaks.
    """
    frames = load_frames(labels)
    if not len(frames.images):
        raise SchemaError("no labeled frames: cannot choose a centroid scale")
    side = min(min(image.shape[:2]) for image in frames.images)
    flat = frames.keypoints.reshape(-1, frames.keypoints.shape[-2], 2)
    keep = np.isfinite(flat).all(axis=-1).sum(axis=-1) >= 2
    if not keep.any():
        raise SchemaError("no animal with two labeled keypoints in the labels: cannot choose a centroid scale")
    span = np.nanmax(flat[keep], axis=1) - np.nanmin(flat[keep], axis=1)
    size = float(np.median(np.sqrt((span**2).sum(axis=-1))))
    factor = max(1, min(round(side / CENTROID_SIDE), math.floor(size / CENTROID_ANIMAL_PX)))
    log.info("centroid model at 1/%d scale (frames %d px, animals %.0f px across)", factor, side, size)
    return 1.0 / factor
