"""Exceptions raised by behaviorlab.

Every error a user can trigger with bad input derives from
:class:`BehaviorlabError`, so scripts can catch the package's own errors
without also catching programming mistakes.  Errors about a file carry the
path and say what is wrong with it and, where possible, how to fix it.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["BehaviorlabError", "FileFormatError", "OutputExistsError", "SchemaError", "VideoError"]


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


class OutputExistsError(BehaviorlabError, FileExistsError):
    """An output folder already holds results that a run would overwrite."""
