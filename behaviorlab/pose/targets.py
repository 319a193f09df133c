"""Training targets: keypoints -> confidence maps and posture-graph maps (pure NumPy).

Targets are drawn at the model's output resolution.  With output stride
``s``, map pixel ``i`` covers input-image pixels ``[i*s, (i+1)*s)`` and its
centre is image pixel ``i*s + (s-1)/2``; each Gaussian is evaluated at those
centres in image pixels, so a keypoint at image ``(x, y)`` peaks at map
``((x - (s-1)/2) / s, (y - (s-1)/2) / s)`` and
:func:`behaviorlab.pose.peaks.to_image_coordinates` inverts it exactly.

The posture graph follows DeepPoseKit (Graving et al. 2019): besides one map
per keypoint, the model learns the skeleton at several scales.  The channel
layout of :func:`training_targets` (``K`` keypoints, ``E`` edges, ``L``
limbs) is::

    [0, K)                 keypoint confidence maps, in skeleton order
    [K, K+E)               one map per edge (parent, child): the segment between them
    [K+E, K+E+L)           one map per limb (chain of edges, see :func:`limb_chains`)
    K+E+L                  the whole graph: maximum over all edge maps
    K+E+L+1                graph and peaks: maximum of the whole graph and all keypoint maps

:func:`target_names` gives the name of each channel.  Every map peaks at 1.
A segment map is ``exp(-d**2 / (2 sigma**2))`` with ``d`` the distance to the
segment, i.e. a Gaussian-blurred line.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from behaviorlab.schema import Skeleton

__all__ = [
    "confidence_maps",
    "limb_chains",
    "multi_instance_targets",
    "n_target_maps",
    "output_grid",
    "posture_graph_maps",
    "target_names",
    "training_targets",
]


def output_grid(image_shape: Sequence[int], output_stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Image-pixel coordinates of the centres of the output map's pixels.

    Parameters
    ----------
    image_shape
        ``(height, width)`` or ``(height, width, channels)`` of the input image.
    output_stride
        Input pixels per map pixel; must divide height and width.

    Returns
    -------
    tuple of numpy.ndarray
        ``(x, y)`` of shapes ``(1, out_w)`` and ``(out_h, 1)`` (broadcastable).
    """
    if len(image_shape) not in (2, 3):
        raise ValueError(f"image_shape must be (height, width) or (height, width, channels), got {tuple(image_shape)}")
    height, width = int(image_shape[0]), int(image_shape[1])
    stride = int(output_stride)
    if stride < 1:
        raise ValueError(f"output_stride must be a positive integer, got {output_stride}")
    if height % stride or width % stride:
        raise ValueError(
            f"image size {height}x{width} is not divisible by output_stride={stride}; "
            "crop or pad the images to a multiple of the stride"
        )
    offset = (stride - 1) / 2.0
    x = (np.arange(width // stride, dtype=np.float64) * stride + offset)[None, :]
    y = (np.arange(height // stride, dtype=np.float64) * stride + offset)[:, None]
    return x, y


def _check_keypoints(keypoints: np.ndarray) -> np.ndarray:
    keypoints = np.asarray(keypoints, dtype=np.float64)
    if keypoints.ndim != 2 or keypoints.shape[1] != 2:
        raise ValueError(f"keypoints must have shape (n_keypoints, 2) as (x, y), got {keypoints.shape}")
    return keypoints


def _check_sigma(sigma: float) -> float:
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0 image pixels, got {sigma}")
    return float(sigma)


def confidence_maps(
    keypoints: np.ndarray, image_shape: Sequence[int], output_stride: int, sigma: float
) -> tuple[np.ndarray, np.ndarray]:
    """One Gaussian per keypoint at the output resolution.

    Parameters
    ----------
    keypoints
        Shape ``(n_keypoints, 2)``: ``(x, y)`` in input-image pixels (pixel
        centres at integers); NaN for a missing keypoint.
    image_shape
        ``(height, width)`` or ``(height, width, channels)`` of the input image.
    output_stride
        Input pixels per map pixel (1, 2, 4, 8...); must divide the image size.
    sigma
        Standard deviation of the Gaussian in input-image pixels.

    Returns
    -------
    maps : numpy.ndarray
        Shape ``(height // s, width // s, n_keypoints)``, float32, peak 1 at
        the keypoint; all zero for a missing keypoint.
    mask : numpy.ndarray
        Shape ``(n_keypoints,)``, bool: False where the keypoint is missing.
    """
    keypoints = _check_keypoints(keypoints)
    sigma = _check_sigma(sigma)
    x, y = output_grid(image_shape, output_stride)
    mask = np.all(np.isfinite(keypoints), axis=1)
    maps = np.zeros((y.shape[0], x.shape[1], keypoints.shape[0]), dtype=np.float32)
    for k in np.flatnonzero(mask):
        kx, ky = keypoints[k]
        maps[..., k] = np.exp(-((x - kx) ** 2 + (y - ky) ** 2) / (2.0 * sigma**2))
    return maps, mask


def _segment_map(x: np.ndarray, y: np.ndarray, start: np.ndarray, end: np.ndarray, sigma: float) -> np.ndarray:
    """``exp(-d**2 / (2 sigma**2))`` with ``d`` the distance of each pixel centre to the segment."""
    dx, dy = end[0] - start[0], end[1] - start[1]
    length2 = dx * dx + dy * dy
    if length2 > 0:
        t = np.clip(((x - start[0]) * dx + (y - start[1]) * dy) / length2, 0.0, 1.0)
    else:
        t = np.zeros(np.broadcast_shapes(x.shape, y.shape))
    px = start[0] + t * dx
    py = start[1] + t * dy
    d2 = (x - px) ** 2 + (y - py) ** 2
    return np.exp(-d2 / (2.0 * sigma**2))


def limb_chains(skeleton: Skeleton) -> list[list[int]]:
    """Whole limbs: the skeleton's edges grouped into unbranched chains.

    The undirected edge graph is cut at every keypoint whose degree is not
    2 (branch points and ends); each piece is a limb, e.g. ``shoulder ->
    elbow -> wrist`` in a body whose shoulder also joins the neck.  A closed
    loop of degree-2 keypoints is one limb.

    Parameters
    ----------
    skeleton
        The skeleton; its edges are ``(parent, child)`` pairs.

    Returns
    -------
    list of list of int
        Edge indices (into ``skeleton.edges``) of each limb, limbs ordered by
        their first edge, edges in chain order.
    """
    edges = skeleton.edge_indices()
    degree = np.zeros(skeleton.n_keypoints, dtype=np.int64)
    incident: list[list[int]] = [[] for _ in range(skeleton.n_keypoints)]
    for e, (a, b) in enumerate(edges):
        degree[a] += 1
        degree[b] += 1
        incident[a].append(e)
        incident[b].append(e)
    used = np.zeros(len(edges), dtype=bool)
    limbs: list[list[int]] = []
    for first in range(len(edges)):
        if used[first]:
            continue
        used[first] = True
        chain = [first]
        # Extend forwards from the second end, then backwards from the first.
        for direction in (1, 0):
            node = int(edges[first][direction])
            while degree[node] == 2:
                nxt = [e for e in incident[node] if not used[e]]
                if not nxt:
                    break
                e = nxt[0]
                used[e] = True
                if direction == 1:
                    chain.append(e)
                else:
                    chain.insert(0, e)
                a, b = edges[e]
                node = int(b if a == node else a)
        limbs.append(chain)
    limbs.sort(key=min)
    return limbs


def posture_graph_maps(
    keypoints: np.ndarray, skeleton: Skeleton, image_shape: Sequence[int], output_stride: int, sigma: float
) -> tuple[np.ndarray, np.ndarray]:
    """Hierarchical posture-graph maps (DeepPoseKit): edges, limbs, whole graph, graph and peaks.

    Parameters
    ----------
    keypoints
        Shape ``(n_keypoints, 2)``: ``(x, y)`` in input-image pixels, NaN missing.
    skeleton
        Keypoints (in the order of ``keypoints``) and edges.
    image_shape
        ``(height, width)`` or ``(height, width, channels)`` of the input image.
    output_stride
        Input pixels per map pixel; must divide the image size.
    sigma
        Blur of the segments in input-image pixels.

    Returns
    -------
    maps : numpy.ndarray
        Shape ``(height // s, width // s, E + L + 2)``, float32: ``E`` edge
        maps, ``L`` limb maps, the whole graph, graph and peaks (see the
        module docstring).  An edge with a missing end is all zero.
    mask : numpy.ndarray
        Shape ``(E + L + 2,)``, bool: True where the map is complete (both
        ends of an edge, every edge of a limb or of the graph, and for graph
        and peaks every keypoint too, are present).
    """
    keypoints = _check_keypoints(keypoints)
    if keypoints.shape[0] != skeleton.n_keypoints:
        raise ValueError(f"got {keypoints.shape[0]} keypoints for a skeleton of {skeleton.n_keypoints} keypoints")
    sigma = _check_sigma(sigma)
    x, y = output_grid(image_shape, output_stride)
    out_h, out_w = y.shape[0], x.shape[1]
    edges = skeleton.edge_indices()
    present = np.all(np.isfinite(keypoints), axis=1)

    edge_maps = np.zeros((out_h, out_w, len(edges)), dtype=np.float32)
    edge_mask = np.zeros(len(edges), dtype=bool)
    for e, (a, b) in enumerate(edges):
        if present[a] and present[b]:
            edge_maps[..., e] = _segment_map(x, y, keypoints[a], keypoints[b], sigma)
            edge_mask[e] = True

    limbs = limb_chains(skeleton)
    limb_maps = np.zeros((out_h, out_w, len(limbs)), dtype=np.float32)
    limb_mask = np.zeros(len(limbs), dtype=bool)
    for i, chain in enumerate(limbs):
        limb_maps[..., i] = edge_maps[..., chain].max(axis=-1)
        limb_mask[i] = bool(edge_mask[chain].all())

    graph = edge_maps.max(axis=-1) if len(edges) else np.zeros((out_h, out_w), dtype=np.float32)
    peaks, peak_mask = confidence_maps(keypoints, image_shape, output_stride, sigma)
    graph_and_peaks = np.maximum(graph, peaks.max(axis=-1))
    graph_complete = bool(edge_mask.all())
    maps = np.concatenate([edge_maps, limb_maps, graph[..., None], graph_and_peaks[..., None]], axis=-1)
    mask = np.concatenate([edge_mask, limb_mask, [graph_complete, graph_complete and bool(peak_mask.all())]])
    return maps.astype(np.float32, copy=False), mask


def training_targets(
    keypoints: np.ndarray,
    skeleton: Skeleton,
    image_shape: Sequence[int],
    output_stride: int,
    sigma: float,
    *,
    graph: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """All target maps of one image: ``[confidence maps | posture-graph maps]``.

    Parameters
    ----------
    keypoints, skeleton, image_shape, output_stride
        As in :func:`posture_graph_maps`.
    sigma
        Gaussian standard deviation in input-image pixels.
    graph
        False for the confidence maps only (``n_keypoints`` channels).

    Returns
    -------
    targets : numpy.ndarray
        Shape ``(height // s, width // s, n_target_maps(skeleton))``, float32,
        in the channel layout of the module docstring.
    mask : numpy.ndarray
        Shape ``(n_target_maps(skeleton),)``, bool: False for incomplete maps.
    """
    maps, mask = confidence_maps(keypoints, image_shape, output_stride, sigma)
    if not graph:
        return maps, mask
    graph_maps, graph_mask = posture_graph_maps(keypoints, skeleton, image_shape, output_stride, sigma)
    return np.concatenate([maps, graph_maps], axis=-1), np.concatenate([mask, graph_mask])


def multi_instance_targets(
    keypoints: np.ndarray,
    skeleton: Skeleton,
    image_shape: Sequence[int],
    output_stride: int,
    sigma: float,
    *,
    graph: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Target maps of an image with several animals: the maximum of every animal's :func:`training_targets`.

    Each keypoint map then holds one Gaussian per animal (a centroid model's
    target when the only keypoint is the anchor).  A channel is complete only
    when it is complete for every labeled animal: a map missing one animal's
    peak would teach the model that the animal is not there.

    Parameters
    ----------
    keypoints
        Shape ``(n_instances, n_keypoints, 2)``: ``(x, y)`` in input-image
        pixels, NaN missing; instances with no labeled keypoint are ignored.
    skeleton
        Keypoints (in the order of ``keypoints``) and edges.
    image_shape
        ``(height, width)`` or ``(height, width, channels)`` of the input image.
    output_stride
        Input pixels per map pixel; must divide the image size.
    sigma
        Gaussian standard deviation in input-image pixels.
    graph
        False for the confidence maps only.

    Returns
    -------
    targets : numpy.ndarray
        Shape ``(height // s, width // s, n_target_maps(skeleton, graph=graph))``,
        float32; all zero when no instance is labeled.
    mask : numpy.ndarray
        Shape ``(n_target_maps(skeleton, graph=graph),)``, bool: False where
        any labeled instance lacks what the channel needs.
    """
    keypoints = np.asarray(keypoints, dtype=np.float64)
    if keypoints.ndim != 3 or keypoints.shape[2] != 2:
        raise ValueError(f"keypoints must have shape (n_instances, n_keypoints, 2) as (x, y), got {keypoints.shape}")
    x, y = output_grid(image_shape, output_stride)
    n_maps = n_target_maps(skeleton, graph=graph)
    maps = np.zeros((y.shape[0], x.shape[1], n_maps), dtype=np.float32)
    mask = np.ones(n_maps, dtype=bool)
    for instance in keypoints[np.isfinite(keypoints).all(axis=-1).any(axis=-1)]:
        one, one_mask = training_targets(instance, skeleton, image_shape, output_stride, sigma, graph=graph)
        np.maximum(maps, one, out=maps)
        mask &= one_mask
    return maps, mask


def n_target_maps(skeleton: Skeleton, *, graph: bool = True) -> int:
    """Channels of :func:`training_targets`: ``K + E + L + 2`` (``K`` without the graph)."""
    if not graph:
        return skeleton.n_keypoints
    return skeleton.n_keypoints + len(skeleton.edges) + len(limb_chains(skeleton)) + 2


def target_names(skeleton: Skeleton, *, graph: bool = True) -> list[str]:
    """Name of each channel of :func:`training_targets`, e.g. ``"edge:neck-tail"``, ``"limb:0"``, ``"graph"``."""
    names = list(skeleton.keypoints)
    if not graph:
        return names
    names += [f"edge:{a}-{b}" for a, b in skeleton.edges]
    for chain in limb_chains(skeleton):
        nodes = dict.fromkeys(name for e in chain for name in skeleton.edges[e])
        names.append("limb:" + "-".join(nodes))
    names += ["graph", "graph+peaks"]
    return names
