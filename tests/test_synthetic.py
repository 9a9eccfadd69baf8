from pathlib import Path

import numpy as np
from bench.datasets import synthetic

from bench.contract.dataset import DATASETS, REGION_ACTION, REGION_BODY, REGION_OTHER


def test_rendering_is_deterministic_from_the_seed() -> None:
    a = synthetic.generate_action_split(synthetic.ACTIONS_A, 2, np.random.default_rng(7))
    b = synthetic.generate_action_split(synthetic.ACTIONS_A, 2, np.random.default_rng(7))
    c = synthetic.generate_action_split(synthetic.ACTIONS_A, 2, np.random.default_rng(8))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0], c[0])


def test_single_frames_carry_no_position_cue_about_the_action() -> None:
    """Per class, the person's position in a frame is uniform over the (toroidal) frame."""
    rng = np.random.default_rng(0)
    for motion in {motion for motion, _ in synthetic.CLASSES.values()}:
        xy = np.concatenate(
            [np.stack(synthetic._trajectory(motion, rng)[:2], 1) for _ in range(3000)]
        )
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


def test_wave_flips_the_hands_every_frame_clap_every_second_and_march_swings_the_legs() -> None:
    rng = np.random.default_rng(3)
    wave, clap = synthetic._pose("wave", 8, rng), synthetic._pose("clap", 8, rng)
    assert (wave.hands[1:] == -wave.hands[:-1]).all()
    assert (clap.hands == clap.hands[0]).all()
    march, stand = synthetic._pose("march", 8, rng), synthetic._pose("stand", 8, rng)
    assert (march.legs[1:] == -march.legs[:-1]).all() and (stand.legs == 0).all()


def test_the_hand_cue_is_a_one_pixel_checker_that_a_2x2_average_removes() -> None:
    """Two renderings that differ only in the hands' polarity differ only on REGION_ACTION
    pixels, and there by a zero-mean 1-px checker."""
    look = synthetic._random_look(np.random.default_rng(5))
    where = np.array([12.0]), np.array([14.0]), np.array([1.0])
    frames, regions = [], []
    for sign in (1.0, -1.0):
        f, r = synthetic._render(
            look, *where, synthetic.Pose(np.array([sign]), np.zeros(1)), np.random.default_rng(0)
        )
        frames.append(f[0].astype(float) / 255)
        regions.append(r[0])
    assert np.array_equal(regions[0], regions[1])
    hands = regions[0] == REGION_ACTION
    diff = np.abs(frames[0] - frames[1]).max(-1)
    assert hands.sum() >= 12 and diff[~hands].max() < 1e-9
    assert diff[hands].min() > 0.2  # 2 x contrast, less clipping
    checker = np.indices(hands.shape).sum(0) % 2
    signed = (frames[0] - frames[1]).mean(-1)
    aligned = signed[hands] * np.where(checker[hands] == 0, 1.0, -1.0)
    assert (aligned > 0).all() or (aligned < 0).all()  # the sign follows the pixel checker


def test_regions_label_the_body_the_action_pixels_and_everything_else_of_people() -> None:
    _, _, masks = synthetic.generate_action_split(("walk_wave",), 6, np.random.default_rng(2))
    labels = set(np.unique(masks).tolist())
    assert (
        {0, REGION_BODY, REGION_ACTION} <= labels <= {0, REGION_BODY, REGION_ACTION, REGION_OTHER}
    )


def test_attributes_are_independent_of_the_action() -> None:
    rng = np.random.default_rng(0)
    looks = [synthetic._random_look(rng) for _ in range(3000)]
    rates = np.mean([[lk.attrs[a] for a in synthetic.ATTRIBUTES] for lk in looks], axis=0)
    assert np.allclose(rates, synthetic.PREVALENCE, atol=0.04)


def test_motion_is_what_differs_between_frames() -> None:
    """Within a video the background stays put; only the moving person changes pixels."""
    videos, _, masks = synthetic.generate_action_split(("walk_wave",), 4, np.random.default_rng(1))
    frames = videos.astype(float)
    still = (masks[:, 0] == 0) & (masks[:, -1] == 0)
    diff_bg = np.abs(frames[:, 0] - frames[:, -1])[still].mean()
    diff_person = np.abs(frames[:, 0] - frames[:, -1])[~still].mean()
    assert diff_person > 5 * diff_bg


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
