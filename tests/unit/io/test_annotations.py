"""Annotation import: real BORIS exports and project files, oft-rearing interval tables, round trips, edge cases."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from behaviorlab.errors import FileFormatError, SchemaError
from behaviorlab.io.annotations import (
    ANNOTATION_FORMATS,
    consensus,
    detect_annotation_format,
    labels_to_frame_table,
    list_boris_observations,
    load_annotations,
    write_boris_csv,
)
from behaviorlab.schema import get_log

ROOT = Path(__file__).resolve().parents[3]
BORIS_DIR = ROOT.parent / "shared" / "data" / "ethome-interact" / "boris"
OFT_DIR = ROOT.parent / "shared" / "data" / "oft-rearing"
OFT_SESSIONS = ("12_01_A_190507144429", "8_01_A_190507134142")
RATERS = ["Jin", "Furkan", "Oliver"]
REARING = ["Supported", "Unsupported", "Grooming"]


def _runs(mask: np.ndarray) -> int:
    return int((np.diff(np.concatenate([[0], mask.astype(int), [0]])) == 1).sum())


# --------------------------------------------------------------------------- real BORIS files
@pytest.mark.shared_data
@pytest.mark.parametrize("name", sorted(p.name for p in BORIS_DIR.glob("*")) if BORIS_DIR.is_dir() else ["(missing)"])
def test_every_real_boris_file_loads(shared_data, name):
    path = shared_data / "ethome-interact" / "boris" / name
    labels = load_annotations(path, fps=30)
    assert labels.dims == ("time", "individual", "behavior")
    assert labels.name == "labels"
    assert labels.dtype == bool
    assert labels.attrs["source_format"] == ("boris_project" if name.endswith(".boris") else "boris_tabular")
    assert labels.attrs["fps"] == 30.0
    np.testing.assert_allclose(labels["time"].values, np.arange(labels.sizes["time"]) / 30)
    assert labels.any("time").all()  # every behavior of every file labels some frames
    assert labels.isel(time=-1).any()  # without n_frames the labels end with the last STOP
    assert get_log(labels)[-1]["operation"] == "load_annotations"


@pytest.mark.shared_data
def test_interact_file_bouts_and_frames(shared_data):
    path = shared_data / "ethome-interact" / "boris" / "e3v813a-20210610T122332-122642_reencode.csv"
    labels = load_annotations(path, fps=30, n_frames=5700, individuals=["adult", "juvenile"])
    assert labels.attrs["observation_id"] == "DLC3"
    interact = labels.sel(individual="adult", behavior="interact").values
    assert _runs(interact) == 10
    # START/STOP pairs (s) -> frames ceil(t*30): 29.850-34.725 -> 896-1042 (146), 41.950-43.600 -> 1259-1308 (49),
    # 52.929-53.625 -> 1588-1609 (21), 61.225-62.100 -> 1837-1863 (26), 63.475-64.875 -> 1905-1947 (42),
    # 117.725-117.925 -> 3532-3538 (6), 119.525-124.250 -> 3586-3728 (142), 124.950-125.800 -> 3749-3774 (25),
    # 173.325-173.750 -> 5200-5213 (13), 174.150-180.550 -> 5225-5417 (192): 662 frames.  The data README's 663 is
    # the summed duration 22.096 s x 30 = 662.88 rounded; whole frames under the convention START <= f/fps < STOP.
    assert interact.sum() == 662
    assert np.flatnonzero(interact)[0] == 896
    assert not labels.sel(individual="juvenile").any()
    table = pd.read_csv(path, skiprows=15)
    assert math.isclose((table["Time"][1::2].to_numpy() - table["Time"][::2].to_numpy()).sum() * 30, 662.88)


@pytest.mark.shared_data
def test_multiple_behaviors_file_has_simultaneous_events(shared_data):
    folder = shared_data / "ethome-interact" / "boris"
    labels = load_annotations(folder / "e3v813a-20210610T120637-121213_reencode_multiple_behaviors.csv", fps=30)
    assert list(labels["behavior"].values) == ["mount", "interact"]  # order of appearance (rows are not sorted)
    mount = labels.sel(individual="adult", behavior="mount").values
    interact = labels.sel(individual="adult", behavior="interact").values
    # mount 18.075-23.100 s -> frames 543-693 (150), 38.900-41.275 s -> 1167-1239 (72)
    assert mount.sum() == 222
    assert _runs(mount) == 2
    # mount overlaps interact: 18.075-23.100 with 17.075-22.100 (frames 543-662) and 38.900-41.275 with
    # 37.900-40.275 (frames 1167-1208)
    both = mount & interact
    assert both.any()
    assert _runs(both) == 2
    assert both.sum() == 120 + 42
    single = load_annotations(folder / "e3v813a-20210610T120637-121213_reencode.csv", fps=30)
    # the multi-behavior export holds the same interact bouts as the single-behavior export, plus mount
    np.testing.assert_array_equal(interact, single.sel(individual="adult", behavior="interact").values)


@pytest.mark.shared_data
def test_boris_project_file(shared_data):
    path = shared_data / "ethome-interact" / "boris" / "test-multi-behaviors.boris"
    assert detect_annotation_format(path) == "boris_project"
    observations = list_boris_observations(path)
    assert observations["observation_id"].tolist() == ["testvid"]
    assert observations["n_events"].tolist() == [6]
    assert observations["media"][0].endswith("e3v813a-20210610T120637-121213.avi")
    labels = load_annotations(path, fps=30)
    assert list(labels["behavior"].values) == ["aa", "mm"]  # ethogram codes (attack, investigate)
    assert list(labels["individual"].values) == ["mouse"]
    aa, mm = labels.sel(individual="mouse").values.T
    # aa toggles at 28.205 / 30.63 -> frames 847-919 (72); mm 9.955-11.256 -> 299-338 (39), 26.605-31.705 -> 799-952
    assert aa.sum() == 72
    assert mm.sum() == 39 + 153
    assert (aa & mm).sum() == 72  # attack happens during investigation
    same = load_annotations(path, fps=30, media="e3v813a-20210610T120637-121213.avi")
    xr.testing.assert_equal(same, labels)
    with pytest.raises(FileFormatError, match="testvid"):
        load_annotations(path, fps=30, media="other.avi")


# --------------------------------------------------------------------------- oft-rearing interval tables
@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("session", "supported"), [(OFT_SESSIONS[0], [296, 275, 338]), (OFT_SESSIONS[1], [420, 369, 429])]
)
def test_oft_rearing_three_raters(shared_data, session, supported):
    path = shared_data / "oft-rearing" / f"{session}.csv"
    assert detect_annotation_format(path) == "intervals"
    with pytest.raises(FileFormatError, match=r"past the end of the video \(1998 frames"):
        load_annotations(path, fps=25, n_frames=1998)
    labels = load_annotations(
        path, fps=25, n_frames=1998, clip=True, behaviors=REARING, unknown_behaviors="drop", individuals=["mouse"]
    )
    assert labels.dims == ("rater", "time", "individual", "behavior")
    assert list(labels["rater"].values) == RATERS
    counts = labels.sel(behavior="Supported").sum(("time", "individual")).values.tolist()
    assert counts == supported
    # the same count by hand for Jin, from the table: frames ceil(from*25) .. ceil(to*25) - 1, cut at frame 1998
    table = pd.read_csv(path)
    jin = table[(table["Experimenter"] == "Jin") & (table["type"] == "Supported") & (table["from"] < 1998 / 25)]
    mask = np.zeros(1998, bool)
    for a, b in zip(np.ceil(jin["from"] * 25 - 1e-6), np.ceil(jin["to"] * 25 - 1e-6), strict=True):
        mask[int(a) : min(int(b), 1998)] = True
    assert mask.sum() == supported[0]
    # all the rows, whole session: the rater dim and every label type stay
    full = load_annotations(path, fps=25)
    assert full.dims[0] == "rater"
    assert {"Supported", "Unsupported", "Grooming"} <= set(full["behavior"].values.tolist())
    assert full.sizes["time"] == math.ceil(table["to"].max() * 25 - 1e-6)


@pytest.mark.shared_data
def test_consensus_on_oft_rearing(shared_data):
    path = shared_data / "oft-rearing" / f"{OFT_SESSIONS[0]}.csv"
    labels = load_annotations(path, fps=25, n_frames=1998, clip=True, behaviors=REARING, unknown_behaviors="drop")
    votes = labels.astype(int).sum("rater")
    for k in (1, 2, 3):
        agreed = consensus(labels, k)
        assert agreed.dims == ("time", "individual", "behavior")
        xr.testing.assert_equal(agreed.drop_attrs(), (votes >= k).rename("labels").drop_attrs())
    supported = [int(consensus(labels, k).sel(behavior="Supported").sum()) for k in (1, 2, 3)]
    assert supported == [365, 308, 236]
    assert get_log(consensus(labels, 2))[-1]["min_raters"] == 2
    with pytest.raises(ValueError, match="min_raters"):
        consensus(labels, 4)
    with pytest.raises(SchemaError, match="rater"):
        consensus(labels.isel(rater=0), 1)


# --------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("session", ["session_a", "session_b"])
def test_sample_boris_round_trip(sample_data, session, tmp_path):
    table = pd.read_csv(sample_data / f"{session}_labels.csv", keep_default_na=False)
    n_frames = int(table["frame"].max()) + 1
    individuals = list(dict.fromkeys(table["individual"]))
    from_boris = load_annotations(sample_data / f"{session}_boris.csv", fps=30, individuals=individuals)
    assert from_boris.sizes["time"] == n_frames  # the last STOP is the end of the video
    for ind in individuals:
        rows = table[table["individual"] == ind].sort_values("frame")
        for behavior in from_boris["behavior"].values:
            expected = rows["behavior"].to_numpy() == behavior
            np.testing.assert_array_equal(from_boris.sel(individual=ind, behavior=behavior).values, expected)
    from_frames = load_annotations(sample_data / f"{session}_labels.csv", fps=30, behaviors=from_boris["behavior"])
    assert from_frames.attrs["source_format"] == "frame_labels"
    np.testing.assert_array_equal(from_frames.values, from_boris.values)
    # write again from the per-frame names, read back
    names = xr.DataArray(
        np.stack([table[table["individual"] == i].sort_values("frame")["behavior"].to_numpy() for i in individuals], 1),
        dims=("time", "individual"),
        coords={"individual": individuals},
    )
    path = write_boris_csv(names, tmp_path / "again.csv", fps=30, media_file="v.mp4", observation_id="o")
    again = load_annotations(path, fps=30, n_frames=n_frames, behaviors=from_boris["behavior"])
    np.testing.assert_array_equal(again.values, from_boris.values)


@pytest.mark.shared_data
def test_frame_table_round_trip_with_raters(shared_data, tmp_path):
    labels = load_annotations(
        shared_data / "oft-rearing" / f"{OFT_SESSIONS[1]}.csv", fps=25, n_frames=1998, clip=True, behaviors=REARING
    )
    table = labels_to_frame_table(labels)
    assert list(table.columns[:4]) == ["rater", "frame", "time_s", "individual"]
    assert len(table) == 3 * 1998
    table.to_csv(tmp_path / "frames.csv", index=False)
    back = load_annotations(tmp_path / "frames.csv", fps=25)
    assert back.dims == labels.dims
    np.testing.assert_array_equal(back.values, labels.values)
    assert back["behavior"].values.tolist() == labels["behavior"].values.tolist()


# --------------------------------------------------------------------------- synthetic BORIS files
def _boris7(path: Path, rows: list[tuple], *, fps: float = 10.0, header: bool = True, sep: str = ",") -> Path:
    """Write a BORIS 7 tabular export: rows of (time, subject, behavior, status)."""
    lines = ["Observation id,obs", ",", "Time offset (s),0.0", ","] if header else []
    lines.append("Time,Media file path,Total length,FPS,Subject,Behavior,Behavioral category,Comment,Status")
    lines += [f"{t},v.mp4,10.0,{fps},{s},{b},,,{st}" for t, s, b, st in rows]
    path.write_text("\n".join(line.replace(",", sep) for line in lines) + "\n", encoding="utf-8")
    return path


def test_state_events_simultaneous_unsorted_and_ties(tmp_path):
    rows = [
        (0.4, "m", "groom", "START"),
        (0.2, "m", "walk", "START"),
        (0.6, "m", "walk", "STOP"),
        (0.6, "m", "walk", "START"),  # STOP and START at the same time: one continuous bout
        (0.9, "m", "walk", "STOP"),
        (0.8, "m", "groom", "STOP"),
    ]
    labels = load_annotations(_boris7(tmp_path / "a.csv", rows), fps=10)
    assert detect_annotation_format(tmp_path / "a.csv") == "boris_tabular"
    assert list(labels["behavior"].values) == ["groom", "walk"]
    walk, groom = (
        labels.sel(individual="m", behavior="walk").values,
        labels.sel(individual="m", behavior="groom").values,
    )
    assert walk.astype(int).tolist() == [0, 0, 1, 1, 1, 1, 1, 1, 1]  # frames 2..8 (0.2 <= f/10 < 0.9)
    assert groom.astype(int).tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 0]
    assert labels.sizes["time"] == 9


def test_start_without_stop(tmp_path):
    rows = [(0.1, "m", "walk", "START"), (0.3, "m", "walk", "STOP"), (1.0, "m", "walk", "START")]
    with pytest.raises(FileFormatError, match=r"START of 'walk' for subject 'm' at 1\.000 s \(line 8\) has no STOP"):
        load_annotations(_boris7(tmp_path / "a.csv", rows), fps=10)


def test_second_start_before_stop(tmp_path):
    rows = [(0.1, "m", "walk", "START"), (0.3, "m", "walk", "START"), (0.5, "m", "walk", "STOP")]
    with pytest.raises(FileFormatError, match=r"second START of 'walk' for subject 'm' at 0\.300 s") as err:
        load_annotations(_boris7(tmp_path / "a.csv", rows), fps=10)
    assert err.value.path == tmp_path / "a.csv"
    rows = [(0.1, "m", "walk", "STOP")]
    with pytest.raises(FileFormatError, match="has no START"):
        load_annotations(_boris7(tmp_path / "b.csv", rows), fps=10)
    # the same behavior of two subjects may overlap
    rows = [(0.1, "a", "walk", "START"), (0.2, "b", "walk", "START"), (0.3, "a", "walk", "STOP")]
    rows.append((0.4, "b", "walk", "STOP"))
    assert load_annotations(_boris7(tmp_path / "c.csv", rows), fps=10).sum().item() == 4


def test_labels_past_the_video_end(tmp_path):
    rows = [(0.1, "m", "walk", "START"), (0.5, "m", "walk", "STOP"), (0.6, "m", "rest", "START")]
    rows.append((1.2, "m", "rest", "STOP"))
    path = _boris7(tmp_path / "a.csv", rows)
    with pytest.raises(FileFormatError, match=r"'rest' for subject 'm' from 0\.600 s to 1\.200 s is past the end"):
        load_annotations(path, fps=10, n_frames=10)
    clipped = load_annotations(path, fps=10, n_frames=10, clip=True)
    assert clipped.sel(behavior="rest").values[:, 0].astype(int).tolist() == [0] * 6 + [1] * 4
    dropped = load_annotations(path, fps=10, n_frames=5, clip=True)  # rest starts after the end: dropped
    assert not dropped.sel(behavior="rest").any()
    assert dropped.sel(behavior="walk").sum().item() == 4
    exact = load_annotations(path, fps=10, n_frames=12)  # STOP exactly at the end is inside
    assert exact.sizes["time"] == 12
    assert exact.sel(behavior="rest").values[-1, 0]


def test_unknown_subject_and_no_focal_subject(tmp_path):
    rows = [(0.1, "a", "walk", "START"), (0.2, "a", "walk", "STOP"), (0.3, "b", "walk", "START")]
    rows.append((0.4, "b", "walk", "STOP"))
    path = _boris7(tmp_path / "a.csv", rows)
    with pytest.raises(FileFormatError, match=r"unknown subject 'b' \(line 8 to line 9\); the individuals are \['a'\]"):
        load_annotations(path, fps=10, individuals=["a"])
    labels = load_annotations(path, fps=10, individuals=["b", "a", "c"])
    assert list(labels["individual"].values) == ["b", "a", "c"]
    assert not labels.sel(individual="c").any()
    focal = [(0.1, "", "walk", "START"), (0.2, "", "walk", "STOP"), (0.3, "No focal subject", "rest", "POINT")]
    path = _boris7(tmp_path / "b.csv", focal)
    labels = load_annotations(path, fps=10)
    assert list(labels["individual"].values) == ["individual_0"]
    assert load_annotations(path, fps=10, individuals=["mouse"]).sel(individual="mouse").sum().item() == 2
    with pytest.raises(FileFormatError, match="no focal subject and there are several individuals"):
        load_annotations(path, fps=10, individuals=["x", "y"])
    two = load_annotations(path, fps=10, individuals=["x", "y"], no_focal_subject="y")
    assert two.sel(individual="y").sum().item() == 2
    assert not two.sel(individual="x").any()


def test_point_events(tmp_path):
    rows = [(0.55, "m", "sniff", "POINT"), (0.5, "m", "jump", "POINT"), (0.1, "m", "walk", "START")]
    rows.append((0.3, "m", "walk", "STOP"))
    labels = load_annotations(_boris7(tmp_path / "a.csv", rows), fps=10)
    # a point at t marks the frame f with f/fps <= t < (f+1)/fps: 0.55 s and 0.5 s -> frame 5
    assert np.flatnonzero(labels.sel(individual="m", behavior="sniff").values).tolist() == [5]
    assert np.flatnonzero(labels.sel(individual="m", behavior="jump").values).tolist() == [5]
    assert labels.sizes["time"] == 6
    points = json.loads(labels.attrs["point_events"])
    assert points == [
        {"time_s": 0.5, "frame": 5, "individual": "m", "behavior": "jump"},
        {"time_s": 0.55, "frame": 5, "individual": "m", "behavior": "sniff"},
    ]
    assert "point_events" not in load_annotations(_boris7(tmp_path / "b.csv", rows[2:]), fps=10).attrs


def test_rounded_times_start_the_right_frame(tmp_path):
    # 149/30 = 4.96667 is written 4.967 and 97/30 = 3.23333 is written 3.233: both still start their frame
    rows = [(3.233, "m", "walk", "START"), (4.967, "m", "walk", "STOP")]
    labels = load_annotations(_boris7(tmp_path / "a.csv", rows, fps=30), fps=30)
    assert np.flatnonzero(labels.values[:, 0, 0])[[0, -1]].tolist() == [97, 148]


def test_tsv_and_header_only_exports(tmp_path):
    rows = [(0.1, "m", "walk", "START"), (0.3, "m", "walk", "STOP")]
    tsv = load_annotations(_boris7(tmp_path / "a.tsv", rows, sep="\t"), fps=10)
    plain = load_annotations(_boris7(tmp_path / "b.csv", rows, header=False), fps=10)
    np.testing.assert_array_equal(tsv.values, plain.values)
    assert plain.values[:, 0, 0].astype(int).tolist() == [0, 1, 1]


def test_boris8_tabular_with_several_observations(tmp_path):
    path = tmp_path / "b8.csv"
    header = "Observation id,Media file name,FPS,Subject,Behavior,Behavior type,Time,Modifiers,Comment"
    body = [
        "o1,/data/v1.mp4,10,m,walk,START,0.1,,",
        "o1,/data/v1.mp4,10,m,walk,STOP,0.4,,",
        "o2,C:\\data\\v2.mp4,10,m,walk,START,0.2,,",
        "o2,C:\\data\\v2.mp4,10,m,walk,STOP,0.3,,",
    ]
    path.write_text("\n".join([header, *body]) + "\n")
    assert detect_annotation_format(path) == "boris_tabular"
    with pytest.raises(FileFormatError, match=r"2 observations: 'o1' \(media: v1.mp4\); 'o2' \(media: v2.mp4\)"):
        load_annotations(path, fps=10)
    assert load_annotations(path, fps=10, media="o1").sum().item() == 3
    by_media = load_annotations(path, fps=10, media="v2")  # media file stem
    assert by_media.sum().item() == 1
    assert by_media.attrs["observation_id"] == "o2"


def test_boris_aggregated_export(tmp_path):
    path = tmp_path / "agg.csv"
    header = "Observation id,Media file,FPS,Subject,Behavior,Behavior type,Start (s),Stop (s),Duration (s)"
    rows = ["o,v.mp4,10,m,walk,STATE,0.1,0.4,0.3", "o,v.mp4,10,m,sniff,POINT,0.25,0.25,NA"]
    path.write_text("\n".join([header, *rows]) + "\n")
    assert detect_annotation_format(path) == "boris_aggregated"
    labels = load_annotations(path, fps=10)
    assert labels.sel(behavior="walk").values[:, 0].astype(int).tolist() == [0, 1, 1, 1]
    assert np.flatnonzero(labels.sel(behavior="sniff").values[:, 0]).tolist() == [2]
    assert "point_events" in labels.attrs
    path.write_text("\n".join([header, "o,v.mp4,10,m,walk,STATE,0.1,NA,"]) + "\n")
    with pytest.raises(FileFormatError, match="has no STOP"):
        load_annotations(path, fps=10)


def test_boris_project_toggles_and_unpaired(tmp_path):
    project = {
        "behaviors_conf": {
            "0": {"type": "State event", "code": "walk"},
            "1": {"type": "Point event", "code": "jump"},
            "2": {"type": "State event", "code": "rest"},
        },
        "subjects_conf": {"0": {"name": "a"}, "1": {"name": "b"}},
        "observations": {
            "o1": {"file": {"1": ["v1.mp4"]}, "events": [[0.1, "a", "walk", ""], [0.3, "b", "jump", ""]]},
            "o2": {"file": {"1": ["v2.mp4"]}, "events": [[0.1, "a", "walk", ""], [0.4, "a", "walk", ""]]},
        },
    }
    path = tmp_path / "p.boris"
    path.write_text(json.dumps(project))
    with pytest.raises(FileFormatError, match="holds 2 observations"):
        load_annotations(path, fps=10)
    with pytest.raises(FileFormatError, match=r"START of 'walk' for subject 'a' at 0\.100 s .* has no STOP"):
        load_annotations(path, fps=10, media="o1")
    labels = load_annotations(path, fps=10, media="v2.mp4")
    assert list(labels["behavior"].values) == ["walk", "jump", "rest"]  # ethogram order, unused ones all False
    assert list(labels["individual"].values) == ["a", "b"]
    assert labels.sel(individual="a", behavior="walk").values.astype(int).tolist() == [0, 1, 1, 1]
    assert labels.sum().item() == 3


# --------------------------------------------------------------------------- interval, per-frame and SimBA tables
def test_intervals_in_seconds_and_frames(tmp_path):
    seconds = tmp_path / "s.csv"
    pd.DataFrame(
        {"behavior": ["walk", "rest", "walk"], "start": [0.0, 0.5, 0.8], "stop": [0.3, 0.7, 1.0], "subject": "m"}
    ).to_csv(seconds, index=False)
    frames = tmp_path / "f.csv"
    pd.DataFrame(
        {"label": ["walk", "rest", "walk"], "start_frame": [0, 5, 8], "stop_frame": [3, 7, 10], "animal": "m"}
    ).to_csv(frames, index=False)
    a, b = load_annotations(seconds, fps=10), load_annotations(frames, fps=10)
    assert a.attrs["source_format"] == b.attrs["source_format"] == "intervals"
    assert a.dims == ("time", "individual", "behavior")  # no rater column: no rater dim
    xr.testing.assert_equal(a.drop_attrs(), b.drop_attrs())
    assert a.sel(individual="m", behavior="walk").values.astype(int).tolist() == [1, 1, 1, 0, 0, 0, 0, 0, 1, 1]
    forced = tmp_path / "forced.csv"
    pd.DataFrame({"type": ["walk"], "from": [2], "to": [4]}).to_csv(forced, index=False)
    assert np.flatnonzero(load_annotations(forced, fps=10, time_unit="frames").values[:, 0, 0]).tolist() == [2, 3]
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"type": ["walk"], "from": [0.4], "to": [0.2]}).to_csv(bad, index=False)
    with pytest.raises(FileFormatError, match="line 2: the interval ends"):
        load_annotations(bad, fps=10)


def test_interval_table_with_one_rater_keeps_the_rater_dim(tmp_path):
    path = tmp_path / "r.csv"
    pd.DataFrame({"observer": ["ann"], "behavior": ["walk"], "onset": [0.0], "offset": [0.2]}).to_csv(path, index=False)
    labels = load_annotations(path, fps=10)
    assert labels.dims == ("rater", "time", "individual", "behavior")
    assert list(labels["rater"].values) == ["ann"]


def test_frame_labels_one_label_column(tmp_path):
    path = tmp_path / "labels.csv"
    pd.DataFrame(
        {
            "frame": [0, 1, 2, 3, 0, 1, 2, 3],
            "individual": ["a"] * 4 + ["b"] * 4,
            "behavior": ["walk", "walk", "", "rest", "rest", "", "", "walk"],
        }
    ).to_csv(path, index=False)
    assert detect_annotation_format(path) == "frame_labels"
    labels = load_annotations(path, fps=10)
    assert list(labels["behavior"].values) == ["walk", "rest"]
    assert labels.sel(individual="a", behavior="walk").values.astype(int).tolist() == [1, 1, 0, 0]
    assert labels.sel(individual="b", behavior="walk").values.astype(int).tolist() == [0, 0, 0, 1]
    assert labels.sel(individual="b", behavior="rest").values.astype(int).tolist() == [1, 0, 0, 0]


def test_frame_table_keeps_raters_and_subjects_without_labels(tmp_path):
    data = np.zeros((2, 3, 2, 1), dtype=bool)
    data[0, 1, 0, 0] = True  # only rater "x", individual "a", frame 1
    labels = xr.DataArray(
        data,
        dims=("rater", "time", "individual", "behavior"),
        coords={"rater": ["x", "y"], "time": np.arange(3) / 10, "individual": ["a", "b"], "behavior": ["walk"]},
    )
    labels_to_frame_table(labels).to_csv(tmp_path / "t.csv", index=False)
    back = load_annotations(tmp_path / "t.csv", fps=10)
    assert list(back["rater"].values) == ["x", "y"]
    assert list(back["individual"].values) == ["a", "b"]
    np.testing.assert_array_equal(back.values, data)
    with pytest.raises(FileFormatError, match=r"unknown subject 'b'; the individuals are \['a'\]"):
        load_annotations(tmp_path / "t.csv", fps=10, individuals=["a"])


def test_frame_labels_one_column_per_behavior(tmp_path):
    path = tmp_path / "wide.csv"
    pd.DataFrame({"walk": [1, 1, 0, 0], "groom": [0, 1, 1, 0]}).to_csv(path, index=False)  # no frame column: row order
    labels = load_annotations(path, fps=10, behaviors=["groom", "walk", "rear"])
    assert list(labels["behavior"].values) == ["groom", "walk", "rear"]
    assert labels.sizes["time"] == 4  # a per-frame table sets the length, trailing empty frames included
    assert labels.values[:, 0, :].astype(int).tolist() == [[0, 1, 0], [1, 1, 0], [1, 0, 0], [0, 0, 0]]
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"frame": [0, 1], "walk": [0, 2]}).to_csv(bad, index=False)
    with pytest.raises(FileFormatError, match="line 3: column 'walk' must hold 0/1"):
        load_annotations(bad, fps=10)


def test_simba_target_columns(tmp_path):
    path = tmp_path / "simba.csv"
    table = pd.DataFrame(
        {
            "Nose_1_x": [1.0, 2.0, 3.0],
            "Nose_1_y": [1.0, 2.0, 3.0],
            "Nose_1_p": [1.0, 1.0, 0.0],
            "Movement_flag": [0, 1, 1],
            "Attack": [0, 1, 1],
            "Probability_Attack": [0.1, 0.9, 0.8],
            "Sniffing": [1, 0, 0],
            "Probability_Sniffing": [0.7, 0.2, 0.1],
        }
    )
    table.to_csv(path)  # SimBA writes the frame index as an unnamed first column
    assert detect_annotation_format(path) == "simba"
    labels = load_annotations(path, fps=10, individuals=["mouse"])
    assert list(labels["behavior"].values) == ["Attack", "Sniffing"]  # columns with a Probability_ partner
    assert labels.sel(individual="mouse").values.astype(int).tolist() == [[0, 1], [1, 0], [1, 0]]
    only = load_annotations(path, fps=10, behaviors=["Sniffing"])
    assert list(only["behavior"].values) == ["Sniffing"]  # other columns are features, not unknown behaviors
    targets = tmp_path / "targets.csv"
    table.drop(columns=["Probability_Attack", "Probability_Sniffing"]).to_csv(targets)
    inferred = load_annotations(targets, fps=10)  # without Probability_ columns: every 0/1 non-pose column
    assert list(inferred["behavior"].values) == ["Movement_flag", "Attack", "Sniffing"]


def test_behavior_axis_and_unknown_behaviors(tmp_path):
    path = tmp_path / "i.csv"
    pd.DataFrame({"behavior": ["walk", "jump"], "start": [0.0, 0.2], "stop": [0.2, 0.3]}).to_csv(path, index=False)
    kept = load_annotations(path, fps=10, behaviors=["rest", "walk"])
    assert list(kept["behavior"].values) == ["rest", "walk", "jump"]
    assert not kept.sel(behavior="rest").any()
    dropped = load_annotations(path, fps=10, behaviors=["rest", "walk"], unknown_behaviors="drop")
    assert list(dropped["behavior"].values) == ["rest", "walk"]
    with pytest.raises(FileFormatError, match=r"behavior\(s\) \['jump'\] are not in behaviors"):
        load_annotations(path, fps=10, behaviors=["walk"], unknown_behaviors="error")


def test_bad_arguments_and_files(tmp_path):
    path = _boris7(tmp_path / "a.csv", [(0.1, "m", "walk", "START"), (0.2, "m", "walk", "STOP")])
    with pytest.raises(SchemaError, match="fps"):
        load_annotations(path, fps=None)
    with pytest.raises(ValueError, match="format must be one of"):
        load_annotations(path, fps=10, format="excel")
    with pytest.raises(FileFormatError, match="not found"):
        load_annotations(tmp_path / "missing.csv", fps=10)
    with pytest.raises(SchemaError, match="unique"):
        load_annotations(path, fps=10, behaviors=["walk", "walk"])
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(FileFormatError, match="is empty"):
        load_annotations(empty, fps=10)
    broken = tmp_path / "broken.boris"
    broken.write_text("{not json")
    with pytest.raises(FileFormatError, match="not a BORIS project"):
        load_annotations(broken, fps=10)
    negative = _boris7(tmp_path / "neg.csv", [(-0.5, "m", "walk", "START"), (0.2, "m", "walk", "STOP")])
    with pytest.raises(FileFormatError, match="before 0"):
        load_annotations(negative, fps=10)
    assert set(ANNOTATION_FORMATS) >= {"boris_tabular", "intervals", "simba"}
