"""Training losses of the pose models, registered with Keras so that saved models can name them.

:func:`masked_mse` is registered as ``behaviorlab>masked_mse``
(``keras.saving.register_keras_serializable(package="behaviorlab")``): a
``.keras`` file compiled with it loads in any process that has imported this
module, whichever module defined the loss when the file was written.
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["masked_mse"]


@keras.saving.register_keras_serializable(package="behaviorlab")
def masked_mse(y_true, y_pred):
    """Mean squared error over the entries of ``y_true`` that are not NaN.

    Channels of missing keypoints (and incomplete posture-graph maps) are
    NaN in the targets; they add nothing to the loss or its gradient.

    Parameters
    ----------
    y_true
        Targets ``(batch, height, width, maps)``, NaN = ignore.
    y_pred
        Predictions of the same shape.

    Returns
    -------
    tensor
        Shape ``(batch,)``: per sample, the sum of squared errors over valid
        entries divided by their number (0 when none is valid).
    """
    y_pred = ops.cast(ops.convert_to_tensor(y_pred), "float32")
    y_true = ops.cast(ops.convert_to_tensor(y_true), "float32")
    valid = ops.logical_not(ops.isnan(y_true))
    diff = ops.where(valid, y_pred - ops.where(valid, y_true, 0.0), 0.0)
    axes = tuple(range(1, len(y_pred.shape)))
    total = ops.sum(ops.square(diff), axis=axes)
    count = ops.sum(ops.cast(valid, "float32"), axis=axes)
    return total / ops.maximum(count, 1.0)
