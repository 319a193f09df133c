"""Plotly figures of a behavior classifier against the human labels: precision-recall curves and confusion.

The dashboard's Classifiers page draws them from the store's pooled counts
(:mod:`behaviorlab.results.scoring`) or from labels and probabilities.
Every function returns a :class:`plotly.graph_objects.Figure` and imports
plotly when called.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import xarray as xr

from behaviorlab.errors import SchemaError
from behaviorlab.results.plots import state_color
from behaviorlab.results.scoring import (
    add_counts,
    average_precision,
    operating_points,
    precision_recall_curves,
    probability_counts,
)

__all__ = ["confusion_figure", "precision_recall_figure"]


def precision_recall_figure(
    probabilities: xr.DataArray | Mapping[str, xr.DataArray] | xr.Dataset,
    labels: xr.DataArray | Mapping[str, xr.DataArray] | None = None,
    thresholds: Mapping[str, float] | None = None,
    *,
    title: str = "Precision-recall per behavior",
) -> Any:
    """Precision-recall curve of each behavior's probabilities against the human labels, pooled over sessions.

    Parameters
    ----------
    probabilities
        ``behavior_probability (time, [individual,] behavior)``, or session
        name to it (sessions pooled); NaN frames (no features) are left out.
        Or the counts of :func:`behaviorlab.results.scoring.probability_counts` (or
        :func:`~behaviorlab.results.scoring.score_counts`), summed over sessions with
        :func:`~behaviorlab.results.scoring.add_counts` or read from the store with
        :func:`~behaviorlab.results.scoring.counts_from_tables`; ``labels`` then
        come with the counts, and ``thresholds`` are rounded up to their
        grid unless the counts were made with them.
    labels
        Human labels, bool ``(time, [individual,] behavior)`` of the same
        frames (or session name to them).
    thresholds
        Behavior to decision threshold (the classifier's ``thresholds_``):
        the precision and recall of ``probability >= threshold`` are marked.
    title
        Figure title.

    Returns
    -------
    plotly.graph_objects.Figure
        Per behavior with positive frames (the labels' order): a line trace
        of its curve (x recall, y precision, thresholds on a grid of 0.001;
        see :func:`behaviorlab.results.scoring.probability_counts`) named
        ``"<behavior> (AP <average precision>)"`` and, when it has a
        threshold, a marker trace at that operating point.
    """
    chosen = dict(thresholds) if thresholds is not None else None
    if isinstance(probabilities, xr.Dataset):
        if labels is not None:
            raise SchemaError("counts carry their labels: pass no labels with them")
        counts = probabilities
    else:
        if labels is None:
            raise SchemaError("precision_recall_figure needs the labels of the probabilities")
        if isinstance(probabilities, Mapping) != isinstance(labels, Mapping):
            raise SchemaError("give probabilities and labels both per session (mappings) or both as one array")
        if not isinstance(probabilities, Mapping):
            probabilities, labels = {"": probabilities}, {"": labels}
        if set(probabilities) != set(labels):
            raise SchemaError(f"sessions differ: probabilities {sorted(probabilities)}, labels {sorted(labels)}")
        counts = add_counts(probability_counts(probabilities[s], labels[s], thresholds=chosen) for s in labels)
        chosen = None  # exact operating points are in the counts
    if "positives" not in counts:
        raise SchemaError("the counts hold no probabilities (score_counts(..., probability=...))")
    curves = precision_recall_curves(counts)
    ap = average_precision(counts)
    points = operating_points(counts, chosen).set_index("behavior")
    fig = go.Figure()
    for k, (behavior, curve) in enumerate(curves.groupby("behavior", sort=False)):
        # as scikit-learn draws it: from the lowest threshold (recall 1) to the point (recall 0, precision 1)
        recall = np.concatenate([curve["recall"].to_numpy()[::-1], [0.0]])
        precision = np.concatenate([curve["precision"].to_numpy()[::-1], [1.0]])
        colour = state_color(k)
        fig.add_trace(
            go.Scatter(
                x=recall,
                y=precision,
                mode="lines",
                line={"color": colour, "shape": "hv"},
                name=f"{behavior} (AP {ap[behavior]:.2f})",
                legendgroup=behavior,
                hovertemplate=f"{behavior}<br>recall %{{x:.3f}}<br>precision %{{y:.3f}}<extra></extra>",
            )
        )
        if behavior in points.index:
            t, point_p, point_r = (float(points.loc[behavior, c]) for c in ("threshold", "precision", "recall"))
            fig.add_trace(
                go.Scatter(
                    x=[point_r],
                    y=[1.0 if np.isnan(point_p) else point_p],
                    mode="markers",
                    marker={"color": colour, "size": 11, "symbol": "circle", "line": {"width": 1, "color": "black"}},
                    name=f"{behavior} threshold {t:.2f}",
                    legendgroup=behavior,
                    showlegend=False,
                    hovertemplate=(
                        f"{behavior}: threshold {t:.2f}<br>recall %{{x:.3f}}<br>precision %{{y:.3f}}<extra></extra>"
                    ),
                )
            )
    fig.update_layout(
        title=title,
        template="plotly_white",
        xaxis={"title": "recall", "range": [0, 1.02]},
        yaxis={"title": "precision", "range": [0, 1.02]},
    )
    return fig


def confusion_figure(confusion: pd.DataFrame, *, normalize: bool = True, title: str = "Confusion") -> Any:
    """Heatmap of a confusion matrix, rows the true class, columns the predicted one.

    Parameters
    ----------
    confusion
        Square count table of :func:`behaviorlab.results.metrics.confusion_matrix`.
    normalize
        Colour by the share of each true class's frames (rows sum to 1);
        ``False`` colours by the counts.  The cells' text gives the counts.
    title
        Figure title.

    Returns
    -------
    plotly.graph_objects.Figure
        One heatmap trace, ``z`` the shares (or counts), ``text`` the counts.
    """
    counts = confusion.to_numpy(dtype=np.float64)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1]:
        raise SchemaError(f"confusion must be a square table, got shape {counts.shape}")
    if normalize:
        totals = counts.sum(axis=1, keepdims=True)
        z = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    else:
        z = counts
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[str(c) for c in confusion.columns],
            y=[str(r) for r in confusion.index],
            text=counts.astype(np.int64),
            texttemplate="%{text}",
            colorscale="Blues",
            zmin=0,
            zmax=1 if normalize else None,
            colorbar={"title": "share of true" if normalize else "frames"},
            hovertemplate="true %{y}<br>predicted %{x}<br>%{text} frames<extra></extra>",
        )
    )
    fig.update_layout(
        title=title,
        template="plotly_white",
        xaxis={"title": "predicted", "side": "bottom"},
        yaxis={"title": "true", "autorange": "reversed", "scaleanchor": "x"},
    )
    return fig
