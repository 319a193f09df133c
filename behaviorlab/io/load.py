"""Load pose time series from DeepLabCut, SLEAP, NWB (ndx-pose) and netCDF files.

:func:`load_poses` is the one entry point: it picks the reader from the file
extension and the file's content (``source=`` forces one), returns a pose
Dataset that passes :func:`behaviorlab.schema.validate_poses`, and records
the load in ``attrs["log"]``. Every problem with the file is raised as one
:class:`~behaviorlab.errors.FileFormatError` that names the file.

Conventions shared by all readers:

- ``time`` is the frame index (seconds when ``fps`` is known); frames absent
  from a file are NaN rows.
- ``confidence`` is NaN where the file has no score, e.g. for human labels
  (DeepLabCut ``CollectedData`` files, SLEAP user instances).
- Unnamed animals are called ``individual_0, individual_1, ...`` (the name
  ``movement`` gives the animal of a single-animal DeepLabCut file).
- Labeled-data tables indexed by image path keep the paths as an
  ``image_path`` coordinate along ``time``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import xarray as xr
import yaml

from behaviorlab.errors import BehaviorlabError, FileFormatError
from behaviorlab.io._dlc import PoseArrays, is_dlc_h5, read_dlc_csv, read_dlc_h5
from behaviorlab.io._sleap import read_sleap_analysis_h5, read_slp, sleap_h5_kind
from behaviorlab.io._tables import read_pose_table, read_sleap_csv, sniff_csv
from behaviorlab.schema import Skeleton, as_poses, check_fps, from_numpy, log_step, set_skeleton

__all__ = ["SOURCES", "detect_source", "find_dlc_pcutoff", "load_netcdf", "load_poses", "session_name", "stored_fps"]

logger = logging.getLogger(__name__)

SOURCES: tuple[str, ...] = ("dlc", "sleap", "nwb", "netcdf", "sleap_csv", "csv")
_SOFTWARE = {
    "dlc": "DeepLabCut",
    "sleap": "SLEAP",
    "nwb": "NWB",
    "netcdf": "unknown",
    "sleap_csv": "SLEAP",
    "csv": "unknown (CSV table)",
}
_EXTENSIONS = {
    ".csv": "dlc",
    ".slp": "sleap",
    ".nwb": "nwb",
    ".nc": "netcdf",
    ".nc4": "netcdf",
    ".netcdf": "netcdf",
    ".cdf": "netcdf",
}
_HDF5_EXTENSIONS = (".h5", ".hdf5", ".hdf")
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_NWB_DESCRIPTION_NO_FPS = "behaviorlab: fps unknown"
_NWB_PREFIX = "PoseEstimation"


# --------------------------------------------------------------------------- format detection
def _is_hdf5(path: Path) -> bool:
    with open(path, "rb") as f:
        for offset in (0, 512, 1024, 2048):  # HDF5 allows a user block before the signature
            f.seek(offset)
            if f.read(8) == _HDF5_MAGIC:
                return True
    return False


def _supported() -> str:
    return ", ".join(sorted({*_EXTENSIONS, *_HDF5_EXTENSIONS}))


def _check_file(path: Path) -> None:
    if not path.exists():
        hint = ""
        if path.parent.is_dir():
            close = sorted(p.name for p in path.parent.glob(f"*{path.suffix}"))[:5]
            if close:
                hint = f"; files with that extension in {path.parent}: {close}"
        raise FileFormatError(path, f"the file does not exist{hint}")
    if path.is_dir():
        raise FileFormatError(path, "is a directory; pass the path of a pose file inside it")
    if path.stat().st_size == 0:
        raise FileFormatError(path, "the file is empty (0 bytes); was it written completely?")


def detect_source(path: str | Path) -> str:
    """Detect the pose format of ``path``: one of :data:`SOURCES`.

    The extension decides, except for HDF5 (``.h5``), whose content tells
    DeepLabCut tables, SLEAP files and netCDF-4 apart.

    Parameters
    ----------
    path
        An existing, non-empty file.

    Returns
    -------
    str
        ``"dlc"``, ``"sleap"``, ``"nwb"``, ``"netcdf"``, ``"sleap_csv"``
        (SLEAP's CSV export) or ``"csv"`` (a generic table with columns such
        as ``snout_x, snout_y, snout_p``).
    """
    path = Path(path)
    _check_file(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return sniff_csv(path)
    if suffix in _EXTENSIONS:
        return _EXTENSIONS[suffix]
    if suffix in _HDF5_EXTENSIONS:
        if not _is_hdf5(path):
            raise FileFormatError(path, f"has the extension {suffix!r} but is not an HDF5 file")
        return _sniff_hdf5(path)
    raise FileFormatError(
        path,
        f"unsupported extension {path.suffix!r} for pose data; supported: {_supported()} "
        f"(or name the format with --source, one of {', '.join(SOURCES)})",
    )


def _sniff_hdf5(path: Path) -> str:
    try:
        with h5py.File(path, "r") as f:
            keys = sorted(f.keys())
            if sleap_h5_kind(f):
                return "sleap"
            if "nwb_version" in f.attrs:
                return "nwb"
            if "_NCProperties" in f.attrs or any("DIMENSION_LIST" in f[k].attrs for k in f):
                return "netcdf"
    except OSError as err:
        raise FileFormatError(path, f"could not open it as HDF5: {err}") from None
    if is_dlc_h5(path):
        return "dlc"
    raise FileFormatError(
        path,
        f"is an HDF5 file but neither a DeepLabCut pose table (pandas key 'df_with_missing') nor a SLEAP "
        f"file (datasets 'tracks' + 'node_names', or 'frames' + 'instances'); its top-level keys are {keys}",
    )


# --------------------------------------------------------------------------- readers
def _read_dlc(path: Path) -> PoseArrays:
    if path.suffix.lower() == ".csv" or not _is_hdf5(path):
        return read_dlc_csv(path)
    return read_dlc_h5(path)


def _read_sleap(path: Path) -> PoseArrays:
    if not _is_hdf5(path):
        raise FileFormatError(path, "is not a SLEAP file: SLEAP .slp and analysis .h5 files are HDF5")
    with h5py.File(path, "r") as f:
        kind = sleap_h5_kind(f)
        keys = sorted(f.keys())
    if kind == "analysis":
        return read_sleap_analysis_h5(path)
    if kind == "labels":
        return read_slp(path)
    raise FileFormatError(
        path,
        f"is not a SLEAP labels or analysis file (top-level keys {keys}); "
        "expected 'frames'/'instances' (.slp) or 'tracks'/'node_names' (analysis .h5)",
    )


def _nwb_unescape(name: str) -> str:
    return name.replace("%2F", "/").replace("%25", "%")


def _read_nwb(path: Path) -> PoseArrays:
    import ndx_pose  # lazy: ndx-pose (seconds to import)
    import pynwb  # lazy: pynwb (a second to import)

    with pynwb.NWBHDF5IO(str(path), mode="r", load_namespaces=True) as io:
        nwbfile = io.read()
        found = [
            (module_name, obj)
            for module_name, module in nwbfile.processing.items()
            for obj in module.data_interfaces.values()
            if isinstance(obj, ndx_pose.PoseEstimation)
        ]
        if not found:
            raise FileFormatError(
                path,
                "the NWB file has no ndx-pose PoseEstimation in its processing modules "
                "(training annotations, PoseTraining, are not pose time series)",
            )
        subject_id = nwbfile.subject.subject_id if nwbfile.subject is not None else None
        per_individual = [_read_pose_estimation(path, pe) for _, pe in found]
        if len(found) == 1:
            pe = found[0][1]
            only = pe.name[len(_NWB_PREFIX) + 1 :] if pe.name.startswith(_NWB_PREFIX + "_") else None
            individuals = [_nwb_unescape(only) if only else (subject_id or nwbfile.identifier or "individual_0")]
        else:
            individuals = [
                _nwb_unescape(pe.name[len(_NWB_PREFIX) + 1 :]) if pe.name.startswith(_NWB_PREFIX + "_") else pe.name
                for _, pe in found
            ]
        individuals = [str(i) for i in individuals]
        order = _nwb_saved_order(nwbfile.notes, individuals)
        if order is not None:
            individuals = [individuals[j] for j in order]
            found = [found[j] for j in order]
            per_individual = [per_individual[j] for j in order]
        software = {pe.source_software for _, pe in found if pe.source_software}
        scorer = next((pe.scorer for _, pe in found if pe.scorer), None)
    keypoints = per_individual[0][0]
    for kps, *_ in per_individual[1:]:
        if kps != keypoints:
            raise FileFormatError(path, f"the PoseEstimation objects disagree on keypoints: {keypoints} vs {kps}")
    n_frames = max(p[1].shape[0] for p in per_individual)
    n_space = max(p[1].shape[1] for p in per_individual)
    position = np.full((n_frames, n_space, len(keypoints), len(found)), np.nan)
    confidence = np.full((n_frames, len(keypoints), len(found)), np.nan)
    fps_values = set()
    for i, (_, pos, conf, fps) in enumerate(per_individual):
        position[: pos.shape[0], : pos.shape[1], :, i] = pos
        confidence[: conf.shape[0], :, i] = conf
        fps_values.add(fps)
    fps_values.discard(None)
    if len(fps_values) > 1:
        raise FileFormatError(path, f"the PoseEstimation objects have different frame rates {sorted(fps_values)}")
    attrs: dict[str, Any] = {}
    if len(software) == 1:
        attrs["source_software"] = software.pop()
    if scorer:
        attrs["nwb_scorer"] = str(scorer)
    return PoseArrays(
        position,
        confidence,
        keypoints,
        individuals,
        fps=fps_values.pop() if fps_values else None,
        attrs=attrs,
    )


def _nwb_saved_order(notes: str | None, individuals: list[str]) -> list[int] | None:
    """Return the individual order saved in the NWB notes, as indices into ``individuals``."""
    try:
        saved = json.loads(notes or "")["behaviorlab"]["individuals"]
    except (json.JSONDecodeError, KeyError, TypeError):
        return None
    if not isinstance(saved, list) or sorted(map(str, saved)) != sorted(individuals):
        return None
    return [individuals.index(str(name)) for name in saved]


def _read_pose_estimation(path: Path, pe: Any) -> tuple[list[str], np.ndarray, np.ndarray, float | None]:
    """Read one PoseEstimation.

    Returns keypoint names, position ``(time, space, keypoint)``, confidence
    ``(time, keypoint)`` and fps (``None`` when unknown).
    """
    series = dict(pe.pose_estimation_series)
    if not series:
        raise FileFormatError(path, f"PoseEstimation {pe.name!r} has no PoseEstimationSeries")
    by_name = {_nwb_unescape(name): s for name, s in series.items()}
    nodes = [str(n) for n in pe.skeleton.nodes[:]] if pe.skeleton is not None else []
    keypoints = nodes if nodes and set(nodes) == set(by_name) else list(by_name)
    no_fps = _NWB_DESCRIPTION_NO_FPS in (pe.description or "")
    frames_per_series, fps_found = [], set()
    for name in keypoints:
        s = by_name[name]
        n = s.data.shape[0]
        if s.rate is not None:
            fps_found.add(float(s.rate))
            start = float(s.starting_time or 0.0)
            frames_per_series.append(np.arange(n) + round(start * float(s.rate)))
        else:
            ts = np.asarray(s.timestamps[:], dtype=np.float64)
            if len(ts) > 1:
                step = float(np.median(np.diff(ts)))
                if step > 0:
                    fps_found.add(1.0 / step)
            frames_per_series.append(ts)
    if len(fps_found) > 1 and max(fps_found) - min(fps_found) > 1e-6 * max(fps_found):
        raise FileFormatError(path, f"PoseEstimation {pe.name!r} mixes frame rates {sorted(fps_found)}")
    fps = next(iter(fps_found)) if fps_found else None
    frames = []
    for name, f in zip(keypoints, frames_per_series, strict=True):
        if by_name[name].rate is None:  # timestamps in seconds -> frame numbers
            t0 = min(float(np.min(fr)) for fr in frames_per_series if len(fr))
            f = np.round((f - t0) * fps).astype(np.int64) if fps else np.arange(len(f))
        frames.append(np.asarray(f, dtype=np.int64))
    n_frames = max(int(f.max()) + 1 if len(f) else 0 for f in frames)
    n_space = max(by_name[k].data.shape[1] if by_name[k].data.ndim > 1 else 1 for k in keypoints)
    position = np.full((n_frames, n_space, len(keypoints)), np.nan)
    confidence = np.full((n_frames, len(keypoints)), np.nan)
    for k, (name, f) in enumerate(zip(keypoints, frames, strict=True)):
        s = by_name[name]
        data = np.asarray(s.data[:], dtype=np.float64).reshape(len(f), -1)
        position[f, : data.shape[1], k] = data
        if s.confidence is not None:
            confidence[f, k] = np.asarray(s.confidence[:], dtype=np.float64)
    if n_space not in (2, 3):
        raise FileFormatError(path, f"PoseEstimationSeries data must have 2 or 3 columns, got {n_space}")
    return keypoints, position, confidence, None if no_fps else fps


#: Engines for files behaviorlab wrote (the cache, the store): netCDF4, the C library, first; it reads them
#: about 3.5x faster than h5netcdf with identical results.
_OWN_ENGINES = ("netcdf4", "h5netcdf", "scipy", None)
#: Engines for files from elsewhere: h5netcdf (h5py) first, because the netCDF4 library can crash the
#: process on a damaged file (a segmentation fault while closing it after a failed open; found by fuzzing).
_FOREIGN_ENGINES = ("h5netcdf", "scipy")


def _read_netcdf(
    path: Path, select: Sequence[str] | None = None, *, engines: Sequence[Any] = _OWN_ENGINES, lazy: bool = False
) -> xr.Dataset:
    errors = []
    for engine in engines:
        try:
            opened = xr.open_dataset(path, engine=engine)
            try:
                if select is not None:
                    missing = [v for v in select if v not in opened.data_vars]
                    if missing:
                        raise FileFormatError(
                            path,
                            f"has no {', '.join(map(repr, missing))} (it holds {sorted(map(str, opened.data_vars))})",
                        )
                chosen = opened if select is None else opened[list(select)]  # only the chosen variables are read
                result = chosen if lazy else chosen.load()  # lazy: values read when used; closed with the Dataset
            except BaseException:
                opened.close()
                raise
            if not lazy:
                opened.close()
            return result
        except FileFormatError:
            raise
        except (ValueError, OSError, ImportError, TypeError) as err:
            errors.append(f"{engine or 'default'}: {err}")
    raise FileFormatError(path, f"could not read it as netCDF ({'; '.join(errors)})")


def load_netcdf(
    path: str | Path, variables: Sequence[str] = (), *, select: Sequence[str] | None = None, lazy: bool = False
) -> xr.Dataset:
    """Read a behaviorlab netCDF file (features, labels), checking that it holds ``variables``.

    Parameters
    ----------
    path
        A ``.nc`` file written by :func:`behaviorlab.io.save.save_netcdf` or
        ``behaviorlab features``.
    variables
        Variables the caller needs; a missing one is an error naming the file.
    select
        Read only these data variables (with the coordinates and the file's
        attrs); the others are never read from disk, which is what makes a
        dashboard page over many sessions fast. A missing one is an error
        naming the file.
    lazy
        Open the file and read values only when they are used: a caller that
        goes through a long session in blocks of time (the classifier's
        predict) holds one block in memory, not the session. The coordinates
        and attrs are read at once; the file stays open until the Dataset is
        closed (``ds.close()``) or dropped. Files are compressed in chunks
        along time (:func:`behaviorlab.io.save.save_netcdf`), so a block of
        time reads only its chunks.

    Returns
    -------
    xarray.Dataset
        The Dataset: loaded, with the file closed, unless ``lazy``.
    """
    path = Path(path)
    _check_file(path)
    ds = _read_netcdf(path, None if select is None else list(dict.fromkeys([*select, *variables])), lazy=lazy)
    missing = [v for v in variables if v not in ds]
    if missing:
        ds.close()
        raise FileFormatError(
            path, f"has no {', '.join(map(repr, missing))} (it holds {sorted(map(str, ds.data_vars))})"
        )
    return ds


# --------------------------------------------------------------------------- Dataset assembly
def _with_fps(ds: xr.Dataset, fps: float) -> xr.Dataset:
    """Return ``ds`` with its time axis re-expressed for ``fps`` (frame numbers are kept)."""
    time = ds["time"].to_numpy().astype(np.float64)
    frames = time * float(ds.attrs["fps"]) if ds.attrs.get("time_unit") == "seconds" else time
    out = ds.assign_coords(time=np.round(frames) / fps)
    out.attrs = {**ds.attrs, "fps": fps, "time_unit": "seconds"}
    return out


def _to_dataset(arrays: PoseArrays, source: str, path: Path, fps: float | None) -> xr.Dataset:
    attrs = dict(arrays.attrs)
    software = attrs.pop("source_software", None) or _SOFTWARE[source]
    ds = from_numpy(
        arrays.position,
        arrays.confidence,
        keypoints=arrays.keypoints,
        individuals=arrays.individuals,
        fps=fps if fps is not None else arrays.fps,
        source_software=software,
        attrs_=attrs,
    )
    if arrays.time_coords:
        ds = ds.assign_coords({name: ("time", values) for name, values in arrays.time_coords.items()})
    return ds


#: DeepLabCut's scorer suffix of an analysed video's pose file: ``DLC_resnet50_ProjectMay9shuffle1_100000``
#: (2.x), ``DeepCut_resnet50_...shuffle1_1030000`` (older), ``DLC_Resnet50_...shuffle1_snapshot_200`` (3.x), with
#: ``_filtered``, ``_el``, ``_bx``, ``_sk`` and the like after it.
_DLC_SCORER = re.compile(r"(?:DLC|DeepCut)_[A-Za-z0-9]+_.*?shuffle\d+.*$")


def session_name(path: str | Path) -> str:
    """Name a session after its file: the name before the first dot, without DeepLabCut's scorer suffix.

    ``12_01_A_1905DeepCut_resnet50_Blockcourse1May9shuffle1_1030000.csv`` and
    ``mouse1DLC_resnet50_openfieldOct30shuffle1_1030000_filtered.h5`` name
    the sessions ``12_01_A_1905`` and ``mouse1``, as the videos were named,
    so that annotation files named by video match them.
    """
    name = Path(path).name.split(".")[0]
    return _DLC_SCORER.sub("", name).rstrip("_-") or name


def stored_fps(path: str | Path) -> float | None:
    """Return the frame rate a pose file stores (netCDF, SLEAP, NWB), None when it stores none (DeepLabCut)."""
    path = Path(path)
    try:
        if detect_source(path) == "dlc":
            return None
        return load_poses(path).attrs.get("fps")
    except BehaviorlabError:
        return None


def find_dlc_pcutoff(path: str | Path) -> tuple[float, Path] | None:
    """Return the ``pcutoff`` of the DeepLabCut project of a pose file and its ``config.yaml`` (None if not found).

    DeepLabCut writes its analysed poses beside the videos, one or two
    folders below the project's ``config.yaml`` (``PROJECT/videos/``); the
    file's own folder and the two above it are searched.
    """
    for folder in list(Path(path).resolve().parents)[:3]:
        config = folder / "config.yaml"
        if not config.is_file():
            continue
        try:
            data = yaml.safe_load(config.read_text())
        except (yaml.YAMLError, OSError, UnicodeDecodeError):
            continue
        if isinstance(data, dict) and isinstance(data.get("pcutoff"), int | float) and "bodyparts" in data:
            return float(data["pcutoff"]), config
    return None


def _with_pcutoff(ds: xr.Dataset, path: Path) -> xr.Dataset:
    """Record the DeepLabCut project's ``pcutoff`` (``attrs["pcutoff"]``) for cleaning's ``"auto"`` threshold."""
    found = find_dlc_pcutoff(path)
    if found is None:
        return ds
    ds.attrs["pcutoff"], ds.attrs["pcutoff_source"] = found[0], str(found[1])
    return ds


def load_poses(
    path: str | Path,
    *,
    source: str | None = None,
    fps: float | None = None,
    skeleton: Skeleton | None = None,
    csv_columns: str | None = None,
) -> xr.Dataset:
    """Load a pose time series from a DeepLabCut, SLEAP, NWB, netCDF or plain CSV file.

    Parameters
    ----------
    path
        The pose file: DeepLabCut ``.csv``/``.h5`` (predictions or
        ``CollectedData``, single- or multi-animal), SLEAP ``.slp`` or
        analysis ``.h5``, NWB ``.nwb`` with ndx-pose, or netCDF ``.nc``
        (written by behaviorlab or by ``movement``).
    source
        Force the format: one of :data:`SOURCES` (``"sleap_csv"`` is SLEAP's
        CSV export, ``"csv"`` a generic table); by default it is detected
        from the extension and the content.
    fps
        Frames per second; overrides any frame rate stored in the file.
        With a frame rate ``time`` is in seconds, otherwise in frames.
    skeleton
        If given, the file's keypoints must be exactly the skeleton's, in
        order, and the skeleton is stored in ``attrs["skeleton"]``.
    csv_columns
        For a generic CSV table: a regular expression with the groups
        ``keypoint`` and ``coord`` that splits its column names (default
        :data:`behaviorlab.io._tables.COLUMN_PATTERN`: ``snout_x``,
        ``Nose.Y``, ``ear_likelihood``).

    Returns
    -------
    xarray.Dataset
        ``position (time, space, keypoint, individual)`` and
        ``confidence (time, keypoint, individual)``, with attrs
        ``source_software``, ``source_file``, ``fps`` (when known),
        ``time_unit`` and ``log``.

    Raises
    ------
    FileFormatError
        The file is missing, empty, of an unknown type or malformed.
    SchemaError
        The keypoints disagree with ``skeleton``.

    Examples
    --------
    >>> ds = load_poses("mouseDLC_resnet50.csv", fps=30)  # doctest: +SKIP
    >>> ds["position"].sel(keypoint="snout", individual="individual_0", space="x")  # doctest: +SKIP
    """
    path = Path(path)
    fps = check_fps(fps)
    if source is not None:
        if source not in SOURCES:
            raise FileFormatError(path, f"unknown pose format {source!r}: --source must be one of {', '.join(SOURCES)}")
        _check_file(path)
    else:
        try:
            source = detect_source(path)
        except BehaviorlabError:
            raise
        except (KeyError, IndexError, ValueError, TypeError, OSError, AttributeError, RuntimeError) as err:
            raise FileFormatError(path, f"damaged file: {type(err).__name__}: {err}") from None
    try:
        if source == "netcdf":
            ds = as_poses(_read_netcdf(path, engines=_FOREIGN_ENGINES), source=str(path))
            if fps is not None:
                ds = _with_fps(ds, fps)
        else:
            readers = {
                "dlc": _read_dlc,
                "sleap": _read_sleap,
                "nwb": _read_nwb,
                "sleap_csv": read_sleap_csv,
                "csv": lambda p: read_pose_table(p, csv_columns),
            }
            ds = _to_dataset(readers[source](path), source, path, fps)
    except BehaviorlabError as err:
        if isinstance(err, FileFormatError):
            raise
        raise FileFormatError(path, str(err)) from None
    except (KeyError, IndexError, ValueError, TypeError, OSError, AttributeError, RuntimeError) as err:
        raise FileFormatError(
            path, f"could not be read as {source!r} pose data ({type(err).__name__}: {err})"
        ) from None
    keypoints = [str(k) for k in ds["keypoint"].values]
    if skeleton is not None:
        skeleton.check_keypoints(keypoints, source=str(path))
        ds = set_skeleton(ds, skeleton)
    ds.attrs["source_file"] = str(path)
    if source == "dlc":
        ds = _with_pcutoff(ds, path)
    logger.info("loaded %s poses from %s: %s", source, path, dict(ds.sizes))
    return log_step(ds, "load_poses", path=str(path), source=source, fps=ds.attrs.get("fps"))
