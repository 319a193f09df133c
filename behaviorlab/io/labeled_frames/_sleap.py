"""SLEAP labels (``.slp``, ``.pkg.slp``) <-> :class:`LabeledFrames`, through sleap-io."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import sleap_io as sio

from behaviorlab._atomic import atomic_path
from behaviorlab.errors import FileFormatError, SchemaError
from behaviorlab.io.labeled_frames._core import LabeledFrames
from behaviorlab.io.labeled_frames._images import write_png
from behaviorlab.io.video import VideoError, VideoReader
from behaviorlab.schema import Skeleton

__all__ = ["read_sleap", "to_sleap_package"]

logger = logging.getLogger(__name__)


def read_sleap(path: Path, include_predictions: bool) -> LabeledFrames:
    """Read the user-labeled frames (and, if asked, unreplaced predictions) of a ``.slp``/``.pkg.slp``."""
    try:
        labels = sio.load_slp(str(path))
    except Exception as err:  # sleap-io raises many kinds for a corrupt file
        raise FileFormatError(path, f"cannot read the SLEAP file: {err}") from None
    if len(labels.skeletons) != 1:
        raise FileFormatError(path, f"expected one skeleton, found {len(labels.skeletons)}")
    sk = labels.skeletons[0]
    names = [node.name for node in sk.nodes]
    meta = labels.provenance.get("behaviorlab") or {}
    skeleton = _sleap_skeleton(sk, names, meta.get("skeleton"))
    stored_sources = meta.get("sources")
    if not isinstance(stored_sources, list) or len(stored_sources) != len(labels.labeled_frames):
        stored_sources = None
    per_frame = []
    for i, lf in enumerate(labels.labeled_frames):
        instances = list(lf.user_instances) + (list(lf.unused_predictions) if include_predictions else [])
        if instances or stored_sources:  # files we wrote keep their unlabeled frames
            per_frame.append((i, lf, instances))
    if not per_frame and labels.labeled_frames:
        logger.warning("%s: no user-labeled frames; pass include_predictions=True to read predictions", path)
    track_names = [t.name for t in labels.tracks]
    n_untracked = max([sum(inst.track is None for inst in insts) for _, _, insts in per_frame] + [0])
    individuals = track_names + [f"untracked_{j}" if track_names else f"id_{j}" for j in range(n_untracked)]
    if not individuals:
        individuals = ["id_0"]
    keypoints = np.full((len(per_frame), len(individuals), len(names), 2), np.nan)
    images, sources = [], []
    decoded = _frames_from_videos(per_frame)
    for row, (i, lf, instances) in enumerate(per_frame):
        free = len(track_names)
        for inst in instances:
            if inst.track is None:
                slot, free = free, free + 1
            else:
                slot = labels.tracks.index(inst.track)
                if not np.isnan(keypoints[row, slot]).all():
                    raise FileFormatError(path, f"frame {lf.frame_idx} has two instances on track {inst.track.name!r}")
            keypoints[row, slot] = inst.numpy()[:, :2]
        try:
            image = decoded.get(row)
            if image is None:  # not in a video file behaviorlab reads (embedded images, image lists)
                image = lf.image
        except Exception as err:  # missing or unreadable video
            video = lf.video.filename
            raise FileFormatError(path, f"cannot read the image of frame {lf.frame_idx} from {video}: {err}") from None
        if image is None:
            raise FileFormatError(path, f"the image of frame {lf.frame_idx} of {lf.video.filename} is unavailable")
        images.append(np.asarray(image))
        sources.append(stored_sources[i] if stored_sources else _sleap_source(lf))
    return LabeledFrames(images, keypoints, skeleton, individuals, sources)


#: Video files decoded by behaviorlab's own reader (SLEAP's embedded images and image lists go through sleap-io).
_VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".m4v", ".mpg", ".mpeg", ".webm"}


def _frames_from_videos(per_frame: list[tuple[int, Any, list]]) -> dict[int, np.ndarray]:
    """Images of the labeled frames that sit in video files, by row: each video decoded once, in file order.

    sleap-io seeks every frame on its own (minutes for 100 frames of a large
    video); :class:`~behaviorlab.io.video.VideoReader` decodes forward through
    the wanted frames and seeks only past long gaps, as the pose model's
    inference does, so training and inference see the same pixels.  Frames
    it cannot read are left to sleap-io (whose error then names the file).
    """
    wanted: dict[tuple[str, bool], list[tuple[int, int]]] = {}
    for row, (_, lf, _) in enumerate(per_frame):
        video = lf.video
        filename = video.filename
        if not isinstance(filename, str) or Path(filename).suffix.lower() not in _VIDEO_SUFFIXES:
            continue
        if not Path(filename).is_file():
            continue
        try:
            gray = int(video.shape[-1]) == 1
        except Exception:  # sleap-io cannot open it: leave the frame to lf.image and its error
            continue
        wanted.setdefault((filename, gray), []).append((row, int(lf.frame_idx)))
    out: dict[int, np.ndarray] = {}
    for (filename, gray), items in wanted.items():
        try:
            with VideoReader(filename, grayscale=gray) as reader:
                frames = reader[[index for _, index in items]]
        except (VideoError, IndexError):
            continue
        out.update({row: frame for (row, _), frame in zip(items, frames, strict=True)})
    return out


def _sleap_skeleton(sk: Any, names: list[str], stored: Any) -> Skeleton:
    edges = [(e.source.name, e.destination.name) for e in sk.edges]
    symmetry = []
    for sym in sk.symmetries:
        a, b = sorted((n.name for n in sym.nodes), key=names.index)
        symmetry.append((a, b))
    if isinstance(stored, dict):  # our own skeleton, when it still describes the file's
        try:
            ours = Skeleton.from_dict(stored)
        except SchemaError:
            ours = None
        if (
            ours is not None
            and list(ours.keypoints) == names
            and set(ours.edges) == set(edges)
            and {frozenset(p) for p in ours.symmetry} == {frozenset(p) for p in symmetry}
        ):
            return ours
    return Skeleton(names, edges=edges, symmetry=symmetry, name=sk.name or "")


def _sleap_source(lf: Any) -> str:
    video = lf.video.source_video or lf.video
    filename = video.filename
    if isinstance(filename, list):
        return str(filename[lf.frame_idx]) if lf.frame_idx < len(filename) else f"{filename[0]}#frame={lf.frame_idx}"
    return f"{filename}#frame={lf.frame_idx}"


def to_sleap_package(frames: LabeledFrames, path: str | Path) -> Path:
    """Write a SLEAP package (``.pkg.slp``) with the images embedded as PNG.

    Each individual becomes a track; fully missing instances are left out.
    Frames of equal size share one embedded video.  Sources and the exact
    skeleton are kept in the file's provenance so that
    :func:`load_labeled_frames` restores them.

    Parameters
    ----------
    frames
        The frames to write.
    path
        Destination, ``*.pkg.slp`` by convention.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    nodes = [sio.Node(k) for k in frames.skeleton.keypoints]
    by_name = dict(zip(frames.skeleton.keypoints, nodes, strict=True))
    sk = sio.Skeleton(
        nodes=nodes,
        edges=[sio.Edge(by_name[a], by_name[b]) for a, b in frames.skeleton.edges],
        symmetries=[sio.Symmetry([by_name[a], by_name[b]]) for a, b in frames.skeleton.symmetry],
        name=frames.skeleton.name or "skeleton",
    )
    tracks = [sio.Track(name) for name in frames.individuals]
    with tempfile.TemporaryDirectory(prefix="behaviorlab-slp-") as tmpdir:
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, img in enumerate(frames.images):
            groups.setdefault(img.shape, []).append(i)
        videos, placement = [], {}
        for g, (shape, members) in enumerate(groups.items()):
            files = []
            for j, i in enumerate(members):
                files.append(str(Path(tmpdir) / f"v{g}_{j:06d}.png"))
                write_png(frames.images[i], Path(files[-1]))
                placement[i] = (g, j)
            videos.append(sio.Video.from_filename(files, grayscale=shape[2] == 1))
        labeled = []
        for i in range(len(frames)):
            g, j = placement[i]
            instances = [
                sio.Instance.from_numpy(frames.keypoints[i, n], skeleton=sk, track=tracks[n])
                for n in range(frames.n_individuals)
                if not np.isnan(frames.keypoints[i, n]).all()
            ]
            labeled.append(sio.LabeledFrame(video=videos[g], frame_idx=j, instances=instances))
        labels = sio.Labels(
            labeled_frames=labeled,
            videos=videos,
            skeletons=[sk],
            tracks=tracks,
            provenance={"behaviorlab": {"sources": list(frames.sources), "skeleton": frames.skeleton.to_dict()}},
        )
        with atomic_path(path, suffix=".slp") as tmp:
            sio.save_slp(labels, str(tmp), embed="all", verbose=False)
    return path
