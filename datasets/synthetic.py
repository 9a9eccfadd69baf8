"""Embedded synthetic benchmark: procedurally rendered people whose action is motion at two scales.

Each sample is a small person (head, torso, legs, two hands) on a background, rendered at
32x32. Version 3 of the generator (see the README's "embedded synthetic benchmark" section).

* Action is carried by motion at two scales, as on real video. Every class is a coarse
  body motion (how the whole person moves over the frame) plus one articulation inside the
  person region, and each coarse motion is shared by two classes:

  - `*_wave` / `*_clap`: the hands carry a 1-px checker texture (skin colour +-0.2) whose
    polarity flips every frame (wave) or every second frame (clap). It is a fine cue: a
    2x2 area average, a 1-px Gaussian blur or blackening the person removes it, and the two
    classes of the pair become indistinguishable (chance within the pair).
  - `*_march` / `*_stand`: the legs swing apart and together every second frame (march) or
    stay still (stand). It is a silhouette cue a few pixels wide: it survives blackening
    (the silhouette stays) and 2x downsampling, and 4x downsampling and strong blur
    largely remove it.
  - The cue a class does not use is drawn at random (a march class waves or claps its hands
    at random), so only the intended cue separates a pair.

  Positions wrap around the frame (a torus) and starts are uniform, so one frame says
  nothing about the action. Chance is 1/6; with every fine cue removed a perfect classifier
  keeps coarse motion and the leg cue: 4 of 6 classes' worth, top-1 2/3; with every
  articulation removed, 1/2.
* Private attributes live in static appearance and are drawn independently of the action
  (prevalence 0.4). Fourteen binary attributes, split into two disjoint sets of seven:

  - P1 (VISPR1 role): skin_dark, outdoor (background), companion (a second person) are
    coarse (whole regions; survive blur and 4x downsampling); hair is medium;
    face_visible (dark eye and white mouth pixels), striped_clothing (1-px stripes around
    the shirt colour) and tattoo (a 3x3 checker on the shirt) are fine: zero-mean,
    high-frequency patterns that blur and downsampling average away.
  - P2 (VISPR2 role): hat, bag, landmark (a tower in the background), tall are coarse;
    logo and ball are medium; earrings (two gold pixels beside the head) are fine.

  `skin_dark` is entangled with the action: the hands that carry the wave / clap cue are
  skin-coloured, so an anonymizer that keeps the hands exactly keeps the skin colour.
  The other private cues live on other body parts (head, shirt) or the background, so a
  frame-wise anonymizer can in principle keep the action and flatten them.
* Sets: action set A (walk / bounce / sway, 6 classes) with private set P1 form the
  'known' benchmark; action set B (diag / circle / climb, 6 other classes) with P2 form the
  'novel' one. Every sample carries all fourteen attributes; a set's labels are its own
  seven. Videos have 16 frames; private images are single frames of a still person.
* Region masks: every video frame and image carries the renderer's exact region labels
  (`bench.contract.dataset.REGION_*`): the actor's body, the hands (the action-carrying
  pixels), and the rest of the people (companion, worn and carried items). The
  person-region baselines (blackening, region blur) use all of it in place of a detector;
  the `oracle` reference keeps the action-carrying pixels and the body's silhouette only.
* Splits: per action class 50 / 10 / 20 videos (train / val / test); private sets
  900 / 300 / 600 images. Everything is deterministic from the data seed, rendered once
  and cached as `.npz` under the cache dir (`$BENCH_CACHE_DIR`, default
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
    REGION_ACTION,
    REGION_BODY,
    REGION_OTHER,
    ActionData,
    Benchmark,
    DatasetFamily,
    ImageArray,
    PrivacyData,
    Splits,
    VideoArray,
)
from bench.contract.errors import BenchError
from bench.contract.locks import Notify, exclusive, to_stderr
from bench.data.cache import atomic_save_npz
from bench.data.frame_store import TensorFrames

# 2: person masks include the companion and earrings
# 3: action = coarse motion + articulation (hand texture flicker, leg swing); region labels
GENERATOR_VERSION = 3
SIZE = 32
VIDEO_FRAMES = 16
PER_CLASS = {"train": 50, "val": 10, "test": 20}
PRIVATE_COUNTS = {"train": 900, "val": 300, "test": 600}
PREVALENCE = 0.4
HAND_CONTRAST = 0.25  # amplitude of the hands' 1-px checker around the skin colour
LEG_SWING = 1.0  # how far (x scale) the legs move apart / together when marching

P1 = (
    "skin_dark",
    "face_visible",
    "hair",
    "striped_clothing",
    "tattoo",
    "outdoor",
    "companion",
)
P2 = ("hat", "earrings", "bag", "landmark", "logo", "tall", "ball")
ATTRIBUTES = P1 + P2
PALETTE = np.array(
    [
        (0.9, 0.2, 0.2),
        (0.2, 0.4, 0.9),
        (0.95, 0.8, 0.1),
        (0.6, 0.2, 0.8),
        (0.1, 0.7, 0.7),
        (0.95, 0.5, 0.1),
    ]
)
# class name -> (coarse motion, articulation)
CLASSES: dict[str, tuple[str, str]] = {
    f"{motion}_{cue}": (motion, cue)
    for motion in ("walk", "bounce", "idle", "diag", "circle", "drift")
    for cue in (("march", "stand") if motion in ("idle", "drift") else ("wave", "clap"))
}
ACTIONS_A = tuple(c for c in CLASSES if CLASSES[c][0] in ("walk", "bounce", "idle"))
ACTIONS_B = tuple(c for c in CLASSES if CLASSES[c][0] in ("diag", "circle", "drift"))
ROLES = {"known": (ACTIONS_A, P1, 1), "novel": (ACTIONS_B, P2, 2)}


@dataclass(frozen=True)
class Look:
    """Static appearance of one sample: attribute flags plus nuisance colours and positions."""

    attrs: dict[str, bool]
    skin: np.ndarray
    shirt: np.ndarray
    pants: np.ndarray
    hair: np.ndarray
    hat: np.ndarray
    background: tuple[np.ndarray, np.ndarray]
    companion_pos: tuple[float, float]
    companion_colors: tuple[np.ndarray, np.ndarray]
    landmark_x: float
    light: float


@dataclass(frozen=True)
class Pose:
    """Per-frame articulation: the hands' checker polarity (+-1) and the legs' swing (x scale)."""

    hands: np.ndarray
    legs: np.ndarray


def _color(rng: np.random.Generator, base: tuple[float, float, float], jitter: float) -> np.ndarray:
    return np.clip(np.array(base) + rng.uniform(-jitter, jitter, 3), 0.05, 0.95)


def _random_look(rng: np.random.Generator) -> Look:
    attrs = {a: bool(rng.random() < PREVALENCE) for a in ATTRIBUTES}
    skin = _color(rng, (0.35, 0.24, 0.18) if attrs["skin_dark"] else (0.88, 0.72, 0.60), 0.05)
    if attrs["outdoor"]:
        background = (_color(rng, (0.55, 0.70, 0.88), 0.06), _color(rng, (0.30, 0.55, 0.28), 0.06))
    else:
        background = (_color(rng, (0.78, 0.72, 0.60), 0.06), _color(rng, (0.50, 0.40, 0.32), 0.06))
    return Look(
        attrs=attrs,
        skin=skin,
        shirt=rng.uniform(0.3, 0.7, 3),
        pants=rng.uniform(0.1, 0.5, 3),
        hair=_color(rng, (0.15, 0.10, 0.07), 0.05),
        hat=np.array([(0.9, 0.15, 0.15), (0.15, 0.3, 0.9), (0.95, 0.85, 0.1)][rng.integers(3)]),
        background=background,
        companion_pos=(rng.uniform(0, SIZE), rng.uniform(8, SIZE - 6)),
        companion_colors=(PALETTE[rng.integers(len(PALETTE))], PALETTE[rng.integers(len(PALETTE))]),
        landmark_x=rng.uniform(2, SIZE - 6),
        light=rng.uniform(0.9, 1.1),
    )


_YY, _XX = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) + 0.5
_CHECKER = np.where((np.arange(SIZE)[:, None] + np.arange(SIZE)[None]) % 2 == 0, 1.0, -1.0)


def _wrapped(delta: np.ndarray) -> np.ndarray:
    """Signed offset on a torus of side SIZE."""
    return (delta + SIZE / 2) % SIZE - SIZE / 2


def _render(
    look: Look,
    cx: np.ndarray,
    cy: np.ndarray,
    scale: np.ndarray,
    pose: Pose,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Frames (T, H, W, 3) uint8 and region labels (T, H, W) uint8 for per-frame centres,
    scales and poses of shape (T,)."""
    t = cx.shape[0]
    cx, cy, s = cx[:, None, None], cy[:, None, None], scale[:, None, None]
    if look.attrs["tall"]:
        s = s * 1.25
    dx = _wrapped(_XX[None] - cx)
    dy = _wrapped(_YY[None] - cy)
    top, bottom = look.background
    img = np.where((_YY < 17)[None, :, :, None], top, bottom) * np.ones((t, 1, 1, 1), np.float32)
    if look.attrs["landmark"]:
        tower = (np.abs(_XX - look.landmark_x) < 2.0) & (_YY > 3) & (_YY < 17)
        img[:, tower] = (0.42, 0.42, 0.46)
    regions = np.zeros(img.shape[:3], np.uint8)
    if look.attrs["companion"]:
        px, py = look.companion_pos
        cdx, cdy = _wrapped(_XX - px), _YY - py
        head = cdx**2 + (cdy + 4.5) ** 2 < 2.5**2
        body = (np.abs(cdx) < 3) & (cdy > -2) & (cdy < 6)
        img[:, body] = look.companion_colors[1]
        img[:, head] = look.companion_colors[0]
        regions[:, head | body] = REGION_OTHER

    head_dy = dy + 5 * s
    head = dx**2 + head_dy**2 < (2.6 * s) ** 2
    torso = (np.abs(dx) < 3 * s) & (dy > -2.5 * s) & (dy < 5 * s)
    leg_x = (1.6 + pose.legs[:, None, None]) * s
    legs = (np.abs(np.abs(dx) - leg_x) < 0.9 * s) & (dy >= 5 * s) & (dy < 9 * s)
    hands = (np.abs(np.abs(dx) - 3.0 * s) < 1.5 * s) & (dy > 1 * s) & (dy < 4 * s)

    shirt = np.broadcast_to(look.shirt, img.shape).copy()
    if look.attrs["striped_clothing"]:
        sign = np.where(np.floor(dy) % 2 == 0, 1.0, -1.0)[..., None]
        shirt = shirt + 0.2 * sign
    if look.attrs["tattoo"]:
        patch = (dx > -1.5) & (dx < 1.5) & (dy > 0.5) & (dy < 3.5)
        sign = np.where((np.floor(dx) + np.floor(dy)) % 2 == 0, 1.0, -1.0)
        shirt = shirt + (0.3 * sign * patch)[..., None]
    if look.attrs["logo"]:
        logo = (np.abs(dx + 0.0) < 1.2) & (dy > -1.8) & (dy < 0.8)
        shirt[logo] = (0.97, 0.95, 0.55)
    img[torso] = shirt[torso]
    img[legs] = look.pants
    img[head] = look.skin
    if look.attrs["hair"]:
        img[head & (head_dy < -0.85 * s)] = look.hair
    if look.attrs["face_visible"]:
        eyes = (np.abs(np.abs(dx) - 1.1 * s) < 0.5) & (np.abs(head_dy + 0.3) < 0.5)
        mouth = (np.abs(dx) < 1.5) & (np.abs(head_dy - 1.3 * s) < 0.5)
        img[eyes] = (0.02, 0.02, 0.05)
        img[mouth] = (0.98, 0.98, 0.98)
    checker = pose.hands[:, None, None] * _CHECKER[None]
    img[hands] = look.skin + HAND_CONTRAST * checker[hands][:, None]
    regions[head | torso | legs] = REGION_BODY
    regions[hands] = REGION_ACTION
    worn = np.zeros_like(hands)
    if look.attrs["earrings"]:
        earrings = (np.abs(np.abs(dx) - 3.0 * s) < 0.5) & (np.abs(head_dy - 1.0 * s) < 0.5)
        img[earrings] = (1.0, 0.85, 0.1)
        worn |= earrings
    if look.attrs["hat"]:
        hat = (np.abs(dx) < 3.0 * s) & (head_dy < -2.4 * s) & (head_dy > -4.6 * s)
        img[hat] = look.hat
        worn |= hat
    if look.attrs["bag"]:
        bag = (dx > 4.5 * s) & (dx < 7 * s) & (dy > 0) & (dy < 4 * s)
        img[bag] = (0.45, 0.28, 0.12)
        worn |= bag
    if look.attrs["ball"]:
        ball = (dx - 5 * s) ** 2 + (dy - 7.5 * s) ** 2 < 1.8**2
        img[ball] = (0.97, 0.97, 0.97)
        worn |= ball
    regions[worn] = REGION_OTHER

    img = img * look.light + rng.normal(0, 0.03, img.shape)
    frames = (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)
    return frames, regions


def _trajectory(motion: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Person centre (x, y) and scale for every frame of a video of a coarse motion."""
    t = np.arange(VIDEO_FRAMES, dtype=np.float32)
    x0, y0 = rng.uniform(0, SIZE, 2)
    v = rng.uniform(1.0, 1.5) * rng.choice((-1.0, 1.0))
    phase = rng.uniform(0, 2 * math.pi)
    amp, omega = rng.uniform(4, 6), 2 * math.pi / 8
    scale = np.full_like(t, rng.uniform(0.9, 1.1))
    x, y = np.full_like(t, x0), np.full_like(t, y0)
    if motion == "walk":
        x = x0 + v * t
    elif motion == "idle":  # a slow horizontal drift: the legs' articulation is what shows
        x = x0 + 0.25 * v * t
    elif motion == "drift":  # the same, vertically
        y = y0 + 0.25 * v * t
    elif motion == "bounce":
        y = y0 + amp * np.sin(omega * t + phase)
    elif motion == "diag":
        x, y = x0 + v * t / math.sqrt(2), y0 + v * t / math.sqrt(2)
    elif motion == "circle":
        angle = phase + np.sign(v) * 2 * math.pi * t / 12
        x, y = x0 + amp * np.cos(angle), y0 + amp * np.sin(angle)
    else:  # pragma: no cover - the motion list is closed
        raise ValueError(motion)
    return x, y, scale


def _pose(cue: str, frames: int, rng: np.random.Generator) -> Pose:
    """Articulation over `frames`: the class's cue as named, the other cue at random."""
    t = np.arange(frames)
    hands_cue = cue if cue in ("wave", "clap") else ("wave", "clap")[rng.integers(2)]
    legs_cue = cue if cue in ("march", "stand") else ("march", "stand")[rng.integers(2)]
    flip = rng.choice((-1.0, 1.0))
    hands = flip * (np.where(t % 2 == 0, 1.0, -1.0) if hands_cue == "wave" else np.ones(frames))
    swing = rng.choice((-1.0, 1.0)) * np.where(t % 2 == 0, LEG_SWING, -LEG_SWING)
    legs = swing if legs_cue == "march" else np.zeros(frames)
    return Pose(hands.astype(np.float32), legs.astype(np.float32))


def _labels(look: Look, attributes: tuple[str, ...]) -> np.ndarray:
    return np.array([look.attrs[a] for a in attributes], dtype=np.float32)


def generate_action_split(actions: tuple[str, ...], per_class: int, rng: np.random.Generator):
    """Render `per_class` videos of each action: videos (N,T,H,W,3) uint8, labels, regions."""
    videos, labels, masks = [], [], []
    for label, action in enumerate(actions):
        motion, cue = CLASSES[action]
        for _ in range(per_class):
            look = _random_look(rng)
            x, y, scale = _trajectory(motion, rng)
            frames, regions = _render(look, x, y, scale, _pose(cue, VIDEO_FRAMES, rng), rng)
            videos.append(frames)
            masks.append(regions)
            labels.append(label)
    order = rng.permutation(len(labels))
    return np.stack(videos)[order], np.array(labels, np.int64)[order], np.stack(masks)[order]


def generate_private_split(attributes: tuple[str, ...], count: int, rng: np.random.Generator):
    """Render `count` single-frame stills: images (N,H,W,3) uint8, targets (N,A), regions."""
    images, targets, masks = [], [], []
    for _ in range(count):
        look = _random_look(rng)
        cx, cy = rng.uniform(0, SIZE, (2, 1)).astype(np.float32)
        pose = Pose(rng.choice((-1.0, 1.0), 1), rng.choice((-LEG_SWING, 0.0, LEG_SWING), 1))
        frames, regions = _render(look, cx, cy, np.array([rng.uniform(0.9, 1.1)]), pose, rng)
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
        x, t, m = generate_private_split(attributes, n, rng)
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

    def __init__(self, roots: Mapping[str, Path] | None = None, data_seed: int = 0) -> None:
        super().__init__(roots)
        self.data_seed = data_seed

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

    def cache_path(self, role: str, cache_dir: Path) -> Path:
        """File that holds the rendered arrays of `role`."""
        return cache_dir / f"synthetic-v{GENERATOR_VERSION}-seed{self.data_seed}-{role}.npz"

    def arrays(
        self, role: str, cache_dir: Path, warn: Notify | None = None
    ) -> dict[str, np.ndarray]:
        """Rendered arrays of `role`, from the cache or generated and cached now. A corrupt
        cache file is regenerated (saying so); workers sharing a cache render it once."""
        if role not in ROLES:
            raise BenchError(f"unknown synthetic role '{role}'; known roles: {', '.join(ROLES)}")
        path = self.cache_path(role, cache_dir)
        with exclusive(path, f"the synthetic '{role}' data", warn):
            if path.is_file():
                try:
                    return load_arrays(path)
                except BenchError as exc:
                    (warn or to_stderr)(f"{exc}; regenerating it")
            arrays = generate(role, self.data_seed)
            atomic_save_npz(path, arrays)
        return arrays

    def load(self, role: str, ctx: RunContext) -> Benchmark:
        """The action set and private set of `role` as in-memory tensors."""
        return self.load_cached(role, ctx.cache_dir, ctx.warn)

    def load_cached(self, role: str, cache_dir: Path, warn: Notify | None = None) -> Benchmark:
        """`load` given only the cache dir (the synthetic data needs nothing else)."""
        a = {k: torch.from_numpy(v) for k, v in self.arrays(role, cache_dir, warn).items()}
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
