"""Long recordings (issue 25): an hour of features on disk, ten hours of poses through the pipeline, an hour of video.

Features: ``--minutes`` (60) of one synthetic animal at 30 fps
(:func:`behaviorlab.synthetic.simulate.simulate_poses`, seed ``--seed``) go through
:func:`behaviorlab.features.pipeline.compute_session_features` (cleaning,
features, 25-frequency Morlet spectrogram of the postural features).  The
result is written three ways: with the spectrogram uncompressed (the format
before issue 25), with the spectrogram gzipped by
:func:`behaviorlab.io.save.save_netcdf`, and as ``behaviorlab run`` keeps it
now (the features and the spectrogram's recipe).  The last is read back with
:func:`behaviorlab.features.pipeline.load_session_features`, which recomputes
the spectrogram; the script raises unless it equals the one in memory.
``features_1h_file_mib`` (target <= 150) is that file, for ``--minutes`` 60.

Pipeline: for each of ``--pipeline-hours`` (1 and 10), in a fresh process:
generated poses of one animal -> cleaning -> features (spectrogram kept as its
recipe) -> features file -> behavior map (UMAP fitted on 20,000 frames, every
frame embedded) and HMM (6 states, fitted on 30,000 frames, every frame
decoded) on the spectrogram, whose rows are computed block by block as they
are read -> classifier predict (trained beforehand, untimed, on 10 generated
minutes with their true behaviors; the features file read lazily, one block
in memory at a time) -> results store.  After the store, outside the timed
pipeline, a classifier is fitted on the whole recording with its true
behaviors, the features file read lazily: a long annotation is read as a
random set of 60-s blocks (``poses_<h>h_classifier_fit_*``).  ``poses_<h>h_pipeline_seconds``
is the wall time from cleaning to the store, ``poses_<h>h_peak_rss_mib`` the
largest of the stages' own peaks (``VmHWM``, reset between stages; listed per
stage), and ``poses_10h_vs_1h_time_ratio`` compares the two in the same run
(targets: peak <= 8,000 MiB, ratio <= 11).

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
length in ``video_minutes``.  ``--video-minutes 0 --keep-video-metrics``
carries the video figures of the results file over, with ``video_metrics_date``
(an hour of video takes 17 minutes to predict on 2 cores).

``store_1000_sessions_mib`` and ``store_add_seconds_at_10000_vs_100_ratio`` come
from ``benchmarks/store_query.py``.

Run ``python benchmarks/long_recordings.py --help``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import DEFAULT_RESULTS_DIR, format_table, write_results

TARGET_FEATURES_1H_MIB = 150.0
TARGET_10H_PEAK_MIB = 8000.0
TARGET_10H_RATIO = 11.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--video-minutes", type=float, default=20.0, help="0: skip the video part")
    parser.add_argument(
        "--pipeline-hours",
        type=lambda v: [float(h) for h in v.split(",") if h],
        default=[1.0, 10.0],
        help="hours of poses through the whole pipeline, comma-separated ('' to skip)",
    )
    parser.add_argument(
        "--keep-video-metrics",
        action="store_true",
        help="with --video-minutes 0: carry the video_* metrics of the results file over (their date is recorded)",
    )
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


def _reset_peak() -> None:
    """Reset this process's ``VmHWM`` to its RSS (Linux ``clear_refs`` 5): the next read is a stage's peak."""
    with contextlib.suppress(OSError):  # not Linux, or not allowed: the peaks are then cumulative
        Path("/proc/self/clear_refs").write_text("5")


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


def _pipeline_in_child(hours: float, seed: int, work: str, queue: mp.Queue) -> None:
    """Run ``hours`` of one generated animal's poses through the pipeline in this fresh process; report to ``queue``.

    cleaning -> features (the spectrogram kept as its recipe, as ``behaviorlab run`` stores it) -> features
    file -> behavior map and HMM on the spectrogram (rows computed block by block as they are read) ->
    classifier predict (trained on 10 generated minutes with their true behaviors) -> results store.
    """
    import shutil

    import xarray as xr

    from behaviorlab.behavior.classify import BehaviorClassifier
    from behaviorlab.behavior.ethogram import EthogramHMM
    from behaviorlab.behavior.maps import BehaviorMap
    from behaviorlab.features.pipeline import SessionFeaturesConfig, load_session_features, session_features
    from behaviorlab.io.save import save_netcdf
    from behaviorlab.results.store import ResultsStore
    from behaviorlab.synthetic.simulate import BEHAVIORS, SyntheticConfig, simulate_poses
    from behaviorlab.trajectories.filtering import clean_poses

    config = SessionFeaturesConfig()
    # the classifier: 10 minutes with their true behaviors (its training is not part of the timed pipeline)
    train_poses, truth = simulate_poses(SyntheticConfig(duration_s=600.0, seed=seed + 1))
    train = session_features(clean_poses(train_poses), config, spectrogram="recipe")
    names = np.asarray(truth.values, dtype=object)
    labels = xr.DataArray(
        names[..., None] == np.asarray(BEHAVIORS, dtype=object),
        dims=("time", "individual", "behavior"),
        coords={"time": train["time"].values, "individual": train["individual"].values, "behavior": list(BEHAVIORS)},
        name="labels",
    )
    classifier = BehaviorClassifier(
        behaviors=list(BEHAVIORS), windows_s=(0.5,), stats=("mean", "std"), max_iter=30, random_state=seed
    ).fit({"train": train[["features"]]}, {"train": labels})
    del train_poses, truth, train, labels
    stages: dict[str, float] = {}
    peaks: dict[str, float] = {"before": _rss_mib("VmHWM")}
    _reset_peak()

    def done(stage: str, since: float) -> float:
        stages[stage] = time.perf_counter() - since
        peaks[stage] = _rss_mib("VmHWM")  # this stage's peak: the high-water mark was reset when it began
        _reset_peak()
        return time.perf_counter()

    folder = Path(work) / f"pipeline_{hours:g}h"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    poses, truth = simulate_poses(SyntheticConfig(duration_s=3600.0 * hours, seed=seed))
    started = t = time.perf_counter()
    cleaned = clean_poses(poses)
    del poses
    t = done("cleaning", t)
    features = session_features(cleaned, config, spectrogram="recipe")
    t = done("features", t)
    path = folder / "session.nc"
    save_netcdf(features[["features"]].assign_attrs(session="long"), path)
    del features
    t = done("features_file", t)
    sessions = {"long": load_session_features(path, ["spectrogram"], spectrogram="recipe")}
    mapped = BehaviorMap(variable="spectrogram", n_neighbors=10, max_fit_frames=20_000, random_state=seed)
    clusters = mapped.fit_label(sessions)["long"][["cluster"]]
    del mapped
    t = done("behavior_map", t)
    hmm = EthogramHMM(n_states=6, variable="spectrogram", max_fit_frames=30_000, random_state=seed).fit(sessions)
    states = hmm.label(sessions)["long"][["state"]]
    del hmm
    t = done("hmm", t)
    with load_session_features(path, ["features"], lazy=True) as lazy:  # predict reads a block at a time
        prediction = classifier.predict({"long": lazy})["long"]
    t = done("classifier_predict", t)
    store = ResultsStore.create(folder / "results", bin_s=60.0)
    data = xr.merge(
        [cleaned[["position", "confidence"]], states, clusters, prediction.to_dataset(name="behavior_prediction")],
        join="exact",
        compat="no_conflicts",
        combine_attrs="drop_conflicts",
    )
    store.add_session("long", data)
    t = done("store", t)
    seconds = time.perf_counter() - started
    del data, store, states, clusters, prediction
    # not part of the pipeline: a classifier fitted on the whole recording's true behaviors
    names = np.asarray(truth.values, dtype=object)
    del truth
    with load_session_features(path, ["features"], lazy=True) as lazy:
        labels = xr.DataArray(
            names[..., None] == np.asarray(BEHAVIORS, dtype=object),
            dims=("time", "individual", "behavior"),
            coords={"time": lazy["time"].values, "individual": lazy["individual"].values, "behavior": list(BEHAVIORS)},
        )
        del names
        fitted = BehaviorClassifier(behaviors=list(BEHAVIORS), random_state=seed).fit({"long": lazy}, {"long": labels})
    done("classifier_fit", t)
    fit_rows = int(fitted.cv_["n_validation_frames"] + fitted.cv_["n_fit_frames"])
    queue.put(
        {
            "seconds": seconds,
            "frames": int(cleaned.sizes["time"]),
            "stages": stages,
            "peaks": peaks,
            "store_mib": sum(f.stat().st_size for f in (folder / "results").rglob("*") if f.is_file()) / 2**20,
            "features_file_mib": path.stat().st_size / 2**20,
            "fit_rows": fit_rows,
        }
    )


def pipeline_metrics(args: argparse.Namespace) -> dict[str, float | int | str]:
    """``poses_<h>h_*`` for each of ``--pipeline-hours``, each in a fresh process; the 10 h over 1 h time ratio."""
    metrics: dict[str, float | int | str] = {}
    seconds = {}
    for hours in args.pipeline_hours:
        queue: mp.Queue = mp.get_context("spawn").Queue()
        child = mp.get_context("spawn").Process(
            target=_pipeline_in_child, args=(hours, args.seed, args.work_dir, queue)
        )
        child.start()
        report = queue.get()
        child.join()
        key = f"poses_{hours:g}h"
        seconds[hours] = report["seconds"]
        metrics[f"{key}_frames"] = report["frames"]
        metrics[f"{key}_pipeline_seconds"] = round(report["seconds"], 1)
        pipeline_peaks = {k: v for k, v in report["peaks"].items() if k != "classifier_fit"}
        metrics[f"{key}_peak_rss_mib"] = round(max(pipeline_peaks.values()), 0)
        metrics[f"{key}_classifier_fit_seconds"] = round(report["stages"]["classifier_fit"], 1)
        metrics[f"{key}_classifier_fit_peak_rss_mib"] = round(report["peaks"]["classifier_fit"], 0)
        metrics[f"{key}_classifier_fit_rows_read"] = report["fit_rows"]
        metrics[f"{key}_stage_seconds"] = " ".join(f"{k}:{v:.1f}" for k, v in report["stages"].items())
        metrics[f"{key}_stage_peak_rss_mib"] = " ".join(f"{k}:{v:.0f}" for k, v in report["peaks"].items())
        metrics[f"{key}_features_file_mib"] = round(report["features_file_mib"], 1)
        metrics[f"{key}_store_mib"] = round(report["store_mib"], 1)
    if 1.0 in seconds and 10.0 in seconds:
        metrics["poses_10h_vs_1h_time_ratio"] = round(seconds[10.0] / seconds[1.0], 2)
    return metrics


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


def features_metrics(args: argparse.Namespace) -> dict[str, float | int | str]:
    """An hour of features on disk: with the spectrogram (uncompressed, gzip) and as ``behaviorlab run`` keeps it."""
    import xarray as xr

    from behaviorlab.features.pipeline import SPECTROGRAM_RECIPE, compute_session_features, load_session_features
    from behaviorlab.io.load import load_netcdf
    from behaviorlab.io.save import save_netcdf
    from behaviorlab.synthetic.simulate import SyntheticConfig, simulate_poses

    started = time.perf_counter()
    poses, _ = simulate_poses(SyntheticConfig(duration_s=60.0 * args.minutes, seed=args.seed))
    simulate_s = time.perf_counter() - started
    started = time.perf_counter()
    result = compute_session_features(poses)
    features_s = time.perf_counter() - started
    keep = ["features", "spectrogram", "spectrogram_total_amplitude"]
    ds = result[keep]
    with tempfile.TemporaryDirectory(prefix="long_recordings_") as tmp:
        plain = Path(tmp) / "plain.nc"
        started = time.perf_counter()
        ds.to_netcdf(plain, engine="h5netcdf")  # how a features file was written before: no filters
        plain_s = time.perf_counter() - started
        packed = Path(tmp) / "with_spectrogram.nc"
        save_netcdf(ds, packed)
        back = load_netcdf(packed)
        xr.testing.assert_equal(back[keep], ds)
        slim = Path(tmp) / "features.nc"  # as `behaviorlab run` keeps it: the features and the spectrogram's recipe
        started = time.perf_counter()
        recipe = json.dumps(dict(zip(("n_frequencies", "f_min"), (25, 1.0), strict=True)))
        save_netcdf(result[["features"]].assign_attrs({SPECTROGRAM_RECIPE: recipe}), slim)
        slim_s = time.perf_counter() - started
        started = time.perf_counter()
        again = load_session_features(slim, ["spectrogram"])
        recompute_s = time.perf_counter() - started
        np.testing.assert_allclose(again["spectrogram"].values, ds["spectrogram"].values, rtol=1e-5, atol=1e-7)
        plain_mib, packed_mib, slim_mib = (f.stat().st_size / 2**20 for f in (plain, packed, slim))
    metrics = {
        "minutes": args.minutes,
        "frames": int(ds.sizes["time"]),
        "spectrogram_shape": " x ".join(f"{d} {n}" for d, n in ds["spectrogram"].sizes.items()),
        "simulate_s": round(simulate_s, 1),
        "features_and_spectrogram_s": round(features_s, 1),
        "features_file_with_spectrogram_mib_uncompressed": round(plain_mib, 1),
        "features_file_with_spectrogram_mib_gzip": round(packed_mib, 1),
        "features_file_mib": round(slim_mib, 1),
        "write_s_uncompressed": round(plain_s, 1),
        "write_s": round(slim_s, 1),
        "spectrogram_recomputed_on_read_s": round(recompute_s, 1),
        "peak_rss_features_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0),
    }
    if abs(args.minutes - 60.0) < 1e-9:
        metrics["features_1h_file_mib"] = round(slim_mib, 1)
        metrics["features_1h_file_mib_target"] = TARGET_FEATURES_1H_MIB
        metrics["features_1h_file_pass"] = "pass" if slim_mib <= TARGET_FEATURES_1H_MIB else "fail"
    return metrics


def _earlier_video_metrics(out: str) -> dict[str, float | int | str]:
    """The ``video_*`` metrics of the results file already there, with the date they were measured."""
    path = Path(out) / "long_recordings.json"
    if not path.is_file():
        raise SystemExit(f"--keep-video-metrics: {path} does not exist; run with --video-minutes first")
    record = json.loads(path.read_text())
    kept = {k: v for k, v in record["metrics"].items() if k.startswith("video")}
    if "video_metrics_date" not in kept:
        kept["video_metrics_date"] = record["date"]
    return kept


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    metrics = features_metrics(args) if args.minutes > 0 else {}
    if args.pipeline_hours:
        metrics.update(pipeline_metrics(args))
        if 10.0 in args.pipeline_hours:
            metrics["poses_10h_peak_rss_mib_target"] = TARGET_10H_PEAK_MIB
            metrics["poses_10h_vs_1h_time_ratio_target"] = TARGET_10H_RATIO
    if args.video_minutes > 0:
        metrics.update(video_metrics(args))
    elif args.keep_video_metrics:
        metrics.update(_earlier_video_metrics(args.out))
    metrics["load_average_1min"] = round(os.getloadavg()[0], 2)
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
