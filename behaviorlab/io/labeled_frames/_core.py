"""The :class:`LabeledFrames` object: validated images and keypoints, and the operations on them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import xarray as xr

from behaviorlab.errors import SchemaError
from behaviorlab.io.labeled_frames._images import to_grayscale
from behaviorlab.schema import Skeleton, from_numpy

__all__ = ["LabeledFrames", "apply_skeleton", "with_path"]


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
        return attrs.evolve(self, images=[to_grayscale(img) for img in self.images])

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


def apply_skeleton(frames: LabeledFrames, skeleton: Skeleton | None, path: Path) -> LabeledFrames:
    """Use ``skeleton`` (its edges, symmetry and keypoint order) after checking the file has its keypoints."""
    if skeleton is None:
        return frames
    found = frames.skeleton.keypoints
    if set(found) != set(skeleton.keypoints) or len(found) != len(skeleton.keypoints):
        skeleton.check_keypoints(found, source=str(path))  # raises, naming the missing and unexpected ones
    order = [found.index(k) for k in skeleton.keypoints]
    return attrs.evolve(frames, keypoints=frames.keypoints[:, :, order], skeleton=skeleton)


def with_path(err: SchemaError, path: Path) -> SchemaError:
    return SchemaError(f"{path}: {err}")
