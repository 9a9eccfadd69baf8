from pathlib import Path

import numpy as np
import pytest
from bench.datasets import synthetic

from bench.contract.dataset import DATASETS
from bench.contract.errors import BenchError


def test_rendering_is_deterministic_from_the_seed() -> None:
    a = synthetic.generate_action_split(synthetic.ACTIONS_A, 2, np.random.default_rng(7))
    b = synthetic.generate_action_split(synthetic.ACTIONS_A, 2, np.random.default_rng(7))
    c = synthetic.generate_action_split(synthetic.ACTIONS_A, 2, np.random.default_rng(8))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0], c[0])


def test_single_frames_carry_no_position_cue_about_the_action() -> None:
    """Per class, the person's position in a frame is uniform over the (toroidal) frame."""
    rng = np.random.default_rng(0)
    for action in synthetic.ACTIONS_A + synthetic.ACTIONS_B:
        xy = np.concatenate(
            [np.stack(synthetic._trajectory(action, rng)[:2], 1) for _ in range(3000)]
        )
        for axis in (0, 1):
            shares = np.histogram(xy[:, axis] % synthetic.SIZE, bins=4, range=(0, 32))[0]
            assert np.allclose(shares / shares.sum(), 0.25, atol=0.02), action


def test_attributes_are_independent_of_the_action() -> None:
    rng = np.random.default_rng(0)
    looks = [synthetic._random_look(rng) for _ in range(3000)]
    rates = np.mean([[lk.attrs[a] for a in synthetic.ATTRIBUTES] for lk in looks], axis=0)
    assert np.allclose(rates, synthetic.PREVALENCE, atol=0.04)


def test_motion_is_what_differs_between_frames() -> None:
    """Within a video the background stays put; only the moving person changes pixels."""
    videos, _, masks = synthetic.generate_action_split(("walk_right",), 4, np.random.default_rng(1))
    frames = videos.astype(float)
    still = ~(masks[:, 0] | masks[:, -1])
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


def test_corrupt_cache_is_a_clear_error(tmp_path: Path) -> None:
    fam = DATASETS.get("synthetic")()
    fam.cache_path("known", tmp_path).write_bytes(b"not a zip file")
    with pytest.raises(BenchError, match="corrupt.*delete it"):
        fam.load_cached("known", tmp_path)
