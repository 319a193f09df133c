"""Model builders: tiny models build, train two steps, predict documented shapes and save."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from behaviorlab.pose.models import (  # noqa: E402
    MODEL_BUILDERS,
    build_deeplabcut,
    build_inference_model,
    build_leap,
    build_stacked_densenet,
    build_stacked_hourglass,
    count_parameters,
)
from behaviorlab.pose.targets import confidence_maps  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
SHAPE = (64, 64, 1)


@pytest.fixture(autouse=True)
def _fresh_keras_session():
    yield
    keras.backend.clear_session()


def outputs_of(model) -> list:
    return list(model.outputs)


def fit_two_steps(model, n_outputs_per_map: int) -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (4, *model.inputs[0].shape[1:])).astype(np.float32)
    ys = [rng.random((4, *o.shape[1:])).astype(np.float32) for o in outputs_of(model)]
    # Eager: tracing the train step of a 300-layer graph takes minutes on 2 CPU cores.
    model.compile(optimizer="sgd", loss=["mse"] * len(ys), run_eagerly=True)
    history = model.fit(x, ys if len(ys) > 1 else ys[0], batch_size=2, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    pred = model.predict(x[:1], verbose=0)
    pred = pred if isinstance(pred, list) else [pred]
    assert [p.shape for p in pred] == [(1, *y.shape[1:]) for y in ys]
    assert all(p.shape[-1] == n_outputs_per_map for p in pred)


@pytest.mark.parametrize(
    ("builder", "kwargs", "n_maps", "stride"),
    [
        (build_stacked_densenet, {"growth_rate": 8, "n_stacks": 2}, 2, 4),
        (build_stacked_densenet, {"growth_rate": 8, "n_stacks": 1, "depthwise_separable": True}, 1, 4),
        (build_stacked_hourglass, {"filters": 8, "n_stacks": 2}, 2, 4),
        (build_leap, {"filters": 8}, 1, 1),
        (build_deeplabcut, {"head_filters": 8}, 1, 8),
    ],
    ids=["densenet", "densenet-separable", "hourglass", "leap", "deeplabcut"],
)
def test_every_model_builds_trains_and_predicts(builder, kwargs, n_maps, stride):
    model = builder(SHAPE, 5, **kwargs)
    outs = outputs_of(model)
    assert len(outs) == n_maps
    assert [tuple(o.shape) for o in outs] == [(None, 64 // stride, 64 // stride, 5)] * n_maps
    assert all(model.get_layer(f"output_{i}") is not None for i in range(n_maps))
    images = np.random.default_rng(1).uniform(0, 255, (2, *SHAPE)).astype(np.float32)
    fresh = model.predict(images, verbose=0)
    fresh = fresh if isinstance(fresh, list) else [fresh]
    # Untrained maps start near the targets' zero background; with Keras' default output
    # initialisation they start ~100x larger and training stalls on shrinking them.
    assert max(float(np.abs(p).mean()) for p in fresh) < 0.1  # default init: 0.9-7 (densenet, hourglass)
    fit_two_steps(model, 5)
    assert count_parameters(model) == model.count_params()


@pytest.mark.parametrize("stride", [1, 2, 4, 8])
def test_stacked_densenet_output_strides(stride):
    model = build_stacked_densenet((32, 48, 1), 3, n_stacks=2, growth_rate=4, output_stride=stride)
    assert [tuple(o.shape) for o in model.outputs] == [(None, 32 // stride, 48 // stride, 3)] * 2


@pytest.mark.parametrize("stride", [2, 8])
def test_stacked_hourglass_output_strides(stride):
    model = build_stacked_hourglass((64, 64, 1), 3, n_stacks=1, filters=8, output_stride=stride)
    assert tuple(model.outputs[0].shape) == (None, 64 // stride, 64 // stride, 3)


def test_builders_reject_bad_shapes():
    with pytest.raises(ValueError, match="output_stride"):
        build_stacked_densenet(SHAPE, 3, output_stride=3)
    with pytest.raises(ValueError, match="divisible by 8"):
        build_stacked_densenet((60, 64, 1), 3, growth_rate=4, pooling_depth=3)
    with pytest.raises(ValueError, match="multiples of 32"):
        build_deeplabcut((48, 48, 1), 3)
    assert set(MODEL_BUILDERS) == {"stacked_densenet", "stacked_hourglass", "leap", "deeplabcut"}


def test_inference_model_finds_keypoints_and_round_trips(tmp_path):
    train = build_stacked_densenet(SHAPE, 4, n_stacks=1, growth_rate=4)
    inference = build_inference_model(train, output_stride=None, sigma=6.0, n_keypoints=3)
    assert tuple(inference.outputs[0].shape) == (None, 3, 3)

    # Feed the peak finder known maps through a model whose last output is the maps themselves.
    keypoints = np.array([[24.3, 30.7], [40.2, 33.9], [33.6, 22.4]])
    maps, _ = confidence_maps(keypoints, SHAPE, 4, 6.0)
    # A stand-in "network" whose maps are exact: max-pooling maps repeated 4x4 at image size.
    inputs = keras.Input((64, 64, 3))
    pooling = keras.Model(inputs, keras.layers.MaxPooling2D(4)(inputs))
    pooled_inference = build_inference_model(pooling, output_stride=4, sigma=6.0)
    found = pooled_inference.predict(np.repeat(np.repeat(maps, 4, 0), 4, 1)[None], verbose=0)[0]
    assert np.abs(found[:, :2] - keypoints).max() < 0.1
    np.testing.assert_allclose(found[:, 2], maps.max(axis=(0, 1)), rtol=1e-5)

    x = np.random.default_rng(0).uniform(0, 255, (2, *SHAPE)).astype(np.float32)
    expected = inference.predict(x, verbose=0)
    path = tmp_path / "inference.keras"
    inference.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), expected)
    with pytest.raises(ValueError, match="output_stride"):
        build_inference_model(train, output_stride=8, sigma=2.0)


def test_deeplabcut_loads_local_weights_and_never_downloads(tmp_path):
    source = keras.applications.ResNet50(include_top=False, weights=None, input_shape=(64, 64, 3))
    path = tmp_path / "resnet50_notop.weights.h5"
    source.save_weights(path)
    rgb = build_deeplabcut((64, 64, 3), 2, weights_path=path, head_filters=8)
    gray = build_deeplabcut((64, 64, 1), 2, weights_path=path, head_filters=8)
    expected = {w.path: np.asarray(w) for w in source.weights}
    for model in (rgb, gray):
        backbone = model.get_layer("resnet50")
        for name in ("conv2_block1_1_conv", "conv5_block3_3_bn"):
            for w, ref in zip(backbone.get_layer(name).weights, source.get_layer(name).weights, strict=True):
                np.testing.assert_array_equal(np.asarray(w), np.asarray(ref))
    kernel = source.get_layer("conv1_conv").kernel
    np.testing.assert_array_equal(np.asarray(rgb.get_layer("resnet50").get_layer("conv1_conv").kernel), kernel)
    gray_kernel = np.asarray(gray.get_layer("resnet50").get_layer("conv1_conv").kernel)
    np.testing.assert_allclose(gray_kernel, np.asarray(kernel).mean(axis=2, keepdims=True), rtol=1e-6)
    assert expected  # the source had weights
    with pytest.raises(FileNotFoundError, match="never downloaded"):
        build_deeplabcut((64, 64, 1), 2, weights_path=tmp_path / "missing.h5")


@pytest.mark.skipif(find_spec("jax") is None, reason="jax is not installed; backend portability not checked")
def test_tiny_model_and_peaks_run_on_jax():
    script = textwrap.dedent(
        """
        import keras, numpy as np
        assert keras.backend.backend() == "jax", keras.backend.backend()
        from behaviorlab.pose.models import build_inference_model, build_stacked_densenet
        from behaviorlab.pose.targets import confidence_maps
        model = build_stacked_densenet((32, 32, 1), 2, n_stacks=1, growth_rate=4, pooling_depth=1)
        x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 1)).astype("float32")
        out = build_inference_model(model, output_stride=4, sigma=6.0).predict(x, verbose=0)
        assert out.shape == (2, 2, 3), out.shape
        keypoints = np.array([[24.3, 30.7], [40.2, 33.9]])
        maps, _ = confidence_maps(keypoints, (64, 64), 4, 6.0)
        inputs = keras.Input((64, 64, 2))
        pooling = keras.Model(inputs, keras.layers.MaxPooling2D(4)(inputs))
        images = np.repeat(np.repeat(maps, 4, 0), 4, 1)[None]
        found = build_inference_model(pooling, output_stride=4, sigma=6.0).predict(images, verbose=0)[0]
        err = np.abs(found[:, :2] - keypoints).max()
        assert err < 0.1, err
        print("ok", err)
        """
    )
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ok" in result.stdout
