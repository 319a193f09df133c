"""The Keras backend in use and the devices it can run on."""

from __future__ import annotations

from typing import Any

__all__ = ["backend_report"]


def backend_report() -> dict[str, Any]:
    """Keras backend name and the devices that backend sees.

    Returns
    -------
    dict
        ``{"keras backend": str, "devices": list[str]}``.
    """
    import keras

    backend = keras.backend.backend()
    devices: list[str] = []
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            devices = [f"{d.device_type}:{d.name}" for d in tf.config.list_physical_devices()]
        elif backend == "jax":
            import jax

            devices = [str(d) for d in jax.devices()]
        elif backend == "torch":
            import torch

            devices = ["cpu"] + [f"cuda:{i} {torch.cuda.get_device_name(i)}" for i in range(torch.cuda.device_count())]
        else:
            devices = ["unknown"]
    except Exception as err:  # a broken GPU driver must not break `behaviorlab info`
        devices = [f"could not list devices: {err}"]
    return {"keras backend": backend, "devices": devices}
