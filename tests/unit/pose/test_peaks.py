"""Integer and subpixel peak finding on planted Gaussians with known positions."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("keras")

from behaviorlab.pose.peaks import (
    default_window,
    find_peaks_integer,
    find_peaks_subpixel,
    to_image_coordinates,
    upsampled_registration_matrices,
)
from behaviorlab.pose.targets import confidence_maps


def planted_maps(xy: np.ndarray, height: int, width: int, sigma: float) -> np.ndarray:
    """Gaussians at ``xy`` ``(batch, keypoints, 2)`` -> maps ``(batch, height, width, keypoints)``."""
    yy, xx = np.mgrid[:height, :width]
    dx = xx[None, None] - xy[..., 0, None, None]
    dy = yy[None, None] - xy[..., 1, None, None]
    maps = np.exp(-(dx**2 + dy**2) / (2 * sigma**2))
    return np.transpose(maps, (0, 2, 3, 1)).astype(np.float32)


@pytest.mark.parametrize("sigma", [1.0, 1.5, 2.0])
def test_subpixel_recovers_planted_gaussians_and_beats_argmax(sigma):
    rng = np.random.default_rng(int(sigma * 10))
    height, width = 24, 32
    margin = 4 * sigma
    xy = np.stack(
        [rng.uniform(margin, width - 1 - margin, (3, 17)), rng.uniform(margin, height - 1 - margin, (3, 17))], axis=-1
    )
    maps = planted_maps(xy, height, width, sigma)

    sub = np.asarray(find_peaks_subpixel(maps, kernel_sigma=sigma))
    whole = np.asarray(find_peaks_integer(maps))

    assert sub.shape == whole.shape == (3, 17, 3)
    sub_err = np.abs(sub[..., :2] - xy)
    int_err = np.abs(whole[..., :2] - xy)
    assert sub_err.max() < 0.1
    assert sub_err.mean() < int_err.mean() / 5
    # confidence is the map value at the integer maximum
    np.testing.assert_allclose(sub[..., 2], maps.max(axis=(1, 2)), rtol=1e-6)
    np.testing.assert_allclose(whole[..., :2], np.round(xy), atol=1e-6)


def test_integer_peaks_on_a_single_pixel():
    maps = np.zeros((2, 5, 7, 3), np.float32)
    maps[0, 1, 6, 0] = 2.0
    maps[1, 4, 0, 2] = 3.0
    peaks = np.asarray(find_peaks_integer(maps))
    np.testing.assert_array_equal(peaks[0, 0], [6, 1, 2])
    np.testing.assert_array_equal(peaks[1, 2], [0, 4, 3])


@pytest.mark.parametrize("stride", [1, 2, 4, 8])
def test_round_trip_through_targets_peaks_and_stride(stride):
    rng = np.random.default_rng(stride)
    sigma = 1.5 * stride  # 1.5 map pixels
    size = 16 * stride
    margin = 4 * sigma
    keypoints = rng.uniform(margin, size - 1 - margin, (9, 2))
    maps, mask = confidence_maps(keypoints, (size, size, 1), stride, sigma)
    assert mask.all()
    peaks = find_peaks_subpixel(maps[None], kernel_sigma=sigma / stride)
    found = np.asarray(to_image_coordinates(peaks, stride))[0]
    assert np.abs(found[:, :2] - keypoints).max() < 0.1 * stride


def test_to_image_coordinates_pixel_centres():
    peaks = np.array([[[0.0, 0.0, 0.5], [2.0, 1.0, 1.0]]], np.float32)
    out = np.asarray(to_image_coordinates(peaks, 4))
    np.testing.assert_allclose(out[0, 0], [1.5, 1.5, 0.5])
    np.testing.assert_allclose(out[0, 1], [9.5, 5.5, 1.0])


def test_peaks_at_the_border_stay_in_range():
    maps = planted_maps(np.array([[[0.0, 0.0], [15.0, 11.0]]]), 12, 16, 1.0)
    peaks = np.asarray(find_peaks_subpixel(maps, kernel_sigma=1.0))
    assert np.all(np.abs(peaks[0, :, :2] - [[0, 0], [15, 11]]) <= 0.75)


def test_registration_matrices_validate_arguments():
    assert default_window(1.0) == 9
    a_re, _a_im, c_re, _c_im, offsets = upsampled_registration_matrices(7, 1.0, 10)
    assert a_re.shape == (15, 7)
    assert c_re.shape == (7, 15)
    assert offsets[0] == pytest.approx(-0.7)
    assert offsets[-1] == pytest.approx(0.7)
    with pytest.raises(ValueError, match="odd"):
        upsampled_registration_matrices(6, 1.0, 10)
    with pytest.raises(ValueError, match="kernel_sigma"):
        upsampled_registration_matrices(7, 0.0, 10)


def test_coarse_to_fine_search_equals_the_full_upsampled_grid():
    """The two-step search finds the same shift as the whole 1/100-pixel grid, evaluated in NumPy."""
    rng = np.random.default_rng(7)
    sigma, window, factor = 1.25, 11, 100
    xy = rng.uniform(6, 18, (1, 40, 2))
    maps = planted_maps(xy, 24, 24, sigma) + rng.normal(0, 0.05, (1, 24, 24, 40)).astype(np.float32)
    fast = np.asarray(find_peaks_subpixel(maps, kernel_sigma=sigma, upsample_factor=factor, window=window))[0]

    a_re, a_im, c_re, c_im, offsets = upsampled_registration_matrices(window, sigma, factor)
    radius = window // 2
    padded = np.pad(maps[0], ((radius, radius), (radius, radius), (0, 0)))
    for k in range(40):
        row, col = np.unravel_index(np.argmax(maps[0, ..., k]), (24, 24))
        patch = padded[row : row + window, col : col + window, k].astype(np.float64)
        surface = a_re @ patch @ c_re - a_im @ patch @ c_im
        best_row, best_col = np.unravel_index(np.argmax(surface), surface.shape)
        expected = (col + offsets[best_col], row + offsets[best_row])
        np.testing.assert_allclose(fast[k, :2], expected, atol=0.0101)
