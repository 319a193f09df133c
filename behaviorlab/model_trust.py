"""Model files load only when behaviorlab wrote them for this user, or the user said to trust them.

Model files (``map.pkl``, ``hmm.pkl``, ``classifier.pkl``, a run's cached
classifier folds) are pickles, and loading a pickle runs whatever code its
author put in it: a project folder received from elsewhere could run its
author's code when ``behaviorlab run`` or the dashboard opens it.  So:

- every model file behaviorlab writes is **recorded**: its SHA-256 goes into
  ``model_digests.json`` in the same folder (written atomically, under a
  lock), with an HMAC-SHA-256 of that digest under a key only this user
  reads (``~/.config/behaviorlab/model_key``, mode 600, made on first use;
  ``$BEHAVIORLAB_KEY_FILE`` names another file);
- **loading** reads the file's bytes once, hashes them, and unpickles those
  same bytes only when the folder's record holds that digest with a valid
  HMAC.  A file changed after it was written, or copied in from elsewhere
  (no record, or a record made with another key: without the key a record
  cannot be forged), is refused with :class:`UntrustedModelError`, which
  names the file and ``--trust FILE``;
- :func:`trust` (``--trust FILE`` on the commands that load models, and on
  ``behaviorlab dashboard``) records a file, or every ``*.pkl`` under a
  folder, as trusted from then on.

Why signed records rather than a plain list of digests in the project: a
project's author would ship the list with the project, so it could not tell
this user's files from a stranger's.  Why not a format that cannot run code
(skops for scikit-learn): the models also hold UMAP (numba), hmmlearn and
behaviorlab's own classes, which skops would load only from a list of
trusted types, that is, trusting the file's author again.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from behaviorlab._atomic import atomic_path
from behaviorlab.errors import BehaviorlabError, FileFormatError

__all__ = [
    "KEY_ENV",
    "MODEL_DIGESTS",
    "UntrustedModelError",
    "copy_model",
    "is_recorded",
    "key_file",
    "record",
    "trust",
    "verified_bytes",
    "vouch_copy",
]

#: The record of the model files of a folder, beside them.
MODEL_DIGESTS = "model_digests.json"
#: Environment variable naming the key file (default ``$XDG_CONFIG_HOME/behaviorlab/model_key``).
KEY_ENV = "BEHAVIORLAB_KEY_FILE"
_FORMAT = "behaviorlab-model-digests"
_CONTEXT = b"behaviorlab model file sha256\0"
#: What :func:`trust` records in a folder.
MODEL_PATTERN = "*.pkl"


class UntrustedModelError(FileFormatError):
    """A model file (a pickle) that this user's behaviorlab did not write, or that changed since it did."""

    def __init__(self, path: str | Path, reason: str) -> None:
        super().__init__(
            path,
            f"refused to load this model file: {reason}; a model file is a pickle, which runs code when it loads. "
            f"If you trust it, pass --trust {path}",
        )


# --------------------------------------------------------------------------- the key
def key_file() -> Path:
    """Return the file holding this user's key: ``$BEHAVIORLAB_KEY_FILE``, else the config folder's ``model_key``."""
    if os.environ.get(KEY_ENV):
        return Path(os.environ[KEY_ENV]).expanduser()
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "behaviorlab" / "model_key"


def _key() -> bytes:
    """Return this user's key, made (32 random bytes, readable by the user only) when there is none."""
    path = key_file()
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32) + "\n")
            with contextlib.suppress(FileExistsError):  # another process made it first: theirs is the key
                os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    if os.name == "posix" and path.stat().st_mode & 0o077:
        raise BehaviorlabError(
            f"{path}: the key that signs your model files is readable by other users; `chmod 600 {path}`"
        )
    text = path.read_text().strip()
    if len(text) < 32:
        raise BehaviorlabError(f"{path}: not a behaviorlab key (too short); delete it to make a new one")
    return text.encode()


def _mac(key: bytes, sha256: str) -> str:
    return hmac.new(key, _CONTEXT + sha256.encode(), hashlib.sha256).hexdigest()


# --------------------------------------------------------------------------- the records
@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on the folder's record while it is read and replaced (POSIX; elsewhere none)."""
    try:
        import fcntl  # lazy: fcntl (POSIX only)
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(folder / f".{MODEL_DIGESTS}.lock", "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _read_record(folder: Path) -> dict[str, Any]:
    path = folder / MODEL_DIGESTS
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    files = data.get("files") if isinstance(data, dict) and data.get("format") == _FORMAT else None
    return files if isinstance(files, dict) else {}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _add(path: Path, sha256: str) -> None:
    """Record ``sha256`` as the digest of ``path`` in its folder's record (replacing the name's older entry)."""
    folder = path.parent
    entry = {"name": path.name, "hmac": _mac(_key(), sha256), "recorded_at": datetime.now(UTC).isoformat()}
    with _locked(folder):
        files = {d: e for d, e in _read_record(folder).items() if isinstance(e, dict) and e.get("name") != path.name}
        files[sha256] = entry
        with atomic_path(folder / MODEL_DIGESTS) as tmp:
            tmp.write_text(json.dumps({"format": _FORMAT, "version": 1, "files": files}, indent=1, sort_keys=True))


def record(path: str | Path) -> str:
    """Record the file ``path`` (just written by behaviorlab) as this user's own; return its SHA-256."""
    path = Path(path)
    sha256 = _sha256(path.read_bytes())
    _add(path, sha256)
    return sha256


def _problem(path: Path, sha256: str) -> str | None:
    """Why the bytes with ``sha256`` of ``path`` are not trusted (None: they are)."""
    files = _read_record(path.parent)
    entry = files.get(sha256)
    if isinstance(entry, dict):
        if hmac.compare_digest(str(entry.get("hmac", "")), _mac(_key(), sha256)):
            return None
        return f"its digest was recorded with another user's key (copied in from elsewhere?), not yours ({key_file()})"
    if any(isinstance(e, dict) and e.get("name") == path.name for e in files.values()):
        return "it changed after behaviorlab wrote it (its SHA-256 differs from the one recorded)"
    if not (path.parent / MODEL_DIGESTS).is_file():
        return f"behaviorlab did not write it here (no {MODEL_DIGESTS} beside it; copied in from elsewhere?)"
    return f"its SHA-256 is not in {path.parent / MODEL_DIGESTS} (copied in from elsewhere, or changed?)"


def is_recorded(path: str | Path) -> bool:
    """Whether ``path`` holds bytes recorded (with this user's key) in its folder's record."""
    path = Path(path)
    return path.is_file() and _problem(path, _sha256(path.read_bytes())) is None


def verified_bytes(path: str | Path) -> bytes:
    """Return the bytes of the model file ``path`` once their digest is found recorded with this user's key.

    The bytes hashed are the bytes returned, so the file cannot change between the check and the load.

    Raises
    ------
    FileNotFoundError
        ``path`` is not a file.
    UntrustedModelError
        The digest is not recorded, the file changed since, or the record was made with another key.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such model file")
    data = path.read_bytes()
    problem = _problem(path, _sha256(data))
    if problem is not None:
        raise UntrustedModelError(path, problem)
    return data


def copy_model(src: str | Path, dst: str | Path) -> Path:
    """Copy a trusted model file to ``dst`` (atomically) and record the copy; refuse an untrusted ``src``."""
    dst = Path(dst)
    data = verified_bytes(src)
    with atomic_path(dst) as tmp:
        tmp.write_bytes(data)
    _add(dst, _sha256(data))
    return dst


def vouch_copy(src: str | Path, dst: str | Path) -> bool:
    """Record ``dst`` when it holds the same bytes as the trusted ``src`` (a published copy); say whether it did."""
    src, dst = Path(src), Path(dst)
    if not (src.is_file() and dst.is_file()):
        return False
    data = dst.read_bytes()
    sha256 = _sha256(data)
    if _sha256(src.read_bytes()) != sha256 or _problem(src, sha256) is not None:
        return False
    _add(dst, sha256)
    return True


def trust(paths: Iterable[str | Path]) -> list[Path]:
    """Record model files as trusted by this user (``--trust``): each file, and every ``*.pkl`` under each folder.

    Returns
    -------
    list of Path
        The files recorded.

    Raises
    ------
    FileFormatError
        A path that does not exist.
    """
    recorded = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            files = sorted(p for p in path.rglob(MODEL_PATTERN) if p.is_file())
        elif path.is_file():
            files = [path]
        else:
            raise FileFormatError(path, "no such file or folder to trust")
        for file in files:
            record(file)
            recorded.append(file)
    return recorded
