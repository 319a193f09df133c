"""From an mp4 on disk to saved poses, against model-only throughput on the same frames; and batch-1 latency.

For each video, a Stacked DenseNet (default hyperparameters, random weights,
input = the video's frame size, grayscale) is wrapped as a
:class:`~behaviorlab.pose.predict.PoseModel` and timed two ways on the same
``--n-frames`` frames with the same batch size:

- **end to end**: :func:`behaviorlab.pose.inference.predict_video` with an
  output file: decoding in the background thread, preprocessing, inference,
  subpixel peaks, chunk checkpoints and the final netCDF;
- **model only**: the compiled inference model on frames already decoded and
  preprocessed in memory.

The ratio end-to-end / model-only is the share of the model's speed that
reaches the user (target >= 80 %).  Each is timed ``--repeats`` times after a
warm-up, interleaved; the statistic is the median.

The paths (issue 21), on dlc-openfield's 640x480 video, end to end from the
mp4 to a written pose file with the batch size each predicting function
chooses by default, the median of ``--repeats`` runs after a warm-up:

- **crop** (``dlc_openfield_end_to_end_fps``): the model ``behaviorlab train``
  made on dlc-openfield along the crop path (``--crop-model``, by default the
  one ``pose_accuracy`` trained on the 50 % split, so its accuracy is that
  benchmark's): a centroid model on the frame shrunk to 1/3, the pose model
  on a 160 px box, through :func:`behaviorlab.pose.topdown.predict_video_topdown`;
- **full frame**: Stacked DenseNet with the same settings on whole 640 x 480
  frames (``--path full-frame`` at full resolution), through
  :func:`behaviorlab.pose.inference.predict_video`;
- **DeepLabCut**: DeepLabCut's ResNet-50 (stride 8) on whole frames, the same way.

The two full-frame models have random weights: their speed does not depend
on them.  ``crop_vs_full_frame_speedup`` and ``crop_vs_deeplabcut_speedup``
are the ratios of frames per second.

Batch-1 latency: :class:`~behaviorlab.pose.inference.RealtimePredictor` on
192x192 frames (Stacked DenseNet, default hyperparameters), p50 and p99 over
``--latency-calls`` calls.

Run ``python benchmarks/video_throughput.py --help``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import DEFAULT_RESULTS_DIR, format_table, median, set_backend, write_results

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
OPENFIELD_VIDEO = "dlc-openfield/videos/m3v1mp4.mp4"
TARGET_SHARE = 0.8
TARGET_FPS = 60.0
CROP_MODEL = Path("benchmarks/.work/pose_accuracy/dlc_openfield_split50/default")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-frames", type=int, default=None, help="frames per video (300)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per mode (3)")
    parser.add_argument("--latency-calls", type=int, default=None, help="batch-1 calls (200)")
    parser.add_argument("--data-root", type=Path, default=SHARED)
    parser.add_argument("--crop-model", type=Path, default=CROP_MODEL, help="a crop-path model of dlc-openfield")
    parser.add_argument("--path-frames", type=int, default=None, help="frames per path run (900)")
    parser.add_argument("--backend", choices=["tensorflow", "jax", "torch"], default=None)
    parser.add_argument("--quick", action="store_true", help="smoke run: 48 frames, 1 repeat")
    parser.add_argument("--out", default=str(DEFAULT_RESULTS_DIR), help="results directory")
    args = parser.parse_args(argv)
    defaults = {"n_frames": 48, "repeats": 1, "latency_calls": 20, "path_frames": 64} if args.quick else {}
    defaults = {"n_frames": 300, "repeats": 3, "latency_calls": 200, "path_frames": 900, **defaults}
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def make_model(height: int, width: int, n_keypoints: int = 8, model: str = "stacked_densenet"):
    """A random-weight PoseModel (Stacked DenseNet or DeepLabCut) for ``height x width`` grayscale frames."""
    from behaviorlab.pose.data import input_multiple, padded_input_shape
    from behaviorlab.pose.models import MODEL_BUILDERS
    from behaviorlab.pose.predict import PoseModel
    from behaviorlab.schema import Skeleton

    stride = 8 if model == "deeplabcut" else 4
    multiple = input_multiple(model, {}, stride, np.array([height, width, 1]))
    shape = padded_input_shape([(height, width, 1)], multiple)
    net = MODEL_BUILDERS[model](shape, n_keypoints, output_stride=stride)
    config = {
        "model": model,
        "skeleton": Skeleton(keypoints=tuple(f"k{i}" for i in range(n_keypoints))).to_dict(),
        "input_shape": list(shape),
        "channels": 1,
        "grayscale": True,
        "output_stride": stride,
        "sigma": max(5.0, float(stride)),
    }
    return PoseModel(net, config)


def time_paths(video: Path, args: argparse.Namespace, metrics: dict) -> str:
    """End-to-end frames/s of the crop path, the full frame and DeepLabCut on ``video``; the table's text."""
    import inspect

    from behaviorlab.io.video import VideoReader
    from behaviorlab.pose.inference import predict_video
    from behaviorlab.pose.topdown import TopDownModel, predict_video_topdown

    if not (args.crop_model / "topdown_config.json").is_file():
        raise SystemExit(f"{args.crop_model} holds no crop-path model: run benchmarks/pose_accuracy.py first")
    with VideoReader(video) as reader:
        height, width, n = reader.height, reader.width, min(args.path_frames, len(reader))
    crop = TopDownModel.load(args.crop_model)
    k = crop.skeleton.n_keypoints
    runs = {
        "crop": (predict_video_topdown, crop),
        "full_frame": (predict_video, make_model(height, width, k)),
        "deeplabcut": (predict_video, make_model(height, width, k, "deeplabcut")),
    }
    fps, rows = {}, []
    with tempfile.TemporaryDirectory() as tmp_name:
        for name, (function, model) in runs.items():
            batch = inspect.signature(function).parameters["batch_size"].default
            target = Path(tmp_name) / f"{name}.nc"
            function(model, video, target, stop=min(n, 2 * batch))  # warm-up: tracing, first decode
            times = []
            for _ in range(args.repeats):
                target.unlink(missing_ok=True)
                start = time.perf_counter()
                function(model, video, target, stop=n)
                times.append(time.perf_counter() - start)
            fps[name] = n / median(times)
            shapes = (
                f"{crop.centroid.input_shape[0]}x{crop.centroid.input_shape[1]} + {crop.crop_size}x{crop.crop_size}"
                if name == "crop"
                else "x".join(str(d) for d in model.input_shape[:2])
            )
            rows.append([name, shapes, batch, n, fps[name]])
    metrics["dlc_openfield_end_to_end_fps"] = fps["crop"]
    metrics["full_frame_dlc_openfield_end_to_end_fps"] = fps["full_frame"]
    metrics["deeplabcut_dlc_openfield_end_to_end_fps"] = fps["deeplabcut"]
    metrics["crop_vs_full_frame_speedup"] = fps["crop"] / fps["full_frame"]
    metrics["crop_vs_deeplabcut_speedup"] = fps["crop"] / fps["deeplabcut"]
    table = format_table(["path", "network input", "batch", "frames", "end-to-end fps"], rows)
    verdict = "met" if fps["crop"] >= TARGET_FPS else "not met"
    return (
        f"dlc-openfield {width}x{height}, mp4 -> pose file\n{table}\n"
        f"  dlc_openfield_end_to_end_fps: {fps['crop']:.1f} (target >= {TARGET_FPS:g}): {verdict}; "
        f"crop / full frame {fps['crop'] / fps['full_frame']:.2f}x, "
        f"crop / DeepLabCut {fps['crop'] / fps['deeplabcut']:.2f}x"
    )


def generated_video(folder: Path, n_frames: int) -> Path:
    """A seeded synthetic mouse session (behaviorlab.synthetic.sample), 256x256 at 30 fps."""
    from behaviorlab.synthetic.sample import write_session
    from behaviorlab.synthetic.simulate import SyntheticConfig

    config = SyntheticConfig(duration_s=n_frames / 30.0 + 1, seed=7)
    return write_session(folder, "generated", config)["video"]


def time_video(name: str, video: Path, args: argparse.Namespace, metrics: dict, rows: list) -> None:
    from behaviorlab.io.video import VideoReader
    from behaviorlab.pose.backend import compiled_predict
    from behaviorlab.pose.inference import predict_video

    with VideoReader(video, grayscale=True) as reader:
        n = min(args.n_frames, len(reader))
        frames = reader[:n]
        height, width = reader.height, reader.width
    model = make_model(height, width)
    predict = compiled_predict(model.inference_model)
    b = args.batch_size
    batches = []
    for i in range(0, n, b):
        images = model.preprocess(frames[i : i + b])
        if len(images) < b:
            images = np.concatenate([images, np.zeros((b - len(images), *images.shape[1:]), images.dtype)])
        batches.append(images)

    def model_only() -> None:
        for images in batches:
            predict(images)

    def end_to_end(tmp: Path) -> None:
        target = tmp / f"{name}.nc"
        target.unlink(missing_ok=True)
        predict_video(model, video, target, batch_size=b, stop=n)

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        model_only()
        end_to_end(tmp)  # warm-up of both paths
        t_model, t_e2e = [], []
        for _ in range(args.repeats):
            start = time.perf_counter()
            model_only()
            t_model.append(time.perf_counter() - start)
            start = time.perf_counter()
            end_to_end(tmp)
            t_e2e.append(time.perf_counter() - start)
    fps_model, fps_e2e = n / median(t_model), n / median(t_e2e)
    key = name.replace("-", "_")
    metrics[f"{key}_frames"] = n
    metrics[f"{key}_frame_height_width"] = f"{height}x{width}"
    metrics[f"{key}_model_input_height_width"] = "x".join(str(d) for d in model.input_shape[:2])
    metrics[f"{key}_model_only_frames_per_second_batch{b}"] = fps_model
    metrics[f"{key}_end_to_end_frames_per_second_batch{b}"] = fps_e2e
    metrics[f"{key}_end_to_end_share_of_model_only_throughput"] = fps_e2e / fps_model
    metrics[f"target_{key}_end_to_end_ge_80pct_of_model_only"] = (
        "pass" if fps_e2e >= TARGET_SHARE * fps_model else "fail"
    )
    rows.append([name, f"{height}x{width}", n, b, fps_model, fps_e2e, fps_e2e / fps_model])


def latency(args: argparse.Namespace, metrics: dict) -> str:
    from behaviorlab.pose.inference import RealtimePredictor

    model = make_model(192, 192)
    predictor = RealtimePredictor(model, warmup=10)
    frame = np.random.default_rng(0).integers(0, 256, (192, 192, 1), dtype=np.uint8)
    for _ in range(args.latency_calls):
        predictor(frame)
    stats = predictor.latency_ms((50, 99))
    metrics["stacked_densenet_192x192_batch1_latency_p50_ms"] = stats["p50"]
    metrics["stacked_densenet_192x192_batch1_latency_p99_ms"] = stats["p99"]
    metrics["stacked_densenet_192x192_batch1_latency_calls"] = stats["n"]
    return (
        f"batch-1 latency, Stacked DenseNet 192x192 (RealtimePredictor, {stats['n']} calls): "
        f"p50 {stats['p50']:.1f} ms, p99 {stats['p99']:.1f} ms"
    )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    set_backend(args.backend)
    import keras

    start = time.perf_counter()
    metrics: dict[str, float | int | str] = {}
    rows: list = []
    openfield = args.data_root / OPENFIELD_VIDEO
    skipped = []
    paths_text = ""
    if openfield.is_file():
        paths_text = time_paths(openfield, args, metrics)
        time_video("dlc-openfield", openfield, args, metrics, rows)
    else:
        skipped.append(f"{openfield} not found: ../shared/data is missing, dlc-openfield skipped")
    with tempfile.TemporaryDirectory() as tmp:
        time_video("generated", generated_video(Path(tmp), args.n_frames), args, metrics, rows)
    table = format_table(
        ["video", "size", "frames", "batch", "model-only fps", "end-to-end fps", "end-to-end / model"], rows
    )
    table += f"\ntarget: end to end >= {TARGET_SHARE:.0%} of model-only\n" + latency(args, metrics)
    if paths_text:
        table = paths_text + "\n\n" + table
    if skipped:
        table += "\n" + "\n".join(skipped)
    config = {
        "model": "stacked_densenet defaults, random weights, grayscale, 8 keypoints, stride 4",
        "batch_size": args.batch_size,
        "n_frames": args.n_frames,
        "repeats": args.repeats,
        "statistic": "median",
        "end_to_end": "predict_video with an output file (background decoding, chunk checkpoints, netCDF)",
        "paths": {
            "crop_model": str(args.crop_model),
            "full_frame": "stacked_densenet defaults, random weights, 640x480 grayscale",
            "deeplabcut": "ResNet-50 stride 8, random weights, 640x480 grayscale",
            "frames": args.path_frames,
            "batch": "each function's default (predict_video_topdown 16, predict_video 32)",
        },
        "keras_backend": keras.backend.backend(),
        "quick": args.quick,
        "wall_time_s": round(time.perf_counter() - start, 1),
    }
    write_results("video_throughput", metrics, config=config, table=table, out_dir=args.out)


if __name__ == "__main__":
    main()
