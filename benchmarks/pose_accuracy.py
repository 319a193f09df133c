"""Held-out accuracy of Stacked DenseNet against DeepLabCut-ResNet50, trained identically on real labeled frames.

For each dataset (``../shared/data/dlc-openfield``, ``../shared/data/lp-mirror-mouse``):

1. the labeled frames are split once, seeded, into 90 % training and 10 % test
   frames (``--test-fraction``); the test frames are never seen in training
   nor used to pick a checkpoint;
2. the images are converted to grayscale and resized by ``--scale`` (the
   keypoints with them, pixel centres kept), so that both networks train in
   reasonable time on a CPU (DeepLabCut's own ``global_scale`` does the same);
3. every model in ``--models`` is trained by :func:`behaviorlab.pose.train.train_model`
   with one :class:`~behaviorlab.pose.train.TrainConfig`: the same augmentation,
   learning-rate schedule, early stopping, epochs, batch size, inner seeded
   validation split (for the best checkpoint) and target sigma; only the
   architecture (and its output stride) differs;
4. the best checkpoint predicts the test frames; predictions are mapped back to
   the original image and compared with the human labels there, so every error
   is in **full-resolution pixels**.

Training is resumable: each model trains in ``--work/<dataset>/<model>``, an
interrupted run continues from its last epoch when the script runs again, and a
finished model is only evaluated again.  DeepLabCut is trained from scratch unless
``--deeplabcut-weights`` names a local ResNet50 ImageNet weights file (nothing is
downloaded); the result file records which.

Run ``python benchmarks/pose_accuracy.py --help``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
from _common import DEFAULT_RESULTS_DIR, format_table, set_backend, write_results

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
DATASETS = {
    # name: labels file, relative to ../shared/data
    "dlc-openfield": "dlc-openfield/labeled-data/m4s1/CollectedData_Pranav.h5",
    "lp-mirror-mouse": "lp-mirror-mouse/CollectedData.csv",
}
MODELS = ("stacked_densenet", "deeplabcut")
TARGET_WITHIN = 0.10  # Stacked DenseNet mean error at most 10 % above DeepLabCut's
TARGET_OPENFIELD_PX = 5.0  # and at most 5 px on dlc-openfield (human labelers differ by ~2.7 px)
PCK_THRESHOLDS = (2.0, 5.0, 10.0)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", choices=list(DATASETS), default=list(DATASETS))
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--data-root", type=Path, default=SHARED, help="the shared data folder")
    parser.add_argument("--scale", type=float, default=None, help="image scale for training and inference (0.5)")
    parser.add_argument("--epochs", type=int, default=None, help="most epochs (60)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--sigma", type=float, default=5.0, help="target sigma in network-input px (>= stride)")
    parser.add_argument("--lr-patience", type=int, default=8)
    parser.add_argument("--early-stopping-patience", type=int, default=20)
    parser.add_argument("--test-fraction", type=float, default=0.1)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="one per full repetition")
    parser.add_argument("--deeplabcut-weights", type=Path, default=None, help="local ResNet50 ImageNet weights")
    parser.add_argument("--backend", choices=["tensorflow", "jax", "torch"], default=None)
    parser.add_argument("--work", type=Path, default=Path("benchmarks/.work/pose_accuracy"), help="model folders")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 epochs at scale 0.25")
    parser.add_argument("--out", default=str(DEFAULT_RESULTS_DIR), help="results directory")
    args = parser.parse_args(argv)
    defaults = {"scale": 0.25, "epochs": 2} if args.quick else {"scale": 0.5, "epochs": 60}
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if not 0 < args.scale <= 1:
        parser.error("--scale must lie in (0, 1]")
    return args


def scaled(frames, scale: float):
    """Frames resized by ``scale`` (area-averaging bilinear), keypoints mapped with pixel centres kept."""
    from keras import ops

    from behaviorlab.io.labeled_frames import LabeledFrames

    if scale == 1:
        return frames
    images = []
    for image in frames.images:
        h, w = image.shape[:2]
        size = (round(h * scale), round(w * scale))
        resized = ops.image.resize(image[None].astype(np.float32), size, interpolation="bilinear", antialias=True)
        images.append(np.clip(np.rint(ops.convert_to_numpy(resized)[0]), 0, 255).astype(np.uint8))
    keypoints = (frames.keypoints + 0.5) * scale - 0.5
    return LabeledFrames(
        images=images,
        keypoints=keypoints,
        skeleton=frames.skeleton,
        individuals=frames.individuals,
        sources=frames.sources,
    )


def train_and_test(name: str, model: str, seed: int, frames, args: argparse.Namespace) -> dict:
    """Train ``model`` on the training split of ``frames`` and score it on the test split at full resolution."""
    from behaviorlab.pose.data import single_animal_keypoints, split_frames
    from behaviorlab.pose.evaluate import error_summary, keypoint_errors, pck
    from behaviorlab.pose.models import count_parameters
    from behaviorlab.pose.predict import PoseModel
    from behaviorlab.pose.train import TrainConfig, train_model

    train_idx, test_idx = split_frames(len(frames), args.test_fraction, seed)
    full_test = frames.select(test_idx)
    small = scaled(frames, args.scale)
    stride = 8 if model == "deeplabcut" else 4
    kwargs = {"weights_path": str(args.deeplabcut_weights)} if model == "deeplabcut" and args.deeplabcut_weights else {}
    config = TrainConfig(
        model=model,
        model_kwargs=kwargs,
        epochs=args.epochs,
        batch_size=args.batch_size,
        val_fraction=0.1,
        seed=seed,
        sigma=max(args.sigma, float(stride)),  # the subpixel kernel needs >= 1 map px
        output_stride=stride,
        grayscale=True,
        lr_patience=args.lr_patience,
        early_stopping_patience=args.early_stopping_patience,
    )
    out_dir = args.work / f"{name}_scale{args.scale:g}_seed{seed}" / model
    resume = (out_dir / "state.json").is_file()
    print(f"{'resuming' if resume else 'training'} {model} on {name} (seed {seed}) in {out_dir}", flush=True)
    result = train_model(small.select(train_idx), out_dir, None if resume else config, resume=resume, verbose=2)

    pose_model = PoseModel.load(out_dir)
    test_small = small.select(test_idx)
    start = time.perf_counter()
    pred = pose_model.predict(test_small.images, batch_size=args.batch_size)[..., :2]
    predict_s = time.perf_counter() - start
    pred_full = (pred.astype(np.float64) + 0.5) / args.scale - 0.5  # back to the original pixels
    true_full, used = single_animal_keypoints(full_test.keypoints, full_test.sources)
    errors = keypoint_errors(pred_full[used], true_full)
    valid = errors[np.isfinite(errors)]
    summary = error_summary(errors, frames.skeleton.keypoints)
    return {
        "n_train": len(train_idx),
        "n_test": len(test_idx),
        "n_test_keypoints": int(valid.size),
        "mean": float(valid.mean()),
        "median": float(np.median(valid)),
        "p90": float(np.percentile(valid, 90)),
        "p99": float(np.percentile(valid, 99)),
        "max": float(valid.max()),
        **{f"pck{t:g}": float(v) for t, v in zip(PCK_THRESHOLDS, pck(errors, PCK_THRESHOLDS).iloc[-1], strict=False)},
        "training_seconds": result.training_seconds,
        "epochs": result.epochs,
        "best_epoch": result.best_epoch,
        "stopped_early": result.stopped_early,
        "inner_val_error_px_fullres": result.best_val_px_error / args.scale,
        "params": count_parameters(pose_model.train_model),
        "test_predict_seconds_per_frame": predict_s / max(1, len(test_idx)),
        "per_keypoint_mean_px": {str(k): float(v) for k, v in summary["mean"].items()},
        "input_shape": list(pose_model.input_shape),
    }


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    set_backend(args.backend)
    import keras

    from behaviorlab.io.labeled_frames import load_labeled_frames

    start = time.perf_counter()
    metrics: dict[str, float | int | str] = {}
    rows: list = []
    details: dict = {}
    for name in args.datasets:
        path = args.data_root / DATASETS[name]
        if not path.is_file():
            raise SystemExit(f"{path} not found: pose_accuracy needs ../shared/data beside the repository")
        frames = load_labeled_frames(path)
        key = name.replace("-", "_")
        metrics[f"{key}_n_labeled_frames"] = len(frames)
        metrics[f"{key}_image_height_width"] = "x".join(str(d) for d in frames.images[0].shape[:2])
        results: dict[str, list[dict]] = {m: [] for m in args.models}
        for seed in args.seeds:
            for model in args.models:
                res = train_and_test(name, model, seed, frames, args)
                results[model].append(res)
                details[f"{name}/{model}/seed{seed}"] = res
                keras.backend.clear_session()
        for model, runs in results.items():
            prefix = f"{key}_{model}"
            for stat in ("mean", "median", "p90", "p99", "max"):
                metrics[f"{prefix}_test_error_{stat}_px_fullres"] = float(np.mean([r[stat] for r in runs]))
            for t in PCK_THRESHOLDS:
                metrics[f"{prefix}_test_pck_{t:g}px_fullres"] = float(np.mean([r[f"pck{t:g}"] for r in runs]))
            metrics[f"{prefix}_training_seconds"] = float(np.mean([r["training_seconds"] for r in runs]))
            metrics[f"{prefix}_epochs"] = float(np.mean([r["epochs"] for r in runs]))
            metrics[f"{prefix}_params"] = runs[0]["params"]
            metrics[f"{prefix}_n_test_keypoints"] = runs[0]["n_test_keypoints"]
            if len(runs) > 1:
                metrics[f"{prefix}_test_error_mean_px_fullres_std_over_seeds"] = float(
                    np.std([r["mean"] for r in runs], ddof=1)
                )
            rows.append(
                [
                    name,
                    model,
                    runs[0]["n_train"],
                    runs[0]["n_test"],
                    metrics[f"{prefix}_test_error_mean_px_fullres"],
                    metrics[f"{prefix}_test_error_median_px_fullres"],
                    metrics[f"{prefix}_test_error_p90_px_fullres"],
                    metrics[f"{prefix}_test_error_p99_px_fullres"],
                    metrics[f"{prefix}_test_pck_5px_fullres"],
                    metrics[f"{prefix}_training_seconds"],
                    metrics[f"{prefix}_epochs"],
                ]
            )
        if {"stacked_densenet", "deeplabcut"} <= set(args.models):
            dense = metrics[f"{key}_stacked_densenet_test_error_mean_px_fullres"]
            dlc = metrics[f"{key}_deeplabcut_test_error_mean_px_fullres"]
            metrics[f"{key}_stacked_densenet_vs_deeplabcut_mean_error_ratio"] = dense / dlc
            metrics[f"{key}_stacked_densenet_vs_deeplabcut_training_time_ratio"] = (
                metrics[f"{key}_stacked_densenet_training_seconds"] / metrics[f"{key}_deeplabcut_training_seconds"]
            )
            metrics[f"target_{key}_stacked_densenet_mean_error_within_10pct_of_deeplabcut"] = (
                "pass" if dense <= (1 + TARGET_WITHIN) * dlc else "fail"
            )
        if name == "dlc-openfield" and "stacked_densenet" in args.models:
            dense = metrics[f"{key}_stacked_densenet_test_error_mean_px_fullres"]
            metrics["target_dlc_openfield_stacked_densenet_mean_error_le_5px"] = (
                "pass" if dense <= TARGET_OPENFIELD_PX else "fail"
            )

    table = format_table(
        ["dataset", "model", "train", "test", "mean px", "median", "p90", "p99", "PCK@5px", "train s", "epochs"], rows
    )
    table = f"Held-out test error at full image resolution (seeds {args.seeds}, scale {args.scale:g})\n{table}"
    targets = {k: v for k, v in metrics.items() if k.startswith("target_")}
    if targets:
        table += "\n" + "\n".join(f"  {k}: {v}" for k, v in targets.items())
    config = {
        "datasets": {n: DATASETS[n] for n in args.datasets},
        "models": args.models,
        "seeds": args.seeds,
        "scale": args.scale,
        "test_fraction": args.test_fraction,
        "epochs_max": args.epochs,
        "batch_size": args.batch_size,
        "sigma_network_px": {m: max(args.sigma, 8.0 if m == "deeplabcut" else 4.0) for m in args.models},
        "output_stride": {m: 8 if m == "deeplabcut" else 4 for m in args.models},
        "lr_patience": args.lr_patience,
        "early_stopping_patience": args.early_stopping_patience,
        "augmentation": "TrainConfig default: symmetric flips, rotation, scale, shift, noise, dropout, blur, contrast",
        "grayscale": True,
        "deeplabcut_weights": str(args.deeplabcut_weights or "none (from scratch)"),
        "keras_backend": keras.backend.backend(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "quick": args.quick,
        "runs": details,
        "wall_time_s": round(time.perf_counter() - start, 1),
    }
    json.dumps(config)  # fail before writing if something is not JSON
    write_results("pose_accuracy", metrics, config=config, table=table, out_dir=args.out)


if __name__ == "__main__":
    main()
