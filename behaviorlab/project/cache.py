"""Stage outputs keyed by what made them, so that a re-run skips finished work.

A stage's key is the SHA-256 of the stage's name, its parameters, the keys of
the stage outputs it reads, and the content digests of the files it reads (a
video, a pose file, a model). Change a parameter, and that stage's key changes.
The keys of every stage after it change too, because they include it. The
stages before it keep their keys, and with them their outputs.

Outputs are stored as ``ROOT/<stage>/<session>/<key><suffix>``. Each one is
written to a temporary file and renamed into place, so a crash or Ctrl-C
loses at most the stage that was running. When a stage finishes, the outputs
of the same stage and session under other keys are removed.

File digests are SHA-256 of the file's bytes. They are remembered in
``ROOT/digests.json`` by resolved path, size and modification time, so a
large video is read once, not on every run.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from behaviorlab._atomic import atomic_path
from behaviorlab.errors import SchemaError

__all__ = ["StageCache", "canonical_json", "file_digest", "stage_key"]

#: Bytes read at a time when hashing a file.
_CHUNK = 1 << 20
_DIGESTS = "digests.json"


def _plain(value: Any, where: str) -> Any:
    """Return ``value`` as JSON-able plain data (numpy scalars and arrays, tuples, paths converted)."""
    if isinstance(value, Mapping):
        keys = [str(k) for k in value]
        if len(set(keys)) != len(keys):
            raise SchemaError(f"{where}: keys that are equal as strings: {sorted(keys)}")
        return {str(k): _plain(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist(), where)
    if isinstance(value, np.generic):
        return _plain(value.item(), where)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return repr(value)  # 'nan', 'inf': JSON has no such numbers
        return float(value)
    if value is None or isinstance(value, bool | int | str):
        return value
    raise SchemaError(f"{where}: {type(value).__name__} is not plain data (numbers, strings, lists, mappings)")


def canonical_json(value: Any) -> str:
    """Return ``value`` as JSON with sorted keys and no spaces: equal data, equal text.

    Raises
    ------
    SchemaError
        For values that are not plain data (an object, a function).
    """
    return json.dumps(_plain(value, "params"), sort_keys=True, separators=(",", ":"), allow_nan=False)


def stage_key(
    stage: str,
    params: Mapping[str, Any] | None = None,
    *,
    upstream: Mapping[str, str] | None = None,
    files: Mapping[str, str] | None = None,
) -> str:
    """Return the key of a stage's output: what made it, hashed.

    Parameters
    ----------
    stage
        The stage's name.
    params
        The stage's parameters (plain data; the order of mapping keys does
        not matter).
    upstream
        Name to key of each stage output the stage reads.
    files
        Name to :func:`file_digest` of each file the stage reads.

    Returns
    -------
    str
        32 hex digits (the first 128 bits of SHA-256).
    """
    if not stage or not isinstance(stage, str):
        raise SchemaError(f"a stage needs a non-empty name, got {stage!r}")
    text = canonical_json(
        {"stage": stage, "params": dict(params or {}), "upstream": dict(upstream or {}), "files": dict(files or {})}
    )
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def file_digest(path: str | Path, memo: dict[str, Any] | None = None) -> str:
    """Return the SHA-256 of a file's bytes, from ``memo`` when the file's size and mtime match.

    Parameters
    ----------
    path
        The file.
    memo
        Resolved path to ``{"size", "mtime_ns", "sha256"}``; updated in place.

    Raises
    ------
    FileNotFoundError
        ``path`` is not a file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file to hash")
    stat = path.stat()
    name = str(path.resolve())
    known = (memo or {}).get(name)
    if known and known.get("size") == stat.st_size and known.get("mtime_ns") == stat.st_mtime_ns:
        return str(known["sha256"])
    sha = _hash_file(path)
    if memo is not None:
        memo[name] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": sha}
    return sha


def _safe_name(name: str, what: str) -> str:
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise SchemaError(f"{what} {name!r} cannot be a folder name (no '/', '\\', '.' or '..')")
    return name


class StageCache:
    """Stage outputs of many sessions under one folder, found by their :func:`stage_key`.

    Parameters
    ----------
    root
        The cache folder (created when missing).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> cache = StageCache(pathlib.Path(tempfile.mkdtemp()))
    >>> key = stage_key("double", {"factor": 2})
    >>> out = cache.run("double", "s1", key, lambda path: path.write_text("42"), suffix=".txt")
    >>> out.read_text(), cache.run("double", "s1", key, lambda path: 1 / 0, suffix=".txt") == out
    ('42', True)
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._digests: dict[str, Any] | None = None

    # ------------------------------------------------------------------ files
    def digest(self, path: str | Path) -> str:
        """Return :func:`file_digest` of ``path``, remembered in ``ROOT/digests.json`` (written atomically)."""
        with self._lock:
            if self._digests is None:
                memo_file = self.root / _DIGESTS
                try:
                    self._digests = json.loads(memo_file.read_text()) if memo_file.is_file() else {}
                except (OSError, ValueError):
                    self._digests = {}  # a damaged memo only costs hashing again
            before = dict(self._digests)
            sha = file_digest(path, self._digests)
            if self._digests != before:
                with atomic_path(self.root / _DIGESTS) as tmp:
                    tmp.write_text(json.dumps(self._digests, indent=1, sort_keys=True))
            return sha

    # ------------------------------------------------------------------ outputs
    def path(self, stage: str, session: str, key: str, suffix: str = ".nc") -> Path:
        """Return where the output of ``stage`` for ``session`` with ``key`` lives (it may not exist)."""
        folder = self.root / _safe_name(stage, "stage") / _safe_name(session, "session")
        return folder / f"{_safe_name(key, 'key')}{suffix}"

    def done(self, stage: str, session: str, key: str, suffix: str = ".nc") -> bool:
        """Whether the output of ``stage`` for ``session`` with ``key`` is complete on disk."""
        target = self.path(stage, session, key, suffix)
        return target.is_file() if suffix else target.is_dir()

    def run(
        self,
        stage: str,
        session: str,
        key: str,
        write: Callable[[Path], Any],
        *,
        suffix: str = ".nc",
    ) -> Path:
        """Return the output for ``key``: the one on disk, else the one ``write`` makes.

        Parameters
        ----------
        stage, session, key
            Which output (see :meth:`path`).
        write
            Called with a temporary path in the output's folder (with
            ``suffix``) when the output is missing. It must write the
            complete output there; the file is then renamed into place, and
            the outputs of this stage and session under other keys are
            removed. If ``write`` raises, nothing is renamed and the outputs
            already there are left as they were.
        suffix
            The output file's suffix.

        Returns
        -------
        pathlib.Path
            The output file.
        """
        target = self.path(stage, session, key, suffix)
        if target.is_file():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(target) as tmp:
            write(tmp)
            if not Path(tmp).is_file():
                raise SchemaError(f"stage {stage!r} of session {session!r} wrote no file")
        for old in target.parent.glob(f"*{suffix}"):
            if old != target and old.is_file() and not old.name.startswith("."):
                old.unlink(missing_ok=True)
        return target

    def run_dir(self, stage: str, session: str, key: str, write: Callable[[Path], Any]) -> Path:
        """Return the output folder for ``key``: the one on disk, else the one ``write`` fills.

        As :meth:`run`, for stages whose output is several files (a pose
        model, a classifier with its cross-validation): ``write`` gets an
        empty temporary folder beside the output; it is renamed into place
        when ``write`` returns, and other keys' folders of this stage and
        session are then removed.  A crash leaves the folders already there.
        """
        target = self.path(stage, session, key, "")
        if target.is_dir():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
        try:
            write(tmp)
            os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            if target.is_dir():  # another process finished the same key first: theirs is as good
                return target
            raise
        for old in target.parent.iterdir():
            if old != target and old.is_dir() and not old.name.startswith("."):
                shutil.rmtree(old, ignore_errors=True)
        return target

    def outputs(self, stage: str, session: str, suffix: str = ".nc") -> list[Path]:
        """Return the outputs of ``stage`` for ``session`` on disk (normally one, the newest key's)."""
        folder = self.root / _safe_name(stage, "stage") / _safe_name(session, "session")
        if not folder.is_dir():
            return []
        if not suffix:
            return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
        return sorted(p for p in folder.glob(f"*{suffix}") if p.is_file() and not p.name.startswith("."))

    def __repr__(self) -> str:
        return f"StageCache({str(self.root)!r})"
