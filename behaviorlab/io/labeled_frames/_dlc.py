r"""DeepLabCut projects <-> :class:`LabeledFrames`.

A project is a ``config.yaml`` beside ``labeled-data/<video>/`` folders, each
holding the frames as images and one ``CollectedData_<scorer>.h5``/``.csv``
table whose rows are the image paths.  The tables are parsed and written by
:mod:`behaviorlab.io._dlc`, the same code that reads and writes DeepLabCut
pose files; this module adds the project around them:

- bodyparts keep the order of the file (or of the config when a whole project
  is read), never alphabetical order;
- images are read as stored, so RGB stays RGB (``grayscale=True`` converts);
- image paths written on Windows (``labeled-data\video\img.png``) are read
  as POSIX paths;
- likelihood columns of machine labels are read past, and tables are found
  under the HDF5 key ``df_with_missing`` first.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import attrs
import pandas as pd
import yaml

from behaviorlab._atomic import atomic_path
from behaviorlab.errors import FileFormatError, SchemaError
from behaviorlab.io._dlc import dlc_table, read_dlc_csv, read_dlc_h5, write_dlc_table
from behaviorlab.io.labeled_frames._core import LabeledFrames, with_path
from behaviorlab.io.labeled_frames._images import read_image, write_png
from behaviorlab.schema import Skeleton

__all__ = ["dlc_label_files", "read_dlc_project", "to_dlc_project"]

logger = logging.getLogger(__name__)


def dlc_label_files(folder: Path, scorer: str | None = None) -> Iterable[Path]:
    """CollectedData files in ``folder`` itself, else in ``[folder/labeled-data]/*``: one per video folder."""
    own = _dlc_collected(folder, scorer)
    if own is not None:
        yield own
        return
    base = folder / "labeled-data" if (folder / "labeled-data").is_dir() else folder
    for sub in sorted(p for p in base.iterdir() if p.is_dir()):
        found = _dlc_collected(sub, scorer)
        if found is not None:
            yield found


def _dlc_collected(folder: Path, scorer: str | None) -> Path | None:
    if scorer:
        for ext in (".h5", ".csv"):
            if (folder / f"CollectedData_{scorer}{ext}").is_file():
                return folder / f"CollectedData_{scorer}{ext}"
    stems = sorted({p.stem for p in folder.glob("CollectedData*") if p.suffix in (".h5", ".csv")})
    if len(stems) > 1:
        raise FileFormatError(folder, f"several CollectedData files {stems}; pass the one to read")
    if not stems:
        return None
    h5 = folder / f"{stems[0]}.h5"
    return h5 if h5.is_file() else folder / f"{stems[0]}.csv"


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise FileFormatError(path, f"invalid YAML: {err}") from None
    if not isinstance(data, dict):
        raise FileFormatError(path, "expected a DeepLabCut config (a YAML mapping)")
    return data


def _config_keypoints(config: dict[str, Any]) -> list[str] | None:
    if config.get("multianimalproject"):
        names = list(config.get("multianimalbodyparts") or []) + list(config.get("uniquebodyparts") or [])
    else:
        names = config.get("bodyparts")
    return [str(n) for n in names] if isinstance(names, list) and names else None


def read_dlc_project(path: Path, skeleton: Skeleton | None) -> LabeledFrames:
    """Read a ``config.yaml``, a project or ``labeled-data`` folder, or one ``CollectedData_*`` file."""
    config_path = path if path.suffix.lower() in (".yaml", ".yml") else None
    if path.is_dir() and (path / "config.yaml").is_file():
        config_path = path / "config.yaml"
    if config_path is not None:
        config = _read_yaml(config_path)
        root = config_path.parent
        files = list(dlc_label_files(root, config.get("scorer")))
        if not files:
            raise FileFormatError(config_path, f"no labeled-data/*/CollectedData_* files under {root}")
        order = _config_keypoints(config)
        parts = [_read_dlc_table(f, root, skeleton, order) for f in files]
        return _dlc_edges(LabeledFrames.concatenate(parts), config, config_path)
    if path.is_dir():
        if (path / "labeled-data").is_dir():
            root = path
        elif path.name == "labeled-data":
            root = path.parent
        elif path.parent.name == "labeled-data":
            root = path.parent.parent
        else:
            root = path
        parts: list[LabeledFrames] = []
        for f in dlc_label_files(path):
            order = list(parts[0].skeleton.keypoints) if parts else None
            parts.append(_read_dlc_table(f, root, skeleton, order))
        if not parts:
            raise FileFormatError(path, "no CollectedData_* files found")
        frames = LabeledFrames.concatenate(parts)
    else:
        root = next((p.parent for p in path.parents if p.name == "labeled-data"), path.parent)
        frames = _read_dlc_table(path, root, skeleton, None)
    config_path = root / "config.yaml"
    return _dlc_edges(frames, _read_yaml(config_path), config_path) if config_path.is_file() else frames


def _dlc_edges(frames: LabeledFrames, config: dict[str, Any], config_path: Path) -> LabeledFrames:
    """Add the config's ``skeleton`` edges to a skeleton that has none."""
    edges = config.get("skeleton") or []
    if frames.skeleton.edges or not edges:
        return frames
    known = set(frames.skeleton.keypoints)
    pairs = [tuple(str(v) for v in e) for e in edges]
    unknown = sorted({k for e in pairs for k in e} - known)
    if unknown:
        logger.warning("%s: skeleton edges name unknown bodyparts %s; edges ignored", config_path, unknown)
        return frames
    skeleton = Skeleton(frames.skeleton.keypoints, edges=pairs, name=str(config.get("Task") or ""))
    return attrs.evolve(frames, skeleton=skeleton)


def _read_dlc_table(path: Path, root: Path, skeleton: Skeleton | None, order: Sequence[str] | None) -> LabeledFrames:
    """One CollectedData file -> frames, images read from ``root`` or beside the file."""
    read = read_dlc_csv if path.suffix.lower() == ".csv" else read_dlc_h5
    table = read(path, rows="images", single_individual="id_0")
    bodyparts = table.keypoints
    if skeleton is not None and set(bodyparts) != set(skeleton.keypoints):
        skeleton.check_keypoints(bodyparts, source=str(path))
    keypoints = table.position[:, :2].transpose(0, 3, 2, 1)  # (frame, individual, keypoint, xy); likelihood dropped
    if order is not None:
        if set(order) != set(bodyparts):
            Skeleton(order).check_keypoints(bodyparts, source=str(path))
        keypoints = keypoints[:, :, [bodyparts.index(k) for k in order]]
        bodyparts = list(order)
    rel_paths = [str(p).replace("\\", "/") for p in table.time_coords["image_path"]]  # Windows-written projects
    images = [read_image(_find_image(rel, root, path), path) for rel in rel_paths]
    try:
        return LabeledFrames(images, keypoints, Skeleton(bodyparts), table.individuals, rel_paths)
    except SchemaError as err:
        raise with_path(err, path) from None


def _find_image(rel: str, root: Path, labels_path: Path) -> Path:
    here = labels_path.parent
    candidates = list(dict.fromkeys([root / rel, here / rel, here / PurePosixPath(rel).name]))
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise FileFormatError(
        labels_path, f"image {rel!r} listed in the labels is missing; looked for {[str(c) for c in candidates]}"
    )


def _dlc_image_names(sources: Sequence[str]) -> list[str]:
    """``labeled-data/<video>/<name>.png`` for each source, unique."""
    out: list[str] = []
    taken: set[str] = set()
    for i, source in enumerate(sources):
        text = source.replace("\\", "/")
        if "#frame=" in text:
            video, frame = text.rsplit("#frame=", 1)
            folder = PurePosixPath(video).stem or "frames"
            name = f"img{int(frame):05d}" if frame.isdigit() else f"img{i:05d}"
        else:
            parts = PurePosixPath(text).parts
            folder = parts[-2] if len(parts) >= 2 and parts[-2] != "labeled-data" else "frames"
            name = PurePosixPath(text).stem or f"img{i:05d}"
        rel = f"labeled-data/{folder}/{name}.png"
        if rel in taken:
            rel = f"labeled-data/{folder}/{name}_{i}.png"
        taken.add(rel)
        out.append(rel)
    return out


def to_dlc_project(frames: LabeledFrames, folder: str | Path, scorer: str = "behaviorlab") -> Path:
    """Write a DeepLabCut project: PNG images and ``CollectedData_<scorer>.h5``/``.csv`` per video folder.

    Frames whose source is ``labeled-data/<video>/<image>`` keep that path;
    ``video.mp4#frame=N`` becomes ``labeled-data/video/imgNNNNN.png``.  More
    than one individual gives a multi-animal project (an ``individuals``
    column level).  A minimal ``config.yaml`` (bodyparts, skeleton edges) is
    written unless one exists, in which case its bodyparts must match.
    DeepLabCut has no symmetry pairs and single-animal files no individual
    name, so both are lost.

    Parameters
    ----------
    frames
        The frames to write.
    folder
        Project folder (created if needed).
    scorer
        Scorer name in the file names and the column header.

    Returns
    -------
    Path
        The project's ``config.yaml``.
    """
    folder = Path(folder)
    keypoints = list(frames.skeleton.keypoints)
    config_path = folder / "config.yaml"
    if config_path.is_file():
        existing = _config_keypoints(_read_yaml(config_path))
        if existing is not None:
            Skeleton(existing).check_keypoints(keypoints, source=str(config_path))
    rel_paths = _dlc_image_names(frames.sources)
    table = dlc_table(
        frames.keypoints.transpose(0, 3, 2, 1),  # (frame, xy, keypoint, individual)
        None,  # human labels: x, y without likelihood
        space=["x", "y"],
        keypoints=keypoints,
        individuals=list(frames.individuals),
        index=pd.Index(rel_paths, dtype=object),
        scorer=scorer,
        single_animal=frames.n_individuals == 1,  # a project's labels: DeepLabCut's layout for its kind of project
    )
    for video in dict.fromkeys(PurePosixPath(p).parent for p in rel_paths):
        rows = [i for i, p in enumerate(rel_paths) if PurePosixPath(p).parent == video]
        for i in rows:
            write_png(frames.images[i], folder / rel_paths[i])
        part = table.iloc[rows]
        base = folder / video / f"CollectedData_{scorer}"
        for suffix in (".h5", ".csv"):
            with atomic_path(base.with_suffix(suffix)) as tmp:
                write_dlc_table(part, tmp)
    if not config_path.is_file():
        videos = {PurePosixPath(p).parts[1]: frames.images[i].shape for i, p in enumerate(rel_paths)}
        _write_dlc_config(frames, config_path, scorer, videos)
    return config_path


def _write_dlc_config(
    frames: LabeledFrames, config_path: Path, scorer: str, videos: dict[str, tuple[int, ...]]
) -> None:
    keypoints = list(frames.skeleton.keypoints)
    multi = frames.n_individuals > 1
    config: dict[str, Any] = {
        "Task": frames.skeleton.name or "behaviorlab",
        "scorer": scorer,
        "date": "",
        "multianimalproject": multi,
        "identity": False if multi else None,
        "project_path": str(config_path.parent.resolve()),
        "video_sets": {f"videos/{v}.mp4": {"crop": f"0, {shape[1]}, 0, {shape[0]}"} for v, shape in videos.items()},
        "bodyparts": "MULTI!" if multi else keypoints,
    }
    if multi:
        config.update(individuals=list(frames.individuals), uniquebodyparts=[], multianimalbodyparts=keypoints)
    config.update(skeleton=[list(e) for e in frames.skeleton.edges], TrainingFraction=[0.95], iteration=0)
    with atomic_path(config_path) as tmp:
        tmp.write_text(
            "# written by behaviorlab.io.labeled_frames.to_dlc_project\n" + yaml.safe_dump(config, sort_keys=False)
        )
