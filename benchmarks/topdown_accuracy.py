"""Top-down multi-animal pose estimation: training time and tracked accuracy on the 2-animal sample session.

Trains a small top-down model (:func:`behaviorlab.pose.topdown.train_topdown`:
a centroid model on the frames at the scale of :func:`behaviorlab.pose.crops.choose_centroid_scale`
(full size here), and a pose model of the
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

**Animals in contact** (issue 24): generated sessions where each animal
follows another (``SyntheticConfig(social=2)``: the two closest anchors are
under 25 px apart in about half of the frames), with two and with three
mice.  A second model of the same settings is trained on 240 labeled frames
of four such training sessions (seeds 181-184) and scored on two held-out
60 s sessions (seed 191: two mice, 192: three) that were never used to tune
anything (seeds 171 and 172 were).  Keys ``switches_per_1000_frames``,
``matched_share`` and ``frame_matched_mean_px`` with ``_2_animals`` and
``_3_animals``, and the same with ``_no_gap_fill`` for the same model and
video without the track-guided second look
(:func:`behaviorlab.pose.contacts.fill_track_gaps`), and with
``_no_exclusive`` without exclusive keypoints
(:func:`behaviorlab.pose.instances.exclusive_keypoints`: a spot claimed by
two animals' crop models goes to one), the paths before each.
``frame_matched_scored_share`` says how many (frame, animal, keypoint)
triples were scored: exclusive keypoints leave some keypoints out rather
than on the neighbour.  ``same_part_contact_*`` (:func:`same_part_contact`)
measures the keypoints where that costs: two animals' same body parts truly
within the crop model's calibration radius.  ``switches_per_1000_frames_by_anchor`` matches by the
anchor alone (see :func:`tracked_scores`).

A model folder that already holds a trained top-down model is reused
(``--retrain`` to train again); so is the generated data folder.  Run
``python benchmarks/topdown_accuracy.py --help``.
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
    parser.add_argument("--centroid-scale", type=float, default=None, help="default: choose_centroid_scale")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--growth-rate", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--sigma", type=float, default=4.0, help="target sigma in (model input) pixels")
    parser.add_argument("--peak-threshold", type=float, default=0.2)
    parser.add_argument("--stop", type=int, default=None, help="predict only the first frames of the video")
    parser.add_argument("--backend", default=None)
    parser.add_argument("--contact-dir", default="/tmp/behaviorlab-contact-benchmark", help="contact data and model")
    parser.add_argument("--skip-contact", action="store_true", help="only the sample session")
    parser.add_argument("--out", default=str(DEFAULT_RESULTS_DIR), help="results directory")
    return parser.parse_args(argv)


CONTACT_SOCIAL = 2.0
CONTACT_TRAIN = {"train2a": (2, 181), "train2b": (2, 182), "train3a": (3, 183), "train3b": (3, 184)}
CONTACT_TEST = {"contact2": (2, 191), "contact3": (3, 192)}
CONTACT_LABELED_FRAMES = 240


def train_or_load(model_dir: Path, labels: Path, args: argparse.Namespace, *, retrain: bool):
    """The top-down model of the benchmark's settings, trained on ``labels`` unless ``model_dir`` holds one."""
    from behaviorlab.pose.topdown import TOPDOWN_CONFIG, TopDownModel, train_topdown
    from behaviorlab.pose.train import TrainConfig

    training: dict[str, float | int] = {}
    if retrain or not (model_dir / TOPDOWN_CONFIG).is_file():
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
            labels,
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
    return model, training


def error_stats(err: np.ndarray, prefix: str) -> dict[str, float]:
    """Mean, median, 90th percentile and scored share of a keypoint error array."""
    finite = err[np.isfinite(err)]
    return {
        f"{prefix}_mean_px": round(float(finite.mean()), 3),
        f"{prefix}_median_px": round(float(np.median(finite)), 3),
        f"{prefix}_p90_px": round(float(np.percentile(finite, 90)), 3),
        f"{prefix}_scored_share": round(finite.size / err.size, 4),
    }


def tracked_scores(pred, truth, anchor: str = "spine", contact_radius: float | None = None) -> dict[str, float]:
    """Switches, matched share and keypoint errors of tracked predictions against the ground truth.

    ``switches_per_1000_frames_by_anchor`` matches tracks to animals by the
    anchor keypoint alone: a pose that took some of a neighbour's keypoints
    can flip the whole-pose matching for a frame without any identity having
    changed, and the difference between the two counts is that.  With
    ``contact_radius`` the :func:`same_part_contact` keys are added.
    """
    from behaviorlab.trajectories.track_scores import identity_switches, keypoint_error

    truth = truth.isel(time=slice(0, pred.sizes["time"]))
    drop = [v for v in ("source_individual", "identity_confidence") if v in pred]
    named = pred.drop_vars(drop).assign_coords(time=truth["time"].values)
    switches = identity_switches(named, truth)
    anchored = named.assign(position=named["position"].where(named["keypoint"] == anchor))
    by_anchor = identity_switches(anchored, truth)["switches_per_1000_frames"]
    frame_error = keypoint_error(named, truth, matching="frame")
    contact = {} if contact_radius is None else same_part_contact(frame_error, truth, contact_radius)
    return {
        **error_stats(keypoint_error(named, truth, matching="session").values, "session_matched"),
        **error_stats(frame_error.values, "frame_matched"),
        "identity_switches": switches["switches"],
        "identity_switch_events": switches["switch_events"],
        "switches_per_1000_frames": round(switches["switches_per_1000_frames"], 3),
        "switches_per_1000_frames_by_anchor": round(by_anchor, 3),
        "matched_share": round(switches["matched_share"], 4),
        **contact,
    }


def same_part_contact(frame_error, truth, radius: float) -> dict[str, float]:
    """Keypoints whose same body part on another animal truly lies within ``radius`` (nose to nose, tails crossed).

    There two animals claim one spot with reason, and exclusive keypoints
    take one of them away or elsewhere: ``same_part_contact_share`` (of all
    true keypoints), ``same_part_contact_within_radius_share`` (placed within
    ``radius`` of the truth by the per-frame-matched track; a missing keypoint
    counts as not), ``same_part_contact_scored_share`` and the mean error
    ``same_part_contact_mean_px`` of those given.  ``frame_error`` is the
    per-frame-matched :func:`~behaviorlab.trajectories.track_scores.keypoint_error`
    against ``truth`` (the same frames).
    """
    err = frame_error.transpose("time", "individual", "keypoint").values
    true = truth["position"].isel(time=slice(0, err.shape[0])).transpose("time", "individual", "keypoint", "space")
    true = true.values
    gap = np.linalg.norm(true[:, :, None] - true[:, None], axis=-1)  # (time, animal, animal, keypoint)
    gap[:, np.arange(true.shape[1]), np.arange(true.shape[1])] = np.inf
    contact = np.nan_to_num(gap, nan=np.inf).min(axis=2) < radius
    e = err[contact]
    return {
        "same_part_contact_share": round(float(contact.mean()), 4),
        "same_part_contact_within_radius_share": round(float(np.mean(e < radius)), 4),
        "same_part_contact_scored_share": round(float(np.isfinite(e).mean()), 4),
        "same_part_contact_mean_px": round(float(np.nanmean(e)), 3),
    }


def contact_data(folder: Path) -> Path:
    """Write the contact-heavy training videos, their labeled frames and the test sessions (once)."""
    from behaviorlab.io.labeled_frames import save_labeled_frames
    from behaviorlab.synthetic.sample import labeled_frames_from_sessions, write_session
    from behaviorlab.synthetic.simulate import SyntheticConfig, simulate_poses

    labels = folder / "contact_train.labels.h5"
    if labels.is_file() and all((folder / f"{name}.mp4").is_file() for name in CONTACT_TEST):
        return labels
    sessions, behaviors = [], []
    for name, (n_animals, seed) in {**CONTACT_TRAIN, **CONTACT_TEST}.items():
        config = SyntheticConfig(n_animals=n_animals, seed=seed, social=CONTACT_SOCIAL)
        write_session(folder, name, config)
        if name in CONTACT_TRAIN:
            poses, behavior = simulate_poses(config)
            sessions.append((folder / f"{name}.mp4", config, poses))
            behaviors.append(behavior)
    frames = labeled_frames_from_sessions(sessions, behaviors, CONTACT_LABELED_FRAMES, seed=181)
    save_labeled_frames(frames, labels)
    return labels


def contact_metrics(args: argparse.Namespace) -> dict[str, float | int]:
    """Train on the contact labels and score both held-out contact sessions, with and without the gap fill."""
    from behaviorlab.io.load import load_poses
    from behaviorlab.pose.calibration import calibration_radius
    from behaviorlab.pose.topdown import predict_video_topdown

    folder = Path(args.contact_dir)
    labels = contact_data(folder)
    model, training = train_or_load(folder / "model", labels, args, retrain=args.retrain)
    metrics: dict[str, float | int] = {f"contact_{k}": v for k, v in training.items()}
    radius = calibration_radius(model.pose.sigma, model.pose.output_stride)
    for name, (n_animals, _) in CONTACT_TEST.items():
        truth = load_poses(folder / f"{name}_poses.nc")
        suffix = f"_{n_animals}_animals"
        variants = ((model, 0, "_no_gap_fill"), (model.replace(exclusive_keypoints=False), 30, "_no_exclusive"))
        for variant, fill, tag in (*variants, (model, 30, "")):
            started = time.perf_counter()
            pred = predict_video_topdown(variant, folder / f"{name}.mp4", max_animals=n_animals, fill_gaps=fill)
            seconds = time.perf_counter() - started
            scores = tracked_scores(pred, truth, model.anchor, contact_radius=radius)
            keys = (
                "switches_per_1000_frames",
                "switches_per_1000_frames_by_anchor",
                "matched_share",
                "frame_matched_mean_px",
                "frame_matched_median_px",
                "frame_matched_scored_share",
            )
            keys += tuple(k for k in scores if k.startswith("same_part_contact"))
            metrics.update({f"{k}{suffix}{tag}": scores[k] for k in keys})
            metrics[f"predict_fps{suffix}{tag}"] = round(pred.sizes["time"] / seconds, 1)
            if not tag:
                confidence = pred["identity_confidence"].values
                metrics[f"identity_confidence_below_0_5_share{suffix}"] = round(float(np.nanmean(confidence < 0.5)), 4)
    return metrics


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    set_backend(args.backend)
    from behaviorlab.io.load import load_poses
    from behaviorlab.io.video import VideoReader
    from behaviorlab.pose.topdown import instances_to_poses, predict_video_topdown
    from behaviorlab.trajectories.tracking import track_poses

    model, training = train_or_load(
        Path(args.model_dir), SAMPLE / "labeled_frames.labels.h5", args, retrain=args.retrain
    )
    truth = load_poses(SAMPLE / "session_b_poses.nc")
    started = time.perf_counter()
    pred = predict_video_topdown(model, SAMPLE / "session_b.mp4", batch_size=16, stop=args.stop)
    predict_s = time.perf_counter() - started
    if pred.sizes["individual"] == 0:
        raise SystemExit(f"no animal found above peak threshold {model.peak_threshold}: train longer or lower it")
    truth = truth.isel(time=slice(0, pred.sizes["time"]))

    # oracle centroid stage: true anchors, same box model and tracker
    anchors = truth["position"].sel(keypoint=model.anchor).transpose("time", "individual", "space").values
    with VideoReader(SAMPLE / "session_b.mp4", grayscale=model.grayscale) as reader:
        frames = reader[: pred.sizes["time"]]
    oracle = instances_to_poses(model.predict_instances(frames, anchors=anchors), model.skeleton, fps=30.0)
    oracle = track_poses(oracle, max_tracks=2)
    oracle_scores = tracked_scores(oracle, truth, model.anchor)

    metrics: dict[str, float | int | str] = {
        **training,
        "crop_size": model.crop_size,
        "frames": int(pred.sizes["time"]),
        "predict_fps": round(pred.sizes["time"] / predict_s, 1),
        "n_tracks": int(pred.sizes["individual"]),
        **tracked_scores(pred, truth, model.anchor),
        **{f"oracle_anchor_{k}": v for k, v in oracle_scores.items() if k.startswith(("session", "frame"))},
        "oracle_anchor_switches_per_1000_frames": oracle_scores["switches_per_1000_frames"],
    }
    if not args.skip_contact:
        metrics.update(contact_metrics(args))
    rows = [[key, value] for key, value in metrics.items()]
    config = {k: v for k, v in vars(args).items() if k != "out"}
    write_results(
        "topdown_accuracy", metrics, config=config, table=format_table(["metric", "value"], rows), out_dir=args.out
    )


if __name__ == "__main__":
    main()
