"""The pose model folder: its file names and the small helpers that read and write it.

:func:`behaviorlab.pose.train.train_model` writes such a folder,
:class:`behaviorlab.pose.predict.PoseModel` loads one, and a top-down model
(:mod:`behaviorlab.pose.topdown`) keeps one per network::

    MODEL_DIR/
      pose_config.json    POSE_CONFIG: skeleton, input shape, preprocessing, output stride, sigma, split, ...
      model.keras         BEST_MODEL: the best epoch
      last.keras          LAST_MODEL: the last completed epoch, with the optimizer state
      state.json          STATE: the training's progress, for resuming
      training_log.csv    TRAINING_LOG: one row per epoch (LOG_COLUMNS)

Every file is replaced atomically.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from behaviorlab._atomic import atomic_path

if TYPE_CHECKING:
    import keras

__all__ = [
    "BEST_MODEL",
    "LAST_MODEL",
    "LOG_COLUMNS",
    "POSE_CONFIG",
    "POSE_PATHS",
    "STATE",
    "TOPDOWN_CONFIG",
    "TRAINING_LOG",
    "TRAINING_PATH",
    "append_training_log",
    "read_pose_config",
    "read_training_log",
    "save_model",
    "truncate_training_log",
    "write_json",
    "write_pose_config",
]

POSE_CONFIG = "pose_config.json"
BEST_MODEL = "model.keras"
LAST_MODEL = "last.keras"
STATE = "state.json"
TRAINING_LOG = "training_log.csv"
#: File of a top-down (crop-path) model folder that holds its settings (:mod:`behaviorlab.pose.topdown`).
TOPDOWN_CONFIG = "topdown_config.json"
#: File of a model folder that says which path trained it and why (:func:`behaviorlab.pose.strategy.train_pose`).
TRAINING_PATH = "training_path.json"
#: The ways to train a single-animal pose model (``--path``, ``pose_model.path``): ``auto`` chooses between the
#: crop path (a centroid model and a model of the box around the animal) and the full-frame path.
POSE_PATHS = ("auto", "crop", "full-frame")

#: Columns of ``training_log.csv``.
LOG_COLUMNS = ("epoch", "loss", "val_loss", "val_px_error", "lr", "seconds", "peak_rss_mib")


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` to ``path`` as indented JSON (NaN allowed), atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, allow_nan=True) + "\n")


def save_model(model: keras.Model, path: Path) -> None:
    """Save a Keras model to the ``.keras`` file ``path``, atomically."""
    with atomic_path(path) as tmp:
        model.save(tmp)


def read_pose_config(model_dir: Path) -> dict[str, Any]:
    """Read the ``pose_config.json`` of a model folder."""
    return json.loads((Path(model_dir) / POSE_CONFIG).read_text())


def write_pose_config(model_dir: Path, config: dict[str, Any]) -> None:
    """Write the ``pose_config.json`` of a model folder, atomically."""
    write_json(Path(model_dir) / POSE_CONFIG, config)


def read_training_log(path: Path) -> pd.DataFrame:
    """Read ``training_log.csv`` (an empty table with :data:`LOG_COLUMNS` when there is none)."""
    if not path.is_file():
        return pd.DataFrame(columns=list(LOG_COLUMNS))
    return pd.read_csv(path)


def append_training_log(path: Path, row: Sequence[Any]) -> None:
    """Append one epoch's row to ``training_log.csv``, writing the header first into a new file.

    A log of an older version (fewer columns) gets the missing columns, empty, before the row is added.
    """
    new = not path.is_file()
    if not new:
        with path.open(newline="") as handle:
            header = next(csv.reader(handle), [])
        if tuple(header) != LOG_COLUMNS:
            table = pd.read_csv(path).reindex(columns=list(LOG_COLUMNS))
            with atomic_path(path) as tmp:
                table.to_csv(tmp, index=False)
    with path.open("a", newline="") as handle:
        writer = csv.writer(handle)
        if new:
            writer.writerow(LOG_COLUMNS)
        writer.writerow(row)


def truncate_training_log(path: Path, epochs: int) -> None:
    """Drop rows after epoch ``epochs`` (written by a run that stopped before its state.json)."""
    if not path.is_file():
        return
    table = read_training_log(path)
    if len(table) and table["epoch"].max() > epochs:
        with atomic_path(path) as tmp:
            table[table["epoch"] <= epochs].to_csv(tmp, index=False)
