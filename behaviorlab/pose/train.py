"""Train a pose model on labeled frames and keep everything needed to reuse it.

:func:`train_model` builds one of :data:`behaviorlab.pose.models.MODEL_BUILDERS`,
fits it to confidence-map (and posture-graph) targets with Adam, a masked MSE
loss (:mod:`behaviorlab.pose.losses`) and intermediate supervision, and writes a
model folder (:mod:`behaviorlab.pose.folder`)::

    MODEL_DIR/
      pose_config.json    skeleton, input shape, channels, grayscale, padding, output stride,
                          sigma, graph flag, n_keypoints, TrainConfig, split, versions
      model.keras         best epoch by validation error in pixels (val_px_error)
      last.keras          last completed epoch, with the optimizer state (for resume=True)
      state.json          last completed epoch, best error, learning rate, callback counters
      training_log.csv    epoch, loss, val_loss, val_px_error, lr, seconds, peak_rss_mib (one row per epoch)

With ``TrainConfig(multi_instance=True)`` every labeled animal of a frame
goes into the same maps (the top-down centroid model of
:mod:`behaviorlab.pose.topdown`); the best epoch is then the one with the
lowest validation loss.

Every file is replaced atomically; ``state.json`` is written last in an epoch,
so it always describes files that exist.  The default schedule follows
DeepPoseKit (Graving et al. 2019): the learning rate is divided by 5 after
``lr_patience`` epochs without a lower validation loss, and training stops
after ``early_stopping_patience`` such epochs.  ``lr_schedule="cosine"``
warms up, then decays on a cosine, and ``time_budget`` stops the training
at a wall-clock budget (:mod:`behaviorlab.pose.callbacks`).
"""

from __future__ import annotations

import inspect
import json
import logging
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import attrs
import keras
import numpy as np
import pandas as pd

import behaviorlab
from behaviorlab._config import ConfigBase, duration_seconds
from behaviorlab.errors import OutputExistsError, SchemaError
from behaviorlab.io.labeled_frames import LabeledFrames
from behaviorlab.pose.augment import AugmentConfig, Augmenter
from behaviorlab.pose.calibration import calibration_radius, fit_calibration
from behaviorlab.pose.callbacks import (
    EpochCheckpoint,
    EpochSetter,
    TimeBudget,
    ValidationPixelError,
    WarmupCosine,
    as_float,
    peak_rss_mib,
)
from behaviorlab.pose.data import (
    PoseSequence,
    input_multiple,
    load_frames,
    multi_animal_keypoints,
    pad_image,
    padded_input_shape,
    prepare_images,
    single_animal_keypoints,
    split_frames,
)
from behaviorlab.pose.evaluate import EvaluationReport
from behaviorlab.pose.folder import (
    LAST_MODEL,
    POSE_CONFIG,
    STATE,
    TRAINING_LOG,
    read_pose_config,
    read_training_log,
    truncate_training_log,
    write_pose_config,
)
from behaviorlab.pose.losses import masked_mse
from behaviorlab.pose.models import MODEL_BUILDERS
from behaviorlab.pose.predict import PoseModel, evaluate_model, frame_predictions
from behaviorlab.pose.targets import n_target_maps

__all__ = [
    "MODEL_NAMES",
    "TrainConfig",
    "TrainResult",
    "deterministic_ops",
    "fit_confidence_calibration",
    "train_model",
]

log = logging.getLogger(__name__)

MODEL_NAMES = ("stacked_densenet", "stacked_hourglass", "leap", "deeplabcut")


# --------------------------------------------------------------------------- config
def _positive_int(instance: Any, attribute: attrs.Attribute, value: int) -> None:
    if value < 1:
        raise ValueError(f"TrainConfig.{attribute.name} must be >= 1, got {value}")


def _non_negative_int(instance: Any, attribute: attrs.Attribute, value: int) -> None:
    if value < 0:
        raise ValueError(f"TrainConfig.{attribute.name} must be >= 0, got {value}")


def _optional_positive_int(instance: Any, attribute: attrs.Attribute, value: int | None) -> None:
    if value is not None and value < 1:
        raise ValueError(f"TrainConfig.{attribute.name} must be None or >= 1, got {value}")


def _positive_float(instance: Any, attribute: attrs.Attribute, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"TrainConfig.{attribute.name} must be a finite number > 0, got {value}")


def _to_augment(value: AugmentConfig | Mapping[str, Any] | None) -> AugmentConfig:
    if value is None:
        return AugmentConfig.none()
    return value if isinstance(value, AugmentConfig) else AugmentConfig.from_dict(value)


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


@attrs.frozen
class TrainConfig(ConfigBase):
    """How to train a pose model (:func:`train_model`); round-trips JSON/YAML with :meth:`to_dict`.

    Parameters
    ----------
    model
        One of :data:`MODEL_NAMES`.
    model_kwargs
        Extra keyword arguments of the builder (e.g. ``{"growth_rate": 24,
        "n_stacks": 2}``); ``output_stride`` goes in its own field.
    epochs
        Total number of epochs (including those of a resumed run).
    batch_size
        Images per batch (training and validation).
    learning_rate
        Initial Adam learning rate.
    val_fraction
        Share of labeled frames held out for validation, in ``[0, 1)``.
    seed
        Seed of the split, the batch order and the augmentation (weights are
        initialised with ``keras.utils.set_random_seed(seed)``).
    sigma
        Standard deviation of the target Gaussians in input-image pixels.
    output_stride
        Input pixels per output pixel; ``None`` for the builder's default
        (4 for the hourglass models, 8 for DeepLabCut; LEAP is always 1).
    graph
        Also learn DeepPoseKit's posture-graph maps.
    augment
        On-the-fly augmentation of the training images (a mapping is converted).
    lr_schedule
        ``"plateau"`` (DeepPoseKit's: divide the rate by 5 after ``lr_patience``
        epochs without a lower validation loss) or ``"cosine"`` (linear warm-up
        over ``warmup_epochs``, then cosine decay over the planned epochs);
        see :mod:`behaviorlab.pose.callbacks`.
    warmup_epochs
        Epochs of linear warm-up of the cosine schedule.
    time_budget
        Stop when the next epoch would end past this many seconds (text such
        as ``"30m"`` is read too); the best checkpoint is the model.  ``None``:
        train ``epochs`` epochs (or until early stopping).
    lr_factor
        Factor applied to the learning rate on a plateau of the validation loss.
    lr_patience
        Epochs without a lower validation loss before the learning rate drops.
    early_stopping_patience
        Epochs without a lower validation loss before training stops.
    grayscale
        Convert images to one channel (also at prediction time).
    steps_per_epoch
        Batches per epoch; ``None`` for one pass over the training frames.
    multi_instance
        Learn every labeled individual of a frame in the same maps (one
        Gaussian per animal: a centroid model) instead of one individual per
        frame.  The best epoch is chosen by validation loss, ``val_px_error``
        is the mean distance from each labeled keypoint to the nearest of the
        ``n_individuals`` highest local maxima of its map
        (:func:`behaviorlab.pose.peaks.find_local_peaks`), and no validation
        report is computed.
    """

    section: ClassVar[str] = "train"

    model: str = attrs.field(default="stacked_densenet")
    model_kwargs: dict[str, Any] = attrs.field(factory=dict, converter=dict)
    epochs: int = attrs.field(default=200, converter=int, validator=_positive_int)
    batch_size: int = attrs.field(default=16, converter=int, validator=_positive_int)
    learning_rate: float = attrs.field(default=1e-3, converter=float, validator=_positive_float)
    val_fraction: float = attrs.field(default=0.1, converter=float)
    seed: int = attrs.field(default=0, converter=int)
    sigma: float = attrs.field(default=5.0, converter=float, validator=_positive_float)
    output_stride: int | None = attrs.field(default=None, converter=_optional_int, validator=_optional_positive_int)
    graph: bool = attrs.field(default=True, converter=bool)
    augment: AugmentConfig = attrs.field(factory=AugmentConfig, converter=_to_augment)
    lr_schedule: str = attrs.field(default="plateau")
    warmup_epochs: int = attrs.field(default=2, converter=int, validator=_non_negative_int)
    time_budget: float | None = attrs.field(default=None, converter=duration_seconds)
    lr_factor: float = attrs.field(default=0.2, converter=float)
    lr_patience: int = attrs.field(default=10, converter=int, validator=_non_negative_int)
    early_stopping_patience: int = attrs.field(default=50, converter=int, validator=_non_negative_int)
    grayscale: bool = attrs.field(default=False, converter=bool)
    steps_per_epoch: int | None = attrs.field(default=None, converter=_optional_int, validator=_optional_positive_int)
    multi_instance: bool = attrs.field(default=False, converter=bool)

    def __attrs_post_init__(self) -> None:
        """Check the fields that need more than a type."""
        if self.model not in MODEL_NAMES:
            raise ValueError(f"TrainConfig.model must be one of {list(MODEL_NAMES)}, got {self.model!r}")
        if "output_stride" in self.model_kwargs:
            raise ValueError("set TrainConfig.output_stride instead of model_kwargs['output_stride']")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError(f"TrainConfig.val_fraction must lie in [0, 1), got {self.val_fraction}")
        if self.lr_schedule not in ("plateau", "cosine"):
            raise ValueError(f"TrainConfig.lr_schedule must be 'plateau' or 'cosine', got {self.lr_schedule!r}")
        if not 0.0 < self.lr_factor < 1.0:
            raise ValueError(f"TrainConfig.lr_factor must lie in (0, 1), got {self.lr_factor}")


@attrs.frozen
class TrainResult:
    """What :func:`train_model` did.

    Parameters
    ----------
    model_dir
        The model folder.
    epochs
        Epochs completed in total (all runs of a resumed training).
    best_epoch
        Epoch (1-based) of ``model.keras``.
    best_val_px_error
        Its mean validation error in pixels (NaN without a validation set).
    training_seconds
        Wall time spent in training, all runs together.
    stopped_early
        Whether early stopping ended the training.
    stopped_at_budget
        Whether the time budget ended the training.
    peak_rss_mib
        Peak resident memory of the training process (the last run of a resumed training), MiB.
    history
        ``training_log.csv`` as a table (columns :data:`behaviorlab.pose.folder.LOG_COLUMNS`).
    val_report
        Accuracy of ``model.keras`` on the validation frames (``None`` without them).
    """

    model_dir: Path
    epochs: int
    best_epoch: int
    best_val_px_error: float
    training_seconds: float
    stopped_early: bool
    stopped_at_budget: bool
    peak_rss_mib: float
    history: pd.DataFrame = attrs.field(eq=False, repr=False)
    val_report: EvaluationReport | None = attrs.field(eq=False, repr=False)


# --------------------------------------------------------------------------- helpers
def deterministic_ops() -> None:
    """Make the backend's kernels deterministic, so the same labels, config and seed train the same model.

    TensorFlow picks among kernels whose floating-point sums run in another
    order on every run (``tf.config.experimental.enable_op_determinism``
    stops that); PyTorch likewise (``torch.use_deterministic_algorithms``);
    JAX on a CPU is deterministic already. The switch is process-wide and
    costs little on a CPU.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf  # lazy: only the active Keras backend's package is installed

        tf.config.experimental.enable_op_determinism()
    elif backend == "torch":
        import torch  # lazy: only the active Keras backend's package is installed

        torch.use_deterministic_algorithms(True, warn_only=True)


def _builder(name: str):
    return MODEL_BUILDERS[name]


def resolve_output_stride(config: TrainConfig) -> int:
    """Output stride the model will have: ``config.output_stride`` or the builder's default."""
    params = inspect.signature(_builder(config.model)).parameters
    if "output_stride" not in params:
        if config.output_stride not in (None, 1):
            raise ValueError(f"model {config.model!r} has a fixed output stride of 1, got {config.output_stride}")
        return 1
    return int(params["output_stride"].default if config.output_stride is None else config.output_stride)


def _versions() -> dict[str, str]:
    backend = keras.backend.backend()
    try:
        backend_version = __import__(backend).__version__
    except (ImportError, AttributeError):
        backend_version = "unknown"
    return {
        "behaviorlab": behaviorlab.__version__,
        "keras": keras.__version__,
        "backend": backend,
        "backend_version": backend_version,
        "numpy": np.__version__,
    }


# --------------------------------------------------------------------------- training
#: TrainConfig fields that ``behaviorlab train`` takes as options; the others come from its ``--config`` file.
_CLI_OPTIONS = ("model", "epochs", "val_fraction", "seed", "batch_size", "time_budget")


def _option_name(field: str) -> str:
    """How a user sets a TrainConfig field: a ``behaviorlab train`` option or a key of its ``--config`` file."""
    return "--" + field.replace("_", "-") if field in _CLI_OPTIONS else f"{field} (--config)"


def _check_resume_config(saved: TrainConfig, config: TrainConfig | None) -> TrainConfig:
    if config is None:
        return saved
    old, new = saved.to_dict(), config.to_dict()
    changed = sorted(k for k, v in new.items() if k not in ("epochs", "time_budget") and old.get(k) != v)
    if changed:
        what = ", ".join(f"{_option_name(k)} {new[k]!r} (the saved run has {old[k]!r})" for k in changed)
        raise SchemaError(
            f"cannot resume with other training options: {what}; only --epochs and --time-budget may change on "
            "--resume: resume with the saved options, or train into a new --out folder"
        )
    return attrs.evolve(saved, epochs=config.epochs, time_budget=config.time_budget)


def train_model(
    labels: str | Path | LabeledFrames,
    out_dir: str | Path,
    config: TrainConfig | None = None,
    *,
    resume: bool = False,
    verbose: int | str = "auto",
    run_eagerly: bool = False,
) -> TrainResult:
    """Train a pose model on labeled frames and save it in ``out_dir``.

    Parameters
    ----------
    labels
        A :class:`~behaviorlab.io.labeled_frames.LabeledFrames` or a path that
        :func:`~behaviorlab.io.labeled_frames.load_labeled_frames` reads; one
        labeled individual per frame, unless ``config.multi_instance``.
    out_dir
        Model folder (created); see the module docstring for its files.
    config
        Training parameters; default :class:`TrainConfig`.  When resuming,
        ``None`` reuses the saved config and only ``epochs`` may differ.
    resume
        Continue from ``last.keras`` and ``state.json`` (weights, optimizer
        state, learning rate, plateau and early-stopping counters) with the
        saved split.  Without a ``state.json`` the training starts afresh.
    verbose
        Keras progress output: ``"auto"``, 0 (silent), 1 or 2.
    run_eagerly
        Run the training step eagerly instead of as a compiled graph: slower
        per step, but skips tracing the gradient graph, which takes about a
        minute for ResNet50 on a CPU (debugging, tiny runs, tests).

    Returns
    -------
    TrainResult
        Best epoch and error, timing, the training log and the validation report.

    Raises
    ------
    OutputExistsError
        When ``out_dir`` already holds a training and ``resume`` is False.
    SchemaError
        When a frame has several labeled individuals (without
        ``multi_instance``), or the labels differ from those of the run being
        resumed.

    Notes
    -----
    Weights are initialised after ``keras.utils.set_random_seed(seed)``,
    which seeds Python's, NumPy's and the backend's global generators.
    Images are fed to the model as float32 in ``[0, 255]``; the models
    normalise them themselves.
    """
    started = time.perf_counter()
    out_dir = Path(out_dir)
    frames = load_frames(labels)
    resuming = _check_out_dir(out_dir, resume)
    pose_config, config, state = _start_state(out_dir, config, resuming)

    # -- data
    select_keypoints = multi_animal_keypoints if config.multi_instance else single_animal_keypoints
    keypoints, frame_indices = select_keypoints(frames.keypoints, frames.sources)
    channels = 1 if config.grayscale else frames.images[0].shape[2]
    images = prepare_images([frames.images[i] for i in frame_indices], channels, grayscale=config.grayscale)
    if resuming:
        train_pos, val_pos, input_shape, stride = _saved_split(frames, frame_indices, pose_config, out_dir)
    else:
        train_pos, val_pos = split_frames(len(frame_indices), config.val_fraction, config.seed)
        pose_config, input_shape, stride = _new_pose_config(
            config, frames, images, channels, frame_indices, train_pos, val_pos
        )
    pose_config["train_config"] = config.to_dict()
    out_dir.mkdir(parents=True, exist_ok=True)
    write_pose_config(out_dir, pose_config)

    if resuming and (state["epoch"] >= config.epochs or state.get("stopped_early")):
        log.info("training in %s already finished (%d epochs)", out_dir, state["epoch"])
        return _result(out_dir, state, frames if len(val_pos) and not config.multi_instance else None)

    # -- model
    state.pop("stopped_at_budget", None)  # a budget ends one run; a resumed run has its own
    model = _start_model(out_dir, config, state, resuming, input_shape, pose_config["n_maps"], stride, run_eagerly)
    n_outputs = len(model.outputs)
    skeleton = frames.skeleton
    augmenter = Augmenter(config.augment, skeleton, seed=config.seed)
    common = {
        "skeleton": skeleton,
        "input_shape": input_shape,
        "output_stride": stride,
        "sigma": config.sigma,
        "n_outputs": n_outputs,
        "batch_size": config.batch_size,
        "graph": config.graph,
    }
    train_seq = PoseSequence(
        [images[i] for i in train_pos],
        keypoints[train_pos],
        augmenter=augmenter,
        shuffle=True,
        seed=config.seed,
        steps_per_epoch=config.steps_per_epoch,
        **common,
    )
    has_val = len(val_pos) > 0
    val_seq = PoseSequence([images[i] for i in val_pos], keypoints[val_pos], **common) if has_val else None
    validation = None
    if has_val:
        val_images = np.stack([pad_image(images[i], input_shape) for i in val_pos])  # uint8; float32 per batch
        validation = (val_images, keypoints[val_pos])
    callbacks = _callbacks(out_dir, config, state, train_seq, validation, stride, started, verbose)
    model.fit(
        train_seq,
        validation_data=val_seq,
        epochs=config.epochs,
        initial_epoch=int(state["epoch"]),
        callbacks=callbacks,
        shuffle=False,
        verbose=verbose,
    )
    log.info("peak memory of the training process: %.0f MiB", peak_rss_mib())
    return _result(out_dir, state, frames if has_val and not config.multi_instance else None)


def _check_out_dir(out_dir: Path, resume: bool) -> bool:
    """Check that ``out_dir`` may be trained into; return whether a saved training resumes there."""
    state_path = out_dir / STATE
    resuming = resume and state_path.is_file()
    if not resume and (state_path.is_file() or (out_dir / POSE_CONFIG).is_file()):
        raise OutputExistsError(
            f"{out_dir} already holds a trained model; pass resume=True (--resume) or choose another folder"
        )
    if resume and not resuming:
        log.info("no %s in %s (no epoch completed): starting a new training", STATE, out_dir)
        truncate_training_log(out_dir / TRAINING_LOG, 0)
    return resuming


def _start_state(
    out_dir: Path, config: TrainConfig | None, resuming: bool
) -> tuple[dict[str, Any], TrainConfig, dict[str, Any]]:
    """Return the saved pose config (empty for a new training), the config to train with and the state."""
    if resuming:
        pose_config = read_pose_config(out_dir)
        config = _check_resume_config(TrainConfig.from_dict(pose_config["train_config"]), config)
        return pose_config, config, json.loads((out_dir / STATE).read_text())
    return {}, TrainConfig() if config is None else config, {"epoch": 0}


def _saved_split(
    frames: LabeledFrames, frame_indices: np.ndarray, pose_config: Mapping[str, Any], out_dir: Path
) -> tuple[np.ndarray, np.ndarray, tuple[int, ...], int]:
    """Positions of the saved training and validation frames among ``frame_indices``, input shape and stride."""
    split = pose_config["split"]
    _check_same_frames(frames, split, out_dir)
    position = {int(f): i for i, f in enumerate(frame_indices)}
    train_pos = np.array([position[int(f)] for f in split["train"]], dtype=np.int64)
    val_pos = np.array([position[int(f)] for f in split["validation"]], dtype=np.int64)
    return train_pos, val_pos, tuple(pose_config["input_shape"]), int(pose_config["output_stride"])


def _new_pose_config(
    config: TrainConfig,
    frames: LabeledFrames,
    images: list[np.ndarray],
    channels: int,
    frame_indices: np.ndarray,
    train_pos: np.ndarray,
    val_pos: np.ndarray,
) -> tuple[dict[str, Any], tuple[int, ...], int]:
    """Describe a new training in its ``pose_config.json``; return it with the input shape and output stride."""
    stride = resolve_output_stride(config)
    shapes = np.array([img.shape for img in images])
    multiple = input_multiple(config.model, config.model_kwargs, stride, shapes.max(axis=0))
    input_shape = padded_input_shape(shapes, multiple)
    pose_config = {
        "format": "behaviorlab.pose_model",
        "format_version": 1,
        "model": config.model,
        "skeleton": frames.skeleton.to_dict(),
        "n_keypoints": frames.skeleton.n_keypoints,
        "n_maps": n_target_maps(frames.skeleton, graph=config.graph),
        "input_shape": list(input_shape),
        "channels": channels,
        "grayscale": config.grayscale,
        "padding": {"mode": "bottom_right_zeros", "multiple": multiple},
        "pixel_range": [0, 255],
        "output_stride": stride,
        "sigma": config.sigma,
        "graph": config.graph,
        "multi_instance": config.multi_instance,
        "train_config": config.to_dict(),
        "split": {
            "n_frames": len(frames),
            "train": frame_indices[train_pos].tolist(),
            "validation": frame_indices[val_pos].tolist(),
            "validation_sources": [frames.sources[i] for i in frame_indices[val_pos]],
        },
        "versions": _versions(),
    }
    return pose_config, input_shape, stride


def _start_model(
    out_dir: Path,
    config: TrainConfig,
    state: Mapping[str, Any],
    resuming: bool,
    input_shape: tuple[int, ...],
    n_maps: int,
    stride: int,
    run_eagerly: bool,
) -> keras.Model:
    """Seed the backend, then load the last epoch's model to resume, or build and compile a new one."""
    keras.utils.set_random_seed(config.seed + state["epoch"])
    deterministic_ops()
    if resuming:
        truncate_training_log(out_dir / TRAINING_LOG, state["epoch"])
        _builder(config.model)  # checks the model name before loading (the package's layers are registered on import)
        model = keras.saving.load_model(out_dir / LAST_MODEL)
        model.optimizer.learning_rate = state["learning_rate"]
        model.run_eagerly = run_eagerly
        return model
    builder = _builder(config.model)
    kwargs = dict(config.model_kwargs)
    if "output_stride" in inspect.signature(builder).parameters:
        kwargs["output_stride"] = stride
    model = builder(input_shape, n_maps, **kwargs)
    n_outputs = len(model.outputs)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=config.learning_rate),
        loss=masked_mse if n_outputs == 1 else [masked_mse] * n_outputs,
        run_eagerly=run_eagerly,
    )
    return model


def _callbacks(
    out_dir: Path,
    config: TrainConfig,
    state: dict[str, Any],
    train_seq: PoseSequence,
    validation: tuple[np.ndarray, np.ndarray] | None,
    stride: int,
    started: float,
    verbose: int | str,
) -> list[keras.callbacks.Callback]:
    """Return the training's callbacks in the order Keras runs them.

    The epoch setter, the validation pixel error (on ``validation`` images and keypoints, if any), the learning
    rate schedule, early stopping, the time budget (counted from ``started``) and the checkpoint.
    """
    monitor = "val_loss" if validation is not None else "loss"
    best_by = "val_px_error" if validation is not None and not config.multi_instance else monitor
    reduce_lr = keras.callbacks.ReduceLROnPlateau(
        monitor=monitor, factor=config.lr_factor, patience=config.lr_patience, verbose=1 if verbose else 0
    )
    early_stopping = keras.callbacks.EarlyStopping(
        monitor=monitor, patience=config.early_stopping_patience, verbose=1 if verbose else 0
    )
    callbacks: list[keras.callbacks.Callback] = [EpochSetter(train_seq)]
    if validation is not None:
        val_images, val_keypoints = validation
        inference = {"output_stride": stride, "sigma": config.sigma, "n_keypoints": train_seq.skeleton.n_keypoints}
        callbacks.append(ValidationPixelError(val_images, val_keypoints, inference, config.batch_size))
    if config.lr_schedule == "cosine":
        callbacks.append(WarmupCosine(config.learning_rate, config.warmup_epochs, config.epochs, state))
    else:
        callbacks.append(reduce_lr)
    callbacks.append(early_stopping)
    if config.time_budget is not None:
        callbacks.append(TimeBudget(config.time_budget, started, state, config.epochs))
    callbacks.append(EpochCheckpoint(out_dir, state, reduce_lr, early_stopping, best_by))
    return callbacks


def _check_same_frames(frames: LabeledFrames, split: Mapping[str, Any], out_dir: Path) -> None:
    n_frames = int(split["n_frames"])
    sources = [frames.sources[i] for i in split["validation"]] if len(frames) == n_frames else None
    if sources != list(split["validation_sources"]):
        raise SchemaError(
            f"the labels differ from those the model in {out_dir} was trained on ({len(frames)} frames, "
            f"expected {n_frames} with the saved validation frames); resume with the same labels"
        )


def fit_confidence_calibration(out_dir: Path, frames: LabeledFrames) -> dict[str, Any] | None:
    """Fit the model's confidence calibration on its validation frames and keep it in ``pose_config.json``.

    The best model predicts the validation frames; the map from its raw peak
    heights to the share of keypoints within two target sigmas of the label
    (:func:`behaviorlab.pose.calibration.fit_calibration`) becomes
    ``confidence_calibration``. Too few validation keypoints (or all found,
    or none) leave the model uncalibrated: its confidence is the peak height.
    """
    model = PoseModel.load(out_dir)
    pred, true = frame_predictions(model, frames, model.validation_indices, raw_confidence=True)
    errors = np.linalg.norm(pred[..., :2].astype(np.float64) - true, axis=-1)
    calibration = fit_calibration(pred[..., 2], errors, calibration_radius(model.sigma))
    config = read_pose_config(out_dir)
    config.pop("confidence_calibration", None)
    if calibration is not None:
        config["confidence_calibration"] = calibration
        log.info("confidence calibrated on %d validation keypoints", calibration["n_points"])
    write_pose_config(out_dir, config)
    return calibration


def _result(out_dir: Path, state: Mapping[str, Any], frames: LabeledFrames | None) -> TrainResult:
    """Collect the result; ``frames`` (the training labels) to evaluate on the validation split, else None."""
    if frames is not None:
        fit_confidence_calibration(out_dir, frames)
    report = None if frames is None else evaluate_model(out_dir, frames)
    return TrainResult(
        model_dir=out_dir,
        epochs=int(state["epoch"]),
        best_epoch=int(state.get("best_epoch", 0)),
        best_val_px_error=as_float(state.get("best_val_px_error")),
        training_seconds=float(state.get("training_seconds", 0.0)),
        stopped_early=bool(state.get("stopped_early", False)),
        stopped_at_budget=bool(state.get("stopped_at_budget", False)),
        peak_rss_mib=peak_rss_mib(),
        history=read_training_log(out_dir / TRAINING_LOG),
        val_report=report,
    )
