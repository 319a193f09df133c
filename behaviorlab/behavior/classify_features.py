"""Window-feature rows of many sessions for :class:`~behaviorlab.behavior.classify.BehaviorClassifier`.

A :class:`WindowDesign` holds the window features (:func:`window_features`)
of every session, individual and frame as rows, with the labels as a bool
``(n_rows, n_behaviors)`` matrix when fitting.  This module pairs feature and
label containers, checks and aligns the labels on the features' frames, picks
the behaviors to learn, and recognises a session again by a digest of its base
features.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import xarray as xr

from behaviorlab._blocks import blocks
from behaviorlab.errors import SchemaError
from behaviorlab.features.design import FEATURE_DIMS
from behaviorlab.features.samples import SessionSamples, session_items, session_samples
from behaviorlab.features.windows import frame_rate, window_features
from behaviorlab.schema import check_dims

__all__ = [
    "LABEL_DIMS",
    "WindowDesign",
    "align_labels",
    "base_features",
    "build_design",
    "check_keypoints",
    "fingerprint",
    "labels_behaviors",
    "pair_sessions",
    "session_fingerprints",
    "session_keypoints",
]

LABEL_DIMS = ("time", "individual", "behavior")
#: Frames (along a session's first dim) hashed at a time by :func:`fingerprint`.
FINGERPRINT_BLOCK = 2**16


def fingerprint(source: xr.DataArray) -> str:
    """SHA-256 of a session's base features (values and shape): the same session is recognised after a reload.

    The values are hashed as float64 in their own dim order, read in blocks
    along the first dim (the same bytes as the whole array: a long session is
    never copied whole).
    """
    digest = hashlib.sha256(repr((source.dims, source.shape)).encode())
    first = source.dims[0]
    for block in blocks(source.sizes[first], FINGERPRINT_BLOCK, 0):
        values = source.isel({first: slice(block.start, block.stop)}).values
        digest.update(np.ascontiguousarray(values, dtype=np.float64).tobytes())
    return digest.hexdigest()


def session_fingerprints(features: Any, variable: str, reference: Sequence[str]) -> list[str]:
    """Return the sorted :func:`fingerprint` of each session's base features, in the ``reference`` feature order."""
    out = set()
    for name, obj in session_items(features):
        base = base_features(name, obj, variable)
        if [str(f) for f in base["feature"].values] != [str(f) for f in reference]:
            base = base.sel(feature=list(reference))
        out.add(fingerprint(base))
    return sorted(out)


@attrs.define
class WindowDesign:
    """Window features of many sessions as rows (session, individual, time), with labels when fitting."""

    samples: SessionSamples
    names: list[str]  # session names, in order
    sources: list[xr.DataArray]  # each session's base features (for output coordinates)
    fps: np.ndarray  # (n_sessions,)
    session: np.ndarray  # (n_rows,) session position
    frame: np.ndarray  # (n_rows,) frame position along the session's time
    n_time: np.ndarray  # (n_sessions,)
    Y: np.ndarray | None = None  # (n_rows, n_behaviors) bool

    @property
    def X(self) -> np.ndarray:
        """``(n_rows, n_window_features)`` window features."""
        return self.samples.X

    @property
    def valid(self) -> np.ndarray:
        """``(n_rows,)`` bool: rows with complete features (and labels, when fitting)."""
        return self.samples.valid

    def segments(self, rows: np.ndarray) -> np.ndarray:
        """Segment id of each of the sorted ``rows``: a new segment at a new animal or a skipped row."""
        groups = self.samples.groups[rows]
        new = np.ones(len(rows), dtype=bool)
        new[1:] = (np.diff(rows) != 1) | (np.diff(groups) != 0)
        return np.cumsum(new)

    def unstack(self, values: np.ndarray, name: str, behaviors: Sequence[str], fill: Any) -> dict[str, xr.DataArray]:
        """Per-row ``(n_rows, n_behaviors)`` values as ``(time, individual, behavior)`` DataArrays per session."""
        every = SessionSamples(self.X, self.samples.index, np.ones(len(self.X), dtype=bool))
        per_session = every.unstack(values, name, fill_value=fill)
        out = {}
        for i, session in enumerate(self.names):
            source = self.sources[i]
            da = per_session.get(session)
            if da is None:  # no frame or no individual
                shape = (source.sizes["time"], source.sizes["individual"], len(behaviors))
                da = xr.DataArray(np.full(shape, fill, dtype=values.dtype), dims=(*LABEL_DIMS[:2], "component"))
            da = da.rename(component="behavior").assign_coords(
                time=source["time"].values, individual=source["individual"].values, behavior=list(behaviors)
            )
            da.attrs = {"session": session, "fps": float(self.fps[i])}
            out[session] = da.rename(name)
        return out


def check_keypoints(name: str, obj: Any, trained: Sequence[str] | None) -> None:
    """Refuse a session whose poses lack keypoints the classifier was trained on, naming them and the fix."""
    if trained is None or not isinstance(obj, xr.Dataset) or "keypoint" not in obj.coords:
        return
    present = {str(k) for k in obj["keypoint"].values}
    missing = [k for k in trained if k not in present]
    if missing:
        raise SchemaError(
            f"session {name!r} lacks the keypoint(s) {missing} this classifier was trained on (its keypoints: "
            f"{sorted(present)}); if they carry other names, map them: behaviorlab features --keypoint-map "
            "MAP.yaml, or poses.keypoint_map in the project config ({name in the file: name in the classifier})"
        )


def session_keypoints(features: Any) -> list[str] | None:
    """Return the keypoints of the first session's poses (a Dataset with a keypoint coordinate), else None."""
    items = session_items(features)
    obj = items[0][1] if items else None
    if isinstance(obj, xr.Dataset) and "keypoint" in obj.coords:
        return [str(k) for k in obj["keypoint"].values]
    return None


def base_features(name: str, obj: Any, variable: str) -> xr.DataArray:
    """Return the per-frame features of session ``name``: ``variable`` of a Dataset (with its fps), or the DataArray."""
    if isinstance(obj, xr.Dataset):
        if variable not in obj:
            raise SchemaError(
                f"session {name!r} has no {variable!r} variable (it has {sorted(map(str, obj.data_vars))}); "
                "compute the features first (behaviorlab features)"
            )
        da = obj[variable].copy(deep=False)
        da.attrs = {**{k: obj.attrs[k] for k in ("fps", "time_unit") if k in obj.attrs}, **da.attrs}
        return da
    if not isinstance(obj, xr.DataArray):
        raise SchemaError(f"session {name!r}: expected an xarray Dataset or DataArray, got {type(obj).__name__}")
    return obj


def align_labels(name: str, labels: Any, source: xr.DataArray, fps: float, behaviors: Sequence[str]) -> xr.DataArray:
    """Labels of one session on the features' time and individuals, as float ``(time, individual, behavior)``."""
    if not isinstance(labels, xr.DataArray):
        raise SchemaError(
            f"labels of session {name!r} must be a bool (time, individual, behavior) DataArray, "
            f"got {type(labels).__name__}"
        )
    if "rater" in labels.dims:
        raise SchemaError(
            f"labels of session {name!r} have a 'rater' dim ({labels.sizes['rater']} raters): pick one rater "
            "(labels.sel(rater=...)) or make a consensus (e.g. labels.mean('rater') >= 0.5) before fitting"
        )
    if set(labels.dims) != set(LABEL_DIMS):
        raise SchemaError(f"labels of session {name!r} must have dims {LABEL_DIMS}, got {labels.dims}")
    values = np.asarray(labels.values)
    known = values if values.dtype.kind != "f" else values[np.isfinite(values)]
    if values.dtype != bool and (values.dtype.kind not in "iuf" or not np.isin(known, (0, 1)).all()):
        raise SchemaError(
            f"labels of session {name!r} must be True/False (frames without annotation are False; NaN where "
            f"nobody annotated the animal), got dtype {values.dtype} with other values"
        )
    present = [str(b) for b in labels["behavior"].values]
    missing = [b for b in behaviors if b not in present]
    if missing:
        raise SchemaError(f"labels of session {name!r} lack the behavior(s) {missing}; they have {present}")
    feat_ind = [str(i) for i in source["individual"].values]
    lab_ind = [str(i) for i in labels["individual"].values]
    if sorted(feat_ind) != sorted(lab_ind):
        raise SchemaError(f"labels of session {name!r} are for the individuals {lab_ind}, the features for {feat_ind}")
    feat_t, lab_t = np.asarray(source["time"].values, float), np.asarray(labels["time"].values, float)
    if len(feat_t) != len(lab_t) or not np.allclose(feat_t, lab_t, rtol=0, atol=0.25 / fps):
        raise SchemaError(
            f"labels of session {name!r} do not match its feature times: {len(lab_t)} label frames "
            f"({lab_t[:1].tolist()}..{lab_t[-1:].tolist()} s) against {len(feat_t)} feature frames "
            f"({feat_t[:1].tolist()}..{feat_t[-1:].tolist()} s); make the labels on the same frames"
        )
    out = labels.assign_coords(individual=lab_ind, behavior=present).sel(individual=feat_ind, behavior=list(behaviors))
    out = out.transpose(*LABEL_DIMS).astype(np.float32).rename(behavior="feature")
    return out.assign_coords(time=source["time"].values, individual=source["individual"].values)


def pair_sessions(features: Any, labels: Any) -> list[tuple[str, Any, Any]]:
    """Return ``(name, features, labels)`` of each session; the two containers must have the same shape."""
    items = session_items(features)
    if isinstance(features, xr.Dataset | xr.DataArray):
        if isinstance(labels, Mapping):
            raise SchemaError("features are one session but labels a mapping of sessions: pass both as mappings")
        return [(items[0][0], items[0][1], labels)]
    if isinstance(features, Mapping):
        if not isinstance(labels, Mapping):
            raise SchemaError("features are a mapping of sessions: pass the labels as a mapping with the same names")
        names = [str(k) for k in labels]
        missing = [n for n, _ in items if n not in names]
        if missing:
            raise SchemaError(f"no labels for session(s) {missing}; labels are given for {names}")
        extra = sorted(set(names) - {n for n, _ in items})
        if extra:
            raise SchemaError(f"labels for session(s) {extra} that have no features")
        lab = {str(k): v for k, v in labels.items()}
        return [(n, obj, lab[n]) for n, obj in items]
    if isinstance(labels, Mapping | xr.DataArray) or len(labels) != len(items):
        raise SchemaError("features are a list of sessions: pass the labels as a list of the same length")
    return [(n, obj, lab) for (n, obj), lab in zip(items, labels, strict=True)]


def labels_behaviors(labels: Any, behaviors: str | Sequence[str] | None) -> list[str]:
    """Return the behaviors to learn: ``behaviors`` (checked distinct), or by default every behavior of the labels."""
    first = next(iter(labels.values())) if isinstance(labels, Mapping) else labels
    if isinstance(first, list | tuple):
        first = first[0] if first else None
    if not isinstance(first, xr.DataArray) or "behavior" not in first.dims:
        raise SchemaError("labels must be bool (time, individual, behavior) DataArrays, one per session")
    present = [str(b) for b in first["behavior"].values]
    if behaviors is None:
        return present
    wanted = [behaviors] if isinstance(behaviors, str) else [str(b) for b in behaviors]
    if not wanted or len(set(wanted)) != len(wanted):
        raise SchemaError(f"behaviors must be distinct names, got {behaviors!r}")
    return wanted


def build_design(
    features: Any,
    labels: Any = None,
    behaviors: Sequence[str] = (),
    *,
    variable: str,
    windows_s: Sequence[float],
    stats: Sequence[str],
    reference: Sequence[str] | None = None,
    partial: bool = False,
) -> WindowDesign:
    """Window features (and labels, when given) of every session as rows.

    Parameters
    ----------
    features, labels
        Sessions as in :meth:`BehaviorClassifier.fit`; ``labels`` None when predicting.
    behaviors
        The label behaviors, in output order.
    variable, windows_s, stats
        The classifier's feature settings.
    reference
        Base feature names every session must have (put in this order); default the first session's.
    partial
        A row with some NaN features is valid (for models that take missing values); only a row
        without any feature (the animal not tracked around that frame) is not.  Default: complete rows only.
    """
    if labels is None:
        triples = [(n, obj, None) for n, obj in session_items(features)]
    else:
        triples = pair_sessions(features, labels)
    if not triples:
        raise SchemaError("no session given")
    names, sources, rates, windowed, stacked_labels = [], [], [], {}, {}
    for name, obj, lab in triples:
        base = base_features(name, obj, variable)
        check_dims(base, FEATURE_DIMS, name=f"session {name!r}")
        present = [str(f) for f in base["feature"].values]
        if reference is None:
            reference = present
        elif present != list(reference):
            missing = [f for f in reference if f not in present]
            if missing:
                raise SchemaError(
                    f"session {name!r} lacks the feature(s) {missing[:10]} the classifier uses; "
                    "compute its features with the same config"
                )
            base = base.assign_coords(feature=present).sel(feature=list(reference))
        rate = frame_rate(base, None, f"session {name!r}")
        windowed[name] = window_features(base, windows_s, stats, fps=rate, dtype=np.float32)
        if lab is not None:
            stacked_labels[name] = align_labels(name, lab, base, rate, behaviors)
        names.append(name)
        sources.append(base)
        rates.append(rate)
    samples = session_samples(windowed)
    if partial:
        samples = samples._replace(valid=np.isfinite(samples.X).any(axis=1))
    n_time = np.array([s.sizes["time"] for s in sources])
    n_ind = np.array([s.sizes["individual"] for s in sources])
    session = np.repeat(np.arange(len(names)), n_time * n_ind)
    frame = np.concatenate([np.tile(np.arange(t), i) for t, i in zip(n_time, n_ind, strict=True)])
    Y = None
    if labels is not None:
        stacked = session_samples(stacked_labels).X
        Y = stacked > 0.5
        unknown = ~np.isfinite(stacked).all(axis=1)  # an animal nobody annotated: neither learned nor scored
        if unknown.any():
            samples = samples._replace(valid=samples.valid & ~unknown)
    return WindowDesign(samples, names, sources, np.array(rates), session, frame, n_time, Y)
