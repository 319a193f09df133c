"""Simulation layer of the synthetic data: seeded behavioral programs and the ground-truth poses they produce.

:func:`simulate_poses` runs a seeded semi-Markov *behavioral program* per
animal (bouts of ``rest``, ``walk``, ``run``, ``groom``, ``rear`` and
``turn``) through smooth kinematics (speed, heading, body bend, head yaw,
gait and grooming phase, rearing) inside a square arena, and returns the
ground-truth pose Dataset (10 keypoints, :data:`SKELETON`) and the per-frame
behavior labels.

The module also owns what the generator's three layers share (this one,
rendering in :mod:`behaviorlab.synthetic.render` and the files of
:mod:`behaviorlab.synthetic.sample`): the keypoints, skeleton and behaviors,
:class:`SyntheticConfig`, and the seeded random streams.

Everything is deterministic bit for bit: random numbers come from
``numpy.random.Generator(PCG64(...))`` seeded from :attr:`SyntheticConfig.seed`
through fixed :class:`numpy.random.SeedSequence` spawn keys
(:func:`random_stream`: one stream for the behavioral program of each animal,
one for the floor texture, one per frame for sensor noise, one for sampling
labeled frames).  Positions are rounded to 1e-4 px so last-bit differences of
transcendental functions between CPUs do not reach the files.

Pixel coordinates are (x, y) with the origin at the top-left and pixel *centres*
at integer coordinates (the DeepLabCut / ``imshow`` convention).
"""

from __future__ import annotations

import json
import math
from typing import Any

import attrs
import numpy as np
import xarray as xr

from behaviorlab.schema import Skeleton, from_numpy

__all__ = [
    "BEHAVIORS",
    "KEYPOINTS",
    "SKELETON",
    "STREAM_BACKGROUND",
    "STREAM_LABELED",
    "STREAM_NOISE",
    "STREAM_PROGRAM",
    "SyntheticConfig",
    "random_stream",
    "simulate_poses",
]

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

# Seed-sequence streams (spawn keys of random_stream): program, floor texture, sensor noise, labeled frames.
STREAM_PROGRAM, STREAM_BACKGROUND, STREAM_NOISE, STREAM_LABELED = 0, 1, 2, 3

_K = {name: i for i, name in enumerate(KEYPOINTS)}


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
    social
        Pull of each animal after the first towards the animal before it while
        walking or running (a follow / approach program; 0: the animals move
        independently).  About 2-4 makes them meet and touch every few seconds,
        for testing detection and tracking through contact.
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
    social: float = attrs.field(default=0.0, converter=float, validator=_non_negative)

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
        if not self.social:
            del out["social"]  # files written before the option existed stay byte-identical
        return out


def random_stream(seed: int, *key: int) -> np.random.Generator:
    """Return an independent, reproducible random stream for ``(seed, *key)``."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


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


def _follow(leader: np.ndarray | None, i: int, x: float, y: float, social: float, big_l: float) -> tuple[float, float]:
    """Steering pull ``(gx, gy)`` towards the leader at frame ``i``; none within half a body length."""
    if leader is None or social <= 0:
        return 0.0, 0.0
    dx, dy = float(leader[i, 0]) - x, float(leader[i, 1]) - y
    dist = math.hypot(dx, dy)
    if dist <= 0.5 * big_l:
        return 0.0, 0.0
    return social * dx / dist, social * dy / dist


def _simulate_state(
    rng: np.random.Generator,
    cfg: SyntheticConfig,
    bouts: list[tuple[int, int, int]],
    speed_scale: float,
    start: tuple[float, float, float],
    leader: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Integrate the kinematic state of one animal frame by frame (scalar loop, ``math`` only).

    ``leader`` ``(n, 2)``: positions of another animal this one steers towards
    while locomoting, with weight ``cfg.social``, until within half a body length.
    """
    n, dt, big_l = cfg.n_frames, 1.0 / cfg.fps, cfg.animal_length_px
    ax0, ay0, ax1, ay1 = cfg.arena_box
    inset = 0.62 * big_l + 2.0  # keeps the head, ears and paws on the floor in any heading
    lo_x, lo_y, hi_x, hi_y = ax0 + inset, ay0 + inset, ax1 - inset, ay1 - inset
    lam = 0.6 * big_l  # range of the wall repulsion

    def gain(tau: float) -> float:
        return 1.0 - math.exp(-dt / tau)

    k_v, k_w, k_lvl, k_f, k_bend, k_psi, k_rear = (gain(tau) for tau in (0.15, 0.10, 0.15, 0.2, 0.12, 0.2, 0.2))
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
                gx, gy = _follow(leader, i, x, y, cfg.social, big_l)
                desired = math.atan2(math.sin(th) + 4.0 * fy + gy, math.cos(th) + 4.0 * fx + gx)
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
    starts = _start_positions(random_stream(cfg.seed, STREAM_PROGRAM), cfg)
    for a in range(cfg.n_animals):
        rng = random_stream(cfg.seed, STREAM_PROGRAM, a + 1)
        bouts = _draw_program(rng, cfg)
        leader = None if a == 0 else position[:, :, _K["spine"], a - 1]
        state = _simulate_state(rng, cfg, bouts, cfg.speed_scales[a], starts[a], leader)
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
    log = [{"operation": "simulate_poses", "module": "behaviorlab.synthetic.sample", "config": cfg.to_dict()}]
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
