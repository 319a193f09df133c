"""Long recordings (issue 25): the size of an hour of features on disk, written the old way and the new way.

``--minutes`` (60) of one synthetic animal at 30 fps
(:func:`behaviorlab.synthetic.simulate.simulate_poses`, seed ``--seed``) go through
:func:`behaviorlab.features.pipeline.compute_session_features` (cleaning,
features, 25-frequency Morlet spectrogram of the postural features) and the
result is saved as ``behaviorlab run`` saves it (``features``,
``spectrogram``, ``spectrogram_total_amplitude``): once uncompressed (the
format before this change) and once with
:func:`behaviorlab.io.save.save_netcdf` (gzip level 1, shuffled, chunks of
about 4 MiB along time).  The compressed file is read back and compared with
the Dataset in memory (the script raises when they differ).

Metric ``features_1h_file_mib`` (target <= 150) is measured for ``--minutes``
60.

Video: a ``--video-minutes`` (20) 640 x 480 video from
:func:`behaviorlab.synthetic.sample.write_long_video` (a 20 s rendered cycle,
repeated; kept in ``--work-dir``) goes through
:func:`behaviorlab.pose.inference.predict_video` with a small Stacked DenseNet
(growth rate 8, one stack, output stride 4, 10 keypoints, random weights
from seed 0: what is measured is the streaming path, not accuracy) in a fresh
process, writing its chunk checkpoints as ``behaviorlab predict`` does.  A
thread samples the process's RSS every 0.5 s beside the number of frames the
finished chunks hold; ``video_rss_growth_share`` is the last sample before
the prediction returned over the RSS once 10 % of the frames were done,
minus 1 (target <= 0.05), and ``video_peak_rss_mib`` the process's peak
(``VmHWM``, target < 2,000).  With 60 minutes
the keys are ``video_1h_*`` as the issue names them; a shorter run says its
length in ``video_minutes``.

Not measured here yet: ten hours of poses through the whole pipeline (the
spectrogram of 10 h alone would be 11 GB in memory: it needs the chunked
path of the issue).  ``store_1000_sessions_mib`` and
``store_add_seconds_at_10000_vs_100_ratio`` come from ``benchmarks/store_query.py``.

Run ``python benchmarks/long_recordings.py --help``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import DEFAULT_RESULTS_DIR, format_table, write_results

TARGET_FEATURES_1H_MIB = 150.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--video-minutes", type=float, default=20.0, help="0: skip the video part")
    parser.add_argument("--work-dir", default="/tmp/behaviorlab-long-recordings", help="the generated video is kept")
    parser.add_argument("--out", default=str(DEFAULT_RESULTS_DIR))
    return parser.parse_args(argv)


def _rss_mib(field: str = "VmRSS") -> float:
    """This process's resident memory (``VmRSS``) or its peak (``VmHWM``: unlike ``ru_maxrss``, not inherited)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _predict_in_child(video: str, out: str, queue: mp.Queue) -> None:
    """Predict ``video`` with a small random-weight model, sampling RSS against the frames done; report to ``queue``."""
    import threading

    import keras

    from behaviorlab.pose.inference import partial_dir, predict_video
    from behaviorlab.pose.models import build_stacked_densenet
    from behaviorlab.pose.predict import PoseModel
    from behaviorlab.schema import Skeleton

    keras.utils.set_random_seed(0)
    names = tuple(f"k{i}" for i in range(10))
    net = build_stacked_densenet((480, 640, 1), len(names), n_stacks=1, growth_rate=8, output_stride=4)
    config = {
        "model": "stacked_densenet",
        "skeleton": Skeleton(names).to_dict(),
        "input_shape": [480, 640, 1],
        "channels": 1,
        "grayscale": True,
        "output_stride": 4,
        "sigma": 3.0,
    }
    model = PoseModel(net, config)
    samples: list[tuple[float, int, float]] = []
    done = threading.Event()
    folder = partial_dir(out)

    def sample() -> None:
        start = time.perf_counter()
        while not done.is_set():
            # each finished chunk holds 992 frames (1,000 rounded to a multiple of the batch of 16)
            frames = 992 * len(list(folder.glob("chunk_*.npz")))
            samples.append((time.perf_counter() - start, frames, _rss_mib()))
            done.wait(0.5)

    thread = threading.Thread(target=sample, daemon=True)
    rss_before = _rss_mib()
    thread.start()
    started = time.perf_counter()
    ds = predict_video(model, video, out, batch_size=16)
    seconds = time.perf_counter() - started
    done.set()
    thread.join()
    peak = _rss_mib("VmHWM")  # ru_maxrss would carry the parent's peak over fork and exec
    queue.put(
        {
            "samples": samples,
            "seconds": seconds,
            "frames": int(ds.sizes["time"]),
            "peak": peak,
            "rss_before": rss_before,
            "rss_end": _rss_mib(),
        }
    )


def video_metrics(args: argparse.Namespace) -> dict[str, float | int | str]:
    """Write (or reuse) the long video and measure streaming prediction on it in a fresh process."""
    from behaviorlab.synthetic.sample import write_long_video

    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    video = work / f"long_{args.video_minutes:g}min_640x480.mp4"
    started = time.perf_counter()
    if not video.is_file():
        write_long_video(video, args.video_minutes, seed=args.seed)
    write_s = time.perf_counter() - started
    out = work / "long.poses.nc"
    out.unlink(missing_ok=True)
    queue: mp.Queue = mp.get_context("spawn").Queue()
    child = mp.get_context("spawn").Process(target=_predict_in_child, args=(str(video), str(out), queue))
    child.start()
    report = queue.get()
    child.join()
    samples = [(t, f, r) for t, f, r in report["samples"] if np.isfinite(r)]
    tenth = next((r for _, f, r in samples if f >= 0.1 * report["frames"]), samples[0][2])
    last = samples[-1][2]  # the last sample while predicting (the RSS once it returned is reported too)
    growth = last / tenth - 1.0
    prefix = "video_1h" if abs(args.video_minutes - 60.0) < 1e-9 else "video"
    curve = " ".join(f"{f}:{r:.0f}" for _, f, r in samples[:: max(1, len(samples) // 12)])
    return {
        "video_minutes": args.video_minutes,
        "video_frames": report["frames"],
        "video_file_mib": round(video.stat().st_size / 2**20, 1),
        "video_write_s": round(write_s, 1),
        "video_predict_s": round(report["seconds"], 1),
        "video_predict_fps": round(report["frames"] / report["seconds"], 1),
        "video_rss_after_model_mib": round(report["rss_before"], 0),
        "video_rss_at_10pct_frames_mib": round(tenth, 0),
        "video_rss_end_mib": round(last, 0),
        "video_rss_after_return_mib": round(report["rss_end"], 0),
        f"{prefix}_rss_growth_share": round(growth, 4),
        f"{prefix}_peak_rss_mib": round(report["peak"], 0),
        "video_rss_curve_frames_to_mib": curve,
    }


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    import xarray as xr

    from behaviorlab.features.pipeline import compute_session_features
    from behaviorlab.io.load import load_netcdf
    from behaviorlab.io.save import save_netcdf
    from behaviorlab.synthetic.simulate import SyntheticConfig, simulate_poses

    started = time.perf_counter()
    poses, _ = simulate_poses(SyntheticConfig(duration_s=60.0 * args.minutes, seed=args.seed))
    simulate_s = time.perf_counter() - started
    started = time.perf_counter()
    result = compute_session_features(poses)
    features_s = time.perf_counter() - started
    keep = [v for v in ("features", "spectrogram", "spectrogram_total_amplitude") if v in result]
    ds = result[keep]
    with tempfile.TemporaryDirectory(prefix="long_recordings_") as tmp:
        plain = Path(tmp) / "plain.nc"
        started = time.perf_counter()
        ds.to_netcdf(plain, engine="h5netcdf")  # how a features file was written before: no filters
        plain_s = time.perf_counter() - started
        packed = Path(tmp) / "features.nc"
        started = time.perf_counter()
        save_netcdf(ds, packed)
        packed_s = time.perf_counter() - started
        started = time.perf_counter()
        back = load_netcdf(packed)
        read_s = time.perf_counter() - started
        xr.testing.assert_equal(back[keep], ds)
        plain_mib, packed_mib = plain.stat().st_size / 2**20, packed.stat().st_size / 2**20
    hours = args.minutes / 60.0
    metrics = {
        "minutes": args.minutes,
        "frames": int(ds.sizes["time"]),
        "spectrogram_shape": " x ".join(f"{d} {n}" for d, n in ds["spectrogram"].sizes.items()),
        "simulate_s": round(simulate_s, 1),
        "features_and_spectrogram_s": round(features_s, 1),
        "features_file_mib_uncompressed": round(plain_mib, 1),
        "features_file_mib": round(packed_mib, 1),
        "write_s_uncompressed": round(plain_s, 1),
        "write_s": round(packed_s, 1),
        "read_s": round(read_s, 1),
        "compression_ratio": round(plain_mib / packed_mib, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
    if args.video_minutes > 0:
        metrics.update(video_metrics(args))
    if abs(hours - 1.0) < 1e-9:
        metrics["features_1h_file_mib"] = round(packed_mib, 1)
        metrics["features_1h_file_mib_target"] = TARGET_FEATURES_1H_MIB
        metrics["features_1h_file_pass"] = "pass" if packed_mib <= TARGET_FEATURES_1H_MIB else "fail"
    rows = [[k, v] for k, v in metrics.items()]
    write_results(
        "long_recordings",
        metrics,
        config=vars(args) | {"target_features_1h_mib": TARGET_FEATURES_1H_MIB},
        table=format_table(["metric", "value"], rows),
        out_dir=args.out,
    )


if __name__ == "__main__":
    main()
