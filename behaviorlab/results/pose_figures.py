"""Plotly figures of poses and pose models: keypoints and confidence over time, training curves, keypoint errors.

The dashboard's Poses page draws :func:`pose_timeseries_figure` and
:func:`confidence_figure`; its Training page :func:`training_curves_figure`,
:func:`keypoint_error_figure` and the table of :func:`evaluation_table`.
Every figure function returns a :class:`plotly.graph_objects.Figure` and
imports plotly when called.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.colors
import plotly.graph_objects as go
import xarray as xr
from plotly.subplots import make_subplots

from behaviorlab.errors import SchemaError
from behaviorlab.results.plots import state_color
from behaviorlab.schema import CONFIDENCE_DIMS, POSITION_DIMS, check_dims

__all__ = [
    "confidence_figure",
    "evaluation_table",
    "keypoint_error_figure",
    "pose_timeseries_figure",
    "training_curves_figure",
]


# --------------------------------------------------------------------------- poses over time (Poses page)
def pose_timeseries_figure(
    ds: xr.Dataset,
    individual: str | None = None,
    keypoints: Sequence[str] | None = None,
    *,
    frame: int | None = None,
    max_points: int = 5000,
    title: str = "Keypoint positions",
) -> Any:
    """Plot the x and y pixel positions of keypoints over frames, with a line at the frame shown.

    Parameters
    ----------
    ds
        Pose Dataset with ``position`` ``(time, space, keypoint, individual)``;
        the x axis counts rows of ``time`` (frame numbers).
    individual
        Whose keypoints; the first individual when omitted.
    keypoints
        Which keypoints, one line each; all when omitted.
    frame
        Frame to mark with a vertical dotted line.
    max_points
        Longer sessions are thinned to every k-th frame so at most this many
        frames are drawn per line.
    title
        Figure title.

    Returns
    -------
    plotly.graph_objects.Figure
        Two stacked panels sharing the frame axis (x on top, y below), one
        trace per keypoint and panel; NaN positions leave gaps.
    """
    if "position" not in ds:
        raise SchemaError(f"the poses have no 'position' variable; they have {list(ds.data_vars)}")
    check_dims(ds["position"], POSITION_DIMS, name="position")
    individuals, names = [str(i) for i in ds["individual"].values], [str(k) for k in ds["keypoint"].values]
    individual = individuals[0] if individual is None else str(individual)
    chosen = names if keypoints is None else [str(k) for k in keypoints]
    if individual not in individuals or not set(chosen) <= set(names):
        raise SchemaError(
            f"pose_timeseries_figure: individual {individual!r} / keypoints {chosen} not all in the poses "
            f"(individuals {individuals}, keypoints {names})"
        )
    values = ds["position"].sel(individual=individual, keypoint=chosen).transpose("time", "space", "keypoint").values
    n = values.shape[0]
    frames = np.arange(0, n, max(1, math.ceil(n / max(int(max_points), 1))))
    values = values[frames]
    palette = plotly.colors.qualitative.Plotly + plotly.colors.qualitative.Dark24
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.06)
    for row, axis in enumerate(("x", "y")):
        for k, name in enumerate(chosen):
            fig.add_trace(
                go.Scattergl(
                    x=frames,
                    y=values[:, row, k],
                    mode="lines",
                    name=name,
                    legendgroup=name,
                    showlegend=row == 0,
                    line={"width": 1, "color": palette[k % len(palette)]},
                    hovertemplate=f"{name}<br>frame %{{x}}<br>{axis} %{{y:.1f}} px<extra></extra>",
                ),
                row=row + 1,
                col=1,
            )
        fig.update_yaxes(title_text=f"{axis} (px)", row=row + 1, col=1)
    if frame is not None:
        fig.add_vline(x=int(frame), line={"color": "black", "width": 1, "dash": "dot"})
    fig.update_xaxes(title_text="frame", row=2, col=1)
    fig.update_layout(
        title=f"{title} ({individual})", template="plotly_white", height=460, legend_title_text="keypoint"
    )
    return fig


def confidence_figure(
    ds: xr.Dataset,
    individual: str | None = None,
    keypoints: Sequence[str] | None = None,
    *,
    frame: int | None = None,
    max_points: int = 2000,
    title: str = "Keypoint confidence",
) -> Any:
    """Draw keypoint confidence over frames as a heatmap (one row per keypoint), with a line at the frame shown.

    Parameters
    ----------
    ds
        Pose Dataset with ``confidence`` ``(time, keypoint, individual)``; the
        x axis counts rows of ``time`` (frame numbers).
    individual
        Whose keypoints; the first individual when omitted.
    keypoints
        Which keypoints; all when omitted.
    frame
        Frame to mark with a vertical dotted line.
    max_points
        Longer sessions are summarised in blocks of frames, each drawn with
        its lowest confidence, so that short drops stay visible.
    title
        Figure title.

    Returns
    -------
    plotly.graph_objects.Figure
        One heatmap (``z`` ``(keypoint, frame block)``), 0 red to 1 green as on
        the drawn frames; where a keypoint has no confidence (NaN) it is blank.
    """
    if "confidence" not in ds:
        raise SchemaError(f"the poses have no 'confidence' variable; they have {list(ds.data_vars)}")
    check_dims(ds["confidence"], CONFIDENCE_DIMS, name="confidence")
    individuals, names = [str(i) for i in ds["individual"].values], [str(k) for k in ds["keypoint"].values]
    individual = individuals[0] if individual is None else str(individual)
    chosen = names if keypoints is None else [str(k) for k in keypoints]
    if individual not in individuals or not set(chosen) <= set(names):
        raise SchemaError(
            f"confidence_figure: individual {individual!r} / keypoints {chosen} not all in the poses "
            f"(individuals {individuals}, keypoints {names})"
        )
    values = ds["confidence"].sel(individual=individual, keypoint=chosen).transpose("keypoint", "time").values
    values = values.astype(np.float64)
    n = values.shape[1]
    step = max(1, math.ceil(n / max(int(max_points), 1)))
    starts = np.arange(0, n, step)
    if step > 1:
        values = np.fmin.reduceat(values, starts, axis=1)  # the lowest value of each block; NaN only if all are
    fig = go.Figure(
        go.Heatmap(
            z=values,
            x=starts,
            y=chosen,
            zmin=0.0,
            zmax=1.0,
            colorscale=[[0.0, "rgb(220,20,20)"], [0.5, "rgb(240,220,20)"], [1.0, "rgb(20,200,40)"]],
            colorbar={"title": {"text": "confidence"}},
            hovertemplate="%{y}<br>frame %{x}<br>confidence %{z:.2f}<extra></extra>",
        )
    )
    if frame is not None:
        fig.add_vline(x=int(frame), line={"color": "black", "width": 1, "dash": "dot"})
    fig.update_layout(
        title=f"{title} ({individual})" + (f", lowest of every {step} frames" if step > 1 else ""),
        template="plotly_white",
        height=140 + 22 * len(chosen),
        xaxis_title="frame",
        yaxis={"autorange": "reversed"},
    )
    return fig


# --------------------------------------------------------------------------- pose models (Training page)
def training_curves_figure(log: pd.DataFrame, *, title: str = "Training curves") -> Any:
    """Loss and validation pixel error per epoch of a pose model's ``training_log.csv``.

    Parameters
    ----------
    log
        One row per epoch: ``epoch`` (else the row number from 1) and any of
        ``loss``, ``val_loss`` (left panel, log scale) and columns ending in
        ``px_error`` such as ``val_px_error`` (right panel, pixels).
    title
        Figure title.

    Returns
    -------
    plotly.graph_objects.Figure
        One line trace per column drawn, named after it, its y values the column's.
    """
    losses = [c for c in ("loss", "val_loss") if c in log.columns]
    errors = [c for c in log.columns if str(c).endswith("px_error")]
    if not losses and not errors:
        raise SchemaError(
            f"the training log has none of the columns loss, val_loss, val_px_error (it has {list(log.columns)}); "
            "pass the training_log.csv that `behaviorlab train` writes"
        )
    epoch = log["epoch"].to_numpy() if "epoch" in log.columns else np.arange(1, len(log) + 1)
    fig = make_subplots(rows=1, cols=2, subplot_titles=["loss", "validation error (pixels)"])
    for k, column in enumerate([*losses, *errors]):
        fig.add_trace(
            go.Scatter(
                x=epoch,
                y=log[column].to_numpy(dtype=np.float64),
                mode="lines+markers",
                marker={"size": 4},
                name=str(column),
                line={"color": state_color(k)},
            ),
            row=1,
            col=1 if column in losses else 2,
        )
    positive = bool(losses) and bool((log[losses].to_numpy(dtype=np.float64) > 0).all())
    fig.update_yaxes(type="log" if positive else "linear", row=1, col=1)
    fig.update_xaxes(title_text="epoch")
    fig.update_layout(title=title, template="plotly_white", hovermode="x unified")
    return fig


def evaluation_table(evaluation: Mapping[str, Any]) -> pd.DataFrame:
    """Per-keypoint error and PCK of an ``evaluation.json`` as one table.

    Parameters
    ----------
    evaluation
        What ``behaviorlab evaluate MODEL LABELS --json`` prints
        (:meth:`behaviorlab.pose.evaluate.EvaluationReport.to_dict`): keys
        ``per_keypoint`` and ``pck``, each keypoint name (and ``"all"``) to
        its statistics.

    Returns
    -------
    pandas.DataFrame
        One row per keypoint then the pooled ``all`` row: ``keypoint``,
        ``n``, ``mean``, ``median``, ``p90``, ``p99``, ``max`` (pixels; NaN
        where the JSON has null) and a ``pck@<pixels>`` column per threshold.
    """
    if not isinstance(evaluation, Mapping) or "per_keypoint" not in evaluation:
        raise SchemaError(
            "the evaluation has no 'per_keypoint' table: pass the JSON of `behaviorlab evaluate MODEL LABELS --json`"
        )
    per_keypoint = pd.DataFrame.from_dict(dict(evaluation["per_keypoint"]), orient="index")
    pck_table = pd.DataFrame.from_dict(dict(evaluation.get("pck") or {}), orient="index")
    table = per_keypoint.join(pck_table) if len(pck_table.columns) else per_keypoint
    table = table.apply(pd.to_numeric, errors="coerce")
    table.index = table.index.astype(str)
    return table.rename_axis("keypoint").reset_index()


def keypoint_error_figure(
    evaluation: pd.DataFrame | Mapping[str, Any], *, title: str = "Keypoint error on the evaluation frames"
) -> Any:
    """Mean error per keypoint as bars, with median and 90th-percentile markers; the pooled mean as a dashed line.

    Parameters
    ----------
    evaluation
        The table of :func:`evaluation_table`, or the ``evaluation.json``
        mapping it reads.
    title
        Figure title.

    Returns
    -------
    plotly.graph_objects.Figure
        A bar trace ``mean`` and marker traces ``median`` and ``p90`` (those
        in the table), one x category per keypoint (the ``all`` row is the
        horizontal line).
    """
    table = evaluation_table(evaluation) if isinstance(evaluation, Mapping) else evaluation
    if "keypoint" not in table.columns or "mean" not in table.columns:
        raise SchemaError("keypoint_error_figure needs the columns 'keypoint' and 'mean' (see evaluation_table)")
    per = table[table["keypoint"] != "all"]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=per["keypoint"], y=per["mean"], name="mean", marker={"color": state_color(0)}))
    for k, column in enumerate(("median", "p90")):
        if column in per.columns:
            fig.add_trace(
                go.Scatter(
                    x=per["keypoint"],
                    y=per[column],
                    mode="markers",
                    name=column,
                    marker={"symbol": "line-ew-open" if column == "median" else "diamond", "size": 12},
                    line={"color": state_color(k + 1)},
                )
            )
    pooled = table.loc[table["keypoint"] == "all", "mean"]
    if len(pooled) and np.isfinite(pooled.iloc[0]):
        fig.add_hline(
            y=float(pooled.iloc[0]),
            line_dash="dash",
            annotation_text=f"all keypoints: {pooled.iloc[0]:.2f} px",
            annotation_position="top left",
        )
    fig.update_layout(title=title, template="plotly_white", yaxis_title="error (pixels)", xaxis_title="keypoint")
    return fig
