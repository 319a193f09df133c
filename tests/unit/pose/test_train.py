"""Training, saving, reloading, resuming and evaluating pose models on tiny synthetic blob images.

Known answers: the masked loss by hand; keypoints at the centres of Gaussian
blobs that a small Stacked DenseNet learns to find within 2 pixels.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

keras = pytest.importorskip("keras")

from behaviorlab.errors import OutputExistsError, SchemaError  # noqa: E402
from behaviorlab.io.labeled_frames import LabeledFrames  # noqa: E402
from behaviorlab.pose.augment import AugmentConfig  # noqa: E402
from behaviorlab.pose.data import (  # noqa: E402
    PoseSequence,
    input_multiple,
    single_animal_keypoints,
    split_frames,
)
from behaviorlab.pose.folder import LOG_COLUMNS  # noqa: E402
from behaviorlab.pose.losses import masked_mse  # noqa: E402
from behaviorlab.pose.predict import PoseModel, evaluate_model  # noqa: E402
from behaviorlab.pose.train import TrainConfig, train_model  # noqa: E402
from behaviorlab.schema import Skeleton  # noqa: E402

NOISY = "ignore::UserWarning:keras"  # keras warns about input structures on some calls


def blob_frames(n: int, sizes=((48, 48), (40, 44)), n_keypoints: int = 2, seed: int = 0) -> LabeledFrames:
    """Gaussian blobs (head bright, tail dimmer) with keypoints at their centres; frame 0 lacks its tail."""
    rng = np.random.default_rng(seed)
    names = ["head", "tail"][:n_keypoints]
    skeleton = Skeleton(names, edges=[("head", "tail")] if n_keypoints == 2 else [])
    images, keypoints = [], []
    for i in range(n):
        h, w = sizes[i % len(sizes)]
        yy, xx = np.mgrid[:h, :w]
        image = np.zeros((h, w))
        while True:  # blobs at least 10 px apart
            points = rng.uniform(6, [w - 7, h - 7], size=(n_keypoints, 2))
            if n_keypoints == 1 or np.hypot(*(points[0] - points[1])) > 10:
                break
        for value, p in zip((255.0, 110.0), points, strict=False):
            image += value * np.exp(-((xx - p[0]) ** 2 + (yy - p[1]) ** 2) / (2 * 2.0**2))
        images.append(np.clip(np.rint(image), 0, 255).astype(np.uint8)[..., None])
        keypoints.append(points)
    kp = np.array(keypoints)[:, None]
    if n_keypoints == 2:
        kp[0, 0, 1] = np.nan
    return LabeledFrames(images, kp, skeleton)


# --------------------------------------------------------------------------- pure parts
def test_masked_mse_ignores_nan_channels_by_hand():
    y_true = np.zeros((2, 1, 2, 2), np.float32)
    y_pred = np.zeros((2, 1, 2, 2), np.float32)
    # sample 0: channel 0 valid (errors 1 and 3), channel 1 masked with a huge prediction
    y_true[0, 0, :, 0] = [1.0, 0.0]
    y_pred[0, 0, :, 0] = [0.0, 3.0]
    y_true[0, 0, :, 1] = np.nan
    y_pred[0, 0, :, 1] = 100.0
    # sample 1: both channels valid, one error of 2 among 4 entries
    y_pred[1, 0, 0, 1] = 2.0
    loss = keras.ops.convert_to_numpy(masked_mse(y_true, y_pred))
    np.testing.assert_allclose(loss, [(1 + 9) / 2, 4 / 4], rtol=1e-6)
    # the gradient is finite and zero on the masked channel
    import tensorflow as tf

    pred = tf.Variable(y_pred)
    with tf.GradientTape() as tape:
        value = tf.reduce_sum(masked_mse(y_true, pred))
    grad = tape.gradient(value, pred).numpy()
    assert np.isfinite(grad).all()
    assert (grad[0, ..., 1] == 0).all()


def test_all_nan_sample_gives_zero_loss():
    y = np.full((1, 2, 2, 1), np.nan, np.float32)
    assert float(keras.ops.convert_to_numpy(masked_mse(y, np.ones_like(y)))[0]) == 0.0


def test_train_config_round_trips_json():
    config = TrainConfig(model="leap", model_kwargs={"filters": 8}, epochs=3, augment=AugmentConfig(rotation=(-5, 5)))
    again = TrainConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config
    with pytest.raises(ValueError, match="unknown key"):
        TrainConfig.from_dict({"epoch": 3})
    with pytest.raises(ValueError, match="model must be one of"):
        TrainConfig(model="resnet")
    with pytest.raises(ValueError, match="output_stride"):
        TrainConfig(model_kwargs={"output_stride": 2})


def test_split_is_seeded_and_disjoint():
    train, val = split_frames(20, 0.25, seed=3)
    train2, val2 = split_frames(20, 0.25, seed=3)
    assert (train == train2).all()
    assert (val == val2).all()
    assert len(val) == 5
    assert sorted([*train, *val]) == list(range(20))
    assert not (split_frames(20, 0.25, seed=4)[1] == val).all()
    assert len(split_frames(3, 0.0, seed=0)[1]) == 0


def test_several_individuals_per_frame_is_a_clear_error():
    kp = np.zeros((2, 2, 1, 2))
    kp[1, 1] = np.nan  # frame 1 has one individual, frame 0 two
    with pytest.raises(SchemaError, match="top-down crops"):
        single_animal_keypoints(kp, ["a.png", "b.png"])
    kp[0, 1] = np.nan
    kp[1, 0] = np.nan
    kp[1, 1] = 5.0  # the other individual in frame 1: fine
    keypoints, used = single_animal_keypoints(kp)
    assert used.tolist() == [0, 1]
    assert (keypoints[1] == 5.0).all()


def test_input_multiple():
    assert input_multiple("stacked_densenet", {}, 4, (48, 48)) == 16  # 12x12 maps: two poolings
    assert input_multiple("stacked_densenet", {}, 4, (192, 192)) == 64
    assert input_multiple("stacked_hourglass", {"depth": 3}, 2, (48, 48)) == 16
    assert input_multiple("leap", {}, 1, (50, 50)) == 4
    assert input_multiple("deeplabcut", {}, 8, (50, 50)) == 32


def test_sequence_masks_missing_channels_and_repeats_targets():
    frames = blob_frames(3)
    keypoints, _ = single_animal_keypoints(frames.keypoints)
    seq = PoseSequence(frames.images, keypoints, frames.skeleton, (48, 48, 1), 4, 3.0, n_outputs=2, batch_size=3)
    x, (y0, y1) = seq[0]
    assert x.shape == (3, 48, 48, 1)
    assert x.dtype == np.float32
    assert x.max() > 200
    assert y0.shape == (3, 12, 12, 2 + 1 + 1 + 2)
    assert np.array_equal(y0, y1, equal_nan=True)
    missing = np.isnan(y0).all(axis=(1, 2))  # (frames, maps)
    # frame 0 lacks its tail: the tail map, the edge, the limb, the graph and graph+peaks are masked
    assert missing[0].tolist() == [False, True, True, True, True, True]
    assert not missing[1:].any()
    assert x[0, 40:, :, 0].max() == 0  # the 40x44 frame is padded with zeros


# --------------------------------------------------------------------------- a trained model
@pytest.fixture(scope="module")
def frames() -> LabeledFrames:
    return blob_frames(16)


@pytest.fixture(scope="module")
def densenet(tmp_path_factory, frames):
    out = tmp_path_factory.mktemp("densenet")
    config = TrainConfig(
        model="stacked_densenet",
        model_kwargs={"growth_rate": 8, "n_stacks": 2},
        epochs=2,
        batch_size=4,
        sigma=3.0,
        val_fraction=0.25,
        steps_per_epoch=2,
        augment=AugmentConfig(rotation=(-10, 10), flip_lr=0.5),
    )
    result = train_model(frames, out, config, verbose=0)
    return out, config, result


@pytest.mark.slow
def test_training_writes_the_model_folder(densenet, frames):
    out, config, result = densenet
    for name in ("model.keras", "last.keras", "state.json", "training_log.csv", "pose_config.json"):
        assert (out / name).is_file(), name
    assert not list(out.glob(".*.tmp*"))  # atomic writes leave no temporary file
    pose_config = json.loads((out / "pose_config.json").read_text())
    assert pose_config["input_shape"] == [48, 48, 1]
    assert pose_config["output_stride"] == 4
    assert pose_config["sigma"] == 3.0
    assert pose_config["graph"] is True
    assert Skeleton.from_dict(pose_config["skeleton"]) == frames.skeleton
    assert TrainConfig.from_dict(pose_config["train_config"]) == config
    split = pose_config["split"]
    assert len(split["validation"]) == 4
    assert sorted(split["train"] + split["validation"]) == list(range(16))
    assert set(pose_config["versions"]) >= {"keras", "backend", "behaviorlab"}
    log = pd.read_csv(out / "training_log.csv")
    assert tuple(log.columns) == LOG_COLUMNS
    assert log["epoch"].tolist() == [1, 2]
    assert np.isfinite(log[["loss", "val_loss", "val_px_error", "lr"]].to_numpy()).all()
    state = json.loads((out / "state.json").read_text())
    assert state["epoch"] == 2
    assert state["best_epoch"] == result.best_epoch
    assert result.best_val_px_error == pytest.approx(log["val_px_error"].min())
    assert result.val_report.overall["mean"] == pytest.approx(result.best_val_px_error, rel=1e-4)
    assert result.epochs == 2
    assert result.training_seconds > 0


@pytest.mark.slow
@pytest.mark.filterwarnings(NOISY)
def test_reloaded_model_predicts_the_same(densenet, frames):
    out, _, _ = densenet
    model = PoseModel.load(out)
    assert model.skeleton == frames.skeleton
    assert model.input_shape == (48, 48, 1)
    pred = model.predict(frames.images[:5], batch_size=2)  # two image sizes in one list
    assert pred.shape == (5, 2, 3)
    assert pred.dtype == np.float32
    assert np.isfinite(pred).all()
    again = PoseModel.load(out).predict(np.stack([frames.images[0], frames.images[2]]))  # (n, H, W, C) array
    np.testing.assert_allclose(again, pred[[0, 2]], atol=1e-4)
    # a one-channel model takes colour frames (video decodes as RGB) as their luma
    gray = frames.images[0]
    colour = np.repeat(gray, 3, axis=2) if gray.shape[2] == 1 else gray
    np.testing.assert_allclose(model.predict([colour]), pred[[0]], atol=1e-3)
    # a colour model given one-channel images is an error
    rgb_model = PoseModel(model.train_model, {**model.config, "channels": 3})
    with pytest.raises(SchemaError, match="channels"):
        rgb_model.preprocess([np.zeros((48, 48, 1), np.uint8)])
    with pytest.raises(SchemaError, match="larger than the model input"):
        model.predict([np.zeros((64, 48, 1), np.uint8)])
    labeled = model.predict_labeled_frames(frames.select([0, 1]))
    assert labeled.shape == (2, 1, 2, 2)
    np.testing.assert_allclose(labeled[:, 0], pred[:2, :, :2], atol=1e-4)


@pytest.mark.slow
@pytest.mark.filterwarnings(NOISY)
def test_evaluate_model_defaults_to_the_saved_validation_split(densenet, frames):
    out, _, result = densenet
    report = evaluate_model(out, frames)
    assert report.overall == pytest.approx(result.val_report.overall)
    assert list(report.per_keypoint.index) == ["head", "tail", "all"]
    some = evaluate_model(out, frames, indices=[0, 1, 2])
    assert some.per_keypoint.loc["tail", "n"] == 2  # frame 0 has no tail
    with pytest.raises(SchemaError, match="pass indices"):
        evaluate_model(out, frames.select(slice(0, 10)))


@pytest.mark.slow
@pytest.mark.filterwarnings(NOISY)
def test_resume_continues_from_the_last_epoch(densenet, frames, tmp_path):
    import shutil

    src, config, _ = densenet
    out = tmp_path / "resumed"
    shutil.copytree(src, out)
    before = keras.saving.load_model(out / "last.keras")
    iterations = int(keras.ops.convert_to_numpy(before.optimizer.iterations))
    assert iterations == 4  # 2 epochs x 2 steps
    with pytest.raises(OutputExistsError, match="resume=True"):
        train_model(frames, out, config, verbose=0)
    with pytest.raises(SchemaError, match=r"--batch-size 2 \(the saved run has 4\)"):
        train_model(frames, out, TrainConfig.from_dict({**config.to_dict(), "batch_size": 2}), resume=True)
    result = train_model(frames, out, None, resume=True, verbose=0, run_eagerly=True)  # saved config, 2 epochs: done
    assert result.epochs == 2
    import attrs

    result = train_model(frames, out, attrs.evolve(config, epochs=3), resume=True, verbose=0, run_eagerly=True)
    log = pd.read_csv(out / "training_log.csv")
    assert log["epoch"].tolist() == [1, 2, 3]
    state = json.loads((out / "state.json").read_text())
    assert state["epoch"] == 3
    assert result.epochs == 3
    after = keras.saving.load_model(out / "last.keras")
    assert int(keras.ops.convert_to_numpy(after.optimizer.iterations)) == iterations + 2  # optimizer state kept
    assert json.loads((out / "pose_config.json").read_text())["train_config"]["epochs"] == 3


# --------------------------------------------------------------------------- every architecture
@pytest.mark.slow
@pytest.mark.filterwarnings(NOISY)
@pytest.mark.parametrize(
    ("model", "kwargs", "sizes", "eager"),
    [
        ("stacked_hourglass", {"filters": 8, "n_stacks": 2, "depth": 1}, ((32, 32), (24, 28)), True),
        ("leap", {"filters": 4}, ((32, 32), (24, 28)), False),
        # ResNet50: tracing its training graph takes about a minute on a CPU, one eager step does not
        ("deeplabcut", {"head_filters": 8}, ((32, 32), (24, 28)), True),
    ],
    ids=["hourglass", "leap", "deeplabcut"],
)
def test_every_model_trains_and_predicts(tmp_path, model, kwargs, sizes, eager):
    frames = blob_frames(6, sizes=sizes)
    config = TrainConfig(
        model=model,
        model_kwargs=kwargs,
        epochs=1,
        batch_size=2,
        sigma=4.0,
        val_fraction=0.34,
        steps_per_epoch=1,
        augment=AugmentConfig.none(),
        grayscale=True,
    )
    result = train_model(frames, tmp_path, config, verbose=0, run_eagerly=eager)
    log = pd.read_csv(tmp_path / "training_log.csv")
    assert log["epoch"].tolist() == [1]
    assert math.isfinite(log["loss"].iloc[0])
    assert result.val_report is not None
    val = json.loads((tmp_path / "pose_config.json").read_text())["split"]["validation"]
    assert len(val) == 2
    assert result.val_report.overall["n"] == np.isfinite(frames.keypoints[val, 0, :, 0]).sum()
    assert (tmp_path / "model.keras").is_file()


# --------------------------------------------------------------------------- it learns
@pytest.mark.slow
@pytest.mark.filterwarnings(NOISY)
def test_small_stacked_densenet_learns_blob_positions(tmp_path):
    # One bright blob per 48x48 (or 40x44) image; chance level is ~20 px.
    frames = blob_frames(64, n_keypoints=1, seed=1)
    config = TrainConfig(
        model="stacked_densenet",
        model_kwargs={"growth_rate": 8, "n_stacks": 1},
        epochs=8,
        batch_size=8,
        learning_rate=5e-3,
        output_stride=2,
        sigma=3.0,
        graph=False,
        val_fraction=0.2,
        augment=AugmentConfig.none(),
    )
    result = train_model(frames, tmp_path, config, verbose=0)
    assert result.val_report.overall["n"] == 13
    assert result.val_report.overall["mean"] < 2.0, result.history


@pytest.mark.slow
def test_cli_train_resume_continues_in_a_new_process(tmp_path):
    """`behaviorlab train --resume` in a fresh interpreter: the saved model's custom layers must load there."""
    import subprocess
    import sys

    from behaviorlab.io.labeled_frames import save_labeled_frames

    labels = save_labeled_frames(blob_frames(8), tmp_path / "blobs.labels.h5")
    config = tmp_path / "train.yaml"
    config.write_text("model_kwargs: {growth_rate: 8, n_stacks: 1}\nsigma: 3.0\nsteps_per_epoch: 1\noutput_stride: 4\n")
    out = tmp_path / "model"
    base = [
        sys.executable,
        "-c",
        "from behaviorlab.cli.app import main; main()",
        "train",
        str(labels),
        "--out",
        str(out),
    ]
    common = ["--batch-size", "4", "--val-fraction", "0.25", "--config", str(config)]
    first = subprocess.run([*base, *common, "--epochs", "1"], capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stdout + first.stderr
    second = subprocess.run([*base, *common, "--epochs", "2", "--resume"], capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stdout + second.stderr
    assert json.loads((out / "state.json").read_text())["epoch"] == 2
    assert pd.read_csv(out / "training_log.csv")["epoch"].tolist() == [1, 2]
    assert "E0000" not in second.stderr  # the command line drops TensorFlow's C++ log lines
    # another batch size on resume: one line that names the option, no traceback
    third = subprocess.run(
        [*base, *common[2:], "--batch-size", "2", "--resume"], capture_output=True, text=True, timeout=300
    )
    assert third.returncode == 1
    assert "--batch-size 2 (the saved run has 4)" in third.stderr
    assert "Traceback" not in third.stderr
