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

from behaviorlab.errors import BehaviorlabError

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
    app(prog_name="behaviorlab")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
