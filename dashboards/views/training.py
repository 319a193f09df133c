"""Training: a pose model's training curves, its evaluation table and its error per keypoint."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st
from _shared import project

from behaviorlab.errors import BehaviorlabError
from behaviorlab.pose.folder import TOPDOWN_CONFIG
from behaviorlab.results.pose_figures import evaluation_table, keypoint_error_figure, training_curves_figure


@st.cache_data(show_spinner=False, max_entries=16)
def _log(folder: str, mtime: float) -> pd.DataFrame | None:
    path = Path(folder) / "training_log.csv"
    return pd.read_csv(path) if path.is_file() else None


@st.cache_data(show_spinner=False, max_entries=16)
def _json(path: str, mtime: float) -> dict[str, Any] | None:
    file = Path(path)
    return json.loads(file.read_text()) if file.is_file() else None


def _mtime(path: Path) -> float:
    return path.stat().st_mtime if path.exists() else 0.0


st.title("Training")
proj = project()
if not proj.pose_models:
    st.info(
        f"No pose model in `{proj.root}` (a folder with `pose_config.json`, two levels deep at most). "
        "Train one with `behaviorlab train LABELS.labels.h5 --out MODEL_DIR` inside the project folder."
    )
    st.stop()

models = {str(p.relative_to(proj.root)) if p.is_relative_to(proj.root) else str(p): p for p in proj.pose_models}
folder = models[st.sidebar.selectbox("Pose model", list(models), key="training_model")]

# a crop-path model (topdown_config.json): the curves and config of its pose model, which sees the boxes
model_files = folder / "pose" if (folder / TOPDOWN_CONFIG).is_file() else folder
config = _json(str(model_files / "pose_config.json"), _mtime(model_files / "pose_config.json"))
log = _log(str(model_files), _mtime(model_files / "training_log.csv"))

st.subheader("Training curves")
if log is None or log.empty:
    st.info(f"`{folder}` has no `training_log.csv`: the model was not trained by `behaviorlab train`.")
else:
    c1, c2, c3 = st.columns(3)
    c1.metric("Epochs", len(log))
    if "val_loss" in log.columns and log["val_loss"].notna().any():
        best = log.loc[log["val_loss"].idxmin()]
        c2.metric("Best val_loss", f"{best['val_loss']:.3g}", help=f"epoch {int(best.get('epoch', 0))}")
    if "val_px_error" in log.columns and log["val_px_error"].notna().any():
        c3.metric("Last val_px_error (px)", f"{log['val_px_error'].iloc[-1]:.2f}")
    try:
        st.plotly_chart(training_curves_figure(log), width="stretch")
    except BehaviorlabError as err:
        st.warning(str(err))

st.subheader("Evaluation")
evaluation = _json(str(folder / "evaluation.json"), _mtime(folder / "evaluation.json"))
if evaluation is None:
    labels = proj.labels_files[0] if proj.labels_files else "LABELS.labels.h5"
    st.info(
        f"`{folder.name}` has no `evaluation.json` yet. Score the model on its validation frames with\n\n"
        f"`behaviorlab evaluate {folder} {labels} --json > {folder / 'evaluation.json'}`\n\n"
        "(add `--all` to score every labeled frame) and reload this page."
    )
else:
    try:
        table = evaluation_table(evaluation)
    except BehaviorlabError as err:
        st.warning(f"`{folder / 'evaluation.json'}`: {err}")
    else:
        overall = evaluation.get("overall") or {}
        shown = [(k, v) for k, v in overall.items() if k in ("n", "mean", "median", "p90") or k.startswith("pck@")]
        for column, (name, value) in zip(st.columns(max(len(shown), 1)), shown, strict=False):
            if value is None:
                column.metric(name, "–")
            elif name.startswith("pck@"):
                column.metric(f"PCK @ {name[4:]} px", f"{100 * value:.0f} %", help="share of keypoints this close")
            elif name == "n":
                column.metric("keypoints scored", int(value))
            else:
                column.metric(f"{name} error (px)", f"{value:.3g}")
        st.plotly_chart(keypoint_error_figure(table), width="stretch")
        st.dataframe(table, hide_index=True, width="stretch")

with st.expander("pose_config.json"):
    if config is None:
        st.info("No readable `pose_config.json`.")
    else:
        st.json(config, expanded=False)
