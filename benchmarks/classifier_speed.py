"""Training and prediction time of the supervised behavior classifier on one hour of frames.

108,000 frames (one hour at 30 fps, ``--sessions`` x ``--minutes``) with 50
per-frame features and 2 behaviors: the features are the first 50 per-frame
features of :func:`behaviorlab.synthetic.simulate.simulate_poses` sessions (seeds
400, 401, ...), the behaviors two of the generated ones (``walk`` and
``groom``).  :class:`~behaviorlab.behavior.classify.BehaviorClassifier` with its
defaults (window features over 3 windows x 4 statistics, histogram gradient
boosting, F1 thresholds) is timed on fit and on predict, with its peak memory;
the random forest option is timed beside it.  With ``--all-features`` the
gradient-boosting model is timed again on every default pose feature (the
scale-free families of issue 22), beside the 50-feature run of the same
process: the richer features may cost at most twice the time.

Run ``python benchmarks/classifier_speed.py --help``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import DEFAULT_RESULTS_DIR, format_table, write_results

N_FEATURES = 50
BEHAVIORS = ("walk", "groom")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--minutes", type=float, default=15.0)
    parser.add_argument("--models", nargs="+", default=["hgb", "rf"], choices=["hgb", "rf"])
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 sessions x 1 minute")
    parser.add_argument("--all-features", action="store_true", help="also time hgb on every default feature")
    parser.add_argument("--out", default=str(DEFAULT_RESULTS_DIR))
    args = parser.parse_args(argv)
    if args.quick:
        args.sessions, args.minutes = 2, 1.0
    return args


def _peak_rss_mib() -> float:
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return int(fields["VmHWM"].split()[0]) / 1024.0


def _time_fit_predict(clf: Any, features: dict, labels: dict) -> tuple[Any, float, float]:
    """Fit ``clf`` and predict the same sessions; return it with the seconds of each."""
    start = time.perf_counter()
    clf.fit(features, labels)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    clf.predict(features)
    return clf, fit_s, time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    import xarray as xr

    from behaviorlab.behavior.classify import BehaviorClassifier
    from behaviorlab.features.pipeline import compute_session_features
    from behaviorlab.synthetic.simulate import SyntheticConfig, simulate_poses

    features, labels, every = {}, {}, {}
    for i in range(args.sessions):
        poses, behavior = simulate_poses(SyntheticConfig(duration_s=args.minutes * 60, seed=400 + i))
        ds = compute_session_features(poses, {"spectrogram": False})
        name = f"session_{i}"
        features[name] = ds[["features"]].isel(feature=slice(0, N_FEATURES)).assign_attrs(fps=ds.attrs["fps"])
        if args.all_features:
            every[name] = ds[["features"]].assign_attrs(fps=ds.attrs["fps"])
        labels[name] = xr.DataArray(
            np.stack([behavior.values == b for b in BEHAVIORS], axis=-1),
            dims=("time", "individual", "behavior"),
            coords={"time": ds["time"].values, "individual": ds["individual"].values, "behavior": list(BEHAVIORS)},
        )
    n_frames = sum(ds.sizes["time"] * ds.sizes["individual"] for ds in features.values())
    metrics: dict[str, Any] = {"n_frames": n_frames, "n_base_features": N_FEATURES, "n_behaviors": len(BEHAVIORS)}
    rows = []
    rss_before = _peak_rss_mib()
    for model in args.models:
        clf, fit_s, predict_s = _time_fit_predict(BehaviorClassifier(model=model, random_state=0), features, labels)
        metrics[f"{model}_fit_seconds"] = fit_s
        metrics[f"{model}_predict_seconds"] = predict_s
        metrics[f"{model}_predict_frames_per_second"] = n_frames / predict_s
        metrics[f"{model}_n_window_features"] = len(clf.feature_names_in_)
        rows.append((model, fit_s, predict_s, n_frames / predict_s, len(clf.feature_names_in_)))
    if args.all_features:
        clf, fit_s, predict_s = _time_fit_predict(BehaviorClassifier(random_state=0), every, labels)
        n_base = next(iter(every.values())).sizes["feature"]
        metrics["hgb_all_features_n_base_features"] = n_base
        metrics["hgb_all_features_fit_seconds"] = fit_s
        metrics["hgb_all_features_predict_seconds"] = predict_s
        metrics["hgb_all_features_vs_50_fit_time_ratio"] = fit_s / metrics["hgb_fit_seconds"]
        metrics["hgb_all_features_vs_50_predict_time_ratio"] = predict_s / metrics["hgb_predict_seconds"]
        rows.append((f"hgb, all {n_base} features", fit_s, predict_s, n_frames / predict_s, len(clf.feature_names_in_)))
    metrics["peak_rss_mib"] = _peak_rss_mib()
    metrics["rss_mib_before_fitting"] = rss_before
    if "hgb" in args.models and "rf" in args.models:
        metrics["rf_vs_hgb_fit_time_ratio"] = metrics["rf_fit_seconds"] / metrics["hgb_fit_seconds"]
    table = format_table(["model", "fit s", "predict s", "predict frames/s", "window features"], rows)
    peak = metrics["peak_rss_mib"]
    table += f"\n{n_frames} frames, {N_FEATURES} features, {len(BEHAVIORS)} behaviors; peak {peak:.0f} MiB"
    config = {
        "sessions": args.sessions,
        "minutes": args.minutes,
        "seeds": [400 + i for i in range(args.sessions)],
        "behaviors": list(BEHAVIORS),
        "classifier": "BehaviorClassifier defaults; model as listed",
    }
    write_results("classifier_speed", metrics, config=config, table=table, out_dir=args.out)


if __name__ == "__main__":
    main()
