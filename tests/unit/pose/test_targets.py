"""Confidence maps and posture-graph maps with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from behaviorlab.pose.targets import (
    confidence_maps,
    limb_chains,
    n_target_maps,
    output_grid,
    posture_graph_maps,
    target_names,
    training_targets,
)
from behaviorlab.schema import Skeleton


@pytest.fixture
def skeleton() -> Skeleton:
    return Skeleton(
        ["head", "neck", "tail", "leg_l", "foot_l", "tail_tip"],
        edges=[("head", "neck"), ("neck", "tail"), ("neck", "leg_l"), ("leg_l", "foot_l"), ("tail", "tail_tip")],
    )


def test_confidence_map_peaks_at_the_keypoint():
    keypoints = np.array([[13.5, 5.5], [2.0, 30.0]])
    maps, mask = confidence_maps(keypoints, (32, 24), 1, 2.0)
    assert maps.shape == (32, 24, 2)
    assert maps.dtype == np.float32
    assert mask.tolist() == [True, True]
    assert np.unravel_index(maps[..., 1].argmax(), (32, 24)) == (30, 2)
    assert maps[30, 2, 1] == pytest.approx(1.0)
    # pixel (row 5, col 13) is 0.5 px from the keypoint in x and y
    assert maps[5, 13, 0] == pytest.approx(np.exp(-0.5 / 8.0), rel=1e-6)


def test_confidence_map_with_stride_uses_pixel_centres():
    stride = 4
    # map pixel (2, 3) has its centre at image (3 * 4 + 1.5, 2 * 4 + 1.5)
    maps, _ = confidence_maps(np.array([[13.5, 9.5]]), (32, 32, 3), stride, 4.0)
    assert maps.shape == (8, 8, 1)
    assert maps[2, 3, 0] == pytest.approx(1.0)
    x, y = output_grid((32, 32), stride)
    assert x[0, 3] == 13.5
    assert y[2, 0] == 9.5


def test_missing_keypoint_gives_zero_map_and_false_mask():
    maps, mask = confidence_maps(np.array([[5.0, 5.0], [np.nan, np.nan], [np.nan, 3.0]]), (16, 16), 2, 1.0)
    assert mask.tolist() == [True, False, False]
    assert not maps[..., 1:].any()


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="divisible"):
        confidence_maps(np.zeros((1, 2)), (30, 32), 4, 1.0)
    with pytest.raises(ValueError, match=r"\(n_keypoints, 2\)"):
        confidence_maps(np.zeros((3,)), (32, 32), 4, 1.0)
    with pytest.raises(ValueError, match="sigma"):
        confidence_maps(np.zeros((1, 2)), (32, 32), 4, 0.0)


def test_limb_chains_cut_at_branch_points(skeleton):
    # neck has degree 3: head-neck is one limb, neck-tail-tail_tip and neck-leg_l-foot_l are others
    assert limb_chains(skeleton) == [[0], [1, 4], [2, 3]]
    loop = Skeleton(["a", "b", "c"], edges=[("a", "b"), ("b", "c"), ("c", "a")])
    assert limb_chains(loop) == [[0, 1, 2]]


def test_graph_map_is_high_on_the_segment_and_low_far_away():
    sk = Skeleton(["a", "b"], edges=[("a", "b")])
    keypoints = np.array([[4.0, 16.0], [20.0, 16.0]])
    maps, mask = posture_graph_maps(keypoints, sk, (32, 32), 1, 1.5)
    edge = maps[..., 0]
    assert mask.all()
    assert edge[16, 4:21].min() == pytest.approx(1.0)  # along the segment
    assert edge[2, 16] < 1e-6  # far from it
    assert edge[16, 29] < 1e-3  # beyond the end point
    assert edge[16, 22] == pytest.approx(np.exp(-4 / 4.5))  # 2 px past the end
    np.testing.assert_allclose(maps[..., -2], edge)  # the whole graph of a single edge


def test_missing_end_point_empties_edge_and_masks_limb_and_graph(skeleton):
    keypoints = np.array([[10, 10], [20, 20], [30, 30], [np.nan, np.nan], [40, 8], [50, 50]], float)
    maps, mask = posture_graph_maps(keypoints, skeleton, (64, 64), 4, 2.0)
    n_edges, n_limbs = 5, 3
    assert maps.shape == (16, 16, n_edges + n_limbs + 2)
    assert mask[:n_edges].tolist() == [True, True, False, False, True]
    assert not maps[..., 2:4].any()
    assert mask[n_edges : n_edges + n_limbs].tolist() == [True, True, False]
    assert mask[-2:].tolist() == [False, False]
    graph = maps[..., -2]
    np.testing.assert_allclose(graph, maps[..., :n_edges].max(axis=-1))
    peaks, _ = confidence_maps(keypoints, (64, 64), 4, 2.0)
    np.testing.assert_allclose(maps[..., -1], np.maximum(graph, peaks.max(axis=-1)))


def test_training_targets_layout(skeleton):
    keypoints = np.array([[10, 10], [20, 20], [30, 30], [25, 40], [40, 8], [50, 50]], float)
    targets, mask = training_targets(keypoints, skeleton, (64, 64, 1), 4, 2.0)
    n = n_target_maps(skeleton)
    assert n == 6 + 5 + 3 + 2 == len(target_names(skeleton))
    assert targets.shape == (16, 16, n)
    assert mask.shape == (n,)
    assert mask.all()
    np.testing.assert_array_equal(targets[..., :6], confidence_maps(keypoints, (64, 64), 4, 2.0)[0])
    names = target_names(skeleton)
    assert names[6] == "edge:head-neck"
    assert names[-2:] == ["graph", "graph+peaks"]
    assert names[12] == "limb:neck-tail-tail_tip"
    only_points, _point_mask = training_targets(keypoints, skeleton, (64, 64), 4, 2.0, graph=False)
    assert only_points.shape == (16, 16, 6) == (16, 16, n_target_maps(skeleton, graph=False))
