"""``behaviorlab demo``: ``behaviorlab init`` plus ``behaviorlab run`` on the generated sample data.

The demo lays out a project as a lab would (videos, labeled frames, the
poses of a two-animal session tracked by another tool, BORIS annotations,
metadata), writes its config with :func:`behaviorlab.project.config.init_project`
and runs every stage with :func:`behaviorlab.project.runner.run_project` on a local
Dask cluster: a pose model trained, the videos predicted, poses cleaned,
features, behavior map, HMM ethogram, AR-HMM syllables, classifiers, statistics, the results
store, exports and labeled videos. It then checks what the run made against
the sample data's ground truth, so a user sees at once that the installation
works. Run it again and every finished stage is taken from the cache.
Each step is a function of the :class:`DemoContext` that returns a small
JSON-serialisable summary (:data:`STAGES`).
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
import pandas as pd
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from sklearn.metrics import adjusted_rand_score, f1_score, normalized_mutual_info_score

from behaviorlab._atomic import atomic_path
from behaviorlab.errors import BehaviorlabError
from behaviorlab.features.pipeline import load_session_features
from behaviorlab.io.labeled_frames import load_labeled_frames, save_labeled_frames
from behaviorlab.io.load import load_netcdf, load_poses
from behaviorlab.io.save import save_poses
from behaviorlab.io.video import probe_video
from behaviorlab.project.config import SESSIONS_FILE, init_project
from behaviorlab.project.runner import run_project
from behaviorlab.results.groups import compare_groups
from behaviorlab.results.store import ResultsStore
from behaviorlab.synthetic.sample import generate_sample_data
from behaviorlab.synthetic.simulate import BEHAVIORS

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
    workers: int | None = None
    scheduler: str | None = None
    report: Any = None

    @property
    def sessions_table(self) -> dict[str, dict[str, Any]]:
        """The sessions table the project stage wrote, by session."""
        return {row["session"]: row for row in self.results["project"]["sessions_table"]}


def find_sample_data(sample_dir: Path | None, out_dir: Path) -> Path:
    """Return the sample data folder to use, generating it when there is none.

    Looks at ``sample_dir`` when given, else ``./sample_data`` (the repository's
    committed copy), else generates a fresh copy into ``out_dir/sample_data``.
    """
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
    """Find the sample sessions: ground-truth poses each, and a video for those the sample data rendered."""
    manifest = json.loads((ctx.sample_dir / "MANIFEST.json").read_text())["sessions"]
    summary = {}
    for poses in sorted(ctx.sample_dir.glob("*_poses.nc")):
        name = poses.name.removesuffix("_poses.nc")
        ctx.sessions[name] = {"poses": poses}
        if not manifest.get(name, {}).get("video", True):  # poses and annotations only, as another tool tracked it
            config = manifest[name]["config"]
            summary[name] = {"frames": round(config["duration_s"] * config["fps"]), "fps": config["fps"], "video": None}
            continue
        video = ctx.sample_dir / f"{name}.mp4"
        if not video.is_file():
            raise BehaviorlabError(f"{video}: the video of sample session {name!r} is missing")
        info = probe_video(video)
        ctx.sessions[name]["video"] = video
        summary[name] = {"frames": info.n_frames, "fps": info.fps, "size": [info.width, info.height]}
    if not ctx.sessions:
        raise BehaviorlabError(f"{ctx.sample_dir}: no sample sessions (*_poses.nc) found")
    return summary


def _stage_convert(ctx: DemoContext) -> dict[str, Any]:
    """Write each session's poses in every supported format and read them back."""
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


def _load_training_frames(sample_dir: Path) -> Any:
    candidates = sorted(sample_dir.glob("*.labels.h5"))
    if not candidates:
        raise BehaviorlabError(f"{sample_dir}: no labeled frames (*.labels.h5) found")
    return load_labeled_frames(candidates[0])


def _with_tracking_noise(ds: Any, seed: int = 0) -> Any:
    """Ground-truth poses made to look tracked: jitter, low-confidence dropouts and single-frame jumps."""
    rng = np.random.default_rng(seed)
    out = ds.copy(deep=True)
    pos, conf = out["position"].values, out["confidence"].values
    pos += rng.normal(0.0, 0.5, pos.shape)
    low = rng.random(conf.shape) < 0.03
    conf[low] = rng.uniform(0.0, 0.08, low.sum())  # a tracker's likelihood where it lost the point
    pos[np.broadcast_to(low[:, None], pos.shape)] += rng.normal(0, 40, np.broadcast_to(low[:, None], pos.shape).sum())
    return out


def _mean_abs_error(poses: Any, truth: Any) -> float:
    """Mean absolute coordinate error (px) against the truth, matching keypoints by name and individuals by order."""
    keypoints = [k for k in poses["keypoint"].values if k in set(truth["keypoint"].values)]
    a = poses["position"].sel(keypoint=keypoints).transpose("time", "space", "keypoint", "individual").values
    b = truth["position"].sel(keypoint=keypoints).transpose("time", "space", "keypoint", "individual").values
    n = min(len(a), len(b))
    return float(np.nanmean(np.abs(a[:n] - b[:n])))


#: The scorer suffix of the demo's "tracked by another tool" pose files (``init`` names the sessions without it).
TRACKER_SUFFIX = "DLC_resnet50_demoDec6shuffle1_100000"

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


def demo_config(sample_dir: Path) -> dict[str, Any]:
    """Return the sections of the demo project's ``behaviorlab.yaml`` that differ from the defaults."""
    config = json.loads((sample_dir / "MANIFEST.json").read_text())["sessions"]
    first = next(iter(config.values()))["config"]
    margin, side = float(first["arena_margin_px"]), float(first["width"])
    px_per_cm = (side - 2 * margin) / float(first["arena_size_cm"])
    lo, hi = side / 4, 3 * side / 4  # the central quarter of the arena's area
    return {
        # the single-animal frames train the demo's model; the two-animal session comes with tracked poses
        "pose_model": {"training_frames": "labeled_frames.labels.h5", "max_animals": 1, "train": DEMO_POSE_TRAINING},
        # the peak heights of a small model trained for a minute are low: mask only clear failures
        "cleaning": {"confidence_threshold": 0.1, "median_window": 3, "max_gap": 10},
        "features": {"axis_from": "tail_base", "axis_to": "neck"},
        # two windows x two statistics (not the default three x four): the sample sessions are a minute each, and
        # 268 window features instead of 804 keep this stage at a third of the time with held-out F1 as good
        "classifier": {"windows_s": [0.25, 1.0], "stats": ["mean", "std"], "max_iter": 100},
        # eight animal-minutes: UMAP fitted on 6,000 of their frames, the rest placed by its transform (measured in the
        # run: 48 s with numba's cache warm, 127 s on a first run; fitting all 12,600 frames took 174 s there)
        "behavior_map": {"max_fit_frames": 6000},
        "annotations": {"behaviors": list(_behaviors())},
        "statistics": {
            "bin_s": 20.0,
            "zones": {"center": [[lo, lo], [hi, lo], [hi, hi], [lo, hi]]},
            "px_per_cm": px_per_cm,
        },
        "exports": {"formats": ["csv", "excel", "nwb", "boris", "simba"]},
        "render": {"seconds": 10.0, "trail": 10},
    }


def _behaviors() -> tuple[str, ...]:
    return tuple(BEHAVIORS)


def _stage_project(ctx: DemoContext) -> dict[str, Any]:
    """Lay out the demo project as a lab would: labeled frames, tracked poses, then ``init`` writes the config."""
    frames = _load_training_frames(ctx.sample_dir)
    save_labeled_frames(frames, ctx.out_dir / "labeled_frames.labels.h5")
    tracked = {}
    for name, paths in ctx.sessions.items():
        truth = load_poses(paths["poses"])
        # the demo model is single-animal: two-animal sessions, and those without video, come tracked by another tool
        if truth.sizes["individual"] > 1 or "video" not in paths:
            file = ctx.out_dir / "tracked" / f"{name}{TRACKER_SUFFIX}.csv"  # named as DeepLabCut names its output
            tracked[name] = save_poses(_with_tracking_noise(truth), file)
    # the lab annotated its tracked sessions; the video the demo's pose model predicts is new, unannotated data that
    # the classifiers label (the checks compare those labels with the generated truth)
    annotated = [ctx.sample_dir / f"{name}_boris.csv" for name in tracked]
    init_project(
        ctx.out_dir,
        videos=[paths["video"] for paths in ctx.sessions.values() if "video" in paths],
        poses=list(tracked.values()),
        annotations=annotated,
        metadata=ctx.sample_dir / "metadata.csv",
        config=demo_config(ctx.sample_dir),
        fps=float(ctx.results["sessions"][next(iter(tracked))]["fps"])
        if tracked
        else None,  # the camera's, as a lab knows it
        force=True,
    )
    table = pd.read_csv(ctx.out_dir / SESSIONS_FILE, dtype=str, keep_default_na=False)
    table["individual"] = [  # the animal's name in a predicted video, as the annotations and metadata call it
        "" if row.poses else str(load_poses(ctx.sessions[row.session]["poses"])["individual"].values[0])
        for row in table.itertuples()
    ]
    table.to_csv(ctx.out_dir / SESSIONS_FILE, index=False)
    labeled = frames.is_labeled().any(axis=2).sum(axis=1)
    return {
        "config": str(ctx.out_dir / "behaviorlab.yaml"),
        "sessions_table": table.to_dict(orient="records"),
        "labeled_frames": {
            "frames": len(frames),
            "labeled": int((labeled > 0).sum()),
            "keypoints": list(frames.skeleton.keypoints),
        },
    }


def _stage_run(ctx: DemoContext) -> dict[str, Any]:
    """``behaviorlab run`` on the demo project: every stage of every session on a local Dask cluster."""
    report = run_project(ctx.out_dir, workers=ctx.workers, scheduler=ctx.scheduler)
    ctx.report = report
    if not report.ok:
        raise BehaviorlabError(f"the demo run failed:\n{report.summary()}")
    table = report.table()
    return {
        "seconds": round(report.seconds, 1),
        "dashboard_link": report.dashboard_link,
        "stages": table.groupby("stage", sort=False)["status"].agg(lambda s: dict(s.value_counts())).to_dict(),
        "completed_sessions": report.completed_sessions(),
    }


def _stage_checks(ctx: DemoContext) -> dict[str, Any]:
    """Score what the run made against the sample data's ground truth (poses, behaviors) and summarise it."""
    report = ctx.report
    pm = report.result("pose_model")
    summary: dict[str, Any] = {
        "pose_model": {
            "model_dir": str(ctx.out_dir / "models" / "pose_model"),
            "training_frames": pm.info["training"]["frames"],
            "epochs": pm.info["training"]["epochs"],
            "best_epoch": pm.info["training"]["best_epoch"],
            "path": pm.info["training"]["path"],
            "path_reason": pm.info["training"]["path_reason"],
            "validation": pm.info["overall"],
        }
    }
    predict, features = {}, {}
    for name, paths in ctx.sessions.items():
        truth = load_poses(paths["poses"])
        raw = load_netcdf(report.result("poses", name).path)
        clean = load_netcdf(report.result("clean", name).path)
        if ctx.sessions_table[name]["poses"]:
            source = "poses tracked by another tool (DeepLabCut CSV with simulated tracking noise)"
        else:
            source = "poses predicted by the demo model"
            keypoints = [k for k in raw["keypoint"].values if k in truth["keypoint"].values]
            true_xy = truth["position"].sel(keypoint=keypoints).isel(individual=0).values
            pred_xy = raw["position"].sel(keypoint=keypoints).isel(individual=0).values[: len(true_xy)]
            error = np.linalg.norm(pred_xy - true_xy[: len(pred_xy)], axis=1)
            predict[name] = {
                "frames": int(raw.sizes["time"]),
                "mean_confidence": round(float(raw["confidence"].mean()), 3),
                "error_px_mean": round(float(np.nanmean(error)), 2),
                "error_px_median": round(float(np.nanmedian(error)), 2),
                "error_px_p90": round(float(np.nanpercentile(error, 90)), 2),
                "labeled_video": str(ctx.out_dir / "labeled_videos" / f"{name}.mp4"),
            }
        feats = load_session_features(report.result("features", name).path)
        features[name] = {
            "input": source,
            "n_features": int(feats.sizes["feature"]),
            "n_frequencies": int(feats.sizes["frequency"]),
            "share_missing_after_cleaning": round(float(clean["position"].isnull().any("space").mean()), 4),
            "mean_abs_error_px_before_cleaning": round(_mean_abs_error(raw, truth), 3),
            "mean_abs_error_px_after_cleaning": round(_mean_abs_error(clean, truth), 3),
        }
    summary["predict"], summary["features"] = predict, features
    labeled = {name: load_netcdf(report.result("map_labels", name).path) for name in ctx.sessions}
    states = {name: load_netcdf(report.result("states", name).path) for name in ctx.sessions}
    syllables = {name: load_netcdf(report.result("syllable_labels", name).path) for name in ctx.sessions}
    bm, eth, syl, cl = (report.result(s).info for s in ("behavior_map", "ethogram", "syllables", "classifier"))
    summary["behavior_map"] = {
        "n_regions": bm["n_regions"],
        "frames": bm["frames"],
        **_agreement(ctx, labeled, "cluster"),
        "model": str(ctx.out_dir / "models" / "map.pkl"),
    }
    summary["ethogram"] = {
        "n_states": eth["n_states"],
        **_agreement(ctx, states, "state"),
        "model": str(ctx.out_dir / "models" / "hmm.pkl"),
    }
    summary["syllables"] = {
        "n_syllables": syl["n_states"],
        "median_syllable_s": round(syl["median_syllable_s"], 3),
        "short_syllable_share": round(syl["short_syllable_share"], 4),
        **_agreement(ctx, syllables, "syllable"),
        "model": str(ctx.out_dir / "models" / "arhmm.pkl"),
    }
    summary["classify"] = {
        "cv": cl["cv"],
        "heldout_f1": {b: round(f, 3) for b, f in cl["heldout_f1"].items()},
        "annotated_sessions": cl["sessions"],
        "applied_f1_vs_truth": _applied_f1(ctx, report),
        "model": str(ctx.out_dir / "models" / "classifier.pkl"),
    }
    for name, info in features.items():
        if (
            info["input"].startswith("poses tracked")
            and info["mean_abs_error_px_after_cleaning"] >= info["mean_abs_error_px_before_cleaning"]
        ):
            raise BehaviorlabError(f"{name}: cleaning did not bring the noisy poses closer to the truth")
    return summary


def _applied_f1(ctx: DemoContext, report: Any) -> dict[str, dict[str, float]]:
    """F1 of the classifiers' decisions on each unannotated session against its generated behaviors."""
    out = {}
    for name in ctx.sessions:
        if ctx.sessions_table[name]["annotations"]:
            continue
        pred = load_netcdf(report.result("behaviors", name).path)["behavior_prediction"]
        truth = _truth_labels(ctx, name, pred)
        decided = pred.transpose("time", "individual", "behavior").values
        out[name] = {
            str(b): round(float(f1_score((truth == b).ravel(), decided[:, :, i].ravel(), zero_division=0)), 3)
            for i, b in enumerate(pred["behavior"].values)
        }
    return out


def _truth_labels(ctx: DemoContext, name: str, ds: Any) -> np.ndarray:
    """Return the generated behavior codes of a session on ``(time, individual)`` of ``ds`` (labels CSV)."""
    table = pd.read_csv(ctx.sample_dir / f"{name}_labels.csv")
    wide = table.pivot(index="frame", columns="individual", values="behavior")
    individuals = [str(i) for i in ds["individual"].values]
    return wide[individuals].to_numpy()[: ds.sizes["time"]]


def _agreement(ctx: DemoContext, labeled: dict[str, Any], variable: str) -> dict[str, float]:
    """NMI and ARI between a per-frame ``variable`` of every session and the generated behaviors."""
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


def _stage_results(ctx: DemoContext) -> dict[str, Any]:
    """Query the results store the run filled: time budgets by group, distance travelled, a group comparison."""
    store = ResultsStore(ctx.out_dir / "results")
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
    exports = ctx.report.result("exports").info
    return {
        "store": str(store.path),
        "rows": {r.session: r.info["rows"] for r in ctx.report.results if r.stage == "store" and r.ok},
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
        "exports": dict(exports),
    }


#: The demo's stages in order: (name, function).
STAGES: list[tuple[str, Callable[[DemoContext], dict[str, Any]]]] = [
    ("sessions", _stage_sessions),
    ("convert", _stage_convert),
    ("project", _stage_project),
    ("run", _stage_run),
    ("checks", _stage_checks),
    ("results", _stage_results),
]


def _px(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} px"


def _input_and_pose_lines(ctx: DemoContext) -> list[str]:
    """Return the summary's lines on the sample data, the project, the run, the pose model and the features."""
    lines = []
    for name, info in ctx.results.get("convert", {}).items():
        lines.append(
            f"  {name}: {info['frames']} frames, {info['keypoints']} keypoints, "
            f"individuals {', '.join(info['individuals'])}; round trips ok: {', '.join(info['round_trips'])}"
        )
    lf = ctx.results["project"]["labeled_frames"]
    lines.append(f"  labeled frames: {lf['labeled']} of {lf['frames']} labeled, {len(lf['keypoints'])} keypoints")
    lines.append(f"  project: {ctx.results['project']['config']} and sessions.csv (behaviorlab init)")
    run = ctx.results["run"]
    lines.append(
        f"  behaviorlab run: {len(run['completed_sessions'])} sessions in {run['seconds']} s on a local Dask cluster"
    )
    checks = ctx.results["checks"]
    pm = checks["pose_model"]
    val = pm["validation"]
    lines.append(
        f"  pose model: Stacked DenseNet trained on {pm['training_frames']} frames for {pm['epochs']} epochs on the "
        f"{pm['path']} path ({pm['path_reason']}); held-out error mean {_px(val.get('mean'))}, median "
        f"{_px(val.get('median'))} -> {pm['model_dir']}"
    )
    for name, info in checks["predict"].items():
        lines.append(
            f"  {name}: predicted {info['frames']} frames; error against "
            f"the true poses mean {_px(info['error_px_mean'])}, median {_px(info['error_px_median'])}"
        )
    for name, info in checks["features"].items():
        lines.append(
            f"  {name}: cleaning {info['input']}: mean error {info['mean_abs_error_px_before_cleaning']} -> "
            f"{info['mean_abs_error_px_after_cleaning']} px; {info['n_features']} features x "
            f"{info['n_frequencies']} wavelet frequencies"
        )
    return lines


def _behavior_lines(ctx: DemoContext) -> list[str]:
    """Return the summary's lines on the behavior map, the ethogram, the classifiers and the results store."""
    lines = []
    checks = ctx.results["checks"]
    bm = checks["behavior_map"]
    if bm:
        lines.append(
            f"  behavior map: {bm['n_regions']} regions from {bm['frames']} frames; against the generated "
            f"behaviors NMI {bm['nmi_vs_generated_behaviors']}, ARI {bm['ari_vs_generated_behaviors']}"
        )
    eth = checks["ethogram"]
    if eth:
        lines.append(
            f"  ethogram: {eth['n_states']} HMM states by BIC; "
            f"against the generated behaviors NMI {eth['nmi_vs_generated_behaviors']}, "
            f"ARI {eth['ari_vs_generated_behaviors']}"
        )
    syl = checks.get("syllables")
    if syl:
        lines.append(
            f"  syllables: {syl['n_syllables']} AR-HMM syllables of the poses, median {syl['median_syllable_s']} s "
            f"({100 * syl['short_syllable_share']:.1f}% shorter than 3 frames); against the generated behaviors "
            f"NMI {syl['nmi_vs_generated_behaviors']}, ARI {syl['ari_vs_generated_behaviors']}"
        )
    cl = checks["classify"]
    if cl:
        f1 = ", ".join(f"{b} {v:.2f}" for b, v in cl["heldout_f1"].items())
        lines.append(
            f"  classifiers ({cl['cv']} cross-validation over the {len(cl['annotated_sessions'])} annotated sessions), "
            f"held-out F1: {f1}"
        )
        for name, scores in cl["applied_f1_vs_truth"].items():
            shown = ", ".join(f"{b} {v:.2f}" for b, v in scores.items())
            lines.append(
                f"  classifiers applied to {name} (not annotated; poses from the demo's pose model), "
                f"F1 against the generated behaviors: {shown}"
            )
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
    return lines


def run_demo(
    out_dir: str | Path = "behaviorlab_demo",
    *,
    sample_dir: str | Path | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
) -> str:
    """Make the demo project, run it, check it against the ground truth and write ``demo_summary.json``.

    Parameters
    ----------
    out_dir
        The project folder (created; a re-run reuses its cache).
    sample_dir
        Sample data to use; see :func:`find_sample_data`.
    workers, scheduler
        As in :func:`behaviorlab.project.runner.run_project`.

    Returns
    -------
    str
        A short human-readable report of what was done.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sample = find_sample_data(None if sample_dir is None else Path(sample_dir), out_dir)
    ctx = DemoContext(sample_dir=sample, out_dir=out_dir, workers=workers, scheduler=scheduler)
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
    lines += _input_and_pose_lines(ctx) + _behavior_lines(ctx)
    lines.append(f"  stage times (s): {timings}")
    lines.append(f"  summary: {summary_path}")
    lines.append(f"  open the dashboard on this project: behaviorlab dashboard {out_dir}")
    return "\n".join(lines)
