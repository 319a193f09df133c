"""Saving fitted estimators with the versions that made them.

A model file is a pickle of ``{"format": ..., "format_version": ...,
"versions": package_versions(), "estimator": obj}``, written atomically.
Loading checks the format tag (a clear error naming the file otherwise) and
warns when the installed versions differ from the saved ones, because
umap-learn, hmmlearn and scikit-learn do not promise that their pickles
behave the same across versions.  Pickles run code when loaded, so saving
records the file's digest (:mod:`behaviorlab.model_trust`) and loading
refuses a file whose digest is not recorded with this user's key (changed
since, or copied in from elsewhere) unless the user trusts it (``--trust``).
"""

from __future__ import annotations

import io
import pickle
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from behaviorlab import model_trust
from behaviorlab._atomic import atomic_path
from behaviorlab.environment import package_versions
from behaviorlab.errors import FileFormatError

__all__ = [
    "RENAMED_MODULES",
    "ModelVersionWarning",
    "SavedEstimator",
    "load_estimator",
    "read_pickle",
    "read_trusted_pickle",
    "save_estimator",
]

FORMAT_VERSION = 1

#: Modules that moved when the package was split into stage subpackages: files pickled before still load.
RENAMED_MODULES: dict[str, str] = {
    "behaviorlab.tracking": "behaviorlab.trajectories.tracking",
    "behaviorlab.filtering": "behaviorlab.trajectories.filtering",
    "behaviorlab.kinematics": "behaviorlab.trajectories.kinematics",
    "behaviorlab.landmarks": "behaviorlab.trajectories.landmarks",
    "behaviorlab.design": "behaviorlab.features.design",
    "behaviorlab.windows": "behaviorlab.features.windows",
    "behaviorlab.wavelets": "behaviorlab.features.wavelets",
    "behaviorlab.pipeline": "behaviorlab.features.pipeline",
    "behaviorlab.maps": "behaviorlab.behavior.maps",
    "behaviorlab.ethogram": "behaviorlab.behavior.ethogram",
    "behaviorlab.classify": "behaviorlab.behavior.classify",
    "behaviorlab.bouts": "behaviorlab.behavior.bouts",
    "behaviorlab.stats": "behaviorlab.results.stats",
    "behaviorlab.scoring": "behaviorlab.results.scoring",
    "behaviorlab.groups": "behaviorlab.results.groups",
    "behaviorlab.store": "behaviorlab.results.store",
    "behaviorlab.runconfig": "behaviorlab.project.config",
    "behaviorlab.runner": "behaviorlab.project.runner",
    "behaviorlab.runcache": "behaviorlab.project.cache",
}


class ModelVersionWarning(UserWarning):
    """A saved model was made with other package versions than the installed ones."""


def save_estimator(obj: Any, path: str | Path, kind: str) -> Path:
    """Pickle a fitted estimator to ``path`` atomically, tagged with ``kind`` and the package versions.

    Parameters
    ----------
    obj
        The fitted estimator.
    path
        Destination file (conventionally ``.pkl``); its folder is created.
    kind
        Format tag checked by :func:`load_estimator`, e.g. ``"behaviorlab.BehaviorMap"``.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    payload = {"format": kind, "format_version": FORMAT_VERSION, "versions": package_versions(), "estimator": obj}
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        pickle.dump(payload, fh, protocol=pickle.HIGHEST_PROTOCOL)
    model_trust.record(path)
    return path


class _Unpickler(pickle.Unpickler):
    """An unpickler that follows :data:`RENAMED_MODULES` and tells ``before_import`` each module first."""

    def __init__(self, fh: Any, before_import: Callable[[str], None] | None = None) -> None:
        super().__init__(fh)
        self._before_import = before_import

    def find_class(self, module: str, name: str) -> Any:
        module = RENAMED_MODULES.get(module, module)
        if self._before_import is not None:
            self._before_import(module)
        return super().find_class(module, name)


def read_pickle(fh: Any) -> Any:
    """Unpickle one object from the open binary file ``fh``, following :data:`RENAMED_MODULES`.

    Only for the project's own files (cached stage outputs): pickles run code when loaded.
    """
    return _Unpickler(fh).load()


def read_trusted_pickle(path: str | Path) -> Any:
    """Unpickle the file ``path`` once its digest is found recorded (:mod:`behaviorlab.model_trust`).

    Follows :data:`RENAMED_MODULES`; for the project's own cached pickles (classifier folds).
    """
    return read_pickle(io.BytesIO(model_trust.verified_bytes(path)))


def load_estimator(
    path: str | Path,
    kind: str,
    relevant: Sequence[str] | None = None,
    before_import: Callable[[str], None] | None = None,
) -> Any:
    """Load an estimator saved by :func:`save_estimator` with tag ``kind``.

    Parameters
    ----------
    path
        The model file.
    kind
        The tag it must carry.
    relevant
        Packages whose version change is worth a warning; default all recorded ones.
    before_import
        Called with each module name the file's classes come from, before it
        is imported (a package that must be imported a particular way).

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    FileFormatError
        ``path`` is not a behaviorlab model file of this kind.
    behaviorlab.model_trust.UntrustedModelError
        ``path``'s digest is not recorded with this user's key (see :mod:`behaviorlab.model_trust`).

    Warns
    -----
    ModelVersionWarning
        When a package version differs from the one that saved the model.
    """
    path = Path(path)
    data = model_trust.verified_bytes(path)  # FileNotFoundError, or refused before anything is unpickled
    try:
        with io.BytesIO(data) as fh:
            payload = _Unpickler(fh, before_import).load()  # the bytes whose digest was found recorded
    except Exception as err:
        raise FileFormatError(path, f"not a behaviorlab {kind} model file ({type(err).__name__}: {err})") from err
    if not isinstance(payload, dict) or payload.get("format") != kind:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise FileFormatError(path, f"not a {kind} model file (it holds {found!r})")
    if payload.get("format_version", 0) > FORMAT_VERSION:
        raise FileFormatError(
            path,
            f"saved with model format {payload['format_version']}, newer than this behaviorlab reads "
            f"({FORMAT_VERSION}); upgrade behaviorlab",
        )
    saved, now = payload.get("versions", {}), package_versions()
    keys = saved.keys() if relevant is None else [k for k in relevant if k in saved]
    changed = {k: (saved[k], now.get(k)) for k in keys if now.get(k) != saved[k]}
    if changed:
        detail = ", ".join(f"{k} {a} -> {b}" for k, (a, b) in sorted(changed.items()))
        warnings.warn(f"{path}: saved with other package versions ({detail})", ModelVersionWarning, stacklevel=2)
    estimator = payload["estimator"]
    estimator.saved_versions_ = saved
    return estimator


class SavedEstimator:
    """Mixin giving an estimator ``save`` and ``load`` through :func:`save_estimator` / :func:`load_estimator`.

    A subclass sets ``_model_format`` (the file's tag), optionally
    ``_model_versions`` (packages whose version change is worth a warning),
    and overrides ``_check_saveable`` (raise when unfitted) and
    ``_before_import`` (called with each module name before the file's classes from it are imported).
    """

    _model_format: ClassVar[str]
    _model_versions: ClassVar[tuple[str, ...] | None] = None

    def _check_saveable(self) -> None:
        """Raise when the estimator cannot be saved (e.g. not fitted)."""

    @classmethod
    def _before_import(cls, module: str) -> None:
        """Run before a class of ``module`` is imported while unpickling a model of this class."""

    def save(self, path: str | Path) -> Path:
        """Save the fitted estimator (pickle with the package versions that made it), written atomically.

        Pickles run code when loaded: load only model files you trust.
        """
        self._check_saveable()
        return save_estimator(self, path, self._model_format)

    @classmethod
    def load(cls, path: str | Path) -> Any:
        """Load an estimator saved by :meth:`save`.

        Raises
        ------
        FileNotFoundError
            ``path`` does not exist.
        FileFormatError
            ``path`` is not a model file of this class.

        Warns
        -----
        ModelVersionWarning
            When a package that matters to the model differs from the version that saved it.
        """
        estimator = load_estimator(
            path, cls._model_format, relevant=cls._model_versions, before_import=cls._before_import
        )
        if not isinstance(estimator, cls):
            raise FileFormatError(path, f"holds a {type(estimator).__name__}, not a {cls.__name__}")
        return estimator
