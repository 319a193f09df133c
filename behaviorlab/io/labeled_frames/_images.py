"""Image files of labeled frames: 8-bit PNG (or any format imageio reads) in, PNG out."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from behaviorlab._atomic import atomic_path
from behaviorlab.errors import FileFormatError

__all__ = ["read_image", "write_png"]

_PNG_LEVEL = 3  # zlib level for written PNGs: lossless, ~4x faster than the default 6


def read_image(image_path: Path, labels_path: Path) -> np.ndarray:
    """Read an 8-bit image as ``(height, width, channels)``, colour kept; errors name ``labels_path``."""
    import imageio.v3 as iio  # lazy: imageio (optional)

    try:
        img = np.asarray(iio.imread(image_path))
    except (OSError, ValueError) as err:
        raise FileFormatError(labels_path, f"cannot read image {image_path}: {err}") from None
    if img.dtype != np.uint8:
        raise FileFormatError(labels_path, f"image {image_path} has dtype {img.dtype}; only 8-bit images are supported")
    return img[..., None] if img.ndim == 2 else img


def write_png(img: np.ndarray, path: Path) -> None:
    """Write a ``(height, width, channels)`` uint8 image as PNG, atomically."""
    import imageio.v3 as iio  # lazy: imageio (optional)

    with atomic_path(path) as tmp:
        iio.imwrite(tmp, img[..., 0] if img.shape[2] == 1 else img, extension=".png", compress_level=_PNG_LEVEL)


def to_grayscale(img: np.ndarray) -> np.ndarray:
    """``(height, width, channels)`` uint8 -> ``(height, width, 1)``: ITU-R 601 luma (exact for equal channels)."""
    if img.shape[2] == 1:
        return img
    if img.shape[2] < 3:  # gray + alpha
        return img[..., :1].copy()
    rgb = img[..., :3]
    if np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2]):
        return rgb[..., :1].copy()
    luma = rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    return np.clip(np.rint(luma), 0, 255).astype(np.uint8)[..., None]
