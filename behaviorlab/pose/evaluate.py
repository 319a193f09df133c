"""Accuracy of predicted keypoints against ground truth.

Pure numpy/pandas: works on arrays from any model, never imports keras.
Errors are Euclidean distances in pixels; a keypoint missing (NaN) in either
the prediction or the ground truth has no error (NaN) and is left out of
every statistic, so ``n`` counts the labeled keypoints that were compared.
Percentiles use numpy's default (linear) interpolation.

Examples
--------
>>> import numpy as np
>>> true = np.zeros((2, 1, 2))
>>> pred = np.array([[[3.0, 4.0]], [[6.0, 8.0]]])
>>> keypoint_errors(pred, true).tolist()
[[5.0], [10.0]]
>>> report = evaluate_predictions(pred, true, ["nose"], thresholds=(5,))
>>> report.overall["mean"], report.overall["pck@5"]
(7.5, 0.5)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import attrs
import numpy as np
import pandas as pd

from behaviorlab.errors import SchemaError

__all__ = [
    "EvaluationReport",
    "error_summary",
    "evaluate_predictions",
    "keypoint_errors",
    "pck",
]

_STATS = ("n", "mean", "median", "p90", "p99", "max")
_ALL = "all"


def keypoint_errors(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Euclidean distance between predicted and true keypoints.

    Parameters
    ----------
    pred, true
        Shape ``(n_frames, n_individuals, n_keypoints, n_space)`` or
        ``(n_frames, n_keypoints, n_space)``, the same for both; NaN = missing.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_frames, n_individuals, n_keypoints)`` (or
        ``(n_frames, n_keypoints)``), NaN where either keypoint is missing.
    """
    pred = np.asarray(pred, dtype=np.float64)
    true = np.asarray(true, dtype=np.float64)
    if pred.shape != true.shape:
        raise SchemaError(f"predicted keypoints have shape {pred.shape} but true keypoints have shape {true.shape}")
    if pred.ndim not in (3, 4) or pred.shape[-1] not in (2, 3):
        raise SchemaError(
            f"keypoints must have shape (n_frames, [n_individuals,] n_keypoints, 2 or 3), got {pred.shape}"
        )
    errors = np.sqrt(np.sum((pred - true) ** 2, axis=-1))
    errors[np.isnan(pred).any(axis=-1) | np.isnan(true).any(axis=-1)] = np.nan
    return errors


def _per_keypoint(errors: np.ndarray, keypoint_names: Sequence[str] | None) -> tuple[list[np.ndarray], list[str]]:
    """Finite errors of each keypoint (last axis) plus all of them pooled, and the row names."""
    errors = np.asarray(errors, dtype=np.float64)
    if errors.ndim < 1:
        raise SchemaError(f"errors must have the keypoint axis last, got a scalar {errors!r}")
    n_kp = errors.shape[-1]
    names = [f"keypoint_{i}" for i in range(n_kp)] if keypoint_names is None else [str(k) for k in keypoint_names]
    if len(names) != n_kp:
        raise SchemaError(f"got {len(names)} keypoint names for {n_kp} keypoints (the last axis of errors)")
    if _ALL in names:
        raise SchemaError(f"{_ALL!r} is reserved for the pooled row and cannot be a keypoint name")
    flat = errors.reshape(-1, n_kp)
    columns = [flat[:, k][np.isfinite(flat[:, k])] for k in range(n_kp)]
    pooled = flat[np.isfinite(flat)]
    return [*columns, pooled], [*names, _ALL]


def _stats(values: np.ndarray) -> dict[str, float]:
    if values.size == 0:
        return {"n": 0, **{k: math.nan for k in _STATS[1:]}}
    p50, p90, p99 = np.percentile(values, [50, 90, 99])
    return {
        "n": int(values.size),
        "mean": float(values.mean()),
        "median": float(p50),
        "p90": float(p90),
        "p99": float(p99),
        "max": float(values.max()),
    }


def error_summary(errors: np.ndarray, keypoint_names: Sequence[str] | None = None) -> pd.DataFrame:
    """Distribution of keypoint errors, per keypoint and pooled.

    Parameters
    ----------
    errors
        Shape ``(..., n_keypoints)``, e.g. from :func:`keypoint_errors`; NaN =
        not compared.
    keypoint_names
        Names of the ``n_keypoints`` keypoints; ``keypoint_0, ...`` when omitted.

    Returns
    -------
    pandas.DataFrame
        Index: keypoint names then ``"all"``; columns ``n`` (int), ``mean``,
        ``median``, ``p90``, ``p99``, ``max``.  A keypoint with no finite
        error has ``n = 0`` and NaN elsewhere (no warning).
    """
    columns, names = _per_keypoint(errors, keypoint_names)
    table = pd.DataFrame([_stats(v) for v in columns], index=pd.Index(names, name="keypoint"), columns=list(_STATS))
    return table.astype({"n": np.int64})


def _pck_label(threshold: float) -> str:
    return f"pck@{threshold:g}"


def _check_thresholds(thresholds: Iterable[float]) -> list[float]:
    values = [float(t) for t in np.atleast_1d(np.asarray(thresholds, dtype=np.float64))]
    if not values or any(not (math.isfinite(t) and t >= 0) for t in values):
        raise ValueError(f"thresholds must be one or more finite distances >= 0 in pixels, got {thresholds!r}")
    return values


def pck(
    errors: np.ndarray, thresholds: Iterable[float] | float, keypoint_names: Sequence[str] | None = None
) -> pd.DataFrame:
    """Percentage of correct keypoints: the share of compared keypoints with error <= threshold.

    Parameters
    ----------
    errors
        Shape ``(..., n_keypoints)``; NaN = not compared (left out of the share).
    thresholds
        Distances in pixels.
    keypoint_names
        Names of the ``n_keypoints`` keypoints; ``keypoint_0, ...`` when omitted.

    Returns
    -------
    pandas.DataFrame
        Index: keypoint names then ``"all"``; one column ``pck@<threshold>`` per
        threshold with a share in ``[0, 1]``, NaN for a keypoint never compared.
    """
    values = _check_thresholds(thresholds)
    columns, names = _per_keypoint(errors, keypoint_names)
    rows = [[float(np.mean(v <= t)) if v.size else math.nan for t in values] for v in columns]
    return pd.DataFrame(rows, index=pd.Index(names, name="keypoint"), columns=[_pck_label(t) for t in values])


def _plain(value: Any) -> Any:
    """JSON-friendly scalar: numpy scalars to Python, NaN and infinities to None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _table_to_dict(table: pd.DataFrame) -> dict[str, dict[str, Any]]:
    return {str(row): {str(col): _plain(table.at[row, col]) for col in table.columns} for row in table.index}


def _format_cell(value: Any) -> str:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.3f}"
    return str(value)


def _markdown_table(table: pd.DataFrame) -> str:
    header = [str(table.index.name or ""), *map(str, table.columns)]
    rows = [[str(idx), *(_format_cell(table.at[idx, col]) for col in table.columns)] for idx in table.index]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return (
            "| "
            + " | ".join(
                c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )
            + " |"
        )

    rule = "| " + " | ".join(("-" * w if i == 0 else "-" * (w - 1) + ":") for i, w in enumerate(widths)) + " |"
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


@attrs.frozen
class EvaluationReport:
    """Accuracy of a set of predictions.

    Parameters
    ----------
    per_keypoint
        :func:`error_summary` table (pixels).
    pck
        :func:`pck` table (shares in ``[0, 1]``).
    overall
        Pooled statistics: the ``"all"`` rows of both tables as one dict.
    """

    per_keypoint: pd.DataFrame = attrs.field(eq=False)
    pck: pd.DataFrame = attrs.field(eq=False)
    overall: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (NaN as ``None``)."""
        return {
            "overall": {k: _plain(v) for k, v in self.overall.items()},
            "per_keypoint": _table_to_dict(self.per_keypoint),
            "pck": _table_to_dict(self.pck),
        }

    def to_markdown(self) -> str:
        """Both tables as Markdown text, errors in pixels."""
        table = self.per_keypoint.join(self.pck)
        return "Keypoint error (pixels) and PCK\n\n" + _markdown_table(table) + "\n"


def evaluate_predictions(
    pred: np.ndarray,
    true: np.ndarray,
    keypoint_names: Sequence[str] | None = None,
    *,
    thresholds: Iterable[float] = (2, 5, 10),
) -> EvaluationReport:
    """Compare predicted keypoints with ground truth.

    Parameters
    ----------
    pred, true
        Shape ``(n_frames, n_individuals, n_keypoints, n_space)`` or
        ``(n_frames, n_keypoints, n_space)``, pixel coordinates; NaN = missing.
    keypoint_names
        Names of the keypoints; ``keypoint_0, ...`` when omitted.
    thresholds
        PCK distances in pixels.

    Returns
    -------
    EvaluationReport
        Error statistics and PCK per keypoint and pooled.
    """
    errors = keypoint_errors(pred, true)
    summary = error_summary(errors, keypoint_names)
    shares = pck(errors, thresholds, summary.index[:-1].tolist())
    overall: dict[str, Any] = {str(k): float(v) for k, v in [*summary.loc[_ALL].items(), *shares.loc[_ALL].items()]}
    overall["n"] = int(overall["n"])
    return EvaluationReport(per_keypoint=summary, pck=shares, overall=overall)
