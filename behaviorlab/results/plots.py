"""Plotly figures of per-frame labels: ethogram rasters, transition graphs, bout durations, region examples.

Every function returns a :class:`plotly.graph_objects.Figure` and imports
plotly when called; the dashboard and the CLI write or show them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from behaviorlab.behavior.bouts import STATE_BOUT_COLUMNS, iter_sequences, state_bouts
from behaviorlab.errors import SchemaError

__all__ = [
    "RASTER_SOURCES",
    "budget_heatmap_figure",
    "confidence_figure",
    "confusion_figure",
    "duration_histogram_figure",
    "ethogram_raster_figure",
    "evaluation_table",
    "keypoint_error_figure",
    "pooled_transition_matrix",
    "pose_timeseries_figure",
    "precision_recall_figure",
    "raster_height",
    "region_examples_figure",
    "source_raster_figure",
    "training_curves_figure",
    "transition_graph_figure",
]


def _state_names(names: Sequence[str] | Mapping[int, str] | None, state: int) -> str:
    if names is None:
        return f"state {state}"
    if isinstance(names, Mapping):
        return str(names.get(state, f"state {state}"))
    if state >= len(names):
        raise SchemaError(f"names has {len(names)} entries but the states go up to {state}")
    return str(names[state])


def _state_color(state: int) -> str:
    import plotly.colors

    palette = plotly.colors.qualitative.Plotly + plotly.colors.qualitative.Dark24
    return palette[state % len(palette)]


def ethogram_raster_figure(
    states_by_session: Mapping[str, xr.DataArray | xr.Dataset] | xr.DataArray | xr.Dataset,
    names: Sequence[str] | Mapping[int, str] | None = None,
    *,
    title: str = "Ethogram",
) -> Any:
    """Raster of states over time: one row per session and individual, one colour per state.

    Parameters
    ----------
    states_by_session
        Mapping of session name to ``state (time, individual)`` DataArray
        or to a Dataset holding it (as :meth:`EthogramHMM.label` returns);
        a single DataArray or Dataset is one session.
    names
        State names, by state number.
    title
        Figure title.

    Returns
    -------
    plotly.graph_objects.Figure
        One horizontal bar trace per state present (its bouts); the y axis
        lists every session/individual row (``"session / individual"``),
        the x axis is time in seconds (frames when no frame rate is known).
    """
    import plotly.graph_objects as go

    if isinstance(states_by_session, xr.DataArray | xr.Dataset):
        states_by_session = {str(states_by_session.attrs.get("session", "session")): states_by_session}
    rows: list[str] = []
    tables = []
    for seq in iter_sequences(states_by_session):
        label = " / ".join(str(p) for p in (seq.session, seq.individual) if p is not None) or "states"
        rows.append(label)
        table = state_bouts(seq.states, fps=seq.fps)
        table["row"] = label
        table["start_s"] = seq.start_s[table["start_frame"].to_numpy()] if len(table) else table["start_s"]
        tables.append(table)
    fig = go.Figure()
    bouts = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=[*STATE_BOUT_COLUMNS, "row"])
    seconds = len(bouts) > 0 and bool(np.isfinite(bouts["start_s"]).all() and np.isfinite(bouts["duration_s"]).all())
    start_col, duration_col = ("start_s", "duration_s") if seconds else ("start_frame", "duration_frames")
    for state in sorted(bouts["state"].unique()) if len(bouts) else []:
        sub = bouts[bouts["state"] == state]
        fig.add_trace(
            go.Bar(
                y=sub["row"],
                x=sub[duration_col],
                base=sub[start_col],
                orientation="h",
                name=_state_names(names, int(state)),
                marker={"color": _state_color(int(state)), "line": {"width": 0}},
                customdata=np.stack([sub[start_col], sub[duration_col]], axis=1),
                hovertemplate="%{y}<br>start %{customdata[0]:.4g}<br>duration %{customdata[1]:.4g}",
            )
        )
    fig.update_layout(
        title=title,
        barmode="overlay",
        bargap=0.1,
        xaxis_title="time (s)" if seconds else "frame",
        yaxis={"categoryorder": "array", "categoryarray": rows, "autorange": "reversed", "type": "category"},
        height=raster_height(len(rows), len(fig.data)),
        template="plotly_white",
        legend_title_text="state",
    )
    return fig


#: Pixels of one raster row, of one legend entry, and of the title, axis and margins.
_ROW_PX, _LEGEND_PX, _FRAME_PX = 30, 22, 160


def raster_height(n_rows: int, n_legend_entries: int, n_legend_titles: int = 0) -> int:
    """Return a raster's height in pixels: every row readable and every legend entry shown.

    A figure shorter than its legend clips the legend (a state or behavior
    then has no name), so the height is the larger of the rows' and the
    legend's needs.
    """
    rows = _FRAME_PX + _ROW_PX * max(n_rows, 1)
    legend = _FRAME_PX + _LEGEND_PX * (n_legend_entries + n_legend_titles)
    return int(max(rows, legend))


def transition_graph_figure(
    transmat: np.ndarray,
    names: Sequence[str] | Mapping[int, str] | None = None,
    *,
    min_probability: float = 0.01,
    max_labels: int | None = None,
    title: str = "State transitions",
) -> Any:
    """Transition graph: states on a circle, an arrow per transition with width proportional to its probability.

    Parameters
    ----------
    transmat
        ``(n_states, n_states)`` transition probabilities (row: from, column:
        to), e.g. :attr:`EthogramHMM.transmat_` or :func:`transition_matrix`.
    names
        State names, by state number.
    min_probability
        Transitions below this are not drawn.
    max_labels
        Print the probability of at most this many edges, the likeliest
        (default: as many as there are states); every edge keeps its hover.
        Printed on every edge of a graph with many states, the numbers
        overlap and none can be read.
    title
        Figure title.

    Returns
    -------
    plotly.graph_objects.Figure
        A node trace (hover and label give each state's self-transition
        probability, which is not drawn as an edge) and, when an edge is
        drawn, a trace of edge labels (text on the likeliest
        ``max_labels``, hover on all); one arrow annotation per drawn edge,
        its width ``8 * p / max(p)`` over the drawn edges.
    """
    import plotly.graph_objects as go

    transmat = np.asarray(transmat, dtype=np.float64)
    if transmat.ndim != 2 or transmat.shape[0] != transmat.shape[1]:
        raise SchemaError(f"transmat must be a square (n_states, n_states) matrix, got shape {transmat.shape}")
    fig = go.Figure()
    fig.update_layout(
        title=title,
        template="plotly_white",
        showlegend=False,
        xaxis={"visible": False, "range": [-1.5, 1.5]},
        yaxis={"visible": False, "range": [-1.5, 1.5], "scaleanchor": "x"},
    )
    n = transmat.shape[0]
    if n == 0:
        return fig
    angle = np.pi / 2 - 2 * np.pi * np.arange(n) / n
    x, y = np.cos(angle), np.sin(angle)
    edges = [(i, j, transmat[i, j]) for i in range(n) for j in range(n) if i != j and transmat[i, j] >= min_probability]
    top = max((p for _, _, p in edges), default=1.0)
    label_x, label_y, label_text = [], [], []
    for i, j, p in edges:
        dx, dy = x[j] - x[i], y[j] - y[i]
        length = math.hypot(dx, dy) or 1.0
        ux, uy = dx / length, dy / length
        off_x, off_y = -uy * 0.04, ux * 0.04  # i -> j and j -> i sit side by side
        shrink = 0.12
        x0, y0 = x[i] + ux * shrink + off_x, y[i] + uy * shrink + off_y
        x1, y1 = x[j] - ux * shrink + off_x, y[j] - uy * shrink + off_y
        fig.add_annotation(
            x=x1,
            y=y1,
            ax=x0,
            ay=y0,
            xref="x",
            yref="y",
            axref="x",
            ayref="y",
            text="",
            showarrow=True,
            arrowhead=2,
            arrowsize=1,
            arrowwidth=max(8.0 * p / top, 0.5),
            arrowcolor=_state_color(i),
            opacity=0.8,
        )
        label_x.append(x0 + 0.35 * (x1 - x0) + 2 * off_x)
        label_y.append(y0 + 0.35 * (y1 - y0) + 2 * off_y)
        label_text.append(f"{p:.2f}")
    shown = n if max_labels is None else int(max_labels)
    keep = set(np.argsort([-p for _, _, p in edges], kind="stable")[:shown].tolist())
    label_text = [t if k in keep else "" for k, t in enumerate(label_text)]
    if edges:
        fig.add_trace(
            go.Scatter(
                x=label_x,
                y=label_y,
                mode="text+markers",
                marker={"size": 8, "opacity": 0},  # the hover of an edge without printed text
                text=label_text,
                textfont={"size": 10},
                hovertext=[f"{_state_names(names, i)} → {_state_names(names, j)}: {p:.3f}" for i, j, p in edges],
                hoverinfo="text",
                name="transitions",
            )
        )
    stay = np.diag(transmat)
    fig.add_trace(
        go.Scatter(
            x=x,
            y=y,
            mode="markers+text",
            marker={"size": 36, "color": [_state_color(i) for i in range(n)], "line": {"width": 1, "color": "white"}},
            text=[_state_names(names, i) for i in range(n)],
            textposition=["top center" if yy >= 0 else "bottom center" for yy in y],
            hovertext=[f"{_state_names(names, i)}: stays with p = {stay[i]:.3f}" for i in range(n)],
            hoverinfo="text",
            name="states",
        )
    )
    return fig


def duration_histogram_figure(
    bouts: pd.DataFrame,
    names: Sequence[str] | Mapping[int, str] | None = None,
    *,
    title: str = "Bout durations",
) -> Any:
    """Histogram of bout durations, one panel per state.

    Parameters
    ----------
    bouts
        The table of :func:`state_bouts` (columns ``state`` and
        ``duration_frames``, optionally ``duration_s``).
    names
        State names, by state number.
    title
        Figure title.

    Returns
    -------
    plotly.graph_objects.Figure
        One histogram trace per state present, stacked in rows with a shared
        x axis in seconds (frames when any duration in seconds is missing).
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    missing = {"state", "duration_frames"} - set(bouts.columns)
    if missing:
        raise SchemaError(f"bouts lacks the column(s) {sorted(missing)}: pass the table of state_bouts")
    if len(bouts) == 0:
        fig = go.Figure()
        fig.update_layout(title=f"{title} (no bouts)", template="plotly_white")
        return fig
    seconds = "duration_s" in bouts.columns and bool(np.isfinite(bouts["duration_s"].to_numpy(float)).all())
    column = "duration_s" if seconds else "duration_frames"
    states = sorted(int(s) for s in bouts["state"].unique())
    fig = make_subplots(
        rows=len(states),
        cols=1,
        shared_xaxes=True,
        subplot_titles=[_state_names(names, s) for s in states],
        vertical_spacing=min(0.08, 0.5 / max(len(states) - 1, 1)),
    )
    for k, state in enumerate(states):
        fig.add_trace(
            go.Histogram(
                x=bouts.loc[bouts["state"] == state, column],
                name=_state_names(names, state),
                marker={"color": _state_color(state)},
                showlegend=False,
            ),
            row=k + 1,
            col=1,
        )
    fig.update_xaxes(title_text="duration (s)" if seconds else "duration (frames)", row=len(states), col=1)
    fig.update_layout(title=title, template="plotly_white", height=120 + 140 * len(states), bargap=0.05)
    return fig


def region_examples_figure(
    examples: pd.DataFrame,
    poses: Mapping[str, xr.Dataset],
    *,
    origin_keypoint: str = "centroid",
    axis_from: str | None = None,
    axis_to: str | None = None,
    max_regions: int = 12,
) -> Any:
    """Draw the egocentric poses of each region's example frames, one plotly panel per region.

    Parameters
    ----------
    examples
        Table from :meth:`BehaviorMap.region_examples`.
    poses
        Session name to pose Dataset (the sessions the map was fitted on).
    origin_keypoint, axis_from, axis_to
        Egocentric frame (see :func:`behaviorlab.trajectories.kinematics.egocentric_align`);
        the body axis defaults to the last and first keypoints.
    max_regions
        Panels drawn at most.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from behaviorlab.schema import get_skeleton
    from behaviorlab.trajectories.kinematics import egocentric_align

    regions = sorted(examples["region"].unique())[:max_regions]
    n_cols = min(4, max(len(regions), 1))
    n_rows = max(1, -(-len(regions) // n_cols))
    fig = make_subplots(rows=n_rows, cols=n_cols, subplot_titles=[f"region {r}" for r in regions])
    aligned: dict[str, xr.Dataset] = {}
    for i, region in enumerate(regions):
        r, c = divmod(i, n_cols)
        for _, ex in examples[examples["region"] == region].iterrows():
            session = ex["session"]
            if session not in poses:
                raise SchemaError(f"region_examples_figure: no poses for session {session!r}")
            if session not in aligned:
                ds = poses[session]
                keypoints = [str(k) for k in ds["keypoint"].values]
                aligned[session] = egocentric_align(
                    ds, origin_keypoint, axis_from or keypoints[-1], axis_to or keypoints[0]
                )
            ds = aligned[session]
            frame = ds["position"].sel(individual=ex["individual"]).sel(time=ex["time"], method="nearest")
            xy = frame.transpose("keypoint", "space").values
            skeleton = get_skeleton(ds)
            edges = skeleton.edges if skeleton is not None else []
            names = [str(k) for k in ds["keypoint"].values]
            xs, ys = [], []
            for a, b in edges:
                ia, ib = names.index(a), names.index(b)
                xs += [xy[ia, 0], xy[ib, 0], None]
                ys += [xy[ia, 1], xy[ib, 1], None]
            fig.add_trace(
                go.Scatter(x=xs, y=ys, mode="lines", line={"width": 1}, showlegend=False, hoverinfo="skip"),
                row=r + 1,
                col=c + 1,
            )
            fig.add_trace(
                go.Scatter(
                    x=xy[:, 0],
                    y=xy[:, 1],
                    mode="markers",
                    marker={"size": 4},
                    showlegend=False,
                    text=names,
                    hovertemplate=f"{session} {ex['individual']} t={ex['time']:.2f} s<br>%{{text}}",
                ),
                row=r + 1,
                col=c + 1,
            )
    fig.update_layout(title="Example frames per region (egocentric poses)", template="plotly_white")
    return fig


# --------------------------------------------------------------------------- dashboard pages: models and labels
#: Label variables of a session Dataset drawn by :func:`source_raster_figure`, top to bottom, and their display names.
RASTER_SOURCES: dict[str, str] = {
    "labels": "human",
    "behavior_prediction": "classifier",
    "state": "HMM",
    "cluster": "map",
}


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
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

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
                line={"color": _state_color(k)},
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
    import plotly.graph_objects as go

    table = evaluation_table(evaluation) if isinstance(evaluation, Mapping) else evaluation
    if "keypoint" not in table.columns or "mean" not in table.columns:
        raise SchemaError("keypoint_error_figure needs the columns 'keypoint' and 'mean' (see evaluation_table)")
    per = table[table["keypoint"] != "all"]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=per["keypoint"], y=per["mean"], name="mean", marker={"color": _state_color(0)}))
    for k, column in enumerate(("median", "p90")):
        if column in per.columns:
            fig.add_trace(
                go.Scatter(
                    x=per["keypoint"],
                    y=per[column],
                    mode="markers",
                    name=column,
                    marker={"symbol": "line-ew-open" if column == "median" else "diamond", "size": 12},
                    line={"color": _state_color(k + 1)},
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


def budget_heatmap_figure(
    stats: pd.DataFrame, *, source: str | None = None, title: str = "Share of time per behavior (%)"
) -> Any:
    """Heatmap of the time budget: one row per session and individual, one column per behavior.

    Parameters
    ----------
    stats
        Table of :func:`behaviorlab.results.stats.behavior_statistics` (the store's
        ``behavior_stats``): ``session``, ``individual``, ``source``,
        ``behavior``, ``time_budget_pct``; binned rows are averaged.
    source
        Keep only this label source (e.g. ``"cluster"`` for map regions).
    title
        Figure title.

    Returns
    -------
    plotly.graph_objects.Figure
        One heatmap trace: ``z`` the share of known frames in percent, rows
        ``"session / individual"``, columns the behaviors in table order.
    """
    import plotly.graph_objects as go

    needed = {"session", "individual", "behavior", "time_budget_pct"}
    if not needed <= set(stats.columns):
        raise SchemaError(f"stats lacks the column(s) {sorted(needed - set(stats.columns))}: pass behavior_stats")
    if source is not None:
        stats = stats[stats["source"] == source]
    rows = (stats["session"].astype(str) + " / " + stats["individual"].astype(str)).rename("row")
    grid = stats.assign(row=rows).pivot_table(
        index="row", columns="behavior", values="time_budget_pct", aggfunc="mean", sort=False
    )
    grid = grid[[b for b in pd.unique(stats["behavior"]) if b in grid.columns]]
    fig = go.Figure(
        go.Heatmap(
            z=grid.to_numpy(dtype=np.float64),
            x=[str(c) for c in grid.columns],
            y=[str(r) for r in grid.index],
            colorscale="Blues",
            text=np.round(grid.to_numpy(dtype=np.float64), 1),
            texttemplate="%{text}",
            colorbar={"title": "%"},
            hovertemplate="%{y}<br>%{x}: %{z:.1f} %<extra></extra>",
        )
    )
    fig.update_layout(
        title=title, template="plotly_white", yaxis={"autorange": "reversed"}, height=200 + 30 * len(grid)
    )
    return fig


def source_raster_figure(
    datasets: Mapping[str, xr.Dataset],
    sources: Sequence[str] = tuple(RASTER_SOURCES),
    *,
    individuals: Sequence[str] | None = None,
    window_s: tuple[float, float] | None = None,
    title: str = "Ethogram",
) -> Any:
    """Raster of every label source, one above the other, for each session and individual.

    Parameters
    ----------
    datasets
        Session name to its stored Dataset (the label variables of
        :data:`behaviorlab.results.stats.LABEL_SOURCES`; a source a session lacks is
        left out of its rows).
    sources
        Label variables to draw, in row order (default human labels,
        classifier, HMM states, map regions).
    individuals
        Draw only these individuals (default all).
    window_s
        ``(start, end)`` in seconds: only the bouts overlapping it are drawn,
        cut to it (for long sessions).
    title
        Figure title.

    Returns
    -------
    plotly.graph_objects.Figure
        One horizontal bar per bout (:func:`behaviorlab.results.stats.bout_table`),
        one trace per source and behavior (legend grouped by source, colour
        by the behavior's position in its source, so the human and the
        classifier labels of a behavior share a colour).  Rows are
        ``"session / individual · source"``; the hover gives the behavior,
        its start, end and duration in seconds.
    """
    import plotly.graph_objects as go

    from behaviorlab.results.stats import bout_table, frame_labels

    if window_s is not None and not window_s[1] > window_s[0]:
        raise ValueError(f"window_s must be (start, end) with end > start, got {window_s!r}")
    wanted = None if individuals is None else {str(i) for i in individuals}
    rows: list[str] = []
    tables = []
    for session, ds in datasets.items():
        present = [s for s in sources if s in ds.data_vars]
        per_source = {}
        for source in present:
            labels = frame_labels(ds, source)
            table = bout_table(labels, session=str(session))
            order = {str(b): k for k, b in enumerate(labels["behavior"].values)}
            table["color_index"] = table["behavior"].map(order).astype(np.int64)
            per_source[source] = (labels, table)
        if not per_source:
            continue
        names = [str(i) for i in next(iter(per_source.values()))[0]["individual"].values]
        for individual in names:
            if wanted is not None and individual not in wanted:
                continue
            for source, (_, table) in per_source.items():
                row = f"{session} / {individual} · {RASTER_SOURCES.get(source, source)}"
                rows.append(row)
                tables.append(table[table["individual"] == individual].assign(row=row))
    columns = ["source", "behavior", "start_s", "duration_s", "color_index", "row"]
    bouts = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=columns)
    bouts["end_s"] = bouts["start_s"] + bouts["duration_s"]
    if window_s is not None and len(bouts):
        lo, hi = float(window_s[0]), float(window_s[1])
        bouts = bouts[(bouts["end_s"] > lo) & (bouts["start_s"] < hi)].copy()
        bouts["shown_start"] = bouts["start_s"].clip(lower=lo)
        bouts["shown_length"] = bouts["end_s"].clip(upper=hi) - bouts["shown_start"]
    else:
        bouts["shown_start"], bouts["shown_length"] = bouts["start_s"], bouts["duration_s"]
    fig = go.Figure()
    for source in sources:
        sub_source = bouts[bouts["source"] == source]
        for behavior, sub in sub_source.groupby("behavior", sort=False):
            fig.add_trace(
                go.Bar(
                    y=sub["row"],
                    x=sub["shown_length"],
                    base=sub["shown_start"],
                    orientation="h",
                    name=str(behavior),
                    legendgroup=source,
                    legendgrouptitle_text=RASTER_SOURCES.get(source, source),
                    marker={"color": _state_color(int(sub["color_index"].iloc[0])), "line": {"width": 0}},
                    customdata=np.stack([sub["start_s"], sub["end_s"], sub["duration_s"]], axis=1).astype(np.float64),
                    hovertemplate=(
                        f"{behavior}<br>%{{y}}<br>%{{customdata[0]:.2f}} – %{{customdata[1]:.2f}} s "
                        "(%{customdata[2]:.2f} s)<extra></extra>"
                    ),
                )
            )
    fig.update_layout(
        title=title,
        barmode="overlay",
        bargap=0.15,
        xaxis_title="time (s)",
        yaxis={"categoryorder": "array", "categoryarray": rows, "autorange": "reversed", "type": "category"},
        height=max(420, raster_height(len(rows), len(fig.data), len({t.legendgroup for t in fig.data}))),
        template="plotly_white",
        legend={"groupclick": "toggleitem"},
    )
    if window_s is not None:
        fig.update_xaxes(range=[float(window_s[0]), float(window_s[1])])
    return fig


def pooled_transition_matrix(
    transitions: pd.DataFrame, source: str, *, sessions: Sequence[str] | None = None
) -> pd.DataFrame:
    """Bout-to-bout transition probabilities of one label source, pooled over sessions, individuals and bins.

    Parameters
    ----------
    transitions
        Table of :func:`behaviorlab.results.stats.transition_table` (the store's
        ``transitions``).
    source
        The label source (``state``, ``cluster``, ``labels``, ``behavior_prediction``).
    sessions
        Pool only these sessions (default all).

    Returns
    -------
    pandas.DataFrame
        Square table, rows ``from_behavior``, columns ``to_behavior``
        (behaviors in table order): summed counts divided by each row's total
        (0 for a behavior never left); what :func:`transition_graph_figure`
        draws.
    """
    needed = {"source", "from_behavior", "to_behavior", "count"}
    if not needed <= set(transitions.columns):
        raise SchemaError(f"transitions lacks the column(s) {sorted(needed - set(transitions.columns))}")
    rows = transitions[transitions["source"] == source]
    if sessions is not None:
        rows = rows[rows["session"].isin([str(s) for s in sessions])]
    names = list(pd.unique(pd.concat([rows["from_behavior"], rows["to_behavior"]], ignore_index=True)))
    counts = rows.pivot_table(index="from_behavior", columns="to_behavior", values="count", aggfunc="sum")
    counts = counts.reindex(index=names, columns=names).fillna(0.0).astype(np.float64)
    totals = counts.sum(axis=1).to_numpy()[:, None]
    values = np.divide(counts.to_numpy(), totals, out=np.zeros(counts.shape), where=totals > 0)
    return pd.DataFrame(
        values, index=pd.Index(names, name="from_behavior"), columns=pd.Index(names, name="to_behavior")
    )


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
    import plotly.graph_objects as go

    from behaviorlab.results.scoring import (
        add_counts,
        average_precision,
        operating_points,
        precision_recall_curves,
        probability_counts,
    )

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
        colour = _state_color(k)
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
    import plotly.graph_objects as go

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
    import plotly.colors
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from behaviorlab.schema import POSITION_DIMS, check_dims

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
    import plotly.graph_objects as go

    from behaviorlab.schema import CONFIDENCE_DIMS, check_dims

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
