"""Rendering layer of the synthetic data: top-down grayscale frames drawn from poses.

:func:`render_frames` draws frames from any pose Dataset with the keypoints of
:data:`~behaviorlab.synthetic.simulate.SKELETON`: a textured floor with walls,
and for each animal a body, head, ears, forepaws and a tapered tail shaped by
the keypoints, anti-aliased through signed distance fields (numpy only), plus
seeded sensor noise.  :func:`visible_keypoints` tells which keypoints of a
frame are hidden under a part drawn after them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

import numpy as np
import xarray as xr
from rich.progress import track

from behaviorlab.synthetic.simulate import (
    KEYPOINTS,
    STREAM_BACKGROUND,
    STREAM_NOISE,
    SyntheticConfig,
    random_stream,
)

__all__ = ["pose_array", "render_frames", "visible_keypoints"]

# Body radius profile along the centreline, from tail base (u=0) through spine (0.5) and neck (0.75) to nose (1),
# in units of the animal length (nose to tail base).
_PROFILE_U = np.array([0.0, 0.12, 0.3, 0.5, 0.62, 0.71, 0.77, 0.84, 0.92, 0.97, 1.0])
_PROFILE_R = np.array([0.075, 0.14, 0.185, 0.18, 0.155, 0.125, 0.108, 0.112, 0.08, 0.05, 0.03])

_PALETTES = {
    True: {  # dark animal on a light floor
        "floor": 182.0,
        "wall": 226.0,
        "wall_edge": 120.0,
        "body": 40.0,
        "ears": 72.0,
        "paws": 112.0,
        "tail": 88.0,
        "shadow": 0.18,
    },
    False: {  # light (albino) animal on a dark floor
        "floor": 62.0,
        "wall": 130.0,
        "wall_edge": 30.0,
        "body": 222.0,
        "ears": 196.0,
        "paws": 205.0,
        "tail": 190.0,
        "shadow": 0.30,
    },
}

_K = {name: i for i, name in enumerate(KEYPOINTS)}
_GRAIN = 0.7  # static per-pixel floor grain (gray levels)


def _value_noise(rng: np.random.Generator, shape: tuple[int, int], cells: int) -> np.ndarray:
    """Smooth random texture: a ``cells x cells`` grid of N(0, 1) values, smoothstep-interpolated to ``shape``."""
    grid = rng.standard_normal((cells + 1, cells + 1))
    h, w = shape
    fy = np.arange(h) * (cells / h)
    fx = np.arange(w) * (cells / w)
    iy, ix = fy.astype(np.int64), fx.astype(np.int64)
    ty, tx = fy - iy, fx - ix
    ty, tx = ty * ty * (3 - 2 * ty), tx * tx * (3 - 2 * tx)
    top = grid[iy][:, ix] * (1 - tx) + grid[iy][:, ix + 1] * tx
    bottom = grid[iy + 1][:, ix] * (1 - tx) + grid[iy + 1][:, ix + 1] * tx
    return top * (1 - ty)[:, None] + bottom * ty[:, None]


def _background(cfg: SyntheticConfig) -> np.ndarray:
    """Draw the static scene, ``(H, W)`` float32: textured, unevenly lit floor; walls with a dark inner edge."""
    pal = _PALETTES[cfg.dark_animal]
    rng = random_stream(cfg.seed, STREAM_BACKGROUND)
    h, w = cfg.height, cfg.width
    texture = 7.0 * _value_noise(rng, (h, w), 5) + 3.5 * _value_noise(rng, (h, w), 23)
    grain = _GRAIN * rng.standard_normal((h, w))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    r2 = ((xx - (w - 1) / 2) / (w / 2)) ** 2 + ((yy - (h - 1) / 2) / (h / 2)) ** 2
    light = 1.0 - 0.07 * r2
    x0, y0, x1, y1 = cfg.arena_box
    d_box = np.maximum(np.maximum(x0 - xx, xx - x1), np.maximum(y0 - yy, yy - y1))  # > 0 on the walls
    floor = (pal["floor"] + texture + grain) * light * (1.0 - 0.12 * np.clip(1.0 + d_box / 8.0, 0.0, 1.0))
    wall = (pal["wall"] + 0.4 * texture + grain) * light
    wall = wall * (
        1.0 - 0.25 * np.clip(1.0 - np.minimum(np.minimum(xx, w - 1 - xx), np.minimum(yy, h - 1 - yy)) / 3, 0, 1)
    )
    edge = np.clip(1.75 - np.abs(d_box - 1.25), 0.0, 1.0)  # a ~2.5 px line on the inner wall edge
    wall = wall + (pal["wall_edge"] - wall) * edge
    on_floor = np.clip(0.5 - d_box, 0.0, 1.0)
    return (wall + (floor - wall) * on_floor).astype(np.float32)


def _catmull_rom_weights(per_segment: int) -> np.ndarray:
    """Return the Catmull-Rom weights ``(per_segment, 4)`` of the four control points at ``t = i / per_segment``."""
    t = np.arange(per_segment) / per_segment
    t2, t3 = t * t, t * t * t
    return 0.5 * np.stack([-t + 2 * t2 - t3, 2 - 5 * t2 + 3 * t3, t + 4 * t2 - 3 * t3, -t2 + t3], axis=1)


_CR_PER_SEGMENT = 5
_CR_WEIGHTS = _catmull_rom_weights(_CR_PER_SEGMENT)


def _catmull_rom(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sample a Catmull-Rom curve through ``points`` ``(m, 2)``: samples ``(k, 2)``, segment parameters ``(k,)``."""
    m = len(points)
    ext = np.concatenate([2 * points[:1] - points[1:2], points, 2 * points[-1:] - points[-2:-1]])
    control = ext[np.arange(m - 1)[:, None] + np.arange(4)[None, :]]  # (m - 1, 4, 2)
    samples = np.einsum("tk,skd->std", _CR_WEIGHTS, control).reshape(-1, 2)
    params = (np.arange(m - 1)[:, None] + np.arange(_CR_PER_SEGMENT)[None, :] / _CR_PER_SEGMENT).ravel()
    return np.concatenate([samples, points[-1:]]), np.append(params, m - 1.0)


def _animal_shapes(kp: np.ndarray, big_l: float) -> dict[str, np.ndarray]:
    """Return capsules ``(n, 6)`` = ``(ax, ay, bx, by, ra, rb)`` per body part, from keypoints ``(K, 2)``."""
    shapes: dict[str, np.ndarray] = {}
    axis = kp[[_K["tail_base"], _K["spine"], _K["neck"], _K["nose"]]]
    if np.isfinite(axis).all():
        length = float(np.linalg.norm(np.diff(axis, axis=0), axis=1).sum())
        shrink = min(max(1.0 - length / big_l, 0.0), 0.5)  # a rearing animal is closer to the camera
        widen = 1.0 + 0.6 * shrink
        pts, par = _catmull_rom(axis)
        u = np.interp(par, [0.0, 1.0, 2.0, 3.0], [0.0, 0.5, 0.75, 1.0])
        r = np.interp(u, _PROFILE_U, _PROFILE_R) * big_l * widen
        shapes["body"] = np.column_stack([pts[:-1], pts[1:], r[:-1], r[1:]])
    else:
        widen = 1.0
    for part, names, radius in (
        ("ears", ("ear_left", "ear_right"), 0.068 * big_l * widen),
        ("paws", ("forepaw_left", "forepaw_right"), 0.038 * big_l),
    ):
        pts = kp[[_K[k] for k in names]]
        pts = pts[np.isfinite(pts).all(axis=1)]
        if len(pts):
            shapes[part] = np.column_stack([pts, pts, np.full(len(pts), radius), np.full(len(pts), radius)])
    tail = kp[[_K["tail_base"], _K["tail_mid"], _K["tail_tip"]]]
    if np.isfinite(tail).all():
        control = 2 * tail[1] - 0.5 * (tail[0] + tail[2])  # quadratic Bezier through the three points
        t = np.linspace(0.0, 1.0, 11)[:, None]
        pts = (1 - t) ** 2 * tail[0] + 2 * (1 - t) * t * control + t**2 * tail[2]
        r = np.linspace(0.05, 0.026, 11) * big_l
        shapes["tail"] = np.column_stack([pts[:-1], pts[1:], r[:-1], r[1:]])
    return shapes


def _distance(px: np.ndarray, py: np.ndarray, seg: np.ndarray) -> np.ndarray:
    """Signed distance (px, negative inside) from points to the union of tapered capsules ``seg`` ``(n, 6)``."""
    ax, ay, bx, by, ra, rb = (seg[:, i, None].astype(np.float32) for i in range(6))
    bax, bay = bx - ax, by - ay
    bb = bax * bax + bay * bay
    bb = np.where(bb > 0, bb, np.float32(1.0))
    pax, pay = px[None] - ax, py[None] - ay
    h = np.clip((pax * bax + pay * bay) / bb, 0.0, 1.0)
    dx, dy = pax - bax * h, pay - bay * h
    return (np.sqrt(dx * dx + dy * dy) - (ra + (rb - ra) * h)).min(axis=0)


_DRAW_ORDER = ("tail", "body", "ears", "paws")


def _draw_animal(img: np.ndarray, kp: np.ndarray, big_l: float, pal: dict[str, float]) -> None:
    """Composite one animal into ``img`` ``(H, W)`` float32, in place."""
    h, w = img.shape
    for part, seg in _ordered_shapes(kp, big_l):
        pad = 6.0 if part == "body" else 2.0
        reach = seg[:, 4:6].max() + pad
        x0 = max(math.floor(min(seg[:, 0].min(), seg[:, 2].min()) - reach), 0)
        x1 = min(math.ceil(max(seg[:, 0].max(), seg[:, 2].max()) + reach) + 1, w)
        y0 = max(math.floor(min(seg[:, 1].min(), seg[:, 3].min()) - reach), 0)
        y1 = min(math.ceil(max(seg[:, 1].max(), seg[:, 3].max()) + reach) + 1, h)
        if x0 >= x1 or y0 >= y1:
            continue
        py, px = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        d = _distance(px.ravel(), py.ravel(), seg).reshape(px.shape)
        region = img[y0:y1, x0:x1]
        if part == "body":  # soft contact shadow around the body
            region *= 1.0 - pal["shadow"] * np.clip(1.0 - d / 5.0, 0.0, 1.0)
        cover = np.clip(0.5 - d, 0.0, 1.0)
        region += (pal[part] - region) * cover


def _ordered_shapes(kp: np.ndarray, big_l: float) -> Iterator[tuple[str, np.ndarray]]:
    shapes = _animal_shapes(kp, big_l)
    for part in _DRAW_ORDER:
        if part in shapes:
            yield part, shapes[part]


def pose_array(poses: xr.Dataset) -> np.ndarray:
    """Positions as ``(time, individual, keypoint, 2)`` in :data:`KEYPOINTS` order."""
    missing = [k for k in KEYPOINTS if k not in poses["keypoint"].values]
    if missing:
        raise ValueError(f"rendering needs the keypoints of SKELETON; the poses lack {missing}")
    pos = poses["position"].sel(keypoint=list(KEYPOINTS), space=["x", "y"])
    return pos.transpose("time", "individual", "keypoint", "space").values.astype(np.float64)


class _Renderer:
    """Random-access renderer of one session: frame ``t`` always comes out the same."""

    def __init__(self, poses: xr.Dataset, config: SyntheticConfig) -> None:
        self.config = config
        self.pos = pose_array(poses)
        self.background = _background(config)
        self.palette = _PALETTES[config.dark_animal]

    def __len__(self) -> int:
        return self.pos.shape[0]

    def frame(self, t: int) -> np.ndarray:
        img = self.background.copy()
        for kp in self.pos[t]:
            _draw_animal(img, kp, self.config.animal_length_px, self.palette)
        if self.config.noise_sigma > 0:
            noise = random_stream(self.config.seed, STREAM_NOISE, t).standard_normal(img.shape, dtype=np.float32)
            img += np.float32(self.config.noise_sigma) * noise
        return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def render_frames(poses: xr.Dataset, config: SyntheticConfig, *, progress: bool = False) -> Iterator[np.ndarray]:
    """Render top-down grayscale frames of the animals in ``poses``.

    Each animal's body, head, ears, forepaws and tail are shaped by its
    keypoints (:data:`SKELETON`), so any pose Dataset with these keypoints can
    be drawn, including predictions.  Later individuals are drawn over earlier
    ones; parts whose keypoints are NaN are left out.

    Parameters
    ----------
    poses
        Pose Dataset with the keypoints of :data:`SKELETON`, in pixels.
    config
        Scene parameters: image size, arena, palette, animal size, noise and
        seed (``fps``, ``duration_s`` and ``n_animals`` are taken from ``poses``).
    progress
        Show a progress bar (rich) while rendering.

    Yields
    ------
    numpy.ndarray
        uint8 frames of shape ``(height, width)``, one per time point.
    """
    renderer = _Renderer(poses, config)
    indices: Iterable[int] = range(len(renderer))
    if progress:
        indices = track(indices, description="rendering frames", total=len(renderer), transient=True)
    for t in indices:
        yield renderer.frame(t)


def visible_keypoints(pos_t: np.ndarray, config: SyntheticConfig) -> np.ndarray:
    """Keypoints of one frame ``(individual, keypoint, 2)`` with occluded or off-image ones set to NaN.

    A keypoint is occluded when it lies under a part drawn after it: any part
    of a later individual, or its own body (for the tail keypoints).
    """
    out = pos_t.copy()
    big_l = config.animal_length_px
    shapes = [_animal_shapes(kp, big_l) for kp in pos_t]
    tail_idx = [_K["tail_mid"], _K["tail_tip"]]
    for i, kp in enumerate(pos_t):
        finite = np.isfinite(kp).all(axis=1)
        inside = finite & (kp[:, 0] >= -0.5) & (kp[:, 0] <= config.width - 0.5)
        inside &= (kp[:, 1] >= -0.5) & (kp[:, 1] <= config.height - 0.5)
        hidden = ~inside
        px, py = np.nan_to_num(kp[:, 0]).astype(np.float32), np.nan_to_num(kp[:, 1]).astype(np.float32)
        occluders = [seg for j in range(i + 1, len(pos_t)) for seg in shapes[j].values()]
        for seg in occluders:
            hidden |= _distance(px, py, seg) < 0.0
        if "body" in shapes[i]:
            under = _distance(px[tail_idx], py[tail_idx], shapes[i]["body"]) < 0.0
            hidden[tail_idx] |= under
        out[i, hidden] = np.nan
    return out
