"""Top-down multi-animal pose estimation: local peaks, boxes and their exact inverse, training sets, tracking.

Known answers: Gaussians planted at known places are found there (weak ones
dropped by the threshold, close ones merged by the minimum distance); a
keypoint cut out with its box and mapped back lands where it was, to the
bit; the centroid targets of the sample labels hold one peak per labeled
animal.  The key test bypasses both networks' accuracy: true anchors in
shuffled order (an oracle centroid stage) and a crop "network" whose maps are
fixed, so every keypoint must come back at ``round(anchor) + its fixed
offset``, and the tracker must keep both animals' identities through their
crossings in the sample 2-animal session.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from keras import ops  # noqa: E402

from behaviorlab.errors import FileFormatError, SchemaError  # noqa: E402
from behaviorlab.io.labeled_frames import load_labeled_frames  # noqa: E402
from behaviorlab.io.load import load_poses  # noqa: E402
from behaviorlab.io.video import VideoReader  # noqa: E402
from behaviorlab.pose.augment import AugmentConfig  # noqa: E402
from behaviorlab.pose.crops import (  # noqa: E402
    centroid_training_frames,
    choose_crop_size,
    crop_images,
    crop_offsets,
    crop_training_frames,
    downsample_images,
    instance_anchors,
    uncrop_keypoints,
)
from behaviorlab.pose.data import PoseSequence  # noqa: E402
from behaviorlab.pose.layers import LocalMaxima2D  # noqa: E402
from behaviorlab.pose.peaks import find_local_peaks, find_peaks_subpixel  # noqa: E402
from behaviorlab.pose.predict import PoseModel  # noqa: E402
from behaviorlab.pose.targets import confidence_maps, multi_instance_targets  # noqa: E402
from behaviorlab.pose.topdown import (  # noqa: E402
    TopDownModel,
    instances_to_poses,
    load_any_model,
    predict_video_topdown,
    train_topdown,
)
from behaviorlab.pose.train import TrainConfig  # noqa: E402
from behaviorlab.schema import Skeleton, from_numpy, get_log  # noqa: E402
from behaviorlab.trajectories.track_scores import identity_switches  # noqa: E402
from behaviorlab.trajectories.tracking import track_poses  # noqa: E402

ANCHOR = "spine"


def planted(shape, centres, heights, sigma):
    """One map ``(height, width)`` with a Gaussian of each height at each ``(x, y)``; the maximum where they overlap."""
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    out = np.zeros(shape, np.float32)
    for (x, y), h in zip(centres, heights, strict=True):
        out = np.maximum(out, h * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2)))
    return out


@pytest.fixture(scope="module")
def labels(sample_data):
    return load_labeled_frames(sample_data / "labeled_frames.labels.h5")


# --------------------------------------------------------------------------- local peaks
def test_local_peaks_find_planted_gaussians_and_drop_weak_ones():
    centres = [(10.3, 12.7), (40.6, 8.2), (25.0, 30.45), (52.2, 33.9), (5.5, 34.1)]
    heights = [0.9, 1.0, 0.6, 0.45, 0.15]  # the last is below the threshold
    maps = np.zeros((2, 40, 60, 1), np.float32)
    maps[0, ..., 0] = planted((40, 60), centres, heights, sigma=1.5)
    found = np.asarray(find_local_peaks(maps, max_peaks=6, threshold=0.3, kernel_sigma=1.5))
    assert found.shape == (2, 1, 6, 3)
    order = np.argsort(heights)[::-1][:4]  # the four above the threshold, highest first
    np.testing.assert_allclose(found[0, 0, :4, :2], np.array(centres)[order], atol=0.03)
    np.testing.assert_allclose(found[0, 0, :4, 2], np.array(heights)[order], atol=0.12)
    assert np.isnan(found[0, 0, 4:]).all()
    assert np.isnan(found[1]).all()  # an empty map has no peak
    # with subpixel refinement, the top peak is exactly the single-peak finder's answer
    np.testing.assert_allclose(found[0, :, 0], np.asarray(find_peaks_subpixel(maps, kernel_sigma=1.5))[0], atol=1e-6)
    # integer peaks: the nearest pixel
    integer = np.asarray(find_local_peaks(maps, max_peaks=6, threshold=0.3))
    np.testing.assert_array_equal(integer[0, 0, :4, :2], np.rint(np.array(centres)[order]))


def test_min_distance_merges_close_peaks_into_the_higher():
    # two narrow peaks 4 px apart (separate maxima) and one far away
    maps = planted((24, 40), [(10, 10), (14, 10), (30, 15)], [1.0, 0.7, 0.8], sigma=1.0)[None, ..., None]
    close = np.asarray(find_local_peaks(maps, max_peaks=4, threshold=0.2, min_distance=1))[0, 0]
    np.testing.assert_array_equal(close[:3, :2], [[10, 10], [30, 15], [14, 10]])
    merged = np.asarray(find_local_peaks(maps, max_peaks=4, threshold=0.2, min_distance=4))[0, 0]
    np.testing.assert_array_equal(merged[:2, :2], [[10, 10], [30, 15]])
    assert np.isnan(merged[2:]).all()
    # a flat 2 x 2 plateau is one peak, the first pixel in row-major order
    plateau = np.zeros((1, 10, 10, 1), np.float32)
    plateau[0, 4:6, 6:8, 0] = 0.5
    flat = np.asarray(find_local_peaks(plateau, max_peaks=3, threshold=0.1))[0, 0]
    np.testing.assert_array_equal(flat[0], [6, 4, 0.5])
    assert np.isnan(flat[1:]).all()
    with pytest.raises(ValueError, match="max_peaks"):
        find_local_peaks(plateau, max_peaks=101)


def test_local_maxima_layer_round_trips_through_a_keras_file(tmp_path):
    maps = np.zeros((1, 16, 16, 2), np.float32)
    maps[0, ..., 0] = planted((16, 16), [(3.2, 4.6), (11.0, 12.3)], [1.0, 0.8], sigma=1.2)
    maps[0, ..., 1] = planted((16, 16), [(8.0, 8.0)], [0.9], sigma=1.2)
    inputs = keras.Input((16, 16, 2))
    layer = LocalMaxima2D(3, threshold=0.3, sigma=1.2, coordinate_scale=4.0, index=2)
    model = keras.Model(inputs, layer(inputs))
    out = np.asarray(model.predict_on_batch(maps))
    assert out.shape == (1, 2, 3, 3)
    np.testing.assert_allclose(out[0, 0, :2, :2], np.array([[3.2, 4.6], [11.0, 12.3]]) * 4 + 1.5, atol=0.15)
    model.save(tmp_path / "peaks.keras")
    again = keras.saving.load_model(tmp_path / "peaks.keras")
    np.testing.assert_array_equal(np.asarray(again.predict_on_batch(maps)), out)


# --------------------------------------------------------------------------- boxes
def test_crop_and_map_back_is_exact_and_pads_with_zeros():
    rng = np.random.default_rng(1)
    images = rng.integers(1, 256, size=(2, 50, 70, 1), dtype=np.uint8)  # no zero pixel inside the images
    centres = np.array([[35.49, 25.5], [2.2, 47.8], [69.0, 0.0], [10.51, 10.49]])
    frame_index = np.array([0, 1, 0, 1])
    crops, offsets = crop_images(images, frame_index, centres, 24)
    assert crops.shape == (4, 24, 24, 1)
    assert crops.dtype == np.uint8
    np.testing.assert_array_equal(offsets, np.floor(centres + 0.5).astype(int) - 12)
    np.testing.assert_array_equal(offsets, crop_offsets(centres, 24))
    # the centre lies within half a pixel of box pixel 12
    assert (np.abs(centres - offsets - 12) <= 0.5).all()
    for m, (f, (x0, y0)) in enumerate(zip(frame_index, offsets, strict=True)):
        for i in range(24):
            for j in range(24):
                y, x = y0 + i, x0 + j
                inside = 0 <= y < 50 and 0 <= x < 70
                assert crops[m, i, j, 0] == (images[f, y, x, 0] if inside else 0)
    # keypoints: frame -> box -> frame is exact (on a 1/64-pixel grid, where float sums are exact), confidence untouched
    xy = rng.integers(-5 * 64, 75 * 64, size=(4, 7, 2)) / 64.0
    keypoints = np.concatenate([xy, rng.uniform(size=(4, 7, 1))], axis=-1)
    keypoints[1, 3] = np.nan
    in_box = keypoints.copy()
    in_box[..., :2] -= offsets[:, None, :]
    back = uncrop_keypoints(in_box, offsets)
    np.testing.assert_array_equal(back, keypoints)
    assert not np.shares_memory(back, in_box)
    with pytest.raises(SchemaError, match="finite"):
        crop_images(images, [0], [[np.nan, 3.0]], 24)


def test_downsampling_averages_blocks_at_pixel_centre_coordinates():
    image = np.zeros((9, 8), np.uint8)
    image[2:4, 4:6] = 200  # one 2 x 2 block, centre (4.5, 2.5)
    (small,) = downsample_images([image], 2)
    assert small.shape == (5, 4, 1)  # 9 rows padded to 10
    assert small[1, 2, 0] == 200
    assert small.sum() == 200
    x, y = (np.array([4.5, 2.5]) + 0.5) / 2 - 0.5
    assert (x, y) == (2.0, 1.0)
    anchors = instance_anchors(
        np.array([[[1.0, 2.0], [3.0, 4.0], [np.nan, np.nan]], [[np.nan, np.nan], [3.0, 4.0], [5.0, 8.0]]]), 0
    )
    np.testing.assert_array_equal(anchors, [[1.0, 2.0], [4.0, 6.0]])  # the anchor, else the mean of the others


# --------------------------------------------------------------------------- training sets
def test_centroid_training_set_has_one_peak_per_labeled_animal(labels):
    frames = centroid_training_frames(labels, ANCHOR, centroid_scale=0.5)
    assert frames.skeleton.keypoints == (ANCHOR,)
    assert frames.keypoints.shape == (len(labels), 2, 1, 2)  # every sample frame has a labeled animal
    assert {img.shape for img in frames.images} == {(128, 128, 1)}
    full = instance_anchors(labels.keypoints, labels.skeleton.keypoints.index(ANCHOR))
    np.testing.assert_allclose(frames.keypoints[:, :, 0], (full + 0.5) / 2 - 0.5)
    n_animals = np.isfinite(full).all(axis=-1).sum(axis=1)
    assert set(n_animals.tolist()) == {1, 2}

    stride, sigma = 2, 2.0
    seq = PoseSequence(
        frames.images, frames.keypoints, frames.skeleton, (128, 128, 1), stride, sigma, 1, 40, graph=False
    )
    targets = np.concatenate([seq[b][1] for b in range(len(seq))])
    assert targets.shape == (len(labels), 64, 64, 1)
    assert np.isfinite(targets).all()
    found = np.asarray(find_local_peaks(targets, max_peaks=4, threshold=0.5, kernel_sigma=sigma / stride))[:, 0]
    n_found = np.isfinite(found[..., 0]).sum(axis=1)
    small = frames.keypoints[:, :, 0]
    apart = np.linalg.norm(small[:, 0] - small[:, 1], axis=-1)
    separate = (n_animals == 1) | (apart > 4 * sigma)  # animals on top of each other share one peak
    assert separate.sum() > 50
    np.testing.assert_array_equal(n_found[separate], n_animals[separate])
    assert (n_found <= n_animals).all()
    for f in np.flatnonzero(separate):  # each peak at a labeled anchor (map -> image pixels)
        peaks = found[f, : n_found[f], :2] * stride + (stride - 1) / 2
        truth = small[f][np.isfinite(small[f]).all(axis=-1)]
        distance = np.linalg.norm(peaks[:, None] - truth[None], axis=-1).min(axis=0)
        assert distance.max() < 0.05


def test_multi_instance_targets_mask_a_keypoint_missing_in_any_animal():
    skeleton = Skeleton(("a", "b"), edges=(("a", "b"),))
    keypoints = np.array([[[4.0, 4.0], [8.0, 4.0]], [[20.0, 20.0], [np.nan, np.nan]], [[np.nan] * 2] * 2])
    maps, mask = multi_instance_targets(keypoints, skeleton, (32, 32), 1, 1.5, graph=False)
    single = [confidence_maps(k, (32, 32), 1, 1.5)[0] for k in keypoints[:2]]
    np.testing.assert_array_equal(maps, np.maximum(*single))
    np.testing.assert_array_equal(mask, [True, False])  # "b" is missing in the second animal


def test_centroid_scale_shrinks_for_speed_but_keeps_animals_64_px_across(labels):
    from behaviorlab.io.labeled_frames import LabeledFrames
    from behaviorlab.pose.crops import choose_centroid_scale

    assert choose_centroid_scale(labels) == 1.0  # mice ~80 px across in 256 px frames: no shrink

    def square_animals(side: int, size: float) -> LabeledFrames:
        corners = np.array([[0.0, 0.0], [size, 0.0], [0.0, size], [size, size]]) / np.sqrt(2) + 10.0
        return LabeledFrames(
            images=[np.zeros((side, side, 1), np.uint8)] * 2,
            keypoints=np.broadcast_to(corners, (2, 1, 4, 2)).copy(),
            skeleton=Skeleton(["a", "b", "c", "d"]),
        )

    assert choose_centroid_scale(square_animals(1024, 200.0)) == pytest.approx(1 / 3)  # 200 px across: 3x
    assert choose_centroid_scale(square_animals(1024, 40.0)) == 1.0  # small animals in a big frame: none
    assert choose_centroid_scale(square_animals(1024, 2000.0)) == pytest.approx(1 / 6)  # ~160 px frame side
    with pytest.raises(SchemaError, match="no labeled frames"):
        choose_centroid_scale(labels.select([]))


def test_crop_training_set_holds_one_animal_per_box(labels):
    assert choose_crop_size(labels, ANCHOR) % 32 == 0
    crops = crop_training_frames(labels, ANCHOR, 96)
    labeled = np.isfinite(labels.keypoints).all(axis=-1).any(axis=-1)
    assert len(crops) == labeled.sum()
    assert crops.individuals == ("instance",)
    assert crops.skeleton == labels.skeleton
    assert {img.shape for img in crops.images} == {(96, 96, 1)}
    kp = crops.keypoints[:, 0]
    finite = np.isfinite(kp).all(axis=-1)
    assert ((kp[finite] >= -0.5) & (kp[finite] <= 95.5)).all()
    assert finite.mean() > 0.9
    # the box and its keypoints, put back in the frame, are the frame's own
    frame_index, individual = np.nonzero(labeled)
    anchors = instance_anchors(labels.keypoints, labels.skeleton.keypoints.index(ANCHOR))
    offsets = crop_offsets(anchors[frame_index, individual], 96)
    np.testing.assert_array_equal(
        uncrop_keypoints(kp, offsets)[finite], labels.keypoints[frame_index, individual][finite]
    )
    for m in (0, len(crops) // 2, len(crops) - 1):
        (x0, y0), image = offsets[m], labels.images[frame_index[m]]
        top, left = max(0, y0), max(0, x0)
        np.testing.assert_array_equal(
            crops.images[m][top - y0 : min(256, y0 + 96) - y0, left - x0 : min(256, x0 + 96) - x0],
            image[top : y0 + 96, left : x0 + 96],
        )
    assert crops.sources[0] == f"{labels.sources[frame_index[0]]}#individual={labels.individuals[individual[0]]}"
    with pytest.raises(SchemaError, match="not a keypoint"):
        crop_training_frames(labels, "wing", 96)


# --------------------------------------------------------------------------- oracle: boxes, mapping and tracking
class FixedMaps(keras.layers.Layer):
    """A stand-in network: the same maps whatever the image (the input only sets the batch size)."""

    def __init__(self, maps, **kwargs):
        super().__init__(**kwargs)
        self.maps = np.asarray(maps, np.float32)

    def call(self, inputs):
        return ops.convert_to_tensor(self.maps)[None] + 0.0 * ops.mean(inputs, axis=(1, 2, 3), keepdims=True)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.maps.shape)


def fixed_model(skeleton, size, keypoints, stride=2, sigma=2.0):
    """PoseModel whose maps always peak at ``keypoints`` (box pixels) of a ``size`` x ``size`` one-channel input."""
    maps, _ = confidence_maps(keypoints, (size, size), stride, sigma)
    inputs = keras.Input((size, size, 1))
    net = keras.Model(inputs, FixedMaps(maps)(inputs))
    config = {
        "model": "fixed",
        "skeleton": skeleton.to_dict(),
        "input_shape": [size, size, 1],
        "channels": 1,
        "grayscale": True,
        "output_stride": stride,
        "sigma": sigma,
    }
    return PoseModel(net, config)


def test_oracle_anchors_give_exact_boxes_and_the_tracker_keeps_identities_through_crossings(sample_data):
    truth = load_poses(sample_data / "session_b_poses.nc")
    first, stop = 240, 540  # the two animals meet three times here; closest anchors 2.5 px apart
    truth = truth.isel(time=slice(first, stop))
    with VideoReader(sample_data / "session_b.mp4", grayscale=True) as reader:
        frames = reader[first:stop]
    skeleton = Skeleton.from_dict(json.loads(truth.attrs["skeleton"]))
    k_anchor = skeleton.keypoints.index(ANCHOR)
    size = 64
    layout = np.stack([(np.arange(skeleton.n_keypoints) - k_anchor) * 3.0, np.zeros(skeleton.n_keypoints)], -1)
    pose = fixed_model(skeleton, size, size // 2 + layout)
    centroid = fixed_model(Skeleton((ANCHOR,)), 128, np.array([[64.0, 64.0]]))  # never used: anchors are given
    model = TopDownModel(
        centroid, pose, anchor=ANCHOR, crop_size=size, centroid_scale=0.5, max_animals=2, exclusive_keypoints=False
    )

    true_pos = truth["position"].transpose("time", "individual", "keypoint", "space").values
    anchors = true_pos[:, :, k_anchor]  # (time, 2, 2)
    rng = np.random.default_rng(0)
    perm = np.array([rng.permutation(2) for _ in range(len(anchors))])
    shuffled = np.take_along_axis(anchors, perm[:, :, None], axis=1)
    lost = np.zeros(shuffled.shape[:2], bool)
    lost[100:104, 0] = True  # a short loss: the tracker must re-identify the animal
    shuffled[lost] = np.nan

    instances = model.predict_instances(frames, anchors=shuffled, batch_size=32)
    assert instances.shape == (len(frames), 2, skeleton.n_keypoints, 3)
    assert np.isnan(instances[lost]).all()
    assert np.isfinite(instances[~lost]).all()
    expected = np.floor(shuffled + 0.5)[:, :, None, :] + layout  # the box offset plus the fixed layout
    np.testing.assert_allclose(instances[~lost][..., :2], expected[~lost], atol=0.02)

    # exclusive keypoints: where the two boxes' keypoints fall on the same spots (rounded anchors under the
    # 4 px calibration radius apart), each spot goes to one animal; this map has no second peak, so the other
    # animal's keypoint is NaN there; the anchors, and every other frame, stay as they were
    exclusive = model.replace(exclusive_keypoints=True).predict_instances(frames, anchors=shuffled, batch_size=32)
    rounded = np.floor(shuffled + 0.5)
    clash = np.linalg.norm(rounded[:, 0] - rounded[:, 1], axis=-1) < 4.0
    assert clash.sum() == 5  # the closest approaches of this stretch
    others = [k for k in range(skeleton.n_keypoints) if k != k_anchor]
    kept = np.isfinite(exclusive[clash][:, :, others, 0])
    assert (kept.sum(axis=1) == 1).all()  # one owner per spot
    np.testing.assert_array_equal(exclusive[:, :, k_anchor], instances[:, :, k_anchor])
    shown = np.isfinite(exclusive[..., 0])
    np.testing.assert_allclose(exclusive[shown], instances[shown], atol=1e-3)  # no second peak to move to
    assert (shown == np.isfinite(instances[..., 0]))[~clash].all()

    # the layout around each true anchor is the ground truth of this stand-in network
    true_layout = np.floor(anchors + 0.5)[:, :, None, :] + layout
    reference = from_numpy(
        true_layout.transpose(0, 3, 2, 1), keypoints=skeleton.keypoints, individuals=["mouse1", "mouse2"], fps=30.0
    )
    untracked = instances_to_poses(instances, skeleton, fps=30.0, first_frame=first)
    np.testing.assert_array_equal(untracked["frame"].values, np.arange(first, stop))
    shuffled_switches = identity_switches(untracked, reference, max_distance=10, keep_distance=3)
    assert shuffled_switches["switches"] > 50  # the instance order carries no identity

    tracked = track_poses(untracked, max_tracks=2, animal_size=48)
    assert list(tracked["individual"].values) == ["track_0", "track_1"]
    scores = identity_switches(tracked, reference, max_distance=10, keep_distance=3)
    assert scores["switches"] == 0
    assert scores["matched_share"] == pytest.approx(1 - lost.sum() / lost.size)
    assert [step["operation"] for step in get_log(tracked)][-1] == "track_poses"


def test_animals_merged_by_the_centroid_stage_are_found_again_where_their_tracks_say(sample_data):
    from behaviorlab.pose.contacts import fill_track_gaps, gap_anchors

    # interpolation known answer: a 3-frame gap between (0, 0) and (40, 20); a gap at the end stays empty
    pos = np.full((8, 1, 2, 2), np.nan)
    pos[[0, 4], 0, 0] = [[0.0, 0.0], [40.0, 20.0]]
    filled = gap_anchors(pos, anchor=0, max_gap=3)
    np.testing.assert_allclose(filled[1:4, 0], [[10.0, 5.0], [20.0, 10.0], [30.0, 15.0]])
    assert np.isnan(filled[[0, 4, 5, 6, 7]]).all()
    assert np.isnan(gap_anchors(pos, anchor=0, max_gap=2)).all()  # longer than max_gap: left alone

    # the sample session's two mice meet four times in these frames (for 0.3 to 1 s); while their anchors are
    # under 15 px apart the "centroid stage" sees one animal only (a merged peak), as a real one often does
    first, stop = 900, 1200
    truth = load_poses(sample_data / "session_b_poses.nc").isel(time=slice(first, stop))
    with VideoReader(sample_data / "session_b.mp4", grayscale=True) as reader:
        frames = reader[first:stop]
    skeleton = Skeleton.from_dict(json.loads(truth.attrs["skeleton"]))
    k_anchor = skeleton.keypoints.index(ANCHOR)
    layout = np.stack([(np.arange(skeleton.n_keypoints) - k_anchor) * 3.0, np.zeros(skeleton.n_keypoints)], -1)
    pose = fixed_model(skeleton, 64, 32 + layout)
    centroid = fixed_model(Skeleton((ANCHOR,)), 128, np.array([[64.0, 64.0]]))
    model = TopDownModel(centroid, pose, anchor=ANCHOR, crop_size=64, centroid_scale=0.5, max_animals=2)
    anchors = truth["position"].sel(keypoint=ANCHOR).transpose("time", "individual", "space").values
    merged = np.linalg.norm(anchors[:, 0] - anchors[:, 1], axis=-1) < 15.0
    assert merged.sum() == 69
    seen = anchors.copy()
    seen[merged, 1] = np.nan
    instances = model.predict_instances(frames, anchors=seen, batch_size=32)
    true_layout = np.floor(anchors + 0.5)[:, :, None, :] + layout
    reference = from_numpy(
        true_layout.transpose(0, 3, 2, 1), keypoints=skeleton.keypoints, individuals=["mouse1", "mouse2"], fps=30.0
    )

    def scores(inst):
        tracked = track_poses(instances_to_poses(inst, skeleton, fps=30.0), max_tracks=2, animal_size=48)
        named = tracked.drop_vars(["source_individual", "identity_confidence"])
        return tracked, identity_switches(named, reference, max_distance=10, keep_distance=3)

    tracked, before = scores(instances)
    assert before["matched_share"] == pytest.approx(1 - merged.sum() / (2 * merged.size))
    positions = tracked["position"].transpose("time", "individual", "keypoint", "space").values
    again, n_found = fill_track_gaps(
        model, sample_data / "session_b.mp4", instances, positions, first_frame=first, max_gap=40, animal_size=48
    )
    assert again.shape == (stop - first, 4, skeleton.n_keypoints, 3)
    np.testing.assert_array_equal(again[:, :2], instances)  # what was found stays as it was
    extra = again[:, 2:, k_anchor, :2]
    found = np.isfinite(extra).all(axis=-1).any(axis=-1)
    assert n_found == found.sum() > 0.6 * merged.sum()
    assert (found <= merged).all()  # only where an animal was missing
    # each new instance is the hidden animal, within the interpolation error of a sub-second gap
    hidden = anchors[found, 1]
    new = np.nanmax(np.where(np.isfinite(extra[found]), extra[found], -np.inf), axis=1)
    assert np.median(np.linalg.norm(new - hidden, axis=-1)) < 6.0
    _, after = scores(again)
    assert after["switches"] == 0
    assert after["matched_share"] > before["matched_share"]


# --------------------------------------------------------------------------- exclusive keypoints
def test_a_spot_claimed_by_two_animals_goes_to_one_and_the_other_takes_its_next_peak():
    from behaviorlab.pose.instances import exclusive_keypoints

    nan = np.nan
    # (frame, slot, keypoint, peak, (x, y, map value)); keypoint 0 is the anchor
    cand = np.full((4, 2, 2, 3, 3), nan)
    cand[:, 0, 0, 0] = cand[:, 1, 0, 0] = [10.0, 10.0, 1.0]  # both boxes on one anchor: exempt, kept
    # frame 0: slot 0 is stronger on the shared spot and keeps it; slot 1 moves to its next peak
    cand[0, 0, 1, :2] = [[50, 50, 0.9], [80, 80, 0.2]]
    cand[0, 1, 1, :2] = [[51, 50, 0.6], [20, 30, 0.5]]
    # frame 1: as frame 0, but slot 1 has no other peak: NaN
    cand[1, 0, 1, :1] = [[50, 50, 0.9]]
    cand[1, 1, 1, :1] = [[51, 50, 0.6]]
    # frame 2: the best total gives the spot to the weaker map, whose owner has no other peak
    cand[2, 0, 1, :2] = [[50, 50, 0.9], [20, 30, 0.85]]
    cand[2, 1, 1, :1] = [[50.5, 50, 0.8]]
    # frame 3: 5 px apart, more than the radius: no clash, nothing changes
    cand[3, 0, 1, :1] = [[50, 50, 0.9]]
    cand[3, 1, 1, :2] = [[55, 50, 0.6], [20, 30, 0.5]]

    out, n_moved = exclusive_keypoints(cand, 4.0, exempt=[0])
    assert out.shape == (4, 2, 2, 3)
    assert n_moved == 3
    np.testing.assert_array_equal(out[:, :, 0], cand[:, :, 0, 0])
    np.testing.assert_allclose(out[0, :, 1], [[50, 50, 0.9], [20, 30, 0.5]])
    np.testing.assert_allclose(out[1, 0, 1], [50, 50, 0.9])
    assert np.isnan(out[1, 1, 1]).all()
    np.testing.assert_allclose(out[2, :, 1], [[20, 30, 0.85], [50.5, 50, 0.8]])
    np.testing.assert_allclose(out[3, :, 1], [[50, 50, 0.9], [55, 50, 0.6]])
    # without the exemption the shared anchor goes to one box
    both, _ = exclusive_keypoints(cand, 4.0)
    assert np.isfinite(both[:, :, 0, 0]).sum(axis=1).tolist() == [1, 1, 1, 1]
    with pytest.raises(SchemaError, match="candidates must have shape"):
        exclusive_keypoints(cand[0], 4.0)


def test_candidates_model_gives_the_best_peak_then_the_next_ones():
    from behaviorlab.pose.models import build_candidates_model

    maps = np.stack(
        [
            planted((32, 32), [(20, 12), (6, 25)], [1.0, 0.5], sigma=1.5),  # two peaks
            planted((32, 32), [(8, 8)], [0.05], sigma=1.5),  # one weak peak: still the best, nothing more
        ],
        axis=-1,
    )
    inputs = keras.Input((64, 64, 1))
    net = keras.Model(inputs, FixedMaps(maps)(inputs))
    out = np.asarray(
        build_candidates_model(net, output_stride=2, sigma=3.0, n_keypoints=2, max_peaks=3, threshold=0.1)(
            [np.zeros((1, 64, 64, 1), np.float32)]
        )
    )
    assert out.shape == (1, 2, 3, 3)
    np.testing.assert_allclose(out[0, 0, :2], [[40.5, 24.5, 1.0], [12.5, 50.5, 0.5]], atol=0.05)  # 2 * map px + 0.5
    assert np.isnan(out[0, 0, 2]).all()
    np.testing.assert_allclose(out[0, 1, 0], [16.5, 16.5, 0.05], atol=0.05)
    assert np.isnan(out[0, 1, 1:]).all()
    with pytest.raises(ValueError, match="max_peaks must be >= 2"):
        build_candidates_model(net, output_stride=2, sigma=3.0, n_keypoints=2, max_peaks=1)


# --------------------------------------------------------------------------- end to end, tiny networks
@pytest.mark.filterwarnings("ignore::UserWarning:keras")
def test_train_predict_and_track_with_tiny_models(labels, sample_data, tmp_path):
    tiny = {
        "model_kwargs": {"growth_rate": 8, "n_stacks": 1},
        "epochs": 1,
        "steps_per_epoch": 2,
        "batch_size": 4,
        "val_fraction": 0.25,
        "augment": AugmentConfig.none(),
        "output_stride": 4,
    }
    n_labeled = np.isfinite(labels.keypoints).all(-1).any(-1).sum(axis=1)
    subset = labels.select(
        np.sort(np.concatenate([np.flatnonzero(n_labeled == 2)[:8], np.flatnonzero(n_labeled == 1)[:4]]))
    )
    result = train_topdown(
        subset,
        tmp_path / "model",
        anchor=ANCHOR,
        crop_size=64,
        centroid_scale=0.25,
        centroid_config=TrainConfig(**tiny, sigma=3.0),
        pose_config=TrainConfig(**tiny),
        peak_threshold=-1.0,  # an untrained centroid map: take its two highest local maxima
        verbose=0,
        run_eagerly=True,
    )
    assert result.crop_size == 64
    assert result.n_crops == int(np.isfinite(subset.keypoints).all(-1).any(-1).sum())
    centroid_config = json.loads((tmp_path / "model" / "centroid" / "pose_config.json").read_text())
    assert centroid_config["multi_instance"]
    assert centroid_config["input_shape"] == [64, 64, 1]
    assert result.centroid.val_report is None
    assert np.isfinite(result.centroid.history["val_px_error"]).all()

    model = load_any_model(tmp_path / "model")
    assert isinstance(model, TopDownModel)
    assert model.max_animals == 2
    assert isinstance(load_any_model(tmp_path / "model" / "pose"), PoseModel)
    with pytest.raises(FileFormatError, match="not a behaviorlab model folder"):
        load_any_model(tmp_path)

    images = np.stack(labels.images[:3])
    anchors = model.find_anchors(images)
    assert anchors.shape == (3, 2, 3)
    assert np.isfinite(anchors).all()
    assert ((anchors[..., :2] >= -0.5) & (anchors[..., :2] <= 255.5)).all()
    instances = model.predict(images, batch_size=2)
    assert instances.shape == (3, 2, labels.n_keypoints, 3)
    # every box keeps its anchor; the untrained crop model's other keypoints may share spots (exclusive keypoints)
    assert np.isfinite(instances[:, :, labels.skeleton.keypoints.index(ANCHOR)]).all()
    assert np.isfinite(model.replace(exclusive_keypoints=False).predict(images, batch_size=2)).all()
    np.testing.assert_allclose(model.predict_instances(images, anchors=anchors), instances, atol=1e-4)

    again = TopDownModel.load(model.save(tmp_path / "copy"))
    np.testing.assert_allclose(again.predict(images), instances, atol=1e-4)
    assert again.exclusive_keypoints
    assert not TopDownModel.load(model.replace(exclusive_keypoints=False).save(tmp_path / "off")).exclusive_keypoints

    out = tmp_path / "session_b.poses.nc"
    # without the contact handling each track's pose is one instance slot of the direct prediction
    ds = predict_video_topdown(
        model, sample_data / "session_b.mp4", out, batch_size=4, stop=10, max_lost_frames=5, fill_gaps=0, repair=False
    )
    assert out.is_file()
    assert not (tmp_path / "session_b.poses.nc.partial").exists()
    assert ds["position"].dims == ("time", "space", "keypoint", "individual")
    assert ds.sizes["time"] == 10
    assert 1 <= ds.sizes["individual"] <= 2
    assert all(name.startswith("track_") for name in ds["individual"].values)  # identities from the tracker
    assert set(np.unique(ds["source_individual"].values)) <= {-1, 0, 1}
    assert ds.attrs["fps"] == 30
    assert ds.attrs["source_software"] == "behaviorlab"
    assert [s["operation"] for s in get_log(ds)][-2:] == ["predict_video_topdown", "track_poses"]
    assert np.isfinite(ds["position"].values).any()
    with VideoReader(sample_data / "session_b.mp4", grayscale=True) as reader:
        direct = model.predict(reader[:10], batch_size=4)
    kept = ds["source_individual"].values  # (time, track): the instance slot each track took
    for t, track in zip(*np.nonzero(kept >= 0), strict=True):
        np.testing.assert_allclose(ds["position"].values[t, :, :, track].T, direct[t, kept[t, track], :, :2], atol=1e-3)
    assert load_poses(out).sizes["time"] == 10
    # with it (the default): gaps looked into again, identities checked after encounters, confidence written
    full = predict_video_topdown(model, sample_data / "session_b.mp4", batch_size=4, stop=10, max_lost_frames=5)
    operations = [s["operation"] for s in get_log(full)]
    assert operations[-1] == "repair_identities"
    assert "track_poses" in operations
    confidence = full["identity_confidence"].values
    assert np.isnan(confidence[~np.isfinite(full["position"].values).all(axis=1).any(axis=1)]).all()
    assert ((confidence >= 0) & (confidence <= 1))[np.isfinite(confidence)].all()

    # the command line: `predict` recognises a top-down model folder; `train-topdown` checks the anchor
    from typer.testing import CliRunner

    from behaviorlab.cli.app import app
    from behaviorlab.io.video_write import write_video

    clip = write_video(tmp_path / "clip.mp4", [frame[..., 0] for frame in labels.images[:6]], fps=30)
    runner = CliRunner()
    done = runner.invoke(app, ["predict", str(tmp_path / "model"), str(clip), "--out", str(tmp_path / "cli")])
    assert done.exit_code == 0, done.output
    assert "identities uncertain (identity_confidence < 0.5" in done.output  # said where the poses are shown
    predicted = load_poses(tmp_path / "cli" / "clip.poses.nc")
    assert predicted.sizes["time"] == 6
    assert all(str(name).startswith("track_") for name in predicted["individual"].values)
    bad = runner.invoke(
        app,
        [
            "train-topdown",
            str(sample_data / "labeled_frames.labels.h5"),
            "--out",
            str(tmp_path / "x"),
            "--anchor",
            "wing",
        ],
    )
    assert bad.exit_code == 1
    assert "anchor 'wing' is not a keypoint" in bad.output
