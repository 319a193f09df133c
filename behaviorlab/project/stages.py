"""The per-session stages of ``behaviorlab run`` and what every stage shares.

Each ``stage_*`` function is one Dask task: it computes its output into the
project's cache (:func:`cached_output`), or finds it there, and returns a
:class:`~behaviorlab.project.report.StageResult`; :func:`guarded` turns its
exception into a failed result, so that the other sessions go on.

The stages here are a session's poses, their cleaning, features and
annotations, the project-wide fits applied to it (:func:`stage_apply`), its
entry in the results store and its labeled video; the pose model is found or
trained here too.  The fits across sessions are in :mod:`behaviorlab.project.fits`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import subprocess
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import xarray as xr

from behaviorlab.behavior.arhmm import ARHMM
from behaviorlab.behavior.classify import BehaviorClassifier
from behaviorlab.behavior.ethogram import EthogramHMM
from behaviorlab.behavior.maps import BehaviorMap
from behaviorlab.errors import SchemaError
from behaviorlab.features.pipeline import load_session_features, session_features
from behaviorlab.io.annotations import consensus, load_annotations
from behaviorlab.io.load import load_netcdf, load_poses
from behaviorlab.io.save import save_netcdf
from behaviorlab.io.video import TruncatedVideoWarning, VideoReader, probe_video
from behaviorlab.pose.folder import TOPDOWN_CONFIG
from behaviorlab.project.cache import StageCache, stage_key
from behaviorlab.project.config import ProjectConfig
from behaviorlab.project.report import PROJECT, RunError, StageResult, describe_error
from behaviorlab.results.render import render_poses
from behaviorlab.results.store import MANIFEST, ResultsStore, StoreError
from behaviorlab.schema import rename_keypoints
from behaviorlab.trajectories.filtering import clean_poses
from behaviorlab.trajectories.landmarks import arena_landmarks

__all__ = [
    "APPLY",
    "CACHE",
    "cached_output",
    "check_poses",
    "guarded",
    "open_store",
    "stage_annotations",
    "stage_apply",
    "stage_cache",
    "stage_clean",
    "stage_features",
    "stage_pose_model",
    "stage_poses",
    "stage_render",
    "stage_store",
    "store_settings",
]

log = logging.getLogger(__name__)

#: The project's cache folder.
CACHE = "cache"


def guarded(stage: str, session: str, fn: Callable[[], StageResult], upstream: Sequence[Any] = ()) -> StageResult:
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
        log.warning("%s of %s failed: %s", stage, session, describe_error(err))
        return StageResult(
            stage,
            session,
            seconds=time.perf_counter() - start,
            error=describe_error(err),
            error_type=type(err).__name__,
            traceback="".join(traceback.format_exception(err)[-8:]),
            info={"failed_stage": stage},
        )
    return attrs.evolve(result, seconds=time.perf_counter() - start)


def _truncated_warning() -> type[Warning]:
    return TruncatedVideoWarning


def stage_cache(config: ProjectConfig) -> StageCache:
    """Return the project's stage cache (``PROJECT/cache``)."""
    return StageCache(config.root / CACHE)


def cached_output(
    cache: StageCache, stage: str, session: str, key: str, write: Callable[[Path], Any], suffix: str
) -> tuple[Path, bool]:
    """Return (output, ran): the cached output for ``key`` or a new one written by ``write``."""
    if cache.done(stage, session, key, suffix):
        return cache.path(stage, session, key, suffix), False
    if suffix:
        return cache.run(stage, session, key, write, suffix=suffix), True
    return cache.run_dir(stage, session, key, write), True


# --------------------------------------------------------------------------- pose stages
#: What makes a crop-path model (the topdown folder's settings and both models).
TOPDOWN_FILES = (
    TOPDOWN_CONFIG,
    "centroid/pose_config.json",
    "centroid/model.keras",
    "pose/pose_config.json",
    "pose/model.keras",
)


def _model_digest(cache: StageCache, folder: Path) -> str:
    """Return a digest of a pose model folder (full-frame or crop path): its weights and configs."""
    topdown = (folder / TOPDOWN_CONFIG).is_file()
    names = TOPDOWN_FILES if topdown else ("pose_config.json", "model.keras")
    files = {}
    for name in names:
        if not (folder / name).is_file():
            raise SchemaError(f"{folder}: not a pose model folder (no {name})")
        files[name] = cache.digest(folder / name)
    return stage_key("pose_model_files", files=files)


def stage_pose_model(config: ProjectConfig) -> StageResult:
    """Find the configured pose model, or train one from the configured labeled frames (no model: pose files)."""

    def work() -> StageResult:
        section = config.pose_model
        cache = stage_cache(config)
        if section.model:
            folder = config.path(section.model)
            if not folder.is_dir():
                raise SchemaError(f"{folder}: pose_model.model is not a folder")
            return StageResult("pose_model", PROJECT, key=_model_digest(cache, folder), path=str(folder))
        if not section.training_frames:
            return StageResult("pose_model", PROJECT)
        frames_file = config.path(section.training_frames)
        params = {"train": section.train, "max_animals": section.max_animals, "path": section.path}
        key = stage_key("pose_model", params, files={"training_frames": cache.digest(frames_file)})

        def train(folder: Path) -> None:
            # in a fresh process (behaviorlab.pose.job): trained inside a worker that had run other tasks, the
            # same labels, config and seed gave another model on every run
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

        path, ran = cached_output(cache, "pose_model", PROJECT, key, train, "")
        evaluation = json.loads((path / "evaluation.json").read_text())
        return StageResult("pose_model", PROJECT, key=key, path=str(path), ran=ran, info=evaluation)

    return guarded("pose_model", PROJECT, work)


def _expected_keypoints(config: ProjectConfig, model: StageResult) -> list[str] | None:
    if config.poses.keypoints:
        return [str(k) for k in config.poses.keypoints]
    if model.key is not None:
        folder = Path(model.path)
        config_file = TOPDOWN_CONFIG if (folder / TOPDOWN_CONFIG).is_file() else "pose_config.json"
        meta = json.loads((folder / config_file).read_text())
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
        cache = stage_cache(config)
        video = Path(row["video"]) if row.get("video") else None
        info = probe_video(video) if video is not None else None  # a corrupt video fails here, naming the file
        given = row.get("fps")
        fps = float(given) if given and given == given else (info.fps if info is not None else None)  # NaN: none
        keypoints = _expected_keypoints(config, model)
        allow = config.poses.allow_missing_keypoints
        files = {"video": cache.digest(video)} if video is not None else {}
        if row.get("poses"):
            pose_file = Path(row["poses"])
            files["poses"] = cache.digest(pose_file)
            reading = {"source": config.poses.source, "csv_columns": config.poses.csv_columns}
            params = {"fps": fps, "keypoints": keypoints, "allow_missing": allow, **reading}
            if config.poses.keypoint_map:
                params["keypoint_map"] = dict(config.poses.keypoint_map)
            key = stage_key("poses", params, files=files)

            def write(tmp: Path) -> None:
                if info is not None:  # the video must be readable to its last frame (a truncated file is not)
                    with VideoReader(video) as reader:
                        reader.read(info.n_frames - 1)
                ds = rename_keypoints(
                    load_poses(pose_file, fps=fps, **reading), config.poses.keypoint_map, str(pose_file)
                )
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
                from behaviorlab.pose.inference import (
                    predict_video,  # lazy: Keras (the pose extra), through behaviorlab.pose.inference
                )
                from behaviorlab.pose.topdown import (
                    predict_video_topdown,  # lazy: Keras (the pose extra), through behaviorlab.pose.topdown
                )

                # a fixed name beside the output, so that predict_video's chunk checkpoints resume after a crash
                work_file = cache.path("poses", session, f".{key}.predicting", ".nc")
                work_file.parent.mkdir(parents=True, exist_ok=True)
                crop_path = (Path(model.path) / TOPDOWN_CONFIG).is_file()
                predict = predict_video_topdown if crop_path else predict_video
                ds = predict(
                    Path(model.path), video, work_file, batch_size=config.poses.batch_size, individual=individual
                )
                check_poses(ds, str(video), keypoints=keypoints, n_frames=info.n_frames, allow_missing=allow)
                os.replace(work_file, tmp)

        path, ran = cached_output(cache, "poses", session, key, write, ".nc")

        ds = load_netcdf(path, select=["confidence"])
        facts = {
            "frames": int(ds.sizes["time"]),
            "individuals": [str(i) for i in ds["individual"].values],
            "fps": ds.attrs.get("fps"),
            "damaged_frames": int(ds.attrs.get("damaged_frames", 0)),
        }
        return StageResult("poses", session, key=key, path=str(path), ran=ran, info=facts)

    return guarded("poses", session, work, [model])


def stage_clean(config: ProjectConfig, poses: StageResult) -> StageResult:
    """Clean one session's poses (confidence masking, jump removal, filters, gap-limited interpolation)."""
    session = poses.session

    def work() -> StageResult:
        cache = stage_cache(config)
        cleaning = config.features.cleaning
        key = stage_key("clean", cleaning.to_dict(), upstream={"poses": poses.key})
        path, ran = cached_output(
            cache,
            "clean",
            session,
            key,
            lambda tmp: save_netcdf(clean_poses(load_netcdf(poses.path), cleaning), tmp),
            ".nc",
        )

        cleaned = load_netcdf(path, select=["confidence"])
        facts = {
            "static_keypoints": sorted(arena_landmarks(cleaned)),
            "mostly_missing_keypoints": json.loads(cleaned.attrs.get("mostly_missing_keypoints", "[]")),
        }
        return StageResult("clean", session, key=key, path=str(path), ran=ran, info=facts)

    return guarded("clean", session, work, [poses])


def stage_features(config: ProjectConfig, clean: StageResult) -> StageResult:
    """Per-frame features and their spectrogram of one session's cleaned poses."""
    session = clean.session

    def work() -> StageResult:
        cache = stage_cache(config)
        features = config.features
        params = {k: v for k, v in features.to_dict().items() if k != "cleaning"}
        key = stage_key("features", params, upstream={"clean": clean.key})

        def write(tmp: Path) -> None:
            # the spectrogram is recomputed when a fit reads it (load_session_features): stored, it would be
            # 25 times the features and about 600 MB per hour of recording
            out = session_features(load_netcdf(clean.path), features, spectrogram="recipe")
            save_netcdf(out[["features"]].assign_attrs(session=session), tmp)

        path, ran = cached_output(cache, "features", session, key, write, ".nc")
        return StageResult("features", session, key=key, path=str(path), ran=ran)

    return guarded("features", session, work, [clean])


def stage_annotations(config: ProjectConfig, row: Mapping[str, Any], poses: StageResult) -> StageResult:
    """One session's annotation file as per-frame ``labels`` on the poses' frames (nothing without a file)."""
    session = row["session"]

    def work() -> StageResult:
        if not row.get("annotations"):
            return StageResult("annotations", session)

        cache = stage_cache(config)
        file = Path(row["annotations"])
        params = config.annotations.to_dict()
        # the classifier's behaviors are in every session's labels (a behavior a file never names did not occur)
        params["behaviors"] = params["behaviors"] or config.classifier.behaviors
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

        path, ran = cached_output(cache, "annotations", session, key, write, ".nc")
        return StageResult("annotations", session, key=key, path=str(path), ran=ran)

    return guarded("annotations", session, work, [poses])


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


# --------------------------------------------------------------------------- applying the fits
APPLY = {
    # stage: (fit stage, model file in the fit's folder, variables kept, the session stage the model reads)
    "map_labels": ("behavior_map", "map.pkl", ("embedding", "cluster"), "features"),
    "states": ("ethogram", "hmm.pkl", ("state",), "features"),
    "syllable_labels": ("syllables", "arhmm.pkl", ("syllable",), "clean"),  # the AR-HMM models the cleaned poses
    "behaviors": ("classifier", "classifier.pkl", ("behavior_prediction", "behavior_probability"), "features"),
}


def stage_apply(config: ProjectConfig, stage: str, fit: StageResult, features: StageResult) -> StageResult:
    """Apply a fitted model to one session: its labels from the fit when the fit saw it, else a prediction."""
    session = features.session
    fit_stage, model_file, variables, _ = APPLY[stage]

    def work() -> StageResult:
        if fit.key is None:
            return StageResult(stage, session)

        cache = stage_cache(config)
        key = stage_key(stage, upstream={fit_stage: fit.key, "features": features.key})
        folder = Path(fit.path)
        model_path = folder / model_file if folder.is_dir() else folder

        def write(tmp: Path) -> None:
            fitted = folder / "labels" / f"{session}.nc" if folder.is_dir() else None
            if fitted is not None and fitted.is_file():
                shutil.copyfile(fitted, tmp)
                return
            model = _model_class(fit_stage).load(model_path)
            # lazily: the classifier reads the session block by block; the map and the HMM read it whole
            with load_session_features(features.path, spectrogram="recipe", lazy=True) as session_features:
                labeled = model.label(session_features)
                save_netcdf(labeled[list(variables)], tmp)

        path, ran = cached_output(cache, stage, session, key, write, ".nc")
        return StageResult(stage, session, key=key, path=str(path), ran=ran)

    return guarded(stage, session, work, [fit, features])


def _model_class(fit_stage: str) -> type:
    if fit_stage == "behavior_map":
        return BehaviorMap
    if fit_stage == "ethogram":
        return EthogramHMM
    if fit_stage == "syllables":
        return ARHMM

    return BehaviorClassifier


# --------------------------------------------------------------------------- the store
def store_settings(config: ProjectConfig) -> dict[str, Any]:
    """Return the results store's settings from the ``statistics`` section."""
    return config.statistics.to_dict()


def open_store(config: ProjectConfig) -> Any:
    """Open ``PROJECT/results``, created with the config's statistics settings (re-created when they changed)."""
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
_MODEL_STAGES = frozenset(
    {"behavior_map", "ethogram", "syllables", "classifier", "classifier_model", "classifier_fold", *APPLY}
)


def stage_store(
    config: ProjectConfig, row: Mapping[str, Any], poses: StageResult, clean: StageResult, parts: Sequence[StageResult]
) -> StageResult:
    """Every label source of one session into the results store (its tables, statistics and Dataset)."""
    session = row["session"]

    def work() -> StageResult:
        cache = stage_cache(config)
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
        path, _ = cached_output(cache, "store", session, key, write, ".json")
        return StageResult(
            "store", session, key=key, path=str(path), ran=True, info={"rows": json.loads(path.read_text())["rows"]}
        )

    # this session's own data must be there; a model fitted on all sessions that failed withholds only its labels
    own = [p for p in parts if not p.ok and p.info.get("failed_stage", p.stage) not in _MODEL_STAGES]
    return guarded("store", session, work, [poses, clean, *own])


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
        seconds = config.render.seconds
        if not seconds or not row.get("video"):
            return StageResult("render", session)

        cache = stage_cache(config)
        params = config.render.to_dict()
        key = stage_key("render", params, upstream={"clean": clean.key}, files={"video": cache.digest(row["video"])})

        def write(tmp: Path) -> None:
            poses = load_netcdf(clean.path)
            end = round(seconds * float(poses.attrs.get("fps") or 30.0))
            render_poses(poses, row["video"], tmp, trail=params["trail"], end=end, radius=2.5)

        path, ran = cached_output(cache, "render", session, key, write, ".mp4")
        return StageResult("render", session, key=key, path=str(path), ran=ran)

    return guarded("render", session, work, [clean])
