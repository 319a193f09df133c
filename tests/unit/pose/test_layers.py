"""Custom Keras layers: outputs, config and .keras round trips."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from behaviorlab.pose.layers import ImageNormalization, SubpixelMaxima2D  # noqa: E402
from behaviorlab.pose.peaks import find_peaks_subpixel  # noqa: E402


def round_trip(layer, input_shape, x, tmp_path):
    inputs = keras.Input(input_shape)
    model = keras.Model(inputs, layer(inputs))
    expected = model.predict(x, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), expected)
    return expected, loaded


def test_image_normalization_maps_to_minus_one_one(tmp_path):
    x = np.array([0, 127.5, 255], np.float32).reshape(1, 1, 3, 1)
    out, loaded = round_trip(ImageNormalization(), (1, 3, 1), x, tmp_path)
    np.testing.assert_allclose(out.ravel(), [-1, 0, 1])
    assert loaded.layers[1].get_config()["max_value"] == 255.0
    with pytest.raises(ValueError, match="max_value"):
        ImageNormalization(max_value=0)


def test_subpixel_maxima_scales_and_round_trips(tmp_path):
    rng = np.random.default_rng(1)
    maps = rng.random((2, 12, 16, 5)).astype(np.float32)
    layer = SubpixelMaxima2D(5, 1.0, upsample_factor=20, index=3, coordinate_scale=4, confidence_scale=2)
    out, loaded = round_trip(layer, (12, 16, 5), maps, tmp_path)
    raw = np.asarray(find_peaks_subpixel(maps[..., :3], kernel_sigma=1.0, upsample_factor=20, window=5))
    assert out.shape == (2, 3, 3)
    np.testing.assert_allclose(out[..., :2], raw[..., :2] * 4 + 1.5, rtol=1e-6)
    np.testing.assert_allclose(out[..., 2], raw[..., 2] / 2, rtol=1e-6)
    config = loaded.get_layer(layer.name).get_config()
    assert config["index"] == 3
    assert config["kernel_size"] == 5
    assert config["coordinate_offset"] is None
    assert SubpixelMaxima2D.from_config(config).get_config() == config


def test_subpixel_maxima_rejects_bad_arguments():
    with pytest.raises(ValueError, match="kernel_size"):
        SubpixelMaxima2D(4, 1.0)
    with pytest.raises(ValueError, match="sigma"):
        SubpixelMaxima2D(5, -1.0)
    with pytest.raises(ValueError, match="index"):
        SubpixelMaxima2D(5, 1.0, index=9)(keras.Input((8, 8, 2)))
