"""Known-answer tests of the synthetic data generator and of the BORIS writer it uses."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from behaviorlab.io.annotations import BORIS_COLUMNS, labels_to_bouts, write_boris_csv
from behaviorlab.schema import get_skeleton, validate_poses
from behaviorlab.synthetic.render import _background, render_frames
from behaviorlab.synthetic.sample import SAMPLE_SESSIONS, generate_sample_data
from behaviorlab.synthetic.simulate import BEHAVIORS, KEYPOINTS, SKELETON, SyntheticConfig, simulate_poses

ROOT = Path(__file__).resolve().parents[3]
SAMPLE_DATA = ROOT / "sample_data"
K = {name: i for i, name in enumerate(KEYPOINTS)}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def sample_sims() -> list[tuple[SyntheticConfig, xr.Dataset, xr.DataArray]]:
    """The simulations behind the committed sample sessions (3 animals, 60 s each)."""
    out = []
    for _, cfg, _ in SAMPLE_SESSIONS:
        poses, behavior = simulate_poses(cfg)
        out.append((cfg, poses, behavior))
    return out


def _per_animal(sims):
    for cfg, poses, behavior in sims:
        for ind in poses["individual"].values:
            pos = poses["position"].sel(individual=ind).transpose("time", "keypoint", "space").values
            yield cfg, str(ind), pos, behavior.sel(individual=ind).values


# --------------------------------------------------------------------------- model and config
def test_simulate_poses_schema():
    cfg = SyntheticConfig(duration_s=2, n_animals=2, seed=5)
    poses, behavior = simulate_poses(cfg)
    validate_poses(poses)
    assert poses["position"].shape == (60, 2, len(KEYPOINTS), 2)
    assert poses.attrs["fps"] == 30.0
    assert poses.attrs["source_software"] == "behaviorlab.synthetic.sample"
    assert get_skeleton(poses) == SKELETON
    assert len(SKELETON.keypoints) >= 8
    assert SKELETON.symmetry
    assert np.all(poses["confidence"].values == 1.0)
    assert behavior.dims == ("time", "individual")
    assert set(np.unique(behavior.values)) <= set(BEHAVIORS)
    assert list(poses["individual"].values) == ["mouse1", "mouse2"]


@pytest.mark.parametrize(
    "kwargs",
    [{"fps": 0}, {"n_animals": 0}, {"width": 32}, {"animal_length_px": 200}, {"n_animals": 2, "speed_scale": (1.0,)}],
)
def test_config_rejects_bad_values(kwargs):
    with pytest.raises(ValueError, match="SyntheticConfig"):
        SyntheticConfig(**kwargs)


# --------------------------------------------------------------------------- determinism
def test_same_seed_same_poses_and_video_bytes(tmp_path):
    from behaviorlab.io.video_write import write_video

    cfg = SyntheticConfig(duration_s=3, n_animals=2, seed=11)
    a, beh_a = simulate_poses(cfg)
    b, beh_b = simulate_poses(cfg)
    np.testing.assert_array_equal(a["position"].values, b["position"].values)
    np.testing.assert_array_equal(beh_a.values, beh_b.values)
    v1 = write_video(tmp_path / "a.mp4", render_frames(a, cfg), cfg.fps)
    v2 = write_video(tmp_path / "b.mp4", render_frames(b, cfg), cfg.fps)
    assert v1.read_bytes() == v2.read_bytes()

    other = SyntheticConfig(duration_s=3, n_animals=2, seed=12)
    c, _ = simulate_poses(other)
    assert not np.allclose(a["position"].values, c["position"].values)
    assert not np.array_equal(next(render_frames(a, cfg)), next(render_frames(c, other)))


def _decoded(path: Path) -> np.ndarray:
    from behaviorlab.io.video import VideoReader

    with VideoReader(path, grayscale=True) as video:
        return video[:]


@pytest.mark.slow
def test_regenerates_committed_sample_data_bit_for_bit(sample_data, tmp_path):
    import av

    manifest = json.loads((sample_data / "MANIFEST.json").read_text())
    out = generate_sample_data(tmp_path / "sample_data")
    installed_ffmpeg = {k: ".".join(str(x) for x in v) for k, v in sorted(av.library_versions.items())}
    same_encoder = manifest["versions"]["ffmpeg"] == installed_ffmpeg
    problems = []
    for name, entry in manifest["files"].items():
        new = out / name
        assert new.is_file(), f"regeneration did not write {name}"
        if _sha256(new) == entry["sha256"]:
            continue
        old = sample_data / name
        if name.endswith(".mp4") and not same_encoder:
            frames_old, frames_new = _decoded(old), _decoded(new)
            diff = np.abs(frames_old.astype(int) - frames_new.astype(int)).mean()
            if frames_old.shape == frames_new.shape and diff < 1.0:
                continue
            problems.append(
                f"{name}: FFmpeg differs from the manifest's ({manifest['versions']['ffmpeg']} vs {installed_ffmpeg}), "
                f"so decoded frames were compared instead of bytes: mean abs difference {diff:.3f}"
            )
        elif name.endswith(".labels.h5") and not same_encoder:
            continue  # its images are decoded from the videos, checked above
        else:
            problems.append(f"{name}: sha256 differs from MANIFEST.json")
    assert not problems, "regenerated sample data differs:\n" + "\n".join(problems)
    new_manifest = json.loads((out / "MANIFEST.json").read_text())
    assert new_manifest["sessions"] == manifest["sessions"]
    assert new_manifest["command"] == "behaviorlab sample-data --out sample_data"


# --------------------------------------------------------------------------- rendering
def test_keypoints_sit_on_the_rendered_animal():
    cfg = SyntheticConfig(duration_s=8, n_animals=2, seed=21)
    poses, _ = simulate_poses(cfg)
    pos = poses["position"].transpose("time", "individual", "keypoint", "space").values
    background = _background(cfg)
    x0, y0, x1, y1 = cfg.arena_box
    floor = background[int(y0) + 8 : int(y1) - 8, int(x0) + 8 : int(x1) - 8]
    threshold = floor.min() - 15  # the darkest floor pixel, with margin for sensor noise
    assert threshold > 120
    checked = {k: [] for k in ("nose", "neck", "spine", "tail_base", "tail_tip", "ear_left", "forepaw_right")}
    for t, frame in enumerate(render_frames(poses, cfg)):
        if t % 4:
            continue
        assert frame.shape == (cfg.height, cfg.width)
        assert frame.dtype == np.uint8
        for kp in pos[t]:
            for name, values in checked.items():
                x, y = np.rint(kp[K[name]]).astype(int)
                values.append(frame[y, x])
    for name, values in checked.items():
        values = np.asarray(values)
        assert np.all(values < threshold), f"{name}: {np.sum(values >= threshold)} of {len(values)} not on the animal"


def test_render_light_animal_and_missing_keypoints():
    cfg = SyntheticConfig(duration_s=1, seed=3, dark_animal=False, noise_sigma=0)
    poses, _ = simulate_poses(cfg)
    frame = next(render_frames(poses, cfg))
    x, y = np.rint(poses["position"].isel(time=0, individual=0).sel(keypoint="spine").values).astype(int)
    assert frame[y, x] > 180 > np.median(frame)
    gone = poses.copy(deep=True)
    gone["position"][:] = np.nan
    empty = next(render_frames(gone, cfg))
    np.testing.assert_array_equal(empty, np.clip(np.rint(_background(cfg)), 0, 255).astype(np.uint8))


# --------------------------------------------------------------------------- kinematics
def _speed_cm_s(pos: np.ndarray, cfg: SyntheticConfig) -> np.ndarray:
    step = np.linalg.norm(np.diff(pos[:, K["spine"]], axis=0), axis=1)
    return np.r_[np.nan, step] * cfg.fps / cfg.px_per_cm


def _heading_rate(pos: np.ndarray, cfg: SyntheticConfig) -> np.ndarray:
    axis = pos[:, K["neck"]] - pos[:, K["tail_base"]]
    heading = np.unwrap(np.arctan2(axis[:, 1], axis[:, 0]))
    return np.r_[np.nan, np.abs(np.diff(heading))] * cfg.fps


def test_every_behavior_appears_and_animals_stay_in_the_arena(sample_sims):
    for cfg, ind, pos, beh in _per_animal(sample_sims):
        assert set(beh) == set(BEHAVIORS), f"{ind}: missing {set(BEHAVIORS) - set(beh)}"
        x0, y0, x1, y1 = cfg.arena_box
        assert np.all((pos[..., 0] >= x0) & (pos[..., 0] <= x1) & (pos[..., 1] >= y0) & (pos[..., 1] <= y1))
        step = np.linalg.norm(np.diff(pos, axis=0), axis=-1)
        assert step[:, : K["tail_base"] + 1].max() < 0.3 * cfg.animal_length_px, f"{ind}: a keypoint jumps"


def test_speed_ranks_run_walk_rest_groom(sample_sims):
    for cfg, ind, pos, beh in _per_animal(sample_sims):
        speed = _speed_cm_s(pos, cfg)
        mean = {b: np.nanmean(speed[beh == b]) for b in BEHAVIORS}
        assert mean["run"] > 1.5 * mean["walk"], (ind, mean)
        assert 3.0 < mean["walk"] < 11.0, (ind, mean)
        assert mean["walk"] > 5 * max(mean["rest"], mean["groom"]), (ind, mean)
        assert mean["rest"] < 1.0, (ind, mean)
        assert mean["groom"] < 1.0, (ind, mean)


def test_turn_is_fast_rotation_at_low_speed(sample_sims):
    for cfg, ind, pos, beh in _per_animal(sample_sims):
        rate, speed = _heading_rate(pos, cfg), _speed_cm_s(pos, cfg)
        turn, walk = beh == "turn", beh == "walk"
        assert np.nanmean(rate[turn]) > 2.0, ind  # rad/s
        assert np.nanmean(rate[turn]) > 1.4 * np.nanmean(rate[walk]), ind
        assert np.nanmean(speed[turn]) < 0.5 * np.nanmean(speed[walk]), ind


def test_rear_shortens_the_body(sample_sims):
    for _, ind, pos, beh in _per_animal(sample_sims):
        length = np.linalg.norm(pos[:, K["nose"]] - pos[:, K["tail_base"]], axis=1)
        assert np.median(length[beh == "rear"]) < 0.85 * np.median(length[beh == "rest"]), ind


def _bouts(beh: np.ndarray, name: str, min_frames: int) -> list[slice]:
    bouts = labels_to_bouts(beh)
    rows = bouts[(bouts["behavior"] == name) & (bouts["n_frames"] >= min_frames)]
    return [slice(int(a) + 6, int(b)) for a, b in zip(rows["start_frame"], rows["stop_frame"], strict=True)]


def _peak_hz(signal: np.ndarray, fps: float, low_hz: float = 0.5) -> float:
    signal = signal - signal.mean()
    n = 4 * len(signal)  # zero padding for a finer frequency grid
    power = np.abs(np.fft.rfft(signal * np.hanning(len(signal)), n)) ** 2
    freqs = np.fft.rfftfreq(n, 1 / fps)
    band = freqs > low_hz
    return float(freqs[band][np.argmax(power[band])])


def test_groom_has_a_few_hz_rhythm_of_paws_and_head(sample_sims):
    peaks = []
    for cfg, _, pos, beh in _per_animal(sample_sims):
        for bout in _bouts(beh, "groom", 45):
            p = pos[bout]
            paw = np.linalg.norm(p[:, K["forepaw_left"]] - p[:, K["spine"]], axis=1)
            head = np.linalg.norm(p[:, K["nose"]] - p[:, K["spine"]], axis=1)
            peaks.append((_peak_hz(paw, cfg.fps), _peak_hz(head, cfg.fps)))
    assert len(peaks) >= 3
    peaks = np.asarray(peaks)
    assert np.all((peaks > 3.0) & (peaks < 7.0)), peaks


def test_gait_oscillates_at_the_stride_frequency(sample_sims):
    """Lateral nose sway and fore-aft paw swing peak at 3-4.5 Hz in walk and faster in run (above steering)."""
    peaks = {"walk": [], "run": []}
    for cfg, _, pos, beh in _per_animal(sample_sims):
        for name, found in peaks.items():
            for bout in _bouts(beh, name, 45):
                p = pos[bout]
                axis = p[:, K["spine"]] - p[:, K["tail_base"]]
                axis /= np.linalg.norm(axis, axis=1, keepdims=True)
                rel = p[:, K["nose"]] - p[:, K["spine"]]
                lateral = axis[:, 0] * rel[:, 1] - axis[:, 1] * rel[:, 0]
                swing = ((p[:, K["forepaw_left"]] - p[:, K["spine"]]) * axis).sum(axis=1)
                found.append((_peak_hz(lateral, cfg.fps, 1.5), _peak_hz(swing, cfg.fps, 1.5)))
    walk, run = np.asarray(peaks["walk"]), np.asarray(peaks["run"])
    assert len(walk) >= 5
    assert len(run) >= 2
    assert np.all((walk > 2.5) & (walk < 5.0)), walk
    assert np.median(run) > np.median(walk) + 0.5, (run, walk)


def test_treated_animal_is_slower(sample_sims):
    speeds = {}
    for (name, cfg, _), (_, poses, behavior) in zip(SAMPLE_SESSIONS, sample_sims, strict=True):
        for ind, scale in zip(cfg.individual_names, cfg.speed_scales, strict=True):
            pos = poses["position"].sel(individual=ind).transpose("time", "keypoint", "space").values
            speed = _speed_cm_s(pos, cfg)
            speeds[(name, ind)] = (scale, np.nanmean(speed[behavior.sel(individual=ind).values == "walk"]))
    slow = [v for s, v in speeds.values() if s < 1]
    fast = [v for s, v in speeds.values() if s == 1]
    assert slow
    assert fast
    assert max(slow) < min(fast)


# --------------------------------------------------------------------------- annotations
def test_labels_to_bouts_known_answer():
    labels = xr.DataArray(
        np.array([["rest", "walk"], ["rest", "walk"], ["walk", ""], ["walk", "walk"], [None, "walk"]], dtype=object),
        dims=("time", "individual"),
        coords={"individual": ["a", "b"]},
    )
    bouts = labels_to_bouts(labels, fps=10)
    assert bouts[["subject", "behavior", "start_frame", "stop_frame"]].values.tolist() == [
        ["a", "rest", 0, 2],
        ["a", "walk", 2, 4],
        ["b", "walk", 0, 2],
        ["b", "walk", 3, 5],
    ]
    np.testing.assert_allclose(bouts["start_s"], [0.0, 0.2, 0.0, 0.3])
    np.testing.assert_allclose(bouts["duration_s"], [0.2, 0.2, 0.2, 0.2])


def _read_boris(path: Path) -> tuple[list[list[str]], pd.DataFrame]:
    text = path.read_bytes().decode("utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    header = next(i for i, r in enumerate(rows) if r and r[0] == "Time")
    table = pd.read_csv(io.StringIO(text), skiprows=header, keep_default_na=False)
    return rows[:header], table


def test_write_boris_csv_format_and_point_events(tmp_path):
    events = pd.DataFrame(
        {
            "time": [1.0, 0.5, 2.0, 1.0],
            "subject": ["m", "m", "m", "m"],
            "behavior": ["sniff", "walk", "walk", "walk"],
            "status": ["POINT", "START", "STOP", "STOP"],
        }
    ).iloc[[1, 3, 0]]
    path = write_boris_csv(events, tmp_path / "e.csv", fps=25, media_file="v.mp4", observation_id="obs1")
    raw = path.read_bytes()
    assert raw.count(b"\r\n") == raw.count(b"\n")  # CRLF like BORIS
    meta, table = _read_boris(path)
    assert meta[0][:2] == ["Observation id", "obs1"]
    assert meta[4][:2] == ["Player #1", "v.mp4"]
    assert all(len(r) == len(BORIS_COLUMNS) for r in meta)
    assert tuple(table.columns) == BORIS_COLUMNS
    assert table["Status"].tolist() == ["START", "STOP", "POINT"]  # STOP before POINT at equal times
    assert table["FPS"].tolist() == [25.0] * 3


def test_boris_csv_of_the_sample_matches_the_labels(sample_data):
    for name, cfg, _ in SAMPLE_SESSIONS:
        labels = pd.read_csv(sample_data / f"{name}_labels.csv", keep_default_na=False)
        assert list(labels.columns) == ["frame", "time_s", "individual", "behavior"]
        assert len(labels) == cfg.n_frames * cfg.n_animals
        bouts = labels_to_bouts(labels, fps=cfg.fps)
        meta, table = _read_boris(sample_data / f"{name}_boris.csv")
        assert meta[0][1] == name
        starts, stops = table[table["Status"] == "START"], table[table["Status"] == "STOP"]
        assert len(starts) == len(bouts) == len(stops)
        for subject, group in bouts.groupby("subject"):
            s = starts[starts["Subject"] == subject].sort_values("Time", kind="mergesort")
            e = stops[stops["Subject"] == subject].sort_values("Time", kind="mergesort")
            assert s["Behavior"].tolist() == group["behavior"].tolist()
            np.testing.assert_array_equal(np.rint(s["Time"].to_numpy() * cfg.fps), group["start_frame"])
            np.testing.assert_array_equal(np.rint(e["Time"].to_numpy() * cfg.fps), group["stop_frame"])
            assert e["Behavior"].tolist() == group["behavior"].tolist()
        assert np.allclose(table["Total length"], cfg.duration_s)


def test_sample_data_contents(sample_data, sample_sims):
    from behaviorlab.io.labeled_frames import load_labeled_frames
    from behaviorlab.io.load import load_poses

    manifest = json.loads((sample_data / "MANIFEST.json").read_text())
    assert manifest["command"] == "behaviorlab sample-data --out sample_data"
    total = sum(entry["bytes"] for entry in manifest["files"].values())
    assert total < 12e6, f"sample data is {total / 1e6:.1f} MB"
    for (name, _, _), (_, poses, _) in zip(SAMPLE_SESSIONS, sample_sims, strict=True):
        saved = load_poses(sample_data / f"{name}_poses.nc")
        np.testing.assert_array_equal(saved["position"].values, poses["position"].values)
        dlc = load_poses(sample_data / f"{name}_poses_dlc.csv", fps=30)
        np.testing.assert_allclose(dlc["position"].values, poses["position"].values, atol=1e-3)
    frames = load_labeled_frames(sample_data / "labeled_frames.labels.h5")
    assert 100 <= len(frames) <= 140
    assert {s.split(".mp4")[0] for s in frames.sources} == {"session_a", "session_b"}
    assert frames.images[0].shape == (256, 256, 1)
    assert frames.skeleton == SKELETON
    metadata = pd.read_csv(sample_data / "metadata.csv")
    assert set(metadata["group"]) == {"control", "treated"}
    assert {"session", "subject", "group", "condition"} <= set(metadata.columns)


def test_long_video_repeats_one_rendered_cycle(tmp_path):
    from behaviorlab.io.video import VideoReader
    from behaviorlab.synthetic.sample import write_long_video

    path, poses = write_long_video(tmp_path / "long.mp4", 0.1, width=160, height=120, cycle_s=1.0, seed=3, crf=0)
    assert poses.sizes["time"] == 30
    with VideoReader(path, grayscale=True) as video:
        assert (len(video), video.width, video.height) == (180, 160, 120)  # 6 s at 30 fps
        frames = video[[5, 35, 65, 6]]
    # frame t shows cycle frame t % 30 (lossless here: exactly)
    np.testing.assert_array_equal(frames[0], frames[1])
    np.testing.assert_array_equal(frames[0], frames[2])
    assert (frames[0] != frames[3]).any()
    config = SyntheticConfig(duration_s=1.0, seed=3, width=160, height=120, animal_length_px=48.0 * 120 / 256)
    rendered = list(render_frames(simulate_poses(config)[0], config))[5]
    np.testing.assert_allclose(frames[0][..., 0], rendered, atol=1)  # gray <-> YUV range conversion: +-1
    # the mouse is scaled with the frame: 48 px long at 256 px, so 22.5 px at 120 px
    length = np.linalg.norm(
        poses["position"].sel(keypoint="nose").values - poses["position"].sel(keypoint="tail_base").values, axis=1
    )
    assert 15 < np.median(length) < 26
