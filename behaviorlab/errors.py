"""Exceptions raised by behaviorlab.

Every error a user can trigger with bad input derives from
:class:`BehaviorlabError`, so scripts can catch the package's own errors
without also catching programming mistakes.  Errors about a file carry the
path and say what is wrong with it and, where possible, how to fix it.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "EXTRAS",
    "BehaviorlabError",
    "FileFormatError",
    "MissingExtraError",
    "OutputExistsError",
    "SchemaError",
    "StoreError",
    "VideoError",
    "missing_extra",
]


class BehaviorlabError(Exception):
    """Base class of every error raised on purpose by behaviorlab."""


class SchemaError(BehaviorlabError, ValueError):
    """A pose Dataset (or its inputs) does not follow the behaviorlab schema."""


class FileFormatError(BehaviorlabError, ValueError):
    """A file cannot be read or written in the requested format.

    Parameters
    ----------
    path
        The offending file.
    problem
        What is wrong, in a sentence a user can act on.
    """

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class VideoError(FileFormatError):
    """A video file is missing, unreadable or truncated."""


class StoreError(BehaviorlabError, ValueError):
    """A results store folder that cannot be used as asked (or bad settings for one)."""


class OutputExistsError(BehaviorlabError, FileExistsError):
    """An output folder already holds results that a run would overwrite."""


#: Optional parts of behaviorlab: the module a feature imports -> the extra that installs it.
EXTRAS: dict[str, str] = {
    "keras": "pose",
    "tensorflow": "pose",
    "streamlit": "dashboard",
    "streamlit_image_coordinates": "dashboard",
    "dask_jobqueue": "cluster",
    "kaleido": "figures",
}


class MissingExtraError(BehaviorlabError, ImportError):
    """A command needs an optional part of behaviorlab (an extra) that is not installed."""

    def __init__(self, extra: str, module: str) -> None:
        self.extra, self.module = extra, module
        super().__init__(
            f"this needs behaviorlab's '{extra}' extra ({module} is not installed): "
            f'pip install "behaviorlab[{extra}]" (or "behaviorlab[all]")'
        )


def missing_extra(err: BaseException) -> MissingExtraError | None:
    """Return the :class:`MissingExtraError` an import failure means, or ``None`` if it is not about an extra."""
    if isinstance(err, MissingExtraError):
        return err
    name = getattr(err, "name", None) if isinstance(err, ImportError) else None
    root = (name or "").split(".")[0]
    return MissingExtraError(EXTRAS[root], root) if root in EXTRAS else None
