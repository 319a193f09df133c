"""``behaviorlab demo``: the end-to-end job on the generated sample data.

The demo runs every stage that exists, in order, on ``sample_data/`` (or on
freshly generated sample data) and checks its own results as it goes, so a
user sees at once that the installation works.  Each stage is a function of
the :class:`DemoContext` that returns a small JSON-serialisable summary; later
stages are appended to :data:`STAGES` as the package grows.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from behaviorlab._atomic import atomic_path
from behaviorlab.errors import BehaviorlabError

__all__ = ["STAGES", "DemoContext", "find_sample_data", "run_demo"]

log = logging.getLogger(__name__)

#: Pose formats the demo writes and reads back, by file suffix.
POSE_SUFFIXES = (".nc", ".csv", ".h5", ".slp", ".nwb")


@attrs.define
class DemoContext:
    """What the stages share: where inputs are and outputs go, and what earlier stages found."""

    sample_dir: Path
    out_dir: Path
    sessions: dict[str, dict[str, Path]] = attrs.field(factory=dict)
    results: dict[str, Any] = attrs.field(factory=dict)


def find_sample_data(sample_dir: Path | None, out_dir: Path) -> Path:
    """Return the sample data folder to use, generating it when there is none.

    Looks at ``sample_dir`` when given, else ``./sample_data`` (the repository's
    committed copy), else generates a fresh copy into ``out_dir/sample_data``.
    """
    from behaviorlab.synthetic import generate_sample_data

    if sample_dir is not None:
        sample_dir = Path(sample_dir)
        if not (sample_dir / "MANIFEST.json").is_file():
            raise BehaviorlabError(
                f"{sample_dir}: not a sample data folder (no MANIFEST.json); "
                "run `behaviorlab sample-data --out DIR` to make one"
            )
        return sample_dir
    local = Path("sample_data")
    if (local / "MANIFEST.json").is_file():
        return local
    target = out_dir / "sample_data"
    if not (target / "MANIFEST.json").is_file():
        generate_sample_data(target)
    return target


def _stage_sessions(ctx: DemoContext) -> dict[str, Any]:
    """Find the sample sessions: a video and ground-truth poses each."""
    from behaviorlab.io.video import probe_video

    summary = {}
    for poses in sorted(ctx.sample_dir.glob("*_poses.nc")):
        name = poses.name.removesuffix("_poses.nc")
        video = ctx.sample_dir / f"{name}.mp4"
        if not video.is_file():
            raise BehaviorlabError(f"{video}: the video of sample session {name!r} is missing")
        info = probe_video(video)
        ctx.sessions[name] = {"poses": poses, "video": video}
        summary[name] = {"frames": info.n_frames, "fps": info.fps, "size": [info.width, info.height]}
    if not ctx.sessions:
        raise BehaviorlabError(f"{ctx.sample_dir}: no sample sessions (*_poses.nc) found")
    return summary


def _stage_convert(ctx: DemoContext) -> dict[str, Any]:
    """Write each session's poses in every supported format and read them back."""
    from behaviorlab.io.load import load_poses
    from behaviorlab.io.save import save_poses

    summary: dict[str, Any] = {}
    for name, paths in ctx.sessions.items():
        ds = load_poses(paths["poses"])
        fps = ds.attrs.get("fps")
        checks = {}
        for suffix in POSE_SUFFIXES:
            target = ctx.out_dir / "poses" / f"{name}{suffix}"
            save_poses(ds, target)
            back = load_poses(target, fps=fps)
            same_names = list(back["keypoint"].values) == list(ds["keypoint"].values) and list(
                back["individual"].values
            ) == list(ds["individual"].values)
            diff = float(np.nanmax(np.abs(back["position"].values - ds["position"].values)))
            if not same_names or diff > 1e-3 or back.attrs.get("fps") != fps:
                raise BehaviorlabError(f"{target}: the {suffix} round trip changed the poses (max diff {diff:g} px)")
            checks[suffix] = {"max_abs_diff_px": diff, "bytes": target.stat().st_size}
        summary[name] = {
            "frames": int(ds.sizes["time"]),
            "keypoints": int(ds.sizes["keypoint"]),
            "individuals": [str(i) for i in ds["individual"].values],
            "round_trips": checks,
        }
    return summary


def _stage_labeled_frames(ctx: DemoContext) -> dict[str, Any]:
    """Load the training frames and save them in behaviorlab's own format."""
    from behaviorlab.io.labeled_frames import save_labeled_frames

    frames = _load_training_frames(ctx)
    target = ctx.out_dir / "labeled_frames.labels.h5"
    save_labeled_frames(frames, target)
    labeled = frames.labeled_mask()
    return {"frames": len(frames), "labeled": int(labeled.sum()), "keypoints": list(frames.skeleton.keypoints)}


#: The demo's pose model: small enough to train in about two minutes on two CPU cores.
DEMO_POSE_TRAINING = {
    "model": "stacked_densenet",
    "model_kwargs": {"growth_rate": 16, "n_stacks": 1},
    "epochs": 40,
    "batch_size": 8,
    "sigma": 4.0,
    "val_fraction": 0.15,
    "seed": 0,
}


def _stage_pose_model(ctx: DemoContext) -> dict[str, Any]:
    """Train a small Stacked DenseNet on the single-animal training frames and score it on held-out frames."""
    from behaviorlab.pose.predict import evaluate_model
    from behaviorlab.pose.train import TrainConfig, train_model

    frames = _load_training_frames(ctx)
    one_animal = np.flatnonzero(frames.is_labeled().any(axis=2).sum(axis=1) == 1)
    single = frames.select(one_animal)
    model_dir = ctx.out_dir / "pose_model"
    if model_dir.exists():
        import shutil

        shutil.rmtree(model_dir)  # the demo always trains afresh
    config = TrainConfig.from_dict(DEMO_POSE_TRAINING)
    result = train_model(single, model_dir, config, verbose=0)
    report = evaluate_model(model_dir, single)
    overall = report.to_dict()["overall"]
    with atomic_path(model_dir / "evaluation.json") as tmp:  # what `behaviorlab evaluate --json` prints
        tmp.write_text(json.dumps(report.to_dict(), indent=2))
    return {
        "model_dir": str(model_dir),
        "training_frames": len(single),
        "epochs": result.epochs,
        "best_epoch": result.best_epoch,
        "training_seconds": round(result.training_seconds, 1),
        "validation": overall,
    }


def _stage_predict(ctx: DemoContext) -> dict[str, Any]:
    """Predict the sample videos with the model just trained, score them against the true poses, render 10 s."""
    from behaviorlab.io.load import load_poses
    from behaviorlab.pose.inference import predict_video
    from behaviorlab.pose.predict import PoseModel
    from behaviorlab.render import render_poses

    model = PoseModel.load(ctx.out_dir / "pose_model")
    summary: dict[str, Any] = {}
    for name, paths in ctx.sessions.items():
        truth = load_poses(paths["poses"])
        if truth.sizes["individual"] > 1:  # the demo model is single-animal; several animals need top-down tracking
            summary[name] = {"skipped": f"{truth.sizes['individual']} animals; the demo model is single-animal"}
            continue
        target = ctx.out_dir / "predictions" / f"{name}.poses.nc"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.unlink(missing_ok=True)
        start = time.perf_counter()
        individual = str(truth["individual"].values[0])
        predicted = predict_video(model, paths["video"], target, batch_size=32, individual=individual)
        seconds = time.perf_counter() - start
        keypoints = [k for k in predicted["keypoint"].values if k in truth["keypoint"].values]
        true_xy = truth["position"].sel(keypoint=keypoints).isel(individual=0).values
        pred_xy = predicted["position"].sel(keypoint=keypoints).isel(individual=0).values[: len(true_xy)]
        error = np.linalg.norm(pred_xy - true_xy[: len(pred_xy)], axis=1)  # (time, keypoint)
        ctx.sessions[name]["predicted"] = target
        labeled = render_poses(
            predicted, paths["video"], ctx.out_dir / "labeled_videos" / f"{name}.mp4", trail=10, end=300, radius=2.5
        )
        summary[name] = {
            "predictions": str(target),
            "labeled_video": str(labeled),
            "frames": int(predicted.sizes["time"]),
            "frames_per_second": round(predicted.sizes["time"] / seconds, 1),
            "mean_confidence": round(float(predicted["confidence"].mean()), 3),
            "error_px_mean": round(float(np.nanmean(error)), 2),
            "error_px_median": round(float(np.nanmedian(error)), 2),
            "error_px_p90": round(float(np.nanpercentile(error, 90)), 2),
        }
    return summary


def _load_training_frames(ctx: DemoContext) -> Any:
    from behaviorlab.io.labeled_frames import load_labeled_frames

    candidates = sorted(ctx.sample_dir.glob("*.labels.h5"))
    if not candidates:
        raise BehaviorlabError(f"{ctx.sample_dir}: no labeled frames (*.labels.h5) found")
    return load_labeled_frames(candidates[0])


def _with_tracking_noise(ds: Any, seed: int = 0) -> Any:
    """Ground-truth poses made to look tracked: jitter, low-confidence dropouts and single-frame jumps."""
    rng = np.random.default_rng(seed)
    out = ds.copy(deep=True)
    pos, conf = out["position"].values, out["confidence"].values
    pos += rng.normal(0.0, 0.5, pos.shape)
    low = rng.random(conf.shape) < 0.03
    conf[low] = rng.uniform(0.0, 0.3, low.sum())
    pos[np.broadcast_to(low[:, None], pos.shape)] += rng.normal(0, 40, np.broadcast_to(low[:, None], pos.shape).sum())
    return out


def _mean_abs_error(poses: Any, truth: Any) -> float:
    """Mean absolute coordinate error (px) against the truth, matching keypoints by name and individuals by order."""
    keypoints = [k for k in poses["keypoint"].values if k in set(truth["keypoint"].values)]
    a = poses["position"].sel(keypoint=keypoints).transpose("time", "space", "keypoint", "individual").values
    b = truth["position"].sel(keypoint=keypoints).transpose("time", "space", "keypoint", "individual").values
    n = min(len(a), len(b))
    return float(np.nanmean(np.abs(a[:n] - b[:n])))


def _stage_features(ctx: DemoContext) -> dict[str, Any]:
    """Clean the predicted poses (or, for sessions not predicted, noisy true ones); features and spectrograms."""
    import xarray as xr

    from behaviorlab.design import FeatureConfig
    from behaviorlab.filtering import CleaningConfig, cleaning_report
    from behaviorlab.io.load import load_poses
    from behaviorlab.io.save import save_netcdf
    from behaviorlab.pipeline import SessionFeaturesConfig, compute_session_features

    features = FeatureConfig(axis_from="tail_base", axis_to="neck")
    summary: dict[str, Any] = {}
    for name, paths in ctx.sessions.items():
        truth = load_poses(paths["poses"])
        if "predicted" in paths:
            # the peak heights of a small model trained for a minute are low: mask only clear failures
            raw, source, threshold = load_poses(paths["predicted"]), "poses predicted by the demo model", 0.1
        else:
            raw, source, threshold = _with_tracking_noise(truth), "true poses with simulated tracking noise", 0.5
        cleaning = CleaningConfig(confidence_threshold=threshold, median_window=3, max_gap=10)
        result = compute_session_features(raw, SessionFeaturesConfig(cleaning=cleaning, features=features))
        report = cleaning_report(raw, result)
        err_raw = _mean_abs_error(raw, truth)
        err_clean = _mean_abs_error(result, truth)
        target = ctx.out_dir / "features" / f"{name}.nc"
        out = xr.Dataset(
            {"features": result["features"], "spectrogram": result["spectrogram"]},
            attrs={**result.attrs, "session": name},
        )
        save_netcdf(out, target)
        paths["features"] = target
        paths["clean_poses"] = save_netcdf(result[["position", "confidence"]], target.with_suffix(".poses.nc"))
        summary[name] = {
            "input": source,
            "n_features": int(result.sizes["feature"]),
            "n_frequencies": int(result.sizes["frequency"]),
            "confidence_threshold": threshold,
            "share_masked": round(float(report["share_masked"].mean()), 4),
            "share_missing_after_cleaning": round(float(result["position"].isnull().any("space").mean()), 4),
            "mean_abs_error_px_before_cleaning": round(err_raw, 3),
            "mean_abs_error_px_after_cleaning": round(err_clean, 3),
        }
        if "predicted" not in paths and err_clean >= err_raw:
            raise BehaviorlabError(f"{name}: cleaning did not bring the noisy poses closer to the truth")
    return summary


def _truth_labels(ctx: DemoContext, name: str, ds: Any) -> np.ndarray:
    """Return the generated behavior codes of a session on ``(time, individual)`` of ``ds`` (labels CSV)."""
    import pandas as pd

    table = pd.read_csv(ctx.sample_dir / f"{name}_labels.csv")
    wide = table.pivot(index="frame", columns="individual", values="behavior")
    individuals = [str(i) for i in ds["individual"].values]
    return wide[individuals].to_numpy()[: ds.sizes["time"]]


def _agreement(ctx: DemoContext, labeled: dict[str, Any], variable: str) -> dict[str, float]:
    """NMI and ARI between a per-frame ``variable`` of every session and the generated behaviors."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    truth, found = [], []
    for name, ds in labeled.items():
        values = ds[variable].transpose("time", "individual").values
        keep = values >= 0
        truth.append(_truth_labels(ctx, name, ds)[keep])
        found.append(values[keep])
    y, c = np.concatenate(truth), np.concatenate(found)
    return {
        "nmi_vs_generated_behaviors": round(float(normalized_mutual_info_score(y, c)), 3),
        "ari_vs_generated_behaviors": round(float(adjusted_rand_score(y, c)), 3),
    }


def _stage_behavior_map(ctx: DemoContext) -> dict[str, Any]:
    """Fit a behavior map on the spectrograms of every session; label every frame with its region."""
    from behaviorlab.io.load import load_netcdf
    from behaviorlab.io.save import save_netcdf
    from behaviorlab.maps import BehaviorMap

    sessions = {name: load_netcdf(paths["features"], ["spectrogram"]) for name, paths in ctx.sessions.items()}
    model = BehaviorMap(variable="spectrogram", random_state=0)
    labeled = model.fit_label(sessions)
    out = ctx.out_dir / "behavior_map"
    model.save(out / "map.pkl")
    model.density_figure().write_html(out / "map_density.html", include_plotlyjs=True)
    for name, ds in labeled.items():
        ctx.sessions[name]["map"] = save_netcdf(ds[["embedding", "cluster"]], out / f"{name}.map.nc")
    return {
        "n_regions": int(model.n_regions_),
        "frames": len(model.labels_),
        "region_fraction": [round(float(f), 3) for f in model.region_fraction_],
        **_agreement(ctx, labeled, "cluster"),
        "model": str(out / "map.pkl"),
        "seconds_by_step": {k: round(v, 2) for k, v in model.timings_.items()},
    }


def _stage_ethogram(ctx: DemoContext) -> dict[str, Any]:
    """Fit a hidden Markov model on every session (number of states by BIC); states, bouts and figures."""
    from behaviorlab.bouts import state_bouts
    from behaviorlab.ethogram import EthogramHMM
    from behaviorlab.io.load import load_netcdf
    from behaviorlab.io.save import save_netcdf
    from behaviorlab.plots import duration_histogram_figure, ethogram_raster_figure, transition_graph_figure

    sessions = {name: load_netcdf(paths["features"], ["spectrogram"]) for name, paths in ctx.sessions.items()}
    model = EthogramHMM(n_states_range=(2, 8), criterion="bic", random_state=0).fit(sessions)
    out = ctx.out_dir / "ethogram"
    model.save(out / "hmm.pkl")
    labeled = model.label(sessions)
    states = {name: ds["state"] for name, ds in labeled.items()}
    for name, ds in labeled.items():
        ctx.sessions[name]["ethogram"] = save_netcdf(ds[["state"]], out / f"{name}.ethogram.nc")
    bouts = state_bouts(states)
    with atomic_path(out / "bouts.csv") as tmp:
        bouts.to_csv(tmp, index=False)
    ethogram_raster_figure(states).write_html(out / "ethogram_raster.html", include_plotlyjs=True)
    transition_graph_figure(model.transmat_).write_html(out / "transitions.html", include_plotlyjs=True)
    duration_histogram_figure(bouts).write_html(out / "durations.html", include_plotlyjs=True)
    return {
        "n_states": int(model.n_states_),
        "n_states_tried": [int(n) for n in model.selection_["n_states"]],
        "bouts": len(bouts),
        "median_bout_s": round(float(bouts["duration_s"].median()), 3),
        **_agreement(ctx, labeled, "state"),
        "model": str(out / "hmm.pkl"),
    }


def _stage_classify(ctx: DemoContext) -> dict[str, Any]:
    """Train a classifier per generated behavior from the sessions' BORIS files; held-out F1, leave one session out."""
    import xarray as xr

    from behaviorlab.classify import BehaviorClassifier
    from behaviorlab.io.annotations import load_annotations
    from behaviorlab.io.load import load_netcdf
    from behaviorlab.io.save import save_netcdf
    from behaviorlab.synthetic import BEHAVIORS

    features, labels = {}, {}
    for name, paths in ctx.sessions.items():
        ds = load_netcdf(paths["features"], ["features"])
        features[name] = ds
        labels[name] = load_annotations(
            ctx.sample_dir / f"{name}_boris.csv",
            fps=float(ds.attrs["fps"]),
            n_frames=ds.sizes["time"],
            individuals=[str(i) for i in ds["individual"].values],
            behaviors=list(BEHAVIORS),
        ).assign_coords(time=ds["time"].values)
    # two windows x two statistics (not the default three x four): the sample sessions are a minute each, and 268
    # window features instead of 804 keep this stage at a third of the time with held-out F1 as good or better
    clf = BehaviorClassifier(
        behaviors=list(BEHAVIORS), windows_s=(0.25, 1.0), stats=("mean", "std"), max_iter=100, random_state=0
    )
    result = clf.cross_validate(features, labels)
    out = ctx.out_dir / "classifier"
    clf.fit(features, labels).save(out / "classifier.pkl")
    for name in features:  # the held-out decisions (each session predicted by a model that never saw it)
        decisions = xr.Dataset(
            {"behavior_prediction": result.predictions[name], "behavior_probability": result.probabilities[name]}
        )
        ctx.sessions[name]["behaviors"] = save_netcdf(decisions, out / f"{name}.behaviors.nc")
        ctx.sessions[name]["annotations"] = save_netcdf(
            labels[name].to_dataset(name="labels"), out / f"{name}.annotations.nc"
        )
    scores = result.scores.set_index("behavior")
    return {
        "cv": result.cv,
        "heldout_f1": {b: round(float(scores.loc[b, "f1"]), 3) for b in BEHAVIORS},
        "thresholds": {b: round(float(t), 2) for b, t in clf.thresholds_.items()},
        "model": str(out / "classifier.pkl"),
    }


def _stage_results(ctx: DemoContext) -> dict[str, Any]:
    """Every label source of every session into a results store; a group comparison; exports."""
    import xarray as xr

    from behaviorlab.export import export_store
    from behaviorlab.groups import compare_groups
    from behaviorlab.io.load import load_netcdf
    from behaviorlab.store import ResultsStore

    config = json.loads((ctx.sample_dir / "MANIFEST.json").read_text())["sessions"]
    first = next(iter(config.values()))["config"]
    margin, side = float(first["arena_margin_px"]), float(first["width"])
    px_per_cm = (side - 2 * margin) / float(first["arena_size_cm"])
    lo, hi = side / 4, 3 * side / 4  # the central quarter of the arena's area
    center = [[lo, lo], [hi, lo], [hi, hi], [lo, hi]]
    path = ctx.out_dir / "results"
    if path.exists():  # a rerun starts a fresh store (its settings may have changed)
        import shutil

        shutil.rmtree(path)
    store = ResultsStore.create(path, bin_s=20.0, zones={"center": center}, px_per_cm=px_per_cm)
    rows: dict[str, Any] = {}
    for name, paths in ctx.sessions.items():
        parts = [load_netcdf(paths[key]) for key in ("clean_poses", "ethogram", "map", "behaviors", "annotations")]
        ds = xr.merge(parts, join="exact", compat="no_conflicts", combine_attrs="drop_conflicts")
        rows[name] = store.add_session(name, ds, files={"video": paths["video"], "poses": paths["poses"]})["rows"]
    store.set_metadata(ctx.sample_dir / "metadata.csv")
    budget = store.query(
        'SELECT "group", behavior, avg(time_budget_pct) AS time_budget_pct FROM time_budget '
        "WHERE source = 'labels' GROUP BY ALL ORDER BY behavior, \"group\""
    )
    stats = store.table("behavior_stats")
    stats = stats[stats["source"] == "behavior_prediction"]
    comparison = compare_groups(
        stats, store.table("metadata"), group="group", measures=["time_budget_pct", "bout_count", "mean_bout_s"]
    )
    movement = compare_groups(store.table("movement"), store.table("metadata"), group="group", measures=["distance"])
    distance = store.query('SELECT "group", individual, session, distance FROM distance_travelled ORDER BY ALL')
    exported = export_store(store, ctx.out_dir / "export", ["csv", "excel", "nwb", "boris", "simba"])
    return {
        "store": str(path),
        "rows": rows,
        "time_budget_by_group_annotated": budget.round(2).to_dict(orient="records"),
        "distance_cm": distance.round(1).to_dict(orient="records"),
        "group_comparison_classifier": comparison[
            ["behavior", "measure", "groups", "n", "p_value", "p_adjusted", "effect_size", "note"]
        ]
        .round(4)
        .to_dict(orient="records"),
        "group_comparison_distance": movement[["measure", "groups", "n", "p_value", "effect_size", "note"]]
        .round(4)
        .to_dict(orient="records"),
        "exports": {k: len(v) for k, v in exported.items()},
    }


#: The demo's stages in order: (name, function).
STAGES: list[tuple[str, Callable[[DemoContext], dict[str, Any]]]] = [
    ("sessions", _stage_sessions),
    ("convert", _stage_convert),
    ("labeled_frames", _stage_labeled_frames),
    ("pose_model", _stage_pose_model),
    ("predict", _stage_predict),
    ("features", _stage_features),
    ("behavior_map", _stage_behavior_map),
    ("ethogram", _stage_ethogram),
    ("classify", _stage_classify),
    ("results", _stage_results),
]


def _px(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} px"


def run_demo(out_dir: str | Path = "behaviorlab_demo", *, sample_dir: str | Path | None = None) -> str:
    """Run every stage on the sample data and write ``demo_summary.json``.

    Parameters
    ----------
    out_dir
        Folder for the outputs (created).
    sample_dir
        Sample data to use; see :func:`find_sample_data`.

    Returns
    -------
    str
        A short human-readable report of what was done.
    """
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sample = find_sample_data(None if sample_dir is None else Path(sample_dir), out_dir)
    ctx = DemoContext(sample_dir=sample, out_dir=out_dir)
    timings = {}
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), transient=True) as progress:
        task = progress.add_task("demo", total=len(STAGES))
        for name, stage in STAGES:
            progress.update(task, description=f"demo: {name}")
            start = time.perf_counter()
            ctx.results[name] = stage(ctx)
            timings[name] = round(time.perf_counter() - start, 2)
            progress.advance(task)
    summary = {"sample_dir": str(ctx.sample_dir), "out_dir": str(out_dir), "seconds": timings, **ctx.results}
    summary_path = out_dir / "demo_summary.json"
    with atomic_path(summary_path) as tmp:
        tmp.write_text(json.dumps(summary, indent=2, default=str))
    lines = [f"behaviorlab demo: sample data {ctx.sample_dir} -> {out_dir}"]
    for name, info in ctx.results.get("convert", {}).items():
        lines.append(
            f"  {name}: {info['frames']} frames, {info['keypoints']} keypoints, "
            f"individuals {', '.join(info['individuals'])}; round trips ok: {', '.join(info['round_trips'])}"
        )
    lf = ctx.results.get("labeled_frames")
    if lf:
        lines.append(f"  labeled frames: {lf['labeled']} of {lf['frames']} labeled, {len(lf['keypoints'])} keypoints")
    pm = ctx.results.get("pose_model")
    if pm:
        val = pm["validation"]
        lines.append(
            f"  pose model: Stacked DenseNet trained on {pm['training_frames']} frames for {pm['epochs']} epochs "
            f"({pm['training_seconds']} s); held-out error mean {_px(val.get('mean'))}, "
            f"median {_px(val.get('median'))} -> {pm['model_dir']}"
        )
    for name, info in ctx.results.get("predict", {}).items():
        if "skipped" in info:
            lines.append(f"  {name}: not predicted ({info['skipped']})")
            continue
        lines.append(
            f"  {name}: predicted {info['frames']} frames at {info['frames_per_second']} frames/s; error against "
            f"the true poses mean {_px(info['error_px_mean'])}, median {_px(info['error_px_median'])}"
        )
    for name, info in ctx.results.get("features", {}).items():
        lines.append(
            f"  {name}: cleaning {info['input']}: mean error {info['mean_abs_error_px_before_cleaning']} -> "
            f"{info['mean_abs_error_px_after_cleaning']} px; {info['n_features']} features x "
            f"{info['n_frequencies']} wavelet frequencies"
        )
    bm = ctx.results.get("behavior_map")
    if bm:
        lines.append(
            f"  behavior map: {bm['n_regions']} regions from {bm['frames']} frames; against the generated "
            f"behaviors NMI {bm['nmi_vs_generated_behaviors']}, ARI {bm['ari_vs_generated_behaviors']}"
        )
    eth = ctx.results.get("ethogram")
    if eth:
        lines.append(
            f"  ethogram: {eth['n_states']} HMM states by BIC, {eth['bouts']} bouts (median {eth['median_bout_s']} s); "
            f"against the generated behaviors NMI {eth['nmi_vs_generated_behaviors']}, "
            f"ARI {eth['ari_vs_generated_behaviors']}"
        )
    cl = ctx.results.get("classify")
    if cl:
        f1 = ", ".join(f"{b} {v:.2f}" for b, v in cl["heldout_f1"].items())
        lines.append(f"  classifiers ({cl['cv']} cross-validation), held-out F1: {f1}")
    res = ctx.results.get("results")
    if res:
        lines.append(f"  results store {res['store']}: {len(res['rows'])} sessions; exports {res['exports']}")
        lines.append(
            "  distance travelled (cm): "
            + ", ".join(f"{r['session']}/{r['individual']} ({r['group']}) {r['distance']}" for r in res["distance_cm"])
        )
        lines.append("  group comparison of the classifier's time budgets (Mann-Whitney, BH-adjusted):")
        for r in res["group_comparison_classifier"]:
            if r["measure"] == "time_budget_pct":
                lines.append(
                    f"    {r['behavior']:>6}: {r['groups']}, n={r['n']}, p={r['p_value']}, "
                    f"p_adj={r['p_adjusted']}, rank-biserial {r['effect_size']}"
                )
    lines.append(f"  stage times (s): {timings}")
    lines.append(f"  summary: {summary_path}")
    lines.append(f"  open the dashboard on this project: behaviorlab dashboard {out_dir}")
    return "\n".join(lines)
