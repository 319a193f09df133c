"""behaviorlab's own labeled-frames file, ``*.labels.h5`` (layout in the package docstring)."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from behaviorlab import __version__
from behaviorlab._atomic import atomic_path
from behaviorlab.errors import FileFormatError
from behaviorlab.io.labeled_frames._core import LabeledFrames
from behaviorlab.schema import Skeleton

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "read_labels_h5", "save_labeled_frames"]

FORMAT_NAME = "behaviorlab.labeled_frames"
FORMAT_VERSION = 1


def save_labeled_frames(frames: LabeledFrames, path: str | Path, *, compression_level: int | None = 1) -> Path:
    """Write ``frames`` to one HDF5 file (``*.labels.h5`` by convention), atomically.

    Parameters
    ----------
    frames
        The frames to write.
    path
        Destination; replaced only when the write succeeds.
    compression_level
        gzip level 0-9 of the image buffer; ``None`` stores it uncompressed.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    shapes = frames.image_shapes
    sizes = shapes.prod(axis=1)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    data = np.concatenate([img.ravel() for img in frames.images]) if len(frames) else np.zeros(0, np.uint8)
    text = h5py.string_dtype()
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["format"] = FORMAT_NAME
        f.attrs["format_version"] = FORMAT_VERSION
        f.attrs["skeleton"] = frames.skeleton.to_json()
        f.attrs["behaviorlab_version"] = __version__
        f.create_dataset("keypoints", data=frames.keypoints)
        f.create_dataset("individuals", data=np.array(frames.individuals, dtype=object), dtype=text)
        f.create_dataset("sources", data=np.array(frames.sources, dtype=object), dtype=text)
        f.create_dataset("images/shapes", data=shapes)
        f.create_dataset("images/offsets", data=offsets)
        compress = {} if compression_level is None or data.size == 0 else {"compression": "gzip"}
        if compress:
            compress.update(compression_opts=int(compression_level), chunks=(min(data.size, 1 << 20),))
        f.create_dataset("images/data", data=data, **compress)
    return path


def read_labels_h5(path: Path) -> LabeledFrames:
    """Read a file written by :func:`save_labeled_frames`."""
    with h5py.File(path, "r") as f:
        version = int(f.attrs.get("format_version", 0))
        if version > FORMAT_VERSION:
            raise FileFormatError(
                path, f"labels format version {version} is newer than this behaviorlab reads ({FORMAT_VERSION})"
            )
        missing = [k for k in ("keypoints", "individuals", "sources", "images/shapes", "images/offsets") if k not in f]
        if missing or "images/data" not in f:
            raise FileFormatError(path, f"behaviorlab labels file lacks the dataset(s) {missing or ['images/data']}")
        keypoints = f["keypoints"][()]
        individuals = list(f["individuals"].asstr()[()])
        sources = list(f["sources"].asstr()[()])
        shapes, offsets, data = f["images/shapes"][()], f["images/offsets"][()], f["images/data"][()]
        skeleton_json = f.attrs["skeleton"]
    if data.size != offsets[-1]:
        raise FileFormatError(path, f"image buffer holds {data.size} bytes, the offsets expect {offsets[-1]}")
    images = [data[offsets[i] : offsets[i + 1]].reshape(shapes[i]) for i in range(len(shapes))]
    return LabeledFrames(images, keypoints, Skeleton.from_json(skeleton_json), individuals, sources)
