"""The ``behaviorlab`` command line: one thin typer app over the library.

Every command calls library functions; heavy imports happen inside the
commands so ``behaviorlab --help`` stays fast.  Errors raised on purpose by the
package (:class:`behaviorlab.errors.BehaviorlabError`) are printed as one line
and give exit code 1, without a traceback.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from behaviorlab._config import duration_seconds
from behaviorlab.cli.behavior import classify_app, ethogram_app, map_app
from behaviorlab.cli.common import friendly_errors, read_config
from behaviorlab.cli.project import init, run
from behaviorlab.cli.results import compare, dashboard, export, query, store_app
from behaviorlab.errors import SchemaError
from behaviorlab.pose.folder import POSE_PATHS

app = typer.Typer(
    name="behaviorlab",
    help="From animal video to poses, behaviors and statistics.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _options(
    verbose: Annotated[
        bool,
        typer.Option("--verbose", "-v", help="Show the logs of TensorFlow, Dask and behaviorlab's own debug messages."),
    ] = False,
) -> None:
    """From animal video to poses, behaviors and statistics."""
    import logging  # lazy: loads when the command runs (a fast --help)
    import os  # lazy: loads when the command runs (a fast --help)

    if verbose:
        os.environ["BEHAVIORLAB_VERBOSE"] = "1"  # read by `run` to keep Dask's warnings
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
        logging.getLogger("behaviorlab").setLevel(logging.DEBUG)


app.add_typer(map_app, name="map")
app.add_typer(ethogram_app, name="ethogram")
app.add_typer(classify_app, name="classify")
app.add_typer(store_app, name="store")

POSE_SOURCES = ("dlc", "sleap", "nwb", "netcdf", "sleap_csv", "csv")  # behaviorlab.io.load.SOURCES
CsvColumnsOption = Annotated[
    str | None,
    typer.Option(
        help="Generic CSV tables: a regular expression with the groups keypoint and coord that splits column names "
        "(default: snout_x, Nose.Y, ear_likelihood and the like)."
    ),
]


@app.command()
@friendly_errors
def info(as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False) -> None:
    """Show versions, the Keras backend and the compute devices."""
    from behaviorlab.environment import environment_report  # lazy: loads when the command runs (a fast --help)

    report = environment_report()
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    from rich.console import Console  # lazy: loads when the command runs (a fast --help)
    from rich.table import Table  # lazy: loads when the command runs (a fast --help)

    table = Table(title="behaviorlab environment", show_header=False)
    for key, value in report.items():
        table.add_row(key, ", ".join(value) if isinstance(value, list) else str(value))
    Console().print(table)


@app.command()
@friendly_errors
def convert(
    input: Annotated[Path, typer.Argument(help="Pose file to read (.nc, .csv, .h5, .slp, .nwb).")],
    output: Annotated[Path, typer.Argument(help="Pose file to write; the format follows the extension.")],
    source: Annotated[
        str | None, typer.Option(help=f"Force the input format: one of {', '.join(POSE_SOURCES)}.")
    ] = None,
    fps: Annotated[float | None, typer.Option(help="Frames per second, for formats that do not store it.")] = None,
    csv_columns: CsvColumnsOption = None,
) -> None:
    """Convert a pose file between DeepLabCut, SLEAP, NWB, netCDF and CSV tables."""
    from behaviorlab.io.save import convert_poses  # lazy: loads when the command runs (a fast --help)

    if source is not None and source not in POSE_SOURCES:
        raise typer.BadParameter(f"--source must be one of {', '.join(POSE_SOURCES)}, got {source!r}")
    written = convert_poses(input, output, source=source, fps=fps, csv_columns=csv_columns)
    typer.echo(f"wrote {written}")


MODEL_NAMES = ("stacked_densenet", "stacked_hourglass", "leap", "deeplabcut")


@app.command()
@friendly_errors
def train(
    labels: Annotated[
        Path,
        typer.Argument(
            help="Labeled frames: .labels.h5, a DeepLabCut project, .slp, DeepPoseKit .h5 or COCO keypoints .json."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Model folder to write (created).")],
    model: Annotated[str, typer.Option(help=f"Architecture: {', '.join(MODEL_NAMES)}.")] = "stacked_densenet",
    epochs: Annotated[int | None, typer.Option(help="Number of epochs (default 200).")] = None,
    val_fraction: Annotated[float | None, typer.Option(help="Share of frames held out for validation.")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the split, batch order and augmentation.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Images per batch (default 16).")] = None,
    config: Annotated[
        Path | None, typer.Option(help="YAML or JSON file with TrainConfig fields; options given here win.")
    ] = None,
    resume: Annotated[bool, typer.Option(help="Continue an interrupted training in OUT.")] = False,
    time_budget: Annotated[
        str | None,
        typer.Option(help="Stop at this wall time with the best checkpoint, e.g. 30m, 1h30m, 90s (epochs: at most)."),
    ] = None,
    coco_category: Annotated[
        str | None, typer.Option(help="COCO keypoint files: the category (animal kind) to train on.")
    ] = None,
    path: Annotated[
        str,
        typer.Option(
            help="crop: a centroid model finds the animal, the pose model sees a box around it at full resolution; "
            "full-frame: one model on whole frames; auto: crop when one animal per frame is small in the frame."
        ),
    ] = "auto",
) -> None:
    """Train a pose model on labeled frames: around the animal (crop path) or on whole frames."""
    from behaviorlab.io.labeled_frames import load_labeled_frames  # lazy: loads when the command runs (a fast --help)
    from behaviorlab.pose.strategy import (  # lazy: Keras (the pose extra), through behaviorlab.pose
        planned_path,
        train_pose,
    )

    if path not in POSE_PATHS:
        raise typer.BadParameter(f"--path must be one of {', '.join(POSE_PATHS)}, got {path!r}")
    given = {
        "model": model,
        "epochs": epochs,
        "val_fraction": val_fraction,
        "seed": seed,
        "batch_size": batch_size,
        "time_budget": _duration_option(time_budget),
    }
    train_config = _train_config(config, given)
    frames = load_labeled_frames(labels, coco_category=coco_category)
    choice = planned_path(frames, out, path, resume=resume)
    typer.echo(f"pose path: {choice.path}, because {choice.reason}")
    summary = train_pose(frames, out, train_config, path=path, resume=resume, verbose=2)
    ended = " (the time budget ended it)" if summary.stopped_at_budget else ""
    typer.echo(
        f"trained {model} for {summary.epochs} epochs in {summary.training_seconds:.0f} s{ended}; mean validation "
        f"error {summary.best_val_px_error:.2f} px; peak memory {summary.peak_rss_mib:.0f} MiB; model in {out}"
    )
    report = getattr(summary.result, "val_report", None)
    if report is not None:
        typer.echo(report.to_markdown())


def _duration_option(value: str | None) -> float | None:
    """Seconds of a ``--time-budget`` value."""
    try:
        return duration_seconds(value)
    except ValueError as err:
        raise typer.BadParameter(f"--time-budget: {err}") from None


def _train_config(config: Path | None, given: dict[str, Any]) -> Any:
    """TrainConfig from an optional YAML/JSON file, overridden by the options given on the command line."""
    from behaviorlab.pose.train import TrainConfig  # lazy: Keras (the pose extra), through behaviorlab.pose.train

    if given.get("model") not in MODEL_NAMES:
        raise typer.BadParameter(f"--model must be one of {', '.join(MODEL_NAMES)}, got {given.get('model')!r}")
    fields: dict[str, Any] = read_config(config) if config is not None else {}
    fields.update({k: v for k, v in given.items() if v is not None})
    return TrainConfig.from_dict(fields)


@app.command("train-topdown")
@friendly_errors
def train_topdown_command(
    labels: Annotated[Path, typer.Argument(help="Labeled frames with one or several labeled animals per frame.")],
    out: Annotated[Path, typer.Option("--out", help="Top-down model folder to write (created).")],
    anchor: Annotated[str, typer.Option(help="Keypoint that marks each animal and centres its box, e.g. spine.")],
    crop_size: Annotated[
        int | None, typer.Option(help="Side of the box around each animal in pixels (default: from the labels).")
    ] = None,
    centroid_scale: Annotated[
        float | None,
        typer.Option(
            help="Frames are shrunk by this (1, 0.5, 0.25...) for the centroid model (default: as far as keeps "
            "each animal 64 px across, so that animals in contact stay apart)."
        ),
    ] = None,
    epochs: Annotated[int | None, typer.Option(help="Epochs of each of the two models (default 200).")] = None,
    model: Annotated[str, typer.Option(help=f"Architecture: {', '.join(MODEL_NAMES)}.")] = "stacked_densenet",
    config: Annotated[
        Path | None, typer.Option(help="YAML or JSON file with TrainConfig fields for both models.")
    ] = None,
    resume: Annotated[bool, typer.Option(help="Continue an interrupted training in OUT.")] = False,
) -> None:
    """Train a multi-animal top-down model: a centroid model and a pose model of the box around each animal."""
    from behaviorlab.pose.topdown import train_topdown  # lazy: Keras (the pose extra), through behaviorlab.pose.topdown

    train_config = _train_config(config, {"model": model, "epochs": epochs})
    result = train_topdown(
        labels,
        out,
        anchor=anchor,
        crop_size=crop_size,
        centroid_scale=centroid_scale,
        centroid_config=train_config,
        pose_config=train_config,
        resume=resume,
        verbose=2,
    )
    typer.echo(
        f"trained a top-down model in {result.training_seconds:.0f} s: centroid model {result.centroid.epochs} epochs, "
        f"box model {result.pose.epochs} epochs on {result.n_crops} boxes of {result.crop_size} px (best mean "
        f"validation error {result.pose.best_val_px_error:.2f} px); model in {result.model_dir}"
    )


@app.command()
@friendly_errors
def evaluate(
    model_dir: Annotated[Path, typer.Argument(help="Model folder written by `behaviorlab train`.")],
    labels: Annotated[Path, typer.Argument(help="Labeled frames to score the model on.")],
    all_frames: Annotated[
        bool, typer.Option("--all", help="Score every labeled frame, not only the saved validation split.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Per-keypoint error (pixels) and PCK of a trained model."""
    import numpy as np  # lazy: loads when the command runs (a fast --help)

    from behaviorlab.pose.predict import (
        evaluate_model,  # lazy: Keras (the pose extra), through behaviorlab.pose.predict
    )

    indices = None
    if all_frames:
        from behaviorlab.io.labeled_frames import (
            load_labeled_frames,  # lazy: loads when the command runs (a fast --help)
        )

        indices = np.arange(len(load_labeled_frames(labels)))
    report = evaluate_model(model_dir, labels, indices=indices)
    typer.echo(json.dumps(report.to_dict(), indent=2) if as_json else report.to_markdown())


PREDICT_FORMATS = {
    "nc": ("netcdf", ".poses.nc"),
    "slp": ("sleap", ".poses.slp"),
    "h5": ("dlc", ".poses.h5"),
    "csv": ("dlc", ".poses.csv"),
}


@app.command()
@friendly_errors
def predict(
    model_dir: Annotated[
        Path, typer.Argument(help="Model folder written by `behaviorlab train` or `behaviorlab train-topdown`.")
    ],
    videos: Annotated[list[Path], typer.Argument(help="One or more videos.")],
    out: Annotated[Path | None, typer.Option("--out", help="Output folder (default: beside each video).")] = None,
    format: Annotated[
        str, typer.Option("--format", help="Comma-separated: nc (always written), slp, h5 (DeepLabCut), csv.")
    ] = "nc",
    batch_size: Annotated[int, typer.Option(help="Frames per forward pass.")] = 32,
    start: Annotated[int, typer.Option(help="First frame to predict (0-based).")] = 0,
    stop: Annotated[int | None, typer.Option(help="Frame to stop before (default: the end of the video).")] = None,
    overwrite: Annotated[bool, typer.Option(help="Predict again when the output exists.")] = False,
) -> None:
    """Predict keypoints on videos (or a part: --start/--stop); an interrupted run continues where it stopped."""
    from behaviorlab.io.save import save_poses  # lazy: loads when the command runs (a fast --help)
    from behaviorlab.pose.inference import (
        predict_video,  # lazy: Keras (the pose extra), through behaviorlab.pose.inference
    )
    from behaviorlab.pose.topdown import (  # lazy: Keras (the pose extra), through behaviorlab.pose.topdown
        TopDownModel,
        load_any_model,
        predict_video_topdown,
    )

    formats = [f.strip().lower() for f in format.split(",") if f.strip()]
    unknown = sorted(set(formats) - set(PREDICT_FORMATS))
    if unknown:
        raise typer.BadParameter(f"--format: unknown {unknown}; choose from {', '.join(PREDICT_FORMATS)}")
    if start < 0 or (stop is not None and stop <= start):
        raise typer.BadParameter(f"--start {start} and --stop {stop}: need 0 <= start < stop")
    model = load_any_model(model_dir)  # a top-down model finds, poses and tracks every animal
    predict_function = predict_video_topdown if isinstance(model, TopDownModel) else predict_video
    for video in videos:
        folder = out if out is not None else video.parent
        folder.mkdir(parents=True, exist_ok=True)
        part = "" if (start, stop) == (0, None) else f".frames{start}-{'end' if stop is None else stop}"
        target = folder / (video.stem + part + PREDICT_FORMATS["nc"][1])
        if target.exists() and not overwrite:
            typer.echo(f"{video}: {target} exists, skipped (--overwrite to predict again)")
            continue
        started = time.perf_counter()
        ds = predict_function(model, video, target, batch_size=batch_size, start=start, stop=stop, progress=True)
        seconds = time.perf_counter() - started
        written = [target]
        for name in dict.fromkeys(formats):
            if name != "nc":
                fmt, suffix = PREDICT_FORMATS[name]
                written.append(save_poses(ds, folder / (video.stem + part + suffix), format=fmt))
        typer.echo(
            f"{video}: {ds.sizes['time']} frames in {seconds:.1f} s ({ds.sizes['time'] / max(seconds, 1e-9):.0f} "
            f"frames/s); mean confidence {float(ds['confidence'].mean()):.2f}; wrote {', '.join(map(str, written))}"
        )
        if "identity_confidence" in ds:
            unsure = float((ds["identity_confidence"] < 0.5).any("individual").mean())
            typer.echo(
                f"{video}: {ds.sizes['individual']} tracks; identities uncertain (identity_confidence < 0.5, animals "
                f"in contact) in {unsure:.1%} of frames: leave those out of statistics that need who is who"
            )


NETCDF_SUFFIXES = (".nc", ".nc4", ".netcdf")


@app.command()
@friendly_errors
def features(
    poses: Annotated[Path, typer.Argument(help="Pose file to read (.nc, .csv, .h5, .slp, .nwb).")],
    out: Annotated[Path, typer.Option("--out", help="netCDF file to write (.nc).")],
    config: Annotated[
        Path | None,
        typer.Option(
            help="YAML or JSON file with optional sections cleaning: (CleaningConfig fields), features: "
            "(FeatureConfig fields) and spectrogram: (n_frequencies, f_min, f_max, normalize, omega0; or false)."
        ),
    ] = None,
    source: Annotated[
        str | None, typer.Option(help=f"Force the input format: one of {', '.join(POSE_SOURCES)}.")
    ] = None,
    fps: Annotated[float | None, typer.Option(help="Frames per second, for formats that do not store it.")] = None,
    csv_columns: CsvColumnsOption = None,
    keypoint_map: Annotated[
        Path | None,
        typer.Option(
            help="YAML or JSON file mapping keypoint names of the file to the names to use ({snout: nose, ...}), "
            "e.g. those a saved classifier was trained on."
        ),
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace OUT if it exists.")] = False,
) -> None:
    """Clean poses, compute per-frame features and their Morlet spectrogram into one netCDF file."""
    from behaviorlab.errors import (  # lazy: loads when the command runs (a fast --help)
        FileFormatError,
        OutputExistsError,
    )
    from behaviorlab.features.pipeline import (  # lazy: loads when the command runs (a fast --help)
        SessionFeaturesConfig,
        compute_session_features,
    )
    from behaviorlab.io.load import load_poses  # lazy: loads when the command runs (a fast --help)
    from behaviorlab.io.save import save_poses  # lazy: loads when the command runs (a fast --help)
    from behaviorlab.schema import rename_keypoints  # lazy: loads when the command runs (a fast --help)
    from behaviorlab.trajectories.filtering import cleaning_report  # lazy: loads when the command runs (a fast --help)

    if source is not None and source not in POSE_SOURCES:
        raise typer.BadParameter(f"--source must be one of {', '.join(POSE_SOURCES)}, got {source!r}")
    if out.suffix.lower() not in NETCDF_SUFFIXES:
        raise FileFormatError(out, f"the features file is netCDF: give --out one of the extensions {NETCDF_SUFFIXES}")
    if out.exists() and out.resolve() == poses.resolve():
        raise FileFormatError(out, "is the input file too; choose another --out")
    if out.exists() and not overwrite:
        raise OutputExistsError(f"{out} already exists; pass --overwrite to replace it, or choose another --out")
    settings = SessionFeaturesConfig()
    if config is not None:
        try:
            settings = SessionFeaturesConfig.from_dict(read_config(config))
        except SchemaError as err:
            raise FileFormatError(config, str(err)) from None
    ds = load_poses(poses, source=source, fps=fps, csv_columns=csv_columns)
    if keypoint_map is not None:
        mapping = read_config(keypoint_map)
        if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
            raise FileFormatError(keypoint_map, "must map keypoint names to names ({name in the file: new name})")
        ds = rename_keypoints(ds, mapping, str(poses))
    if settings.spectrogram is not None and ds.attrs.get("fps") is None:
        raise FileFormatError(
            poses, "stores no frame rate, which the spectrogram needs; pass --fps (or spectrogram: false in --config)"
        )
    try:
        result = compute_session_features(ds, settings)
    except SchemaError as err:  # e.g. a keypoint named in the config that the file lacks
        raise SchemaError(f"{poses}: {err}" + (f" (config {config})" if config is not None else "")) from None
    save_poses(result, out, format="netcdf")
    report = cleaning_report(ds, result)
    points = result.sizes["time"] * len(report)
    typer.echo(
        f"cleaning: {result.sizes['time']} frames x {result.sizes['keypoint']} keypoints x "
        f"{result.sizes['individual']} individuals; {report['share_nan_raw'].mean():.1%} of points missing in "
        f"the input, {report['share_masked'].mean():.1%} masked, "
        f"{report['n_interpolated'].sum() / max(points, 1):.1%} filled by interpolation, "
        f"{report['share_missing'].mean():.1%} still missing"
    )
    from behaviorlab.trajectories.landmarks import arena_landmarks  # lazy: loads when the command runs (a fast --help)

    landmarks = arena_landmarks(result)
    if landmarks:
        typer.echo(
            f"static keypoints (arena landmarks, not body parts): {', '.join(landmarks)}; "
            "set cleaning.static_keypoints in --config to change this"
        )
    mostly = json.loads(result.attrs.get("mostly_missing_keypoints", "[]"))
    if mostly:
        typer.secho(f"keypoints missing from most frames: {', '.join(mostly)}", fg=typer.colors.YELLOW)
    typer.echo(f"features: {result.sizes['feature']}")
    if "spectrogram" in result:
        freqs = result["frequency"].values
        shape = " x ".join(f"{d} {n}" for d, n in result["spectrogram"].sizes.items())
        typer.echo(f"spectrogram: {shape} ({freqs[0]:.3g}-{freqs[-1]:.3g} Hz)")
    else:
        typer.echo("spectrogram: skipped")
    typer.echo(f"wrote {out}")


def _export_formats(export: str | None) -> list[str]:
    """``--export dlc,sleap`` as a list, checked."""
    from behaviorlab.labeling.select import EXPORT_FORMATS  # lazy: loads when the command runs (a fast --help)

    formats = [f.strip().lower() for f in (export or "").split(",") if f.strip()]
    unknown = sorted(set(formats) - set(EXPORT_FORMATS))
    if unknown:
        raise typer.BadParameter(f"--export: unknown {unknown}; choose from {', '.join(EXPORT_FORMATS)}")
    return formats


@app.command("select-frames")
@friendly_errors
def select_frames_command(
    videos: Annotated[list[Path], typer.Argument(help="One or more videos to choose frames from.")],
    out: Annotated[Path, typer.Option("--out", help="Labeling set to write (.labels.h5).")],
    n: Annotated[int, typer.Option("--n", help="Number of frames, over all videos.")],
    method: Annotated[str, typer.Option(help="kmeans (cover every kind of scene) or uniform.")] = "kmeans",
    keypoints: Annotated[str | None, typer.Option(help="Comma-separated keypoint names to label.")] = None,
    skeleton_from: Annotated[
        Path | None, typer.Option(help="Take the skeleton from a model folder, labels file or pose file.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the clustering and the draws.")] = 0,
    export: Annotated[
        str | None, typer.Option(help="Also write for a labeling GUI: dlc (project folder), sleap (.pkg.slp).")
    ] = None,
    grayscale: Annotated[bool, typer.Option(help="Store one-channel images.")] = False,
    step: Annotated[int, typer.Option(help="k-means: consider every STEP-th frame only.")] = 1,
) -> None:
    """Choose frames to label (k-means or uniform) and write them with empty labels."""
    from behaviorlab.labeling.select import (  # lazy: loads when the command runs (a fast --help)
        make_labeling_set,
        read_skeleton,
        write_labeling_set,
    )
    from behaviorlab.schema import Skeleton  # lazy: loads when the command runs (a fast --help)

    if (keypoints is None) == (skeleton_from is None):
        raise typer.BadParameter("give exactly one of --keypoints and --skeleton-from")
    if method not in ("kmeans", "uniform"):
        raise typer.BadParameter(f"--method must be kmeans or uniform, got {method!r}")
    formats = _export_formats(export)
    individuals = None
    if skeleton_from is not None:
        skeleton, individuals = read_skeleton(skeleton_from)
    else:
        skeleton = Skeleton([k.strip() for k in (keypoints or "").split(",") if k.strip()])
    try:
        frames = make_labeling_set(
            videos, n, skeleton, individuals=individuals, grayscale=grayscale, method=method, seed=seed, step=step
        )
    except SchemaError:
        raise
    except ValueError as err:
        raise typer.BadParameter(str(err)) from None
    written = write_labeling_set(frames, out, export=formats)
    typer.echo(f"selected {len(frames)} frames from {len(videos)} video(s) by {method} sampling")
    typer.echo(f"wrote {', '.join(str(p) for p in written.values())}")


@app.command()
@friendly_errors
def refine(
    poses: Annotated[Path, typer.Argument(help="Predicted poses of VIDEO (e.g. from `behaviorlab predict`).")],
    video: Annotated[Path, typer.Argument(help="The video the poses were predicted on.")],
    out: Annotated[Path, typer.Option("--out", help="Frames to correct (.labels.h5), pre-filled with predictions.")],
    n: Annotated[int, typer.Option("--n", help="Number of frames to pick.")] = 20,
    min_separation: Annotated[int, typer.Option(help="Smallest distance in frames between picked frames.")] = 10,
    min_confidence: Annotated[
        float | None, typer.Option(help="Leave predictions below this confidence unlabeled.")
    ] = None,
    exclude: Annotated[
        Path | None, typer.Option(help="Labels file whose frames of VIDEO are not picked again (the training set).")
    ] = None,
    export: Annotated[
        str | None, typer.Option(help="Also write for a labeling GUI: dlc (project folder), sleap (.pkg.slp).")
    ] = None,
    grayscale: Annotated[bool, typer.Option(help="Store one-channel images (match the training set).")] = False,
) -> None:
    """Pick the least trustworthy predicted frames and export them for correction."""
    from behaviorlab.io.labeled_frames import load_labeled_frames  # lazy: loads when the command runs (a fast --help)
    from behaviorlab.io.load import load_poses  # lazy: loads when the command runs (a fast --help)
    from behaviorlab.labeling.refine import (  # lazy: loads when the command runs (a fast --help)
        export_for_correction,
        score_frames,
        select_outlier_frames,
    )
    from behaviorlab.labeling.select import parse_frame_source  # lazy: loads when the command runs (a fast --help)

    formats = _export_formats(export)
    ds = load_poses(poses)
    skip: list[int] = []
    if exclude is not None:
        for source in load_labeled_frames(exclude).sources:
            key = parse_frame_source(source)
            if key is not None and key[0] == video.stem:
                skip.append(key[1])
    scores = score_frames(ds)
    frames = select_outlier_frames(scores, n, min_separation=min_separation, exclude=skip)
    if not len(frames):
        typer.echo("no frame scores above 0: nothing to correct")
        return
    export_for_correction(
        ds, video, frames, out, min_confidence=min_confidence, grayscale=grayscale, export=formats or None
    )
    row_of = {int(f): i for i, f in enumerate(scores["frame"].values)}
    typer.echo("frame  score  confidence_z  jump_z  limb_z")
    for f in frames:
        row = scores.isel(time=row_of[int(f)])
        typer.echo(
            f"{f:>5}  {float(row['score']):5.1f}  {float(row['confidence_z'].max()):12.1f}  "
            f"{float(row['jump_z'].max()):6.1f}  {float(row['limb_z'].max()):6.1f}"
        )
    typer.echo(f"wrote {len(frames)} frames to correct to {out}")


@app.command("merge-labels")
@friendly_errors
def merge_labels(
    training: Annotated[Path, typer.Argument(help="The training set (.labels.h5, DeepLabCut project, .slp).")],
    corrected: Annotated[Path, typer.Argument(help="Corrected frames (.labels.h5, DeepLabCut project, .pkg.slp).")],
    out: Annotated[Path, typer.Option("--out", help="Merged training set to write (.labels.h5).")],
    individual: Annotated[
        str | None, typer.Option(help="Training individual that a single corrected individual stands for.")
    ] = None,
) -> None:
    """Merge corrected frames into a training set: same frame replaced, new frames appended."""
    from behaviorlab.io.labeled_frames import (  # lazy: loads when the command runs (a fast --help)
        load_labeled_frames,
        save_labeled_frames,
    )
    from behaviorlab.labeling.refine import merge_corrections  # lazy: loads when the command runs (a fast --help)

    train_frames = load_labeled_frames(training)
    merged = merge_corrections(train_frames, corrected, individual=individual)
    save_labeled_frames(merged, out)
    added = len(merged) - len(train_frames)
    typer.echo(
        f"merged {training} ({len(train_frames)} frames) with {corrected}: "
        f"{added} frames added, the rest replaced; {len(merged)} frames in {out}"
    )


@app.command()
@friendly_errors
def render(
    poses: Annotated[Path, typer.Argument(help="Pose file to draw (.nc, .csv, .h5, .slp, .nwb).")],
    video: Annotated[Path, typer.Argument(help="The video the poses belong to.")],
    out: Annotated[Path, typer.Option("--out", help="Labeled video to write (.mp4).")],
    trail: Annotated[int, typer.Option(help="Draw each keypoint's path over the last N frames.")] = 0,
    start: Annotated[int, typer.Option(help="First frame to render.")] = 0,
    end: Annotated[int | None, typer.Option(help="Frame after the last one to render (default: all).")] = None,
    min_confidence: Annotated[float | None, typer.Option(help="Hide keypoints below this confidence.")] = None,
    radius: Annotated[float, typer.Option(help="Keypoint radius in pixels.")] = 3.0,
) -> None:
    """Draw keypoints (coloured by confidence) and the skeleton over a video."""
    import warnings  # lazy: loads when the command runs (a fast --help)

    from behaviorlab.results.render import (  # lazy: loads when the command runs (a fast --help)
        PoseVideoMismatchWarning,
        render_poses,
    )

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PoseVideoMismatchWarning)
        written = render_poses(
            poses, video, out, trail=trail, start=start, end=end, min_confidence=min_confidence, radius=radius
        )
    for warning in caught:
        typer.secho(f"warning: {warning.message}", fg=typer.colors.YELLOW, err=True)
    typer.echo(f"wrote {written}")


@app.command("sample-data")
@friendly_errors
def sample_data(
    out: Annotated[Path, typer.Option(help="Folder to write the generated sample data into.")] = Path("sample_data"),
) -> None:
    """Regenerate the sample data (video, poses, labels) bit for bit from its seed."""
    from behaviorlab.synthetic.sample import generate_sample_data  # lazy: loads when the command runs (a fast --help)

    manifest = generate_sample_data(out)
    typer.echo(f"wrote {manifest}")


@app.command()
@friendly_errors
def demo(
    out: Annotated[Path, typer.Option(help="Folder for the demo's outputs.")] = Path("behaviorlab_demo"),
    sample: Annotated[
        Path | None,
        typer.Option(help="Sample data folder to use; generated into OUT/sample_data when absent."),
    ] = None,
    workers: Annotated[int | None, typer.Option(help="Dask worker processes (default: one per core).")] = None,
) -> None:
    """Run the end-to-end job on the sample data: `init` plus `run` on a sample project (no network, no GPU)."""
    from behaviorlab.project.demo import run_demo  # lazy: loads when the command runs (a fast --help)

    summary = run_demo(out, sample_dir=sample, workers=workers)
    typer.echo(summary)


# project commands (behaviorlab.cli.project), then the results commands (behaviorlab.cli.results)
app.command("init")(init)
app.command("run")(run)
app.command("query")(query)
app.command("compare")(compare)
app.command("export")(export)
app.command("dashboard")(dashboard)


def main() -> None:
    """Console-script entry point."""
    # TensorFlow's C++ log lines (start-up chatter, `cuInit` errors on machines without a GPU) are dropped from the
    # command line's output unless --verbose asks for them; the library itself changes nothing in the process.
    if not {"--verbose", "-v"} & set(sys.argv[1:2]):
        from behaviorlab.environment import filter_native_logs  # lazy: loads when the command runs (a fast --help)

        filter_native_logs()
    app(prog_name="behaviorlab")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
