"""Labeled videos: keypoints and skeletons drawn over the video frames.

:func:`draw_poses` draws one frame with plain numpy: anti-aliased filled
discs for keypoints (coloured by confidence, red -> yellow -> green, with a
thin dark rim so they show on any background), anti-aliased lines for
skeleton edges (one colour per individual) and optional fading trails of
the last positions.  :func:`render_poses` streams a video through it, batch by
batch, into an H.264 MP4 written atomically by
:class:`~behaviorlab.io.video_write.VideoWriter`, so memory holds one batch of
frames, never the whole video.

Coordinates are ``(x, y)`` pixels with pixel centres at integers, origin at
the top-left, as everywhere in behaviorlab.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from behaviorlab.errors import FileFormatError, SchemaError
from behaviorlab.io.load import load_poses
from behaviorlab.io.video import VideoReader
from behaviorlab.io.video_write import VideoWriter
from behaviorlab.schema import POSITION_DIMS, Skeleton, as_poses, check_dims, get_skeleton, pose_frame_numbers

__all__ = [
    "INDIVIDUAL_COLORS",
    "PoseVideoMismatchWarning",
    "confidence_colors",
    "draw_poses",
    "render_poses",
]

log = logging.getLogger(__name__)

#: RGB colours of skeleton edges, one per individual in turn (Tableau 10 without red/green).
INDIVIDUAL_COLORS = np.array(
    [
        [31, 119, 180],  # blue
        [255, 127, 14],  # orange
        [148, 103, 189],  # purple
        [23, 190, 207],  # cyan
        [227, 119, 194],  # pink
        [140, 86, 75],  # brown
        [188, 189, 34],  # olive
        [127, 127, 127],  # grey
    ],
    dtype=np.float32,
)
_CONFIDENCE_STOPS = np.array([[220, 20, 20], [240, 220, 20], [20, 200, 40]], dtype=np.float32)  # red, yellow, green
_UNKNOWN_COLOR = np.array([245, 245, 245], dtype=np.float32)  # NaN confidence (e.g. hand labels): white
_RIM_COLOR = np.array([0, 0, 0], dtype=np.float32)


class PoseVideoMismatchWarning(UserWarning):
    """The poses and the video they are drawn on cover different numbers of frames."""


# --------------------------------------------------------------------------- colours
def confidence_colors(confidence: np.ndarray) -> np.ndarray:
    """RGB colours for confidences: 0 red, 0.5 yellow, 1 green (clipped); NaN white.

    Parameters
    ----------
    confidence
        Any shape ``S``.

    Returns
    -------
    numpy.ndarray
        float32 ``(*S, 3)`` in ``[0, 255]``.
    """
    conf = np.asarray(confidence, dtype=np.float64)
    c = np.clip(np.nan_to_num(conf, nan=0.0), 0.0, 1.0)[..., None] * 2.0
    low, high = _CONFIDENCE_STOPS[0], _CONFIDENCE_STOPS[1]
    out = np.where(c <= 1.0, low + c * (high - low), high + (c - 1.0) * (_CONFIDENCE_STOPS[2] - high))
    out[np.isnan(conf)] = _UNKNOWN_COLOR
    return out.astype(np.float32)


# --------------------------------------------------------------------------- primitives
def _box(img: np.ndarray, x0: float, y0: float, x1: float, y1: float) -> tuple[slice, slice, np.ndarray, np.ndarray]:
    """Pixel window covering ``[x0, x1] x [y0, y1]`` (clipped to the image) and its pixel-centre grids."""
    height, width = img.shape[:2]
    c0, c1 = max(int(np.floor(x0)), 0), min(int(np.ceil(x1)) + 1, width)
    r0, r1 = max(int(np.floor(y0)), 0), min(int(np.ceil(y1)) + 1, height)
    ys = np.arange(r0, r1, dtype=np.float32)[:, None]
    xs = np.arange(c0, c1, dtype=np.float32)[None, :]
    return slice(r0, r1), slice(c0, c1), xs, ys


def _blend(img: np.ndarray, rows: slice, cols: slice, coverage: np.ndarray, color: np.ndarray) -> None:
    if coverage.size == 0:
        return
    patch = img[rows, cols]
    patch += coverage[..., None] * (color - patch)


def _disc(img: np.ndarray, x: float, y: float, radius: float, color: np.ndarray, alpha: float = 1.0) -> None:
    """Blend an anti-aliased filled disc into float image ``img`` ``(H, W, 3)`` in place."""
    rows, cols, xs, ys = _box(img, x - radius - 1, y - radius - 1, x + radius + 1, y + radius + 1)
    dist = np.sqrt((xs - x) ** 2 + (ys - y) ** 2)
    _blend(img, rows, cols, np.clip(radius + 0.5 - dist, 0.0, 1.0) * alpha, color)


def _line(img: np.ndarray, a: np.ndarray, b: np.ndarray, width: float, color: np.ndarray, alpha: float = 1.0) -> None:
    """Blend an anti-aliased line of ``width`` pixels from ``a`` to ``b`` (round ends) into ``img`` in place."""
    half = width / 2.0
    rows, cols, xs, ys = _box(
        img,
        min(a[0], b[0]) - half - 1,
        min(a[1], b[1]) - half - 1,
        max(a[0], b[0]) + half + 1,
        max(a[1], b[1]) + half + 1,
    )
    dx, dy = float(b[0] - a[0]), float(b[1] - a[1])
    length2 = dx * dx + dy * dy
    if length2 > 0:
        t = np.clip(((xs - a[0]) * dx + (ys - a[1]) * dy) / length2, 0.0, 1.0)
    else:
        t = np.zeros((1, 1), dtype=np.float32)
    dist = np.sqrt((xs - a[0] - t * dx) ** 2 + (ys - a[1] - t * dy) ** 2)
    _blend(img, rows, cols, np.clip(half + 0.5 - dist, 0.0, 1.0) * alpha, color)


# --------------------------------------------------------------------------- one frame
def draw_poses(
    frame: np.ndarray,
    position: np.ndarray,
    confidence: np.ndarray | None = None,
    skeleton: Skeleton | None = None,
    *,
    trail: np.ndarray | None = None,
    trail_confidence: np.ndarray | None = None,
    min_confidence: float | None = None,
    radius: float = 3.0,
    line_width: float = 1.5,
) -> np.ndarray:
    """Draw keypoints, skeleton edges and trails of several individuals on one frame.

    Parameters
    ----------
    frame
        uint8 ``(H, W)``, ``(H, W, 1)`` or ``(H, W, 3)``; not modified.
    position
        ``(n_individuals, n_keypoints, 2)`` ``(x, y)`` pixels; NaN points are skipped.
    confidence
        ``(n_individuals, n_keypoints)``; colours the keypoints (NaN: white).
    skeleton
        Edges to draw (keypoints in the order of axis 1); none when omitted.
    trail
        Earlier positions ``(n_steps, n_individuals, n_keypoints, 2)``, oldest
        first, drawn as lines fading towards the oldest and ending at ``position``.
    trail_confidence
        Confidence of ``trail`` ``(n_steps, n_individuals, n_keypoints)``; points
        below ``min_confidence`` break the trail.
    min_confidence
        Keypoints with a lower confidence are not drawn (nor their edges).
    radius
        Keypoint disc radius in pixels.
    line_width
        Edge and trail width in pixels.

    Returns
    -------
    numpy.ndarray
        A new uint8 ``(H, W, 3)`` RGB frame.
    """
    frame = np.asarray(frame)
    if frame.dtype != np.uint8 or frame.ndim not in (2, 3):
        raise SchemaError(f"frame must be a uint8 (H, W[, C]) image, got {frame.dtype} {frame.shape}")
    if frame.ndim == 2:
        frame = frame[:, :, None]
    if frame.shape[2] == 1:
        frame = np.repeat(frame, 3, axis=2)
    if frame.shape[2] != 3:
        raise SchemaError(f"frame must have 1 or 3 channels, got {frame.shape[2]}")
    position = np.asarray(position, dtype=np.float64)
    if position.ndim != 3 or position.shape[2] != 2:
        raise SchemaError(f"position must have shape (n_individuals, n_keypoints, 2), got {position.shape}")
    n_ind, n_kp = position.shape[:2]
    conf = np.full((n_ind, n_kp), np.nan) if confidence is None else np.asarray(confidence, dtype=np.float64)
    if conf.shape != (n_ind, n_kp):
        raise SchemaError(
            f"confidence must have shape (n_individuals, n_keypoints) = {(n_ind, n_kp)}, got {conf.shape}"
        )
    if skeleton is not None and skeleton.n_keypoints != n_kp:
        raise SchemaError(f"the skeleton has {skeleton.n_keypoints} keypoints, position {n_kp}")

    def shown(pos: np.ndarray, c: np.ndarray) -> np.ndarray:
        ok = np.isfinite(pos).all(axis=-1)
        if min_confidence is not None:
            ok &= ~(c < min_confidence)  # NaN confidence (unknown) is drawn
        return ok

    visible = shown(position, conf)
    img = frame.astype(np.float32)
    if trail is not None and len(trail):
        trail = np.asarray(trail, dtype=np.float64)
        if trail.shape[1:] != position.shape:
            raise SchemaError(f"trail must have shape (n_steps, *{position.shape}), got {trail.shape}")
        tconf = np.full(trail.shape[:3], np.nan) if trail_confidence is None else np.asarray(trail_confidence)
        path = np.concatenate([trail, position[None]])
        path_ok = np.concatenate([shown(trail, tconf), visible[None]])
        path_conf = np.concatenate([tconf, conf[None]])
        n_steps = len(path) - 1
        for s in range(n_steps):
            alpha = 0.8 * (s + 1) / n_steps
            colors = confidence_colors(path_conf[s + 1])
            for i, k in zip(*np.nonzero(path_ok[s] & path_ok[s + 1]), strict=True):
                _line(img, path[s, i, k], path[s + 1, i, k], line_width, colors[i, k], alpha)
    if skeleton is not None:
        edges = skeleton.edge_indices()
        for i in range(n_ind):
            color = INDIVIDUAL_COLORS[i % len(INDIVIDUAL_COLORS)]
            for a, b in edges:
                if visible[i, a] and visible[i, b]:
                    _line(img, position[i, a], position[i, b], line_width, color)
    colors = confidence_colors(conf)
    for i, k in zip(*np.nonzero(visible), strict=True):
        x, y = position[i, k]
        _disc(img, x, y, radius + 1.0, _RIM_COLOR, 0.6)
        _disc(img, x, y, radius, colors[i, k])
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- a video
def render_poses(
    poses: xr.Dataset | str | Path,
    video: str | Path,
    out: str | Path,
    *,
    trail: int = 0,
    start: int = 0,
    end: int | None = None,
    min_confidence: float | None = None,
    skeleton: Skeleton | None = None,
    radius: float = 3.0,
    line_width: float = 1.5,
    crf: int = 18,
    preset: str = "veryfast",
    batch_size: int = 64,
) -> Path:
    """Write a copy of ``video`` with the poses drawn over it.

    Frames are decoded, drawn and encoded batch by batch; ``out`` appears
    (atomically) only when complete.  Pose rows are matched to video frames
    by their ``time`` coordinate (see
    :func:`~behaviorlab.schema.pose_frame_numbers`); frames without poses
    are copied undrawn.

    Parameters
    ----------
    poses
        Pose Dataset, or a pose file that :func:`behaviorlab.io.load.load_poses`
        reads.  Not modified.
    video
        The video the poses belong to.
    out
        Destination ``.mp4``; same size and frame rate as ``video``.
    trail
        Also draw each keypoint's path over the last ``trail`` frames, fading.
    start, end
        Video frames ``start:end`` to render (``end=None``: up to the last
        frame that both the video and the poses cover).
    min_confidence
        Do not draw keypoints with a lower confidence.
    skeleton
        Edges to draw; the poses' ``skeleton`` attr when omitted (no edges if
        neither).
    radius, line_width
        Keypoint disc radius and line width in pixels.
    crf, preset
        H.264 quality and speed (see :class:`~behaviorlab.io.video_write.VideoWriter`).
    batch_size
        Frames decoded at a time.

    Returns
    -------
    Path
        ``out``.

    Warns
    -----
    PoseVideoMismatchWarning
        When the poses and the video have different lengths (``end`` not
        given): the overlap is rendered.

    Raises
    ------
    FileFormatError
        When ``start``/``end`` lie outside the video, or the poses cover none
        of the frames to render (each message names both files).
    """
    if isinstance(poses, str | Path):
        poses_name = str(poses)
        poses = load_poses(poses)
    else:
        poses_name = str(poses.attrs.get("source_file", "the poses"))
        poses = as_poses(poses)
    check_dims(poses, POSITION_DIMS, name=poses_name)
    if int(trail) < 0:
        raise ValueError(f"trail must be >= 0 frames, got {trail}")
    video = Path(video)
    skeleton = skeleton if skeleton is not None else get_skeleton(poses)
    if skeleton is not None:
        skeleton.check_keypoints([str(k) for k in poses["keypoint"].values], source=poses_name)
    frames = pose_frame_numbers(poses)
    position = poses["position"].sel(space=["x", "y"]).transpose("time", "individual", "keypoint", "space").values
    confidence = poses["confidence"].transpose("time", "individual", "keypoint").values
    row_of = np.full(int(frames.max()) + 1 if len(frames) else 0, -1, dtype=np.int64)
    row_of[frames] = np.arange(len(frames))

    with VideoReader(video) as reader:
        n_video = reader.n_frames
        pose_end = int(frames[-1]) + 1 if len(frames) else 0
        if end is None:
            if pose_end != n_video:
                warnings.warn(
                    PoseVideoMismatchWarning(
                        f"{poses_name} cover frames {int(frames[0]) if len(frames) else 0}-{pose_end - 1} but "
                        f"{video} has {n_video} frames; rendering frames {start}-{min(n_video, pose_end) - 1}. "
                        "Check that the poses belong to this video, or pass end explicitly"
                    ),
                    stacklevel=2,
                )
            end = min(n_video, pose_end)
        if not 0 <= start < end <= n_video:
            raise FileFormatError(
                video,
                f"cannot render frames {start}-{end - 1}: the video has {n_video} frames "
                f"and {poses_name} cover frames up to {pose_end - 1}",
            )
        if not ((frames >= start) & (frames < end)).any():
            raise FileFormatError(video, f"{poses_name} hold no poses for frames {start}-{end - 1}")
        with VideoWriter(out, reader.fps, crf=crf, preset=preset) as writer:
            for first, batch in reader.iter_batches(batch_size, start, end):
                for offset, image in enumerate(batch):
                    writer.write(
                        _draw_frame(
                            image,
                            first + offset,
                            row_of,
                            position,
                            confidence,
                            skeleton,
                            trail=int(trail),
                            min_confidence=min_confidence,
                            radius=radius,
                            line_width=line_width,
                        )
                    )
    log.info("rendered frames %d-%d of %s with %s to %s", start, end - 1, video, poses_name, out)
    return Path(out)


def _draw_frame(
    image: np.ndarray,
    frame: int,
    row_of: np.ndarray,
    position: np.ndarray,
    confidence: np.ndarray,
    skeleton: Skeleton | None,
    *,
    trail: int,
    min_confidence: float | None,
    radius: float,
    line_width: float,
) -> np.ndarray:
    """Frame ``frame`` of the video with its poses (and the trail of the frames before) drawn."""
    row = int(row_of[frame]) if frame < len(row_of) else -1
    if row < 0:
        return image if image.shape[2] == 3 else np.repeat(image, 3, axis=2)
    past = _trail_rows(frame, row_of, trail)
    return draw_poses(
        image,
        position[row],
        confidence[row],
        skeleton,
        trail=position[past] if past.size else None,
        trail_confidence=confidence[past] if past.size else None,
        min_confidence=min_confidence,
        radius=radius,
        line_width=line_width,
    )


def _trail_rows(frame: int, row_of: np.ndarray, trail: int) -> np.ndarray:
    """Pose rows of the ``trail`` frames before ``frame``, oldest first, stopping at a frame without poses."""
    rows: Sequence[int] = []
    for f in range(frame - 1, max(frame - trail, 0) - 1, -1):
        if f >= len(row_of) or row_of[f] < 0:
            break
        rows = [int(row_of[f]), *rows]
    return np.asarray(rows, dtype=np.int64)
