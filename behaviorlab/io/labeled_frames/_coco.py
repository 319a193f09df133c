"""COCO keypoint files (mmpose, DeepLabCut 3 and many public animal sets) <-> :class:`LabeledFrames`.

A COCO keypoint file is one JSON object::

    images       [{id, file_name, width, height}, ...]
    annotations  [{id, image_id, category_id, keypoints: [x1, y1, v1, x2, y2, v2, ...], num_keypoints, bbox}, ...]
    categories   [{id, name, keypoints: [names...], skeleton: [[i, j], ...] (1-based)}, ...]

Each annotation is one animal in one image.  The visibility flag ``v`` is
0 for a keypoint that was not labeled (its ``x, y`` are placeholders, read as
NaN), 1 for one labeled but hidden and 2 for one labeled and visible (both
kept: the labeler placed them).  COCO keypoint coordinates are pixel indices
(pixel centres at integers, as detectron2 and mmpose read them), the same
convention as :class:`LabeledFrames`, so they are read unchanged.

Reading: annotations of every category that has the same keypoint names are
one animal kind; a file with several kinds must be split or read with
``category`` (``--coco-category`` on the command line).  Crowd annotations
(``iscrowd``) and images without an annotation of the kind are left out (a
frame without labels teaches the pose model nothing).  Images are looked for
beside the JSON file, in an ``images`` folder beside it, or beside and in an
``images`` folder of its parent folder (the ``annotations/`` +
``images/`` layout of COCO itself).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from behaviorlab._atomic import atomic_path
from behaviorlab.errors import FileFormatError
from behaviorlab.io.labeled_frames._core import LabeledFrames
from behaviorlab.io.labeled_frames._images import read_image, write_png
from behaviorlab.schema import Skeleton

__all__ = ["is_coco_json", "read_coco", "to_coco"]

log = logging.getLogger(__name__)


def is_coco_json(path: Path) -> bool:
    """Whether ``path`` is a JSON object with COCO's ``images``, ``annotations`` and ``categories`` lists."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(data, dict) and all(
        isinstance(data.get(k), list) for k in ("images", "annotations", "categories")
    )


def read_coco(path: Path, category: str | None = None) -> LabeledFrames:
    """Read a COCO keypoint file: one animal per annotation, unlabeled keypoints (``v = 0``) as NaN."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise FileFormatError(path, f"not a JSON file: {err}") from None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), list) for k in ("images", "annotations")):
        raise FileFormatError(path, "not a COCO keypoint file: expected a JSON object with 'images' and 'annotations'")
    cats = _keypoint_categories(path, data.get("categories"), category)
    names = list(cats[0]["keypoints"])
    skeleton = _coco_skeleton(path, cats[0], names)
    cat_ids = {c.get("id") for c in cats}
    by_image: dict[Any, list[np.ndarray]] = {}
    for ann in data["annotations"]:
        if not isinstance(ann, Mapping) or ann.get("category_id") not in cat_ids or ann.get("iscrowd"):
            continue
        by_image.setdefault(ann.get("image_id"), []).append(_annotation_keypoints(path, ann, len(names)))
    images_meta = [im for im in data["images"] if isinstance(im, Mapping) and im.get("id") in by_image]
    if not images_meta:
        raise FileFormatError(path, f"no image has a keypoint annotation of category {cats[0].get('name')!r}")
    n_ind = max(len(by_image[im["id"]]) for im in images_meta)
    keypoints = np.full((len(images_meta), n_ind, len(names), 2), np.nan)
    images, sources = [], []
    for row, im in enumerate(images_meta):
        for slot, animal in enumerate(by_image[im["id"]]):
            keypoints[row, slot] = animal
        file_name = str(im.get("file_name") or "")
        if not file_name:
            raise FileFormatError(path, f"image id {im['id']} has no file_name")
        image = read_image(_find_image(path, file_name), path)
        _check_size(path, im, image)
        images.append(image)
        sources.append(str(im.get("behaviorlab_source") or file_name))
    skipped = sum(1 for im in data["images"] if isinstance(im, Mapping) and im.get("id") not in by_image)
    if skipped:
        log.info("%s: %d images without an annotation left out", path, skipped)
    channels = {img.shape[2] for img in images}
    if len(channels) > 1:  # COCO sets mix grayscale and colour JPEGs
        images = [np.repeat(img, 3, axis=2) if img.shape[2] == 1 else img[..., :3] for img in images]
    return LabeledFrames(images, keypoints, skeleton, [f"id_{i}" for i in range(n_ind)], sources)


def _keypoint_categories(path: Path, categories: Any, wanted: str | None) -> list[Mapping[str, Any]]:
    """Pick the categories of the one animal kind read: those with ``wanted``'s (or the only) keypoint names."""
    cats = [c for c in categories or [] if isinstance(c, Mapping) and c.get("keypoints")]
    if not cats:
        raise FileFormatError(
            path, "no category lists keypoint names ('categories[].keypoints'); is it a COCO keypoint file?"
        )
    if wanted is not None:
        chosen = [c for c in cats if c.get("name") == wanted]
        if not chosen:
            raise FileFormatError(
                path, f"no keypoint category {wanted!r}; the file has {[c.get('name') for c in cats]} (--coco-category)"
            )
        cats = [c for c in cats if list(c["keypoints"]) == list(chosen[0]["keypoints"])]
    kinds = {tuple(c["keypoints"]) for c in cats}
    if len(kinds) > 1:
        raise FileFormatError(
            path,
            f"categories with different keypoints: {[c.get('name') for c in cats]}; choose one with --coco-category",
        )
    return cats


def _coco_skeleton(path: Path, category: Mapping[str, Any], names: list[str]) -> Skeleton:
    edges = []
    for pair in category.get("skeleton") or []:
        try:
            i, j = (int(v) - 1 for v in pair)  # COCO's skeleton is 1-based
            edges.append((names[i], names[j]))
        except (TypeError, ValueError, IndexError):
            raise FileFormatError(
                path,
                f"skeleton edge {pair!r} of category {category.get('name')!r} is not two keypoint numbers "
                f"1..{len(names)}",
            ) from None
    return Skeleton(names, edges=edges, name=str(category.get("name") or ""))


def _annotation_keypoints(path: Path, ann: Mapping[str, Any], n_keypoints: int) -> np.ndarray:
    values = ann.get("keypoints")
    try:
        triplets = np.asarray(values, dtype=float).reshape(-1, 3)
    except (TypeError, ValueError):
        triplets = np.empty((0, 3))
    if len(triplets) != n_keypoints:
        raise FileFormatError(
            path,
            f"annotation {ann.get('id')!r}: 'keypoints' must hold {n_keypoints} (x, y, v) triplets, got {values!r:.80}",
        )
    xy = triplets[:, :2].copy()
    xy[triplets[:, 2] <= 0] = np.nan
    return xy


def _find_image(path: Path, file_name: str) -> Path:
    rel = Path(*PurePosixPath(file_name.replace("\\", "/")).parts)
    root = path.parent
    candidates = [root / rel, root / "images" / rel, root.parent / rel, root.parent / "images" / rel]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    for candidate in (root / "images" / rel.name, root.parent / "images" / rel.name):
        if candidate.is_file():
            return candidate
    raise FileFormatError(path, f"image {file_name!r} not found beside the file or in an images/ folder ({root})")


def _check_size(path: Path, meta: Mapping[str, Any], image: np.ndarray) -> None:
    height, width = meta.get("height"), meta.get("width")
    if height is not None and width is not None and (int(height), int(width)) != image.shape[:2]:
        raise FileFormatError(
            path,
            f"image {meta.get('file_name')!r} is {image.shape[1]}x{image.shape[0]} px "
            f"but the file says {width}x{height}",
        )


def to_coco(frames: LabeledFrames, folder: str | Path, *, name: str = "annotations.json") -> Path:
    """Write ``frames`` as a COCO keypoint file: ``FOLDER/annotations.json`` and ``FOLDER/images/*.png``.

    One annotation per labeled animal in a frame (``v = 2`` for a labeled
    keypoint, ``v = 0`` and ``x = y = 0`` for a missing one; COCO has no
    "hidden" flag of ours to keep), with its ``bbox`` (the labeled keypoints'
    extent) and ``num_keypoints``; each image keeps its frame's source
    (``behaviorlab_source``, read back by :func:`read_coco`).  The skeleton's edges are written 1-based;
    symmetry pairs and individual names have no place in COCO and are lost.

    Returns
    -------
    Path
        The JSON file.
    """
    folder = Path(folder)
    names = list(frames.skeleton.keypoints)
    images, annotations = [], []
    for i, (image, animals) in enumerate(zip(frames.images, frames.keypoints, strict=True)):
        file_name = f"images/{i:06d}.png"
        write_png(image, folder / file_name)
        images.append(
            {
                "id": i,
                "file_name": file_name,
                "height": image.shape[0],
                "width": image.shape[1],
                "behaviorlab_source": frames.sources[i],
            }
        )
        for animal in animals:
            labeled = np.isfinite(animal).all(axis=1)
            if not labeled.any():
                continue
            triplets = np.zeros((len(names), 3))
            triplets[labeled, :2] = animal[labeled]
            triplets[labeled, 2] = 2
            lo, hi = animal[labeled].min(axis=0), animal[labeled].max(axis=0)
            annotations.append(
                {
                    "id": len(annotations),
                    "image_id": i,
                    "category_id": 1,
                    "keypoints": [float(v) for v in triplets.ravel()],
                    "num_keypoints": int(labeled.sum()),
                    "bbox": [float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1])],
                    "area": float((hi[0] - lo[0]) * (hi[1] - lo[1])),
                    "iscrowd": 0,
                }
            )
    index = {k: j + 1 for j, k in enumerate(names)}
    category = {
        "id": 1,
        "name": frames.skeleton.name or "animal",
        "supercategory": "animal",
        "keypoints": names,
        "skeleton": [[index[a], index[b]] for a, b in frames.skeleton.edges],
    }
    out = folder / name
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps({"images": images, "annotations": annotations, "categories": [category]}))
    return out
