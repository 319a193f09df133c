"""Plotly figures of per-frame labels: ethogram rasters, transition graphs, bout durations, region examples.

Also the time-budget heatmap and the raster of every label source of the
dashboard's Behavior map and Ethogram pages, and the palette
(:func:`state_color`) every figure module shares.  Figures of poses and
pose models are in :mod:`behaviorlab.results.pose_figures`, those of a
classifier's quality in :mod:`behaviorlab.results.classifier_figures`.

Every function returns a :class:`plotly.graph_objects.Figure` and imports
plotly when called; the dashboard and the CLI write or show them.
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

from behaviorlab.behavior.bouts import STATE_BOUT_COLUMNS, iter_sequences, state_bouts
from behaviorlab.errors import SchemaError
from behaviorlab.results.stats import bout_table, frame_labels
from behaviorlab.schema import get_skeleton, guess_body_axis
from behaviorlab.trajectories.kinematics import egocentric_align

__all__ = [
    "RASTER_SOURCES",
    "budget_heatmap_figure",
    "duration_histogram_figure",
    "ethogram_raster_figure",
    "raster_height",
    "region_examples_figure",
    "source_raster_figure",
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


def state_color(state: int) -> str:
    """Return the colour of number ``state`` (a state, behavior or line): plotly's qualitative palettes in turn."""
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
                marker={"color": state_color(int(state)), "line": {"width": 0}},
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
            arrowcolor=state_color(i),
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
            marker={"size": 36, "color": [state_color(i) for i in range(n)], "line": {"width": 1, "color": "white"}},
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
                marker={"color": state_color(state)},
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
                tail, head = guess_body_axis([str(k) for k in ds["keypoint"].values])
                aligned[session] = egocentric_align(ds, origin_keypoint, axis_from or tail, axis_to or head)
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


# --------------------------------------------------------------------------- dashboard pages: labels of every source
#: Label variables of a session Dataset drawn by :func:`source_raster_figure`, top to bottom, and their display names.
RASTER_SOURCES: dict[str, str] = {
    "labels": "human",
    "behavior_prediction": "classifier",
    "state": "HMM",
    "syllable": "AR-HMM",
    "cluster": "map",
}


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
                    marker={"color": state_color(int(sub["color_index"].iloc[0])), "line": {"width": 0}},
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
