"""The crop-centred single-animal path: choosing it, box centres, jittered training boxes, left/right pairs, training.

Known answers: the box centre of planted keypoints; jittered boxes whose
labels sit exactly where the planted pixels are; the path that real lab data
gets (dlc-openfield's mouse is small in its frame; lp-mirror-mouse's two
mirror views span the frame); left/right pairs read from DeepLabCut's names,
swapped by a flip.
"""

from __future__ import annotations

import json

import attrs
import numpy as np
import pandas as pd
import pytest

keras = pytest.importorskip("keras")

from behaviorlab.errors import OutputExistsError, SchemaError  # noqa: E402
from behaviorlab.io.labeled_frames import LabeledFrames, load_labeled_frames  # noqa: E402
from behaviorlab.pose.augment import AugmentConfig, Augmenter  # noqa: E402
from behaviorlab.pose.crops import (  # noqa: E402
    BOX_CENTRE,
    BOX_CENTRE_INDEX,
    anchor_index,
    crop_training_frames,
    instance_anchors,
)
from behaviorlab.pose.strategy import choose_anchor, choose_path, train_pose  # noqa: E402
from behaviorlab.pose.topdown import TopDownModel, load_any_model  # noqa: E402
from behaviorlab.pose.train import TrainConfig  # noqa: E402
from behaviorlab.schema import Skeleton, guess_symmetry  # noqa: E402

OPENFIELD = "dlc-openfield/labeled-data/m4s1/CollectedData_Pranav.h5"


def small_animal_frames(
    n: int = 12, size: int | tuple[int, int] = 128, seed: int = 0, corner: bool = False
) -> LabeledFrames:
    """A bright head and a dimmer tail 14 px apart anywhere in the frame; a third keypoint never labeled.

    ``corner``: the third keypoint is an arena corner labeled at (3, 3) in every frame.
    """
    rng = np.random.default_rng(seed)
    height, width = (size, size) if isinstance(size, int) else size
    skeleton = Skeleton(["head", "tail", "corner"], edges=[("head", "tail")])
    yy, xx = np.mgrid[:height, :width]
    images, keypoints = [], []
    for _ in range(n):
        head = rng.uniform(20, [width - 20, height - 20])
        angle = rng.uniform(0, 2 * np.pi)
        tail = head + 14 * np.array([np.cos(angle), np.sin(angle)])
        image = np.zeros((height, width))
        for value, p in ((255.0, head), (120.0, tail)):
            image += value * np.exp(-((xx - p[0]) ** 2 + (yy - p[1]) ** 2) / (2 * 2.5**2))
        images.append(np.clip(np.rint(image), 0, 255).astype(np.uint8)[..., None])
        keypoints.append([head, tail, [3.0, 3.0] if corner else [np.nan, np.nan]])
    return LabeledFrames(images, np.array(keypoints)[:, None], skeleton)


def test_box_centre_anchor_is_the_middle_of_the_labeled_keypoints():
    keypoints = np.array([[[0.0, 0.0], [10.0, 4.0], [np.nan, np.nan], [2.0, 8.0]], [[np.nan, np.nan]] * 4])
    centres = instance_anchors(keypoints, BOX_CENTRE_INDEX)
    np.testing.assert_array_equal(centres[0], [5.0, 4.0])
    assert np.isnan(centres[1]).all()
    sk = Skeleton(["a", "b", "c", "d"])
    assert anchor_index(sk, BOX_CENTRE) == BOX_CENTRE_INDEX
    assert anchor_index(Skeleton(["box_centre", "x"]), BOX_CENTRE) == 0  # a keypoint of that name wins
    with pytest.raises(SchemaError, match=r"anchor 'spine' is not a keypoint.*'box_centre'"):
        anchor_index(sk, "spine")


def test_jittered_training_boxes_keep_exact_labels():
    rng = np.random.default_rng(4)
    images = [rng.integers(1, 256, (90, 120, 1), dtype=np.uint8) for _ in range(20)]
    keypoints = rng.integers(38, 53, size=(20, 1, 3, 2)).astype(float)  # integer pixels, inside every jittered box
    frames = LabeledFrames(images, keypoints, Skeleton(["a", "b", "c"]))
    plain = crop_training_frames(frames, "b", 64)
    jittered = crop_training_frames(frames, "b", 64, jitter=6, seed=1)
    assert jittered.sources == plain.sources
    moved = jittered.keypoints[:, 0, 1] - plain.keypoints[:, 0, 1]  # the anchor's place in its box
    assert (np.abs(moved) <= 6).all()
    assert (moved != 0).any()
    assert not np.isnan(jittered.keypoints).any()
    for crop, labels, image, truth in zip(jittered.images, jittered.keypoints, images, keypoints, strict=True):
        for (x, y), (tx, ty) in zip(labels[0].astype(int), truth[0].astype(int), strict=True):
            assert crop[y, x, 0] == image[ty, tx, 0]  # the label sits on the pixel it labels
    again = crop_training_frames(frames, "b", 64, jitter=6, seed=1)
    np.testing.assert_array_equal(again.keypoints, jittered.keypoints)


def test_left_right_pairs_are_read_from_names_and_swapped_by_flips():
    names = ["snout", "leftear", "rightear", "tailbase", "paw_l", "paw_r", "LEar", "REar", "lateral"]
    assert guess_symmetry(names) == [("leftear", "rightear"), ("paw_l", "paw_r"), ("LEar", "REar")]
    assert guess_symmetry(["snout", "tail", "real", "lateral"]) == []
    skeleton = Skeleton(["snout", "leftear", "rightear"])
    flip = attrs.evolve(AugmentConfig.none(), flip_lr=1.0)
    augmenter = Augmenter(flip, skeleton, seed=0)
    image = np.zeros((20, 30, 1), np.uint8)
    points = np.array([[15.0, 5.0], [10.0, 8.0], [20.0, 8.0]])
    _, out = augmenter(image, points)
    # mirrored about x = 14.5: the left ear's label goes to the right ear's mirrored place and back
    np.testing.assert_allclose(out, [[14.0, 5.0], [9.0, 8.0], [19.0, 8.0]], atol=1e-9)


def test_real_lab_data_gets_the_path_that_suits_it(shared_data):
    openfield = load_labeled_frames(shared_data / OPENFIELD)
    choice = choose_path(openfield)
    assert choice.path == "crop"
    assert choice.anchor == BOX_CENTRE
    assert choice.crop_size == 160  # a third of the 480 px side holds the mouse
    assert choice.centroid_scale == pytest.approx(1 / 3)
    assert "one animal per frame in a 160 px box, 33% of the frames' 480 px side" in choice.reason
    assert choose_path(openfield, "full-frame").path == "full-frame"

    mirror = load_labeled_frames(shared_data / "lp-mirror-mouse" / "CollectedData.csv")
    choice = choose_path(mirror)  # two mirror views: the box holding both is larger than the frame
    assert choice.path == "full-frame"
    assert "large in the frame: one animal per frame in a 448 px box" in choice.reason
    assert choose_anchor(mirror, exclude=("nose_top", "nose_bot")) not in ("nose_top", "nose_bot")


def test_an_arena_corner_labeled_as_a_keypoint_is_no_body_part():
    frames = small_animal_frames(12, 256, corner=True)
    choice = choose_path(frames)
    assert choice.path == "full-frame"  # a box around the animal must hold the corner too: most of the frame
    assert "keypoints ['corner'] stay put (landmarks) and a box must hold them" in choice.reason
    assert choose_anchor(frames, exclude=("corner",)) in ("head", "tail")
    assert choose_path(small_animal_frames(12, 256)).path == "crop"  # the same animal without the corner


def test_several_animals_per_frame_take_the_full_frame_or_topdown():
    frames = small_animal_frames(4)
    two = LabeledFrames(
        frames.images, np.concatenate([frames.keypoints, frames.keypoints + 3], axis=1), frames.skeleton
    )
    assert choose_path(two).path == "full-frame"
    with pytest.raises(SchemaError, match="train-topdown"):
        choose_path(two, "crop")
    with pytest.raises(ValueError, match="--path"):
        choose_path(frames, "boxes")


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::UserWarning:keras")
def test_train_pose_takes_the_crop_path_for_a_small_animal(tmp_path):
    frames = small_animal_frames(12)
    choice = choose_path(frames)
    assert choice.path == "crop"
    assert choice.crop_size == 32  # 14 px apart, +- 4 px margin and 2 px jitter, rounded up to 32
    config = TrainConfig(
        model_kwargs={"growth_rate": 8, "n_stacks": 1},
        epochs=2,
        steps_per_epoch=2,
        batch_size=4,
        val_fraction=0.25,
        augment=AugmentConfig.none(),
        sigma=3.0,
        output_stride=4,
    )
    summary = train_pose(frames, tmp_path / "model", config, verbose=0)
    assert summary.choice == choice
    assert summary.epochs == 2
    assert summary.peak_rss_mib > 100
    saved = json.loads((tmp_path / "model" / "training_path.json").read_text())
    assert saved["path"] == "crop"
    assert saved["reason"] == choice.reason
    topdown = json.loads((tmp_path / "model" / "topdown_config.json").read_text())
    assert topdown["max_animals"] == 1
    assert topdown["jitter"] == choice.jitter
    model = load_any_model(tmp_path / "model")
    assert isinstance(model, TopDownModel)
    pred = model.predict(np.stack(frames.images[:2]))
    assert pred.shape == (2, 1, 3, 3)
    with pytest.raises(OutputExistsError, match="--resume"):
        train_pose(frames, tmp_path / "model", config, verbose=0)


@pytest.mark.slow
def test_training_on_large_frames_stays_under_the_memory_bound(tmp_path):
    """A benchmark-style check in a subprocess: 1280 x 1024 frames train within 2,500 MiB (the crop path)."""
    import subprocess
    import sys

    from behaviorlab.io.labeled_frames import save_labeled_frames

    labels = save_labeled_frames(small_animal_frames(24, (1024, 1280), seed=2), tmp_path / "big.labels.h5")
    config = tmp_path / "train.yaml"
    config.write_text("model_kwargs: {growth_rate: 8, n_stacks: 1}\nsteps_per_epoch: 3\nsigma: 3.0\n")
    command = [sys.executable, "-c", "from behaviorlab.cli.app import main; main()", "train", str(labels)]
    options = ["--out", str(tmp_path / "model"), "--epochs", "2", "--batch-size", "8", "--config", str(config)]
    done = subprocess.run([*command, *options], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("pose path: crop, because one animal per frame in a 32 px box")
    peak = float(done.stdout.split("peak memory ")[1].split(" MiB")[0])
    assert 100 < peak <= 2500, done.stdout
    log = pd.read_csv(tmp_path / "model" / "pose" / "training_log.csv")
    assert (log["peak_rss_mib"] <= peak + 0.5).all()  # the command prints whole MiB
