"""Atomic file writes: write to a temporary file beside the target, then rename.

A reader never sees a half-written file, and an interrupted write leaves the
previous version (or nothing) in place.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path"]


@contextlib.contextmanager
def atomic_path(path: str | Path, *, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path that replaces ``path`` when the block succeeds.

    The temporary file lives in the same directory as ``path`` (so the final
    :func:`os.replace` is atomic on POSIX) and keeps the same suffix, because
    several writers (pandas, h5py, PyAV) choose the format from it.  If the
    block raises, the temporary file is removed and ``path`` is untouched.

    Parameters
    ----------
    path
        The final destination.
    suffix
        Suffix of the temporary file; defaults to the suffix of ``path``.

    Yields
    ------
    Path
        Where the caller should write.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp" + (suffix if suffix is not None else path.suffix), dir=path.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()  # let the writer create it; some refuse to open an existing file
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"the writer produced no file for {path}")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
