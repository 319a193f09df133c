"""Top-down multi-animal pose estimation: training time and tracked accuracy on the 2-animal sample session.

Trains a small top-down model (:func:`behaviorlab.pose.topdown.train_topdown`:
a centroid model on the frames shrunk to half size, and a pose model of the
box around each animal; both Stacked DenseNets with ``--growth-rate`` 16, one
stack, ``--epochs`` 60, batch 8, sigma 4 px, default augmentation: the
single-animal demo model's settings with more epochs) on ``sample_data/labeled_frames.labels.h5``
(120 frames of 256 x 256, one or two labeled mice), then predicts and tracks
``sample_data/session_b.mp4`` (1,800 frames, two mice that meet often) with
:func:`behaviorlab.pose.topdown.predict_video_topdown` and scores it against
``sample_data/session_b_poses.nc``:

- keypoint error with one track per animal for the whole session
  (:func:`behaviorlab.trajectories.track_scores.keypoint_error`, ``matching="session"``: a
  switch makes the rest of the session wrong) and matched per frame;
- identity switches (:func:`behaviorlab.trajectories.track_scores.identity_switches`) per
  1,000 frames;
- the share of (frame, animal) pairs with a matched track, and the same
  keypoint error with the true anchors given to the box model (an oracle
  centroid stage), which separates detection from pose errors.

A model folder that already holds a trained top-down model is reused
(``--retrain`` to train again).  Run ``python benchmarks/topdown_accuracy.py --help``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np
from _common import DEFAULT_RESULTS_DIR, format_table, set_backend, write_results

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", default="/tmp/behaviorlab-topdown-benchmark", help="top-down model folder")
    parser.add_argument("--retrain", action="store_true", help="train again even if the model folder holds a model")
    parser.add_argument("--anchor", default="spine")
    parser.add_argument("--crop-size", type=int, default=None, help="box side (default: from the labels)")
    parser.add_argument("--centroid-scale", type=float, default=0.5)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--growth-rate", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--sigma", type=float, default=4.0, help="target sigma in (model input) pixels")
    parser.add_argument("--peak-threshold", type=float, default=0.2)
    parser.add_argument("--stop", type=int, default=None, help="predict only the first frames of the video")
    parser.add_argument("--backend", default=None)
    parser.add_argument("--out", default=str(DEFAULT_RESULTS_DIR), help="results directory")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    set_backend(args.backend)
    from behaviorlab.io.load import load_poses
    from behaviorlab.io.video import VideoReader
    from behaviorlab.pose.topdown import (
        TOPDOWN_CONFIG,
        TopDownModel,
        instances_to_poses,
        predict_video_topdown,
        train_topdown,
    )
    from behaviorlab.pose.train import TrainConfig
    from behaviorlab.trajectories.track_scores import identity_switches, keypoint_error
    from behaviorlab.trajectories.tracking import track_poses

    model_dir = Path(args.model_dir)
    training: dict[str, float | int] = {}
    if args.retrain or not (model_dir / TOPDOWN_CONFIG).is_file():
        if model_dir.exists():
            shutil.rmtree(model_dir)
        config = TrainConfig(
            model_kwargs={"growth_rate": args.growth_rate, "n_stacks": 1},
            epochs=args.epochs,
            batch_size=args.batch_size,
            sigma=args.sigma,
            val_fraction=0.15,
            seed=0,
        )
        started = time.perf_counter()
        result = train_topdown(
            SAMPLE / "labeled_frames.labels.h5",
            model_dir,
            anchor=args.anchor,
            crop_size=args.crop_size,
            centroid_scale=args.centroid_scale,
            centroid_config=config,
            pose_config=config,
            peak_threshold=args.peak_threshold,
            verbose=2,
        )
        training = {
            "train_wall_s": round(time.perf_counter() - started, 1),
            "train_centroid_s": round(result.centroid.training_seconds, 1),
            "train_pose_s": round(result.pose.training_seconds, 1),
            "centroid_epochs": result.centroid.epochs,
            "pose_epochs": result.pose.epochs,
            "pose_best_val_px_error": round(result.pose.best_val_px_error, 3),
            "n_crops": result.n_crops,
        }
        (model_dir / "benchmark_training.json").write_text(json.dumps(training, indent=2))
    else:
        saved = model_dir / "benchmark_training.json"
        training = json.loads(saved.read_text()) if saved.is_file() else {}
    model = TopDownModel.load(model_dir)
    if model.peak_threshold != args.peak_threshold:
        model = model.replace(peak_threshold=args.peak_threshold)

    truth = load_poses(SAMPLE / "session_b_poses.nc")
    started = time.perf_counter()
    pred = predict_video_topdown(model, SAMPLE / "session_b.mp4", batch_size=16, stop=args.stop)
    predict_s = time.perf_counter() - started
    if pred.sizes["individual"] == 0:
        raise SystemExit(f"no animal found above peak threshold {model.peak_threshold}: train longer or lower it")
    truth = truth.isel(time=slice(0, pred.sizes["time"]))
    pred_named = pred.drop_vars("source_individual").assign_coords(time=truth["time"].values)

    err_session = keypoint_error(pred_named, truth, matching="session").values
    err_frame = keypoint_error(pred_named, truth, matching="frame").values
    switches = identity_switches(pred_named, truth)

    # oracle centroid stage: true anchors, same box model and tracker
    anchors = truth["position"].sel(keypoint=model.anchor).transpose("time", "individual", "space").values
    with VideoReader(SAMPLE / "session_b.mp4", grayscale=model.grayscale) as reader:
        frames = reader[: pred.sizes["time"]]
    oracle = instances_to_poses(model.predict_instances(frames, anchors=anchors), model.skeleton, fps=30.0)
    oracle = track_poses(oracle, max_tracks=2).drop_vars("source_individual")
    oracle = oracle.assign_coords(time=truth["time"].values)
    err_oracle = keypoint_error(oracle, truth, matching="session").values
    err_oracle_frame = keypoint_error(oracle, truth, matching="frame").values
    oracle_switches = identity_switches(oracle, truth)

    def stats(err: np.ndarray, prefix: str) -> dict[str, float]:
        finite = err[np.isfinite(err)]
        return {
            f"{prefix}_mean_px": round(float(finite.mean()), 3),
            f"{prefix}_median_px": round(float(np.median(finite)), 3),
            f"{prefix}_p90_px": round(float(np.percentile(finite, 90)), 3),
            f"{prefix}_scored_share": round(finite.size / err.size, 4),
        }

    metrics: dict[str, float | int | str] = {
        **training,
        "crop_size": model.crop_size,
        "frames": int(pred.sizes["time"]),
        "predict_fps": round(pred.sizes["time"] / predict_s, 1),
        "n_tracks": int(pred.sizes["individual"]),
        **stats(err_session, "session_matched"),
        **stats(err_frame, "frame_matched"),
        "identity_switches": switches["switches"],
        "identity_switch_events": switches["switch_events"],
        "switches_per_1000_frames": round(switches["switches_per_1000_frames"], 3),
        "matched_share": round(switches["matched_share"], 4),
        **stats(err_oracle, "oracle_anchor_session_matched"),
        **stats(err_oracle_frame, "oracle_anchor_frame_matched"),
        "oracle_anchor_switches_per_1000_frames": round(oracle_switches["switches_per_1000_frames"], 3),
    }
    rows = [[key, value] for key, value in metrics.items()]
    config = {k: v for k, v in vars(args).items() if k != "out"}
    write_results(
        "topdown_accuracy", metrics, config=config, table=format_table(["metric", "value"], rows), out_dir=args.out
    )


if __name__ == "__main__":
    main()
