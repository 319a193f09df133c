"""Behavior map: the density of the embedded frames with its watershed regions, example frames of each region."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st
from _shared import dataset, project, project_key, table, views

from behaviorlab.errors import BehaviorlabError
from behaviorlab.results.plots import budget_heatmap_figure, region_examples_figure

N_EXAMPLES = 4
#: Projects with more sessions draw the per-session region chart when asked.
SHARE_CHART_SESSIONS = 20


@st.cache_resource(show_spinner="Loading the behavior map...", max_entries=2)
def _map_model(path: str, mtime: float) -> Any:
    from behaviorlab.behavior.maps import BehaviorMap

    return BehaviorMap.load(path)


@st.cache_resource(show_spinner=False, max_entries=2)
def _density(path: str, mtime: float) -> Any:
    return _map_model(path, mtime).density_figure()


@st.cache_data(show_spinner=False, max_entries=64)
def _frame(path: str, stamp: float, session: str, frame: int, individual: str | None) -> np.ndarray:
    return project().frame_image(session, frame, individual)


st.title("Behavior map")
proj = project()
if proj.map_model is None:
    st.info(
        f"No behavior map (`map.pkl`) in `{proj.root}`. Fit one on the sessions' features with "
        "`behaviorlab map fit FEATURES... --out PROJECT/behavior_map/map.pkl`."
    )
    st.stop()
try:
    model = _map_model(str(proj.map_model), Path(proj.map_model).stat().st_mtime)
except (BehaviorlabError, OSError, ValueError) as err:
    st.warning(f"`{proj.map_model}` could not be read: {err}")
    st.stop()

st.caption(f"`{proj.map_model}`: {model.n_regions_} regions from {len(model.labels_)} frames.")
st.plotly_chart(_density(str(proj.map_model), Path(proj.map_model).stat().st_mtime), width="stretch")

st.subheader("Example frames of a region")
shares = {r: float(f) for r, f in enumerate(model.region_fraction_)}
region = st.selectbox(
    "Region",
    list(shares),
    format_func=lambda r: f"region {r} ({100 * shares[r]:.1f} % of frames)",
    key="map_region",
)
examples = model.region_examples(N_EXAMPLES)
examples = examples[examples["region"] == region].reset_index(drop=True)
stored = set(proj.sessions)
missing = sorted(set(examples["session"]) - stored)
if missing:
    st.caption(f"Sessions the map was fitted on but the store lacks (not drawn): {', '.join(missing)}")
examples = examples[examples["session"].isin(stored)]
if examples.empty:
    st.info(f"No example frame of region {region} belongs to a session of the store.")
else:
    videos = {s: proj.video(s) is not None for s in examples["session"].unique()}
    with_video = examples[examples["session"].map(videos).astype(bool)]
    if len(with_video):
        columns = st.columns(len(with_video))
        for column, ex in zip(columns, with_video.itertuples(index=False), strict=True):
            times = np.asarray(dataset(ex.session)["time"].values, dtype=np.float64)
            frame = int(np.abs(times - ex.time).argmin())
            try:
                image = _frame(*project_key(), ex.session, frame, ex.individual)
            except (BehaviorlabError, OSError, ValueError) as err:
                column.warning(f"{ex.session} frame {frame}: {err}")
                continue
            column.image(image, caption=f"{ex.session} · {ex.individual} · {ex.time:.2f} s (frame {frame})")
    without = examples[~examples.index.isin(with_video.index)]
    if len(without):
        st.caption("Sessions without a video: the poses of the example frames, aligned to the body axis.")
        # one pose Dataset per session and individual, each holding that individual only
        keyed = without.assign(session=without["session"] + " / " + without["individual"])
        pairs = zip(keyed["session"], without["session"], without["individual"], strict=True)
        poses = {key: dataset(session).sel(individual=[individual]) for key, session, individual in pairs}
        st.plotly_chart(region_examples_figure(keyed, poses), width="stretch")
    st.dataframe(examples, hide_index=True, width="stretch")

st.subheader("Share of frames per region")
n_sessions = len(proj.sessions) if proj.store is not None else 0
# a chart of every session: drawn at once for a small project, on request for a large one
if n_sessions > SHARE_CHART_SESSIONS and not st.toggle(
    f"Show the share of frames per region in each of the {n_sessions} sessions", key="map_share_chart"
):
    st.stop()
stored_stats = n_sessions > 0 and "behavior_stats" in views()
stats = table("behavior_stats") if stored_stats else None
if stats is None or not (stats["source"] == "cluster").any():
    st.info("The store has no map regions (`cluster`) per session yet: label the sessions with the map and store them.")
else:
    st.plotly_chart(
        budget_heatmap_figure(stats, source="cluster", title="Share of each session's frames per region (%)"),
        width="stretch",
    )
