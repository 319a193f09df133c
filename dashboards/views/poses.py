"""Poses: a video frame with keypoints and skeleton, keypoint time series, confidence and the cleaning report."""

from __future__ import annotations

from typing import Any

import streamlit as st
from _shared import dataset, need_store, pick_session

from behaviorlab.labeling.edit import pose_quality_table, processing_log_table
from behaviorlab.results.pose_figures import confidence_figure, pose_timeseries_figure


def _version(proj: Any, session: str) -> str:
    """The stored version of a session: changes when it is re-run, so cached frames are redrawn."""
    return str(proj.store.session_info(session).get("version", ""))


@st.cache_data(show_spinner=False, max_entries=64)
def _frame_image(_proj: Any, root: str, session: str, version: str, frame: int) -> Any:
    return _proj.frame_image(session, frame)


@st.cache_data(show_spinner=False, max_entries=32)
def _low_confidence(_proj: Any, root: str, session: str, version: str, threshold: float) -> Any:
    return _proj.low_confidence_frames(session, threshold=threshold, n=50)


def _set_frame(value: int) -> None:
    st.session_state["poses_frame_number"] = value
    st.session_state["poses_frame_slider"] = value


def _go_to_low_confidence() -> None:
    choice = st.session_state.get("poses_low_pick")
    if choice is not None:
        _set_frame(int(choice))


st.title("Poses")
proj = need_store()
session = pick_session(key="poses_session", need="poses")
ds = dataset(session)
if "position" not in ds:
    st.info(f"Session `{session}` has no stored poses.")
    st.stop()
version = _version(proj, session)
n_frames = int(ds.sizes["time"])
fps = ds.attrs.get("fps")
individuals = [str(i) for i in ds["individual"].values]
keypoints = [str(k) for k in ds["keypoint"].values]
individual = st.sidebar.selectbox("Individual", individuals, key="poses_individual")
threshold = st.sidebar.slider("Low-confidence threshold", 0.0, 1.0, 0.5, 0.05, key="poses_threshold")

# the frame: a number box and a slider kept in step (both widgets write the other's value)
for key in ("poses_frame_number", "poses_frame_slider"):
    if st.session_state.get(key, 0) > n_frames - 1:  # a shorter session was picked
        st.session_state[key] = n_frames - 1
left, right = st.columns([3, 2])
with left:
    c1, c2 = st.columns([1, 3])
    frame = c1.number_input(
        "Frame",
        min_value=0,
        max_value=n_frames - 1,
        step=1,
        key="poses_frame_number",
        on_change=lambda: _set_frame(st.session_state["poses_frame_number"]),
    )
    c2.slider(
        "Frame",
        0,
        n_frames - 1,
        key="poses_frame_slider",
        label_visibility="hidden",
        on_change=lambda: _set_frame(st.session_state["poses_frame_slider"]),
    )
    frame = int(frame)
    when = f", t = {frame / float(fps):.2f} s" if fps else ""
    caption = f"Frame {frame} of {n_frames}{when}"
    st.caption(caption)
    if proj.video(session) is None:
        st.info(
            f"The video of session `{session}` is not available (no file stored with it, or it was moved): "
            "only the keypoint time series are shown."
        )
    else:
        image = _frame_image(proj, str(proj.root), session, version, frame)
        st.image(image, caption="Keypoints coloured by confidence: red 0, yellow 0.5, green 1", width="stretch")

with right:
    st.subheader("Low-confidence frames")
    low = _low_confidence(proj, str(proj.root), session, version, float(threshold))
    if low.empty:
        st.success(f"No frame has a mean keypoint confidence below {threshold:g}.")
    else:
        st.caption(f"The {len(low)} frames with the lowest mean confidence below {threshold:g}, worst first.")
        st.dataframe(low, hide_index=True, width="stretch", height=240)
        labels = {
            int(r.frame): f"frame {int(r.frame)} · {r.individual} · {r.mean_confidence:.2f}"
            for r in low.itertuples(index=False)
        }
        st.selectbox("Low-confidence frame", list(labels), format_func=labels.get, key="poses_low_pick")
        st.button("Go to frame", key="poses_goto", on_click=_go_to_low_confidence)

st.subheader("Keypoints over time")
chosen = st.multiselect("Keypoints", keypoints, default=keypoints[: min(3, len(keypoints))], key="poses_keypoints")
if chosen:
    st.plotly_chart(pose_timeseries_figure(ds, individual, chosen, frame=frame), key="poses_timeseries")
else:
    st.info("Choose keypoints to plot their positions.")
if "confidence" in ds:
    st.plotly_chart(confidence_figure(ds, individual, frame=frame), key="poses_confidence")
else:
    st.info("These poses carry no confidence values.")

st.subheader("Cleaning report")
st.caption(
    "The stored poses are the cleaned ones: a missing share counts frames whose position was dropped "
    f"(e.g. masked for low confidence); the low-confidence share counts kept frames below {threshold:g}."
)
st.dataframe(pose_quality_table(ds, threshold=float(threshold)), hide_index=True, width="stretch")
steps = processing_log_table(ds)
source = ", ".join(f"{k}: `{ds.attrs[k]}`" for k in ("source_software", "model", "source_file") if ds.attrs.get(k))
if source:
    st.caption(f"Poses from {source}.")
if steps.empty:
    st.caption("No processing steps were recorded with these poses.")
else:
    st.dataframe(steps, hide_index=True, width="stretch")
