"""Subpixel peak accuracy vs integer maxima, and the share of inference time spent on peak finding.

Part 1 (accuracy): Gaussians of ``--sigma`` input pixels are planted at
random subpixel positions (seeded) with
:func:`behaviorlab.pose.targets.confidence_maps`, at output strides 1, 2, 4
and 8, with additive Gaussian noise (std as a fraction of the peak height 1).
Peaks are found with :func:`find_peaks_integer` and :func:`find_peaks_subpixel`
(kernel sigma = ``sigma / stride`` map pixels) and compared with the truth:
Euclidean error in map pixels and, through :func:`to_image_coordinates`, in
image pixels.

Part 2 (timing): a Stacked DenseNet (default hyperparameters, 192x192x1,
stride 4, 32 keypoints) is timed at batch 100 with and without the
``SubpixelMaxima2D`` head of :func:`build_inference_model`; the peak-finding
share is ``(t_with - t_without) / t_with``.  The head alone on the model's
output maps is timed as a cross-check.

Run ``python benchmarks/subpixel_accuracy.py --help``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _common import (
    DEFAULT_RESULTS_DIR,
    compile_predict,
    format_table,
    median,
    percentile,
    set_backend,
    write_results,
)

TARGET_ERROR_STRIDE4_MAP_PX = 0.1
TARGET_PEAK_SHARE = 0.05
MIN_KERNEL_SIGMA_MAP_PX = 1.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--strides", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--noise", type=float, nargs="+", default=[0.0, 0.05, 0.1], help="noise std / peak height")
    parser.add_argument("--sigma", type=float, default=5.0, help="Gaussian sigma in input-image pixels")
    parser.add_argument("--image-size", type=int, default=192, help="square input image side, pixels")
    parser.add_argument("--n-images", type=int, default=32, help="images per setting (x --n-keypoints maps)")
    parser.add_argument("--n-keypoints", type=int, default=32)
    parser.add_argument("--upsample-factor", type=int, default=100)
    parser.add_argument("--batch-size", "--batch", type=int, default=100, help="batch of the timing part")
    parser.add_argument("--repeats", type=int, default=7, help="timed repeats of the timing part")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backend", choices=["tensorflow", "jax", "torch"], default=None)
    parser.add_argument("--compile", default="auto", choices=["auto", "graph", "keras"], dest="compile_mode")
    parser.add_argument("--skip-timing", action="store_true", help="accuracy part only")
    parser.add_argument("--quick", action="store_true", help="smoke run: few maps, small batch, 2 repeats")
    parser.add_argument("--out", default=str(DEFAULT_RESULTS_DIR), help="results directory")
    args = parser.parse_args(argv)
    if args.quick:
        args.n_images, args.batch_size, args.repeats = 2, 8, 2
    return args


def noise_tag(noise: float) -> str:
    return f"noise{noise:g}"  # the key format of the first committed version (bd13772)


def plant_maps(rng: np.random.Generator, args: argparse.Namespace, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Maps ``(n_images, size/s, size/s, K)`` and true keypoints ``(n_images, K, 2)`` in image pixels."""
    from behaviorlab.pose.peaks import default_window
    from behaviorlab.pose.targets import confidence_maps

    size = args.image_size
    # keep the whole registration window inside the map
    margin = (default_window(args.sigma / stride) // 2 + 1) * stride
    if size - 2 * margin <= 0:
        raise ValueError(f"--image-size {size} is too small for sigma {args.sigma} at stride {stride}")
    truth = rng.uniform(margin, size - 1 - margin, size=(args.n_images, args.n_keypoints, 2))
    maps = np.stack([confidence_maps(kp, (size, size), stride, args.sigma)[0] for kp in truth])
    return maps, truth


def cramer_rao_mean_error(truth_map: np.ndarray, map_size: int, kernel_sigma: float, noise: float) -> float:
    """Cramer-Rao lower bound on the mean Euclidean error (map px) of any unbiased peak estimator.

    For a unit Gaussian ``f`` of ``kernel_sigma`` at ``(x0, y0)`` on the map
    grid plus white noise of std ``noise``, the Fisher information of ``x0``
    is ``sum((df/dx0)**2) / noise**2`` over the pixels (likewise ``y0``).  The
    bound's per-axis variances give the expected length of a 2-D Gaussian
    error vector, ``sqrt(pi / 2) * sqrt((var_x + var_y) / 2)``, averaged over
    the planted peaks.
    """
    if noise == 0:
        return 0.0
    grid = np.arange(map_size, dtype=np.float64)
    dx = grid[None, None, :] - truth_map.reshape(-1, 2)[:, 0, None, None]  # (n, 1, w)
    dy = grid[None, :, None] - truth_map.reshape(-1, 2)[:, 1, None, None]  # (n, h, 1)
    f = np.exp(-(dx**2 + dy**2) / (2 * kernel_sigma**2))
    info_x = ((f * dx / kernel_sigma**2) ** 2).sum(axis=(1, 2)) / noise**2
    info_y = ((f * dy / kernel_sigma**2) ** 2).sum(axis=(1, 2)) / noise**2
    return float(np.mean(np.sqrt(np.pi / 2) * np.sqrt((1 / info_x + 1 / info_y) / 2)))


def accuracy(args: argparse.Namespace, metrics: dict, rows: list) -> None:
    from keras import ops

    from behaviorlab.pose.peaks import find_peaks_integer, find_peaks_subpixel, to_image_coordinates

    for stride in args.strides:
        kernel_sigma = args.sigma / stride
        # same keypoints at every stride and noise level: only the resolution and noise change
        maps, truth = plant_maps(np.random.default_rng(args.seed), args, stride)
        truth_map = (truth - (stride - 1) / 2.0) / stride
        for noise in args.noise:
            noise_rng = np.random.default_rng([args.seed, stride, round(noise * 1e6)])
            noisy = (maps + noise_rng.normal(0.0, noise, maps.shape)).astype(np.float32) if noise else maps
            found = {
                "integer": find_peaks_integer(noisy),
                "subpixel": find_peaks_subpixel(noisy, kernel_sigma=kernel_sigma, upsample_factor=args.upsample_factor),
            }
            tag = f"stride{stride}_{noise_tag(noise)}"
            bound = cramer_rao_mean_error(truth_map, maps.shape[1], kernel_sigma, noise)
            metrics[f"cramer_rao_bound_error_mean_map_px_{tag}"] = bound
            for method, peaks in found.items():
                map_xy = np.asarray(ops.convert_to_numpy(peaks))[..., :2]
                image_xy = np.asarray(ops.convert_to_numpy(to_image_coordinates(peaks, stride)))[..., :2]
                err_map = np.linalg.norm(map_xy - truth_map, axis=-1).ravel()
                err_image = np.linalg.norm(image_xy - truth, axis=-1).ravel()
                stats = {}
                for unit, err in (("map_px", err_map), ("image_px", err_image)):
                    for stat, value in (
                        ("mean", float(err.mean())),
                        ("median", float(np.median(err))),
                        ("p99", percentile(err, 99)),
                    ):
                        metrics[f"{method}_error_{stat}_{unit}_{tag}"] = value
                        stats[(stat, unit)] = value
                rows.append(
                    [
                        stride,
                        f"{kernel_sigma:.3g}" + ("*" if kernel_sigma < MIN_KERNEL_SIGMA_MAP_PX else ""),
                        noise,
                        method,
                        stats[("mean", "map_px")],
                        stats[("median", "map_px")],
                        stats[("p99", "map_px")],
                        stats[("mean", "image_px")],
                        stats[("p99", "image_px")],
                        bound,
                    ]
                )
            if stride == 4:
                err = metrics[f"subpixel_error_mean_map_px_{tag}"]
                metrics[f"target_subpixel_error_mean_le_0.1_map_px_{tag}"] = (
                    "pass" if err <= TARGET_ERROR_STRIDE4_MAP_PX else "fail"
                )
                if noise:
                    metrics[f"subpixel_error_mean_over_cramer_rao_bound_{tag}"] = err / bound
        metrics[f"n_maps_stride{stride}"] = int(truth.shape[0] * truth.shape[1])


def timing(args: argparse.Namespace, metrics: dict) -> str:
    import keras

    from behaviorlab.pose.layers import SubpixelMaxima2D
    from behaviorlab.pose.models import build_inference_model, build_stacked_densenet

    stride, shape = 4, (192, 192, 1)
    train = build_stacked_densenet(shape, args.n_keypoints, output_stride=stride)
    without = keras.Model(train.inputs, train.outputs[-1], name="maps_only")
    with_head = build_inference_model(train, output_stride=stride, sigma=args.sigma)
    maps_in = keras.Input(tuple(train.outputs[-1].shape[1:]), name="maps")
    head_layer = with_head.get_layer("subpixel_maxima")
    head = keras.Model(maps_in, SubpixelMaxima2D.from_config(head_layer.get_config())(maps_in), name="head_only")

    rng = np.random.default_rng(args.seed)
    images = rng.integers(0, 256, size=(args.batch_size, *shape)).astype(np.float32)
    predict_without = compile_predict(without, args.compile_mode)
    predict_with = compile_predict(with_head, args.compile_mode)
    predict_head = compile_predict(head, args.compile_mode)
    maps = predict_without(images)  # warm-up of the backbone, and input of the head-only timing
    predict_with(images)
    predict_head(maps)

    # interleave the repeats so that load changes on a shared machine hit both variants alike
    t_without, t_with, t_head = [], [], []
    for _ in range(args.repeats):
        for fn, x, sink in ((predict_without, images, t_without), (predict_with, images, t_with)):
            start = time.perf_counter()
            fn(x)
            sink.append(time.perf_counter() - start)
        start = time.perf_counter()
        predict_head(maps)
        t_head.append(time.perf_counter() - start)
    med_without, med_with, med_head = median(t_without), median(t_with), median(t_head)
    share = (med_with - med_without) / med_with
    b = args.batch_size
    tag = f"stacked_densenet_192x192_batch{b}"
    metrics[f"{tag}_seconds_maps_only"] = med_without
    metrics[f"{tag}_seconds_with_subpixel_peaks"] = med_with
    metrics[f"{tag}_frames_per_second_with_peaks"] = b / med_with
    metrics[f"peak_finding_share_of_inference_time_batch{b}"] = share
    metrics[f"{tag}_seconds_subpixel_head_alone"] = med_head
    metrics[f"peak_finding_head_alone_share_of_inference_time_batch{b}"] = med_head / med_with
    metrics[f"target_peak_finding_share_le_5pct_batch{b}"] = "pass" if share <= TARGET_PEAK_SHARE else "fail"
    metrics["timing_repeats"] = len(t_with)
    rows = [
        ["forward without SubpixelMaxima2D", med_without, min(t_without), max(t_without)],
        ["forward with SubpixelMaxima2D", med_with, min(t_with), max(t_with)],
        ["SubpixelMaxima2D alone on maps", med_head, min(t_head), max(t_head)],
    ]
    table = format_table([f"Stacked DenseNet, batch {args.batch_size}", "median s", "min s", "max s"], rows)
    return (
        f"{table}\npeak-finding share (t_with - t_without) / t_with = {share:.2%} "
        f"(target <= {TARGET_PEAK_SHARE:.0%}); head alone / t_with = {med_head / med_with:.2%}"
    )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    set_backend(args.backend)
    import keras

    start = time.perf_counter()
    metrics: dict[str, float | int | str] = {}
    rows: list = []
    accuracy(args, metrics, rows)
    table = format_table(
        ["stride", "kernel_sigma", "noise", "method", "mean", "median", "p99", "mean_img", "p99_img", "CRLB_mean"],
        rows,
    )
    table = (
        f"Peak error (Euclidean) in map px (mean/median/p99) and image px (mean_img/p99_img); "
        f"sigma {args.sigma} image px; * = kernel sigma < {MIN_KERNEL_SIGMA_MAP_PX} map px "
        f"(below the usable minimum); CRLB_mean = Cramer-Rao lower bound on the mean error of any "
        f"unbiased estimator, map px\n{table}\n"
        f"target: subpixel mean error <= {TARGET_ERROR_STRIDE4_MAP_PX} map px at stride 4"
    )
    if not args.skip_timing:
        table += "\n\n" + timing(args, metrics)
    config = {
        "strides": args.strides,
        "noise_std_fraction_of_peak": args.noise,
        "sigma_image_px": args.sigma,
        "kernel_sigma_map_px": {str(s): args.sigma / s for s in args.strides},
        "min_usable_kernel_sigma_map_px": MIN_KERNEL_SIGMA_MAP_PX,
        "image_size": args.image_size,
        "n_images": args.n_images,
        "n_keypoints": args.n_keypoints,
        "upsample_factor": args.upsample_factor,
        "seed": args.seed,
        "timing": None
        if args.skip_timing
        else {
            "model": "stacked_densenet (default hyperparameters)",
            "input_shape": [192, 192, 1],
            "output_stride": 4,
            "batch_size": args.batch_size,
            "repeats": args.repeats,
            "compile": args.compile_mode,
            "keras_backend": keras.backend.backend(),
            "warmup_calls": 1,
            "statistic": "median",
        },
        "quick": args.quick,
        "wall_time_s": round(time.perf_counter() - start, 1),
    }
    write_results("subpixel_accuracy", metrics, config=config, table=table, out_dir=args.out)


if __name__ == "__main__":
    main()
