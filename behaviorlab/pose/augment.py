"""Keypoint-aware image augmentation for training pose models.

Pure numpy/scipy, so it can run on CPU workers of an input pipeline; it never
imports keras.  One call draws one random affine transform (flips, rotation
about the image centre, scaling, translation), applies it to the image and,
exactly, to the keypoints, then applies photometric changes to the image only.

Conventions
-----------
- Images are ``(height, width, channels)`` (or ``(height, width)``), uint8 or
  float.  Float images are taken to lie in ``AugmentConfig.float_range``
  (``(0, 1)`` by default); integer images in their dtype's range.
- Keypoints are ``(n_individuals, n_keypoints, 2)`` or ``(n_keypoints, 2)``
  pixel coordinates ``(x, y)``; NaN marks a missing keypoint.
- Pixel centres: pixel ``image[i, j]`` has its centre at ``x = j, y = i``, so
  the image covers ``-0.5 <= x < width - 0.5`` and ``-0.5 <= y < height - 0.5``.
  A left-right flip maps ``x`` to ``width - 1 - x``.  A keypoint that lands
  outside that area after the transform becomes NaN.
- Any mirroring transform (exactly one of the two flips) swaps symmetric
  keypoints with :meth:`behaviorlab.schema.Skeleton.swap_indices`, so the
  label ``ear_left`` stays on the animal's left ear.  DeepPoseKit does the same
  for both flip axes.
- Angles are in degrees; a positive angle turns the image counter-clockwise as
  displayed (y axis pointing down).

Examples
--------
>>> import numpy as np
>>> from behaviorlab.schema import Skeleton
>>> sk = Skeleton(["nose", "ear_left", "ear_right"], symmetry=[("ear_left", "ear_right")])
>>> aug = Augmenter(AugmentConfig(), sk, seed=0)
>>> image = np.zeros((64, 64, 1), dtype=np.uint8)
>>> keypoints = np.array([[32.0, 20.0], [28.0, 24.0], [36.0, 24.0]])
>>> out_image, out_keypoints = aug(image, keypoints)
>>> out_image.shape, out_image.dtype, out_keypoints.shape
((64, 64, 1), dtype('uint8'), (3, 2))
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any, ClassVar

import attrs
import numpy as np
from scipy import ndimage

from behaviorlab._config import ConfigBase
from behaviorlab.errors import SchemaError
from behaviorlab.schema import Skeleton, guess_symmetry

__all__ = [
    "AffineParams",
    "AugmentConfig",
    "Augmenter",
    "affine_matrix",
    "flip_plan",
    "transform_keypoints",
    "warp_image",
]

logger = logging.getLogger(__name__)

_SHARPEN_SIGMA = 1.0  # gaussian sigma (pixels) of the unsharp mask


# --------------------------------------------------------------------------- config
def _to_range(value: Sequence[float]) -> tuple[float, float]:
    items = tuple(float(v) for v in value)
    if len(items) != 2:
        raise ValueError(f"expected a (low, high) pair, got {value!r}")
    return items  # type: ignore[return-value]


def _check_range(instance: Any, attribute: attrs.Attribute, value: tuple[float, float]) -> None:
    low, high = value
    if not (math.isfinite(low) and math.isfinite(high)) or low > high:
        raise ValueError(
            f"AugmentConfig.{attribute.name} must be a finite (low, high) pair with low <= high, got {value}"
        )


def _check_probability(instance: Any, attribute: attrs.Attribute, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"AugmentConfig.{attribute.name} is a probability and must lie in [0, 1], got {value}")


def _check_non_negative(instance: Any, attribute: attrs.Attribute, value: float) -> None:
    if not (math.isfinite(value) and value >= 0.0):
        raise ValueError(f"AugmentConfig.{attribute.name} must be a finite number >= 0, got {value}")


def _check_non_negative_range(instance: Any, attribute: attrs.Attribute, value: tuple[float, float]) -> None:
    _check_range(instance, attribute, value)
    if value[0] < 0:
        raise ValueError(f"AugmentConfig.{attribute.name} must not be negative, got {value}")


def _check_positive_range(instance: Any, attribute: attrs.Attribute, value: tuple[float, float]) -> None:
    _check_range(instance, attribute, value)
    if value[0] <= 0:
        raise ValueError(f"AugmentConfig.{attribute.name} must be > 0, got {value}")


_probability = {"converter": float, "validator": _check_probability}


@attrs.frozen
class AugmentConfig(ConfigBase):
    """Parameters of :class:`Augmenter`; the defaults follow DeepPoseKit's examples.

    Parameters
    ----------
    flip_lr
        Probability of a left-right flip (keypoint labels are swapped).
    flip_ud
        Probability of an up-down flip (also a mirror: labels are swapped).
    rotation
        Range of rotation angles in degrees, drawn uniformly.
    scale
        Range of zoom factors (> 0), drawn uniformly; 1 keeps the size.
    translation
        Largest shift as a fraction of the image width (x) and height (y);
        each shift is drawn uniformly from ``[-translation, translation]``.
    noise_std
        Standard deviation of additive gaussian pixel noise, as a fraction of
        the value range (255 for uint8).
    dropout
        Probability that a pixel (all channels) is set to black, the bottom of
        the value range.
    blur
        Probability of a gaussian blur.
    blur_sigma
        Range of the blur's gaussian sigma in pixels.
    sharpen
        Probability of sharpening by unsharp masking (never together with a
        blur: ``blur + sharpen`` must not exceed 1).
    sharpen_amount
        Range of the unsharp-mask amount: ``image + amount * (image - blurred)``.
    contrast
        Range of the contrast factor ``c``: ``mean + c * (image - mean)``.
    float_range
        Value range of float images: noise is scaled to it and outputs are
        clipped to it.  Integer images use their dtype's range.
    """

    section: ClassVar[str] = "augment"

    flip_lr: float = attrs.field(default=0.5, **_probability)
    flip_ud: float = attrs.field(default=0.0, **_probability)
    rotation: tuple[float, float] = attrs.field(default=(-180.0, 180.0), converter=_to_range, validator=_check_range)
    scale: tuple[float, float] = attrs.field(default=(0.9, 1.1), converter=_to_range, validator=_check_positive_range)
    translation: float = attrs.field(default=0.05, converter=float, validator=_check_non_negative)
    noise_std: float = attrs.field(default=0.0, converter=float, validator=_check_non_negative)
    dropout: float = attrs.field(default=0.0, **_probability)
    blur: float = attrs.field(default=0.0, **_probability)
    blur_sigma: tuple[float, float] = attrs.field(
        default=(0.5, 1.5), converter=_to_range, validator=_check_non_negative_range
    )
    sharpen: float = attrs.field(default=0.0, **_probability)
    sharpen_amount: tuple[float, float] = attrs.field(
        default=(0.5, 1.5), converter=_to_range, validator=_check_non_negative_range
    )
    contrast: tuple[float, float] = attrs.field(
        default=(1.0, 1.0), converter=_to_range, validator=_check_non_negative_range
    )
    float_range: tuple[float, float] = attrs.field(default=(0.0, 1.0), converter=_to_range, validator=_check_range)

    def __attrs_post_init__(self) -> None:
        """Check the fields that depend on each other."""
        if self.blur + self.sharpen > 1.0:
            raise ValueError(
                f"AugmentConfig.blur + AugmentConfig.sharpen must not exceed 1 (an image is blurred or sharpened, "
                f"never both), got {self.blur} + {self.sharpen}"
            )
        if self.float_range[0] >= self.float_range[1]:
            raise ValueError(f"AugmentConfig.float_range must have low < high, got {self.float_range}")

    @classmethod
    def none(cls) -> AugmentConfig:
        """Return a configuration that leaves images and keypoints unchanged."""
        return cls(flip_lr=0.0, flip_ud=0.0, rotation=(0.0, 0.0), scale=(1.0, 1.0), translation=0.0)


# --------------------------------------------------------------------------- geometry
@attrs.frozen
class AffineParams:
    """One draw of the geometric transform.

    Parameters
    ----------
    flip_lr, flip_ud
        Whether to mirror about the vertical / horizontal centre line.
    rotation
        Angle in degrees, counter-clockwise as displayed.
    scale
        Zoom factor about the image centre.
    shift
        Translation ``(dx, dy)`` in pixels, applied last.
    """

    flip_lr: bool = False
    flip_ud: bool = False
    rotation: float = 0.0
    scale: float = 1.0
    shift: tuple[float, float] = (0.0, 0.0)

    @property
    def mirrors(self) -> bool:
        """Whether the transform reverses handedness (so left/right labels must be swapped)."""
        return self.flip_lr != self.flip_ud


def affine_matrix(image_shape: Sequence[int], params: AffineParams) -> np.ndarray:
    """Homogeneous matrix that maps input ``(x, y)`` pixel coordinates to output ones.

    The transform is: flips, then rotation and scaling about the image centre
    ``((width - 1) / 2, (height - 1) / 2)``, then the shift.

    Parameters
    ----------
    image_shape
        ``(height, width, ...)`` of the image.
    params
        The transform.

    Returns
    -------
    numpy.ndarray
        Shape ``(3, 3)``; ``matrix @ [x, y, 1]`` is the output position.
    """
    height, width = int(image_shape[0]), int(image_shape[1])
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    flip = np.diag([-1.0 if params.flip_lr else 1.0, -1.0 if params.flip_ud else 1.0])
    theta = math.radians(params.rotation)
    cos, sin = math.cos(theta), math.sin(theta)
    # y points down, so this turns counter-clockwise on screen.
    rotate = np.array([[cos, sin], [-sin, cos]])
    linear = params.scale * rotate @ flip
    centre = np.array([cx, cy])
    matrix = np.eye(3)
    matrix[:2, :2] = linear
    matrix[:2, 2] = centre + np.asarray(params.shift, dtype=float) - linear @ centre
    return matrix


def warp_image(image: np.ndarray, matrix: np.ndarray, *, order: int = 1, cval: float = 0.0) -> np.ndarray:
    """Apply the ``(x, y)`` affine ``matrix`` of :func:`affine_matrix` to an image.

    Parameters
    ----------
    image
        Shape ``(height, width, channels)`` or ``(height, width)``.
    matrix
        Shape ``(3, 3)``, mapping input to output ``(x, y)``.
    order
        Spline order of the interpolation (1: bilinear).
    cval
        Value of pixels that come from outside the input.

    Returns
    -------
    numpy.ndarray
        Float32 image of the input's shape.
    """
    inverse = np.linalg.inv(matrix)
    # scipy works in (row, col) = (y, x) index order and maps output -> input.
    swap = np.array([[0.0, 1.0], [1.0, 0.0]])
    index_matrix = swap @ inverse[:2, :2] @ swap
    index_offset = swap @ inverse[:2, 2]
    work = np.asarray(image, dtype=np.float32)
    planar = work[..., None] if work.ndim == 2 else work
    out = np.empty_like(planar)
    for c in range(planar.shape[2]):
        ndimage.affine_transform(
            planar[..., c],
            index_matrix,
            offset=index_offset,
            output=out[..., c],
            order=order,
            mode="grid-constant",
            cval=cval,
        )
    return out[..., 0] if work.ndim == 2 else out


def transform_keypoints(
    keypoints: np.ndarray,
    matrix: np.ndarray,
    image_shape: Sequence[int],
    *,
    swap: np.ndarray | None = None,
) -> np.ndarray:
    """Apply the ``(x, y)`` affine ``matrix`` to keypoints, swapping labels when it mirrors.

    Parameters
    ----------
    keypoints
        Shape ``(..., n_keypoints, 2)``, pixel ``(x, y)``; NaN = missing.
    matrix
        Shape ``(3, 3)`` from :func:`affine_matrix`.
    image_shape
        ``(height, width, ...)`` of the output image; keypoints outside
        ``-0.5 <= x < width - 0.5``, ``-0.5 <= y < height - 0.5`` become NaN.
    swap
        Left/right permutation of the keypoint axis, shape ``(n_keypoints,)``,
        applied when ``matrix`` has a negative determinant.

    Returns
    -------
    numpy.ndarray
        New float array of the input's shape.
    """
    keypoints = np.asarray(keypoints)
    dtype = keypoints.dtype if np.issubdtype(keypoints.dtype, np.floating) else np.float64
    points = keypoints.astype(np.float64)
    out = points @ matrix[:2, :2].T + matrix[:2, 2]
    height, width = int(image_shape[0]), int(image_shape[1])
    x, y = out[..., 0], out[..., 1]
    inside = (x >= -0.5) & (x < width - 0.5) & (y >= -0.5) & (y < height - 0.5)
    missing = ~inside | np.isnan(points).any(axis=-1)
    out[missing] = np.nan
    if swap is not None and np.linalg.det(matrix[:2, :2]) < 0:
        out = out[..., np.asarray(swap), :]
    return out.astype(dtype, copy=False)


# --------------------------------------------------------------------------- augmenter
def flip_plan(config: AugmentConfig, skeleton: Skeleton) -> tuple[AugmentConfig, Skeleton, str | None]:
    """Return the flips training will use: ``(config, skeleton, note)``.

    A mirror must swap each left keypoint with its right twin, or the model
    learns mirrored labels.  The pairs come from the skeleton, else from the
    names (:func:`behaviorlab.schema.guess_symmetry`: ``earL``/``earR``,
    ``left_ear``/``right_ear``, ...); with no pair known the flips are turned
    off.  A single keypoint (a top-down model's centroid) has no twin and
    keeps its flips.  ``note`` is the one line to show the user when the plan
    differs from the config (pairs guessed, or flips off), else None.
    """
    if not (config.flip_lr > 0 or config.flip_ud > 0) or skeleton.symmetry or skeleton.n_keypoints == 1:
        return config, skeleton, None
    guessed = guess_symmetry(skeleton.keypoints)
    if guessed:
        pairs = ", ".join(f"{a}/{b}" for a, b in guessed)
        return (
            config,
            attrs.evolve(skeleton, symmetry=guessed),
            f"left/right pairs read from the keypoint names: {pairs}",
        )
    note = (
        "no left/right keypoint pairs in the skeleton or the names: image flips are off (a flip would need "
        "them to swap labels); name the pairs in the skeleton's symmetry to turn them on"
    )
    return attrs.evolve(config, flip_lr=0.0, flip_ud=0.0), skeleton, note


class Augmenter:
    """Random keypoint-aware augmentation, reproducible from a seed.

    Parameters
    ----------
    config
        What to vary and by how much.
    skeleton
        Gives the keypoint count and the left/right pairs swapped by mirrors.
    seed
        Seed of the augmenter's own generator (``None``: fresh entropy).

    Notes
    -----
    Pixels that come from outside the input image are black (the bottom of
    the value range).  Each call draws, in order: the flips, the angle, the scale, the shift,
    then the photometric parameters.  The photometric steps run in the order
    contrast, blur or sharpen, noise, dropout, in float32; the result is
    clipped to the value range and cast back to the input dtype (integers are
    rounded).  Pass ``rng`` to use a per-worker generator, e.g. from
    :meth:`worker_rng`.
    """

    def __init__(self, config: AugmentConfig, skeleton: Skeleton, *, seed: int | None) -> None:
        if not isinstance(config, AugmentConfig):
            raise TypeError(f"config must be an AugmentConfig, got {type(config).__name__}")
        if not isinstance(skeleton, Skeleton):
            raise TypeError(f"skeleton must be a behaviorlab.schema.Skeleton, got {type(skeleton).__name__}")
        config, skeleton, note = flip_plan(config, skeleton)
        if note:
            logger.warning("%s", note)
        self.config = config
        self.skeleton = skeleton
        self.seed = seed
        self._swap = skeleton.swap_indices()
        self._rng = np.random.default_rng(seed)

    def __repr__(self) -> str:
        return (
            f"Augmenter({self.config!r}, skeleton={self.skeleton.name or self.skeleton.keypoints!r}, seed={self.seed})"
        )

    def worker_rng(self, worker: int) -> np.random.Generator:
        """Return an independent generator for input-pipeline worker number ``worker``.

        The generators are derived from the seed with :class:`numpy.random.SeedSequence`,
        so worker ``k`` draws the same stream on every run with the same seed.
        """
        return np.random.default_rng(np.random.SeedSequence(self.seed).spawn(worker + 1)[worker])

    def sample_params(self, image_shape: Sequence[int], rng: np.random.Generator | None = None) -> AffineParams:
        """Draw one geometric transform for an image of ``image_shape`` ``(height, width, ...)``."""
        rng = self._rng if rng is None else rng
        cfg = self.config
        u_lr, u_ud = rng.random(2)
        angle = rng.uniform(*cfg.rotation)
        scale = rng.uniform(*cfg.scale)
        dx, dy = rng.uniform(-cfg.translation, cfg.translation, size=2)
        return AffineParams(
            flip_lr=bool(u_lr < cfg.flip_lr),
            flip_ud=bool(u_ud < cfg.flip_ud),
            rotation=float(angle),
            scale=float(scale),
            shift=(float(dx * image_shape[1]), float(dy * image_shape[0])),
        )

    def __call__(
        self, image: np.ndarray, keypoints: np.ndarray, rng: np.random.Generator | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Augment one image and its keypoints.

        Parameters
        ----------
        image
            Shape ``(height, width, channels)`` or ``(height, width)``, uint8 or float.
        keypoints
            Shape ``(n_individuals, n_keypoints, 2)`` or ``(n_keypoints, 2)``,
            pixel ``(x, y)``; NaN = missing.
        rng
            Generator to draw from; the augmenter's own seeded one when omitted.

        Returns
        -------
        image : numpy.ndarray
            Same shape and dtype as the input.
        keypoints : numpy.ndarray
            Same shape as the input; NaN where missing or outside the image.
        """
        rng = self._rng if rng is None else rng
        image = np.asarray(image)
        keypoints = np.asarray(keypoints)
        self._check(image, keypoints)
        params = self.sample_params(image.shape, rng)
        matrix = affine_matrix(image.shape, params)
        if np.allclose(matrix, np.eye(3), rtol=0.0, atol=1e-12):
            work = image.astype(np.float32)
            new_keypoints = transform_keypoints(keypoints, matrix, image.shape)
        else:
            work = warp_image(image, matrix, cval=self._value_range(image.dtype)[0])
            new_keypoints = transform_keypoints(keypoints, matrix, image.shape, swap=self._swap)
        work = self._photometric(work, image.dtype, rng)
        return self._restore_dtype(work, image.dtype), new_keypoints

    def augment_batch(
        self, images: np.ndarray, keypoints: np.ndarray, rng: np.random.Generator | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Augment a batch of equal-size images, each with its own random draw.

        Parameters
        ----------
        images
            Shape ``(batch, height, width, channels)`` or ``(batch, height, width)``.
        keypoints
            Shape ``(batch, n_individuals, n_keypoints, 2)`` or ``(batch, n_keypoints, 2)``.
        rng
            Generator to draw from; the augmenter's own seeded one when omitted.

        Returns
        -------
        images, keypoints : numpy.ndarray
            New arrays of the input shapes and dtypes.
        """
        images = np.asarray(images)
        keypoints = np.asarray(keypoints)
        if images.ndim not in (3, 4):
            raise SchemaError(f"images must have shape (batch, height, width[, channels]), got {images.shape}")
        if keypoints.ndim not in (3, 4) or keypoints.shape[0] != images.shape[0]:
            raise SchemaError(
                f"keypoints must have shape (batch, [n_individuals,] n_keypoints, 2) with batch = {images.shape[0]}, "
                f"got {keypoints.shape}"
            )
        out_images = np.empty_like(images)
        out_keypoints = np.empty(keypoints.shape, dtype=keypoints.dtype if keypoints.dtype.kind == "f" else float)
        for i in range(images.shape[0]):
            out_images[i], out_keypoints[i] = self(images[i], keypoints[i], rng)
        return out_images, out_keypoints

    # ----------------------------------------------------------------------- helpers
    def _check(self, image: np.ndarray, keypoints: np.ndarray) -> None:
        if image.ndim not in (2, 3):
            raise SchemaError(f"image must have shape (height, width[, channels]), got {image.shape}")
        if not (np.issubdtype(image.dtype, np.integer) or np.issubdtype(image.dtype, np.floating)):
            raise SchemaError(f"image must be an integer (e.g. uint8) or float array, got dtype {image.dtype}")
        n_kp = self.skeleton.n_keypoints
        if keypoints.ndim not in (2, 3) or keypoints.shape[-2:] != (n_kp, 2):
            raise SchemaError(
                f"keypoints must have shape ([n_individuals,] {n_kp}, 2) for the skeleton's {n_kp} keypoints, "
                f"got {keypoints.shape}"
            )

    def _value_range(self, dtype: np.dtype) -> tuple[float, float]:
        if np.issubdtype(dtype, np.integer):
            info = np.iinfo(dtype)
            return float(info.min), float(info.max)
        return self.config.float_range

    def _photometric(self, work: np.ndarray, dtype: np.dtype, rng: np.random.Generator) -> np.ndarray:
        cfg = self.config
        low, high = self._value_range(dtype)
        spatial_sigma = (1.0, 1.0, 0.0)[: work.ndim]
        contrast = rng.uniform(*cfg.contrast)
        if contrast != 1.0:
            mean = work.mean()
            work = mean + np.float32(contrast) * (work - mean)
        u = rng.random()
        if u < cfg.blur:
            sigma = rng.uniform(*cfg.blur_sigma)
            work = ndimage.gaussian_filter(work, sigma=[sigma * s for s in spatial_sigma])
        elif u < cfg.blur + cfg.sharpen:
            amount = np.float32(rng.uniform(*cfg.sharpen_amount))
            blurred = ndimage.gaussian_filter(work, sigma=[_SHARPEN_SIGMA * s for s in spatial_sigma])
            work = work + amount * (work - blurred)
        if cfg.noise_std > 0:
            work = work + rng.normal(0.0, cfg.noise_std * (high - low), size=work.shape).astype(np.float32)
        if cfg.dropout > 0:
            dropped = rng.random(work.shape[:2]) < cfg.dropout
            work[dropped] = low
        return work

    def _restore_dtype(self, work: np.ndarray, dtype: np.dtype) -> np.ndarray:
        low, high = self._value_range(dtype)
        if np.issubdtype(dtype, np.integer):
            work = np.rint(work)
        return np.clip(work, low, high).astype(dtype)
