"""Generated example projects for the dashboard's tests and benchmarks (not for analysis).

:func:`make_example_project` writes a project folder like the one
``behaviorlab demo`` builds, in seconds instead of minutes: simulated poses
(:func:`behaviorlab.synthetic.simulate.simulate_poses`, or the sample sessions with their
videos), features and spectrograms, a behavior map, an HMM and a classifier
fitted on them (small settings), the generated behaviors as the human
annotation, and a results store with metadata.  With
``train_pose_model`` a tiny pose model is trained for a few epochs, so the
project has a real training log and evaluation; without it the project has no
pose model (nothing is invented).
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from behaviorlab.behavior.classify import BehaviorClassifier
from behaviorlab.behavior.ethogram import EthogramHMM
from behaviorlab.behavior.maps import BehaviorMap
from behaviorlab.features.design import FeatureConfig
from behaviorlab.features.pipeline import SessionFeaturesConfig, compute_session_features
from behaviorlab.io.labeled_frames import load_labeled_frames
from behaviorlab.io.load import load_poses
from behaviorlab.project.demo import DEMO_POSE_TRAINING
from behaviorlab.results.store import ResultsStore
from behaviorlab.synthetic.simulate import BEHAVIORS, SyntheticConfig, simulate_poses

__all__ = ["make_example_project"]

log = logging.getLogger(__name__)


def _sessions(sample_dir: Path | None, n_sessions: int, minutes: float, seed: int) -> dict[str, dict[str, Any]]:
    """Poses, generated behaviors, video (sample sessions only) and group of every session."""
    out: dict[str, dict[str, Any]] = {}
    if sample_dir is not None:
        metadata = pd.read_csv(sample_dir / "metadata.csv", dtype={"session": str, "subject": str})
        for poses_path in sorted(sample_dir.glob("*_poses.nc")):
            name = poses_path.name.removesuffix("_poses.nc")
            poses = load_poses(poses_path)
            table = pd.read_csv(sample_dir / f"{name}_labels.csv")
            wide = table.pivot(index="frame", columns="individual", values="behavior")
            names = wide[[str(i) for i in poses["individual"].values]].to_numpy()[: poses.sizes["time"]]
            out[name] = {
                "poses": poses,
                "behavior": xr.DataArray(names.astype(object), dims=("time", "individual")),
                "video": sample_dir / f"{name}.mp4",
                "poses_file": poses_path,
            }
        return out | {"_metadata": metadata}  # type: ignore[return-value]
    rows = []
    for k in range(n_sessions):
        n_animals = 1 + k % 2
        individuals = tuple(f"mouse{i + 1}" for i in range(n_animals))
        group = ("control", "treated")[k % 2]
        cfg = SyntheticConfig(
            seed=seed + k,
            n_animals=n_animals,
            duration_s=60.0 * minutes,
            individuals=individuals,
            speed_scale=(0.75 if group == "treated" else 1.0,) * n_animals,
        )
        poses, behavior = simulate_poses(cfg)
        name = f"session_{k:03d}"
        out[name] = {"poses": poses, "behavior": behavior.astype(object), "video": None, "poses_file": None}
        rows += [{"session": name, "subject": i, "group": group, "day": 1 + (k // 2) % 2} for i in individuals]
    return out | {"_metadata": pd.DataFrame(rows)}  # type: ignore[return-value]


def make_example_project(
    out: str | Path,
    *,
    sample_dir: str | Path | None = None,
    n_sessions: int = 4,
    minutes: float = 1.0,
    seed: int = 0,
    train_pose_model: bool = False,
) -> Path:
    """Write a generated project folder (store, models, training frames) for dashboard tests and benchmarks.

    Parameters
    ----------
    out
        New folder.
    sample_dir
        Use these sample sessions (with their videos, labeled frames and
        metadata) instead of simulated ones.
    n_sessions, minutes, seed
        Simulated sessions (without ``sample_dir``): alternately one and two
        animals, groups ``control`` / ``treated`` (the treated animals move
        at 0.75 of the speed).
    train_pose_model
        Train a tiny pose model for a few epochs on the labeled frames (needs
        ``sample_dir``; about a minute) so the project has a real training
        log and evaluation.

    Returns
    -------
    Path
        ``out``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=False)
    sample = Path(sample_dir) if sample_dir is not None else None
    sessions = _sessions(sample, n_sessions, minutes, seed)
    metadata = sessions.pop("_metadata")
    config = SessionFeaturesConfig(features=FeatureConfig(axis_from="tail_base", axis_to="neck"))
    features = {}
    for name, s in sessions.items():
        result = compute_session_features(s["poses"], config)
        features[name] = xr.Dataset(
            {"features": result["features"], "spectrogram": result["spectrogram"]},
            attrs={**result.attrs, "session": name},
        )
        s["clean"] = result[["position", "confidence"]]
    models = out / "models"
    models.mkdir()
    behavior_map = BehaviorMap(variable="spectrogram", n_neighbors=10, max_fit_frames=3000, random_state=seed)
    mapped = behavior_map.fit_label(features)
    behavior_map.save(models / "map.pkl")
    hmm = EthogramHMM(n_states=6, variable="spectrogram", random_state=seed).fit(features)
    hmm.save(models / "hmm.pkl")
    decoded = hmm.label(features)

    labels = {}
    for name, s in sessions.items():
        names = np.asarray(s["behavior"].values, dtype=object)
        shown = names[..., None] == np.asarray(BEHAVIORS, dtype=object)
        labels[name] = xr.DataArray(
            shown,
            dims=("time", "individual", "behavior"),
            coords={
                "time": features[name]["time"].values,
                "individual": features[name]["individual"].values,
                "behavior": list(BEHAVIORS),
            },
            name="labels",
        )
    classifier = BehaviorClassifier(
        behaviors=list(BEHAVIORS), windows_s=(0.5,), stats=("mean", "std"), max_iter=30, random_state=seed
    )
    result = classifier.cross_validate(features, labels) if len(features) > 1 else None
    classifier.fit(features, labels).save(models / "classifier.pkl")
    store = ResultsStore.create(out / "results", bin_s=30.0)
    for name, s in sessions.items():
        if result is not None:
            prediction, probability = result.predictions[name], result.probabilities[name]
        else:
            prediction = classifier.predict(features[name])
            probability = classifier.predict_proba(features[name])
        ds = xr.merge(
            [
                s["clean"],
                decoded[name][["state"]],
                mapped[name][["cluster"]],
                prediction.to_dataset(name="behavior_prediction"),
                probability.to_dataset(name="behavior_probability"),
                labels[name].to_dataset(),
            ],
            join="exact",
            compat="no_conflicts",
            combine_attrs="drop_conflicts",
        )
        files = {k: v for k, v in (("video", s["video"]), ("poses", s["poses_file"])) if v is not None}
        store.add_session(name, ds, files=files)
    store.set_metadata(metadata)
    if sample is not None:
        shutil.copy2(sample / "labeled_frames.labels.h5", out / "labeled_frames.labels.h5")
        if train_pose_model:
            _train_tiny_pose_model(out / "labeled_frames.labels.h5", out / "pose_model")
    log.info("example project with %d sessions in %s", len(sessions), out)
    return out


def _train_tiny_pose_model(labels: Path, folder: Path) -> None:
    """Train the demo's small Stacked DenseNet for a few epochs; write its evaluation as ``evaluation.json``."""
    from behaviorlab.pose.predict import (
        evaluate_model,  # lazy: Keras (the pose extra), through behaviorlab.pose.predict
    )
    from behaviorlab.pose.train import (  # lazy: Keras (the pose extra), through behaviorlab.pose.train
        TrainConfig,
        train_model,
    )

    frames = load_labeled_frames(labels)
    single = frames.select(np.flatnonzero(frames.is_labeled().any(axis=2).sum(axis=1) == 1))
    config = TrainConfig.from_dict({**DEMO_POSE_TRAINING, "epochs": 3})
    train_model(single, folder, config, verbose=0)
    (folder / "evaluation.json").write_text(json.dumps(evaluate_model(folder, single).to_dict(), indent=2))
