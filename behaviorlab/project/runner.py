"""``behaviorlab run``: every session of a project from video to statistics, resumable, on Dask.

The stages, in the order they depend on each other::

    pose_model (project: a given model, or trained from labeled frames)
    poses       (session: the video predicted, or the session's pose file read and checked)
    clean       (session: behaviorlab.trajectories.filtering.clean_poses)
    features    (session: per-frame features and their Morlet spectrogram)
    annotations (session: its annotation file, when it has one)
    behavior_map, ethogram, syllables    (project: fitted on every session that got this far)
    classifier_model, classifier_fold    (project: the classifier on every annotated session, and one
                                          task per cross-validation fold, session ``_project_foldNNN``)
    classifier  (project: the model and the pooled out-of-fold decisions)
    map_labels, states, syllable_labels, behaviors (session: each fitted model applied)
    store       (session: every label source into the results store, with its statistics)
    render      (session: a labeled video of the first seconds, when asked)
    exports     (project: the store in the configured formats)

Every output is cached under ``PROJECT/cache/<stage>/<session>/<key>`` (see
:mod:`behaviorlab.project.cache`); the key hashes the stage's parameters, the keys
of what it reads and the content of the files it reads. A re-run skips what
is done, a changed parameter re-runs its stage and what depends on it, and an
interrupted run loses at most the stages in flight.

Sessions run in parallel on a Dask cluster: a local one with worker processes
by default, or any scheduler (``scheduler="tcp://host:8786"``, e.g. one
started by dask-jobqueue on SLURM or PBS). A session that fails (a corrupt
video, a short pose file, a keypoint that is never seen, a keypoint set that
does not match the model, a full disk) is reported with its stage and error
in :class:`RunReport`, and the other sessions go on.

This module schedules the stages and finishes the run (models published,
exports); the stages themselves are in :mod:`behaviorlab.project.stages` (per
session) and :mod:`behaviorlab.project.fits` (the models fitted across
sessions), and what they report in :mod:`behaviorlab.project.report`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from behaviorlab import model_trust
from behaviorlab._atomic import atomic_path
from behaviorlab.errors import BehaviorlabError
from behaviorlab.io.load import load_poses
from behaviorlab.project.cache import stage_key
from behaviorlab.project.config import ProjectConfig
from behaviorlab.project.fits import (
    fold_session,
    n_fold_tasks,
    stage_behavior_map,
    stage_classifier,
    stage_classifier_fold,
    stage_classifier_model,
    stage_ethogram,
    stage_syllables,
)
from behaviorlab.project.report import PROJECT, RunError, RunReport, StageResult, describe_error
from behaviorlab.project.stages import (
    APPLY,
    CACHE,
    cached_output,
    guarded,
    open_store,
    stage_annotations,
    stage_apply,
    stage_cache,
    stage_clean,
    stage_features,
    stage_pose_model,
    stage_poses,
    stage_render,
    stage_store,
)
from behaviorlab.results.export import export_store
from behaviorlab.results.store import ResultsStore

__all__ = ["PROJECT", "RunReport", "StageResult", "run_project"]

log = logging.getLogger(__name__)

REPORT = "run_report.json"
#: Where the current models and labeled videos are published (the dashboard finds them there).
MODELS = "models"


# --------------------------------------------------------------------------- executors
class _Done:
    """A finished computation with the interface of a Dask future (``result``, ``key``)."""

    def __init__(self, value: Any, key: str) -> None:
        self.value, self.key = value, key

    def result(self) -> Any:
        return self.value


def _resolve(value: Any) -> Any:
    if isinstance(value, _Done):
        return value.value
    if isinstance(value, list | tuple):
        return type(value)(_resolve(v) for v in value)
    if isinstance(value, dict):
        return {k: _resolve(v) for k, v in value.items()}
    return value


class _SyncExecutor:
    """Runs every task at once in this process (``scheduler="sync"``: tests, debugging, one small project)."""

    dashboard_link = None

    def submit(self, fn: Callable[..., Any], *args: Any, key: str, resources: Mapping[str, Any] | None = None) -> _Done:
        return _Done(fn(*_resolve(args)), key)

    def as_completed(self, futures: Sequence[_Done]) -> Iterator[_Done]:
        yield from futures


class _DaskExecutor:
    """Tasks on a ``distributed`` client; each task's dependencies are the futures among its arguments."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.dashboard_link = getattr(client, "dashboard_link", None)

    def submit(self, fn: Callable[..., Any], *args: Any, key: str, resources: Mapping[str, Any] | None = None) -> Any:
        return self.client.submit(fn, *args, key=key, pure=False, resources=dict(resources) if resources else None)

    def as_completed(self, futures: Sequence[Any]) -> Iterator[Any]:
        from distributed import as_completed  # lazy: Dask (seconds to import)

        yield from as_completed(futures)


@contextlib.contextmanager
def _workers_ignore_interrupt() -> Iterator[None]:
    """Start worker processes with Ctrl-C ignored: it stops the run in this process, which closes the cluster.

    A process inherits an ignored SIGINT (Python then installs no handler of
    its own), so a Ctrl-C in a terminal no longer prints a traceback from
    every worker; this process's own handler is back as soon as they run.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def _executor(config: ProjectConfig, scheduler: str | None, workers: int | None) -> Iterator[Any]:
    """Yield the executor: ``"sync"``, a scheduler address, or a new local cluster of worker processes."""
    if scheduler == "sync":
        yield _SyncExecutor()
        return
    from distributed import Client, LocalCluster  # lazy: Dask (seconds to import)

    if scheduler:
        with Client(scheduler) as client:
            yield _DaskExecutor(client)
        return
    run = config.run
    n = workers or run.workers or max(1, min(os.cpu_count() or 1, 8))
    resources = config.poses.resources or None
    with _workers_ignore_interrupt():  # only while the workers start
        cluster = LocalCluster(
            n_workers=n,
            threads_per_worker=run.threads_per_worker,
            processes=True,
            memory_limit=run.memory_limit,
            resources=resources,
            dashboard_address=":0",
            # Dask's own warnings (a nanny killing a slow-to-stop worker at shutdown) only with `behaviorlab -v`
            silence_logs=logging.WARNING if os.environ.get("BEHAVIORLAB_VERBOSE") else logging.ERROR,
        )
    with cluster, Client(cluster) as client:
        yield _DaskExecutor(client)


@contextlib.contextmanager
def _project_lock(root: Path) -> Iterator[None]:
    """Hold ``PROJECT/cache/.run.lock``: one run per project at a time."""
    import fcntl  # lazy: fcntl (POSIX only)

    (root / CACHE).mkdir(parents=True, exist_ok=True)
    handle = open(root / CACHE / ".run.lock", "a+")  # noqa: SIM115 - held for the block
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunError(f"{root}: another `behaviorlab run` is running on this project") from None
        yield
    finally:
        handle.close()


def _remove_debris(cache_root: Path) -> None:
    """Remove temporary files a killed run left (never a resumable checkpoint folder)."""
    for tmp in cache_root.rglob(".*.tmp*"):
        if tmp.is_file():
            tmp.unlink(missing_ok=True)
    for tmp in cache_root.rglob(".*.partial"):
        if tmp.is_dir() and not tmp.name.endswith(".nc.partial"):
            shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------- the run
def _publish(src: Path, dst: Path) -> None:
    """Copy a cached file or folder to ``dst`` atomically (a reader sees the old or the new one).

    A cache output's path names its key, so ``dst`` is copied only when
    ``src`` is another output than the one published last
    (``.<name>.from`` beside ``dst`` remembers it).
    """
    stamp = dst.with_name(f".{dst.name}.from")
    if dst.exists() and stamp.is_file() and stamp.read_text() == str(src):
        return
    if src.is_dir():
        tmp = dst.with_name(f".{dst.name}.{uuid.uuid4().hex[:8]}.partial")
        shutil.copytree(src, tmp)
        old = dst.with_name(f".{dst.name}.old") if dst.exists() else None
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
            os.replace(dst, old)
        os.replace(tmp, dst)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    else:
        with atomic_path(dst) as tmp:
            shutil.copyfile(src, tmp)
    with atomic_path(stamp) as tmp:
        tmp.write_text(str(src))


def _finish(
    config: ProjectConfig, table: pd.DataFrame, results: list[StageResult], store_ok: list[str]
) -> list[StageResult]:
    """Project steps after the sessions: metadata, sessions removed from the table, models published, exports."""
    out: list[StageResult] = []
    store = ResultsStore(config.root / "results")
    for gone in sorted(set(store.sessions) - set(table["session"])):
        store.remove_session(gone)
    metadata_file = config.path(config.metadata)
    if metadata_file is not None:
        store.set_metadata(metadata_file)
    else:
        columns = [c for c in table.columns if c not in ("video", "poses", "annotations", "fps", "individual")]
        if len(columns) > 1:
            store.set_metadata(table[columns].astype(str))
    by = {(r.stage, r.session): r for r in results}
    models = config.root / MODELS
    saved = (
        ("behavior_map", "map.pkl"),
        ("ethogram", "hmm.pkl"),
        ("syllables", "arhmm.pkl"),
        ("classifier", "classifier.pkl"),
    )
    for stage, name in saved:
        r = by.get((stage, PROJECT))
        if r is not None and r.key is not None:
            src = Path(r.path)
            _publish(src / name if src.is_dir() else src, models / name)
            model_trust.vouch_copy(src / name if src.is_dir() else src, models / name)  # the copy loads too
    r = by.get(("pose_model", PROJECT))
    if r is not None and r.key is not None and config.pose_model.training_frames:
        _publish(Path(r.path), models / "pose_model")
    for r in results:
        if r.stage == "render" and r.key is not None:
            _publish(Path(r.path), config.root / "labeled_videos" / f"{r.session}.mp4")
    out.append(guarded("exports", PROJECT, lambda: _exports(config, store, [by[("store", s)] for s in store_ok])))
    return out


def _exports(config: ProjectConfig, store: Any, stored: Sequence[StageResult]) -> StageResult:
    formats = config.exports.formats
    if not formats or not stored:
        return StageResult("exports", PROJECT)
    cache = stage_cache(config)
    metadata = store.metadata_version
    key = stage_key("exports", {"formats": formats, "metadata": metadata}, upstream={r.session: r.key for r in stored})
    target = config.root / "exports"

    def write(tmp: Path) -> None:
        staging = config.root / f".exports.{uuid.uuid4().hex[:8]}.partial"
        try:
            written = export_store(store, staging, formats)
            if target.exists():
                shutil.rmtree(target)
            os.replace(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        tmp.write_text(json.dumps({k: len(v) for k, v in written.items()}))

    done = cache.done("exports", PROJECT, key, ".json") and target.is_dir()
    if not done:
        cache.path("exports", PROJECT, key, ".json").unlink(missing_ok=True)
    path, ran = cached_output(cache, "exports", PROJECT, key, write, ".json")
    return StageResult("exports", PROJECT, key=key, path=str(path), ran=ran, info=json.loads(path.read_text()))


def run_project(
    project: str | Path,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: bool = False,
    sessions: Sequence[str] | None = None,
) -> RunReport:
    """Run every stage for every session of a project; resumable, on Dask.

    Parameters
    ----------
    project
        The project folder (``behaviorlab init`` makes one).
    scheduler
        None: a local Dask cluster of worker processes (``run.workers`` of
        the config, else one per core, at most 8); ``"tcp://host:port"``: an
        existing Dask scheduler (a cluster started by dask-jobqueue, say);
        ``"sync"``: everything in this process, one task after another.
    workers
        Workers of the local cluster (overrides ``run.workers``).
    progress
        Show a progress bar (rich) and the Dask dashboard link.
    sessions
        Run only these sessions (default: every session in the table).
        Project fits then see only them.

    Returns
    -------
    RunReport
        Every stage's result, also written to ``PROJECT/run_report.json``.

    Raises
    ------
    SchemaError, FileFormatError
        A bad config or sessions table (nothing runs).
    RunError
        Another run holds the project.
    """
    config = ProjectConfig.load(project)
    table = config.sessions()
    if sessions is not None:
        unknown = sorted(set(sessions) - set(table["session"]))
        if unknown:
            raise RunError(f"{config.root}: sessions {unknown} are not in the sessions table")
        table = table[table["session"].isin(list(sessions))].reset_index(drop=True)
    if table.empty:
        raise RunError(f"{config.root}: the sessions table lists no sessions")
    started = datetime.now(UTC).isoformat(timespec="seconds")
    start = time.perf_counter()
    with _project_lock(config.root):
        _remove_debris(config.root / CACHE)
        open_store(config)
        rows = [
            {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
            for row in table.to_dict(orient="records")
        ]
        config = _resolve_social(config, rows)
        with _executor(config, scheduler, workers) as ex:
            results, link = _run_tasks(ex, config, rows, progress)
        _remove_debris(config.root / CACHE)  # what a worker killed during this run was writing
        store_ok = sorted(r.session for r in results if r.stage == "store" and r.ok and r.key)
        results += _finish(config, table, results, store_ok)
    report = RunReport(config.root, tuple(results), time.perf_counter() - start, link, started)
    with atomic_path(config.root / REPORT) as tmp:
        tmp.write_text(json.dumps(report.to_dict(), indent=1, default=str))
    return report


def _resolve_social(config: ProjectConfig, rows: list[dict[str, Any]]) -> ProjectConfig:
    """``features.social: auto`` decided once for the project: on when every session has two or more animals.

    Every session must have the same feature columns for the map, the HMM and
    the classifiers, so a project that mixes one- and several-animal
    sessions computes none (and says so); ``features.social: true`` computes
    them everywhere (NaN for a lone animal).
    """
    features = config.features
    if features.features.social != "auto":
        return config

    animals = {}
    for row in rows:
        if row.get("poses"):
            try:
                ds = load_poses(Path(row["poses"]), source=config.poses.source, csv_columns=config.poses.csv_columns)
            except BehaviorlabError:
                continue  # the poses stage reports it
            animals[row["session"]] = int(ds.sizes["individual"])
        else:  # predicted: as many animals as the pose model finds (top-down models find several)
            animals[row["session"]] = int(config.pose_model.max_animals or 1)
    social = bool(animals) and min(animals.values()) >= 2
    lone = sorted(s for s, n in animals.items() if n < 2)
    if not social and len(lone) < len(animals):
        log.warning(
            "social features are off: sessions %s have one animal, and every session needs the same features "
            "(set features.social: true to compute them for every session, NaN for a lone animal)",
            lone[:5],
        )
    chosen = attrs.evolve(features, features=attrs.evolve(features.features, social=social))
    return attrs.evolve(config, features=chosen)


def _run_tasks(
    ex: Any, config: ProjectConfig, rows: list[dict[str, Any]], progress: bool
) -> tuple[list[StageResult], str | None]:
    """Submit the whole graph, then collect every result as it finishes."""
    token = uuid.uuid4().hex[:6]
    pose_resources = config.poses.resources or None

    def submit(fn: Callable[..., Any], name: str, session: str, *args: Any, resources: Any = None) -> Any:
        return ex.submit(fn, *args, key=f"{name}-{session}-{token}", resources=resources)

    futures: list[Any] = []
    model = submit(stage_pose_model, "pose_model", PROJECT, config)
    futures.append(model)
    poses, clean, feats, notes = {}, {}, {}, {}
    for row in rows:
        s = row["session"]
        predicted = not row.get("poses")
        poses[s] = submit(stage_poses, "poses", s, config, row, model, resources=pose_resources if predicted else None)
        clean[s] = submit(stage_clean, "clean", s, config, poses[s])
        feats[s] = submit(stage_features, "features", s, config, clean[s])
        notes[s] = submit(stage_annotations, "annotations", s, config, row, poses[s])
        futures += [poses[s], clean[s], feats[s], notes[s]]
    # the longest fits first (Dask runs tasks in the order given): the map, then the classifier's folds
    behavior_map = submit(stage_behavior_map, "behavior_map", PROJECT, config, list(feats.values()))
    ethogram = submit(stage_ethogram, "ethogram", PROJECT, config, list(feats.values()))
    syllables = submit(stage_syllables, "syllables", PROJECT, config, list(clean.values()))
    # the classifier needs the annotated sessions only: it trains while the pose model predicts the others
    annotated = [row["session"] for row in rows if row.get("annotations")]
    labeled = ([feats[s] for s in annotated], [notes[s] for s in annotated])
    model = submit(stage_classifier_model, "classifier_model", PROJECT, config, *labeled)
    folds = [
        submit(stage_classifier_fold, "classifier_fold", fold_session(k), config, *labeled, k)
        for k in range(n_fold_tasks(config, rows))
    ]
    fits = {
        "behavior_map": behavior_map,
        "ethogram": ethogram,
        "syllables": syllables,
        "classifier": submit(stage_classifier, "classifier", PROJECT, config, *labeled, model, folds),
    }
    futures += [behavior_map, ethogram, syllables, model, *folds, fits["classifier"]]
    for row in rows:
        s = row["session"]
        inputs = {"features": feats[s], "clean": clean[s]}
        applied = [
            submit(stage_apply, stage, s, config, stage, fits[fit], inputs[reads])
            for stage, (fit, _, _, reads) in APPLY.items()
        ]
        store = submit(stage_store, "store", s, config, row, poses[s], clean[s], [*applied, notes[s]])
        render = submit(stage_render, "render", s, config, row, clean[s])
        futures += [*applied, store, render]
    results: list[StageResult] = []
    bar = _progress(progress, len(futures), ex.dashboard_link)
    with bar as update:
        for future in ex.as_completed(futures):
            try:
                result = future.result()
            except Exception as err:  # a task lost with its workers (KilledWorker) fails its session
                stage, session = str(future.key).rsplit("-", 1)[0].split("-", 1)
                result = StageResult(stage, session, error=describe_error(err), error_type=type(err).__name__)
            results.append(result)
            update(result)
    order = {f.key: i for i, f in enumerate(futures)}
    results.sort(key=lambda r: order.get(f"{r.stage}-{r.session}-{token}", len(order)))
    return results, ex.dashboard_link


@contextlib.contextmanager
def _progress(show: bool, total: int, link: str | None) -> Iterator[Callable[[StageResult], None]]:
    if not show:
        yield lambda result: None
        return

    console = Console(stderr=True)
    if link:
        console.print(f"Dask dashboard: {link}")
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as bar:
        task = bar.add_task("run", total=total)

        def update(result: StageResult) -> None:
            state = "failed" if result.error and not result.error.startswith("skipped") else "done"
            bar.update(task, advance=1, description=f"{result.stage} {result.session} {state}")

        yield update
