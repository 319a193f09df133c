"""``behaviorlab run``: every session of a project from video to statistics, resumable, on Dask.

The stages, in the order they depend on each other::

    pose_model (project: a given model, or trained from labeled frames)
    poses       (session: the video predicted, or the session's pose file read and checked)
    clean       (session: behaviorlab.filtering.clean_poses)
    features    (session: per-frame features and their Morlet spectrogram)
    annotations (session: its annotation file, when it has one)
    behavior_map, ethogram               (project: fitted on every session that got this far)
    classifier_model, classifier_fold    (project: the classifier on every annotated session, and one
                                          task per cross-validation fold, session ``_project_foldNNN``)
    classifier  (project: the model and the pooled out-of-fold decisions)
    map_labels, states, behaviors        (session: each fitted model applied)
    store       (session: every label source into the results store, with its statistics)
    render      (session: a labeled video of the first seconds, when asked)
    exports     (project: the store in the configured formats)

Every output is cached under ``PROJECT/cache/<stage>/<session>/<key>`` (see
:mod:`behaviorlab.runcache`); the key hashes the stage's parameters, the keys
of what it reads and the content of the files it reads. A re-run skips what
is done, a changed parameter re-runs its stage and what depends on it, and an
interrupted run loses at most the stages in flight.

Sessions run in parallel on a Dask cluster: a local one with worker processes
by default, or any scheduler (``scheduler="tcp://host:8786"``, e.g. one
started by dask-jobqueue on SLURM or PBS). A session that fails (a corrupt
video, a short pose file, a keypoint that is never seen, a keypoint set that
does not match the model, a full disk) is reported with its stage and error
in :class:`RunReport`, and the other sessions go on.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import pickle
import shutil
import time
import traceback
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pandas as pd

from behaviorlab import model_trust
from behaviorlab._atomic import atomic_path
from behaviorlab.errors import BehaviorlabError, SchemaError
from behaviorlab.runcache import StageCache, stage_key
from behaviorlab.runconfig import ProjectConfig

__all__ = ["PROJECT", "RunReport", "StageResult", "run_project"]

log = logging.getLogger(__name__)

#: The session name of project-wide stages in the cache.
PROJECT = "_project"
CACHE = "cache"
REPORT = "run_report.json"
#: Where the current models and labeled videos are published (the dashboard finds them there).
MODELS = "models"


class RunError(BehaviorlabError):
    """A run that cannot start (another run holds the project, no sessions)."""


@attrs.frozen
class StageResult:
    """What one stage did for one session (or the project): its output, or why it has none.

    Attributes
    ----------
    stage, session
        Which stage, for which session (:data:`PROJECT` for project-wide ones).
    key
        The output's cache key (None when the stage failed or had nothing to do).
    path
        The output file or folder.
    ran
        True when computed in this run, False when found in the cache.
    seconds
        Wall time of this run's work on it.
    error
        Why it failed (None when it did not); ``skipped`` stages name the
        stage that failed before them.
    info
        Small facts for the report (frames, individuals, regions, ...).
    """

    stage: str
    session: str
    key: str | None = None
    path: str | None = None
    ran: bool = False
    seconds: float = 0.0
    error: str | None = None
    error_type: str | None = None
    traceback: str | None = None
    info: Mapping[str, Any] = attrs.field(factory=dict)

    @property
    def ok(self) -> bool:
        """Whether the stage has an output (or had nothing to do)."""
        return self.error is None

    @property
    def empty(self) -> bool:
        """Whether the stage succeeded without an output (e.g. no classifier without annotations)."""
        return self.error is None and self.key is None


# --------------------------------------------------------------------------- error handling
def _describe(err: BaseException) -> str:
    """Return one clear line for an error: the package's own message, or the type and what it says."""
    if isinstance(err, OSError) and err.errno == errno.ENOSPC:
        where = f" while writing {err.filename}" if err.filename else ""
        return f"no space left on the disk{where}: free space or move the project, then run again"
    if isinstance(err, BehaviorlabError):
        return str(err)
    return f"{type(err).__name__}: {err}"


def _guarded(stage: str, session: str, fn: Callable[[], StageResult], upstream: Sequence[Any] = ()) -> StageResult:
    """Run ``fn`` unless an upstream stage failed; turn its exception into a failed :class:`StageResult`.

    Only ``Exception`` is caught: Ctrl-C and a killed worker stop the run,
    and the cache keeps what finished.
    """
    for up in upstream:
        if isinstance(up, StageResult) and not up.ok:
            first = up.info.get("failed_stage", up.stage)
            return StageResult(stage, session, error=f"skipped: {first} failed", info={"failed_stage": first})
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", _truncated_warning())  # a truncated video fails its session
            result = fn()
    except Exception as err:  # reported per session; the other sessions go on
        log.warning("%s of %s failed: %s", stage, session, _describe(err))
        return StageResult(
            stage,
            session,
            seconds=time.perf_counter() - start,
            error=_describe(err),
            error_type=type(err).__name__,
            traceback="".join(traceback.format_exception(err)[-8:]),
            info={"failed_stage": stage},
        )
    return attrs.evolve(result, seconds=time.perf_counter() - start)


def _truncated_warning() -> type[Warning]:
    from behaviorlab.io.video import TruncatedVideoWarning

    return TruncatedVideoWarning


def _cache(config: ProjectConfig) -> StageCache:
    return StageCache(config.root / CACHE)


def _output(
    cache: StageCache, stage: str, session: str, key: str, write: Callable[[Path], Any], suffix: str
) -> tuple[Path, bool]:
    """Return (output, ran): the cached output for ``key`` or a new one written by ``write``."""
    if cache.done(stage, session, key, suffix):
        return cache.path(stage, session, key, suffix), False
    if suffix:
        return cache.run(stage, session, key, write, suffix=suffix), True
    return cache.run_dir(stage, session, key, write), True


# --------------------------------------------------------------------------- pose stages
def _model_digest(cache: StageCache, folder: Path) -> str:
    """Return a digest of a pose model folder: its weights and config."""
    files = {}
    for name in ("pose_config.json", "model.keras"):
        if not (folder / name).is_file():
            raise SchemaError(f"{folder}: not a pose model folder (no {name})")
        files[name] = cache.digest(folder / name)
    return stage_key("pose_model_files", files=files)


def stage_pose_model(config: ProjectConfig) -> StageResult:
    """Find the configured pose model, or train one from the configured labeled frames (no model: pose files)."""

    def work() -> StageResult:
        section = config["pose_model"]
        cache = _cache(config)
        if section["model"]:
            folder = config.path(section["model"])
            if not folder.is_dir():
                raise SchemaError(f"{folder}: pose_model.model is not a folder")
            return StageResult("pose_model", PROJECT, key=_model_digest(cache, folder), path=str(folder))
        if not section["training_frames"]:
            return StageResult("pose_model", PROJECT)
        frames_file = config.path(section["training_frames"])
        params = {"train": section["train"], "max_animals": section["max_animals"]}
        key = stage_key("pose_model", params, files={"training_frames": cache.digest(frames_file)})

        def train(folder: Path) -> None:
            # in a fresh process (behaviorlab.pose.job): trained inside a worker that had run other tasks, the
            # same labels, config and seed gave another model on every run
            import subprocess
            import sys

            folder.mkdir(parents=True, exist_ok=True)
            spec = folder.parent / f".{folder.name}.job.json"
            spec.write_text(json.dumps({"frames": str(frames_file), "out": str(folder), **params}))
            try:
                done = subprocess.run(
                    [sys.executable, "-m", "behaviorlab.pose.job", str(spec)], capture_output=True, text=True
                )
            finally:
                spec.unlink(missing_ok=True)
            if done.returncode != 0:
                lines = [line for line in done.stderr.splitlines() if line.strip()]
                last = lines[-1] if lines else f"exit code {done.returncode}"
                raise RunError(f"training the pose model failed: {last.removeprefix('error: ')}")

        path, ran = _output(cache, "pose_model", PROJECT, key, train, "")
        evaluation = json.loads((path / "evaluation.json").read_text())
        return StageResult("pose_model", PROJECT, key=key, path=str(path), ran=ran, info=evaluation)

    return _guarded("pose_model", PROJECT, work)


def _expected_keypoints(config: ProjectConfig, model: StageResult) -> list[str] | None:
    if config["poses"]["keypoints"]:
        return [str(k) for k in config["poses"]["keypoints"]]
    if model.key is not None:
        meta = json.loads((Path(model.path) / "pose_config.json").read_text())
        names = meta.get("skeleton", {}).get("keypoints") or meta.get("keypoints")
        return [str(k) for k in names] if names else None
    return None


def check_poses(
    ds: Any, source: str, *, keypoints: Sequence[str] | None, n_frames: int | None, allow_missing: bool
) -> None:
    """Refuse poses the later stages cannot use, naming ``source`` and the problem.

    Raises
    ------
    SchemaError
        Keypoints other than ``keypoints`` (the model's or the config's),
        fewer or more frames than the video's ``n_frames``, or (unless
        ``allow_missing``) a keypoint of an animal that is NaN in every frame.
    """
    names = [str(k) for k in ds["keypoint"].values]
    if keypoints is not None and names != list(keypoints):
        missing = [k for k in keypoints if k not in names]
        extra = [k for k in names if k not in keypoints]
        raise SchemaError(
            f"{source}: its keypoints do not match the project's skeleton "
            f"(missing {missing}, not in the skeleton {extra}; order {names} vs {list(keypoints)})"
        )
    if n_frames is not None and ds.sizes["time"] != n_frames:
        which = "fewer" if ds.sizes["time"] < n_frames else "more"
        raise SchemaError(
            f"{source}: {ds.sizes['time']} frames of poses, {which} than the video's {n_frames}; "
            "was the tracking interrupted, or is it another video's file?"
        )
    if not allow_missing:
        seen = ds["position"].notnull().all("space").any("time")  # (keypoint, individual)
        never = [
            f"{k} of {i}"
            for k in seen["keypoint"].values
            for i in seen["individual"].values
            if not bool(seen.sel(keypoint=k, individual=i))
        ]
        if never:
            raise SchemaError(
                f"{source}: keypoints missing (NaN) in every frame: {never[:10]}; "
                "fix the tracking, or set poses.allow_missing_keypoints"
            )


def stage_poses(config: ProjectConfig, row: Mapping[str, Any], model: StageResult) -> StageResult:
    """One session's poses: its pose file read and checked, or its video predicted with the pose model."""
    session = row["session"]

    def work() -> StageResult:
        from behaviorlab.io.save import save_netcdf
        from behaviorlab.io.video import probe_video

        cache = _cache(config)
        video = Path(row["video"]) if row.get("video") else None
        info = probe_video(video) if video is not None else None  # a corrupt video fails here, naming the file
        given = row.get("fps")
        fps = float(given) if given and given == given else (info.fps if info is not None else None)  # NaN: none
        keypoints = _expected_keypoints(config, model)
        allow = config["poses"]["allow_missing_keypoints"]
        files = {"video": cache.digest(video)} if video is not None else {}
        if row.get("poses"):
            pose_file = Path(row["poses"])
            files["poses"] = cache.digest(pose_file)
            reading = {"source": config["poses"]["source"], "csv_columns": config["poses"]["csv_columns"]}
            params = {"fps": fps, "keypoints": keypoints, "allow_missing": allow, **reading}
            key = stage_key("poses", params, files=files)

            def write(tmp: Path) -> None:
                from behaviorlab.io.load import load_poses

                if info is not None:  # the video must be readable to its last frame (a truncated file is not)
                    from behaviorlab.io.video import VideoReader

                    with VideoReader(video) as reader:
                        reader.read(info.n_frames - 1)
                ds = load_poses(pose_file, fps=fps, **reading)
                if ds.attrs.get("fps") is None:
                    raise SchemaError(
                        f"{pose_file}: the file stores no frame rate and session {session!r} has none: fill its fps "
                        "column in sessions.csv (frames per second), or run `behaviorlab init` with --fps"
                    )
                check_poses(
                    ds,
                    str(pose_file),
                    keypoints=keypoints,
                    n_frames=info.n_frames if info else None,
                    allow_missing=allow,
                )
                save_netcdf(ds.assign_attrs(session=session), tmp)

        else:
            if model.key is None:
                raise SchemaError(
                    f"session {session!r} has a video but no pose file, and the project has no pose model "
                    "(set pose_model.model or pose_model.training_frames in behaviorlab.yaml)"
                )
            individual = row.get("individual") or "individual_0"
            params = {"individual": individual, "allow_missing": allow, "keypoints": keypoints}
            key = stage_key("poses", params, upstream={"pose_model": model.key}, files=files)

            def write(tmp: Path) -> None:
                from behaviorlab.pose.inference import predict_video

                # a fixed name beside the output, so that predict_video's chunk checkpoints resume after a crash
                work_file = cache.path("poses", session, f".{key}.predicting", ".nc")
                work_file.parent.mkdir(parents=True, exist_ok=True)
                ds = predict_video(
                    Path(model.path), video, work_file, batch_size=config["poses"]["batch_size"], individual=individual
                )
                check_poses(ds, str(video), keypoints=keypoints, n_frames=info.n_frames, allow_missing=allow)
                os.replace(work_file, tmp)

        path, ran = _output(cache, "poses", session, key, write, ".nc")
        from behaviorlab.io.load import load_netcdf

        ds = load_netcdf(path, select=["confidence"])
        facts = {
            "frames": int(ds.sizes["time"]),
            "individuals": [str(i) for i in ds["individual"].values],
            "fps": ds.attrs.get("fps"),
        }
        return StageResult("poses", session, key=key, path=str(path), ran=ran, info=facts)

    return _guarded("poses", session, work, [model])


def stage_clean(config: ProjectConfig, poses: StageResult) -> StageResult:
    """Clean one session's poses (confidence masking, jump removal, filters, gap-limited interpolation)."""
    session = poses.session

    def work() -> StageResult:
        from behaviorlab.filtering import clean_poses
        from behaviorlab.io.load import load_netcdf
        from behaviorlab.io.save import save_netcdf

        cache = _cache(config)
        cleaning = config["features"].cleaning
        key = stage_key("clean", cleaning.to_dict(), upstream={"poses": poses.key})
        path, ran = _output(
            cache,
            "clean",
            session,
            key,
            lambda tmp: save_netcdf(clean_poses(load_netcdf(poses.path), cleaning), tmp),
            ".nc",
        )
        from behaviorlab.landmarks import arena_landmarks

        cleaned = load_netcdf(path, select=["confidence"])
        facts = {
            "static_keypoints": sorted(arena_landmarks(cleaned)),
            "mostly_missing_keypoints": json.loads(cleaned.attrs.get("mostly_missing_keypoints", "[]")),
        }
        return StageResult("clean", session, key=key, path=str(path), ran=ran, info=facts)

    return _guarded("clean", session, work, [poses])


def stage_features(config: ProjectConfig, clean: StageResult) -> StageResult:
    """Per-frame features and their spectrogram of one session's cleaned poses."""
    session = clean.session

    def work() -> StageResult:
        from behaviorlab.io.load import load_netcdf
        from behaviorlab.io.save import save_netcdf
        from behaviorlab.pipeline import session_features

        cache = _cache(config)
        features = config["features"]
        params = {k: v for k, v in features.to_dict().items() if k != "cleaning"}
        key = stage_key("features", params, upstream={"clean": clean.key})

        def write(tmp: Path) -> None:
            out = session_features(load_netcdf(clean.path), features)
            keep = [v for v in ("features", "spectrogram", "spectrogram_total_amplitude") if v in out]
            save_netcdf(out[keep].assign_attrs(session=session), tmp)

        path, ran = _output(cache, "features", session, key, write, ".nc")
        return StageResult("features", session, key=key, path=str(path), ran=ran)

    return _guarded("features", session, work, [clean])


def stage_annotations(config: ProjectConfig, row: Mapping[str, Any], poses: StageResult) -> StageResult:
    """One session's annotation file as per-frame ``labels`` on the poses' frames (nothing without a file)."""
    session = row["session"]

    def work() -> StageResult:
        if not row.get("annotations"):
            return StageResult("annotations", session)
        from behaviorlab.io.annotations import load_annotations
        from behaviorlab.io.load import load_netcdf
        from behaviorlab.io.save import save_netcdf

        cache = _cache(config)
        file = Path(row["annotations"])
        params = dict(config["annotations"])
        # the classifier's behaviors are in every session's labels (a behavior a file never names did not occur)
        params["behaviors"] = params["behaviors"] or config["classifier"]["behaviors"]
        key = stage_key("annotations", params, upstream={"poses": poses.key}, files={"annotations": cache.digest(file)})

        def write(tmp: Path) -> None:
            ds = load_netcdf(poses.path, select=["confidence"])
            labels = load_annotations(
                file,
                fps=float(ds.attrs["fps"]),
                n_frames=ds.sizes["time"],
                individuals=[str(i) for i in ds["individual"].values],
                behaviors=params["behaviors"],
                unknown_behaviors="drop" if params["behaviors"] else "keep",
                clip=params["clip"],
            ).assign_coords(time=ds["time"].values)
            if "rater" in labels.dims:
                labels = _one_rating(labels, file, params["rater"], params["min_raters"])
            save_netcdf(_unannotated_unknown(labels).to_dataset(name="labels"), tmp)

        path, ran = _output(cache, "annotations", session, key, write, ".nc")
        return StageResult("annotations", session, key=key, path=str(path), ran=ran)

    return _guarded("annotations", session, work, [poses])


def _unannotated_unknown(labels: Any) -> Any:
    """Labels of the animals a file does not speak of, as unknown (NaN), when it names the others.

    BORIS rows that name only the ``adult`` say nothing of the ``juvenile``:
    its frames are unknown, not "never interacting" (the classifiers then
    neither learn from nor score them, and statistics leave them out).
    """
    named = json.loads(labels.attrs.get("annotated_individuals", "[]"))
    others = [str(i) for i in labels["individual"].values if str(i) not in named]
    if not named or not others:
        return labels
    out = labels.astype(np.float32)
    out.loc[{"individual": others}] = np.nan
    log.info("%s: no annotation names %s: their labels are unknown", labels.attrs.get("source_file"), others)
    return out


def _one_rating(labels: Any, file: Path, rater: str | None, min_raters: int | None) -> Any:
    """Labels of several raters as one: the ``rater`` named, else a consensus of ``min_raters`` (a majority)."""
    from behaviorlab.io.annotations import consensus

    raters = [str(r) for r in labels["rater"].values]
    if rater is not None:
        if rater not in raters:
            raise SchemaError(f"{file}: no rater {rater!r} (its raters: {raters}); fix annotations.rater in the config")
        return labels.sel(rater=rater, drop=True)
    n = min_raters if min_raters is not None else len(raters) // 2 + 1
    if not 1 <= n <= len(raters):
        raise SchemaError(
            f"{file}: annotations.min_raters is {n}, but the file has {len(raters)} raters ({raters}); "
            f"give a number from 1 to {len(raters)}"
        )
    return consensus(labels, n)


# --------------------------------------------------------------------------- project fits
def _usable(results: Sequence[StageResult]) -> list[StageResult]:
    return sorted((r for r in results if r.ok and r.key is not None), key=lambda r: r.session)


def _fit_stage(
    name: str,
    config: ProjectConfig,
    features: Sequence[StageResult],
    fit: Callable[[dict[str, Any], Path], dict[str, Any]],
    variable: str,
) -> StageResult:
    """Fit a model on every session's features; its folder holds the model, ``info.json`` and ``labels/``."""

    def work() -> StageResult:
        if not config[name]["enabled"]:
            return StageResult(name, PROJECT, info={"disabled": True})
        usable = _usable(features)
        if not usable:
            raise SchemaError(f"no session has features to fit the {name} on")
        from behaviorlab.io.load import load_netcdf

        cache = _cache(config)
        key = stage_key(name, config.estimator_params(name), upstream={r.session: r.key for r in usable})

        def write(folder: Path) -> None:
            sessions = {r.session: load_netcdf(r.path, select=[variable]) for r in usable}
            info = fit(sessions, folder)
            (folder / "info.json").write_text(json.dumps(info, indent=1, default=str))

        path, ran = _output(cache, name, PROJECT, key, write, "")
        return StageResult(
            name, PROJECT, key=key, path=str(path), ran=ran, info=json.loads((path / "info.json").read_text())
        )

    return _guarded(name, PROJECT, work)


def stage_behavior_map(config: ProjectConfig, features: Sequence[StageResult]) -> StageResult:
    """Fit the behavior map on every session's spectrograms; keep each fitted session's labels."""
    from behaviorlab.io.save import save_netcdf

    def fit(sessions: dict[str, Any], folder: Path) -> dict[str, Any]:
        from behaviorlab.maps import BehaviorMap

        model = BehaviorMap(**config.estimator_params("behavior_map"))
        labeled = model.fit_label(sessions)
        model.save(folder / "map.pkl")
        for session, ds in labeled.items():
            save_netcdf(ds[["embedding", "cluster"]], folder / "labels" / f"{session}.nc")
        return {"n_regions": int(model.n_regions_), "frames": len(model.labels_), "sessions": sorted(sessions)}

    return _fit_stage("behavior_map", config, features, fit, config["behavior_map"]["variable"])


def stage_ethogram(config: ProjectConfig, features: Sequence[StageResult]) -> StageResult:
    """Fit the HMM ethogram on every session's spectrograms; keep each fitted session's states."""
    from behaviorlab.io.save import save_netcdf

    def fit(sessions: dict[str, Any], folder: Path) -> dict[str, Any]:
        from behaviorlab.ethogram import EthogramHMM

        model = EthogramHMM(**config.estimator_params("ethogram")).fit(sessions)
        model.save(folder / "hmm.pkl")
        for session, ds in model.label(sessions).items():
            save_netcdf(ds[["state"]], folder / "labels" / f"{session}.nc")
        return {"n_states": int(model.n_states_), "sessions": sorted(sessions)}

    return _fit_stage("ethogram", config, features, fit, config["ethogram"]["variable"])


@attrs.frozen
class _ClassifierPlan:
    """What the classifier stages share: the annotated sessions, the parameters and the keys."""

    features: dict[str, StageResult]
    labeled: list[StageResult]
    params: dict[str, Any]
    upstream: dict[str, str]
    cross_validate: bool

    @property
    def key(self) -> str:
        """The classifier folder's key."""
        return stage_key("classifier", {**self.params, "cross_validate": self.cross_validate}, upstream=self.upstream)

    def model_key(self) -> str:
        return stage_key("classifier_model", self.params, upstream=self.upstream)

    def fold_key(self, fold: int) -> str:
        return stage_key("classifier_fold", {**self.params, "fold": fold}, upstream=self.upstream)

    def labels(self) -> tuple[dict[str, Any], list[str]]:
        """Return the annotated sessions' labels (every behavior any session shows) and the behaviors none shows.

        A behavior that no annotated frame shows (a BORIS ``Start/End`` row, a
        code nobody used) cannot be learned: it is left out and named.
        """
        from behaviorlab.io.load import load_netcdf

        y = {r.session: load_netcdf(r.path)["labels"] for r in self.labeled}
        names = list(dict.fromkeys(str(b) for labels in y.values() for b in labels["behavior"].values))
        y = {s: labels.reindex(behavior=names, fill_value=False) for s, labels in y.items()}  # absent: not seen
        # NaN: an animal nobody annotated (as bool it would read "shown")
        shown = {b for da in y.values() for b in names if bool((da.sel(behavior=b).fillna(0) > 0.5).any())}
        empty = [b for b in names if b not in shown]
        if empty:
            y = {s: labels.drop_sel(behavior=empty) for s, labels in y.items()}
        return y, empty

    def load(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """Return the annotated sessions' features and the labels of the behaviors they show."""
        from behaviorlab.io.load import load_netcdf

        variable = self.params["variable"]
        x = {r.session: load_netcdf(self.features[r.session].path, select=[variable]) for r in self.labeled}
        return x, self.labels()[0]


def _classifier_plan(
    config: ProjectConfig, features: Sequence[StageResult], annotations: Sequence[StageResult]
) -> _ClassifierPlan | StageResult:
    """Return the plan of the classifier stages, or the classifier's result when nothing is to be trained."""
    section = config["classifier"]
    if not section["enabled"]:
        return StageResult("classifier", PROJECT, info={"disabled": True})
    if section["trained_model"]:
        file = config.path(section["trained_model"])
        key = _cache(config).digest(file)
        return StageResult("classifier", PROJECT, key=key, path=str(file), info={"trained_model": str(file)})
    feats = {r.session: r for r in _usable(features)}
    labeled = [r for r in _usable(annotations) if r.session in feats]
    if not labeled:
        return StageResult("classifier", PROJECT, info={"no_annotations": True})
    upstream = {f"{r.session}/features": feats[r.session].key for r in labeled}
    upstream.update({f"{r.session}/annotations": r.key for r in labeled})
    params = config.estimator_params("classifier")
    return _ClassifierPlan(feats, labeled, params, upstream, bool(section["cross_validate"]))


def _fold_session(fold: int) -> str:
    return f"{PROJECT}_fold{fold:03d}"


def stage_classifier_fold(
    config: ProjectConfig, features: Sequence[StageResult], annotations: Sequence[StageResult], fold: int
) -> StageResult:
    """One cross-validation fold of the classifier (a Dask task of its own: the folds run in parallel).

    Its output is the fold's :class:`~behaviorlab.classify.CVFold`; nothing
    when the classifier needs no cross-validation, is cached already, or
    has fewer folds than this one.
    """
    session = _fold_session(fold)

    def work() -> StageResult:
        plan = _classifier_plan(config, features, annotations)
        cache = _cache(config)
        if isinstance(plan, StageResult) or not plan.cross_validate or cache.done("classifier", PROJECT, plan.key, ""):
            return StageResult("classifier_fold", session)
        from behaviorlab.classify import BehaviorClassifier

        clf = BehaviorClassifier(**plan.params)
        if fold >= clf.n_cv_folds(len(plan.labeled)):
            return StageResult("classifier_fold", session)
        key = plan.fold_key(fold)

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as fh:
                pickle.dump(clf.cross_validate_fold(*plan.load(), fold), fh, protocol=pickle.HIGHEST_PROTOCOL)
            model_trust.record(tmp)  # a pickle: read back only while its digest is recorded (model_trust)

        path, ran = _output(cache, "classifier_fold", session, key, write, ".pkl")
        return StageResult("classifier_fold", session, key=key, path=str(path), ran=ran, info={"fold": fold})

    return _guarded("classifier_fold", session, work)


def stage_classifier_model(
    config: ProjectConfig, features: Sequence[StageResult], annotations: Sequence[StageResult]
) -> StageResult:
    """Train the classifier on every annotated session (a task beside the cross-validation folds)."""

    def work() -> StageResult:
        plan = _classifier_plan(config, features, annotations)
        cache = _cache(config)
        if isinstance(plan, StageResult) or cache.done("classifier", PROJECT, plan.key, ""):
            return StageResult("classifier_model", PROJECT)
        from behaviorlab.classify import BehaviorClassifier

        key = plan.model_key()

        def write(tmp: Path) -> None:
            BehaviorClassifier(**plan.params).fit(*plan.load()).save(tmp)

        path, ran = _output(cache, "classifier_model", PROJECT, key, write, ".pkl")
        return StageResult("classifier_model", PROJECT, key=key, path=str(path), ran=ran)

    return _guarded("classifier_model", PROJECT, work)


def _read_fold(path: Path) -> Any:
    """Return the :class:`~behaviorlab.classify.CVFold` a fold task wrote (None when it cannot be read)."""
    from behaviorlab.classify import CVFold

    try:
        fold = model_trust.load_pickle(path)  # written by stage_classifier_fold, refused when not recorded
    except Exception as err:  # written by another behaviorlab version, say: the fold is computed again
        log.warning("%s: cannot read the cached fold (%s); computing it again", path, _describe(err))
        return None
    return fold if isinstance(fold, CVFold) else None


def _drop_folds_from(cache: StageCache, n_folds: int) -> None:
    """Remove the cached folds numbered ``n_folds`` or more (left by a project that had more sessions)."""
    for folder in sorted((cache.root / "classifier_fold").glob(f"{PROJECT}_fold*")):
        number = folder.name.removeprefix(f"{PROJECT}_fold")
        if number.isdigit() and int(number) >= n_folds:
            shutil.rmtree(folder, ignore_errors=True)


def stage_classifier(
    config: ProjectConfig,
    features: Sequence[StageResult],
    annotations: Sequence[StageResult],
    model: StageResult | None = None,
    folds: Sequence[StageResult] = (),
) -> StageResult:
    """Train the behavior classifiers on the annotated sessions (or use the configured model).

    ``model`` and ``folds`` are the results of :func:`stage_classifier_model`
    and :func:`stage_classifier_fold` (run as tasks of their own); what they
    lack is computed here.  With ``cross_validate``, the folder's ``labels/``
    holds each annotated session's out-of-fold decisions (from a model that
    never saw it), and ``cv_scores.csv`` the held-out scores.
    """

    def work() -> StageResult:
        plan = _classifier_plan(config, features, annotations)
        if isinstance(plan, StageResult):
            return plan
        cache = _cache(config)

        def write(folder: Path) -> None:
            from behaviorlab.classify import BehaviorClassifier
            from behaviorlab.io.save import save_netcdf

            x, y = plan.load()
            fitted = model is not None and model.ok and model.key == plan.model_key()
            clf = BehaviorClassifier.load(model.path) if fitted else BehaviorClassifier(**plan.params).fit(x, y)
            info: dict[str, Any] = {
                "sessions": sorted(x),
                "behaviors": [str(b) for b in clf.behaviors_],
                "skipped_behaviors": plan.labels()[1],
                "quality_floor": float(config["classifier"]["quality_floor"]),
            }
            if plan.cross_validate:
                import xarray as xr

                found = {r.info["fold"]: r for r in folds if r.ok and r.key is not None}
                parts = []
                for k in range(clf.n_cv_folds(x)):
                    r = found.get(k)
                    part = _read_fold(Path(r.path)) if r is not None and r.key == plan.fold_key(k) else None
                    # a fold without a task's output (a project with more folds than the table foretold): here
                    parts.append(part if part is not None else clf.cross_validate_fold(x, y, k))
                cv = clf.pool_folds(x, y, parts)
                _drop_folds_from(cache, len(parts))
                cv.scores.to_csv(folder / "cv_scores.csv", index=False)
                cv.fold_scores.to_csv(folder / "cv_fold_scores.csv", index=False)
                info["cv"] = cv.cv
                info["heldout_f1"] = {
                    str(b): float(f) for b, f in zip(cv.scores["behavior"], cv.scores["f1"], strict=True)
                }
                for name in x:
                    decisions = xr.Dataset(
                        {"behavior_prediction": cv.predictions[name], "behavior_probability": cv.probabilities[name]}
                    )
                    save_netcdf(decisions, folder / "labels" / f"{name}.nc")
            if fitted:
                model_trust.copy_model(model.path, folder / "classifier.pkl")
            else:
                clf.save(folder / "classifier.pkl")
            (folder / "info.json").write_text(json.dumps(info, indent=1))

        key = plan.key
        path, ran = _output(cache, "classifier", PROJECT, key, write, "")
        return StageResult(
            "classifier", PROJECT, key=key, path=str(path), ran=ran, info=json.loads((path / "info.json").read_text())
        )

    return _guarded("classifier", PROJECT, work, [model, *folds])


# --------------------------------------------------------------------------- applying the fits
_APPLY = {
    # stage: (fit stage, model file in the fit's folder, variables kept)
    "map_labels": ("behavior_map", "map.pkl", ("embedding", "cluster")),
    "states": ("ethogram", "hmm.pkl", ("state",)),
    "behaviors": ("classifier", "classifier.pkl", ("behavior_prediction", "behavior_probability")),
}


def stage_apply(config: ProjectConfig, stage: str, fit: StageResult, features: StageResult) -> StageResult:
    """Apply a fitted model to one session: its labels from the fit when the fit saw it, else a prediction."""
    session = features.session
    fit_stage, model_file, variables = _APPLY[stage]

    def work() -> StageResult:
        if fit.key is None:
            return StageResult(stage, session)
        from behaviorlab.io.load import load_netcdf
        from behaviorlab.io.save import save_netcdf

        cache = _cache(config)
        key = stage_key(stage, upstream={fit_stage: fit.key, "features": features.key})
        folder = Path(fit.path)
        model_path = folder / model_file if folder.is_dir() else folder

        def write(tmp: Path) -> None:
            fitted = folder / "labels" / f"{session}.nc" if folder.is_dir() else None
            if fitted is not None and fitted.is_file():
                shutil.copyfile(fitted, tmp)
                return
            model = _model_class(fit_stage).load(model_path)
            labeled = model.label(load_netcdf(features.path))
            save_netcdf(labeled[list(variables)], tmp)

        path, ran = _output(cache, stage, session, key, write, ".nc")
        return StageResult(stage, session, key=key, path=str(path), ran=ran)

    return _guarded(stage, session, work, [fit, features])


def _model_class(fit_stage: str) -> type:
    if fit_stage == "behavior_map":
        from behaviorlab.maps import BehaviorMap

        return BehaviorMap
    if fit_stage == "ethogram":
        from behaviorlab.ethogram import EthogramHMM

        return EthogramHMM
    from behaviorlab.classify import BehaviorClassifier

    return BehaviorClassifier


# --------------------------------------------------------------------------- the store
def store_settings(config: ProjectConfig) -> dict[str, Any]:
    """Return the results store's settings from the ``statistics`` section."""
    return dict(config["statistics"])


def open_store(config: ProjectConfig) -> Any:
    """Open ``PROJECT/results``, created with the config's statistics settings (re-created when they changed)."""
    from behaviorlab.store import MANIFEST, ResultsStore

    path = config.root / "results"
    settings = store_settings(config)
    if (path / MANIFEST).is_file():
        store = ResultsStore(path)
        if {k: store.settings.get(k) for k in settings} == json.loads(json.dumps(settings)):
            return store
        log.info("%s: the statistics settings changed; the results store is written afresh", path)
        shutil.rmtree(path)
    return ResultsStore.create(path, **settings)


#: Stages of the models fitted across sessions and of their labels: a failure there never withholds a session.
_MODEL_STAGES = frozenset({"behavior_map", "ethogram", "classifier", "classifier_model", "classifier_fold", *_APPLY})


def stage_store(
    config: ProjectConfig, row: Mapping[str, Any], poses: StageResult, clean: StageResult, parts: Sequence[StageResult]
) -> StageResult:
    """Every label source of one session into the results store (its tables, statistics and Dataset)."""
    session = row["session"]

    def work() -> StageResult:
        import xarray as xr

        from behaviorlab.io.load import load_netcdf
        from behaviorlab.store import ResultsStore, StoreError

        cache = _cache(config)
        # a label source that failed (a classifier, a map) is left out: the session's other results are stored
        present = [p for p in parts if p.ok and p.key is not None]
        upstream = {"clean": clean.key, **{p.stage: p.key for p in present}}
        key = stage_key("store", store_settings(config), upstream=upstream)
        store = ResultsStore(config.root / "results")
        marker = cache.path("store", session, key, ".json")
        if marker.is_file():
            written = json.loads(marker.read_text())
            with contextlib.suppress(StoreError):
                if store.session_info(session)["version"] == written["version"]:
                    return StageResult("store", session, key=key, path=str(marker), info={"rows": written["rows"]})

        def write(tmp: Path) -> None:
            data = [load_netcdf(clean.path)[["position", "confidence"]]] + [load_netcdf(p.path) for p in present]
            ds = xr.merge(_same_behaviors(data), join="exact", compat="no_conflicts", combine_attrs="drop_conflicts")
            files = {k: row[k] for k in ("video", "poses") if row.get(k)}
            entry = store.add_session(session, ds, files=files)
            tmp.write_text(json.dumps({"version": entry["version"], "rows": entry["rows"]}))

        marker.unlink(missing_ok=True)
        path, _ = _output(cache, "store", session, key, write, ".json")
        return StageResult(
            "store", session, key=key, path=str(path), ran=True, info={"rows": json.loads(path.read_text())["rows"]}
        )

    # this session's own data must be there; a model fitted on all sessions that failed withholds only its labels
    own = [p for p in parts if not p.ok and p.info.get("failed_stage", p.stage) not in _MODEL_STAGES]
    return _guarded("store", session, work, [poses, clean, *own])


def _same_behaviors(parts: list[Any]) -> list[Any]:
    """Give every part the same ``behavior`` coordinate: a behavior an annotation file never names did not occur.

    A behavior the classifier did not learn because no annotated frame of any
    session shows it (a BORIS ``Start/End`` row, an unused code) is left out
    of the annotations too, where it is never on: the store then holds no
    classifier rows for it that would read "never happened".
    """
    learned = next((set(map(str, ds["behavior"].values)) for ds in parts if "behavior_prediction" in ds), None)
    if learned is not None:
        trimmed = []
        for ds in parts:
            if "labels" in ds:
                marked = ds["labels"].fillna(0) > 0.5  # NaN: an animal nobody annotated
                shown = marked.any([d for d in marked.dims if d != "behavior"]).values
                keep = [str(b) for b, s in zip(ds["behavior"].values, shown, strict=True) if s or str(b) in learned]
                ds = ds.sel(behavior=keep)
            trimmed.append(ds)
        parts = trimmed
    names: list[str] = []
    for ds in parts:
        if "behavior" in ds.coords:
            names += [str(b) for b in ds["behavior"].values if str(b) not in names]
    if not names:
        return parts
    out = []
    for ds in parts:
        if "labels" in ds and list(ds["behavior"].values) != names:
            ds = ds.reindex(behavior=names, fill_value=False)
        elif "behavior_prediction" in ds and list(ds["behavior"].values) != names:
            fill = {"behavior_prediction": False, "behavior_probability": np.nan}
            ds = ds.reindex(behavior=names, fill_value=fill)
        out.append(ds)
    return out


def stage_render(config: ProjectConfig, row: Mapping[str, Any], clean: StageResult) -> StageResult:
    """Render a labeled video of the session's first ``render.seconds`` (nothing when 0 or without a video)."""
    session = row["session"]

    def work() -> StageResult:
        seconds = config["render"]["seconds"]
        if not seconds or not row.get("video"):
            return StageResult("render", session)
        from behaviorlab.io.load import load_netcdf
        from behaviorlab.render import render_poses

        cache = _cache(config)
        params = dict(config["render"])
        key = stage_key("render", params, upstream={"clean": clean.key}, files={"video": cache.digest(row["video"])})

        def write(tmp: Path) -> None:
            poses = load_netcdf(clean.path)
            end = round(seconds * float(poses.attrs.get("fps") or 30.0))
            render_poses(poses, row["video"], tmp, trail=params["trail"], end=end, radius=2.5)

        path, ran = _output(cache, "render", session, key, write, ".mp4")
        return StageResult("render", session, key=key, path=str(path), ran=ran)

    return _guarded("render", session, work, [clean])


# --------------------------------------------------------------------------- executors
class _Done:
    """A finished computation with the interface of a Dask future (``result``, ``key``)."""

    def __init__(self, value: Any, key: str) -> None:
        self.value, self.key = value, key

    def result(self) -> Any:
        return self.value


def _resolve(value: Any) -> Any:
    if isinstance(value, _Done):
        return value.value
    if isinstance(value, list | tuple):
        return type(value)(_resolve(v) for v in value)
    if isinstance(value, dict):
        return {k: _resolve(v) for k, v in value.items()}
    return value


class _SyncExecutor:
    """Runs every task at once in this process (``scheduler="sync"``: tests, debugging, one small project)."""

    dashboard_link = None

    def submit(self, fn: Callable[..., Any], *args: Any, key: str, resources: Mapping[str, Any] | None = None) -> _Done:
        return _Done(fn(*_resolve(args)), key)

    def as_completed(self, futures: Sequence[_Done]) -> Iterator[_Done]:
        yield from futures


class _DaskExecutor:
    """Tasks on a ``distributed`` client; each task's dependencies are the futures among its arguments."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.dashboard_link = getattr(client, "dashboard_link", None)

    def submit(self, fn: Callable[..., Any], *args: Any, key: str, resources: Mapping[str, Any] | None = None) -> Any:
        return self.client.submit(fn, *args, key=key, pure=False, resources=dict(resources) if resources else None)

    def as_completed(self, futures: Sequence[Any]) -> Iterator[Any]:
        from distributed import as_completed

        yield from as_completed(futures)


@contextlib.contextmanager
def _workers_ignore_interrupt() -> Iterator[None]:
    """Start worker processes with Ctrl-C ignored: it stops the run in this process, which closes the cluster.

    A process inherits an ignored SIGINT (Python then installs no handler of
    its own), so a Ctrl-C in a terminal no longer prints a traceback from
    every worker; this process's own handler is back as soon as they run.
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def _executor(config: ProjectConfig, scheduler: str | None, workers: int | None) -> Iterator[Any]:
    """Yield the executor: ``"sync"``, a scheduler address, or a new local cluster of worker processes."""
    if scheduler == "sync":
        yield _SyncExecutor()
        return
    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler) as client:
            yield _DaskExecutor(client)
        return
    run = config["run"]
    n = workers or run["workers"] or max(1, min(os.cpu_count() or 1, 8))
    resources = config["poses"]["resources"] or None
    with _workers_ignore_interrupt():  # only while the workers start
        cluster = LocalCluster(
            n_workers=n,
            threads_per_worker=run["threads_per_worker"],
            processes=True,
            memory_limit=run["memory_limit"],
            resources=resources,
            dashboard_address=":0",
            # Dask's own warnings (a nanny killing a slow-to-stop worker at shutdown) only with `behaviorlab -v`
            silence_logs=logging.WARNING if os.environ.get("BEHAVIORLAB_VERBOSE") else logging.ERROR,
        )
    with cluster, Client(cluster) as client:
        yield _DaskExecutor(client)


@contextlib.contextmanager
def _project_lock(root: Path) -> Iterator[None]:
    """Hold ``PROJECT/cache/.run.lock``: one run per project at a time."""
    import fcntl

    (root / CACHE).mkdir(parents=True, exist_ok=True)
    handle = open(root / CACHE / ".run.lock", "a+")  # noqa: SIM115 - held for the block
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunError(f"{root}: another `behaviorlab run` is running on this project") from None
        yield
    finally:
        handle.close()


def _remove_debris(cache_root: Path) -> None:
    """Remove temporary files a killed run left (never a resumable checkpoint folder)."""
    for tmp in cache_root.rglob(".*.tmp*"):
        if tmp.is_file():
            tmp.unlink(missing_ok=True)
    for tmp in cache_root.rglob(".*.partial"):
        if tmp.is_dir() and not tmp.name.endswith(".nc.partial"):
            shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------- the report
@attrs.frozen
class RunReport:
    """What a run did: every stage of every session, and which sessions failed and why.

    Attributes
    ----------
    project
        The project folder.
    results
        Every :class:`StageResult`.
    seconds
        Wall time of the run.
    dashboard_link
        The Dask dashboard of the run's cluster (None without one).
    """

    project: Path
    results: tuple[StageResult, ...]
    seconds: float
    dashboard_link: str | None = None
    started: str = ""

    def table(self) -> pd.DataFrame:
        """Return one row per stage and session: ``session, stage, status, seconds, key, error``."""
        rows = [
            {
                "session": r.session,
                "stage": r.stage,
                "status": "failed"
                if r.error and not r.error.startswith("skipped")
                else "skipped"
                if r.error
                else "ran"
                if r.ran
                else "cached"
                if r.key
                else "none",
                "seconds": round(r.seconds, 3),
                "key": r.key,
                "error": r.error,
            }
            for r in self.results
        ]
        return pd.DataFrame(rows, columns=["session", "stage", "status", "seconds", "key", "error"])

    def failures(self) -> pd.DataFrame:
        """Return one row per failed session (or project stage): ``session, stage, error, error_type``."""
        rows = [
            {"session": r.session, "stage": r.stage, "error": r.error, "error_type": r.error_type}
            for r in self.results
            if r.error is not None and not r.error.startswith("skipped")
        ]
        return pd.DataFrame(rows, columns=["session", "stage", "error", "error_type"])

    @property
    def ok(self) -> bool:
        """Whether every stage of every session succeeded."""
        return all(r.ok for r in self.results)

    def completed_sessions(self) -> list[str]:
        """Return the sessions whose results are in the store."""
        return sorted(r.session for r in self.results if r.stage == "store" and r.ok and r.key)

    def result(self, stage: str, session: str = PROJECT) -> StageResult | None:
        """Return the result of one stage (None when it did not take part)."""
        return next((r for r in self.results if r.stage == stage and r.session == session), None)

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form (``run_report.json``)."""
        return {
            "project": str(self.project),
            "started": self.started,
            "seconds": round(self.seconds, 2),
            "ok": self.ok,
            "dashboard_link": self.dashboard_link,
            "completed_sessions": self.completed_sessions(),
            "failures": self.failures().to_dict(orient="records"),
            "stages": [attrs.asdict(r) for r in self.results],
        }

    def _notes(self) -> list[str]:
        """Return what a user must know of the results: landmarks set apart, keypoints often missing, classifier F1."""
        lines: list[str] = []
        for fact, text in (
            ("static_keypoints", "static keypoints, kept as arena landmarks and left out of the body"),
            ("mostly_missing_keypoints", "keypoints missing from most frames"),
        ):
            by_set: dict[tuple[str, ...], list[str]] = {}
            for r in self.results:
                if r.stage == "clean" and r.info.get(fact):
                    by_set.setdefault(tuple(r.info[fact]), []).append(r.session)
            for names, sessions in by_set.items():
                lines.append(
                    f"  {text}: {', '.join(names)} ({len(sessions)} sessions: {', '.join(sessions[:3])}"
                    f"{', ...' if len(sessions) > 3 else ''})"
                )
        for r in self.results:
            if r.stage == "classifier" and r.info.get("heldout_f1"):
                floor = float(r.info.get("quality_floor", 0.5))
                scores = ", ".join(
                    f"{b} {f:.2f}" + (" (below the quality floor)" if not f >= floor else "")
                    for b, f in r.info["heldout_f1"].items()
                )
                lines.append(f"  classifier held-out F1 ({r.info.get('cv', 'cross-validation')}): {scores}")
            if r.stage == "classifier" and r.info.get("skipped_behaviors"):
                lines.append(
                    f"  behaviors no annotated frame shows, not learned: {', '.join(r.info['skipped_behaviors'])}"
                )
        return lines

    def summary(self) -> str:
        """Return a short text for the terminal: counts by stage and status, then each failure."""
        table = self.table()
        counts = table.groupby(["stage", "status"], sort=False).size().unstack(fill_value=0)
        lines = [
            f"behaviorlab run {self.project}: {len(self.completed_sessions())} sessions stored in {self.seconds:.1f} s"
        ]
        for stage, row in counts.iterrows():
            parts = ", ".join(f"{n} {status}" for status, n in row.items() if n)
            lines.append(f"  {stage:<12} {parts}")
        lines += self._notes()
        failures = self.failures()
        if len(failures):
            lines.append(f"  {len(failures)} failed:")
            for r in failures.itertuples():
                lines.append(f"    {r.session} [{r.stage}]: {r.error}")
        return "\n".join(lines)


# --------------------------------------------------------------------------- the run
def _publish(src: Path, dst: Path) -> None:
    """Copy a cached file or folder to ``dst`` atomically (a reader sees the old or the new one).

    A cache output's path names its key, so ``dst`` is copied only when
    ``src`` is another output than the one published last
    (``.<name>.from`` beside ``dst`` remembers it).
    """
    stamp = dst.with_name(f".{dst.name}.from")
    if dst.exists() and stamp.is_file() and stamp.read_text() == str(src):
        return
    if src.is_dir():
        tmp = dst.with_name(f".{dst.name}.{uuid.uuid4().hex[:8]}.partial")
        shutil.copytree(src, tmp)
        old = dst.with_name(f".{dst.name}.old") if dst.exists() else None
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
            os.replace(dst, old)
        os.replace(tmp, dst)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    else:
        with atomic_path(dst) as tmp:
            shutil.copyfile(src, tmp)
    with atomic_path(stamp) as tmp:
        tmp.write_text(str(src))


def _finish(
    config: ProjectConfig, table: pd.DataFrame, results: list[StageResult], store_ok: list[str]
) -> list[StageResult]:
    """Project steps after the sessions: metadata, sessions removed from the table, models published, exports."""
    from behaviorlab.store import ResultsStore

    out: list[StageResult] = []
    store = ResultsStore(config.root / "results")
    for gone in sorted(set(store.sessions) - set(table["session"])):
        store.remove_session(gone)
    metadata_file = config.path(config["metadata"])
    if metadata_file is not None:
        store.set_metadata(metadata_file)
    else:
        columns = [c for c in table.columns if c not in ("video", "poses", "annotations", "fps", "individual")]
        if len(columns) > 1:
            store.set_metadata(table[columns].astype(str))
    by = {(r.stage, r.session): r for r in results}
    models = config.root / MODELS
    for stage, name in (("behavior_map", "map.pkl"), ("ethogram", "hmm.pkl"), ("classifier", "classifier.pkl")):
        r = by.get((stage, PROJECT))
        if r is not None and r.key is not None:
            src = Path(r.path)
            _publish(src / name if src.is_dir() else src, models / name)
            model_trust.vouch_copy(src / name if src.is_dir() else src, models / name)  # the copy loads too
    r = by.get(("pose_model", PROJECT))
    if r is not None and r.key is not None and config["pose_model"]["training_frames"]:
        _publish(Path(r.path), models / "pose_model")
    for r in results:
        if r.stage == "render" and r.key is not None:
            _publish(Path(r.path), config.root / "labeled_videos" / f"{r.session}.mp4")
    out.append(_guarded("exports", PROJECT, lambda: _exports(config, store, [by[("store", s)] for s in store_ok])))
    return out


def _exports(config: ProjectConfig, store: Any, stored: Sequence[StageResult]) -> StageResult:
    from behaviorlab.export import export_store

    formats = config["exports"]["formats"]
    if not formats or not stored:
        return StageResult("exports", PROJECT)
    cache = _cache(config)
    metadata = store.metadata_version
    key = stage_key("exports", {"formats": formats, "metadata": metadata}, upstream={r.session: r.key for r in stored})
    target = config.root / "exports"

    def write(tmp: Path) -> None:
        staging = config.root / f".exports.{uuid.uuid4().hex[:8]}.partial"
        try:
            written = export_store(store, staging, formats)
            if target.exists():
                shutil.rmtree(target)
            os.replace(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        tmp.write_text(json.dumps({k: len(v) for k, v in written.items()}))

    done = cache.done("exports", PROJECT, key, ".json") and target.is_dir()
    if not done:
        cache.path("exports", PROJECT, key, ".json").unlink(missing_ok=True)
    path, ran = _output(cache, "exports", PROJECT, key, write, ".json")
    return StageResult("exports", PROJECT, key=key, path=str(path), ran=ran, info=json.loads(path.read_text()))


def run_project(
    project: str | Path,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: bool = False,
    sessions: Sequence[str] | None = None,
) -> RunReport:
    """Run every stage for every session of a project; resumable, on Dask.

    Parameters
    ----------
    project
        The project folder (``behaviorlab init`` makes one).
    scheduler
        None: a local Dask cluster of worker processes (``run.workers`` of
        the config, else one per core, at most 8); ``"tcp://host:port"``: an
        existing Dask scheduler (a cluster started by dask-jobqueue, say);
        ``"sync"``: everything in this process, one task after another.
    workers
        Workers of the local cluster (overrides ``run.workers``).
    progress
        Show a progress bar (rich) and the Dask dashboard link.
    sessions
        Run only these sessions (default: every session in the table).
        Project fits then see only them.

    Returns
    -------
    RunReport
        Every stage's result, also written to ``PROJECT/run_report.json``.

    Raises
    ------
    SchemaError, FileFormatError
        A bad config or sessions table (nothing runs).
    RunError
        Another run holds the project.
    """
    config = ProjectConfig.load(project)
    table = config.sessions()
    if sessions is not None:
        unknown = sorted(set(sessions) - set(table["session"]))
        if unknown:
            raise RunError(f"{config.root}: sessions {unknown} are not in the sessions table")
        table = table[table["session"].isin(list(sessions))].reset_index(drop=True)
    if table.empty:
        raise RunError(f"{config.root}: the sessions table lists no sessions")
    started = datetime.now(UTC).isoformat(timespec="seconds")
    start = time.perf_counter()
    with _project_lock(config.root):
        _remove_debris(config.root / CACHE)
        open_store(config)
        rows = [
            {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
            for row in table.to_dict(orient="records")
        ]
        config = _resolve_social(config, rows)
        with _executor(config, scheduler, workers) as ex:
            results, link = _run_tasks(ex, config, rows, progress)
        _remove_debris(config.root / CACHE)  # what a worker killed during this run was writing
        store_ok = sorted(r.session for r in results if r.stage == "store" and r.ok and r.key)
        results += _finish(config, table, results, store_ok)
    report = RunReport(config.root, tuple(results), time.perf_counter() - start, link, started)
    with atomic_path(config.root / REPORT) as tmp:
        tmp.write_text(json.dumps(report.to_dict(), indent=1, default=str))
    return report


def _n_folds(config: ProjectConfig, rows: list[dict[str, Any]]) -> int:
    """Return how many cross-validation fold tasks to start: the folds of the annotated sessions of the table."""
    section = config["classifier"]
    n_annotated = sum(1 for row in rows if row.get("annotations"))
    if not (section["enabled"] and section["cross_validate"]) or section["trained_model"] or not n_annotated:
        return 0
    from behaviorlab.classify import BehaviorClassifier

    return BehaviorClassifier(**config.estimator_params("classifier")).n_cv_folds(n_annotated)


def _resolve_social(config: ProjectConfig, rows: list[dict[str, Any]]) -> ProjectConfig:
    """``features.social: auto`` decided once for the project: on when every session has two or more animals.

    Every session must have the same feature columns for the map, the HMM and
    the classifiers, so a project that mixes one- and several-animal
    sessions computes none (and says so); ``features.social: true`` computes
    them everywhere (NaN for a lone animal).
    """
    features = config["features"]
    if features.features.social != "auto":
        return config
    from behaviorlab.io.load import load_poses

    animals = {}
    for row in rows:
        if row.get("poses"):
            try:
                ds = load_poses(
                    Path(row["poses"]), source=config["poses"]["source"], csv_columns=config["poses"]["csv_columns"]
                )
            except BehaviorlabError:
                continue  # the poses stage reports it
            animals[row["session"]] = int(ds.sizes["individual"])
        else:  # predicted: as many animals as the pose model finds (top-down models find several)
            animals[row["session"]] = int(config["pose_model"]["max_animals"] or 1)
    social = bool(animals) and min(animals.values()) >= 2
    lone = sorted(s for s, n in animals.items() if n < 2)
    if not social and len(lone) < len(animals):
        log.warning(
            "social features are off: sessions %s have one animal, and every session needs the same features "
            "(set features.social: true to compute them for every session, NaN for a lone animal)",
            lone[:5],
        )
    chosen = attrs.evolve(features, features=attrs.evolve(features.features, social=social))
    return attrs.evolve(config, sections={**config.sections, "features": chosen})


def _run_tasks(
    ex: Any, config: ProjectConfig, rows: list[dict[str, Any]], progress: bool
) -> tuple[list[StageResult], str | None]:
    """Submit the whole graph, then collect every result as it finishes."""
    token = uuid.uuid4().hex[:6]
    pose_resources = config["poses"]["resources"] or None

    def submit(fn: Callable[..., Any], name: str, session: str, *args: Any, resources: Any = None) -> Any:
        return ex.submit(fn, *args, key=f"{name}-{session}-{token}", resources=resources)

    futures: list[Any] = []
    model = submit(stage_pose_model, "pose_model", PROJECT, config)
    futures.append(model)
    poses, clean, feats, notes = {}, {}, {}, {}
    for row in rows:
        s = row["session"]
        predicted = not row.get("poses")
        poses[s] = submit(stage_poses, "poses", s, config, row, model, resources=pose_resources if predicted else None)
        clean[s] = submit(stage_clean, "clean", s, config, poses[s])
        feats[s] = submit(stage_features, "features", s, config, clean[s])
        notes[s] = submit(stage_annotations, "annotations", s, config, row, poses[s])
        futures += [poses[s], clean[s], feats[s], notes[s]]
    # the longest fits first (Dask runs tasks in the order given): the map, then the classifier's folds
    behavior_map = submit(stage_behavior_map, "behavior_map", PROJECT, config, list(feats.values()))
    ethogram = submit(stage_ethogram, "ethogram", PROJECT, config, list(feats.values()))
    # the classifier needs the annotated sessions only: it trains while the pose model predicts the others
    annotated = [row["session"] for row in rows if row.get("annotations")]
    labeled = ([feats[s] for s in annotated], [notes[s] for s in annotated])
    model = submit(stage_classifier_model, "classifier_model", PROJECT, config, *labeled)
    folds = [
        submit(stage_classifier_fold, "classifier_fold", _fold_session(k), config, *labeled, k)
        for k in range(_n_folds(config, rows))
    ]
    fits = {
        "behavior_map": behavior_map,
        "ethogram": ethogram,
        "classifier": submit(stage_classifier, "classifier", PROJECT, config, *labeled, model, folds),
    }
    futures += [behavior_map, ethogram, model, *folds, fits["classifier"]]
    for row in rows:
        s = row["session"]
        applied = [
            submit(stage_apply, stage, s, config, stage, fits[fit], feats[s]) for stage, (fit, _, _) in _APPLY.items()
        ]
        store = submit(stage_store, "store", s, config, row, poses[s], clean[s], [*applied, notes[s]])
        render = submit(stage_render, "render", s, config, row, clean[s])
        futures += [*applied, store, render]
    results: list[StageResult] = []
    bar = _progress(progress, len(futures), ex.dashboard_link)
    with bar as update:
        for future in ex.as_completed(futures):
            try:
                result = future.result()
            except Exception as err:  # a task lost with its workers (KilledWorker) fails its session
                stage, session = str(future.key).rsplit("-", 1)[0].split("-", 1)
                result = StageResult(stage, session, error=_describe(err), error_type=type(err).__name__)
            results.append(result)
            update(result)
    order = {f.key: i for i, f in enumerate(futures)}
    results.sort(key=lambda r: order.get(f"{r.stage}-{r.session}-{token}", len(order)))
    return results, ex.dashboard_link


@contextlib.contextmanager
def _progress(show: bool, total: int, link: str | None) -> Iterator[Callable[[StageResult], None]]:
    if not show:
        yield lambda result: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    if link:
        console.print(f"Dask dashboard: {link}")
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as bar:
        task = bar.add_task("run", total=total)

        def update(result: StageResult) -> None:
            state = "failed" if result.error and not result.error.startswith("skipped") else "done"
            bar.update(task, advance=1, description=f"{result.stage} {result.session} {state}")

        yield update
