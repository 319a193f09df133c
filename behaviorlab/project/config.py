"""A project's configuration: every stage's parameters in one validated YAML file, and the sessions table.

A project folder holds

- ``behaviorlab.yaml``: one section per stage (``pose_model``, ``poses``,
  ``cleaning``, ``features``, ``spectrogram``, ``behavior_map``,
  ``ethogram``, ``syllables``, ``classifier``, ``annotations``, ``statistics``,
  ``exports``, ``render``) and ``run`` for how to run (workers; never part
  of a result's key). :func:`init_project` writes it with every parameter
  at its default, so a lab sees and edits what the run will use.
- ``sessions.csv``: one row per session, ``session`` (a name), ``video``,
  ``poses`` (a pose file from DeepLabCut, SLEAP, NWB or behaviorlab, used
  instead of predicting the video), ``annotations`` (BORIS or per-frame
  labels for the classifiers), ``fps``,
  ``individual`` (the animal's name in a predicted video); any further column is session
  metadata (group, condition, ...). Relative paths are relative to the
  project folder.

:meth:`ProjectConfig.load` checks everything before any work starts: unknown
sections or keys, values of the wrong type and bad settings raise
:class:`~behaviorlab.errors.SchemaError` naming the file, section and key.
A missing video is not a configuration error: it fails that session alone
(see :mod:`behaviorlab.project.runner`).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import inspect
import re
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import attrs
import pandas as pd
import yaml

from behaviorlab._atomic import atomic_path
from behaviorlab._config import ConfigBase
from behaviorlab.errors import BehaviorlabError, FileFormatError, SchemaError
from behaviorlab.features.pipeline import SessionFeaturesConfig
from behaviorlab.io.load import session_name, stored_fps
from behaviorlab.io.video import probe_video
from behaviorlab.pose.folder import POSE_PATHS

__all__ = ["CONFIG_FILE", "SESSIONS_FILE", "ProjectConfig", "init_project", "read_sessions"]

CONFIG_FILE = "behaviorlab.yaml"
SESSIONS_FILE = "sessions.csv"
#: Columns of the sessions table with a meaning; others are metadata.
SESSION_COLUMNS = ("session", "video", "poses", "annotations", "fps", "individual")
_FORMAT_VERSION = 1


# --------------------------------------------------------------------------- sections
@attrs.frozen
class PoseModelSection(ConfigBase):
    """``pose_model``: a pose model to use, or labeled frames to train one from."""

    section: ClassVar[str] = "pose_model"

    model: str | None = None
    training_frames: str | None = None
    max_animals: int | None = None
    path: str = "auto"
    train: dict = attrs.field(factory=dict)


@attrs.frozen
class PosesSection(ConfigBase):
    """``poses``: reading pose files and predicting videos."""

    section: ClassVar[str] = "poses"

    keypoints: list | None = None
    batch_size: int = 32
    allow_missing_keypoints: bool = False
    resources: dict = attrs.field(factory=dict)
    source: str | None = None
    csv_columns: str | None = None
    # {name in the pose files: name to use}: another lab's names onto those a saved model was trained on
    keypoint_map: dict = attrs.field(factory=dict)


@attrs.frozen
class AnnotationsSection(ConfigBase):
    """``annotations``: reading the label files of the sessions table."""

    section: ClassVar[str] = "annotations"

    behaviors: list | None = None
    clip: bool = False
    rater: str | None = None
    min_raters: int | None = None


@attrs.frozen
class StatisticsSection(ConfigBase):
    """``statistics``: settings of the results store (time bins, zones, calibration)."""

    section: ClassVar[str] = "statistics"

    bin_s: float | None = 60.0
    zones: dict = attrs.field(factory=dict)
    px_per_cm: float | None = None
    keypoint: str = "centroid"


@attrs.frozen
class ExportsSection(ConfigBase):
    """``exports``: the formats written from the results store."""

    section: ClassVar[str] = "exports"

    formats: list = attrs.field(factory=lambda: ["csv"])


@attrs.frozen
class RenderSection(ConfigBase):
    """``render``: labeled videos of each session's first seconds."""

    section: ClassVar[str] = "render"

    seconds: float = 0.0
    trail: int = 10


@attrs.frozen
class RunSection(ConfigBase):
    """``run``: how to run (never part of a result's key)."""

    section: ClassVar[str] = "run"

    workers: int | None = None
    threads_per_worker: int = 1
    memory_limit: str | int = "auto"


#: The plain sections, in the order the YAML file lists them around the stage sections.
_PLAIN: dict[str, type[ConfigBase]] = {
    "pose_model": PoseModelSection,
    "poses": PosesSection,
    "annotations": AnnotationsSection,
    "statistics": StatisticsSection,
    "exports": ExportsSection,
    "render": RenderSection,
    "run": RunSection,
}
#: Estimator sections: name -> (import path, extra keys with defaults and types).
_ESTIMATORS: dict[str, tuple[str, dict[str, tuple[Any, Any]]]] = {
    "behavior_map": ("behaviorlab.behavior.maps:BehaviorMap", {"enabled": (True, bool)}),
    "ethogram": ("behaviorlab.behavior.ethogram:EthogramHMM", {"enabled": (True, bool)}),
    "syllables": ("behaviorlab.behavior.arhmm:ARHMM", {"enabled": (True, bool)}),
    "classifier": (
        "behaviorlab.behavior.classify:BehaviorClassifier",
        {
            "enabled": (True, bool),
            "trained_model": (None, str | None),
            "cross_validate": (True, bool),
            # behaviors whose held-out F1 is below this are flagged wherever their statistics are shown
            "quality_floor": (0.5, float),
        },
    ),
}
#: Estimator parameters that are about execution, not results (left out of the config).
_EXECUTION_PARAMS = {"n_jobs"}
EXPORT_FORMATS = ("csv", "excel", "parquet", "nwb", "boris", "simba")
SECTIONS = ("sessions", "metadata", "pose_model", "poses", "cleaning", "features", "spectrogram", *_ESTIMATORS)


def _estimator_class(name: str) -> type:
    module, cls = _ESTIMATORS[name][0].split(":")
    return getattr(importlib.import_module(module), cls)


def _estimator_defaults(name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return (defaults, types) of an estimator section, from its class's signature and type hints."""
    cls = _estimator_class(name)
    hints = typing.get_type_hints(cls.__init__)
    defaults: dict[str, Any] = {}
    types: dict[str, Any] = {}
    for key, (default, tp) in _ESTIMATORS[name][1].items():
        defaults[key], types[key] = default, tp
    for param in inspect.signature(cls.__init__).parameters.values():
        if param.name == "self" or param.name in _EXECUTION_PARAMS or param.default is inspect.Parameter.empty:
            continue
        default = param.default
        if isinstance(default, tuple):
            default = list(default)
        if not isinstance(default, int | float | str | bool | list | type(None)):
            continue  # an object default (a model instance) cannot be written in YAML
        defaults[param.name] = default
        types[param.name] = hints.get(param.name, Any)
    return defaults, types


@functools.cache
def estimator_section(name: str) -> type[ConfigBase]:
    """Return the attrs section class of estimator section ``name``: its extra keys and the estimator's parameters."""
    defaults, types = _estimator_defaults(name)

    def field(default: Any, tp: Any) -> Any:
        if isinstance(default, list | dict):
            return attrs.field(factory=lambda d=default: type(d)(d), type=tp)
        return attrs.field(default=default, type=tp)

    cls = attrs.make_class(
        "".join(part.title() for part in name.split("_")) + "Section",
        {k: field(v, types[k]) for k, v in defaults.items()},
        bases=(ConfigBase,),
        frozen=True,
    )
    cls.section = name
    cls.__module__, cls.__qualname__ = __name__, cls.__name__  # pickled by name: see __getattr__ below
    return cls


def __getattr__(name: str) -> Any:
    """Return an estimator section class by its name (``ClassifierSection``), so that pickles of a config load."""
    for section in _ESTIMATORS:
        cls = estimator_section(section)
        if cls.__name__ == name:
            return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@attrs.frozen
class ProjectConfig:
    """Every stage's parameters of one project (see the module docstring for the sections).

    Each section is an attrs object read the same way everywhere
    (``config.poses.batch_size``); ``features`` is a
    :class:`~behaviorlab.features.pipeline.SessionFeaturesConfig` (the
    ``cleaning``, ``features`` and ``spectrogram`` sections), and the
    estimator sections (``behavior_map``, ``ethogram``, ``syllables``, ``classifier``) hold
    the estimator's parameters beside their own keys (``enabled``, ...).

    Attributes
    ----------
    root
        The project folder; relative paths are relative to it.
    sessions_file, metadata
        The sessions table and the optional metadata table (paths as written in the YAML).
    """

    root: Path
    sessions_file: str = SESSIONS_FILE
    metadata: str | None = None
    pose_model: PoseModelSection = attrs.field(factory=PoseModelSection)
    poses: PosesSection = attrs.field(factory=PosesSection)
    features: SessionFeaturesConfig = attrs.field(factory=SessionFeaturesConfig)
    behavior_map: Any = attrs.field(factory=lambda: estimator_section("behavior_map")())
    ethogram: Any = attrs.field(factory=lambda: estimator_section("ethogram")())
    syllables: Any = attrs.field(factory=lambda: estimator_section("syllables")())
    classifier: Any = attrs.field(factory=lambda: estimator_section("classifier")())
    annotations: AnnotationsSection = attrs.field(factory=AnnotationsSection)
    statistics: StatisticsSection = attrs.field(factory=StatisticsSection)
    exports: ExportsSection = attrs.field(factory=ExportsSection)
    render: RenderSection = attrs.field(factory=RenderSection)
    run: RunSection = attrs.field(factory=RunSection)

    # ------------------------------------------------------------------ building
    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any] | None, root: str | Path = ".", *, where: str = "config"
    ) -> ProjectConfig:
        """Validate plain data (a parsed YAML file); ``where`` names the file in errors."""
        data = dict(data or {})
        if not isinstance(data, dict):
            raise SchemaError(f"{where}: expected a mapping of sections, got {data!r:.80}")
        version = data.pop("version", _FORMAT_VERSION)
        if version != _FORMAT_VERSION:
            raise SchemaError(f"{where}: config version {version!r} is not {_FORMAT_VERSION}; upgrade behaviorlab")
        known = set(SECTIONS) | set(_PLAIN)
        unknown = sorted(set(map(str, data)) - known)
        if unknown:
            raise SchemaError(f"{where}: unknown section(s) {unknown}; known sections: {sorted(known)}")
        sessions = data.get("sessions", SESSIONS_FILE)
        metadata = data.get("metadata")
        for key, value in (("sessions", sessions), ("metadata", metadata)):
            if value is not None and not isinstance(value, str):
                raise SchemaError(f"{where}: {key} must be a file path (text), got {value!r:.80}")
        if sessions is None:
            raise SchemaError(f"{where}: sessions must name the sessions table")
        sections: dict[str, Any] = {name: kind.from_dict(data.get(name), where=where) for name, kind in _PLAIN.items()}
        try:
            sections["features"] = SessionFeaturesConfig.from_dict(
                {k: data[k] for k in ("cleaning", "features", "spectrogram") if k in data}
            )
        except SchemaError as err:
            raise SchemaError(f"{where}: {err}") from None
        for name in _ESTIMATORS:
            sections[name] = estimator_section(name).from_dict(data.get(name), where=where)
        config = cls(root=Path(root), sessions_file=sessions, metadata=metadata, **sections)
        config._check(where)
        return config

    def _check(self, where: str) -> None:
        formats = self.exports.formats
        bad = [f for f in formats if f not in EXPORT_FORMATS]
        if bad:
            raise SchemaError(f"{where}: exports.formats {bad} unknown; choose from {list(EXPORT_FORMATS)}")
        for key in ("bin_s", "px_per_cm"):
            value = getattr(self.statistics, key)
            if value is not None and not value > 0:
                raise SchemaError(f"{where}: statistics.{key} must be > 0 or null, got {value!r}")
        if self.poses.batch_size < 1:
            raise SchemaError(f"{where}: poses.batch_size must be >= 1, got {self.poses.batch_size}")
        if self.run.workers is not None and self.run.workers < 1:
            raise SchemaError(f"{where}: run.workers must be >= 1 or null, got {self.run.workers}")
        pm = self.pose_model
        if pm.model and pm.training_frames:
            raise SchemaError(
                f"{where}: pose_model gives both a model and training_frames; give one (a model to use, "
                "or labeled frames to train one from)"
            )
        if pm.train and not pm.training_frames:
            raise SchemaError(f"{where}: pose_model.train is set but pose_model.training_frames is not")
        if pm.path not in POSE_PATHS:
            raise SchemaError(f"{where}: pose_model.path must be one of {', '.join(POSE_PATHS)}, got {pm.path!r}")
        if pm.training_frames:
            from behaviorlab.pose.train import (
                TrainConfig,  # lazy: Keras (the pose extra), through behaviorlab.pose.train
            )

            try:
                TrainConfig.from_dict(pm.train)
            except (SchemaError, TypeError, ValueError) as err:
                raise SchemaError(f"{where}: pose_model.train: {err}") from None
        for name in _ESTIMATORS:
            params = self.estimator_params(name)
            try:
                _estimator_class(name)(**params)
            except (TypeError, ValueError) as err:
                raise SchemaError(f"{where}: section {name!r}: {err}") from None

    @classmethod
    def load(cls, project: str | Path) -> ProjectConfig:
        """Read and validate ``PROJECT/behaviorlab.yaml`` (or a YAML file given directly)."""
        path = Path(project)
        if path.is_dir():
            path = path / CONFIG_FILE
        if not path.is_file():
            raise BehaviorlabError(f"{path}: no project config; create one with `behaviorlab init {path.parent}`")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as err:
            raise FileFormatError(path, f"not valid YAML: {err}") from None
        if data is not None and not isinstance(data, Mapping):
            raise FileFormatError(path, f"expected a mapping of sections, got {type(data).__name__}")
        return cls.from_dict(data, path.parent, where=str(path))

    # ------------------------------------------------------------------ reading
    def estimator_params(self, name: str) -> dict[str, Any]:
        """Return the constructor parameters of an estimator section (without ``enabled`` and the like)."""
        extra = set(_ESTIMATORS[name][1])
        return {
            k: tuple(v) if isinstance(v, list) and k != "behaviors" else v
            for k, v in getattr(self, name).to_dict().items()
            if k not in extra
        }

    def path(self, value: str | Path | None) -> Path | None:
        """Return a config path resolved against the project folder (None stays None)."""
        if value is None or value == "":
            return None
        value = Path(value).expanduser()
        return value if value.is_absolute() else self.root / value

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form (what ``behaviorlab.yaml`` holds); ``from_dict(to_dict())`` gives it back."""
        out: dict[str, Any] = {"version": _FORMAT_VERSION, "sessions": self.sessions_file, "metadata": self.metadata}
        for name in ("pose_model", "poses"):
            out[name] = getattr(self, name).to_dict()
        out.update(self.features.to_dict())
        for name in (*_ESTIMATORS, "annotations", "statistics", "exports", "render", "run"):
            out[name] = getattr(self, name).to_dict()
        return out

    def sessions(self) -> pd.DataFrame:
        """Return the sessions table (see :func:`read_sessions`)."""
        return read_sessions(self.path(self.sessions_file), self.root)


# --------------------------------------------------------------------------- the sessions table
_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-+=@,]*")


def read_sessions(path: str | Path, root: str | Path | None = None) -> pd.DataFrame:
    """Read and check a sessions table.

    Parameters
    ----------
    path
        CSV with a ``session`` column and at least one of ``video`` and
        ``poses``; see the module docstring.
    root
        Folder that relative paths are relative to (default: the table's).

    Returns
    -------
    pandas.DataFrame
        One row per session, in file order: ``session``, ``video``,
        ``poses``, ``annotations`` (absolute paths as text, or None),
        ``fps`` (float or NaN), then the metadata columns.

    Raises
    ------
    FileFormatError
        An unreadable table, no ``session`` column, an empty or repeated
        session name, a row with neither video nor poses, a bad ``fps``.
    """
    path = Path(path)
    root = Path(root) if root is not None else path.parent
    if not path.is_file():
        raise FileFormatError(path, "no sessions table; `behaviorlab init` writes one")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise FileFormatError(path, f"cannot read the sessions table: {err}") from None
    table.columns = [str(c).strip() for c in table.columns]
    if "session" not in table.columns:
        raise FileFormatError(path, f"the sessions table needs a 'session' column; it has {list(table.columns)}")
    if not ({"video", "poses"} & set(table.columns)):
        raise FileFormatError(path, "the sessions table needs a 'video' or a 'poses' column (or both)")
    for column in SESSION_COLUMNS:
        if column not in table.columns:
            table[column] = ""
    table = table.apply(lambda c: c.str.strip())
    bad = [s for s in table["session"] if not _SAFE.fullmatch(s)]
    if bad:
        raise FileFormatError(
            path,
            f"session names must start with a letter or digit and hold only letters, digits and _.-+=@, : {bad[:5]}",
        )
    repeated = sorted(table.loc[table["session"].duplicated(), "session"].unique())
    if repeated:
        raise FileFormatError(path, f"sessions listed more than once: {repeated[:10]}")
    empty = table.loc[(table["video"] == "") & (table["poses"] == ""), "session"].tolist()
    if empty:
        raise FileFormatError(path, f"sessions with neither a video nor a pose file: {empty[:10]}")
    for column in ("video", "poses", "annotations"):
        table[column] = [_resolve(v, root) for v in table[column]]
    fps = pd.to_numeric(table["fps"].replace("", None), errors="coerce")
    bad_fps = (table["fps"] != "") & ~(fps > 0)
    if bad_fps.any():
        shown = dict(zip(table.loc[bad_fps, "session"], table.loc[bad_fps, "fps"], strict=True))
        raise FileFormatError(path, f"fps must be a number > 0; {len(shown)} sessions have others: {shown}")
    table["fps"] = fps.astype(float)
    metadata = [c for c in table.columns if c not in SESSION_COLUMNS]
    return table[[*SESSION_COLUMNS, *metadata]].reset_index(drop=True)


def _resolve(value: str, root: Path) -> str | None:
    if not value:
        return None
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else (root / path).resolve())


# --------------------------------------------------------------------------- init
_COMMENTS = {
    "sessions": "the sessions table: session, video, poses, annotations, fps, then metadata columns",
    "metadata": "optional per-animal metadata CSV (session, subject, group, ...); default: the sessions table's",
    "pose_model": "a trained pose model folder (model), or labeled frames to train one from (training_frames);\n"
    "# neither: every session needs a pose file",
    "poses": "keypoints every session must have (null: the pose model's); resources pins pose tasks to Dask\n"
    "# workers started with them, e.g. {GPU: 1}; source names the pose files' format (null: detected; sleap_csv,\n"
    "# csv for a generic table); csv_columns splits a generic table's column names (a regular expression with\n"
    "# the groups keypoint and coord; null: snout_x, Nose.Y, ear_likelihood and the like)",
    "cleaning": "behaviorlab.trajectories.filtering.CleaningConfig",
    "features": "behaviorlab.features.design.FeatureConfig",
    "spectrogram": "behaviorlab.features.pipeline.SpectrogramConfig (false: none)",
    "behavior_map": "behaviorlab.behavior.maps.BehaviorMap, fitted on every session",
    "ethogram": "behaviorlab.behavior.ethogram.EthogramHMM, fitted on every session",
    "syllables": "behaviorlab.behavior.arhmm.ARHMM (keypoint-MoSeq's autoregressive HMM of the poses), fitted on\n"
    "# every session; kappa auto: stickiness for syllables whose median lasts target_duration_s",
    "classifier": "behaviorlab.behavior.classify.BehaviorClassifier, trained on the sessions with annotations\n"
    "# (or trained_model, a saved classifier); cross_validate keeps out-of-fold decisions for the annotated sessions;\n"
    "# behaviors whose held-out F1 is below quality_floor are flagged wherever their statistics are shown",
    "annotations": "how annotation files are read (behaviorlab.io.annotations.load_annotations); with behaviors\n"
    "# (here or the classifier's), other behaviors in the files are left out; files with several raters: rater\n"
    "# names the one to use, else frames marked by at least min_raters raters (null: a majority) are positive",
    "statistics": "settings of the results store: time bins, zones (name: polygon in px), calibration",
    "exports": f"formats written from the results store: {', '.join(EXPORT_FORMATS)}",
    "render": "labeled videos of each session's first seconds (0: none)",
    "run": "how to run (not part of any result): Dask workers of the local cluster (null: one per core)",
}


def config_yaml(config: ProjectConfig) -> str:
    """Return the config as YAML, one commented section after another."""
    data = config.to_dict()
    lines = [
        "# behaviorlab project: every stage's parameters (https://behaviorlab.readthedocs.io, `behaviorlab run`)",
        f"version: {data.pop('version')}",
    ]
    for name, value in data.items():
        comment = _COMMENTS.get(name)
        lines.append("")
        if comment:
            lines.append(f"# {comment}")
        lines.append(yaml.safe_dump({name: value}, sort_keys=False, default_flow_style=False, width=110).rstrip())
    return "\n".join(lines) + "\n"


def _match_stem(name: str, sessions: Sequence[str]) -> str | None:
    hits = [s for s in sessions if name == s or name.startswith(s + "_") or name.startswith(s + ".")]
    hits += [s for s in sessions if name.startswith(s) and s not in hits]
    return max(hits, key=len) if hits else None


def init_project(
    project: str | Path,
    *,
    videos: Sequence[str | Path] = (),
    poses: Sequence[str | Path] = (),
    annotations: Sequence[str | Path] = (),
    metadata: str | Path | None = None,
    config: Mapping[str, Any] | None = None,
    fps: float | None = None,
    force: bool = False,
) -> ProjectConfig:
    """Write ``behaviorlab.yaml`` and ``sessions.csv`` into a project folder.

    Parameters
    ----------
    project
        The project folder (created).
    videos
        Video files; each one is a session named after its file's stem.
    poses, annotations
        Pose and annotation files, matched to the sessions whose name their
        file name starts with; a pose file matching no video is a session of
        its own.
    metadata
        Per-animal metadata CSV (kept as a path in the config).
    config
        Sections that differ from the defaults (validated like the file).
    fps
        Frame rate of the sessions whose video or pose file does not give
        one (a DeepLabCut file without its video); each session's own rate
        is written in the ``fps`` column otherwise.
    force
        Replace an existing config and sessions table.

    Returns
    -------
    ProjectConfig
        The validated config that was written.
    """
    root = Path(project)
    target, table_path = root / CONFIG_FILE, root / SESSIONS_FILE
    if not force and (target.exists() or table_path.exists()):
        raise BehaviorlabError(f"{root}: a project config exists already (pass force=True / --force to replace it)")
    root.mkdir(parents=True, exist_ok=True)
    rows: dict[str, dict[str, Any]] = {}
    for video in sorted(Path(v) for v in videos):
        if video.stem in rows:
            raise SchemaError(f"two videos give the session name {video.stem!r}: {rows[video.stem]['video']}, {video}")
        rows[video.stem] = {"session": video.stem, "video": _relative(video, root)}
    for column, files in (("poses", poses), ("annotations", annotations)):
        for file in sorted(Path(f) for f in files):
            name = session_name(file)  # without DeepLabCut's scorer suffix: the video's name, as annotations use
            session = _match_stem(file.name, list(rows)) or (name if column == "poses" else None)
            if session is None:
                raise SchemaError(f"{file}: no session's name starts its file name; sessions: {sorted(rows)[:10]}")
            row = rows.setdefault(session, {"session": session})
            if row.get(column):
                raise SchemaError(f"session {session!r} has two {column} files: {row[column]}, {file}")
            row[column] = _relative(file, root)
    data = dict(config or {})
    if metadata is not None:
        data["metadata"] = _relative(Path(metadata), root)
    cfg = ProjectConfig.from_dict(data, root, where=str(target))
    for row in rows.values():
        row["fps"] = _session_fps(root, row) or fps or ""
    columns = ["session", "video", "poses", "annotations", "fps"]
    table = pd.DataFrame([{c: row.get(c, "") for c in columns} for row in rows.values()], columns=columns)
    with atomic_path(table_path) as tmp:
        table.to_csv(tmp, index=False)
    with atomic_path(target) as tmp:
        tmp.write_text(config_yaml(cfg), encoding="utf-8")
    return ProjectConfig.load(root)


def _session_fps(root: Path, row: Mapping[str, Any]) -> float | None:
    """Return the frame rate of a session's video, else the one its pose file stores (None when neither has one)."""
    if row.get("video"):
        with contextlib.suppress(BehaviorlabError):
            return float(probe_video(root / row["video"]).fps)
    if row.get("poses"):
        return stored_fps(root / row["poses"])
    return None


def _relative(path: Path, root: Path) -> str:
    """Return ``path`` relative to ``root`` when it lies below it, else absolute."""
    path = path.expanduser().resolve()
    try:
        return path.relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)
