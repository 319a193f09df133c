"""The ``behaviorlab`` command line: one thin typer app over the library.

Every command calls library functions; heavy imports happen inside the
commands so ``behaviorlab --help`` stays fast.  Errors raised on purpose by the
package (:class:`behaviorlab.errors.BehaviorlabError`) are printed as one line
and give exit code 1, without a traceback.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from behaviorlab.errors import BehaviorlabError, SchemaError

app = typer.Typer(
    name="behaviorlab",
    help="From animal video to poses, behaviors and statistics.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

POSE_SOURCES = ("dlc", "sleap", "nwb", "netcdf")


def _friendly_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the package's own errors into a one-line message and exit code 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except BehaviorlabError as err:
            typer.secho(f"error: {err}", fg=typer.colors.RED, err=True)
            raise typer.Exit(code=1) from None

    return wrapper


@app.command()
@_friendly_errors
def info(as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False) -> None:
    """Show versions, the Keras backend and the compute devices."""
    from behaviorlab.environment import environment_report

    report = environment_report()
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="behaviorlab environment", show_header=False)
    for key, value in report.items():
        table.add_row(key, ", ".join(value) if isinstance(value, list) else str(value))
    Console().print(table)


@app.command()
@_friendly_errors
def convert(
    input: Annotated[Path, typer.Argument(help="Pose file to read (.nc, .csv, .h5, .slp, .nwb).")],
    output: Annotated[Path, typer.Argument(help="Pose file to write; the format follows the extension.")],
    source: Annotated[
        str | None, typer.Option(help=f"Force the input format: one of {', '.join(POSE_SOURCES)}.")
    ] = None,
    fps: Annotated[float | None, typer.Option(help="Frames per second, for formats that do not store it.")] = None,
) -> None:
    """Convert a pose file between DeepLabCut, SLEAP, NWB and netCDF."""
    from behaviorlab.io.save import convert_poses

    if source is not None and source not in POSE_SOURCES:
        raise typer.BadParameter(f"--source must be one of {', '.join(POSE_SOURCES)}, got {source!r}")
    written = convert_poses(input, output, source=source, fps=fps)
    typer.echo(f"wrote {written}")


MODEL_NAMES = ("stacked_densenet", "stacked_hourglass", "leap", "deeplabcut")


@app.command()
@_friendly_errors
def train(
    labels: Annotated[
        Path, typer.Argument(help="Labeled frames: .labels.h5, a DeepLabCut project, .slp or DeepPoseKit .h5.")
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
) -> None:
    """Train a pose model on labeled frames."""
    from behaviorlab.pose.train import TrainConfig, train_model

    if model not in MODEL_NAMES:
        raise typer.BadParameter(f"--model must be one of {', '.join(MODEL_NAMES)}, got {model!r}")
    fields: dict[str, Any] = _read_config(config) if config is not None else {}
    given = {"model": model, "epochs": epochs, "val_fraction": val_fraction, "seed": seed, "batch_size": batch_size}
    fields.update({k: v for k, v in given.items() if v is not None})
    result = train_model(labels, out, TrainConfig.from_dict(fields), resume=resume, verbose=2)
    typer.echo(
        f"trained {model} for {result.epochs} epochs in {result.training_seconds:.0f} s; best epoch "
        f"{result.best_epoch}: mean validation error {result.best_val_px_error:.2f} px; model in {result.model_dir}"
    )
    if result.val_report is not None:
        typer.echo(result.val_report.to_markdown())


@app.command()
@_friendly_errors
def evaluate(
    model_dir: Annotated[Path, typer.Argument(help="Model folder written by `behaviorlab train`.")],
    labels: Annotated[Path, typer.Argument(help="Labeled frames to score the model on.")],
    all_frames: Annotated[
        bool, typer.Option("--all", help="Score every labeled frame, not only the saved validation split.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Per-keypoint error (pixels) and PCK of a trained model."""
    import numpy as np

    from behaviorlab.pose.predict import evaluate_model

    indices = None
    if all_frames:
        from behaviorlab.io.labeled_frames import load_labeled_frames

        indices = np.arange(len(load_labeled_frames(labels)))
    report = evaluate_model(model_dir, labels, indices=indices)
    typer.echo(json.dumps(report.to_dict(), indent=2) if as_json else report.to_markdown())


def _read_config(path: Path) -> dict[str, Any]:
    """Read a YAML/JSON mapping of options, with a clear error naming the file."""
    import yaml

    from behaviorlab.errors import FileFormatError

    if not path.is_file():
        raise FileFormatError(path, "config file not found")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise FileFormatError(path, f"not valid YAML/JSON: {err}") from None
    if not isinstance(data, dict):
        raise FileFormatError(path, "expected a mapping of option names to values")
    return data


NETCDF_SUFFIXES = (".nc", ".nc4", ".netcdf")


@app.command()
@_friendly_errors
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
    overwrite: Annotated[bool, typer.Option(help="Replace OUT if it exists.")] = False,
) -> None:
    """Clean poses, compute per-frame features and their Morlet spectrogram into one netCDF file."""
    from behaviorlab.errors import FileFormatError, OutputExistsError
    from behaviorlab.filtering import cleaning_report
    from behaviorlab.io.load import load_poses
    from behaviorlab.io.save import save_poses
    from behaviorlab.pipeline import SessionFeaturesConfig, compute_session_features

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
            settings = SessionFeaturesConfig.from_dict(_read_config(config))
        except SchemaError as err:
            raise FileFormatError(config, str(err)) from None
    ds = load_poses(poses, source=source, fps=fps)
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
    typer.echo(f"features: {result.sizes['feature']}")
    if "spectrogram" in result:
        freqs = result["frequency"].values
        shape = " x ".join(f"{d} {n}" for d, n in result["spectrogram"].sizes.items())
        typer.echo(f"spectrogram: {shape} ({freqs[0]:.3g}-{freqs[-1]:.3g} Hz)")
    else:
        typer.echo("spectrogram: skipped")
    typer.echo(f"wrote {out}")


@app.command("sample-data")
@_friendly_errors
def sample_data(
    out: Annotated[Path, typer.Option(help="Folder to write the generated sample data into.")] = Path("sample_data"),
) -> None:
    """Regenerate the sample data (video, poses, labels) bit for bit from its seed."""
    from behaviorlab.synthetic import generate_sample_data

    manifest = generate_sample_data(out)
    typer.echo(f"wrote {manifest}")


@app.command()
@_friendly_errors
def demo(
    out: Annotated[Path, typer.Option(help="Folder for the demo's outputs.")] = Path("behaviorlab_demo"),
    sample: Annotated[
        Path | None,
        typer.Option(help="Sample data folder to use; generated into OUT/sample_data when absent."),
    ] = None,
) -> None:
    """Run the end-to-end job on the sample data (no network, no GPU)."""
    from behaviorlab.demo import run_demo

    summary = run_demo(out, sample_dir=sample)
    typer.echo(summary)


def main() -> None:
    """Console-script entry point."""
    import os

    # Quiet TensorFlow's C++ start-up chatter for command-line use (the library itself sets nothing).
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    app(prog_name="behaviorlab")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
