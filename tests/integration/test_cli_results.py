"""`behaviorlab store`, `query`, `compare` and `export` on the two sample sessions and their generated behaviors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from typer.testing import CliRunner

from behaviorlab.cli.app import app
from behaviorlab.io.annotations import load_annotations
from behaviorlab.io.save import save_netcdf
from behaviorlab.results.stats import bout_table
from behaviorlab.results.store import ResultsStore

#: The generated behaviors, in the order of their integer codes: ``state`` k is stored as ``state_k``.
BEHAVIORS = ["groom", "rear", "rest", "run", "turn", "walk"]
SESSIONS = ("session_a", "session_b")
#: The left half of the 256 x 256 arena (one pixel of margin so no point lies on the outer edges).
LEFT_HALF = [[-1, -1], [128, -1], [128, 257], [-1, 257]]


def _run(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args])


def _state(behavior: str) -> str:
    return f"state_{BEHAVIORS.index(behavior)}"


def _write_truth(sample_data: Path, session: str, folder: Path, labels: pd.DataFrame | None = None) -> Path:
    """Write ``<session>.truth.nc``: the per-frame behaviors of ``labels`` (default the sample's) as integer states."""
    labels = pd.read_csv(sample_data / f"{session}_labels.csv") if labels is None else labels
    wide = labels.pivot(index="frame", columns="individual", values="behavior").sort_index()
    codes = wide.apply(lambda column: column.map(BEHAVIORS.index)).to_numpy(dtype=np.int64)
    time = xr.open_dataset(sample_data / f"{session}_poses.nc")["time"].values  # the poses' clock, for the merge
    truth = xr.Dataset(
        {"state": (("time", "individual"), codes, {"n_states": len(BEHAVIORS)})},
        coords={"time": time, "individual": [str(i) for i in wide.columns]},
        attrs={"fps": 30.0, "time_unit": "seconds"},
    )
    return save_netcdf(truth, folder / f"{session}.truth.nc")


@pytest.fixture(scope="module")
def project(sample_data, tmp_path_factory) -> Path:
    """A results store of both sample sessions (poses and true behaviors), 30 s bins, a zone and metadata."""
    folder = tmp_path_factory.mktemp("results")
    zones = folder / "zones.json"
    zones.write_text(json.dumps({"left": LEFT_HALF}))
    store = folder / "project"
    result = _run("store", "create", store, "--bin-s", "30", "--zones", zones)
    assert result.exit_code == 0, result.output
    files = []
    for session in SESSIONS:
        files += [sample_data / f"{session}_poses.nc", _write_truth(sample_data, session, folder)]
    result = _run("store", "add", store, *files)
    assert result.exit_code == 0, result.output
    # one session per name before the first '.', with '_poses' removed
    assert [line.split(":")[0] for line in result.output.splitlines()] == list(SESSIONS)
    result = _run("store", "metadata", store, sample_data / "metadata.csv")
    assert result.exit_code == 0, result.output
    assert "7 rows" in result.output  # every sample session; the store holds two of them
    return store


@pytest.fixture
def project_copy(project, tmp_path) -> Path:
    """A copy of the module's store that a test may change (the manifest names its files relative to it)."""
    return Path(shutil.copytree(project, tmp_path / "project"))


def _runs(mask: np.ndarray) -> int:
    """Number of runs of True in a 1-D boolean array."""
    return int(np.count_nonzero(np.diff(np.concatenate([[0], mask.astype(np.int8)])) == 1))


def test_store_holds_both_sessions_with_their_tables(project):
    store = ResultsStore(project)
    assert store.sessions == ["session_a", "session_b"]
    assert store.settings["bin_s"] == 30.0
    assert store.settings["zones"] == {"left": LEFT_HALF}
    result = _run("store", "list", project)
    assert result.exit_code == 0, result.output
    assert [line.split()[0] for line in result.output.splitlines()[1:]] == list(SESSIONS)
    sessions = store.query("SELECT session, fps, n_frames, n_individuals, sources FROM sessions ORDER BY session")
    assert sessions.to_dict("list") == {
        "session": ["session_a", "session_b"],
        "fps": [30.0, 30.0],
        "n_frames": [1800, 1800],
        "n_individuals": [1, 2],
        "sources": ["state", "state"],
    }
    # every labelled frame of every animal is in frame_labels once; two 30 s bins per animal and behavior
    counts = store.query(
        "SELECT (SELECT count(*) FROM frame_labels) AS frames, (SELECT count(*) FROM behavior_stats_by_bin) AS bins"
    )
    assert counts.iloc[0].tolist() == [3 * 1800, 3 * len(BEHAVIORS) * 2]


def test_query_prints_and_writes_statistics_that_match_the_labels(project, sample_data, tmp_path):
    labels = pd.read_csv(sample_data / "session_a_labels.csv")
    walk_pct = 100.0 * (labels["behavior"] == "walk").mean()
    sql = "SELECT behavior, time_budget_pct, bout_count, \"group\" FROM time_budget WHERE session = 'session_a'"
    result = _run("query", project, sql + " ORDER BY behavior")
    assert result.exit_code == 0, result.output
    printed = result.output.splitlines()
    assert printed[0].split() == ["behavior", "time_budget_pct", "bout_count", "group"]
    assert len(printed) == 1 + len(BEHAVIORS)
    walk_line = next(line for line in printed if line.split()[0] == _state("walk"))
    assert float(walk_line.split()[1]) == pytest.approx(walk_pct, abs=1e-5)
    assert walk_line.split()[-1] == "control"

    out = tmp_path / "budget.csv"
    result = _run("query", project, sql, "--csv", out)
    assert result.exit_code == 0, result.output
    assert f"wrote {len(BEHAVIORS)} rows" in result.output
    table = pd.read_csv(out).set_index("behavior")
    for behavior in BEHAVIORS:
        assert table.loc[_state(behavior), "time_budget_pct"] == pytest.approx(
            100.0 * (labels["behavior"] == behavior).mean()
        )
        assert table.loc[_state(behavior), "bout_count"] == _runs((labels["behavior"] == behavior).to_numpy())
    assert table["time_budget_pct"].sum() == pytest.approx(100.0)

    # a two-animal session: bouts of one animal, counted by hand
    labels_b = pd.read_csv(sample_data / "session_b_labels.csv")
    mouse2 = labels_b[labels_b["individual"] == "mouse2"].sort_values("frame")
    groom = (mouse2["behavior"] == "groom").to_numpy()
    counted = ResultsStore(project).query(
        "SELECT count(*) AS n, sum(end_frame - start_frame + 1) AS frames FROM bouts "
        f"WHERE session = 'session_b' AND individual = 'mouse2' AND behavior = '{_state('groom')}'"
    )
    assert counted.iloc[0].tolist() == [_runs(groom), groom.sum()]


def test_movement_and_zones_match_the_centroid_track(project, sample_data):
    store = ResultsStore(project)
    movement = store.query('SELECT session, individual, distance, "group" FROM distance_travelled')
    zones = store.query("SELECT session, individual, time_pct FROM zones WHERE zone = 'left'")
    for session in SESSIONS:
        position = xr.load_dataset(sample_data / f"{session}_poses.nc")["position"]
        centroid = position.transpose("time", "space", "individual", "keypoint").values.mean(axis=-1)
        steps = np.sqrt((np.diff(centroid, axis=0) ** 2).sum(axis=1)).sum(axis=0)
        left = 100.0 * (centroid[:, 0, :] < 128).mean(axis=0)
        for k, individual in enumerate(position["individual"].values):
            rows = (movement["session"] == session) & (movement["individual"] == individual)
            assert movement.loc[rows, "distance"].item() == pytest.approx(steps[k])
            rows = (zones["session"] == session) & (zones["individual"] == individual)
            assert zones.loc[rows, "time_pct"].item() == pytest.approx(left[k], abs=0.1)
    # the treated animal walks at 0.75 speed: the shortest distance
    assert movement.sort_values("distance")["group"].tolist()[0] == "treated"


def test_compare_writes_one_row_per_behavior_and_measure_and_a_figure(project, tmp_path):
    table, figure = tmp_path / "cmp.csv", tmp_path / "fig.html"
    result = _run("compare", project, "--group", "group", "--csv", table, "--figure", figure)
    assert result.exit_code == 0, result.output
    assert f"wrote {figure}" in result.output
    comparison = pd.read_csv(table)
    measures = ["time_budget_pct", "bout_count", "mean_bout_s", "latency_s", "bouts_per_min"]
    assert {"source", "behavior", "measure", "p_value", "p_adjusted", "effect_size"} <= set(comparison.columns)
    assert len(comparison) == len(BEHAVIORS) * len(measures)
    assert not comparison.duplicated(["source", "behavior", "measure"]).any()
    assert set(comparison["behavior"]) == {_state(b) for b in BEHAVIORS}
    assert set(comparison["measure"]) == set(measures)
    assert (comparison["groups"] == "control vs treated").all()
    assert (comparison["n"] == 3).all()  # three animals, not frames or bouts
    tested = comparison.dropna(subset=["p_value"])
    assert len(tested) > 0
    assert (tested["p_adjusted"] >= tested["p_value"] - 1e-12).all()
    assert tested["p_adjusted"].between(0, 1).all()
    assert comparison["effect_size"].dropna().between(-1, 1).all()
    html = figure.read_text()
    assert html.lstrip().lower().startswith("<!doctype html")
    assert figure.stat().st_size > 5_000  # the figure's data and layout
    assert (figure.parent / "plotly.min.js").is_file()  # plotly.js beside it, shared by every figure there


def test_compare_movement_finds_the_slower_treated_animal(project, tmp_path):
    table = tmp_path / "movement.csv"
    result = _run("compare", project, "--table", "movement", "--csv", table)
    assert result.exit_code == 0, result.output
    comparison = pd.read_csv(table).set_index("measure")
    assert sorted(comparison.index) == ["distance", "mean_speed"]
    # rank-biserial of treated against control: -1 when the one treated animal is below both controls
    assert comparison.loc["distance", "effect_size"] == -1.0
    assert comparison.loc["distance", "n"] == 3
    assert comparison.loc["distance", "median[treated]"] < comparison.loc["distance", "median[control]"]


def test_export_writes_every_format_and_boris_reads_back_to_the_stored_bouts(project, tmp_path):
    out = tmp_path / "export"
    result = _run("export", project, "--out", out, "--format", "csv,excel,nwb,boris,simba")
    assert result.exit_code == 0, result.output
    written = json.loads(result.output)
    assert sorted(written) == ["boris", "csv", "excel", "nwb", "simba"]
    for session in SESSIONS:
        assert (out / "nwb" / f"{session}.nwb").read_bytes()[:8] == b"\x89HDF\r\n\x1a\n"
        assert len(pd.read_csv(out / "simba" / f"{session}.state.csv")) == 1800
    assert (out / "project.xlsx").read_bytes()[:2] == b"PK"
    store = ResultsStore(project)
    assert len(pd.read_csv(out / "csv" / "bouts.csv")) == len(store.table("bouts"))

    columns = ["individual", "behavior", "start_frame", "end_frame"]
    stored = store.table("bouts", sessions=["session_b"])
    labels = load_annotations(
        out / "boris" / "session_b.state.csv",
        fps=30.0,
        n_frames=1800,
        individuals=["mouse1", "mouse2"],
        behaviors=[_state(b) for b in BEHAVIORS],
        unknown_behaviors="error",
    )
    assert labels.shape == (1800, 2, len(BEHAVIORS))
    read_back = bout_table(labels)
    order = ["individual", "behavior", "start_frame"]
    pd.testing.assert_frame_equal(
        read_back[columns].sort_values(order).reset_index(drop=True),
        stored[columns].sort_values(order).reset_index(drop=True),
        check_dtype=False,
    )


def test_store_add_again_replaces_only_that_session(project_copy, sample_data, tmp_path):
    before = ResultsStore(project_copy)
    version_b = before.session_info("session_b")["version"]
    old_a = project_copy / before.session_info("session_a")["folder"]
    bouts_b = before.table("bouts", sessions=["session_b"])
    # session_a rests all minute: one bout
    labels = pd.read_csv(sample_data / "session_a_labels.csv").assign(behavior="rest")
    truth = _write_truth(sample_data, "session_a", tmp_path, labels)
    result = _run("store", "add", project_copy, sample_data / "session_a_poses.nc", truth)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("session_a: ")
    after = ResultsStore(project_copy)
    counts = after.query("SELECT session, count(*) AS n FROM bouts GROUP BY session ORDER BY session")
    assert counts.to_dict("list") == {"session": ["session_a", "session_b"], "n": [1, len(bouts_b)]}
    assert after.query(
        f"SELECT time_budget_pct FROM time_budget WHERE session = 'session_a' AND behavior = '{_state('rest')}'"
    ).iloc[0, 0] == pytest.approx(100.0)
    pd.testing.assert_frame_equal(after.table("bouts", sessions=["session_b"]), bouts_b)
    assert after.session_info("session_b")["version"] == version_b
    assert not old_a.exists()  # the replaced version's files are gone


def test_store_vacuum_removes_files_left_by_interrupted_writes(project_copy):
    stale = project_copy / "sessions" / "session_a" / "20000101T000000000000-deadbeef.partial"
    stale.mkdir()
    (stale / "bouts.parquet").write_bytes(b"half written")
    result = _run("store", "vacuum", project_copy)
    assert result.exit_code == 0, result.output
    assert "removed 1 unreferenced" in result.output
    assert not stale.exists()
    assert ResultsStore(project_copy).query("SELECT count(*) FROM bouts").iloc[0, 0] > 0


def test_query_and_store_add_errors_name_the_problem(project, tmp_path):
    not_a_store = tmp_path / "NOT_A_STORE"
    not_a_store.mkdir()
    result = _run("query", not_a_store, "select 1")
    assert result.exit_code == 1
    assert str(not_a_store) in result.output
    assert "neither a behaviorlab results store" in result.output

    result = _run("query", project, "SELEC count(*) FROM bouts")
    assert result.exit_code == 1
    assert "query failed" in result.output
    assert "Traceback" not in result.output

    missing = tmp_path / "session_c_poses.nc"
    result = _run("store", "add", project, missing)
    assert result.exit_code == 1
    assert str(missing) in result.output
    assert "not found" in result.output
    assert ResultsStore(project).sessions == ["session_a", "session_b"]


@pytest.mark.parametrize(
    ("option", "value", "named"),
    [("--format", "pdf", "pdf"), ("--session", "session_z", "session_z")],
)
def test_export_refuses_unknown_formats_and_sessions_with_a_message(project, tmp_path, option, value, named):
    out = tmp_path / "export"
    result = _run("export", project, "--out", out, option, value)
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert named in result.output
    assert not out.exists()  # refused before anything was written


def test_bad_settings_and_missing_metadata_are_one_line_errors(project, tmp_path):
    result = _run("store", "create", tmp_path / "new", "--bin-s", "-5")
    assert result.exit_code == 1
    assert "bin_s must be > 0" in result.output
    missing = tmp_path / "nope.csv"
    result = _run("store", "metadata", project, missing)
    assert result.exit_code == 1
    assert str(missing) in result.output
