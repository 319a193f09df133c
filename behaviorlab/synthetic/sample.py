"""Seeded generator of realistic sample data: rendered mice with ground-truth poses and behaviors.

The generator has three layers, each usable on its own:

1. :func:`simulate_poses` runs a seeded semi-Markov *behavioral program* per
   animal (bouts of ``rest``, ``walk``, ``run``, ``groom``, ``rear`` and
   ``turn``) through smooth kinematics (speed, heading, body bend, head yaw,
   gait and grooming phase, rearing) inside a square arena, and returns the
   ground-truth pose Dataset (10 keypoints, :data:`SKELETON`) and the per-frame
   behavior labels.
2. :func:`render_frames` draws top-down grayscale frames from any pose Dataset
   with this skeleton: a textured floor with walls, and for each animal a
   body, head, ears, forepaws and a tapered tail shaped by the keypoints,
   anti-aliased through signed distance fields (numpy only), plus seeded sensor
   noise.
3. :func:`write_session` and :func:`generate_sample_data` write videos, poses,
   labels (per-frame CSV and BORIS event CSV), a labeled-frames set, metadata
   and a ``MANIFEST.json`` with checksums: the committed ``sample_data/``.

Everything is deterministic bit for bit: random numbers come from
``numpy.random.Generator(PCG64(...))`` seeded from :attr:`SyntheticConfig.seed`
through fixed :class:`numpy.random.SeedSequence` spawn keys (one stream for the
behavioral program of each animal, one for the floor texture, one per frame for
sensor noise, one for sampling labeled frames).  Positions are rounded to
1e-4 px so last-bit differences of transcendental functions between CPUs do not
reach the files.

Pixel coordinates are (x, y) with the origin at the top-left and pixel *centres*
at integer coordinates (the DeepLabCut / ``imshow`` convention).
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import math
import platform
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import xarray as xr

from behaviorlab._atomic import atomic_path
from behaviorlab.schema import Skeleton, from_numpy

__all__ = [
    "BEHAVIORS",
    "KEYPOINTS",
    "SKELETON",
    "SyntheticConfig",
    "generate_sample_data",
    "render_frames",
    "simulate_poses",
    "write_pose_sessions",
    "write_session",
]

logger = logging.getLogger(__name__)

#: Keypoint names, in the order of the ``keypoint`` dim.
KEYPOINTS: tuple[str, ...] = (
    "nose",
    "ear_left",
    "ear_right",
    "neck",
    "forepaw_left",
    "forepaw_right",
    "spine",
    "tail_base",
    "tail_mid",
    "tail_tip",
)

#: The mouse skeleton: a tree rooted at ``spine``; ``left``/``right`` are the animal's own sides.
SKELETON = Skeleton(
    KEYPOINTS,
    edges=[
        ("spine", "neck"),
        ("neck", "nose"),
        ("neck", "ear_left"),
        ("neck", "ear_right"),
        ("neck", "forepaw_left"),
        ("neck", "forepaw_right"),
        ("spine", "tail_base"),
        ("tail_base", "tail_mid"),
        ("tail_mid", "tail_tip"),
    ],
    symmetry=[("ear_left", "ear_right"), ("forepaw_left", "forepaw_right")],
    name="behaviorlab-mouse-10",
)

#: Behavior names; the index into this tuple is the behavior code.
BEHAVIORS: tuple[str, ...] = ("rest", "walk", "run", "groom", "rear", "turn")
REST, WALK, RUN, GROOM, REAR, TURN = range(6)

# Semi-Markov program: transition probabilities between bouts (rows: from, columns: to; no self-transitions),
# median bout durations (s) of a log-normal clipped to [0.5, 4] s, and the first bout's probabilities.
_TRANSITIONS = np.array(
    [
        # rest  walk  run   groom rear  turn
        [0.00, 0.35, 0.05, 0.25, 0.15, 0.20],  # rest
        [0.20, 0.00, 0.20, 0.15, 0.20, 0.25],  # walk
        [0.15, 0.50, 0.00, 0.05, 0.05, 0.25],  # run
        [0.35, 0.30, 0.05, 0.00, 0.15, 0.15],  # groom
        [0.20, 0.35, 0.05, 0.15, 0.00, 0.25],  # rear
        [0.15, 0.45, 0.15, 0.10, 0.15, 0.00],  # turn
    ]
)
_MEDIAN_DURATION_S = np.array([2.0, 1.8, 1.0, 2.5, 1.2, 0.8])
_INITIAL = np.array([0.3, 0.4, 0.0, 0.1, 0.1, 0.1])
_MIN_BOUT_S, _MAX_BOUT_S, _DURATION_SIGMA = 0.5, 4.0, 0.45

# Seed-sequence streams.
_STREAM_PROGRAM, _STREAM_BACKGROUND, _STREAM_NOISE, _STREAM_LABELED = 0, 1, 2, 3

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


def _positive(instance: Any, attribute: attrs.Attribute, value: float) -> None:
    if not value > 0:
        raise ValueError(f"SyntheticConfig.{attribute.name} must be > 0, got {value!r}")


def _non_negative(instance: Any, attribute: attrs.Attribute, value: float) -> None:
    if not value >= 0:
        raise ValueError(f"SyntheticConfig.{attribute.name} must be >= 0, got {value!r}")


@attrs.frozen
class SyntheticConfig:
    """Parameters of one synthetic session.

    Parameters
    ----------
    fps
        Frames per second.
    duration_s
        Length of the session in seconds; ``round(fps * duration_s)`` frames.
    n_animals
        Number of animals, simulated independently (they may cross).
    width, height
        Image size in pixels.  The arena is the largest centred square that
        leaves ``arena_margin_px`` of wall on each side.
    seed
        Seed of every random stream (program, texture, noise, frame sampling).
    arena_margin_px
        Width of the visible wall band around the arena floor, in pixels.
    arena_size_cm
        Side of the arena floor in cm; sets the pixel scale of the speeds.
    animal_length_px
        Nose-to-tail-base length of a standing animal in pixels; the tail adds
        ``0.9`` of this.
    noise_sigma
        Standard deviation of the per-frame Gaussian sensor noise, in gray levels.
    dark_animal
        ``True``: dark animal on a light floor; ``False``: light animal on a dark floor.
    speed_scale
        Per-animal multipliers of walking and running speed (empty: all 1.0);
        used to give experimental groups a kinematic difference.
    individuals
        Names of the animals (empty: ``mouse1``, ``mouse2``, ...).
    """

    fps: float = attrs.field(default=30.0, converter=float, validator=_positive)
    duration_s: float = attrs.field(default=60.0, converter=float, validator=_positive)
    n_animals: int = attrs.field(default=1, converter=int)
    width: int = attrs.field(default=256, converter=int)
    height: int = attrs.field(default=256, converter=int)
    seed: int = attrs.field(default=0, converter=int, validator=_non_negative)
    arena_margin_px: int = attrs.field(default=12, converter=int, validator=_non_negative)
    arena_size_cm: float = attrs.field(default=40.0, converter=float, validator=_positive)
    animal_length_px: float = attrs.field(default=48.0, converter=float, validator=_positive)
    noise_sigma: float = attrs.field(default=1.5, converter=float, validator=_non_negative)
    dark_animal: bool = attrs.field(default=True, converter=bool)
    speed_scale: tuple[float, ...] = attrs.field(default=(), converter=lambda v: tuple(float(x) for x in v))
    individuals: tuple[str, ...] = attrs.field(default=(), converter=lambda v: tuple(str(x) for x in v))

    def __attrs_post_init__(self) -> None:
        """Check that the parameters describe a session that can be simulated."""
        if self.n_animals < 1:
            raise ValueError(f"SyntheticConfig.n_animals must be >= 1, got {self.n_animals}")
        if self.n_frames < 1:
            raise ValueError(f"SyntheticConfig: fps * duration_s = {self.fps * self.duration_s:g} gives no frames")
        if min(self.width, self.height) < 64:
            raise ValueError(f"SyntheticConfig: images must be at least 64x64 pixels, got {self.width}x{self.height}")
        if self.arena_side_px < 2.5 * self.animal_length_px:
            raise ValueError(
                f"SyntheticConfig: the arena ({self.arena_side_px:g} px) must be at least 2.5 animal lengths "
                f"({2.5 * self.animal_length_px:g} px); enlarge the image, shrink arena_margin_px or animal_length_px"
            )
        for name in ("speed_scale", "individuals"):
            value = getattr(self, name)
            if value and len(value) != self.n_animals:
                raise ValueError(f"SyntheticConfig.{name} has {len(value)} entries for n_animals={self.n_animals}")
        if any(not s > 0 for s in self.speed_scale):
            raise ValueError(f"SyntheticConfig.speed_scale entries must be > 0, got {self.speed_scale}")
        if self.individuals and len(set(self.individuals)) != len(self.individuals):
            raise ValueError(f"SyntheticConfig.individuals must be unique, got {self.individuals}")

    @property
    def n_frames(self) -> int:
        """Number of frames, ``round(fps * duration_s)``."""
        return round(self.fps * self.duration_s)

    @property
    def arena_side_px(self) -> float:
        """Side of the square arena floor in pixels."""
        return float(min(self.width, self.height) - 2 * self.arena_margin_px)

    @property
    def arena_box(self) -> tuple[float, float, float, float]:
        """Arena floor ``(x_min, y_min, x_max, y_max)`` in pixel coordinates (pixel centres at integers)."""
        side = self.arena_side_px
        x0 = (self.width - side) / 2 - 0.5
        y0 = (self.height - side) / 2 - 0.5
        return (x0, y0, x0 + side, y0 + side)

    @property
    def px_per_cm(self) -> float:
        """Pixels per centimetre on the arena floor."""
        return self.arena_side_px / self.arena_size_cm

    @property
    def individual_names(self) -> tuple[str, ...]:
        """The animals' names."""
        return self.individuals or tuple(f"mouse{i + 1}" for i in range(self.n_animals))

    @property
    def speed_scales(self) -> tuple[float, ...]:
        """Per-animal speed multipliers."""
        return self.speed_scale or (1.0,) * self.n_animals

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form, for JSON."""
        out = attrs.asdict(self)
        out["speed_scale"] = list(self.speed_scale)
        out["individuals"] = list(self.individuals)
        return out


def _rng(seed: int, *key: int) -> np.random.Generator:
    """Return an independent, reproducible random stream for ``(seed, *key)``."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


# =========================================================================== simulation
def _draw_program(rng: np.random.Generator, cfg: SyntheticConfig) -> list[tuple[int, int, int]]:
    """Semi-Markov bouts ``(behavior, start_frame, stop_frame)`` covering the session (stop exclusive)."""
    n = cfg.n_frames
    bouts: list[tuple[int, int, int]] = []
    b = int(rng.choice(len(BEHAVIORS), p=_INITIAL))
    start = 0
    while start < n:
        dur = math.exp(math.log(_MEDIAN_DURATION_S[b]) + _DURATION_SIGMA * rng.standard_normal())
        frames = max(1, round(min(max(dur, _MIN_BOUT_S), _MAX_BOUT_S) * cfg.fps))
        stop = min(n, start + frames)
        bouts.append((b, start, stop))
        start = stop
        b = int(rng.choice(len(BEHAVIORS), p=_TRANSITIONS[b]))
    return bouts


def _bout_parameters(rng: np.random.Generator, b: int, cfg: SyntheticConfig, speed_scale: float) -> dict[str, float]:
    """Targets of one bout: speed (px/s), rhythm frequency (Hz), turn rate (rad/s), gait/groom/rear/stretch levels."""
    cm = cfg.px_per_cm
    u = rng.uniform(size=3)
    p = {"speed": 0.0, "freq": 2.0, "turn": 0.0, "gait": 0.0, "groom": 0.0, "rear": 0.0, "stretch": 0.0}
    if b == WALK:
        p.update(speed=(5.0 + 5.0 * u[0]) * cm * speed_scale, freq=3.0 + 1.5 * u[1], gait=1.0)
    elif b == RUN:
        p.update(speed=(16.0 + 10.0 * u[0]) * cm * speed_scale, freq=5.0 + 1.5 * u[1], gait=1.3, stretch=1.0)
    elif b == GROOM:
        p.update(freq=4.0 + 2.0 * u[1], groom=1.0)
    elif b == REAR:
        p.update(rear=0.85 + 0.15 * u[0])
    elif b == TURN:
        p.update(speed=(0.3 + 0.7 * u[0]) * cm, turn=(2.5 + 2.0 * u[1]) * (1.0 if u[2] < 0.5 else -1.0))
    return p


def _wrap(angle: float) -> float:
    return (angle + math.pi) % (2 * math.pi) - math.pi


def _simulate_state(
    rng: np.random.Generator,
    cfg: SyntheticConfig,
    bouts: list[tuple[int, int, int]],
    speed_scale: float,
    start: tuple[float, float, float],
) -> dict[str, np.ndarray]:
    """Integrate the kinematic state of one animal frame by frame (scalar loop, ``math`` only)."""
    n, dt, big_l = cfg.n_frames, 1.0 / cfg.fps, cfg.animal_length_px
    ax0, ay0, ax1, ay1 = cfg.arena_box
    inset = 0.62 * big_l + 2.0  # keeps the head, ears and paws on the floor in any heading
    lo_x, lo_y, hi_x, hi_y = ax0 + inset, ay0 + inset, ax1 - inset, ay1 - inset
    lam = 0.6 * big_l  # range of the wall repulsion

    def gain(tau: float) -> float:
        return 1.0 - math.exp(-dt / tau)

    k_v, k_w, k_lvl, k_f, k_bend, k_psi, k_rear = (
        gain(0.15),
        gain(0.10),
        gain(0.15),
        gain(0.2),
        gain(0.12),
        gain(0.2),
        gain(0.2),
    )
    tau_ou = 0.5
    ou_a, ou_b = math.exp(-dt / tau_ou), math.sqrt(1.0 - math.exp(-2 * dt / tau_ou))
    noise = rng.standard_normal((n, 2))

    names = ("x", "y", "heading", "speed", "bend", "head_yaw", "phase", "gait", "groom", "rear", "stretch")
    out = {k: np.empty(n) for k in names}
    x, y, th = start
    v = w = bend = psi = phase = gait = groom = rear = stretch = 0.0
    freq = 2.0
    wander = head = 0.0
    for b, s0, s1 in bouts:
        p = _bout_parameters(rng, b, cfg, speed_scale)
        for i in range(s0, s1):
            wander = ou_a * wander + ou_b * noise[i, 0]
            head = ou_a * head + ou_b * noise[i, 1]
            # heading: wander + wall steering while locomoting, fixed rate while turning
            if b in (WALK, RUN):
                fx = math.exp(-(x - lo_x) / lam) - math.exp(-(hi_x - x) / lam)
                fy = math.exp(-(y - lo_y) / lam) - math.exp(-(hi_y - y) / lam)
                desired = math.atan2(math.sin(th) + 4.0 * fy, math.cos(th) + 4.0 * fx)
                w_target = (1.0 if b == WALK else 0.6) * wander + 5.0 * _wrap(desired - th)
            elif b == TURN:
                w_target = p["turn"]
            else:
                w_target = 0.0
            w += (w_target - w) * k_w
            th = _wrap(th + w * dt)
            # speed, slowed down when heading into a wall
            v += (p["speed"] - v) * k_v
            c, s = math.cos(th), math.sin(th)
            ahead = math.inf
            if c > 1e-9:
                ahead = min(ahead, (hi_x - x) / c)
            elif c < -1e-9:
                ahead = min(ahead, (lo_x - x) / c)
            if s > 1e-9:
                ahead = min(ahead, (hi_y - y) / s)
            elif s < -1e-9:
                ahead = min(ahead, (lo_y - y) / s)
            v = max(0.0, min(v, 3.0 * max(ahead, 0.0)))
            x = min(max(x + v * c * dt, lo_x), hi_x)
            y = min(max(y + v * s * dt, lo_y), hi_y)
            # posture
            gait += (p["gait"] - gait) * k_lvl
            groom += (p["groom"] - groom) * k_lvl
            rear += (p["rear"] - rear) * k_rear
            stretch += (p["stretch"] - stretch) * k_lvl
            freq += (p["freq"] - freq) * k_f
            phase = (phase + 2 * math.pi * freq * dt) % (2 * math.pi)
            if b in (WALK, RUN):
                bend_target = max(-1.0, min(1.0, 0.35 * w))
            elif b == TURN:
                bend_target = 0.9 * math.copysign(1.0, p["turn"])
            else:
                bend_target = 0.0
            bend += (bend_target - bend) * k_bend
            psi_target = {
                REST: 0.25 * head,
                WALK: 0.15 * head,
                RUN: 0.05 * head,
                GROOM: 0.0,
                REAR: 0.3 * head,
                TURN: 0.3 * math.copysign(1.0, p["turn"] or 1.0),
            }[b]
            psi += (max(-0.6, min(0.6, psi_target)) - psi) * k_psi
            for key, val in zip(names, (x, y, th, v, bend, psi, phase, gait, groom, rear, stretch), strict=True):
                out[key][i] = val
    return out


def _body_keypoints(st: dict[str, np.ndarray], big_l: float) -> np.ndarray:
    """Keypoints except the tail from the state arrays, vectorised over time: ``(time, keypoint, 2)``."""
    n = st["x"].shape[0]
    n_s = 41
    s = np.linspace(-0.5, 0.5, n_s)  # arc position in animal lengths, 0 = spine
    s_mid = (s[1:] + s[:-1]) / 2
    phase, gait, groom, rear, stretch = st["phase"], st["gait"], st["groom"], st["rear"], st["stretch"]
    sin_p, cos_p = np.sin(phase), np.cos(phase)
    front = 1.0 - 0.45 * rear - 0.12 * groom + 0.05 * stretch + 0.04 * groom * sin_p
    back = 1.0 - 0.10 * rear + 0.04 * stretch
    bend = st["bend"] + 0.22 * gait * sin_p  # lateral body oscillation at the stride frequency
    yaw = st["head_yaw"] + 0.12 * groom * cos_p  # head strokes while grooming
    ramp = np.clip((s_mid - 0.18) / 0.1, 0.0, 1.0)
    alpha = st["heading"][:, None] + bend[:, None] * s_mid[None, :] + yaw[:, None] * ramp[None, :]
    ds = np.where(s_mid[None, :] > 0, front[:, None], back[:, None]) * (big_l / (n_s - 1))
    step_x, step_y = ds * np.cos(alpha), ds * np.sin(alpha)
    centre = n_s // 2
    cx = np.zeros((n, n_s))
    cy = np.zeros((n, n_s))
    cx[:, centre + 1 :] = np.cumsum(step_x[:, centre:], axis=1)
    cy[:, centre + 1 :] = np.cumsum(step_y[:, centre:], axis=1)
    cx[:, :centre] = -np.cumsum(step_x[:, :centre][:, ::-1], axis=1)[:, ::-1]
    cy[:, :centre] = -np.cumsum(step_y[:, :centre][:, ::-1], axis=1)[:, ::-1]
    cx += st["x"][:, None]
    cy += st["y"][:, None]

    def point(j: int) -> np.ndarray:
        return np.stack([cx[:, j], cy[:, j]], axis=-1)

    def frame_at(j: int) -> tuple[np.ndarray, np.ndarray]:
        a = alpha[:, min(j, n_s - 2)]
        fwd = np.stack([np.cos(a), np.sin(a)], axis=-1)
        left = np.stack([fwd[:, 1], -fwd[:, 0]], axis=-1)  # the animal's left in y-down image coordinates
        return fwd, left

    kp = np.full((n, len(KEYPOINTS), 2), np.nan)
    nose, neck, spine, tail_base = point(n_s - 1), point(30), point(centre), point(0)
    kp[:, _K["nose"]], kp[:, _K["neck"]], kp[:, _K["spine"]], kp[:, _K["tail_base"]] = nose, neck, spine, tail_base
    head_fwd, head_left = frame_at(36)
    ear = point(32) - 0.01 * big_l * head_fwd
    ear_off = (0.11 * big_l * (1.0 + 0.2 * rear))[:, None] * head_left
    kp[:, _K["ear_left"]], kp[:, _K["ear_right"]] = ear + ear_off, ear - ear_off
    # forepaws: a weighted blend of the gait, grooming and rearing placements
    fwd, left = frame_at(27)
    base = point(27)
    swing = (0.085 * big_l * gait * sin_p)[:, None] * fwd
    gait_l = base + 0.04 * big_l * fwd + 0.15 * big_l * left + swing
    gait_r = base + 0.04 * big_l * fwd - 0.15 * big_l * left - swing
    stroke = nose + (-0.09 + 0.04 * sin_p)[:, None] * big_l * head_fwd
    lat = ((0.06 + 0.02 * cos_p) * big_l)[:, None] * head_left
    groom_l, groom_r = stroke + lat, stroke - lat
    chest = point(33) + 0.02 * big_l * head_fwd
    rear_l, rear_r = chest + 0.10 * big_l * head_left, chest - 0.10 * big_l * head_left
    w_g, w_r = groom, rear
    total = np.maximum(1.0, w_g + w_r)
    w_g, w_r = w_g / total, w_r / total
    w_a = 1.0 - w_g - w_r
    kp[:, _K["forepaw_left"]] = w_a[:, None] * gait_l + w_g[:, None] * groom_l + w_r[:, None] * rear_l
    kp[:, _K["forepaw_right"]] = w_a[:, None] * gait_r + w_g[:, None] * groom_r + w_r[:, None] * rear_r
    return kp


def _simulate_tail(
    tail_base: np.ndarray, tangent: np.ndarray, st: dict[str, np.ndarray], cfg: SyntheticConfig
) -> np.ndarray:
    """Follow-the-leader tail chain dragged by the tail base, kept on the floor: ``(time, n_links + 1, 2)``."""
    n_links, stiffness = 8, 0.35
    seg = 0.9 * cfg.animal_length_px / n_links
    ax0, ay0, ax1, ay1 = cfg.arena_box
    lo_x, lo_y, hi_x, hi_y = ax0 + 1.5, ay0 + 1.5, ax1 - 1.5, ay1 - 1.5
    n = tail_base.shape[0]
    out = np.empty((n, n_links + 1, 2))
    bx, by = -tangent[0, 0], -tangent[0, 1]
    px = [tail_base[0, 0] + i * seg * bx for i in range(n_links + 1)]
    py = [tail_base[0, 1] + i * seg * by for i in range(n_links + 1)]
    for t in range(n):
        px[0], py[0] = float(tail_base[t, 0]), float(tail_base[t, 1])
        prev_x, prev_y = -float(tangent[t, 0]), -float(tangent[t, 1])
        wave = 0.12 * float(st["gait"][t])
        phase = float(st["phase"][t])
        for i in range(1, n_links + 1):
            dx, dy = px[i] - px[i - 1], py[i] - py[i - 1]
            norm = math.hypot(dx, dy) or 1.0
            dx, dy = dx / norm + stiffness * prev_x, dy / norm + stiffness * prev_y
            if wave:
                a = wave * math.sin(phase - 0.7 * i)
                ca, sa = math.cos(a), math.sin(a)
                dx, dy = ca * dx - sa * dy, sa * dx + ca * dy
            norm = math.hypot(dx, dy) or 1.0
            dx, dy = dx / norm, dy / norm
            px[i] = min(max(px[i - 1] + seg * dx, lo_x), hi_x)
            py[i] = min(max(py[i - 1] + seg * dy, lo_y), hi_y)
            prev_x, prev_y = dx, dy
        out[t, :, 0], out[t, :, 1] = px, py
    return out


def _start_positions(rng: np.random.Generator, cfg: SyntheticConfig) -> list[tuple[float, float, float]]:
    """Start (x, y, heading) per animal in the central part of the arena, apart from each other."""
    ax0, ay0, ax1, ay1 = cfg.arena_box
    cx, cy, half = (ax0 + ax1) / 2, (ay0 + ay1) / 2, 0.3 * (ax1 - ax0)
    starts: list[tuple[float, float, float]] = []
    for _ in range(cfg.n_animals):
        for _attempt in range(100):
            x, y = cx + half * rng.uniform(-1, 1), cy + half * rng.uniform(-1, 1)
            if all(math.hypot(x - sx, y - sy) > 1.2 * cfg.animal_length_px for sx, sy, _ in starts):
                break
        starts.append((x, y, float(rng.uniform(-math.pi, math.pi))))
    return starts


def simulate_poses(config: SyntheticConfig) -> tuple[xr.Dataset, xr.DataArray]:
    """Simulate ground-truth poses and behaviors of every animal in a session.

    Parameters
    ----------
    config
        Session parameters; the result depends only on them.

    Returns
    -------
    poses : xarray.Dataset
        Pose Dataset, ``position`` ``(time, space=2, keypoint=10, individual)``
        in pixels, ``confidence`` 1.0, attrs ``fps``,
        ``source_software="behaviorlab.synthetic.sample"``, ``skeleton``
        (:data:`SKELETON`) and ``log`` recording the configuration.
    behavior : xarray.DataArray
        Behavior name per frame and animal, dims ``(time, individual)``,
        values from :data:`BEHAVIORS`; attrs ``behaviors`` (JSON list).

    Examples
    --------
    >>> poses, behavior = simulate_poses(SyntheticConfig(duration_s=2, seed=1))
    >>> poses["position"].shape
    (60, 2, 10, 1)
    """
    cfg = config
    n = cfg.n_frames
    position = np.empty((n, 2, len(KEYPOINTS), cfg.n_animals))
    codes = np.empty((n, cfg.n_animals), dtype=np.int64)
    starts = _start_positions(_rng(cfg.seed, _STREAM_PROGRAM), cfg)
    for a in range(cfg.n_animals):
        rng = _rng(cfg.seed, _STREAM_PROGRAM, a + 1)
        bouts = _draw_program(rng, cfg)
        state = _simulate_state(rng, cfg, bouts, cfg.speed_scales[a], starts[a])
        kp = _body_keypoints(state, cfg.animal_length_px)
        tangent = kp[:, _K["spine"]] - kp[:, _K["tail_base"]]
        tangent /= np.linalg.norm(tangent, axis=-1, keepdims=True)
        tail = _simulate_tail(kp[:, _K["tail_base"]], tangent, state, cfg)
        kp[:, _K["tail_mid"]] = tail[:, tail.shape[1] // 2]
        kp[:, _K["tail_tip"]] = tail[:, -1]
        position[:, :, :, a] = kp.transpose(0, 2, 1)
        for b, s0, s1 in bouts:
            codes[s0:s1, a] = b
    position = np.round(position, 4)
    log = [{"operation": "simulate_poses", "module": __name__, "config": cfg.to_dict()}]
    poses = from_numpy(
        position,
        np.ones((n, len(KEYPOINTS), cfg.n_animals)),
        individuals=cfg.individual_names,
        fps=cfg.fps,
        source_software="behaviorlab.synthetic.sample",
        skeleton=SKELETON,
    )
    poses.attrs["log"] = json.dumps(log)
    behavior = xr.DataArray(
        np.asarray(BEHAVIORS)[codes].astype(object),
        dims=("time", "individual"),
        coords={"time": poses["time"].values, "individual": list(cfg.individual_names)},
        name="behavior",
        attrs={"behaviors": json.dumps(list(BEHAVIORS))},
    )
    return poses, behavior


# =========================================================================== rendering
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
    rng = _rng(cfg.seed, _STREAM_BACKGROUND)
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


def _pose_array(poses: xr.Dataset) -> np.ndarray:
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
        self.pos = _pose_array(poses)
        self.background = _background(config)
        self.palette = _PALETTES[config.dark_animal]

    def __len__(self) -> int:
        return self.pos.shape[0]

    def frame(self, t: int) -> np.ndarray:
        img = self.background.copy()
        for kp in self.pos[t]:
            _draw_animal(img, kp, self.config.animal_length_px, self.palette)
        if self.config.noise_sigma > 0:
            noise = _rng(self.config.seed, _STREAM_NOISE, t).standard_normal(img.shape, dtype=np.float32)
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
        from rich.progress import track

        indices = track(indices, description="rendering frames", total=len(renderer), transient=True)
    for t in indices:
        yield renderer.frame(t)


def _visible_keypoints(pos_t: np.ndarray, config: SyntheticConfig) -> np.ndarray:
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


# =========================================================================== files
def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_labels_csv(behavior: xr.DataArray, path: Path, fps: float) -> Path:
    """Per-frame labels in long form: ``frame, time_s, individual, behavior``."""
    values = behavior.transpose("time", "individual").values
    individuals = [str(v) for v in behavior["individual"].values]
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["frame", "time_s", "individual", "behavior"])
        for t in range(values.shape[0]):
            for j, name in enumerate(individuals):
                writer.writerow([t, f"{t / fps:.6f}", name, values[t, j]])
    return path


def _write_session(
    out_dir: Path, name: str, config: SyntheticConfig, *, video: bool = True
) -> tuple[dict[str, Path], xr.Dataset, xr.DataArray]:
    from behaviorlab.io.annotations import write_boris_csv
    from behaviorlab.io.save import save_poses
    from behaviorlab.io.video_write import write_video

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    poses, behavior = simulate_poses(config)
    paths = {
        "video": out_dir / f"{name}.mp4",
        "poses": out_dir / f"{name}_poses.nc",
        "poses_dlc": out_dir / f"{name}_poses_dlc.csv",
        "labels": out_dir / f"{name}_labels.csv",
        "boris": out_dir / f"{name}_boris.csv",
    }
    logger.info("writing synthetic session %s (%d frames, %d animals)", name, config.n_frames, config.n_animals)
    if video:
        write_video(paths["video"], render_frames(poses, config, progress=True), config.fps, grayscale=True)
    else:
        del paths["video"]
    save_poses(poses, paths["poses"])
    save_poses(poses, paths["poses_dlc"])
    _write_labels_csv(behavior, paths["labels"], config.fps)
    write_boris_csv(
        behavior,
        paths["boris"],
        fps=config.fps,
        media_file=f"{name}.mp4",
        observation_id=name,
        description="synthetic session generated by behaviorlab.synthetic.sample (ground-truth labels)",
    )
    return paths, poses, behavior


def write_session(out_dir: str | Path, name: str, config: SyntheticConfig) -> dict[str, Path]:
    """Simulate, render and write one synthetic session.

    Parameters
    ----------
    out_dir
        Folder to write to (created if needed).
    name
        Session name, the stem of every file.
    config
        Session parameters.

    Returns
    -------
    dict of str to Path
        ``video`` (``{name}.mp4``, H.264), ``poses`` (``{name}_poses.nc``),
        ``poses_dlc`` (``{name}_poses_dlc.csv``, DeepLabCut format),
        ``labels`` (``{name}_labels.csv``: frame, time_s, individual, behavior)
        and ``boris`` (``{name}_boris.csv``: BORIS tabular events).
    """
    paths, _, _ = _write_session(Path(out_dir), name, config)
    return paths


#: The committed sample sessions: (name, config, group and condition per animal).
SAMPLE_SESSIONS: tuple[tuple[str, SyntheticConfig, tuple[tuple[str, str], ...]], ...] = (
    (
        "session_a",
        SyntheticConfig(seed=1, n_animals=1, individuals=("mouse1",), speed_scale=(1.0,)),
        (("control", "vehicle"),),
    ),
    (
        "session_b",
        SyntheticConfig(seed=2, n_animals=2, individuals=("mouse1", "mouse2"), speed_scale=(0.75, 1.0)),
        (("treated", "drug"), ("control", "vehicle")),
    ),
)
#: Sessions without video: poses "tracked by another tool" and BORIS annotations, rendered by nobody (cheap).
#: With session_b they give the demo's classifiers five annotated sessions to cross-validate on.
SAMPLE_POSE_SESSIONS: tuple[tuple[str, SyntheticConfig, tuple[tuple[str, str], ...]], ...] = tuple(
    (
        name,
        SyntheticConfig(seed=seed, n_animals=1, individuals=("mouse1",), speed_scale=(scale,)),
        ((group, condition),),
    )
    for name, seed, scale, group, condition in (
        ("session_c", 3, 1.0, "control", "vehicle"),
        ("session_d", 4, 0.75, "treated", "drug"),
        ("session_e", 5, 1.0, "control", "vehicle"),
        ("session_f", 6, 0.75, "treated", "drug"),
    )
)
N_LABELED_FRAMES = 120
REGENERATE_COMMAND = "behaviorlab sample-data --out sample_data"


def write_pose_sessions(
    out_dir: str | Path, seeds: Mapping[str, int], *, duration_s: float = 60.0
) -> dict[str, list[Path]]:
    """Write simulated sessions without video: a pose file and a per-frame behavior label CSV each.

    For projects, tests and benchmarks that start from poses (``behaviorlab
    run`` with pose files): fast, because nothing is rendered.

    Parameters
    ----------
    out_dir
        Folder to write into: ``poses/<name>.nc`` and ``<name>_labels.csv``
        (``frame, individual, behavior``, read by
        :func:`behaviorlab.io.annotations.load_annotations`).
    seeds
        Session name to the seed of its :class:`SyntheticConfig`.
    duration_s
        Length of every session.

    Returns
    -------
    dict
        ``{"poses": [...], "annotations": [...]}``, paths in the order of ``seeds``.
    """
    from behaviorlab.io.save import save_poses

    out_dir = Path(out_dir)
    written: dict[str, list[Path]] = {"poses": [], "annotations": []}
    for name, seed in seeds.items():
        poses, behavior = simulate_poses(SyntheticConfig(duration_s=duration_s, seed=seed))
        written["poses"].append(save_poses(poses, out_dir / "poses" / f"{name}.nc"))
        table = behavior.to_dataframe(name="behavior").reset_index()
        frame_of = {t: i for i, t in enumerate(behavior["time"].values)}
        table = table.assign(frame=table["time"].map(frame_of))[["frame", "individual", "behavior"]]
        with atomic_path(out_dir / f"{name}_labels.csv") as tmp:
            table.to_csv(tmp, index=False)
        written["annotations"].append(out_dir / f"{name}_labels.csv")
    return written


def _sample_frames(behaviors: Sequence[xr.DataArray], n_frames: int, seed: int) -> list[tuple[int, int]]:
    """Pick ``(session_index, frame)`` pairs spread evenly over the behaviors of the first animal of each session."""
    rng = _rng(seed, _STREAM_LABELED)
    pool: dict[str, list[tuple[int, int]]] = {b: [] for b in BEHAVIORS}
    for s, beh in enumerate(behaviors):
        for t, b in enumerate(beh.isel(individual=0).values):
            pool[str(b)].append((s, t))
    per = [n_frames // len(BEHAVIORS) + (1 if i < n_frames % len(BEHAVIORS) else 0) for i in range(len(BEHAVIORS))]
    chosen: list[tuple[int, int]] = []
    for b, k in zip(BEHAVIORS, per, strict=True):
        candidates = pool[b]
        idx = rng.choice(len(candidates), size=min(k, len(candidates)), replace=False)
        chosen.extend(candidates[i] for i in sorted(idx))
    return sorted(chosen)


def _versions() -> dict[str, Any]:
    import av

    from behaviorlab import __version__

    return {
        "behaviorlab": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "xarray": xr.__version__,
        "av": av.__version__,
        "ffmpeg": {k: ".".join(str(x) for x in v) for k, v in sorted(av.library_versions.items())},
        "platform": platform.machine(),
    }


_README = """\
# behaviorlab sample data (synthetic)

**These files are generated, not recorded.**  They come from
`behaviorlab.synthetic.sample.generate_sample_data` and are rebuilt bit for bit with

    {command}

(`MANIFEST.json` lists every file with its sha256, the generator parameters and
the numpy / PyAV / FFmpeg versions used; `tests/unit/test_synthetic.py` checks
that regenerating reproduces them).

Top-down grayscale videos ({width}x{height} px, {fps:g} fps, {duration:g} s) of
mouse-like animals in a square {arena:g} cm arena ({ppcm:.2f} px/cm), with the
exact ground truth behind every frame.

Files:

- `session_a.mp4`: one animal (`mouse1`), H.264 (crf 18, yuv420p).
- `session_b.mp4`: two animals (`mouse1`, `mouse2`) moving independently; they
  may cross, so one can hide the other.
- `session_c` to `session_f`: one animal each, poses and annotations only (no
  video), as sessions tracked by another tool arrive; `session_d` and
  `session_f` are `treated`.
- `*_poses.nc`: ground-truth poses (behaviorlab / movement schema):
  `position (time, space, keypoint, individual)` in px, `confidence` = 1, attrs
  `fps`, `skeleton`, `source_software="behaviorlab.synthetic.sample"`.
- `*_poses_dlc.csv`: the same poses in DeepLabCut CSV format.
- `*_labels.csv`: per-frame ground-truth behavior, columns
  `frame, time_s, individual, behavior`.
- `*_boris.csv`: the same labels as a BORIS tabular event export (START/STOP
  per bout and subject; START = first frame / fps, STOP = (last frame + 1) / fps).
- `labeled_frames.labels.h5`: {n_labeled} frames drawn from both videos,
  spread over the behaviors and decoded from the videos, with ground-truth
  keypoints (NaN where hidden under another animal, or for a tail under its own
  body); sources `session_x.mp4#frame=N`.  Read it with
  `behaviorlab.io.labeled_frames.load_labeled_frames`.
- `metadata.csv`: `session, subject, group, condition, speed_scale`; subject
  names are unique within a session.  The `treated` animal walks and runs at
  0.75 of the control speed.

Keypoints (10): {keypoints}.  Skeleton edges and left/right pairs are stored in
the pose files (`skeleton` attr).  Pixel centres are at integer coordinates,
origin top-left.

Behaviors: `rest` (still, small head scanning), `walk` (5-10 cm/s, lateral body
and paw oscillation at a 3-4.5 Hz stride), `run` (16-26 cm/s, 5-6.5 Hz stride,
body stretched), `groom` (stationary, paws at the nose, rhythmic head and paw
strokes at 4-6 Hz), `rear` (body shortened in the top view, paws at the head,
head looks larger), `turn` (rotation nearly in place at 140-260 deg/s).  Bouts
follow a semi-Markov program (0.5-4 s each); animals avoid the walls.
"""


def generate_sample_data(out_dir: str | Path) -> Path:
    """Write the committed sample data set into ``out_dir``.

    Two 60 s sessions at 30 fps and 256x256 px (``session_a``: one animal,
    ``session_b``: two), each as video, poses (netCDF and DeepLabCut CSV),
    per-frame labels and a BORIS event CSV; four more one-animal sessions
    (:data:`SAMPLE_POSE_SESSIONS`) without video; a labeled-frames set of
    :data:`N_LABELED_FRAMES` frames drawn from both; ``metadata.csv``;
    ``README.md``; and ``MANIFEST.json`` with the sha256 of every file, the
    generator parameters, the library versions and the command that
    regenerates it (``behaviorlab sample-data --out sample_data``).

    Parameters
    ----------
    out_dir
        Destination folder (created if needed; existing files are replaced).

    Returns
    -------
    Path
        ``out_dir``.
    """
    from behaviorlab.io.labeled_frames import LabeledFrames, save_labeled_frames
    from behaviorlab.io.video import VideoReader

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    poses_list, behaviors = [], []
    for name, cfg, _groups in SAMPLE_SESSIONS:
        paths, poses, behavior = _write_session(out, name, cfg)
        files.extend(paths.values())
        poses_list.append(poses)
        behaviors.append(behavior)
    for name, cfg, _groups in SAMPLE_POSE_SESSIONS:
        files.extend(_write_session(out, name, cfg, video=False)[0].values())

    # labeled frames from both sessions: images and visible ground-truth keypoints
    picks = _sample_frames(behaviors, N_LABELED_FRAMES, seed=SAMPLE_SESSIONS[0][1].seed)
    n_ind = max(cfg.n_animals for _, cfg, _ in SAMPLE_SESSIONS)
    individuals = tuple(f"mouse{i + 1}" for i in range(n_ind))
    # images are decoded from the written videos, as a labeler would extract them
    images: list[np.ndarray] = [np.empty(0, np.uint8)] * len(picks)
    sources = [f"{SAMPLE_SESSIONS[s][0]}.mp4#frame={t}" for s, t in picks]
    keypoints = np.full((len(picks), n_ind, len(KEYPOINTS), 2), np.nan)
    for s, (name, cfg, _) in enumerate(SAMPLE_SESSIONS):
        rows = [k for k, (s_k, _) in enumerate(picks) if s_k == s]
        frame_idx = [picks[k][1] for k in rows]
        with VideoReader(out / f"{name}.mp4", grayscale=True) as video:
            decoded = video[frame_idx]
        pos = _pose_array(poses_list[s])
        for k, t, img in zip(rows, frame_idx, decoded, strict=True):
            images[k] = img
            vis = _visible_keypoints(pos[t], cfg)
            keypoints[k, : vis.shape[0]] = vis
    labeled = LabeledFrames(
        images=images, keypoints=keypoints, skeleton=SKELETON, individuals=individuals, sources=tuple(sources)
    )
    labeled_path = out / "labeled_frames.labels.h5"
    save_labeled_frames(labeled, labeled_path)
    files.append(labeled_path)

    metadata_path = out / "metadata.csv"
    with atomic_path(metadata_path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["session", "subject", "group", "condition", "speed_scale"])
        for name, cfg, groups in (*SAMPLE_SESSIONS, *SAMPLE_POSE_SESSIONS):
            for subject, (group, condition), scale in zip(cfg.individual_names, groups, cfg.speed_scales, strict=True):
                writer.writerow([name, subject, group, condition, f"{scale:g}"])
    files.append(metadata_path)

    cfg0 = SAMPLE_SESSIONS[0][1]
    readme_path = out / "README.md"
    text = _README.format(
        command=REGENERATE_COMMAND,
        width=cfg0.width,
        height=cfg0.height,
        fps=cfg0.fps,
        duration=cfg0.duration_s,
        arena=cfg0.arena_size_cm,
        ppcm=cfg0.px_per_cm,
        n_labeled=N_LABELED_FRAMES,
        keypoints=", ".join(f"`{k}`" for k in KEYPOINTS),
    )
    with atomic_path(readme_path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    files.append(readme_path)

    videos = {name for name, _, _ in SAMPLE_SESSIONS}
    manifest = {
        "description": "Synthetic sample data generated by behaviorlab.synthetic.sample; not real recordings.",
        "command": REGENERATE_COMMAND,
        "function": "behaviorlab.synthetic.sample.generate_sample_data",
        "sessions": {
            name: {"config": cfg.to_dict(), "groups": [list(g) for g in groups], "video": name in videos}
            for name, cfg, groups in (*SAMPLE_SESSIONS, *SAMPLE_POSE_SESSIONS)
        },
        "labeled_frames": {"n_frames": len(picks), "seed": cfg0.seed},
        "video": {"codec": "libx264", "crf": 18, "preset": "medium", "pix_fmt": "yuv420p"},
        "versions": _versions(),
        "files": {
            p.name: {"sha256": _sha256(p), "bytes": p.stat().st_size} for p in sorted(files, key=lambda q: q.name)
        },
    }
    with atomic_path(out / "MANIFEST.json") as tmp:
        tmp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return out
