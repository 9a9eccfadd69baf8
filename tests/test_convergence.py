"""The game's convergence: a fresh probe of fA's output every minimax epoch, the stopping
rule, and what the record says of it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from bench.contract.dataset import ImageArray
from bench.training.probe import PrivacyProbe, game_convergence, plateaued
from tests.conftest import FAST
from tests.test_cli import bench, records


class _Frames:
    """A FrameSource of (1, H, W, C) uint8 images held in memory."""

    def __init__(self, images: torch.Tensor) -> None:
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def read(self, i: int) -> torch.Tensor:
        return self.images[i : i + 1]


def _marked(n: int, seed: int) -> ImageArray:
    """Noise images; attribute 0 is a bright 3x3 mark at a random place, attribute 1 a
    reddish tint: what a probe should read from raw frames."""
    g = torch.Generator().manual_seed(seed)
    images = (torch.rand(n, 16, 16, 3, generator=g) * 120).to(torch.uint8)
    targets = (torch.rand(n, 2, generator=g) > 0.5).float()
    for i in range(n):
        if targets[i, 0]:
            r, c = torch.randint(0, 13, (2,), generator=g).tolist()
            images[i, r : r + 3, c : c + 3] = 255
        if targets[i, 1]:
            images[i, ..., 0] = images[i, ..., 0] // 2 + 120
    return ImageArray(_Frames(images), targets)  # type: ignore[arg-type]


def test_the_probe_reads_raw_frames_and_not_erased_ones() -> None:
    probe = PrivacyProbe(_marked(400, 0), _marked(200, 1), 16, torch.device("cpu"))
    raw = probe.cmap(None)
    grey = probe.cmap(lambda x: torch.full_like(x, 0.5))
    assert raw > 0.85 and grey < 0.65, (raw, grey)
    assert probe.cmap(None) == raw  # deterministic: no random stream is drawn


def test_plateau_needs_the_probe_and_ft_to_settle_and_the_game_to_have_started() -> None:
    flat, moved, raw = [0.70, 0.71, 0.69, 0.70, 0.705, 0.70], [0.2] * 6, 0.74

    def rule(probe: list[float], loss: list[float], rms: list[float], window: int = 3) -> bool:
        return plateaued(probe, loss, rms, raw, window, tolerance=0.02)

    settled = [0.5, 0.5, 0.505, 0.5, 0.5, 0.502]
    assert rule(flat, settled, moved)
    assert not rule(flat, [1.0, 0.9, 0.8, 0.7, 0.6, 0.5], moved)  # fT: 10 % an epoch
    assert rule(flat, [0.30, 0.297, 0.294, 0.291, 0.288, 0.285], moved)  # 1 % an epoch
    assert not rule([0.9, 0.88, 0.86, 0.8, 0.78, 0.76], settled, moved)  # privacy falling
    assert rule([0.70, 0.66, 0.72, 0.68, 0.71, 0.69], settled, moved)  # noise, one mean
    growing = [0.013, 0.022, 0.030, 0.044, 0.065, 0.091]  # fA still moving away
    assert not rule(flat, settled, growing)
    # fA at the identity and the probe at its raw value: the game has not started
    still = [0.015] * 6
    assert not rule([raw] * 6, settled, still)
    assert rule(flat, settled, still)  # a small change that removes privacy has started
    assert not rule(flat[:5], settled[:5], moved[:5])  # too few epochs
    assert not rule(flat, settled, moved, window=0)  # the rule is off


def test_the_record_says_converged_stalled_or_ran_its_maximum() -> None:
    probe = [{"raw_cmap": 0.74}]
    assert game_convergence({}, 12, 0.02) is None
    rows = [{"plateau": 0.0, "probe_cmap": 0.7, "rms": 0.1},
            {"plateau": 1.0, "probe_cmap": 0.6, "rms": 0.2}]  # fmt: skip
    assert game_convergence({"minimax": rows, "probe": probe}, 12, 0.02) == {
        "converged": True, "state": "converged", "epochs": 2, "max_epochs": 12,
        "probe_cmap": 0.6, "rms": 0.2,
    }  # fmt: skip
    last = {"plateau": 0.0, "probe_cmap": 0.735, "rms": 0.015}
    stalled = game_convergence({"minimax": [last], "probe": probe}, 1, 0.02)
    assert stalled is not None and stalled["state"] == "stalled"
    ran = game_convergence({"minimax": [{**last, "rms": 0.3}], "probe": probe}, 1, 0.02)
    assert ran is not None and ran["state"] == "max_epochs"


@pytest.mark.parametrize(
    ("patience", "tolerance", "epochs", "converged"),
    [("0", "0.02", 4, False), ("1", "1.0", 3, True)],
)
def test_a_learned_fit_logs_the_probe_and_says_whether_it_converged(
    tmp_path: Path, cache_dir: Path, patience: str, tolerance: str, epochs: int, converged: bool
) -> None:
    code, out = bench("run", "--method", "spact", "--no-reference", "--results-dir",
                      str(tmp_path), "--cache-dir", str(cache_dir), *FAST,
                      "--set", "anon_epochs=4", "--set", f"anon_patience={patience}",
                      "--set", f"anon_tolerance={tolerance}")  # fmt: skip
    assert code == 0, out
    (record,) = records(tmp_path)
    rows = record["history"]["minimax"]
    assert len(rows) == epochs
    assert all(0.0 <= r["probe_cmap"] <= 1.0 for r in rows)
    assert 0.0 < record["history"]["probe"][0]["raw_cmap"] <= 1.0
    assert record["convergence"]["converged"] is converged
    assert record["convergence"]["epochs"] == epochs and record["convergence"]["max_epochs"] == 4
    fit = json.loads((tmp_path / "fits" / record["fit_key"] / "fit.json").read_text())
    assert fit["history"]["minimax"] == rows  # a reused fit reports the same
    fixed = bench("run", "--method", "raw", "--no-reference", "--results-dir", str(tmp_path),
                  "--cache-dir", str(cache_dir), *FAST)  # fmt: skip
    assert fixed[0] == 0
    raw = next(r for r in records(tmp_path) if r["method"] == "raw")
    assert raw["convergence"] is None
