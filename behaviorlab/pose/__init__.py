"""Pose estimation: DeepPoseKit-style networks in Keras 3 (the only package that imports Keras).

Importing :mod:`behaviorlab.pose` imports nothing heavy; the names below are
loaded from their submodules on first access (PEP 562), so
``from behaviorlab.pose import build_stacked_densenet`` imports Keras but
``import behaviorlab`` never does.

- :mod:`behaviorlab.pose.targets`: keypoints -> confidence and posture-graph maps (NumPy only).
- :mod:`behaviorlab.pose.peaks`: integer and subpixel maxima (``keras.ops``).
- :mod:`behaviorlab.pose.layers`: serializable layers (``SubpixelMaxima2D``, ``ImageNormalization``).
- :mod:`behaviorlab.pose.models`: ``build_*`` model builders, ``build_inference_model``.
- :mod:`behaviorlab.pose.crops` and :mod:`behaviorlab.pose.topdown`: multi-animal, top-down pose
  estimation (centroid model, boxes around each animal, crop pose model, tracking).
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "confidence_maps": "targets",
    "limb_chains": "targets",
    "multi_instance_targets": "targets",
    "n_target_maps": "targets",
    "posture_graph_maps": "targets",
    "target_names": "targets",
    "training_targets": "targets",
    "find_local_peaks": "peaks",
    "find_peaks_integer": "peaks",
    "find_peaks_subpixel": "peaks",
    "to_image_coordinates": "peaks",
    "ImageNormalization": "layers",
    "LocalMaxima2D": "layers",
    "SubpixelMaxima2D": "layers",
    "MODEL_BUILDERS": "models",
    "build_deeplabcut": "models",
    "build_inference_model": "models",
    "build_leap": "models",
    "build_local_peaks_model": "models",
    "build_stacked_densenet": "models",
    "build_stacked_hourglass": "models",
    "count_parameters": "models",
    "load_any_model": "topdown",
    "TopDownModel": "topdown",
    "predict_video_topdown": "topdown",
    "train_topdown": "topdown",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
