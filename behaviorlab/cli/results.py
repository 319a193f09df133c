"""The results commands of the CLI: ``behaviorlab store``, ``query``, ``compare`` and ``export``.

Thin typer commands over :mod:`behaviorlab.results.store`, :mod:`behaviorlab.results.groups`
and :mod:`behaviorlab.results.export`, added to the main app in :mod:`behaviorlab.cli.app`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from behaviorlab.cli.common import friendly_errors
from behaviorlab.cli.trust import TrustOption, apply_trust
from behaviorlab.errors import MissingExtraError

__all__ = ["compare", "dashboard", "export", "query", "store_app"]

store_app = typer.Typer(help="Results stores: per-session Parquet tables queried with DuckDB.", no_args_is_help=True)

Project = Annotated[Path, typer.Argument(help="Results store folder.")]


def _print_table(table: Any, limit: int | None = 50) -> None:
    import pandas as pd  # lazy: loads when the command runs (a fast --help)

    with pd.option_context("display.max_columns", 50, "display.width", 200, "display.max_colwidth", 40):
        shown = table if limit is None or len(table) <= limit else table.head(limit)
        typer.echo(shown.to_string(index=False))
        if limit is not None and len(table) > limit:
            typer.echo(f"... {len(table) - limit} more rows (use --csv to write them all)")


def _session_files(files: list[Path], session: str | None) -> dict[str, list[Path]]:
    """Group files by session: ``--session`` for all, else the file name up to its first '.' (or '_poses')."""
    groups: dict[str, list[Path]] = {}
    for path in files:
        name = session or path.name.split(".")[0].removesuffix("_poses")
        groups.setdefault(name, []).append(path)
    return groups


def _load_session(paths: list[Path]) -> Any:
    """One Dataset from a session's files: netCDF (poses, labels, features) and pose files, merged."""
    import xarray as xr  # lazy: loads when the command runs (a fast --help)

    from behaviorlab.errors import FileFormatError  # lazy: loads when the command runs (a fast --help)
    from behaviorlab.io.load import load_netcdf, load_poses  # lazy: loads when the command runs (a fast --help)

    parts = []
    for path in paths:
        if not path.is_file():
            raise FileFormatError(path, "file not found")
        if path.suffix.lower() in (".nc", ".nc4"):
            ds = load_netcdf(path)
            keep = [v for v in ds.data_vars if v not in ("features", "spectrogram")]  # large and not results
            parts.append(ds[keep])
        else:
            parts.append(load_poses(path))
    try:
        merged = xr.merge(parts, compat="override", join="outer", combine_attrs="drop_conflicts")
    except (ValueError, xr.MergeError) as err:
        raise FileFormatError(paths[0], f"cannot combine the session's files {[str(p) for p in paths]}: {err}") from err
    for part in parts:
        if part.attrs.get("fps") is not None:
            merged.attrs.setdefault("fps", part.attrs["fps"])
    return merged


@store_app.command("create")
@friendly_errors
def store_create(
    project: Project,
    bin_s: Annotated[float | None, typer.Option(help="Time bins of the *_by_bin tables (s); 0 for none.")] = 60.0,
    zones: Annotated[Path | None, typer.Option(help='JSON file of zones: {"name": [[x, y], ...]} in pixels.')] = None,
    px_per_cm: Annotated[float | None, typer.Option(help="Spatial calibration for distances.")] = None,
    keypoint: Annotated[str, typer.Option(help="Point whose movement and zone visits count.")] = "centroid",
) -> None:
    """Create an empty results store with its settings."""
    from behaviorlab.cli.common import read_config  # lazy: loads when the command runs (a fast --help)
    from behaviorlab.results.store import ResultsStore  # lazy: loads when the command runs (a fast --help)

    polygons = read_config(zones) if zones is not None else None
    store = ResultsStore.create(project, bin_s=bin_s or None, zones=polygons, px_per_cm=px_per_cm, keypoint=keypoint)
    typer.echo(f"created {store.path}")


@store_app.command("add")
@friendly_errors
def store_add(
    project: Project,
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Session files: labels (.ethogram.nc, .map.nc, .behaviors.nc), poses (.nc, .slp, .h5, .csv). "
            "Files of one session share the name before the first '.'."
        ),
    ],
    session: Annotated[str | None, typer.Option(help="Session name for all files (default: from the names).")] = None,
    no_dataset: Annotated[bool, typer.Option("--no-dataset", help="Do not keep the merged Dataset.")] = False,
) -> None:
    """Add (or replace) sessions: bouts, statistics, transitions, movement and zones from their files."""
    from behaviorlab.results.store import ResultsStore  # lazy: loads when the command runs (a fast --help)

    store = ResultsStore(project)
    for name, paths in _session_files(files, session).items():
        entry = store.add_session(name, _load_session(paths), save_dataset=not no_dataset)
        rows = ", ".join(f"{k} {v}" for k, v in entry["rows"].items())
        typer.echo(f"{name}: {rows}")


@store_app.command("metadata")
@friendly_errors
def store_metadata(
    project: Project,
    csv: Annotated[Path, typer.Argument(help="CSV with session[, subject|individual], group, condition, ...")],
) -> None:
    """Set the session metadata (subject, group, condition, day, ...) joined in the question views."""
    from behaviorlab.errors import FileFormatError  # lazy: loads when the command runs (a fast --help)
    from behaviorlab.results.store import ResultsStore  # lazy: loads when the command runs (a fast --help)

    if not csv.is_file():
        raise FileFormatError(csv, "metadata file not found")
    table = ResultsStore(project).set_metadata(csv)
    typer.echo(f"metadata: {len(table)} rows, columns {list(table.columns)}")


@store_app.command("list")
@friendly_errors
def store_list(project: Project) -> None:
    """List the sessions of a store."""
    from behaviorlab.results.store import ResultsStore  # lazy: loads when the command runs (a fast --help)

    _print_table(ResultsStore(project).query("SELECT * FROM sessions ORDER BY session"), limit=None)


@store_app.command("vacuum")
@friendly_errors
def store_vacuum(project: Project) -> None:
    """Delete files left by interrupted writes (no session references them)."""
    from behaviorlab.results.store import ResultsStore  # lazy: loads when the command runs (a fast --help)

    removed = ResultsStore(project).vacuum()
    typer.echo(f"removed {len(removed)} unreferenced files and folders")


@friendly_errors
def query(
    project: Project,
    sql: Annotated[str, typer.Argument(help="SQL over the views: bouts, behavior_stats, time_budget, ...")],
    csv: Annotated[Path | None, typer.Option("--csv", help="Write the result to this CSV file.")] = None,
    limit: Annotated[int, typer.Option(help="Rows to print (0: all).")] = 50,
) -> None:
    """Run SQL over a results store and print the result (or write it as CSV)."""
    from behaviorlab._atomic import atomic_path  # lazy: loads when the command runs (a fast --help)
    from behaviorlab.results.store import ResultsStore  # lazy: loads when the command runs (a fast --help)

    table = ResultsStore(project).query(sql)
    if csv is not None:
        with atomic_path(csv) as tmp:
            table.to_csv(tmp, index=False)
        typer.echo(f"wrote {len(table)} rows to {csv}")
    else:
        _print_table(table, limit or None)


@friendly_errors
def compare(
    project: Project,
    group: Annotated[str, typer.Option(help="Metadata column with the groups.")] = "group",
    table: Annotated[str, typer.Option(help="Table to compare: behavior_stats, movement or zones.")] = "behavior_stats",
    measure: Annotated[list[str] | None, typer.Option(help="Measures to compare (repeat); default per table.")] = None,
    source: Annotated[str | None, typer.Option(help="Only this label source.")] = None,
    test: Annotated[str, typer.Option(help="auto, mannwhitney, kruskal or permutation.")] = "auto",
    csv: Annotated[Path | None, typer.Option("--csv", help="Write the comparison table here.")] = None,
    figure: Annotated[
        Path | None, typer.Option(help="Write a box/strip figure of the first measure: .html, .png, .svg or .pdf.")
    ] = None,
) -> None:
    """Compare groups per behavior and measure: rank tests, effect sizes, Benjamini-Hochberg correction."""
    from behaviorlab._atomic import atomic_path  # lazy: loads when the command runs (a fast --help)
    from behaviorlab.results.groups import (  # lazy: loads when the command runs (a fast --help)
        DEFAULT_MEASURES,
        compare_groups,
        group_figure,
    )
    from behaviorlab.results.store import ResultsStore, StoreError  # lazy: loads when the command runs (a fast --help)

    store = ResultsStore(project)
    data = store.table(table)
    if source is not None and "source" in data.columns:
        data = data[data["source"] == source]
    metadata = store.table("metadata") if "metadata" in store.views() else None
    if metadata is None and group not in data.columns:
        raise StoreError(f"{project}: the store has no metadata; add it with `behaviorlab store metadata`")
    measures = measure or DEFAULT_MEASURES.get(table)
    by = [c for c in ("source", "behavior", "zone") if c in data.columns]
    result = compare_groups(data, metadata, group=group, measures=measures, by=by, test=test)
    result = _with_classifier_quality(project, result)
    if csv is not None:
        with atomic_path(csv) as tmp:
            result.to_csv(tmp, index=False)
        typer.echo(f"wrote {csv}")
    columns = [*by, "measure", "groups", "n", "p_value", "p_adjusted", "effect_size", "classifier_f1", "note"]
    _print_table(result[[c for c in columns if c in result.columns]], limit=None)
    if figure is not None:
        facet = "behavior" if "behavior" in data.columns else ("zone" if "zone" in data.columns else None)
        fig = group_figure(
            data, metadata, measure=(measures or [result["measure"].iloc[0]])[0], group=group, facet=facet
        )
        from behaviorlab.results.figure_files import write_figure  # lazy: loads when the command runs (a fast --help)

        write_figure(fig, figure)
        typer.echo(f"wrote {figure}")


def _with_classifier_quality(project: Path, result: Any) -> Any:
    """Add the held-out F1 of each classifier behavior to its rows; say which are below the quality floor."""
    from behaviorlab.project.view import Project  # lazy: loads when the command runs (a fast --help)

    if "source" not in result.columns or not (result["source"] == "behavior_prediction").any():
        return result
    proj = Project.open(project if (project / "behaviorlab.yaml").is_file() else project.parent)
    quality = proj.classifier_quality()
    if quality.empty:
        return result
    rows = result["source"] == "behavior_prediction"
    f1 = dict(zip(quality["behavior"], quality["f1"], strict=True))
    result = result.assign(classifier_f1=result["behavior"].map(f1).where(rows).round(3))
    weak = quality.loc[quality["below_floor"], "behavior"].tolist()
    if weak:
        typer.secho(
            f"classifier behaviors below the quality floor ({proj.quality_floor:g} held-out F1): "
            + ", ".join(f"{b} {f1[b]:.2f}" for b in weak)
            + "; their statistics show what the classifier labels, not what the animals did",
            fg=typer.colors.YELLOW,
        )
    return result


@friendly_errors
def export(
    project: Project,
    out: Annotated[Path, typer.Option("--out", help="Output folder.")],
    format: Annotated[
        str, typer.Option("--format", help="Comma-separated: csv, excel, parquet, nwb, boris, simba.")
    ] = "csv",
    session: Annotated[list[str] | None, typer.Option(help="Only these sessions (repeat).")] = None,
    source: Annotated[list[str] | None, typer.Option(help="Only these label sources for BORIS/SimBA (repeat).")] = None,
) -> None:
    """Export a results store: tables as CSV/Excel/Parquet, sessions as NWB, BORIS and SimBA files."""
    from behaviorlab.results.export import export_store  # lazy: loads when the command runs (a fast --help)

    formats = [f.strip().lower() for f in format.split(",") if f.strip()]
    written = export_store(project, out, formats, sessions=session, sources=source)
    typer.echo(json.dumps({k: [str(p) for p in v] for k, v in written.items()}, indent=1))


def dashboard_app_path() -> Path:
    """Return the dashboard's Streamlit script (``dashboards/app.py`` of the repository this package runs from)."""
    import behaviorlab  # lazy: loads when the command runs (a fast --help)

    return Path(behaviorlab.__file__).resolve().parent.parent / "dashboards" / "app.py"


@friendly_errors
def dashboard(
    project: Annotated[
        Path, typer.Argument(help="Project folder (the demo's output folder, or one with a results store).")
    ],
    port: Annotated[int, typer.Option(help="Port on localhost.")] = 8501,
    browser: Annotated[bool, typer.Option(help="Open a web browser.")] = True,
    host: Annotated[
        str, typer.Option(help="Address to listen on; beyond localhost, others on the network can reach it.")
    ] = "localhost",
    password: Annotated[
        bool,
        typer.Option(
            "--password",
            help="Ask for a password to set, instead of a new token in the link (or: BEHAVIORLAB_DASHBOARD_PASSWORD).",
        ),
    ] = False,
    trust: TrustOption = None,
) -> None:
    """Open the dashboard on a project: overview, poses, labeling, training, behavior map, ethograms, statistics.

    Only its owner can use it: it listens on localhost, and its pages ask for
    the run's token (in the link printed here) or the password you set.
    """
    import importlib.util  # lazy: loads when the command runs (a fast --help)
    import os  # lazy: loads when the command runs (a fast --help)
    import subprocess  # lazy: loads when the command runs (a fast --help)
    import sys  # lazy: loads when the command runs (a fast --help)

    from behaviorlab.project import dashboard_access as access  # lazy: loads when the command runs (a fast --help)
    from behaviorlab.project.view import Project, ProjectError  # lazy: loads when the command runs (a fast --help)

    Project.open(project)  # a clear error for a missing folder before Streamlit starts
    if importlib.util.find_spec("streamlit") is None:
        raise MissingExtraError("dashboard", "streamlit")
    apply_trust(trust)
    if password:
        secret = access.check_password(typer.prompt("dashboard password", hide_input=True, confirmation_prompt=True))
    elif os.environ.get(access.PASSWORD_ENV):
        secret = access.check_password(os.environ[access.PASSWORD_ENV])
    else:
        secret = None
    token = access.new_token() if secret is None else None
    app = dashboard_app_path()
    if not app.is_file():
        raise ProjectError(
            f"{app}: the dashboard's pages are not installed with this copy of behaviorlab; "
            "install it from the repository (`pip install -e .`)"
        )
    command = [
        sys.executable, "-m", "streamlit", "run", str(app),
        "--server.address", host, "--server.port", str(port),
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
        "--", str(project.resolve()),
    ]  # fmt: skip
    if not access.is_local(host):
        typer.secho(access.tunnel_hint(host, port), fg=typer.colors.YELLOW, err=True)
    url = access.dashboard_url(host, port, token)
    how = "the token in this link lets you in" if token is not None else "it asks for your password"
    typer.echo(f"dashboard on {url} ({how}; Ctrl+C stops it)")
    env = {**os.environ, "BEHAVIORLAB_PROJECT": str(project.resolve()), access.SECRET_ENV: secret or token}
    env.pop(access.PASSWORD_ENV, None)
    server = subprocess.Popen(command, env=env)
    if browser:
        access.open_browser_when_ready(url, host, port)
    raise typer.Exit(_serve(server))


def _serve(server: Any) -> int:
    """Wait for the Streamlit server; stop it when this command is stopped (Ctrl+C, kill, a closed terminal)."""
    import signal  # lazy: loads when the command runs (a fast --help)
    import subprocess  # lazy: loads when the command runs (a fast --help)

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    handlers = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        return server.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:  # still running after 10 s: no choice left
                server.kill()
                server.wait()
