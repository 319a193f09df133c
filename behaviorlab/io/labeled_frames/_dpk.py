"""DeepPoseKit annotation files (``.h5`` with ``images`` and ``annotations``) <-> :class:`LabeledFrames`."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import h5py
import numpy as np

from behaviorlab._atomic import atomic_path
from behaviorlab.errors import FileFormatError
from behaviorlab.io.labeled_frames._core import LabeledFrames
from behaviorlab.schema import Skeleton

__all__ = ["read_deepposekit", "to_deepposekit_h5"]

logger = logging.getLogger(__name__)


def read_deepposekit(path: Path, use_annotated_mask: bool) -> LabeledFrames:
    """Read a DeepPoseKit annotation ``.h5`` (one individual; names from a sibling ``skeleton.csv``)."""
    with h5py.File(path, "r") as f:
        missing = [k for k in ("images", "annotations") if k not in f]
        if missing:
            raise FileFormatError(path, f"DeepPoseKit file lacks the dataset(s) {missing}")
        images = f["images"][()]
        annotations = f["annotations"][()].astype(np.float64)
        annotated = f["annotated"][()].astype(bool) if "annotated" in f else None
        table = f["skeleton"][()].astype(np.int64) if "skeleton" in f else None
        stored = f.attrs.get("behaviorlab_skeleton")
        individual = str(f.attrs.get("behaviorlab_individual", "id_0"))
        sources = list(f["sources"].asstr()[()]) if "sources" in f else None
    if images.dtype != np.uint8 or images.ndim not in (3, 4):
        raise FileFormatError(
            path, f"images must be uint8 (n, height, width[, channels]), got {images.dtype} {images.shape}"
        )
    if images.ndim == 3:
        images = images[..., None]
    n, k = annotations.shape[:2]
    if annotations.shape != (n, k, 2) or len(images) != n:
        raise FileFormatError(path, f"annotations {annotations.shape} do not match images {images.shape}")
    if use_annotated_mask and annotated is not None:
        annotations[~annotated] = np.nan
    skeleton = Skeleton.from_json(stored) if stored is not None else _dpk_skeleton(path, table, k)
    if sources is None or len(sources) != n:
        sources = [f"{path.name}#frame={i}" for i in range(n)]
    return LabeledFrames(list(images), annotations[:, None], skeleton, [individual], sources)


def _dpk_skeleton(path: Path, table: np.ndarray | None, k: int) -> Skeleton:
    """Names from a sibling ``skeleton.csv``; edges (parent -> child) and swap pairs from the ``skeleton`` table."""
    names = [f"keypoint_{i}" for i in range(k)]
    csv_path = path.parent / "skeleton.csv"
    if csv_path.is_file():
        with csv_path.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
        if not rows or "name" not in rows[0]:
            raise FileFormatError(csv_path, "expected a DeepPoseKit skeleton CSV with columns name,parent,swap")
        if len(rows) != k:
            raise FileFormatError(csv_path, f"lists {len(rows)} keypoints but {path.name} has {k}")
        names = [row["name"].strip() for row in rows]
    if table is None:
        return Skeleton(names)
    if table.shape != (k, 2):
        raise FileFormatError(path, f"skeleton table must have shape ({k}, 2), got {table.shape}")
    edges = [(names[p], names[c]) for c, p in enumerate(table[:, 0]) if 0 <= p < k and p != c]
    symmetry: list[tuple[str, str]] = []
    paired: dict[int, int] = {}
    for a, b in enumerate(table[:, 1]):
        if not 0 <= b < k or a == b or paired.get(a) == b:
            continue
        if a in paired or b in paired:  # DeepPoseKit's example file has such inconsistent swap entries
            logger.warning("%s: swap %s <-> %s conflicts with an earlier pair; ignored", path, names[a], names[b])
            continue
        paired[a], paired[b] = b, a
        symmetry.append((names[a], names[b]))
    return Skeleton(names, edges=edges, symmetry=symmetry)


def to_deepposekit_h5(frames: LabeledFrames, path: str | Path) -> Path:
    """Write a DeepPoseKit annotation file (single individual, all images the same size).

    Datasets ``images`` ``(n, height, width, channels)`` uint8, ``annotations``
    ``(n, n_keypoints, 2)`` (NaN kept for missing keypoints: DeepPoseKit has no
    notion of them), ``annotated`` ``(n, n_keypoints)`` = keypoint present,
    ``skeleton`` ``(n_keypoints, 2)`` ``[parent, swap]`` with -1 for none.  The
    keypoint names and full skeleton (DeepPoseKit keeps one parent per
    keypoint) go in the ``behaviorlab_skeleton`` attr, the individual's name in
    ``behaviorlab_individual`` and the sources in a ``sources`` dataset;
    DeepPoseKit ignores them.

    Parameters
    ----------
    frames
        The frames to write.
    path
        Destination ``.h5``.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    if len(frames) == 0:
        raise FileFormatError(path, "no frames to write")
    if frames.n_individuals != 1:
        raise FileFormatError(
            path, f"DeepPoseKit files hold one individual per image, these frames have {frames.n_individuals}"
        )
    sizes = sorted({img.shape for img in frames.images})
    if len(sizes) > 1:
        raise FileFormatError(
            path,
            f"DeepPoseKit stores all images in one (n, height, width, channels) array, so they must share one "
            f"size; found {len(sizes)} sizes {sizes[:4]}; crop or resize first",
        )
    sk = frames.skeleton
    table = np.full((sk.n_keypoints, 2), -1, dtype=np.int32)
    for (a, b), edge in zip(sk.edge_indices(), sk.edges, strict=True):
        if table[b, 0] >= 0:
            logger.warning("%s: DeepPoseKit allows one parent per keypoint; edge %s left out", path, edge)
            continue
        table[b, 0] = a
    table[:, 1] = np.where(sk.swap_indices() == np.arange(sk.n_keypoints), -1, sk.swap_indices())
    annotations = frames.keypoints[:, 0]
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("images", data=np.stack(frames.images), compression="gzip", compression_opts=1)
        f.create_dataset("annotations", data=annotations)
        f.create_dataset("annotated", data=~np.isnan(annotations[..., 0]))
        f.create_dataset("skeleton", data=table)
        f.create_dataset("sources", data=np.array(frames.sources, dtype=object), dtype=h5py.string_dtype())
        f.attrs["behaviorlab_skeleton"] = sk.to_json()
        f.attrs["behaviorlab_individual"] = frames.individuals[0]
    return path
