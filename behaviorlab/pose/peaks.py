"""Integer and subpixel maxima of confidence maps (pure functions in ``keras.ops``).

Every function here runs on any Keras backend, eagerly or inside a model, and
takes channels-last maps of shape ``(batch, height, width, keypoints)``.
Peaks are returned as ``(batch, keypoints, 3)`` with the last axis
``(x, y, confidence)``: ``x`` is the column and ``y`` the row, in map pixels
whose integer values are pixel centres.

Subpixel refinement follows Guizar-Sicairos, Thurman & Fienup (2008),
"Efficient subpixel image registration algorithms", Opt. Lett. 33(2), as used
by DeepPoseKit (Graving et al. 2019): the map is registered against a
Gaussian kernel, and the cross-correlation is evaluated only in a 1.5 x 1.5
pixel neighbourhood of the integer peak, upsampled ``upsample_factor`` times,
with matrix-multiply DFTs (the "dftups" trick) instead of a zero-padded FFT,
coarse to fine (a 1/10-pixel grid, then the full precision around its best).

Keras has no complex dtype that works on every backend, so the complex
matrices are held as (real, imaginary) pairs of real tensors.  Because a
Gaussian kernel is separable, its cross-power spectrum is a rank-one
(outer-product) weighting, and the whole chain
``inverse-DFT-upsampled(DFT(window) * conj(DFT(kernel)))`` collapses into two
constant complex matrices built once in NumPy: ``A_row @ window @ A_col``.

Coordinate convention
---------------------
Map pixel ``i`` of a map with output stride ``s`` covers input-image pixels
``[i*s, (i+1)*s)`` and its centre is image pixel ``i*s + (s-1)/2``; see
:func:`to_image_coordinates` and :func:`behaviorlab.pose.targets.confidence_maps`,
which uses the same convention.
"""

from __future__ import annotations

import math

import numpy as np
from keras import ops

__all__ = [
    "default_window",
    "find_local_peaks",
    "find_peaks_integer",
    "find_peaks_subpixel",
    "to_image_coordinates",
    "upsampled_registration_matrices",
]


def _flatten_maps(maps):
    """``(batch, height, width, keypoints)`` -> ``(batch * keypoints, height * width)`` and the shape parts."""
    shape = ops.shape(maps)
    batch, height, width, n_keypoints = shape[0], shape[1], shape[2], shape[3]
    flat = ops.reshape(ops.transpose(maps, (0, 3, 1, 2)), (-1, height * width))
    return flat, batch, height, width, n_keypoints


def find_peaks_integer(maps):
    """Location and value of the global maximum of each map (argmax baseline).

    Parameters
    ----------
    maps
        Confidence maps, shape ``(batch, height, width, keypoints)``.

    Returns
    -------
    tensor
        Shape ``(batch, keypoints, 3)``, float32: ``(x, y, value)`` with ``x``
        and ``y`` integer map-pixel indices (column, row).
    """
    maps = ops.cast(ops.convert_to_tensor(maps), "float32")
    flat, batch, _, width, n_keypoints = _flatten_maps(maps)
    index = ops.argmax(flat, axis=-1)
    value = ops.max(flat, axis=-1)
    index = ops.cast(index, "int32")
    x = ops.cast(index % width, "float32")
    y = ops.cast(index // width, "float32")
    peaks = ops.stack([x, y, value], axis=-1)
    return ops.reshape(peaks, (batch, n_keypoints, 3))


def default_window(kernel_sigma: float) -> int:
    """Odd side length of the window registered around an integer peak: ``2 * ceil(4 * sigma) + 1`` (at least 5)."""
    return max(5, 2 * math.ceil(4.0 * float(kernel_sigma)) + 1)


def _signed_frequencies(n: int) -> np.ndarray:
    """DFT frequencies ``0, 1, ..., -2, -1`` of an ``n``-point DFT (``ifftshift(arange(n)) - n // 2``)."""
    return np.fft.ifftshift(np.arange(n)) - n // 2


def upsampled_registration_matrices(
    window: int, kernel_sigma: float, upsample_factor: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Constant matrices of the upsampled DFT cross-correlation with a Gaussian kernel.

    For a real ``window x window`` patch ``f`` whose centre pixel is the
    integer peak, the cross-correlation with a Gaussian kernel ``g`` centred
    in the same patch, evaluated at the shifts ``offsets`` (rows and columns),
    is ``Re(A_row @ f @ A_col)`` with::

        A_row = K_row @ diag(conj(G_y)) @ D      (upsampled, region x window)
        A_col = D.T @ diag(conj(G_x)) @ K_col    (window x upsampled region)

    where ``D`` is the DFT matrix, ``G_y`` and ``G_x`` the 1-D DFTs of the
    separable kernel, and ``K_row``, ``K_col`` the dftups inverse-DFT kernels
    of Guizar-Sicairos et al. (2008) sampled every ``1 / upsample_factor``
    pixel over ``ceil(1.5 * upsample_factor)`` points around zero shift.

    Parameters
    ----------
    window
        Odd side length of the patch, in map pixels.
    kernel_sigma
        Standard deviation of the Gaussian kernel, in map pixels.
    upsample_factor
        Upsampling of the 1.5-pixel neighbourhood (precision ``1 / upsample_factor``).

    Returns
    -------
    tuple of numpy.ndarray
        ``(a_row_real, a_row_imag, a_col_real, a_col_imag, offsets)``; the
        matrices are float32 of shapes ``(region, window)`` and
        ``(window, region)``; ``offsets`` ``(region,)`` are the sampled shifts
        in pixels.
    """
    if window < 3 or window % 2 == 0:
        raise ValueError(f"window must be an odd integer >= 3, got {window}")
    if kernel_sigma <= 0:
        raise ValueError(f"kernel_sigma must be > 0 map pixels, got {kernel_sigma}")
    if upsample_factor < 1:
        raise ValueError(f"upsample_factor must be >= 1, got {upsample_factor}")
    n = int(window)
    centre = n // 2
    region = math.ceil(1.5 * upsample_factor)
    dftshift = region // 2
    offsets = (np.arange(region) - dftshift) / float(upsample_factor)  # shifts sampled, in pixels

    freqs = _signed_frequencies(n)  # (n,)
    positions = np.arange(n)
    dft = np.exp(-2j * np.pi * np.outer(freqs, positions) / n)  # D[k, r]
    kernel_1d = np.exp(-0.5 * ((positions - centre) / float(kernel_sigma)) ** 2)
    kernel_freq = dft @ kernel_1d  # (n,)
    # dftups: inverse DFT evaluated at the upsampled shifts only.
    inverse = np.exp(2j * np.pi * np.outer(offsets, freqs) / n)  # (region, n)
    a_row = inverse @ (np.conj(kernel_freq)[:, None] * dft) / n  # (region, n)
    a_col = a_row.T  # the same operator along columns
    return (
        a_row.real.astype(np.float32),
        a_row.imag.astype(np.float32),
        np.ascontiguousarray(a_col.real).astype(np.float32),
        np.ascontiguousarray(a_col.imag).astype(np.float32),
        offsets.astype(np.float32),
    )


def _dftups_operators(window: int, kernel_sigma: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Constant parts of the dftups operator for shifts computed inside the graph.

    Returns ``(m_real, m_imag, freqs)`` with ``M = diag(conj(G)) @ D / n``
    (``n x n``) and the signed DFT frequencies, so that the operator for any
    shifts ``o`` is ``exp(2 pi i outer(o, freqs) / n) @ M``.
    """
    n = int(window)
    freqs = _signed_frequencies(n)
    positions = np.arange(n)
    dft = np.exp(-2j * np.pi * np.outer(freqs, positions) / n)
    kernel_1d = np.exp(-0.5 * ((positions - n // 2) / float(kernel_sigma)) ** 2)
    operator = np.conj(dft @ kernel_1d)[:, None] * dft / n
    return operator.real.astype(np.float32), operator.imag.astype(np.float32), freqs.astype(np.float32)


def _shifted_operator(offsets, m_real, m_imag, freqs, n: int):
    """``exp(2 pi i outer(offsets, freqs) / n) @ M`` as (real, imaginary); offsets ``(maps, region)``."""
    phase = (2.0 * math.pi / n) * ops.expand_dims(offsets, -1) * freqs  # (maps, region, n)
    e_re, e_im = ops.cos(phase), ops.sin(phase)
    a_re = ops.matmul(e_re, m_real) - ops.matmul(e_im, m_imag)
    a_im = ops.matmul(e_re, m_imag) + ops.matmul(e_im, m_real)
    return a_re, a_im


def _best_shift(patch, row_re, row_im, col_re, col_im, offsets_y, offsets_x):
    """Shift ``(dy, dx)`` maximising ``Re(A_row @ patch @ A_col)`` over the sampled offsets.

    ``row_*`` are ``(maps or 1, region, window)``, ``col_*`` ``(maps or 1,
    window, region)``, ``offsets_*`` ``(maps or 1, region)``.
    """
    correlation = ops.matmul(row_re, ops.matmul(patch, col_re)) - ops.matmul(row_im, ops.matmul(patch, col_im))
    region = ops.shape(correlation)[-1]
    best = ops.cast(ops.argmax(ops.reshape(correlation, (-1, region * region)), axis=-1), "int32")
    n_maps = ops.shape(best)[0]
    offsets_y = ops.broadcast_to(offsets_y, (n_maps, region))
    offsets_x = ops.broadcast_to(offsets_x, (n_maps, region))
    dy = ops.squeeze(ops.take_along_axis(offsets_y, ops.expand_dims(best // region, -1), axis=1), -1)
    dx = ops.squeeze(ops.take_along_axis(offsets_x, ops.expand_dims(best % region, -1), axis=1), -1)
    return dy, dx


#: Upsampling of the first, coarse search; the second searches around its best shift at full precision.
COARSE_UPSAMPLE_FACTOR = 10


def find_peaks_subpixel(maps, *, kernel_sigma: float, upsample_factor: int = 100, window: int | None = None):
    """Subpixel maxima by upsampled-DFT registration of a Gaussian kernel (Guizar-Sicairos et al. 2008).

    For each map: (1) the global integer maximum; (2) a ``window x window``
    patch centred on it (zero outside the map); (3) the cross-correlation of
    the patch with a Gaussian kernel of ``kernel_sigma`` map pixels, computed
    by matrix-multiply DFTs (dftups) on a grid covering +-0.75 pixel around
    the integer peak; (4) its maximum, which is the subpixel shift added to
    the integer peak.

    Step (3) is coarse to fine, as in Guizar-Sicairos et al.'s own two-step
    scheme: first a ``1 / 10``-pixel grid over +-0.75 pixel (15 x 15 shifts),
    then a ``1 / upsample_factor``-pixel grid over +-0.75 of the coarse
    spacing around the coarse maximum.  The result equals a single search on
    the full ``1 / upsample_factor`` grid wherever the correlation is unimodal
    within the neighbourhood (as it is for a Gaussian-like peak) at about a
    fiftieth of the cost: 2 x 225 correlation samples per map instead of
    150 x 150.

    Parameters
    ----------
    maps
        Confidence maps, shape ``(batch, height, width, keypoints)``.
    kernel_sigma
        Standard deviation of the Gaussian kernel in map pixels; use the
        sigma of the training targets divided by the output stride.  The
        band-limited interpolation is accurate for ``kernel_sigma >= ~1``.
    upsample_factor
        Precision of the refinement is ``1 / upsample_factor`` map pixel.
    window
        Odd side length of the patch registered around the integer peak;
        default :func:`default_window` (``2 * ceil(4 * sigma) + 1``).

    Returns
    -------
    tensor
        Shape ``(batch, keypoints, 3)``, float32: ``(x, y, confidence)`` in
        map pixels, confidence being the map value at the integer maximum.
    """
    maps = ops.cast(ops.convert_to_tensor(maps), "float32")
    flat, batch, height, width, n_keypoints = _flatten_maps(maps)
    index = ops.cast(ops.argmax(flat, axis=-1), "int32")  # (n,)
    value = ops.max(flat, axis=-1)
    x0 = index % width
    y0 = index // width
    window = default_window(kernel_sigma) if window is None else int(window)
    patch = _gather_patches(flat, height, width, x0[:, None], y0[:, None], window)
    dy, dx = _subpixel_shift(patch, window, kernel_sigma, int(upsample_factor))
    x = ops.cast(x0, "float32") + dx
    y = ops.cast(y0, "float32") + dy
    peaks = ops.stack([x, y, value], axis=-1)
    return ops.reshape(peaks, (batch, n_keypoints, 3))


def _gather_patches(flat, height, width, x0, y0, window: int):
    """``window x window`` patches centred on integer peaks, zero outside the map.

    ``flat`` is ``(n, height * width)``; ``x0`` and ``y0`` are int32 ``(n, p)``
    (``p`` peaks per map).  Returns ``(n * p, window, window)``.
    """
    radius = window // 2
    padded = ops.pad(
        ops.reshape(flat, (-1, height, width)),
        ((0, 0), (radius, radius), (radius, radius)),
    )
    padded_width = width + 2 * radius
    padded = ops.reshape(padded, (ops.shape(padded)[0], -1))
    steps = ops.arange(window, dtype="int32")
    rows = ops.expand_dims(y0, -1) + steps  # (n, p, window), padded coordinates of row y0 - radius + i
    cols = ops.expand_dims(x0, -1) + steps
    gather = ops.reshape(
        ops.expand_dims(rows, -1) * padded_width + ops.expand_dims(cols, -2),
        (ops.shape(padded)[0], -1),
    )
    return ops.reshape(ops.take_along_axis(padded, gather, axis=1), (-1, window, window))


def _subpixel_shift(patch, window: int, kernel_sigma: float, upsample_factor: int):
    """Subpixel shift ``(dy, dx)`` of the peak at the centre of each patch ``(n, window, window)``."""
    coarse_factor = min(upsample_factor, COARSE_UPSAMPLE_FACTOR)
    a_row_re, a_row_im, a_col_re, a_col_im, coarse_offsets = upsampled_registration_matrices(
        window, kernel_sigma, coarse_factor
    )
    # Coarse search: constant operators, shared by every map.
    coarse = ops.convert_to_tensor(coarse_offsets)[None]
    dy, dx = _best_shift(
        patch,
        ops.convert_to_tensor(a_row_re)[None],
        ops.convert_to_tensor(a_row_im)[None],
        ops.convert_to_tensor(a_col_re)[None],
        ops.convert_to_tensor(a_col_im)[None],
        coarse,
        coarse,
    )
    if upsample_factor > coarse_factor:
        # Fine search around each map's coarse maximum: per-map operators.
        m_re, m_im, freqs = _dftups_operators(window, kernel_sigma)
        m_re, m_im, freqs = (ops.convert_to_tensor(a) for a in (m_re, m_im, freqs))
        region = math.ceil(1.5 * upsample_factor / coarse_factor)
        fine = ops.convert_to_tensor(((np.arange(region) - region // 2) / float(upsample_factor)).astype(np.float32))
        offsets_y = ops.expand_dims(dy, -1) + fine  # (n, region)
        offsets_x = ops.expand_dims(dx, -1) + fine
        row_re, row_im = _shifted_operator(offsets_y, m_re, m_im, freqs, window)
        col_re, col_im = _shifted_operator(offsets_x, m_re, m_im, freqs, window)
        col_re = ops.transpose(col_re, (0, 2, 1))
        col_im = ops.transpose(col_im, (0, 2, 1))
        dy, dx = _best_shift(patch, row_re, row_im, col_re, col_im, offsets_y, offsets_x)
    return dy, dx


def find_local_peaks(
    maps,
    *,
    max_peaks: int,
    threshold: float = 0.1,
    min_distance: int = 1,
    kernel_sigma: float | None = None,
    upsample_factor: int = 100,
    window: int | None = None,
):
    """Every local maximum of each map above a threshold: a fixed number of ``(x, y, value)``, NaN-padded.

    A pixel is a peak when it is the largest value of the ``(2 * min_distance
    + 1)``-pixel square around it (max-pool non-maximum suppression, with the
    map padded by ``-inf``) and at least ``threshold``.  Of several equal
    values within one square (a plateau), the first in row-major order is
    kept.  The ``max_peaks`` highest peaks are returned, best first; slots
    left over hold NaN, so the output shape is fixed and the function
    compiles on every backend.

    Parameters
    ----------
    maps
        Confidence maps, shape ``(batch, height, width, channels)``.
    max_peaks
        Peaks returned per map (at most ``height * width``).
    threshold
        Smallest map value of a peak; ``-inf`` keeps every local maximum.
    min_distance
        Two peaks at most this many map pixels apart along both axes
        (Chebyshev distance) merge into the higher one; 1 is the classic
        3 x 3 suppression.
    kernel_sigma
        ``None``: integer peaks.  A value: each peak is refined to subpixel
        precision exactly as :func:`find_peaks_subpixel` refines the global
        maximum (upsampled-DFT registration of a Gaussian of this standard
        deviation, in map pixels, on a window around the peak).
    upsample_factor
        Precision of the subpixel refinement, ``1 / upsample_factor`` map pixel.
    window
        Odd side of the refinement window; default :func:`default_window`.

    Returns
    -------
    tensor
        Shape ``(batch, channels, max_peaks, 3)``, float32: ``(x, y, value)``
        in map pixels, sorted by value (highest first); NaN in all three for
        the slots without a peak.
    """
    max_peaks = int(max_peaks)
    min_distance = int(min_distance)
    if max_peaks < 1:
        raise ValueError(f"max_peaks must be >= 1, got {max_peaks}")
    if min_distance < 1:
        raise ValueError(f"min_distance must be >= 1 map pixel, got {min_distance}")
    maps = ops.cast(ops.convert_to_tensor(maps), "float32")
    static = maps.shape
    if static[1] is not None and static[2] is not None and max_peaks > static[1] * static[2]:
        raise ValueError(f"max_peaks={max_peaks} is more than the {static[1]}x{static[2]} pixels of a map")
    size = 2 * min_distance + 1
    pads = ((0, 0), (min_distance, min_distance), (min_distance, min_distance), (0, 0))
    # Own padding instead of padding="same": backends differ in the value they pad pooling with.
    pooled = ops.max_pool(ops.pad(maps, pads, constant_values=-np.inf), size, strides=1, padding="valid")
    candidate = ops.logical_and(maps >= pooled, maps >= threshold)
    # Plateaus: among candidates in one square (equal values), keep the first in row-major order.
    shape = ops.shape(maps)
    height, width = shape[1], shape[2]
    rank = ops.cast(height * width, "float32") - ops.cast(ops.arange(height * width), "float32")
    rank = ops.reshape(rank, (1, height, width, 1))  # larger for earlier pixels, >= 1
    ranked = ops.where(candidate, rank, 0.0)
    first = ops.max_pool(ops.pad(ranked, pads), size, strides=1, padding="valid")
    keep = ops.logical_and(candidate, ranked >= first)

    scores = ops.where(keep, maps, -np.inf)
    flat, batch, height, width, n_channels = _flatten_maps(scores)
    values, index = ops.top_k(flat, max_peaks)  # (n, max_peaks), highest first
    index = ops.cast(index, "int32")
    valid = ops.logical_and(values >= threshold, values > -np.inf)  # -inf: not a peak
    x0 = index % width
    y0 = index // width
    x = ops.cast(x0, "float32")
    y = ops.cast(y0, "float32")
    if kernel_sigma is not None:
        window = default_window(kernel_sigma) if window is None else int(window)
        maps_flat, *_ = _flatten_maps(maps)
        patch = _gather_patches(maps_flat, height, width, x0, y0, window)
        dy, dx = _subpixel_shift(patch, window, float(kernel_sigma), int(upsample_factor))
        x = x + ops.reshape(dx, (-1, max_peaks))
        y = y + ops.reshape(dy, (-1, max_peaks))
    found = ops.stack([x, y, values], axis=-1)
    found = ops.where(ops.expand_dims(valid, -1), found, np.nan)
    return ops.reshape(found, (batch, n_channels, max_peaks, 3))


def to_image_coordinates(peaks, output_stride: int | float):
    """Map-pixel peaks to input-image pixels: ``x_image = x_map * s + (s - 1) / 2``.

    Map pixel ``i`` covers image pixels ``[i*s, (i+1)*s)``; its centre is
    ``i*s + (s-1)/2`` (the convention of
    :func:`behaviorlab.pose.targets.confidence_maps`).

    Parameters
    ----------
    peaks
        Shape ``(..., 2)`` ``(x, y)`` or ``(..., 3)`` ``(x, y, confidence)``, map pixels.
    output_stride
        Input pixels per map pixel, ``s``.

    Returns
    -------
    tensor
        Same shape as ``peaks``; coordinates in image pixels, any further
        columns (confidence) unchanged.
    """
    peaks = ops.cast(ops.convert_to_tensor(peaks), "float32")
    stride = float(output_stride)
    xy = peaks[..., :2] * stride + (stride - 1.0) / 2.0
    return ops.concatenate([xy, peaks[..., 2:]], axis=-1)
