"""The callbacks of a pose training: epoch order, validation error, checkpoints, schedules, time budget, memory.

:class:`EpochSetter`, :class:`ValidationPixelError` and :class:`EpochCheckpoint`
seed each epoch, measure the validation error in pixels and write the model
folder (see :mod:`behaviorlab.pose.train`).

Two schedules (``TrainConfig.lr_schedule``):

- ``"plateau"`` (DeepPoseKit's): the rate is divided by 5 after
  ``lr_patience`` epochs without a lower validation loss;
- ``"cosine"``: a linear warm-up over ``warmup_epochs``, then a cosine decay
  to 1 % of the rate at the last planned epoch (Loshchilov & Hutter 2017).
  Short budgets gain the most from it: the rate falls on time instead of
  waiting for plateaus that a few minutes of training never reach.

A time budget (``TrainConfig.time_budget``, ``behaviorlab train
--time-budget 30m``) stops the training when the next epoch would end past
it, or mid-epoch when the budget is spent; the best checkpoint so far is the
model.  With the cosine schedule the planned epochs are those that fit the
budget, estimated once from the first epoch's duration and kept in
``state.json`` (so a resumed run keeps the same schedule).  A budget trades
reproducibility for a deadline: the number of epochs follows the machine's
speed; give ``epochs`` without a budget for a run that repeats exactly.

:func:`peak_rss_mib` is the process's peak resident memory, written to the
training log after every epoch.
"""

from __future__ import annotations

import logging
import math
import resource
import sys
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np
from keras import ops

from behaviorlab.pose.data import PoseSequence
from behaviorlab.pose.folder import (
    BEST_MODEL,
    LAST_MODEL,
    STATE,
    TRAINING_LOG,
    append_training_log,
    save_model,
    write_json,
)
from behaviorlab.pose.models import build_inference_model, build_local_peaks_model

__all__ = [
    "EpochCheckpoint",
    "EpochSetter",
    "TimeBudget",
    "ValidationPixelError",
    "WarmupCosine",
    "as_float",
    "cosine_factor",
    "peak_rss_mib",
]

log = logging.getLogger(__name__)

MIN_FACTOR = 0.01  # the cosine decays to this share of the initial rate


def as_float(value: Any) -> float:
    """``float(value)``, NaN for ``None`` (a log entry Keras did not compute)."""
    return math.nan if value is None else float(value)


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB.

    Linux: ``VmHWM`` of ``/proc/self/status``, the high-water mark of this
    program's own memory. ``getrusage``'s ``ru_maxrss`` would do elsewhere,
    but on Linux it survives ``exec``: a training started as a subprocess of
    a large process (a test runner, a Dask worker) would report its parent's
    memory at the fork.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return float(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0  # bytes on macOS, KiB elsewhere


def cosine_factor(epoch: int, warmup_epochs: int, planned_epochs: int) -> float:
    """Share of the initial learning rate in 0-based ``epoch``: linear warm-up, then cosine decay.

    >>> [round(cosine_factor(e, 2, 6), 3) for e in range(7)]
    [0.5, 1.0, 1.0, 0.855, 0.505, 0.155, 0.01]
    """
    if epoch < warmup_epochs:
        return (epoch + 1) / warmup_epochs
    span = max(1, planned_epochs - warmup_epochs)
    progress = min(1.0, (epoch - warmup_epochs) / span)
    return MIN_FACTOR + (1.0 - MIN_FACTOR) * 0.5 * (1.0 + math.cos(math.pi * progress))


class WarmupCosine(keras.callbacks.Callback):
    """Set the optimizer's learning rate at the start of every epoch (:func:`cosine_factor`).

    ``state["planned_epochs"]`` (written by :class:`TimeBudget` under a
    budget) wins over ``epochs`` once it is known.
    """

    def __init__(self, base_rate: float, warmup_epochs: int, epochs: int, state: dict[str, Any]) -> None:
        super().__init__()
        self.base_rate = base_rate
        self.warmup_epochs = warmup_epochs
        self.epochs = epochs
        self.state = state

    def on_epoch_begin(self, epoch, logs=None):
        """Run at the start of an epoch (Keras hook)."""
        planned = int(self.state.get("planned_epochs") or self.epochs)
        self.model.optimizer.learning_rate = self.base_rate * cosine_factor(epoch, self.warmup_epochs, planned)


class TimeBudget(keras.callbacks.Callback):
    """Stop the training so that it ends at ``budget_s`` seconds after ``started`` (a :func:`time.perf_counter` value).

    An epoch is its training steps and validation (``t``, the latest epoch's)
    and its closing work, the checkpoint (``c``, the latest measured).  After an
    epoch the training stops when another epoch and the final evaluation (as
    long as a closing) would end past the budget (``elapsed + t + 3c``); during
    an epoch, after the batch that leaves less than this epoch's closing and
    the final evaluation (``elapsed + 2c``).  The first epoch also fixes
    The second epoch of a run (the first also traces the model, so it is
    slower) fixes ``state["planned_epochs"]``, the epochs that fit, for
    :class:`WarmupCosine`;
    ``state["stopped_at_budget"]`` says that the budget ended the run.  Put it
    before the checkpoint, which writes the state.
    """

    def __init__(self, budget_s: float, started: float, state: dict[str, Any], max_epochs: int) -> None:
        super().__init__()
        self.budget_s = budget_s
        self.started = started
        self.state = state
        self.max_epochs = max_epochs
        self._epoch_start = 0.0
        self._epoch_end = 0.0
        self._closing = 0.0
        self._epochs_run = 0

    def _elapsed(self) -> float:
        return time.perf_counter() - self.started

    def on_train_begin(self, logs=None):
        """Run when training starts (Keras hook)."""
        self.state.pop("stopped_at_budget", None)

    def on_epoch_begin(self, epoch, logs=None):
        """Run at the start of an epoch (Keras hook)."""
        now = time.perf_counter()
        if self._epoch_end:  # the previous epoch's checkpoint and logs
            self._closing = now - self._epoch_end
        self._epoch_start = now

    def on_train_batch_end(self, batch, logs=None):
        """Run after every training batch (Keras hook)."""
        if self._elapsed() + 2 * self._closing >= self.budget_s:
            self._stop("during an epoch")

    def on_epoch_end(self, epoch, logs=None):
        """Run at the end of an epoch (Keras hook)."""
        self._epoch_end = time.perf_counter()
        steps = self._epoch_end - self._epoch_start
        left = self.budget_s - self._elapsed()
        self._epochs_run += 1
        if "planned_epochs" not in self.state and self._epochs_run >= 2:
            fit = epoch + 1 + max(0, int((left - self._closing) // max(steps + self._closing, 1e-6)))
            self.state["planned_epochs"] = int(min(self.max_epochs, fit))
            log.info(
                "time budget %.0f s: about %d epochs fit (%.1f s per epoch)",
                self.budget_s,
                self.state["planned_epochs"],
                steps,
            )
        if steps + 3 * self._closing > left:
            self._stop(f"after epoch {epoch + 1}")

    def _stop(self, when: str) -> None:
        if not self.state.get("stopped_at_budget"):
            log.info("time budget of %.0f s reached %s: the best checkpoint is the model", self.budget_s, when)
        self.model.stop_training = True
        self.state["stopped_at_budget"] = True


class EpochSetter(keras.callbacks.Callback):
    """Tell the training sequence which epoch is starting (seeded order and augmentation)."""

    def __init__(self, sequence: PoseSequence) -> None:
        super().__init__()
        self.sequence = sequence

    def on_epoch_begin(self, epoch, logs=None):
        """Run at the start of an epoch (Keras hook)."""
        self.sequence.set_epoch(epoch)


class ValidationPixelError(keras.callbacks.Callback):
    """Mean validation keypoint error in image pixels, logged as ``val_px_error``.

    ``keypoints`` ``(n, n_keypoints, 2)``: error of the single peak per map.
    ``(n, n_individuals, n_keypoints, 2)``: distance from each labeled
    keypoint to the nearest of the ``n_individuals`` highest local maxima of
    its map (multi-instance models).
    """

    def __init__(self, images: np.ndarray, keypoints: np.ndarray, inference: dict[str, Any], batch_size: int) -> None:
        super().__init__()
        self.images = images
        self.keypoints = keypoints
        self.inference = inference
        self.batch_size = batch_size
        self._model = None

    def on_train_begin(self, logs=None):
        """Run when training starts (Keras hook)."""
        if self.keypoints.ndim == 4:
            self._model = build_local_peaks_model(
                self.model,
                output_stride=self.inference["output_stride"],
                sigma=self.inference["sigma"],
                n_keypoints=self.inference["n_keypoints"],
                max_peaks=self.keypoints.shape[1],
                threshold=-np.inf,
                subpixel=False,
            )
        else:
            self._model = build_inference_model(self.model, **self.inference)

    def on_epoch_end(self, epoch, logs=None):
        """Run at the end of an epoch (Keras hook)."""
        if logs is None or len(self.images) == 0:
            return
        pred = np.concatenate(
            [
                np.asarray(self._model.predict_on_batch(self.images[i : i + self.batch_size].astype(np.float32)))
                for i in range(0, len(self.images), self.batch_size)
            ]
        )
        if self.keypoints.ndim == 4:  # pred (n, K, P, 3); nearest peak of each labeled keypoint
            distance = np.linalg.norm(pred[:, None, :, :, :2] - self.keypoints[:, :, :, None, :], axis=-1)
            distance = np.where(np.isnan(distance), np.inf, distance).min(axis=-1)
            errors = np.where(np.isfinite(distance), distance, np.nan)
        else:
            errors = np.linalg.norm(pred[..., :2] - self.keypoints, axis=-1)
        logs["val_px_error"] = float(np.nanmean(errors)) if np.isfinite(errors).any() else math.nan


class EpochCheckpoint(keras.callbacks.Callback):
    """Write best/last models, the CSV log and ``state.json`` after every epoch; restore counters on resume."""

    def __init__(
        self,
        model_dir: Path,
        state: dict[str, Any],
        reduce_lr: keras.callbacks.ReduceLROnPlateau,
        early_stopping: keras.callbacks.EarlyStopping,
        monitor: str,
    ) -> None:
        super().__init__()
        self.model_dir = model_dir
        self.state = state
        self.reduce_lr = reduce_lr
        self.early_stopping = early_stopping
        self.monitor = monitor
        self._start = 0.0

    def on_train_begin(self, logs=None):
        """Run when training starts (Keras hook)."""
        # Runs after the other callbacks reset themselves, so saved counters win.
        saved = self.state.get("callbacks")
        if saved:
            for callback, values in (
                (self.reduce_lr, saved["reduce_lr"]),
                (self.early_stopping, saved["early_stopping"]),
            ):
                for key, value in values.items():
                    setattr(callback, key, value)

    def on_epoch_begin(self, epoch, logs=None):
        """Run at the start of an epoch (Keras hook)."""
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        """Run at the end of an epoch (Keras hook)."""
        logs = logs or {}
        seconds = time.perf_counter() - self._start
        lr = float(ops.convert_to_numpy(self.model.optimizer.learning_rate))
        completed = epoch + 1
        value = as_float(logs.get(self.monitor))
        best = self.state.get("best_monitor")
        if (
            best is None
            or (math.isfinite(value) and (not math.isfinite(best) or value < best))
            or not (self.model_dir / BEST_MODEL).is_file()
        ):
            self.state.update(
                best_epoch=completed, best_monitor=value, best_val_px_error=as_float(logs.get("val_px_error"))
            )
            save_model(self.model, self.model_dir / BEST_MODEL)
        save_model(self.model, self.model_dir / LAST_MODEL)
        append_training_log(
            self.model_dir / TRAINING_LOG,
            [
                completed,
                as_float(logs.get("loss")),
                as_float(logs.get("val_loss")),
                as_float(logs.get("val_px_error")),
                lr,
                round(seconds, 3),
                round(peak_rss_mib(), 1),
            ],
        )
        self.state.update(
            epoch=completed,
            learning_rate=lr,
            stopped_early=bool(self.model.stop_training) and not self.state.get("stopped_at_budget"),
            training_seconds=self.state.get("training_seconds", 0.0) + seconds,
            callbacks={
                "reduce_lr": {
                    "wait": int(self.reduce_lr.wait),
                    "cooldown_counter": int(self.reduce_lr.cooldown_counter),
                    "best": None if self.reduce_lr.best is None else float(self.reduce_lr.best),
                },
                "early_stopping": {
                    "wait": int(self.early_stopping.wait),
                    "best": None if self.early_stopping.best is None else float(self.early_stopping.best),
                    "best_epoch": int(self.early_stopping.best_epoch),
                },
            },
        )
        write_json(self.model_dir / STATE, self.state)
