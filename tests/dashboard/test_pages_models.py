"""The Training, Behavior map, Ethogram and Classifiers pages on a full and on empty projects."""

from __future__ import annotations

import json
import shutil

import pytest

PAGES = ("training", "behavior_map", "ethogram", "classifiers")


def _figures(at) -> list[dict]:
    """The plotly figures of a page run, as their JSON specs."""
    return [json.loads(element.proto.spec) for element in at.get("plotly_chart")]


def _examples_shown(at) -> list:
    """What the Behavior map page shows of a region's examples: video frames' captions, else the pose drawings."""
    captions = [c for image in at.image for c in image.captions]
    if captions:
        return captions
    drawn = [f for f in _figures(at) if "Example frames" in str(f.get("layout", {}).get("title", ""))]
    return [json.dumps(f.get("data"), sort_keys=True) for f in drawn]


def _titles(at) -> list[str]:
    out = []
    for fig in _figures(at):
        title = fig.get("layout", {}).get("title", {})
        out.append(title.get("text", "") if isinstance(title, dict) else str(title))
    return out


# --------------------------------------------------------------------------- training
def test_training_shows_curves_evaluation_and_config(full_project, run_app):
    at = run_app(full_project, "training")
    assert not at.exception
    assert at.title[0].value == "Training"
    assert at.selectbox(key="training_model").value == "models/pose_model"  # relative to the project
    figures = _figures(at)
    assert len(figures) == 2  # training curves, keypoint error
    curves = {trace["name"] for trace in figures[0]["data"]}
    assert {"loss", "val_loss", "val_px_error"} <= curves
    table = at.dataframe[0].value
    assert table["keypoint"].iloc[-1] == "all"
    assert {"mean", "median", "p90"} <= set(table.columns)
    assert len(at.metric) >= 3
    assert at.expander[0].label == "pose_config.json"
    assert at.json  # the config, in the expander


def test_training_without_evaluation_says_how_to_make_one(full_project, tmp_path, run_app):
    model = tmp_path / "project" / "pose_model"
    model.mkdir(parents=True)
    for name in ("pose_config.json", "training_log.csv"):  # the demo's crop model: a full-frame model's files
        shutil.copy2(full_project / "models" / "pose_model" / "pose" / name, model / name)
    at = run_app(tmp_path / "project", "training")
    assert not at.exception
    assert len(_figures(at)) == 1  # the curves only
    message = " ".join(i.value for i in at.info)
    assert "behaviorlab evaluate" in message
    assert "--json" in message
    assert "evaluation.json" in message


# --------------------------------------------------------------------------- behavior map
def test_behavior_map_shows_density_regions_and_examples(full_project, run_app):
    at = run_app(full_project, "behavior_map")
    assert not at.exception
    figures = _figures(at)
    assert any(t.startswith("Behavior map") for t in _titles(at))  # the density
    assert any("per region" in t for t in _titles(at))  # share of each session's frames
    heatmap = figures[-1]["data"][0]
    assert heatmap["type"] == "heatmap"
    assert all(" / " in row for row in heatmap["y"])
    region = at.selectbox(key="map_region")
    assert region.value == 0
    assert len(region.options) >= 2
    assert "% of frames" in region.options[0]
    examples = at.dataframe[0].value
    assert set(examples["region"]) == {0}
    shown = _examples_shown(at)

    region.set_value(1).run()
    assert not at.exception
    assert set(at.dataframe[0].value["region"]) == {1}
    assert _examples_shown(at) != shown


def test_behavior_map_without_videos_draws_the_example_poses(full_project, run_app, monkeypatch):
    from behaviorlab.project.view import Project

    monkeypatch.setattr(Project, "video", lambda self, session: None)
    at = run_app(full_project, "behavior_map")
    assert not at.exception
    assert not at.image
    titles = _titles(at)
    assert "Example frames per region (egocentric poses)" in titles
    examples = _figures(at)[titles.index("Example frames per region (egocentric poses)")]
    assert examples["layout"]["annotations"][0]["text"] == "region 0"


# --------------------------------------------------------------------------- ethogram
def test_ethogram_stacks_label_sources_and_draws_transitions(full_project, run_app):
    at = run_app(full_project, "ethogram")
    assert not at.exception
    figures = _figures(at)
    assert len(figures) == 4  # raster, HMM transition graph, transitions of the chosen source, AR-HMM graph
    rows = figures[0]["layout"]["yaxis"]["categoryarray"]
    assert rows[:4] == [  # session_a is not annotated: no human row
        "session_a / mouse1 · classifier",
        "session_a / mouse1 · HMM",
        "session_a / mouse1 · AR-HMM",
        "session_a / mouse1 · map",
    ]
    assert rows[4:9] == [
        "session_b / mouse1 · human",
        "session_b / mouse1 · classifier",
        "session_b / mouse1 · HMM",
        "session_b / mouse1 · AR-HMM",
        "session_b / mouse1 · map",
    ]
    assert len(rows) == 4 + 5 * 2  # session_b has two animals
    assert any("syllables from" in m.value and "shorter than 3 frames" in m.value for m in at.markdown)
    assert at.multiselect(key="ethogram_sessions").value == ["session_a", "session_b"]  # the first two of six

    at.multiselect(key="ethogram_sessions").set_value(["session_b"]).run()
    assert not at.exception
    rows = _figures(at)[0]["layout"]["yaxis"]["categoryarray"]
    assert len(rows) == 10
    assert all(r.startswith("session_b") for r in rows)

    at.multiselect(key="ethogram_sources").set_value(["state"]).run()
    assert not at.exception
    assert _figures(at)[0]["layout"]["yaxis"]["categoryarray"] == [
        "session_b / mouse1 · HMM",
        "session_b / mouse2 · HMM",
    ]


# --------------------------------------------------------------------------- classifiers
def test_classifiers_scores_curves_confusion_and_raters(full_project, run_app):
    at = run_app(full_project, "classifiers")
    assert not at.exception
    scores = at.dataframe[0].value
    assert {"behavior", "threshold", "precision", "recall", "f1", "support"} <= set(scores.columns)
    assert scores["threshold"].between(0, 1).all()
    figures = _figures(at)
    assert len(figures) == 2  # precision-recall, confusion
    assert any(trace["name"].endswith(")") and "AP" in trace["name"] for trace in figures[0]["data"])
    assert figures[1]["data"][0]["type"] == "heatmap"
    assert any("single rater" in i.value for i in at.info)
    support = int(scores["support"].sum())

    assert at.multiselect(key="classifier_sessions").value == [
        "session_b",
        "session_c",
        "session_d",
        "session_e",
        "session_f",
    ]
    at.multiselect(key="classifier_sessions").set_value(["session_b"]).run()
    assert not at.exception
    assert int(at.dataframe[0].value["support"].sum()) < support


# --------------------------------------------------------------------------- empty projects
@pytest.mark.parametrize("page", PAGES)
def test_pages_of_an_empty_folder_say_what_is_missing(page, empty_project, run_app):
    at = run_app(empty_project, page)
    assert not at.exception
    assert at.info, f"{page}: no message"


@pytest.mark.parametrize("page", PAGES)
def test_pages_of_a_store_without_sessions_say_what_is_missing(page, store_without_sessions, run_app):
    at = run_app(store_without_sessions, page)
    assert not at.exception
    assert at.info, f"{page}: no message"


def test_pages_without_the_models_still_draw_the_stored_labels(full_project, tmp_path, run_app):
    project = tmp_path / "project"
    shutil.copytree(full_project / "results", project / "results")  # the store only: no map, HMM or classifier
    at = run_app(project, "ethogram")
    assert not at.exception
    assert len(_figures(at)) == 2  # raster and stored transitions; the HMM graphs are replaced by messages
    assert any("hmm.pkl" in i.value for i in at.info)
    assert any("arhmm.pkl" in i.value for i in at.info)
    at = run_app(project, "classifiers")
    assert not at.exception
    assert "threshold" not in at.dataframe[0].value.columns
    at = run_app(project, "behavior_map")
    assert not at.exception
    assert "map.pkl" in at.info[0].value
