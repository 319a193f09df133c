"""A results project as the dashboard sees it: the store, models, labels files and videos of one folder.

A project folder holds a results store (:class:`~behaviorlab.results.store.ResultsStore`,
either the folder itself or its ``results/`` subfolder) and, found by
convention anywhere below it (two levels deep at most):

- pose models: folders with ``pose_config.json`` or, trained on the crop path,
  ``topdown_config.json`` (and ``training_log.csv``,
  ``evaluation.json`` when written);
- training frames: ``*.labels.h5`` files (what ``behaviorlab train`` reads);
- behavior models: ``map.pkl`` (:class:`~behaviorlab.behavior.maps.BehaviorMap`),
  ``hmm.pkl`` (:class:`~behaviorlab.behavior.ethogram.EthogramHMM`),
  ``arhmm.pkl`` (:class:`~behaviorlab.behavior.arhmm.ARHMM`),
  ``classifier.pkl`` (:class:`~behaviorlab.behavior.classify.BehaviorClassifier`);
- videos: the ``video`` file link each session was stored with.

``behaviorlab demo`` builds such a folder.  Nothing here imports Streamlit:
the dashboard pages call these functions (through Streamlit's cache) and
draw what they return.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pandas as pd
import xarray as xr
import yaml

from behaviorlab.errors import BehaviorlabError
from behaviorlab.io.video import VideoReader
from behaviorlab.pose.folder import TOPDOWN_CONFIG
from behaviorlab.results.render import draw_poses
from behaviorlab.results.store import MANIFEST, ResultsStore
from behaviorlab.schema import get_skeleton

__all__ = ["STAGE_COLUMNS", "Project", "ProjectError"]

log = logging.getLogger(__name__)

#: Columns of :meth:`Project.overview` that say which results a session has.
STAGE_COLUMNS: tuple[str, ...] = ("poses", "video", "labels", "behavior_prediction", "state", "syllable", "cluster")

_MAX_DEPTH = 2


class ProjectError(BehaviorlabError, ValueError):
    """A folder that is not a behaviorlab project, or a missing part of one."""


def _find(root: Path, pattern: str) -> list[Path]:
    """Files matching ``pattern`` at most :data:`_MAX_DEPTH` levels below ``root``, sorted."""
    found: list[Path] = []
    for depth in range(_MAX_DEPTH + 1):
        found.extend(root.glob("/".join(["*"] * depth + [pattern])))
    return sorted(p for p in found if ".partial" not in p.as_posix() and "/sessions/" not in p.as_posix())


def _pose_model_folders(root: Path) -> tuple[Path, ...]:
    """Pose model folders under ``root``: full-frame ones, and crop-path (top-down) ones as one model each."""
    topdown = [p.parent for p in _find(root, TOPDOWN_CONFIG)]
    single = [p.parent for p in _find(root, "pose_config.json") if p.parent.parent not in topdown]
    return tuple(sorted([*single, *topdown]))


@attrs.frozen
class Project:
    """The parts of a project folder (see the module docstring); :meth:`open` finds them.

    Attributes
    ----------
    root
        The project folder.
    store
        Its results store, or None when it has none yet.
    pose_models
        Pose model folders.
    labels_files
        Training-frame files (``*.labels.h5``).
    map_model, hmm_model, arhmm_model, classifier_model
        Fitted behavior models, or None.
    """

    root: Path
    store: ResultsStore | None
    pose_models: tuple[Path, ...] = ()
    labels_files: tuple[Path, ...] = ()
    map_model: Path | None = None
    hmm_model: Path | None = None
    classifier_model: Path | None = None
    arhmm_model: Path | None = None

    @classmethod
    def open(cls, path: str | Path) -> Project:
        """Find the parts of the project folder ``path`` (an empty folder is an empty project)."""
        root = Path(path).resolve()
        if not root.is_dir():
            raise ProjectError(f"{root}: no such project folder")
        store = None
        for candidate in (root, root / "results"):
            if (candidate / MANIFEST).is_file():
                store = ResultsStore(candidate)
                break

        def first(name: str) -> Path | None:
            hits = _find(root, name)
            return hits[0] if hits else None

        return cls(
            root=root,
            store=store,
            pose_models=_pose_model_folders(root),
            labels_files=tuple(_find(root, "*.labels.h5")),
            map_model=first("map.pkl"),
            hmm_model=first("hmm.pkl"),
            classifier_model=first("classifier.pkl"),
            arhmm_model=first("arhmm.pkl"),
        )

    @property
    def quality_floor(self) -> float:
        """The project's ``classifier.quality_floor`` (``behaviorlab.yaml``), else 0.5."""
        config = self.root / "behaviorlab.yaml"
        try:
            floor = (yaml.safe_load(config.read_text()) or {}).get("classifier", {}).get("quality_floor")
        except (OSError, yaml.YAMLError, AttributeError):
            floor = None
        return float(floor) if isinstance(floor, int | float) else 0.5

    def classifier_quality(self) -> pd.DataFrame:
        """Held-out F1 of every classifier behavior in the store, flagged below :attr:`quality_floor`."""
        if self.store is None or "classifier_frames" not in self.store.views():
            return pd.DataFrame(columns=["behavior", "f1", "precision", "recall", "sessions", "below_floor"])
        return self.store.classifier_quality(self.quality_floor)

    # ------------------------------------------------------------------ sessions
    @property
    def sessions(self) -> list[str]:
        """Session names in the store (empty without one)."""
        return self.store.sessions if self.store is not None else []

    def overview(self) -> pd.DataFrame:
        """One row per session (and individual, when the metadata has individuals) with its metadata and stages.

        Returns
        -------
        pandas.DataFrame
            ``session``, then the metadata columns, ``frames``, ``duration_s``,
            ``individuals``, and a bool column per :data:`STAGE_COLUMNS`
            (poses stored, video file present, each label source stored).
        """
        columns = ["session", "frames", "duration_s", "individuals", *STAGE_COLUMNS]
        infos = self.store.session_infos() if self.store is not None else {}
        if not infos:
            return pd.DataFrame(columns=columns)
        rows = []
        for name, info in sorted(infos.items()):  # one manifest read, not one per session
            sources = set(info.get("sources", []))
            video = info.get("files", {}).get("video")
            fps, n = info.get("fps"), info.get("n_frames")
            rows.append(
                {
                    "session": name,
                    "frames": n,
                    "duration_s": round(n / fps, 2) if fps and n is not None else None,
                    "individuals": ", ".join(info.get("individuals", [])),
                    "poses": "movement" in info.get("tables", {}),
                    "video": bool(video) and Path(video).is_file(),
                    **{s: s in sources for s in STAGE_COLUMNS[2:]},
                }
            )
        table = pd.DataFrame(rows, columns=columns)
        metadata = self.metadata()
        if metadata is not None:
            per_session = metadata.drop(columns=[c for c in ("individual",) if c in metadata.columns])
            # several animals per session: their values joined ("control, treated")
            per_session = per_session.groupby("session", as_index=False, sort=False).agg(
                lambda v: ", ".join(dict.fromkeys(str(x) for x in v))
            )
            table = table.merge(per_session, on="session", how="left")
            ordered = ["session", *[c for c in per_session.columns if c != "session"]]
            table = table[ordered + [c for c in table.columns if c not in ordered]]
        return table

    def metadata(self) -> pd.DataFrame | None:
        """Return the store's session metadata, or None when it has none."""
        if self.store is None or "metadata" not in self.store.views():
            return None
        return self.store.table("metadata")

    def dataset(self, session: str, variables: Sequence[str] | None = None) -> xr.Dataset:
        """Read the Dataset stored for a session (poses and per-frame labels; only ``variables`` when given)."""
        self._need_store()
        return self.store.dataset(session, variables)

    def video(self, session: str) -> Path | None:
        """Return the session's video file, when it was stored with one that still exists."""
        self._need_store()
        video = self.store.session_info(session).get("files", {}).get("video")
        return Path(video) if video and Path(video).is_file() else None

    def _need_store(self) -> None:
        if self.store is None:
            raise ProjectError(f"{self.root}: the project has no results store yet (run `behaviorlab store create`)")

    # ------------------------------------------------------------------ poses
    def frame_image(self, session: str, frame: int, individual: str | None = None) -> np.ndarray:
        """Return the video frame with the stored poses drawn on it (keypoints coloured by confidence, skeleton)."""
        video = self.video(session)
        if video is None:
            raise ProjectError(f"session {session!r} has no video file in the project")
        with VideoReader(video) as reader:
            image = reader.read(int(frame))
        ds = self.dataset(session)
        if "position" not in ds:
            return image
        poses = ds if individual is None else ds.sel(individual=[individual])
        t = min(int(frame), poses.sizes["time"] - 1)
        pos = poses["position"].isel(time=t).transpose("individual", "keypoint", "space").values
        conf = (
            poses["confidence"].isel(time=t).transpose("individual", "keypoint").values
            if "confidence" in poses
            else None
        )
        return draw_poses(image, pos, conf, get_skeleton(poses))

    def low_confidence_frames(self, session: str, threshold: float = 0.5, n: int = 20) -> pd.DataFrame:
        """Frames where the mean keypoint confidence is lowest (below ``threshold``), one row each, worst first."""
        ds = self.dataset(session)
        if "confidence" not in ds:
            return pd.DataFrame(columns=["frame", "individual", "mean_confidence", "missing_keypoints"])
        conf = ds["confidence"].transpose("time", "individual", "keypoint").values
        missing = np.isnan(ds["position"].transpose("time", "individual", "keypoint", "space").values).any(axis=3)
        with np.errstate(invalid="ignore"):
            mean = np.nanmean(np.where(missing, np.nan, conf), axis=2)
        mean = np.where(np.isnan(mean), 0.0, mean)
        t, i = np.nonzero(mean < threshold)
        order = np.argsort(mean[t, i], kind="stable")[:n]
        individuals = [str(v) for v in ds["individual"].values]
        return pd.DataFrame(
            {
                "frame": t[order],
                "individual": [individuals[k] for k in i[order]],
                "mean_confidence": mean[t[order], i[order]].round(3),
                "missing_keypoints": missing[t[order], i[order]].sum(axis=1),
            }
        )

    # ------------------------------------------------------------------ models
    def training_log(self, model: Path) -> pd.DataFrame:
        """Read the training curves of a pose model folder (``training_log.csv``; the crop model's on the crop path)."""
        path = Path(model) / "training_log.csv"
        if (Path(model) / TOPDOWN_CONFIG).is_file():
            path = Path(model) / "pose" / "training_log.csv"
        if not path.is_file():
            raise ProjectError(f"{model}: no training_log.csv (the model was not trained by behaviorlab)")
        return pd.read_csv(path)

    def evaluation(self, model: Path) -> dict[str, Any] | None:
        """Read a model folder's ``evaluation.json`` (from ``behaviorlab evaluate --json``), if it has one."""
        path = Path(model) / "evaluation.json"
        return json.loads(path.read_text()) if path.is_file() else None
