"""Reading labeled frames from any supported format: detect the format, then hand over to its reader."""

from __future__ import annotations

from pathlib import Path

import h5py

from behaviorlab.errors import BehaviorlabError, FileFormatError, SchemaError
from behaviorlab.io.labeled_frames._coco import is_coco_json, read_coco
from behaviorlab.io.labeled_frames._core import LabeledFrames, apply_skeleton, with_path
from behaviorlab.io.labeled_frames._dlc import dlc_label_files, read_dlc_project
from behaviorlab.io.labeled_frames._dpk import read_deepposekit
from behaviorlab.io.labeled_frames._h5 import FORMAT_NAME, read_labels_h5
from behaviorlab.io.labeled_frames._sleap import read_sleap
from behaviorlab.schema import Skeleton

__all__ = ["load_labeled_frames"]

_SOURCES = {
    "behaviorlab": "behaviorlab",
    "deeplabcut": "deeplabcut",
    "dlc": "deeplabcut",
    "sleap": "sleap",
    "deepposekit": "deepposekit",
    "dpk": "deepposekit",
    "coco": "coco",
}


def load_labeled_frames(
    path: str | Path,
    *,
    source: str | None = None,
    skeleton: Skeleton | None = None,
    grayscale: bool = False,
    include_predictions: bool = False,
    use_annotated_mask: bool = False,
    coco_category: str | None = None,
) -> LabeledFrames:
    """Read labeled frames from any supported format.

    Parameters
    ----------
    path
        One of: a behaviorlab ``*.labels.h5``; a DeepLabCut ``config.yaml``,
        project folder, ``labeled-data`` folder (or one video's subfolder) or
        ``CollectedData_*.h5``/``.csv``; a SLEAP ``.slp``/``.pkg.slp``; a
        DeepPoseKit annotation ``.h5``; a COCO keypoint ``.json`` (mmpose,
        DeepLabCut 3; several animals per image, unlabeled keypoints as NaN).
    source
        The software that wrote the file (``"behaviorlab"``, ``"deeplabcut"``,
        ``"sleap"``, ``"deepposekit"``, ``"coco"``); detected from the file when ``None``.
    skeleton
        Expected skeleton.  The file's keypoints must be the same names (else
        :class:`SchemaError` naming the file); the result uses this skeleton's
        order, edges and symmetry (DeepLabCut files carry no symmetry).
    grayscale
        Convert images to one channel (DeepLabCut stores grayscale video as RGB PNG).
    include_predictions
        SLEAP only: also keep predicted instances that no user instance replaced.
    use_annotated_mask
        DeepPoseKit only: set keypoints whose ``annotated`` flag is False to NaN.
        Off by default because DeepPoseKit files keep real (predicted or
        initial) positions for unannotated keypoints; DeepPoseKit's own example
        file flags every keypoint as unannotated.
    coco_category
        COCO only: the category (animal kind) to read when the file has
        several with different keypoints.

    Returns
    -------
    LabeledFrames
        Images as stored (unless ``grayscale``), keypoints in pixels.
    """
    path = Path(path)
    if not path.exists():
        raise FileFormatError(path, "no such file or folder")
    if source is None:
        try:
            kind = _detect(path)
        except BehaviorlabError:
            raise
        except (OSError, KeyError, IndexError, RuntimeError, ValueError, TypeError) as err:  # damaged HDF5 inside
            raise FileFormatError(path, f"damaged file: {type(err).__name__}: {err}") from None
    else:
        kind = _SOURCES.get(str(source).lower())
        if kind is None:
            raise FileFormatError(path, f"unknown source {source!r}; use one of {sorted(set(_SOURCES.values()))}")
    try:
        if kind == "behaviorlab":
            frames = read_labels_h5(path)
        elif kind == "deeplabcut":
            frames = read_dlc_project(path, skeleton)
        elif kind == "sleap":
            frames = read_sleap(path, include_predictions)
        elif kind == "coco":
            frames = read_coco(path, coco_category)
        else:
            frames = read_deepposekit(path, use_annotated_mask)
        frames = apply_skeleton(frames, skeleton, path)
    except SchemaError as err:
        if str(path) in str(err):
            raise
        raise with_path(err, path) from None
    except BehaviorlabError:
        raise
    except (OSError, KeyError, IndexError, RuntimeError, ValueError, TypeError, AttributeError) as err:
        raise FileFormatError(path, f"cannot read it as {kind} labels ({type(err).__name__}: {err})") from None
    return frames.to_grayscale() if grayscale else frames


def _detect(path: Path) -> str:
    if path.is_dir():
        if (path / "config.yaml").is_file() or list(dlc_label_files(path)):
            return "deeplabcut"
        raise FileFormatError(path, "folder holds no DeepLabCut config.yaml or labeled-data/*/CollectedData_* files")
    if path.stat().st_size == 0:
        raise FileFormatError(path, "the file is empty (0 bytes)")
    name = path.name.lower()
    if name.endswith(".slp"):
        return "sleap"
    if name.endswith(".json"):
        if is_coco_json(path):
            return "coco"
        raise FileFormatError(path, "a JSON file that is not COCO keypoints (no 'images', 'annotations', 'categories')")
    if path.suffix.lower() in (".yaml", ".yml", ".csv"):
        return "deeplabcut"
    if not h5py.is_hdf5(path):
        raise FileFormatError(
            path,
            "unknown labeled-frames format: expected a behaviorlab .labels.h5, a DeepLabCut config.yaml/"
            "CollectedData .csv/.h5, a SLEAP .slp, a DeepPoseKit .h5 or a COCO keypoint .json",
        )
    try:
        handle = h5py.File(path, "r")
    except OSError as err:  # a truncated or damaged HDF5 file
        raise FileFormatError(path, f"cannot open the HDF5 file (truncated or damaged?): {err}") from None
    with handle as f:
        if f.attrs.get("format") == FORMAT_NAME:
            return "behaviorlab"
        if "images" in f and "annotations" in f:
            return "deepposekit"
        if any("pandas_type" in f[k].attrs for k in f):
            return "deeplabcut"
        if "tracks" in f and "node_names" in f:
            raise FileFormatError(
                path, "this is a SLEAP analysis file (predicted tracks, no images); load the .slp or .pkg.slp instead"
            )
    raise FileFormatError(
        path, "unknown HDF5 layout: not a behaviorlab labels file, DeepLabCut CollectedData or DeepPoseKit annotations"
    )
