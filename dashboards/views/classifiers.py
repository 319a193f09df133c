"""Classifiers: how the stored classifier decisions agree with the human labels, per behavior and per rater.

The store keeps every session's frame counts (the ``classifier_*`` tables of
:func:`behaviorlab.results.scoring.counts_tables`), so the scores of hundreds of
long sessions pool from a few small tables; sessions stored before those
tables existed are counted from their Dataset (cached per session).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st
from _shared import cached_project, need_store, overview, project_key, views

from behaviorlab.errors import BehaviorlabError, FileFormatError
from behaviorlab.results.classifier_figures import confusion_figure, precision_recall_figure
from behaviorlab.results.scoring import (
    confusion_table,
    counts_from_tables,
    counts_tables,
    dataset_counts,
    rater_table,
    scores_table,
)

SCORED = ("labels", "behavior_prediction", "behavior_probability")


@st.cache_resource(show_spinner=False, max_entries=2)
def _classifier(path: str, mtime: float) -> Any:
    from behaviorlab.behavior.classify import BehaviorClassifier

    return BehaviorClassifier.load(path)


@st.cache_data(show_spinner=False, max_entries=100_000)
def _session_tables(path: str, stamp: float, session: str) -> dict[str, pd.DataFrame]:
    """The count tables of a session stored without them, from only the variables they need."""
    proj = cached_project(path, stamp)
    try:
        data = proj.dataset(session, list(SCORED))
    except FileFormatError:  # stored without probabilities
        data = proj.dataset(session, list(SCORED[:2]))
    return counts_tables(dataset_counts(data), session=session)


@st.cache_data(show_spinner=False, max_entries=16)
def _stored_counts(path: str, stamp: float, sessions: tuple[str, ...]) -> dict[str, pd.DataFrame]:
    """The stored count tables of ``sessions``, summed over them in the store's DuckDB."""
    return cached_project(path, stamp).store.classifier_counts(list(sessions))


@st.cache_data(show_spinner=False, max_entries=16)
def _confusion_sessions(path: str, stamp: float) -> list[str]:
    """The sessions with stored confusion rows (labels with one behavior per frame)."""
    table = cached_project(path, stamp).store.query("SELECT DISTINCT session FROM classifier_confusion")
    return [str(s) for s in table["session"]]


def _count_tables(sessions: list[str]) -> dict[str, pd.DataFrame]:
    """Count tables of ``sessions``: summed from the store, plus the rows of sessions stored without them."""
    tables = _stored_counts(*project_key(), tuple(sessions)) if "classifier_frames" in views() else {}
    stored = set(tables["classifier_frames"]["session"]) if tables else set()
    parts = {name: [t] for name, t in tables.items() if not t.empty}
    for session in (s for s in sessions if s not in stored):
        try:
            rows = _session_tables(*project_key(), session)
        except BehaviorlabError as err:
            st.warning(f"Session {session} is not scored: {err}")
            continue
        rows["classifier_frames"] = rows["classifier_frames"].assign(with_probability="classifier_pr" in rows)
        for name, table in rows.items():
            parts.setdefault(name, []).append(table)
    return {name: pd.concat(p, ignore_index=True) for name, p in parts.items()}


st.title("Classifiers")
proj = need_store()
sessions_table = overview()
scored = sessions_table.loc[sessions_table["behavior_prediction"] & sessions_table["labels"], "session"].tolist()
if not scored:
    st.info(
        "No session in the store has both classifier decisions (`behavior_prediction`) and human labels (`labels`): "
        "store the held-out predictions of `behaviorlab classify train` beside the annotations of the same sessions "
        "to score them here."
    )
    st.stop()

sessions = st.sidebar.multiselect("Sessions", scored, default=scored, key="classifier_sessions")
if not sessions:
    st.info("Choose one or more sessions in the sidebar.")
    st.stop()
thresholds: dict[str, float] = {}
if proj.classifier_model is not None:
    try:
        model = _classifier(str(proj.classifier_model), Path(proj.classifier_model).stat().st_mtime)
        thresholds = {str(k): float(v) for k, v in model.thresholds_.items()}
    except (BehaviorlabError, OSError, ValueError) as err:
        st.warning(f"`{proj.classifier_model}` could not be read ({err}): no thresholds marked.")

tables = _count_tables(sessions)
frames = tables.get("classifier_frames", pd.DataFrame(columns=["session", "behavior"]))
if frames.empty:
    st.stop()
per_session = frames.groupby("session", sort=False)["behavior"].agg(lambda b: set(b.astype(str)))
behaviors = [b for b in dict.fromkeys(frames["behavior"].astype(str)) if all(b in have for have in per_session)]
if not behaviors:
    st.info("The sessions share no behavior that both the classifier and the human labels name.")
    st.stop()
counts = counts_from_tables(tables, behaviors=behaviors)
with_probability = bool(frames["with_probability"].all())
raters = "rater_frames" in counts
st.caption(
    f"{counts.attrs['n_frames']} frames of {len(per_session)} session(s), every individual's counted; "
    + ("scored against the raters' majority." if raters else "scored against the stored annotation.")
)

st.subheader("Per-behavior scores (frames)")
scores = scores_table(counts)
if thresholds:
    scores.insert(1, "threshold", scores["behavior"].map(thresholds))
st.dataframe(
    scores,
    hide_index=True,
    width="stretch",
    column_config={c: st.column_config.NumberColumn(format="%.3f") for c in ("precision", "recall", "f1")},
)

left, right = st.columns(2)
with left:
    if with_probability:
        st.plotly_chart(precision_recall_figure(counts, thresholds=thresholds or None), width="stretch")
        st.caption(
            "Thresholds on a grid of 0.001"
            + ("; dots: the classifier's thresholds on the probability (before bout cleaning)." if thresholds else ".")
        )
    else:
        st.info("Not every session has stored probabilities (`behavior_probability`): no precision-recall curves.")
with right:
    try:
        table = confusion_table(counts)
    except BehaviorlabError as err:
        st.info(f"No confusion matrix: {err}")
    else:
        st.plotly_chart(confusion_figure(table, title="Confusion (frames, rows sum to 1)"), width="stretch")
        notes = []
        if "classifier_confusion" in views():
            have = set(_confusion_sessions(*project_key()))
            left_out = [s for s in sessions if s not in have]
            if left_out:
                notes.append(
                    f"{int(table.to_numpy().sum())} frames of {len(sessions) - len(left_out)} of the "
                    f"{len(sessions)} sessions: {', '.join(left_out)} left out (their human labels mark several "
                    "behaviors on one frame, which a confusion matrix cannot count)."
                )
        if with_probability:
            notes.append("Where the classifier decides several behaviors on a frame, the most probable one counts.")
        if notes:
            st.caption(" ".join(notes))

st.subheader("Agreement with each rater")
if raters:
    st.dataframe(rater_table(counts), hide_index=True, width="stretch")
    st.caption("`rater_f1_mean`: how well the raters agree with each other, the human ceiling.")
else:
    st.info(
        "The stored annotation has a single rater, so there is no per-rater agreement to show. Annotations from "
        "several raters (a `rater` column) give the classifier's F1 against each and the raters' own agreement."
    )
