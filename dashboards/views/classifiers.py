"""Classifiers: how the stored classifier decisions agree with the human labels, per behavior and per rater."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st
from _shared import dataset, need_store

from behaviorlab.errors import BehaviorlabError
from behaviorlab.plots import confusion_figure, pool_sessions, precision_recall_figure, top_decision
from behaviorlab.scoring import classifier_vs_raters, confusion_matrix, frame_scores


@st.cache_resource(show_spinner=False, max_entries=2)
def _classifier(path: str, mtime: float) -> Any:
    from behaviorlab.classify import BehaviorClassifier

    return BehaviorClassifier.load(path)


st.title("Classifiers")
proj = need_store()
overview = proj.overview()
scored = overview.loc[overview["behavior_prediction"] & overview["labels"], "session"].tolist()
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
datasets = {s: dataset(s) for s in sessions}
thresholds: dict[str, float] = {}
if proj.classifier_model is not None:
    try:
        model = _classifier(str(proj.classifier_model), Path(proj.classifier_model).stat().st_mtime)
        thresholds = {str(k): float(v) for k, v in model.thresholds_.items()}
    except (BehaviorlabError, OSError, ValueError) as err:
        st.warning(f"`{proj.classifier_model}` could not be read ({err}): no thresholds marked.")

first = next(iter(datasets.values()))
behaviors = [str(b) for b in first["labels"]["behavior"].values]
for ds in datasets.values():
    have = {str(b) for b in ds["behavior_prediction"]["behavior"].values} & {
        str(b) for b in ds["labels"]["behavior"].values
    }
    behaviors = [b for b in behaviors if b in have]
if not behaviors:
    st.info("The classifier decisions and the human labels share no behavior name.")
    st.stop()

raters = "rater" in first["labels"].dims
pred = pool_sessions({s: ds["behavior_prediction"].sel(behavior=behaviors) for s, ds in datasets.items()})
truth_by_session = {s: ds["labels"].sel(behavior=behaviors) for s, ds in datasets.items()}
if raters:
    from behaviorlab.io.annotations import consensus

    n_raters = first["labels"].sizes["rater"]
    truth_by_session = {s: consensus(lab, n_raters // 2 + 1) for s, lab in truth_by_session.items()}
truth = pool_sessions(truth_by_session)
st.caption(
    f"{pred.sizes['time']} frames of {len(sessions)} session(s), every individual's counted; "
    + ("scored against the raters' majority." if raters else "scored against the stored annotation.")
)

st.subheader("Per-behavior scores (frames)")
scores = frame_scores(pred, truth)
if thresholds:
    scores.insert(1, "threshold", scores["behavior"].map(thresholds))
st.dataframe(
    scores,
    hide_index=True,
    width="stretch",
    column_config={c: st.column_config.NumberColumn(format="%.3f") for c in ("precision", "recall", "f1")},
)

with_probability = all("behavior_probability" in ds for ds in datasets.values())
left, right = st.columns(2)
with left:
    if with_probability:
        probability = {s: ds["behavior_probability"].sel(behavior=behaviors) for s, ds in datasets.items()}
        st.plotly_chart(precision_recall_figure(probability, truth_by_session, thresholds or None), width="stretch")
        if thresholds:
            st.caption("Dots: the classifier's threshold on the probability (before bout cleaning).")
    else:
        st.info("No stored probabilities (`behavior_probability`): no precision-recall curves.")
with right:
    decisions = {
        s: top_decision(ds["behavior_prediction"].sel(behavior=behaviors), ds["behavior_probability"])
        if with_probability
        else ds["behavior_prediction"].sel(behavior=behaviors)
        for s, ds in datasets.items()
    }
    try:
        table = confusion_matrix(pool_sessions(decisions), truth)
    except BehaviorlabError as err:
        st.info(f"No confusion matrix: {err}")
    else:
        st.plotly_chart(confusion_figure(table, title="Confusion (frames, rows sum to 1)"), width="stretch")
        if with_probability:
            st.caption("Where the classifier decides several behaviors on a frame, the most probable one counts.")

st.subheader("Agreement with each rater")
if raters:
    by_rater = pool_sessions({s: ds["labels"].sel(behavior=behaviors) for s, ds in datasets.items()})
    st.dataframe(classifier_vs_raters(pred, by_rater.astype(bool)), hide_index=True, width="stretch")
    st.caption("`rater_f1_mean`: how well the raters agree with each other, the human ceiling.")
else:
    st.info(
        "The stored annotation has a single rater, so there is no per-rater agreement to show. Annotations from "
        "several raters (a `rater` column) give the classifier's F1 against each and the raters' own agreement."
    )
