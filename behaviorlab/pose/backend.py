"""The Keras backend in use and the devices it can run on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np

__all__ = ["backend_report", "compiled_predict"]


def backend_report() -> dict[str, Any]:
    """Keras backend name and the devices that backend sees.

    Returns
    -------
    dict
        ``{"keras backend": str, "devices": list[str]}``.
    """
    backend = keras.backend.backend()
    devices: list[str] = []
    try:
        if backend == "tensorflow":
            import tensorflow as tf  # lazy: only the active Keras backend's package is installed

            devices = [f"{d.device_type}:{d.name}" for d in tf.config.list_physical_devices()]
        elif backend == "jax":
            import jax  # lazy: only the active Keras backend's package is installed

            devices = [str(d) for d in jax.devices()]
        elif backend == "torch":
            import torch  # lazy: only the active Keras backend's package is installed

            devices = ["cpu"] + [f"cuda:{i} {torch.cuda.get_device_name(i)}" for i in range(torch.cuda.device_count())]
        else:
            devices = ["unknown"]
    except Exception as err:  # a broken GPU driver must not break `behaviorlab info`
        devices = [f"could not list devices: {err}"]
    return {"keras backend": backend, "devices": devices}


def compiled_predict(model: Any) -> Callable[[np.ndarray], np.ndarray]:
    """Compile an inference-mode ``images -> first output (NumPy)`` function of a Keras model.

    TensorFlow: a ``tf.function`` without XLA whose batch dimension is left
    unknown (one trace serves every batch size; on a CPU as fast as XLA).
    JAX: ``jax.jit`` of the model's stateless call (compiled once per input
    shape).  PyTorch: the model called under ``torch.no_grad``.  Outputs
    are copied to host memory, so the call returns when the result is ready.

    Parameters
    ----------
    model
        A ``keras.Model`` with one input.

    Returns
    -------
    callable
        ``f(images) -> numpy.ndarray``; for a model with several outputs, the first.
    """

    def first(out: Any) -> Any:
        return out[0] if isinstance(out, list | tuple) else out

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf  # lazy: only the active Keras backend's package is installed

        spec = tf.TensorSpec((None, *model.inputs[0].shape[1:]), tf.float32)
        graph = tf.function(lambda x: first(model(x, training=False)), input_signature=[spec], jit_compile=False)
        return lambda images: graph(tf.convert_to_tensor(images, tf.float32)).numpy()
    if backend == "jax":
        import jax  # lazy: only the active Keras backend's package is installed

        trainable = [v.value for v in model.trainable_variables]
        non_trainable = [v.value for v in model.non_trainable_variables]

        @jax.jit
        def run(trainable, non_trainable, images):
            out, _ = model.stateless_call(trainable, non_trainable, images, training=False)
            return first(out)

        return lambda images: np.asarray(run(trainable, non_trainable, np.asarray(images, np.float32)))
    if backend == "torch":
        import torch  # lazy: only the active Keras backend's package is installed

        def run_torch(images: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return keras.ops.convert_to_numpy(first(model(np.asarray(images, np.float32), training=False)))

        return run_torch
    return lambda images: keras.ops.convert_to_numpy(first(model(np.asarray(images, np.float32), training=False)))
