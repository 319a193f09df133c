"""Labeled training frames: images with hand-placed keypoints, read and written in four formats.

:class:`LabeledFrames` is what pose-model training reads and what the
refinement loop writes back.  Coordinates are pixels, ``(x, y)``, origin at
the top-left of the image; NaN marks a keypoint that is missing or not
labeled.  The canonical file is one HDF5 file (``*.labels.h5``) written by
:func:`save_labeled_frames`::

    /                attrs: format="behaviorlab.labeled_frames", format_version=1,
                            skeleton (Skeleton JSON), behaviorlab_version
    /keypoints       float64 (n_frames, n_individuals, n_keypoints, 2), NaN = missing
    /individuals     str (n_individuals,)
    /sources         str (n_frames,)  image path relative to the project, or "video.mp4#frame=123"
    /images/shapes   int64 (n_frames, 3)  (height, width, channels) of each frame
    /images/offsets  int64 (n_frames + 1,)  start of each frame in /images/data
    /images/data     uint8 (sum of frame sizes,)  raw C-order pixels, gzip-compressed chunks

:func:`load_labeled_frames` also reads DeepLabCut projects (``config.yaml``,
a ``labeled-data`` folder or a ``CollectedData_*`` CSV/HDF5 file), SLEAP
``.slp``/``.pkg.slp`` files, DeepPoseKit annotation files and COCO keypoint
JSON files; :func:`to_dlc_project`, :func:`to_sleap_package`,
:func:`to_deepposekit_h5` and :func:`to_coco` write them.

Layout: :mod:`._core` (the :class:`LabeledFrames` object and its checks),
:mod:`._h5` (the ``*.labels.h5`` file), :mod:`._dlc`, :mod:`._sleap` and
:mod:`._dpk` and :mod:`._coco` (one module per other software or format), :mod:`._load` (format detection
and :func:`load_labeled_frames`).  DeepLabCut tables themselves are parsed and
written by :mod:`behaviorlab.io._dlc`, shared with the pose-file readers.
"""

from behaviorlab.io.labeled_frames._coco import to_coco
from behaviorlab.io.labeled_frames._core import LabeledFrames
from behaviorlab.io.labeled_frames._dlc import to_dlc_project
from behaviorlab.io.labeled_frames._dpk import to_deepposekit_h5
from behaviorlab.io.labeled_frames._h5 import FORMAT_NAME, FORMAT_VERSION, save_labeled_frames
from behaviorlab.io.labeled_frames._images import to_grayscale
from behaviorlab.io.labeled_frames._load import load_labeled_frames
from behaviorlab.io.labeled_frames._sleap import to_sleap_package

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "LabeledFrames",
    "load_labeled_frames",
    "save_labeled_frames",
    "to_coco",
    "to_deepposekit_h5",
    "to_dlc_project",
    "to_grayscale",
    "to_sleap_package",
]
