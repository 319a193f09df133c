"""SLEAP files (``.slp`` labels, legacy labels ``.h5``, analysis ``.h5``) <-> plain arrays.

Reading: sleap-io parses the metadata (skeleton, tracks, videos, provenance,
format version); the point tables are then gathered with numpy in one pass,
so a 100,000-frame prediction file loads in about a second and coordinates
keep their float64 precision (``Labels.numpy`` returns float32). Rules, as
in the ``movement`` package:

- tracks become individuals; files without tracks put the instances of each
  frame on individuals ``individual_0, individual_1, ...`` in instance order;
- a user (human) instance replaces the predicted instance of the same track
  (or the one it was corrected from) in the same frame;
- predicted point scores become ``confidence``; user points have no score
  (NaN);
- frames absent from the labels are NaN rows, so ``time`` runs over every
  frame from 0 to the last labeled frame (or the video length when known).

Writing goes through :func:`sleap_io.save_slp` with one ``PredictedInstance``
per individual and frame, one ``Track`` per individual, and fps, frame count
and individual names stored in ``Labels.provenance["behaviorlab"]``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import sleap_io as sio
import xarray as xr
from sleap_io.io import slp as sio_slp

from behaviorlab.errors import FileFormatError
from behaviorlab.io._dlc import PoseArrays
from behaviorlab.schema import get_skeleton

__all__ = ["labels_from_poses", "read_sleap_analysis_h5", "read_slp", "sleap_h5_kind", "write_slp"]

logger = logging.getLogger(__name__)

_PROVENANCE_KEY = "behaviorlab"
_USER, _PREDICTED = 0, 1


def sleap_h5_kind(f: h5py.File) -> str | None:
    """``"analysis"`` for a SLEAP analysis file, ``"labels"`` for SLEAP labels in HDF5, else ``None``."""
    if "tracks" in f and "node_names" in f:
        return "analysis"
    if {"frames", "instances", "metadata"} <= set(f.keys()):
        return "labels"
    return None


def _unique_names(names: list[str]) -> list[str]:
    """Make names unique by suffixing repeats (SLEAP allows two tracks with one name)."""
    out: list[str] = []
    for name in names:
        candidate, k = name, 1
        while candidate in out:
            k += 1
            candidate = f"{name}_{k}"
        out.append(candidate)
    return out


def _default_individuals(n: int) -> list[str]:
    return [f"individual_{i}" for i in range(n)]


# --------------------------------------------------------------------------- labels tables
def _gather_points(table: np.ndarray, start: np.ndarray, n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """``(n_instances, n_nodes, 2)`` coordinates (NaN where not visible) and ``(n_instances, n_nodes)`` scores."""
    idx = start[:, None] + np.arange(n_nodes)[None, :]
    rows = table[idx] if len(start) else table[:0].reshape(0, n_nodes)
    xy = np.stack([rows["x"], rows["y"]], axis=-1).astype(np.float64)
    if "visible" in table.dtype.names:
        xy[~rows["visible"].astype(bool)] = np.nan
    has_score = "score" in table.dtype.names
    score = rows["score"].astype(np.float64) if has_score else np.full(rows.shape, np.nan)
    return xy, score


def _labels_tables_to_arrays(
    path: Path,
    f: h5py.File,
    *,
    n_nodes: int,
    track_names: list[str],
    n_frames_min: int = 0,
    legacy_shift: bool = False,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Vectorised ``(time, space, keypoint, individual)`` arrays from the tables of a SLEAP labels file."""
    frames = f["frames"][:]
    instances = f["instances"][:]
    points = f["points"][:] if "points" in f else np.zeros(0, dtype=[("x", "f8"), ("y", "f8")])
    pred_points = f["pred_points"][:] if "pred_points" in f else points
    if len(np.unique(frames["video"])) > 1:
        logger.warning("%s holds several videos; only the first one's poses are loaded", path)
    video_id = frames["video"].min() if len(frames) else 0
    order = np.argsort(frames["frame_id"], kind="stable")
    pos_in_frames = np.searchsorted(frames["frame_id"][order], instances["frame_id"])
    pos_in_frames = np.clip(pos_in_frames, 0, max(len(frames) - 1, 0))
    frame_rows = order[pos_in_frames] if len(frames) else pos_in_frames
    if len(instances) and not np.array_equal(frames["frame_id"][frame_rows], instances["frame_id"]):
        raise FileFormatError(path, "instances refer to frames that are not in the file's frame table")
    keep = frames["video"][frame_rows] == video_id
    instances, frame_rows = instances[keep], frame_rows[keep]
    frame_idx = frames["frame_idx"][frame_rows].astype(np.int64)
    itype = instances["instance_type"].astype(np.int64)
    start = instances["point_id_start"].astype(np.int64)
    length = instances["point_id_end"].astype(np.int64) - start
    if np.any(length != n_nodes):
        raise FileFormatError(
            path, f"instances with {sorted(set(length.tolist()) - {n_nodes})} points for a {n_nodes}-node skeleton"
        )

    xy = np.full((len(instances), n_nodes, 2), np.nan)
    score = np.full((len(instances), n_nodes), np.nan)
    user = itype == _USER
    for mask, table in ((user, points), (~user, pred_points)):
        if mask.any():
            xy[mask], s = _gather_points(table, start[mask], n_nodes)
            if table is pred_points:
                score[mask] = s
    if legacy_shift:  # SLP format < 1.1: (0, 0) was the pixel corner, now it is the pixel centre
        xy -= 0.5

    # drop predicted instances that a user instance in the same frame was corrected from
    if "from_predicted" in instances.dtype.names and user.any():
        corrected = instances["from_predicted"][user]
        corrected = corrected[corrected >= 0]
        replaced = ~user & np.isin(instances["instance_id"], corrected)
    else:
        replaced = np.zeros(len(instances), dtype=bool)

    track = instances["track"].astype(np.int64)
    if track_names:
        ok = ~replaced & (track >= 0)
        n_untracked = int(np.sum(~replaced & (track < 0)))
        if n_untracked:
            logger.warning("%s: %d instances without a track are skipped", path, n_untracked)
        slot = track
        individuals = list(track_names)
    else:
        ok = ~replaced
        # rank within each frame: user instances first, then file order
        sort = np.lexsort((np.arange(len(instances)), itype, frame_idx))
        sort = sort[ok[sort]]
        f_sorted = frame_idx[sort]
        first = np.r_[0, np.flatnonzero(np.diff(f_sorted)) + 1] if len(sort) else np.zeros(0, dtype=np.int64)
        rank = np.arange(len(sort)) - np.repeat(first, np.diff(np.r_[first, len(sort)]))
        slot = np.zeros(len(instances), dtype=np.int64)
        slot[sort] = rank
        individuals = _default_individuals(int(rank.max()) + 1 if len(rank) else 1)
    n_ind = len(individuals)
    n_frames = max(int(frame_idx[ok].max()) + 1 if ok.any() else 0, n_frames_min)
    # one instance per (frame, slot): the user instance wins over a predicted one
    cand = np.flatnonzero(ok)
    key = frame_idx[cand] * n_ind + slot[cand]
    sort = np.lexsort((itype[cand], key))
    chosen = cand[sort][np.unique(key[sort], return_index=True)[1]]

    position = np.full((n_frames, 2, n_nodes, n_ind), np.nan)
    confidence = np.full((n_frames, n_nodes, n_ind), np.nan)
    position[frame_idx[chosen], :, :, slot[chosen]] = xy[chosen].transpose(0, 2, 1)
    confidence[frame_idx[chosen], :, slot[chosen]] = score[chosen]
    return position, confidence, individuals


def _provenance_info(provenance: Any) -> dict[str, Any]:
    info = provenance.get(_PROVENANCE_KEY) if isinstance(provenance, dict) else None
    if isinstance(info, str):
        try:
            info = json.loads(info)
        except json.JSONDecodeError:
            info = None
    return info if isinstance(info, dict) else {}


def read_slp(path: Path) -> PoseArrays:
    """Read a SLEAP labels file (``.slp``, or a pre-2021 labels file saved as ``.h5``).

    Parameters
    ----------
    path
        The labels file.

    Returns
    -------
    PoseArrays
        Position ``(time, space, keypoint, individual)`` and confidence.
    """
    with h5py.File(path, "r") as f:
        has_format_id = "format_id" in f["metadata"].attrs
    if has_format_id:
        labels = sio.load_slp(str(path), open_videos=False, lazy=True)
        skeletons, tracks, videos = labels.skeletons, labels.tracks, labels.videos
        info = _provenance_info(labels.provenance)
        with h5py.File(path, "r") as f:
            format_id = float(f["metadata"].attrs["format_id"])
    else:  # written by SLEAP before format_id existed: sleap_io.load_slp refuses it, its parts still read
        skeletons = sio_slp.read_skeletons(str(path))
        tracks = sio_slp.read_tracks(str(path))
        videos, info, format_id = [], {}, None
    if not skeletons:
        raise FileFormatError(path, "the SLEAP file has no skeleton")
    if len(skeletons) > 1:
        logger.warning("%s has %d skeletons; the last one is used", path, len(skeletons))
    skeleton = skeletons[-1]
    keypoints = [str(n) for n in skeleton.node_names]
    track_names = _unique_names([str(t.name) for t in tracks])
    n_video = 0
    if videos:
        shape = videos[0].shape
        n_video = int(shape[0]) if shape else 0
    n_frames_min = max(n_video, int(info.get("n_frames", 0) or 0))
    with h5py.File(path, "r") as f:
        position, confidence, individuals = _labels_tables_to_arrays(
            path,
            f,
            n_nodes=len(keypoints),
            track_names=track_names,
            n_frames_min=n_frames_min,
            legacy_shift=format_id is not None and format_id < 1.1,
        )
    saved = info.get("individuals")
    if isinstance(saved, list) and len(saved) == len(individuals):
        individuals = [str(s) for s in saved]
    attrs: dict[str, Any] = {}
    if videos and videos[0].filename:
        attrs["video_path"] = str(videos[0].filename)
    return PoseArrays(position, confidence, keypoints, individuals, fps=info.get("fps"), attrs=attrs)


def read_sleap_analysis_h5(path: Path) -> PoseArrays:
    """Read a SLEAP analysis HDF5 file (``tracks``, ``point_scores``, ``node_names``, ``track_names``).

    Parameters
    ----------
    path
        The analysis ``.h5`` file.

    Returns
    -------
    PoseArrays
        Position ``(time, space, keypoint, individual)`` and confidence.
    """
    with h5py.File(path, "r") as f:
        node_names = [n.decode() if isinstance(n, bytes) else str(n) for n in f["node_names"][:]]
        track_names = [n.decode() if isinstance(n, bytes) else str(n) for n in f["track_names"][:]]
        tracks = f["tracks"][:].astype(np.float64)
        scores = f["point_scores"][:].astype(np.float64) if "point_scores" in f else None
        fps = float(f["fps"][()]) if "fps" in f else None
        video_path = f["video_path"][()] if "video_path" in f else None
    n_nodes = len(node_names)
    if tracks.ndim != 4:
        raise FileFormatError(path, f"'tracks' should have 4 dims, got shape {tracks.shape}")
    if tracks.shape[1] in (2, 3) and tracks.shape[2] == n_nodes:  # (tracks, space, nodes, frames): SLEAP's default
        position = tracks.transpose(3, 1, 2, 0)
        confidence = scores.transpose(2, 1, 0) if scores is not None else None
    elif tracks.shape[2] in (2, 3) and tracks.shape[1] == n_nodes:  # saved without transposing
        position = tracks.transpose(0, 2, 1, 3)
        confidence = scores if scores is not None else None
    else:
        raise FileFormatError(path, f"'tracks' of shape {tracks.shape} does not match {n_nodes} node names")
    if confidence is None or confidence.shape != (position.shape[0], n_nodes, position.shape[3]):
        confidence = np.full((position.shape[0], n_nodes, position.shape[3]), np.nan)
    individuals = _unique_names(track_names) if len(track_names) == position.shape[3] else None
    attrs: dict[str, Any] = {}
    if isinstance(video_path, bytes):
        video_path = video_path.decode()
    if isinstance(video_path, str) and video_path:
        attrs["video_path"] = video_path
    return PoseArrays(
        np.ascontiguousarray(position),
        np.ascontiguousarray(confidence),
        node_names,
        individuals or _default_individuals(position.shape[3]),
        fps=fps if fps and np.isfinite(fps) and fps > 0 else None,
        attrs=attrs,
    )


# --------------------------------------------------------------------------- writing
def labels_from_poses(ds: xr.Dataset) -> Any:
    """Build a ``sleap_io.Labels`` with one ``PredictedInstance`` per individual and frame that has data.

    Parameters
    ----------
    ds
        A valid 2-D pose Dataset.

    Returns
    -------
    sleap_io.Labels
        Tracks named after the individuals; point scores from ``confidence``;
        ``provenance["behaviorlab"]`` holds fps, frame count and individual names.
    """
    keypoints = [str(k) for k in ds["keypoint"].values]
    individuals = [str(i) for i in ds["individual"].values]
    ours = get_skeleton(ds)
    edges = [(a, b) for a, b in ours.edges] if ours is not None else []
    symmetries = [(a, b) for a, b in ours.symmetry] if ours is not None else []
    skeleton = sio.Skeleton(
        nodes=keypoints, edges=edges, symmetries=symmetries, name=(ours.name if ours and ours.name else "skeleton")
    )
    tracks = [sio.Track(name=name) for name in individuals]
    video = sio.Video(filename=str(ds.attrs.get("video_path") or "video.mp4"), open_backend=False)
    pos = ds["position"].transpose("time", "individual", "keypoint", "space").to_numpy()
    conf = ds["confidence"].transpose("time", "individual", "keypoint").to_numpy()
    has_data = ~np.all(np.isnan(pos), axis=(2, 3))  # (time, individual)
    frames = []
    for t in np.flatnonzero(has_data.any(axis=1)):
        instances = []
        for i in np.flatnonzero(has_data[t]):
            scores = conf[t, i]
            mean = float(np.nanmean(scores)) if np.any(np.isfinite(scores)) else float("nan")
            instances.append(
                sio.PredictedInstance.from_numpy(
                    pos[t, i], skeleton=skeleton, point_scores=scores, score=mean, track=tracks[i]
                )
            )
        frames.append(sio.LabeledFrame(video=video, frame_idx=int(t), instances=instances))
    labels = sio.Labels(labeled_frames=frames, videos=[video], skeletons=[skeleton], tracks=tracks)
    fps = ds.attrs.get("fps")
    labels.provenance[_PROVENANCE_KEY] = {
        "fps": None if fps is None else float(fps),
        "n_frames": int(ds.sizes["time"]),
        "individuals": individuals,
        "source_software": str(ds.attrs.get("source_software", "unknown")),
    }
    return labels


def write_slp(ds: xr.Dataset, path: Path) -> None:
    """Write ``ds`` as a SLEAP ``.slp`` predictions file at ``path``."""
    if ds.sizes["space"] != 2:
        raise FileFormatError(path, "SLEAP files hold 2-D poses only; this Dataset has 3-D positions")
    sio.save_slp(labels_from_poses(ds), str(path), embed=False, verbose=False)
