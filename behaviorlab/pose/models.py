"""Pose-estimation networks: builders that take shapes and hyperparameters, never data.

Every ``build_*`` function returns an uncompiled :class:`keras.Model` that maps
images ``(batch, height, width, channels)`` with pixel values in
``[0, 255]`` to confidence maps ``(batch, height / s, width / s, n_outputs)``
at output stride ``s``; models with intermediate supervision return one such
map per stack (a list, the last one the final prediction), named
``output_0``, ``output_1``, ...  ``n_outputs`` is usually
:func:`behaviorlab.pose.targets.n_target_maps`.

- :func:`build_stacked_densenet`: DeepPoseKit's Stacked DenseNet (Graving et al. 2019).
- :func:`build_stacked_hourglass`: Newell, Yang & Deng (2016).
- :func:`build_leap`: LEAP (Pereira et al. 2019).
- :func:`build_deeplabcut`: ResNet50 + transposed convolutions (Mathis et al. 2018).

:func:`build_inference_model` turns any of them into a model that outputs
subpixel keypoints ``(batch, keypoints, 3)`` in input-image pixels.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import keras
from keras import layers

from behaviorlab.pose.layers import ImageNormalization, LocalMaxima2D, SubpixelMaxima2D

__all__ = [
    "MODEL_BUILDERS",
    "build_candidates_model",
    "build_deeplabcut",
    "build_inference_model",
    "build_leap",
    "build_local_peaks_model",
    "build_stacked_densenet",
    "build_stacked_hourglass",
    "count_parameters",
]

log = logging.getLogger(__name__)

_SELU = {"activation": "selu", "kernel_initializer": "lecun_normal", "padding": "same"}


def _output_init() -> dict[str, object]:
    """Return initialisers for the layers that emit confidence maps, so outputs start near zero.

    The targets are mostly zero with small Gaussian peaks; with Keras' default
    initialisation the first maps are about 100 times too large and training
    spends its early epochs shrinking them instead of finding keypoints (on
    the sample set: 29 px validation error after 120 epochs against 6 px
    after 43 with this initialisation).
    """
    return {"kernel_initializer": keras.initializers.RandomNormal(stddev=1e-3), "bias_initializer": "zeros"}


# --------------------------------------------------------------------------- shape checks
def _check_input_shape(input_shape: Sequence[int | None], multiple: int) -> tuple[int, int, int]:
    shape = tuple(input_shape)
    if len(shape) != 3 or any(d is None for d in shape):
        raise ValueError(f"input_shape must be a fully known (height, width, channels), got {shape}")
    height, width, channels = (int(d) for d in shape)
    if min(height, width, channels) < 1:
        raise ValueError(f"input_shape must be positive, got {shape}")
    if height % multiple or width % multiple:
        raise ValueError(
            f"input height and width ({height}x{width}) must be multiples of {multiple} for this architecture "
            "and output stride; crop or pad the images"
        )
    return height, width, channels


def _check_stride(output_stride: int, allowed: Sequence[int]) -> int:
    if output_stride not in allowed:
        raise ValueError(f"output_stride must be one of {tuple(allowed)}, got {output_stride}")
    return int(output_stride)


def _auto_depth(height: int, width: int, *, min_size: int = 2, max_depth: int = 6) -> int:
    """Largest number of 2x poolings that keep both sides integer and at least ``min_size``."""
    depth = 0
    while depth < max_depth:
        h, w = height // 2 ** (depth + 1), width // 2 ** (depth + 1)
        if height % 2 ** (depth + 1) or width % 2 ** (depth + 1) or min(h, w) < min_size:
            break
        depth += 1
    return depth


def _resolve_depth(depth: int | None, out_height: int, out_width: int, what: str) -> int:
    if depth is None:
        return _auto_depth(out_height, out_width)
    depth = int(depth)
    if depth < 0:
        raise ValueError(f"{what} must be >= 0 or None, got {depth}")
    if out_height % 2**depth or out_width % 2**depth:
        raise ValueError(
            f"{what}={depth} needs the output maps ({out_height}x{out_width}) to be divisible by {2**depth}"
        )
    return depth


def count_parameters(model: keras.Model) -> int:
    """Count the scalars in all weights of ``model``, trainable or not."""
    return int(sum(math.prod(w.shape) for w in model.weights))


# --------------------------------------------------------------------------- Stacked DenseNet
def _dense_layer(x, growth_rate: int, bottleneck_factor: float, depthwise_separable: bool, name: str):
    """Bottleneck dense layer: 1x1 conv -> 3x3 conv (SELU), concatenated to its input."""
    bottleneck = max(1, round(growth_rate * bottleneck_factor))
    y = layers.Conv2D(bottleneck, 1, name=f"{name}_1x1", **_SELU)(x)
    if depthwise_separable:
        y = layers.SeparableConv2D(
            growth_rate,
            3,
            padding="same",
            activation="selu",
            depthwise_initializer="lecun_normal",
            pointwise_initializer="lecun_normal",
            name=f"{name}_3x3",
        )(y)
    else:
        y = layers.Conv2D(growth_rate, 3, name=f"{name}_3x3", **_SELU)(y)
    return layers.Concatenate(name=f"{name}_concat")([x, y])


def _compress(x, compression_factor: float, name: str):
    """Transition 1x1 conv keeping ``compression_factor`` of the channels (SELU)."""
    filters = max(1, round(x.shape[-1] * compression_factor))
    return layers.Conv2D(filters, 1, name=name, **_SELU)(x)


def _transition_down(x, compression_factor: float, name: str):
    """Max-pool, then compress (as DeepPoseKit does: the 1x1 convolution runs on a quarter of the pixels)."""
    x = layers.MaxPooling2D(2, name=f"{name}_pool")(x)
    return _compress(x, compression_factor, f"{name}_compress")


def _transition_up(x, compression_factor: float, name: str):
    x = _compress(x, compression_factor, f"{name}_compress")
    return layers.UpSampling2D(2, name=f"{name}_upsample")(x)


def _dense_hourglass(x, depth: int, dense: Callable, compression_factor: float, name: str):
    """FC-DenseNet encoder-decoder: dense layer + transition down, ``depth`` times, and back up with skips.

    The skip connections are compressed before they join the decoder, as in
    DeepPoseKit, which keeps the channel count at the output resolution in check.
    """
    skips = []
    for level in range(depth):
        x = dense(x, f"{name}_down{level}")
        skips.append(x)
        x = _transition_down(x, compression_factor, f"{name}_down{level}_transition")
    x = dense(x, f"{name}_bottom")
    for level in reversed(range(depth)):
        x = _transition_up(x, compression_factor, f"{name}_up{level}_transition")
        skip = _compress(skips[level], compression_factor, f"{name}_skip{level}_compress")
        x = layers.Concatenate(name=f"{name}_up{level}_skip")([x, skip])
        x = dense(x, f"{name}_up{level}")
    return _compress(x, compression_factor, f"{name}_out_compress")


def build_stacked_densenet(
    input_shape: Sequence[int],
    n_outputs: int,
    *,
    n_stacks: int = 2,
    growth_rate: int = 48,
    bottleneck_factor: float = 1.0,
    compression_factor: float = 0.5,
    output_stride: int = 4,
    pooling_depth: int | None = None,
    depthwise_separable: bool = False,
    name: str = "stacked_densenet",
) -> keras.Model:
    """DeepPoseKit's Stacked DenseNet: stacked FC-DenseNet hourglasses with intermediate supervision.

    A 7x7 stride-2 SELU stem (stride 1 when ``output_stride == 1``),
    concatenated with an average-pooled copy of the image, is followed by
    dense layers and transitions down to ``1 / output_stride``; then
    ``n_stacks`` encoder-decoder DenseNets, each ending in a linear 1x1
    output.  The next stack sees the stem features, the compressed features
    and the previous output.  All convolutions use SELU with LeCun-normal
    initialisation (self-normalising, no batch normalisation).

    Parameters
    ----------
    input_shape
        ``(height, width, channels)``; height and width multiples of
        ``output_stride * 2**pooling_depth``.
    n_outputs
        Channels of each output (keypoints, or keypoints + graph maps).
    n_stacks
        Number of hourglasses (and outputs).
    growth_rate
        Channels added by each dense layer (its 3x3 convolution).
    bottleneck_factor
        Channels of the 1x1 bottleneck, as a multiple of ``growth_rate``.
    compression_factor
        Fraction of channels kept by each transition layer.
    output_stride
        Input pixels per output pixel: 1, 2, 4 or 8.
    pooling_depth
        Downsamplings inside each hourglass; ``None`` for as many as keep
        the maps at least 2 pixels and integer (DeepPoseKit's
        ``n_transitions=-1``).
    depthwise_separable
        Depthwise-separable 3x3 convolutions (fewer parameters).
    name
        Model name.

    Returns
    -------
    keras.Model
        Input ``(batch, height, width, channels)``; outputs: a list of
        ``n_stacks`` tensors ``(batch, height / s, width / s, n_outputs)``.
    """
    stride = _check_stride(output_stride, (1, 2, 4, 8))
    height, width, _ = _check_input_shape(input_shape, stride)
    depth = _resolve_depth(pooling_depth, height // stride, width // stride, "pooling_depth")
    _check_input_shape(input_shape, stride * 2**depth)
    if n_stacks < 1 or growth_rate < 1 or not 0 < compression_factor <= 1 or bottleneck_factor <= 0:
        raise ValueError(
            "need n_stacks >= 1, growth_rate >= 1, 0 < compression_factor <= 1 and bottleneck_factor > 0; got "
            f"{n_stacks=}, {growth_rate=}, {compression_factor=}, {bottleneck_factor=}"
        )

    def dense(x, layer_name):
        return _dense_layer(x, growth_rate, bottleneck_factor, depthwise_separable, layer_name)

    inputs = keras.Input(tuple(input_shape), name="image")
    x = ImageNormalization(name="normalize")(inputs)
    stem_stride = 1 if stride == 1 else 2
    stem = layers.Conv2D(growth_rate, 7, strides=stem_stride, name="stem_7x7", **_SELU)(x)
    if stem_stride > 1:
        x = layers.AveragePooling2D(stem_stride, name="stem_pool_image")(x)
    front = layers.Concatenate(name="stem_concat")([stem, x])
    for i in range(int(math.log2(stride)) - 1):
        front = dense(front, f"front{i}")
        front = _transition_down(front, compression_factor, f"front{i}_transition")

    outputs = []
    stack_input = front
    for s in range(n_stacks):
        features = _dense_hourglass(stack_input, depth, dense, compression_factor, f"stack{s}")
        out = layers.Conv2D(n_outputs, 1, padding="same", name=f"output_{s}", **_output_init())(features)
        outputs.append(out)
        if s < n_stacks - 1:
            stack_input = layers.Concatenate(name=f"stack{s + 1}_input")([front, features, out])
    return keras.Model(inputs, outputs, name=name)


# --------------------------------------------------------------------------- Stacked hourglass
def _residual(x, filters: int, name: str):
    """Pre-activation bottleneck residual module of Newell et al. (2016)."""
    y = x
    for i, (f, k) in enumerate(((filters // 2, 1), (filters // 2, 3), (filters, 1))):
        y = layers.BatchNormalization(name=f"{name}_bn{i}")(y)
        y = layers.ReLU(name=f"{name}_relu{i}")(y)
        y = layers.Conv2D(max(1, f), k, padding="same", name=f"{name}_conv{i}")(y)
    skip = x if x.shape[-1] == filters else layers.Conv2D(filters, 1, name=f"{name}_skip")(x)
    return layers.Add(name=f"{name}_add")([y, skip])


def _hourglass(x, depth: int, filters: int, name: str):
    up = _residual(x, filters, f"{name}_up")
    low = layers.MaxPooling2D(2, name=f"{name}_pool")(x)
    low = _residual(low, filters, f"{name}_low1")
    if depth > 1:
        low = _hourglass(low, depth - 1, filters, f"{name}_inner")
    else:
        low = _residual(low, filters, f"{name}_bottom")
    low = _residual(low, filters, f"{name}_low3")
    low = layers.UpSampling2D(2, name=f"{name}_upsample")(low)
    return layers.Add(name=f"{name}_merge")([up, low])


def build_stacked_hourglass(
    input_shape: Sequence[int],
    n_outputs: int,
    *,
    n_stacks: int = 2,
    filters: int = 64,
    output_stride: int = 4,
    depth: int | None = None,
    name: str = "stacked_hourglass",
) -> keras.Model:
    """Stacked hourglass network (Newell, Yang & Deng 2016) with intermediate supervision.

    A 7x7 stride-2 stem and residual modules with max pooling reach
    ``1 / output_stride``; each hourglass is a recursive encoder-decoder of
    bottleneck residual modules (pre-activation BN-ReLU-conv) with a skip
    branch at every scale; each stack predicts maps with a linear 1x1
    convolution, and both its features and its maps are projected back and
    added to the next stack's input.

    Parameters
    ----------
    input_shape
        ``(height, width, channels)``; height and width multiples of
        ``output_stride * 2**depth``.
    n_outputs
        Channels of each output.
    n_stacks
        Number of hourglasses (and outputs).
    filters
        Channels of the residual modules (Newell et al. used 256).
    output_stride
        Input pixels per output pixel: 1, 2, 4 or 8.
    depth
        Poolings inside each hourglass; ``None`` for as many as keep the
        maps at least 2 pixels (at most 6; Newell et al. used 4).
    name
        Model name.

    Returns
    -------
    keras.Model
        Outputs: a list of ``n_stacks`` tensors ``(batch, height / s, width / s, n_outputs)``.
    """
    stride = _check_stride(output_stride, (1, 2, 4, 8))
    height, width, _ = _check_input_shape(input_shape, stride)
    depth = _resolve_depth(depth, height // stride, width // stride, "depth")
    _check_input_shape(input_shape, stride * 2**depth)
    if depth < 1:
        raise ValueError(f"the output maps ({height // stride}x{width // stride}) are too small for an hourglass")

    inputs = keras.Input(tuple(input_shape), name="image")
    x = ImageNormalization(name="normalize")(inputs)
    x = layers.Conv2D(filters, 7, strides=1 if stride == 1 else 2, padding="same", name="stem_7x7")(x)
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.ReLU(name="stem_relu")(x)
    x = _residual(x, filters, "stem_res0")
    for i in range(int(math.log2(stride)) - 1):
        x = layers.MaxPooling2D(2, name=f"stem_pool{i}")(x)
        x = _residual(x, filters, f"stem_res{i + 1}")

    outputs = []
    for s in range(n_stacks):
        y = _hourglass(x, depth, filters, f"stack{s}_hg")
        y = _residual(y, filters, f"stack{s}_res")
        y = layers.Conv2D(filters, 1, name=f"stack{s}_features")(y)
        y = layers.BatchNormalization(name=f"stack{s}_features_bn")(y)
        y = layers.ReLU(name=f"stack{s}_features_relu")(y)
        out = layers.Conv2D(n_outputs, 1, name=f"output_{s}", **_output_init())(y)
        outputs.append(out)
        if s < n_stacks - 1:
            back_features = layers.Conv2D(filters, 1, name=f"stack{s}_remap_features")(y)
            back_maps = layers.Conv2D(filters, 1, name=f"stack{s}_remap_maps")(out)
            x = layers.Add(name=f"stack{s + 1}_input")([x, back_features, back_maps])
    return keras.Model(inputs, outputs, name=name)


# --------------------------------------------------------------------------- LEAP
def build_leap(input_shape: Sequence[int], n_outputs: int, *, filters: int = 64, name: str = "leap") -> keras.Model:
    """LEAP (Pereira et al. 2019): three conv blocks with max pooling, transposed-conv upsampling.

    Blocks of three 3x3 ReLU convolutions with ``filters``, ``2 * filters``
    and ``4 * filters`` channels, separated by 2x2 max pooling; a stride-2
    transposed convolution and two convolutions with ``2 * filters``
    channels; a final linear stride-2 transposed convolution back to full
    resolution (output stride 1).

    Parameters
    ----------
    input_shape
        ``(height, width, channels)``; height and width multiples of 4.
    n_outputs
        Channels of the output.
    filters
        Channels of the first block.
    name
        Model name.

    Returns
    -------
    keras.Model
        Output ``(batch, height, width, n_outputs)``.
    """
    _check_input_shape(input_shape, 4)
    conv = {"padding": "same", "activation": "relu", "kernel_initializer": "glorot_normal"}
    inputs = keras.Input(tuple(input_shape), name="image")
    x = ImageNormalization(name="normalize")(inputs)
    for block, width in enumerate((filters, 2 * filters, 4 * filters)):
        if block:
            x = layers.MaxPooling2D(2, name=f"block{block}_pool")(x)
        for i in range(3):
            x = layers.Conv2D(width, 3, name=f"block{block}_conv{i}", **conv)(x)
    x = layers.Conv2DTranspose(2 * filters, 3, strides=2, name="up0_deconv", **conv)(x)
    for i in range(2):
        x = layers.Conv2D(2 * filters, 3, name=f"up0_conv{i}", **conv)(x)
    out = layers.Conv2DTranspose(n_outputs, 3, strides=2, padding="same", name="output_0", **_output_init())(x)
    return keras.Model(inputs, out, name=name)


# --------------------------------------------------------------------------- DeepLabCut
def _load_resnet50_weights(backbone: keras.Model, weights_path: str | Path) -> None:
    """Copy ResNet50 weights from a local file into ``backbone``, layer by layer by name.

    The file may hold the weights of a ``keras.applications.ResNet50`` with
    ``include_top=False`` and 3 input channels (``.weights.h5`` or legacy
    ``.h5``, such as Keras's ImageNet file).  For a one-channel backbone the
    RGB kernels of ``conv1_conv`` are averaged; layers missing from the file
    or of another shape are left as initialised (logged).
    """
    path = Path(weights_path)
    if not path.is_file():
        raise FileNotFoundError(
            f"ResNet50 weights file {path} does not exist; pass the path of a local ImageNet weights file "
            "(e.g. resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5) or weights_path=None for random "
            "initialisation (weights are never downloaded)"
        )
    source = keras.applications.ResNet50(include_top=False, weights=None, input_shape=(None, None, 3))
    try:
        source.load_weights(path)
    except ValueError:
        if path.suffix != ".h5" or path.name.endswith(".weights.h5"):
            raise
        source.load_weights(path, skip_mismatch=True, by_name=True)
    target_layers = {layer.name: layer for layer in backbone.layers}
    skipped = []
    for layer in source.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        target = target_layers.get(layer.name)
        if target is None:
            skipped.append(layer.name)
            continue
        expected = [w.shape for w in target.get_weights()]
        if layer.name == "conv1_conv" and expected[0] != weights[0].shape:
            channels = expected[0][2]
            if channels != 1:
                raise ValueError(
                    f"cannot adapt the 3-channel first convolution of {path} to {channels} input channels; "
                    "use 1 (grayscale: RGB kernels averaged) or 3 channels"
                )
            weights[0] = weights[0].mean(axis=2, keepdims=True)
        if [w.shape for w in weights] != expected:
            skipped.append(layer.name)
            continue
        target.set_weights(weights)
    if skipped:
        log.warning("ResNet50 weights from %s: left %d layers as initialised: %s", path, len(skipped), skipped)


def build_deeplabcut(
    input_shape: Sequence[int],
    n_outputs: int,
    *,
    weights_path: str | Path | None = None,
    output_stride: int = 8,
    head_filters: int = 256,
    name: str = "deeplabcut",
) -> keras.Model:
    """DeepLabCut-style model: ResNet50 backbone and a transposed-convolution head.

    ``keras.applications.ResNet50`` (``include_top=False``, stride 32) is
    followed by a 1x1 reduction to ``head_filters`` channels (BN, ReLU) and
    3x3 stride-2 transposed convolutions up to ``1 / output_stride``, the
    last of which is the linear output.  DeepLabCut reaches stride 16 with
    atrous convolutions instead; ``keras.applications`` has no atrous
    ResNet, hence the extra upsampling.  Weights are never downloaded.

    Parameters
    ----------
    input_shape
        ``(height, width, channels)``, height and width multiples of 32.
    n_outputs
        Channels of the output.
    weights_path
        Local file with ResNet50 (``include_top=False``, RGB) weights, e.g.
        Keras's ImageNet file; ``None`` for random initialisation.  For
        grayscale input the first convolution's RGB kernels are averaged.
        The backbone then expects its own ImageNet preprocessing; this model
        feeds it ``[-1, 1]`` images (:class:`ImageNormalization`).
    output_stride
        4, 8 or 16.
    head_filters
        Channels of the head's hidden layers.
    name
        Model name.

    Returns
    -------
    keras.Model
        Output ``(batch, height / s, width / s, n_outputs)``.

    Raises
    ------
    FileNotFoundError
        When ``weights_path`` is given but does not exist.
    """
    stride = _check_stride(output_stride, (4, 8, 16))
    _check_input_shape(input_shape, 32)
    if weights_path is not None and not Path(weights_path).is_file():
        raise FileNotFoundError(
            f"ResNet50 weights file {weights_path} does not exist; pass a local weights file or "
            "weights_path=None (weights are never downloaded)"
        )
    inputs = keras.Input(tuple(input_shape), name="image")
    x = ImageNormalization(name="normalize")(inputs)
    backbone = keras.applications.ResNet50(include_top=False, weights=None, input_shape=tuple(input_shape))
    if weights_path is not None:
        _load_resnet50_weights(backbone, weights_path)
    x = backbone(x)
    x = layers.Conv2D(head_filters, 1, name="head_reduce")(x)
    x = layers.BatchNormalization(name="head_reduce_bn")(x)
    x = layers.ReLU(name="head_reduce_relu")(x)
    n_up = int(math.log2(32 // stride))
    for i in range(n_up - 1):
        x = layers.Conv2DTranspose(head_filters, 3, strides=2, padding="same", name=f"head_up{i}")(x)
        x = layers.BatchNormalization(name=f"head_up{i}_bn")(x)
        x = layers.ReLU(name=f"head_up{i}_relu")(x)
    out = layers.Conv2DTranspose(n_outputs, 3, strides=2, padding="same", name="output_0", **_output_init())(x)
    return keras.Model(inputs, out, name=name)


# --------------------------------------------------------------------------- inference
def build_inference_model(
    train_model: keras.Model,
    *,
    output_stride: int | None,
    sigma: float,
    n_keypoints: int | None = None,
    kernel_size: int | None = None,
    upsample_factor: int = 100,
    confidence_scale: float = 1.0,
    name: str | None = None,
) -> keras.Model:
    """Wrap a training model's last output in :class:`SubpixelMaxima2D`: images -> keypoints.

    Parameters
    ----------
    train_model
        A model from one of the builders (its last output is used).
    output_stride
        Input pixels per map pixel; ``None`` to read it from the shapes.
        Checked against the shapes when given.
    sigma
        Standard deviation of the training targets, in input-image pixels
        (the kernel is ``sigma / output_stride`` map pixels).
    n_keypoints
        Number of leading keypoint channels (the rest are posture-graph
        maps); ``None`` for all channels.
    kernel_size
        Odd window side in map pixels; ``None`` for the default.
    upsample_factor
        Refinement precision ``1 / upsample_factor`` map pixel.
    confidence_scale
        Divides the confidence.
    name
        Model name; default ``<train_model.name>_inference``.

    Returns
    -------
    keras.Model
        Input as ``train_model``; output ``(batch, keypoints, 3)``: ``(x, y,
        confidence)`` in input-image pixels (pixel centres at integers).
    """
    maps = train_model.outputs[-1]
    in_height = train_model.inputs[0].shape[1]
    out_height = maps.shape[1]
    measured = None if not in_height or not out_height else in_height / out_height
    if output_stride is None:
        if measured is None or measured != int(measured):
            raise ValueError("cannot infer output_stride from the model's shapes; pass output_stride")
        output_stride = int(measured)
    elif measured is not None and measured != output_stride:
        raise ValueError(f"output_stride={output_stride} but the model maps {in_height} input rows to {out_height}")
    layer = SubpixelMaxima2D(
        kernel_size,
        sigma / output_stride,
        upsample_factor=upsample_factor,
        index=n_keypoints,
        coordinate_scale=output_stride,
        confidence_scale=confidence_scale,
        name="subpixel_maxima",
    )
    return keras.Model(train_model.inputs, layer(maps), name=name or f"{train_model.name}_inference")


def build_local_peaks_model(
    train_model: keras.Model,
    *,
    output_stride: int,
    sigma: float,
    max_peaks: int,
    threshold: float = 0.1,
    min_distance: int = 1,
    n_keypoints: int | None = None,
    image_scale: float = 1.0,
    subpixel: bool = True,
    upsample_factor: int = 100,
    name: str | None = None,
) -> keras.Model:
    """Wrap a training model's last output in :class:`LocalMaxima2D`: images -> several peaks per map.

    The multi-animal counterpart of :func:`build_inference_model`, for maps
    that hold one Gaussian per animal (a centroid model).

    Parameters
    ----------
    train_model
        A model from one of the builders (its last output is used).
    output_stride
        Input pixels per map pixel; checked against the model's shapes.
    sigma
        Standard deviation of the training targets, in input-image pixels.
    max_peaks
        Peaks per map (slots without a peak are NaN).
    threshold
        Smallest map value of a peak.
    min_distance
        Peaks at most this many map pixels apart (Chebyshev) merge into the higher one.
    n_keypoints
        Number of leading channels searched; ``None`` for all.
    image_scale
        The model input is the original image scaled by this factor (0.5:
        half size, by averaging ``2 x 2`` blocks); coordinates are returned in
        original-image pixels, ``x = (x_input + 0.5) / image_scale - 0.5``.
    subpixel
        Refine each peak by upsampled-DFT registration (else integer map pixels).
    upsample_factor
        Refinement precision ``1 / upsample_factor`` map pixel.
    name
        Model name; default ``<train_model.name>_local_peaks``.

    Returns
    -------
    keras.Model
        Input as ``train_model``; output ``(batch, channels, max_peaks, 3)``:
        ``(x, y, value)`` in original-image pixels, best first, NaN-padded.
    """
    maps = train_model.outputs[-1]
    in_height, out_height = train_model.inputs[0].shape[1], maps.shape[1]
    if in_height and out_height and in_height / out_height != output_stride:
        raise ValueError(f"output_stride={output_stride} but the model maps {in_height} input rows to {out_height}")
    if not image_scale > 0:
        raise ValueError(f"image_scale must be > 0, got {image_scale}")
    layer = LocalMaxima2D(
        max_peaks,
        threshold=threshold,
        min_distance=min_distance,
        sigma=sigma / output_stride if subpixel else None,
        upsample_factor=upsample_factor,
        index=n_keypoints,
        coordinate_scale=output_stride / image_scale,
        name="local_maxima",
    )
    return keras.Model(train_model.inputs, layer(maps), name=name or f"{train_model.name}_local_peaks")


def build_candidates_model(
    train_model: keras.Model,
    *,
    output_stride: int,
    sigma: float,
    n_keypoints: int,
    max_peaks: int = 3,
    threshold: float = 0.1,
    name: str | None = None,
) -> keras.Model:
    """Images -> the best peak of each keypoint map and its next ones (for exclusive keypoints).

    Peak 0 is the peak of :func:`build_inference_model` (the map's maximum,
    always given); peaks ``1 .. max_peaks - 1`` are the next local maxima of
    :func:`build_local_peaks_model` above ``threshold``, best first, NaN where there are fewer.

    Parameters
    ----------
    train_model
        A model from one of the builders (its last output is used).
    output_stride
        Input pixels per map pixel.
    sigma
        Standard deviation of the training targets, in input-image pixels.
    n_keypoints
        Number of leading keypoint channels (the rest are posture-graph maps).
    max_peaks
        Peaks per keypoint, the best included (at least 2).
    threshold
        Smallest map value of a further peak.
    name
        Model name; default ``<train_model.name>_candidates``.

    Returns
    -------
    keras.Model
        Input as ``train_model``; output ``(batch, n_keypoints, max_peaks, 3)``:
        ``(x, y, map value)`` in input-image pixels.
    """
    if max_peaks < 2:
        raise ValueError(f"max_peaks must be >= 2 (the best and at least one more), got {max_peaks}")
    best = build_inference_model(train_model, output_stride=output_stride, sigma=sigma, n_keypoints=n_keypoints)
    others = build_local_peaks_model(
        train_model,
        output_stride=output_stride,
        sigma=sigma,
        max_peaks=max_peaks,
        threshold=threshold,
        n_keypoints=n_keypoints,
    )
    first = layers.Reshape((n_keypoints, 1, 3))(best.outputs[0])
    rest = layers.Cropping2D(((0, 0), (1, 0)))(others.outputs[0])  # drop the local maxima's best
    merged = layers.Concatenate(axis=2)([first, rest])
    return keras.Model(train_model.inputs, merged, name=name or f"{train_model.name}_candidates")


MODEL_BUILDERS: dict[str, Callable[..., keras.Model]] = {
    "stacked_densenet": build_stacked_densenet,
    "stacked_hourglass": build_stacked_hourglass,
    "leap": build_leap,
    "deeplabcut": build_deeplabcut,
}
