"""Embedded synthetic benchmark: procedurally rendered people whose action is motion at
three scales and whose private attributes are graded cues on the person and in the scene.

Each sample is a small person (head, torso, legs, two hands) in a cluttered scene, rendered
at 32x32. Version 4 of the generator (see docs/synthetic.md).

* **Action** is a coarse body motion (how the whole person moves over the frame) plus one
  articulation. Each coarse motion is shared by two classes, told apart by an
  articulation at one of three scales:

  - fine (`*_wave` / `*_clap`): the hands carry a 1-px checker (skin colour +-0.25) whose
    polarity flips every frame or every second frame. Weak blur, 2x averaging, strong blur,
    blackening and 4x averaging all remove it.
  - intermediate (`*_left` / `*_right`): a vertical sinusoidal ripple of period 4 px on the
    shirt drifts one pixel a frame left or right (phase fixed to the frame, not the body).
    A 1-px Gaussian keeps 29 % of its amplitude; a 2-px Gaussian 0.7 %; 2x averaging
    samples it at exactly the Nyquist rate, where a drift left and a drift right give the
    same standing wave; blackening removes it.
  - coarse (`*_march` / `*_stand`): the legs swing apart and together every second frame,
    or stay still. A silhouette cue: it survives blackening (the black shape keeps it),
    region blur (pixels outside the region keep the outline) and 2x averaging; 4x
    averaging largely removes it.

  The cues a class does not use are drawn at random, so only its own cue separates a pair.
  The novel set (action set B) has cues of its own at the same three scales: a 1-px checker
  on the trousers (`shuffle` / `tap`), a horizontal ripple drifting up or down the shirt
  (`up` / `down`), and the hands raised above the head every second frame or kept down
  (`cheer` / `rest`).
  With a cue's scale removed, a perfect classifier keeps 5, 4 or 3 of 6 classes' worth
  (top-1 5/6, 2/3, 1/2). Nuisance: a slow random sway of the body, a bystander in a third
  of the scenes, three props that the person passes in front of. (Coarse-level nuisance,
  overlapping motion ranges or a share of videos moving as another class, made the tiny
  fT' fail to learn coarse motion at all, so raw stays near its ceiling; see docs/synthetic.md.)
  Positions wrap around the frame (a torus) and starts are uniform, so one frame says
  nothing about the action.
* **Private attributes** are drawn independently of the action and of each other
  (prevalence 0.4), fourteen in two disjoint sets of seven. Colours of the background,
  clothes, props and bystander are drawn the same way for every attribute value, so no
  attribute can be read from a frame's mean colour, and the bystander (half the scenes)
  tells nothing. Pattern cues are zero-mean square-wave textures whose half-period, the
  cue's *scale*, is drawn per sample (1, 2 or 6 px, `SCALES`) with a random contrast: a
  filter removes an attribute for the samples whose scale it removes, so blur and
  downsampling weaken it progressively.

  - P1 (VISPR1 role): `skin_dark` (the skin tone of head and hands, a continuous tone with
    a threshold: blackening removes it, blur keeps it), `face_visible` (eyes and mouth of
    1 or 2 px), `long_hair` (strands beside the face: a silhouette that a black shape
    keeps in part), `bag` (a carried bag of graded size, a silhouette), and three props
    (a set's scenes show only its own props):
    `outdoor` (a window onto horizontal layers), `text` (a sign with a checker of glyphs),
    `vehicle` (a box with a vertical grille). A negative prop is a plain patch.
  - P2 (VISPR2 role): `hat` (graded height), `earrings` (1 or 2 px), `tall` (body scale,
    overlapping ranges), `logo` (a checker patch on the shirt), and the props `landmark`
    (diagonal texture), `ball` (anti-diagonal) and `plant` (plaid).

  `skin_dark` is entangled with the action: the hands that carry the wave / clap cue are
  skin-coloured. The other private cues live elsewhere, so a frame-wise anonymizer can in
  principle keep the action and flatten them.
* Sets: action set A (walk / bounce / idle, 6 classes) with P1 form the 'known' benchmark;
  action set B (diag / circle / drift, 6 other classes) with P2 the 'novel' one. Every
  sample draws all fourteen attributes (the person cues of both sets are drawn, the props
  of its own set only); a set's labels are its own seven. Videos have 16
  frames; private images are single frames of a still person.
* Region masks: every video frame and image carries the renderer's exact region labels
  (`bench.contract.dataset.REGION_*`): the actor's body, the action-carrying pixels (hands;
  the trousers in set B), and the rest of the people (bystander, bag, hat, earrings). The
  person-region baselines (blackening, region blur) use all of it in place of a detector;
  the `oracle` reference keeps the action-carrying pixels and the body's silhouette only.
* Splits: per action class 50 / 10 / 20 videos (train / val / test); private sets
  900 / 300 / 600 images. Everything is deterministic from the data seed, which is the
  run's seed (so a table's spread over seeds covers the data as well as the models),
  rendered once and cached as `.npz` under the cache dir (`$BENCH_CACHE_DIR`, default
  `~/.cache/privbench`).
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from bench.contract.config import Preset
from bench.contract.context import RunContext
from bench.contract.dataset import (
    DATASETS,
    ActionData,
    Benchmark,
    DatasetFamily,
    ImageArray,
    PrivacyData,
    Splits,
    VideoArray,
)
from bench.contract.errors import BenchError
from bench.contract.frames import REGION_ACTION, REGION_BODY, REGION_OTHER
from bench.contract.locks import Notify, exclusive, to_stderr
from bench.data.cache import atomic_save_npz
from bench.data.frame_store import TensorFrames

# 2: person masks include the companion and earrings
# 3: action = coarse motion + articulation (hand texture flicker, leg swing); region labels
# 4: three articulation scales per set, graded private cues (per-sample scale), props,
#    no colour giveaways, the data seed is the run's seed
GENERATOR_VERSION = 4
SIZE = 32
VIDEO_FRAMES = 16
PER_CLASS = {"train": 50, "val": 10, "test": 20}
PRIVATE_COUNTS = {"train": 900, "val": 300, "test": 600}
PREVALENCE = 0.4
HAND_CONTRAST = 0.25  # amplitude of the fine cue's 1-px checker
RIPPLE = 0.3  # amplitude of the intermediate cue's period-4 ripple
RIPPLE_PERIOD = 4.0  # px: 2x averaging samples it at exactly the Nyquist rate
LEG_SWING = 0.6  # how far (x scale) the legs move apart / together when marching
ARM_RAISE = 5.0  # how far (y scale) the hands rise when cheering
BODY = 1.2  # body scale: a head 7 px across, the person about 22 px tall
SWAY = 0.3  # px: the largest amplitude of a slow random sway added to every trajectory
SCALES = (1, 2, 6)  # half-periods (px) of the graded pattern cues
SCALE_SHARES = (0.15, 0.25, 0.6)  # how often each is drawn
PROP_CONTRAST = (0.1, 0.3)  # amplitude range of a prop's texture

P1 = ("skin_dark", "face_visible", "long_hair", "bag", "outdoor", "text", "vehicle")
P2 = ("hat", "earrings", "tall", "logo", "landmark", "ball", "plant")
ATTRIBUTES = P1 + P2
# the scene's props: attribute -> texture kind a positive prop carries
PROPS = {
    "outdoor": "rows",
    "text": "checker",
    "vehicle": "columns",
    "landmark": "diagonal",
    "ball": "antidiagonal",
    "plant": "plaid",
}
HAIR = np.array([(0.12, 0.08, 0.05), (0.35, 0.22, 0.12), (0.85, 0.72, 0.35), (0.55, 0.55, 0.55)])
LIGHT_SKIN, DARK_SKIN = np.array((0.90, 0.74, 0.62)), np.array((0.30, 0.20, 0.15))
SKIN_THRESHOLD = 0.6  # tone above which the skin is 'dark' (prevalence 0.4)

# the articulation cues: name -> (channel, value); a set's three channels are its scales
CUES: dict[str, tuple[str, int]] = {
    "wave": ("hands", 1),
    "clap": ("hands", 2),
    "left": ("ripple_x", -1),
    "right": ("ripple_x", 1),
    "march": ("legs", 2),
    "stand": ("legs", 0),
    "shuffle": ("pants", 1),
    "tap": ("pants", 2),
    "up": ("ripple_y", -1),
    "down": ("ripple_y", 1),
    "cheer": ("arms", 2),
    "rest": ("arms", 0),
}
CHANNELS = {"A": ("hands", "ripple_x", "legs"), "B": ("pants", "ripple_y", "arms")}
PAIRS = {
    "walk": ("wave", "clap"),
    "bounce": ("left", "right"),
    "idle": ("march", "stand"),
    "diag": ("shuffle", "tap"),
    "circle": ("up", "down"),
    "drift": ("cheer", "rest"),
}
# class name -> (coarse motion, articulation)
CLASSES: dict[str, tuple[str, str]] = {
    f"{motion}_{cue}": (motion, cue) for motion, pair in PAIRS.items() for cue in pair
}
ACTIONS_A = tuple(c for c in CLASSES if CLASSES[c][0] in ("walk", "bounce", "idle"))
ACTIONS_B = tuple(c for c in CLASSES if CLASSES[c][0] in ("diag", "circle", "drift"))
ROLES = {"known": (ACTIONS_A, P1, 1), "novel": (ACTIONS_B, P2, 2)}


@dataclass(frozen=True)
class Prop:
    """A rectangle of the scene: where, its colour, and its texture (kind, scale, contrast;
    kind '' for a plain patch)."""

    x: float
    y: float
    w: float
    h: float
    color: np.ndarray
    kind: str
    scale: int
    contrast: float


@dataclass(frozen=True)
class Look:
    """Static appearance of one sample: attribute flags, their graded strengths, and the
    nuisance (colours, props, bystander, light)."""

    attrs: dict[str, bool]
    scales: dict[str, int]
    skin: np.ndarray
    shirt: np.ndarray
    pants: np.ndarray
    hair: np.ndarray
    accent: np.ndarray
    bag: np.ndarray
    background: tuple[np.ndarray, np.ndarray, float]
    props: tuple[Prop, ...]
    bystander: tuple[float, float, np.ndarray, np.ndarray] | None
    size: float  # body scale (tall: larger, ranges overlap)
    hair_length: float
    bag_size: float
    hat_height: float
    light: float


@dataclass(frozen=True)
class Pose:
    """Per-frame articulation of every channel (T,): the fine checkers' polarity (+-1, 0 for
    none), the ripples' drift (px per frame, constant; 0 for none) with their phase, the
    legs' swing (x scale) and the hands' rise (y scale)."""

    hands: np.ndarray
    pants: np.ndarray
    ripple_x: float
    ripple_y: float
    phase: float
    legs: np.ndarray
    arms: np.ndarray


def _scale(rng: np.random.Generator) -> int:
    return int(rng.choice(SCALES, p=SCALE_SHARES))


def _prop(
    rng: np.random.Generator, kind: str, background: tuple[np.ndarray, np.ndarray, float]
) -> Prop:
    """A prop near the background's colour where it stands: a textured patch, not a blob."""
    x, y = rng.uniform(0, SIZE, 2)
    top, bottom, horizon = background
    return Prop(
        x=x,
        y=y,
        w=rng.uniform(9, 13),
        h=rng.uniform(7, 11),
        color=np.clip((top if y < horizon else bottom) + rng.uniform(-0.1, 0.1, 3), 0, 1),
        kind=kind,
        scale=_scale(rng),
        contrast=rng.uniform(*PROP_CONTRAST),
    )


def _random_look(rng: np.random.Generator, props_of: tuple[str, ...] = ATTRIBUTES) -> Look:
    """A sample's appearance; the scene shows the props of the attributes in `props_of`
    (its set's: a novel set's props are new to a model of the known one)."""
    attrs = {a: bool(rng.random() < PREVALENCE) for a in ATTRIBUTES}
    # a continuous tone: 'dark' above the threshold, so near it only the tone tells
    tone = (
        rng.uniform(SKIN_THRESHOLD, 1.0) if attrs["skin_dark"] else rng.uniform(0, SKIN_THRESHOLD)
    )
    skin = np.clip(LIGHT_SKIN + tone * (DARK_SKIN - LIGHT_SKIN) + rng.uniform(-0.03, 0.03, 3), 0, 1)
    background = (rng.uniform(0.35, 0.9, 3), rng.uniform(0.35, 0.9, 3), rng.uniform(12, 20))
    props = tuple(
        _prop(rng, kind if attrs[a] else "", background)
        for a, kind in PROPS.items()
        if a in props_of
    )
    bystander = None
    if rng.random() < 0.3:
        bystander = (rng.uniform(0, SIZE), rng.uniform(8, SIZE - 6),
                     rng.uniform(0.1, 0.9, 3), rng.uniform(0.1, 0.9, 3))  # fmt: skip
    size = BODY * rng.uniform(0.85, 1.15) * (1.2 if attrs["tall"] else 1.0)
    return Look(
        attrs=attrs,
        scales={a: _scale(rng) for a in ("face_visible", "earrings", "logo")},
        skin=skin,
        shirt=rng.uniform(0.3, 0.7, 3),
        pants=rng.uniform(0.05, 0.3, 3),
        hair=HAIR[rng.integers(len(HAIR))] + rng.uniform(-0.04, 0.04, 3),
        accent=rng.uniform(0.1, 0.9, 3),
        bag=np.array((0.45, 0.28, 0.12)) + rng.uniform(-0.08, 0.08, 3),
        background=background,
        props=props,
        bystander=bystander,
        size=size,
        hair_length=rng.uniform(3.5, 7.0),
        bag_size=rng.uniform(2.0, 3.5),
        hat_height=rng.uniform(1.0, 2.2),
        light=rng.uniform(0.85, 1.15),
    )


_YY, _XX = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) + 0.5
_CHECKER = np.where((np.arange(SIZE)[:, None] + np.arange(SIZE)[None]) % 2 == 0, 1.0, -1.0)


def _square(u: np.ndarray, half_period: float) -> np.ndarray:
    """A +-1 square wave of `u` (pixel coordinates) with the given half-period."""
    return np.where(np.floor(u / half_period) % 2 == 0, 1.0, -1.0)


def texture(kind: str, scale: int, xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
    """A zero-mean +-1 texture of `kind` at half-period `scale` (pixel grid coordinates)."""
    x, y = np.floor(xx), np.floor(yy)
    if kind == "rows":
        return _square(y, scale)
    if kind == "columns":
        return _square(x, scale)
    if kind == "checker":
        return _square(x, scale) * _square(y, scale)
    if kind == "diagonal":
        return _square(x + y, 2 * scale)
    if kind == "antidiagonal":
        return _square(x - y, 2 * scale)
    if kind == "plaid":
        return (_square(x, scale) + _square(y, scale)) / 2
    raise ValueError(kind)  # pragma: no cover - the kinds are closed


def _wrapped(delta: np.ndarray) -> np.ndarray:
    """Signed offset on a torus of side SIZE."""
    return (delta + SIZE / 2) % SIZE - SIZE / 2


def _scene(look: Look, t: int) -> tuple[np.ndarray, np.ndarray]:
    """The still background of `t` frames (T, H, W, 3) with props and the bystander, and its
    region labels (T, H, W)."""
    top, bottom, horizon = look.background
    img = np.where((horizon > _YY)[..., None], top, bottom).astype(np.float32)
    for prop in look.props:
        inside = (np.abs(_wrapped(_XX - prop.x)) < prop.w / 2) & (
            np.abs(_wrapped(_YY - prop.y)) < prop.h / 2
        )
        value = np.broadcast_to(prop.color, img.shape).copy()
        if prop.kind:
            value += (prop.contrast * texture(prop.kind, prop.scale, _XX, _YY))[..., None]
        img[inside] = value[inside]
    regions = np.zeros((SIZE, SIZE), np.uint8)
    if look.bystander is not None:
        px, py, head_color, body_color = look.bystander
        bdx, bdy = _wrapped(_XX - px), _YY - py
        head = bdx**2 + (bdy + 4.5) ** 2 < 2.5**2
        body = (np.abs(bdx) < 3) & (bdy > -2) & (bdy < 6)
        img[body], img[head] = body_color, head_color
        regions[head | body] = REGION_OTHER
    return np.repeat(img[None], t, 0), np.repeat(regions[None], t, 0)


def _render(
    look: Look,
    cx: np.ndarray,
    cy: np.ndarray,
    pose: Pose,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Frames (T, H, W, 3) uint8 and region labels (T, H, W) uint8 for per-frame centres and
    poses of shape (T,)."""
    t = cx.shape[0]
    img, regions = _scene(look, t)
    s = look.size
    cx, cy = cx[:, None, None], cy[:, None, None]
    dx = _wrapped(_XX[None] - cx)
    dy = _wrapped(_YY[None] - cy)
    head_dy = dy + 5 * s
    head = dx**2 + head_dy**2 < (2.6 * s) ** 2
    torso = (np.abs(dx) < 3 * s) & (dy > -2.5 * s) & (dy < 5 * s)
    leg_x = (1.6 + pose.legs[:, None, None]) * s
    legs = (np.abs(np.abs(dx) - leg_x) < 0.9 * s) & (dy >= 5 * s) & (dy < 9 * s)
    hand_dy = dy + pose.arms[:, None, None] * s
    hands = (np.abs(np.abs(dx) - 4.0 * s) < 1.3 * s) & (hand_dy > 0.5 * s) & (hand_dy < 3.5 * s)
    ti = np.arange(t, dtype=np.float32)[:, None, None]

    # the shirt: its colour, the ripples (phase fixed to the frame), the logo
    shirt = np.broadcast_to(look.shirt, img.shape).copy()
    if pose.ripple_x:
        wave = np.cos(2 * math.pi * (_XX[None] - pose.ripple_x * ti) / RIPPLE_PERIOD + pose.phase)
        shirt += RIPPLE * np.broadcast_to(wave, dx.shape)[..., None]
    if pose.ripple_y:
        wave = np.cos(2 * math.pi * (_YY[None] - pose.ripple_y * ti) / RIPPLE_PERIOD + pose.phase)
        shirt += RIPPLE * np.broadcast_to(wave, dx.shape)[..., None]
    if look.attrs["logo"]:
        patch = (np.abs(dx) < 2.0 * s) & (dy > -1.5 * s) & (dy < 2.0 * s)
        pattern = texture("checker", look.scales["logo"], _XX, _YY)
        shirt += (0.2 * np.broadcast_to(pattern, dx.shape) * patch)[..., None]
    img[torso] = shirt[torso]
    pants = np.broadcast_to(look.pants, img.shape).copy()
    pants += (0.25 * pose.pants[:, None, None] * _CHECKER[None])[..., None]
    img[legs] = pants[legs]
    img[head] = look.skin
    img[head & (head_dy < -0.9 * s)] = look.hair  # everyone has a hair cap
    body = head | torso | legs
    if look.attrs["long_hair"]:
        strands = (
            (np.abs(np.abs(dx) - 2.6 * s) < 1.0)
            & (head_dy > -1.5 * s)
            & (head_dy < look.hair_length * s)
        )
        img[strands] = look.hair
        body |= strands
    if look.attrs["face_visible"]:
        k = look.scales["face_visible"] / 2
        eyes = (np.abs(np.abs(dx) - 1.2 * s) < k) & (np.abs(head_dy + 0.2 * s) < k)
        mouth = (np.abs(dx) < 1.2 * s) & (np.abs(head_dy - 1.4 * s) < k)
        img[eyes] = (0.05, 0.03, 0.05)
        img[mouth] = (0.95, 0.9, 0.9)
    checker = pose.hands[:, None, None] * _CHECKER[None]
    img[hands] = look.skin + HAND_CONTRAST * checker[hands][:, None]
    # the action-carrying pixels: the hands, the shirt (ripples), the trousers in set B
    regions[body] = REGION_BODY
    regions[hands | torso | (legs & (pose.pants != 0)[:, None, None])] = REGION_ACTION
    worn = np.zeros_like(hands)
    if look.attrs["bag"]:
        b = look.bag_size * s
        bag = (dx > 5.2 * s) & (dx < 5.2 * s + b) & (dy > 1 * s) & (dy < 1 * s + 1.3 * b)
        img[bag] = look.bag
        worn |= bag
    if look.attrs["hat"]:
        top = -2.2 * s - look.hat_height * s
        hat = (np.abs(dx) < 2.8 * s) & (head_dy < -1.8 * s) & (head_dy > top)
        img[hat] = look.accent
        worn |= hat
    if look.attrs["earrings"]:
        k = look.scales["earrings"] / 2
        earrings = (np.abs(np.abs(dx) - 2.9 * s) < k) & (np.abs(head_dy - 0.8 * s) < k)
        img[earrings] = (1.0, 0.85, 0.1)
        worn |= earrings
    regions[worn] = REGION_OTHER

    img = img * look.light + rng.normal(0, 0.03, img.shape)
    frames = (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)
    return frames, regions


def _trajectory(motion: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Person centre (x, y) for every frame of a video of a coarse motion, with a slow
    random sway. The motions' speed ranges are disjoint: overlapping ones (tried while
    calibrating) left a tiny fT' unable to learn coarse motion from blurred frames at all."""
    t = np.arange(VIDEO_FRAMES, dtype=np.float32)
    x0, y0 = rng.uniform(0, SIZE, 2)
    sign = rng.choice((-1.0, 1.0))
    phase = rng.uniform(0, 2 * math.pi)
    omega = 2 * math.pi / 8
    x, y = np.full_like(t, x0), np.full_like(t, y0)
    if motion in ("walk", "idle"):  # horizontal; a walk is faster, the ranges overlap
        x = x0 + sign * rng.uniform(*((1.0, 1.5) if motion == "walk" else (0.25, 0.375))) * t
    elif motion == "bounce":
        y = y0 + rng.uniform(4.0, 6.0) * np.sin(omega * t + phase)
        x = x0 + sign * rng.uniform(0.0, 0.3) * t
    elif motion in ("diag", "drift"):  # a diagonal walk, or a slow vertical drift
        v = rng.uniform(*((1.0, 1.5) if motion == "diag" else (0.25, 0.375)))
        if motion == "diag":
            x, y = x0 + sign * v * t / math.sqrt(2), y0 + v * t / math.sqrt(2)
        else:
            y = y0 + sign * v * t
    elif motion == "circle":
        amp = rng.uniform(4.0, 6.0)
        angle = phase + sign * 2 * math.pi * t / 12
        x, y = x0 + amp * np.cos(angle), y0 + amp * np.sin(angle)
    else:  # pragma: no cover - the motion list is closed
        raise ValueError(motion)
    for axis in (x, y):  # a slow sway (period 6-16 frames): blurs the motions' ranges
        period = rng.uniform(6, 16)
        axis += rng.uniform(0, SWAY) * np.sin(2 * math.pi * t / period + rng.uniform(0, 7))
    return x.astype(np.float32), y.astype(np.float32)


def _channel(channel: str, value: int, frames: int, rng: np.random.Generator) -> np.ndarray:
    """One articulation channel over `frames` (see `CUES`)."""
    t = np.arange(frames)
    if channel in ("hands", "pants"):  # polarity flips every `value` frames
        return rng.choice((-1.0, 1.0)) * np.where((t // value) % 2 == 0, 1.0, -1.0)
    if channel == "legs":
        alternate = np.where(t % 2 == 0, LEG_SWING, -LEG_SWING) * rng.choice((-1.0, 1.0))
        return alternate if value else np.zeros(frames)
    if channel == "arms":
        raised = np.where((t + rng.integers(2)) % 2 == 0, ARM_RAISE, 0.0)
        return raised if value else np.zeros(frames)
    return np.full(frames, float(value))  # ripple drift


def _pose(cue: str, frames: int, rng: np.random.Generator) -> Pose:
    """Articulation over `frames`: the class's cue as named, its set's other two channels
    at random, the other set's channels off."""
    own, _ = CUES[cue]
    group = next(g for g, channels in CHANNELS.items() if own in channels)
    values: dict[str, np.ndarray] = {}
    for channel in CHANNELS[group]:
        options = [v for c, v in CUES.values() if c == channel]
        value = CUES[cue][1] if channel == own else options[rng.integers(len(options))]
        values[channel] = _channel(channel, value, frames, rng)
    off = np.zeros(frames)
    return Pose(
        hands=values.get("hands", off).astype(np.float32),
        pants=values.get("pants", off).astype(np.float32),
        ripple_x=float(values.get("ripple_x", off)[0]),
        ripple_y=float(values.get("ripple_y", off)[0]),
        phase=float(rng.uniform(0, 2 * math.pi)),
        legs=values.get("legs", off).astype(np.float32),
        arms=values.get("arms", off).astype(np.float32),
    )


def _labels(look: Look, attributes: tuple[str, ...]) -> np.ndarray:
    return np.array([look.attrs[a] for a in attributes], dtype=np.float32)


def generate_action_split(actions: tuple[str, ...], per_class: int, rng: np.random.Generator):
    """Render `per_class` videos of each action: videos (N,T,H,W,3) uint8, labels, regions."""
    videos, labels, masks = [], [], []
    for label, action in enumerate(actions):
        motion, cue = CLASSES[action]
        for _ in range(per_class):
            look = _random_look(rng, P1 if actions[0] in ACTIONS_A else P2)
            x, y = _trajectory(motion, rng)
            frames, regions = _render(look, x, y, _pose(cue, VIDEO_FRAMES, rng), rng)
            videos.append(frames)
            masks.append(regions)
            labels.append(label)
    order = rng.permutation(len(labels))
    return np.stack(videos)[order], np.array(labels, np.int64)[order], np.stack(masks)[order]


def generate_private_split(
    attributes: tuple[str, ...], actions: tuple[str, ...], count: int, rng: np.random.Generator
):
    """Render `count` single-frame stills of a person posed as in `actions`' videos:
    images (N,H,W,3) uint8, targets (N,A), regions."""
    images, targets, masks = [], [], []
    for _ in range(count):
        look = _random_look(rng, attributes)
        cx, cy = rng.uniform(0, SIZE, (2, 1)).astype(np.float32)
        pose = _pose(CLASSES[actions[rng.integers(len(actions))]][1], 1, rng)
        frames, regions = _render(look, cx, cy, pose, rng)
        images.append(frames[0])
        masks.append(regions[0])
        targets.append(_labels(look, attributes))
    return np.stack(images), np.stack(targets), np.stack(masks)


def generate(role: str, data_seed: int) -> dict[str, np.ndarray]:
    """Every split of one role ('known' or 'novel') as named arrays."""
    actions, attributes, stream = ROLES[role]
    rng = np.random.default_rng([data_seed, stream])
    arrays: dict[str, np.ndarray] = {}
    for split, n in PER_CLASS.items():
        v, y, m = generate_action_split(actions, n, rng)
        arrays |= {
            f"action_{split}_videos": v,
            f"action_{split}_labels": y,
            f"action_{split}_masks": m,
        }
    for split, n in PRIVATE_COUNTS.items():
        x, t, m = generate_private_split(attributes, actions, n, rng)
        arrays |= {
            f"private_{split}_images": x,
            f"private_{split}_targets": t,
            f"private_{split}_masks": m,
        }
    return arrays


def _expected_keys() -> set[str]:
    keys = set()
    for split in PER_CLASS:
        keys |= {f"action_{split}_{k}" for k in ("videos", "labels", "masks")}
        keys |= {f"private_{split}_{k}" for k in ("images", "targets", "masks")}
    return keys


def load_arrays(path: Path) -> dict[str, np.ndarray]:
    """Read a cached role file; a BenchError saying why when it is corrupt."""
    problem = f"cached synthetic dataset '{path}' is corrupt"
    try:
        with np.load(path) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (
        OSError,
        ValueError,
        EOFError,
        zipfile.BadZipFile,
        KeyError,
        TypeError,
        AttributeError,
    ) as exc:
        raise BenchError(f"{problem} ({type(exc).__name__})") from None
    missing = _expected_keys() - set(arrays)
    if missing:
        raise BenchError(f"{problem} (missing {sorted(missing)[0]})")
    return arrays


@DATASETS.register("synthetic")
class Synthetic(DatasetFamily):
    """Embedded procedurally rendered benchmark (default); see the module docstring."""

    description = "procedurally rendered actions (coarse motion + articulation) and attributes"
    roles = ("known", "novel")
    version = f"v{GENERATOR_VERSION}"

    def __init__(
        self, roots: Mapping[str, Path] | None = None, data_seed: int | None = None
    ) -> None:
        super().__init__(roots)
        self.data_seed = data_seed  # None: the run's seed (`load`), 0 outside a run

    @classmethod
    def check_preset(cls, preset: Preset) -> None:
        """A clip must fit in the rendered videos: no padding with repeated frames."""
        span = (preset.frames - 1) * preset.skip + 1
        if span > VIDEO_FRAMES:
            raise BenchError(
                f"--set frames={preset.frames} with skip={preset.skip}: a clip spans {span} "
                f"frames but the synthetic videos have {VIDEO_FRAMES}; lower frames or skip "
                f"so that (frames - 1) x skip + 1 <= {VIDEO_FRAMES}"
            )

    def seed_for(self, run_seed: int | None = None) -> int:
        """The data seed: the one given to the family, else the run's, else 0."""
        if self.data_seed is not None:
            return self.data_seed
        return 0 if run_seed is None else run_seed

    def cache_path(self, role: str, cache_dir: Path, run_seed: int | None = None) -> Path:
        """File that holds the rendered arrays of `role`."""
        seed = self.seed_for(run_seed)
        return cache_dir / f"synthetic-v{GENERATOR_VERSION}-seed{seed}-{role}.npz"

    def arrays(
        self,
        role: str,
        cache_dir: Path,
        warn: Notify | None = None,
        run_seed: int | None = None,
    ) -> dict[str, np.ndarray]:
        """Rendered arrays of `role`, from the cache or generated and cached now. A corrupt
        cache file is regenerated (saying so); workers sharing a cache render it once."""
        if role not in ROLES:
            raise BenchError(f"unknown synthetic role '{role}'; known roles: {', '.join(ROLES)}")
        path = self.cache_path(role, cache_dir, run_seed)
        with exclusive(path, f"the synthetic '{role}' data", warn):
            if path.is_file():
                try:
                    return load_arrays(path)
                except BenchError as exc:
                    (warn or to_stderr)(f"{exc}; regenerating it")
            arrays = generate(role, self.seed_for(run_seed))
            atomic_save_npz(path, arrays)
        return arrays

    def load(self, role: str, ctx: RunContext) -> Benchmark:
        """The action set and private set of `role` as in-memory tensors, rendered from the
        run's seed (unless the family was given a data seed)."""
        return self.load_cached(role, ctx.cache_dir, ctx.warn, ctx.seed)

    def load_cached(
        self,
        role: str,
        cache_dir: Path,
        warn: Notify | None = None,
        run_seed: int | None = None,
    ) -> Benchmark:
        """`load` given only the cache dir (the synthetic data needs nothing else)."""
        a = {
            k: torch.from_numpy(v) for k, v in self.arrays(role, cache_dir, warn, run_seed).items()
        }
        actions, attributes, stream = ROLES[role]
        letter = "A" if stream == 1 else "B"

        def videos(split: str) -> VideoArray:
            return VideoArray(
                TensorFrames(a[f"action_{split}_videos"]),
                a[f"action_{split}_labels"],
                a[f"action_{split}_masks"],
            )

        def images(split: str) -> ImageArray:
            return ImageArray(
                TensorFrames(a[f"private_{split}_images"].unsqueeze(1)),
                a[f"private_{split}_targets"],
                a[f"private_{split}_masks"],
            )

        return Benchmark(
            action=ActionData(
                f"synthetic-{letter}",
                actions,
                Splits(videos("train"), videos("val"), videos("test")),
            ),
            privacy=PrivacyData(
                f"synthetic-P{stream}",
                attributes,
                Splits(images("train"), images("val"), images("test")),
            ),
        )
