"""The stages of ``behaviorlab run`` that fit a model across sessions: map, HMM, AR-HMM, classifier.

The map, the ethogram and the syllables (AR-HMM) are fitted on every session's features files; the
classifier on the annotated sessions, as one task for the model and one per
cross-validation fold (session ``_project_foldNNN``) that
:func:`stage_classifier` pools.  Each fit's folder keeps the labels of the
sessions it saw, which :func:`behaviorlab.project.stages.stage_apply` reuses.
"""

from __future__ import annotations

import json
import logging
import pickle
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs
import xarray as xr

from behaviorlab import model_trust
from behaviorlab._persist import read_trusted_pickle
from behaviorlab.behavior.arhmm import ARHMM
from behaviorlab.behavior.classify import BehaviorClassifier, CVFold
from behaviorlab.behavior.ethogram import EthogramHMM
from behaviorlab.behavior.maps import BehaviorMap
from behaviorlab.errors import SchemaError
from behaviorlab.features.pipeline import load_session_features
from behaviorlab.io.load import load_netcdf
from behaviorlab.io.save import save_netcdf
from behaviorlab.project.cache import StageCache, stage_key
from behaviorlab.project.config import ProjectConfig
from behaviorlab.project.report import PROJECT, StageResult, describe_error
from behaviorlab.project.stages import cached_output, guarded, stage_cache

__all__ = [
    "fold_session",
    "n_fold_tasks",
    "stage_behavior_map",
    "stage_classifier",
    "stage_classifier_fold",
    "stage_classifier_model",
    "stage_ethogram",
    "stage_syllables",
]

log = logging.getLogger(__name__)


def _usable(results: Sequence[StageResult]) -> list[StageResult]:
    return sorted((r for r in results if r.ok and r.key is not None), key=lambda r: r.session)


def _fit_stage(
    name: str,
    config: ProjectConfig,
    features: Sequence[StageResult],
    fit: Callable[[dict[str, Any], Path], dict[str, Any]],
    variable: str | list[str],
) -> StageResult:
    """Fit a model on every session's features or cleaned poses; its folder keeps the model, info.json and labels/."""

    def work() -> StageResult:
        if not getattr(config, name).enabled:
            return StageResult(name, PROJECT, info={"disabled": True})
        usable = _usable(features)
        if not usable:
            raise SchemaError(f"no session has features to fit the {name} on")

        cache = stage_cache(config)
        key = stage_key(name, config.estimator_params(name), upstream={r.session: r.key for r in usable})

        def write(folder: Path) -> None:
            select = [variable] if isinstance(variable, str) else variable
            # a spectrogram is computed block by block as the estimator reads it, never whole in memory
            sessions = {r.session: load_session_features(r.path, select, spectrogram="recipe") for r in usable}
            info = fit(sessions, folder)
            (folder / "info.json").write_text(json.dumps(info, indent=1, default=str))

        path, ran = cached_output(cache, name, PROJECT, key, write, "")
        return StageResult(
            name, PROJECT, key=key, path=str(path), ran=ran, info=json.loads((path / "info.json").read_text())
        )

    return guarded(name, PROJECT, work)


def stage_behavior_map(config: ProjectConfig, features: Sequence[StageResult]) -> StageResult:
    """Fit the behavior map on every session's spectrograms; keep each fitted session's labels."""

    def fit(sessions: dict[str, Any], folder: Path) -> dict[str, Any]:
        model = BehaviorMap(**config.estimator_params("behavior_map"))
        labeled = model.fit_label(sessions)
        model.save(folder / "map.pkl")
        for session, ds in labeled.items():
            save_netcdf(ds[["embedding", "cluster"]], folder / "labels" / f"{session}.nc")
        return {"n_regions": int(model.n_regions_), "frames": len(model.labels_), "sessions": sorted(sessions)}

    return _fit_stage("behavior_map", config, features, fit, config.behavior_map.variable)


def stage_ethogram(config: ProjectConfig, features: Sequence[StageResult]) -> StageResult:
    """Fit the HMM ethogram on every session's spectrograms; keep each fitted session's states."""

    def fit(sessions: dict[str, Any], folder: Path) -> dict[str, Any]:
        model = EthogramHMM(**config.estimator_params("ethogram")).fit(sessions)
        model.save(folder / "hmm.pkl")
        for session, ds in model.label(sessions).items():
            save_netcdf(ds[["state"]], folder / "labels" / f"{session}.nc")
        return {"n_states": int(model.n_states_), "sessions": sorted(sessions)}

    return _fit_stage("ethogram", config, features, fit, config.ethogram.variable)


def stage_syllables(config: ProjectConfig, clean: Sequence[StageResult]) -> StageResult:
    """Fit the AR-HMM on every session's cleaned poses; keep each fitted session's syllables and the fit's quality."""

    def fit(sessions: dict[str, Any], folder: Path) -> dict[str, Any]:
        model = ARHMM(**config.estimator_params("syllables")).fit(sessions)
        model.save(folder / "arhmm.pkl")
        for session, ds in model.label(sessions).items():
            save_netcdf(ds[["syllable"]], folder / "labels" / f"{session}.nc")
        return {
            "n_states": int(model.n_states_),
            "median_syllable_s": float(model.median_duration_s_),
            "short_syllable_share": float(model.short_syllable_share_),
            "kappa": float(model.kappa_),
            "sessions": sorted(sessions),
        }

    return _fit_stage("syllables", config, clean, fit, ["position", "confidence"])


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
        variable = self.params["variable"]
        x = {r.session: load_session_features(self.features[r.session].path, select=[variable]) for r in self.labeled}
        return x, self.labels()[0]


def _classifier_plan(
    config: ProjectConfig, features: Sequence[StageResult], annotations: Sequence[StageResult]
) -> _ClassifierPlan | StageResult:
    """Return the plan of the classifier stages, or the classifier's result when nothing is to be trained."""
    section = config.classifier
    if not section.enabled:
        return StageResult("classifier", PROJECT, info={"disabled": True})
    if section.trained_model:
        file = config.path(section.trained_model)
        key = stage_cache(config).digest(file)
        return StageResult("classifier", PROJECT, key=key, path=str(file), info={"trained_model": str(file)})
    feats = {r.session: r for r in _usable(features)}
    labeled = [r for r in _usable(annotations) if r.session in feats]
    if not labeled:
        return StageResult("classifier", PROJECT, info={"no_annotations": True})
    upstream = {f"{r.session}/features": feats[r.session].key for r in labeled}
    upstream.update({f"{r.session}/annotations": r.key for r in labeled})
    params = config.estimator_params("classifier")
    return _ClassifierPlan(feats, labeled, params, upstream, bool(section.cross_validate))


def fold_session(fold: int) -> str:
    """Return the cache session name of cross-validation fold ``fold`` (``_project_foldNNN``)."""
    return f"{PROJECT}_fold{fold:03d}"


def stage_classifier_fold(
    config: ProjectConfig, features: Sequence[StageResult], annotations: Sequence[StageResult], fold: int
) -> StageResult:
    """One cross-validation fold of the classifier (a Dask task of its own: the folds run in parallel).

    Its output is the fold's :class:`~behaviorlab.behavior.classify.CVFold`; nothing
    when the classifier needs no cross-validation, is cached already, or
    has fewer folds than this one.
    """
    session = fold_session(fold)

    def work() -> StageResult:
        plan = _classifier_plan(config, features, annotations)
        cache = stage_cache(config)
        if isinstance(plan, StageResult) or not plan.cross_validate or cache.done("classifier", PROJECT, plan.key, ""):
            return StageResult("classifier_fold", session)

        clf = BehaviorClassifier(**plan.params)
        if fold >= clf.n_cv_folds(len(plan.labeled)):
            return StageResult("classifier_fold", session)
        key = plan.fold_key(fold)

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as fh:
                pickle.dump(clf.cross_validate_fold(*plan.load(), fold), fh, protocol=pickle.HIGHEST_PROTOCOL)
            model_trust.record(tmp)  # a pickle: read back only while its digest is recorded (model_trust)

        path, ran = cached_output(cache, "classifier_fold", session, key, write, ".pkl")
        return StageResult("classifier_fold", session, key=key, path=str(path), ran=ran, info={"fold": fold})

    return guarded("classifier_fold", session, work)


def stage_classifier_model(
    config: ProjectConfig, features: Sequence[StageResult], annotations: Sequence[StageResult]
) -> StageResult:
    """Train the classifier on every annotated session (a task beside the cross-validation folds)."""

    def work() -> StageResult:
        plan = _classifier_plan(config, features, annotations)
        cache = stage_cache(config)
        if isinstance(plan, StageResult) or cache.done("classifier", PROJECT, plan.key, ""):
            return StageResult("classifier_model", PROJECT)

        key = plan.model_key()

        def write(tmp: Path) -> None:
            BehaviorClassifier(**plan.params).fit(*plan.load()).save(tmp)

        path, ran = cached_output(cache, "classifier_model", PROJECT, key, write, ".pkl")
        return StageResult("classifier_model", PROJECT, key=key, path=str(path), ran=ran)

    return guarded("classifier_model", PROJECT, work)


def _read_fold(path: Path) -> Any:
    """Return the :class:`~behaviorlab.behavior.classify.CVFold` a fold task wrote (None when it cannot be read)."""
    try:
        fold = read_trusted_pickle(path)  # written by stage_classifier_fold, refused when not recorded
    except Exception as err:  # written by another behaviorlab version, say: the fold is computed again
        log.warning("%s: cannot read the cached fold (%s); computing it again", path, describe_error(err))
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
        cache = stage_cache(config)

        def write(folder: Path) -> None:
            x, y = plan.load()
            fitted = model is not None and model.ok and model.key == plan.model_key()
            clf = BehaviorClassifier.load(model.path) if fitted else BehaviorClassifier(**plan.params).fit(x, y)
            info: dict[str, Any] = {
                "sessions": sorted(x),
                "behaviors": [str(b) for b in clf.behaviors_],
                "skipped_behaviors": plan.labels()[1],
                "quality_floor": float(config.classifier.quality_floor),
            }
            if plan.cross_validate:
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
        path, ran = cached_output(cache, "classifier", PROJECT, key, write, "")
        return StageResult(
            "classifier", PROJECT, key=key, path=str(path), ran=ran, info=json.loads((path / "info.json").read_text())
        )

    return guarded("classifier", PROJECT, work, [model, *folds])


def n_fold_tasks(config: ProjectConfig, rows: list[dict[str, Any]]) -> int:
    """Return how many cross-validation fold tasks to start: the folds of the annotated sessions of the table."""
    section = config.classifier
    n_annotated = sum(1 for row in rows if row.get("annotations"))
    if not (section.enabled and section.cross_validate) or section.trained_model or not n_annotated:
        return 0

    return BehaviorClassifier(**config.estimator_params("classifier")).n_cv_folds(n_annotated)
