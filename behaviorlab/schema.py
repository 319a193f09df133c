"""The pose data model: construction and validation of pose Datasets.

A pose Dataset follows the schema of the ``movement`` package with singular
dimension names:

- ``position``   float, dims ``("time", "space", "keypoint", "individual")``
- ``confidence`` float, dims ``("time", "keypoint", "individual")``
- coordinates ``time`` (seconds when ``fps`` is known, else frame numbers),
  ``space`` (``["x", "y"]`` or ``["x", "y", "z"]``), ``keypoint`` and
  ``individual`` (unique strings);
- attrs ``fps`` (optional, > 0), ``time_unit`` (``"seconds"`` or
  ``"frames"``), ``source_software``, ``ds_type="poses"``, and ``log``, a
  JSON list of the processing steps applied so far (see :func:`log_step`).
  An optional ``skeleton`` attr holds a :class:`Skeleton` as JSON.

Datasets written by ``movement`` itself (plural dims ``keypoints`` and
``individuals``) are accepted everywhere: :func:`as_poses` renames them.
Later stages add their own variables to the same Dataset; validation only
looks at the pose variables.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import attrs
import numpy as np
import xarray as xr

from behaviorlab import __version__
from behaviorlab.errors import SchemaError

__all__ = [
    "BOUT_COLUMNS",
    "CONFIDENCE_DIMS",
    "POSITION_DIMS",
    "Skeleton",
    "as_poses",
    "check_dims",
    "check_fps",
    "from_numpy",
    "get_log",
    "get_skeleton",
    "guess_body_axis",
    "guess_symmetry",
    "guess_tail_keypoints",
    "is_missing_label",
    "log_step",
    "logged",
    "pose_frame_numbers",
    "rename_keypoints",
    "set_skeleton",
    "to_movement",
    "unlogged",
    "validate_poses",
]

POSITION_DIMS: tuple[str, ...] = ("time", "space", "keypoint", "individual")
CONFIDENCE_DIMS: tuple[str, ...] = ("time", "keypoint", "individual")

#: Columns of every bout table (statistics, store, exports): ``end_frame`` is inclusive, the last frame of the bout.
BOUT_COLUMNS: list[str] = [
    "session",
    "individual",
    "source",
    "behavior",
    "start_frame",
    "end_frame",
    "start_s",
    "duration_s",
    "truncated",
]
_MOVEMENT_DIMS = {"keypoints": "keypoint", "individuals": "individual"}
_SPACE_LABELS = ("x", "y", "z")


# --------------------------------------------------------------------------- skeleton
def _to_name_tuple(values: Iterable[Any]) -> tuple[str, ...]:
    if isinstance(values, str):
        raise SchemaError(f"expected a sequence of keypoint names, got the single string {values!r}")
    return tuple(str(v) for v in values)


def _to_pair_tuple(values: Iterable[Any]) -> tuple[tuple[str, str], ...]:
    pairs = []
    for pair in values:
        items = tuple(str(v) for v in pair)
        if len(items) != 2:
            raise SchemaError(f"expected a pair of keypoint names, got {pair!r}")
        pairs.append(items)
    return tuple(pairs)


@attrs.frozen
class Skeleton:
    """Keypoint names, the edges between them and left/right symmetry pairs.

    Parameters
    ----------
    keypoints
        Unique keypoint names, in the order of the ``keypoint`` dim.
    edges
        ``(parent, child)`` pairs of keypoint names drawn as limbs.
    symmetry
        ``(left, right)`` pairs swapped by a horizontal flip.
    name
        Optional name of the skeleton.

    Examples
    --------
    >>> sk = Skeleton(["nose", "ear_l", "ear_r"], edges=[("nose", "ear_l")], symmetry=[("ear_l", "ear_r")])
    >>> sk.swap_indices().tolist()
    [0, 2, 1]
    """

    keypoints: tuple[str, ...] = attrs.field(converter=_to_name_tuple)
    edges: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_to_pair_tuple)
    symmetry: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_to_pair_tuple)
    name: str = attrs.field(default="", converter=str)

    def __attrs_post_init__(self) -> None:
        """Check names, edges and symmetry pairs."""
        if not self.keypoints:
            raise SchemaError("a skeleton needs at least one keypoint")
        _check_unique(self.keypoints, "keypoint names of the skeleton")
        known = set(self.keypoints)
        for kind, pairs in (("edge", self.edges), ("symmetry pair", self.symmetry)):
            for a, b in pairs:
                unknown = [k for k in (a, b) if k not in known]
                if unknown:
                    raise SchemaError(
                        f"skeleton {kind} ({a!r}, {b!r}) names unknown keypoint(s) {unknown}; "
                        f"known keypoints: {list(self.keypoints)}"
                    )
                if a == b:
                    raise SchemaError(f"skeleton {kind} ({a!r}, {b!r}) joins a keypoint to itself")
        seen: set[str] = set()
        for a, b in self.symmetry:
            for k in (a, b):
                if k in seen:
                    raise SchemaError(f"keypoint {k!r} appears in more than one symmetry pair")
                seen.add(k)

    @property
    def n_keypoints(self) -> int:
        """Number of keypoints."""
        return len(self.keypoints)

    def index(self, keypoint: str) -> int:
        """Position of ``keypoint`` in :attr:`keypoints`."""
        try:
            return self.keypoints.index(keypoint)
        except ValueError:
            raise SchemaError(f"keypoint {keypoint!r} is not in the skeleton {list(self.keypoints)}") from None

    def edge_indices(self) -> np.ndarray:
        """Edges as integer index pairs, shape ``(n_edges, 2)``."""
        return np.array([[self.index(a), self.index(b)] for a, b in self.edges], dtype=np.int64).reshape(-1, 2)

    def swap_indices(self) -> np.ndarray:
        """Permutation of keypoint indices that a left/right flip applies, shape ``(n_keypoints,)``."""
        perm = np.arange(self.n_keypoints)
        for a, b in self.symmetry:
            i, j = self.index(a), self.index(b)
            perm[i], perm[j] = j, i
        return perm

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form, for JSON and YAML."""
        return {
            "name": self.name,
            "keypoints": list(self.keypoints),
            "edges": [list(e) for e in self.edges],
            "symmetry": [list(s) for s in self.symmetry],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Skeleton:
        """Inverse of :meth:`to_dict`."""
        unknown = set(data) - {"name", "keypoints", "edges", "symmetry"}
        if unknown:
            raise SchemaError(f"unknown skeleton fields {sorted(unknown)}")
        if "keypoints" not in data:
            raise SchemaError("a skeleton needs a 'keypoints' list")
        return cls(
            data["keypoints"], edges=data.get("edges", ()), symmetry=data.get("symmetry", ()), name=data.get("name", "")
        )

    def to_json(self) -> str:
        """JSON form, as stored in a Dataset's ``skeleton`` attr."""
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> Skeleton:
        """Inverse of :meth:`to_json`."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise SchemaError(f"skeleton is not valid JSON: {err}") from None
        return cls.from_dict(data)

    def check_keypoints(self, keypoints: Sequence[str], *, source: str = "the data") -> None:
        """Raise :class:`SchemaError` unless ``keypoints`` are exactly this skeleton's keypoints, in order.

        Parameters
        ----------
        keypoints
            Keypoint names found in a file or Dataset.
        source
            What the names came from, for the message (e.g. a file path).
        """
        keypoints = tuple(keypoints)
        if keypoints == self.keypoints:
            return
        missing = [k for k in self.keypoints if k not in keypoints]
        extra = [k for k in keypoints if k not in self.keypoints]
        if missing or extra:
            raise SchemaError(f"{source}: keypoints disagree with the skeleton: missing {missing}, unexpected {extra}")
        raise SchemaError(
            f"{source}: keypoints {list(keypoints)} are not in the skeleton's order {list(self.keypoints)}"
        )


_LEFT_WORD = re.compile(r"left", re.IGNORECASE)
_LEFT_LETTER = (
    re.compile(r"(?:^|(?<=[_\-. ]))([lL])(?=[_\-. ]|$)"),  # l_ear, ear_l, ear.L
    re.compile(r"(?<=[a-z0-9])(L)(?=$|[A-Z0-9_])"),  # earL, forepawL2
    re.compile(r"^(L)(?=[A-Z])"),  # LEar
)


def _mirrored(name: str) -> list[str]:
    """Each name ``name`` becomes when one of its left marks is made right (``left`` words, ``l``/``L`` letters)."""
    out = []
    for match in _LEFT_WORD.finditer(name):
        word = match.group(0)
        right = "right" if word.islower() else "RIGHT" if word.isupper() else "Right"
        out.append(name[: match.start()] + right + name[match.end() :])
    for pattern in _LEFT_LETTER:
        for match in pattern.finditer(name):
            letter = "r" if match.group(1) == "l" else "R"
            out.append(name[: match.start(1)] + letter + name[match.end(1) :])
    return out


def guess_symmetry(keypoints: Sequence[str]) -> list[tuple[str, str]]:
    """Left/right keypoint pairs read from the names, for skeletons whose file has none (DeepLabCut's).

    A pair is two names that differ only in a left mark made right: the word
    ``left``/``right`` in any case (``leftear``/``rightear``, ``Left_paw``/``Right_paw``)
    or a letter ``l``/``r`` standing alone (``ear_l``/``ear_r``, ``l.ear``) or
    ``L``/``R`` closing a camel-case name (``earL``/``earR``, ``LEar``/``REar``).

    >>> guess_symmetry(["snout", "leftear", "rightear", "paw_l", "paw_r", "tailbase", "earL", "earR"])
    [('leftear', 'rightear'), ('paw_l', 'paw_r'), ('earL', 'earR')]
    """
    names = list(keypoints)
    present = set(names)
    pairs: list[tuple[str, str]] = []
    taken: set[str] = set()
    for name in names:
        for other in _mirrored(name):
            if other in present and other != name and name not in taken and other not in taken:
                pairs.append((name, other))
                taken.update((name, other))
    return pairs


def _plain_name(name: str) -> str:
    """Return a keypoint name as the body-part guesses match it: lower case, without ``_ - . /`` and spaces."""
    return re.sub(r"[_\-. /]", "", name.lower())


#: Name fragments of the body axis' ends, most wanted first (matched in lower case, ``_ -./`` removed).
_HEAD_NAMES = ("nose", "snout", "head", "neck")
_TAIL_NAMES = ("tailbase", "baseoftail", "tailroot", "tailstart", "tail", "rump", "hip")


def guess_body_axis(keypoints: Sequence[str]) -> tuple[str, str]:
    """Return the body axis ``(tail end, head end)`` read from the names, whatever their order in the file.

    The head end is the first of ``nose``, ``snout``, ``head``, ``neck``
    found in a name (``Snout``, ``nose_tip``, ``lab2_nose``), the tail end the
    first of ``tailbase``, ``base of tail``, ``tail``, ... (a tail base before a
    tail tip); without such names, the last and the first keypoint.

    >>> guess_body_axis(["tail_tip", "Tail_base", "earL", "snout"])
    ('Tail_base', 'snout')
    >>> guess_body_axis(["a", "b", "c"])
    ('c', 'a')
    """
    names = [str(k) for k in keypoints]
    plain = [_plain_name(n) for n in names]

    def first(fragments: Sequence[str], avoid: str | None, tips: bool = True) -> str | None:
        for fragment in fragments:
            for name, flat in zip(names, plain, strict=True):
                if fragment in flat and name != avoid and (tips or "tip" not in flat):
                    return name
        return None

    head = first(_HEAD_NAMES, None)
    tail = first(_TAIL_NAMES, head, tips=False) or first(_TAIL_NAMES, head)  # a tail base before a tail tip
    if head is None or tail is None:
        return names[-1], names[0]
    return tail, head


#: Name fragments of a tail's root (matched like :data:`_TAIL_NAMES`): kept when the rest of the tail is left out.
_TAIL_ROOTS = ("tailbase", "baseoftail", "tailroot", "tailstart", "proximaltail")


def guess_tail_keypoints(keypoints: Sequence[str], posterior: str | None = None) -> list[str]:
    """Keypoints on the tail beyond its root (``tail_mid``, ``tailtip``, ``Tail2``...), read from the names.

    A name with ``tail`` in it is on the tail unless it names the root
    (``tail_base``, ``base of tail``, ``tailroot``, ``proximal tail``) or is
    the body axis' ``posterior`` end (a lone ``tail`` keypoint marks the root).

    >>> guess_tail_keypoints(["nose", "tail_base", "tail_mid", "TailTip"])
    ['tail_mid', 'TailTip']
    >>> guess_tail_keypoints(["Snout", "Butt/Proximal Tail"]), guess_tail_keypoints(["nose", "tail"], "tail")
    ([], [])
    """
    out = []
    for name in (str(k) for k in keypoints):
        flat = _plain_name(name)
        if "tail" in flat and name != posterior and not any(root in flat for root in _TAIL_ROOTS):
            out.append(name)
    return out


# --------------------------------------------------------------------------- helpers
def _check_unique(names: Sequence[str], what: str) -> None:
    seen: set[str] = set()
    dupes = sorted({n for n in names if n in seen or seen.add(n)})  # type: ignore[func-returns-value]
    if dupes:
        raise SchemaError(f"duplicate {what}: {dupes}")


def check_fps(fps: float | None) -> float | None:
    """Return ``fps`` as a float, or raise :class:`SchemaError` unless it is ``None`` or a finite number > 0."""
    if fps is None:
        return None
    try:
        value = float(fps)
    except (TypeError, ValueError):
        raise SchemaError(f"fps must be a number, got {fps!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise SchemaError(f"fps must be a finite number > 0, got {fps!r}")
    return value


def check_dims(obj: xr.DataArray | xr.Dataset, required: Iterable[str], *, name: str = "input") -> None:
    """Raise :class:`SchemaError` unless ``obj`` has every dim in ``required``.

    Stages call this first so a wrong input fails with a message naming the
    missing dims rather than deep inside numpy.

    Parameters
    ----------
    obj
        DataArray or Dataset to check.
    required
        Dimension names that must be present.
    name
        What ``obj`` is, for the message.
    """
    if not isinstance(obj, xr.DataArray | xr.Dataset):
        raise SchemaError(f"{name} must be an xarray DataArray or Dataset, got {type(obj).__name__}")
    missing = [d for d in required if d not in obj.dims]
    if missing:
        raise SchemaError(f"{name} lacks the dim(s) {missing}; it has {list(obj.dims)}")


# --------------------------------------------------------------------------- construction
def from_numpy(
    position: np.ndarray,
    confidence: np.ndarray | None = None,
    *,
    keypoints: Sequence[str] | None = None,
    individuals: Sequence[str] | None = None,
    fps: float | None = None,
    source_software: str | None = None,
    skeleton: Skeleton | None = None,
    attrs_: Mapping[str, Any] | None = None,
) -> xr.Dataset:
    """Build a validated pose Dataset from arrays.

    Parameters
    ----------
    position
        Keypoint coordinates in pixels, shape ``(time, space, keypoint, individual)``
        with ``space`` of size 2 or 3; NaN marks a missing keypoint.
    confidence
        Per-keypoint confidence, shape ``(time, keypoint, individual)``;
        all NaN when omitted.
    keypoints
        Unique keypoint names; taken from ``skeleton`` or ``keypoint_0, ...``
        when omitted.
    individuals
        Unique individual names; ``id_0, id_1, ...`` when omitted.
    fps
        Frames per second; when given the time coordinate is in seconds.
    source_software
        What produced the poses (``"DeepLabCut"``, ``"SLEAP"``, ...).
    skeleton
        Optional skeleton; its keypoints must equal ``keypoints``.
    attrs_
        Further attrs to store (strings and numbers only, for netCDF).

    Returns
    -------
    xarray.Dataset
        A Dataset that passes :func:`validate_poses`.
    """
    position = np.asarray(position)
    if position.ndim != 4:
        raise SchemaError(
            f"position must have 4 dims {POSITION_DIMS}, got shape {position.shape}; "
            "add length-1 axes for a single keypoint or individual"
        )
    if not np.issubdtype(position.dtype, np.number):
        raise SchemaError(f"position must be numeric, got dtype {position.dtype}")
    n_time, n_space, n_kp, n_ind = position.shape
    if n_space not in (2, 3):
        raise SchemaError(f"the space axis (axis 1) of position must have size 2 or 3, got {n_space}")
    if not np.issubdtype(position.dtype, np.floating):
        position = position.astype(np.float64)
    expected = (n_time, n_kp, n_ind)
    if confidence is None:
        confidence = np.full(expected, np.nan, dtype=position.dtype)
    else:
        confidence = np.asarray(confidence)
        if confidence.shape != expected:
            raise SchemaError(
                f"confidence must have shape (time, keypoint, individual) = {expected} "
                f"to match position {position.shape}, got {confidence.shape}"
            )
        if not np.issubdtype(confidence.dtype, np.floating):
            confidence = confidence.astype(np.float64)
    if keypoints is None:
        keypoints = skeleton.keypoints if skeleton is not None else [f"keypoint_{i}" for i in range(n_kp)]
    keypoints = _to_name_tuple(keypoints)
    if len(keypoints) != n_kp:
        raise SchemaError(f"got {len(keypoints)} keypoint names for {n_kp} keypoints in position")
    _check_unique(keypoints, "keypoint names")
    if individuals is None:
        individuals = [f"id_{i}" for i in range(n_ind)]
    individuals = _to_name_tuple(individuals)
    if len(individuals) != n_ind:
        raise SchemaError(f"got {len(individuals)} individual names for {n_ind} individuals in position")
    _check_unique(individuals, "individual names")
    fps = check_fps(fps)
    if skeleton is not None:
        skeleton.check_keypoints(keypoints, source="from_numpy")

    ds_attrs: dict[str, Any] = {"ds_type": "poses", "source_software": source_software or "unknown"}
    if fps is not None:
        time = np.arange(n_time, dtype=np.float64) / fps
        ds_attrs["fps"] = fps
        ds_attrs["time_unit"] = "seconds"
    else:
        time = np.arange(n_time, dtype=np.int64)
        ds_attrs["time_unit"] = "frames"
    ds_attrs["log"] = "[]"
    if skeleton is not None:
        ds_attrs["skeleton"] = skeleton.to_json()
    if attrs_:
        ds_attrs.update(attrs_)
    ds = xr.Dataset(
        {
            "position": (POSITION_DIMS, position),
            "confidence": (CONFIDENCE_DIMS, confidence),
        },
        coords={
            "time": time,
            "space": list(_SPACE_LABELS[:n_space]),
            "keypoint": list(keypoints),
            "individual": list(individuals),
        },
        attrs=ds_attrs,
    )
    validate_poses(ds)
    return ds


# --------------------------------------------------------------------------- validation
def validate_poses(ds: xr.Dataset, *, source: str | None = None) -> None:
    """Raise :class:`SchemaError` unless ``ds`` is a valid pose Dataset.

    Parameters
    ----------
    ds
        The Dataset to check; it is not modified.
    source
        Where the Dataset came from (a file path), prefixed to messages.
    """
    where = f"{source}: " if source else ""
    if not isinstance(ds, xr.Dataset):
        raise SchemaError(f"{where}expected an xarray.Dataset of poses, got {type(ds).__name__}")
    for var in ("position", "confidence"):
        if var not in ds.data_vars:
            raise SchemaError(f"{where}the pose Dataset has no {var!r} variable (it has {list(ds.data_vars)})")
    pos, conf = ds["position"], ds["confidence"]
    if pos.dims != POSITION_DIMS:
        raise SchemaError(f"{where}position must have dims {POSITION_DIMS}, got {pos.dims}")
    if conf.dims != CONFIDENCE_DIMS:
        raise SchemaError(f"{where}confidence must have dims {CONFIDENCE_DIMS}, got {conf.dims}")
    for var in (pos, conf):
        if not np.issubdtype(var.dtype, np.floating):
            raise SchemaError(f"{where}{var.name} must be floating point, got {var.dtype}")
    space = [str(s) for s in ds["space"].values]
    if space not in (["x", "y"], ["x", "y", "z"]):
        raise SchemaError(f"{where}space coordinates must be ['x', 'y'] or ['x', 'y', 'z'], got {space}")
    for dim in ("keypoint", "individual"):
        names = [str(v) for v in ds[dim].values]
        _check_unique(names, f"{dim} names{' in ' + source if source else ''}")
    fps = ds.attrs.get("fps")
    if fps is not None:
        try:
            check_fps(fps)
        except SchemaError as err:
            raise SchemaError(f"{where}{err}") from None
    time_unit = ds.attrs.get("time_unit", "seconds" if fps is not None else "frames")
    if time_unit not in ("seconds", "frames"):
        raise SchemaError(f"{where}time_unit must be 'seconds' or 'frames', got {time_unit!r}")
    if time_unit == "seconds" and fps is None:
        raise SchemaError(f"{where}time_unit is 'seconds' but the Dataset has no fps attr")
    if "log" in ds.attrs:
        try:
            log = json.loads(ds.attrs["log"])
        except (TypeError, json.JSONDecodeError):
            raise SchemaError(f"{where}the 'log' attr must be a JSON list, got {ds.attrs['log']!r:.80}") from None
        if not isinstance(log, list):
            raise SchemaError(f"{where}the 'log' attr must be a JSON list")
    if "skeleton" in ds.attrs:
        skeleton = Skeleton.from_json(ds.attrs["skeleton"])
        skeleton.check_keypoints([str(k) for k in ds["keypoint"].values], source=source or "the Dataset")


def as_poses(ds: xr.Dataset, *, source: str | None = None) -> xr.Dataset:
    """Return ``ds`` as a valid behaviorlab pose Dataset, accepting ``movement``'s own layout.

    ``movement`` names the dims ``keypoints`` and ``individuals``; they are
    renamed, dims are put in canonical order, and default attrs are filled in.
    The input is never modified.

    Parameters
    ----------
    ds
        A pose Dataset from behaviorlab or ``movement``.
    source
        Where it came from, for error messages.

    Returns
    -------
    xarray.Dataset
        A validated Dataset (a new object).
    """
    if not isinstance(ds, xr.Dataset):
        raise SchemaError(f"expected an xarray.Dataset of poses, got {type(ds).__name__}")
    rename = {old: new for old, new in _MOVEMENT_DIMS.items() if old in ds.dims}
    out = ds.rename(rename) if rename else ds.copy()
    if "position" in out and set(out["position"].dims) == set(POSITION_DIMS):
        out["position"] = out["position"].transpose(*POSITION_DIMS)
    if "confidence" in out and set(out["confidence"].dims) == set(CONFIDENCE_DIMS):
        out["confidence"] = out["confidence"].transpose(*CONFIDENCE_DIMS)
    attrs_ = dict(out.attrs)
    attrs_ = {k: v for k, v in attrs_.items() if v is not None}
    attrs_.setdefault("ds_type", "poses")
    attrs_.setdefault("source_software", "unknown")
    attrs_.setdefault("time_unit", "seconds" if "fps" in attrs_ else "frames")
    attrs_.setdefault("log", "[]")
    out.attrs = attrs_
    validate_poses(out, source=source)
    return out


def to_movement(ds: xr.Dataset) -> xr.Dataset:
    """Return a copy of a pose Dataset in ``movement``'s layout (plural dim names)."""
    ds = as_poses(ds)
    return ds.rename({new: old for old, new in _MOVEMENT_DIMS.items()})


# --------------------------------------------------------------------------- provenance
def get_log(obj: xr.Dataset | xr.DataArray) -> list[dict[str, Any]]:
    """Return the processing steps recorded in ``obj.attrs["log"]``, oldest first."""
    text = obj.attrs.get("log", "[]")
    try:
        log = json.loads(text)
    except (TypeError, json.JSONDecodeError):
        raise SchemaError(f"the 'log' attr must be a JSON list, got {text!r:.80}") from None
    if not isinstance(log, list):
        raise SchemaError("the 'log' attr must be a JSON list")
    return log


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return repr(value)


def log_step(obj: xr.Dataset | xr.DataArray, operation: str, **params: Any) -> xr.Dataset | xr.DataArray:
    """Return a shallow copy of ``obj`` whose ``log`` attr records one more step.

    Parameters
    ----------
    obj
        The result of a processing step (not modified).
    operation
        Name of the step, e.g. ``"filter_by_confidence"``.
    **params
        The step's parameters; stored as JSON (unknown objects by ``repr``).

    Returns
    -------
    xarray.Dataset or xarray.DataArray
        ``obj`` with the entry appended to ``attrs["log"]``.
    """
    log = get_log(obj)

    log.append(
        {
            "operation": operation,
            "datetime": datetime.now(UTC).isoformat(timespec="seconds"),
            "behaviorlab_version": __version__,
            **{k: _jsonable(v) for k, v in params.items()},
        }
    )
    out = obj.copy(deep=False)
    out.attrs = {**obj.attrs, "log": json.dumps(log)}
    return out


#: Depth of logged calls in this thread or task: building blocks called inside a stage do not log again.
_LOG_DEPTH: contextvars.ContextVar[int] = contextvars.ContextVar("behaviorlab_log_depth", default=0)


@contextlib.contextmanager
def unlogged() -> Iterator[None]:
    """Run building blocks without provenance entries: the enclosing stage logs itself once.

    Calls of :func:`logged` functions inside the block return their results
    without a new ``attrs["log"]`` entry, as calls nested in another logged
    function do.
    """
    token = _LOG_DEPTH.set(_LOG_DEPTH.get() + 1)
    try:
        yield
    finally:
        _LOG_DEPTH.reset(token)


def logged(operation: str | None = None) -> Callable:
    """Decorate a stage ``f(obj, *args, **kwargs)`` so its result records the call in ``attrs["log"]``.

    Only the outermost logged call records itself: the building blocks a
    stage calls (logged functions themselves when a user calls them) add no
    entries of their own, so provenance holds each stage once.
    """

    def decorate(func: Callable) -> Callable:
        sig = inspect.signature(func)
        name = operation or func.__name__

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if _LOG_DEPTH.get():
                return func(*args, **kwargs)
            with unlogged():
                result = func(*args, **kwargs)
            bound = sig.bind(*args, **kwargs)
            bound.apply_defaults()
            params = dict(list(bound.arguments.items())[1:])
            params.update(params.pop("kwargs", {}) or {})
            return log_step(result, name, **params)

        return wrapper

    return decorate


# --------------------------------------------------------------------------- skeleton attr
def get_skeleton(ds: xr.Dataset) -> Skeleton | None:
    """Return the skeleton stored in ``ds.attrs["skeleton"]``, or ``None``."""
    text = ds.attrs.get("skeleton")
    return None if text is None else Skeleton.from_json(text)


def rename_keypoints(ds: xr.Dataset, mapping: Mapping[str, str] | None, source: str = "the poses") -> xr.Dataset:
    """Return a copy of ``ds`` whose keypoints carry other names (``{name in the file: new name}``).

    Keypoints the mapping does not name keep theirs; the skeleton attr, when
    present, is renamed too.  A saved classifier or pose model applies to
    another lab's file once its keypoints carry the names it was trained on.

    Raises
    ------
    SchemaError
        The mapping names a keypoint ``ds`` lacks, or two keypoints would
        share a name; the message names ``source`` and the keypoints.
    """
    if not mapping:
        return ds
    names = [str(k) for k in ds["keypoint"].values]
    mapping = {str(k): str(v) for k, v in mapping.items()}
    unknown = sorted(set(mapping) - set(names))
    if unknown:
        raise SchemaError(
            f"{source}: the keypoint map names {unknown}, which the file does not have (its keypoints: {names}); "
            "fix the map's left-hand names (--keypoint-map, or poses.keypoint_map in the project config)"
        )
    renamed = [mapping.get(k, k) for k in names]
    twice = sorted({k for k in renamed if renamed.count(k) > 1})
    if twice:
        raise SchemaError(f"{source}: after the keypoint map, several keypoints are called {twice}; map each once")
    out = ds.assign_coords(keypoint=renamed)
    skeleton = get_skeleton(ds)
    if skeleton is not None:
        out.attrs = {
            **ds.attrs,
            "skeleton": Skeleton(
                [mapping.get(k, k) for k in skeleton.keypoints],
                edges=[(mapping.get(a, a), mapping.get(b, b)) for a, b in skeleton.edges],
                symmetry=[(mapping.get(a, a), mapping.get(b, b)) for a, b in skeleton.symmetry],
            ).to_json(),
        }
    return out


def set_skeleton(ds: xr.Dataset, skeleton: Skeleton) -> xr.Dataset:
    """Return a copy of ``ds`` carrying ``skeleton``; its keypoints must match the Dataset's."""
    skeleton.check_keypoints([str(k) for k in ds["keypoint"].values], source="set_skeleton")
    out = ds.copy(deep=False)
    out.attrs = {**ds.attrs, "skeleton": skeleton.to_json()}
    return out


def pose_frame_numbers(poses: xr.Dataset) -> np.ndarray:
    """Video frame index of every time point of a pose Dataset.

    ``time`` in seconds is converted with the ``fps`` attr and rounded; a
    ``time`` in frames is used as is.  Poses of a whole video give
    ``0, 1, ..., n - 1``; a slice of them keeps its place in the video.

    Parameters
    ----------
    poses
        Pose Dataset (``time`` dim, attrs ``fps`` / ``time_unit``).

    Returns
    -------
    numpy.ndarray
        int64 ``(time,)``, strictly increasing.
    """
    if "time" not in poses.dims:
        raise SchemaError(f"the poses lack a 'time' dim; they have {list(poses.dims)}")
    time = np.asarray(poses["time"].values, dtype=np.float64)
    fps = poses.attrs.get("fps")
    if poses.attrs.get("time_unit", "seconds" if fps is not None else "frames") == "seconds":
        if fps is None:
            raise SchemaError("the poses' time is in seconds but they have no fps attr to convert it to frames")
        time = time * float(fps)
    frames = np.rint(time).astype(np.int64)
    if len(frames) and (np.abs(time - frames).max() > 0.01 or (np.diff(frames) <= 0).any() or frames[0] < 0):
        raise SchemaError(
            "the poses' time coordinate does not map to increasing whole video frames "
            f"(first times {time[:3].tolist()} frames); were they resampled?"
        )
    return frames


def is_missing_label(value: Any) -> bool:
    """Whether one cell of a label or metadata table is empty: ``None``, NaN or the empty string."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value == ""
