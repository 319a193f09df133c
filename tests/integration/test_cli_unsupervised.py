"""`behaviorlab map` and `behaviorlab ethogram` on the sample sessions' features files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from typer.testing import CliRunner

from behaviorlab.cli.app import app


@pytest.fixture(scope="module")
def features(sample_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("features")
    config = out / "features.yaml"  # one animal in session_a, two in session_b: the same columns for both
    config.write_text("features:\n  social: false\n")
    paths = []
    for session in ("session_a", "session_b"):
        path = out / f"{session}.nc"
        args = ["features", str(sample_data / f"{session}_poses.nc"), "--out", str(path), "--config", str(config)]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        paths.append(path)
    return paths


def test_sessions_with_and_without_social_features_are_one_clear_error(features, sample_data, tmp_path):
    social = tmp_path / "session_b.nc"  # the defaults: two animals get social features
    assert _run("features", str(sample_data / "session_b_poses.nc"), "--out", str(social)).exit_code == 0
    result = _run("map", "fit", str(features[0]), str(social), "--out", str(tmp_path / "map.pkl"))
    assert result.exit_code == 1
    assert "session 'session_b' has social features (two or more animals) and session 'session_a' has not" in (
        result.output
    )
    assert "features.social: false" in result.output


def _run(*args: str):
    return CliRunner().invoke(app, list(args))


def test_map_fit_and_predict_write_labels_for_every_frame(features, tmp_path):
    model = tmp_path / "map.pkl"
    config = tmp_path / "map.yaml"
    config.write_text("n_neighbors: 10\nmax_fit_frames: 3000\n")
    result = _run(
        "map",
        "fit",
        *map(str, features),
        "--out",
        str(model),
        "--config",
        str(config),
        "--figure",
        str(tmp_path / "map.html"),
    )
    assert result.exit_code == 0, result.output
    assert "regions from 5400 frames of 2 sessions" in result.output
    assert (tmp_path / "map.html").stat().st_size < 1_000_000  # plotly.js beside it, shared: opens offline
    assert (tmp_path / "plotly.min.js").is_file()
    result = _run("map", "predict", str(model), *map(str, features), "--out-dir", str(tmp_path / "labels"))
    assert result.exit_code == 0, result.output
    labels = xr.load_dataset(tmp_path / "labels" / "session_b.map.nc")
    assert set(labels.data_vars) == {"embedding", "cluster"}
    assert labels["cluster"].shape == (1800, 2)
    assert labels.attrs["ds_type"] == "map"
    assert (labels["cluster"].values >= 0).all()
    # the model file records the settings it was fitted with
    from behaviorlab.behavior.maps import BehaviorMap

    assert BehaviorMap.load(model).n_neighbors == 10


def test_map_fit_refuses_unknown_config_keys_and_existing_output(features, tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("n_neighbours: 10\n")
    result = _run("map", "fit", str(features[0]), "--out", str(tmp_path / "m.pkl"), "--config", str(config))
    assert result.exit_code == 1
    assert "bad.yaml" in result.output
    assert "n_neighbours" in result.output
    existing = tmp_path / "exists.pkl"
    existing.write_bytes(b"x")
    result = _run("map", "fit", str(features[0]), "--out", str(existing))
    assert result.exit_code == 1
    assert "--overwrite" in result.output
    assert existing.read_bytes() == b"x"


def test_ethogram_fit_and_predict_write_states_bouts_and_figures(features, tmp_path):
    model = tmp_path / "hmm.pkl"
    result = _run("ethogram", "fit", *map(str, features), "--out", str(model), "--min-states", "2", "--max-states", "4")
    assert result.exit_code == 0, result.output
    assert "n_states" in result.output  # the selection table
    out = tmp_path / "eth"
    result = _run("ethogram", "predict", str(model), *map(str, features), "--out-dir", str(out))
    assert result.exit_code == 0, result.output
    states = xr.load_dataset(out / "session_a.ethogram.nc")["state"]
    assert states.dims == ("time", "individual")
    n_states = int(states.max()) + 1
    assert 2 <= n_states <= 4
    bouts = pd.read_csv(out / "bouts.csv")
    # the bouts tile every labeled frame of every animal exactly once
    frames = bouts.groupby(["session", "individual"])["duration_frames"].sum()
    assert frames.to_dict() == {
        ("session_a", "mouse1"): 1800,
        ("session_b", "mouse1"): 1800,
        ("session_b", "mouse2"): 1800,
    }
    assert np.all(bouts["end_frame"] - bouts["start_frame"] + 1 == bouts["duration_frames"])
    for figure in ("ethogram_raster.html", "transitions.html", "durations.html"):
        page = (out / figure).read_text()
        assert '<script charset="utf-8" src="plotly.min.js"></script>' in page  # one shared copy of plotly.js
        assert len(page) < 500_000  # not the 4.6 MB library inlined in every figure
    assert (out / "plotly.min.js").stat().st_size > 1_000_000
    # a map model is not an ethogram model
    result = _run(
        "ethogram", "predict", str(tmp_path / "eth" / "bouts.csv"), str(features[0]), "--out-dir", str(tmp_path / "x")
    )
    assert result.exit_code == 1
    assert "bouts.csv" in result.output


def test_ethogram_fit_arhmm_models_the_poses_and_predict_finds_the_model_kind(features, tmp_path):
    model = tmp_path / "arhmm.pkl"
    result = _run("ethogram", "fit", *map(str, features), "--out", str(model), "--model", "arhmm", "--n-states", "6")
    assert result.exit_code == 0, result.output
    assert "syllables from 2 sessions" in result.output
    assert "shorter than 3 frames" in result.output
    out = tmp_path / "syllables"
    result = _run("ethogram", "predict", str(model), *map(str, features), "--out-dir", str(out))
    assert result.exit_code == 0, result.output
    states = xr.load_dataset(out / "session_b.ethogram.nc")["syllable"]
    assert states.sizes["individual"] == 2
    assert (states.values >= 0).mean() > 0.95  # every animal of every session is decoded
    bouts = pd.read_csv(out / "bouts.csv")
    assert set(bouts["individual"]) == {"mouse1", "mouse2"}
    result = _run("ethogram", "fit", str(features[0]), "--out", str(tmp_path / "x.pkl"), "--model", "moseq")
    assert result.exit_code != 0
    assert "choose hmm or arhmm" in result.output.replace("│", "")


def test_figures_as_images_need_kaleido_and_a_browser(tmp_path):
    import shutil

    import plotly.graph_objects as go

    from behaviorlab.results.figure_files import FigureExportError, write_figure

    fig = go.Figure(go.Scatter(x=[0, 1], y=[1, 0]))
    with pytest.raises(FigureExportError, match=r"figures are written as \.html, \.png, \.svg, \.pdf"):
        write_figure(fig, tmp_path / "f.jpg")
    try:
        import kaleido  # noqa: F401
    except ImportError:
        with pytest.raises(FigureExportError, match="needs kaleido"):
            write_figure(fig, tmp_path / "f.png")
        return
    if not (shutil.which("chromium") or shutil.which("google-chrome") or shutil.which("chrome")):
        pytest.skip("no Chrome or Chromium browser for kaleido on this machine (apt-get install chromium)")
    png = write_figure(fig, tmp_path / "f.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = write_figure(fig, tmp_path / "f.svg")
    assert svg.read_text().startswith("<svg")
