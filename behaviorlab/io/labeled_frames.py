"""Labeled training frames: images with hand-placed keypoints, read and written in four formats.

:class:`LabeledFrames` is what pose-model training reads and what the
refinement loop writes back.  Coordinates are pixels, ``(x, y)``, origin at
the top-left of the image; NaN marks a keypoint that is missing or not
labeled.  The canonical file is one HDF5 file (``*.labels.h5``) written by
:func:`save_labeled_frames`::

    /                attrs: format="behaviorlab.labeled_frames", format_version=1,
                            skeleton (Skeleton JSON), behaviorlab_version
    /keypoints       float64 (n_frames, n_individuals, n_keypoints, 2), NaN = missing
    /individuals     str (n_individuals,)
    /sources         str (n_frames,)  image path relative to the project, or "video.mp4#frame=123"
    /images/shapes   int64 (n_frames, 3)  (height, width, channels) of each frame
    /images/offsets  int64 (n_frames + 1,)  start of each frame in /images/data
    /images/data     uint8 (sum of frame sizes,)  raw C-order pixels, gzip-compressed chunks

:func:`load_labeled_frames` also reads DeepLabCut projects (``config.yaml``,
a ``labeled-data`` folder or a ``CollectedData_*`` CSV/HDF5 file), SLEAP
``.slp``/``.pkg.slp`` files and DeepPoseKit annotation files;
:func:`to_dlc_project`, :func:`to_sleap_package` and :func:`to_deepposekit_h5`
write them.
"""

from __future__ import annotations

import csv
import json
import logging
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import attrs
import h5py
import numpy as np
import xarray as xr

from behaviorlab._atomic import atomic_path
from behaviorlab.errors import FileFormatError, SchemaError
from behaviorlab.schema import Skeleton, from_numpy

__all__ = [
    "FORMAT_VERSION",
    "LabeledFrames",
    "load_labeled_frames",
    "save_labeled_frames",
    "to_deepposekit_h5",
    "to_dlc_project",
    "to_sleap_package",
]

logger = logging.getLogger(__name__)

FORMAT_NAME = "behaviorlab.labeled_frames"
FORMAT_VERSION = 1
_SOURCES = {
    "behaviorlab": "behaviorlab",
    "deeplabcut": "deeplabcut",
    "dlc": "deeplabcut",
    "sleap": "sleap",
    "deepposekit": "deepposekit",
    "dpk": "deepposekit",
}
_DLC_LEVELS = ("scorer", "individuals", "bodyparts", "coords")
_PNG_LEVEL = 3  # zlib level for written PNGs: lossless, ~4x faster than the default 6


# --------------------------------------------------------------------------- converters
def _to_images(images: Any) -> list[np.ndarray]:
    if isinstance(images, np.ndarray) and images.ndim != 4:
        raise SchemaError(
            f"images given as one array must have shape (n_frames, height, width, channels), got {images.shape}"
        )
    try:
        images = list(images)
    except TypeError:
        raise SchemaError(f"images must be a list of arrays, got {type(images).__name__}") from None
    out = []
    for i, img in enumerate(images):
        if not isinstance(img, np.ndarray):
            raise SchemaError(f"image {i} must be a numpy array, got {type(img).__name__}")
        if img.dtype != np.uint8:
            raise SchemaError(f"image {i} must have dtype uint8, got {img.dtype}; rescale and convert it first")
        if img.ndim != 3:
            hint = "; add a channel axis to a grayscale image with image[..., None]" if img.ndim == 2 else ""
            raise SchemaError(f"image {i} must have shape (height, width, channels), got {img.shape}{hint}")
        if 0 in img.shape:
            raise SchemaError(f"image {i} is empty: shape {img.shape}")
        view = img.view()  # a read-only view: the caller's array keeps its flags
        view.flags.writeable = False
        out.append(view)
    return out


def _to_keypoints(keypoints: Any) -> np.ndarray:
    arr = np.asarray(keypoints)
    if not np.issubdtype(arr.dtype, np.floating):
        raise SchemaError(
            f"keypoints must be a floating-point array (NaN marks a missing keypoint), got dtype {arr.dtype}; "
            "convert with keypoints.astype(float)"
        )
    arr = np.array(arr, dtype=np.float64, copy=True)
    arr.flags.writeable = False
    return arr


def _to_names(values: Any) -> tuple[str, ...] | None:
    if values is None:
        return None
    if isinstance(values, str):
        raise SchemaError(f"expected a sequence of names, got the single string {values!r}")
    return tuple(str(v) for v in values)


def _duplicates(names: Sequence[str]) -> list[str]:
    seen: set[str] = set()
    return sorted({n for n in names if n in seen or seen.add(n)})  # type: ignore[func-returns-value]


# --------------------------------------------------------------------------- the class
@attrs.frozen(eq=False, repr=False)
class LabeledFrames:
    """Training images with labeled keypoints.

    Every method returns a new object; inputs are never modified.  The arrays
    are stored read-only (images without a copy, keypoints copied), so objects
    made by :meth:`select` or :meth:`concat` share image memory safely.  Use
    ``attrs.evolve(frames, keypoints=new)`` to change a field.

    Parameters
    ----------
    images
        ``n_frames`` uint8 arrays, each ``(height, width, channels)``; sizes may
        differ between frames, the channel count may not.
    keypoints
        Floating array ``(n_frames, n_individuals, n_keypoints, 2)`` of ``(x, y)``
        pixel coordinates, origin top-left; NaN marks a missing or unlabeled
        keypoint (x and y are NaN together).  Stored as float64.
    skeleton
        Keypoint names (in the order of axis 2), edges and symmetry pairs.
    individuals
        ``n_individuals`` unique names; ``id_0, id_1, ...`` when omitted.
    sources
        ``n_frames`` unique strings saying where each frame came from: an image
        path relative to the project, or ``"video.mp4#frame=123"``;
        ``frame_0, frame_1, ...`` when omitted.

    Examples
    --------
    >>> import numpy as np
    >>> sk = Skeleton(["nose", "tail"], edges=[("nose", "tail")])
    >>> frames = LabeledFrames([np.zeros((4, 6, 1), np.uint8)], np.array([[[[1.0, 2.0], [np.nan, np.nan]]]]), sk)
    >>> len(frames), frames.labeled_mask().tolist(), frames.is_labeled()[0, 0].tolist()
    (1, [True], [True, False])
    """

    images: list[np.ndarray] = attrs.field(converter=_to_images)
    keypoints: np.ndarray = attrs.field(converter=_to_keypoints)
    skeleton: Skeleton = attrs.field()
    individuals: tuple[str, ...] = attrs.field(default=None, converter=_to_names)
    sources: tuple[str, ...] = attrs.field(default=None, converter=_to_names)

    def __attrs_post_init__(self) -> None:
        """Check shapes, names and values."""
        if not isinstance(self.skeleton, Skeleton):
            raise SchemaError(f"skeleton must be a behaviorlab Skeleton, got {type(self.skeleton).__name__}")
        n, kp = len(self.images), self.keypoints
        if kp.ndim != 4 or kp.shape[3] != 2:
            raise SchemaError(
                f"keypoints must have shape (n_frames, n_individuals, n_keypoints, 2), got {kp.shape}; "
                "add a length-1 individual axis for single-animal data"
            )
        if kp.shape[0] != n:
            raise SchemaError(f"keypoints hold {kp.shape[0]} frames (axis 0) but there are {n} images")
        if kp.shape[2] != self.skeleton.n_keypoints:
            raise SchemaError(
                f"keypoints have {kp.shape[2]} keypoints (axis 2) but the skeleton has "
                f"{self.skeleton.n_keypoints}: {list(self.skeleton.keypoints)}"
            )
        if self.individuals is None:
            object.__setattr__(self, "individuals", tuple(f"id_{i}" for i in range(kp.shape[1])))
        if self.sources is None:
            object.__setattr__(self, "sources", tuple(f"frame_{i}" for i in range(n)))
        for what, names, size in (("individual", self.individuals, kp.shape[1]), ("source", self.sources, n)):
            if len(names) != size:
                raise SchemaError(f"got {len(names)} {what} names for {size} {what}s in keypoints/images")
            if any(not name for name in names):
                raise SchemaError(f"{what} names must be non-empty strings")
            dupes = _duplicates(names)
            if dupes:
                raise SchemaError(f"duplicate {what} names: {dupes[:5]}{' ...' if len(dupes) > 5 else ''}")
        if np.isinf(kp).any():
            raise SchemaError("keypoints must be finite or NaN, found infinite values")
        half = np.isnan(kp[..., 0]) != np.isnan(kp[..., 1])
        if half.any():
            frame, ind, k = np.argwhere(half)[0]
            raise SchemaError(
                f"x and y must be NaN together; frame {frame} ({self.sources[frame]}), individual "
                f"{self.individuals[ind]!r}, keypoint {self.skeleton.keypoints[k]!r} has only one of them NaN"
            )
        channels = sorted({img.shape[2] for img in self.images})
        if len(channels) > 1:
            raise SchemaError(
                f"all images must have the same number of channels, found {channels}; "
                "convert with LabeledFrames.to_grayscale() or load with grayscale=True"
            )

    # ------------------------------------------------------------------ sizes
    def __len__(self) -> int:
        return len(self.images)

    def __repr__(self) -> str:
        sizes = sorted({img.shape for img in self.images})
        shown = ", ".join("x".join(map(str, s)) for s in sizes[:3]) + (" ..." if len(sizes) > 3 else "")
        return (
            f"LabeledFrames(n_frames={len(self)}, individuals={list(self.individuals)}, "
            f"keypoints={list(self.skeleton.keypoints)}, image sizes [{shown}], "
            f"labeled frames={int(self.labeled_mask().sum())})"
        )

    @property
    def n_individuals(self) -> int:
        """Number of individuals (axis 1 of :attr:`keypoints`)."""
        return int(self.keypoints.shape[1])

    @property
    def n_keypoints(self) -> int:
        """Number of keypoints (axis 2 of :attr:`keypoints`)."""
        return int(self.keypoints.shape[2])

    @property
    def image_shapes(self) -> np.ndarray:
        """``(height, width, channels)`` of every frame, shape ``(n_frames, 3)``."""
        return np.array([img.shape for img in self.images], dtype=np.int64).reshape(-1, 3)

    # ------------------------------------------------------------------ queries
    def is_labeled(self) -> np.ndarray:
        """Which keypoints are labeled, bool ``(n_frames, n_individuals, n_keypoints)``."""
        return ~np.isnan(self.keypoints[..., 0])

    def labeled_mask(self) -> np.ndarray:
        """Frames with at least one labeled keypoint, bool ``(n_frames,)``."""
        return self.is_labeled().any(axis=(1, 2))

    # ------------------------------------------------------------------ new objects
    def select(self, indices: int | slice | Sequence[int] | Sequence[bool] | np.ndarray) -> LabeledFrames:
        """Frames at ``indices`` (ints, negative ints, a slice or a bool mask of length ``n_frames``).

        Parameters
        ----------
        indices
            Which frames to keep, in the order given.

        Returns
        -------
        LabeledFrames
            The selected frames; images are shared, not copied.
        """
        try:
            idx = np.atleast_1d(np.arange(len(self))[indices])
        except IndexError as err:
            raise SchemaError(f"cannot select frames {indices!r} from {len(self)} frames: {err}") from None
        return LabeledFrames(
            [self.images[i] for i in idx],
            self.keypoints[idx],
            self.skeleton,
            self.individuals,
            tuple(self.sources[i] for i in idx),
        )

    def _check_compatible(self, other: LabeledFrames, action: str) -> None:
        if not isinstance(other, LabeledFrames):
            raise SchemaError(f"can only {action} LabeledFrames, got {type(other).__name__}")
        if other.skeleton != self.skeleton:
            raise SchemaError(f"cannot {action} frames with different skeletons: {self.skeleton} vs {other.skeleton}")
        if other.individuals != self.individuals:
            raise SchemaError(
                f"cannot {action} frames with different individuals: {list(self.individuals)} vs "
                f"{list(other.individuals)}; rename with attrs.evolve(frames, individuals=...)"
            )

    def concat(self, other: LabeledFrames) -> LabeledFrames:
        """Append ``other``'s frames to these (same skeleton and individuals, no shared source)."""
        return LabeledFrames.concatenate([self, other])

    @classmethod
    def concatenate(cls, frames: Sequence[LabeledFrames]) -> LabeledFrames:
        """Join several sets in order; skeletons and individuals must match and sources stay unique.

        Parameters
        ----------
        frames
            At least one :class:`LabeledFrames`.

        Returns
        -------
        LabeledFrames
            All frames, in the order given.
        """
        frames = list(frames)
        if not frames:
            raise SchemaError("concatenate needs at least one LabeledFrames")
        first = frames[0]
        for other in frames[1:]:
            first._check_compatible(other, "concatenate")
        return cls(
            [img for f in frames for img in f.images],
            np.concatenate([f.keypoints for f in frames], axis=0),
            first.skeleton,
            first.individuals,
            tuple(s for f in frames for s in f.sources),
        )

    def merge(self, corrected: LabeledFrames) -> LabeledFrames:
        """Replace frames whose source is in ``corrected`` and append ``corrected``'s new frames.

        Replaced frames keep their position; new frames are appended in
        ``corrected``'s order.  Image and keypoints both come from ``corrected``.

        Parameters
        ----------
        corrected
            Frames with the same skeleton and individuals, e.g. from a refinement round.

        Returns
        -------
        LabeledFrames
            The merged set.
        """
        self._check_compatible(corrected, "merge")
        position = {s: i for i, s in enumerate(self.sources)}
        images = list(self.images)
        keypoints = self.keypoints.copy()
        new = []
        for j, source in enumerate(corrected.sources):
            i = position.get(source)
            if i is None:
                new.append(j)
            else:
                images[i] = corrected.images[j]
                keypoints[i] = corrected.keypoints[j]
        return LabeledFrames(
            images + [corrected.images[j] for j in new],
            np.concatenate([keypoints, corrected.keypoints[new]], axis=0),
            self.skeleton,
            self.individuals,
            self.sources + tuple(corrected.sources[j] for j in new),
        )

    def to_grayscale(self) -> LabeledFrames:
        """One-channel copy: exact when the colour channels are equal, else ITU-R 601 luma (alpha dropped)."""
        return attrs.evolve(self, images=[_grayscale(img) for img in self.images])

    def to_poses(self, *, fps: float | None = None) -> xr.Dataset:
        """Convert the keypoints to a pose Dataset, ``time`` = frame index (for evaluation).

        Parameters
        ----------
        fps
            Optional frame rate; leave ``None`` so ``time`` counts frames.

        Returns
        -------
        xarray.Dataset
            ``position`` ``(time, space, keypoint, individual)``; ``confidence`` is
            1 where a keypoint is labeled, NaN elsewhere; attr ``frame_sources`` is
            a JSON list of :attr:`sources`.
        """
        confidence = np.where(self.is_labeled(), 1.0, np.nan).transpose(0, 2, 1)
        return from_numpy(
            self.keypoints.transpose(0, 3, 2, 1),
            confidence,
            individuals=self.individuals,
            fps=fps,
            source_software="behaviorlab.labeled_frames",
            skeleton=self.skeleton,
            attrs_={"frame_sources": json.dumps(list(self.sources))},
        )


def _grayscale(img: np.ndarray) -> np.ndarray:
    """``(height, width, channels)`` -> ``(height, width, 1)`` uint8."""
    if img.shape[2] == 1:
        return img
    if img.shape[2] < 3:  # gray + alpha
        return img[..., :1].copy()
    rgb = img[..., :3]
    if np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2]):
        return rgb[..., :1].copy()
    luma = rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    return np.clip(np.rint(luma), 0, 255).astype(np.uint8)[..., None]


def _apply_skeleton(frames: LabeledFrames, skeleton: Skeleton | None, path: Path) -> LabeledFrames:
    """Use ``skeleton`` (its edges, symmetry and keypoint order) after checking the file has its keypoints."""
    if skeleton is None:
        return frames
    found = frames.skeleton.keypoints
    if set(found) != set(skeleton.keypoints) or len(found) != len(skeleton.keypoints):
        skeleton.check_keypoints(found, source=str(path))  # raises, naming the missing and unexpected ones
    order = [found.index(k) for k in skeleton.keypoints]
    return attrs.evolve(frames, keypoints=frames.keypoints[:, :, order], skeleton=skeleton)


def _with_path(err: SchemaError, path: Path) -> SchemaError:
    return SchemaError(f"{path}: {err}")


# --------------------------------------------------------------------------- our format
def save_labeled_frames(frames: LabeledFrames, path: str | Path, *, compression_level: int | None = 1) -> Path:
    """Write ``frames`` to one HDF5 file (``*.labels.h5`` by convention), atomically.

    Parameters
    ----------
    frames
        The frames to write.
    path
        Destination; replaced only when the write succeeds.
    compression_level
        gzip level 0-9 of the image buffer; ``None`` stores it uncompressed.

    Returns
    -------
    Path
        ``path``.
    """
    from behaviorlab import __version__

    path = Path(path)
    shapes = frames.image_shapes
    sizes = shapes.prod(axis=1)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    data = np.concatenate([img.ravel() for img in frames.images]) if len(frames) else np.zeros(0, np.uint8)
    text = h5py.string_dtype()
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["format"] = FORMAT_NAME
        f.attrs["format_version"] = FORMAT_VERSION
        f.attrs["skeleton"] = frames.skeleton.to_json()
        f.attrs["behaviorlab_version"] = __version__
        f.create_dataset("keypoints", data=frames.keypoints)
        f.create_dataset("individuals", data=np.array(frames.individuals, dtype=object), dtype=text)
        f.create_dataset("sources", data=np.array(frames.sources, dtype=object), dtype=text)
        f.create_dataset("images/shapes", data=shapes)
        f.create_dataset("images/offsets", data=offsets)
        compress = {} if compression_level is None or data.size == 0 else {"compression": "gzip"}
        if compress:
            compress.update(compression_opts=int(compression_level), chunks=(min(data.size, 1 << 20),))
        f.create_dataset("images/data", data=data, **compress)
    return path


def _read_behaviorlab(path: Path) -> LabeledFrames:
    with h5py.File(path, "r") as f:
        version = int(f.attrs.get("format_version", 0))
        if version > FORMAT_VERSION:
            raise FileFormatError(
                path, f"labels format version {version} is newer than this behaviorlab reads ({FORMAT_VERSION})"
            )
        missing = [k for k in ("keypoints", "individuals", "sources", "images/shapes", "images/offsets") if k not in f]
        if missing or "images/data" not in f:
            raise FileFormatError(path, f"behaviorlab labels file lacks the dataset(s) {missing or ['images/data']}")
        keypoints = f["keypoints"][()]
        individuals = list(f["individuals"].asstr()[()])
        sources = list(f["sources"].asstr()[()])
        shapes, offsets, data = f["images/shapes"][()], f["images/offsets"][()], f["images/data"][()]
        skeleton_json = f.attrs["skeleton"]
    if data.size != offsets[-1]:
        raise FileFormatError(path, f"image buffer holds {data.size} bytes, the offsets expect {offsets[-1]}")
    images = [data[offsets[i] : offsets[i + 1]].reshape(shapes[i]) for i in range(len(shapes))]
    return LabeledFrames(images, keypoints, Skeleton.from_json(skeleton_json), individuals, sources)


# --------------------------------------------------------------------------- dispatch
def load_labeled_frames(
    path: str | Path,
    *,
    source: str | None = None,
    skeleton: Skeleton | None = None,
    grayscale: bool = False,
    include_predictions: bool = False,
    use_annotated_mask: bool = False,
) -> LabeledFrames:
    """Read labeled frames from any supported format.

    Parameters
    ----------
    path
        One of: a behaviorlab ``*.labels.h5``; a DeepLabCut ``config.yaml``,
        project folder, ``labeled-data`` folder (or one video's subfolder) or
        ``CollectedData_*.h5``/``.csv``; a SLEAP ``.slp``/``.pkg.slp``; a
        DeepPoseKit annotation ``.h5``.
    source
        The software that wrote the file (``"behaviorlab"``, ``"deeplabcut"``,
        ``"sleap"``, ``"deepposekit"``); detected from the file when ``None``.
    skeleton
        Expected skeleton.  The file's keypoints must be the same names (else
        :class:`SchemaError` naming the file); the result uses this skeleton's
        order, edges and symmetry (DeepLabCut files carry no symmetry).
    grayscale
        Convert images to one channel (DeepLabCut stores grayscale video as RGB PNG).
    include_predictions
        SLEAP only: also keep predicted instances that no user instance replaced.
    use_annotated_mask
        DeepPoseKit only: set keypoints whose ``annotated`` flag is False to NaN.
        Off by default because DeepPoseKit files keep real (predicted or
        initial) positions for unannotated keypoints; DeepPoseKit's own example
        file flags every keypoint as unannotated.

    Returns
    -------
    LabeledFrames
        Images as stored (unless ``grayscale``), keypoints in pixels.
    """
    path = Path(path)
    if not path.exists():
        raise FileFormatError(path, "no such file or folder")
    if source is None:
        kind = _detect(path)
    else:
        kind = _SOURCES.get(str(source).lower())
        if kind is None:
            raise FileFormatError(path, f"unknown source {source!r}; use one of {sorted(set(_SOURCES.values()))}")
    try:
        if kind == "behaviorlab":
            frames = _read_behaviorlab(path)
        elif kind == "deeplabcut":
            frames = _read_dlc(path, skeleton)
        elif kind == "sleap":
            frames = _read_sleap(path, include_predictions)
        else:
            frames = _read_deepposekit(path, use_annotated_mask)
        frames = _apply_skeleton(frames, skeleton, path)
    except SchemaError as err:
        if str(path) in str(err):
            raise
        raise _with_path(err, path) from None
    except (OSError, KeyError) as err:
        raise FileFormatError(path, f"cannot read it as {kind} labels: {err}") from None
    return frames.to_grayscale() if grayscale else frames


def _detect(path: Path) -> str:
    if path.is_dir():
        if (path / "config.yaml").is_file() or list(_dlc_label_files(path)):
            return "deeplabcut"
        raise FileFormatError(path, "folder holds no DeepLabCut config.yaml or labeled-data/*/CollectedData_* files")
    if path.stat().st_size == 0:
        raise FileFormatError(path, "the file is empty (0 bytes)")
    name = path.name.lower()
    if name.endswith(".slp"):
        return "sleap"
    if path.suffix.lower() in (".yaml", ".yml", ".csv"):
        return "deeplabcut"
    if not h5py.is_hdf5(path):
        raise FileFormatError(
            path,
            "unknown labeled-frames format: expected a behaviorlab .labels.h5, a DeepLabCut config.yaml/"
            "CollectedData .csv/.h5, a SLEAP .slp or a DeepPoseKit .h5",
        )
    with h5py.File(path, "r") as f:
        if f.attrs.get("format") == FORMAT_NAME:
            return "behaviorlab"
        if "images" in f and "annotations" in f:
            return "deepposekit"
        if any("pandas_type" in f[k].attrs for k in f):
            return "deeplabcut"
        if "tracks" in f and "node_names" in f:
            raise FileFormatError(
                path, "this is a SLEAP analysis file (predicted tracks, no images); load the .slp or .pkg.slp instead"
            )
    raise FileFormatError(
        path, "unknown HDF5 layout: not a behaviorlab labels file, DeepLabCut CollectedData or DeepPoseKit annotations"
    )


# --------------------------------------------------------------------------- DeepLabCut
def _dlc_label_files(folder: Path, scorer: str | None = None) -> Iterable[Path]:
    """CollectedData files in ``folder`` itself, else in ``[folder/labeled-data]/*``: one per video folder."""
    own = _dlc_collected(folder, scorer)
    if own is not None:
        yield own
        return
    base = folder / "labeled-data" if (folder / "labeled-data").is_dir() else folder
    for sub in sorted(p for p in base.iterdir() if p.is_dir()):
        found = _dlc_collected(sub, scorer)
        if found is not None:
            yield found


def _dlc_collected(folder: Path, scorer: str | None) -> Path | None:
    if scorer:
        for ext in (".h5", ".csv"):
            if (folder / f"CollectedData_{scorer}{ext}").is_file():
                return folder / f"CollectedData_{scorer}{ext}"
    stems = sorted({p.stem for p in folder.glob("CollectedData*") if p.suffix in (".h5", ".csv")})
    if len(stems) > 1:
        raise FileFormatError(folder, f"several CollectedData files {stems}; pass the one to read")
    if not stems:
        return None
    h5 = folder / f"{stems[0]}.h5"
    return h5 if h5.is_file() else folder / f"{stems[0]}.csv"


def _read_yaml(path: Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise FileFormatError(path, f"invalid YAML: {err}") from None
    if not isinstance(data, dict):
        raise FileFormatError(path, "expected a DeepLabCut config (a YAML mapping)")
    return data


def _config_keypoints(config: dict[str, Any]) -> list[str] | None:
    if config.get("multianimalproject"):
        names = list(config.get("multianimalbodyparts") or []) + list(config.get("uniquebodyparts") or [])
    else:
        names = config.get("bodyparts")
    return [str(n) for n in names] if isinstance(names, list) and names else None


def _read_dlc(path: Path, skeleton: Skeleton | None) -> LabeledFrames:
    config_path = path if path.suffix.lower() in (".yaml", ".yml") else None
    if path.is_dir() and (path / "config.yaml").is_file():
        config_path = path / "config.yaml"
    if config_path is not None:
        config = _read_yaml(config_path)
        root = config_path.parent
        files = list(_dlc_label_files(root, config.get("scorer")))
        if not files:
            raise FileFormatError(config_path, f"no labeled-data/*/CollectedData_* files under {root}")
        order = _config_keypoints(config)
        parts = [_read_dlc_table(f, root, skeleton, order) for f in files]
        return _dlc_edges(LabeledFrames.concatenate(parts), config, config_path)
    if path.is_dir():
        if (path / "labeled-data").is_dir():
            root = path
        elif path.name == "labeled-data":
            root = path.parent
        elif path.parent.name == "labeled-data":
            root = path.parent.parent
        else:
            root = path
        parts: list[LabeledFrames] = []
        for f in _dlc_label_files(path):
            order = list(parts[0].skeleton.keypoints) if parts else None
            parts.append(_read_dlc_table(f, root, skeleton, order))
        if not parts:
            raise FileFormatError(path, "no CollectedData_* files found")
        frames = LabeledFrames.concatenate(parts)
    else:
        root = next((p.parent for p in path.parents if p.name == "labeled-data"), path.parent)
        frames = _read_dlc_table(path, root, skeleton, None)
    config_path = root / "config.yaml"
    return _dlc_edges(frames, _read_yaml(config_path), config_path) if config_path.is_file() else frames


def _dlc_edges(frames: LabeledFrames, config: dict[str, Any], config_path: Path) -> LabeledFrames:
    """Add the config's ``skeleton`` edges to a skeleton that has none."""
    edges = config.get("skeleton") or []
    if frames.skeleton.edges or not edges:
        return frames
    known = set(frames.skeleton.keypoints)
    pairs = [tuple(str(v) for v in e) for e in edges]
    unknown = sorted({k for e in pairs for k in e} - known)
    if unknown:
        logger.warning("%s: skeleton edges name unknown bodyparts %s; edges ignored", config_path, unknown)
        return frames
    skeleton = Skeleton(frames.skeleton.keypoints, edges=pairs, name=str(config.get("Task") or ""))
    return attrs.evolve(frames, skeleton=skeleton)


def _read_dlc_dataframe(path: Path) -> Any:
    # Parsed with pandas rather than sleap_io.load_dlc (sleap-io 0.9.5): load_dlc reads a CollectedData
    # .h5 as text (UnicodeDecodeError), sorts bodyparts alphabetically and loads RGB PNGs as one channel.
    import pandas as pd

    if path.stat().st_size == 0:
        raise FileFormatError(path, "the file is empty (0 bytes)")
    if path.suffix.lower() == ".csv":
        with path.open(newline="") as fh:
            head = [row for _, row in zip(range(5), csv.reader(fh), strict=False)]
        header = [row for row in head if row and row[0] in _DLC_LEVELS]
        if not header or header[-1][0] != "coords":
            raise FileFormatError(
                path, "not a DeepLabCut CSV: expected header rows scorer, [individuals,] bodyparts, coords"
            )
        coords = header[-1]
        n_index = next((i for i, v in enumerate(coords) if i > 0 and v), 1)
        try:
            df = pd.read_csv(path, header=list(range(len(header))), index_col=list(range(n_index)))
        except (ValueError, pd.errors.ParserError) as err:
            raise FileFormatError(path, f"cannot parse the DeepLabCut CSV: {err}") from None
        df.columns = df.columns.set_names([row[0] for row in header])
        return df
    try:
        with pd.HDFStore(path, mode="r") as store:
            keys = store.keys()
            key = "/df_with_missing" if "/df_with_missing" in keys else (keys[0] if len(keys) == 1 else None)
            if key is None:
                raise FileFormatError(path, f"expected one pandas table (df_with_missing), found keys {keys}")
            return store[key]
    except (OSError, ValueError, TypeError) as err:
        raise FileFormatError(path, f"not a DeepLabCut CollectedData HDF5 file: {err}") from None


def _read_dlc_table(path: Path, root: Path, skeleton: Skeleton | None, order: Sequence[str] | None) -> LabeledFrames:
    """One CollectedData file -> frames, images read from ``root`` or beside the file."""
    import pandas as pd

    df = _read_dlc_dataframe(path)
    cols = df.columns
    if not isinstance(cols, pd.MultiIndex) or cols.nlevels not in (3, 4):
        raise FileFormatError(path, "columns must be scorer/[individuals/]bodyparts/coords")
    if None in cols.names:
        names = list(_DLC_LEVELS) if cols.nlevels == 4 else ["scorer", "bodyparts", "coords"]
    else:
        names = [str(n) for n in cols.names]
    cols = cols.set_names(names)
    if "coords" not in names or "bodyparts" not in names:
        raise FileFormatError(path, f"column levels {names} lack bodyparts or coords")
    scorers = list(dict.fromkeys(cols.get_level_values(0)))
    if len(scorers) > 1:
        raise FileFormatError(path, f"columns hold several scorers {scorers}; expected one")
    individuals = list(dict.fromkeys(cols.get_level_values("individuals"))) if "individuals" in names else ["id_0"]
    bodyparts = list(dict.fromkeys(cols.get_level_values("bodyparts")))
    if skeleton is not None and set(bodyparts) != set(skeleton.keypoints):
        skeleton.check_keypoints(bodyparts, source=str(path))
    if order is not None:
        if set(order) != set(bodyparts):
            Skeleton(order).check_keypoints(bodyparts, source=str(path))
        bodyparts = list(order)
    n = len(df)
    keypoints = np.full((n, len(individuals), len(bodyparts), 2), np.nan)
    ind_level = cols.get_level_values("individuals") if "individuals" in names else np.full(len(cols), "id_0")
    bp_level, coord_level = cols.get_level_values("bodyparts"), cols.get_level_values("coords")
    for c in range(len(cols)):
        axis = {"x": 0, "y": 1}.get(str(coord_level[c]))
        if axis is None:
            continue  # likelihood columns of machine labels
        try:
            values = pd.to_numeric(df.iloc[:, c], errors="raise").to_numpy(dtype=np.float64)
        except (ValueError, TypeError):
            raise FileFormatError(path, f"column {cols[c]} holds non-numeric values") from None
        keypoints[:, individuals.index(ind_level[c]), bodyparts.index(bp_level[c]), axis] = values
    rel_paths = ["/".join(str(v) for v in row) if isinstance(row, tuple) else str(row) for row in df.index.to_list()]
    rel_paths = [p.replace("\\", "/") for p in rel_paths]
    images = [_read_image(_find_image(rel, root, path), path) for rel in rel_paths]
    try:
        return LabeledFrames(images, keypoints, Skeleton(bodyparts), individuals, rel_paths)
    except SchemaError as err:
        raise _with_path(err, path) from None


def _find_image(rel: str, root: Path, labels_path: Path) -> Path:
    here = labels_path.parent
    candidates = list(dict.fromkeys([root / rel, here / rel, here / PurePosixPath(rel).name]))
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise FileFormatError(
        labels_path, f"image {rel!r} listed in the labels is missing; looked for {[str(c) for c in candidates]}"
    )


def _read_image(image_path: Path, labels_path: Path) -> np.ndarray:
    import imageio.v3 as iio

    try:
        img = np.asarray(iio.imread(image_path))
    except (OSError, ValueError) as err:
        raise FileFormatError(labels_path, f"cannot read image {image_path}: {err}") from None
    if img.dtype != np.uint8:
        raise FileFormatError(labels_path, f"image {image_path} has dtype {img.dtype}; only 8-bit images are supported")
    return img[..., None] if img.ndim == 2 else img


def _dlc_image_names(sources: Sequence[str]) -> list[str]:
    """``labeled-data/<video>/<name>.png`` for each source, unique."""
    out: list[str] = []
    taken: set[str] = set()
    for i, source in enumerate(sources):
        text = source.replace("\\", "/")
        if "#frame=" in text:
            video, frame = text.rsplit("#frame=", 1)
            folder = PurePosixPath(video).stem or "frames"
            name = f"img{int(frame):05d}" if frame.isdigit() else f"img{i:05d}"
        else:
            parts = PurePosixPath(text).parts
            folder = parts[-2] if len(parts) >= 2 and parts[-2] != "labeled-data" else "frames"
            name = PurePosixPath(text).stem or f"img{i:05d}"
        rel = f"labeled-data/{folder}/{name}.png"
        if rel in taken:
            rel = f"labeled-data/{folder}/{name}_{i}.png"
        taken.add(rel)
        out.append(rel)
    return out


def _write_png(img: np.ndarray, path: Path) -> None:
    import imageio.v3 as iio

    with atomic_path(path) as tmp:
        iio.imwrite(tmp, img[..., 0] if img.shape[2] == 1 else img, extension=".png", compress_level=_PNG_LEVEL)


def to_dlc_project(frames: LabeledFrames, folder: str | Path, scorer: str = "behaviorlab") -> Path:
    """Write a DeepLabCut project: PNG images and ``CollectedData_<scorer>.h5``/``.csv`` per video folder.

    Frames whose source is ``labeled-data/<video>/<image>`` keep that path;
    ``video.mp4#frame=N`` becomes ``labeled-data/video/imgNNNNN.png``.  More
    than one individual gives a multi-animal project (an ``individuals``
    column level).  A minimal ``config.yaml`` (bodyparts, skeleton edges) is
    written unless one exists, in which case its bodyparts must match.
    DeepLabCut has no symmetry pairs and single-animal files no individual
    name, so both are lost.

    Parameters
    ----------
    frames
        The frames to write.
    folder
        Project folder (created if needed).
    scorer
        Scorer name in the file names and the column header.

    Returns
    -------
    Path
        The project's ``config.yaml``.
    """
    import pandas as pd

    folder = Path(folder)
    keypoints = list(frames.skeleton.keypoints)
    multi = frames.n_individuals > 1
    config_path = folder / "config.yaml"
    if config_path.is_file():
        existing = _config_keypoints(_read_yaml(config_path))
        if existing is not None:
            Skeleton(existing).check_keypoints(keypoints, source=str(config_path))
    rel_paths = _dlc_image_names(frames.sources)
    if multi:
        tuples = [(scorer, ind, kp, c) for ind in frames.individuals for kp in keypoints for c in "xy"]
    else:
        tuples = [(scorer, kp, c) for kp in keypoints for c in "xy"]
    columns = pd.MultiIndex.from_tuples(tuples, names=[n for n in _DLC_LEVELS if multi or n != "individuals"])
    values = frames.keypoints.reshape(len(frames), -1)  # (frame, individual, keypoint, xy) order = columns order
    table = pd.DataFrame(values, index=pd.Index(rel_paths, dtype=object), columns=columns)
    for video in dict.fromkeys(PurePosixPath(p).parent for p in rel_paths):
        rows = [i for i, p in enumerate(rel_paths) if PurePosixPath(p).parent == video]
        for i in rows:
            _write_png(frames.images[i], folder / rel_paths[i])
        part = table.iloc[rows]
        base = folder / video / f"CollectedData_{scorer}"
        with atomic_path(base.with_suffix(".h5")) as tmp:
            part.to_hdf(tmp, key="df_with_missing", format="table", mode="w")
        with atomic_path(base.with_suffix(".csv")) as tmp:
            part.to_csv(tmp)
    if not config_path.is_file():
        videos = {PurePosixPath(p).parts[1]: frames.images[i].shape for i, p in enumerate(rel_paths)}
        _write_dlc_config(frames, config_path, scorer, videos)
    return config_path


def _write_dlc_config(
    frames: LabeledFrames, config_path: Path, scorer: str, videos: dict[str, tuple[int, ...]]
) -> None:
    import yaml

    keypoints = list(frames.skeleton.keypoints)
    multi = frames.n_individuals > 1
    config: dict[str, Any] = {
        "Task": frames.skeleton.name or "behaviorlab",
        "scorer": scorer,
        "date": "",
        "multianimalproject": multi,
        "identity": False if multi else None,
        "project_path": str(config_path.parent.resolve()),
        "video_sets": {f"videos/{v}.mp4": {"crop": f"0, {shape[1]}, 0, {shape[0]}"} for v, shape in videos.items()},
        "bodyparts": "MULTI!" if multi else keypoints,
    }
    if multi:
        config.update(individuals=list(frames.individuals), uniquebodyparts=[], multianimalbodyparts=keypoints)
    config.update(skeleton=[list(e) for e in frames.skeleton.edges], TrainingFraction=[0.95], iteration=0)
    with atomic_path(config_path) as tmp:
        tmp.write_text(
            "# written by behaviorlab.io.labeled_frames.to_dlc_project\n" + yaml.safe_dump(config, sort_keys=False)
        )


# --------------------------------------------------------------------------- SLEAP
def _read_sleap(path: Path, include_predictions: bool) -> LabeledFrames:
    import sleap_io as sio

    try:
        labels = sio.load_slp(str(path))
    except Exception as err:  # sleap-io raises many kinds for a corrupt file
        raise FileFormatError(path, f"cannot read the SLEAP file: {err}") from None
    if len(labels.skeletons) != 1:
        raise FileFormatError(path, f"expected one skeleton, found {len(labels.skeletons)}")
    sk = labels.skeletons[0]
    names = [node.name for node in sk.nodes]
    meta = labels.provenance.get("behaviorlab") or {}
    skeleton = _sleap_skeleton(sk, names, meta.get("skeleton"))
    stored_sources = meta.get("sources")
    if not isinstance(stored_sources, list) or len(stored_sources) != len(labels.labeled_frames):
        stored_sources = None
    per_frame = []
    for i, lf in enumerate(labels.labeled_frames):
        instances = list(lf.user_instances) + (list(lf.unused_predictions) if include_predictions else [])
        if instances or stored_sources:  # files we wrote keep their unlabeled frames
            per_frame.append((i, lf, instances))
    if not per_frame and labels.labeled_frames:
        logger.warning("%s: no user-labeled frames; pass include_predictions=True to read predictions", path)
    track_names = [t.name for t in labels.tracks]
    n_untracked = max([sum(inst.track is None for inst in insts) for _, _, insts in per_frame] + [0])
    individuals = track_names + [f"untracked_{j}" if track_names else f"id_{j}" for j in range(n_untracked)]
    if not individuals:
        individuals = ["id_0"]
    keypoints = np.full((len(per_frame), len(individuals), len(names), 2), np.nan)
    images, sources = [], []
    for row, (i, lf, instances) in enumerate(per_frame):
        free = len(track_names)
        for inst in instances:
            if inst.track is None:
                slot, free = free, free + 1
            else:
                slot = labels.tracks.index(inst.track)
                if not np.isnan(keypoints[row, slot]).all():
                    raise FileFormatError(path, f"frame {lf.frame_idx} has two instances on track {inst.track.name!r}")
            keypoints[row, slot] = inst.numpy()[:, :2]
        try:
            image = lf.image
        except Exception as err:  # missing or unreadable video
            video = lf.video.filename
            raise FileFormatError(path, f"cannot read the image of frame {lf.frame_idx} from {video}: {err}") from None
        if image is None:
            raise FileFormatError(path, f"the image of frame {lf.frame_idx} of {lf.video.filename} is unavailable")
        images.append(np.asarray(image))
        sources.append(stored_sources[i] if stored_sources else _sleap_source(lf))
    return LabeledFrames(images, keypoints, skeleton, individuals, sources)


def _sleap_skeleton(sk: Any, names: list[str], stored: Any) -> Skeleton:
    edges = [(e.source.name, e.destination.name) for e in sk.edges]
    symmetry = []
    for sym in sk.symmetries:
        a, b = sorted((n.name for n in sym.nodes), key=names.index)
        symmetry.append((a, b))
    if isinstance(stored, dict):  # our own skeleton, when it still describes the file's
        try:
            ours = Skeleton.from_dict(stored)
        except SchemaError:
            ours = None
        if (
            ours is not None
            and list(ours.keypoints) == names
            and set(ours.edges) == set(edges)
            and {frozenset(p) for p in ours.symmetry} == {frozenset(p) for p in symmetry}
        ):
            return ours
    return Skeleton(names, edges=edges, symmetry=symmetry, name=sk.name or "")


def _sleap_source(lf: Any) -> str:
    video = lf.video.source_video or lf.video
    filename = video.filename
    if isinstance(filename, list):
        return str(filename[lf.frame_idx]) if lf.frame_idx < len(filename) else f"{filename[0]}#frame={lf.frame_idx}"
    return f"{filename}#frame={lf.frame_idx}"


def to_sleap_package(frames: LabeledFrames, path: str | Path) -> Path:
    """Write a SLEAP package (``.pkg.slp``) with the images embedded as PNG.

    Each individual becomes a track; fully missing instances are left out.
    Frames of equal size share one embedded video.  Sources and the exact
    skeleton are kept in the file's provenance so that
    :func:`load_labeled_frames` restores them.

    Parameters
    ----------
    frames
        The frames to write.
    path
        Destination, ``*.pkg.slp`` by convention.

    Returns
    -------
    Path
        ``path``.
    """
    import sleap_io as sio

    path = Path(path)
    nodes = [sio.Node(k) for k in frames.skeleton.keypoints]
    by_name = dict(zip(frames.skeleton.keypoints, nodes, strict=True))
    sk = sio.Skeleton(
        nodes=nodes,
        edges=[sio.Edge(by_name[a], by_name[b]) for a, b in frames.skeleton.edges],
        symmetries=[sio.Symmetry([by_name[a], by_name[b]]) for a, b in frames.skeleton.symmetry],
        name=frames.skeleton.name or "skeleton",
    )
    tracks = [sio.Track(name) for name in frames.individuals]
    with tempfile.TemporaryDirectory(prefix="behaviorlab-slp-") as tmpdir:
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, img in enumerate(frames.images):
            groups.setdefault(img.shape, []).append(i)
        videos, placement = [], {}
        for g, (shape, members) in enumerate(groups.items()):
            files = []
            for j, i in enumerate(members):
                files.append(str(Path(tmpdir) / f"v{g}_{j:06d}.png"))
                _write_png(frames.images[i], Path(files[-1]))
                placement[i] = (g, j)
            videos.append(sio.Video.from_filename(files, grayscale=shape[2] == 1))
        labeled = []
        for i in range(len(frames)):
            g, j = placement[i]
            instances = [
                sio.Instance.from_numpy(frames.keypoints[i, n], skeleton=sk, track=tracks[n])
                for n in range(frames.n_individuals)
                if not np.isnan(frames.keypoints[i, n]).all()
            ]
            labeled.append(sio.LabeledFrame(video=videos[g], frame_idx=j, instances=instances))
        labels = sio.Labels(
            labeled_frames=labeled,
            videos=videos,
            skeletons=[sk],
            tracks=tracks,
            provenance={"behaviorlab": {"sources": list(frames.sources), "skeleton": frames.skeleton.to_dict()}},
        )
        with atomic_path(path, suffix=".slp") as tmp:
            sio.save_slp(labels, str(tmp), embed="all", verbose=False)
    return path


# --------------------------------------------------------------------------- DeepPoseKit
def _read_deepposekit(path: Path, use_annotated_mask: bool) -> LabeledFrames:
    with h5py.File(path, "r") as f:
        missing = [k for k in ("images", "annotations") if k not in f]
        if missing:
            raise FileFormatError(path, f"DeepPoseKit file lacks the dataset(s) {missing}")
        images = f["images"][()]
        annotations = f["annotations"][()].astype(np.float64)
        annotated = f["annotated"][()].astype(bool) if "annotated" in f else None
        table = f["skeleton"][()].astype(np.int64) if "skeleton" in f else None
        stored = f.attrs.get("behaviorlab_skeleton")
        individual = str(f.attrs.get("behaviorlab_individual", "id_0"))
        sources = list(f["sources"].asstr()[()]) if "sources" in f else None
    if images.dtype != np.uint8 or images.ndim not in (3, 4):
        raise FileFormatError(
            path, f"images must be uint8 (n, height, width[, channels]), got {images.dtype} {images.shape}"
        )
    if images.ndim == 3:
        images = images[..., None]
    n, k = annotations.shape[:2]
    if annotations.shape != (n, k, 2) or len(images) != n:
        raise FileFormatError(path, f"annotations {annotations.shape} do not match images {images.shape}")
    if use_annotated_mask and annotated is not None:
        annotations[~annotated] = np.nan
    skeleton = Skeleton.from_json(stored) if stored is not None else _dpk_skeleton(path, table, k)
    if sources is None or len(sources) != n:
        sources = [f"{path.name}#frame={i}" for i in range(n)]
    return LabeledFrames(list(images), annotations[:, None], skeleton, [individual], sources)


def _dpk_skeleton(path: Path, table: np.ndarray | None, k: int) -> Skeleton:
    """Names from a sibling ``skeleton.csv``; edges (parent -> child) and swap pairs from the ``skeleton`` table."""
    names = [f"keypoint_{i}" for i in range(k)]
    csv_path = path.parent / "skeleton.csv"
    if csv_path.is_file():
        with csv_path.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
        if not rows or "name" not in rows[0]:
            raise FileFormatError(csv_path, "expected a DeepPoseKit skeleton CSV with columns name,parent,swap")
        if len(rows) != k:
            raise FileFormatError(csv_path, f"lists {len(rows)} keypoints but {path.name} has {k}")
        names = [row["name"].strip() for row in rows]
    if table is None:
        return Skeleton(names)
    if table.shape != (k, 2):
        raise FileFormatError(path, f"skeleton table must have shape ({k}, 2), got {table.shape}")
    edges = [(names[p], names[c]) for c, p in enumerate(table[:, 0]) if 0 <= p < k and p != c]
    symmetry: list[tuple[str, str]] = []
    paired: dict[int, int] = {}
    for a, b in enumerate(table[:, 1]):
        if not 0 <= b < k or a == b or paired.get(a) == b:
            continue
        if a in paired or b in paired:  # DeepPoseKit's example file has such inconsistent swap entries
            logger.warning("%s: swap %s <-> %s conflicts with an earlier pair; ignored", path, names[a], names[b])
            continue
        paired[a], paired[b] = b, a
        symmetry.append((names[a], names[b]))
    return Skeleton(names, edges=edges, symmetry=symmetry)


def to_deepposekit_h5(frames: LabeledFrames, path: str | Path) -> Path:
    """Write a DeepPoseKit annotation file (single individual, all images the same size).

    Datasets ``images`` ``(n, height, width, channels)`` uint8, ``annotations``
    ``(n, n_keypoints, 2)`` (NaN kept for missing keypoints: DeepPoseKit has no
    notion of them), ``annotated`` ``(n, n_keypoints)`` = keypoint present,
    ``skeleton`` ``(n_keypoints, 2)`` ``[parent, swap]`` with -1 for none.  The
    keypoint names and full skeleton (DeepPoseKit keeps one parent per
    keypoint) go in the ``behaviorlab_skeleton`` attr, the individual's name in
    ``behaviorlab_individual`` and the sources in a ``sources`` dataset;
    DeepPoseKit ignores them.

    Parameters
    ----------
    frames
        The frames to write.
    path
        Destination ``.h5``.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    if len(frames) == 0:
        raise FileFormatError(path, "no frames to write")
    if frames.n_individuals != 1:
        raise FileFormatError(
            path, f"DeepPoseKit files hold one individual per image, these frames have {frames.n_individuals}"
        )
    sizes = sorted({img.shape for img in frames.images})
    if len(sizes) > 1:
        raise FileFormatError(
            path,
            f"DeepPoseKit stores all images in one (n, height, width, channels) array, so they must share one "
            f"size; found {len(sizes)} sizes {sizes[:4]}; crop or resize first",
        )
    sk = frames.skeleton
    table = np.full((sk.n_keypoints, 2), -1, dtype=np.int32)
    for (a, b), edge in zip(sk.edge_indices(), sk.edges, strict=True):
        if table[b, 0] >= 0:
            logger.warning("%s: DeepPoseKit allows one parent per keypoint; edge %s left out", path, edge)
            continue
        table[b, 0] = a
    table[:, 1] = np.where(sk.swap_indices() == np.arange(sk.n_keypoints), -1, sk.swap_indices())
    annotations = frames.keypoints[:, 0]
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("images", data=np.stack(frames.images), compression="gzip", compression_opts=1)
        f.create_dataset("annotations", data=annotations)
        f.create_dataset("annotated", data=~np.isnan(annotations[..., 0]))
        f.create_dataset("skeleton", data=table)
        f.create_dataset("sources", data=np.array(frames.sources, dtype=object), dtype=h5py.string_dtype())
        f.attrs["behaviorlab_skeleton"] = sk.to_json()
        f.attrs["behaviorlab_individual"] = frames.individuals[0]
    return path
