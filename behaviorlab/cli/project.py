"""``behaviorlab init`` and ``behaviorlab run``: a project folder, then every stage for every session."""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Annotated

import typer

from behaviorlab.cli.common import friendly_errors, read_config
from behaviorlab.cli.trust import TrustOption, apply_trust


def _expand(patterns: list[str] | None, what: str) -> list[Path]:
    """Return the files matching each glob pattern (a folder: every file in it); matching none is an error."""
    files: list[Path] = []
    for pattern in patterns or []:
        path = Path(pattern).expanduser()
        hits = (
            sorted(p for p in path.iterdir() if p.is_file())
            if path.is_dir()
            else sorted(Path(p) for p in glob.glob(str(path)))
        )
        if not hits:
            raise typer.BadParameter(f"{what} {pattern!r} matches no file")
        files += hits
    return files


@friendly_errors
def init(
    project: Annotated[Path, typer.Argument(help="Project folder to create.")],
    videos: Annotated[
        list[str] | None, typer.Option("--videos", help="Video files (a glob or a folder); one session each.")
    ] = None,
    poses: Annotated[
        list[str] | None,
        typer.Option("--poses", help="Pose files (DeepLabCut, SLEAP, NWB, netCDF), matched to sessions by name."),
    ] = None,
    annotations: Annotated[
        list[str] | None,
        typer.Option("--annotations", help="Annotation files (BORIS, per-frame CSV), matched by name."),
    ] = None,
    metadata: Annotated[
        Path | None, typer.Option(help="Per-animal metadata CSV (session, subject, group, ...).")
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="YAML/JSON with the sections that differ from the defaults.")
    ] = None,
    fps: Annotated[
        float | None,
        typer.Option(help="Frame rate of sessions whose files do not give one (DeepLabCut files without video)."),
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace an existing config and sessions table.")] = False,
) -> None:
    """Write PROJECT/behaviorlab.yaml (every stage's parameters) and PROJECT/sessions.csv."""
    from behaviorlab.project.config import init_project  # lazy: loads when the command runs (a fast --help)

    cfg = init_project(
        project,
        videos=_expand(videos, "--videos"),
        poses=_expand(poses, "--poses"),
        annotations=_expand(annotations, "--annotations"),
        metadata=metadata,
        config=read_config(config) if config else None,
        fps=fps,
        force=force,
    )
    table = cfg.sessions() if (project / "sessions.csv").stat().st_size else None
    n = 0 if table is None else len(table)
    typer.echo(f"wrote {project / 'behaviorlab.yaml'} and {project / 'sessions.csv'} ({n} sessions)")
    if table is not None and table["fps"].isna().any():
        missing = table.loc[table["fps"].isna(), "session"].tolist()
        shown = ", ".join(missing[:3]) + (" ..." if len(missing) > 3 else "")
        typer.secho(
            f"{len(missing)} sessions have no frame rate ({shown}): fill their fps column in sessions.csv, "
            "or run init again with --fps",
            fg=typer.colors.YELLOW,
        )
    typer.echo(f"edit them, then: behaviorlab run {project}")


@friendly_errors
def run(
    project: Annotated[Path, typer.Argument(help="Project folder (see `behaviorlab init`).")],
    scheduler: Annotated[
        str | None,
        typer.Option(
            help="Dask scheduler address (tcp://HOST:PORT), or 'sync' to run in this process; default: a local cluster."
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(help="Worker processes of the local cluster (default: run.workers, else one per core)."),
    ] = None,
    session: Annotated[
        list[str] | None, typer.Option("--session", help="Run only this session (repeat for several).")
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar and the Dask dashboard link.")] = True,
    trust: TrustOption = None,
) -> None:
    """Run every stage for every session: poses, cleaning, features, behavior models, statistics, store, exports.

    Finished stages are skipped; a changed parameter re-runs its stage and
    what depends on it. A failing session is reported while the others
    finish (exit code 1). The report is PROJECT/run_report.json.
    """
    from behaviorlab.project.runner import run_project  # lazy: loads when the command runs (a fast --help)

    apply_trust(trust)
    try:
        report = run_project(project, scheduler=scheduler, workers=workers, progress=progress, sessions=session)
    except KeyboardInterrupt:
        typer.secho(
            f"interrupted: every finished stage is kept in {project / 'cache'}; run `behaviorlab run {project}` "
            "again to continue from there",
            fg=typer.colors.YELLOW,
            err=True,
        )
        raise typer.Exit(130) from None
    typer.echo(report.summary())
    typer.echo(f"report: {project / 'run_report.json'}")
    typer.echo(f"open the dashboard on this project: behaviorlab dashboard {project}")
    if not report.ok:
        raise typer.Exit(1)
