"""Held-out pose error on other labs' frames: behaviorlab's default path, its full frame and DeepLabCut-ResNet50.

Protocols (each a seeded split of the labeled frames into training and test
frames; test frames are never seen in training nor used to pick a checkpoint):

- ``dlc_openfield_split50``: ``../shared/data/dlc-openfield``, DeepLabCut's
  protocol (50 % train / 50 % test; DeepLabCut 3's PyTorch ResNet-50 reaches
  2.01 px, human labelers differ by 2.69 px);
- ``dlc_openfield_split90``: the same frames, 90 % train / 10 % test;
- ``lp_mirror_mouse``: ``../shared/data/lp-mirror-mouse``, 80 % / 20 %.

Methods, trained with one recipe (:class:`~behaviorlab.pose.train.TrainConfig`:
grayscale, batch 8, warm-up + cosine schedule, the default augmentation, an
inner 10 % validation split for the best checkpoint) and the same time budget
(``--budget-minutes``; ``behaviorlab train --time-budget``):

- ``default``: what ``behaviorlab train`` does (:func:`behaviorlab.pose.strategy.train_pose`,
  ``--path auto``): the crop-centred path when the animal is small in the
  frame (dlc-openfield), else the full frame at full resolution (lp-mirror-mouse's
  two mirror views span the frame);
- ``full_frame``: Stacked DenseNet on whole frames shrunk by ``--full-frame-scale``
  (0.5, as before this round: whole 640 x 480 frames at full resolution do not
  fit a laptop's memory with a useful batch);
- ``deeplabcut``: DeepLabCut's ResNet-50 on the same shrunk frames, from
  scratch unless ``--deeplabcut-weights`` names a local ImageNet weights file
  (nothing is downloaded).

Every training runs in a process of its own (``--one``), so its peak resident
memory is its own; errors are Euclidean distances in full-resolution pixels on
the test frames.  Runs are resumable: a finished run's ``result.json`` in
``--work`` is reused, an interrupted training continues.

Metric keys: ``dlc_openfield_split50_mean_px``, ``dlc_openfield_split50_median_px``,
``dlc_openfield_split90_mean_px``, ``lp_mirror_mouse_mean_px``,
``dlc_openfield_split50_train_seconds``, ``train_peak_rss_mib`` (the largest
over the default path's runs) for the default path, and the same keys with the
prefixes ``full_frame_`` and ``deeplabcut_``.

Run ``python benchmarks/pose_accuracy.py --help``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from _common import DEFAULT_RESULTS_DIR, format_table, set_backend, write_results

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
PROTOCOLS = {
    # name: (labels file relative to ../shared/data, test fraction)
    "dlc_openfield_split50": ("dlc-openfield/labeled-data/m4s1/CollectedData_Pranav.h5", 0.5),
    "dlc_openfield_split90": ("dlc-openfield/labeled-data/m4s1/CollectedData_Pranav.h5", 0.1),
    "lp_mirror_mouse": ("lp-mirror-mouse/CollectedData.csv", 0.2),
}
METHODS = ("default", "full_frame", "deeplabcut")
PREFIX = {"default": "", "full_frame": "full_frame_", "deeplabcut": "deeplabcut_"}
TARGETS = {"dlc_openfield_split50_mean_px": 2.7, "lp_mirror_mouse_mean_px": 7.0, "train_peak_rss_mib": 2500.0}
ANCHORS = {"deeplabcut_pytorch_resnet50_split50_px": 2.01, "human_px": 2.69}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--protocols", nargs="+", choices=list(PROTOCOLS), default=list(PROTOCOLS))
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--data-root", type=Path, default=SHARED, help="the shared data folder")
    parser.add_argument("--budget-minutes", type=float, default=60.0, help="training time of every run")
    parser.add_argument(
        "--budget", nargs="*", default=[], metavar="PROTOCOL:METHOD=MINUTES", help="another budget for some runs"
    )
    parser.add_argument("--skip", nargs="*", default=[], metavar="PROTOCOL:METHOD", help="runs left out (not timed)")
    parser.add_argument("--full-frame-scale", type=float, default=0.5)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--deeplabcut-weights", type=Path, default=None, help="local ResNet50 ImageNet weights")
    parser.add_argument("--backend", choices=["tensorflow", "jax", "torch"], default=None)
    parser.add_argument("--work", type=Path, default=Path("benchmarks/.work/pose_accuracy"), help="model folders")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1-minute budgets, dlc_openfield_split50 only")
    parser.add_argument("--one", nargs=2, metavar=("PROTOCOL", "METHOD"), help=argparse.SUPPRESS)
    parser.add_argument("--out", default=str(DEFAULT_RESULTS_DIR), help="results directory")
    args = parser.parse_args(argv)
    if args.quick:
        args.budget_minutes = 1.0
        args.protocols = ["dlc_openfield_split50"]
    args.budgets = {}
    for item in args.budget:
        run, _, minutes = item.partition("=")
        args.budgets[run] = float(minutes)
    return args


def budget_minutes(args: argparse.Namespace, protocol: str, method: str) -> float:
    return args.budgets.get(f"{protocol}:{method}", args.budget_minutes)


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
    return LabeledFrames(images, keypoints, frames.skeleton, frames.individuals, frames.sources)


def run_one(protocol: str, method: str, args: argparse.Namespace) -> dict:
    """Train one method on one protocol's training frames and score it on its test frames (in this process)."""
    from behaviorlab.io.labeled_frames import load_labeled_frames
    from behaviorlab.pose.callbacks import peak_rss_mib
    from behaviorlab.pose.data import split_frames
    from behaviorlab.pose.strategy import train_pose
    from behaviorlab.pose.topdown import load_any_model
    from behaviorlab.pose.train import TrainConfig

    labels, test_fraction = PROTOCOLS[protocol]
    frames = load_labeled_frames(args.data_root / labels).to_grayscale()
    frames = frames.select(np.flatnonzero(frames.labeled_mask()))
    train_idx, test_idx = split_frames(len(frames), test_fraction, args.seed)
    scale = 1.0 if method == "default" else args.full_frame_scale
    model = "deeplabcut" if method == "deeplabcut" else "stacked_densenet"
    stride = 8 if model == "deeplabcut" else 4
    kwargs = {"weights_path": str(args.deeplabcut_weights)} if model == "deeplabcut" and args.deeplabcut_weights else {}
    config = TrainConfig(
        model=model,
        model_kwargs=kwargs,
        epochs=100_000,
        batch_size=args.batch_size,
        val_fraction=0.1,
        seed=args.seed,
        sigma=max(5.0, float(stride)),
        output_stride=stride,
        grayscale=True,
        lr_schedule="cosine",
        time_budget=60.0 * budget_minutes(args, protocol, method),
        early_stopping_patience=1000,
    )
    out_dir = args.work / protocol / method
    resume = out_dir.is_dir()
    train_frames = scaled(frames.select(train_idx), scale)
    summary = train_pose(
        train_frames,
        out_dir,
        config,
        path="auto" if method == "default" else "full-frame",
        resume=resume,
        verbose=2,
    )
    model_obj = load_any_model(out_dir)
    test = scaled(frames.select(test_idx), scale)
    start = time.perf_counter()
    pred = np.asarray(model_obj.predict(np.stack(test.images), batch_size=args.batch_size))
    predict_s = time.perf_counter() - start
    pred = pred[:, 0] if pred.ndim == 4 else pred  # a top-down model's one animal slot
    pred_full = (pred[..., :2].astype(np.float64) + 0.5) / scale - 0.5
    errors = np.linalg.norm(pred_full - frames.keypoints[test_idx, 0], axis=-1)
    valid = errors[np.isfinite(frames.keypoints[test_idx, 0]).all(axis=-1)]
    valid = np.where(np.isfinite(valid), valid, np.nan)
    return {
        "protocol": protocol,
        "method": method,
        "path": summary.choice.path,
        "path_reason": summary.choice.reason,
        "n_train": len(train_idx),
        "n_test": len(test_idx),
        "n_test_keypoints": int(valid.size),
        "missed_keypoints": int(np.isnan(valid).sum()),
        "mean_px": float(np.nanmean(valid)),
        "median_px": float(np.nanmedian(valid)),
        "p90_px": float(np.nanpercentile(valid, 90)),
        "train_seconds": summary.training_seconds,
        "budget_minutes": budget_minutes(args, protocol, method),
        "epochs": summary.epochs,
        "stopped_at_budget": summary.stopped_at_budget,
        "inner_val_px": summary.best_val_px_error / scale,
        "test_predict_seconds_per_frame": predict_s / max(1, len(test_idx)),
        "peak_rss_mib": max(peak_rss_mib(), summary.peak_rss_mib),
    }


def _finite(value):
    """``None`` for a non-finite float (JSON has no NaN), else the value."""
    return None if isinstance(value, float) and not np.isfinite(value) else value


def run_in_process(protocol: str, method: str, args: argparse.Namespace, argv: list[str]) -> dict:
    """Run :func:`run_one` in a fresh interpreter (its own peak memory); reuse a finished run's result."""
    result_path = args.work / protocol / method / "result.json"
    if result_path.is_file():
        print(f"reusing {result_path}", flush=True)
        return json.loads(result_path.read_text())
    command = [sys.executable, str(Path(__file__).resolve()), *argv, "--one", protocol, method]
    print(f"running {protocol} / {method}: {' '.join(command[2:])}", flush=True)
    subprocess.run(command, check=True)
    return json.loads(result_path.read_text())


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    set_backend(args.backend)
    if args.one:
        protocol, method = args.one
        result = run_one(protocol, method, args)
        path = args.work / protocol / method / "result.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(result, indent=2))
        os.replace(tmp, path)
        return
    for _protocol, (labels, _) in PROTOCOLS.items():
        if _protocol in args.protocols and not (args.data_root / labels).is_file():
            raise SystemExit(f"{args.data_root / labels} not found: pose_accuracy needs ../shared/data beside the repo")
    runs = [(p, m) for p in args.protocols for m in args.methods if f"{p}:{m}" not in args.skip]
    results = {(p, m): run_in_process(p, m, args, argv) for p, m in runs}
    metrics: dict[str, float | int | str] = {}
    rows = []
    for method in args.methods:
        prefix = PREFIX[method]
        for protocol in args.protocols:
            if (protocol, method) not in results:
                continue
            r = results[(protocol, method)]
            metrics[f"{prefix}{protocol}_mean_px"] = r["mean_px"]
            if protocol == "dlc_openfield_split50":
                metrics[f"{prefix}{protocol}_median_px"] = r["median_px"]
                metrics[f"{prefix}{protocol}_train_seconds"] = r["train_seconds"]
            rows.append(
                [
                    protocol,
                    method,
                    r["path"],
                    f"{r['n_train']}/{r['n_test']}",
                    r["mean_px"],
                    r["median_px"],
                    r["p90_px"],
                    r["missed_keypoints"],
                    r["train_seconds"],
                    r["epochs"],
                    r["peak_rss_mib"],
                ]
            )
        peaks = [r["peak_rss_mib"] for (_, m), r in results.items() if m == method]
        if peaks:
            metrics[f"{prefix}train_peak_rss_mib"] = max(peaks)
    if {("dlc_openfield_split50", "default"), ("dlc_openfield_split50", "deeplabcut")} <= set(results):
        metrics["dlc_openfield_split50_default_vs_deeplabcut_mean_px_ratio"] = (
            metrics["dlc_openfield_split50_mean_px"] / metrics["deeplabcut_dlc_openfield_split50_mean_px"]
        )
    table = format_table(
        ["protocol", "method", "path", "train/test", "mean px", "median", "p90", "missed", "train s", "epochs", "MiB"],
        rows,
    )
    lines = [f"Held-out error in full-resolution pixels (seed {args.seed}; anchors: humans 2.69 px, DLC 3 2.01 px)"]
    lines.append(table)
    for key, target in TARGETS.items():
        if key in metrics:
            lines.append(
                f"  {key}: {metrics[key]:.2f} (target <= {target:g}): {'met' if metrics[key] <= target else 'not met'}"
            )
    config = {
        "protocols": {p: PROTOCOLS[p] for p in args.protocols},
        "methods": args.methods,
        "seed": args.seed,
        "budget_minutes": {f"{p}:{m}": budget_minutes(args, p, m) for p, m in runs},
        "not_run": args.skip,
        "full_frame_scale": args.full_frame_scale,
        "batch_size": args.batch_size,
        "recipe": "grayscale, warm-up + cosine, default augmentation, inner 10 % validation, time budget",
        "deeplabcut_weights": str(args.deeplabcut_weights or "none (from scratch)"),
        "paths": {f"{p}:{m}": results[(p, m)]["path_reason"] for p, m in results},
        "anchors": ANCHORS,
        "runs": {f"{p}:{m}": {k: _finite(v) for k, v in r.items()} for (p, m), r in results.items()},
    }
    write_results("pose_accuracy", metrics, config=config, table="\n".join(lines), out_dir=args.out)


if __name__ == "__main__":
    main()
