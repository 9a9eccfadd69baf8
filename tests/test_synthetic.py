import math
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

from bench.contract.config import PRESETS
from bench.contract.context import quiet_cpu_context
from bench.contract.dataset import DATASETS
from bench.contract.frames import REGION_ACTION, REGION_BODY, REGION_OTHER
from bench.contract.method import METHODS
from bench.datasets import synthetic
from bench.reports.calibration import colour_giveaways

CHI2_5DOF_P001 = 20.515  # chi-square critical value, 5 degrees of freedom, p = 0.001


def test_rendering_is_deterministic_from_the_seed() -> None:
    a = synthetic.generate_action_split(synthetic.ACTIONS_A, 2, np.random.default_rng(7))
    b = synthetic.generate_action_split(synthetic.ACTIONS_A, 2, np.random.default_rng(7))
    c = synthetic.generate_action_split(synthetic.ACTIONS_A, 2, np.random.default_rng(8))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0], c[0])


def test_single_frames_carry_no_position_cue_about_the_action() -> None:
    """Per class, the person's position in a frame is uniform over the (toroidal) frame."""
    rng = np.random.default_rng(0)
    for motion in synthetic.PAIRS:
        xy = np.concatenate([np.stack(synthetic._trajectory(motion, rng), 1) for _ in range(8000)])
        for axis in (0, 1):
            shares = np.histogram(xy[:, axis] % synthetic.SIZE, bins=4, range=(0, 32))[0]
            assert np.allclose(shares / shares.sum(), 0.25, atol=0.02), motion


def test_each_coarse_motion_is_shared_by_two_classes_told_apart_by_articulation() -> None:
    for actions in (synthetic.ACTIONS_A, synthetic.ACTIONS_B):
        motions = [synthetic.CLASSES[a][0] for a in actions]
        assert len(actions) == 6 and all(motions.count(m) == 2 for m in motions)
    assert not {m for m, _ in map(synthetic.CLASSES.get, synthetic.ACTIONS_A)} & {
        m for m, _ in map(synthetic.CLASSES.get, synthetic.ACTIONS_B)
    }


def test_each_set_tells_its_pairs_apart_by_its_own_channels_at_three_scales() -> None:
    rng = np.random.default_rng(3)
    wave, clap = synthetic._pose("wave", 8, rng), synthetic._pose("clap", 8, rng)
    assert (wave.hands[1:] == -wave.hands[:-1]).all()
    assert (clap.hands[::2] == clap.hands[1::2]).all() and not (clap.hands == clap.hands[0]).all()
    assert synthetic._pose("left", 8, rng).ripple_x == -1
    assert synthetic._pose("right", 8, rng).ripple_x == 1
    march, stand = synthetic._pose("march", 8, rng), synthetic._pose("stand", 8, rng)
    assert (march.legs[1:] == -march.legs[:-1]).all() and (stand.legs == 0).all()
    cheer, rest = synthetic._pose("cheer", 8, rng), synthetic._pose("rest", 8, rng)
    assert set(cheer.arms[:2]) == {0.0, synthetic.ARM_RAISE} and (rest.arms == 0).all()
    for cue in ("wave", "left", "march"):  # set A: set B's channels are off
        pose = synthetic._pose(cue, 8, rng)
        assert not pose.pants.any() and pose.ripple_y == 0 and not pose.arms.any()
    for cue in ("shuffle", "up", "cheer"):
        pose = synthetic._pose(cue, 8, rng)
        assert not pose.hands.any() and pose.ripple_x == 0 and not pose.legs.any()
    assert set(synthetic.CHANNELS["A"]).isdisjoint(synthetic.CHANNELS["B"])


def _still(cue: str, phase: float, frames: int = 8) -> np.ndarray:
    """A standing person (no motion, no noise difference) with one cue, float frames."""
    look = synthetic._random_look(np.random.default_rng(5))
    pose = synthetic._pose(cue, frames, np.random.default_rng(1))
    pose = synthetic.Pose(
        pose.hands * 0, pose.pants, pose.ripple_x, pose.ripple_y, phase, pose.legs * 0, pose.arms
    )
    x, y = np.full(frames, 14.0, np.float32), np.full(frames, 12.0, np.float32)
    frames_, _ = synthetic._render(look, x, y, pose, np.random.default_rng(0))
    return frames_.astype(np.float32) / 255


def _anonymize(method: str, frames: np.ndarray, **params: object) -> torch.Tensor:
    clips = torch.from_numpy(frames).permute(3, 0, 1, 2)[None]  # (1, C, T, H, W)
    return METHODS.get(method)(**params).anonymize(clips, None)[0]


def test_the_fine_cue_is_a_one_pixel_checker_that_2x2_averaging_removes() -> None:
    look = synthetic._random_look(np.random.default_rng(5))
    where = np.array([12.0]), np.array([14.0])
    frames, regions = [], []
    for sign in (1.0, -1.0):
        pose = synthetic._pose("wave", 1, np.random.default_rng(0))
        pose = synthetic.Pose(np.array([sign]), pose.pants, 0.0, 0.0, 0.0, pose.legs * 0, pose.arms)
        f, r = synthetic._render(look, *where, pose, np.random.default_rng(0))
        frames.append(f[0].astype(float) / 255)
        regions.append(r[0])
    hands = (regions[0] == REGION_ACTION) & (np.abs(frames[0] - frames[1]).max(-1) > 0)
    diff = np.abs(frames[0] - frames[1]).max(-1)
    assert hands.sum() >= 8 and diff[~hands].max() < 1e-9 and diff[hands].min() > 0.2
    checker = np.indices(hands.shape).sum(0) % 2
    signed = (frames[0] - frames[1]).mean(-1)
    aligned = signed[hands] * np.where(checker[hands] == 0, 1.0, -1.0)
    assert (aligned > 0).all() or (aligned < 0).all()  # the sign follows the pixel checker


def test_2x_averaging_makes_the_ripples_drift_left_and_right_the_same_weak_blur_does_not() -> None:
    """Sampled at the Nyquist rate, a period-4 ripple drifting right at phase p is the same
    standing wave as one drifting left at phase -pi - p: the direction is gone after 2x
    averaging, and kept (attenuated) after a 1-px Gaussian."""
    phase = 0.7
    left, right = _still("left", -math.pi - phase), _still("right", phase)
    inside = slice(None), slice(8, 16), slice(12, 16)  # (T, rows, cols) inside the shirt
    raw_gap = np.abs(left - right)[inside].mean()
    down = [_anonymize("downsample", f, factor=2) for f in (left, right)]
    gap_2x = (down[0] - down[1]).abs().permute(1, 2, 3, 0)[inside].mean().item()
    weak = [_anonymize("blur", f, strength="weak", region="frame") for f in (left, right)]
    gap_weak = (weak[0] - weak[1]).abs().permute(1, 2, 3, 0)[inside].mean().item()
    assert raw_gap > 0.1 and gap_2x < 0.08 * raw_gap and gap_weak > 0.15 * raw_gap


@pytest.mark.parametrize("kind", ["rows", "columns", "checker", "plaid"])
def test_a_scale_one_prop_texture_averages_away_at_2x_and_a_scale_six_one_does_not(
    kind: str,
) -> None:
    """Graded cues: 2x2 block means of a half-period-1 texture are zero; of a half-period-6
    one keep the full amplitude; 4x4 block means of half-period 2 are zero."""
    xx, yy = np.meshgrid(np.arange(32) + 0.5, np.arange(32) + 0.5)

    def blocks(a: np.ndarray, k: int) -> np.ndarray:
        return a.reshape(32 // k, k, 32 // k, k).mean((1, 3))

    for scale, factor, survives in ((1, 2, False), (2, 4, False), (6, 2, True)):
        means = blocks(synthetic.texture(kind, scale, xx, yy), factor)
        assert (np.abs(means).max() > 0.4) == survives, (scale, factor)
        assert abs(synthetic.texture(kind, scale, xx, yy)[:24, :24].mean()) < 0.05  # zero-mean


def test_attributes_are_independent_of_the_action_and_of_each_other() -> None:
    """Chi-square per attribute against the class over a large draw of the real looks."""
    rng = np.random.default_rng(0)
    n, classes = 3000, 6
    looks = [synthetic._random_look(rng) for _ in range(n)]
    labels = np.arange(n) % classes  # as generate_action_split draws: per class, in turn
    flags = np.array([[lk.attrs[a] for a in synthetic.ATTRIBUTES] for lk in looks])
    assert np.allclose(flags.mean(0), synthetic.PREVALENCE, atol=0.04)
    for j, name in enumerate(synthetic.ATTRIBUTES):
        table = np.array(
            [[np.sum((labels == c) & (flags[:, j] == v)) for v in (0, 1)] for c in range(classes)]
        )
        expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / table.sum()
        statistic = ((table - expected) ** 2 / expected).sum()
        assert statistic < CHI2_5DOF_P001, name  # independence not rejected at p = 0.001
    corr = np.corrcoef(flags.T.astype(float))
    assert np.abs(corr - np.eye(len(synthetic.ATTRIBUTES))).max() < 0.08


def test_no_attribute_is_read_from_the_frames_mean_colour_after_any_fixed_row(
    cache_dir: Path,
) -> None:
    """Calibration target C5 as a property of the generator: a logistic regression on the
    mean colour reads no attribute of either set (AP < 0.95; chance is 0.4) on raw frames
    or after any fixed baseline, blackening included."""
    with tempfile.TemporaryDirectory() as run_dir:
        ctx = quiet_cpu_context(PRESETS["tiny"], cache_dir, Path(run_dir))
        for role in ("known", "novel"):
            data = DATASETS.get("synthetic")().load(role, ctx)
            aps = colour_giveaways(data, ctx)
            worst = max(ap for row in aps.values() for ap in row.values())
            assert worst < 0.7, (role, aps)


def test_regions_label_the_body_the_action_pixels_and_everything_else_of_people() -> None:
    _, _, masks = synthetic.generate_action_split(("walk_wave",), 6, np.random.default_rng(2))
    labels = set(np.unique(masks).tolist())
    assert (
        {0, REGION_BODY, REGION_ACTION} <= labels <= {0, REGION_BODY, REGION_ACTION, REGION_OTHER}
    )


def test_motion_is_what_differs_between_frames() -> None:
    """Within a video the scene stays put; only the moving person changes pixels."""
    videos, _, masks = synthetic.generate_action_split(("walk_wave",), 4, np.random.default_rng(1))
    frames = videos.astype(float)
    still = (masks[:, 0] == 0) & (masks[:, -1] == 0)
    diff_bg = np.abs(frames[:, 0] - frames[:, -1])[still].mean()
    diff_person = np.abs(frames[:, 0] - frames[:, -1])[~still].mean()
    assert diff_person > 5 * diff_bg


def test_the_data_follows_the_runs_seed(cache_dir: Path, tmp_path: Path) -> None:
    fam = DATASETS.get("synthetic")()
    assert fam.cache_path("known", cache_dir, 3).name == "synthetic-v4-seed3-known.npz"
    assert DATASETS.get("synthetic")(data_seed=5).seed_for(3) == 5  # type: ignore[call-arg]
    a = fam.load_cached("known", cache_dir, None, 0).privacy.splits.test.targets
    b = fam.load_cached("known", cache_dir, None, 1).privacy.splits.test.targets
    assert not torch.equal(a, b)


def test_known_and_novel_sets_are_disjoint(cache_dir: Path) -> None:
    fam = DATASETS.get("synthetic")()
    known = fam.load_cached("known", cache_dir)
    novel = fam.load_cached("novel", cache_dir)
    assert not set(known.action.classes) & set(novel.action.classes)
    assert not set(known.privacy.attributes) & set(novel.privacy.attributes)
    assert len(known.privacy.attributes) == 7
    train, test = known.action.splits.train, known.action.splits.test
    assert train.videos.read(0).shape == (16, 32, 32, 3) and len(test) == 120


def test_cache_is_written_once_and_reused(cache_dir: Path) -> None:
    fam = DATASETS.get("synthetic")()
    fam.load_cached("known", cache_dir)
    path = fam.cache_path("known", cache_dir)
    stamp = path.stat().st_mtime_ns
    fam.load_cached("known", cache_dir)
    assert path.stat().st_mtime_ns == stamp
