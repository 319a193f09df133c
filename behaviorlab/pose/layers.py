"""Serializable Keras 3 layers of the pose models.

Each layer follows the Keras 3 layer contract: ``__init__`` stores the
config, ``build`` makes weights (none here), ``call`` uses only
``keras.ops``, and ``get_config`` returns ``{**base, **config}``.  They are
registered under the package name ``behaviorlab``, so a ``.keras`` file that
uses them loads after ``import behaviorlab.pose.layers``.
"""

from __future__ import annotations

import keras
from keras import ops

from behaviorlab.pose import peaks

__all__ = ["ImageNormalization", "LocalMaxima2D", "SubpixelMaxima2D"]


@keras.saving.register_keras_serializable(package="behaviorlab")
class ImageNormalization(keras.layers.Layer):
    """Cast images to float and map ``[0, max_value]`` linearly to ``[-1, 1]``.

    Parameters
    ----------
    max_value
        Largest pixel value of the input (255 for 8-bit images).
    **kwargs
        Base-layer arguments (``name``, ``dtype``...).

    Notes
    -----
    Shapes: ``(batch, height, width, channels) -> (batch, height, width, channels)``.
    """

    def __init__(self, max_value: float = 255.0, **kwargs) -> None:
        super().__init__(**kwargs)
        if not max_value > 0:
            raise ValueError(f"max_value must be > 0, got {max_value}")
        self.max_value = float(max_value)

    def call(self, inputs):
        """Return ``inputs * 2 / max_value - 1`` in the layer's compute dtype."""
        inputs = ops.cast(inputs, self.compute_dtype)
        return inputs * (2.0 / self.max_value) - 1.0

    def compute_output_shape(self, input_shape):
        """Return the input shape: normalisation keeps it."""
        return input_shape

    def get_config(self) -> dict:
        """Return the base config and ``max_value``."""
        return {**super().get_config(), "max_value": self.max_value}


class _MapPeaks(keras.layers.Layer):
    """What the peak layers share: the channels used (``index``) and the map-to-image coordinates."""

    index: int | None
    coordinate_scale: float
    coordinate_offset: float | None

    def build(self, input_shape) -> None:
        """Check the number of channels; the layer has no weights."""
        channels = input_shape[-1]
        if self.index is not None and channels is not None and self.index > channels:
            raise ValueError(f"index={self.index} asks for more channels than the input has ({channels})")
        self.built = True

    def used_maps(self, inputs):
        """Return the first ``index`` channels (all when ``index`` is None)."""
        return inputs[..., : self.index] if self.index is not None else inputs

    def to_image(self, xy):
        """Return map-pixel ``(x, y)`` in input-image pixels: scaled, then offset (pixel centres by default)."""
        offset = (self.coordinate_scale - 1.0) / 2.0 if self.coordinate_offset is None else self.coordinate_offset
        return xy * self.coordinate_scale + offset


@keras.saving.register_keras_serializable(package="behaviorlab")
class SubpixelMaxima2D(_MapPeaks):
    """Subpixel peak of each confidence map (wraps :func:`behaviorlab.pose.peaks.find_peaks_subpixel`).

    Parameters
    ----------
    kernel_size
        Odd side of the window registered around each integer peak, in map
        pixels; ``None`` for :func:`behaviorlab.pose.peaks.default_window`.
    sigma
        Gaussian kernel standard deviation in map pixels (the targets' sigma
        divided by the output stride).
    upsample_factor
        Precision of the refinement is ``1 / upsample_factor`` map pixel.
    index
        Use only the first ``index`` channels (the keypoint maps of a model
        that also predicts posture-graph maps); ``None`` for all.
    coordinate_scale
        Multiplies the coordinates: the output stride maps map pixels to
        input-image pixels.
    confidence_scale
        Divides the confidence (the map value at the peak).
    coordinate_offset
        Added to the scaled coordinates; ``None`` means
        ``(coordinate_scale - 1) / 2``, the pixel-centre convention of
        :func:`behaviorlab.pose.peaks.to_image_coordinates`.
    **kwargs
        Base-layer arguments (``name``...).

    Notes
    -----
    Shapes: ``(batch, height, width, channels) -> (batch, keypoints, 3)``
    with the last axis ``(x, y, confidence)``; always float32.
    """

    def __init__(
        self,
        kernel_size: int | None,
        sigma: float,
        upsample_factor: int = 100,
        index: int | None = None,
        coordinate_scale: float = 1.0,
        confidence_scale: float = 1.0,
        coordinate_offset: float | None = None,
        **kwargs,
    ) -> None:
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if kernel_size is not None and (int(kernel_size) < 3 or int(kernel_size) % 2 == 0):
            raise ValueError(f"kernel_size must be an odd integer >= 3 or None, got {kernel_size}")
        if not sigma > 0:
            raise ValueError(f"sigma must be > 0 map pixels, got {sigma}")
        if index is not None and int(index) < 1:
            raise ValueError(f"index must be a positive number of channels or None, got {index}")
        self.kernel_size = None if kernel_size is None else int(kernel_size)
        self.sigma = float(sigma)
        self.upsample_factor = int(upsample_factor)
        self.index = None if index is None else int(index)
        self.coordinate_scale = float(coordinate_scale)
        self.confidence_scale = float(confidence_scale)
        self.coordinate_offset = None if coordinate_offset is None else float(coordinate_offset)
        # Validate the remaining arguments now rather than at the first call.
        peaks.upsampled_registration_matrices(
            self.kernel_size or peaks.default_window(self.sigma), self.sigma, self.upsample_factor
        )

    def call(self, inputs):
        """Find the peaks and scale them to image pixels."""
        maps = self.used_maps(inputs)
        found = peaks.find_peaks_subpixel(
            maps, kernel_sigma=self.sigma, upsample_factor=self.upsample_factor, window=self.kernel_size
        )
        xy = self.to_image(found[..., :2])
        confidence = found[..., 2:] / self.confidence_scale
        return ops.concatenate([xy, confidence], axis=-1)

    def compute_output_shape(self, input_shape):
        """Return ``(batch, keypoints, 3)``."""
        channels = input_shape[-1] if self.index is None else self.index
        return (input_shape[0], channels, 3)

    def get_config(self) -> dict:
        """Return the base config and the constructor arguments."""
        return {
            **super().get_config(),
            "kernel_size": self.kernel_size,
            "sigma": self.sigma,
            "upsample_factor": self.upsample_factor,
            "index": self.index,
            "coordinate_scale": self.coordinate_scale,
            "confidence_scale": self.confidence_scale,
            "coordinate_offset": self.coordinate_offset,
        }


@keras.saving.register_keras_serializable(package="behaviorlab")
class LocalMaxima2D(_MapPeaks):
    """Every local maximum of each map above a threshold (wraps :func:`behaviorlab.pose.peaks.find_local_peaks`).

    Parameters
    ----------
    max_peaks
        Peaks returned per map; slots without a peak hold NaN.
    threshold
        Smallest map value of a peak.
    min_distance
        Peaks at most this many map pixels apart (Chebyshev) merge into the higher one.
    sigma
        Gaussian kernel standard deviation in map pixels for the subpixel
        refinement of each peak; ``None`` for integer peaks.
    upsample_factor
        Precision of the refinement, ``1 / upsample_factor`` map pixel.
    index
        Use only the first ``index`` channels; ``None`` for all.
    coordinate_scale
        Multiplies the coordinates (image pixels per map pixel).
    coordinate_offset
        Added to the scaled coordinates; ``None`` means ``(coordinate_scale - 1) / 2``
        (the pixel-centre convention of :func:`behaviorlab.pose.peaks.to_image_coordinates`).
    **kwargs
        Base-layer arguments (``name``...).

    Notes
    -----
    Shapes: ``(batch, height, width, channels) -> (batch, channels, max_peaks, 3)``
    with the last axis ``(x, y, value)``, peaks sorted by value; always float32.
    """

    def __init__(
        self,
        max_peaks: int,
        threshold: float = 0.1,
        min_distance: int = 1,
        sigma: float | None = None,
        upsample_factor: int = 100,
        index: int | None = None,
        coordinate_scale: float = 1.0,
        coordinate_offset: float | None = None,
        **kwargs,
    ) -> None:
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if int(max_peaks) < 1:
            raise ValueError(f"max_peaks must be >= 1, got {max_peaks}")
        if int(min_distance) < 1:
            raise ValueError(f"min_distance must be >= 1 map pixel, got {min_distance}")
        if sigma is not None and not sigma > 0:
            raise ValueError(f"sigma must be > 0 map pixels or None, got {sigma}")
        if index is not None and int(index) < 1:
            raise ValueError(f"index must be a positive number of channels or None, got {index}")
        self.max_peaks = int(max_peaks)
        self.threshold = float(threshold)
        self.min_distance = int(min_distance)
        self.sigma = None if sigma is None else float(sigma)
        self.upsample_factor = int(upsample_factor)
        self.index = None if index is None else int(index)
        self.coordinate_scale = float(coordinate_scale)
        self.coordinate_offset = None if coordinate_offset is None else float(coordinate_offset)

    def call(self, inputs):
        """Find the peaks and scale them to image pixels."""
        maps = self.used_maps(inputs)
        found = peaks.find_local_peaks(
            maps,
            max_peaks=self.max_peaks,
            threshold=self.threshold,
            min_distance=self.min_distance,
            kernel_sigma=self.sigma,
            upsample_factor=self.upsample_factor,
        )
        xy = self.to_image(found[..., :2])
        return ops.concatenate([xy, found[..., 2:]], axis=-1)

    def compute_output_shape(self, input_shape):
        """Return ``(batch, channels, max_peaks, 3)``."""
        channels = input_shape[-1] if self.index is None else self.index
        return (input_shape[0], channels, self.max_peaks, 3)

    def get_config(self) -> dict:
        """Return the base config and the constructor arguments."""
        return {
            **super().get_config(),
            "max_peaks": self.max_peaks,
            "threshold": self.threshold,
            "min_distance": self.min_distance,
            "sigma": self.sigma,
            "upsample_factor": self.upsample_factor,
            "index": self.index,
            "coordinate_scale": self.coordinate_scale,
            "coordinate_offset": self.coordinate_offset,
        }
