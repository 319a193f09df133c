"""Frames to label: uniform and k-means selection from videos, written as an empty labeling set.

The first step of a pose project (as in LEAP and DeepLabCut): choose frames
that cover what the camera saw, then label them by hand.

1. :func:`video_features` streams each video in batches (never the whole file
   in memory), converts frames to grayscale and shrinks them to about
   ``size`` pixels on the longer side by area averaging.
2. :func:`select_frames` picks ``n`` frames: ``"uniform"`` spaces them evenly
   over all videos; ``"kmeans"`` optionally reduces the shrunk frames with PCA,
   clusters them with scikit-learn's :class:`~sklearn.cluster.MiniBatchKMeans`
   and draws frames from every cluster (seeded), so rare scenes are not missed.
3. :func:`make_labeling_set` reads those frames at full resolution into a
   :class:`~behaviorlab.io.labeled_frames.LabeledFrames` whose keypoints are
   all NaN (unlabeled), with sources ``"video.mp4#frame=123"``;
   :func:`write_labeling_set` saves it as ``*.labels.h5`` (which
   :func:`behaviorlab.pose.train.train_model` reads once labeled) and can
   export a DeepLabCut project or a SLEAP package for labeling in their GUIs.

The helpers :func:`frame_source` and :func:`parse_frame_source` (with
:func:`behaviorlab.schema.pose_frame_numbers`) name video frames the same way
everywhere (refinement and rendering use them too).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import Literal

import h5py
import numpy as np
import pandas as pd
from sklearn.cluster import MiniBatchKMeans
from sklearn.decomposition import PCA

from behaviorlab.errors import FileFormatError, SchemaError
from behaviorlab.io.labeled_frames import (
    FORMAT_NAME,
    LabeledFrames,
    load_labeled_frames,
    save_labeled_frames,
    to_dlc_project,
    to_sleap_package,
)
from behaviorlab.io.load import load_poses
from behaviorlab.io.video import VideoReader, probe_video
from behaviorlab.schema import Skeleton, get_skeleton

__all__ = [
    "EXPORT_FORMATS",
    "downsample_frames",
    "frame_source",
    "make_labeling_set",
    "parse_frame_source",
    "read_skeleton",
    "select_frames",
    "video_features",
    "write_labeling_set",
]

log = logging.getLogger(__name__)

#: Formats :func:`write_labeling_set` can export besides ``*.labels.h5``.
EXPORT_FORMATS = ("dlc", "sleap")
_METHODS = ("kmeans", "uniform")
_PCA_FIT_ROWS = 10_000


# --------------------------------------------------------------------------- frame names
def frame_source(video: str | Path, frame: int) -> str:
    """Name frame ``frame`` of ``video`` as a source: ``"<file name>#frame=<frame>"``.

    Parameters
    ----------
    video
        Video path; only its file name is kept, so labels stay valid when the
        project folder moves.
    frame
        Frame index, from 0.

    Returns
    -------
    str
        E.g. ``"session_a.mp4#frame=123"``.

    Examples
    --------
    >>> frame_source("videos/session_a.mp4", 123)
    'session_a.mp4#frame=123'
    """
    return f"{Path(video).name}#frame={int(frame)}"


_DLC_IMAGE = re.compile(r"(?:^|/)labeled-data/(?P<video>[^/]+)/img(?P<frame>\d+)\.png$")


def parse_frame_source(source: str) -> tuple[str, int] | None:
    """Video stem and frame index named by a frame source, or ``None`` if it names no video frame.

    Understands ``"video.mp4#frame=N"`` (behaviorlab, SLEAP) and
    ``"labeled-data/video/imgNNNNN.png"`` (DeepLabCut's extracted frames and
    :func:`~behaviorlab.io.labeled_frames.to_dlc_project`), so a frame keeps its
    identity through a round trip via DeepLabCut.

    Parameters
    ----------
    source
        One entry of :attr:`LabeledFrames.sources`.

    Returns
    -------
    tuple of (str, int) or None
        ``(video file stem, frame index)``.

    Examples
    --------
    >>> parse_frame_source("session_a.mp4#frame=12"), parse_frame_source("labeled-data/session_a/img00012.png")
    (('session_a', 12), ('session_a', 12))
    """
    text = str(source).replace("\\", "/")
    if "#frame=" in text:
        video, frame = text.rsplit("#frame=", 1)
        if frame.isdigit():
            return PurePosixPath(video).stem, int(frame)
        return None
    match = _DLC_IMAGE.search(text)
    if match:
        return match["video"], int(match["frame"])
    return None


# --------------------------------------------------------------------------- skeleton
def read_skeleton(path: str | Path) -> tuple[Skeleton, tuple[str, ...] | None]:
    """Read the skeleton (and individuals, where stored) of a model folder, labels file or pose file.

    Parameters
    ----------
    path
        A model folder written by :func:`behaviorlab.pose.train.train_model`
        (its ``pose_config.json``), a labeled-frames file or project that
        :func:`~behaviorlab.io.labeled_frames.load_labeled_frames` reads, or a
        pose file that :func:`behaviorlab.io.load.load_poses` reads.

    Returns
    -------
    skeleton : Skeleton
        Keypoints (in order), edges and symmetry.
    individuals : tuple of str or None
        The individuals of a labels or pose file; ``None`` for a model.
    """
    path = Path(path)
    if not path.exists():
        raise FileFormatError(path, "not found; --skeleton-from needs a model folder, a labels file or a pose file")
    if path.is_dir() and (path / "pose_config.json").is_file():
        config_path = path / "pose_config.json"
        try:
            return Skeleton.from_dict(json.loads(config_path.read_text())["skeleton"]), None
        except (KeyError, json.JSONDecodeError, SchemaError) as err:
            raise FileFormatError(config_path, f"holds no valid skeleton: {err}") from None
    if path.suffix.lower() in (".h5", ".hdf5"):
        with h5py.File(path, "r") as f:
            if f.attrs.get("format") == FORMAT_NAME:  # read the names without the images
                return Skeleton.from_json(f.attrs["skeleton"]), tuple(f["individuals"].asstr()[()])
    if path.suffix.lower() in (".nc", ".nc4", ".netcdf", ".nwb", ".csv"):
        poses = load_poses(path)
        names = tuple(str(k) for k in poses["keypoint"].values)
        return get_skeleton(poses) or Skeleton(names), tuple(str(i) for i in poses["individual"].values)
    frames = load_labeled_frames(path)
    return frames.skeleton, frames.individuals


# --------------------------------------------------------------------------- features
def downsample_frames(frames: np.ndarray, size: int) -> np.ndarray:
    """Grayscale, area-averaged thumbnails about ``size`` pixels on the longer side.

    Parameters
    ----------
    frames
        uint8 ``(n, height, width, channels)``; channels are averaged.
    size
        Pixels on the longer side of the result (the aspect ratio is kept);
        frames already that small are only converted to grayscale.

    Returns
    -------
    numpy.ndarray
        float32 ``(n, h, w)`` in ``[0, 255]``, ``max(h, w) == min(size, max(height, width))``.
    """
    frames = np.asarray(frames)
    if frames.ndim != 4:
        raise SchemaError(f"frames must have shape (n, height, width, channels), got {frames.shape}")
    if int(size) < 1:
        raise ValueError(f"size must be at least 1, got {size}")
    _, height, width, _ = frames.shape
    scale = min(1.0, int(size) / max(height, width))
    out_h, out_w = max(1, round(height * scale)), max(1, round(width * scale))
    rows = np.linspace(0, height, out_h + 1).astype(np.int64)
    cols = np.linspace(0, width, out_w + 1).astype(np.int64)
    gray = frames.mean(axis=3, dtype=np.float32)
    summed = np.add.reduceat(np.add.reduceat(gray, rows[:-1], axis=1), cols[:-1], axis=2)
    return summed / (np.diff(rows)[:, None] * np.diff(cols)[None, :]).astype(np.float32)


def video_features(
    video: str | Path, *, size: int = 32, step: int = 1, batch_size: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """Shrunk grayscale frames of a video, decoded in one streaming pass.

    Parameters
    ----------
    video
        Video file.
    size
        Pixels on the longer side of each thumbnail (see :func:`downsample_frames`).
    step
        Keep every ``step``-th frame (0, step, 2 * step, ...).
    batch_size
        Frames decoded at a time; memory holds one batch at full size.

    Returns
    -------
    frames : numpy.ndarray
        int64 ``(n_kept,)``: the frame indices.
    features : numpy.ndarray
        uint8 ``(n_kept, h * w)``: the thumbnails, one row per frame.
    """
    if int(step) < 1:
        raise ValueError(f"step must be at least 1, got {step}")
    indices, rows = [], []
    with VideoReader(video, grayscale=True) as reader:
        for first, batch in reader.iter_batches(batch_size, on_truncated="warn"):
            keep = np.flatnonzero((first + np.arange(len(batch))) % step == 0)
            if keep.size:
                thumbs = downsample_frames(batch[keep], size)
                rows.append(np.rint(thumbs.reshape(len(keep), -1)).astype(np.uint8))
                indices.append(first + keep)
    if not rows:
        raise FileFormatError(video, "no frames could be decoded")
    return np.concatenate(indices).astype(np.int64), np.concatenate(rows)


# --------------------------------------------------------------------------- selection
def _as_paths(videos: str | Path | Sequence[str | Path]) -> list[Path]:
    paths = [Path(videos)] if isinstance(videos, str | Path) else [Path(v) for v in videos]
    if not paths:
        raise ValueError("give at least one video")
    names = [p.name for p in paths]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise SchemaError(
            f"several videos share the file name(s) {dupes}; frame sources name videos by file name, "
            "so rename them (e.g. prefix the session) before selecting frames"
        )
    return paths


def _allocate(sizes: np.ndarray, n: int) -> np.ndarray:
    """Frames to draw from each cluster: one per cluster in turn, the fullest first, until ``n``."""
    quota = np.zeros_like(sizes)
    remaining = n
    while remaining > 0:
        left = sizes - quota
        order = np.argsort(-left, kind="stable")
        take = order[left[order] > 0][:remaining]
        if take.size == 0:  # cannot happen while n <= sizes.sum()
            raise ValueError(f"cannot draw {n} frames from clusters of sizes {sizes.tolist()}")
        quota[take] += 1
        remaining -= take.size
    return quota


def _kmeans_pick(
    features: np.ndarray, n: int, n_clusters: int, n_components: int | None, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of the picked frames and their cluster labels."""
    rng = np.random.default_rng(seed)
    n_rows = len(features)
    data: np.ndarray
    if n_components:
        k = min(int(n_components), n_rows, features.shape[1])
        fit_rows = np.sort(rng.choice(n_rows, min(n_rows, _PCA_FIT_ROWS), replace=False))
        pca = PCA(n_components=k, random_state=seed).fit(features[fit_rows].astype(np.float32))
        data = np.concatenate(
            [pca.transform(features[i : i + _PCA_FIT_ROWS].astype(np.float32)) for i in range(0, n_rows, _PCA_FIT_ROWS)]
        ).astype(np.float32)
    else:
        data = features.astype(np.float32)
    kmeans = MiniBatchKMeans(
        n_clusters=n_clusters, random_state=seed, n_init=3, batch_size=max(1024, 4 * n_clusters)
    ).fit(data)
    labels = kmeans.predict(data)
    quota = _allocate(np.bincount(labels, minlength=n_clusters), n)
    picks = [rng.choice(np.flatnonzero(labels == c), q, replace=False) for c, q in enumerate(quota) if q]
    rows = np.sort(np.concatenate(picks))
    return rows, labels[rows]


def select_frames(
    videos: str | Path | Sequence[str | Path],
    n: int,
    *,
    method: Literal["kmeans", "uniform"] = "kmeans",
    n_clusters: int | None = None,
    size: int = 32,
    n_components: int | None = 50,
    step: int = 1,
    seed: int = 0,
    batch_size: int = 256,
) -> pd.DataFrame:
    """Choose ``n`` frames to label from one or more videos.

    Parameters
    ----------
    videos
        One video path or several.  File names must be unique (they name the frames).
    n
        Total number of frames to choose, over all videos.
    method
        ``"uniform"``: evenly spaced over the videos joined end to end (each
        frame at the centre of one of ``n`` equal stretches; no decoding).
        ``"kmeans"``: cluster shrunk grayscale frames of all videos together
        into ``n_clusters`` clusters and draw frames from every cluster in
        turn, the largest first, at random within a cluster (as DeepLabCut's
        ``kmeans`` extraction and LEAP's cluster sampling do).
    n_clusters
        Number of clusters (k-means only); ``n`` by default, i.e. one frame
        per cluster.  Fewer clusters give several frames per cluster.
    size
        Thumbnail size for clustering, pixels on the longer side.
    n_components
        Principal components kept before clustering; ``None`` or 0 clusters
        the thumbnails directly.
    step
        Consider only every ``step``-th frame (k-means only; all frames are
        still decoded).
    seed
        Seed of PCA, k-means and the draws within clusters.
    batch_size
        Frames decoded at a time.

    Returns
    -------
    pandas.DataFrame
        One row per chosen frame, sorted by video (in the order given) and
        frame: ``video`` (the path as given, str), ``frame`` (int) and
        ``cluster`` (int; -1 for uniform sampling).

    Raises
    ------
    ValueError
        If ``n`` is not positive or exceeds the frames available.
    """
    paths = _as_paths(videos)
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    n = int(n)
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if method == "uniform":
        lengths = np.array([probe_video(p).n_frames for p in paths], dtype=np.int64)
        total = int(lengths.sum())
        if n > total:
            raise ValueError(f"cannot choose {n} frames from {total} frames in {[str(p) for p in paths]}")
        positions = np.floor((np.arange(n) + 0.5) * total / n).astype(np.int64)
        starts = np.concatenate([[0], np.cumsum(lengths)])
        which = np.searchsorted(starts, positions, side="right") - 1
        table = pd.DataFrame(
            {"video": [str(paths[w]) for w in which], "frame": positions - starts[which], "cluster": -1}
        )
    else:
        n_clusters = n if n_clusters is None else int(n_clusters)
        if not 1 <= n_clusters <= n:
            raise ValueError(f"n_clusters must lie in [1, n={n}], got {n_clusters}")
        per_video = [video_features(p, size=size, step=step, batch_size=batch_size) for p in paths]
        shapes = {f.shape[1] for _, f in per_video}
        if len(shapes) > 1:
            raise SchemaError(
                f"the videos {[str(p) for p in paths]} have different aspect ratios; select frames from each separately"
            )
        frames = np.concatenate([f for f, _ in per_video])
        owner = np.concatenate([np.full(len(f), i) for i, (f, _) in enumerate(per_video)])
        features = np.concatenate([x for _, x in per_video])
        if n > len(frames):
            raise ValueError(
                f"cannot choose {n} frames from the {len(frames)} candidate frames of {[str(p) for p in paths]}"
                + (f" (every {step}th frame)" if step > 1 else "")
            )
        rows, labels = _kmeans_pick(features, n, n_clusters, n_components, seed)
        table = pd.DataFrame({"video": [str(paths[w]) for w in owner[rows]], "frame": frames[rows], "cluster": labels})
    order = {str(p): i for i, p in enumerate(paths)}
    table = table.sort_values(["video", "frame"], key=lambda s: s.map(order) if s.name == "video" else s)
    table = table.reset_index(drop=True).astype({"frame": np.int64, "cluster": np.int64})
    log.info("selected %d frames from %d video(s) by %s sampling", len(table), len(paths), method)
    return table


def _read_selected(table: pd.DataFrame, grayscale: bool) -> Iterator[tuple[str, list[np.ndarray]]]:
    for video, group in table.groupby("video", sort=False):
        with VideoReader(video, grayscale=grayscale) as reader:
            images = reader[group["frame"].to_numpy()]
        yield str(video), list(images)


def make_labeling_set(
    videos: str | Path | Sequence[str | Path],
    n: int,
    skeleton: Skeleton | Sequence[str],
    *,
    individuals: Sequence[str] | None = None,
    grayscale: bool = False,
    **select_kwargs: object,
) -> LabeledFrames:
    """Choose frames with :func:`select_frames` and return them as an unlabeled labeling set.

    Parameters
    ----------
    videos
        One video path or several.
    n
        Number of frames.
    skeleton
        The keypoints to label: a :class:`~behaviorlab.schema.Skeleton`
        (e.g. from :func:`read_skeleton`) or a list of keypoint names.
    individuals
        Names of the animals to label in each frame; one, ``id_0``, when omitted.
    grayscale
        Store one-channel images (else RGB as decoded).
    **select_kwargs
        ``method``, ``n_clusters``, ``size``, ``n_components``, ``step``,
        ``seed``, ``batch_size`` of :func:`select_frames`.

    Returns
    -------
    LabeledFrames
        Full-resolution images, keypoints all NaN
        ``(n, n_individuals, n_keypoints, 2)``, sources ``"video.mp4#frame=N"``.
    """
    if not isinstance(skeleton, Skeleton):
        skeleton = Skeleton(skeleton)
    individuals = tuple(individuals) if individuals is not None else ("id_0",)
    table = select_frames(videos, n, **select_kwargs)  # type: ignore[arg-type]
    images: list[np.ndarray] = []
    sources: list[str] = []
    for video, frames in _read_selected(table, grayscale):
        images.extend(frames)
        sources.extend(frame_source(video, f) for f in table.loc[table["video"] == video, "frame"])
    keypoints = np.full((len(images), len(individuals), skeleton.n_keypoints, 2), np.nan)
    return LabeledFrames(images, keypoints, skeleton, individuals, sources)


def _export_path(out: Path, export: str) -> Path:
    stem = out.name.removesuffix(".h5").removesuffix(".labels")
    return out.parent / (f"{stem}_dlc" if export == "dlc" else f"{stem}.pkg.slp")


def write_labeling_set(
    frames: LabeledFrames, out: str | Path, *, export: str | Sequence[str] | None = None
) -> dict[str, Path]:
    """Save labeled frames as ``*.labels.h5`` (atomically) and optionally for a labeling GUI.

    Parameters
    ----------
    frames
        The frames, labeled or not.
    out
        Destination ``*.labels.h5``.
    export
        ``"dlc"``: also a DeepLabCut project ``<stem>_dlc/`` beside ``out``
        (open its ``config.yaml`` in DeepLabCut's labeling GUI);
        ``"sleap"``: also a SLEAP package ``<stem>.pkg.slp`` (open in SLEAP).
        Either reads back with
        :func:`~behaviorlab.io.labeled_frames.load_labeled_frames`.

    Returns
    -------
    dict of str to Path
        ``"labels"`` and each export written (``"dlc"``: the ``config.yaml``;
        ``"sleap"``: the package).
    """
    out = Path(out)
    exports = [export] if isinstance(export, str) else list(export or [])
    unknown = [e for e in exports if e not in EXPORT_FORMATS]
    if unknown:
        raise ValueError(f"export must be among {EXPORT_FORMATS}, got {unknown}")
    written = {"labels": save_labeled_frames(frames, out)}
    for fmt in exports:
        target = _export_path(out, fmt)
        written[fmt] = to_dlc_project(frames, target) if fmt == "dlc" else to_sleap_package(frames, target)
    return written
