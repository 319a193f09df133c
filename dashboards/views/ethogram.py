"""Ethogram: every label source of each session and individual, one above the other, and the transition graphs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st
from _shared import dataset, need_store, overview, table, views

from behaviorlab.results.plots import (
    RASTER_SOURCES,
    source_raster_figure,
    transition_graph_figure,
)
from behaviorlab.results.stats import pooled_transition_matrix

#: Sessions longer than this (seconds) are drawn a window at a time (every bout is a bar a browser draws).
FULL_VIEW_S = 120.0
WINDOW_S = 120.0
#: Sessions drawn when the page opens (more can be chosen in the sidebar).
DEFAULT_SESSIONS = 2


@st.cache_resource(show_spinner=False, max_entries=4)
def _model(path: str, mtime: float) -> Any:
    """The fitted Gaussian HMM or AR-HMM in ``path`` (reloaded when the file changes)."""
    from behaviorlab.behavior.arhmm import ARHMM
    from behaviorlab.behavior.ethogram import EthogramHMM

    return (ARHMM if Path(path).name == "arhmm.pkl" else EthogramHMM).load(path)


def _frame_transitions(model: Any, label: str, title: str) -> None:
    """Draw a fitted model's frame-to-frame transition graph, its states named ``label_k``."""
    st.plotly_chart(
        transition_graph_figure(model.transmat_, [f"{label}_{k}" for k in range(model.n_states_)], title=title),
        width="stretch",
    )


st.title("Ethogram")
proj = need_store()
sessions_table = overview()
sources = [s for s in RASTER_SOURCES if s in sessions_table.columns and sessions_table[s].any()]
labeled = sessions_table.loc[sessions_table[sources].any(axis=1), "session"].tolist() if sources else []
if not labeled:
    st.info(
        "No session in the store has per-frame labels yet (human annotations, classifier decisions, HMM states or "
        "map regions): run `behaviorlab demo` for an example, or store labeled sessions with `behaviorlab store add`."
    )
    st.stop()

sessions = st.sidebar.multiselect("Sessions", labeled, default=labeled[:DEFAULT_SESSIONS], key="ethogram_sessions")
if not sessions:
    st.info("Choose one or more sessions in the sidebar.")
    st.stop()
have = sessions_table.set_index("session")
# only the label variables each session has: a fifth of the Dataset (the poses are not read)
datasets = {s: dataset(s, tuple(v for v in sources if bool(have.loc[s, v]))) for s in sessions}
individuals = list(dict.fromkeys(str(i) for ds in datasets.values() for i in ds["individual"].values))
chosen_individuals = st.sidebar.multiselect("Individuals", individuals, default=individuals, key="ethogram_individuals")
chosen_sources = st.sidebar.multiselect(
    "Label sources",
    sources,
    default=sources,
    format_func=lambda s: f"{RASTER_SOURCES[s]} ({s})",
    key="ethogram_sources",
)
if not chosen_individuals or not chosen_sources:
    st.info("Choose at least one individual and one label source in the sidebar.")
    st.stop()

duration = max(ds.sizes["time"] / float(ds.attrs.get("fps") or 1.0) for ds in datasets.values())
window = None
if duration > FULL_VIEW_S:
    start, end = st.slider(
        "Time window (s)",
        min_value=0.0,
        max_value=float(round(duration, 1)),
        value=(0.0, WINDOW_S),
        step=1.0,
        key="ethogram_window",
    )
    window = (start, end) if end > start else None
    st.caption(f"Sessions up to {duration / 60:.1f} min long: only the chosen window is drawn.")

st.plotly_chart(
    source_raster_figure(datasets, chosen_sources, individuals=chosen_individuals, window_s=window),
    width="stretch",
)

st.subheader("Transitions")
left, right = st.columns(2)
with left:
    if proj.hmm_model is None:
        st.info("No fitted HMM (`hmm.pkl`) in the project: `behaviorlab ethogram fit` makes one.")
    else:
        hmm = _model(str(proj.hmm_model), Path(proj.hmm_model).stat().st_mtime)
        _frame_transitions(hmm, "state", "HMM transition probabilities (frame to frame)")
with right:
    if "transitions" not in views():
        st.info("The store has no `transitions` table.")
    else:
        source = st.selectbox(
            "Transitions between bouts of",
            chosen_sources,
            format_func=lambda s: f"{RASTER_SOURCES[s]} ({s})",
            key="ethogram_transition_source",
        )
        matrix = pooled_transition_matrix(table("transitions"), source, sessions=sessions)
        if matrix.empty:
            st.info(f"No `{source}` transitions stored for these sessions.")
        else:
            st.plotly_chart(
                transition_graph_figure(
                    matrix.to_numpy(), list(matrix.index), title=f"Bout to bout, {RASTER_SOURCES[source]}"
                ),
                width="stretch",
            )

st.subheader("AR-HMM syllables")
if proj.arhmm_model is None:
    st.info("No fitted AR-HMM (`arhmm.pkl`) in the project: `behaviorlab ethogram fit --model arhmm` makes one.")
else:
    arhmm = _model(str(proj.arhmm_model), Path(proj.arhmm_model).stat().st_mtime)
    short = arhmm.short_syllable_share_
    st.markdown(
        f"{arhmm.n_states_} syllables from {arhmm.n_fit_frames_:,} frames; median syllable "
        f"{arhmm.median_duration_s_:.2f} s (stickiness {arhmm.kappa_:.3g}, aimed at {arhmm.target_duration_s} s); "
        f"{100 * short:.1f} % of syllables are shorter than 3 frames"
        + (" — **more than 5 %: jitter may be starting syllables; clean the poses first**" if short > 0.05 else "")
        + ". Syllables are numbered by usage; an unsupervised model: check what each one is in the videos before "
        "naming it."
    )
    _frame_transitions(arhmm, "syllable", "AR-HMM transition probabilities (frame to frame)")
