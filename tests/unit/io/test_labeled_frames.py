"""Labeled training frames: the LabeledFrames object, our HDF5 file, DeepLabCut, SLEAP and DeepPoseKit."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import attrs
import h5py
import imageio.v3 as iio
import numpy as np
import pandas as pd
import pytest

from behaviorlab.errors import FileFormatError, SchemaError
from behaviorlab.io.labeled_frames import (
    LabeledFrames,
    load_labeled_frames,
    save_labeled_frames,
    to_deepposekit_h5,
    to_dlc_project,
    to_sleap_package,
)
from behaviorlab.schema import Skeleton, validate_poses

SKELETON = Skeleton(
    ["nose", "ear_l", "ear_r", "tail"],
    edges=[("nose", "ear_l"), ("nose", "ear_r"), ("nose", "tail")],
    symmetry=[("ear_l", "ear_r")],
    name="mouse",
)


def make_frames(n=6, individuals=("mouse",), sizes=((30, 40), (24, 36)), channels=3, seed=0) -> LabeledFrames:
    """Random images of two sizes; NaN for one keypoint, a whole keypoint column and a fully unlabeled frame."""
    rng = np.random.default_rng(seed)
    images = [rng.integers(0, 256, (*sizes[i % len(sizes)], channels), dtype=np.uint8) for i in range(n)]
    keypoints = rng.uniform(0, 20, (n, len(individuals), SKELETON.n_keypoints, 2))
    keypoints[0, 0, 1] = np.nan
    keypoints[min(2, n - 1), :, 3] = np.nan
    keypoints[n - 1] = np.nan
    if len(individuals) > 1 and n > 3:
        keypoints[3, 1] = np.nan
    sources = [f"labeled-data/session{i % 2}/img{i:04d}.png" for i in range(n)]
    return LabeledFrames(images, keypoints, SKELETON, individuals, sources)


def assert_frames_equal(a: LabeledFrames, b: LabeledFrames, *, sources: bool = True) -> None:
    assert len(a) == len(b)
    for i, (x, y) in enumerate(zip(a.images, b.images, strict=True)):
        assert x.shape == y.shape, f"frame {i}"
        np.testing.assert_array_equal(x, y, err_msg=f"frame {i}")
    np.testing.assert_array_equal(a.keypoints, b.keypoints)  # NaN pattern included
    assert a.skeleton == b.skeleton
    assert a.individuals == b.individuals
    if sources:
        assert a.sources == b.sources


@pytest.fixture(scope="module")
def openfield(shared_data: Path) -> LabeledFrames:
    return load_labeled_frames(shared_data / "dlc-openfield" / "labeled-data" / "m4s1" / "CollectedData_Pranav.csv")


# --------------------------------------------------------------------------- the object
def test_construction_defaults_and_queries():
    frames = make_frames()
    assert len(frames) == 6
    assert frames.n_individuals == 1
    assert frames.n_keypoints == 4
    assert frames.image_shapes.tolist()[:2] == [[30, 40, 3], [24, 36, 3]]
    assert frames.is_labeled().shape == (6, 1, 4)
    assert frames.is_labeled()[0, 0].tolist() == [True, False, True, True]
    assert frames.labeled_mask().tolist() == [True, True, True, True, True, False]
    bare = LabeledFrames(frames.images, frames.keypoints, SKELETON)
    assert bare.individuals == ("id_0",)
    assert bare.sources == tuple(f"frame_{i}" for i in range(6))
    assert "n_frames=6" in repr(frames)


def test_inputs_are_not_mutated_and_stored_read_only():
    images = [np.zeros((4, 5, 1), np.uint8)]
    keypoints = np.ones((1, 1, 4, 2), np.float32)
    frames = LabeledFrames(images, keypoints, SKELETON)
    assert frames.keypoints.dtype == np.float64
    assert images[0].flags.writeable
    assert keypoints.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        frames.images[0][0, 0, 0] = 1
    with pytest.raises(ValueError, match="read-only"):
        frames.keypoints[0, 0, 0, 0] = 5
    keypoints[...] = 7  # the object holds its own copy
    assert frames.keypoints[0, 0, 0, 0] == 1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"keypoints": np.zeros((2, 1, 4, 2))}, "2 frames .* 3 images"),
        ({"keypoints": np.zeros((3, 1, 5, 2))}, "5 keypoints .* skeleton has 4"),
        ({"keypoints": np.zeros((3, 4, 2))}, "shape \\(n_frames, n_individuals, n_keypoints, 2\\)"),
        ({"keypoints": np.zeros((3, 1, 4, 2), dtype=np.int64)}, "floating-point .* int64"),
        ({"images": [np.zeros((4, 4, 1), np.float32)] * 3}, "dtype uint8, got float32"),
        ({"images": [np.zeros((4, 4), np.uint8)] * 3}, "add a channel axis"),
        ({"images": [np.zeros((4, 4, 1), np.uint8), np.zeros((4, 4, 3), np.uint8)] * 2}, None),
        (
            {"images": [np.zeros((4, 4, 1), np.uint8), np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4, 3), np.uint8)]},
            "same number of channels",
        ),
        ({"individuals": ["a", "b"]}, "2 individual names for 1"),
        ({"sources": ["x", "x", "y"]}, "duplicate source names: \\['x'\\]"),
        ({"skeleton": ["a"]}, "behaviorlab Skeleton"),
    ],
)
def test_construction_errors(kwargs, match):
    args = {
        "images": [np.zeros((4, 4, 1), np.uint8)] * 3,
        "keypoints": np.zeros((3, 1, 4, 2)),
        "skeleton": SKELETON,
        "individuals": None,
        "sources": None,
    }
    args.update(kwargs)
    with pytest.raises(SchemaError, match=match):
        LabeledFrames(**args)


def test_half_missing_and_infinite_keypoints_are_rejected():
    kp = np.zeros((1, 1, 4, 2))
    kp[0, 0, 2, 0] = np.nan
    with pytest.raises(SchemaError, match=r"NaN together; frame 0 .* keypoint 'ear_r'"):
        LabeledFrames([np.zeros((2, 2, 1), np.uint8)], kp, SKELETON)
    kp[0, 0, 2, 0] = np.inf
    with pytest.raises(SchemaError, match="infinite"):
        LabeledFrames([np.zeros((2, 2, 1), np.uint8)], kp, SKELETON)


def test_select_concat_and_concatenate():
    frames = make_frames()
    picked = frames.select([3, -1, 0])
    assert picked.sources == (frames.sources[3], frames.sources[5], frames.sources[0])
    np.testing.assert_array_equal(picked.keypoints, frames.keypoints[[3, 5, 0]])
    assert picked.images[0] is not frames.images[3]  # a view, sharing memory
    assert np.shares_memory(picked.images[0], frames.images[3])
    assert len(frames.select(frames.labeled_mask())) == 5
    assert len(frames.select(slice(1, 3))) == 2
    with pytest.raises(SchemaError, match="cannot select"):
        frames.select([10])
    joined = frames.select([0, 1]).concat(frames.select([2]))
    assert_frames_equal(joined, frames.select([0, 1, 2]))
    assert_frames_equal(LabeledFrames.concatenate([frames.select([i]) for i in range(6)]), frames)
    with pytest.raises(SchemaError, match="duplicate source"):
        frames.concat(frames.select([0]))
    other = attrs.evolve(frames, skeleton=Skeleton(SKELETON.keypoints))
    with pytest.raises(SchemaError, match="different skeletons"):
        frames.concat(other)
    with pytest.raises(SchemaError, match="different individuals"):
        frames.concat(attrs.evolve(frames, individuals=["rat"]))
    with pytest.raises(SchemaError, match="at least one"):
        LabeledFrames.concatenate([])


def test_merge_replaces_by_source_and_appends_new_frames():
    frames = make_frames(n=4)
    before = frames.keypoints.copy()
    corrected_kp = np.full((2, 1, 4, 2), 5.0)
    new_image = np.full((10, 10, 3), 9, np.uint8)
    corrected = LabeledFrames(
        [new_image, new_image], corrected_kp, SKELETON, ["mouse"], [frames.sources[2], "video.mp4#frame=77"]
    )
    merged = frames.merge(corrected)
    assert len(merged) == 5
    assert merged.sources == (*frames.sources, "video.mp4#frame=77")
    np.testing.assert_array_equal(merged.keypoints[2], corrected_kp[0])
    np.testing.assert_array_equal(merged.keypoints[4], corrected_kp[1])
    np.testing.assert_array_equal(merged.keypoints[[0, 1, 3]], before[[0, 1, 3]])
    np.testing.assert_array_equal(merged.images[2], new_image)
    np.testing.assert_array_equal(frames.keypoints, before)  # the input is untouched
    assert frames.images[2].shape == (30, 40, 3)
    with pytest.raises(SchemaError, match="different individuals"):
        frames.merge(attrs.evolve(corrected, individuals=["rat"]))


def test_to_poses_and_grayscale():
    frames = make_frames(individuals=("a", "b"))
    ds = frames.to_poses()
    validate_poses(ds)
    assert ds["position"].dims == ("time", "space", "keypoint", "individual")
    assert ds["time"].values.tolist() == list(range(6))
    assert ds.attrs["time_unit"] == "frames"
    np.testing.assert_array_equal(ds["position"].sel(space="x").values, frames.keypoints[..., 0].transpose(0, 2, 1))
    assert np.isnan(ds["confidence"].values[5]).all()
    assert ds["confidence"].values[0, 0, 0] == 1.0
    assert json.loads(ds.attrs["frame_sources"]) == list(frames.sources)
    assert Skeleton.from_json(ds.attrs["skeleton"]) == SKELETON
    gray = frames.to_grayscale()
    assert {img.shape[2] for img in gray.images} == {1}
    rgb = np.stack([np.arange(12, dtype=np.uint8).reshape(3, 4)] * 3, axis=-1)
    same = LabeledFrames([rgb], np.zeros((1, 1, 4, 2)), SKELETON).to_grayscale()
    np.testing.assert_array_equal(same.images[0][..., 0], rgb[..., 0])  # equal channels: exact


# --------------------------------------------------------------------------- our file
def test_behaviorlab_file_round_trip(tmp_path):
    frames = make_frames(individuals=("a", "b"))
    path = save_labeled_frames(frames, tmp_path / "set.labels.h5")
    assert_frames_equal(load_labeled_frames(path), frames)
    with h5py.File(path) as f:
        assert f.attrs["format"] == "behaviorlab.labeled_frames"
        assert f.attrs["format_version"] == 1
        assert f["keypoints"].shape == (6, 2, 4, 2)
        assert f["images/data"].size == sum(img.size for img in frames.images)
    assert list(tmp_path.iterdir()) == [path]  # the atomic write left no temporary file
    empty = frames.select([])
    empty_back = load_labeled_frames(save_labeled_frames(empty, tmp_path / "empty.labels.h5"))
    assert len(empty_back) == 0
    assert empty_back.labeled_mask().shape == (0,)
    assert empty_back.individuals == ("a", "b")


@pytest.mark.shared_data
def test_behaviorlab_file_round_trip_of_real_frames(openfield, tmp_path):
    subset = openfield.select(slice(0, None, 4))
    path = save_labeled_frames(subset, tmp_path / "openfield.labels.h5")
    assert_frames_equal(load_labeled_frames(path, source="behaviorlab"), subset)


# --------------------------------------------------------------------------- DeepLabCut
@pytest.mark.shared_data
def test_load_dlc_openfield_matches_pandas(openfield, shared_data):
    csv_path = shared_data / "dlc-openfield" / "labeled-data" / "m4s1" / "CollectedData_Pranav.csv"
    df = pd.read_csv(csv_path, header=[0, 1, 2], index_col=0)
    assert len(openfield) == 116
    assert openfield.skeleton.keypoints == ("snout", "leftear", "rightear", "tailbase")
    assert openfield.individuals == ("id_0",)
    assert set(map(tuple, openfield.image_shapes.tolist())) == {(480, 640, 3)}
    np.testing.assert_array_equal(openfield.keypoints.reshape(116, -1), df.to_numpy())
    assert list(openfield.sources) == list(df.index)
    first = iio.imread(shared_data / "dlc-openfield" / "labeled-data" / "m4s1" / "img0000.png")
    np.testing.assert_array_equal(openfield.images[0], first)
    gray = load_labeled_frames(csv_path, grayscale=True)
    np.testing.assert_array_equal(gray.images[0][..., 0], first[..., 0])


@pytest.mark.shared_data
@pytest.mark.parametrize("which", ["h5", "config", "project"])
def test_dlc_h5_config_and_folder_agree_with_csv(openfield, shared_data, which):
    root = shared_data / "dlc-openfield"
    path = {
        "h5": root / "labeled-data" / "m4s1" / "CollectedData_Pranav.h5",
        "config": root / "config.yaml",
        "project": root,
    }[which]
    frames = load_labeled_frames(path)
    np.testing.assert_array_equal(frames.keypoints, openfield.keypoints)
    assert frames.sources == openfield.sources
    np.testing.assert_array_equal(frames.images[-1], openfield.images[-1])


@pytest.mark.shared_data
def test_load_lightning_pose_mirror_mouse_keeps_nans(shared_data):
    root = shared_data / "lp-mirror-mouse"
    frames = load_labeled_frames(root / "CollectedData.csv")
    df = pd.read_csv(root / "CollectedData.csv", header=[0, 1, 2], index_col=0)
    assert len(list((root / "labeled-data").glob("*.png"))) == 93
    assert len(frames) == 90
    assert frames.n_keypoints == 17
    assert set(map(tuple, frames.image_shapes.tolist())) == {(406, 396, 1)}
    np.testing.assert_array_equal(frames.keypoints.reshape(90, -1), df.to_numpy())
    missing = np.isnan(frames.keypoints).mean()
    assert 0.08 < missing < 0.095
    assert frames.labeled_mask().all()


def _write_dlc_csv(path: Path, rows: dict[str, list[float]], bodyparts: list[str], *, three_index_columns: bool):
    path.parent.mkdir(parents=True, exist_ok=True)
    pad = ["", ""] if three_index_columns else []
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["scorer", *pad, *["me"] * (2 * len(bodyparts))])
        writer.writerow(["bodyparts", *pad, *[b for b in bodyparts for _ in "xy"]])
        writer.writerow(["coords", *pad, *["x", "y"] * len(bodyparts)])
        for image, values in rows.items():
            index = image.split("/") if three_index_columns else [image]
            writer.writerow([*index, *["" if np.isnan(v) else v for v in values]])


def test_dlc_project_with_two_image_sizes_and_index_styles(tmp_path):
    rng = np.random.default_rng(1)
    big, small = rng.integers(0, 256, (48, 64, 3), np.uint8), rng.integers(0, 256, (20, 30, 3), np.uint8)
    for rel, img in [("a/img1.png", big), ("a/img2.png", small), ("b/img7.png", small)]:
        (tmp_path / "labeled-data" / rel).parent.mkdir(parents=True, exist_ok=True)
        iio.imwrite(tmp_path / "labeled-data" / rel, img)
    _write_dlc_csv(
        tmp_path / "labeled-data" / "a" / "CollectedData_me.csv",
        {"labeled-data/a/img1.png": [1.5, 2.5, np.nan, np.nan], "labeled-data/a/img2.png": [3.0, 4.0, 5.0, 6.0]},
        ["head", "tail"],
        three_index_columns=False,
    )
    _write_dlc_csv(  # newer DeepLabCut: the image path split over three index columns, bodyparts in another order
        tmp_path / "labeled-data" / "b" / "CollectedData_me.csv",
        {"labeled-data/b/img7.png": [7.0, 8.0, 9.0, 10.0]},
        ["tail", "head"],
        three_index_columns=True,
    )
    (tmp_path / "config.yaml").write_text(
        "Task: t\nscorer: me\nmultianimalproject: false\nbodyparts:\n- head\n- tail\nskeleton:\n- [head, tail]\n"
    )
    frames = load_labeled_frames(tmp_path / "config.yaml")
    assert frames.sources == ("labeled-data/a/img1.png", "labeled-data/a/img2.png", "labeled-data/b/img7.png")
    assert frames.image_shapes.tolist() == [[48, 64, 3], [20, 30, 3], [20, 30, 3]]
    np.testing.assert_array_equal(frames.images[0], big)
    assert frames.skeleton == Skeleton(["head", "tail"], edges=[("head", "tail")], name="t")
    expected = np.array([[[1.5, 2.5], [np.nan, np.nan]], [[3, 4], [5, 6]], [[9, 10], [7, 8]]])
    np.testing.assert_array_equal(frames.keypoints[:, 0], expected)
    # a labeled-data subfolder on its own, images found from the project root
    one = load_labeled_frames(tmp_path / "labeled-data" / "b")
    np.testing.assert_array_equal(one.keypoints[0, 0], [[7, 8], [9, 10]])


def test_dlc_machine_labels_with_windows_paths_and_likelihood(tmp_path):
    folder = tmp_path / "labeled-data" / "v"
    folder.mkdir(parents=True)
    images = {name: np.full((6, 8, 3), i, np.uint8) for i, name in enumerate(["0.png", "1.png"])}
    for name, img in images.items():
        iio.imwrite(folder / name, img)
    columns = pd.MultiIndex.from_product(
        [["me"], ["tail", "head"], ["x", "y", "likelihood"]], names=["scorer", "bodyparts", "coords"]
    )
    index = pd.Index(["labeled-data\\v\\0.png", "labeled-data\\v\\1.png"])  # written on Windows
    values = np.array([[1.0, 2.0, 0.9, 3.0, 4.0, 0.8], [5.0, 6.0, 0.7, np.nan, np.nan, 0.1]])
    pd.DataFrame(values, index=index, columns=columns).to_csv(folder / "CollectedData_me.csv")
    for name in ("CollectedData_me.csv", "CollectedData_me.h5"):
        if name.endswith(".h5"):
            (folder / "CollectedData_me.csv").rename(tmp_path / "kept.csv")
            pd.DataFrame(values, index=index, columns=columns).to_hdf(folder / name, key="df_with_missing")
        frames = load_labeled_frames(folder / name)
        assert frames.sources == ("labeled-data/v/0.png", "labeled-data/v/1.png")
        assert frames.skeleton.keypoints == ("tail", "head")  # file order, not alphabetical
        assert frames.individuals == ("id_0",)
        np.testing.assert_array_equal(frames.keypoints[:, 0], [[[1, 2], [3, 4]], [[5, 6], [np.nan, np.nan]]])
        np.testing.assert_array_equal(frames.images[1], images["1.png"])  # RGB kept


@pytest.mark.shared_data
def test_dlc_round_trip_of_real_frames(openfield, tmp_path):
    subset = openfield.select(slice(0, None, 4))
    ours = load_labeled_frames(save_labeled_frames(subset, tmp_path / "of.labels.h5"))
    config = to_dlc_project(ours, tmp_path / "project", scorer="Pranav")
    folder = tmp_path / "project" / "labeled-data" / "m4s1"
    assert (folder / "CollectedData_Pranav.h5").is_file()
    assert (folder / "CollectedData_Pranav.csv").is_file()
    assert (folder / "img0000.png").is_file()
    back = load_labeled_frames(config)
    assert_frames_equal(back, subset)
    df = pd.read_csv(folder / "CollectedData_Pranav.csv", header=[0, 1, 2], index_col=0)
    np.testing.assert_array_equal(df.to_numpy(), subset.keypoints.reshape(len(subset), -1))
    h5 = pd.read_hdf(folder / "CollectedData_Pranav.h5", "df_with_missing")
    assert list(h5.columns.names) == ["scorer", "bodyparts", "coords"]


def test_dlc_multi_animal_round_trip(tmp_path):
    frames = make_frames(individuals=("mouse1", "mouse2"))
    config = to_dlc_project(frames, tmp_path / "ma", scorer="me")
    with (tmp_path / "ma" / "labeled-data" / "session0" / "CollectedData_me.csv").open() as fh:
        header = [next(fh).split(",")[0] for _ in range(4)]
    assert header == ["scorer", "individuals", "bodyparts", "coords"]
    back = load_labeled_frames(config)
    assert back.skeleton == Skeleton(SKELETON.keypoints, edges=SKELETON.edges, name="mouse")  # DLC has no symmetry
    back = load_labeled_frames(config, skeleton=SKELETON)
    order = np.argsort(back.sources)  # DeepLabCut groups frames by video folder
    assert_frames_equal(back.select(order), frames.select(np.argsort(frames.sources)))
    # single CSV of a multi-animal project
    csv_frames = load_labeled_frames(tmp_path / "ma" / "labeled-data" / "session1" / "CollectedData_me.csv")
    assert csv_frames.individuals == ("mouse1", "mouse2")


def test_dlc_sources_from_videos_become_image_files(tmp_path):
    frames = attrs.evolve(make_frames(n=2, sizes=((12, 16),)), sources=["vids/m3v1.mp4#frame=12", "frame_b"])
    to_dlc_project(frames, tmp_path)
    assert (tmp_path / "labeled-data" / "m3v1" / "img00012.png").is_file()
    assert (tmp_path / "labeled-data" / "frames" / "frame_b.png").is_file()
    back = load_labeled_frames(tmp_path)
    assert back.sources == ("labeled-data/frames/frame_b.png", "labeled-data/m3v1/img00012.png")


# --------------------------------------------------------------------------- SLEAP
def test_sleap_package_round_trip(tmp_path):
    frames = make_frames(individuals=("a", "b"))
    # RGB images whose channels are equal must stay RGB (SLEAP would guess grayscale)
    gray_rgb = np.repeat(frames.images[1][..., :1], 3, axis=-1)
    frames = attrs.evolve(frames, images=[gray_rgb, *frames.images[1:]])
    path = to_sleap_package(frames, tmp_path / "set.pkg.slp")
    assert_frames_equal(load_labeled_frames(path), frames)
    gray = frames.to_grayscale()
    assert_frames_equal(load_labeled_frames(to_sleap_package(gray, tmp_path / "g.pkg.slp")), gray)


@pytest.mark.shared_data
def test_sleap_package_round_trip_of_real_frames(openfield, tmp_path):
    subset = openfield.select(slice(0, 40, 8))
    assert_frames_equal(load_labeled_frames(to_sleap_package(subset, tmp_path / "of.pkg.slp")), subset)


def test_sleap_user_and_predicted_instances(tmp_path):
    import sleap_io as sio

    rng = np.random.default_rng(3)
    files = []
    for i in range(2):
        files.append(str(tmp_path / f"im{i}.png"))
        iio.imwrite(files[-1], rng.integers(0, 256, (16, 16), np.uint8))
    nodes = [sio.Node("a"), sio.Node("b")]
    sk = sio.Skeleton(nodes=nodes, edges=[sio.Edge(nodes[0], nodes[1])], symmetries=[sio.Symmetry(nodes)])
    video = sio.Video.from_filename(files)
    user = sio.Instance.from_numpy(np.array([[1.0, 2.0], [3.0, 4.0]]), skeleton=sk)
    pred = sio.PredictedInstance.from_numpy(np.array([[5.0, 6.0], [7.0, 8.0]]), skeleton=sk, point_scores=np.ones(2))
    only_pred = sio.PredictedInstance.from_numpy(
        np.array([[9.0, 9.0], [9.0, 9.0]]), skeleton=sk, point_scores=np.ones(2)
    )
    labels = sio.Labels(
        labeled_frames=[
            sio.LabeledFrame(video=video, frame_idx=0, instances=[user, pred]),
            sio.LabeledFrame(video=video, frame_idx=1, instances=[only_pred]),
        ],
        videos=[video],
        skeletons=[sk],
    )
    path = tmp_path / "mixed.slp"
    sio.save_slp(labels, str(path), embed="all", verbose=False)
    frames = load_labeled_frames(path)
    assert len(frames) == 1
    assert frames.individuals == ("id_0",)
    assert frames.skeleton == Skeleton(["a", "b"], edges=[("a", "b")], symmetry=[("a", "b")])
    np.testing.assert_array_equal(frames.keypoints[0, 0], [[1, 2], [3, 4]])
    assert frames.images[0].shape == (16, 16, 1)
    assert frames.sources[0].endswith("im0.png")
    with_pred = load_labeled_frames(path, include_predictions=True)
    assert len(with_pred) == 2
    assert with_pred.individuals == ("id_0", "id_1")
    np.testing.assert_array_equal(with_pred.keypoints[0, 1], [[5, 6], [7, 8]])
    np.testing.assert_array_equal(with_pred.keypoints[1, 0], [[9, 9], [9, 9]])


# --------------------------------------------------------------------------- DeepPoseKit
@pytest.mark.shared_data
def test_load_deepposekit_example(shared_data):
    root = shared_data / "dpk-fly-format"
    frames = load_labeled_frames(root / "example_annotation_set.h5")
    table = pd.read_csv(root / "skeleton.csv")
    assert len(frames) == 100
    assert set(map(tuple, frames.image_shapes.tolist())) == {(192, 192, 1)}
    assert frames.skeleton.keypoints == tuple(table["name"])
    expected_edges = {(p, c) for c, p in zip(table["name"], table["parent"], strict=True) if isinstance(p, str)}
    assert set(frames.skeleton.edges) == expected_edges
    swap = dict(zip(table["name"], table["swap"], strict=True))
    mutual = {frozenset((a, b)) for a, b in swap.items() if isinstance(b, str) and swap.get(b) == a}
    pairs = {frozenset(p) for p in frames.skeleton.symmetry}
    assert mutual <= pairs
    assert len(pairs) == 14  # eyes, wings and 4 segments x 3 leg pairs; conflicting swap entries are dropped
    assert all(a.replace("L", "R") == b.replace("L", "R") for a, b in frames.skeleton.symmetry)
    with h5py.File(root / "example_annotation_set.h5") as f:
        np.testing.assert_array_equal(frames.keypoints[:, 0], f["annotations"][()])
        np.testing.assert_array_equal(frames.images[7], f["images"][7])
    assert frames.labeled_mask().all()
    masked = load_labeled_frames(root / "example_annotation_set.h5", use_annotated_mask=True)
    assert not masked.labeled_mask().any()  # the example flags every keypoint as not annotated


@pytest.mark.shared_data
def test_deepposekit_round_trip(shared_data, tmp_path):
    dpk = load_labeled_frames(shared_data / "dpk-fly-format" / "example_annotation_set.h5")
    ours = load_labeled_frames(save_labeled_frames(dpk, tmp_path / "fly.labels.h5"))
    path = to_deepposekit_h5(ours, tmp_path / "out" / "fly.h5")
    assert_frames_equal(load_labeled_frames(path), dpk)
    with h5py.File(path) as f, h5py.File(shared_data / "dpk-fly-format" / "example_annotation_set.h5") as g:
        assert f["images"].shape == (100, 192, 192, 1)
        assert f["annotated"][()].all()
        np.testing.assert_array_equal(f["skeleton"][:, 0], g["skeleton"][:, 0])


def test_deepposekit_writer_keeps_nans_and_rejects_what_it_cannot_store(tmp_path):
    frames = make_frames(sizes=((20, 20),))
    back = load_labeled_frames(to_deepposekit_h5(frames, tmp_path / "a.h5"))
    assert_frames_equal(back, frames)
    with h5py.File(tmp_path / "a.h5") as f:
        np.testing.assert_array_equal(f["annotated"][()], frames.is_labeled()[:, 0])
    with pytest.raises(FileFormatError, match="share one size; found 2 sizes"):
        to_deepposekit_h5(make_frames(), tmp_path / "b.h5")
    with pytest.raises(FileFormatError, match="one individual"):
        to_deepposekit_h5(make_frames(sizes=((20, 20),), individuals=("a", "b")), tmp_path / "c.h5")
    assert not (tmp_path / "b.h5").exists()


# --------------------------------------------------------------------------- bad inputs
def test_missing_path_and_empty_file(tmp_path):
    with pytest.raises(FileFormatError, match="no such file") as err:
        load_labeled_frames(tmp_path / "nope.labels.h5")
    assert err.value.path == tmp_path / "nope.labels.h5"
    (tmp_path / "empty.h5").touch()
    with pytest.raises(FileFormatError, match="empty"):
        load_labeled_frames(tmp_path / "empty.h5")
    (tmp_path / "CollectedData_me.csv").touch()
    with pytest.raises(FileFormatError, match="empty"):
        load_labeled_frames(tmp_path / "CollectedData_me.csv")


def test_unknown_formats(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(FileFormatError, match="unknown labeled-frames format"):
        load_labeled_frames(tmp_path / "notes.txt")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = np.arange(3)
    with pytest.raises(FileFormatError, match="unknown HDF5 layout"):
        load_labeled_frames(tmp_path / "other.h5")
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(FileFormatError, match="not a DeepLabCut CSV"):
        load_labeled_frames(tmp_path / "bad.csv")
    with pytest.raises(FileFormatError, match="unknown source 'leap'"):
        load_labeled_frames(tmp_path / "other.h5", source="leap")
    (tmp_path / "folder").mkdir()
    with pytest.raises(FileFormatError, match=r"no DeepLabCut config\.yaml"):
        load_labeled_frames(tmp_path / "folder")


@pytest.mark.shared_data
def test_dlc_bodyparts_disagreeing_with_skeleton(shared_data):
    path = shared_data / "dlc-openfield" / "labeled-data" / "m4s1" / "CollectedData_Pranav.csv"
    wrong = Skeleton(["snout", "leftear", "rightear", "tailtip"])
    with pytest.raises(
        SchemaError, match=r"CollectedData_Pranav\.csv.*missing \['tailtip'\], unexpected \['tailbase'\]"
    ):
        load_labeled_frames(path, skeleton=wrong)


def test_given_skeleton_reorders_and_adds_symmetry(tmp_path):
    frames = make_frames(n=2)
    path = save_labeled_frames(frames, tmp_path / "s.labels.h5")
    sk = Skeleton(["tail", "nose", "ear_r", "ear_l"], symmetry=[("ear_l", "ear_r")])
    loaded = load_labeled_frames(path, skeleton=sk)
    assert loaded.skeleton == sk
    np.testing.assert_array_equal(loaded.keypoints, frames.keypoints[:, :, [3, 0, 2, 1]])


def test_missing_image_is_named(tmp_path):
    _write_dlc_csv(
        tmp_path / "labeled-data" / "v" / "CollectedData_me.csv",
        {"labeled-data/v/img1.png": [1.0, 2.0], "labeled-data/v/img2.png": [3.0, 4.0]},
        ["head"],
        three_index_columns=False,
    )
    iio.imwrite(tmp_path / "labeled-data" / "v" / "img1.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(FileFormatError, match=r"image 'labeled-data/v/img2\.png' listed in the labels is missing"):
        load_labeled_frames(tmp_path / "labeled-data" / "v" / "CollectedData_me.csv")


@pytest.mark.shared_data
def test_sleap_frames_in_a_video_are_decoded_in_one_pass_with_sleap_ios_pixels(shared_data, tmp_path, monkeypatch):
    import sleap_io as sio

    slp = shared_data / "sleap-centered-pair" / "centered_pair_predictions.slp"
    labels = sio.load_slp(str(slp))
    labels.labeled_frames = labels.labeled_frames[:300:3]  # 100 frames spread over the video
    path = tmp_path / "hundred.slp"
    sio.save_slp(labels, str(path), verbose=False)  # the images stay in the mp4

    def seek_one_by_one(frame):
        raise AssertionError(f"frame {frame.frame_idx} was read through sleap-io, one seek per frame")

    with monkeypatch.context() as patched:
        patched.setattr(sio.LabeledFrame, "image", property(seek_one_by_one))
        frames = load_labeled_frames(path, include_predictions=True)
    assert len(frames.images) == 100
    assert frames.images[0].shape == (384, 384, 1)
    for k in (0, 57, 99):  # the same frame as sleap-io reads it (the luma rounding may differ by one level)
        theirs = np.asarray(labels.labeled_frames[k].image)
        assert np.abs(frames.images[k].astype(int) - theirs.astype(int)).max() <= 1
