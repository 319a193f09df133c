"""Label: place or correct keypoints on the frames of a labels file, the file ``behaviorlab train`` reads.

Frames that still need labels (from ``behaviorlab select-frames`` or
``behaviorlab refine``) come first.  Click on the image to place the chosen
keypoint of the chosen individual (or type x and y and press Set).  **Every
change is saved to the labels file at once, atomically** (there is no
separate Save step); Undo restores the previous value and saves again.  The
session keeps only the undo history; the file is the truth.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import streamlit as st
from _shared import project
from streamlit_image_coordinates import streamlit_image_coordinates

from behaviorlab.errors import BehaviorlabError
from behaviorlab.io.labeled_frames import load_labeled_frames
from behaviorlab.labeling import edit as label_edit
from behaviorlab.project.dashboard_access import writable_labels_file

ss = st.session_state


def _file_stamp(path: Path) -> tuple[int, int, int]:
    """Changes whenever the file is replaced (each save writes a new file)."""
    info = path.stat()
    return info.st_mtime_ns, info.st_size, info.st_ino


@st.cache_resource(show_spinner=False, max_entries=4)
def _load(path: str, stamp: tuple[int, int, int]) -> Any:
    return load_labeled_frames(path)  # immutable, so one shared object is safe


def _frames() -> Any:
    path = _writable()
    return _load(str(path), _file_stamp(path))


def _history() -> label_edit.EditHistory:
    return ss.setdefault("label_histories", {}).get(ss["label_file"], label_edit.EditHistory())


def _first_keypoint(frames: Any, index: int, individual: str) -> str:
    return label_edit.next_unlabeled_keypoint(frames, index, individual) or frames.skeleton.keypoints[0]


def _writable() -> Path:
    """The chosen labels file, once it is known to be one of the project's own (nothing else is ever written)."""
    proj = project()
    return writable_labels_file(proj.root, [str(p) for p in proj.labels_files], ss["label_file"])


def _place(xy: Any, how: str) -> None:
    """Set the chosen keypoint to ``xy`` (None: not visible), save the file and move to the next keypoint."""
    index, individual, keypoint = int(ss["label_frame"]), ss["label_individual"], ss["label_keypoint"]
    try:
        path, frames = _writable(), _frames()
        changed, history = _history().apply(frames, index, individual, keypoint, xy)
        label_edit.save_labels(changed, path)
    except (BehaviorlabError, OSError) as err:
        ss["label_message"] = ("error", f"Nothing was written: {err}")
        return
    ss["label_histories"][ss["label_file"]] = history
    names = frames.skeleton.keypoints
    following = names[(names.index(keypoint) + 1) % len(names)]
    ss["label_keypoint"] = label_edit.next_unlabeled_keypoint(changed, index, individual, after=keypoint) or following
    x, y = label_edit.get_keypoint(changed, index, individual, keypoint)
    value = "not visible" if math.isnan(x) else f"({x:.2f}, {y:.2f})"
    ss["label_message"] = (
        "success",
        f"Saved {keypoint} of {individual} on frame {index} = {value} ({how}) to {path.name}",
    )


def _on_click() -> None:
    value = ss.get("label_image")
    if not value or "x" not in value:
        return
    try:
        frames = _frames()
    except (BehaviorlabError, OSError) as err:
        ss["label_message"] = ("error", f"Nothing was written: {err}")
        return
    height, width = frames.images[int(ss["label_frame"])].shape[:2]
    xy = label_edit.click_to_pixel(value["x"], value["y"], (value["width"], value["height"]), (width, height))
    _place(xy, "click")


def _on_set() -> None:
    _place((ss["label_x"], ss["label_y"]), "typed")


def _on_hide() -> None:
    _place(None, "marked not visible")


def _on_undo() -> None:
    try:
        path, frames = _writable(), _frames()
        restored, history, edit = _history().undo(frames)
        if edit is None:
            ss["label_message"] = ("info", "Nothing to undo.")
            return
        label_edit.save_labels(restored, path)
    except (BehaviorlabError, OSError) as err:
        ss["label_message"] = ("error", f"Undo failed: {err}")
        return
    ss["label_histories"][ss["label_file"]] = history
    ss["label_frame"] = restored.sources.index(edit.source)
    ss["label_individual"], ss["label_keypoint"] = edit.individual, edit.keypoint
    ss["label_message"] = (
        "success",
        f"Undone: {edit.keypoint} of {edit.individual} on frame {ss['label_frame']} restored, written to {path.name}",
    )


def _on_skip() -> None:
    frames = _frames()
    ss["label_frame"] = label_edit.next_frame(frames, int(ss["label_frame"]))
    ss["label_keypoint"] = _first_keypoint(frames, ss["label_frame"], ss["label_individual"])


def _on_frame_change() -> None:
    ss["label_keypoint"] = _first_keypoint(_frames(), int(ss["label_frame"]), ss["label_individual"])


st.title("Label")
proj = project()
if not proj.labels_files:
    st.info(
        f"No labels file (`*.labels.h5`) in `{proj.root}`. Choose frames to label with "
        "`behaviorlab select-frames VIDEO --out PROJECT/frames.labels.h5 --n 50 --keypoints nose,tail`, "
        "or frames to correct with `behaviorlab refine POSES VIDEO --out PROJECT/refine.labels.h5`."
    )
    st.stop()

files = [str(p) for p in proj.labels_files]
if ss.get("label_file") not in files:
    ss["label_file"] = files[0]
st.sidebar.selectbox("Labels file", files, format_func=lambda p: str(Path(p).relative_to(proj.root)), key="label_file")
try:
    frames = _frames()
except (BehaviorlabError, OSError) as err:
    st.error(f"Cannot read `{ss['label_file']}`: {err}")
    st.stop()
if len(frames) == 0:
    st.info(f"`{ss['label_file']}` holds no frames.")
    st.stop()

# widget values that are missing or stale (another file, a page visit that dropped them) are reset
n_frames, individuals, keypoints = len(frames), list(frames.individuals), list(frames.skeleton.keypoints)
if ss.get("_label_opened") != ss["label_file"] or not 0 <= ss.get("label_frame", -1) < n_frames:
    ss["_label_opened"] = ss["label_file"]
    ss["label_frame"] = int(label_edit.frame_order(frames)[0])
if ss.get("label_individual") not in individuals:
    ss["label_individual"] = individuals[0]
if ss.get("label_keypoint") not in keypoints:
    ss["label_keypoint"] = _first_keypoint(frames, ss["label_frame"], ss["label_individual"])

progress = label_edit.labeling_progress(frames)
st.progress(
    progress["labeled"] / n_frames,
    text=f"{progress['labeled']} of {n_frames} frames labeled, {progress['partial']} partly, "
    f"{progress['unlabeled']} not yet",
)
st.caption(
    f"Every change is written to `{Path(ss['label_file']).name}` at once (atomically), "
    "so `behaviorlab train` always reads the latest labels."
)
message = ss.pop("label_message", None)
if message is not None:
    {"success": st.success, "error": st.error, "info": st.info}[message[0]](message[1])

left, right = st.columns([3, 2])
with right:
    st.number_input("Frame", min_value=0, max_value=n_frames - 1, step=1, key="label_frame", on_change=_on_frame_change)
    index = int(ss["label_frame"])
    status = label_edit.frame_status(frames)[index]
    st.caption(f"Frame {index} of {n_frames}: `{frames.sources[index]}` ({status})")
    individual = st.selectbox("Individual", individuals, key="label_individual", on_change=_on_frame_change)
    keypoint = st.selectbox("Keypoint", keypoints, key="label_keypoint")
    c1, c2, c3 = st.columns([2, 2, 1], vertical_alignment="bottom")
    c1.number_input("x (px)", value=0.0, step=1.0, format="%.2f", key="label_x")
    c2.number_input("y (px)", value=0.0, step=1.0, format="%.2f", key="label_y")
    c3.button("Set", key="label_set", on_click=_on_set)
    b1, b2, b3 = st.columns(3)
    b1.button("Not visible", key="label_hide", on_click=_on_hide, help="Mark the keypoint missing (NaN) in this frame")
    b2.button("Undo", key="label_undo", on_click=_on_undo, disabled=len(_history()) == 0)
    b3.button("Skip", key="label_skip", on_click=_on_skip, help="Go to the next frame that needs labels")
    st.dataframe(label_edit.keypoint_table(frames, index, individual), hide_index=True, width="stretch", height=250)

with left:
    scale = label_edit.display_scale(frames.images[index].shape)
    image = label_edit.label_image(frames, index, individual=individual, keypoint=keypoint, scale=scale)
    st.caption(
        f"Click to place **{keypoint}** of **{individual}** (red); its other keypoints are green, other "
        f"individuals' white. Drawn {scale}x enlarged; clicks are mapped back to image pixels."
    )
    streamlit_image_coordinates(image, key="label_image", on_click=_on_click, width="stretch", cursor="crosshair")

with st.expander("All frames, in labeling order"):
    st.dataframe(label_edit.frame_table(frames), hide_index=True, width="stretch")
