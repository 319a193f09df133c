"""A results store's exports as bytes, one file per format, for a download button.

:func:`export_bundle` runs :func:`behaviorlab.results.export.export_store` into a
temporary folder and reads back what it wrote, one file per format:

- ``csv``: a zip of ``csv/<table>.csv`` (every table, ``sessions`` and
  ``metadata`` included);
- ``excel``: the ``.xlsx`` workbook (one sheet per table, without the
  per-frame ``frame_labels``);
- ``parquet``: a zip of ``parquet/<table>.parquet``;
- ``nwb``: a zip of ``nwb/<session>.nwb`` (poses and behavior bouts).

:func:`table_csv` gives one table as CSV bytes.  :func:`bundle_file_name`
names the downloaded files after the store folder.  Nothing is written
outside the temporary folder, which is removed afterwards.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

from behaviorlab.results.export import export_store
from behaviorlab.results.store import ResultsStore, StoreError

__all__ = ["BUNDLE_FORMATS", "bundle_file_name", "export_bundle", "table_csv"]

#: Formats :func:`export_bundle` builds, and the suffix of each downloaded file.
BUNDLE_FORMATS: dict[str, str] = {
    "csv": "_csv.zip",
    "excel": ".xlsx",
    "parquet": "_parquet.zip",
    "nwb": "_nwb.zip",
}


def _store(store: ResultsStore | str | Path) -> ResultsStore:
    return store if isinstance(store, ResultsStore) else ResultsStore(store)


def bundle_file_name(store: ResultsStore | str | Path, fmt: str) -> str:
    """Return the download file name of format ``fmt`` of ``store``: ``results_nwb.zip``, ``results.xlsx``, ..."""
    if fmt not in BUNDLE_FORMATS:
        raise StoreError(f"unknown bundle format {fmt!r}; choose from {list(BUNDLE_FORMATS)}")
    return (_store(store).path.name or "results") + BUNDLE_FORMATS[fmt]


def _zip_folder(folder: Path, root: Path) -> bytes:
    """Zip every file under ``folder`` (names relative to ``root``, sorted) and return the archive's bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            archive.write(path, path.relative_to(root).as_posix())
    return buffer.getvalue()


def export_bundle(
    store: ResultsStore | str | Path,
    formats: Sequence[str] = tuple(BUNDLE_FORMATS),
    *,
    sessions: Sequence[str] | None = None,
) -> dict[str, bytes]:
    """Export a results store and return one file's bytes per format.

    Parameters
    ----------
    store
        The store (or its folder).
    formats
        Any of :data:`BUNDLE_FORMATS` (``csv``, ``excel``, ``parquet``,
        ``nwb``).
    sessions
        Export these sessions only (default all).

    Returns
    -------
    dict of str to bytes
        Format -> file contents, in the order of ``formats``: zip archives
        for ``csv``, ``parquet`` and ``nwb`` (members ``<format>/<name>``),
        the workbook for ``excel``.  Save them under
        :func:`bundle_file_name`.

    Raises
    ------
    behaviorlab.errors.StoreError
        An unknown format or session (from
        :func:`~behaviorlab.results.export.export_store`).
    """
    store = _store(store)
    formats = list(dict.fromkeys(formats))
    unknown = [f for f in formats if f not in BUNDLE_FORMATS]
    if unknown:
        raise StoreError(f"unknown bundle formats {unknown}; choose from {list(BUNDLE_FORMATS)}")
    # built inside the store's folder and removed after: the dashboard writes nothing outside its project
    with tempfile.TemporaryDirectory(prefix=".bundle_", dir=store.path) as tmp:
        out = Path(tmp)
        written = export_store(store, out, formats, sessions=sessions)
        bundle: dict[str, bytes] = {}
        for fmt in formats:
            if fmt == "excel":
                (workbook,) = written["excel"]
                bundle[fmt] = workbook.read_bytes()
            else:
                bundle[fmt] = _zip_folder(out / fmt, out)
    return bundle


def table_csv(store: ResultsStore | str | Path, name: str) -> bytes:
    """Return one table (or view) of the store, all sessions, as UTF-8 CSV bytes without the row index."""
    return _store(store).table(name).to_csv(index=False).encode("utf-8")
