"""Known-answer tests of keypoint-aware augmentation."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import ndimage

from behaviorlab.errors import SchemaError
from behaviorlab.pose.augment import (
    AffineParams,
    AugmentConfig,
    Augmenter,
    affine_matrix,
    transform_keypoints,
    warp_image,
)
from behaviorlab.schema import Skeleton

SKELETON = Skeleton(
    ["nose", "ear_left", "ear_right", "tail"],
    edges=[("nose", "ear_left"), ("nose", "ear_right"), ("nose", "tail")],
    symmetry=[("ear_left", "ear_right")],
)


def _geometric_only(**kwargs) -> AugmentConfig:
    return AugmentConfig.none() if not kwargs else AugmentConfig(**{**AugmentConfig.none().to_dict(), **kwargs})


def _dot_image(height: int, width: int, row: int, col: int, dtype=np.uint8) -> np.ndarray:
    image = np.zeros((height, width, 1), dtype=dtype)
    image[row, col, 0] = 255 if dtype == np.uint8 else 1.0
    return image


# --------------------------------------------------------------------------- geometry
@pytest.mark.parametrize(("height", "width"), [(9, 9), (10, 10)])
@pytest.mark.parametrize("angle", [90.0, 180.0, -90.0])
def test_right_angle_rotation_moves_pixel_and_keypoint_to_the_same_place(height, width, angle):
    row, col = 2, 7
    image = _dot_image(height, width, row, col)
    matrix = affine_matrix(image.shape, AffineParams(rotation=angle))
    warped = warp_image(image, matrix)
    keypoint = transform_keypoints(np.array([[col, row]], dtype=float), matrix, image.shape)[0]
    peak_row, peak_col = np.unravel_index(np.argmax(warped[..., 0]), warped.shape[:2])
    np.testing.assert_allclose(keypoint, [peak_col, peak_row], atol=1e-9)
    assert np.rint(warped[peak_row, peak_col, 0]) == 255
    assert np.rint(warped).sum() == 255  # the pixel moved intact: nothing smeared
    np.testing.assert_allclose(keypoint, np.round(keypoint), atol=1e-9)


def test_rotation_by_90_degrees_is_counter_clockwise_on_screen():
    # A point right of the centre goes above it (smaller y) on screen.
    image_shape = (11, 11)
    matrix = affine_matrix(image_shape, AffineParams(rotation=90.0))
    out = transform_keypoints(np.array([[8.0, 5.0]]), matrix, image_shape)
    np.testing.assert_allclose(out, [[5.0, 2.0]], atol=1e-12)


def test_random_affine_keeps_keypoint_on_the_bright_blob():
    rng = np.random.default_rng(1)
    height, width = 64, 80
    yy, xx = np.mgrid[0:height, 0:width]
    config = AugmentConfig(flip_lr=0.5, flip_ud=0.5, rotation=(-180, 180), scale=(0.8, 1.2), translation=0.1)
    augmenter = Augmenter(config, Skeleton(["spot"]), seed=3)
    checked = 0
    for _ in range(20):
        x0, y0 = rng.uniform(25, 55), rng.uniform(22, 42)
        blob = np.exp(-((xx - x0) ** 2 + (yy - y0) ** 2) / (2 * 2.0**2))
        image = blob[..., None].astype(np.float32)
        out, keypoints = augmenter(image, np.array([[x0, y0]]))
        if np.isnan(keypoints).any():
            continue
        cy, cx = ndimage.center_of_mass(out[..., 0])
        assert np.hypot(keypoints[0, 0] - cx, keypoints[0, 1] - cy) < 0.5
        checked += 1
    assert checked >= 15


def test_lr_flip_swaps_left_right_labels_and_mirrors_x():
    height, width = 20, 30
    config = _geometric_only(flip_lr=1.0)
    augmenter = Augmenter(config, SKELETON, seed=0)
    keypoints = np.array([[15.0, 5.0], [10.0, 8.0], [20.0, 8.0], [15.0, 18.0]])
    image = np.zeros((height, width, 3), dtype=np.uint8)
    image[8, 10] = [255, 0, 0]  # a red left ear
    out_image, out = augmenter(image, keypoints)
    # the animal's left ear is now drawn on the right-hand side of the image, still labelled ear_left
    left, right = SKELETON.index("ear_left"), SKELETON.index("ear_right")
    np.testing.assert_allclose(out[left], [width - 1 - 20.0, 8.0])
    np.testing.assert_allclose(out[right], [width - 1 - 10.0, 8.0])
    np.testing.assert_allclose(out[[0, 3], 0], width - 1 - keypoints[[0, 3], 0])
    np.testing.assert_allclose(out[:, 1], keypoints[:, 1])
    np.testing.assert_array_equal(out_image, image[:, ::-1])
    np.testing.assert_array_equal(out_image[8, width - 1 - 10], [255, 0, 0])
    assert np.allclose(out[right], [width - 1 - 10.0, 8.0])  # the red ear's pixel carries the ear_right slot


def test_ud_flip_also_swaps_labels_but_two_flips_do_not():
    keypoints = np.array([[15.0, 5.0], [10.0, 8.0], [20.0, 8.0], [15.0, 18.0]])
    ud = Augmenter(_geometric_only(flip_ud=1.0), SKELETON, seed=0)(np.zeros((20, 30)), keypoints)[1]
    np.testing.assert_allclose(ud[1], [20.0, 19 - 8.0])
    both = Augmenter(_geometric_only(flip_lr=1.0, flip_ud=1.0), SKELETON, seed=0)(np.zeros((20, 30)), keypoints)[1]
    np.testing.assert_allclose(both[1], [29 - 10.0, 19 - 8.0])  # a 180-degree turn: no swap


def test_double_flip_is_identity():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(17, 23, 3), dtype=np.uint8)
    keypoints = rng.uniform(0, 16, size=(2, 4, 2))
    augmenter = Augmenter(_geometric_only(flip_lr=1.0), SKELETON, seed=0)
    once = augmenter(image, keypoints)
    twice = augmenter(*once)
    np.testing.assert_array_equal(twice[0], image)
    np.testing.assert_allclose(twice[1], keypoints, atol=1e-12)


def test_keypoints_leaving_the_image_become_nan_and_nan_stays_nan():
    height, width = 20, 30
    image_shape = (height, width, 1)
    matrix = affine_matrix(image_shape, AffineParams(shift=(5.0, 0.0)))
    keypoints = np.array([[[2.0, 3.0], [24.4, 3.0], [24.6, 3.0], [np.nan, 3.0]]])
    out = transform_keypoints(keypoints, matrix, image_shape)
    np.testing.assert_allclose(out[0, 0], [7.0, 3.0])
    np.testing.assert_allclose(out[0, 1], [29.4, 3.0])  # still on the last pixel column
    assert np.isnan(out[0, 2]).all()  # past the image's right edge at x = width - 0.5
    assert np.isnan(out[0, 3]).all()  # a half-missing keypoint is missing


def test_none_config_returns_inputs_unchanged():
    rng = np.random.default_rng(2)
    image = rng.integers(0, 256, size=(12, 14, 3), dtype=np.uint8)
    keypoints = np.array([[1.0, 2.0], [np.nan, np.nan], [5.0, 6.0], [13.0, 11.0]])
    out_image, out = Augmenter(AugmentConfig.none(), SKELETON, seed=0)(image, keypoints)
    np.testing.assert_array_equal(out_image, image)
    np.testing.assert_array_equal(out, keypoints)
    assert out is not keypoints


# --------------------------------------------------------------------------- determinism
def test_same_seed_same_outputs_and_rng_argument():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(32, 32, 1), dtype=np.uint8)
    keypoints = rng.uniform(8, 24, size=(4, 2))
    config = AugmentConfig(noise_std=0.05, dropout=0.05, blur=0.3, sharpen=0.3, contrast=(0.8, 1.2))
    a, b = Augmenter(config, SKELETON, seed=7), Augmenter(config, SKELETON, seed=7)
    for _ in range(3):
        (ia, ka), (ib, kb) = a(image, keypoints), b(image, keypoints)
        np.testing.assert_array_equal(ia, ib)
        np.testing.assert_array_equal(ka, kb)
    other = Augmenter(config, SKELETON, seed=8)(image, keypoints)[0]
    assert not np.array_equal(other, Augmenter(config, SKELETON, seed=7)(image, keypoints)[0])
    first = a(image, keypoints, rng=np.random.default_rng(5))
    second = b(image, keypoints, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(first[0], second[0])
    w0, w1 = a.worker_rng(0), a.worker_rng(1)
    assert w0.random() != w1.random()
    assert a.worker_rng(1).random() == Augmenter(config, SKELETON, seed=7).worker_rng(1).random()


def test_augment_batch_shapes_and_reproducibility():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(3, 24, 24, 1), dtype=np.uint8)
    keypoints = rng.uniform(6, 18, size=(3, 2, 4, 2))
    keypoints[0, 1, 2] = np.nan
    config = AugmentConfig(noise_std=0.02)
    out_images, out_keypoints = Augmenter(config, SKELETON, seed=1).augment_batch(images, keypoints)
    assert out_images.shape == images.shape
    assert out_images.dtype == np.uint8
    assert out_keypoints.shape == keypoints.shape
    assert not np.array_equal(out_images[0], out_images[1])
    again = Augmenter(config, SKELETON, seed=1).augment_batch(images, keypoints)
    np.testing.assert_array_equal(again[0], out_images)
    np.testing.assert_array_equal(again[1], out_keypoints)
    # the NaN keypoint is still NaN, wherever the flip sent its label
    assert np.isnan(out_keypoints[0, 1]).all(axis=-1).sum() >= 1


# --------------------------------------------------------------------------- photometric
@pytest.mark.parametrize(
    "config",
    [
        AugmentConfig(noise_std=0.2),
        AugmentConfig(dropout=0.3),
        AugmentConfig(blur=1.0, blur_sigma=(1.0, 2.0)),
        AugmentConfig(sharpen=1.0, sharpen_amount=(2.0, 3.0)),
        AugmentConfig(contrast=(2.0, 3.0)),
    ],
    ids=["noise", "dropout", "blur", "sharpen", "contrast"],
)
@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_photometric_ops_keep_dtype_shape_and_range(config, dtype):
    rng = np.random.default_rng(0)
    raw = rng.uniform(0, 1, size=(20, 24, 3))
    image = (raw * 255).astype(np.uint8) if dtype == np.uint8 else raw.astype(dtype)
    out, _ = Augmenter(config, SKELETON, seed=0)(image, np.full((4, 2), 10.0))
    assert out.shape == image.shape
    assert out.dtype == image.dtype
    high = 255 if dtype == np.uint8 else 1.0
    assert out.min() >= 0
    assert out.max() <= high
    assert not np.array_equal(out, image)


def test_photometric_ops_do_what_they_say():
    rng = np.random.default_rng(0)
    image = rng.uniform(0.3, 0.7, size=(40, 40, 1))
    kp = np.full((4, 2), 10.0)
    geo = AugmentConfig.none().to_dict()
    blurred = Augmenter(AugmentConfig(**{**geo, "blur": 1.0}), SKELETON, seed=0)(image, kp)[0]
    sharpened = Augmenter(AugmentConfig(**{**geo, "sharpen": 1.0}), SKELETON, seed=0)(image, kp)[0]
    assert blurred.std() < image.std() < sharpened.std()
    dropped = Augmenter(AugmentConfig(**{**geo, "dropout": 0.25}), SKELETON, seed=0)(image, kp)[0]
    assert 0.2 < np.mean(dropped == 0) < 0.3
    noisy = Augmenter(AugmentConfig(**{**geo, "noise_std": 0.01}), SKELETON, seed=0)(image, kp)[0]
    assert 0.008 < np.std(noisy - image) < 0.012
    flat = Augmenter(AugmentConfig(**{**geo, "contrast": (0.5, 0.5)}), SKELETON, seed=0)(image, kp)[0]
    np.testing.assert_allclose(flat - flat.mean(), 0.5 * (image - image.mean()), atol=1e-6)


# --------------------------------------------------------------------------- config and input checks
def test_config_round_trips_json_and_validates():
    config = AugmentConfig(flip_ud=0.5, scale=[0.8, 1.2], blur=0.2)
    assert AugmentConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    with pytest.raises(ValueError, match="flip_lr"):
        AugmentConfig(flip_lr=1.5)
    with pytest.raises(ValueError, match="scale"):
        AugmentConfig(scale=(0.0, 1.0))
    with pytest.raises(ValueError, match="rotation"):
        AugmentConfig(rotation=(10, -10))
    with pytest.raises(ValueError, match="blur \\+"):
        AugmentConfig(blur=0.6, sharpen=0.6)
    with pytest.raises(ValueError, match="unknown key"):
        AugmentConfig.from_dict({"flip": 0.5})


def test_bad_inputs_raise_schema_errors():
    augmenter = Augmenter(AugmentConfig(), SKELETON, seed=0)
    with pytest.raises(SchemaError, match="4, 2"):
        augmenter(np.zeros((10, 10)), np.zeros((3, 2)))
    with pytest.raises(SchemaError, match="image"):
        augmenter(np.zeros((2, 10, 10, 1)), np.zeros((4, 2)))


def test_flips_swap_pairs_read_from_the_names_and_are_off_without_pairs(caplog):
    from behaviorlab.pose.augment import flip_plan

    named = Skeleton(["head", "wingL", "wingR", "left_ear", "right_ear", "thorax"])
    config, skeleton, note = flip_plan(AugmentConfig(flip_lr=0.5), named)
    assert skeleton.symmetry == (("wingL", "wingR"), ("left_ear", "right_ear"))
    assert config.flip_lr == 0.5
    assert "wingL/wingR" in note
    midline = Skeleton(["head", "thorax", "abdomen"])
    with caplog.at_level("WARNING", logger="behaviorlab.pose.augment"):
        aug = Augmenter(AugmentConfig(flip_lr=0.5, flip_ud=0.5), midline, seed=0)
    assert aug.config.flip_lr == aug.config.flip_ud == 0.0  # no pair known: a flip would mirror the labels
    assert any("image flips are off" in r.getMessage() for r in caplog.records)
    assert not any(aug.sample_params((64, 64)).flip_lr or aug.sample_params((64, 64)).flip_ud for _ in range(50))
    # pairs in the skeleton, or no flips asked for: nothing to say
    assert flip_plan(AugmentConfig(flip_lr=0.5), SKELETON)[2] is None
    assert flip_plan(AugmentConfig(flip_lr=0.0, flip_ud=0.0), midline)[2] is None
    # a top-down model's centroid: one keypoint has no twin, so its flips stay on without a word
    config, _, note = flip_plan(AugmentConfig(flip_lr=0.5, flip_ud=0.5), Skeleton(["spine"]))
    assert (config.flip_lr, config.flip_ud, note) == (0.5, 0.5, None)
