"""Inference speed of the four pose models, peak finding included, side by side with DeepLabCut-ResNet50.

For each image size and model, the inference model
(:func:`behaviorlab.pose.models.build_inference_model`: images -> subpixel
keypoints) is compiled once (:func:`_common.compile_predict`), warmed up with
one untimed call per batch shape, and timed:

- batch 1 (real time): median and p99 latency per frame in ms, and frames/s = 1 / median latency;
- batch 100 (offline): frames/s = 100 / median seconds per batch of 100.

Timing a configuration stops after ``--repeats`` calls or once ``--budget-s``
seconds of timed calls are spent, whichever comes first, but always after at
least one call; the number of timed calls is reported (slow models at 480x640
batch 100 get 1-2 timed batches).  A batch whose estimated activation memory
exceeds ``--max-activation-gib`` is run as equal micro-batches inside each
timed call (reported; frames/s still counts all frames of the batch).

Run ``python benchmarks/pose_speed.py --help``.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import time

import numpy as np
from _common import (
    DEFAULT_RESULTS_DIR,
    compile_predict,
    format_table,
    median,
    percentile,
    set_backend,
    time_calls,
    write_results,
)

MODELS = ("stacked_densenet", "stacked_hourglass", "leap", "deeplabcut")
REFERENCE = "deeplabcut"
TARGET_SPEEDUP = 2.5  # Stacked DenseNet vs DeepLabCut offline throughput
TARGET_PARAM_RATIO = 0.07  # Stacked DenseNet parameters / DeepLabCut parameters
# peak memory of a forward pass ~ this many times its largest activation (input + output + a concat)
ACTIVATION_OVERHEAD = 3


def parse_size(text: str) -> tuple[int, int, int]:
    parts = [int(p) for p in text.lower().split("x")]
    if len(parts) == 2:
        parts.append(1)
    if len(parts) != 3 or min(parts) < 1:
        raise argparse.ArgumentTypeError(f"size must be HxW or HxWxC, e.g. 192x192, got {text!r}")
    return tuple(parts)


def size_tag(shape: tuple[int, int, int]) -> str:
    return f"{shape[0]}x{shape[1]}" + (f"x{shape[2]}" if shape[2] != 1 else "")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=parse_size, nargs="+", default=None, help="HxW[xC]; default 192x192 480x640")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=None, help="default 1 100")
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--repeats", type=int, default=None, help="most timed calls per config (30)")
    parser.add_argument("--budget-s", type=float, default=None, help="stop timing a config after this many s (30)")
    parser.add_argument("--n-keypoints", type=int, default=32)
    parser.add_argument("--sigma", type=float, default=5.0, help="target sigma, image px (at least the stride)")
    parser.add_argument("--max-activation-gib", type=float, default=8.0, help="split larger batches")
    parser.add_argument("--backend", choices=["tensorflow", "jax", "torch"], default=None)
    parser.add_argument("--compile", default="auto", choices=["auto", "graph", "keras"], dest="compile_mode")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="smoke run: small images, batches 1 and 4, 2 repeats")
    parser.add_argument("--out", default=str(DEFAULT_RESULTS_DIR), help="results directory")
    args = parser.parse_args(argv)
    quick = {"sizes": [(64, 64, 1), (96, 128, 1)], "batch_sizes": [1, 4], "repeats": 2, "budget_s": 5.0}
    full = {"sizes": [(192, 192, 1), (480, 640, 1)], "batch_sizes": [1, 100], "repeats": 30, "budget_s": 30.0}
    for key, value in (quick if args.quick else full).items():
        if getattr(args, key) is None:  # options given on the command line win over --quick
            setattr(args, key, value)
    if min(args.batch_sizes) < 1 or args.repeats < 1:
        parser.error("--batch-sizes and --repeats must be positive")
    return args


def largest_activation_bytes(model) -> int:
    """Bytes per frame of the largest layer output of ``model`` (float32), nested models included."""
    largest = 0
    for layer in model._flatten_layers(include_self=False):
        try:
            shapes = layer.output if isinstance(layer.output, list | tuple) else [layer.output]
        except (AttributeError, ValueError):
            continue
        for tensor in shapes:
            dims = tensor.shape[1:]
            if all(d is not None for d in dims):
                largest = max(largest, math.prod(dims) * 4)
    return largest


def build(name: str, shape: tuple[int, int, int], args: argparse.Namespace):
    from behaviorlab.pose.models import MODEL_BUILDERS, build_inference_model, count_parameters

    train = MODEL_BUILDERS[name](shape, args.n_keypoints)
    stride = shape[0] // train.outputs[-1].shape[1]
    sigma = max(args.sigma, float(stride))  # the subpixel kernel needs >= ~1 map px
    model = build_inference_model(train, output_stride=stride, sigma=sigma)
    return model, count_parameters(train), stride, sigma


def time_model(model, images: np.ndarray, batch: int, args: argparse.Namespace, per_frame_bytes: int):
    predict = compile_predict(model, args.compile_mode)
    limit = args.max_activation_gib * 2**30
    micro = max(1, min(batch, int(limit // max(1, ACTIVATION_OVERHEAD * per_frame_bytes))))
    n_chunks = math.ceil(batch / micro)
    chunks = np.array_split(images[:batch], n_chunks)  # equal sizes (at most two distinct shapes)

    def call() -> None:
        for chunk in chunks:
            predict(chunk)

    times, first = time_calls(call, repeats=args.repeats, warmup=1, budget_s=args.budget_s)
    return times, first, (len(chunks[0]) if n_chunks > 1 else batch)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    set_backend(args.backend)
    import keras

    start = time.perf_counter()
    metrics: dict[str, float | int | str] = {}
    rows: list = []
    model_config: dict[str, dict] = {}
    rng = np.random.default_rng(args.seed)
    for shape in args.sizes:
        tag = size_tag(shape)
        images = rng.integers(0, 256, size=(max(args.batch_sizes), *shape)).astype(np.float32)
        for name in args.models:
            model, params, stride, sigma = build(name, shape, args)
            per_frame = largest_activation_bytes(model)
            model_config[name] = {
                "output_stride": stride,
                "sigma_image_px": sigma,
                "kernel_sigma_map_px": sigma / stride,
            }
            metrics[f"{name}_params_{tag}"] = params
            for batch in args.batch_sizes:
                print(f"timing {name} {tag} batch {batch} ...", flush=True)
                times, first, micro = time_model(model, images, batch, args, per_frame)
                med = median(times)
                key = f"batch{batch}_{tag}"
                metrics[f"{name}_frames_per_second_{key}"] = batch / med
                metrics[f"{name}_seconds_per_batch_median_{key}"] = med
                if batch == 1:
                    metrics[f"{name}_latency_median_ms_{key}"] = 1e3 * med
                    metrics[f"{name}_latency_p99_ms_{key}"] = 1e3 * percentile(times, 99)
                metrics[f"{name}_timed_calls_{key}"] = len(times)
                metrics[f"{name}_first_call_seconds_{key}"] = first
                if micro != batch:
                    metrics[f"{name}_microbatch_{key}"] = micro
                rows.append(
                    [
                        tag,
                        name,
                        params,
                        batch,
                        batch / med,
                        1e3 * med / batch,
                        1e3 * percentile(times, 99) / batch,
                        len(times),
                        micro,
                    ]
                )
            del model
            keras.backend.clear_session()
            gc.collect()

    # ratios to DeepLabCut, side by side
    ratio_rows = []
    if REFERENCE in args.models:
        for shape in args.sizes:
            tag = size_tag(shape)
            ref_params = metrics[f"{REFERENCE}_params_{tag}"]
            for name in args.models:
                if name == REFERENCE:
                    continue
                param_ratio = metrics[f"{name}_params_{tag}"] / ref_params
                metrics[f"{name}_vs_{REFERENCE}_param_ratio_{tag}"] = param_ratio
                speedups = []
                for batch in args.batch_sizes:
                    key = f"batch{batch}_{tag}"
                    speedup = (
                        metrics[f"{name}_frames_per_second_{key}"] / metrics[f"{REFERENCE}_frames_per_second_{key}"]
                    )
                    metrics[f"{name}_vs_{REFERENCE}_speedup_{key}"] = speedup
                    speedups.append(speedup)
                ratio_rows.append([tag, name, param_ratio, *speedups])
            if "stacked_densenet" in args.models:
                ratio = metrics[f"stacked_densenet_vs_{REFERENCE}_param_ratio_{tag}"]
                metrics[f"target_stacked_densenet_vs_{REFERENCE}_param_ratio_le_{TARGET_PARAM_RATIO}_{tag}"] = (
                    "pass" if ratio <= TARGET_PARAM_RATIO else "fail"
                )
                offline = max(args.batch_sizes)
                if offline > 1:
                    key = f"batch{offline}_{tag}"
                    speedup = metrics[f"stacked_densenet_vs_{REFERENCE}_speedup_{key}"]
                    metrics[f"target_stacked_densenet_vs_{REFERENCE}_speedup_ge_{TARGET_SPEEDUP}_{key}"] = (
                        "pass" if speedup >= TARGET_SPEEDUP else "fail"
                    )

    table = format_table(
        ["size", "model", "params", "batch", "frames/s", "ms/frame", "p99 ms/frame", "timed calls", "microbatch"],
        rows,
    )
    if ratio_rows:
        table += "\n\nRatios to DeepLabCut-ResNet50 (speedup = frames/s ratio)\n" + format_table(
            ["size", "model", "param ratio", *(f"speedup b{b}" for b in args.batch_sizes)], ratio_rows
        )
        table += (
            ""
            if "stacked_densenet" not in args.models
            else (
                f"\ntargets: stacked_densenet speedup >= {TARGET_SPEEDUP}x at the largest batch, "
                f"param ratio <= {TARGET_PARAM_RATIO:.0%}"
            )
        )
    targets = {k: v for k, v in metrics.items() if k.startswith("target_")}
    if targets:
        table += "\n" + "\n".join(f"  {k}: {v}" for k, v in targets.items())
    config = {
        "sizes": [list(s) for s in args.sizes],
        "batch_sizes": args.batch_sizes,
        "models": args.models,
        "model_settings": model_config,
        "builder_hyperparameters": "defaults of behaviorlab.pose.models (random weights)",
        "n_keypoints": args.n_keypoints,
        "peak_finding": "included: build_inference_model (SubpixelMaxima2D, upsample_factor 100)",
        "repeats_max": args.repeats,
        "budget_s_per_config": args.budget_s,
        "warmup_calls": 1,
        "statistic": "median (p99 over the timed calls for latency)",
        "max_activation_gib": args.max_activation_gib,
        "compile": args.compile_mode,
        "keras_backend": keras.backend.backend(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "quick": args.quick,
        "wall_time_s": round(time.perf_counter() - start, 1),
    }
    write_results("pose_speed", metrics, config=config, table=table, out_dir=args.out)


if __name__ == "__main__":
    main()
