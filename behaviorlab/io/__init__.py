"""File formats: pose time series, labeled training frames, video and behavior annotations.

The names below load on first use, so ``import behaviorlab.io`` stays cheap
(no pandas, h5py, sleap-io or FFmpeg until a reader is actually called).

- :func:`load_poses` / :func:`save_poses` / :func:`convert_poses`: DeepLabCut,
  SLEAP, NWB and netCDF pose files (:mod:`behaviorlab.io.load`, :mod:`behaviorlab.io.save`);
- :func:`load_netcdf` / :func:`save_netcdf`: any behaviorlab Dataset (features, map and ethogram labels);
- :class:`LabeledFrames`, :func:`load_labeled_frames`, :func:`save_labeled_frames`:
  training images with keypoints (:mod:`behaviorlab.io.labeled_frames`);
- :class:`VideoReader`, :func:`probe_video`, :func:`write_video`: video
  (:mod:`behaviorlab.io.video`, :mod:`behaviorlab.io.video_write`);
- :func:`load_annotations`, :func:`write_boris_csv`, :func:`consensus`: behavior
  annotations (BORIS, interval tables, per-frame labels; :mod:`behaviorlab.io.annotations`);
- :func:`write_excel`, :func:`write_session_nwb`, :func:`read_nwb_bouts`,
  :func:`write_simba_csv`: result exports (:mod:`behaviorlab.io.exports`).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "load_poses": "behaviorlab.io.load",
    "detect_source": "behaviorlab.io.load",
    "save_poses": "behaviorlab.io.save",
    "load_netcdf": "behaviorlab.io.load",
    "save_netcdf": "behaviorlab.io.save",
    "convert_poses": "behaviorlab.io.save",
    "LabeledFrames": "behaviorlab.io.labeled_frames",
    "load_labeled_frames": "behaviorlab.io.labeled_frames",
    "save_labeled_frames": "behaviorlab.io.labeled_frames",
    "VideoReader": "behaviorlab.io.video",
    "VideoWriter": "behaviorlab.io.video_write",
    "probe_video": "behaviorlab.io.video",
    "write_video": "behaviorlab.io.video_write",
    "load_annotations": "behaviorlab.io.annotations",
    "write_boris_csv": "behaviorlab.io.annotations",
    "consensus": "behaviorlab.io.annotations",
    "write_excel": "behaviorlab.io.exports",
    "write_session_nwb": "behaviorlab.io.exports",
    "read_nwb_bouts": "behaviorlab.io.exports",
    "write_simba_csv": "behaviorlab.io.exports",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Import the public names lazily."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'behaviorlab.io' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return __all__
