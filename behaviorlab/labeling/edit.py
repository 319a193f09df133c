"""Reviewing poses and editing labeled frames: the logic behind the dashboard's Poses and Label pages.

Nothing here imports Streamlit; the pages keep only widget values and an
:class:`EditHistory` in the session and call these functions.

Labeling (the Label page), on a :class:`~behaviorlab.io.labeled_frames.LabeledFrames`
set such as ``behaviorlab select-frames`` (k-means picks, all keypoints NaN)
or ``behaviorlab refine`` (predictions to correct) writes:

- :func:`frame_status` / :func:`frame_order` / :func:`next_frame`: which frames
  still need labels (``"unlabeled"``: no keypoint placed; ``"partial"``: an
  individual has some but not all of its keypoints; ``"labeled"``: the rest),
  suggested frames first.  An individual with no keypoint at all in a frame
  counts as absent, not as unfinished.
- :func:`set_keypoint` places (or, with NaN, clears) one keypoint and returns a
  new object; :func:`next_unlabeled_keypoint` says which keypoint comes next.
- :class:`EditHistory` records each change so it can be undone exactly
  (NaN included).
- :func:`save_labels` writes the set back atomically, so ``behaviorlab train``
  never reads a half-written file.
- :func:`label_image`, :func:`display_scale` and :func:`click_to_pixel` draw a
  frame enlarged for clicking and map a click on it back to image pixels
  (``(x, y)``, pixel centres at integers, origin top-left, as everywhere).

Reviewing poses (the Poses page): :func:`pose_quality_table` is the cleaning
report of a stored session (share of frames missing and confidence per
keypoint), :func:`processing_log_table` the steps recorded in its ``log``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import attrs
import h5py
import numpy as np
import pandas as pd
import xarray as xr

from behaviorlab._atomic import atomic_path
from behaviorlab.errors import SchemaError
from behaviorlab.io.labeled_frames import FORMAT_NAME, LabeledFrames, save_labeled_frames
from behaviorlab.results.render import draw_poses
from behaviorlab.schema import POSITION_DIMS, check_dims, get_log

__all__ = [
    "FRAME_STATUSES",
    "Edit",
    "EditHistory",
    "click_to_pixel",
    "display_scale",
    "frame_order",
    "frame_status",
    "frame_table",
    "get_keypoint",
    "keypoint_table",
    "label_image",
    "labeling_progress",
    "next_frame",
    "next_unlabeled_keypoint",
    "pose_quality_table",
    "processing_log_table",
    "save_labels",
    "set_keypoint",
]

#: Frame statuses of :func:`frame_status`, in the order :func:`frame_order` suggests them.
FRAME_STATUSES: tuple[str, ...] = ("unlabeled", "partial", "labeled")


# --------------------------------------------------------------------------- which frames need labels
def frame_status(frames: LabeledFrames) -> np.ndarray:
    """Say for every frame whether it is unlabeled, partly labeled or labeled.

    Parameters
    ----------
    frames
        The labeling set.

    Returns
    -------
    numpy.ndarray
        str ``(n_frames,)``, each one of :data:`FRAME_STATUSES`: ``"unlabeled"``
        (no keypoint of any individual placed), ``"partial"`` (some individual
        has some but not all keypoints) or ``"labeled"``.
    """
    labeled = frames.is_labeled()  # (frame, individual, keypoint)
    started = labeled.any(axis=2)
    unfinished = (started & ~labeled.all(axis=2)).any(axis=1)
    status = np.full(len(frames), "labeled", dtype=object)
    status[unfinished] = "partial"
    status[~started.any(axis=1)] = "unlabeled"
    return status.astype(str)


def frame_order(frames: LabeledFrames) -> np.ndarray:
    """Order the frames (:func:`frame_status`): unlabeled first, then partly labeled, then labeled; file order within.

    Returns
    -------
    numpy.ndarray
        int ``(n_frames,)``, a permutation of the frame indices.
    """
    rank = {s: i for i, s in enumerate(FRAME_STATUSES)}
    ranks = np.array([rank[s] for s in frame_status(frames)], dtype=np.int64)
    return np.argsort(ranks, kind="stable")


def labeling_progress(frames: LabeledFrames) -> dict[str, int]:
    """Count the frames of each status.

    Returns
    -------
    dict
        ``{"unlabeled": n, "partial": n, "labeled": n, "total": n_frames}``.
    """
    status = frame_status(frames)
    counts = {s: int((status == s).sum()) for s in FRAME_STATUSES}
    return {**counts, "total": len(frames)}


def next_frame(frames: LabeledFrames, current: int) -> int:
    """Find the frame after ``current`` (in file order, wrapping around) that still needs labels.

    Parameters
    ----------
    frames
        The labeling set (at least one frame).
    current
        Index of the frame shown now.

    Returns
    -------
    int
        The next unlabeled or partly labeled frame other than ``current``;
        when there is none, simply the next frame (``current + 1``, wrapping).
    """
    n = len(frames)
    if n == 0:
        raise SchemaError("the labeling set has no frames")
    current = _frame_index(frames, current)
    need = frame_status(frames) != "labeled"
    for step in range(1, n):
        candidate = (current + step) % n
        if need[candidate]:
            return candidate
    return (current + 1) % n


def frame_table(frames: LabeledFrames) -> pd.DataFrame:
    """List the frames in the order :func:`frame_order` suggests, with their labeling status.

    Returns
    -------
    pandas.DataFrame
        ``frame`` (index in the file), ``source``, ``status`` and
        ``labeled_keypoints`` (placed keypoints over all individuals, e.g. ``"7/20"``).
    """
    order = frame_order(frames)
    status = frame_status(frames)
    placed = frames.is_labeled().sum(axis=(1, 2))
    total = frames.n_individuals * frames.n_keypoints
    return pd.DataFrame(
        {
            "frame": order,
            "source": [frames.sources[i] for i in order],
            "status": status[order],
            "labeled_keypoints": [f"{placed[i]}/{total}" for i in order],
        }
    )


# --------------------------------------------------------------------------- one keypoint
def _frame_index(frames: LabeledFrames, index: int) -> int:
    n = len(frames)
    if not isinstance(index, int | np.integer) or not -n <= int(index) < n:
        raise SchemaError(f"frame index {index!r} is out of range for {n} frames")
    return int(index) % n


def _name_index(names: Sequence[str], name: str | int, what: str) -> int:
    if isinstance(name, int | np.integer):
        if not 0 <= int(name) < len(names):
            raise SchemaError(f"{what} number {name} is out of range: there are {len(names)} ({list(names)})")
        return int(name)
    if name not in names:
        raise SchemaError(f"unknown {what} {name!r}; the labels have {list(names)}")
    return list(names).index(name)


def get_keypoint(frames: LabeledFrames, index: int, individual: str | int, keypoint: str | int) -> tuple[float, float]:
    """Return the ``(x, y)`` of one keypoint (NaN, NaN when unlabeled).

    Parameters
    ----------
    frames
        The labeling set.
    index
        Frame index.
    individual, keypoint
        Names (or positions) of the individual and the keypoint.
    """
    i = _frame_index(frames, index)
    ind = _name_index(frames.individuals, individual, "individual")
    kp = _name_index(frames.skeleton.keypoints, keypoint, "keypoint")
    x, y = frames.keypoints[i, ind, kp]
    return float(x), float(y)


def set_keypoint(
    frames: LabeledFrames,
    index: int,
    individual: str | int,
    keypoint: str | int,
    xy: tuple[float, float] | Sequence[float] | None,
) -> LabeledFrames:
    """Place one keypoint, or mark it not visible; the input is not modified.

    Parameters
    ----------
    frames
        The labeling set.
    index
        Frame index.
    individual, keypoint
        Names (or positions) of the individual and the keypoint.
    xy
        ``(x, y)`` in pixels of the frame's image (pixel centres at integers,
        so inside ``[-0.5, width - 0.5] x [-0.5, height - 0.5]``); ``None`` or
        ``(nan, nan)`` marks the keypoint not visible (unlabeled).

    Returns
    -------
    LabeledFrames
        A new object with that one value changed.
    """
    i = _frame_index(frames, index)
    ind = _name_index(frames.individuals, individual, "individual")
    kp = _name_index(frames.skeleton.keypoints, keypoint, "keypoint")
    value = np.array([np.nan, np.nan] if xy is None else xy, dtype=np.float64)
    if value.shape != (2,):
        raise SchemaError(f"xy must be two numbers (x, y), got {xy!r}")
    if np.isnan(value).any():
        if not np.isnan(value).all():
            raise SchemaError(f"x and y must both be numbers or both NaN, got {xy!r}")
    else:
        height, width = frames.images[i].shape[:2]
        x, y = value
        if not (-0.5 <= x <= width - 0.5 and -0.5 <= y <= height - 0.5):
            raise SchemaError(
                f"({x:g}, {y:g}) lies outside frame {i}'s image of {width} x {height} pixels "
                f"(x from -0.5 to {width - 0.5}, y from -0.5 to {height - 0.5})"
            )
    keypoints = frames.keypoints.copy()
    keypoints[i, ind, kp] = value
    return attrs.evolve(frames, keypoints=keypoints)


def next_unlabeled_keypoint(
    frames: LabeledFrames, index: int, individual: str | int, after: str | int | None = None
) -> str | None:
    """Name the next keypoint of an individual in a frame that is not labeled yet.

    Parameters
    ----------
    frames
        The labeling set.
    index
        Frame index.
    individual
        Name (or position) of the individual.
    after
        Start looking after this keypoint (wrapping around); from the first
        keypoint when omitted.

    Returns
    -------
    str or None
        The keypoint name, or None when every keypoint is labeled.
    """
    i = _frame_index(frames, index)
    ind = _name_index(frames.individuals, individual, "individual")
    names = frames.skeleton.keypoints
    start = 0 if after is None else _name_index(names, after, "keypoint") + 1
    labeled = frames.is_labeled()[i, ind]
    for step in range(len(names)):
        k = (start + step) % len(names)
        if not labeled[k]:
            return names[k]
    return None


def keypoint_table(frames: LabeledFrames, index: int, individual: str | int) -> pd.DataFrame:
    """Tabulate the keypoints of one individual in one frame: ``keypoint``, ``x``, ``y``, ``labeled``."""
    i = _frame_index(frames, index)
    ind = _name_index(frames.individuals, individual, "individual")
    xy = frames.keypoints[i, ind]
    return pd.DataFrame(
        {
            "keypoint": list(frames.skeleton.keypoints),
            "x": xy[:, 0].round(2),
            "y": xy[:, 1].round(2),
            "labeled": ~np.isnan(xy[:, 0]),
        }
    )


# --------------------------------------------------------------------------- undo
@attrs.frozen
class Edit:
    """One change of one keypoint: where, and its value before and after.

    Attributes
    ----------
    source
        The frame's source (stable even if frames are reordered).
    individual, keypoint
        Names.
    before, after
        ``(x, y)``; NaN for not labeled.
    """

    source: str
    individual: str
    keypoint: str
    before: tuple[float, float]
    after: tuple[float, float]


@attrs.frozen
class EditHistory:
    """The edits made so far, newest last; every method returns a new history.

    Attributes
    ----------
    edits
        The recorded edits.
    max_edits
        Older edits are forgotten beyond this many.
    """

    edits: tuple[Edit, ...] = ()
    max_edits: int = 500

    def __len__(self) -> int:
        return len(self.edits)

    def apply(
        self,
        frames: LabeledFrames,
        index: int,
        individual: str | int,
        keypoint: str | int,
        xy: tuple[float, float] | Sequence[float] | None,
    ) -> tuple[LabeledFrames, EditHistory]:
        """Set a keypoint with :func:`set_keypoint` and record the change.

        Returns
        -------
        tuple
            The new frames and the new history.
        """
        before = get_keypoint(frames, index, individual, keypoint)
        changed = set_keypoint(frames, index, individual, keypoint, xy)
        i = _frame_index(frames, index)
        ind = frames.individuals[_name_index(frames.individuals, individual, "individual")]
        kp = frames.skeleton.keypoints[_name_index(frames.skeleton.keypoints, keypoint, "keypoint")]
        edit = Edit(frames.sources[i], ind, kp, before, get_keypoint(changed, i, ind, kp))
        return changed, attrs.evolve(self, edits=(*self.edits, edit)[-self.max_edits :])

    def undo(self, frames: LabeledFrames) -> tuple[LabeledFrames, EditHistory, Edit | None]:
        """Restore the value before the newest edit.

        Parameters
        ----------
        frames
            The labeling set the edits were made on.

        Returns
        -------
        tuple
            The frames with the value restored, the shorter history and the
            edit undone (``frames`` unchanged, this history and None when
            there is nothing to undo).
        """
        if not self.edits:
            return frames, self, None
        edit = self.edits[-1]
        if edit.source not in frames.sources:
            raise SchemaError(f"cannot undo: the labels no longer hold frame {edit.source!r}")
        restored = set_keypoint(frames, frames.sources.index(edit.source), edit.individual, edit.keypoint, edit.before)
        return restored, attrs.evolve(self, edits=self.edits[:-1]), edit


# --------------------------------------------------------------------------- saving
def _same_layout(frames: LabeledFrames, path: Path) -> bool:
    """Whether ``path`` is a labels file holding exactly these frames (only keypoint values may differ)."""
    try:
        with h5py.File(path, "r") as f:
            return (
                f.attrs.get("format") == FORMAT_NAME
                and f["keypoints"].shape == frames.keypoints.shape
                and f["keypoints"].dtype == np.float64
                and tuple(f["sources"].asstr()[()]) == frames.sources
                and tuple(f["individuals"].asstr()[()]) == frames.individuals
                and f.attrs["skeleton"] == frames.skeleton.to_json()
                and np.array_equal(f["images/shapes"][()], frames.image_shapes)
            )
    except (OSError, KeyError):
        return False


def save_labels(frames: LabeledFrames, path: str | Path) -> Path:
    """Write the labeling set to a ``*.labels.h5`` file atomically (what ``behaviorlab train`` reads).

    When ``path`` already holds the same frames (sources, individuals,
    skeleton and image shapes), only the keypoints are rewritten, in a copy of
    the file that then replaces it, so saving after every click stays fast
    for large sets.  Otherwise the whole file is written with
    :func:`~behaviorlab.io.labeled_frames.save_labeled_frames`.

    Parameters
    ----------
    frames
        The frames to save.
    path
        The labels file.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    if not (path.is_file() and _same_layout(frames, path)):
        return save_labeled_frames(frames, path)
    with atomic_path(path) as tmp:
        shutil.copyfile(path, tmp)
        with h5py.File(tmp, "r+") as f:
            f["keypoints"][...] = frames.keypoints
    return path


# --------------------------------------------------------------------------- drawing and clicks
def display_scale(image_shape: Sequence[int], target: int = 512) -> int:
    """Integer enlargement that brings the longer side of an image to about ``target`` pixels (at least 1)."""
    longest = max(int(image_shape[0]), int(image_shape[1]), 1)
    return max(1, int(target) // longest)


def label_image(
    frames: LabeledFrames,
    index: int,
    *,
    individual: str | int | None = None,
    keypoint: str | int | None = None,
    scale: int = 1,
    radius: float = 3.0,
) -> np.ndarray:
    """Draw a frame's labels, enlarged ``scale`` times (nearest neighbour) for clicking.

    Keypoints of ``individual`` are green, its ``keypoint`` red (the one a
    click places), other individuals' keypoints white; skeleton edges have one
    colour per individual.

    Parameters
    ----------
    frames
        The labeling set.
    index
        Frame index.
    individual, keypoint
        What to highlight (nothing when omitted).
    scale
        Integer enlargement, e.g. from :func:`display_scale`.
    radius
        Keypoint radius in pixels of the enlarged image.

    Returns
    -------
    numpy.ndarray
        uint8 ``(height * scale, width * scale, 3)``.
    """
    i = _frame_index(frames, index)
    scale = int(scale)
    if scale < 1:
        raise SchemaError(f"scale must be an integer >= 1, got {scale}")
    image = frames.images[i]
    if scale > 1:
        image = np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)
    position = (frames.keypoints[i] + 0.5) * scale - 0.5
    confidence = np.full(position.shape[:2], np.nan)
    if individual is not None:
        ind = _name_index(frames.individuals, individual, "individual")
        confidence[ind] = 1.0
        if keypoint is not None:
            confidence[ind, _name_index(frames.skeleton.keypoints, keypoint, "keypoint")] = 0.0
    return draw_poses(image, position, confidence, frames.skeleton, radius=radius, line_width=max(1.5, scale * 0.75))


def click_to_pixel(
    x: float, y: float, shown_size: tuple[float, float], image_size: tuple[int, int]
) -> tuple[float, float]:
    """Map a click on a displayed (possibly resized) image back to image pixel coordinates.

    Parameters
    ----------
    x, y
        Click position in screen pixels from the top-left corner of the shown
        image (``offsetX``/``offsetY``, as ``streamlit-image-coordinates`` reports).
    shown_size
        ``(width, height)`` the image was shown at, in screen pixels.
    image_size
        ``(width, height)`` of the image itself.

    Returns
    -------
    tuple of float
        ``(x, y)`` in image pixels, pixel centres at integers: the centre of
        the clicked screen pixel, clipped to the image and rounded to 0.01.

    Examples
    --------
    >>> click_to_pixel(0, 0, (512, 512), (256, 256))  # first screen pixel: a quarter into image pixel 0
    (-0.25, -0.25)
    >>> click_to_pixel(201, 101, (512, 512), (256, 256))
    (100.25, 50.25)
    """
    (shown_w, shown_h), (width, height) = shown_size, image_size
    if min(shown_w, shown_h, width, height) <= 0:
        raise SchemaError(f"sizes must be positive, got shown {shown_size} and image {image_size}")
    u = (float(x) + 0.5) * width / float(shown_w) - 0.5
    v = (float(y) + 0.5) * height / float(shown_h) - 0.5
    u = float(np.clip(u, -0.5, width - 0.5))
    v = float(np.clip(v, -0.5, height - 0.5))
    return round(u, 2), round(v, 2)


# --------------------------------------------------------------------------- pose review
def pose_quality_table(ds: xr.Dataset, threshold: float = 0.5) -> pd.DataFrame:
    """Report how complete and confident the (cleaned) poses of a session are, per individual and keypoint.

    Parameters
    ----------
    ds
        Pose Dataset with ``position`` ``(time, space, keypoint, individual)``
        and optionally ``confidence`` ``(time, keypoint, individual)``.
    threshold
        Confidence below which a frame counts as low-confidence.

    Returns
    -------
    pandas.DataFrame
        One row per individual and keypoint: ``individual``, ``keypoint``,
        ``missing_share`` (share of frames whose position is NaN, e.g. masked
        by cleaning), ``mean_confidence`` and ``low_confidence_share`` (share
        of frames with a position and a confidence below ``threshold``; both
        NaN without confidence).
    """
    if "position" not in ds:
        raise SchemaError(f"the poses have no 'position' variable; they have {list(ds.data_vars)}")
    check_dims(ds["position"], POSITION_DIMS, name="position")
    pos = ds["position"].transpose("time", "keypoint", "individual", "space").values
    missing = np.isnan(pos).any(axis=3)  # (time, keypoint, individual)
    n_time = max(pos.shape[0], 1)
    if "confidence" in ds:
        conf = ds["confidence"].transpose("time", "keypoint", "individual").values.astype(np.float64)
        valid = ~np.isnan(conf)
        count = valid.sum(axis=0)
        mean = np.where(count > 0, np.where(valid, conf, 0.0).sum(axis=0) / np.maximum(count, 1), np.nan)
        low = ((conf < threshold) & ~missing).sum(axis=0) / n_time
    else:
        mean = low = np.full(pos.shape[1:3], np.nan)
    keypoints = [str(k) for k in ds["keypoint"].values]
    individuals = [str(i) for i in ds["individual"].values]
    rows = [
        {
            "individual": ind,
            "keypoint": kp,
            "missing_share": round(float(missing[:, k, i].sum() / n_time), 4),
            "mean_confidence": round(float(mean[k, i]), 4),
            "low_confidence_share": round(float(low[k, i]), 4),
        }
        for i, ind in enumerate(individuals)
        for k, kp in enumerate(keypoints)
    ]
    return pd.DataFrame(
        rows, columns=["individual", "keypoint", "missing_share", "mean_confidence", "low_confidence_share"]
    )


def processing_log_table(ds: xr.Dataset | xr.DataArray) -> pd.DataFrame:
    """List the processing steps recorded in ``attrs["log"]``: ``operation``, ``datetime`` and ``parameters`` (JSON)."""
    rows = []
    for entry in get_log(ds):
        entry = dict(entry)
        operation = entry.pop("operation", "")
        when = entry.pop("datetime", "")
        entry.pop("behaviorlab_version", None)
        rows.append({"operation": operation, "datetime": when, "parameters": json.dumps(entry, default=repr)})
    return pd.DataFrame(rows, columns=["operation", "datetime", "parameters"])
