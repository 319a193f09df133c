"""Save pose Datasets as netCDF, DeepLabCut, SLEAP or NWB (ndx-pose) files.

Every writer writes through :func:`behaviorlab._atomic.atomic_path`, so a
failed or interrupted save never leaves a half-written file behind (and an
existing file is only replaced by a complete one). A Dataset that fails
:func:`behaviorlab.schema.validate_poses` is refused before anything is
written.

What each format keeps:

- netCDF (``.nc``): everything, including all attrs (``log``, ``skeleton``)
  and extra variables; the lossless format.
- DeepLabCut (``.csv``, ``.h5``): positions, likelihood (= confidence),
  keypoint names, and individual names when there are several animals
  (one animal is written in the single-animal layout, which has no name);
  no fps.
- SLEAP (``.slp``): 2-D positions, point scores, tracks named after the
  individuals; fps and frame count ride in ``Labels.provenance``.
- NWB (``.nwb``): one ndx-pose ``PoseEstimation`` per individual with one
  ``PoseEstimationSeries`` per keypoint (rate = fps), confidence, keypoint
  names in an ndx-pose ``Skeleton``.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import h5py
import numpy as np
import xarray as xr

from behaviorlab._atomic import atomic_path
from behaviorlab.errors import FileFormatError
from behaviorlab.io._dlc import write_dlc
from behaviorlab.io._sleap import write_slp
from behaviorlab.io.load import load_poses
from behaviorlab.schema import as_poses, get_skeleton

if TYPE_CHECKING:
    import pynwb

__all__ = ["FORMATS", "convert_poses", "save_netcdf", "save_poses"]

logger = logging.getLogger(__name__)

FORMATS: tuple[str, ...] = ("netcdf", "dlc", "sleap", "nwb")
_FORMAT_SUFFIXES = {
    "netcdf": (".nc", ".nc4", ".netcdf"),
    "dlc": (".csv", ".h5", ".hdf5"),
    "sleap": (".slp",),
    "nwb": (".nwb",),
}
_NWB_DESCRIPTION_NO_FPS = "behaviorlab: fps unknown"
_NWB_PREFIX = "PoseEstimation"


def _format_for(path: Path, fmt: str | None) -> str:
    suffix = path.suffix.lower()
    if fmt is not None:
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {list(FORMATS)} or None, got {fmt!r}")
        if suffix not in _FORMAT_SUFFIXES[fmt]:
            raise FileFormatError(
                path, f"format {fmt!r} needs one of the extensions {list(_FORMAT_SUFFIXES[fmt])}, not {suffix!r}"
            )
        return fmt
    for name, suffixes in _FORMAT_SUFFIXES.items():
        if suffix in suffixes:
            return name
    known = sorted(s for suffixes in _FORMAT_SUFFIXES.values() for s in suffixes)
    raise FileFormatError(path, f"cannot tell the pose format from the extension {path.suffix!r}; use one of {known}")


# --------------------------------------------------------------------------- netCDF
def _netcdf_attr(value: Any) -> Any:
    """Convert an attr value to one netCDF can store (strings, numbers, numeric arrays)."""
    if isinstance(value, bool | np.bool_):
        return int(value)
    if isinstance(value, str | int | float | np.number):
        return value
    if isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.number):
        return value
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, default=str)
    return str(value)


#: Compressed variables are stored in chunks of about this many bytes along ``time`` (read back a chunk at a time).
CHUNK_BYTES = 4 * 2**20


def _compression(ds: xr.Dataset) -> dict[str, dict[str, Any]]:
    """Return the encoding that gzips (level 1, shuffled) each numeric variable over a chunk, in time chunks."""
    encoding: dict[str, dict[str, Any]] = {}
    for name, var in ds.data_vars.items():
        if var.dtype.kind not in "fiub" or var.nbytes <= CHUNK_BYTES or not var.ndim:
            continue
        row = max(1, var.nbytes // max(1, var.shape[0]))
        first = var.shape[0] if var.dims[0] != "time" else int(min(var.shape[0], max(1, CHUNK_BYTES // row)))
        encoding[name] = {
            "compression": "gzip",
            "compression_opts": 1,
            "shuffle": True,
            "chunksizes": (first, *var.shape[1:]),
        }
    return encoding


def _write_netcdf(ds: xr.Dataset, path: Path, *, compress: bool = False) -> None:
    out = ds.copy(deep=False)
    out.attrs = {k: _netcdf_attr(v) for k, v in ds.attrs.items() if v is not None}
    for name in out.variables:
        out[name].attrs = {k: _netcdf_attr(v) for k, v in out[name].attrs.items() if v is not None}
    if compress:
        for name in out.data_vars:
            out[name].encoding = {}  # chunks and filters of a file the Dataset was read from no longer fit
    _create_reproducible_hdf5(path)
    out.to_netcdf(path, engine="h5netcdf", mode="a", encoding=_compression(out) if compress else None)


def _create_reproducible_hdf5(path: Path) -> None:
    """Create an empty HDF5 file whose root group records no timestamps.

    HDF5 stamps each object header with the time it was written, so two saves
    of the same Dataset would differ in a few bytes; without those stamps the
    same Dataset always gives the same file.  Link and attribute creation
    order are tracked as netCDF-4 (and h5netcdf) expect.
    """
    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    fcpl.set_link_creation_order(h5py.h5p.CRT_ORDER_TRACKED | h5py.h5p.CRT_ORDER_INDEXED)
    fcpl.set_attr_creation_order(h5py.h5p.CRT_ORDER_TRACKED | h5py.h5p.CRT_ORDER_INDEXED)
    fcpl.set_obj_track_times(False)
    h5py.h5f.create(str(path).encode(), h5py.h5f.ACC_TRUNC, fcpl=fcpl).close()


# --------------------------------------------------------------------------- NWB
def _nwb_escape(name: str) -> str:
    """NWB object names cannot contain '/'."""
    return name.replace("%", "%25").replace("/", "%2F")


def nwb_file(ds: xr.Dataset, *, scorer: str, **fields: Any) -> pynwb.NWBFile:
    """Build (do not write) an NWB file holding the poses of ``ds`` through ndx-pose.

    The ``behavior`` processing module gets one ``Skeletons`` container and one
    ``PoseEstimation`` per individual (named ``PoseEstimation`` alone when
    there is one individual, which is then also the file's subject).

    Parameters
    ----------
    ds
        A valid pose Dataset, ``position (time, space, keypoint, individual)``
        and ``confidence (time, keypoint, individual)``.
    scorer
        Scorer name stored in each ``PoseEstimation``.
    **fields
        ``pynwb.NWBFile`` arguments that replace the defaults
        (``session_description``, ``identifier``, ``session_start_time``,
        ``subject``, ``notes``) or add to them (``session_id``, ...).

    Returns
    -------
    pynwb.NWBFile
        The in-memory file, ready for ``pynwb.NWBHDF5IO.write``.
    """
    import ndx_pose  # lazy: ndx-pose (seconds to import)
    import pynwb  # lazy: pynwb (a second to import)
    from pynwb.file import Subject  # lazy: pynwb (a second to import)

    keypoints = [str(k) for k in ds["keypoint"].values]
    individuals = [str(i) for i in ds["individual"].values]
    fps = ds.attrs.get("fps")
    software = str(ds.attrs.get("source_software", "unknown"))
    ours = get_skeleton(ds)
    edges = np.array(
        [[keypoints.index(a), keypoints.index(b)] for a, b in (ours.edges if ours else ())], dtype=np.uint64
    ).reshape(-1, 2)
    single = len(individuals) == 1
    defaults: dict[str, Any] = {
        "session_description": f"poses of {', '.join(individuals)} written by behaviorlab",
        "identifier": str(uuid.uuid4()),
        "session_start_time": datetime.now(UTC),
        "subject": Subject(subject_id=individuals[0]) if single else None,
        "notes": json.dumps({"behaviorlab": {"individuals": individuals, "fps": fps}}),
    }
    nwbfile = pynwb.NWBFile(**{**defaults, **fields})
    behavior = nwbfile.create_processing_module(name="behavior", description="processed behavioral data")
    skeletons, estimations = [], []
    description = "Estimated keypoint positions."
    if fps is None:
        description += f" {_NWB_DESCRIPTION_NO_FPS}: rate=1.0 counts frames, not seconds."
    pos = ds["position"].transpose("individual", "keypoint", "time", "space").to_numpy()
    conf = ds["confidence"].transpose("individual", "keypoint", "time").to_numpy()
    for i, individual in enumerate(individuals):
        skeleton = ndx_pose.Skeleton(
            name=f"{_nwb_escape(individual)}_skeleton",
            nodes=keypoints,
            edges=edges,
            subject=nwbfile.subject if single else None,
        )
        series = [
            ndx_pose.PoseEstimationSeries(
                name=_nwb_escape(keypoint),
                description=f"position of {keypoint}",
                data=pos[i, k],
                unit="pixels",
                reference_frame="(0, 0) is the top-left corner of the image",
                confidence=conf[i, k],
                confidence_definition="point-wise confidence, NaN where unknown",
                rate=float(fps) if fps is not None else 1.0,
                starting_time=0.0,
            )
            for k, keypoint in enumerate(keypoints)
        ]
        skeletons.append(skeleton)
        estimations.append(
            ndx_pose.PoseEstimation(
                name=_NWB_PREFIX if single else f"{_NWB_PREFIX}_{_nwb_escape(individual)}",
                pose_estimation_series=series,
                description=description,
                scorer=scorer,
                source_software=software,
                skeleton=skeleton,
            )
        )
    behavior.add(ndx_pose.Skeletons(skeletons=skeletons))
    for pe in estimations:
        behavior.add(pe)
    return nwbfile


def _write_nwb(ds: xr.Dataset, path: Path, *, scorer: str) -> None:
    import pynwb  # lazy: pynwb (a second to import)

    nwbfile = nwb_file(ds, scorer=scorer)
    with pynwb.NWBHDF5IO(str(path), mode="w") as io:
        io.write(nwbfile)


# --------------------------------------------------------------------------- public API
def save_poses(ds: xr.Dataset, path: str | Path, *, format: str | None = None, scorer: str = "behaviorlab") -> Path:
    """Write a pose Dataset to a file, atomically.

    Parameters
    ----------
    ds
        A valid pose Dataset (behaviorlab's or ``movement``'s layout), with
        ``position (time, space, keypoint, individual)`` and
        ``confidence (time, keypoint, individual)``.
    path
        Destination; its extension picks the format unless ``format`` is given:
        ``.nc`` netCDF, ``.csv``/``.h5`` DeepLabCut, ``.slp`` SLEAP, ``.nwb`` NWB.
    format
        ``"netcdf"``, ``"dlc"``, ``"sleap"`` or ``"nwb"``; must agree with the extension.
    scorer
        Scorer name for DeepLabCut headers and the NWB ``PoseEstimation``.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    SchemaError
        ``ds`` is not a valid pose Dataset; nothing is written.
    FileFormatError
        The extension or format is not supported, or the format cannot hold
        the data (3-D poses in SLEAP).
    """
    path = Path(path)
    fmt = _format_for(path, format)
    ds = as_poses(ds, source=f"refusing to write {path}")
    if fmt in ("sleap",) and ds.sizes["space"] != 2:
        raise FileFormatError(path, "SLEAP files hold 2-D poses only; this Dataset has 3-D positions")
    if ds.sizes["time"] == 0:
        raise FileFormatError(path, "the Dataset has no frames; nothing to write")
    # Saving is not a processing step: the log is left as it is, so the same
    # Dataset always gives the same file (sample_data/ regenerates bit for bit).
    with atomic_path(path) as tmp:
        if fmt == "netcdf":
            _write_netcdf(ds, tmp)
        elif fmt == "dlc":
            write_dlc(ds, tmp, scorer=scorer)
        elif fmt == "sleap":
            write_slp(ds, tmp)
        else:
            _write_nwb(ds, tmp, scorer=scorer)
    logger.info("saved poses %s to %s (%s)", dict(ds.sizes), path, fmt)
    return path


def save_netcdf(ds: xr.Dataset, path: str | Path) -> Path:
    """Write any behaviorlab Dataset (features, map or ethogram labels) to netCDF, atomically.

    Unlike :func:`save_poses` the Dataset need not hold poses.  Attrs that
    netCDF cannot store (dicts, lists) are written as JSON strings.  Numeric
    variables larger than :data:`CHUNK_BYTES` (features, spectrograms) are
    gzipped losslessly in chunks along ``time``: a spectrogram's rows of
    features it leaves out cost nothing, and a reader loads only the chunks it needs.

    Parameters
    ----------
    ds
        The Dataset (not modified).
    path
        Destination ``.nc`` file; replaced only when the write succeeds.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    if path.suffix.lower() not in (".nc", ".nc4", ".netcdf"):
        raise FileFormatError(path, "netCDF files end in .nc; choose another file name")
    with atomic_path(path) as tmp:
        _write_netcdf(ds, tmp, compress=True)
    logger.info("saved %s to %s", dict(ds.sizes), path)
    return path


def convert_poses(
    src: str | Path,
    dst: str | Path,
    *,
    source: str | None = None,
    fps: float | None = None,
    format: str | None = None,
    csv_columns: str | None = None,
) -> Path:
    """Convert a pose file to another format: :func:`load_poses` then :func:`save_poses`.

    Parameters
    ----------
    src
        Input pose file (any format :func:`~behaviorlab.io.load.load_poses` reads).
    dst
        Output file; its extension picks the format unless ``format`` is given.
    source
        Force the input format (see ``load_poses``).
    fps
        Frames per second, when the input does not store it (or to override it).
    format
        Force the output format (see ``save_poses``).

    Returns
    -------
    Path
        ``dst``.
    """
    src, dst = Path(src), Path(dst)
    if src.resolve() == dst.resolve():
        raise FileFormatError(dst, "is the input file too; choose another output path")
    _format_for(dst, format)  # fail on a bad destination before reading a large input
    ds = load_poses(src, source=source, fps=fps, csv_columns=csv_columns)
    return save_poses(ds, dst, format=format)
