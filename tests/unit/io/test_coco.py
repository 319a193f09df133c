"""COCO keypoint files: known counts and NaNs from a hand-written file, round trips, refusals naming the problem."""

from __future__ import annotations

import json
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from behaviorlab.errors import FileFormatError
from behaviorlab.io.labeled_frames import LabeledFrames, load_labeled_frames, to_coco
from behaviorlab.schema import Skeleton

NAMES = ["nose", "ear_l", "ear_r", "tail"]


def _write_set(root: Path, *, categories=None, annotations=None) -> Path:
    """COCO's own layout: ``annotations/keypoints.json`` and ``images/``; three images, two with animals."""
    (root / "images").mkdir(parents=True)
    (root / "annotations").mkdir()
    for i, (h, w) in enumerate([(40, 60), (40, 60), (30, 50)]):
        iio.imwrite(root / "images" / f"im{i}.png", np.full((h, w, 3), 10 * i, np.uint8))
    images = [
        {"id": 10, "file_name": "im0.png", "height": 40, "width": 60},
        {"id": 11, "file_name": "im1.png", "height": 40, "width": 60},
        {"id": 12, "file_name": "im2.png", "height": 30, "width": 50},  # no animal: left out
    ]
    if annotations is None:
        annotations = [
            # image 10: two animals; the second's ear_r not labeled (v = 0), its tail labeled but hidden (v = 1)
            {"id": 1, "image_id": 10, "category_id": 7, "keypoints": [1, 2, 2, 3, 4, 2, 5, 6, 2, 7, 8, 2]},
            {"id": 2, "image_id": 10, "category_id": 7, "keypoints": [20, 21, 2, 22, 23, 2, 0, 0, 0, 26, 27, 1]},
            # image 11: one animal and a crowd region (ignored)
            {"id": 3, "image_id": 11, "category_id": 7, "keypoints": [30, 31, 2, 32, 33, 2, 34, 35, 2, 36, 37, 2]},
            {"id": 4, "image_id": 11, "category_id": 7, "iscrowd": 1, "keypoints": [0] * 12},
        ]
    if categories is None:
        categories = [{"id": 7, "name": "mouse", "keypoints": NAMES, "skeleton": [[1, 2], [1, 3], [1, 4]]}]
    path = root / "annotations" / "keypoints.json"
    path.write_text(json.dumps({"images": images, "annotations": annotations, "categories": categories}))
    return path


def test_coco_file_with_two_animals_and_an_unlabeled_keypoint(tmp_path):
    frames = load_labeled_frames(_write_set(tmp_path))
    assert len(frames) == 2
    assert frames.n_individuals == 2
    assert frames.sources == ("im0.png", "im1.png")
    assert list(frames.skeleton.keypoints) == NAMES
    assert set(frames.skeleton.edges) == {("nose", "ear_l"), ("nose", "ear_r"), ("nose", "tail")}
    np.testing.assert_array_equal(frames.keypoints[0, 0], [[1, 2], [3, 4], [5, 6], [7, 8]])
    assert np.isnan(frames.keypoints[0, 1, 2]).all()  # v = 0
    np.testing.assert_array_equal(frames.keypoints[0, 1, 3], [26, 27])  # v = 1: labeled, hidden
    assert np.isnan(frames.keypoints[1, 1]).all()  # one animal in the second image
    assert frames.is_labeled().sum() == 4 + 3 + 4
    assert frames.images[1].shape == (40, 60, 3)
    assert frames.images[1][0, 0, 0] == 10


def test_coco_round_trip_keeps_keypoints_sources_and_edges(tmp_path):
    rng = np.random.default_rng(3)
    sk = Skeleton(NAMES, edges=[("nose", "tail")], name="mouse")
    keypoints = rng.uniform(0, 30, (3, 2, 4, 2))
    keypoints[0, 1, 2] = np.nan
    keypoints[2, 1] = np.nan  # an image with one animal
    images = [rng.integers(0, 256, (32, 48, 1), dtype=np.uint8) for _ in range(3)]
    frames = LabeledFrames(images, keypoints, sk, sources=["a.mp4#frame=1", "a.mp4#frame=9", "b.png"])
    back = load_labeled_frames(to_coco(frames, tmp_path / "coco"))
    np.testing.assert_array_equal(back.keypoints, frames.keypoints)
    assert back.sources == frames.sources
    assert back.skeleton == sk
    for a, b in zip(back.images, frames.images, strict=True):
        np.testing.assert_array_equal(a, b)


def test_real_dlc_labels_survive_coco(shared_data, tmp_path):
    frames = load_labeled_frames(shared_data / "dlc-openfield" / "labeled-data" / "m4s1" / "CollectedData_Pranav.h5")
    back = load_labeled_frames(to_coco(frames, tmp_path / "coco"))
    labeled = frames.labeled_mask()
    np.testing.assert_array_equal(back.keypoints, frames.keypoints[labeled])
    assert len(back) == int(labeled.sum()) == 116


def test_categories_with_different_keypoints_are_chosen_by_name(tmp_path):
    cats = [
        {"id": 7, "name": "mouse", "keypoints": NAMES},
        {"id": 8, "name": "fly", "keypoints": ["head", "thorax"]},
    ]
    path = _write_set(tmp_path, categories=cats)
    with pytest.raises(FileFormatError, match=r"keypoints.json: categories with different keypoints.*--coco-category"):
        load_labeled_frames(path)
    assert load_labeled_frames(path, coco_category="mouse").n_keypoints == 4
    with pytest.raises(FileFormatError, match=r"no image has a keypoint annotation of category 'fly'"):
        load_labeled_frames(path, coco_category="fly")
    with pytest.raises(FileFormatError, match=r"no keypoint category 'rat'.*\['mouse', 'fly'\]"):
        load_labeled_frames(path, coco_category="rat")


def _missing_image(root: Path) -> Path:
    path = _write_set(root)
    (root / "images" / "im1.png").unlink()
    return path


def _short_keypoints(root: Path) -> Path:
    return _write_set(root, annotations=[{"id": 1, "image_id": 10, "category_id": 7, "keypoints": [1, 2, 2]}])


def _wrong_size(root: Path) -> Path:
    path = _write_set(root)
    iio.imwrite(root / "images" / "im0.png", np.zeros((5, 5), np.uint8))
    return path


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (_missing_image, r"image 'im1.png' not found"),
        (_short_keypoints, r"annotation 1: 'keypoints' must hold 4 \(x, y, v\) triplets"),
        (_wrong_size, r"5x5 px but the file says 60x40"),
    ],
)
def test_broken_coco_files_name_the_problem(tmp_path, make, match):
    path = make(tmp_path)
    with pytest.raises(FileFormatError, match=match) as err:
        load_labeled_frames(path)
    assert str(path) in str(err.value)


def test_a_json_that_is_not_coco_is_refused(tmp_path):
    path = tmp_path / "other.json"
    path.write_text(json.dumps({"hello": 1}))
    with pytest.raises(FileFormatError, match="not COCO keypoints"):
        load_labeled_frames(path)
