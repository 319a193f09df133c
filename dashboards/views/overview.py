"""Overview: the project's sessions, their metadata and which stages have results."""

from __future__ import annotations

import streamlit as st
from _shared import overview, project

st.title("Overview")
proj = project()
st.caption(f"Project folder: `{proj.root}`")
if proj.store is None:
    st.info(
        "This folder has no results store yet. `behaviorlab demo --out DIR` builds an example project; "
        "`behaviorlab store create DIR/results` and `behaviorlab store add` start your own."
    )
    st.stop()
sessions_table = overview()
if sessions_table.empty:
    st.info(f"The results store `{proj.store.path}` has no sessions yet: add some with `behaviorlab store add`.")
else:
    c1, c2, c3 = st.columns(3)
    c1.metric("Sessions", len(sessions_table))
    c2.metric("Hours of recording", round(float(sessions_table["duration_s"].fillna(0).sum()) / 3600, 2))
    c3.metric("Label sources", int(sessions_table[["labels", "behavior_prediction", "state", "cluster"]].any().sum()))
    st.dataframe(sessions_table, hide_index=True, width="stretch")
    missing = sessions_table.loc[~sessions_table["video"], "session"].tolist()
    if missing:
        st.warning(
            f"No video file for {len(missing)} session(s) ({', '.join(missing[:5])}): the Poses page cannot draw them."
        )
st.subheader("Models and training frames")
parts = {
    "pose models": [str(p) for p in proj.pose_models],
    "training frames": [str(p) for p in proj.labels_files],
    "behavior map": [str(proj.map_model)] if proj.map_model else [],
    "HMM": [str(proj.hmm_model)] if proj.hmm_model else [],
    "AR-HMM": [str(proj.arhmm_model)] if proj.arhmm_model else [],
    "classifier": [str(proj.classifier_model)] if proj.classifier_model else [],
}
st.dataframe([{"part": k, "files": ", ".join(v) or "none"} for k, v in parts.items()], hide_index=True, width="stretch")
