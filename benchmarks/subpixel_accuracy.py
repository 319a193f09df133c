"""Subpixel against integer maxima on planted Gaussians, and the share of inference time spent finding peaks.

Maps are made the way training targets are (`behaviorlab.pose.targets.confidence_maps`): for keypoints at
random subpixel positions in a 192x192 image, one Gaussian of sigma 5 image px per keypoint at output
stride 1, 2, 4 or 8, plus Gaussian noise. Errors are reported in map pixels and in image pixels.

The timing part builds the default Stacked DenseNet (192x192x1, stride 4, 32 keypoints) and times its
forward pass at batch 100 with and without the SubpixelMaxima2D head (median of repeats, after warm-up).

    python benchmarks/subpixel_accuracy.py [--n-maps 400] [--repeats 5] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

IMAGE = 192
SIGMA_PX = 5.0
STRIDES = (1, 2, 4, 8)
NOISE = (0.0, 0.05, 0.1)


def planted_maps(rng: np.random.Generator, n_maps: int, stride: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    from behaviorlab.pose.targets import confidence_maps

    margin = 4 * SIGMA_PX
    truth = rng.uniform(margin, IMAGE - 1 - margin, (n_maps, 1, 2))
    maps = np.stack([confidence_maps(kp, (IMAGE, IMAGE), stride, SIGMA_PX)[0] for kp in truth])
    maps = maps + rng.normal(0.0, noise, maps.shape).astype(np.float32) if noise else maps
    return maps.astype(np.float32), truth[:, 0]


def accuracy(n_maps: int, seed: int) -> tuple[dict[str, float], list[str]]:
    import keras

    from behaviorlab.pose.peaks import find_peaks_integer, find_peaks_subpixel, to_image_coordinates

    rng = np.random.default_rng(seed)
    metrics: dict[str, float] = {}
    rows = ["stride  noise  subpixel mean/p99 (map px)  integer mean/p99 (map px)  subpixel mean (image px)"]
    for stride in STRIDES:
        for noise in NOISE:
            maps, truth = planted_maps(rng, n_maps, stride, noise)
            sub = keras.ops.convert_to_numpy(find_peaks_subpixel(maps, kernel_sigma=SIGMA_PX / stride))
            integer = keras.ops.convert_to_numpy(find_peaks_integer(maps))
            results = {}
            for name, peaks in (("subpixel", sub), ("integer", integer)):
                image_xy = keras.ops.convert_to_numpy(to_image_coordinates(peaks, stride))[:, 0, :2]
                err_px = np.linalg.norm(image_xy - truth, axis=1)
                results[name] = (err_px / stride, err_px)
            tag = f"stride{stride}_noise{noise:g}"
            for name, (err_map, err_px) in results.items():
                metrics[f"{name}_error_mean_map_px_{tag}"] = float(err_map.mean())
                metrics[f"{name}_error_p99_map_px_{tag}"] = float(np.percentile(err_map, 99))
                metrics[f"{name}_error_mean_image_px_{tag}"] = float(err_px.mean())
            s_map, s_px = results["subpixel"]
            i_map, _ = results["integer"]
            rows.append(
                f"{stride:>6}  {noise:>5g}  {s_map.mean():>12.4f} / {np.percentile(s_map, 99):<12.4f}"
                f"{i_map.mean():>12.4f} / {np.percentile(i_map, 99):<12.4f}{s_px.mean():>14.3f}"
            )
    return metrics, rows


def timing(repeats: int, batch: int) -> tuple[dict[str, float], list[str]]:
    import keras

    from behaviorlab.pose.models import build_inference_model, build_stacked_densenet

    model = build_stacked_densenet((IMAGE, IMAGE, 1), 32, output_stride=4)
    head = build_inference_model(model, output_stride=4, sigma=SIGMA_PX)
    maps_only = keras.Model(model.inputs, model.outputs[-1])
    x = np.random.default_rng(0).uniform(0, 255, (batch, IMAGE, IMAGE, 1)).astype(np.float32)
    seconds = {}
    for name, m in (("maps_only", maps_only), ("with_subpixel_peaks", head)):
        m.predict_on_batch(x)  # warm-up: compiles the graph
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            m.predict_on_batch(x)
            times.append(time.perf_counter() - start)
        seconds[name] = float(np.median(times))
    share = (seconds["with_subpixel_peaks"] - seconds["maps_only"]) / seconds["with_subpixel_peaks"]
    metrics = {
        f"stacked_densenet_192x192_batch{batch}_seconds_maps_only": seconds["maps_only"],
        f"stacked_densenet_192x192_batch{batch}_seconds_with_subpixel_peaks": seconds["with_subpixel_peaks"],
        f"peak_finding_share_of_inference_time_batch{batch}": share,
        f"stacked_densenet_192x192_batch{batch}_frames_per_second_with_peaks": batch / seconds["with_subpixel_peaks"],
    }
    rows = [
        f"Stacked DenseNet 192x192x1, stride 4, 32 maps, batch {batch}: maps only {seconds['maps_only']:.3f} s, "
        f"with subpixel peaks {seconds['with_subpixel_peaks']:.3f} s -> peak finding {100 * share:.1f} % of inference"
    ]
    return metrics, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-maps", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args()

    import keras

    acc, acc_rows = accuracy(args.n_maps, args.seed)
    tim, tim_rows = timing(args.repeats, args.batch)
    print("\n".join([*acc_rows, "", *tim_rows]))
    result = {
        "benchmark": "subpixel_accuracy",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "keras": keras.__version__,
            "backend": keras.backend.backend(),
        },
        "config": {
            "image": IMAGE,
            "sigma_image_px": SIGMA_PX,
            "strides": list(STRIDES),
            "noise_std": list(NOISE),
            "n_maps": args.n_maps,
            "seed": args.seed,
            "timing_repeats": args.repeats,
        },
        "targets": {"subpixel_error_mean_map_px_stride4": 0.1, "peak_finding_share_of_inference_time": 0.05},
        "metrics": {**acc, **tim},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / "subpixel_accuracy.json"
    tmp = target.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2))
    tmp.replace(target)
    print(f"\nwrote {target}")


if __name__ == "__main__":
    main()
